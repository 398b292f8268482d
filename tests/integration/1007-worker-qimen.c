/* A window fetched through the Qimen route (奇门自定义接口) with the connection's own Qimen app:
 * TOP signature outside, wdt_sign inside, 1-based pages, the answer wrapped in "response".
 * The records arrive with source "qimen" and the record bytes as sent, the marker follows,
 * nothing the truth lists for the Qimen route is missing, and the watermark moves. Twice:
 * against answers that carry total_count, and against a gateway whose answers carry none
 * and whose window bounds are both exclusive (neither is documented): the pages are read
 * forward while full, then back to page 0, and still nothing is missing. */
#include "wdts_test_worker.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "wdts/time.h"
#include "wdts_test.h"

#define TENANTS                                                                                    \
    "[{\"sid\":\"qm-shop\",\"appkey\":\"qm-app\",\"appsecret\":\"qm-secret:qm-salt\","            \
    "\"qimen_app_key\":\"qm-top-app\",\"qimen_app_secret\":\"qm-top-secret\","                   \
    "\"orders_per_day\":6000,\"seed\":81}]"

/* conn: a connection id of its own per run (the runs of this process share the prefix,
 * hence the topics and keys). */
static void run_qimen(const char *conn, const char *const *sandbox_args, int with_total)
{
    struct wt t;
    struct sbx_proc sbx;
    wt_init(&t, 4, 8);
    char tenants[512], gw[160];
    wt_sandbox(&t, &sbx, TENANTS, sandbox_args, "/router/qm", tenants, sizeof(tenants), gw,
               sizeof(gw));
    const char *reports[] = {"trades", NULL};
    struct wt_conn_opts co = {.id = conn, .tenant = "tq", .sid = "qm-shop", .appkey = "qm-app",
                              .appsecret = "qm-secret:qm-salt", .gateway = gw,
                              .reports = reports, .rate = 20, .burst = 5, .concurrency = 2,
                              .qimen_app_key = "qm-top-app",
                              .qimen_app_secret = "qm-top-secret"};
    wt_conn_add(&t, &co);
    int64_t start = wdts_time_now() / 3600 * 3600 - 3 * 3600, end = start + WT_WINDOW;
    wt_wm_init(&t, conn, "trades", start);

    struct wt_reader rd;
    wt_reader_open(&t, &rd, t.t_records);
    struct wt_worker wk;
    wt_worker_start(&t, &wk, NULL);
    struct wdts_job job;
    wt_emit(&t, "tq", conn, "trades", start, end, &job);
    const char *ids[] = {job.job_id};
    if (!wt_wait_markers(&rd, ids, 1, 120000)) {
        wt_log_dump(&wk);
        fail_msg("no window marker for %s", job.job_id);
    }
    int64_t as_of = wdts_time_now();
    wt_reader_poll(&rd, 1000);
    json_t *m = wt_marker(&rd, job.job_id);
    assert_string_equal(json_string_value(json_object_get(m, "source")), "qimen");
    json_t *api_total = json_object_get(m, "api_total");
    long long total = json_integer_value(api_total);
    /* the history (历史) pass of archive_read all reads nothing here: one empty page */
    long long hcalls = json_integer_value(json_object_get(m, "history_calls"));
    assert_int_equal(hcalls, 1);
    long long calls = json_integer_value(json_object_get(m, "calls")) - hcalls;
    size_t nrec = 0;
    for (size_t i = 0; i < rd.n; i++) {
        if (strcmp(rd.v[i].schema, "wdt.record.v1") != 0 || strcmp(rd.v[i].job_id, job.job_id))
            continue;
        nrec++;
        assert_string_equal(json_string_value(json_object_get(rd.v[i].body, "source")), "qimen");
        assert_true(json_is_object(json_object_get(rd.v[i].body, "data")));
    }
    printf("# qimen window: api_total %s, %zu records, %lld calls\n",
           with_total ? "given" : "absent", nrec, calls);
    if (with_total) {
        printf("# api_total %lld\n", total);
        assert_true(total > 100);
        assert_int_equal(calls, (total + 99) / 100 + 1);
    } else {
        /* no total: forward over the k full pages and the short one, then back to page 0 */
        assert_true(json_is_null(api_total));
        long long full = (long long)nrec / 100;
        assert_true(nrec > 100);
        assert_true(calls >= 2 * full + 1 && calls <= 2 * full + 3);
    }

    char **pks = NULL;
    size_t n = wt_truth_route(tenants, "qm-shop", "trades", "qimen", as_of, start, end, &pks);
    size_t missing = wt_missing(&rd, conn, "trades", pks, n);
    printf("# truth (qimen route): %zu records, %zu missing\n", n, missing);
    assert_true(n > 100);
    assert_int_equal(missing, 0);
    assert_int_equal(wt_wm_get(&t, conn, "trades"), end);

    assert_int_equal(wt_worker_stop(&wk, SIGTERM, 30000, NULL), 0);
    wt_reader_close(&rd);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    wt_deinit(&t);
}

static void test_qimen(void **state)
{
    (void)state;
    run_qimen("cq", NULL, 1);
}

static void test_qimen_without_totals_open_bounds(void **state)
{
    (void)state;
    const char *args[] = {"--qimen-total", "absent", "--bounds", "open", NULL};
    run_qimen("cq-nototal", args, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_qimen),
                                       cmocka_unit_test(test_qimen_without_totals_open_bounds)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
