/* A worker killed with SIGKILL in the middle of a window: its job was never committed,
 * so the group hands it to a second worker, which waits for the dead worker's window lock
 * to expire, fetches the window and completes it: nothing the truth lists is missing, the
 * watermark reaches the window's end and the job's offset ends committed. */
#include "wdts_test_worker.h"

#include <signal.h>
#include <stdio.h>

#include "wdts/time.h"
#include "wdts_test.h"

#define TENANTS                                                                                    \
    "[{\"sid\":\"kill-shop\",\"appkey\":\"kl-app\",\"appsecret\":\"kl-secret:kl-salt\","          \
    "\"orders_per_day\":20000,\"seed\":41}]"

static void test_kill(void **state)
{
    (void)state;
    struct wt t;
    struct sbx_proc sbx;
    wt_init(&t, 4, 8);
    char tenants[512], gw[160];
    const char *more[] = {"--faults", "latency=300ms", NULL};
    wt_sandbox(&t, &sbx, TENANTS, more, "/openapi", tenants, sizeof(tenants), gw, sizeof(gw));
    const char *reports[] = {"trades", NULL};
    struct wt_conn_opts co = {.id = "ck", .tenant = "tk", .sid = "kill-shop", .appkey = "kl-app",
                              .appsecret = "kl-secret:kl-salt", .gateway = gw,
                              .reports = reports, .rate = 20, .burst = 5, .concurrency = 1};
    wt_conn_add(&t, &co);
    int64_t start = wdts_time_now() / 3600 * 3600 - 4 * 3600, end = start + WT_WINDOW;
    wt_wm_init(&t, "ck", "trades", start);

    struct wt_reader rd;
    wt_reader_open(&t, &rd, t.t_records);
    const char *extra[] = {"WDT_WORKER_LOCK_TTL=5s", NULL};
    struct wt_worker a, b;
    wt_worker_start(&t, &a, extra);
    struct wdts_job job;
    wt_emit(&t, "tk", "ck", "trades", start, end, &job);

    /* wait for the first records of the window, then kill the worker */
    size_t seen = wt_wait_job_records(&rd, job.job_id, 60000);
    assert_true(seen > 0);
    assert_null(wt_marker(&rd, job.job_id));
    assert_int_equal(wt_worker_stop(&a, SIGKILL, 5000, NULL), 128 + SIGKILL);
    printf("# killed the first worker after %zu records of the window\n", seen);
    size_t before = rd.n;

    wt_worker_start(&t, &b, extra);
    const char *ids[] = {job.job_id};
    if (!wt_wait_markers(&rd, ids, 1, 180000)) {
        wt_log_dump(&a);
        wt_log_dump(&b);
        fail_msg("the second worker did not complete the window");
    }
    int64_t as_of = wdts_time_now();
    wt_reader_poll(&rd, 1000);
    assert_true(wt_log_has(&b, "done"));

    char **pks = NULL;
    size_t n = wt_truth(tenants, "kill-shop", "trades", as_of, start, end, &pks);
    size_t missing = wt_missing(&rd, "ck", "trades", pks, n);
    printf("# truth: %zu records, %zu missing; %zu messages before the kill, %zu after\n", n,
           missing, before, rd.n - before);
    assert_true(n > 100);
    assert_int_equal(missing, 0);
    assert_int_equal(wt_wm_get(&t, "ck", "trades"), end);
    assert_int_equal(wt_committed(&t, t.t_jobs, 4, 1), 1);

    assert_int_equal(wt_worker_stop(&b, SIGTERM, 30000, NULL), 0);
    wt_reader_close(&rd);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    wt_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kill)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
