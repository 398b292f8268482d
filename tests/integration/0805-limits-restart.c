/* The coordination state across Redis restarts, on a redis-server of this test's own
 * (free port, temp dir, AOF with fsync always). After a SIGKILL and a restart on the
 * same data, the watermark, waiting windows, window lock, cooldown and lease are all
 * still there and the scripts (lost from the cache) run again after one reconnect.
 * After a restart that lost the data, nothing is guessed: the watermark reports
 * "uninit", while new fencing tokens and lease epochs are still above the old ones. */
#include "wdts_test.h"
#include "wdts_test_redis.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/lease.h"
#include "wdts/limit.h"
#include "wdts/lock.h"
#include "wdts/redis.h"
#include "wdts/time.h"
#include "wdts/watermark.h"

static struct wdts_test_redis_server srv;
static char srv_dir[2][256]; /* the second holds no data: a restart that lost it */
static struct wdts_redis_params params;
static char es[512];

/* After a restart the old socket is dead: the first call fails, reconnect heals it. */
static void reconnect(struct wdts_redis *redis)
{
    (void)wdts_redis_commandl(redis, NULL, "PING", NULL);
    if (wdts_redis_reconnect(redis) != WDTS_OK)
        fail_msg("reconnect: %s", redis->errstr);
}

static void test_state_across_restarts(void **state)
{
    (void)state;
    struct wdts_redis *redis = wdts_redis_new(&params, es, sizeof(es));
    assert_non_null(redis);
    struct wdts_wm_id id = {"conn-r", "trades"};
    struct wdts_wm_state st;
    struct wdts_wm_result r;
    struct wdts_lock_grant g;
    struct wdts_limit_cfg cfg;
    struct wdts_limit_id lid = {"wdt", "sid-r", "key-r"};
    struct wdts_limit_start ls;
    struct wdts_limit_finish lf;
    struct wdts_lease_state lease;
    wdts_limit_cfg_init(&cfg);
    cfg.cooldown_base_ms = 60000;

    /* before: a watermark at 60 with [120, 180) waiting, a held lock on [60, 120), a
     * cooldown and a scheduler lease */
    assert_int_equal(wdts_wm_init(redis, &id, 0, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_lock_acquire(redis, &id, 0, 60, "w0", 60000, &g, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_wm_complete(redis, &id, 0, 60, g.fence, 0, &r, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_lock_acquire(redis, &id, 120, 180, "w2", 60000, &g, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_wm_complete(redis, &id, 120, 180, g.fence, 0, &r, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(r.status, WDTS_WM_PENDING);
    struct wdts_lock_grant a;
    assert_int_equal(wdts_lock_acquire(redis, &id, 60, 120, "holder-a", 60000, &a, es,
                                       sizeof(es)),
                     WDTS_OK);
    assert_int_equal(a.acquired, 1);
    assert_int_equal(wdts_limit_try_start(redis, &lid, &cfg, "call-1", &ls, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(ls.go, 1);
    assert_int_equal(wdts_limit_finish(redis, &lid, &cfg, "call-1", ls.now_us,
                                       WDTS_LIMIT_OUTCOME_LIMITED, &lf, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(lf.cooldown_ms, 60000);
    assert_int_equal(wdts_lease_acquire(redis, "scheduler", "sched-1", "lease-1", 60000, &lease,
                                        es, sizeof(es)),
                     WDTS_OK);
    long long epoch1 = lease.epoch;

    /* the server is killed and comes back on the same data */
    wdts_test_redis_server_kill(&srv, SIGKILL);
    assert_int_equal(wdts_test_redis_server_start(&srv, srv_dir[0], &params, NULL), 0);
    reconnect(redis);

    assert_int_equal(wdts_wm_get(redis, &id, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.initialized, 1);
    assert_int_equal(st.wm, 60);
    assert_int_equal(st.pending, 1);
    /* the lock is still A's: a redelivered copy does not get it */
    assert_int_equal(wdts_lock_acquire(redis, &id, 60, 120, "holder-b", 60000, &g, es,
                                       sizeof(es)),
                     WDTS_OK);
    assert_int_equal(g.acquired, 0);
    /* A finishes: the watermark jumps over the waiting window */
    assert_int_equal(wdts_wm_complete(redis, &id, 60, 120, a.fence, 0, &r, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(r.status, WDTS_WM_ADVANCED);
    assert_int_equal(r.wm, 180);
    /* the cooldown holds every pod back still */
    assert_int_equal(wdts_limit_try_start(redis, &lid, &cfg, "call-2", &ls, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(ls.go, 0);
    assert_int_equal(ls.reason, WDTS_LIMIT_COOLDOWN);
    assert_true(ls.wait_ms > 30000 && ls.wait_ms <= 60000);
    /* the scheduler lease is still held */
    assert_int_equal(wdts_lease_acquire(redis, "scheduler", "sched-2", "lease-2", 60000, &lease,
                                        es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(lease.held, 0);
    assert_string_equal(lease.holder, "sched-1");

    /* the server comes back with its data lost */
    wdts_test_redis_server_kill(&srv, SIGKILL);
    assert_int_equal(wdts_test_redis_server_start(&srv, srv_dir[1], &params, NULL), 0);
    reconnect(redis);
    assert_int_equal(wdts_wm_get(redis, &id, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.initialized, 0);
    /* a completion is refused rather than restarting the watermark somewhere */
    assert_int_equal(wdts_wm_complete(redis, &id, 180, 240, a.fence, 0, &r, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(r.status, WDTS_WM_UNINIT);
    /* tokens issued now are above every token issued before */
    assert_int_equal(wdts_lock_acquire(redis, &id, 60, 120, "holder-b", 60000, &g, es,
                                       sizeof(es)),
                     WDTS_OK);
    assert_int_equal(g.acquired, 1);
    assert_true(g.fence > a.fence);
    assert_int_equal(wdts_lease_acquire(redis, "scheduler", "sched-2", "lease-2", 60000, &lease,
                                        es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(lease.held, 1);
    assert_true(lease.epoch > epoch1);
    wdts_redis_destroy(redis);
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        snprintf(srv_dir[i], sizeof(srv_dir[i]), "/tmp/wdts-0805-XXXXXX");
        if (mkdtemp(srv_dir[i]) == NULL) {
            perror("mkdtemp");
            return -1;
        }
    }
    srv.port = wdts_test_unused_port();
    wdts_redis_params_init(&params);
    params.port = srv.port;
    wdts_strlcpy(params.prefix, wdts_test_prefix(), sizeof(params.prefix));
    return wdts_test_redis_server_start(&srv, srv_dir[0], &params, NULL);
}

static int teardown(void **state)
{
    (void)state;
    wdts_test_redis_server_kill(&srv, SIGTERM);
    for (int i = 0; i < 2; i++)
        wdts_test_rmtree(srv_dir[i]);
    return 0;
}

int main(void)
{
    /* Runs under tests/run.sh like the other Redis tests, which also provides redis-server. */
    (void)wdts_test_require_env("WDT_TEST_REDIS_URL");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_across_restarts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
