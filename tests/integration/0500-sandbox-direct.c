/* wdt-sandbox, direct route (POST /openapi): requests signed independently with
 * the reference algorithm are accepted; a changed byte of the query or the body
 * is refused with 验证失败; every other check answers with the gateway's status
 * and message; direct pages count from 0 and calc_total=1 returns total_count.
 * The clock is frozen so that the data set holds still. */
#include "wdts_test_sandbox.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"
#include "wdts/time.h"
#include "wdts_test.h"
#include "wdts_test_http.h"

static struct sbx_proc sbx;
static int64_t T; /* the frozen sandbox time */

static int setup(void **state)
{
    (void)state;
    /* Requests are signed with the frozen sandbox time. */
    if (sbx_start_demo_frozen(&sbx, &T) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return sbx_stop(&sbx, 10000) == 0 ? 0 : -1;
}

/* A [T - from_s, T - to_s) window body for the given parameter names. */
static char *window_body(const char *sp, const char *ep, int64_t from_s, int64_t to_s,
                         const char *extra)
{
    char a[WDTS_BJTIME_LEN], b[WDTS_BJTIME_LEN];
    wdts_time_format_beijing(T - from_s, a);
    wdts_time_format_beijing(T - to_s, b);
    return wdts_xasprintf("[{\"%s\":\"%s\",\"%s\":\"%s\"%s%s}]", sp, a, ep, b, extra ? "," : "",
                          extra ? extra : "");
}

#define TRADES "sales.TradeQuery.queryWithDetail"

static void test_signed_call_accepted(void **state)
{
    (void)state;
    struct direct_req d;
    direct_defaults(&d, "system.Core.now", "[]", T);
    json_t *j = direct_call(&sbx, &d);
    expect_status(j, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "data")), T);
    json_decref(j);
}

static void test_changed_byte_refused(void **state)
{
    (void)state;
    char *body = window_body("start_time", "end_time", 7200, 3600, NULL);
    struct direct_req d;
    direct_defaults(&d, TRADES, body, T);
    d.page_no = "0";
    d.page_size = "5";
    char *url = direct_url(&sbx, &d);
    struct http_res r;

    /* The untouched request passes. */
    http_do(url, body, "application/json", 30000, &r);
    json_t *j = answer_json(&r);
    expect_status(j, 0, NULL);
    json_decref(j);
    http_res_free(&r);

    /* One byte of the body changed after signing (a digit of the start time). */
    char *bad_body = wdts_xstrdup(body);
    char *digit = strstr(bad_body, ":00\"");
    assert_non_null(digit);
    digit[2] = '1';
    http_do(url, bad_body, "application/json", 30000, &r);
    j = answer_json(&r);
    expect_status(j, 1, "验证失败");
    json_decref(j);
    http_res_free(&r);

    /* One byte of the query changed after signing (page_size 5 → 6). */
    char *bad_url = wdts_xstrdup(url);
    char *ps = strstr(bad_url, "page_size=5");
    assert_non_null(ps);
    ps[10] = '6';
    http_do(bad_url, body, "application/json", 30000, &r);
    j = answer_json(&r);
    expect_status(j, 1, "验证失败");
    json_decref(j);
    http_res_free(&r);

    /* One byte of the signature itself. */
    char *sign = strstr(url, "sign=");
    sign[5] = sign[5] == 'a' ? 'b' : 'a';
    http_do(url, body, "application/json", 30000, &r);
    j = answer_json(&r);
    expect_status(j, 1, "验证失败");
    json_decref(j);
    http_res_free(&r);

    free(bad_url);
    free(bad_body);
    free(url);
    free(body);
}

static void test_wrong_credentials(void **state)
{
    (void)state;
    struct direct_req d;
    direct_defaults(&d, "system.Core.now", "[]", T);
    d.secret = "not-the-secret";
    json_t *j = direct_call(&sbx, &d);
    expect_status(j, 1, "验证失败");
    json_decref(j);

    direct_defaults(&d, "system.Core.now", "[]", T);
    d.salt = "not-the-salt";
    j = direct_call(&sbx, &d);
    expect_status(j, 1, "验证失败");
    json_decref(j);

    direct_defaults(&d, "system.Core.now", "[]", T);
    d.key = "someone-else";
    j = direct_call(&sbx, &d);
    expect_status(j, 1, "验证失败");
    json_decref(j);

    direct_defaults(&d, "system.Core.now", "[]", T);
    d.sid = "no-such-seller";
    j = direct_call(&sbx, &d);
    expect_status(j, 1, "sid is not exists");
    json_decref(j);
}

static void test_timestamp_and_version(void **state)
{
    (void)state;
    struct direct_req d;
    json_t *j;
    int64_t ok_skews[] = {-119, 119};
    for (size_t i = 0; i < 2; i++) {
        direct_defaults(&d, "system.Core.now", "[]", T + ok_skews[i]);
        j = direct_call(&sbx, &d);
        expect_status(j, 0, NULL);
        json_decref(j);
    }
    int64_t bad_skews[] = {-121, 121, -3600};
    for (size_t i = 0; i < 3; i++) {
        direct_defaults(&d, "system.Core.now", "[]", T + bad_skews[i]);
        j = direct_call(&sbx, &d);
        expect_status(j, 7, "时间戳错误");
        json_decref(j);
    }
    /* Milliseconds instead of seconds since 2012. */
    char ms[32];
    snprintf(ms, sizeof(ms), "%lld", (long long)T * 1000);
    direct_defaults(&d, "system.Core.now", "[]", T);
    d.ts_text = ms;
    j = direct_call(&sbx, &d);
    char want[64];
    snprintf(want, sizeof(want), "For input string: \"%s\"", ms);
    expect_status(j, 1, want);
    json_decref(j);

    direct_defaults(&d, "system.Core.now", "[]", T);
    d.v = "2.0";
    j = direct_call(&sbx, &d);
    expect_status(j, 8, "版本错误");
    json_decref(j);
}

static void test_query_checks(void **state)
{
    (void)state;
    struct direct_req d;
    json_t *j;
    char *body = window_body("start_time", "end_time", 7200, 3600, NULL);

    direct_defaults(&d, TRADES, body, T); /* no pager */
    j = direct_call(&sbx, &d);
    expect_status(j, 100, "此方法仅支持分页查询：sales.TradeQuery.queryWithDetail");
    json_decref(j);

    direct_defaults(&d, TRADES, "[{}]", T);
    d.page_no = "0";
    d.page_size = "10";
    j = direct_call(&sbx, &d);
    expect_status(j, 100, "参数中必须包含起止时间");
    json_decref(j);

    char *wide = window_body("start_time", "end_time", 7200, 7200 - 3601, NULL);
    d.body = wide;
    j = direct_call(&sbx, &d);
    expect_status(j, 100, "您的查询时间过宽,查询时间不能大于60分钟");
    json_decref(j);

    char *exact = window_body("start_time", "end_time", 7200, 3600, NULL);
    d.body = exact;
    j = direct_call(&sbx, &d);
    expect_status(j, 0, NULL);
    json_decref(j);

    char *wide30 = window_body("modified_from", "modified_to", 31 * 86400, 0, NULL);
    direct_defaults(&d, "aftersales.refund.Refund.search", wide30, T);
    d.page_no = "0";
    d.page_size = "10";
    j = direct_call(&sbx, &d);
    expect_status(j, 100, "您的查询时间过宽,查询时间不能大于30天");
    json_decref(j);

    direct_defaults(&d, TRADES,
                    "[{\"start_time\":\"2026/11/28 10:00:00\",\"end_time\":\"2026-11-28 10:30:00\"}]",
                    T);
    d.page_no = "0";
    d.page_size = "10";
    j = direct_call(&sbx, &d);
    expect_status(j, 100, "Unparseable date: 2026/11/28 10:00:00");
    json_decref(j);

    direct_defaults(&d, TRADES, "[{\"start_time\":", T);
    d.page_no = "0";
    d.page_size = "10";
    j = direct_call(&sbx, &d);
    expect_status(j, 1, "参数错误");
    json_decref(j);

    direct_defaults(&d, "sales.TradeQuery.noSuchMethod", "[{}]", T);
    j = direct_call(&sbx, &d);
    json_t *st = json_object_get(j, "status");
    const char *msg = json_string_value(json_object_get(j, "message"));
    assert_true(json_integer_value(st) != 0);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "sales.TradeQuery.noSuchMethod"));
    json_decref(j);

    /* Stockouts require status_type. */
    char *so = window_body("start_time", "end_time", 7200, 3600, NULL);
    direct_defaults(&d, "wms.stockout.Sales.queryWithDetail", so, T);
    d.page_no = "0";
    d.page_size = "10";
    j = direct_call(&sbx, &d);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 100);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "status_type"));
    json_decref(j);
    char *so0 = window_body("start_time", "end_time", 7200, 3600, "\"status_type\":0");
    d.body = so0;
    j = direct_call(&sbx, &d);
    expect_status(j, 0, NULL);
    json_decref(j);

    free(so);
    free(so0);
    free(body);
    free(wide);
    free(exact);
    free(wide30);
}

static void test_permission(void **state)
{
    (void)state;
    char *body = window_body("modified_from", "modified_to", 86400, 0, NULL);
    struct direct_req d;
    direct_defaults(&d, "aftersales.refund.Refund.search", body, T);
    d.sid = "demo-shop-2";
    d.key = "demo2-app";
    d.secret = "demo2-secret";
    d.salt = "demo2-salt";
    d.page_no = "0";
    d.page_size = "10";
    json_t *j = direct_call(&sbx, &d);
    expect_status(j, 100, "权限不足");
    json_decref(j);
    /* The same call by the tenant that has the permission. */
    direct_defaults(&d, "aftersales.refund.Refund.search", body, T);
    d.page_no = "0";
    d.page_size = "10";
    j = direct_call(&sbx, &d);
    expect_status(j, 0, NULL);
    json_decref(j);
    free(body);
}

/* The ids of a page (its list under key), appended to ids. */
static size_t page_ids(json_t *j, const char *list_key, const char *pk, long long *ids, size_t n)
{
    json_t *list = json_object_get(json_object_get(j, "data"), list_key);
    assert_true(json_is_array(list));
    size_t i;
    json_t *row;
    json_array_foreach(list, i, row) {
        json_t *id = json_object_get(row, pk);
        assert_non_null(id);
        ids[n++] = json_is_integer(id) ? json_integer_value(id) : strtoll(json_string_value(id), NULL, 10);
    }
    return n;
}

static void test_paging_from_zero(void **state)
{
    (void)state;
    /* A window with enough trades for several pages: a busy hour a day back. */
    char *body = window_body("start_time", "end_time", 86400 + 3600, 86400, NULL);
    struct direct_req d;
    direct_defaults(&d, TRADES, body, T);
    d.page_no = "0";
    d.page_size = "1000";
    d.calc_total = "1";
    json_t *all = direct_call(&sbx, &d);
    expect_status(all, 0, NULL);
    json_t *total = json_object_get(json_object_get(all, "data"), "total_count");
    assert_true(json_is_integer(total));
    long long n_all = json_integer_value(total);
    assert_true(n_all > 14); /* the demo shop sells 2,000 orders a day */
    long long *want = calloc((size_t)n_all + 1, sizeof(long long));
    long long *got = calloc((size_t)n_all + 64, sizeof(long long));
    size_t nw = page_ids(all, "order", "trade_id", want, 0);
    assert_int_equal(nw, (size_t)n_all);
    json_decref(all);

    /* Pages of 7 from page 0 cover the same rows in the same order. */
    size_t ng = 0;
    for (int page = 0; page * 7 < n_all + 7; page++) {
        char pn[16];
        snprintf(pn, sizeof(pn), "%d", page);
        direct_defaults(&d, TRADES, body, T);
        d.page_no = pn;
        d.page_size = "7";
        json_t *j = direct_call(&sbx, &d);
        expect_status(j, 0, NULL);
        /* total_count only with calc_total=1 */
        assert_null(json_object_get(json_object_get(j, "data"), "total_count"));
        ng = page_ids(j, "order", "trade_id", got, ng);
        json_decref(j);
    }
    assert_int_equal(ng, nw);
    for (size_t i = 0; i < nw; i++)
        assert_int_equal(got[i], want[i]);
    free(want);
    free(got);
    free(body);
}

/* Every report of the catalog answers through its direct method. */
static void test_every_report(void **state)
{
    (void)state;
    static const struct {
        const char *method, *sp, *ep, *extra, *list;
        int64_t span;
    } reports[] = {
        {TRADES, "start_time", "end_time", NULL, "order", 3600},
        {"wms.stockout.Sales.queryWithDetail", "start_time", "end_time", "\"status_type\":1", "order", 3600},
        {"aftersales.refund.Refund.search", "modified_from", "modified_to", NULL, "order", 86400},
        {"wms.stockin.Refund.queryWithDetail", "start_time", "end_time", NULL, "order", 86400},
        {"purchase.PurchaseOrder.queryWithDetail", "start_time", "end_time", NULL, "order", 86400},
        {"wms.stockin.Purchase.queryWithDetail", "start_time", "end_time", NULL, "order", 86400},
        {"wms.StockSpec.search2", "start_time", "end_time", NULL, "detail_list", 86400},
        {"wms.StockSpec.queryChangeHistory", "start_date", "end_date", NULL, "data", 3600},
        {"goods.Goods.queryWithSpec", "start_time", "end_time", NULL, "goods_list", 86400},
        {"goods.Suite.search", "start_time", "end_time", NULL, "suite_list", 86400},
        {"sales.RawTrade.search", "start_time", "end_time", NULL, "order", 86400},
        {"setting.Shop.queryShop", NULL, NULL, NULL, "details", 0},
        {"setting.Warehouse.queryWarehouse", NULL, NULL, NULL, "details", 0},
        {"setting.Logistics.queryLogistics", NULL, NULL, NULL, "details", 0},
    };
    for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
        char *body = reports[i].sp ? window_body(reports[i].sp, reports[i].ep, 2 * reports[i].span,
                                                 reports[i].span, reports[i].extra)
                                   : wdts_xstrdup("[{}]");
        struct direct_req d;
        direct_defaults(&d, reports[i].method, body, T);
        d.page_no = "0";
        d.page_size = "20";
        d.calc_total = "1";
        json_t *j = direct_call(&sbx, &d);
        expect_status(j, 0, NULL);
        json_t *data = json_object_get(j, "data");
        if (!json_is_array(json_object_get(data, reports[i].list)) ||
            !json_is_integer(json_object_get(data, "total_count")))
            fail_msg("%s: no data.%s list or total_count", reports[i].method, reports[i].list);
        json_decref(j);
        free(body);
    }
}

static void test_http_surface(void **state)
{
    (void)state;
    char url[128];
    struct http_res r;
    snprintf(url, sizeof(url), "%s/openapi", sbx.base);
    http_do(url, NULL, NULL, 10000, &r);
    assert_int_equal(r.code, 405);
    http_res_free(&r);
    snprintf(url, sizeof(url), "%s/nothing-here", sbx.base);
    http_do(url, NULL, NULL, 10000, &r);
    assert_int_equal(r.code, 404);
    http_res_free(&r);
    /* The calls above were counted by method, tenant and status. */
    assert_true(metric_value(&sbx, "wdt_sandbox_calls_total{", "status=\"0\"") > 0);
    assert_true(metric_value(&sbx, "method=\"" TRADES "\"", "status=\"100\"") > 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_call_accepted), cmocka_unit_test(test_changed_byte_refused),
        cmocka_unit_test(test_wrong_credentials),    cmocka_unit_test(test_timestamp_and_version),
        cmocka_unit_test(test_query_checks),         cmocka_unit_test(test_permission),
        cmocka_unit_test(test_paging_from_zero),     cmocka_unit_test(test_every_report),
        cmocka_unit_test(test_http_surface),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
