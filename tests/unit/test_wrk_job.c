/* The worker's pure decisions (worker/wrk_job.c): job checks against the catalog, request
 * parameters, the paging order of docs/DESIGN.md §3, primary keys and the dedupe set, the pii
 * policies at any depth, the record, marker and dead-letter wire forms, splitting and the
 * backoff. No network. */
#include "wdts_test.h"

#include <stdlib.h>
#include <string.h>

#include "wdts/catalog.h"
#include "wdts/crypto.h"
#include "wdts/mem.h"
#include "wrk_job.h"

#define T0 1700000000LL /* 2023-11-15T06:13:20+08:00 */

static struct wdts_catalog *cat;
static struct wdts_catalog *composite; /* one report keyed by five fields */

static const char composite_json[] =
    "[{\"name\":\"moves\",\"description\":\"d\",\"kind\":\"incremental\",\"method\":\"a.B.c\","
    "\"qimen_method\":\"wdt.a.b.c\",\"time\":{\"start\":\"start_date\",\"end\":\"end_date\","
    "\"basis\":\"created\"},\"max_span_s\":3600,\"page_size\":100,\"max_page_size\":200,"
    "\"list_key\":\"data\",\"pk\":[\"warehouse_no\",\"stockio_no\",\"spec_no\",\"type\",\"created\"],"
    "\"modified\":{\"field\":\"created\",\"format\":\"datetime\"},\"group\":\"stock\"}]";

static int setup(void **state)
{
    (void)state;
    char es[512];
    cat = wdts_catalog_new(NULL, es, sizeof(es));
    composite = wdts_catalog_new_from_json(composite_json, sizeof(composite_json) - 1, "test",
                                           es, sizeof(es));
    return cat && composite ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    wdts_catalog_destroy(cat);
    wdts_catalog_destroy(composite);
    return 0;
}

static void encode(const struct wdts_job *job, struct wdts_buf *b)
{
    wdts_buf_init(b);
    wdts_job_encode(job, b);
}

static void test_check(void **state)
{
    (void)state;
    char es[256];
    struct wdts_job job, got;
    const struct wdts_catalog_report *rep = NULL;
    assert_int_equal(wdts_job_init(&job, "t1", "c1", "trades", T0, T0 + 3600,
                                   WDTS_JOB_INCREMENTAL, 1, T0, es, sizeof(es)),
                     WDTS_OK);
    struct wdts_buf b;
    encode(&job, &b);
    assert_int_equal(wrk_job_check(b.data, b.len, cat, &got, &rep, es, sizeof(es)), WDTS_OK);
    assert_string_equal(rep->name, "trades");
    assert_string_equal(got.job_id, job.job_id);
    wdts_buf_deinit(&b);

    assert_int_equal(wrk_job_check("nope", 4, cat, &got, &rep, es, sizeof(es)), WDTS_ERR_JSON);
    assert_int_equal(wrk_job_check(NULL, 0, cat, &got, &rep, es, sizeof(es)), WDTS_ERR_JSON);
    assert_non_null(strstr(es, "empty"));
    assert_int_equal(wrk_job_check("{\"v\":1}", 7, cat, &got, &rep, es, sizeof(es)),
                     WDTS_ERR_INVAL);

    assert_int_equal(wdts_job_init(&job, "t1", "c1", "nosuch", T0, T0 + 3600,
                                   WDTS_JOB_INCREMENTAL, 1, T0, es, sizeof(es)),
                     WDTS_OK);
    encode(&job, &b);
    assert_int_equal(wrk_job_check(b.data, b.len, cat, &got, &rep, es, sizeof(es)),
                     WDTS_ERR_NOTFOUND);
    assert_non_null(strstr(es, "nosuch"));
    wdts_buf_deinit(&b);
}

static void test_params(void **state)
{
    (void)state;
    char es[256];
    struct wdts_job job;
    assert_int_equal(wdts_job_init(&job, "t1", "c1", "trades", T0, T0 + 3600,
                                   WDTS_JOB_INCREMENTAL, 1, T0, es, sizeof(es)),
                     WDTS_OK);
    char *p = wrk_job_params(wdts_catalog_get(cat, "trades"), &job, 0);
    /* the start a second early: no record of [start, end) is lost whether the gateway reads
     * its bounds as closed, half-open or open */
    assert_string_equal(p, "{\"end_time\":\"2023-11-15 07:13:20\",\"start_time\":"
                           "\"2023-11-15 06:13:19\",\"time_type\":1}");
    assert_int_equal(wrk_job_request_span(&job), 3601);
    free(p);
    p = wrk_job_params(wdts_catalog_get(cat, "refunds"), &job, 0);
    assert_non_null(strstr(p, "\"modified_from\":\"2023-11-15 06:13:19\""));
    free(p);
    /* the refund archive's page names its window start_time/end_time */
    p = wrk_job_params(wdts_catalog_get(cat, "refunds"), &job, 1);
    assert_string_equal(p, "{\"end_time\":\"2023-11-15 07:13:20\",\"start_time\":"
                           "\"2023-11-15 06:13:19\"}");
    free(p);
    /* the trade archive takes the trade query's parameters */
    p = wrk_job_params(wdts_catalog_get(cat, "trades"), &job, 1);
    assert_string_equal(p, "{\"end_time\":\"2023-11-15 07:13:20\",\"start_time\":"
                           "\"2023-11-15 06:13:19\",\"time_type\":1}");
    free(p);
    p = wrk_job_params(wdts_catalog_get(cat, "shops"), &job, 0); /* snapshot: no window */
    assert_string_equal(p, "{}");
    free(p);
}

static void test_paging_order(void **state)
{
    (void)state;
    /* one page: page 0 only */
    assert_int_equal(wrk_job_npages(0, 100), 1);
    assert_int_equal(wrk_job_npages(100, 100), 1);
    assert_int_equal(wrk_job_page_at(1, 0), 0);
    assert_int_equal(wrk_job_page_at(1, 1), -1);
    /* four pages: 0, then 3, 2, 1, then 0 again: ceil(n / size) + 1 calls */
    assert_int_equal(wrk_job_npages(301, 100), 4);
    long long want[] = {0, 3, 2, 1, 0, -1};
    for (int i = 0; i < 6; i++)
        assert_int_equal(wrk_job_page_at(4, i), want[i]);
    assert_int_equal(wrk_job_page_at(4, -1), -1);
}

/* Runs a pager over answers of the given sizes; returns the pages asked, -1 terminated. */
static void pager_walk(int has_total, long long total, const size_t *sizes, size_t n,
                       const long long *want, size_t nwant)
{
    struct wrk_pager p;
    wrk_pager_start(&p);
    size_t i = 0;
    for (; p.page >= 0; i++) {
        assert_true(i < nwant);
        assert_int_equal(p.page, want[i]);
        size_t got = (size_t)p.page < n ? sizes[p.page] : 0;
        wrk_pager_next(&p, has_total, total, got, 100);
    }
    assert_int_equal(i, nwant);
}

static void test_pager(void **state)
{
    (void)state;
    /* a total: the order of wrk_job_page_at() */
    size_t four[] = {100, 100, 100, 1};
    long long with_total[] = {0, 3, 2, 1, 0};
    pager_walk(1, 301, four, 4, with_total, 5);
    size_t one[] = {40};
    long long single[] = {0};
    pager_walk(1, 40, one, 1, single, 1);
    /* no total: a short first page is the only page */
    pager_walk(0, 0, one, 1, single, 1);
    /* no total, full pages: forward until a short page, then back down to page 0 (the
     * silent truncation was to take the full first page for the only one) */
    long long nototal[] = {0, 1, 2, 3, 2, 1, 0};
    pager_walk(0, 0, four, 4, nototal, 7);
    /* no total, the last full page followed by an empty one */
    size_t two[] = {100, 100};
    long long empty_end[] = {0, 1, 2, 1, 0};
    pager_walk(0, 0, two, 2, empty_end, 5);
    /* a total on a later page is not read: the first answer decides */
    struct wrk_pager p;
    wrk_pager_start(&p);
    assert_true(wrk_pager_forward(&p, 0));
    assert_false(wrk_pager_forward(&p, 1));
    wrk_pager_next(&p, 0, 0, 100, 100);
    assert_true(wrk_pager_forward(&p, 1));
    assert_int_equal(p.page, 1);
    wrk_pager_next(&p, 1, 0, 100, 100);
    assert_int_equal(p.page, 2);
    assert_false(p.has_total);
}

static void test_answer_check(void **state)
{
    (void)state;
    const struct wdts_catalog_report *rep = wdts_catalog_get(cat, "trades");
    char es[300];
    json_t *ok = json_pack("{s:i,s:[]}", "total_count", 0, "order");
    json_t *nolist = json_pack("{s:i}", "total_count", 5);
    json_t *notlist = json_pack("{s:{}}", "order");
    json_t *nulllist = json_pack("{s:n}", "order");
    json_t *empty = json_object();
    assert_int_equal(wrk_job_answer_check(rep, ok, 1, 1, 0, es, sizeof(es)), 0);
    /* the list absent while total_count says 5: never a window of 0 records */
    assert_int_equal(wrk_job_answer_check(rep, nolist, 1, 1, 5, es, sizeof(es)), -1);
    assert_non_null(strstr(es, "data.order"));
    assert_non_null(strstr(es, "5"));
    assert_int_equal(wrk_job_answer_check(rep, notlist, 1, 0, 0, es, sizeof(es)), -1);
    assert_non_null(strstr(es, "not a list"));
    assert_int_equal(wrk_job_answer_check(rep, NULL, 1, 0, 0, es, sizeof(es)), -1);
    assert_non_null(strstr(es, "no data"));
    assert_int_equal(wrk_job_answer_check(rep, json_null(), 0, 0, 0, es, sizeof(es)), -1);
    /* no list and no total on the first page: malformed, not empty */
    assert_int_equal(wrk_job_answer_check(rep, empty, 1, 0, 0, es, sizeof(es)), -1);
    assert_non_null(strstr(es, "neither"));
    /* no list with a total of 0, or on a later page (asked without calc_total): no rows */
    assert_int_equal(wrk_job_answer_check(rep, nulllist, 1, 1, 0, es, sizeof(es)), 0);
    assert_int_equal(wrk_job_answer_check(rep, empty, 0, 0, 0, es, sizeof(es)), 0);
    assert_int_equal(wrk_job_answer_check(rep, empty, 0, 1, 3, es, sizeof(es)), -1);
    json_decref(ok);
    json_decref(nolist);
    json_decref(notlist);
    json_decref(nulllist);
    json_decref(empty);
}

static void test_pk_and_set(void **state)
{
    (void)state;
    char es[256];
    struct wdts_buf b;
    wdts_buf_init(&b);
    json_t *rec = json_pack("{s:I,s:s}", "trade_id", (json_int_t)123456789012LL, "x", "y");
    assert_int_equal(wrk_job_pk(wdts_catalog_get(cat, "trades"), rec, &b, es, sizeof(es)),
                     WDTS_OK);
    assert_string_equal(wdts_buf_str(&b), "123456789012");
    json_decref(rec);
    rec = json_pack("{s:s,s:s,s:s,s:i,s:s}", "warehouse_no", "W1", "stockio_no", "IO9",
                    "spec_no", "S1", "type", 3, "created", "2023-11-15 06:00:00");
    /* stock_changes: rec_id when the row has it, else its composite fallback key */
    const struct wdts_catalog_report *sc = wdts_catalog_get(cat, "stock_changes");
    assert_int_equal(wrk_job_pk(sc, rec, &b, es, sizeof(es)), WDTS_OK);
    assert_string_equal(wdts_buf_str(&b), "W1:IO9:S1:3:2023-11-15 06:00:00");
    json_object_set_new(rec, "rec_id", json_integer(77));
    assert_int_equal(wrk_job_pk(sc, rec, &b, es, sizeof(es)), WDTS_OK);
    assert_string_equal(wdts_buf_str(&b), "77");
    json_object_set_new(rec, "rec_id", json_null()); /* present but unusable: no fallback */
    assert_int_equal(wrk_job_pk(sc, rec, &b, es, sizeof(es)), WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "rec_id"));
    json_object_del(rec, "rec_id");
    assert_int_equal(wrk_job_pk(wdts_catalog_get(composite, "moves"), rec, &b, es, sizeof(es)),
                     WDTS_OK);
    assert_string_equal(wdts_buf_str(&b), "W1:IO9:S1:3:2023-11-15 06:00:00");
    json_decref(rec);
    rec = json_pack("{s:n}", "trade_id");
    assert_int_equal(wrk_job_pk(wdts_catalog_get(cat, "trades"), rec, &b, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "trade_id"));
    json_decref(rec);
    wdts_buf_deinit(&b);

    struct wrk_pkset s;
    wrk_pkset_init(&s);
    char k[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof(k), "%d", i);
        assert_int_equal(wrk_pkset_add(&s, k), 1);
    }
    for (int i = 0; i < 5000; i += 7) {
        snprintf(k, sizeof(k), "%d", i);
        assert_int_equal(wrk_pkset_add(&s, k), 0);
    }
    assert_int_equal(s.n, 5000);
    wrk_pkset_deinit(&s);
}

static void test_pii(void **state)
{
    (void)state;
    const struct wdts_catalog_report *rep = wdts_catalog_get(cat, "trades");
    const char *key = "0123456789abcdef-pii-key";
    const char *text = "{\"trade_id\":1,\"receiver_name\":\"张三\",\"buyer_nick\":\"\","
                       "\"receiver_mobile\":null,\"detail_list\":[{\"rec_id\":1,"
                       "\"receiver_name\":\"李四\"}],\"goods_amount\":\"9.90\"}";
    json_t *keep = json_loads(text, 0, NULL), *hash = json_loads(text, 0, NULL),
           *drop = json_loads(text, 0, NULL);
    assert_int_equal(wrk_job_pii(keep, &rep->pii, WDTS_CONN_PII_KEEP, key, strlen(key), "t1"),
                     WDTS_OK);
    assert_string_equal(json_string_value(json_object_get(keep, "receiver_name")), "张三");

    assert_int_equal(wrk_job_pii(hash, &rep->pii, WDTS_CONN_PII_HASH, key, strlen(key), "t1"),
                     WDTS_OK);
    char want[WDTS_CRYPTO_SHA256_HEX_SIZE];
    assert_int_equal(wdts_pii_hash(key, strlen(key), "t1", "张三", want), WDTS_OK);
    assert_string_equal(json_string_value(json_object_get(hash, "receiver_name")), want);
    assert_string_equal(json_string_value(json_object_get(hash, "buyer_nick")), ""); /* "" kept */
    assert_true(json_is_null(json_object_get(hash, "receiver_mobile")));
    json_t *d0 = json_array_get(json_object_get(hash, "detail_list"), 0);
    assert_int_equal(strlen(json_string_value(json_object_get(d0, "receiver_name"))), 64);
    assert_string_equal(json_string_value(json_object_get(hash, "goods_amount")), "9.90");

    assert_int_equal(wrk_job_pii(drop, &rep->pii, WDTS_CONN_PII_DROP, key, strlen(key), "t1"),
                     WDTS_OK);
    assert_null(json_object_get(drop, "receiver_name"));
    assert_null(json_object_get(drop, "receiver_mobile"));
    d0 = json_array_get(json_object_get(drop, "detail_list"), 0);
    assert_null(json_object_get(d0, "receiver_name"));
    assert_non_null(json_object_get(d0, "rec_id"));
    json_decref(keep);
    json_decref(hash);
    json_decref(drop);
}

static void test_wire_forms(void **state)
{
    (void)state;
    char es[256];
    struct wdts_job job;
    assert_int_equal(wdts_job_init(&job, "t\"1", "c1", "trades", T0, T0 + 3600,
                                   WDTS_JOB_INCREMENTAL, 1, T0, es, sizeof(es)),
                     WDTS_ERR_INVAL); /* names are checked by the codec */
    assert_int_equal(wdts_job_init(&job, "t1", "c1", "trades", T0, T0 + 3600,
                                   WDTS_JOB_INCREMENTAL, 1, T0, es, sizeof(es)),
                     WDTS_OK);
    struct wrk_envctx ctx = {&job, "wdt", T0 + 7200};
    json_t *data = json_pack("{s:i,s:s}", "trade_id", 7, "note", "a\"b");
    struct wdts_buf b;
    wdts_buf_init(&b);
    wrk_job_envelope(&b, &ctx, "7", data);
    json_t *env = json_loads(wdts_buf_str(&b), 0, NULL);
    assert_non_null(env);
    assert_int_equal(json_integer_value(json_object_get(env, "v")), 1);
    assert_string_equal(json_string_value(json_object_get(env, "pk")), "7");
    assert_string_equal(json_string_value(json_object_get(env, "op")), "upsert");
    assert_string_equal(json_string_value(json_object_get(env, "source")), "wdt");
    assert_string_equal(json_string_value(json_object_get(env, "job_id")), job.job_id);
    assert_string_equal(json_string_value(json_object_get(json_object_get(env, "window"),
                                                          "start")),
                        "2023-11-15T06:13:20+08:00");
    assert_string_equal(json_string_value(json_object_get(env, "extracted_at")),
                        "2023-11-15T08:13:20+08:00");
    assert_true(json_equal(json_object_get(env, "data"), data));
    json_decref(env);
    wdts_buf_reset(&b);
    wrk_job_record_key(&b, &job, "7");
    assert_string_equal(wdts_buf_str(&b), "c1:trades:7");

    wdts_buf_reset(&b);
    wrk_job_marker(&b, &ctx, 10, 3, 4, 11, 1);
    json_t *m = json_loads(wdts_buf_str(&b), 0, NULL);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "type")), "window");
    assert_int_equal(json_integer_value(json_object_get(m, "records")), 10);
    assert_int_equal(json_integer_value(json_object_get(m, "api_total")), 11);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "complete");
    json_decref(m);
    wdts_buf_reset(&b);
    /* answers without a total_count: api_total is null, not a made-up count */
    wrk_job_marker(&b, &ctx, 10, 3, 4, -1, 1);
    m = json_loads(wdts_buf_str(&b), 0, NULL);
    assert_non_null(m);
    assert_true(json_is_null(json_object_get(m, "api_total")));
    json_decref(m);
    wdts_buf_reset(&b);
    wrk_job_marker_key(&b, &job);
    assert_string_equal(wdts_buf_str(&b), "c1:trades#window:1700000000:1700003600");

    /* dead letters keep the original: as JSON when it is an object, else as text */
    struct wrk_dlq_src src = {"wdt.jobs", 2, 41};
    wdts_buf_reset(&b);
    wrk_job_dlq(&b, "{\"a\":1}", 7, "auth", "fix it", 3, T0, &src);
    json_t *d = json_loads(wdts_buf_str(&b), 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "job"), "a")), 1);
    assert_string_equal(json_string_value(json_object_get(d, "error")), "auth");
    assert_string_equal(json_string_value(json_object_get(d, "message")), "fix it");
    assert_int_equal(json_integer_value(json_object_get(d, "attempts")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(d, "source"), "offset")),
                     41);
    json_decref(d);
    wdts_buf_reset(&b);
    wrk_job_dlq(&b, "not json", 8, "malformed", "x", 1, T0, NULL);
    d = json_loads(wdts_buf_str(&b), 0, NULL);
    assert_string_equal(json_string_value(json_object_get(d, "job")), "not json");
    json_decref(d);
    wdts_buf_reset(&b);
    wrk_job_dlq(&b, "\xff\xfe", 2, "malformed", "x", 1, T0, NULL);
    d = json_loads(wdts_buf_str(&b), 0, NULL);
    assert_non_null(d); /* still valid JSON */
    json_decref(d);
    wdts_buf_deinit(&b);
    json_decref(data);
}

/* The pk of a record alone in a page, read as the worker reads it: the page scanned
 * once with the pk members noted, then wrk_job_pk_item. @returns 0, or -1 (refused). */
static int pk_item(const struct wdts_catalog_report *rep, const char *rec, size_t n,
                   struct wdts_buf *out)
{
    struct wdts_buf body;
    struct wdts_jscan_list list;
    wdts_buf_init(&body);
    wdts_buf_append_str(&body, "{\"status\":0,\"data\":{\"order\":[");
    wdts_buf_append(&body, rec, n);
    wdts_buf_append_str(&body, "]}}");
    int rc = -1;
    if (wdts_jscan_answer(body.data, body.len, "order", (const char *const *)rep->pk.v,
                          rep->pk.n, 0, &list) == 0) {
        if (list.n == 1) /* an empty record makes an empty list */
            rc = wrk_job_pk_item(rep, body.data, &list.items[0], out);
        wdts_jscan_list_deinit(&list);
    }
    wdts_buf_deinit(&body);
    return rc;
}

/* wrk_job_pk_item: the same text as wrk_job_pk on the parsed record, or -1. */
static void test_pk_item(void **state)
{
    (void)state;
    char es[256];
    struct wdts_buf a, b;
    wdts_buf_init(&a);
    wdts_buf_init(&b);
    const struct wdts_catalog_report *trades = wdts_catalog_get(cat, "trades");
    const struct wdts_catalog_report *sc = wdts_catalog_get(composite, "moves");
    struct {
        const struct wdts_catalog_report *rep;
        const char *rec;
        const char *want; /* NULL: -1 (parse and use wrk_job_pk) */
    } cases[] = {
        {trades, "{\"trade_id\":123456789012,\"x\":\"y\"}", "123456789012"},
        {trades, " {\n\"x\" : {\"trade_id\":9} ,\t\"trade_id\" :\r-42 } ", "-42"},
        {trades, "{\"trade_id\":\"0042\"}", "0042"}, /* a number as a string stays as sent */
        {trades, "{\"trade_id\":\"订单 A\"}", "订单 A"},
        {trades, "{\"trade_id\":true}", "true"},
        {trades, "{\"trade_id\":0}", "0"},
        {sc, "{\"warehouse_no\":\"W1\",\"stockio_no\":\"IO9\",\"spec_no\":\"S1\",\"type\":3,"
             "\"created\":\"2023-11-15 06:00:00\"}",
         "W1:IO9:S1:3:2023-11-15 06:00:00"},
        {trades, "{\"trade_id\":\"a\\\"b\"}", NULL},          /* escape */
        {trades, "{\"trade_id\":1.0}", NULL},                   /* a real: %.17g */
        {trades, "{\"trade_id\":1e3}", NULL},
        {trades, "{\"trade_id\":-0}", NULL},
        {trades, "{\"trade_id\":null}", NULL},
        {trades, "{\"trade_id\":{\"a\":1}}", NULL},
        {trades, "{\"trade_id\":1,\"trade_id\":2}", NULL},     /* jansson keeps the last */
        {trades, "{\"trad\\u0065_id\":1}", NULL},              /* an escaped key */
        {trades, "{\"x\":1}", NULL},
        {trades, "[1]", NULL},
        {trades, "{\"trade_id\":1", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].rec);
        int rc = pk_item(cases[i].rep, cases[i].rec, n, &a);
        if (cases[i].want == NULL) {
            assert_int_equal(rc, -1);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_string_equal(wdts_buf_str(&a), cases[i].want);
        json_t *rec = json_loadb(cases[i].rec, n, 0, NULL);
        assert_non_null(rec);
        assert_int_equal(wrk_job_pk(cases[i].rep, rec, &b, es, sizeof(es)), WDTS_OK);
        assert_string_equal(wdts_buf_str(&a), wdts_buf_str(&b));
        json_decref(rec);
    }
    /* every truncation of a good record is refused */
    const char *rec = "{\"trade_id\":\"T1\",\"n\":[1,{\"a\":\"]\"}]}";
    for (size_t cut = 0; cut < strlen(rec); cut++)
        assert_int_equal(pk_item(trades, rec, cut, &a), -1);
    wdts_buf_deinit(&a);
    wdts_buf_deinit(&b);
}

static void test_split_and_backoff(void **state)
{
    (void)state;
    char es[256];
    struct wdts_job job, a, b;
    assert_int_equal(wdts_job_init(&job, "t1", "c1", "trades", T0, T0 + 7200,
                                   WDTS_JOB_BACKFILL, 3, T0, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wrk_job_split(&job, T0 + 9, 60, 8, 30000, &a, &b, es, sizeof(es)), WDTS_OK);
    assert_int_equal(a.split_depth, 1);
    assert_int_equal(b.parent_total, 30000);
    assert_int_equal(a.start, T0);
    assert_int_equal(a.end, T0 + 3600);
    assert_int_equal(b.start, T0 + 3600);
    assert_int_equal(b.end, T0 + 7200);
    assert_int_equal(a.kind, WDTS_JOB_BACKFILL);
    assert_int_equal(a.attempt, 1);
    assert_string_equal(b.job_id, "c1:trades:1700003600:1700007200");
    assert_int_equal(wdts_job_init(&job, "t1", "c1", "trades", T0, T0 + 1, WDTS_JOB_BACKFILL, 1,
                                   T0, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wrk_job_split(&job, T0, 1, 8, -1, &a, &b, es, sizeof(es)), WDTS_ERR_INVAL);

    /* a lying total: halves do not shrink → not split again; depth and width bound the rest */
    struct wdts_job h, h2;
    assert_int_equal(wdts_job_init(&job, "t1", "c1", "trades", T0, T0 + 3540,
                                   WDTS_JOB_INCREMENTAL, 1, T0, es, sizeof(es)),
                     WDTS_OK);
    assert_true(wrk_job_total_shrinks(&job, 1, 1000000000));
    assert_int_equal(wrk_job_split(&job, T0, 60, 8, 1000000000, &h, &h2, es, sizeof(es)), WDTS_OK);
    assert_false(wrk_job_total_shrinks(&h, 1, 1000000000));
    assert_true(wrk_job_total_shrinks(&h, 1, 999999999));
    assert_true(wrk_job_total_shrinks(&h, 0, 0));
    /* the halves survive the wire */
    struct wdts_buf wire;
    wdts_buf_init(&wire);
    wdts_job_encode(&h2, &wire);
    struct wdts_job back;
    assert_int_equal(wdts_job_decode(wire.data, wire.len, &back, es, sizeof(es)), WDTS_OK);
    assert_int_equal(back.split_depth, 1);
    assert_int_equal(back.parent_total, 1000000000);
    wdts_buf_deinit(&wire);
    /* "too wide" for ever: every level splits, the minimum width ends it: 2^5 windows of
     * 110 s from 3540 s, 63 calls in all */
    struct wdts_job lvl = job;
    int depth = 0;
    while (wrk_job_split(&lvl, T0, 60, 8, -1, &h, &h2, es, sizeof(es)) == WDTS_OK) {
        lvl = h;
        depth++;
    }
    assert_int_equal(depth, 5);
    assert_non_null(strstr(es, "worker.split.min.window"));
    lvl = job;
    depth = 0;
    while (wrk_job_split(&lvl, T0, 1, 3, -1, &h, &h2, es, sizeof(es)) == WDTS_OK) {
        lvl = h;
        depth++;
    }
    assert_int_equal(depth, 3);
    assert_non_null(strstr(es, "worker.split.max.depth"));

    int64_t prev = 0;
    for (int i = 1; i <= 12; i++) {
        int64_t d = wrk_job_backoff_ms(i, 1000, 60000, 0);
        assert_true(d >= prev && d <= 60000);
        prev = d;
        int64_t j = wrk_job_backoff_ms(i, 1000, 60000, 123456789u);
        assert_true(j <= d && j >= d - d / 4);
    }
    assert_int_equal(wrk_job_backoff_ms(1, 1000, 60000, 0), 1000);
    assert_int_equal(wrk_job_backoff_ms(30, 1000, 60000, 0), 60000);
}

/* The history (历史) pass: which windows read it, what a refusal does, the marker's counts. */
static void test_history_plan(void **state)
{
    (void)state;
    char es[256];
    const int64_t day = 86400, H = 90 * day, now = T0 + 200 * day;
    const struct wdts_catalog_report *trades = wdts_catalog_get(cat, "trades");
    const struct wdts_catalog_report *po = wdts_catalog_get(cat, "purchase_orders");
    const struct wdts_catalog_report *shops = wdts_catalog_get(cat, "shops");
    assert_non_null(trades);
    assert_string_equal(trades->history_method, "sales.TradeQuery.queryHistoryWithDetail");
    assert_string_equal(trades->history_qimen_method,
                        "wdt.sales.tradequery.queryhistorywithdetail");
    struct wdts_job recent, old, edge;
    /* recent: starts a day ago; old: 100 days ago; edge: 84 days ago, inside the 7-day margin */
    assert_int_equal(wdts_job_init(&recent, "t1", "c1", "trades", now - day, now - day + 3540,
                                   WDTS_JOB_INCREMENTAL, 1, now, es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_job_init(&old, "t1", "c1", "trades", now - 100 * day,
                                   now - 100 * day + 3540, WDTS_JOB_BACKFILL, 1, now, es,
                                   sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_job_init(&edge, "t1", "c1", "trades", now - 84 * day,
                                   now - 84 * day + 3540, WDTS_JOB_BACKFILL, 1, now, es,
                                   sizeof(es)), WDTS_OK);
    assert_false(wrk_job_archive_old(&recent, H, now));
    assert_true(wrk_job_archive_old(&old, H, now));
    assert_true(wrk_job_archive_old(&edge, H, now)); /* 84 > 90 - 7 days */
    struct wdts_job later = edge;
    later.start = now - 82 * day;
    assert_false(wrk_job_archive_old(&later, H, now));

    /* all: every window; old: only old ones; off: none */
    assert_int_equal(wrk_job_hist_plan(trades, &recent, WDTS_CONN_ARCHIVE_ALL, H, 0, now),
                     WRK_HIST_READ);
    assert_int_equal(wrk_job_hist_plan(trades, &old, WDTS_CONN_ARCHIVE_ALL, H, 0, now),
                     WRK_HIST_READ);
    assert_int_equal(wrk_job_hist_plan(trades, &recent, WDTS_CONN_ARCHIVE_OLD, H, 0, now),
                     WRK_HIST_NONE);
    assert_int_equal(wrk_job_hist_plan(trades, &old, WDTS_CONN_ARCHIVE_OLD, H, 0, now),
                     WRK_HIST_READ);
    assert_int_equal(wrk_job_hist_plan(trades, &old, WDTS_CONN_ARCHIVE_OFF, H, 0, now),
                     WRK_HIST_NONE);
    /* refused: a recent window is finished from the normal method, an old one fails */
    assert_int_equal(wrk_job_hist_plan(trades, &recent, WDTS_CONN_ARCHIVE_ALL, H, 1, now),
                     WRK_HIST_SKIP);
    assert_int_equal(wrk_job_hist_plan(trades, &old, WDTS_CONN_ARCHIVE_ALL, H, 1, now),
                     WRK_HIST_FAIL);
    assert_int_equal(wrk_job_hist_plan(trades, &old, WDTS_CONN_ARCHIVE_OLD, H, 1, now),
                     WRK_HIST_FAIL);
    assert_int_equal(wrk_job_hist_plan(trades, &recent, WDTS_CONN_ARCHIVE_OLD, H, 1, now),
                     WRK_HIST_NONE);
    assert_int_equal(wrk_job_hist_plan(trades, &old, WDTS_CONN_ARCHIVE_OFF, H, 1, now),
                     WRK_HIST_NONE);
    /* a shorter horizon makes the recent window old */
    assert_int_equal(wrk_job_hist_plan(trades, &recent, WDTS_CONN_ARCHIVE_OLD, 2 * day, 0, now),
                     WRK_HIST_READ);
    /* reports without a history method, and snapshots, never read one */
    assert_int_equal(wrk_job_hist_plan(po, &old, WDTS_CONN_ARCHIVE_ALL, H, 0, now),
                     WRK_HIST_NONE);
    assert_int_equal(wrk_job_hist_plan(shops, &old, WDTS_CONN_ARCHIVE_ALL, H, 1, now),
                     WRK_HIST_NONE);

    /* every answer of the history pass carries a total: a change reads the window again,
     * a bounded number of times, then later */
    assert_int_equal(wrk_job_hist_reread(250, 1, 251, 0), WRK_HIST_READ_AGAIN);
    assert_int_equal(wrk_job_hist_reread(250, 1, 249, WRK_HIST_MAX_REREADS - 1),
                     WRK_HIST_READ_AGAIN);
    assert_int_equal(wrk_job_hist_reread(250, 1, 251, WRK_HIST_MAX_REREADS),
                     WRK_HIST_RETRY_LATER);
    assert_int_equal(wrk_job_hist_reread(250, 1, 250, 0), WRK_HIST_GO_ON);
    assert_int_equal(wrk_job_hist_reread(250, 0, 0, 0), WRK_HIST_GO_ON);  /* no total now */
    assert_int_equal(wrk_job_hist_reread(-1, 1, 300, 0), WRK_HIST_GO_ON); /* none at first */

    /* the refusal's message names the window, the method, the sid and the fix */
    struct wdts_conn *c = wdts_conn_new();
    c->id = wdts_xstrdup("c1");
    c->sid = wdts_xstrdup("shop-9");
    char msg[1500];
    wrk_job_hist_refused_msg(msg, sizeof(msg), trades, &old, c, "权限不足");
    assert_non_null(strstr(msg, "sales.TradeQuery.queryHistoryWithDetail"));
    assert_non_null(strstr(msg, "权限不足"));
    assert_non_null(strstr(msg, "sid shop-9"));
    assert_non_null(strstr(msg, "wdtctl connection check --id c1"));
    assert_non_null(strstr(msg, "wdtctl resync --connection c1 --report trades"));
    assert_non_null(strstr(msg, "(90d"));
    wdts_conn_destroy(c);

    /* the marker carries the history pass's own counts; without one, none of them */
    struct wrk_envctx ctx = {&old, "wdt", now};
    struct wrk_hist_counts hc = {4, 2, 3, 5};
    struct wdts_buf b;
    wdts_buf_init(&b);
    wrk_job_marker_hist(&b, &ctx, 9, 3, 5, 6, 2, &hc);
    json_t *m = json_loads(wdts_buf_str(&b), 0, NULL);
    assert_non_null(m);
    assert_int_equal(json_integer_value(json_object_get(m, "records")), 9);
    assert_int_equal(json_integer_value(json_object_get(m, "api_total")), 6);
    assert_int_equal(json_integer_value(json_object_get(m, "history_records")), 4);
    assert_int_equal(json_integer_value(json_object_get(m, "history_pages")), 2);
    assert_int_equal(json_integer_value(json_object_get(m, "history_calls")), 3);
    assert_int_equal(json_integer_value(json_object_get(m, "history_total")), 5);
    json_decref(m);
    wdts_buf_reset(&b);
    hc.total = -1;
    wrk_job_marker_hist(&b, &ctx, 9, 3, 5, 6, 2, &hc);
    m = json_loads(wdts_buf_str(&b), 0, NULL);
    assert_true(json_is_null(json_object_get(m, "history_total")));
    json_decref(m);
    wdts_buf_reset(&b);
    wrk_job_marker(&b, &ctx, 9, 3, 5, 6, 2);
    m = json_loads(wdts_buf_str(&b), 0, NULL);
    assert_null(json_object_get(m, "history_records"));
    assert_null(json_object_get(m, "history_total"));
    json_decref(m);
    wdts_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),        cmocka_unit_test(test_params),
        cmocka_unit_test(test_paging_order), cmocka_unit_test(test_pager),
        cmocka_unit_test(test_answer_check), cmocka_unit_test(test_pk_and_set),
        cmocka_unit_test(test_pii),          cmocka_unit_test(test_wire_forms),
        cmocka_unit_test(test_split_and_backoff), cmocka_unit_test(test_pk_item),
        cmocka_unit_test(test_history_plan),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
