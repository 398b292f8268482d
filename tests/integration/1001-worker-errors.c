/* The error classes that end or reshape a job, against wdt-sandbox, Redis and the local
 * Kafka: a report the app may not call is dead-lettered as `permission` and marked blocked
 * while another report of the same connection goes on; a wrong secret is dead-lettered as
 * `auth` and the connection marked auth_failed; malformed jobs (not JSON, unknown
 * connection, unknown report) are dead-lettered as `malformed` and the worker goes on; a
 * window wider than the API allows is split in halves, and so is one whose total_count
 * exceeds worker.max.records.per.job (twice over); every message of the jobs topic,
 * including the halves, ends committed, and the watermarks reach the windows' ends. */
#include "wdts_test_worker.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "wdts/catalog.h"
#include "wdts/redis.h"
#include "wdts/time.h"
#include "wdts_test.h"

static struct wdts_catalog *cat;

static void write_tenants(const char *path)
{
    json_t *perms = json_array();
    for (size_t i = 0; i < wdts_catalog_count(cat); i++) {
        const char *m = wdts_catalog_at(cat, i)->method;
        if (strcmp(m, "aftersales.refund.Refund.search") != 0)
            json_array_append_new(perms, json_string(m));
    }
    json_t *t = json_pack("[{s:s,s:s,s:s,s:o,s:i,s:i},{s:s,s:s,s:s,s:i,s:i}]", "sid", "ok-shop",
                          "appkey", "ok-app", "appsecret", "ok-secret:ok-salt", "permissions",
                          perms, "orders_per_day", 4000, "seed", 21, "sid", "busy-shop", "appkey",
                          "busy-app", "appsecret", "busy-secret:busy-salt", "orders_per_day",
                          20000, "seed", 22);
    assert_int_equal(json_dump_file(t, path, 0), 0);
    json_decref(t);
}

static const char *hget(struct wt *t, const char *key, const char *field)
{
    static char val[2048];
    struct wdts_redis_reply *r = NULL;
    assert_int_equal(wdts_redis_commandl(t->redis, &r, "HGET", key, field, NULL), WDTS_OK);
    const char *s = wdts_redis_reply_str(r, NULL);
    snprintf(val, sizeof(val), "%s", s ? s : "");
    wdts_redis_reply_free(r);
    return s ? val : NULL;
}

static void test_errors(void **state)
{
    (void)state;
    char es[512];
    cat = wdts_catalog_new(NULL, es, sizeof(es));
    assert_non_null(cat);
    struct wt t;
    struct sbx_proc sbx;
    wt_init(&t, 4, 8);
    char tenants[512];
    snprintf(tenants, sizeof(tenants), "%s/tenants.json", t.dir);
    write_tenants(tenants);
    const char *args[] = {"--tenants", tenants, NULL};
    assert_int_equal(wt_sbx_start(&sbx, args), 0);
    char gw[160];
    snprintf(gw, sizeof(gw), "%s/openapi", sbx.base);

    const char *both[] = {"trades", "refunds", NULL}, *trades[] = {"trades", NULL};
    struct wt_conn_opts ok = {.id = "c-ok", .tenant = "ta", .sid = "ok-shop", .appkey = "ok-app",
                              .appsecret = "ok-secret:ok-salt", .gateway = gw, .reports = both,
                              .rate = 20, .burst = 5, .concurrency = 2};
    struct wt_conn_opts bad = ok, busy = ok;
    bad.id = "c-bad";
    bad.tenant = "tb";
    bad.appsecret = "wrong-secret:ok-salt";
    bad.reports = trades;
    busy.id = "c-busy";
    busy.tenant = "tc";
    busy.sid = "busy-shop";
    busy.appkey = "busy-app";
    busy.appsecret = "busy-secret:busy-salt";
    busy.reports = trades;
    wt_conn_add(&t, &ok);
    wt_conn_add(&t, &bad);
    wt_conn_add(&t, &busy);

    int64_t h = wdts_time_now() / 3600 * 3600;
    int64_t w1 = h - 5 * 3600, w1e = w1 + WT_WINDOW, w3e = w1e + 2 * WT_WINDOW;
    wt_wm_init(&t, "c-ok", "trades", w1);
    wt_wm_init(&t, "c-busy", "trades", w1);

    struct wt_reader rd, dlq;
    wt_reader_open(&t, &rd, t.t_records);
    wt_reader_open(&t, &dlq, t.t_dlq);
    const char *extra[] = {"WDT_WORKER_MAX_RECORDS_PER_JOB=500", NULL};
    struct wt_worker wk;
    wt_worker_start(&t, &wk, extra);

    struct wdts_job j;
    wt_emit(&t, "ta", "c-ok", "refunds", w1, w1e, NULL);   /* permission */
    wt_emit(&t, "ta", "c-ok", "trades", w1, w1e, &j);      /* fine */
    char ok_id[WDTS_JOB_ID_LEN];
    snprintf(ok_id, sizeof(ok_id), "%s", j.job_id);
    wt_emit(&t, "tb", "c-bad", "trades", w1, w1e, NULL);   /* auth */
    wt_emit(&t, "tb", "c-bad", "trades", w1e, w1e + WT_WINDOW, NULL); /* auth */
    wt_emit_raw(&t, "junk", "this is not json");          /* malformed */
    wt_emit(&t, "ta", "nope", "trades", w1, w1e, NULL);    /* malformed: no such connection */
    wt_emit(&t, "ta", "c-ok", "nosuchreport", w1, w1e, NULL); /* malformed: no such report */
    wt_emit(&t, "ta", "c-ok", "trades", w1e, w3e, NULL);   /* two windows: too wide → halves */
    wt_emit(&t, "tc", "c-busy", "trades", w1, w1e, NULL);  /* ~1600 > 500 → quarters */

    /* markers: c-ok's hour, the two halves of its 2 h window, c-busy's four quarters */
    char ids[7][WDTS_JOB_ID_LEN];
    const char *idp[7];
    snprintf(ids[0], sizeof(ids[0]), "%s", ok_id);
    wdts_job_id_format("c-ok", "trades", w1e, w1e + WT_WINDOW, ids[1], sizeof(ids[1]));
    wdts_job_id_format("c-ok", "trades", w1e + WT_WINDOW, w3e, ids[2], sizeof(ids[2]));
    for (int q = 0; q < 4; q++)
        wdts_job_id_format("c-busy", "trades", w1 + q * WT_WINDOW / 4,
                           w1 + (q + 1) * WT_WINDOW / 4, ids[3 + q], sizeof(ids[3 + q]));
    for (int i = 0; i < 7; i++)
        idp[i] = ids[i];
    if (!wt_wait_markers(&rd, idp, 7, 180000)) {
        wt_log_dump(&wk);
        for (int i = 0; i < 7; i++)
            fprintf(stderr, "marker %s: %s\n", ids[i], wt_marker(&rd, ids[i]) ? "yes" : "MISSING");
        fail_msg("markers missing");
    }
    for (int i = 3; i < 7; i++) {
        long long n = json_integer_value(json_object_get(wt_marker(&rd, ids[i]), "records"));
        assert_true(n > 0 && n <= 500);
    }

    /* dead letters: permission, 2 × auth, 3 × malformed */
    int64_t t0 = wdts_time_mono_ms();
    while (dlq.n < 6 && wdts_time_mono_ms() - t0 < 60000)
        wt_reader_poll(&dlq, 500);
    int perm = 0, auth = 0, malformed = 0;
    for (size_t i = 0; i < dlq.n; i++) {
        json_t *b = dlq.v[i].body;
        const char *cls = json_string_value(json_object_get(b, "error"));
        const char *msg = json_string_value(json_object_get(b, "message"));
        assert_non_null(cls);
        assert_true(msg && *msg);
        assert_non_null(json_object_get(b, "job"));
        assert_non_null(json_object_get(b, "time"));
        assert_true(json_integer_value(json_object_get(b, "attempts")) >= 1);
        printf("# dead letter %s: %.160s\n", cls, msg);
        if (strcmp(cls, "permission") == 0) {
            perm++;
            assert_non_null(strstr(msg, "ok-shop"));
            assert_non_null(strstr(msg, "应用管理"));
        } else if (strcmp(cls, "auth") == 0) {
            auth++;
        } else if (strcmp(cls, "malformed") == 0) {
            malformed++;
        }
    }
    assert_int_equal(perm, 1);
    assert_int_equal(auth, 2);
    assert_int_equal(malformed, 3);

    /* connection state: blocked report, auth_failed connection */
    char key[256];
    snprintf(key, sizeof(key), "%sconnstate:c-ok", t.rprefix);
    assert_non_null(hget(&t, key, "report:refunds"));
    snprintf(key, sizeof(key), "%sconnstate:c-bad", t.rprefix);
    assert_non_null(hget(&t, key, "auth"));

    /* watermarks over every half; offsets of all 9 jobs + 2 + 2 + 4 halves committed */
    assert_int_equal(wt_wm_get(&t, "c-ok", "trades"), w3e);
    assert_int_equal(wt_wm_get(&t, "c-busy", "trades"), w1e);
    assert_int_equal(wt_committed(&t, t.t_jobs, 4, 17), 17);
    assert_true(wt_log_has(&wk, "split in halves"));

    assert_int_equal(wt_worker_stop(&wk, SIGTERM, 30000, NULL), 0);
    wt_reader_close(&rd);
    wt_reader_close(&dlq);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    wt_deinit(&t);
    wdts_catalog_destroy(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_errors)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
