/* First-sync estimate arithmetic (see sched_estimate.h). */
#include "sched_estimate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double sched_est_window_calls(double total, int page_size, long long max_records)
{
    if (total <= 0 || page_size <= 0)
        return 1;
    if (max_records > 0 && total > (double)max_records) {
        /* the first call reads the total, then each half is a window of its own; records
         * are taken as spread evenly over the window */
        double half = total / 2;
        return 1 + 2 * sched_est_window_calls(half, page_size, max_records);
    }
    double pages = ceil(total / page_size);
    return pages <= 1 ? 1 : pages + 1;
}

#define EST_CHUNK 1024

wdts_err_t sched_est_windows(const struct sched_plan_params *p, const struct sched_plan_state *from,
                             int64_t now, sched_est_window_fn on_window, void *opaque,
                             long long *windows, char *errstr, size_t errstr_size)
{
    struct sched_plan_state st;
    struct sched_plan_window win[EST_CHUNK];
    long long n = 0;
    int stop = 0;
    memset(&st, 0, sizeof(st));
    if (from != NULL && from->has_cursor && !p->snapshot) {
        if (from->cursor >= from->backfill_end)
            goto done; /* the whole backfill is planned */
        st = *from;
        now = from->backfill_end + p->lag; /* planning stops at the backfill's end */
    }
    for (;;) {
        struct sched_plan_result res;
        wdts_err_t err =
            sched_plan_pass(p, &st, now, 0, win, EST_CHUNK, &res, errstr, errstr_size);
        if (err != WDTS_OK)
            return err;
        for (size_t i = 0; i < res.n && !stop; i++) {
            if (win[i].kind != WDTS_JOB_BACKFILL && win[i].kind != WDTS_JOB_SNAPSHOT)
                continue; /* the first sync is what the estimate is about */
            n++;
            if (on_window && on_window(&win[i], opaque) != 0)
                stop = 1;
        }
        if (stop || !res.throttled || res.n == 0 || p->snapshot)
            break;
        st = res.state;
    }
done:
    if (windows)
        *windows = n;
    return WDTS_OK;
}

double sched_est_calls_per_window(long long calls, long long windows)
{
    if (windows < SCHED_EST_MIN_WINDOWS_SEEN || calls < windows)
        return -1;
    return (double)calls / (double)windows;
}

double sched_est_calls_left(long long windows_left, long long windows_started,
                            long long windows_done, long long calls_expected,
                            long long calls_made)
{
    if (windows_left <= 0)
        return 0;
    if (windows_started <= 0 || calls_expected < windows_started)
        return -1;
    long long in_flight = windows_started - windows_done;
    if (in_flight < 0)
        in_flight = 0;
    if (in_flight > windows_left)
        in_flight = windows_left;
    /* too few started to price the others, unless every window left is in flight */
    if (windows_started < SCHED_EST_MIN_WINDOWS_SEEN && in_flight < windows_left)
        return -1;
    double per_window = (double)calls_expected / (double)windows_started;
    double in_flight_left = calls_expected > calls_made ? (double)(calls_expected - calls_made) : 0;
    return in_flight_left + (double)(windows_left - in_flight) * per_window;
}

double sched_est_effective_rate(const struct sched_est_limit *lim)
{
    double rate = lim->rate > 0 ? lim->rate : 1;
    if (lim->latency_s > 0 && lim->concurrency > 0) {
        double by_slots = lim->concurrency / lim->latency_s;
        if (by_slots < rate)
            rate = by_slots;
    }
    return rate;
}

double sched_est_seconds(double calls, const struct sched_est_limit *lim)
{
    if (calls <= 0)
        return 0;
    double rate = sched_est_effective_rate(lim);
    /* the bucket starts full: `burst` calls go at once when the rate is what binds */
    double free_calls = lim->burst > 1 && rate >= lim->rate ? lim->burst : 1;
    double paced = calls - free_calls;
    double s = paced > 0 ? paced / rate : 0;
    /* the last call's answer is part of the time */
    return s + (lim->latency_s > 0 ? lim->latency_s : 0);
}

void sched_est_format_duration(double seconds, char *out, size_t size)
{
    long long s = (long long)llround(seconds < 0 ? 0 : seconds);
    long long m = (s + 30) / 60;
    if (s >= 86400)
        snprintf(out, size, "about %lld d %lld h", (s + 1800) / 3600 / 24, (s + 1800) / 3600 % 24);
    else if (m >= 60)
        snprintf(out, size, "about %lld h %lld min", m / 60, m % 60);
    else if (s >= 60)
        snprintf(out, size, "about %lld min", m);
    else
        snprintf(out, size, "about %lld s", s);
}
