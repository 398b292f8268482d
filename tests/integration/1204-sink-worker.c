/* Producer to consumer: wdt-sandbox → wdt-worker → the local Kafka → wdt-sink-sqlite.
 * The worker fetches one window of trades and one of refunds; the sink then stores them:
 * nothing the sandbox's truth lists for the windows is missing from the report tables,
 * each table holds exactly the marker's record count for its window, both markers are in
 * `windows` as complete, and not one message of the real producer is rejected. Every
 * message the worker wrote is also valid against docs/schemas (docs/schemas/validate.py). */
#include "wdts_test_worker.h"

#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/time.h"
#include "wdts_test.h"
#include "wdts_test_sink.h"

#define TENANTS                                                                                    \
    "[{\"sid\":\"sk-shop\",\"appkey\":\"sk-app\",\"appsecret\":\"sk-secret:sk-salt\","             \
    "\"orders_per_day\":6000,\"seed\":23}]"

static void test_worker_to_sink(void **state)
{
    (void)state;
    struct wt t;
    struct sbx_proc sbx;
    wt_init(&t, 2, 6);
    char tenants_path[512], gw[160];
    wt_sandbox(&t, &sbx, TENANTS, NULL, "/openapi", tenants_path, sizeof(tenants_path), gw,
               sizeof(gw));

    const char *reports[] = {"trades", "refunds", NULL};
    struct wt_conn_opts co = {.id = "c1",
                              .tenant = "t1",
                              .sid = "sk-shop",
                              .appkey = "sk-app",
                              .appsecret = "sk-secret:sk-salt",
                              .gateway = gw,
                              .reports = reports,
                              .rate = 20,
                              .burst = 5,
                              .concurrency = 2,
                              .pii = WDTS_CONN_PII_HASH};
    wt_conn_add(&t, &co);
    int64_t start = wdts_time_now() / 3600 * 3600 - 3 * 3600, end = start + WT_WINDOW;
    wt_wm_init(&t, "c1", "trades", start);
    wt_wm_init(&t, "c1", "refunds", start - 86400);

    struct wt_reader rd;
    wt_reader_open(&t, &rd, t.t_records);
    struct wt_worker wk;
    wt_worker_start(&t, &wk, NULL);
    struct wdts_job jt, jr;
    wt_emit(&t, "t1", "c1", "trades", start, end, &jt);
    wt_emit(&t, "t1", "c1", "refunds", start - 86400, end, &jr);
    const char *ids[] = {jt.job_id, jr.job_id};
    if (!wt_wait_markers(&rd, ids, 2, 180000)) {
        wt_log_dump(&wk);
        fail_msg("no window markers for %s and %s", jt.job_id, jr.job_id);
    }
    int64_t as_of = wdts_time_now();
    long long want[2];
    for (int i = 0; i < 2; i++)
        want[i] = json_integer_value(json_object_get(wt_marker(&rd, ids[i]), "records"));
    /* The real producer's messages against the JSON Schemas. */
    static const char *const kinds[2][2] = {{"wdt.record.v1", "record"},
                                            {"wdt.window.v1", "window-marker"}};
    for (int k = 0; k < 2; k++) {
        char path[400];
        snprintf(path, sizeof(path), "%s/%s.jsonl", t.dir, kinds[k][1]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        size_t n = 0;
        for (size_t i = 0; i < rd.n; i++) {
            if (strcmp(rd.v[i].schema, kinds[k][0]) != 0 || rd.v[i].body == NULL)
                continue;
            char *line = json_dumps(rd.v[i].body, JSON_COMPACT);
            fprintf(f, "%s\n", line);
            free(line);
            n++;
        }
        fclose(f);
        char *argv[] = {"/usr/bin/python3", WDTS_SOURCE_DIR "/docs/schemas/validate.py",
                        (char *)kinds[k][1], path, NULL};
        struct wdts_test_run run;
        assert_int_equal(wdts_test_run(argv, NULL, 120, &run), 0);
        printf("# schema %s: %s", kinds[k][1], run.out);
        if (run.status != 0)
            fprintf(stderr, "%s%s", run.out, run.err);
        assert_int_equal(run.status, 0);
        assert_true(n > 0);
        wdts_test_run_free(&run);
    }
    wt_reader_close(&rd);
    assert_int_equal(wt_worker_stop(&wk, SIGTERM, 30000, NULL), 0);

    /* The sink reads the whole records topic in a group of its own. */
    char db_path[300], log_path[300], group[96];
    snprintf(db_path, sizeof(db_path), "%s/sink.db", t.dir);
    snprintf(log_path, sizeof(log_path), "%s/sink.log", t.dir);
    snprintf(group, sizeof(group), "%ssink", t.prefix);
    const char *extra[] = {"--once-idle", "3", NULL};
    pid_t pid = st_sink_start(t.brokers, db_path, group, t.t_records, log_path, extra);
    int rc = st_sink_wait(pid, 240, log_path);
    assert_int_equal(rc, 0);

    sqlite3 *db = st_db_open(db_path);
    assert_int_equal(st_int(db, "SELECT count(*) FROM rejects", NULL), 0);
    static const char *const rep[2] = {"trades", "refunds"};
    for (int i = 0; i < 2; i++) {
        char sql[256], text[256];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM %s WHERE connection = 'c1' AND job_id = ?1", rep[i]);
        int64_t have = st_int(db, sql, ids[i]);
        st_text(db,
                "SELECT status || '|' || records || '|' || tenant || '|' || source FROM windows "
                "WHERE job_id = ?1",
                ids[i], text, sizeof(text));
        char expect[128];
        snprintf(expect, sizeof(expect), "complete|%lld|t1|wdt", want[i]);
        assert_string_equal(text, expect);
        assert_int_equal(have, want[i]);

        char **pks = NULL;
        int64_t since = i == 0 ? start : start - 86400;
        size_t ntruth = wt_truth(tenants_path, "sk-shop", rep[i], as_of, since, end, &pks);
        size_t missing = 0;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE connection = 'c1' AND pk = ?1",
                 rep[i]);
        for (size_t k = 0; k < ntruth; k++) {
            if (st_int(db, sql, pks[k]) != 1) {
                if (missing++ < 5)
                    fprintf(stderr, "%s: pk %s missing\n", rep[i], pks[k]);
            }
            free(pks[k]);
        }
        free(pks);
        printf("# %s: marker %lld records, %" PRId64 " rows of the window, truth %zu, "
               "missing %zu\n",
               rep[i], want[i], have, ntruth, missing);
        assert_true(ntruth > 0);
        assert_int_equal(missing, 0);
    }
    /* One row per distinct record; a job the worker had to run twice only adds duplicates. */
    assert_int_equal(st_int(db, "SELECT sum(inserted) FROM sink_stats", NULL), want[0] + want[1]);
    printf("# duplicates seen by the sink: %" PRId64 "\n",
           st_int(db, "SELECT sum(duplicates) + sum(stale) FROM sink_stats", NULL));
    sqlite3_close(db);

    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    wt_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_worker_to_sink)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
