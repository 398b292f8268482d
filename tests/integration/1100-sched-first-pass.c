/* After one `wdt-scheduler --once` for a new connection with every report and a 90-day
 * backfill, the jobs topic holds exactly the windows covering [now - backfill, now - lag)
 * of each incremental report (half-open, no gap, no overlap, none wider than its span,
 * all `backfill`) and the latest closed cell of each snapshot report; a second pass an
 * hour and a bit later adds exactly the time that passed (`incremental`), and a third at
 * the same time adds nothing; three hours later the trades still cover everything once
 * and the next snapshot window starts where the last one ended. (No worker runs, so the job lease
 * is set to a day: nothing is re-emitted; 1104 tests re-emission.) Every job decodes strictly, with
 * its key and attempt 1.
 */
#include "wdts_test_sched.h"

#include <stdio.h>
#include <stdlib.h>

#include "wdts/catalog.h"
#include "wdts_test.h"

/* 2026-11-26 10:17:33 +08:00: not on a minute, so the rounding of edges is exercised. */
#define T1 1795659453LL
#define LAG 300
#define STEP 60

static void check_pass(struct st_env *env, const struct st_jobs *all, int64_t emitted,
                       int64_t from_or_zero, int64_t now, enum wdts_job_kind kind)
{
    for (size_t r = 0; r < wdts_catalog_count(env->cat); r++) {
        const struct wdts_catalog_report *rep = wdts_catalog_at(env->cat, r);
        size_t n;
        struct wdts_job *v = st_select(all, "c1", rep->name, emitted, &n);
        for (size_t i = 0; i < n; i++) {
            assert_string_equal(v[i].tenant, "acme");
            assert_int_equal(v[i].attempt, 1);
        }
        if (rep->kind == WDTS_REPORT_SNAPSHOT) {
            int64_t g = sched_plan_align_down(now - LAG, rep->snapshot_interval);
            int64_t prev = sched_plan_align_down(T1 - LAG, rep->snapshot_interval);
            size_t want = (from_or_zero == 0 || g > prev) ? 1 : 0;
            if (n != want)
                fail_msg("%s: %zu snapshot windows, want %zu", rep->name, n, want);
            if (n == 1) {
                assert_int_equal(v[0].start, g - rep->snapshot_interval);
                assert_int_equal(v[0].end, g);
                assert_int_equal(v[0].kind, WDTS_JOB_SNAPSHOT);
            }
        } else {
            int64_t from =
                from_or_zero ? from_or_zero : sched_plan_align_down(now - 90LL * 86400, STEP);
            int64_t to = sched_plan_align_down(now - LAG, STEP);
            st_check_cover(v, n, from, to, rep->max_span, rep->name);
            for (size_t i = 0; i < n; i++)
                if (v[i].kind != kind)
                    fail_msg("%s: window %s is %s, want %s", rep->name, v[i].job_id,
                             wdts_job_kind_name(v[i].kind), wdts_job_kind_name(kind));
        }
        free(v);
    }
}

static void test_first_and_second_pass(void **state)
{
    (void)state;
    struct st_env env;
    struct st_jobs all;
    st_setup(&env, "4096");
    /* no worker completes anything here: keep the job lease longer than the test's hour */
    setenv("WDT_SCHEDULER_JOB_LEASE", "1d", 1);
    st_add_conn(&env, "acme", "c1", NULL, 90LL * 86400);

    st_once(T1, NULL);
    st_consume(&env, &all);
    /* 2 hourly reports × 2160 windows + 9 monthly-span reports × 4 + 3 snapshots */
    fprintf(stderr, "first pass: %zu jobs on the topic\n", all.n);
    for (size_t i = 0; i < all.n; i++) {
        assert_int_equal(all.v[i].emitted_at, T1);
        assert_int_equal(st_count_id(&all, all.v[i].job_id) == 1, 1);
    }
    check_pass(&env, &all, T1, 0, T1, WDTS_JOB_BACKFILL);
    size_t first = all.n;
    st_jobs_free(&all);

    /* an hour and 7 minutes later: only what time added */
    const int64_t t2 = T1 + 3600 + 420;
    st_once(t2, NULL);
    st_consume(&env, &all);
    assert_int_equal(all.n > first, 1);
    size_t n2 = 0;
    for (size_t i = 0; i < all.n; i++)
        n2 += all.v[i].emitted_at == t2;
    assert_int_equal(n2, all.n - first);
    fprintf(stderr, "second pass: %zu more jobs\n", n2);
    check_pass(&env, &all, t2, sched_plan_align_down(T1 - LAG, STEP), t2, WDTS_JOB_INCREMENTAL);
    /* no window is emitted twice */
    for (size_t i = 0; i < all.n; i++)
        if (st_count_id(&all, all.v[i].job_id) != 1)
            fail_msg("job %s emitted twice", all.v[i].job_id);
    size_t second = all.n;
    st_jobs_free(&all);

    /* same time again: nothing to add */
    st_once(t2, NULL);
    st_consume(&env, &all);
    assert_int_equal(all.n, second);
    st_jobs_free(&all);

    /* three hours without a pass: the missed snapshot cells are not caught up, the next
     * snapshot window starts where the last one ended (no gap for the watermark) */
    const int64_t t3 = t2 + 3 * 3600;
    st_once(t3, NULL);
    st_consume(&env, &all);
    size_t n;
    struct wdts_job *v = st_select(&all, "c1", "shops", 0, &n);
    assert_int_equal(n, 3);
    assert_int_equal(v[2].emitted_at, t3);
    assert_int_equal(v[2].start, v[1].end);
    assert_int_equal(v[2].end, sched_plan_align_down(t3 - LAG, 3600));
    assert_int_equal(v[2].end - v[2].start, 3 * 3600);
    free(v);
    v = st_select(&all, "c1", "trades", 0, &n);
    st_check_cover(v, n, sched_plan_align_down(T1 - 90LL * 86400, STEP),
                   sched_plan_align_down(t3 - LAG, STEP), 3600, "trades after three passes");
    free(v);
    st_jobs_free(&all);
    st_teardown(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_first_and_second_pass)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
