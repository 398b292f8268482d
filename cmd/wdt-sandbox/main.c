/* wdt-sandbox: a local simulator of the WDT flagship gateway and its Qimen route.
 * Wiring only: arguments → tenants, clock, faults → gateway → HTTP server → wait
 * for SIGTERM/SIGINT. The `truth` subcommand prints what should have arrived. */
#include <errno.h>
#include <stdint.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sbx_clock.h"
#include "sbx_data.h"
#include "sbx_fault.h"
#include "sbx_gateway.h"
#include "sbx_generic.h"
#include "sbx_method.h"
#include "sbx_server.h"
#include "sbx_tenant.h"
#include "sbx_truth.h"
#include "wdts/cfg.h"
#include "wdts/err.h"
#include "wdts/log.h"
#include "wdts/str.h"
#include "wdts/time.h"

static const char usage_text[] =
    "usage: wdt-sandbox --listen HOST:PORT (--tenants FILE | --demo) [--clock SPEC]\n"
    "                   [--faults SPEC] [--threads N] [--port-file PATH]\n"
    "                   [--timestamp-clock real|sandbox] [--timestamp-skew SECONDS]\n"
    "                   [--bounds closed|half|open] [--time-format doc|datetime|epoch_ms]\n"
    "                   [--qimen-total present|absent]\n"
    "                   [--archive-horizon DURATION|off] [--archive-by modified|created]\n"
    "                   [--archive-late return|stay] [--archive-reports R1,R2,...]\n"
    "                   [--catalog FILE] [--spec FILE] [--generate-all]\n"
    "       wdt-sandbox truth (--tenants FILE | --demo) --sid SID --report REPORT\n"
    "                   --as-of T --before W [--since S] [--route wdt|qimen]\n"
    "                   [--catalog FILE] [--spec FILE] [--generate-all]\n"
    "\n"
    "Serves POST /openapi (flagship direct API), POST /router/qm (Qimen route),\n"
    "GET /metrics (Prometheus text) and GET /healthz.\n"
    "\n"
    "  --listen HOST:PORT  address to bind; port 0 picks a free port (printed on start)\n"
    "  --tenants FILE      JSON array of tenants: sid, appkey, appsecret \"secret:salt\",\n"
    "                      qimen_app_key, qimen_app_secret, permissions, rate_per_min,\n"
    "                      concurrency, orders_per_day, seed, data_origin, time_format,\n"
    "                      archive_horizon\n"
    "  --demo              the built-in demo tenants: demo-shop (appkey demo-app, secret\n"
    "                      demo-secret:demo-salt, Qimen app demo-qimen-app/demo-qimen-secret)\n"
    "                      and demo-shop-2 (demo2-app, demo2-secret:demo2-salt, no refunds)\n"
    "  --clock SPEC        real (default) | frozen:UNIX | speed:FACTOR[@UNIX]\n"
    "  --faults SPEC       e.g. latency=20-200ms,http5xx=0.05,hang=0.01,truncate=0.02,\n"
    "                      status4=0.01,status5=0.01,status99=0.01,ratelimit=0.02,\n"
    "                      nolist=0.01,badstatus=0.01,\n"
    "                      http5xx@10s-20s=1.0,seed=7,hangtime=90s\n"
    "  --threads N         HTTP worker threads (default 2)\n"
    "  --port-file PATH    write HOST:PORT to PATH once listening (atomically)\n"
    "  --timestamp-clock C request timestamps are checked (±120 s, Qimen ±10 min) against\n"
    "                      the real wall clock (real, default: clients sign with their own\n"
    "                      clock whatever --clock says) or the sandbox clock (sandbox)\n"
    "  --timestamp-skew S  the gateway's clock runs S seconds off the real clock (e.g. 600:\n"
    "                      every client is then refused with status 7 时间戳错误)\n"
    "  --bounds B          which ends of a query window select a record by its time t:\n"
    "                      half (default) start <= t < end, closed start <= t <= end,\n"
    "                      open start < t < end (the official pages do not say)\n"
    "  --time-format F     change-time fields: doc (default: as each official page's\n"
    "                      example shows them), datetime or epoch_ms (every report's\n"
    "                      change-time field in that form); a tenant's time_format wins\n"
    "  --qimen-total Q     present (default) or absent: whether Qimen answers carry\n"
    "                      data.total_count (no page says)\n"
    "  --archive-horizon D documents of trades, stockouts, refunds, raw trades and refund\n"
    "                      stock-ins older than D (e.g. 90d, 2d) are served only by the\n"
    "                      history (历史) methods, the others only by the normal ones\n"
    "                      (default off: nothing archived); a tenant's archive_horizon wins\n"
    "  --archive-by B      which time is older than the horizon: modified (default) or\n"
    "                      created\n"
    "  --archive-late L    a change to an archived document: return (default) brings it\n"
    "                      back to the normal method, stay keeps it in the history method\n"
    "                      with its new change time\n"
    "  --archive-reports L only these reports are archived (default: all five)\n"
    "  --catalog FILE      the report catalog to serve (default: the one built in,\n"
    "                      common/model/catalog/reports.json); every report the hand-made model\n"
    "                      does not cover is generated from its API spec entry\n"
    "  --spec FILE         the API spec those reports are generated from (default: the one\n"
    "                      built in, common/model/catalog/wdt-api-spec.json); a report with no\n"
    "                      entry there is a start-up error naming it\n"
    "  --generate-all      generate every report from the spec, also those the hand-made\n"
    "                      model covers (to try the generator on known methods; give it to\n"
    "                      truth as well)\n"
    "\n"
    "truth prints one JSON line {\"pk\":…,\"modified\":…} per record of REPORT whose modified\n"
    "time as of T lies in [S, W) (S defaults to the beginning); for a generated report whose\n"
    "catalog basis is not modified (pay, ship, creation … time), per document whose basis time\n"
    "lies in [S, W), with its version as of T and \"basis_unix\". Times are Unix seconds,\n"
    "RFC 3339, or \"yyyy-MM-dd HH:mm:ss\" Beijing time.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "wdt-sandbox: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nrun wdt-sandbox --help for the options\n");
    return WDTS_EXIT_USAGE;
}

static int load_tenants(const char *file, int demo, const struct sbx_reports *reports,
                        struct sbx_tenants *tenants)
{
    char errstr[4096];
    if (demo && file)
        return usage_error("give either --tenants FILE or --demo, not both%s", "");
    if (demo) {
        sbx_tenants_demo(tenants);
        return 0;
    }
    if (file == NULL)
        return usage_error("--tenants FILE or --demo is required%s", "");
    if (sbx_tenants_load_for(file, reports, tenants, errstr, sizeof(errstr)) != WDTS_OK) {
        fprintf(stderr, "wdt-sandbox: invalid tenants file:\n%s\n", errstr);
        return WDTS_EXIT_CONFIG;
    }
    return 0;
}

/* Every report of the catalog resolved: hand-made or generated from the spec. */
static int load_reports(const char *catalog, const char *spec, int generate_all,
                        struct sbx_reports **out)
{
    char errstr[8192];
    *out = sbx_reports_new(catalog, spec, generate_all ? SBX_REPORTS_GENERATE_ALL : 0, errstr,
                           sizeof(errstr));
    if (*out == NULL) {
        fprintf(stderr, "wdt-sandbox: cannot serve the report catalog: %s\n", errstr);
        return WDTS_EXIT_CONFIG;
    }
    return 0;
}

static int parse_time_arg(const char *s, int64_t *out)
{
    return wdts_time_parse_rfc3339(s, out) == WDTS_OK || wdts_time_parse_beijing(s, out) == WDTS_OK
               ? 0
               : -1;
}

static int run_truth(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tenants", required_argument, NULL, 't'}, {"demo", no_argument, NULL, 'd'},
        {"sid", required_argument, NULL, 's'},     {"report", required_argument, NULL, 'r'},
        {"as-of", required_argument, NULL, 'a'},   {"before", required_argument, NULL, 'b'},
        {"since", required_argument, NULL, 'S'},   {"route", required_argument, NULL, 'R'},
        {"catalog", required_argument, NULL, 'c'}, {"spec", required_argument, NULL, 'p'},
        {"generate-all", no_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *sid = NULL, *report = NULL, *as_of_s = NULL, *before_s = NULL;
    const char *since_s = NULL, *route_s = "wdt", *catalog = NULL, *spec = NULL;
    int demo = 0, generate_all = 0, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': file = optarg; break;
        case 'd': demo = 1; break;
        case 's': sid = optarg; break;
        case 'r': report = optarg; break;
        case 'a': as_of_s = optarg; break;
        case 'b': before_s = optarg; break;
        case 'S': since_s = optarg; break;
        case 'R': route_s = optarg; break;
        case 'c': catalog = optarg; break;
        case 'p': spec = optarg; break;
        case 'g': generate_all = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return usage_error("truth: unknown option%s", "");
        }
    }
    if (sid == NULL || report == NULL || as_of_s == NULL || before_s == NULL)
        return usage_error("truth needs --sid, --report, --as-of and --before%s", "");
    struct sbx_reports *reports = NULL;
    int rc = load_reports(catalog, spec, generate_all, &reports);
    if (rc != 0)
        return rc;
    /* A generated report by its catalog name; a hand-made one by its catalog method (or
     * the model's own entity names). */
    const struct sbx_gen_report *gen = sbx_reports_find_name(reports, report);
    const struct wdts_catalog_report *crep = wdts_catalog_get(reports->cat, report);
    const struct sbx_method *hm = crep ? sbx_method_find_direct(crep->method) : NULL;
    enum sbx_entity e = SBX_E_TRADE;
    if (gen == NULL && hm != NULL) {
        e = hm->entity;
    } else if (gen == NULL && sbx_entity_parse(report, &e) != WDTS_OK) {
        sbx_reports_destroy(reports);
        return usage_error("truth: unknown report '%s' (wdt-sandbox serves the reports of the "
                           "catalog: wdtctl reports lists them)", report);
    }
    int64_t as_of = 0, before = 0, since = INT64_MIN;
    enum sbx_route route = SBX_ROUTE_WDT;
    if (parse_time_arg(as_of_s, &as_of) != 0)
        rc = usage_error("truth: --as-of '%s' is not a time", as_of_s);
    else if (parse_time_arg(before_s, &before) != 0)
        rc = usage_error("truth: --before '%s' is not a time", before_s);
    else if (since_s && parse_time_arg(since_s, &since) != 0)
        rc = usage_error("truth: --since '%s' is not a time", since_s);
    else if (sbx_route_parse(route_s, &route) != WDTS_OK)
        rc = usage_error("truth: --route '%s' must be wdt or qimen", route_s);
    struct sbx_tenants tenants = {NULL, 0};
    if (rc == 0)
        rc = load_tenants(file, demo, reports, &tenants);
    if (rc != 0) {
        sbx_reports_destroy(reports);
        return rc;
    }
    const struct sbx_tenant *t = sbx_tenants_find(&tenants, sid);
    if (t == NULL) {
        fprintf(stderr, "wdt-sandbox: truth: no tenant has sid '%s'\n", sid);
        sbx_tenants_deinit(&tenants);
        sbx_reports_destroy(reports);
        return WDTS_EXIT_USAGE;
    }
    struct sbx_dataset ds = {t->seed, t->orders_per_day, t->data_origin};
    wdts_err_t err = gen ? sbx_gen_truth_write(gen, &ds, route, as_of, since, before, stdout)
                         : sbx_truth_write(&ds, e, route, as_of, since, before, stdout);
    sbx_tenants_deinit(&tenants);
    sbx_reports_destroy(reports);
    if (err != WDTS_OK || fflush(stdout) != 0) {
        fprintf(stderr, "wdt-sandbox: truth: %s\n", wdts_err2str(err != WDTS_OK ? err : WDTS_ERR_IO));
        return WDTS_EXIT_FATAL;
    }
    return 0;
}

/* Splits "HOST:PORT" ("[::1]:8080" for IPv6). */
static int parse_listen(const char *s, char *host, size_t host_size, int *port)
{
    const char *colon = strrchr(s, ':');
    long long p;
    if (colon == NULL || wdts_parse_int(colon + 1, 0, 65535, &p) != WDTS_OK)
        return -1;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= host_size)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

static int write_port_file(const char *path, const char *host, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    int ok = fprintf(f, "%s:%d\n", host, port) > 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The server's command line; strings borrowed from argv. */
struct server_args {
    const char *listen, *file, *clock_s, *faults_s, *port_file, *catalog, *spec;
    char host[256];
    int port;
    long long threads, ts_skew;
    int demo, ts_sandbox, qimen_total_absent, generate_all;
    enum sbx_bounds bounds;
    enum sbx_timefmt timefmt;
    struct sbx_archive archive;
};

/* The options of how answers look: clocks, bounds, time format, Qimen totals.
 * @returns 0, or the exit code after printing why. */
static int parse_answer_opt(int c, const char *arg, struct server_args *a)
{
    switch (c) {
    case 'C':
        if (strcmp(arg, "real") != 0 && strcmp(arg, "sandbox") != 0)
            return usage_error("--timestamp-clock '%s' must be real or sandbox", arg);
        a->ts_sandbox = strcmp(arg, "sandbox") == 0;
        return 0;
    case 'S':
        if (wdts_parse_int(arg, -86400LL * 3650, 86400LL * 3650, &a->ts_skew) != WDTS_OK)
            return usage_error("--timestamp-skew '%s' must be an integer of seconds", arg);
        return 0;
    case 'B':
        if (sbx_bounds_parse(arg, &a->bounds) != WDTS_OK)
            return usage_error("--bounds '%s' must be closed, half or open", arg);
        return 0;
    case 'F':
        if (sbx_timefmt_parse(arg, &a->timefmt) != WDTS_OK)
            return usage_error("--time-format '%s' must be doc, datetime or epoch_ms", arg);
        return 0;
    default: /* 'Q' */
        if (strcmp(arg, "present") != 0 && strcmp(arg, "absent") != 0)
            return usage_error("--qimen-total '%s' must be present or absent", arg);
        a->qimen_total_absent = strcmp(arg, "absent") == 0;
        return 0;
    }
}

/* The archive options. @returns 0, or the exit code after printing why. */
static int parse_archive_opt(int c, const char *arg, struct sbx_archive *archive)
{
    int64_t ms = 0;
    switch (c) {
    case 'H':
        if (strcmp(arg, "off") == 0)
            archive->horizon = 0;
        else if (wdts_cfg_parse_duration(arg, &ms) == WDTS_OK && ms >= 1000)
            archive->horizon = ms / 1000;
        else
            return usage_error("--archive-horizon '%s' must be a duration such as 90d or 2d, "
                               "or off", arg);
        return 0;
    case 'A':
        if (strcmp(arg, "modified") != 0 && strcmp(arg, "created") != 0)
            return usage_error("--archive-by '%s' must be modified or created", arg);
        archive->by = strcmp(arg, "created") == 0 ? SBX_ARCHIVE_BY_CREATED
                                                  : SBX_ARCHIVE_BY_MODIFIED;
        return 0;
    case 'L':
        if (strcmp(arg, "return") != 0 && strcmp(arg, "stay") != 0)
            return usage_error("--archive-late '%s' must be return or stay", arg);
        archive->late = strcmp(arg, "stay") == 0 ? SBX_ARCHIVE_LATE_STAY
                                                 : SBX_ARCHIVE_LATE_RETURN;
        return 0;
    default: /* 'R' */
        if (sbx_method_parse_archive_reports(arg, &archive->only) != 0)
            return usage_error("--archive-reports '%s' must list trades, stockouts, refunds, "
                               "raw_trades or refund_stockins, comma-separated", arg);
        return 0;
    }
}

/* @returns -1 to go on, or the exit code (after --help or a usage error). */
static int parse_server_args(int argc, char **argv, struct server_args *a)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},  {"tenants", required_argument, NULL, 't'},
        {"demo", no_argument, NULL, 'd'},          {"clock", required_argument, NULL, 'c'},
        {"faults", required_argument, NULL, 'f'},  {"threads", required_argument, NULL, 'T'},
        {"port-file", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
        {"timestamp-clock", required_argument, NULL, 'C'},
        {"timestamp-skew", required_argument, NULL, 'S'},
        {"bounds", required_argument, NULL, 'B'},
        {"time-format", required_argument, NULL, 'F'},
        {"qimen-total", required_argument, NULL, 'Q'},
        {"archive-horizon", required_argument, NULL, 'H'},
        {"archive-by", required_argument, NULL, 'A'},
        {"archive-late", required_argument, NULL, 'L'},
        {"archive-reports", required_argument, NULL, 'R'},
        {"catalog", required_argument, NULL, 'K'},
        {"spec", required_argument, NULL, 'P'},
        {"generate-all", no_argument, NULL, 'G'},
        {NULL, 0, NULL, 0},
    };
    int c, rc;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l': a->listen = optarg; break;
        case 't': a->file = optarg; break;
        case 'd': a->demo = 1; break;
        case 'c': a->clock_s = optarg; break;
        case 'f': a->faults_s = optarg; break;
        case 'p': a->port_file = optarg; break;
        case 'T':
            if (wdts_parse_int(optarg, 1, 64, &a->threads) != WDTS_OK)
                return usage_error("--threads '%s' must be an integer from 1 to 64", optarg);
            break;
        case 'C': case 'S': case 'B': case 'F': case 'Q':
            if ((rc = parse_answer_opt(c, optarg, a)) != 0)
                return rc;
            break;
        case 'H': case 'A': case 'L': case 'R':
            if ((rc = parse_archive_opt(c, optarg, &a->archive)) != 0)
                return rc;
            break;
        case 'K': a->catalog = optarg; break;
        case 'P': a->spec = optarg; break;
        case 'G': a->generate_all = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return usage_error("unknown option%s", "");
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (a->listen == NULL)
        return usage_error("--listen HOST:PORT is required (e.g. 127.0.0.1:0)%s", "");
    if (parse_listen(a->listen, a->host, sizeof(a->host), &a->port) != 0)
        return usage_error("--listen '%s' must be HOST:PORT with a port from 0 to 65535",
                           a->listen);
    return -1;
}

/* Serves until SIGTERM or SIGINT (blocked by the caller in sigs). @returns the exit code. */
static int serve(const struct server_args *a, struct sbx_gateway *gw, size_t n_tenants,
                 const struct sbx_reports *reports, sigset_t *sigs)
{
    char errstr[1024];
    struct sbx_server_cfg cfg = {a->host, a->port, (int)a->threads, gw};
    struct sbx_server *srv = sbx_server_new(&cfg, errstr, sizeof(errstr));
    if (srv == NULL) {
        fprintf(stderr, "wdt-sandbox: %s\n", errstr);
        return WDTS_EXIT_FATAL;
    }
    int bound = sbx_server_port(srv);
    if (a->port_file && write_port_file(a->port_file, a->host, bound) != 0) {
        fprintf(stderr, "wdt-sandbox: cannot write --port-file %s: %s\n", a->port_file,
                strerror(errno));
        sbx_server_destroy(srv);
        return WDTS_EXIT_FATAL;
    }
    printf("wdt-sandbox listening on http://%s%s%s:%d (%zu tenants, clock %s, faults %s, "
           "%zu reports: %zu hand-made, %zu generated from the API spec)\n",
           strchr(a->host, ':') ? "[" : "", a->host, strchr(a->host, ':') ? "]" : "", bound,
           n_tenants, a->clock_s, a->faults_s ? a->faults_s : "none",
           reports->n_hand + reports->n_gen, reports->n_hand, reports->n_gen);
    fflush(stdout);

    int sig = 0;
    sigwait(sigs, &sig);
    WDTS_LOG(INFO, "http", "signal %d: stopping", sig);
    sbx_server_destroy(srv);
    return 0;
}

static int run_server(int argc, char **argv)
{
    struct server_args a = {.clock_s = "real",
                            .threads = 2,
                            .bounds = SBX_BOUNDS_HALF,
                            .timefmt = SBX_TIMEFMT_DOC,
                            .archive = {0, SBX_ARCHIVE_BY_MODIFIED, SBX_ARCHIVE_LATE_RETURN, 0}};
    int rc = parse_server_args(argc, argv, &a);
    if (rc >= 0)
        return rc;

    char errstr[1024];
    struct sbx_clock clock;
    if (sbx_clock_parse(a.clock_s, &clock, errstr, sizeof(errstr)) != WDTS_OK)
        return usage_error("%s", errstr);
    struct sbx_faults faults;
    if (sbx_faults_parse(a.faults_s, &faults, errstr, sizeof(errstr)) != WDTS_OK)
        return usage_error("%s", errstr);

    struct sbx_reports *reports = NULL;
    rc = load_reports(a.catalog, a.spec, a.generate_all, &reports);
    if (rc != 0) {
        sbx_faults_deinit(&faults);
        return rc;
    }
    struct sbx_tenants tenants = {NULL, 0};
    rc = load_tenants(a.file, a.demo, reports, &tenants);
    if (rc != 0) {
        sbx_faults_deinit(&faults);
        sbx_reports_destroy(reports);
        return rc;
    }

    /* Block the stop signals before any thread starts, so only sigwait sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Page bodies are a few hundred KB each: keep them on the heap and keep the heap,
     * rather than mmap, fault in and zero fresh pages for every answer. */
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);

    struct sbx_gateway gw;
    sbx_gateway_init(&gw, &tenants, &clock, &faults);
    gw.ts_sandbox_clock = a.ts_sandbox;
    gw.ts_skew_s = a.ts_skew;
    gw.bounds = a.bounds;
    gw.timefmt = a.timefmt;
    gw.qimen_total_absent = a.qimen_total_absent;
    gw.archive = a.archive;
    gw.reports = reports;
    rc = serve(&a, &gw, tenants.n, reports, &sigs);
    sbx_gateway_deinit(&gw);
    sbx_tenants_deinit(&tenants);
    sbx_faults_deinit(&faults);
    sbx_reports_destroy(reports);
    return rc;
}

int main(int argc, char **argv)
{
    wdts_log_set_prog("wdt-sandbox");
    wdts_log_setup(WDTS_LOGLVL_INFO, WDTS_LOGFMT_JSON, getenv("WDT_DEBUG"));
    if (argc > 1 && strcmp(argv[1], "truth") == 0)
        return run_truth(argc - 1, argv + 1);
    return run_server(argc, argv);
}
