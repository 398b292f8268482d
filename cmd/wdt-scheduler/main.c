/* wdt-scheduler: plans the windows of every connection and emits them as jobs on
 * wdt.jobs (docs/DESIGN.md §3). Wiring only: arguments → config → logging → signals →
 * metrics/health HTTP → sched_run() (or one pass with --once). The logic is in
 * scheduler/sched*.c. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched_loop.h"
#include "wdts/cfg.h"
#include "wdts/err.h"
#include "wdts/http_server.h"
#include "wdts/log.h"
#include "wdts/secret.h"
#include "wdts/mem.h"
#include "wdts/metrics.h"
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

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

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

int main(int argc, char **argv)
{
    char perr[256];
    /* before any secret is read: no core dump, no ptrace by others */
    if (wdts_secret_protect_process(perr, sizeof(perr)) != WDTS_OK)
        fprintf(stderr, "wdt-scheduler: warning: %s\n", perr);
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
    struct sched_opts so = {0};
    const char *file = NULL;
    const char **sets = wdts_xcalloc((size_t)argc + 1, sizeof(*sets));
    size_t nsets = 0;
    int once = 0, c, rc = WDTS_EXIT_FATAL;
    struct wdts_cfg *cfg = NULL;
    struct wdts_metrics *reg = NULL;
    struct wdts_http_server *srv = NULL;
    struct sched *s = NULL;
    struct wdts_buf errs;
    char es[1024];
    wdts_buf_init(&errs);

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o': once = 1; break;
        case 'c': file = optarg; break;
        case 's':
            if (strchr(optarg, '=') == NULL) {
                rc = usage_error("--set needs KEY=VALUE, got ", optarg);
                goto out;
            }
            sets[nsets++] = optarg;
            break;
        case 'n':
            if (wdts_time_parse_rfc3339(optarg, &so.now) != WDTS_OK &&
                wdts_time_parse_beijing(optarg, &so.now) != WDTS_OK) {
                rc = usage_error("--now: not a time (Unix seconds, RFC 3339 or "
                                 "\"yyyy-MM-dd HH:mm:ss\" Beijing): ",
                                 optarg);
                goto out;
            }
            break;
        case 'x': so.crash_after_emit = 1; break;
        case 'h':
            fputs(usage_text, stdout);
            rc = WDTS_EXIT_OK;
            goto out;
        case 'H':
            wdts_cfg_help(&errs);
            fputs(wdts_buf_str(&errs), stdout);
            rc = WDTS_EXIT_OK;
            goto out;
        case 'V':
            printf("wdt-scheduler %s\n", WDTS_VERSION);
            rc = WDTS_EXIT_OK;
            goto out;
        default: rc = usage_error("unknown option", NULL); goto out;
        }
    }
    if (optind < argc) {
        rc = usage_error("unexpected argument: ", argv[optind]);
        goto out;
    }

    struct wdts_cfg_opts copts = {
        .file = file, .envp = environ, .overrides = sets, .overrides_cnt = nsets};
    if (wdts_cfg_load(&copts, &cfg, &errs) != WDTS_OK) {
        fprintf(stderr, "wdt-scheduler: invalid configuration:\n%s", wdts_buf_str(&errs));
        rc = WDTS_EXIT_CONFIG;
        goto out;
    }
    /* planning edges are whole minutes: settings that are not would be silently rounded */
    wdts_buf_reset(&errs);
    if (cfg->scheduler_lookback_ms % 60000 != 0)
        wdts_buf_printf(&errs, "scheduler.lookback: must be whole minutes (e.g. 10m), or 0s\n");
    if (cfg->scheduler_lag_ms % 1000 != 0)
        wdts_buf_printf(&errs, "scheduler.lag: must be whole seconds (e.g. 5m)\n");
    if (cfg->scheduler_backfill_ms % 60000 != 0 || cfg->scheduler_backfill_ms == 0)
        wdts_buf_printf(&errs, "scheduler.backfill: must be whole minutes and positive "
                               "(e.g. 90d)\n");
    if (cfg->scheduler_job_lease_ms < 3 * cfg->scheduler_interval_ms)
        wdts_buf_printf(&errs, "scheduler.job.lease: must be at least 3 scheduler.interval "
                               "so a job is not re-emitted while it is still being fetched\n");
    if (errs.len > 0) {
        fprintf(stderr, "wdt-scheduler: invalid configuration:\n%s", wdts_buf_str(&errs));
        rc = WDTS_EXIT_CONFIG;
        goto out;
    }
    wdts_cfg_apply_logging(cfg);
    wdts_log_set_prog("wdt-scheduler");

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    char host[200] = "localhost", holder[256];
    gethostname(host, sizeof(host) - 1);
    snprintf(holder, sizeof(holder), "%.200s/pid %d", host, (int)getpid());

    reg = wdts_metrics_new();
    s = sched_new(cfg, &so, holder, reg, es, sizeof(es));
    if (s == NULL) {
        WDTS_LOG(ERROR, "sched", "cannot start: %s", es);
        goto out;
    }
    if (once) {
        struct sched_pass_stats st;
        if (sched_pass(s, &stop_flag, &st, es, sizeof(es)) != WDTS_OK) {
            WDTS_LOG(ERROR, "sched", "pass failed: %s", es);
            goto out;
        }
        size_t total = 0;
        for (int k = 0; k < WDTS_JOB_KIND__COUNT; k++)
            total += st.emitted[k];
        if (!st.held)
            WDTS_LOG(INFO, "sched", "not planning: another scheduler holds the lease");
        else
            WDTS_LOG(INFO, "sched",
                     "pass: %zu connections, %zu reports planned, %zu skipped, %zu jobs "
                     "emitted, %zu look-back re-reads (%zu windows), %zu re-emitted, %zu "
                     "windows completed, %zu errors, %.3f s",
                     st.connections, st.units, st.skipped, total, st.rereads, st.reread_jobs,
                     st.reemitted, st.completed, st.errors, st.seconds);
        rc = WDTS_EXIT_OK;
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
    wdts_buf_deinit(&errs);
    free(sets);
    return rc;
}
