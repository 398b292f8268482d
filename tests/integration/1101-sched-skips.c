/* Blocked reports and auth_failed connections are not planned: c1 has trades (ok) and
 * refunds (blocked), c2 is auth_failed. One pass emits trades of c1 only; once c1's
 * refunds is unblocked and c2 is ok again (what `wdtctl connection check` does), the next
 * pass plans them from their own first sync. */
#include "wdts_test_sched.h"

#include <stdlib.h>
#include <string.h>

#include "wdts/conn.h"
#include "wdts_test.h"

#define T1 1795659453LL

static void test_skips(void **state)
{
    (void)state;
    struct st_env env;
    struct st_jobs all;
    char es[512];
    st_setup(&env, "4096");
    setenv("WDT_SCHEDULER_JOB_LEASE", "1d", 1);
    static const char *const r1[] = {"trades", "refunds", NULL};
    static const char *const r2[] = {"trades", "shops", NULL};
    st_add_conn(&env, "acme", "c1", r1, 86400);
    st_add_conn(&env, "beta", "c2", r2, 86400);
    assert_int_equal(wdts_conn_mark_report(env.redis, env.prefix, "c1", "refunds", "权限不足",
                                           "add the interface and have it approved", T1, es,
                                           sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_conn_mark_auth(env.redis, env.prefix, "c2",
                                         "wrong secret: enter it again", T1, es, sizeof(es)),
                     WDTS_OK);

    st_once(T1, NULL);
    st_consume(&env, &all);
    size_t n;
    struct wdts_job *v = st_select(&all, "c1", "trades", 0, &n);
    st_check_cover(v, n, sched_plan_align_down(T1 - 86400, 60), sched_plan_align_down(T1 - 300, 60),
                   3600, "c1 trades");
    free(v);
    for (size_t i = 0; i < all.n; i++)
        if (strcmp(all.v[i].connection, "c2") == 0 || strcmp(all.v[i].report, "refunds") == 0)
            fail_msg("%s was planned, but it is blocked or auth_failed", all.v[i].job_id);
    size_t first = all.n;
    st_jobs_free(&all);

    /* back in service */
    assert_int_equal(wdts_conn_mark_report(env.redis, env.prefix, "c1", "refunds", NULL, NULL, T1,
                                           es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_conn_mark_auth(env.redis, env.prefix, "c2", NULL, T1, es, sizeof(es)),
                     WDTS_OK);
    const int64_t t2 = T1 + 120;
    st_once(t2, NULL);
    st_consume(&env, &all);
    v = st_select(&all, "c1", "refunds", t2, &n);
    st_check_cover(v, n, sched_plan_align_down(t2 - 86400, 60), sched_plan_align_down(t2 - 300, 60),
                   30LL * 86400, "c1 refunds");
    free(v);
    v = st_select(&all, "c2", "trades", t2, &n);
    st_check_cover(v, n, sched_plan_align_down(t2 - 86400, 60), sched_plan_align_down(t2 - 300, 60),
                   3600, "c2 trades");
    free(v);
    v = st_select(&all, "c2", "shops", t2, &n);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].kind, WDTS_JOB_SNAPSHOT);
    free(v);
    assert_int_equal(all.n > first, 1);
    st_jobs_free(&all);
    st_teardown(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_skips)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
