/* The scheduler lease against the real redis-server of WDT_TEST_REDIS_URL: one holder
 * at a time, answers that say who holds it and for how long, renew and release by token
 * only, takeover with a higher epoch after a holder is killed and its lease expires,
 * and processes racing for the lease never holding it together. */
#include "wdts_test.h"
#include "wdts_test_redis.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/lease.h"
#include "wdts/lock.h"
#include "wdts/redis.h"
#include "wdts/time.h"

static struct wdts_redis_params params;
static struct wdts_redis *redis;
static char es[512];

static struct wdts_lease_state acquire(const char *name, const char *holder, const char *tok,
                                       long long ttl)
{
    struct wdts_lease_state st;
    if (wdts_lease_acquire(redis, name, holder, tok, ttl, &st, es, sizeof(es)) != WDTS_OK)
        fail_msg("acquire: %s", es);
    return st;
}

static struct wdts_lease_state renew(const char *name, const char *tok, long long ttl)
{
    struct wdts_lease_state st;
    if (wdts_lease_renew(redis, name, tok, ttl, &st, es, sizeof(es)) != WDTS_OK)
        fail_msg("renew: %s", es);
    return st;
}

static void test_one_holder(void **state)
{
    (void)state;
    struct wdts_lease_state a = acquire("scheduler", "host-a/1", "tok-a", 30000);
    assert_int_equal(a.held, 1);
    assert_string_equal(a.holder, "host-a/1");
    assert_true(a.epoch > 0);
    struct wdts_lease_state b = acquire("scheduler", "host-b/2", "tok-b", 30000);
    assert_int_equal(b.held, 0);
    assert_string_equal(b.holder, "host-a/1"); /* who holds it */
    assert_true(b.ttl_ms > 0 && b.ttl_ms <= 30000);
    assert_int_equal(b.epoch, a.epoch);
    /* the holder asking again keeps its epoch */
    struct wdts_lease_state a2 = acquire("scheduler", "host-a/1", "tok-a", 30000);
    assert_int_equal(a2.held, 1);
    assert_int_equal(a2.epoch, a.epoch);
    /* renew only for the token; never takes the lease */
    assert_int_equal(renew("scheduler", "tok-b", 30000).held, 0);
    struct wdts_lease_state r = renew("scheduler", "tok-a", 45000);
    assert_int_equal(r.held, 1);
    assert_int_equal(r.ttl_ms, 45000);
    /* release only for the token; then another replica takes it at once */
    int rel = -1;
    assert_int_equal(wdts_lease_release(redis, "scheduler", "tok-b", &rel, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(rel, 0);
    assert_int_equal(wdts_lease_release(redis, "scheduler", "tok-a", &rel, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(rel, 1);
    struct wdts_lease_state gone = renew("scheduler", "tok-a", 30000);
    assert_int_equal(gone.held, 0);
    assert_string_equal(gone.holder, "");
    assert_int_equal(gone.ttl_ms, -2);
    b = acquire("scheduler", "host-b/2", "tok-b", 30000);
    assert_int_equal(b.held, 1);
    assert_true(b.epoch > a.epoch);
    /* other lease names are independent */
    assert_int_equal(acquire("compactor", "host-a/1", "tok-a", 30000).held, 1);
}

static void test_takeover_after_kill(void **state)
{
    (void)state;
    int sync[2];
    assert_int_equal(pipe(sync), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char e[256];
        struct wdts_lease_state st;
        struct wdts_redis *r = wdts_redis_new(&params, e, sizeof(e));
        long long epoch = 0;
        if (r && wdts_lease_acquire(r, "sched-kill", "doomed", "tok-doomed", 500, &st, e,
                                    sizeof(e)) == WDTS_OK &&
            st.held)
            epoch = st.epoch;
        (void)!write(sync[1], &epoch, sizeof(epoch));
        raise(SIGKILL);
        _exit(1);
    }
    close(sync[1]);
    long long doomed_epoch = 0;
    assert_int_equal(read(sync[0], &doomed_epoch, sizeof(doomed_epoch)), sizeof(doomed_epoch));
    close(sync[0]);
    assert_true(doomed_epoch > 0);
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFSIGNALED(wst));

    /* a replica polls until the dead holder's lease expires, then takes over */
    int64_t t0 = wdts_time_mono_ms();
    struct wdts_lease_state st;
    int refused = 0;
    for (;;) {
        st = acquire("sched-kill", "survivor", "tok-survivor", 10000);
        if (st.held)
            break;
        assert_string_equal(st.holder, "doomed");
        if (st.ttl_ms < 0 || st.ttl_ms > 500)
            fail_msg("holder doomed has %lld ms left", st.ttl_ms);
        refused++;
        wdts_test_sleep_ms(st.ttl_ms); /* the answer says how long to wait */
        assert_true(wdts_time_mono_ms() - t0 < 10000);
    }
    assert_true(st.epoch > doomed_epoch);
    fprintf(stderr, "took over after %lld ms (%d refusals; lease 500 ms)\n",
            (long long)(wdts_time_mono_ms() - t0), refused);
    /* the dead holder's token is worth nothing now */
    int rel = -1;
    assert_int_equal(wdts_lease_release(redis, "sched-kill", "tok-doomed", &rel, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(rel, 0);
    assert_int_equal(renew("sched-kill", "tok-survivor", 10000).held, 1);
}

static void test_processes_never_share(void **state)
{
    (void)state;
    enum { NPROC = 4, RUN_MS = 1500 };
    struct wdts_buf kb;
    wdts_buf_init(&kb);
    const char *parts[1] = {"lease-holders"};
    char holders[256];
    wdts_strlcpy(holders, wdts_lua_key(&kb, params.prefix, "test", parts, 1, ""),
                 sizeof(holders));
    wdts_buf_deinit(&kb);
    pid_t pids[NPROC];
    int counts[NPROC][2];
    for (int p = 0; p < NPROC; p++) {
        assert_int_equal(pipe(counts[p]), 0);
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] > 0) {
            close(counts[p][1]);
            continue;
        }
        close(counts[p][0]);
        char e[256], tok[WDTS_LOCK_TOKEN_SIZE], me[32];
        snprintf(me, sizeof(me), "racer-%d", p);
        struct wdts_redis *r = wdts_redis_new(&params, e, sizeof(e));
        if (r == NULL || wdts_lock_token_new(tok)) {
            fprintf(stderr, "racer %d: %s\n", p, r == NULL ? e : "no random token");
            _exit(1);
        }
        int held = 0;
        int64_t end = wdts_time_mono_ms() + RUN_MS;
        while (wdts_time_mono_ms() < end) {
            struct wdts_lease_state st;
            long long n = 0;
            int rel = 0;
            if (wdts_lease_acquire(r, "sched-race", me, tok, 5000, &st, e, sizeof(e))) {
                fprintf(stderr, "racer %d: acquire: %s\n", p, e);
                _exit(1);
            }
            if (!st.held) {
                if (strcmp(st.holder, me) == 0)
                    _exit(4); /* told someone else holds it, but named us */
                wdts_test_sleep_ms(1);
                continue;
            }
            const char *incr[2] = {"INCR", holders};
            const char *decr[2] = {"DECR", holders};
            if (wdts_redis_command_int(r, 2, incr, NULL, &n) || n != 1)
                _exit(3);
            held++;
            wdts_test_sleep_ms(2);
            if (wdts_redis_command_int(r, 2, decr, NULL, &n) || n != 0)
                _exit(3);
            if (wdts_lease_release(r, "sched-race", tok, &rel, e, sizeof(e)) || rel != 1) {
                fprintf(stderr, "racer %d: release (released %d): %s\n", p, rel, e);
                _exit(1);
            }
        }
        (void)!write(counts[p][1], &held, sizeof(held));
        wdts_redis_destroy(r);
        _exit(0);
    }
    int total = 0;
    for (int p = 0; p < NPROC; p++) {
        int held = 0, st = 0;
        ssize_t got = read(counts[p][0], &held, sizeof(held));
        close(counts[p][0]);
        assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("racer %d: status %d (1: a Redis call failed, see stderr; 3: two holders "
                     "at once; 4: refused but named as the holder)",
                     p, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        assert_int_equal(got, sizeof(held));
        total += held;
    }
    fprintf(stderr, "%d processes held the lease %d times, never together\n", NPROC, total);
    assert_true(total >= 10);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct wdts_lease_state st;
    char longname[200];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(wdts_lease_acquire(redis, "", "h", "t", 1000, &st, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "lease name"));
    assert_int_equal(wdts_lease_acquire(redis, "s", longname, "t", 1000, &st, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "holder name"));
    assert_int_equal(wdts_lease_acquire(redis, "s", "h", "t", 0, &st, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "ttl_ms"));
    assert_int_equal(wdts_lease_renew(redis, "s", "", 1000, &st, es, sizeof(es)),
                     WDTS_ERR_INVAL);
}

int main(void)
{
    wdts_test_redis_group(&params, &redis);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_holder),
        cmocka_unit_test(test_takeover_after_kill),
        cmocka_unit_test(test_processes_never_share),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, wdts_test_redis_group_setup,
                                  wdts_test_redis_group_teardown);
}
