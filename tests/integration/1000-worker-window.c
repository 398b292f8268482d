/* A normal multi-page window end to end: wdt-sandbox (real clock) → wdt-worker → the
 * local Kafka, with the real Redis. The job's records arrive as envelopes keyed
 * connection:report:pk with the pii fields hashed, then the window marker with the counts;
 * the calls made are ceil(n / page_size) + 1; nothing the truth lists is missing; the
 * watermark moves to the window's end; the job's offset is committed; SIGTERM exits 0. */
#include "wdts_test_worker.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "wdts/time.h"
#include "wdts_test.h"

#define TENANTS                                                                                    \
    "[{\"sid\":\"wk-shop\",\"appkey\":\"wk-app\",\"appsecret\":\"wk-secret:wk-salt\","            \
    "\"orders_per_day\":20000,\"seed\":11}]"

static void test_window(void **state)
{
    (void)state;
    struct wt t;
    struct sbx_proc sbx;
    wt_init(&t, 4, 8);
    char tenants_path[512], gw[160];
    wt_sandbox(&t, &sbx, TENANTS, NULL, "/openapi", tenants_path, sizeof(tenants_path), gw,
               sizeof(gw));

    const char *reports[] = {"trades", NULL};
    struct wt_conn_opts co = {.id = "c1", .tenant = "t1", .sid = "wk-shop", .appkey = "wk-app",
                              .appsecret = "wk-secret:wk-salt", .gateway = gw,
                              .reports = reports, .rate = 20, .burst = 5, .concurrency = 2,
                              .pii = WDTS_CONN_PII_HASH};
    wt_conn_add(&t, &co);
    int64_t start = wdts_time_now() / 3600 * 3600 - 3 * 3600, end = start + WT_WINDOW;
    wt_wm_init(&t, "c1", "trades", start);

    struct wt_reader rd;
    wt_reader_open(&t, &rd, t.t_records);
    struct wt_worker wk;
    wt_worker_start(&t, &wk, NULL);
    struct wdts_job job;
    wt_emit(&t, "t1", "c1", "trades", start, end, &job);
    const char *ids[] = {job.job_id};
    if (!wt_wait_markers(&rd, ids, 1, 120000)) {
        wt_log_dump(&wk);
        fail_msg("no window marker for %s", job.job_id);
    }
    int64_t as_of = wdts_time_now();
    json_t *m = wt_marker(&rd, job.job_id);
    wt_reader_poll(&rd, 1000);

    /* the records of the job: distinct pks, envelopes as in docs/DESIGN.md §2 */
    size_t nrec = 0;
    int hashed = 0;
    for (size_t i = 0; i < rd.n; i++) {
        struct wt_rec *x = &rd.v[i];
        if (strcmp(x->schema, "wdt.record.v1") != 0 || strcmp(x->job_id, job.job_id) != 0)
            continue;
        nrec++;
        char key[256];
        snprintf(key, sizeof(key), "c1:trades:%s", x->pk);
        assert_string_equal(x->key, key);
        assert_string_equal(json_string_value(json_object_get(x->body, "tenant")), "t1");
        assert_string_equal(json_string_value(json_object_get(x->body, "source")), "wdt");
        assert_string_equal(json_string_value(json_object_get(x->body, "op")), "upsert");
        json_t *data = json_object_get(x->body, "data");
        assert_true(json_is_object(data));
        const char *rn = json_string_value(json_object_get(data, "receiver_name"));
        if (rn && *rn) {
            assert_int_equal(strlen(rn), 64); /* HMAC-SHA256 hex, never the name */
            hashed++;
        }
    }
    long long records = json_integer_value(json_object_get(m, "records"));
    long long total = json_integer_value(json_object_get(m, "api_total"));
    long long calls = json_integer_value(json_object_get(m, "calls"));
    printf("# window: api_total %lld, records %lld (%zu read), calls %lld, hashed names %d\n",
           total, records, nrec, calls, hashed);
    assert_true(total > 100); /* several pages at page_size 100 */
    assert_int_equal((long long)nrec, records);
    assert_true(records >= total - 5 && records <= total + 50);
    /* the history (历史) pass of archive_read all: nothing archived, one empty page */
    long long hcalls = json_integer_value(json_object_get(m, "history_calls"));
    assert_int_equal(hcalls, 1);
    assert_int_equal(json_integer_value(json_object_get(m, "history_records")), 0);
    assert_int_equal(calls - hcalls, (total + 99) / 100 + 1);
    assert_true(hashed > 0);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "complete");

    /* the truth: nothing missing */
    char **pks = NULL;
    size_t ntruth = wt_truth(tenants_path, "wk-shop", "trades", as_of, start, end, &pks);
    size_t missing = wt_missing(&rd, "c1", "trades", pks, ntruth);
    printf("# truth: %zu records, %zu missing\n", ntruth, missing);
    assert_true(ntruth > 100);
    assert_int_equal(missing, 0);

    /* the watermark, then the offset */
    assert_int_equal(wt_wm_get(&t, "c1", "trades"), end);
    assert_int_equal(wt_committed(&t, t.t_jobs, 4, 1), 1);

    int64_t took = 0;
    int rc = wt_worker_stop(&wk, SIGTERM, 30000, &took);
    if (rc != 0)
        wt_log_dump(&wk);
    assert_int_equal(rc, 0);
    printf("# SIGTERM: exit %d after %lld ms\n", rc, (long long)took);
    wt_reader_close(&rd);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    wt_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_window)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
