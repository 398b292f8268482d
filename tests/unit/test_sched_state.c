/* The pure part of the scheduler's Redis state: which outstanding windows the watermark's
 * done set covers (runs of touching windows merge; a gap or a partial overlap does not
 * count), and the member and key forms other modules depend on. */
#include "wdts_test.h"

#include <string.h>

#include "sched_state.h"
#include "wdts/str.h"

static void test_covered(void **state)
{
    (void)state;
    struct sched_out out[] = {
        {.start = 0, .end = 10},   /* inside [0, 30) made of three touching windows */
        {.start = 10, .end = 30},  /* idem */
        {.start = 25, .end = 35},  /* crosses the end of the run */
        {.start = 40, .end = 50},  /* in the gap */
        {.start = 60, .end = 70},  /* inside [55, 80): overlapping windows */
        {.start = 100, .end = 110} /* beyond every done window */
    };
    const int64_t done[] = {0, 10, 10, 20, 20, 30, 55, 70, 65, 80, 90, 95};
    sched_out_mark_covered(out, 6, done, 6);
    const int want[] = {1, 1, 0, 0, 1, 0};
    for (size_t i = 0; i < 6; i++)
        if (out[i].completed != want[i])
            fail_msg("window %zu: completed %d, want %d", i, out[i].completed, want[i]);
}

static void test_nothing_done(void **state)
{
    (void)state;
    struct sched_out out[] = {{.start = 0, .end = 10}};
    sched_out_mark_covered(out, 1, NULL, 0);
    assert_int_equal(out[0].completed, 0);
    /* a synthetic range kept by a resync covers many planned windows */
    const int64_t synthetic[] = {1000, 100000};
    struct sched_out many[50];
    memset(many, 0, sizeof(many));
    for (int i = 0; i < 50; i++) {
        many[i].start = 1000 + 3600 * i;
        many[i].end = many[i].start + 3600;
    }
    sched_out_mark_covered(many, 50, synthetic, 1);
    for (int i = 0; i < 50; i++)
        assert_int_equal(many[i].completed, many[i].end <= 100000);
}

static void test_names(void **state)
{
    (void)state;
    char m[SCHED_MEMBER_LEN];
    sched_state_member(1795659120, 1795662720, m);
    assert_string_equal(m, "1795659120:1795662720"); /* the watermark's done-set form */
    struct wdts_buf b;
    wdts_buf_init(&b);
    assert_string_equal(sched_state_key(&b, "wdt:", "out", "c1", "trades"), "wdt:out:c1:trades");
    assert_string_equal(sched_state_key(&b, "wdt:", "plan", "c-1.x", "stock_changes"),
                        "wdt:plan:c-1.x:stock_changes");
    wdts_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_covered),
                                       cmocka_unit_test(test_nothing_done),
                                       cmocka_unit_test(test_names)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
