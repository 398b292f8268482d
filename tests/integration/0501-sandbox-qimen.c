/* wdt-sandbox, Qimen route (POST /router/qm): the outer TOP signature is
 * accepted with md5, hmac and hmac-sha256 and refused (TOP code 25) when one
 * character changes; the other TOP errors come in the TOP form and the WDT ones
 * inside "response"; Qimen pages count from 1. Clock frozen. */
#include "wdts_test_sandbox.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "wdts/mem.h"
#include "wdts/time.h"
#include "wdts_test.h"

static struct sbx_proc sbx;
static int64_t T;

static int setup(void **state)
{
    (void)state;
    /* Requests are signed with the frozen sandbox time. */
    return sbx_start_demo_frozen(&sbx, &T) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return sbx_stop(&sbx, 10000) == 0 ? 0 : -1;
}

#define QTRADES "wdt.sales.tradequery.querywithdetail"

static char *window_params(int64_t from_s, int64_t to_s)
{
    char a[WDTS_BJTIME_LEN], b[WDTS_BJTIME_LEN];
    wdts_time_format_beijing(T - from_s, a);
    wdts_time_format_beijing(T - to_s, b);
    return wdts_xasprintf("{\"start_time\":\"%s\",\"end_time\":\"%s\"}", a, b);
}

static void expect_top(json_t *j, int code)
{
    json_t *er = json_object_get(j, "error_response");
    char *dump = json_dumps(j, JSON_COMPACT);
    if (er == NULL || json_integer_value(json_object_get(er, "code")) != code ||
        !json_is_string(json_object_get(er, "msg")))
        fail_msg("want TOP error %d, got %.300s", code, dump);
    free(dump);
}

static void test_sign_methods_accepted(void **state)
{
    (void)state;
    const char *methods[] = {"md5", "hmac", "hmac-sha256"};
    const char *names[] = {QTRADES, "3ldsmu02o9." QTRADES, "wdt.sales.TradeQuery.queryWithDetail"};
    char *params = window_params(86400 + 3600, 86400);
    for (size_t i = 0; i < 3; i++) {
        struct qimen_req q;
        qimen_defaults(&q, names[i], params, "{\"page_size\":5,\"page_no\":1}", T);
        q.sign_method = methods[i];
        json_t *j = qimen_call(&sbx, &q);
        expect_status(j, 0, NULL);
        json_t *data = json_object_get(json_object_get(j, "response"), "data");
        assert_true(json_is_integer(json_object_get(data, "total_count")));
        assert_true(json_is_array(json_object_get(data, "order")));
        json_decref(j);

        /* The same request with one character of the outer sign changed. */
        q.corrupt_top = 1;
        j = qimen_call(&sbx, &q);
        expect_top(j, 25);
        json_decref(j);
    }
    free(params);
}

static void test_params_in_query(void **state)
{
    (void)state;
    char *params = window_params(86400 + 3600, 86400);
    struct qimen_req q;
    qimen_defaults(&q, QTRADES, params, "{\"page_size\":5,\"page_no\":1}", T);
    q.sign_method = "hmac-sha256";
    q.all_in_query = 1;
    json_t *j = qimen_call(&sbx, &q);
    expect_status(j, 0, NULL);
    json_decref(j);
    free(params);
}

static void test_top_errors(void **state)
{
    (void)state;
    char *params = window_params(86400 + 3600, 86400);
    struct qimen_req q;
    json_t *j;

    qimen_defaults(&q, QTRADES, params, "{\"page_size\":5,\"page_no\":1}", T);
    q.app_key = "unknown-app";
    j = qimen_call(&sbx, &q);
    expect_top(j, 29);
    json_decref(j);

    qimen_defaults(&q, QTRADES, params, "{\"page_size\":5,\"page_no\":1}", T);
    q.top_skew_s = 11 * 60;
    j = qimen_call(&sbx, &q);
    expect_top(j, 31);
    json_decref(j);

    qimen_defaults(&q, QTRADES, params, "{\"page_size\":5,\"page_no\":1}", T);
    q.top_skew_s = 9 * 60; /* within TOP's 10 minutes; datetime is on time */
    j = qimen_call(&sbx, &q);
    expect_status(j, 0, NULL);
    json_decref(j);

    qimen_defaults(&q, QTRADES, params, "{\"page_size\":5,\"page_no\":1}", T);
    q.target = NULL;
    j = qimen_call(&sbx, &q);
    expect_top(j, 40);
    json_decref(j);

    qimen_defaults(&q, QTRADES, params, "{\"page_size\":5,\"page_no\":1}", T);
    q.target = "12345678";
    j = qimen_call(&sbx, &q);
    expect_top(j, 41);
    json_decref(j);

    qimen_defaults(&q, QTRADES, params, "{\"page_size\":5,\"page_no\":1}", T);
    q.app_secret = "wrong-secret";
    j = qimen_call(&sbx, &q);
    expect_top(j, 25);
    json_decref(j);
    free(params);
}

static void test_wdt_errors_inside_response(void **state)
{
    (void)state;
    char *params = window_params(86400 + 3600, 86400);
    struct qimen_req q;
    json_t *j;

    qimen_defaults(&q, QTRADES, params, "{\"page_size\":5,\"page_no\":1}", T);
    q.corrupt_wdt = 1;
    j = qimen_call(&sbx, &q);
    expect_status(j, 1, "验证失败");
    assert_non_null(json_object_get(j, "response"));
    json_decref(j);

    qimen_defaults(&q, QTRADES, params, "{\"page_size\":5,\"page_no\":1}", T);
    q.wdt_secret = "wrong";
    j = qimen_call(&sbx, &q);
    expect_status(j, 1, "验证失败");
    json_decref(j);

    qimen_defaults(&q, QTRADES, params, "{\"page_size\":5,\"page_no\":1}", T);
    q.sid = "no-such-seller";
    j = qimen_call(&sbx, &q);
    expect_status(j, 1, "sid is not exists");
    json_decref(j);

    /* demo-shop-2 has no Qimen app: the demo Qimen app is not authorised for it. */
    qimen_defaults(&q, QTRADES, params, "{\"page_size\":5,\"page_no\":1}", T);
    q.sid = "demo-shop-2";
    q.wdt_appkey = "demo2-app";
    q.wdt_secret = "demo2-secret";
    q.wdt_salt = "demo2-salt";
    j = qimen_call(&sbx, &q);
    expect_status(j, 1, "app auth fail");
    json_decref(j);

    qimen_defaults(&q, QTRADES, params, NULL, T);
    j = qimen_call(&sbx, &q);
    expect_status(j, 100, "此方法仅支持分页查询：wdt.sales.tradequery.querywithdetail");
    json_decref(j);

    char *wide = window_params(7200, 7200 - 3601);
    qimen_defaults(&q, QTRADES, wide, "{\"page_size\":5,\"page_no\":1}", T);
    j = qimen_call(&sbx, &q);
    expect_status(j, 100, "您的查询时间过宽,查询时间不能大于60分钟");
    json_decref(j);

    qimen_defaults(&q, QTRADES, "{}", "{\"page_size\":5,\"page_no\":1}", T);
    j = qimen_call(&sbx, &q);
    expect_status(j, 100, "参数中必须包含起止时间");
    json_decref(j);

    free(wide);
    free(params);
}

static void ids_of(json_t *j, long long *ids, size_t *n)
{
    json_t *list = json_object_get(json_object_get(json_object_get(j, "response"), "data"), "order");
    assert_true(json_is_array(list));
    size_t i;
    json_t *row;
    json_array_foreach(list, i, row) {
        json_t *id = json_object_get(row, "trade_id");
        ids[(*n)++] = json_is_integer(id) ? json_integer_value(id) : strtoll(json_string_value(id), NULL, 10);
    }
}

static void test_pages_from_one(void **state)
{
    (void)state;
    char *params = window_params(86400 + 3600, 86400);
    struct qimen_req q;
    qimen_defaults(&q, QTRADES, params, "{\"page_size\":1000,\"page_no\":1}", T);
    json_t *all = qimen_call(&sbx, &q);
    expect_status(all, 0, NULL);
    long long want[1000], got[1100];
    size_t nw = 0, ng = 0;
    ids_of(all, want, &nw);
    long long total = json_integer_value(
        json_object_get(json_object_get(json_object_get(all, "response"), "data"), "total_count"));
    assert_int_equal(total, (long long)nw);
    assert_true(nw > 10);
    json_decref(all);
    for (int page = 1; (page - 1) * 10 < (int)nw; page++) {
        char pager[64];
        snprintf(pager, sizeof(pager), "{\"page_size\":10,\"page_no\":%d}", page);
        qimen_defaults(&q, QTRADES, params, pager, T);
        json_t *j = qimen_call(&sbx, &q);
        expect_status(j, 0, NULL);
        ids_of(j, got, &ng);
        json_decref(j);
    }
    assert_int_equal(ng, nw);
    for (size_t i = 0; i < nw; i++)
        assert_int_equal(got[i], want[i]);
    free(params);
    assert_true(metric_value(&sbx, "route=\"qimen\"", "status=\"top:25\"") >= 3);
}

/* Taobao/Tmall orders (platform 1) come only through Qimen; the direct route hides them. */
static void test_route_rules(void **state)
{
    (void)state;
    char *params = window_params(86400 + 3600, 86400);
    struct qimen_req q;
    qimen_defaults(&q, QTRADES, params, "{\"page_size\":1000,\"page_no\":1}", T);
    json_t *qj = qimen_call(&sbx, &q);
    expect_status(qj, 0, NULL);
    char *body = wdts_xasprintf("[%s]", params);
    struct direct_req d;
    direct_defaults(&d, "sales.TradeQuery.queryWithDetail", body, T);
    d.page_no = "0";
    d.page_size = "1000";
    json_t *dj = direct_call(&sbx, &d);
    expect_status(dj, 0, NULL);

    json_t *ql = json_object_get(json_object_get(json_object_get(qj, "response"), "data"), "order");
    json_t *dl = json_object_get(json_object_get(dj, "data"), "order");
    size_t i, taobao_qimen = 0, taobao_direct = 0;
    json_t *row;
    json_array_foreach(ql, i, row) taobao_qimen += json_integer_value(json_object_get(row, "platform_id")) == 1;
    json_array_foreach(dl, i, row) taobao_direct += json_integer_value(json_object_get(row, "platform_id")) == 1;
    assert_true(taobao_qimen > 0);
    assert_int_equal(taobao_direct, 0);
    assert_true(json_array_size(dl) < json_array_size(ql));
    json_decref(qj);
    json_decref(dj);
    free(body);
    free(params);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_methods_accepted),
        cmocka_unit_test(test_params_in_query),
        cmocka_unit_test(test_top_errors),
        cmocka_unit_test(test_wdt_errors_inside_response),
        cmocka_unit_test(test_pages_from_one),
        cmocka_unit_test(test_route_rules),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
