/* A scheduler that loses its lease stops planning at once: A runs (interval 1 s, lease TTL
 * 3 s); the lease is taken from under it (deleted, then acquired by another holder, as after
 * a network partition). A notices at its next renewal, says so, shows
 * wdt_sched_lease_held 0, and a connection added meanwhile is not planned. Once the other
 * holder releases the lease, A takes it back and plans the new connection. */
#include "wdts_test_sched.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdts/lease.h"
#include "wdts/lock.h"
#include "wdts/lua.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts_test.h"

#define T1 1795659453LL

static size_t count_conn(const struct st_jobs *all, const char *conn)
{
    size_t k = 0;
    for (size_t i = 0; i < all->n; i++)
        k += strcmp(all->v[i].connection, conn) == 0;
    return k;
}

static void test_lease_lost(void **state)
{
    (void)state;
    struct st_env env;
    struct st_jobs all;
    char log[256], nows[32], es[256];
    struct wdts_buf key;
    wdts_buf_init(&key);
    st_setup(&env, "4096");
    setenv("WDT_SCHEDULER_JOB_LEASE", "1d", 1);
    setenv("WDT_SCHEDULER_INTERVAL", "1s", 1);
    setenv("WDT_SCHEDULER_LEASE_TTL", "3s", 1);
    static const char *const r1[] = {"trades", NULL};
    st_add_conn(&env, "acme", "c1", r1, 86400);

    snprintf(log, sizeof(log), "/tmp/%sa.log", wdts_test_prefix());
    snprintf(nows, sizeof(nows), "%lld", T1);
    const char *a_args[] = {"--now", nows, NULL};
    pid_t a = st_spawn(log, a_args);
    if (!wdts_test_wait_file_has(log, "pass:", 60)) {
        kill(a, SIGKILL);
        fail_msg("A made no pass:\n%s", wdts_test_slurp(log));
    }

    /* the lease is taken from under A */
    const char *const parts[] = {"scheduler"};
    const char *del[] = {"DEL", wdts_lua_key(&key, env.prefix, "lease", parts, 1, "")};
    assert_int_equal(wdts_redis_command(env.redis, 2, del, NULL, NULL), WDTS_OK);
    char token[WDTS_LOCK_TOKEN_SIZE];
    assert_int_equal(wdts_lock_token_new(token), WDTS_OK);
    struct wdts_lease_state ls;
    assert_int_equal(
        wdts_lease_acquire(env.redis, "scheduler", "intruder", token, 60000, &ls, es, sizeof(es)),
        WDTS_OK);
    assert_int_equal(ls.held, 1);
    if (!wdts_test_wait_file_has(log, "lease lost", 30)) {
        kill(a, SIGKILL);
        fail_msg("A did not notice it lost the lease:\n%s", wdts_test_slurp(log));
    }

    char *alog = wdts_test_slurp(log);
    const char *p = strstr(alog, "/metrics on port ");
    assert_non_null(p);
    char url[80];
    snprintf(url, sizeof(url), "http://127.0.0.1:%ld/metrics",
             strtol(p + strlen("/metrics on port "), NULL, 10));
    free(alog);
    char *cargv[] = {"/usr/bin/curl", "-s", url, NULL};
    struct wdts_test_run run;
    assert_int_equal(wdts_test_run(cargv, NULL, 30, &run), 0);
    if (strstr(run.out, "wdt_sched_lease_held 0\n") == NULL ||
        strstr(run.out, "wdt_sched_lease_holder_info{holder=\"intruder\"} 1\n") == NULL)
        fail_msg("A's metrics do not show the lost lease:\n%s", run.out);
    wdts_test_run_free(&run);

    /* a connection added now is not planned while the other holds the lease */
    st_add_conn(&env, "beta", "c2", r1, 86400);
    sleep(3); /* three of A's intervals */
    st_consume(&env, &all);
    assert_int_equal(count_conn(&all, "c2"), 0);
    assert_true(count_conn(&all, "c1") > 0);
    st_jobs_free(&all);

    /* released: A takes it back and plans c2 */
    int released = 0;
    assert_int_equal(wdts_lease_release(env.redis, "scheduler", token, &released, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(released, 1);
    int64_t until = wdts_time_mono_ms() + 60000;
    size_t n2 = 0;
    while (n2 == 0 && wdts_time_mono_ms() < until) {
        usleep(500 * 1000);
        st_consume(&env, &all);
        n2 = count_conn(&all, "c2");
        st_jobs_free(&all);
    }
    if (n2 == 0) {
        kill(a, SIGKILL);
        fail_msg("A did not take the lease back:\n%s", wdts_test_slurp(log));
    }
    kill(a, SIGTERM);
    assert_int_equal(wdts_test_wait_exit(a, 60), 0);
    unlink(log);
    wdts_buf_deinit(&key);
    st_teardown(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_lease_lost)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
