/* wdt-sandbox's generated reports over HTTP (sandbox/sbx_generic.h): a sandbox started with
 * --generate-all and a catalog file whose trades window on pay time (time_type 2, basis
 * paid) serves every report from the API spec's field tables. Paged on both routes, the
 * pages hold exactly what `wdt-sandbox truth` lists (with the same flags), total_count
 * counts it; the selector, the span, the page size and the window's bounds are checked as
 * for the hand-made methods; a catalog report without a spec entry stops the start. */
#include "wdts_test_sandbox.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdts/catalog.h"
#include "wdts/mem.h"
#include "wdts/time.h"
#include "wdts_test.h"

static struct sbx_proc half, closed;
static int64_t T;
static char dir[64] = "/tmp/sbx-gen.XXXXXX";
static char catalog_path[128];

static int setup(void **state)
{
    (void)state;
    T = wdts_time_now() / 60 * 60;
    if (mkdtemp(dir) == NULL)
        return -1;
    size_t len;
    const char *text = wdts_catalog_embedded(&len);
    json_t *arr = json_loadb(text, len, 0, NULL), *r;
    size_t i;
    json_array_foreach(arr, i, r) {
        if (strcmp(json_string_value(json_object_get(r, "name")), "trades") == 0) {
            json_object_set_new(json_object_get(r, "params"), "time_type", json_integer(2));
            json_object_set_new(json_object_get(r, "time"), "basis", json_string("paid"));
        }
        if (strcmp(json_string_value(json_object_get(r, "name")), "purchase_orders") == 0)
            json_object_set_new(r, "history",
                                json_pack("{s:s,s:s}", "method",
                                          "purchase.PurchaseOrder.queryHistoryWithDetail",
                                          "qimen_method",
                                          "wdt.purchase.purchaseorder.queryhistorywithdetail"));
    }
    snprintf(catalog_path, sizeof(catalog_path), "%s/catalog.json", dir);
    int rc = json_dump_file(arr, catalog_path, 0);
    json_decref(arr);
    if (rc != 0)
        return -1;
    char clock[64];
    snprintf(clock, sizeof(clock), "frozen:%lld", (long long)T);
    const char *a[] = {"--demo", "--clock", clock, "--timestamp-clock", "sandbox",
                       "--generate-all", "--catalog", catalog_path, NULL};
    const char *b[] = {"--demo", "--clock", clock, "--timestamp-clock", "sandbox",
                       "--generate-all", "--catalog", catalog_path, "--bounds", "closed", NULL};
    return sbx_start(&half, a) == 0 && sbx_start(&closed, b) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = sbx_stop(&half, 10000) | sbx_stop(&closed, 10000);
    unlink(catalog_path);
    rmdir(dir);
    return rc == 0 ? 0 : -1;
}

/* {"sp":"<a>","ep":"<b>"<extra>} for Unix times a and b. */
static char *window(const char *sp, const char *ep, int64_t a, int64_t b, const char *extra)
{
    char x[WDTS_BJTIME_LEN], y[WDTS_BJTIME_LEN];
    wdts_time_format_beijing(a, x);
    wdts_time_format_beijing(b, y);
    return wdts_xasprintf("{\"%s\":\"%s\",\"%s\":\"%s\"%s}", sp, x, ep, y, extra);
}

/* The truth lines of report for [since, before) as of T, as a JSON array. */
static json_t *truth(const char *report, const char *route, int64_t since, int64_t before)
{
    const char *source[] = {"--demo", "--generate-all", "--catalog", catalog_path, NULL};
    return sbx_truth(source, DEMO_SID, report, route, T, since, before);
}

/* Pages of 7 until a short one, on one route; the pks in order and the first total. */
static json_t *pages(const struct sbx_proc *p, int qimen, const char *direct, const char *qm,
                     const char *params, const char *list_key, const char *pk,
                     long long *total)
{
    json_t *pks = json_array();
    *total = -1;
    for (int page = 0; page < 100; page++) {
        json_t *j, *data;
        if (qimen) {
            char pager[64];
            snprintf(pager, sizeof(pager), "{\"page_no\":%d,\"page_size\":7}", page + 1);
            struct qimen_req q;
            qimen_defaults(&q, qm, params, pager, T);
            j = qimen_call(p, &q);
            data = json_object_get(json_object_get(j, "response"), "data");
            expect_status(json_object_get(j, "response"), 0, NULL);
        } else {
            char *body = wdts_xasprintf("[%s]", params), pn[16];
            snprintf(pn, sizeof(pn), "%d", page);
            struct direct_req d;
            direct_defaults(&d, direct, body, T);
            d.page_no = pn;
            d.page_size = "7";
            d.calc_total = page == 0 ? "1" : NULL;
            j = direct_call(p, &d);
            free(body);
            expect_status(j, 0, NULL);
            data = json_object_get(j, "data");
        }
        if (page == 0)
            *total = json_integer_value(json_object_get(data, "total_count"));
        json_t *list = json_object_get(data, list_key), *row;
        size_t i;
        assert_true(json_is_array(list));
        json_array_foreach(list, i, row) {
            json_t *v = json_object_get(row, pk);
            json_array_append_new(pks, json_is_string(v) ? json_incref(v)
                                                         : json_sprintf("%lld", (long long)json_integer_value(v)));
        }
        size_t n = json_array_size(list);
        json_decref(j);
        if (n < 7)
            break;
    }
    return pks;
}

static void expect_truth(const json_t *got, const json_t *want, long long total)
{
    if (json_array_size(got) != json_array_size(want))
        fail_msg("paged %zu rows, the truth lists %zu", json_array_size(got),
                 json_array_size(want));
    assert_int_equal(total, (long long)json_array_size(want));
    size_t i;
    json_t *t;
    json_array_foreach(want, i, t) assert_string_equal(
        json_string_value(json_array_get(got, i)), json_string_value(json_object_get(t, "pk")));
}

static void test_paging_both_routes(void **state)
{
    (void)state;
    /* purchase orders: modified basis, 30-day span */
    char *params = window("start_time", "end_time", T - 3 * 86400, T - 86400, "");
    json_t *want = truth("purchase_orders", "wdt", T - 3 * 86400, T - 86400);
    assert_true(json_array_size(want) > 14);
    long long total;
    json_t *got = pages(&half, 0, "purchase.PurchaseOrder.queryWithDetail", NULL, params, "order",
                        "purchase_id", &total);
    expect_truth(got, want, total);
    json_decref(got);
    got = pages(&half, 1, NULL, "wdt.purchase.purchaseorder.querywithdetail", params, "order",
                "purchase_id", &total);
    expect_truth(got, want, total);
    json_decref(got);
    printf("# purchase_orders: %zu rows in 7-row pages on both routes, as the truth says\n",
           json_array_size(want));
    /* its history method: the same checks, nothing archived */
    got = pages(&half, 0, "purchase.PurchaseOrder.queryHistoryWithDetail", NULL, params, "order",
                "purchase_id", &total);
    assert_int_equal(json_array_size(got), 0);
    assert_int_equal(total, 0);
    json_decref(got);
    got = pages(&half, 1, NULL, "wdt.purchase.purchaseorder.queryhistorywithdetail", params,
                "order", "purchase_id", &total);
    assert_int_equal(json_array_size(got), 0);
    json_decref(got);
    json_decref(want);
    free(params);

    /* trades on pay time: the direct route hides Taobao/Tmall, so the routes differ */
    params = window("start_time", "end_time", T - 86400 - 3600, T - 86400, ",\"time_type\":2");
    json_t *wd = truth("trades", "wdt", T - 2 * 86400, T - 86400);
    json_t *wq = truth("trades", "qimen", T - 2 * 86400, T - 86400);
    assert_true(json_array_size(wq) > json_array_size(wd));
    json_decref(wd);
    json_decref(wq);
    wd = truth("trades", "wdt", T - 86400 - 3600, T - 86400);
    wq = truth("trades", "qimen", T - 86400 - 3600, T - 86400);
    got = pages(&half, 0, "sales.TradeQuery.queryWithDetail", NULL, params, "order", "trade_id",
                &total);
    expect_truth(got, wd, total);
    json_decref(got);
    got = pages(&half, 1, NULL, "wdt.sales.tradequery.querywithdetail", params, "order",
                "trade_id", &total);
    expect_truth(got, wq, total);
    json_decref(got);
    json_decref(wd);
    json_decref(wq);
    free(params);

    /* a snapshot: every row without a pager */
    struct direct_req d;
    direct_defaults(&d, "setting.Shop.queryShop", "[{}]", T);
    json_t *j = direct_call(&half, &d);
    expect_status(j, 0, NULL);
    json_t *all = json_object_get(json_object_get(j, "data"), "details");
    assert_true(json_array_size(all) >= 5);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "data"), "total_count")),
                     (long long)json_array_size(all));
    json_decref(j);
}

/* A pay time window holds documents changed after it closed: their version as of now. */
static void test_late_changes(void **state)
{
    (void)state;
    json_t *want = truth("trades", "qimen", T - 5 * 86400, T - 4 * 86400);
    size_t i, late = 0;
    json_t *t;
    json_array_foreach(want, i, t) {
        long long b = json_integer_value(json_object_get(t, "basis_unix"));
        long long m = json_integer_value(json_object_get(t, "modified_unix"));
        assert_true(b >= T - 5 * 86400 && b < T - 4 * 86400);
        late += m >= T - 4 * 86400;
    }
    printf("# %zu of %zu trades paid that day changed after it\n", late, json_array_size(want));
    assert_true(late > 0);
    json_decref(want);
}

static void test_checks(void **state)
{
    (void)state;
    struct direct_req d;
    /* the selector must select the catalog's pair: time_type 1 (or absent: 1) is refused */
    const char *tt[] = {",\"time_type\":1", "", ",\"time_type\":\"x\""};
    const char *msg[] = {"参数错误: time_type 不支持取值 1", "参数错误: time_type 不支持取值 1",
                         "For input string: \"x\""};
    for (int k = 0; k < 3; k++) {
        char *params = window("start_time", "end_time", T - 7200, T - 3600, tt[k]);
        char *body = wdts_xasprintf("[%s]", params);
        direct_defaults(&d, "sales.TradeQuery.queryWithDetail", body, T);
        d.page_no = "0";
        d.page_size = "10";
        json_t *j = direct_call(&half, &d);
        expect_status(j, k == 2 ? 1 : 100, msg[k]);
        json_decref(j);
        free(body);
        free(params);
    }
    /* the span: 60 minutes */
    char *params = window("start_time", "end_time", T - 7201, T - 0, ",\"time_type\":2");
    char *body = wdts_xasprintf("[%s]", params);
    direct_defaults(&d, "sales.TradeQuery.queryWithDetail", body, T);
    d.page_no = "0";
    d.page_size = "10";
    json_t *j = direct_call(&half, &d);
    expect_status(j, 100, "您的查询时间过宽,查询时间不能大于60分钟");
    json_decref(j);
    /* no pager, a page above max_page_size, no window */
    d.page_no = d.page_size = NULL;
    j = direct_call(&half, &d);
    expect_status(j, 100, "此方法仅支持分页查询：sales.TradeQuery.queryWithDetail");
    json_decref(j);
    d.page_no = "0";
    d.page_size = "201";
    j = direct_call(&half, &d);
    expect_status(j, 100, "参数错误: page_size 不能大于200");
    json_decref(j);
    free(body);
    free(params);
    direct_defaults(&d, "sales.TradeQuery.queryWithDetail", "[{\"time_type\":2}]", T);
    d.page_no = "0";
    d.page_size = "10";
    j = direct_call(&half, &d);
    expect_status(j, 100, "参数中必须包含起止时间");
    json_decref(j);
    /* the Qimen name of a generated report is known, a wrong one is not */
    struct qimen_req q;
    qimen_defaults(&q, "wdt.sales.tradequery.querywithdetail2", "{}", "{\"page_size\":1}", T);
    j = qimen_call(&half, &q);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "error_response"),
                                                        "code")),
                     22);
    json_decref(j);
}

/* A document paid at b (any in a whole day, whatever the hour the test runs): a window ending
 * at b selects it only with --bounds closed. */
static void test_bounds(void **state)
{
    (void)state;
    json_t *want = truth("trades", "wdt", T - 3 * 86400, T - 2 * 86400);
    assert_true(json_array_size(want) > 0);
    json_t *first = json_array_get(want, 0);
    long long b = json_integer_value(json_object_get(first, "basis_unix"));
    const char *pk = json_string_value(json_object_get(first, "pk"));
    char *params = window("start_time", "end_time", b - 600, b, ",\"time_type\":2");
    long long total;
    json_t *h = pages(&half, 0, "sales.TradeQuery.queryWithDetail", NULL, params, "order",
                      "trade_id", &total);
    json_t *c = pages(&closed, 0, "sales.TradeQuery.queryWithDetail", NULL, params, "order",
                      "trade_id", &total);
    int in_half = 0, in_closed = 0;
    size_t i;
    json_t *v;
    json_array_foreach(h, i, v) in_half |= strcmp(json_string_value(v), pk) == 0;
    json_array_foreach(c, i, v) in_closed |= strcmp(json_string_value(v), pk) == 0;
    assert_false(in_half);
    assert_true(in_closed);
    json_decref(h);
    json_decref(c);
    json_decref(want);
    free(params);
}

/* A catalog report that neither the hand-made model nor the spec covers stops the start. */
static void test_missing_spec_entry(void **state)
{
    (void)state;
    size_t len;
    const char *text = wdts_catalog_embedded(&len);
    json_t *arr = json_loadb(text, len, 0, NULL);
    json_t *extra = json_deep_copy(json_array_get(arr, 4));
    json_object_set_new(extra, "name", json_string("made_up"));
    json_object_set_new(extra, "method", json_string("purchase.MadeUp.queryWithDetail"));
    json_object_set_new(extra, "qimen_method", json_string("wdt.purchase.madeup.querywithdetail"));
    json_array_append_new(arr, extra);
    char path[160];
    snprintf(path, sizeof(path), "%s/bad-catalog.json", dir);
    assert_int_equal(json_dump_file(arr, path, 0), 0);
    json_decref(arr);
    char *bin = wdts_xstrdup(wdts_test_bin("wdt-sandbox"));
    char *argv[] = {bin, "--listen", "127.0.0.1:0", "--demo", "--catalog", path, NULL};
    struct wdts_test_run run;
    assert_int_equal(wdts_test_run(argv, NULL, 30, &run), 0);
    assert_int_equal(run.status, 78);
    assert_non_null(strstr(run.err, "made_up: method purchase.MadeUp.queryWithDetail is neither "
                                    "served by the hand-made model nor in the API spec"));
    wdts_test_run_free(&run);
    free(bin);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paging_both_routes), cmocka_unit_test(test_late_changes),
        cmocka_unit_test(test_checks),             cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_missing_spec_entry),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
