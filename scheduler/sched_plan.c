/* Pure window planning (see sched_plan.h). No I/O, no clock, no allocation: the
 * caller passes now, the stored state and an array for the windows. Every edge
 * comes from a fixed grid so that planning is reproducible; the property test in
 * tests/unit/test_sched_plan.c sweeps random inputs against the invariants. */
#include "sched_plan.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wdts/catalog.h"
#include "wdts/str.h"

int64_t sched_plan_align_down(int64_t t, int64_t period)
{
    int64_t d = t - SCHED_PLAN_GRID_ORIGIN;
    int64_t q = d / period;
    if (d % period != 0 && d < 0)
        q--; /* floor, not truncation, for times before the origin */
    return SCHED_PLAN_GRID_ORIGIN + q * period;
}

/* The first grid point strictly after t. */
static int64_t grid_next(int64_t t, int64_t period)
{
    return sched_plan_align_down(t, period) + period;
}

void sched_plan_params_init(struct sched_plan_params *p, const struct wdts_catalog_report *rep)
{
    memset(p, 0, sizeof(*p));
    p->snapshot = rep->kind == WDTS_REPORT_SNAPSHOT;
    p->step = SCHED_PLAN_DEFAULT_STEP;
    /* A worker asks for its window's start a second early (the gateway's bounds may be
     * exclusive), and the gateway's span limit counts what is asked: one step less. */
    p->span = rep->max_span > p->step ? rep->max_span - p->step : rep->max_span;
    p->interval = rep->snapshot_interval;
    p->backfill = SCHED_PLAN_DEFAULT_BACKFILL;
    p->lag = SCHED_PLAN_DEFAULT_LAG;
    p->lookback = 0;
    p->min_window = SCHED_PLAN_DEFAULT_STEP;
    p->max_outstanding = SCHED_PLAN_DEFAULT_MAX_OUTSTANDING;
}

wdts_err_t sched_plan_params_check(const struct sched_plan_params *p, char *errstr,
                                   size_t errstr_size)
{
    const int64_t year = 366LL * 86400;
    if (p->step <= 0 || p->step > 86400 || 86400 % p->step != 0) {
        wdts_errstr_set(errstr, errstr_size, "plan: step %lld s must divide a day", (long long)p->step);
        return WDTS_ERR_INVAL;
    }
    if (p->snapshot) {
        if (p->interval <= 0 || p->interval % p->step != 0 || p->interval > year) {
            wdts_errstr_set(
                errstr, errstr_size,
                "plan: snapshot interval %lld s must be a positive multiple of the step (%lld s)",
                (long long)p->interval, (long long)p->step);
            return WDTS_ERR_INVAL;
        }
    } else if (p->span <= 0 || p->span % p->step != 0 || p->span > year) {
        wdts_errstr_set(
            errstr, errstr_size,
            "plan: span %lld s must be a positive multiple of the step (%lld s), at most a year",
            (long long)p->span, (long long)p->step);
        return WDTS_ERR_INVAL;
    }
    if (p->backfill <= 0 || p->backfill > 10 * year) {
        wdts_errstr_set(errstr, errstr_size, "plan: backfill %lld s must be positive and at most 10 years",
                (long long)p->backfill);
        return WDTS_ERR_INVAL;
    }
    if (p->lag < 0 || p->lag > year) {
        wdts_errstr_set(errstr, errstr_size, "plan: lag %lld s must be in [0, 1 year]", (long long)p->lag);
        return WDTS_ERR_INVAL;
    }
    if (p->lookback < 0 || p->lookback % p->step != 0 || p->lookback > year) {
        wdts_errstr_set(errstr, errstr_size,
                "plan: lookback %lld s must be 0 (off) or a positive multiple of the step (%lld s)",
                (long long)p->lookback, (long long)p->step);
        return WDTS_ERR_INVAL;
    }
    if (p->reread < 0 || p->reread % p->step != 0 || p->reread > year || p->reread_every < 0 ||
        p->reread_every > year) {
        wdts_errstr_set(errstr, errstr_size,
                        "plan: look-back %lld s must be 0 (off) or a positive multiple of the "
                        "step (%lld s), its interval %lld s at most a year",
                        (long long)p->reread, (long long)p->step, (long long)p->reread_every);
        return WDTS_ERR_INVAL;
    }
    if (!p->snapshot && (p->min_window < 1 || p->min_window > p->span)) {
        wdts_errstr_set(errstr, errstr_size, "plan: min_window %lld s must be in [1, span %lld s]",
                (long long)p->min_window, (long long)p->span);
        return WDTS_ERR_INVAL;
    }
    if (p->max_outstanding < (p->lookback > 0 ? 2 : 1)) {
        wdts_errstr_set(errstr, errstr_size,
                "plan: the bound on outstanding windows (%d) must be at least %d%s",
                p->max_outstanding, p->lookback > 0 ? 2 : 1,
                p->lookback > 0 ? " with lookback (a window and its lookback go together)" : "");
        return WDTS_ERR_INVAL;
    }
    return WDTS_OK;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* One snapshot per closed interval cell; a missed cell is not caught up, since
 * only the current list can be fetched. */
static void plan_snapshot(const struct sched_plan_params *p, int64_t now, size_t room,
                          struct sched_plan_window *win, struct sched_plan_result *res)
{
    int64_t g = sched_plan_align_down(now - p->lag, p->interval);
    if (res->state.has_snapshot && res->state.last_snapshot >= g)
        return;
    if (room == 0) {
        res->throttled = 1;
        return;
    }
    win[0] = (struct sched_plan_window){g - p->interval, g, WDTS_JOB_SNAPSHOT};
    res->n = 1;
    res->state.has_snapshot = 1;
    res->state.last_snapshot = g;
}

wdts_err_t sched_plan_pass(const struct sched_plan_params *p, const struct sched_plan_state *st,
                           int64_t now, int outstanding, struct sched_plan_window *win, size_t cap,
                           struct sched_plan_result *res, char *errstr, size_t errstr_size)
{
    memset(res, 0, sizeof(*res));
    res->state = *st;
    wdts_err_t err = sched_plan_params_check(p, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    if (now - p->backfill < WDTS_JOB_MIN_TIME || now >= WDTS_JOB_MAX_TIME) {
        wdts_errstr_set(errstr, errstr_size, "plan: now %lld minus the backfill is out of [2000, 2100)",
                (long long)now);
        return WDTS_ERR_INVAL;
    }
    if (st->has_cursor && (st->cursor < WDTS_JOB_MIN_TIME || st->cursor >= WDTS_JOB_MAX_TIME ||
                           st->backfill_end < WDTS_JOB_MIN_TIME)) {
        wdts_errstr_set(errstr, errstr_size,
                "plan: stored cursor %lld / backfill end %lld is not a time in [2000, 2100); "
                "reset the report's plan state",
                (long long)st->cursor, (long long)st->backfill_end);
        return WDTS_ERR_INVAL;
    }
    size_t room = 0;
    if (outstanding < p->max_outstanding)
        room = (size_t)(p->max_outstanding - (outstanding < 0 ? 0 : outstanding));
    if (cap < room)
        room = cap;

    if (p->snapshot) {
        plan_snapshot(p, now, room, win, res);
        return WDTS_OK;
    }

    int64_t to = sched_plan_align_down(now - p->lag, p->step);
    int64_t a;
    if (!st->has_cursor) {
        a = sched_plan_align_down(now - p->backfill, p->step);
        res->state.has_cursor = 1;
        res->state.backfill_end = to;
    } else {
        a = st->cursor;
    }
    int64_t bf_end = res->state.backfill_end;
    size_t n = 0;
    while (a < to) {
        int64_t b = min64(grid_next(a, p->span), to);
        /* the end of the first sync is an edge, so where a throttled backfill
         * stopped never changes the windows */
        if (a < bf_end && bf_end < b)
            b = bf_end;
        enum wdts_job_kind kind = b <= bf_end ? WDTS_JOB_BACKFILL : WDTS_JOB_INCREMENTAL;
        /* a short incremental tail waits for more time rather than becoming a tiny job */
        if (kind == WDTS_JOB_INCREMENTAL && b == to && b - a < p->min_window &&
            b != sched_plan_align_down(b, p->span))
            break;
        size_t cost = (kind == WDTS_JOB_INCREMENTAL && p->lookback > 0) ? 2 : 1;
        if (room - n < cost) {
            res->throttled = 1;
            break;
        }
        win[n++] = (struct sched_plan_window){a, b, kind};
        if (cost == 2)
            win[n++] =
                (struct sched_plan_window){a - p->lookback, b - p->lookback, WDTS_JOB_LOOKBACK};
        a = b;
    }
    res->state.cursor = a;
    res->n = n;
    return WDTS_OK;
}

wdts_err_t sched_plan_resync(const struct sched_plan_params *p, int64_t from, int64_t to,
                             int64_t now, struct sched_plan_window *win, size_t cap,
                             struct sched_plan_resync_result *res, char *errstr, size_t errstr_size)
{
    memset(res, 0, sizeof(*res));
    wdts_err_t err = sched_plan_params_check(p, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    if (from < WDTS_JOB_MIN_TIME || to > WDTS_JOB_MAX_TIME || from >= to) {
        wdts_errstr_set(errstr, errstr_size,
                "resync: the range must satisfy 2000 <= from < to <= 2100 (got %lld .. %lld)",
                (long long)from, (long long)to);
        return WDTS_ERR_INVAL;
    }
    int64_t closed = sched_plan_align_down(now - p->lag, p->step);
    if (p->snapshot) {
        int64_t g = sched_plan_align_down(now - p->lag, p->interval);
        res->end = res->next = g;
        if (cap > 0) {
            win[0] = (struct sched_plan_window){g - p->interval, g, WDTS_JOB_RESYNC};
            res->n = 1;
        } else {
            res->next = g - p->interval;
        }
        return WDTS_OK;
    }
    int64_t a = sched_plan_align_down(from, p->step);
    int64_t end = sched_plan_align_down(to, p->step);
    if (end < to)
        end += p->step;
    if (end > closed)
        end = closed;
    if (a >= end) {
        wdts_errstr_set(errstr, errstr_size,
                "resync: nothing of the range is closed yet (windows end at or before now - lag); "
                "try again later or choose an earlier range");
        return WDTS_ERR_INVAL;
    }
    size_t n = 0;
    while (a < end && n < cap) {
        int64_t b = min64(grid_next(a, p->span), end);
        win[n++] = (struct sched_plan_window){a, b, WDTS_JOB_RESYNC};
        a = b;
    }
    res->n = n;
    res->end = end;
    res->next = a;
    return WDTS_OK;
}

wdts_err_t sched_plan_reread(const struct sched_plan_params *p, const struct sched_plan_state *st,
                             int64_t wm, int64_t origin, int64_t now,
                             struct sched_plan_window *win, size_t cap,
                             struct sched_plan_reread_result *res, char *errstr,
                             size_t errstr_size)
{
    memset(res, 0, sizeof(*res));
    wdts_err_t err = sched_plan_params_check(p, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    if (p->snapshot || p->reread <= 0 || p->reread_every <= 0 || !st->has_cursor)
        return WDTS_OK;
    int64_t last = st->last_lookback > 0 ? st->last_lookback : st->backfill_end;
    res->next = last + p->reread_every;
    if (now < res->next || wm <= 0 || wm <= origin)
        return WDTS_OK;
    int64_t a = sched_plan_align_down(wm - p->reread, p->step);
    if (a < origin)
        a = origin;
    if (a < WDTS_JOB_MIN_TIME)
        a = WDTS_JOB_MIN_TIME;
    if (a >= wm)
        return WDTS_OK;
    res->start = a;
    res->end = wm;
    res->needed = (size_t)((wm - a + p->span - 1) / p->span);
    if (res->needed > cap)
        return WDTS_OK;
    res->due = 1;
    res->next = now + p->reread_every;
    while (a < wm) {
        int64_t b = min64(a + p->span, wm);
        win[res->n++] = (struct sched_plan_window){a, b, WDTS_JOB_LOOKBACK};
        a = b;
    }
    return WDTS_OK;
}
