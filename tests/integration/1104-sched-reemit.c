/* Outstanding windows: the bound (scheduler.max.outstanding = 10) holds a backfill back;
 * windows the watermark records as completed (in order, so it advances, or out of order,
 * so they wait in its done set) leave the outstanding set and make room for as many new
 * ones; a window not completed within scheduler.job.lease (15 min) is emitted again with
 * attempt + 1 and its kind kept, once per lease. */
#include "wdts_test_sched.h"

#include <stdlib.h>

#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/watermark.h"
#include "wdts_test.h"

#define T1 1795659453LL

static size_t count_emitted(const struct st_jobs *all, int64_t at)
{
    size_t k = 0;
    for (size_t i = 0; i < all->n; i++)
        k += all->v[i].emitted_at == at;
    return k;
}

static long long zcard(struct st_env *env)
{
    struct wdts_buf key;
    long long card = -1;
    wdts_buf_init(&key);
    const char *cmd[] = {"ZCARD", sched_state_key(&key, env->prefix, "out", "c1", "trades")};
    assert_int_equal(wdts_redis_command_int(env->redis, 2, cmd, NULL, &card), WDTS_OK);
    wdts_buf_deinit(&key);
    return card;
}

static void test_reemit(void **state)
{
    (void)state;
    struct st_env env;
    struct st_jobs all;
    char es[256];
    st_setup(&env, "10");
    static const char *const r1[] = {"trades", NULL};
    st_add_conn(&env, "acme", "c1", r1, 86400);

    st_once(T1, NULL);
    st_consume(&env, &all);
    assert_int_equal(all.n, 10);
    size_t n;
    struct wdts_job *first = st_select(&all, "c1", "trades", T1, &n);
    st_check_cover(first, n, sched_plan_align_down(T1 - 86400, 60), first[9].end, 3600,
                   "bounded backfill");
    assert_int_equal(zcard(&env), 10);
    st_jobs_free(&all);

    /* the bound: nothing more while 10 are outstanding */
    st_once(T1, NULL);
    st_consume(&env, &all);
    assert_int_equal(all.n, 10);
    st_jobs_free(&all);

    /* a worker completes windows 0, 1, 2 (the watermark advances) and 5 (it waits) */
    struct wdts_wm_id id = {"c1", "trades"};
    struct wdts_wm_result res;
    const int done[] = {0, 1, 2, 5};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(wdts_wm_complete(env.redis, &id, first[done[i]].start, first[done[i]].end,
                                          1, 0, &res, es, sizeof(es)),
                         WDTS_OK);
        assert_int_equal(res.status, i < 3 ? WDTS_WM_ADVANCED : WDTS_WM_PENDING);
    }

    /* a minute later: 4 leave, 4 new ones come, nothing is re-emitted yet */
    const int64_t t3 = T1 + 60;
    st_once(t3, NULL);
    st_consume(&env, &all);
    assert_int_equal(all.n, 14);
    size_t n3;
    struct wdts_job *third = st_select(&all, "c1", "trades", t3, &n3);
    assert_int_equal(n3, 4);
    st_check_cover(third, n3, first[9].end, third[3].end, 3600, "room made by completion");
    for (size_t i = 0; i < n3; i++)
        assert_int_equal(third[i].attempt, 1);
    assert_int_equal(zcard(&env), 10);
    st_jobs_free(&all);

    /* 16 minutes after that: every outstanding window is re-emitted, attempt 2 */
    const int64_t t4 = t3 + 16 * 60;
    st_once(t4, NULL);
    st_consume(&env, &all);
    size_t n4;
    struct wdts_job *fourth = st_select(&all, "c1", "trades", t4, &n4);
    assert_int_equal(n4, 10);
    size_t k = 0;
    for (size_t i = 0; i < 10; i++) {
        if (i <= 2 || i == 5)
            continue; /* completed */
        assert_string_equal(fourth[k].job_id, first[i].job_id);
        k++;
    }
    for (size_t i = 0; i < n3; i++)
        assert_string_equal(fourth[k + i].job_id, third[i].job_id);
    for (size_t i = 0; i < n4; i++) {
        assert_int_equal(fourth[i].attempt, 2);
        assert_int_equal(fourth[i].kind, WDTS_JOB_BACKFILL);
    }
    size_t total = all.n;
    st_jobs_free(&all);

    /* five minutes later: the new lease has not expired, nothing again */
    st_once(t4 + 300, NULL);
    st_consume(&env, &all);
    assert_int_equal(all.n, total);
    assert_int_equal(count_emitted(&all, t4 + 300), 0);
    st_jobs_free(&all);

    /* the counters status shows */
    struct wdts_buf key;
    wdts_buf_init(&key);
    const char *hm[] = {"HMGET", sched_state_key(&key, env.prefix, "stat", "c1", "trades"),
                        "emitted", "reemitted", "completed"};
    struct wdts_redis_reply *r = NULL;
    assert_int_equal(wdts_redis_command(env.redis, 5, hm, NULL, &r), WDTS_OK);
    assert_string_equal(wdts_redis_reply_str(wdts_redis_reply_elem(r, 0), NULL), "14");
    assert_string_equal(wdts_redis_reply_str(wdts_redis_reply_elem(r, 1), NULL), "10");
    assert_string_equal(wdts_redis_reply_str(wdts_redis_reply_elem(r, 2), NULL), "4");
    wdts_redis_reply_free(r);
    wdts_buf_deinit(&key);
    free(first);
    free(third);
    free(fourth);
    st_teardown(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reemit)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
