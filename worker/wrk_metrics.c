/* The worker's metrics (served on /metrics by the HTTP server): registered once, and the
 * counts that are not a single wdts_metrics_* call where they happen. */
#include "wdts/log.h"
#include "wrk_int.h"

static struct wdts_metric *must(struct wdts_metric *m)
{
    WDTS_ASSERT(m != NULL);
    return m;
}

void wrk_metrics_init(struct wrk *w)
{
    char es[256];
    static const char *const outcome[] = {"outcome"};
    static const char *const cls[] = {"class"};
    w->reg = wdts_metrics_new();
    w->m.jobs = must(wdts_metrics_counter(w->reg, "wdt_worker_jobs_total",
                                          "Jobs by outcome (done, split, dead_letter, stale, "
                                          "lock_lost, abandoned).",
                                          outcome, 1, es, sizeof(es)));
    w->m.calls = must(wdts_metrics_counter(w->reg, "wdt_worker_api_calls_total",
                                           "API calls by error class (ok, transient, "
                                           "rate_limited, clock, auth, permission, bad_request).",
                                           cls, 1, es, sizeof(es)));
    w->m.dlq = must(wdts_metrics_counter(w->reg, "wdt_worker_dead_letters_total",
                                         "Jobs dead-lettered, by error class.", cls, 1, es,
                                         sizeof(es)));
    static const char *const state[] = {"state"};
    w->m.states = must(wdts_metrics_gauge(w->reg, "wdt_worker_jobs_by_state",
                                          "Jobs in flight by what they wait for (conn, lock, "
                                          "permit, http, deliver, marker, wm, split, dead).",
                                          state, 1, es, sizeof(es)));
    static const char *const reason[] = {"reason"};
    w->m.waits = must(wdts_metrics_counter(w->reg, "wdt_worker_limiter_waits_total",
                                           "Limiter answers to wait, by reason (cooldown, "
                                           "concurrency, rate).",
                                           reason, 1, es, sizeof(es)));
    w->m.wait_s = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_ratelimit_wait_seconds_total",
                                  "Time jobs waited for the shared rate limiter, summed.", NULL, 0,
                                  es, sizeof(es))),
        NULL);
    w->m.records = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_records_total",
                                  "Record envelopes produced.", NULL, 0, es, sizeof(es))),
        NULL);
    w->m.bytes = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_record_bytes_total",
                                  "Bytes of record envelopes produced.", NULL, 0, es, sizeof(es))),
        NULL);
    w->m.queue_full_s = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_produce_blocked_seconds_total",
                                  "Time the event loop waited for room in the producer's full "
                                  "local queue (Kafka acknowledging slower than pages arrive).",
                                  NULL, 0, es, sizeof(es))),
        NULL);
    w->m.dups = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_duplicates_total",
                                  "Records seen twice within a job (dropped by pk).", NULL, 0, es,
                                  sizeof(es))),
        NULL);
    w->m.hist_records = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_history_records_total",
                                  "Records first seen in a window's history (历史) pass.", NULL,
                                  0, es, sizeof(es))),
        NULL);
    w->m.hist_skipped = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_history_skipped_total",
                                  "Recent windows finished from the normal method alone because "
                                  "the app may not call the history (历史) method.", NULL, 0, es,
                                  sizeof(es))),
        NULL);
    w->m.pages = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_pages_total", "Pages fetched.", NULL, 0,
                                  es, sizeof(es))),
        NULL);
    w->m.inflight = wdts_metrics_series(
        must(wdts_metrics_gauge(w->reg, "wdt_worker_inflight_jobs", "Jobs in flight.", NULL, 0,
                                es, sizeof(es))),
        NULL);
    w->m.loop_lag = wdts_metrics_series(
        must(wdts_metrics_gauge(w->reg, "wdt_worker_loop_lag_seconds",
                                "Most a timer of the event loop fired late in the last second.",
                                NULL, 0, es, sizeof(es))),
        NULL);
    w->m.lag = wdts_metrics_series(
        must(wdts_metrics_gauge(w->reg, "wdt_worker_consumer_lag",
                                "Jobs not yet committed by the group, all partitions.", NULL, 0,
                                es, sizeof(es))),
        NULL);
}

/* Jobs in flight by state, for /metrics (walks the list: once a second). */
void wrk_metrics_count_states(struct wrk *w)
{
    static const char *const names[] = {"new", "conn", "lock", "permit", "http", "deliver",
                                        "marker", "wm", "split", "dead", "finished"};
    double n[sizeof(names) / sizeof(names[0])] = {0};
    for (struct wrk_exec *e = w->jobs; e; e = e->next)
        if (!e->finished && (size_t)e->st < sizeof(names) / sizeof(names[0]))
            n[e->st]++;
    for (size_t i = 0; i + 1 < sizeof(names) / sizeof(names[0]); i++) {
        const char *v[] = {names[i]};
        wdts_metrics_set(wdts_metrics_series(w->m.states, v), n[i]);
    }
}

void wrk_metrics_job_outcome(struct wrk *w, const char *outcome)
{
    const char *v[] = {outcome};
    wdts_metrics_inc(wdts_metrics_series(w->m.jobs, v));
}
