/* wdt-scheduler: plans the windows of every connection and emits them as jobs on
 * wdt.jobs (docs/DESIGN.md §3). Wiring only: arguments → config → logging → signals →
 * metrics/health HTTP → sched_run() (or one pass with --once). The logic is in
 * scheduler/sched*.c. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched_loop.h"
#include "wdts/cfg.h"
#include "wdts/err.h"
#include "wdts/http_server.h"
#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/metrics.h"
#include "wdts/prog.h"
#include "wdts/str.h"
#include "wdts/time.h"

extern char **environ;

static const char usage_text[] =
    "usage: wdt-scheduler [--once] [--config FILE] [--set KEY=VALUE]...\n"
    "       wdt-scheduler --help | --help-config | --version\n"
    "\n"
    "Plans every enabled, not blocked report of every connection that is not auth_failed\n"
    "into time windows and emits them as jobs on topic.jobs (wdt.jobs). Only the replica\n"
    "holding the Redis lease plans; the others wait and take over when it goes away.\n"
    "Serves /metrics, /healthz and /readyz on http.listen (not with --once).\n"
    "\n"
    "  --once             run one planning pass and exit (CronJobs, tests); exit 0 also\n"
    "                     when another scheduler holds the lease (it says so)\n"
    "  --config FILE      properties file (default: $WDT_CONFIG_FILE); see --help-config\n"
    "  --set KEY=VALUE    override one setting (development), e.g. --set scheduler.lag=1m\n"
    "  --help-config      every setting, its WDT_* variable and default\n"
    "\n"
    "Test aids (not for production):\n"
    "  --now TIME         plan as if the time were TIME (Unix seconds, RFC 3339 or Beijing\n"
    "                     \"yyyy-MM-dd HH:mm:ss\") in every pass\n"
    "  --crash-after-emit exit with status 86 right after the first batch of jobs was\n"
    "                     delivered, before the plan state is stored\n"
    "\n"
    "Exit: 0 done or stopped by SIGTERM/SIGINT, 64 bad arguments, 78 bad configuration\n"
    "(every problem listed), 1 Redis, Kafka or the catalog cannot be used.\n";

static volatile sig_atomic_t stop_flag;

static int ready_cb(void *opaque, char *reason, size_t reason_size)
{
    return sched_ready(opaque, reason, reason_size);
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "wdt-scheduler: %s%s\nrun wdt-scheduler --help for the options\n", msg,
            arg ? arg : "");
    return WDTS_EXIT_USAGE;
}

/* The command line: the values are borrowed from argv; sets is owned. */
struct sched_args {
    const char *file;
    const char **sets;
    size_t nsets;
    int once;
    struct sched_opts so;
};

/* @returns -1 to go on, or the exit code (after --help, --version, or a usage error). */
static int parse_args(int argc, char **argv, struct sched_args *a)
{
    static const struct option opts[] = {
        {"once", no_argument, NULL, 'o'},
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"now", required_argument, NULL, 'n'},
        {"crash-after-emit", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {"help-config", no_argument, NULL, 'H'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    a->sets = wdts_xcalloc((size_t)argc + 1, sizeof(*a->sets));
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o': a->once = 1; break;
        case 'c': a->file = optarg; break;
        case 's':
            if (strchr(optarg, '=') == NULL)
                return usage_error("--set needs KEY=VALUE, got ", optarg);
            a->sets[a->nsets++] = optarg;
            break;
        case 'n':
            if (wdts_time_parse_rfc3339(optarg, &a->so.now) != WDTS_OK &&
                wdts_time_parse_beijing(optarg, &a->so.now) != WDTS_OK)
                return usage_error("--now: not a time (Unix seconds, RFC 3339 or "
                                   "\"yyyy-MM-dd HH:mm:ss\" Beijing): ",
                                   optarg);
            break;
        case 'x': a->so.crash_after_emit = 1; break;
        case 'h': fputs(usage_text, stdout); return WDTS_EXIT_OK;
        case 'H': return wdts_prog_help_config();
        case 'V': printf("wdt-scheduler %s\n", WDTS_VERSION); return WDTS_EXIT_OK;
        default: return usage_error("unknown option", NULL);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument: ", argv[optind]);
    return -1;
}

/* The configuration with the scheduler's own checks. @returns NULL after printing why. */
static struct wdts_cfg *load_cfg(const struct sched_args *a)
{
    struct wdts_cfg_opts copts = {
        .file = a->file, .envp = environ, .overrides = a->sets, .overrides_cnt = a->nsets};
    struct wdts_cfg *cfg = wdts_prog_cfg_load(&copts, "wdt-scheduler");
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    if (cfg && sched_cfg_check(cfg, &errs) != WDTS_OK) {
        fprintf(stderr, "wdt-scheduler: invalid configuration:\n%s", wdts_buf_str(&errs));
        wdts_cfg_destroy(cfg);
        cfg = NULL;
    }
    wdts_buf_deinit(&errs);
    return cfg;
}

int main(int argc, char **argv)
{
    wdts_prog_protect("wdt-scheduler");
    struct sched_args a = {0};
    struct wdts_cfg *cfg = NULL;
    struct wdts_metrics *reg = NULL;
    struct wdts_http_server *srv = NULL;
    struct sched *s = NULL;
    char es[1024], holder[256];
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        goto out;
    if ((cfg = load_cfg(&a)) == NULL) {
        rc = WDTS_EXIT_CONFIG;
        goto out;
    }
    wdts_prog_logging(cfg, "wdt-scheduler");
    wdts_prog_on_stop(&stop_flag, 0);

    rc = WDTS_EXIT_FATAL;
    sched_holder_name(holder, sizeof(holder));
    reg = wdts_metrics_new();
    s = sched_new(cfg, &a.so, holder, reg, es, sizeof(es));
    if (s == NULL) {
        WDTS_LOG(ERROR, "sched", "cannot start: %s", es);
        goto out;
    }
    if (a.once) {
        rc = sched_run_once(s, &stop_flag);
        goto out;
    }
    srv = wdts_http_server_new(cfg->http_listen, reg, ready_cb, s, es, sizeof(es));
    if (srv == NULL) {
        WDTS_LOG(ERROR, "http", "cannot serve %s: %s", cfg->http_listen, es);
        goto out;
    }
    WDTS_LOG(INFO, "sched", "started as %s; /metrics on port %u", holder,
             wdts_http_server_port(srv));
    rc = sched_run(s, &stop_flag);
out:
    wdts_http_server_destroy(srv);
    sched_destroy(s);
    wdts_metrics_destroy(reg);
    wdts_cfg_destroy(cfg);
    free(a.sets);
    return rc;
}
