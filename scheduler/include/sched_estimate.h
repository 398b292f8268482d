/* The first-sync estimate (`wdtctl plan`, the end of `wdtctl connection add`): from the
 * windows the scheduler will plan (sched_plan_pass(), run here on an empty state), the
 * catalog's page sizes, the archive (history) reads and the seller's rate limit, the least
 * number of calls a first sync makes and the time it takes. Pure: no I/O, no clock.
 *
 * Calls of one window, as the worker makes them (worker/README.md, Paging): one call when
 * the window's records fit one page, else ceil(total / page_size) + 1 (the pages backwards,
 * then page 0 again); a window whose total exceeds worker.max.records.per.job is split in
 * halves after its first call. A window the connection also reads from the report's
 * archive (history) method costs at least one call more (counted by the caller).
 *
 * Time: the shared limiter lets `burst` calls go at once, then one call per 1/rate s, and
 * at most `concurrency` calls are in flight; with the answers' latency L known, no more
 * than concurrency / L calls a second can go, whatever the rate. */
#ifndef SCHED_ESTIMATE_H
#define SCHED_ESTIMATE_H

#include <stddef.h>
#include <stdint.h>

#include "sched_plan.h"
#include "wdts/err.h"

/** Calls the worker makes for a window of total records (total < 0: unknown, taken as
 *  fitting one page), splitting above max_records (0: never). */
double sched_est_window_calls(double total, int page_size, long long max_records);

/** Called once per window of a first sync, in time order; return nonzero to stop. */
typedef int (*sched_est_window_fn)(const struct sched_plan_window *w, void *opaque);

/**
 * @brief The windows the first sync of one (connection, report) reads: the scheduler's
 *        planning pass on an empty state at `now` (backfill windows of an incremental
 *        report, one snapshot window of a snapshot report), repeated while the bound on
 *        outstanding windows stops it. With st (a stored plan state), the backfill windows
 *        not planned yet: those from st->cursor to st->backfill_end.
 * @param on_window when not NULL, called for every window (the caller decides, e.g., which
 *        are read from the archive method too: the worker's wrk_job_hist_plan()).
 * @param windows the count (may be NULL).
 * @returns WDTS_OK, or WDTS_ERR_INVAL from sched_plan_pass() (bad knobs; reason in errstr).
 */
wdts_err_t sched_est_windows(const struct sched_plan_params *p, const struct sched_plan_state *st,
                             int64_t now, sched_est_window_fn on_window, void *opaque,
                             long long *windows, char *errstr, size_t errstr_size);

/** Windows a unit must have completed before its calls per window say something. */
#define SCHED_EST_MIN_WINDOWS_SEEN 5

/** @returns calls per window seen (calls / windows), or -1 (unknown) when fewer than
 *  SCHED_EST_MIN_WINDOWS_SEEN windows were. */
double sched_est_calls_per_window(long long calls, long long windows);

/**
 * @brief The calls left of a backfill from the workers' progress counters (stat hash): at
 *        its first answer a window adds the calls its pages take to calls_expected and 1
 *        to windows_started; each of its answers adds 1 to calls_made. The windows in
 *        flight still need calls_expected - calls_made; the windows not started yet are
 *        priced at calls_expected / windows_started (the started ones are a sample that
 *        does not favour cheap windows, unlike the completed ones).
 * @param windows_left windows not completed (outstanding and not planned yet).
 * @param windows_done first completions counted (the stat hash's windows).
 * @returns the calls left, or -1 (unknown) before SCHED_EST_MIN_WINDOWS_SEEN windows started
 *          (unless every window left has started: its calls left are then known).
 */
double sched_est_calls_left(long long windows_left, long long windows_started,
                            long long windows_done, long long calls_expected,
                            long long calls_made);

/** The seller's limit as the limiter applies it (wdts_conn rate, burst, concurrency). */
struct sched_est_limit {
    double rate;        /* calls per second, > 0 */
    int burst;          /* calls that go at once at the start, >= 1 */
    int concurrency;    /* calls in flight, >= 1 */
    double latency_s;   /* seconds an answer takes; 0 = unknown (the rate alone binds) */
};

/** @returns the calls per second the limit allows: min(rate, concurrency / latency). */
double sched_est_effective_rate(const struct sched_est_limit *lim);

/** @returns the seconds `calls` take under the limit (0 for calls <= 0). */
double sched_est_seconds(double calls, const struct sched_est_limit *lim);

/** Formats seconds as "about 2 h 05 min", "about 14 min", "about 40 s". */
void sched_est_format_duration(double seconds, char *out, size_t size);

#endif
