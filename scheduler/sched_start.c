/* What wdt-scheduler does between its configuration and its loop (see sched_loop.h): the
 * checks of the settings the scheduler alone reads, the name it holds the lease under,
 * and the single pass of --once with its one-line summary. */
#include "sched_loop.h"

#include <stdio.h>
#include <unistd.h>

#include "wdts/cfg.h"
#include "wdts/log.h"
#include "wdts/str.h"

wdts_err_t sched_cfg_check(const struct wdts_cfg *cfg, struct wdts_buf *errs)
{
    size_t before = errs->len;
    /* planning edges are whole minutes: settings that are not would be silently rounded */
    if (cfg->scheduler_lookback_ms % 60000 != 0)
        wdts_buf_printf(errs, "scheduler.lookback: must be whole minutes (e.g. 10m), or 0s\n");
    if (cfg->scheduler_lag_ms % 1000 != 0)
        wdts_buf_printf(errs, "scheduler.lag: must be whole seconds (e.g. 5m)\n");
    if (cfg->scheduler_backfill_ms % 60000 != 0 || cfg->scheduler_backfill_ms == 0)
        wdts_buf_printf(errs, "scheduler.backfill: must be whole minutes and positive "
                              "(e.g. 90d)\n");
    if (cfg->scheduler_job_lease_ms < 3 * cfg->scheduler_interval_ms)
        wdts_buf_printf(errs, "scheduler.job.lease: must be at least 3 scheduler.interval "
                              "so a job is not re-emitted while it is still being fetched\n");
    return errs->len > before ? WDTS_ERR_CONFIG : WDTS_OK;
}

void sched_holder_name(char *out, size_t size)
{
    char host[200] = "localhost";
    gethostname(host, sizeof(host) - 1);
    snprintf(out, size, "%.200s/pid %d", host, (int)getpid());
}

int sched_run_once(struct sched *s, volatile sig_atomic_t *stop)
{
    struct sched_pass_stats st;
    char es[1024];
    if (sched_pass(s, stop, &st, es, sizeof(es)) != WDTS_OK) {
        WDTS_LOG(ERROR, "sched", "pass failed: %s", es);
        return WDTS_EXIT_FATAL;
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
    return WDTS_EXIT_OK;
}
