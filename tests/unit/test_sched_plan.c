/* Planning as a pure function: first sync, later passes, the outstanding bound,
 * lag, lookback, snapshot intervals, resync, the Beijing grid, and a randomized
 * sweep that checks the invariants over many (now, cursor, span, bound) inputs. */
#include "wdts_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched_loop.h"
#include "sched_plan.h"
#include "wdts/catalog.h"
#include "wdts/cfg.h"
#include "wdts/conn.h"
#include "wdts/time.h"

#define DAY 86400LL
#define ORIGIN SCHED_PLAN_GRID_ORIGIN
/* 2026-11-30 21:47:23 Beijing: not on any step, hour or day edge. */
#define NOW 1796046443LL
#define CAP 20000

static struct sched_plan_window win[CAP];
static struct sched_plan_window win2[CAP];

static struct sched_plan_params hourly(void)
{
    struct sched_plan_params p;
    memset(&p, 0, sizeof(p));
    p.span = 3600;
    p.backfill = SCHED_PLAN_DEFAULT_BACKFILL;
    p.lag = SCHED_PLAN_DEFAULT_LAG;
    p.step = SCHED_PLAN_DEFAULT_STEP;
    p.min_window = SCHED_PLAN_DEFAULT_STEP;
    p.max_outstanding = SCHED_PLAN_DEFAULT_MAX_OUTSTANDING;
    return p;
}

static struct sched_plan_result pass(const struct sched_plan_params *p,
                                     const struct sched_plan_state *st, int64_t now,
                                     int outstanding, struct sched_plan_window *w, size_t cap)
{
    struct sched_plan_result res;
    char es[256] = "";
    wdts_err_t err = sched_plan_pass(p, st, now, outstanding, w, cap, &res, es, sizeof(es));
    if (err != WDTS_OK)
        fail_msg("sched_plan_pass: %s", es);
    return res;
}

static int64_t floor_to(int64_t t, int64_t period)
{
    return sched_plan_align_down(t, period);
}

/* The primary windows w[0..n) (no lookbacks) tile [from, to) on the grid. */
static void check_tiling(const struct sched_plan_window *w, size_t n, int64_t from, int64_t to,
                         const struct sched_plan_params *p, int64_t now)
{
    assert_true(n > 0);
    assert_int_equal(w[0].start, from);
    assert_int_equal(w[n - 1].end, to);
    for (size_t i = 0; i < n; i++) {
        assert_true(w[i].start < w[i].end);
        assert_true(w[i].end - w[i].start <= p->span);
        assert_true(w[i].end <= now - p->lag);
        assert_int_equal((w[i].start - ORIGIN) % p->step, 0);
        assert_int_equal((w[i].end - ORIGIN) % p->step, 0);
        /* never crosses a grid point */
        assert_int_equal(floor_to(w[i].start, p->span), floor_to(w[i].end - 1, p->span));
        if (i > 0)
            assert_int_equal(w[i].start, w[i - 1].end); /* no gap, no overlap */
    }
}

static void test_first_pass_every_report(void **state)
{
    (void)state;
    char es[1024] = "";
    struct wdts_catalog *cat = wdts_catalog_new(NULL, es, sizeof(es));
    if (cat == NULL)
        fail_msg("%s", es);
    for (size_t r = 0; r < wdts_catalog_count(cat); r++) {
        const struct wdts_catalog_report *rep = wdts_catalog_at(cat, r);
        struct sched_plan_params p;
        sched_plan_params_init(&p, rep);
        struct sched_plan_state st;
        memset(&st, 0, sizeof(st));
        struct sched_plan_result res = pass(&p, &st, NOW, 0, win, CAP);
        assert_false(res.throttled);
        if (rep->kind == WDTS_REPORT_SNAPSHOT) {
            int64_t g = floor_to(NOW - p.lag, rep->snapshot_interval);
            assert_int_equal(res.n, 1);
            assert_int_equal(win[0].kind, WDTS_JOB_SNAPSHOT);
            assert_int_equal(win[0].start, g - rep->snapshot_interval);
            assert_int_equal(win[0].end, g);
            assert_true(res.state.has_snapshot && res.state.last_snapshot == g);
            continue;
        }
        /* one step under the gateway's limit: a worker asks a second before the window */
        assert_int_equal(p.span, rep->max_span - p.step);
        int64_t from = floor_to(NOW - 90 * DAY, 60), to = floor_to(NOW - 300, 60);
        check_tiling(win, res.n, from, to, &p, NOW);
        for (size_t i = 0; i < res.n; i++)
            assert_int_equal(win[i].kind, WDTS_JOB_BACKFILL);
        /* exactly one window per grid cell the range touches */
        size_t cells = (size_t)((floor_to(to - 1, p.span) - floor_to(from, p.span)) / p.span) + 1;
        assert_int_equal(res.n, cells);
        assert_true(res.state.has_cursor);
        assert_int_equal(res.state.cursor, to);
        assert_int_equal(res.state.backfill_end, to);
    }
    /* trades: 90 days of 59-minute windows (the gateway's hour less the second a worker
     * asks early, rounded to the step), plus the partial ones at both ends */
    struct sched_plan_params p;
    sched_plan_params_init(&p, wdts_catalog_get(cat, "trades"));
    struct sched_plan_state st;
    memset(&st, 0, sizeof(st));
    struct sched_plan_result res = pass(&p, &st, NOW, 0, win, CAP);
    int64_t from = floor_to(NOW - 90 * DAY, 60), to = floor_to(NOW - 300, 60);
    assert_int_equal(p.span, 59 * 60);
    assert_int_equal(res.n, (floor_to(to - 1, p.span) - floor_to(from, p.span)) / p.span + 1);
    assert_true(res.n >= 90 * 24 * 60 / 59);
    assert_true(res.n <= SCHED_PLAN_DEFAULT_MAX_OUTSTANDING);
    wdts_catalog_destroy(cat);
}

static void test_second_pass_adds_only_new_time(void **state)
{
    (void)state;
    struct sched_plan_params p = hourly();
    struct sched_plan_state st;
    memset(&st, 0, sizeof(st));
    struct sched_plan_result r1 = pass(&p, &st, NOW, 0, win, CAP);
    int64_t now2 = NOW + 2 * 3600 + 17 * 60 + 5;
    struct sched_plan_result r2 = pass(&p, &r1.state, now2, 0, win2, CAP);
    check_tiling(win2, r2.n, r1.state.cursor, floor_to(now2 - 300, 60), &p, now2);
    /* 21:42 → 23:59 Beijing: [21:42,22:00) [22:00,23:00) [23:00,23:59) */
    assert_int_equal(r2.n, 3);
    for (size_t i = 0; i < r2.n; i++)
        assert_int_equal(win2[i].kind, WDTS_JOB_INCREMENTAL);
    assert_int_equal(r2.state.backfill_end, r1.state.backfill_end);
    /* the same instant again, or within the same step: nothing */
    struct sched_plan_result r3 = pass(&p, &r2.state, now2, 0, win2, CAP);
    assert_int_equal(r3.n, 0);
    assert_int_equal(r3.state.cursor, r2.state.cursor);
    r3 = pass(&p, &r2.state, floor_to(now2, 60) + 59, 0, win2, CAP);
    assert_int_equal(r3.n, 0);
    /* one step later: one one-step window */
    r3 = pass(&p, &r2.state, floor_to(now2, 60) + 60, 0, win2, CAP);
    assert_int_equal(r3.n, 1);
    assert_int_equal(win2[0].end - win2[0].start, 60);
}

static void test_beijing_grid(void **state)
{
    (void)state;
    char bj[WDTS_BJTIME_LEN];
    /* daily span: edges at Beijing midnight (16:00 UTC) */
    struct sched_plan_params p = hourly();
    p.span = DAY;
    struct sched_plan_state st;
    memset(&st, 0, sizeof(st));
    struct sched_plan_result res = pass(&p, &st, NOW, 0, win, CAP);
    assert_true(res.n > 80);
    for (size_t i = 1; i < res.n; i++) {
        wdts_time_format_beijing(win[i].start, bj);
        assert_string_equal(bj + 11, "00:00:00");
    }
    /* hourly: every inner edge on the hour */
    p.span = 3600;
    res = pass(&p, &st, NOW, 0, win, CAP);
    for (size_t i = 1; i < res.n; i++) {
        wdts_time_format_beijing(win[i].start, bj);
        assert_string_equal(bj + 14, "00:00");
    }
    /* the first window starts at now - backfill rounded down to the minute */
    wdts_time_format_beijing(win[0].start, bj);
    assert_string_equal(bj, "2026-09-01 21:47:00");
    wdts_time_format_beijing(win[res.n - 1].end, bj);
    assert_string_equal(bj, "2026-11-30 21:42:00");
    /* 30-day span: edges on the 30-day grid from 2012-01-01 00:00 +08:00 */
    p.span = 30 * DAY;
    res = pass(&p, &st, NOW, 0, win, CAP);
    for (size_t i = 1; i < res.n; i++)
        assert_int_equal((win[i].start - ORIGIN) % (30 * DAY), 0);
    /* align_down floors before the origin too */
    assert_int_equal(sched_plan_align_down(ORIGIN - 1, 60), ORIGIN - 60);
    assert_int_equal(sched_plan_align_down(ORIGIN, 60), ORIGIN);
}

static void test_deterministic_ids(void **state)
{
    (void)state;
    /* two schedulers planning in the same minute produce the same windows */
    struct sched_plan_params p = hourly();
    struct sched_plan_state st;
    memset(&st, 0, sizeof(st));
    int64_t m = floor_to(NOW, 60);
    struct sched_plan_result a = pass(&p, &st, m, 0, win, CAP);
    struct sched_plan_result b = pass(&p, &st, m + 59, 0, win2, CAP);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(win, win2, a.n * sizeof(win[0]));
    char id[WDTS_JOB_ID_LEN];
    wdts_job_id_format("c1", "trades", win[0].start, win[0].end, id, sizeof(id));
    char want[WDTS_JOB_ID_LEN];
    snprintf(want, sizeof(want), "c1:trades:%lld:%lld", (long long)win[0].start,
             (long long)win[0].end);
    assert_string_equal(id, want);
}

static void test_outstanding_bound(void **state)
{
    (void)state;
    struct sched_plan_params p = hourly();
    struct sched_plan_state st;
    memset(&st, 0, sizeof(st));
    struct sched_plan_result full = pass(&p, &st, NOW, 0, win2, CAP);

    p.max_outstanding = 100;
    struct sched_plan_result r = pass(&p, &st, NOW, 0, win, CAP);
    assert_int_equal(r.n, 100);
    assert_true(r.throttled);
    assert_int_equal(r.state.cursor, win[99].end);
    assert_int_equal(r.state.backfill_end, full.state.backfill_end);
    size_t done = r.n;
    /* all 100 still outstanding: nothing more */
    struct sched_plan_result r2 = pass(&p, &r.state, NOW + 60, 100, win + done, CAP - done);
    assert_int_equal(r2.n, 0);
    assert_true(r2.throttled);
    assert_int_equal(r2.state.cursor, r.state.cursor);
    /* more outstanding than the bound (the bound was lowered): still nothing */
    r2 = pass(&p, &r.state, NOW, 150, win + done, CAP - done);
    assert_int_equal(r2.n, 0);
    /* 40 completed: exactly 40 more, resuming at the cursor */
    struct sched_plan_state cur = r.state;
    int outstanding = 60;
    while (done < full.n) {
        r2 = pass(&p, &cur, NOW, outstanding, win + done, CAP - done);
        assert_true(r2.n <= (size_t)(p.max_outstanding - outstanding));
        assert_int_equal(win[done].start, cur.cursor);
        done += r2.n;
        cur = r2.state;
        outstanding = 60;
    }
    /* the throttled passes produced exactly the windows of one unbounded pass */
    assert_int_equal(done, full.n);
    assert_memory_equal(win, win2, full.n * sizeof(win[0]));
    assert_int_equal(cur.cursor, full.state.cursor);
    /* the caller's array is a bound too */
    r = pass(&p, &st, NOW, 0, win, 7);
    assert_int_equal(r.n, 7);
    assert_true(r.throttled);
}

static void test_lag(void **state)
{
    (void)state;
    struct sched_plan_params p = hourly();
    struct sched_plan_state st;
    memset(&st, 0, sizeof(st));
    for (int64_t lag = 0; lag <= 3 * 3600; lag += 1234) {
        p.lag = lag;
        struct sched_plan_result r = pass(&p, &st, NOW, 0, win, CAP);
        for (size_t i = 0; i < r.n; i++)
            assert_true(win[i].end <= NOW - lag);
        assert_int_equal(win[r.n - 1].end, floor_to(NOW - lag, 60));
    }
    /* with a 10-minute lag, a window closes only 10 minutes after its end */
    p.lag = 600;
    struct sched_plan_result r = pass(&p, &st, NOW, 0, win, CAP);
    int64_t cursor = r.state.cursor;
    r = pass(&p, &r.state, cursor + 600 + 59, 0, win, CAP);
    assert_int_equal(r.n, 0);
    struct sched_plan_state s2 = r.state;
    r = pass(&p, &s2, cursor + 600 + 60, 0, win, CAP);
    assert_int_equal(r.n, 1);
    assert_int_equal(win[0].end, cursor + 60);
}

static void test_lookback(void **state)
{
    (void)state;
    struct sched_plan_params p = hourly();
    p.lookback = 30 * 60;
    struct sched_plan_state st;
    memset(&st, 0, sizeof(st));
    struct sched_plan_result r1 = pass(&p, &st, NOW, 0, win, CAP);
    for (size_t i = 0; i < r1.n; i++)
        assert_int_equal(win[i].kind, WDTS_JOB_BACKFILL); /* no lookback during the first sync */
    int64_t now2 = NOW + 3 * 3600;
    struct sched_plan_result r2 = pass(&p, &r1.state, now2, 0, win, CAP);
    assert_int_equal(r2.n % 2, 0);
    for (size_t i = 0; i < r2.n; i += 2) {
        assert_int_equal(win[i].kind, WDTS_JOB_INCREMENTAL);
        assert_int_equal(win[i + 1].kind, WDTS_JOB_LOOKBACK);
        assert_int_equal(win[i + 1].start, win[i].start - p.lookback);
        assert_int_equal(win[i + 1].end, win[i].end - p.lookback);
        assert_true(win[i + 1].end <= now2 - p.lag);
    }
    /* a bound of 3 fits one pair only; the next primary waits with its lookback */
    p.max_outstanding = 3;
    struct sched_plan_result r3 = pass(&p, &r1.state, now2, 0, win, CAP);
    assert_int_equal(r3.n, 2);
    assert_true(r3.throttled);
    r3 = pass(&p, &r1.state, now2, 2, win, CAP);
    assert_int_equal(r3.n, 0);
    /* lookback needs room for a pair */
    p.max_outstanding = 1;
    char es[256];
    struct sched_plan_result res;
    assert_int_equal(sched_plan_pass(&p, &r1.state, now2, 0, win, CAP, &res, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "with lookback"));
}

static struct sched_plan_reread_result reread(const struct sched_plan_params *p,
                                              const struct sched_plan_state *st, int64_t wm,
                                              int64_t origin, int64_t now, size_t cap)
{
    struct sched_plan_reread_result res;
    char es[256] = "";
    if (sched_plan_reread(p, st, wm, origin, now, win, cap, &res, es, sizeof(es)) != WDTS_OK)
        fail_msg("sched_plan_reread: %s", es);
    return res;
}

/* The look-back re-read: when it is due, which range, how many windows, and that a
 * decision repeated with the same inputs (a restart before its state was stored) is the
 * same windows, hence the same job ids. */
static void test_reread_when_and_what(void **state)
{
    (void)state;
    const int64_t H = 3600;
    struct sched_plan_params p = hourly();
    p.span = 30 * DAY - 60; /* a 30-day report, planned a minute narrower */
    p.reread = 7 * DAY;
    p.reread_every = 6 * H;
    struct sched_plan_state st;
    memset(&st, 0, sizeof(st));
    const int64_t origin = floor_to(NOW - 90 * DAY, 60), bf_end = floor_to(NOW - 300, 60);

    /* never planned: nothing, whatever the watermark */
    struct sched_plan_reread_result r = reread(&p, &st, bf_end, origin, NOW + DAY, CAP);
    assert_false(r.due);
    assert_int_equal(r.n, 0);

    /* the clock starts at the end of the first sync: not due before an interval after it */
    st.has_cursor = 1;
    st.cursor = bf_end;
    st.backfill_end = bf_end;
    r = reread(&p, &st, bf_end, origin, bf_end + 6 * H - 1, CAP);
    assert_false(r.due);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.next, bf_end + 6 * H);
    r = reread(&p, &st, bf_end, origin, bf_end + 6 * H, CAP);
    assert_true(r.due);
    /* 7 days of a 30-day report: one window, ending at the watermark */
    assert_int_equal(r.n, 1);
    assert_int_equal(win[0].kind, WDTS_JOB_LOOKBACK);
    assert_int_equal(win[0].start, bf_end - 7 * DAY);
    assert_int_equal(win[0].end, bf_end);
    assert_int_equal(r.start, bf_end - 7 * DAY);
    assert_int_equal(r.end, bf_end);
    assert_int_equal(r.next, bf_end + 12 * H);

    /* the same inputs again (a restart before the state was stored): the same window */
    struct sched_plan_window first = win[0];
    r = reread(&p, &st, bf_end, origin, bf_end + 6 * H, CAP);
    assert_true(r.due);
    assert_int_equal(win[0].start, first.start);
    assert_int_equal(win[0].end, first.end);

    /* after a re-read at T, the next is due at T + interval, behind the watermark of then */
    const int64_t t = bf_end + 6 * H;
    st.last_lookback = t;
    const int64_t wm2 = bf_end + 9 * H;
    assert_false(reread(&p, &st, wm2, origin, t + 6 * H - 60, CAP).due);
    r = reread(&p, &st, wm2, origin, t + 6 * H, CAP);
    assert_true(r.due);
    assert_int_equal(r.n, 1);
    assert_int_equal(win[0].start, wm2 - 7 * DAY);
    assert_int_equal(win[0].end, wm2);
    /* a scheduler stopped for days re-reads once, not once per missed interval */
    r = reread(&p, &st, wm2, origin, t + 5 * DAY, CAP);
    assert_true(r.due);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.next, t + 5 * DAY + 6 * H);

    /* never before the first sync's start */
    const int64_t young = bf_end - 2 * DAY;
    r = reread(&p, &st, bf_end, young, t + 6 * H, CAP);
    assert_true(r.due);
    assert_int_equal(r.n, 1);
    assert_int_equal(win[0].start, young);
    /* a watermark not past the start: nothing to read again, not due */
    r = reread(&p, &st, young, young, t + 6 * H, CAP);
    assert_false(r.due);
    assert_int_equal(r.n, 0);
    r = reread(&p, &st, 0, young, t + 6 * H, CAP);
    assert_false(r.due);

    /* a watermark off the step (a split half completed last): the start is on the step,
     * the end is the watermark itself */
    r = reread(&p, &st, bf_end + 17, origin, t + 6 * H, CAP);
    assert_true(r.due);
    assert_int_equal(win[0].start % 60, ORIGIN % 60);
    assert_int_equal(win[0].start, floor_to(bf_end + 17 - 7 * DAY, 60));
    assert_int_equal(win[0].end, bf_end + 17);

    /* off: no depth, no interval, or a snapshot report */
    struct sched_plan_params q = p;
    q.reread = 0;
    assert_false(reread(&q, &st, wm2, origin, t + DAY, CAP).due);
    q = p;
    q.reread_every = 0;
    assert_false(reread(&q, &st, wm2, origin, t + DAY, CAP).due);
    assert_int_equal(reread(&q, &st, wm2, origin, t + DAY, CAP).next, 0);
}

static void test_reread_hourly_windows(void **state)
{
    (void)state;
    struct sched_plan_params p = hourly();
    p.span = 3600 - 60;
    p.reread = 7 * DAY;
    p.reread_every = 6 * 3600;
    struct sched_plan_state st;
    memset(&st, 0, sizeof(st));
    st.has_cursor = 1;
    st.backfill_end = st.cursor = floor_to(NOW - 300, 60);
    const int64_t wm = st.backfill_end, origin = wm - 90 * DAY;
    struct sched_plan_reread_result r = reread(&p, &st, wm, origin, wm + 7 * 3600, CAP);
    assert_true(r.due);
    /* 7 days in 59-minute windows: ceil(10080 / 59) = 171, tiling the range */
    assert_int_equal(r.n, 171);
    assert_int_equal(r.needed, 171);
    assert_int_equal(win[0].start, wm - 7 * DAY);
    for (size_t i = 0; i < r.n; i++) {
        assert_int_equal(win[i].kind, WDTS_JOB_LOOKBACK);
        assert_true(win[i].end - win[i].start <= p.span);
        assert_true(win[i].end > win[i].start);
        if (i > 0)
            assert_int_equal(win[i].start, win[i - 1].end);
    }
    assert_int_equal(win[r.n - 1].end, wm);
    /* the caller's array too small: nothing written, not due (it sizes it from reread/span) */
    r = reread(&p, &st, wm, origin, wm + 7 * 3600, 170);
    assert_false(r.due);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.needed, 171);
    assert_true(r.needed <= (size_t)(p.reread / p.span) + 2);

    /* bad knobs are refused with the reason */
    char es[256];
    struct sched_plan_reread_result res;
    p.reread = 7 * DAY + 30;
    assert_int_equal(sched_plan_reread(&p, &st, wm, origin, wm + DAY, win, CAP, &res, es,
                                       sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "look-back"));
}

/* Which reports get a look-back, from the catalog, the configuration and the connection. */
static void test_reread_params(void **state)
{
    (void)state;
    char es[1024];
#define REP(name, basis, extra)                                                                    \
    "{\"name\":\"" name "\",\"description\":\"d\",\"kind\":\"incremental\","                       \
    "\"method\":\"sales.TradeQuery.queryWithDetail\","                                             \
    "\"qimen_method\":\"wdt.sales.tradequery.querywithdetail\",\"time\":{\"start\":\"start_time\","  \
    "\"end\":\"end_time\",\"basis\":\"" basis "\",\"meaning\":\"m\"},\"max_span_s\":3600,"          \
    "\"page_size\":100,\"max_page_size\":100,\"list_key\":\"order\",\"pk\":[\"trade_id\"],"         \
    "\"modified\":{\"field\":\"modified\",\"format\":\"datetime\"},\"group\":\"sales\"" extra "}"
    const char *json = "[" REP("by_pay", "paid", ",\"lookback_s\":604800") ","
        REP("by_pay_none", "paid", "") "," REP("by_mod", "modified", ",\"lookback_s\":600") "]";
#undef REP
    struct wdts_catalog *cat = wdts_catalog_new_from_json(json, strlen(json), "test", es, sizeof(es));
    if (cat == NULL)
        fail_msg("catalog: %s", es);
    struct wdts_cfg *cfg = NULL;
    struct wdts_cfg_opts opts = {0};
    assert_int_equal(wdts_cfg_load(&opts, &cfg, NULL), WDTS_OK);
    struct wdts_conn *conn = wdts_conn_new();
    for (size_t i = 0; i < wdts_catalog_count(cat); i++)
        wdts_conn_add_report(conn, wdts_catalog_at(cat, i)->name);
    struct sched_plan_params p;

    sched_params_for(cfg, conn, wdts_catalog_get(cat, "by_pay"), &p);
    assert_int_equal(p.reread, 7 * DAY);
    assert_int_equal(p.reread_every, 6 * 3600); /* scheduler.lookback.interval's default */
    sched_params_for(cfg, conn, wdts_catalog_get(cat, "by_pay_none"), &p);
    assert_int_equal(p.reread, 0);
    assert_int_equal(p.reread_every, 0);
    /* a report windowed by its change time never re-reads, whatever its entry says */
    sched_params_for(cfg, conn, wdts_catalog_get(cat, "by_mod"), &p);
    assert_int_equal(p.reread, 0);

    /* the connection's own depth wins over the catalog's, 0 included */
    wdts_conn_report_get(conn, "by_pay")->has_lookback = 1;
    wdts_conn_report_get(conn, "by_pay")->lookback_s = 0;
    sched_params_for(cfg, conn, wdts_catalog_get(cat, "by_pay"), &p);
    assert_int_equal(p.reread, 0);
    assert_int_equal(p.reread_every, 0);
    wdts_conn_report_get(conn, "by_pay_none")->has_lookback = 1;
    wdts_conn_report_get(conn, "by_pay_none")->lookback_s = 3 * DAY;
    sched_params_for(cfg, conn, wdts_catalog_get(cat, "by_pay_none"), &p);
    assert_int_equal(p.reread, 3 * DAY);
    assert_int_equal(p.reread_every, 6 * 3600);

    /* scheduler.lookback.interval 0s: off everywhere */
    cfg->scheduler_lookback_interval_ms = 0;
    sched_params_for(cfg, conn, wdts_catalog_get(cat, "by_pay_none"), &p);
    assert_int_equal(p.reread_every, 0);
    struct sched_plan_state st = {.has_cursor = 1, .cursor = NOW, .backfill_end = NOW - DAY};
    struct sched_plan_reread_result r;
    assert_int_equal(sched_plan_reread(&p, &st, NOW, NOW - 30 * DAY, NOW + 30 * DAY, win, CAP,
                                       &r, es, sizeof(es)),
                     WDTS_OK);
    assert_false(r.due);

    wdts_conn_destroy(conn);
    wdts_cfg_destroy(cfg);
    wdts_catalog_destroy(cat);
}

static void test_min_window(void **state)
{
    (void)state;
    struct sched_plan_params p = hourly();
    p.min_window = 15 * 60;
    struct sched_plan_state st;
    memset(&st, 0, sizeof(st));
    int64_t now = NOW + 10 * 60; /* 21:57:23 Beijing */
    /* the first sync covers up to now - lag whatever min_window says */
    struct sched_plan_result r = pass(&p, &st, now, 0, win, CAP);
    int64_t c = r.state.cursor;
    assert_int_equal(c, floor_to(now - 300, 60)); /* 21:52 */
    /* 10 minutes later (to = 22:02): [21:52, 22:00) goes out although it is 8
     * minutes, because it ends on the grid; the 2-minute tail waits */
    struct sched_plan_result r2 = pass(&p, &r.state, now + 10 * 60, 0, win, CAP);
    assert_int_equal(r2.n, 1);
    assert_int_equal(win[0].start, c);
    assert_int_equal(win[0].end, c + 8 * 60);
    assert_int_equal(r2.state.cursor, c + 8 * 60);
    /* 10 more minutes (to = 22:12): a 12-minute tail still waits */
    struct sched_plan_result r3 = pass(&p, &r2.state, now + 20 * 60, 0, win, CAP);
    assert_int_equal(r3.n, 0);
    assert_int_equal(r3.state.cursor, r2.state.cursor);
    /* 3 more minutes (to = 22:15): the tail reaches 15 minutes and goes out */
    r3 = pass(&p, &r2.state, now + 23 * 60, 0, win, CAP);
    assert_int_equal(r3.n, 1);
    assert_int_equal(win[0].end - win[0].start, 15 * 60);
}

static void test_snapshot_interval(void **state)
{
    (void)state;
    struct sched_plan_params p = hourly();
    p.snapshot = 1;
    p.interval = 3600;
    struct sched_plan_state st;
    memset(&st, 0, sizeof(st));
    struct sched_plan_result r = pass(&p, &st, NOW, 0, win, CAP);
    assert_int_equal(r.n, 1);
    int64_t g = floor_to(NOW - 300, 3600);
    assert_int_equal(win[0].start, g - 3600);
    assert_int_equal(win[0].end, g);
    assert_int_equal(win[0].kind, WDTS_JOB_SNAPSHOT);
    assert_false(r.state.has_cursor);
    /* the same cell: nothing */
    struct sched_plan_result r2 = pass(&p, &r.state, g + 3600 + 299, 0, win, CAP);
    assert_int_equal(r2.n, 0);
    /* the next cell, once closed by the lag */
    r2 = pass(&p, &r.state, g + 3600 + 300, 0, win, CAP);
    assert_int_equal(r2.n, 1);
    assert_int_equal(win[0].start, g);
    /* after five hours down: only the latest cell, no catching up */
    r2 = pass(&p, &r.state, g + 5 * 3600 + 400, 0, win, CAP);
    assert_int_equal(r2.n, 1);
    assert_int_equal(win[0].end, g + 5 * 3600);
    assert_int_equal(r2.state.last_snapshot, g + 5 * 3600);
    /* full: throttled, state unchanged */
    r2 = pass(&p, &r.state, g + 5 * 3600 + 400, (int)p.max_outstanding, win, CAP);
    assert_int_equal(r2.n, 0);
    assert_true(r2.throttled);
    assert_int_equal(r2.state.last_snapshot, g);
    /* daily snapshots fall on Beijing midnight */
    p.interval = DAY;
    r = pass(&p, &st, NOW, 0, win, CAP);
    char bj[WDTS_BJTIME_LEN];
    wdts_time_format_beijing(win[0].end, bj);
    assert_string_equal(bj, "2026-11-30 00:00:00");
}

static void test_resync(void **state)
{
    (void)state;
    struct sched_plan_params p = hourly();
    char es[256] = "";
    struct sched_plan_resync_result rr;
    int64_t t1 = NOW - 10 * DAY + 17, t2 = NOW - 8 * DAY + 3601;
    assert_int_equal(sched_plan_resync(&p, t1, t2, NOW, win, CAP, &rr, es, sizeof(es)), WDTS_OK);
    int64_t want_end = floor_to(t2, 60) + 60;
    check_tiling(win, rr.n, floor_to(t1, 60), want_end, &p, NOW);
    assert_int_equal(rr.end, want_end);
    assert_int_equal(rr.next, want_end);
    for (size_t i = 0; i < rr.n; i++)
        assert_int_equal(win[i].kind, WDTS_JOB_RESYNC);
    /* the windows of a resync are the grid's: inner edges equal the plan's edges */
    for (size_t i = 1; i < rr.n; i++)
        assert_int_equal((win[i].start - ORIGIN) % 3600, 0);

    /* in chunks: the same windows */
    size_t got = 0;
    int64_t from = t1;
    for (;;) {
        struct sched_plan_resync_result part;
        assert_int_equal(sched_plan_resync(&p, from, t2, NOW, win2 + got, 5, &part, es, sizeof(es)),
                         WDTS_OK);
        got += part.n;
        if (part.next >= part.end)
            break;
        from = part.next;
    }
    assert_int_equal(got, rr.n);
    assert_memory_equal(win, win2, got * sizeof(win[0]));

    /* a range reaching into the future is clipped at now - lag */
    assert_int_equal(
        sched_plan_resync(&p, NOW - 7200, NOW + 7200, NOW, win, CAP, &rr, es, sizeof(es)), WDTS_OK);
    assert_int_equal(rr.end, floor_to(NOW - 300, 60));
    assert_int_equal(win[rr.n - 1].end, rr.end);

    /* rejections */
    assert_int_equal(sched_plan_resync(&p, t2, t1, NOW, win, CAP, &rr, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "from < to"));
    assert_int_equal(sched_plan_resync(&p, NOW, NOW + 3600, NOW, win, CAP, &rr, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "nothing of the range is closed"));
    assert_int_equal(sched_plan_resync(&p, 5, 10, NOW, win, CAP, &rr, es, sizeof(es)),
                     WDTS_ERR_INVAL);

    /* random ranges and spans: the windows tile the rounded, clipped range on the grid */
    unsigned seed = 4242;
    for (int i = 0; i < 2000; i++) {
        p = hourly();
        p.span = 60 * (1 + (int64_t)(rand_r(&seed) % (30 * 24 * 60)));
        int64_t a = NOW - (int64_t)(rand_r(&seed) % (unsigned)(200 * DAY));
        int64_t b = a + 1 + (int64_t)(rand_r(&seed) % (unsigned)(60 * DAY));
        if (a >= floor_to(NOW - p.lag, 60))
            continue;
        assert_int_equal(sched_plan_resync(&p, a, b, NOW, win, CAP, &rr, es, sizeof(es)), WDTS_OK);
        int64_t e = floor_to(b, 60) + (floor_to(b, 60) < b ? 60 : 0);
        if (e > floor_to(NOW - p.lag, 60))
            e = floor_to(NOW - p.lag, 60);
        assert_int_equal(rr.end, e);
        assert_int_equal(rr.next, e);
        check_tiling(win, rr.n, floor_to(a, 60), e, &p, NOW);
    }

    /* a snapshot report: one window, the latest closed cell */
    p = hourly();
    p.snapshot = 1;
    p.interval = 3600;
    assert_int_equal(sched_plan_resync(&p, t1, t2, NOW, win, CAP, &rr, es, sizeof(es)), WDTS_OK);
    assert_int_equal(rr.n, 1);
    assert_int_equal(win[0].kind, WDTS_JOB_RESYNC);
    assert_int_equal(win[0].end, floor_to(NOW - 300, 3600));
}

static void test_bad_params_and_state(void **state)
{
    (void)state;
    char es[256];
    struct sched_plan_result res;
    struct sched_plan_state st;
    memset(&st, 0, sizeof(st));
    struct sched_plan_params p = hourly();
    p.span = 0;
    assert_int_equal(sched_plan_pass(&p, &st, NOW, 0, win, CAP, &res, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "span 0"));
    p = hourly();
    p.span = 3630;
    assert_int_equal(sched_plan_pass(&p, &st, NOW, 0, win, CAP, &res, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    p = hourly();
    p.max_outstanding = 0;
    assert_int_equal(sched_plan_pass(&p, &st, NOW, 0, win, CAP, &res, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "bound"));
    p = hourly();
    p.lag = -1;
    assert_int_equal(sched_plan_pass(&p, &st, NOW, 0, win, CAP, &res, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    p = hourly();
    p.step = 7;
    assert_int_equal(sched_plan_pass(&p, &st, NOW, 0, win, CAP, &res, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    p = hourly();
    p.lookback = 90;
    assert_int_equal(sched_plan_pass(&p, &st, NOW, 0, win, CAP, &res, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    p = hourly();
    p.snapshot = 1;
    p.interval = 0;
    assert_int_equal(sched_plan_pass(&p, &st, NOW, 0, win, CAP, &res, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "snapshot interval"));
    p = hourly();
    st.has_cursor = 1;
    st.cursor = 12345;
    assert_int_equal(sched_plan_pass(&p, &st, NOW, 0, win, CAP, &res, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "reset"));
    /* a cursor in the future (another clock) plans nothing and keeps the cursor */
    st.cursor = NOW + 3600;
    st.backfill_end = NOW - 3600;
    assert_int_equal(sched_plan_pass(&p, &st, NOW, 0, win, CAP, &res, es, sizeof(es)), WDTS_OK);
    assert_int_equal(res.n, 0);
    assert_int_equal(res.state.cursor, NOW + 3600);
    memset(&st, 0, sizeof(st));
    assert_int_equal(sched_plan_pass(&p, &st, 1000, 0, win, CAP, &res, es, sizeof(es)),
                     WDTS_ERR_INVAL);
}

/* Random multiples of 60 between lo and hi minutes. */
static int64_t rnd_minutes(unsigned *seed, int64_t lo, int64_t hi)
{
    return 60 * (lo + (int64_t)(rand_r(seed) % (unsigned)(hi - lo + 1)));
}

static void test_property_sweep(void **state)
{
    (void)state;
    static const int64_t spans[] = {60, 300, 900, 3600, 7200, 6 * 3600, DAY, 7 * DAY, 30 * DAY};
    unsigned seed = 20261129;
    size_t total_windows = 0;
    for (int iter = 0; iter < 400; iter++) {
        struct sched_plan_params p = hourly();
        p.span = (rand_r(&seed) % 4 == 0)
                     ? rnd_minutes(&seed, 1, 3 * 24 * 60)
                     : spans[rand_r(&seed) % (sizeof(spans) / sizeof(spans[0]))];
        p.backfill = rnd_minutes(&seed, 1, 120 * 24 * 60);
        p.lag = (rand_r(&seed) % 3 == 0) ? 0 : (int64_t)(rand_r(&seed) % 7200);
        p.lookback = (rand_r(&seed) % 3 == 0) ? rnd_minutes(&seed, 1, 600) : 0;
        p.max_outstanding = 2 + (int)(rand_r(&seed) % 300);
        p.min_window = 60 * (1 + (int64_t)(rand_r(&seed) % (unsigned)(p.span / 60)));
        int64_t now =
            ORIGIN + 5 * 365 * DAY + (int64_t)(rand_r(&seed) % (unsigned)(10 * 365 * DAY));
        int64_t start = floor_to(now - p.backfill, 60);
        struct sched_plan_state st;
        memset(&st, 0, sizeof(st));
        int64_t cursor = start, bf_end = 0;
        int outstanding = 0;
        int resumed = rand_r(&seed) % 2;
        if (resumed) {
            /* a state stored by an earlier pass: any cursor (even ahead of now - lag), a
             * first sync that may or may not be finished, windows already outstanding */
            st.has_cursor = 1;
            st.cursor = floor_to(now + 3600 - (int64_t)(rand_r(&seed) % (unsigned)(40 * DAY)), 60);
            st.backfill_end =
                floor_to(st.cursor + (int64_t)(rand_r(&seed) % (unsigned)(20 * DAY)) - 10 * DAY, 60);
            cursor = st.cursor;
            bf_end = st.backfill_end;
            outstanding = (int)(rand_r(&seed) % (unsigned)(p.max_outstanding + 5));
        }
        for (int passno = 0; passno < 30; passno++) {
            struct sched_plan_result r = pass(&p, &st, now, outstanding, win, CAP);
            int64_t to = floor_to(now - p.lag, 60);
            if (outstanding >= p.max_outstanding)
                assert_int_equal(r.n, 0);
            if (passno == 0 && !resumed) {
                bf_end = to;
                assert_int_equal(r.state.backfill_end, to);
            }
            assert_true(outstanding >= p.max_outstanding ||
                        r.n <= (size_t)(p.max_outstanding - outstanding));
            assert_true(r.state.has_cursor);
            assert_int_equal(r.state.backfill_end, bf_end);
            for (size_t i = 0; i < r.n; i++) {
                const struct sched_plan_window *w = &win[i];
                assert_true(w->start < w->end);
                assert_true(w->end - w->start <= p.span);
                assert_true(w->end <= now - p.lag);
                if (w->kind == WDTS_JOB_LOOKBACK) {
                    assert_true(i > 0 && win[i - 1].kind == WDTS_JOB_INCREMENTAL);
                    assert_int_equal(w->start, win[i - 1].start - p.lookback);
                    assert_int_equal(w->end, win[i - 1].end - p.lookback);
                    continue;
                }
                assert_int_equal(w->start, cursor); /* contiguous across passes */
                assert_int_equal((w->start - ORIGIN) % 60, 0);
                assert_int_equal((w->end - ORIGIN) % 60, 0);
                assert_int_equal(floor_to(w->start, p.span), floor_to(w->end - 1, p.span));
                assert_false(w->start < bf_end && w->end > bf_end); /* never straddles */
                assert_int_equal(w->kind,
                                 w->end <= bf_end ? WDTS_JOB_BACKFILL : WDTS_JOB_INCREMENTAL);
                if (p.lookback > 0 && w->kind == WDTS_JOB_INCREMENTAL)
                    assert_true(i + 1 < r.n && win[i + 1].kind == WDTS_JOB_LOOKBACK);
                cursor = w->end;
            }
            assert_int_equal(r.state.cursor, cursor);
            /* a pass that was not throttled leaves at most a short tail */
            if (!r.throttled && cursor < to) {
                assert_true(cursor >= bf_end);
                assert_true(to - cursor < p.min_window);
                assert_true(floor_to(cursor, p.span) == floor_to(to - 1, p.span));
            }
            if (r.throttled)
                assert_true(outstanding >= p.max_outstanding ||
                            r.n + 2 > (size_t)(p.max_outstanding - outstanding));
            total_windows += r.n;
            /* some windows complete, time moves on */
            outstanding += (int)r.n;
            outstanding -= (int)(rand_r(&seed) % (unsigned)(outstanding + 1));
            now += (int64_t)(rand_r(&seed) % 5000);
            st = r.state;
        }
    }
    assert_true(total_windows > 10000);
    print_message("property sweep: %zu windows checked\n", total_windows);
}

static void test_plan_cost(void **state)
{
    (void)state;
    /* 10,000 connections x 14 reports, steady state (one pass adds a few minutes). */
    char es[1024] = "";
    struct wdts_catalog *cat = wdts_catalog_new(NULL, es, sizeof(es));
    assert_non_null(cat);
    size_t nrep = wdts_catalog_count(cat);
    struct sched_plan_params *ps = calloc(nrep, sizeof(*ps));
    for (size_t r = 0; r < nrep; r++)
        sched_plan_params_init(&ps[r], wdts_catalog_at(cat, r));
    struct sched_plan_state st;
    memset(&st, 0, sizeof(st));
    st.has_cursor = 1;
    st.backfill_end = NOW - 30 * DAY;
    size_t windows = 0;
    clock_t c0 = clock();
    for (int conn = 0; conn < 10000; conn++) {
        for (size_t r = 0; r < nrep; r++) {
            st.cursor = floor_to(NOW - 300 - 60 * (conn % 7 + 1), 60);
            struct sched_plan_result res = pass(&ps[r], &st, NOW, conn % 50, win, CAP);
            windows += res.n;
        }
    }
    double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    print_message("plan cost: 10000 connections x %zu reports, %zu windows, %.3f s CPU\n", nrep,
                  windows, cpu);
    assert_true(windows >= 10000 * (nrep - 3));
    free(ps);
    wdts_catalog_destroy(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_pass_every_report),
        cmocka_unit_test(test_second_pass_adds_only_new_time),
        cmocka_unit_test(test_beijing_grid),
        cmocka_unit_test(test_deterministic_ids),
        cmocka_unit_test(test_outstanding_bound),
        cmocka_unit_test(test_lag),
        cmocka_unit_test(test_lookback),
        cmocka_unit_test(test_reread_when_and_what),
        cmocka_unit_test(test_reread_hourly_windows),
        cmocka_unit_test(test_reread_params),
        cmocka_unit_test(test_min_window),
        cmocka_unit_test(test_snapshot_interval),
        cmocka_unit_test(test_resync),
        cmocka_unit_test(test_bad_params_and_state),
        cmocka_unit_test(test_property_sweep),
        cmocka_unit_test(test_plan_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
