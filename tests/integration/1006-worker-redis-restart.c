/* Redis goes away in the middle of a window and comes back (SIGKILL, restart on the same
 * port from its AOF): the worker's non-blocking Redis connection reconnects, the calls
 * that were in flight (limiter, lock renewal) are retried, the scripts are loaded again
 * (EVAL after NOSCRIPT), and the window completes: marker, watermark, nothing missing
 * against the truth, the worker still running. */
#include "wdts_test_worker.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "wdts/redis.h"
#include "wdts/time.h"
#include "wdts_test.h"
#include "wdts_test_redis.h"

#define TENANTS                                                                                    \
    "[{\"sid\":\"rr-shop\",\"appkey\":\"rr-app\",\"appsecret\":\"rr-secret:rr-salt\","            \
    "\"orders_per_day\":20000,\"seed\":71}]"

static struct wdts_test_redis_server redis_srv;
static struct wdts_redis_params redis_params;
static char redis_dir[256];

static void redis_start(void)
{
    assert_int_equal(wdts_test_redis_server_start(&redis_srv, redis_dir, &redis_params, NULL), 0);
}

static void test_redis_restart(void **state)
{
    (void)state;
    snprintf(redis_dir, sizeof(redis_dir), "/tmp/wrk-redis.XXXXXX");
    assert_non_null(mkdtemp(redis_dir));
    redis_srv.port = wdts_test_unused_port();
    wdts_redis_params_init(&redis_params);
    redis_params.port = redis_srv.port;
    redis_start();
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", redis_srv.port);

    struct wt t;
    struct sbx_proc sbx;
    wt_init_redis(&t, 4, 8, url);
    char tenants[512], gw[160];
    const char *more[] = {"--faults", "latency=250ms", NULL};
    wt_sandbox(&t, &sbx, TENANTS, more, "/openapi", tenants, sizeof(tenants), gw, sizeof(gw));
    const char *reports[] = {"trades", NULL};
    struct wt_conn_opts co = {.id = "cr", .tenant = "tr", .sid = "rr-shop", .appkey = "rr-app",
                              .appsecret = "rr-secret:rr-salt", .gateway = gw,
                              .reports = reports, .rate = 20, .burst = 5, .concurrency = 1};
    wt_conn_add(&t, &co);
    int64_t start = wdts_time_now() / 3600 * 3600 - 4 * 3600, end = start + WT_WINDOW;
    wt_wm_init(&t, "cr", "trades", start);

    struct wt_reader rd;
    wt_reader_open(&t, &rd, t.t_records);
    struct wt_worker wk;
    wt_worker_start(&t, &wk, NULL);
    struct wdts_job job;
    wt_emit(&t, "tr", "cr", "trades", start, end, &job);

    size_t seen = wt_wait_job_records(&rd, job.job_id, 60000);
    assert_true(seen > 0);
    /* Redis dies mid-window and comes back 2 s later from its AOF */
    wdts_redis_destroy(t.redis);
    t.redis = NULL;
    wdts_test_redis_server_kill(&redis_srv, SIGKILL);
    printf("# Redis killed after %zu records of the window\n", seen);
    sleep(2);
    redis_start();
    char es[256];
    t.redis = wdts_test_redis_connect(url, NULL, es, sizeof(es));
    assert_non_null(t.redis);

    const char *ids[] = {job.job_id};
    if (!wt_wait_markers(&rd, ids, 1, 180000)) {
        wt_log_dump(&wk);
        fail_msg("the window did not complete after the Redis restart");
    }
    int64_t as_of = wdts_time_now();
    wt_reader_poll(&rd, 500);
    assert_true(wt_log_has(&wk, "connection lost") || wt_log_has(&wk, "connect to"));
    char **pks = NULL;
    size_t n = wt_truth(tenants, "rr-shop", "trades", as_of, start, end, &pks);
    size_t missing = wt_missing(&rd, "cr", "trades", pks, n);
    printf("# truth: %zu records, %zu missing\n", n, missing);
    assert_true(n > 100);
    assert_int_equal(missing, 0);
    assert_int_equal(wt_wm_get(&t, "cr", "trades"), end);

    assert_int_equal(wt_worker_stop(&wk, SIGTERM, 30000, NULL), 0);
    wt_reader_close(&rd);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    wt_deinit(&t);
    wdts_test_redis_server_kill(&redis_srv, SIGTERM);
    wdts_test_rmtree(redis_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_redis_restart)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
