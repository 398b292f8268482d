/* worker.http.connections: with `reuse` (the default) the calls of a worker share keep-alive
 * connections to the gateway, so wdt-sandbox accepts far fewer connections than it answers
 * calls; with `close` every call sends Connection: close on a connection of its own (the
 * official SDK's multi-seller mode), so it accepts at least one connection per call. Both
 * complete their windows. */
#include "wdts_test_worker.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>

#include "wdts/time.h"
#include "wdts_test.h"

#define TENANTS                                                                                    \
    "[{\"sid\":\"cx-shop\",\"appkey\":\"cx-app\",\"appsecret\":\"cx-secret:cx-salt\","            \
    "\"orders_per_day\":20000,\"seed\":17}]"

/* Runs three one-hour windows from start through a worker started with extra, and gives the
 * sandbox's calls and accepted connections meanwhile. */
static void run_windows(struct wt *t, const struct sbx_proc *sbx, struct wt_reader *rd,
                        int64_t start, const char *const *extra, long long *calls,
                        long long *conns)
{
    struct wt_worker wk;
    wt_worker_start(t, &wk, extra);
    /* the worker's first call comes after it joined the group: count from before it */
    long long calls0 = metric_value(sbx, "wdt_sandbox_calls_total", "cx-shop");
    long long conns0 = metric_value(sbx, "wdt_sandbox_connections_total", NULL);
    struct wdts_job jobs[3];
    const char *ids[3];
    for (int i = 0; i < 3; i++) {
        wt_emit(t, "t1", "c1", "trades", start + i * WT_WINDOW, start + (i + 1) * WT_WINDOW, &jobs[i]);
        ids[i] = jobs[i].job_id;
    }
    if (!wt_wait_markers(rd, ids, 3, 120000)) {
        wt_log_dump(&wk);
        fail_msg("not every window was completed");
    }
    for (int i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_object_get(wt_marker(rd, ids[i]), "status")),
                            "complete");
    *calls = metric_value(sbx, "wdt_sandbox_calls_total", "cx-shop") - calls0;
    /* less the test's own two connections for the metrics read after conns0 */
    *conns = metric_value(sbx, "wdt_sandbox_connections_total", NULL) - conns0 - 2;
    int rc = wt_worker_stop(&wk, SIGTERM, 30000, NULL);
    if (rc != 0)
        wt_log_dump(&wk);
    assert_int_equal(rc, 0);
}

static void test_connections(void **state)
{
    (void)state;
    struct wt t;
    struct sbx_proc sbx;
    wt_init(&t, 2, 4);
    char tenants_path[512], gw[160];
    wt_sandbox(&t, &sbx, TENANTS, NULL, "/openapi", tenants_path, sizeof(tenants_path), gw,
               sizeof(gw));
    const char *reports[] = {"trades", NULL};
    struct wt_conn_opts co = {.id = "c1", .tenant = "t1", .sid = "cx-shop", .appkey = "cx-app",
                              .appsecret = "cx-secret:cx-salt", .gateway = gw,
                              .reports = reports, .rate = 50, .burst = 10, .concurrency = 2,
                              .pii = WDTS_CONN_PII_KEEP};
    wt_conn_add(&t, &co);
    int64_t start = wdts_time_now() / 3600 * 3600 - 8 * 3600;
    wt_wm_init(&t, "c1", "trades", start);
    struct wt_reader rd;
    wt_reader_open(&t, &rd, t.t_records);

    long long calls, conns;
    run_windows(&t, &sbx, &rd, start, NULL, &calls, &conns);
    printf("# reuse: %lld calls on %lld connections\n", calls, conns);
    assert_true(calls >= 20); /* three windows of several pages */
    assert_true(conns >= 1);
    assert_true(conns * 4 <= calls);

    const char *close_env[] = {"WDT_WORKER_HTTP_CONNECTIONS=close", NULL};
    run_windows(&t, &sbx, &rd, start + 3 * 3600, close_env, &calls, &conns);
    printf("# close: %lld calls on %lld connections\n", calls, conns);
    assert_true(calls >= 20);
    assert_true(conns >= calls);

    wt_reader_close(&rd);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    wt_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_connections)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
