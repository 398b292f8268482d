/* Window locks and fencing tokens against the real redis-server of WDT_TEST_REDIS_URL:
 * exclusive acquire, retry with the same token, renew and release by token only,
 * expiry; a holder whose lock expired and was taken by another holder has its
 * wm_complete refused as stale while the new holder's goes through; fencing tokens
 * keep growing when their counter is lost; the scripts work again after SCRIPT FLUSH (on
 * a redis-server of that test's own: a flush of the shared one would fail other tests'
 * scripts mid-call); and processes racing for one lock never hold it together. */
#include "wdts_test.h"
#include "wdts_test_redis.h"

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/lock.h"
#include "wdts/redis.h"
#include "wdts/time.h"
#include "wdts/watermark.h"

static struct wdts_redis_params params;
static struct wdts_redis *redis;
static char es[512];

static struct wdts_lock_grant acquire(const struct wdts_wm_id *id, long long s, long long e,
                                      const char *tok, long long ttl)
{
    struct wdts_lock_grant g;
    if (wdts_lock_acquire(redis, id, s, e, tok, ttl, &g, es, sizeof(es)) != WDTS_OK)
        fail_msg("acquire: %s", es);
    return g;
}

static void test_tokens(void **state)
{
    (void)state;
    char a[WDTS_LOCK_TOKEN_SIZE], b[WDTS_LOCK_TOKEN_SIZE];
    assert_int_equal(wdts_lock_token_new(a), WDTS_OK);
    assert_int_equal(wdts_lock_token_new(b), WDTS_OK);
    assert_int_equal(strlen(a), 32);
    for (int i = 0; i < 32; i++)
        assert_true(isxdigit((unsigned char)a[i]) && !isupper((unsigned char)a[i]));
    assert_string_not_equal(a, b);
}

static void test_exclusive_renew_release(void **state)
{
    (void)state;
    struct wdts_wm_id id = {"conn-lock", "stockouts"};
    struct wdts_lock_grant g1 = acquire(&id, 0, 3600, "tok-a", 30000);
    assert_int_equal(g1.acquired, 1);
    assert_int_equal(g1.ttl_ms, 30000);
    struct wdts_lock_grant g2 = acquire(&id, 0, 3600, "tok-b", 30000);
    assert_int_equal(g2.acquired, 0);
    assert_true(g2.ttl_ms > 0 && g2.ttl_ms <= 30000);
    /* another window of the same report is independent */
    struct wdts_lock_grant other = acquire(&id, 3600, 7200, "tok-b", 30000);
    assert_int_equal(other.acquired, 1);
    assert_true(other.fence > g1.fence);
    /* a retry by the holder keeps its fencing token */
    struct wdts_lock_grant again = acquire(&id, 0, 3600, "tok-a", 30000);
    assert_int_equal(again.acquired, 1);
    assert_int_equal(again.fence, g1.fence);

    struct wdts_lock_renewal rn;
    assert_int_equal(wdts_lock_renew(redis, &id, 0, 3600, "tok-b", 60000, &rn, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(rn.held, 0);
    assert_true(rn.ttl_ms > 0);
    assert_int_equal(wdts_lock_renew(redis, &id, 0, 3600, "tok-a", 60000, &rn, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(rn.held, 1);
    assert_int_equal(rn.ttl_ms, 60000);

    int rel = -1;
    assert_int_equal(wdts_lock_release(redis, &id, 0, 3600, "tok-b", &rel, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(rel, 0);
    assert_int_equal(acquire(&id, 0, 3600, "tok-b", 30000).acquired, 0);
    assert_int_equal(wdts_lock_release(redis, &id, 0, 3600, "tok-a", &rel, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(rel, 1);
    assert_int_equal(wdts_lock_renew(redis, &id, 0, 3600, "tok-a", 60000, &rn, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(rn.held, 0);
    assert_int_equal(rn.ttl_ms, -2); /* free */
    struct wdts_lock_grant g3 = acquire(&id, 0, 3600, "tok-b", 30000);
    assert_int_equal(g3.acquired, 1);
    assert_true(g3.fence > other.fence);
}

static void test_stale_holder_is_fenced(void **state)
{
    (void)state;
    struct wdts_wm_id id = {"conn-fence", "trades"};
    struct wdts_wm_state st;
    struct wdts_wm_result r;
    assert_int_equal(wdts_wm_init(redis, &id, 1000, &st, es, sizeof(es)), WDTS_OK);

    /* A takes the window with a short lock, then pauses past its expiry */
    struct wdts_lock_grant a = acquire(&id, 1000, 2000, "holder-a", 200);
    assert_int_equal(a.acquired, 1);
    wdts_test_sleep_ms(400);
    /* B (a redelivered copy of the job) takes it over */
    struct wdts_lock_grant b = acquire(&id, 1000, 2000, "holder-b", 30000);
    assert_int_equal(b.acquired, 1);
    assert_true(b.fence > a.fence);
    /* A wakes up: its renew says the lock is lost, and its completion is refused */
    struct wdts_lock_renewal rn;
    assert_int_equal(wdts_lock_renew(redis, &id, 1000, 2000, "holder-a", 30000, &rn, es,
                                     sizeof(es)),
                     WDTS_OK);
    assert_int_equal(rn.held, 0);
    assert_int_equal(wdts_wm_complete(redis, &id, 1000, 2000, a.fence, 0, &r, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(r.status, WDTS_WM_STALE);
    assert_int_equal(r.wm, 1000);
    assert_int_equal(wdts_wm_get(redis, &id, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.wm, 1000);
    assert_int_equal(st.pending, 0);
    /* B's completion advances the watermark */
    assert_int_equal(wdts_wm_complete(redis, &id, 1000, 2000, b.fence, 0, &r, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(r.status, WDTS_WM_ADVANCED);
    assert_int_equal(r.wm, 2000);

    /* a lock that expired but that nobody took: its holder's data still counts */
    struct wdts_lock_grant c = acquire(&id, 2000, 3000, "holder-c", 100);
    wdts_test_sleep_ms(250);
    assert_int_equal(wdts_wm_complete(redis, &id, 2000, 3000, c.fence, 0, &r, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(r.status, WDTS_WM_ADVANCED);
    assert_int_equal(r.wm, 3000);

    /* a stale holder of a window not yet contiguous is refused too */
    struct wdts_lock_grant d1 = acquire(&id, 4000, 5000, "holder-d1", 30000);
    int rel = 0;
    assert_int_equal(wdts_lock_release(redis, &id, 4000, 5000, "holder-d1", &rel, es, sizeof(es)),
                     WDTS_OK);
    struct wdts_lock_grant d2 = acquire(&id, 4000, 5000, "holder-d2", 30000);
    assert_int_equal(wdts_wm_complete(redis, &id, 4000, 5000, d1.fence, 0, &r, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(r.status, WDTS_WM_STALE);
    assert_int_equal(r.pending, 0);
    assert_int_equal(wdts_wm_complete(redis, &id, 4000, 5000, d2.fence, 0, &r, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(r.status, WDTS_WM_PENDING);
}

static void test_fence_survives_lost_counter(void **state)
{
    (void)state;
    struct wdts_wm_id id = {"conn-lost", "refunds"};
    struct wdts_lock_grant g1 = acquire(&id, 0, 60, "t1", 30000);
    assert_int_equal(g1.acquired, 1);
    /* the state is lost (a Redis without persistence restarted) */
    struct wdts_buf kb;
    wdts_buf_init(&kb);
    for (int k = WDTS_WM_KEY_STATE; k <= WDTS_WM_KEY_FIDX; k++)
        assert_int_equal(wdts_redis_commandl(redis, NULL, "DEL",
                                             wdts_wm_key(&kb, params.prefix, &id, k), NULL),
                         WDTS_OK);
    assert_int_equal(wdts_redis_commandl(redis, NULL, "DEL",
                                         wdts_wm_lock_key(&kb, params.prefix, &id, 0, 60), NULL),
                     WDTS_OK);
    wdts_buf_deinit(&kb);
    struct wdts_lock_grant g2 = acquire(&id, 0, 60, "t2", 30000);
    assert_int_equal(g2.acquired, 1);
    assert_true(g2.fence > g1.fence); /* drawn from the Redis clock, so still above */
}

static void test_after_script_flush(void **state)
{
    (void)state;
    char dir[] = "/tmp/wdts-0802-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct wdts_test_redis_server srv = {.port = wdts_test_unused_port()};
    struct wdts_redis_params own = params;
    own.port = srv.port;
    own.password[0] = own.user[0] = '\0';
    own.db = 0;
    assert_int_equal(wdts_test_redis_server_start(&srv, dir, &own, NULL), 0);
    struct wdts_redis *r = wdts_redis_new(&own, es, sizeof(es));
    if (r == NULL)
        fail_msg("connect to the test's own server: %s", es);

    struct wdts_wm_id id = {"conn-flush", "goods"};
    struct wdts_lock_grant g;
    assert_int_equal(wdts_redis_commandl(r, NULL, "SCRIPT", "FLUSH", NULL), WDTS_OK);
    if (wdts_lock_acquire(r, &id, 0, 60, "t", 30000, &g, es, sizeof(es)) != WDTS_OK)
        fail_msg("acquire after SCRIPT FLUSH: %s", es);
    assert_int_equal(g.acquired, 1);
    int rel = 0;
    assert_int_equal(wdts_redis_commandl(r, NULL, "SCRIPT", "FLUSH", NULL), WDTS_OK);
    assert_int_equal(wdts_lock_release(r, &id, 0, 60, "t", &rel, es, sizeof(es)), WDTS_OK);
    assert_int_equal(rel, 1);

    wdts_redis_destroy(r);
    wdts_test_redis_server_kill(&srv, SIGTERM);
    wdts_test_rmtree(dir);
}

/* Processes race for one window lock; each holder marks itself in a counter while it
 * holds the lock. The counter never exceeds 1 and the fences of all grants differ. */
static void test_processes_never_share(void **state)
{
    (void)state;
    enum { NPROC = 4, RUN_MS = 1500 };
    struct wdts_wm_id id = {"conn-race", "trades"};
    struct wdts_buf kb;
    wdts_buf_init(&kb);
    const char *parts[1] = {"race-holders"};
    char holders[256];
    wdts_strlcpy(holders, wdts_lua_key(&kb, params.prefix, "test", parts, 1, ""),
                 sizeof(holders));
    wdts_buf_deinit(&kb);
    int fds[NPROC][2];
    pid_t pids[NPROC];
    for (int p = 0; p < NPROC; p++) {
        assert_int_equal(pipe(fds[p]), 0);
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] > 0) {
            close(fds[p][1]);
            continue;
        }
        close(fds[p][0]);
        char e[256];
        struct wdts_redis *r = wdts_redis_new(&params, e, sizeof(e));
        if (r == NULL)
            _exit(1);
        int64_t end = wdts_time_mono_ms() + RUN_MS;
        while (wdts_time_mono_ms() < end) {
            char tok[WDTS_LOCK_TOKEN_SIZE];
            struct wdts_lock_grant g;
            long long n = 0;
            int rel = 0;
            if (wdts_lock_token_new(tok) ||
                wdts_lock_acquire(r, &id, 0, 60, tok, 5000, &g, e, sizeof(e)))
                _exit(1);
            if (!g.acquired) {
                wdts_test_sleep_ms(1);
                continue;
            }
            const char *incr[2] = {"INCR", holders};
            const char *decr[2] = {"DECR", holders};
            if (wdts_redis_command_int(r, 2, incr, NULL, &n) || n != 1)
                _exit(3); /* two holders at once */
            if (write(fds[p][1], &g.fence, sizeof(g.fence)) != (ssize_t)sizeof(g.fence))
                _exit(1);
            wdts_test_sleep_ms(2);
            if (wdts_redis_command_int(r, 2, decr, NULL, &n) || n != 0)
                _exit(3);
            if (wdts_lock_release(r, &id, 0, 60, tok, &rel, e, sizeof(e)) || rel != 1)
                _exit(1);
        }
        wdts_redis_destroy(r);
        _exit(0);
    }
    long long fences[4096];
    size_t n = 0;
    for (int p = 0; p < NPROC; p++) {
        long long f;
        while (read(fds[p][0], &f, sizeof(f)) == (ssize_t)sizeof(f))
            if (n < 4096)
                fences[n++] = f;
        close(fds[p][0]);
        int st = 0;
        assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("racer %d: status %d (3: two holders at once)", p,
                     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    fprintf(stderr, "%d processes took the lock %zu times, never together\n", NPROC, n);
    assert_true(n >= 10);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_true(fences[i] != fences[j]);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct wdts_wm_id id = {"conn-bad", "trades"};
    struct wdts_lock_grant g;
    assert_int_equal(wdts_lock_acquire(redis, &id, 0, 60, "", 1000, &g, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "wdts_lock_token_new"));
    assert_int_equal(wdts_lock_acquire(redis, &id, 60, 0, "t", 1000, &g, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "window"));
    assert_int_equal(wdts_lock_acquire(redis, &id, 0, 60, "t", 0, &g, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "ttl_ms"));
}

int main(void)
{
    wdts_test_redis_group(&params, &redis);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_exclusive_renew_release),
        cmocka_unit_test(test_stale_holder_is_fenced),
        cmocka_unit_test(test_fence_survives_lost_counter),
        cmocka_unit_test(test_after_script_flush),
        cmocka_unit_test(test_processes_never_share),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, wdts_test_redis_group_setup,
                                  wdts_test_redis_group_teardown);
}
