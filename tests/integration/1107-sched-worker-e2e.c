/* The scheduler and the worker through their contracts only (jobs on the jobs topic, the
 * watermark in Redis): wdt-sandbox (real clock), a connection with trades and a 3-hour
 * backfill, one `wdt-scheduler --once`, one wdt-worker. The worker completes every window
 * the scheduler emitted, the watermark reaches the end of the backfill, and the next
 * scheduler pass finds them completed: none of them outstanding (at most the minute the
 * clock added since), nothing re-emitted, and `wdtctl status` says ok. */
#include "wdts_test_worker.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched_state.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts_test.h"

#define TENANTS                                                                                    \
    "[{\"sid\":\"e2e-shop\",\"appkey\":\"e2e-app\",\"appsecret\":\"e2e-secret:e2e-salt\","         \
    "\"orders_per_day\":3000,\"seed\":5}]"

static char *hget(struct wt *t, const char *kind, const char *field)
{
    struct wdts_buf key;
    char *v = NULL;
    wdts_buf_init(&key);
    const char *cmd[] = {"HGET", sched_state_key(&key, t->rprefix, kind, "c1", "trades"), field};
    assert_int_equal(wdts_redis_command_str(t->redis, 3, cmd, NULL, &v, NULL), WDTS_OK);
    wdts_buf_deinit(&key);
    return v;
}

static void run_once(void)
{
    struct wdts_test_run run;
    const char *args[] = {"--once", NULL};
    if (wdts_test_run_bin("wdt-scheduler", args, NULL, 120, &run) != 0 ||
        strstr(run.out, "pass:") == NULL)
        fail_msg("wdt-scheduler --once: %d\n%s%s", run.status, run.out, run.err);
    wdts_test_run_free(&run);
}

static void test_e2e(void **state)
{
    (void)state;
    struct wt t;
    struct sbx_proc sbx;
    char es[512];
    wt_init(&t, 4, 8);
    char tenants_path[512], gw[160];
    wt_sandbox(&t, &sbx, TENANTS, NULL, "/openapi", tenants_path, sizeof(tenants_path), gw,
               sizeof(gw));

    /* the connection, as wdtctl connection add stores it, with a short backfill */
    struct wdts_conn *c = wdts_conn_new();
    c->tenant = wdts_xstrdup("t1");
    c->id = wdts_xstrdup("c1");
    c->app = WDTS_API_APP_WDT;
    c->sid = wdts_xstrdup("e2e-shop");
    c->appkey = wdts_xstrdup("e2e-app");
    c->appsecret = wdts_xstrdup("e2e-secret:e2e-salt");
    free(c->gateway);
    c->gateway = wdts_xstrdup(gw);
    wdts_conn_add_report(c, "trades");
    c->backfill_s = 3 * 3600;
    c->rate = 20;
    c->burst = 5;
    c->concurrency = 2;
    assert_int_equal(wdts_conn_seal(c, t.key, es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_conn_save(t.redis, t.rprefix, c, 0, es, sizeof(es)), WDTS_OK);
    wdts_conn_destroy(c);

    setenv("WDT_REDIS_URL", t.redis_url, 1);
    setenv("WDT_REDIS_PREFIX", t.rprefix, 1);
    setenv("WDT_TOPIC_JOBS", t.t_jobs, 1);
    setenv("WDT_KAFKA_BOOTSTRAP_SERVERS", t.brokers, 1);
    setenv("WDT_LOG_FORMAT", "text", 1);
    unsetenv("WDT_CONFIG_FILE");

    run_once();
    char *cursor = hget(&t, "plan", "cursor");
    char *emitted = hget(&t, "stat", "emitted");
    assert_non_null(cursor);
    assert_non_null(emitted);
    long long end = strtoll(cursor, NULL, 10), n = strtoll(emitted, NULL, 10);
    free(cursor);
    free(emitted);
    printf("# scheduler: %lld windows up to %lld\n", n, end);
    assert_true(n >= 3 && n <= 5);

    struct wt_worker wk;
    wt_worker_start(&t, &wk, NULL);
    long long wm = 0;
    for (int i = 0; i < 600 && wm < end; i++) {
        wm = wt_wm_get(&t, "c1", "trades");
        if (wm < end)
            usleep(200000);
    }
    if (wm != end) {
        wt_log_dump(&wk);
        fail_msg("the watermark is at %lld, want the backfill end %lld", wm, end);
    }

    /* the next pass finds every window completed */
    run_once();
    char *completed = hget(&t, "stat", "completed");
    char *reemitted = hget(&t, "stat", "reemitted");
    assert_non_null(completed);
    assert_int_equal(strtoll(completed, NULL, 10), n);
    assert_null(reemitted);
    free(completed);
    struct wdts_buf key;
    wdts_buf_init(&key);
    /* the real clock may have passed a minute since: then one new window is outstanding,
     * after the backfill's end; none of the first pass's may be */
    struct wdts_redis_reply *r = NULL;
    const char *zr[] = {"ZRANGE", sched_state_key(&key, t.rprefix, "out", "c1", "trades"), "0",
                        "-1"};
    assert_int_equal(wdts_redis_command(t.redis, 4, zr, NULL, &r), WDTS_OK);
    long long card = (long long)wdts_redis_reply_count(r);
    for (size_t i = 0; i < wdts_redis_reply_count(r); i++) {
        const char *m = wdts_redis_reply_str(wdts_redis_reply_elem(r, i), NULL);
        if (strtoll(m, NULL, 10) < end)
            fail_msg("window %s is still outstanding after it completed", m);
    }
    assert_true(card <= 1);
    wdts_redis_reply_free(r);
    wdts_buf_deinit(&key);

    const char *args[] = {"status", "--json", NULL};
    json_t *arr = wdts_test_run_json("wdtctl", args, 60);
    assert_int_equal(json_array_size(arr), 1);
    json_t *row = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(row, "state")), "ok");
    assert_int_equal(json_integer_value(json_object_get(row, "outstanding")), card);
    assert_int_equal(json_integer_value(json_object_get(row, "completed")), n);
    /* the worker counts each window's records once, at its first completion */
    json_t *records = json_object_get(row, "records");
    if (!json_is_integer(records) || json_integer_value(records) <= 0)
        fail_msg("wdtctl status shows no records delivered:\n%s", json_dumps(arr, 0));
    printf("# status: %lld records delivered\n", (long long)json_integer_value(records));
    json_decref(arr);

    assert_int_equal(wt_worker_stop(&wk, SIGTERM, 30000, NULL), 0);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    wt_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_e2e)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
