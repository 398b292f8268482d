/* The classes a job rides through, against a sandbox whose clocks run 10 minutes ahead
 * and which injects 5xx answers, truncated bodies, 数据库错误, rate-limit answers and
 * malformed ones (status 0 without the record list, a status that is no number):
 * transient and bad_answer → retried with backoff (never a window completed with 0 records),
 * rate_limited → shared cooldown then retry, clock → resync from the answer's Date header
 * then retry. Every window still completes with
 * nothing missing against the truth, the calls are counted by class on /metrics, and
 * /healthz and /readyz answer. */
#include "wdts_test_worker.h"

#include <signal.h>
#include <stdio.h>

#include "wdts/time.h"
#include "wdts_test.h"

#define TENANTS                                                                                    \
    "[{\"sid\":\"flaky-shop\",\"appkey\":\"fk-app\",\"appsecret\":\"fk-secret:fk-salt\","         \
    "\"orders_per_day\":6000,\"seed\":31}]"
#define NJOBS 3

static void test_faults(void **state)
{
    (void)state;
    struct wt t;
    struct sbx_proc sbx;
    wt_init(&t, 4, 8);
    char tenants[512], gw[160], clock[64];
    snprintf(clock, sizeof(clock), "speed:1@%lld", (long long)(wdts_time_now() + 600));
    const char *more[] = {"--clock", clock, "--timestamp-skew", "600", "--faults",
                          "nolist=0.1,badstatus=0.1,http5xx=0.08,truncate=0.04,status5=0.04,"
                          "ratelimit=0.08,seed=5",
                          NULL};
    wt_sandbox(&t, &sbx, TENANTS, more, "/openapi", tenants, sizeof(tenants), gw, sizeof(gw));
    const char *reports[] = {"trades", NULL};
    struct wt_conn_opts co = {.id = "cf", .tenant = "tf", .sid = "flaky-shop", .appkey = "fk-app",
                              .appsecret = "fk-secret:fk-salt", .gateway = gw,
                              .reports = reports, .rate = 20, .burst = 5, .concurrency = 2};
    wt_conn_add(&t, &co);
    int64_t h = wdts_time_now() / 3600 * 3600, start = h - 6 * 3600;
    wt_wm_init(&t, "cf", "trades", start);

    struct wt_reader rd;
    wt_reader_open(&t, &rd, t.t_records);
    const char *extra[] = {"WDT_WORKER_COOLDOWN_BASE=300ms", "WDT_WORKER_COOLDOWN_MAX=2s",
                           "WDT_WORKER_MAX_ATTEMPTS=20", NULL};
    struct wt_worker wk;
    wt_worker_start(&t, &wk, extra);
    int port = wt_worker_port(&wk);
    assert_true(port > 0);
    assert_int_equal(wt_http_status(port, "/healthz"), 200);

    char ids[NJOBS][WDTS_JOB_ID_LEN];
    const char *idp[NJOBS];
    for (int i = 0; i < NJOBS; i++) {
        struct wdts_job j;
        wt_emit(&t, "tf", "cf", "trades", start + i * WT_WINDOW, start + (i + 1) * WT_WINDOW, &j);
        snprintf(ids[i], sizeof(ids[i]), "%s", j.job_id);
        idp[i] = ids[i];
    }
    if (!wt_wait_markers(&rd, idp, NJOBS, 240000)) {
        wt_log_dump(&wk);
        fail_msg("markers missing");
    }
    assert_int_equal(wt_http_status(port, "/readyz"), 200);
    int64_t as_of = sbx_clock(&sbx);
    wt_reader_poll(&rd, 1000);

    double ok = wt_metric(port, "wdt_worker_api_calls_total", "\"ok\"");
    double transient = wt_metric(port, "wdt_worker_api_calls_total", "\"transient\"");
    double limited = wt_metric(port, "wdt_worker_api_calls_total", "\"rate_limited\"");
    double clk = wt_metric(port, "wdt_worker_api_calls_total", "\"clock\"");
    double done = wt_metric(port, "wdt_worker_jobs_total", "\"done\"");
    printf("# calls: ok %.0f, transient %.0f, rate_limited %.0f, clock %.0f; jobs done %.0f\n", ok,
           transient, limited, clk, done);
    assert_true(transient >= 1);
    assert_true(limited >= 1);
    assert_true(clk >= 1);
    assert_true(done == NJOBS);
    assert_true(wt_metric(port, "wdt_worker_ratelimit_wait_seconds_total", NULL) > 0);
    assert_true(wt_log_has(&wk, "bad_answer")); /* a status-0 answer without its list */
    assert_true(wt_log_has(&wk, "not a number"));

    char **pks = NULL;
    size_t n = wt_truth(tenants, "flaky-shop", "trades", as_of, start, start + NJOBS * WT_WINDOW, &pks);
    size_t missing = wt_missing(&rd, "cf", "trades", pks, n);
    printf("# truth: %zu records, %zu missing\n", n, missing);
    assert_true(n > 0);
    assert_int_equal(missing, 0);
    assert_int_equal(wt_wm_get(&t, "cf", "trades"), start + NJOBS * WT_WINDOW);

    assert_int_equal(wt_worker_stop(&wk, SIGTERM, 30000, NULL), 0);
    wt_reader_close(&rd);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    wt_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_faults)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
