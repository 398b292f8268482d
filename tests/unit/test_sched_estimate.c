/* The first-sync estimate's arithmetic (scheduler/sched_estimate.c): calls per window as
 * the worker pages and splits, the window count from the scheduler's own planning (equal to
 * one unbounded pass, whatever the bound on outstanding windows), archive windows, time at
 * a rate with burst, concurrency and latency, and the durations printed. */
#include "wdts_test.h"

#include <math.h>
#include <string.h>

#include "sched_estimate.h"
#include "sched_plan.h"

#define DAY 86400LL
/* 2026-11-30 21:47:23 Beijing: not on any step, hour or day edge. */
#define NOW 1796046443LL

static struct sched_plan_window big[20000];

static struct sched_plan_params params(int64_t span, int64_t backfill, int bound)
{
    struct sched_plan_params p;
    memset(&p, 0, sizeof(p));
    p.span = span;
    p.backfill = backfill;
    p.lag = SCHED_PLAN_DEFAULT_LAG;
    p.step = SCHED_PLAN_DEFAULT_STEP;
    p.min_window = SCHED_PLAN_DEFAULT_STEP;
    p.max_outstanding = bound;
    return p;
}

static void test_window_calls(void **state)
{
    (void)state;
    assert_true(sched_est_window_calls(-1, 100, 20000) == 1); /* unknown: one page */
    assert_true(sched_est_window_calls(0, 100, 20000) == 1);
    assert_true(sched_est_window_calls(1, 100, 20000) == 1);
    assert_true(sched_est_window_calls(100, 100, 20000) == 1);
    /* 2 pages: pages 1 and 0, then page 0 again */
    assert_true(sched_est_window_calls(101, 100, 20000) == 3);
    assert_true(sched_est_window_calls(250, 100, 20000) == 4);
    assert_true(sched_est_window_calls(20000, 100, 20000) == 201);
    /* 50000 > 20000: 1 call, then two halves of 25000 (each 1 + two of 12500 = 126) */
    assert_true(sched_est_window_calls(50000, 100, 20000) == 1 + 2 * (1 + 2 * 126));
    assert_true(sched_est_window_calls(50000, 100, 0) == 501); /* no split */
    assert_true(sched_est_window_calls(5, 0, 20000) == 1);
}

struct collect {
    struct sched_plan_window w[20000];
    size_t n;
    int stop_at;
};

static int on_window(const struct sched_plan_window *w, void *opaque)
{
    struct collect *c = opaque;
    c->w[c->n++] = *w;
    return c->stop_at > 0 && (int)c->n >= c->stop_at;
}

static void test_windows_match_planning(void **state)
{
    (void)state;
    static struct collect c;
    char es[256] = "";
    /* an hourly report planned 59 minutes wide over 90 days, 30 days and 1 day */
    const int64_t backfills[] = {90 * DAY, 30 * DAY, DAY, 3600};
    for (size_t b = 0; b < sizeof(backfills) / sizeof(backfills[0]); b++) {
        struct sched_plan_params p = params(3540, backfills[b], 100000);
        struct sched_plan_state st;
        struct sched_plan_result res;
        memset(&st, 0, sizeof(st));
        assert_int_equal(sched_plan_pass(&p, &st, NOW, 0, big, 20000, &res, es, sizeof(es)),
                         WDTS_OK);
        assert_false(res.throttled);
        /* the same windows through the estimate, with a bound that throttles every pass */
        for (int bound = 7; bound <= 100000; bound *= 100) {
            struct sched_plan_params q = p;
            q.max_outstanding = bound;
            long long n = -1;
            memset(&c, 0, sizeof(c));
            assert_int_equal(
                sched_est_windows(&q, NULL, NOW, on_window, &c, &n, es, sizeof(es)), WDTS_OK);
            assert_int_equal(n, (long long)res.n);
            assert_int_equal(c.n, res.n);
            for (size_t i = 0; i < res.n; i++) {
                assert_int_equal(c.w[i].start, big[i].start);
                assert_int_equal(c.w[i].end, big[i].end);
                assert_int_equal(c.w[i].kind, WDTS_JOB_BACKFILL);
            }
        }
        /* 59-minute windows on their own grid: the range over 3540 s, plus one where the
         * range's ends cut a grid cell */
        int64_t from = sched_plan_align_down(NOW - backfills[b], 60);
        int64_t to = sched_plan_align_down(NOW - SCHED_PLAN_DEFAULT_LAG, 60);
        long long least = (to - from + 3539) / 3540;
        assert_true((long long)res.n >= least && (long long)res.n <= least + 1);
    }
    struct sched_plan_params p;
    long long n = 0;
    /* a callback that stops early */
    memset(&c, 0, sizeof(c));
    c.stop_at = 3;
    p = params(3540, 90 * DAY, 4096);
    assert_int_equal(sched_est_windows(&p, NULL, NOW, on_window, &c, &n, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(c.n, 3);
    assert_int_equal(n, 3);
    /* a snapshot report: one window */
    struct sched_plan_params s = params(3540, 90 * DAY, 4096);
    s.snapshot = 1;
    s.interval = 86400;
    assert_int_equal(sched_est_windows(&s, NULL, NOW, NULL, NULL, &n, es, sizeof(es)), WDTS_OK);
    assert_int_equal(n, 1);
    /* bad knobs are the planner's error */
    struct sched_plan_params bad = params(3541, DAY, 4096);
    assert_int_equal(sched_est_windows(&bad, NULL, NOW, NULL, NULL, &n, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "span"));
}

/* What `wdtctl status` counts: the backfill windows a throttled scheduler has not planned
 * yet, from its stored state, are exactly the rest of the first pass's windows. */
static void test_windows_left_from_state(void **state)
{
    (void)state;
    static struct collect c;
    char es[256] = "";
    struct sched_plan_params p = params(3540, 30 * DAY, 100000);
    struct sched_plan_state st0, st;
    struct sched_plan_result all, part;
    memset(&st0, 0, sizeof(st0));
    assert_int_equal(sched_plan_pass(&p, &st0, NOW, 0, big, 20000, &all, es, sizeof(es)),
                     WDTS_OK);
    static struct sched_plan_window some[100];
    p.max_outstanding = 100;
    assert_int_equal(sched_plan_pass(&p, &st0, NOW, 0, some, 100, &part, es, sizeof(es)),
                     WDTS_OK);
    assert_true(part.throttled);
    st = part.state;
    long long n = -1;
    memset(&c, 0, sizeof(c));
    /* later: now has moved on, the count still stops at the backfill's end */
    assert_int_equal(
        sched_est_windows(&p, &st, NOW + 7 * DAY, on_window, &c, &n, es, sizeof(es)),
        WDTS_OK);
    assert_int_equal(n, (long long)(all.n - 100));
    for (size_t i = 0; i < c.n; i++) {
        assert_int_equal(c.w[i].start, big[100 + i].start);
        assert_int_equal(c.w[i].end, big[100 + i].end);
    }
    /* everything planned: nothing left */
    st.cursor = st.backfill_end;
    assert_int_equal(sched_est_windows(&p, &st, NOW, NULL, NULL, &n, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(n, 0);
    /* calls per window: unknown until enough windows were seen */
    assert_true(sched_est_calls_per_window(0, 0) < 0);
    assert_true(sched_est_calls_per_window(12, SCHED_EST_MIN_WINDOWS_SEEN - 1) < 0);
    assert_true(sched_est_calls_per_window(15, 5) == 3);
    assert_true(sched_est_calls_per_window(3, 5) < 0); /* fewer calls than windows: lost counts */

    /* from the progress counters: 10 windows started, expecting 40 calls, 25 made, 4 done;
     * 20 windows left, 6 of them in flight (15 calls to go), 14 not started at 4 each */
    assert_true(sched_est_calls_left(20, 10, 4, 40, 25) == 15 + 14 * 4);
    assert_true(sched_est_calls_left(0, 10, 4, 40, 25) == 0);
    assert_true(sched_est_calls_left(20, 4, 0, 16, 4) < 0); /* too few started */
    assert_true(sched_est_calls_left(20, 0, 0, 0, 0) < 0);
    /* a one-window report whose window has started: its calls left are known */
    assert_true(sched_est_calls_left(1, 1, 0, 6, 2) == 4);
    /* more made than expected (a retried window): nothing negative */
    assert_true(sched_est_calls_left(10, 10, 10, 40, 45) == 10 * 4);
    /* more in flight than left (counters of incremental windows): bounded by the left */
    assert_true(sched_est_calls_left(3, 10, 2, 40, 20) == 20);
}

static void test_seconds(void **state)
{
    (void)state;
    struct sched_est_limit lim = {2.0, 1, 1, 0};
    assert_true(sched_est_seconds(0, &lim) == 0);
    assert_true(sched_est_seconds(1, &lim) == 0);
    assert_true(fabs(sched_est_seconds(121, &lim) - 60) < 1e-9); /* 120 calls/min */
    lim.burst = 21;                                               /* 21 go at once */
    assert_true(fabs(sched_est_seconds(121, &lim) - 50) < 1e-9);
    /* answers of 0.5 s with one call in flight: 2 calls/s, the rate still binds */
    lim = (struct sched_est_limit){2.0, 1, 1, 0.5};
    assert_true(fabs(sched_est_effective_rate(&lim) - 2.0) < 1e-9);
    assert_true(fabs(sched_est_seconds(121, &lim) - 60.5) < 1e-9);
    /* answers of 1 s: 1 call/s whatever the rate; the burst does not help then */
    lim = (struct sched_est_limit){2.0, 10, 1, 1.0};
    assert_true(fabs(sched_est_effective_rate(&lim) - 1.0) < 1e-9);
    assert_true(fabs(sched_est_seconds(121, &lim) - 121) < 1e-9);
    lim.concurrency = 4; /* 4 in flight: 4 calls/s possible, the rate binds again */
    assert_true(fabs(sched_est_effective_rate(&lim) - 2.0) < 1e-9);
}

static void test_format(void **state)
{
    (void)state;
    char b[64];
    sched_est_format_duration(40, b, sizeof(b));
    assert_string_equal(b, "about 40 s");
    sched_est_format_duration(14 * 60 + 10, b, sizeof(b));
    assert_string_equal(b, "about 14 min");
    sched_est_format_duration(3600 + 5 * 60, b, sizeof(b));
    assert_string_equal(b, "about 1 h 5 min");
    sched_est_format_duration(3599.9, b, sizeof(b));
    assert_string_equal(b, "about 1 h 0 min");
    sched_est_format_duration(2 * DAY + 3 * 3600 + 100, b, sizeof(b));
    assert_string_equal(b, "about 2 d 3 h");
    sched_est_format_duration(-5, b, sizeof(b));
    assert_string_equal(b, "about 0 s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_calls),
        cmocka_unit_test(test_windows_match_planning),
        cmocka_unit_test(test_windows_left_from_state),
        cmocka_unit_test(test_seconds),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
