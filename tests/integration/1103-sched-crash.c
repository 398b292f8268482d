/* A scheduler killed between emission and storage re-emits the same job ids and skips
 * nothing: --crash-after-emit exits (86) once the first batch was delivered, before the
 * plan state and the outstanding set are written. A restart plans nothing until the dead
 * holder's lease expires (4 s here); then the next pass emits the same ids again
 * (each exactly twice now, covering the backfill exactly), and a third pass adds nothing. */
#include "wdts_test_sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts_test.h"

#define T1 1795659453LL

static void test_crash(void **state)
{
    (void)state;
    struct st_env env;
    struct st_jobs all;
    struct wdts_test_run run;
    struct wdts_buf key;
    char nows[32];
    wdts_buf_init(&key);
    st_setup(&env, "4096");
    setenv("WDT_SCHEDULER_JOB_LEASE", "1d", 1);
    setenv("WDT_SCHEDULER_LEASE_TTL", "4s", 1); /* the crashed holder's lease must expire */
    static const char *const r1[] = {"trades", "goods", NULL};
    st_add_conn(&env, "acme", "c1", r1, 2 * 86400);

    snprintf(nows, sizeof(nows), "%lld", T1);
    const char *args[] = {"--once", "--now", nows, "--crash-after-emit", NULL};
    int64_t t_start = wdts_time_mono_ms(); /* the lease is taken after this */
    assert_int_equal(st_run("wdt-scheduler", &run, args), 86);
    int64_t t_crash = wdts_time_mono_ms();
    wdts_test_run_free(&run);

    /* emitted, but nothing stored */
    st_consume(&env, &all);
    size_t crashed = all.n;
    assert_true(crashed > 0);
    char *cur = NULL;
    const char *hget[] = {"HGET", sched_state_key(&key, env.prefix, "plan", "c1", "trades"),
                          "cursor"};
    assert_int_equal(wdts_redis_command_str(env.redis, 3, hget, NULL, &cur, NULL), WDTS_OK);
    assert_null(cur);
    long long card = -1;
    const char *zcard[] = {"ZCARD", sched_state_key(&key, env.prefix, "out", "c1", "trades")};
    assert_int_equal(wdts_redis_command_int(env.redis, 2, zcard, NULL, &card), WDTS_OK);
    assert_int_equal(card, 0);
    st_jobs_free(&all);

    /* the restarted scheduler waits for the dead holder's lease to expire (checked only
     * when the restart came well inside the TTL: a loaded machine may be slower)... */
    snprintf(nows, sizeof(nows), "%lld", T1);
    const char *once[] = {"--once", "--now", nows, NULL};
    if (wdts_time_mono_ms() - t_start < 2500) {
        assert_int_equal(st_run("wdt-scheduler", &run, once), 0);
        if (strstr(run.out, "not planning") == NULL && wdts_time_mono_ms() - t_start < 3800)
            fail_msg("the dead scheduler's lease did not stop the restart:\n%s", run.out);
        wdts_test_run_free(&run);
    }
    int64_t left = t_crash + 4500 - wdts_time_mono_ms();
    if (left > 0)
        usleep((useconds_t)left * 1000);
    /* ...then emits the same ids */
    st_once(T1, NULL);
    st_consume(&env, &all);
    if (all.n != 2 * crashed)
        fail_msg("%zu jobs after the restart, want twice the %zu of the crashed pass", all.n,
                 crashed);
    for (size_t i = 0; i < all.n; i++)
        if (st_count_id(&all, all.v[i].job_id) != 2)
            fail_msg("job %s appears %zu times, want 2", all.v[i].job_id,
                     st_count_id(&all, all.v[i].job_id));
    const char *reps[] = {"trades", "goods"};
    const int64_t spans[] = {3600, 30LL * 86400};
    for (int r = 0; r < 2; r++) {
        size_t n;
        struct wdts_job *v = st_select(&all, "c1", reps[r], 0, &n);
        /* keep one of each pair */
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (i == 0 || strcmp(v[i].job_id, v[k - 1].job_id) != 0)
                v[k++] = v[i];
        st_check_cover(v, k, sched_plan_align_down(T1 - 2 * 86400, 60),
                       sched_plan_align_down(T1 - 300, 60), spans[r], reps[r]);
        free(v);
    }
    /* and it stored them this time */
    assert_int_equal(wdts_redis_command_int(env.redis, 2, zcard, NULL, &card), WDTS_OK);
    assert_true(card > 0);
    st_jobs_free(&all);

    st_once(T1, NULL);
    st_consume(&env, &all);
    assert_int_equal(all.n, 2 * crashed);
    st_jobs_free(&all);
    wdts_buf_deinit(&key);
    st_teardown(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_crash)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
