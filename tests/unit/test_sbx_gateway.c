/* Unit tests of the sandbox gateway's pure parts: the --faults grammar and its
 * draws, the --clock forms, the method table lookups, query/form decoding, the
 * sliding-minute and in-flight limits, and the demo tenants. */
#include "wdts_test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sbx_clock.h"
#include "sbx_fault.h"
#include "sbx_gateway.h"
#include "sbx_limit.h"
#include "sbx_method.h"
#include "sbx_tenant.h"

static void test_fault_grammar(void **state)
{
    (void)state;
    struct sbx_faults f;
    char es[512];
    assert_int_equal(sbx_faults_parse("latency=20-200ms,http5xx=0.05,hang=0.01,truncate=0.02,"
                                      "status4=0.01,status5=0,status99=1,ratelimit=0.5,"
                                      "http5xx@10s-20s=1.0,seed=7,hangtime=90s",
                                      &f, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(f.n, 9);
    assert_int_equal(f.items[0].kind, SBX_FAULT_LATENCY);
    assert_int_equal(f.items[0].lat_lo_ms, 20);
    assert_int_equal(f.items[0].lat_hi_ms, 200);
    assert_int_equal(f.items[8].from_ms, 10000);
    assert_int_equal(f.items[8].to_ms, 20000);
    assert_int_equal(f.seed, 7);
    assert_int_equal(f.hang_ms, 90000);
    sbx_faults_deinit(&f);

    assert_int_equal(sbx_faults_parse("latency=1s-2s,status4@1m-=1", &f, es, sizeof(es)), WDTS_OK);
    assert_int_equal(f.items[0].lat_lo_ms, 1000);
    assert_int_equal(f.items[0].lat_hi_ms, 2000);
    assert_int_equal(f.items[1].from_ms, 60000);
    assert_true(f.items[1].to_ms < 0);
    sbx_faults_deinit(&f);

    assert_int_equal(sbx_faults_parse("nolist=0.5,badstatus=1", &f, es, sizeof(es)), WDTS_OK);
    assert_int_equal(f.items[0].kind, SBX_FAULT_NOLIST);
    assert_int_equal(f.items[1].kind, SBX_FAULT_BADSTATUS);
    sbx_faults_deinit(&f);

    const char *bad[] = {"http5xx=2",         "latency=5",       "teleport=0.1", "http5xx",
                         "http5xx@20s-10s=1", "http5xx@x-=1",    "latency=200-20ms",
                         "seed=-1",           "status4=0.5,,",   "hangtime=soon"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        es[0] = '\0';
        if (sbx_faults_parse(bad[i], &f, es, sizeof(es)) != WDTS_ERR_INVAL)
            fail_msg("'%s' was accepted", bad[i]);
        assert_non_null(strstr(es, "Grammar"));
    }
    assert_int_equal(sbx_faults_parse(NULL, &f, es, sizeof(es)), WDTS_OK);
    assert_int_equal(f.n, 0);
}

static void test_fault_draws(void **state)
{
    (void)state;
    struct sbx_faults f;
    char es[256];
    struct sbx_fault_draw d;
    assert_int_equal(sbx_faults_parse("latency=50ms,status4@1s-2s=1,status99=1", &f, es, sizeof(es)),
                     WDTS_OK);
    sbx_faults_draw(&f, 500, &d); /* status4 not scheduled yet: status99 fires */
    assert_int_equal(d.kind, SBX_FAULT_STATUS99);
    assert_int_equal(d.latency_ms, 50);
    sbx_faults_draw(&f, 1500, &d); /* the first that fires wins */
    assert_int_equal(d.kind, SBX_FAULT_STATUS4);
    sbx_faults_deinit(&f);

    assert_int_equal(sbx_faults_parse("http5xx=0.25,seed=9", &f, es, sizeof(es)), WDTS_OK);
    int fired = 0;
    for (int i = 0; i < 4000; i++) {
        sbx_faults_draw(&f, 0, &d);
        fired += d.kind == SBX_FAULT_HTTP5XX;
    }
    assert_true(fired > 800 && fired < 1200);
    sbx_faults_deinit(&f);
}

static void test_clock(void **state)
{
    (void)state;
    struct sbx_clock c;
    char es[256];
    assert_int_equal(sbx_clock_parse("frozen:1767225600", &c, es, sizeof(es)), WDTS_OK);
    assert_int_equal(sbx_clock_now(&c), 1767225600);
    assert_int_equal(sbx_clock_parse("speed:3600@1767225600", &c, es, sizeof(es)), WDTS_OK);
    int64_t t = sbx_clock_now(&c);
    assert_true(t >= 1767225600 && t < 1767225600 + 3600);
    assert_int_equal(sbx_clock_parse("real", &c, es, sizeof(es)), WDTS_OK);
    const char *bad[] = {"frozen:", "frozen:x", "speed:0", "speed:-2", "speed:2@", "fast", "speed:nan"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sbx_clock_parse(bad[i], &c, es, sizeof(es)) != WDTS_ERR_INVAL)
            fail_msg("clock '%s' was accepted", bad[i]);
}

static void test_methods(void **state)
{
    (void)state;
    const struct sbx_method *m = sbx_method_find_direct("sales.TradeQuery.queryWithDetail");
    assert_non_null(m);
    assert_string_equal(m->list_key, "order");
    assert_int_equal(m->max_span, 3600);
    assert_ptr_equal(sbx_method_find_qimen("wdt.sales.tradequery.querywithdetail"), m);
    assert_ptr_equal(sbx_method_find_qimen("3ldsmu02o9.wdt.sales.tradequery.querywithdetail"), m);
    assert_ptr_equal(sbx_method_find_qimen("WDT.Sales.TradeQuery.QueryWithDetail"), m);
    assert_null(sbx_method_find_qimen("sales.tradequery.querywithdetail"));
    assert_null(sbx_method_find_direct("sales.tradequery.querywithdetail"));
    /* The stock query has its own Qimen name; no name is derived from the direct one. */
    const struct sbx_method *st = sbx_method_find_direct("wms.StockSpec.search2");
    assert_ptr_equal(sbx_method_find_qimen("wdt.wms.stockspec.search"), st);
    assert_ptr_equal(sbx_method_find_qimen("3ldsmu02o9.wdt.wms.stockspec.search"), st);
    assert_null(sbx_method_find_qimen("wdt.wms.stockspec.search2"));
    assert_null(sbx_method_find_qimen("3ldsmu02o9.wdt.wms.stockspec.search2"));
    /* The table agrees with the catalog: every report's direct and Qimen names, the
     * widest window and the hide parameter the catalog sends. */
    char path[1024];
    snprintf(path, sizeof(path), "%s/common/model/catalog/reports.json", WDTS_SOURCE_DIR);
    json_error_t jerr;
    json_t *cat = json_load_file(path, 0, &jerr);
    assert_non_null(cat);
    size_t ci;
    json_t *rep;
    json_array_foreach(cat, ci, rep)
    {
        const char *direct = json_string_value(json_object_get(rep, "method"));
        const char *qimen = json_string_value(json_object_get(rep, "qimen_method"));
        const struct sbx_method *cm = sbx_method_find_direct(direct);
        if (cm == NULL)
            continue; /* generated from the spec: tests/unit/test_sbx_generic.c */
        if (qimen && sbx_method_find_qimen(qimen) != cm)
            fail_msg("Qimen name %s is not %s", qimen, direct);
        json_t *span = json_object_get(rep, "max_span_s");
        if (span) /* stock changes: the catalog sends no spec_no, so the narrow span */
            assert_int_equal(cm->narrow_param ? cm->narrow_span : cm->max_span,
                             json_integer_value(span));
        json_t *params = json_object_get(rep, "params");
        int hides = json_object_get(params, "hide_deleted") != NULL ||
                    json_object_get(params, "hide_delete") != NULL;
        assert_int_equal(hides, cm->hide_param != NULL);
    }
    json_decref(cat);
    enum sbx_timekind k;
    assert_int_equal(sbx_method_timekind(m, 2, &k), 0);
    assert_int_equal(k, SBX_TIME_PAID);
    assert_int_equal(sbx_method_timekind(m, 9, &k), -1);
    /* Every report of the data module has a method. */
    size_t n = 0;
    const struct sbx_method *all = sbx_method_table(&n);
    for (int e = 0; e < SBX_E__COUNT; e++) {
        int found = 0;
        for (size_t i = 0; i < n; i++)
            found |= all[i].is_data && all[i].entity == (enum sbx_entity)e;
        if (!found)
            fail_msg("no method for entity %d", e);
    }
}

static void test_kv_decoding(void **state)
{
    (void)state;
    struct sbx_kv kv = {NULL, 0};
    const char *q = "a=1&timestamp=2026-01-01+10%3A00%3A00&empty=&flag&a=2&bad=%zz&pct=%25";
    sbx_kv_parse(&kv, q, strlen(q));
    assert_string_equal(sbx_kv_get(&kv, "a"), "2"); /* the last one */
    assert_string_equal(sbx_kv_get(&kv, "timestamp"), "2026-01-01 10:00:00");
    assert_string_equal(sbx_kv_get(&kv, "empty"), "");
    assert_string_equal(sbx_kv_get(&kv, "flag"), "");
    assert_string_equal(sbx_kv_get(&kv, "bad"), "%zz");
    assert_string_equal(sbx_kv_get(&kv, "pct"), "%");
    assert_null(sbx_kv_get(&kv, "missing"));
    sbx_kv_deinit(&kv);
}

static void test_limits(void **state)
{
    (void)state;
    struct sbx_tenants ts;
    sbx_tenants_demo(&ts);
    ts.v[0].rate_per_min = 3;
    ts.v[0].concurrency = 2;
    struct sbx_limits lim;
    sbx_limits_init(&lim, &ts);
    int64_t t = 1000000;
    assert_int_equal(sbx_limits_acquire(&lim, 0, t), SBX_LIMIT_OK);
    assert_int_equal(sbx_limits_acquire(&lim, 0, t + 1), SBX_LIMIT_OK);
    assert_int_equal(sbx_limits_acquire(&lim, 0, t + 2), SBX_LIMIT_CONCURRENCY);
    sbx_limits_release(&lim, 0);
    assert_int_equal(sbx_limits_acquire(&lim, 0, t + 3), SBX_LIMIT_OK);
    sbx_limits_release(&lim, 0);
    sbx_limits_release(&lim, 0);
    /* Three accepted within the minute: the fourth waits until the first is 60 s old. */
    assert_int_equal(sbx_limits_acquire(&lim, 0, t + 59999), SBX_LIMIT_RATE);
    assert_int_equal(sbx_limits_acquire(&lim, 0, t + 60000), SBX_LIMIT_OK);
    sbx_limits_release(&lim, 0);
    assert_int_equal(sbx_limits_acquire(&lim, 0, t + 60001), SBX_LIMIT_OK);
    sbx_limits_release(&lim, 0);
    assert_int_equal(sbx_limits_acquire(&lim, 0, t + 60002), SBX_LIMIT_RATE);
    /* The other tenant has its own slot. */
    assert_int_equal(sbx_limits_acquire(&lim, 1, t + 60002), SBX_LIMIT_OK);
    sbx_limits_deinit(&lim);
    sbx_tenants_deinit(&ts);
}

static void test_demo_tenants(void **state)
{
    (void)state;
    struct sbx_tenants ts;
    sbx_tenants_demo(&ts);
    const struct sbx_tenant *a = sbx_tenants_find(&ts, "demo-shop");
    const struct sbx_tenant *b = sbx_tenants_find(&ts, "demo-shop-2");
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a->secret, "demo-secret");
    assert_string_equal(a->salt, "demo-salt");
    assert_non_null(a->qimen_app_key);
    assert_null(b->qimen_app_key);
    assert_true(sbx_tenant_may_call(a, "aftersales.refund.Refund.search"));
    assert_false(sbx_tenant_may_call(b, "aftersales.refund.Refund.search"));
    assert_true(sbx_tenant_may_call(b, "sales.TradeQuery.queryWithDetail"));
    assert_null(sbx_tenants_find(&ts, "nobody"));
    assert_int_equal(a->time_format, -1); /* the sandbox's --time-format */
    sbx_tenants_deinit(&ts);
}

/* A tenant's time_format overrides --time-format; a bad one is refused. The option
 * parsers take exactly the documented names. */
static void test_time_format_and_bounds_names(void **state)
{
    (void)state;
    char path[] = "/tmp/sbx-tenants-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("[{\"sid\":\"a\",\"appkey\":\"k\",\"appsecret\":\"s:t\",\"time_format\":\"epoch_ms\"},"
          "{\"sid\":\"b\",\"appkey\":\"k\",\"appsecret\":\"s:t\"}]",
          f);
    fclose(f);
    struct sbx_tenants ts;
    char es[512];
    assert_int_equal(sbx_tenants_load(path, &ts, es, sizeof(es)), WDTS_OK);
    assert_int_equal(sbx_tenants_find(&ts, "a")->time_format, SBX_TIMEFMT_EPOCH_MS);
    assert_int_equal(sbx_tenants_find(&ts, "b")->time_format, -1);
    sbx_tenants_deinit(&ts);
    f = fopen(path, "w");
    fputs("[{\"sid\":\"a\",\"appkey\":\"k\",\"appsecret\":\"s:t\",\"time_format\":\"ms\"}]", f);
    fclose(f);
    assert_int_equal(sbx_tenants_load(path, &ts, es, sizeof(es)), WDTS_ERR_CONFIG);
    assert_non_null(strstr(es, "time_format"));
    sbx_tenants_deinit(&ts);
    unlink(path);
    enum sbx_timefmt fmt;
    enum sbx_bounds b;
    assert_int_equal(sbx_timefmt_parse("datetime", &fmt), WDTS_OK);
    assert_int_equal(fmt, SBX_TIMEFMT_DATETIME);
    assert_int_equal(sbx_timefmt_parse("ms", &fmt), WDTS_ERR_INVAL);
    assert_int_equal(sbx_bounds_parse("closed", &b), WDTS_OK);
    assert_int_equal(b, SBX_BOUNDS_CLOSED);
    assert_int_equal(sbx_bounds_parse("open", &b), WDTS_OK);
    assert_int_equal(b, SBX_BOUNDS_OPEN);
    assert_int_equal(sbx_bounds_parse("half", &b), WDTS_OK);
    assert_int_equal(b, SBX_BOUNDS_HALF);
    assert_int_equal(sbx_bounds_parse("wide", &b), WDTS_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_grammar), cmocka_unit_test(test_fault_draws),
        cmocka_unit_test(test_clock),         cmocka_unit_test(test_methods),
        cmocka_unit_test(test_kv_decoding),   cmocka_unit_test(test_limits),
        cmocka_unit_test(test_demo_tenants),  cmocka_unit_test(test_time_format_and_bounds_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
