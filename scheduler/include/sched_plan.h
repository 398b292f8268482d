/* Planning as a pure function (docs/DESIGN.md §3): for one (connection, report), the
 * stored plan state + now + the report's limits → the windows to emit and the new
 * state. No I/O and no clock: every input is an argument, so unit tests reach
 * every edge. Storing the state (Redis) and emitting the jobs (Kafka) is the
 * caller's business: store the returned state only after the windows are emitted.
 *
 * Window edges are deterministic. Every edge is a multiple of `step` seconds on
 * the Beijing clock, and every point of the report's span grid
 *   G = { SCHED_PLAN_GRID_ORIGIN + k * span }   (origin 2012-01-01 00:00 +08:00)
 * inside a planned range is an edge, so no window crosses a grid point and none
 * is wider than the span. Two schedulers planning the same range (with `now` in
 * the same step) produce the same windows, hence the same job ids. The other
 * edges are the plan cursor, the end of the first sync (`backfill_end`) and
 * now - lag rounded down to the step.
 *
 * State machine of one (connection, report), incremental:
 *   no cursor --first pass--> cursor = end of the last window planned
 *     windows ending at or before backfill_end are `backfill`, later ones `incremental`;
 *     with lookback K, every incremental window [a, b) brings a `lookback` window [a-K, b-K).
 * Snapshot reports: one `snapshot` window [g - interval, g) per closed interval cell g.
 *
 * Look-back re-read (sched_plan_reread), for a report whose window is not the change time
 * (catalog lookback_s): every `reread_every`, the range [watermark - reread, watermark)
 * (never before the first sync's start) once more, in windows as wide as the span, as
 * kind `lookback`. They end at the watermark, so they neither move nor hold it. */
#ifndef SCHED_PLAN_H
#define SCHED_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"
#include "wdts/job.h"

struct wdts_catalog_report;

/** Origin of every grid: 2012-01-01 00:00:00 +08:00, a Beijing midnight. */
#define SCHED_PLAN_GRID_ORIGIN 1325347200LL
#define SCHED_PLAN_DEFAULT_BACKFILL (90LL * 86400)
#define SCHED_PLAN_DEFAULT_LAG 300LL
#define SCHED_PLAN_DEFAULT_STEP 60LL
/** Large enough that a 90-day first sync of an hourly report (2,161 windows) fits one pass. */
#define SCHED_PLAN_DEFAULT_MAX_OUTSTANDING 4096

/** What is stored per (connection, report) between passes. Zeroed = never planned. */
struct sched_plan_state {
    int has_cursor;        /* 0 until the first pass has planned something */
    int64_t cursor;        /* end of the last primary window planned (exclusive) */
    int64_t backfill_end;  /* end of the first sync's range: earlier windows are `backfill` */
    int has_snapshot;      /* 0 until the first snapshot was planned */
    int64_t last_snapshot; /* end of the last snapshot window planned */
    int64_t last_lookback; /* `now` of the last look-back re-read emitted; 0 = never */
};

/** The knobs of one (connection, report). Fill with sched_plan_params_init(), then adjust. */
struct sched_plan_params {
    int snapshot;        /* 1: a snapshot report (interval), 0: incremental (span) */
    int64_t span;        /* incremental: widest window, seconds; multiple of step */
    int64_t interval;    /* snapshot: seconds between snapshots; multiple of step */
    int64_t backfill;    /* first sync depth, seconds (default 90 days) */
    int64_t lag;         /* only windows ending at or before now - lag (default 300 s) */
    int64_t lookback;    /* K: re-plan each incremental window K seconds later; 0 = off */
    int64_t step;        /* edge granularity, seconds (default 60) */
    int64_t min_window;  /* an incremental tail narrower than this waits (default = step) */
    int max_outstanding; /* bound on windows outstanding (backpressure) */
    int64_t reread;       /* look-back re-read: seconds behind the watermark (catalog
                             lookback_s); 0 = off (basis modified, snapshot, or not set) */
    int64_t reread_every; /* seconds between re-reads (scheduler.lookback.interval); 0 = off */
};

/** One window to emit: [start, end), Unix seconds. */
struct sched_plan_window {
    int64_t start;
    int64_t end;
    enum wdts_job_kind kind;
};

/** The outcome of one pass. */
struct sched_plan_result {
    size_t n;                      /* windows written to the caller's array */
    struct sched_plan_state state; /* the state to store once those windows are emitted */
    int throttled;                 /* 1: the bound or the array stopped the pass early */
};

/**
 * @brief Defaults (backfill 90 d, lag 5 min, step 60 s, no lookback, bound
 *        SCHED_PLAN_DEFAULT_MAX_OUTSTANDING) plus the report's kind and interval, and a
 *        span one step under the catalog's max_span: a worker asks for a second before
 *        each window (worker/README.md), and the gateway's limit counts what is asked.
 * @owner rep: borrowed, not kept.
 */
void sched_plan_params_init(struct sched_plan_params *p, const struct wdts_catalog_report *rep);

/**
 * @brief Checks the knobs: positive span/interval/step, edges that fit the step,
 *        a bound of at least 1 (2 with lookback), and so on.
 * @returns WDTS_ERR_INVAL with the reason in errstr.
 */
wdts_err_t sched_plan_params_check(const struct sched_plan_params *p, char *errstr,
                                   size_t errstr_size);

/**
 * @brief One planning pass.
 * @param st the stored state (zeroed for a first sync); not modified.
 * @param now the current time, Unix seconds.
 * @param outstanding windows emitted and not yet completed for this (connection, report).
 * @param win,cap the caller's array; at most min(cap, max_outstanding - outstanding)
 *        windows are written, primaries in time order, each followed by its lookback.
 * @returns WDTS_OK (res filled; res->n may be 0), or WDTS_ERR_INVAL for bad knobs or
 *          a state that cannot be right (a cursor before 2000), reason in errstr.
 */
wdts_err_t sched_plan_pass(const struct sched_plan_params *p, const struct sched_plan_state *st,
                           int64_t now, int outstanding, struct sched_plan_window *win, size_t cap,
                           struct sched_plan_result *res, char *errstr, size_t errstr_size);

/** The outcome of a resync pass. */
struct sched_plan_resync_result {
    size_t n; /* windows written */
    int64_t
        end; /* the end of the range actually covered: min(to rounded up, now - lag rounded down) */
    int64_t next; /* where the next call should start; == end when the range is done */
};

/**
 * @brief Windows of kind `resync` covering [from, to) on the same grid as sched_plan
 *        (from rounded down and to rounded up to the step, every span grid point an
 *        edge), clipped so that none ends after now - lag. Call again with from = next
 *        while next < end when cap was too small. A snapshot report gets one window:
 *        the latest closed interval cell, whatever the range.
 * @returns WDTS_ERR_INVAL when from >= to, the range is out of [2000, 2100), nothing
 *          of it is closed yet, or the knobs are bad; reason in errstr.
 */
wdts_err_t sched_plan_resync(const struct sched_plan_params *p, int64_t from, int64_t to,
                             int64_t now, struct sched_plan_window *win, size_t cap,
                             struct sched_plan_resync_result *res, char *errstr,
                             size_t errstr_size);

/** What a look-back decision found. */
struct sched_plan_reread_result {
    int due;       /* 1: a re-read is due now; store state.last_lookback = now once emitted */
    size_t n;      /* windows written (0 when not due, or nothing is behind the watermark) */
    size_t needed; /* windows the range needs (n < needed: cap was too small, emit none) */
    int64_t start; /* the range re-read: [start, end) */
    int64_t end;
    int64_t next;  /* when the next re-read is due (Unix s); 0 when off */
};

/**
 * @brief The look-back decision of one (connection, report): is a re-read due, and which
 *        windows. Due when reread and reread_every are set, the first sync has a cursor, the
 *        watermark is past the sync's start, and now - last >= reread_every, where last is
 *        st->last_lookback or, before the first re-read, the end of the first sync (a re-read
 *        right after it would fetch what was just fetched). The range is
 *        [max(wm - reread rounded down to the step, origin), wm), cut from its start into
 *        windows of at most span seconds (a 7-day range of a 30-day report is one window).
 * @param wm,origin the watermark and the first sync's start (wdts_wm_state); wm <= 0: none.
 * @param win,cap the caller's array; when the range needs more than cap windows nothing is
 *        written (res->needed says how many) and the re-read is not due this time.
 * @returns WDTS_OK, or WDTS_ERR_INVAL for bad knobs (reason in errstr).
 */
wdts_err_t sched_plan_reread(const struct sched_plan_params *p, const struct sched_plan_state *st,
                             int64_t wm, int64_t origin, int64_t now,
                             struct sched_plan_window *win, size_t cap,
                             struct sched_plan_reread_result *res, char *errstr,
                             size_t errstr_size);

/** floor(t to the grid of period seconds from SCHED_PLAN_GRID_ORIGIN). */
int64_t sched_plan_align_down(int64_t t, int64_t period);

#endif
