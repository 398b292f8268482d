/* `wdtctl plan`: the first-sync estimate of a stored connection. The windows come from
 * the scheduler's own planning pass (scheduler/sched_estimate.c runs sched_plan_pass() on
 * an empty state), so the count is the one the scheduler will emit; `--probe N` asks the
 * gateway for total_count on N sample windows per report (one-row pages, through the
 * seller's shared call budget) to estimate the pages. Wiring and presentation only. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "sched_estimate.h"
#include "sched_loop.h"
#include "sched_plan.h"
#include "wdts/catalog.h"
#include "wdts/cfg.h"
#include "wdts/conn.h"
#include "wdts/conn_probe.h"
#include "wdts/err.h"
#include "wdts/job.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts/wdt_api_http.h"
#include "wdts/wdt_api_request.h"
#include "wrk_job.h"

#define PLAN_PROBE_MAX 50

static const char usage_plan[] =
    "usage: wdtctl plan --connection C [--reports LIST] [--probe N] [--json]\n"
    "\n"
    "The first-sync estimate of connection C: per enabled report (blocked ones are not\n"
    "synced) and in all, the windows the scheduler plans for the backfill (windows one\n"
    "minute narrower than the report's widest span, the connection's backfill depth), the\n"
    "windows also read from the archive (历史, history) method (as the connection's\n"
    "--archive-read and --archive-horizon say, the way the workers decide), the LEAST number\n"
    "of calls (one per window, one more per archive read) and the time that takes at the\n"
    "connection's rate (calls/min, burst and concurrency as stored; every report shares them).\n"
    "\n"
    "  --reports LIST        only these: groups (sales, aftersales, stock, purchase, finance,\n"
    "                        goods, settings), report names or all, comma-separated\n"
    "  --probe N             ask the gateway for total_count on N sample windows per report\n"
    "                        (one-row pages, calc_total=1, within the seller's rate limit:\n"
    "                        about N calls per report) and estimate the pages: a window of T\n"
    "                        records takes 1 call when it fits a page, else ceil(T/page)+1;\n"
    "                        needs the secret key (WDT_SECRET_KEY_FILE). At most 50. A\n"
    "                        sample window read from the archive method too is asked\n"
    "                        there as well (one more call).\n"
    "  --json                the same as a JSON object\n"
    "\n"
    "Reads Redis (WDT_REDIS_URL). Exit: 0, 1 Redis or the gateway failed, 64 bad arguments,\n"
    "69 no such connection, 78 bad configuration.\n";

struct plan_row {
    const struct wdts_catalog_report *rep;
    int blocked;
    long long windows, history_windows;
    double least_calls;
    /* probe */
    int samples;       /* windows asked */
    int hist_samples;  /* of them, read from the archive method too (asked there as well) */
    double sum_hist_calls; /* calls the archive reads of those take */
    int no_total;      /* answers without total_count */
    double sum_total;  /* records in the sampled windows */
    double sum_calls;  /* calls the sampled windows take (worker paging) */
    char probe_error[256];
    double calls;      /* the estimate: least_calls, or scaled from the samples */
    double records;    /* estimated records; -1 unknown */
};

struct plan {
    const struct wdts_conn *conn;
    struct plan_row *rows;
    size_t n;
    int64_t now, from, to;
    struct sched_est_limit lim;
    int probed;
    double latency_sum;
    long long latency_n;
};

/* The rows of conn's reports (selected by sel, NULL = all of them) and their windows. */
/* Whether the workers read window w of report r from its archive method as well: the
 * worker's own rule (wrk_job_hist_plan()). */
static int reads_archive(const struct wdts_conn *conn, const struct wdts_conn_report *cr,
                         const struct wdts_catalog_report *rep, const struct sched_plan_window *w,
                         int64_t now)
{
    struct wdts_job job;
    memset(&job, 0, sizeof(job));
    job.start = w->start;
    job.end = w->end;
    return wrk_job_hist_plan(rep, &job, conn->archive_read, conn->archive_horizon_s,
                             cr && cr->history_blocked, now) == WRK_HIST_READ;
}

struct count_archive {
    const struct wdts_conn *conn;
    const struct wdts_conn_report *cr;
    const struct wdts_catalog_report *rep;
    int64_t now;
    long long n;
};

static int count_archive_window(const struct sched_plan_window *w, void *opaque)
{
    struct count_archive *ca = opaque;
    ca->n += reads_archive(ca->conn, ca->cr, ca->rep, w, ca->now);
    return 0;
}

static int plan_compute(const struct wdts_cfg *cfg, const struct wdts_catalog *cat,
                        const struct wdts_conn *conn, const unsigned char *sel, int64_t now,
                        struct plan *pl, char *errstr, size_t errstr_size)
{
    memset(pl, 0, sizeof(*pl));
    pl->conn = conn;
    pl->now = now;
    pl->rows = wdts_xcalloc(conn->n_reports + 1, sizeof(*pl->rows));
    pl->lim = (struct sched_est_limit){conn->rate, conn->burst, conn->concurrency, 0};
    for (size_t i = 0; i < conn->n_reports; i++) {
        const struct wdts_catalog_report *rep = wdts_catalog_get(cat, conn->reports[i].name);
        if (rep == NULL)
            continue; /* a report dropped from the catalog: not planned either */
        if (sel) {
            size_t k = 0;
            while (k < wdts_catalog_count(cat) && wdts_catalog_at(cat, k) != rep)
                k++;
            if (k == wdts_catalog_count(cat) || !sel[k])
                continue;
        }
        struct plan_row *r = &pl->rows[pl->n++];
        r->rep = rep;
        r->blocked = conn->reports[i].blocked;
        r->records = -1;
        if (r->blocked)
            continue;
        struct sched_plan_params p;
        sched_params_for(cfg, conn, rep, &p);
        struct count_archive ca = {conn, &conn->reports[i], rep, now, 0};
        if (sched_est_windows(&p, NULL, now, count_archive_window, &ca, &r->windows, errstr,
                              errstr_size) != WDTS_OK)
            return -1;
        r->history_windows = ca.n;
        r->least_calls = (double)(r->windows + r->history_windows);
        r->calls = r->least_calls;
        if (!p.snapshot && pl->from == 0) {
            pl->from = sched_plan_align_down(now - p.backfill, p.step);
            pl->to = sched_plan_align_down(now - p.lag, p.step);
        }
    }
    return 0;
}

/* ---- probe ------------------------------------------------------------------------ */

struct pick {
    long long every, next, i;
    struct sched_plan_window *out;
    int n, cap;
};

static int pick_window(const struct sched_plan_window *w, void *opaque)
{
    struct pick *pk = opaque;
    if (pk->i++ == pk->next && pk->n < pk->cap) {
        pk->out[pk->n++] = *w;
        pk->next += pk->every;
    }
    return pk->n >= pk->cap;
}

/* One probe call: total_count of a window from method (page 0, one row, calc_total=1).
 * @returns 0 with *total (-1 when the answer carries none), or -1 with why in r->probe_error. */
static int probe_total(struct plan *pl, struct plan_row *r, const struct sched_plan_window *w,
                       int history, const struct wdts_api_creds *creds, struct ctl_limiter *lim,
                       double *total)
{
    char es[512];
    struct wdts_job job;
    memset(&job, 0, sizeof(job));
    job.start = w->start;
    job.end = w->end;
    const char *qm = history ? r->rep->history_qimen_method : r->rep->qimen_method;
    char *params = wrk_job_params(r->rep, &job, history);
    struct wdts_api_call call = {
        .method = history ? r->rep->history_method : r->rep->method,
        .qimen_method = *qm ? qm : NULL,
        .params_json = params,
        .paged = 1,
        .page_no = 0,
        .page_size = 1,
        .calc_total = 1,
        .now = wdts_time_now(),
    };
    struct wdts_api_http_opts http = {0};
    struct wdts_api_result res;
    wdts_api_result_init(&res);
    wdts_err_t err = ctl_limiter_admit(lim, es, sizeof(es));
    if (err != WDTS_OK) {
        wdts_errstr_set(r->probe_error, sizeof(r->probe_error), "%s", es);
        free(params);
        return -1;
    }
    int64_t t0 = wdts_time_mono_ms();
    err = wdts_api_call_blocking(creds, pl->conn->gateway, &call, &http, &res, NULL, es,
                                 sizeof(es));
    int64_t t1 = wdts_time_mono_ms();
    ctl_limiter_done(lim, err == WDTS_OK ? res.cls : WDTS_API_TRANSIENT);
    free(params);
    if (err != WDTS_OK || res.cls != WDTS_API_OK) {
        wdts_errstr_set(r->probe_error, sizeof(r->probe_error), "%s%s: %s",
                        history ? "archive method: " : "",
                        err != WDTS_OK ? "error" : wdts_api_class_name(res.cls),
                        err != WDTS_OK ? es : res.message);
        wdts_api_result_deinit(&res);
        return -1;
    }
    pl->latency_sum += (double)(t1 - t0) / 1000.0;
    pl->latency_n++;
    *total = res.has_total ? (double)res.total_count : -1;
    wdts_api_result_deinit(&res);
    return 0;
}

/* Asks for total_count on up to n windows of row r spread evenly over its first sync (and
 * from the archive method too for a window the workers read there). */
static void probe_row(const struct wdts_cfg *cfg, struct plan *pl, struct plan_row *r, int n,
                      const struct wdts_api_creds *creds, struct ctl_limiter *lim)
{
    struct sched_plan_params p;
    char es[512];
    sched_params_for(cfg, pl->conn, r->rep, &p);
    if (r->windows <= 0 || n <= 0)
        return;
    if (n > r->windows)
        n = (int)r->windows;
    struct sched_plan_window *win = wdts_xcalloc((size_t)n, sizeof(*win));
    struct pick pk = {.every = r->windows / n, .next = r->windows / n / 2, .out = win, .cap = n};
    if (sched_est_windows(&p, NULL, pl->now, pick_window, &pk, NULL, es, sizeof(es)) != WDTS_OK) {
        wdts_errstr_set(r->probe_error, sizeof(r->probe_error), "%s", es);
        free(win);
        return;
    }
    const struct wdts_conn_report *cr = wdts_conn_report_get(pl->conn, r->rep->name);
    long long max_rec = cfg->worker_max_records_per_job;
    for (int i = 0; i < pk.n; i++) {
        double total;
        if (probe_total(pl, r, &win[i], 0, creds, lim, &total) != 0)
            break;
        r->samples++;
        if (total < 0) {
            r->no_total++;
        } else {
            r->sum_total += total;
            r->sum_calls += sched_est_window_calls(total, r->rep->page_size, max_rec);
        }
        if (!reads_archive(pl->conn, cr, r->rep, &win[i], pl->now))
            continue;
        if (probe_total(pl, r, &win[i], 1, creds, lim, &total) != 0)
            break;
        r->hist_samples++;
        r->sum_hist_calls += sched_est_window_calls(total, r->rep->page_size, max_rec);
        if (total > 0)
            r->sum_total += total; /* the archive's records are the report's too */
    }
    free(win);
    int with_total = r->samples - r->no_total;
    if (with_total > 0) {
        double per_window = r->sum_calls / with_total;
        double per_archive = r->hist_samples > 0 ? r->sum_hist_calls / r->hist_samples : 1;
        r->calls = per_window * (double)r->windows + per_archive * (double)r->history_windows;
        r->records = r->sum_total / with_total * (double)r->windows;
    }
}

/* ---- printing --------------------------------------------------------------------- */

static double total_of(const struct plan *pl, int least)
{
    double t = 0;
    for (size_t i = 0; i < pl->n; i++)
        if (!pl->rows[i].blocked)
            t += least ? pl->rows[i].least_calls : pl->rows[i].calls;
    return t;
}

static void print_text(const struct plan *pl, FILE *out)
{
    const struct wdts_conn *conn = pl->conn;
    char a[WDTS_RFC3339_LEN] = "-", b[WDTS_RFC3339_LEN] = "-", dur[64];
    if (pl->from)
        wdts_time_format_rfc3339(pl->from, a);
    if (pl->to)
        wdts_time_format_rfc3339(pl->to, b);
    double per_min = conn->rate * 60;
    char horizon[32];
    snprintf(horizon, sizeof(horizon), "%lldd", (long long)(conn->archive_horizon_s / 86400));
    fprintf(out, "first sync of connection %s: backfill [%s, %s), rate %.4g calls/min, burst %d, "
            "concurrency %d, archive read %s (horizon %s)\n", conn->id, a, b, per_min,
            conn->burst, conn->concurrency, wdts_conn_archive_read_name(conn->archive_read),
            conn->archive_horizon_s % 86400 == 0 ? horizon : "not whole days");
    fprintf(out, "%-22s %-10s %8s %8s %11s", "REPORT", "GROUP", "WINDOWS", "ARCHIVE",
            "LEAST CALLS");
    if (pl->probed)
        fprintf(out, " %7s %10s %9s", "SAMPLED", "RECORDS", "CALLS");
    fprintf(out, "  %s\n", "TIME ALONE AT THE RATE");
    for (size_t i = 0; i < pl->n; i++) {
        const struct plan_row *r = &pl->rows[i];
        if (r->blocked) {
            fprintf(out, "%-22s %-10s blocked: not synced until wdtctl connection check finds "
                    "it approved\n", r->rep->name, r->rep->group);
            continue;
        }
        fprintf(out, "%-22s %-10s %8lld %8lld %11.0f", r->rep->name, r->rep->group, r->windows,
                r->history_windows, r->least_calls);
        if (pl->probed) {
            char rec[24] = "?";
            if (r->records >= 0)
                snprintf(rec, sizeof(rec), "%.0f", r->records);
            fprintf(out, " %7d %10s %9.0f", r->samples, rec, r->calls);
        }
        sched_est_format_duration(sched_est_seconds(pl->probed ? r->calls : r->least_calls,
                                                    &pl->lim),
                                  dur, sizeof(dur));
        fprintf(out, "  %s", dur);
        if (r->probe_error[0])
            fprintf(out, "  (probe stopped: %s)", r->probe_error);
        else if (pl->probed && r->no_total > 0)
            fprintf(out, "  (%d answers without total_count: pages unknown there)",
                    r->no_total);
        fprintf(out, "\n");
    }
    double least = total_of(pl, 1), est = total_of(pl, 0);
    fprintf(out, "%-22s %-10s %8s %8s %11.0f", "TOTAL", "", "", "", least);
    if (pl->probed)
        fprintf(out, " %7s %10s %9.0f", "", "", est);
    fprintf(out, "\n\n");
    sched_est_format_duration(sched_est_seconds(least, &pl->lim), dur, sizeof(dur));
    long long archive = 0;
    for (size_t i = 0; i < pl->n; i++)
        archive += pl->rows[i].blocked ? 0 : pl->rows[i].history_windows;
    fprintf(out, "least: %.0f calls (one per window%s); at %.4g calls/min this takes %s.\n", least,
            archive ? ", one more per archive read" : "", per_min, dur);
    if (pl->probed) {
        struct sched_est_limit lim = pl->lim;
        if (pl->latency_n > 0)
            lim.latency_s = pl->latency_sum / (double)pl->latency_n;
        sched_est_format_duration(sched_est_seconds(est, &lim), dur, sizeof(dur));
        fprintf(out, "with the pages the probe saw: %.0f calls; at %.4g calls/min this takes %s",
                est, per_min, dur);
        if (lim.latency_s > 0 && sched_est_effective_rate(&lim) < conn->rate * 0.999)
            fprintf(out, " (the answers took %.0f ms: %d calls in flight allow only %.4g "
                    "calls/min)", lim.latency_s * 1000, conn->concurrency,
                    sched_est_effective_rate(&lim) * 60);
        fprintf(out, ".\n");
    } else {
        fprintf(out, "windows with more records than a page take more calls (ceil(records/page)"
                "+1 each): wdtctl plan --connection %s --probe 5 samples them.\n", conn->id);
    }
    fprintf(out, "every report shares the seller's rate; the scheduler emits them together.\n");
}

static json_t *plan_json(const struct plan *pl)
{
    const struct wdts_conn *conn = pl->conn;
    json_t *reports = json_array();
    struct sched_est_limit lim = pl->lim;
    if (pl->latency_n > 0)
        lim.latency_s = pl->latency_sum / (double)pl->latency_n;
    for (size_t i = 0; i < pl->n; i++) {
        const struct plan_row *r = &pl->rows[i];
        json_t *o = json_pack("{s:s, s:s, s:b}", "report", r->rep->name, "group", r->rep->group,
                              "blocked", r->blocked);
        if (!r->blocked) {
            json_object_set_new(o, "windows", json_integer(r->windows));
            json_object_set_new(o, "archive_windows", json_integer(r->history_windows));
            json_object_set_new(o, "least_calls", json_integer((json_int_t)r->least_calls));
            json_object_set_new(o, "least_seconds",
                                json_real(sched_est_seconds(r->least_calls, &pl->lim)));
            if (pl->probed) {
                json_object_set_new(o, "probe_samples", json_integer(r->samples));
                json_object_set_new(o, "probe_archive_samples", json_integer(r->hist_samples));
                json_object_set_new(o, "probe_without_total", json_integer(r->no_total));
                json_object_set_new(o, "probe_error",
                                    r->probe_error[0] ? json_string(r->probe_error) : json_null());
                json_object_set_new(o, "records",
                                    r->records >= 0 ? json_integer((json_int_t)llround(r->records))
                                                    : json_null());
                json_object_set_new(o, "calls", json_integer((json_int_t)llround(r->calls)));
                json_object_set_new(o, "seconds", json_real(sched_est_seconds(r->calls, &lim)));
            }
        }
        json_array_append_new(reports, o);
    }
    char a[WDTS_RFC3339_LEN] = "", b[WDTS_RFC3339_LEN] = "";
    if (pl->from)
        wdts_time_format_rfc3339(pl->from, a);
    if (pl->to)
        wdts_time_format_rfc3339(pl->to, b);
    double least = total_of(pl, 1), est = total_of(pl, 0);
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:f, s:i, s:i}", "connection", conn->id,
                          "from", a, "to", b, "backfill_s", (json_int_t)conn->backfill_s,
                          "rate_per_min", conn->rate * 60, "burst", conn->burst, "concurrency",
                          conn->concurrency);
    json_object_set_new(o, "archive_read",
                        json_string(wdts_conn_archive_read_name(conn->archive_read)));
    json_object_set_new(o, "archive_horizon_s", json_integer(conn->archive_horizon_s));
    json_object_set_new(o, "reports", reports);
    json_object_set_new(o, "least_calls", json_integer((json_int_t)least));
    json_object_set_new(o, "least_seconds", json_real(sched_est_seconds(least, &pl->lim)));
    json_object_set_new(o, "probed", json_boolean(pl->probed));
    if (pl->probed) {
        json_object_set_new(o, "latency_s", json_real(lim.latency_s));
        json_object_set_new(o, "calls", json_integer((json_int_t)llround(est)));
        json_object_set_new(o, "seconds", json_real(sched_est_seconds(est, &lim)));
    }
    return o;
}

int ctl_plan_print_for(const struct wdts_cfg *cfg, const struct wdts_catalog *cat,
                       const struct wdts_conn *conn, FILE *out)
{
    struct plan pl;
    char es[512];
    int rc = 0;
    if (plan_compute(cfg, cat, conn, NULL, wdts_time_now(), &pl, es, sizeof(es)) != 0) {
        fprintf(stderr, "wdtctl: first-sync estimate: %s\n", es);
        rc = WDTS_EXIT_FATAL;
    } else {
        fprintf(out, "\n");
        print_text(&pl, out);
    }
    free(pl.rows);
    return rc;
}

/* --probe: the gateway's record counts of n sample windows per report refine the plan.
 * @returns 0, or the exit code after printing why. */
static int plan_probe(struct ctl_env *env, struct wdts_conn *conn, struct plan *pl, int n,
                      int json)
{
    struct wdts_api_creds creds;
    char es[1024];
    int rc;
    if (conn->auth_failed) {
        fprintf(stderr, "wdtctl plan: connection %s is auth_failed: the probe cannot call "
                "the gateway until wdtctl connection check --id %s succeeds\n", conn->id,
                conn->id);
        return WDTS_EXIT_FATAL;
    }
    if ((rc = ctl_env_key(env)) != 0)
        return rc;
    memset(&creds, 0, sizeof(creds));
    wdts_err_t err = wdts_conn_open_secrets(conn, env->key, es, sizeof(es));
    if (err == WDTS_OK)
        err = wdts_conn_creds(conn, env->cfg->qimen_app_key, env->cfg->qimen_app_secret, &creds,
                              es, sizeof(es));
    if (err != WDTS_OK) {
        fprintf(stderr, "wdtctl plan: connection %s: %s\n", conn->id, es);
        wdts_api_creds_deinit(&creds);
        return err == WDTS_ERR_CONFIG ? WDTS_EXIT_CONFIG : WDTS_EXIT_FATAL;
    }
    struct ctl_limiter lim;
    ctl_limiter_init(&lim, env, conn);
    if (!json)
        fprintf(stderr, "probing %d windows per report at %s (one-row pages, at most %.4g "
                "calls/min)...\n", n, conn->gateway, conn->rate * 60);
    for (size_t i = 0; i < pl->n; i++)
        if (!pl->rows[i].blocked)
            probe_row(env->cfg, pl, &pl->rows[i], n, &creds, &lim);
    pl->probed = 1;
    wdts_api_creds_deinit(&creds);
    return 0;
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "wdtctl plan: %s%s\nRun 'wdtctl plan --help' for usage.\n", msg,
            arg ? arg : "");
    return WDTS_EXIT_USAGE;
}

int ctl_plan_main(int argc, char **argv)
{
    static const struct option opts[] = {{"connection", required_argument, NULL, 'c'},
                                         {"reports", required_argument, NULL, 'r'},
                                         {"probe", required_argument, NULL, 'p'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *cid = NULL, *reports = NULL;
    long long probe = 0;
    int json = 0, c, rc = WDTS_EXIT_OK;
    char es[4096];
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': cid = optarg; break;
        case 'r': reports = optarg; break;
        case 'p':
            if (wdts_parse_int(optarg, 1, PLAN_PROBE_MAX, &probe) != WDTS_OK)
                return usage_error("--probe must be a number of sample windows from 1 to 50, not ",
                                   optarg);
            break;
        case 'j': json = 1; break;
        case 'h': fputs(usage_plan, stdout); return WDTS_EXIT_OK;
        default: return usage_error("unknown option or missing value: ", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument: ", argv[optind]);
    if (cid == NULL)
        return usage_error("--connection is required", NULL);
    if (!wdts_job_name_valid(cid))
        return usage_error("--connection: not a connection id: ", cid);

    struct ctl_env env;
    struct wdts_conn *conn = NULL;
    unsigned char *sel = NULL;
    struct plan pl;
    memset(&pl, 0, sizeof(pl));
    if ((rc = ctl_env_init(&env, "plan", probe ? CTL_ENV_NEED_KEY : 0)) != 0)
        goto out;
    const struct wdts_cfg *cfg = env.cfg;
    if (reports) {
        sel = wdts_xcalloc(wdts_catalog_count(env.cat) + 1, 1);
        if (wdts_catalog_select(env.cat, reports, sel, es, sizeof(es)) < 0) {
            rc = usage_error("--reports: ", es);
            goto out;
        }
    }
    if ((rc = ctl_env_redis(&env, "cannot reach Redis", " (set WDT_REDIS_URL)")) != 0)
        goto out;
    if ((rc = ctl_conn_load(&env, cid, &conn)) != 0)
        goto out;
    if (plan_compute(cfg, env.cat, conn, sel, wdts_time_now(), &pl, es, sizeof(es)) != 0) {
        fprintf(stderr, "wdtctl plan: %s\n", es);
        rc = WDTS_EXIT_FATAL;
        goto out;
    }
    if (pl.n == 0) {
        fprintf(stderr, "wdtctl plan: connection %s has none of the reports selected enabled "
                "(wdtctl connection show --id %s lists them)\n", cid, cid);
        rc = WDTS_EXIT_USAGE;
        goto out;
    }
    if (probe && (rc = plan_probe(&env, conn, &pl, (int)probe, json)) != 0)
        goto out;
    if (json) {
        json_t *o = plan_json(&pl);
        char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(text);
        free(text);
        json_decref(o);
    } else {
        print_text(&pl, stdout);
    }
out:
    free(pl.rows);
    free(sel);
    wdts_conn_destroy(conn);
    ctl_env_deinit(&env);
    return rc;
}
