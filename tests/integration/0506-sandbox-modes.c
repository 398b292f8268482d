/* wdt-sandbox, the choices the official pages leave open and the facts they state:
 * --bounds (a record whose time equals a window's start or end is selected or not),
 * --time-format (doc: as each page's example; datetime and epoch_ms: every report's
 * change-time field), --qimen-total; suites' suite_modified, stock changes' one-hour
 * rule without spec_no and their rec_id, deleted goods, suites and warehouses and
 * disabled carriers only with the hide parameter off, and the Qimen method names.
 * Three sandboxes with the same frozen clock and data set. */
#include "wdts_test_sandbox.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "wdts/mem.h"
#include "wdts/time.h"
#include "wdts_test.h"

static struct sbx_proc half, closed, open_; /* --bounds half (doc, total), closed, open */
static int64_t T;
static int64_t ORIGIN; /* the demo tenants' data origin, 2026-01-01 00:00 +08:00 */

static int setup(void **state)
{
    (void)state;
    T = wdts_time_now() / 60 * 60;
    ORIGIN = 1767196800;
    char clock[64];
    snprintf(clock, sizeof(clock), "frozen:%lld", (long long)T);
    const char *a[] = {"--demo", "--clock", clock, "--timestamp-clock", "sandbox", NULL};
    const char *b[] = {"--demo",         "--clock",      clock,      "--timestamp-clock",
                       "sandbox",        "--bounds",     "closed",   "--time-format",
                       "datetime",       "--qimen-total", "absent",  NULL};
    const char *c[] = {"--demo",   "--clock",       clock,      "--timestamp-clock", "sandbox",
                       "--bounds", "open",          "--time-format", "epoch_ms", NULL};
    if (sbx_start(&half, a) != 0 || sbx_start(&closed, b) != 0 || sbx_start(&open_, c) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = sbx_stop(&half, 10000) | sbx_stop(&closed, 10000) | sbx_stop(&open_, 10000);
    return rc == 0 ? 0 : -1;
}

/* A direct page of method with the params object text; fails unless status 0.
 * @returns the answer's data (a new reference). */
static json_t *direct_data(const struct sbx_proc *p, const char *method, const char *params,
                           const char *page_size)
{
    char *body = wdts_xasprintf("[%s]", params);
    struct direct_req d;
    direct_defaults(&d, method, body, T);
    d.page_no = "0";
    d.page_size = page_size;
    d.calc_total = "1";
    json_t *j = direct_call(p, &d);
    expect_status(j, 0, NULL);
    json_t *data = json_incref(json_object_get(j, "data"));
    json_decref(j);
    free(body);
    return data;
}

/* {"sp":"<a>","ep":"<b>"<extra>} for Unix times a and b. */
static char *window(const char *sp, const char *ep, int64_t a, int64_t b, const char *extra)
{
    char x[WDTS_BJTIME_LEN], y[WDTS_BJTIME_LEN];
    wdts_time_format_beijing(a, x);
    wdts_time_format_beijing(b, y);
    return wdts_xasprintf("{\"%s\":\"%s\",\"%s\":\"%s\"%s%s}", sp, x, ep, y, extra ? "," : "",
                          extra ? extra : "");
}

static int has_id(json_t *list, const char *pk, long long id)
{
    size_t i;
    json_t *row;
    json_array_foreach(list, i, row)
    {
        if (json_integer_value(json_object_get(row, pk)) == id)
            return 1;
    }
    return 0;
}

#define TRADES "sales.TradeQuery.queryWithDetail"

/* A trade whose modified time m is a window's start or end: half [m, m+1h) has it and
 * [m-1h, m) not; closed has it in both; open in neither. */
static void test_bounds(void **state)
{
    (void)state;
    char *w = window("start_time", "end_time", T - 3 * 3600, T - 2 * 3600, "\"time_type\":1");
    json_t *data = direct_data(&half, TRADES, w, "1");
    json_t *row = json_array_get(json_object_get(data, "order"), 0);
    assert_non_null(row);
    long long id = json_integer_value(json_object_get(row, "trade_id"));
    int64_t m = 0;
    assert_int_equal(wdts_time_parse_beijing(json_string_value(json_object_get(row, "modified")),
                                             &m),
                     WDTS_OK);
    json_decref(data);
    free(w);

    static const struct {
        struct sbx_proc *p;
        int at_start, at_end;
    } modes[] = {{&half, 1, 0}, {&closed, 1, 1}, {&open_, 0, 0}};
    for (size_t k = 0; k < 3; k++) {
        char *from = window("start_time", "end_time", m, m + 3600, "\"time_type\":1");
        char *to = window("start_time", "end_time", m - 3600, m, "\"time_type\":1");
        json_t *a = direct_data(modes[k].p, TRADES, from, "1000");
        json_t *b = direct_data(modes[k].p, TRADES, to, "1000");
        if (has_id(json_object_get(a, "order"), "trade_id", id) != modes[k].at_start ||
            has_id(json_object_get(b, "order"), "trade_id", id) != modes[k].at_end)
            fail_msg("bounds mode %zu: trade %lld at a window's start %d / end %d", k, id,
                     has_id(json_object_get(a, "order"), "trade_id", id),
                     has_id(json_object_get(b, "order"), "trade_id", id));
        json_decref(a);
        json_decref(b);
        free(from);
        free(to);
    }
    /* The span check counts what is asked: exactly 60 minutes passes in every mode,
     * a second more does not. */
    for (size_t k = 0; k < 3; k++) {
        char *wide = window("start_time", "end_time", T - 7201, T - 3600, "\"time_type\":1");
        char *body = wdts_xasprintf("[%s]", wide);
        struct direct_req d;
        direct_defaults(&d, TRADES, body, T);
        d.page_no = "0";
        d.page_size = "1";
        json_t *j = direct_call(modes[k].p, &d);
        expect_status(j, 100, "您的查询时间过宽,查询时间不能大于60分钟");
        json_decref(j);
        free(body);
        free(wide);
    }
}

/* Every report: its method, window parameters, list key and change-time field (the
 * catalog's modified.field) and whether the page's example shows that field in ms. */
static const struct report {
    const char *method, *sp, *ep, *extra, *list, *field;
    int64_t span;
    int doc_ms;
    const char *pk;
} reports[] = {
    {TRADES, "start_time", "end_time", "\"time_type\":1", "order", "modified", 3600, 0, "trade_id"},
    {"wms.stockout.Sales.queryWithDetail", "start_time", "end_time", "\"status_type\":3", "order",
     "modified", 3600, 0, "stockout_id"},
    {"aftersales.refund.Refund.search", "modified_from", "modified_to", NULL, "order", "modified",
     30 * 86400, 1, "refund_id"},
    {"wms.stockin.Refund.queryWithDetail", "start_time", "end_time", NULL, "order", "modified",
     30 * 86400, 0, "stockin_id"},
    {"purchase.PurchaseOrder.queryWithDetail", "start_time", "end_time", NULL, "order", "modified",
     30 * 86400, 1, "purchase_id"},
    {"wms.stockin.Purchase.queryWithDetail", "start_time", "end_time", NULL, "order", "modified",
     30 * 86400, 1, "stockin_id"},
    {"wms.StockSpec.search2", "start_time", "end_time", NULL, "detail_list", "modified", 30 * 86400,
     1, "rec_id"},
    {"wms.StockSpec.queryChangeHistory", "start_date", "end_date", NULL, "data", "created", 3600,
     1, "rec_id"},
    {"goods.Goods.queryWithSpec", "start_time", "end_time", "\"hide_deleted\":0", "goods_list",
     "modified", 30 * 86400, 0, "goods_id"},
    {"goods.Suite.search", "start_time", "end_time", "\"hide_deleted\":false", "suite_list",
     "suite_modified", 30 * 86400, 0, "suite_id"},
    {"sales.RawTrade.search", "start_time", "end_time", NULL, "order", "modified", 30 * 86400, 0,
     "rec_id"},
    {"setting.Shop.queryShop", NULL, NULL, NULL, "details", "modified", 0, 0, "shop_id"},
    {"setting.Warehouse.queryWarehouse", NULL, NULL, "\"hide_delete\":0", "details", "modified", 0,
     1, "warehouse_id"},
    {"setting.Logistics.queryLogistics", NULL, NULL, "\"hide_delete\":false", "details",
     "modified", 0, 0, "logistics_id"},
};

/* The first page of a report's last window before T. */
static json_t *report_rows(const struct sbx_proc *p, const struct report *r)
{
    char *params = r->sp ? window(r->sp, r->ep, T - 3600 - r->span, T - 3600, r->extra)
                         : wdts_xasprintf("{%s}", r->extra ? r->extra : "");
    json_t *data = direct_data(p, r->method, params, "50");
    json_t *list = json_incref(json_object_get(data, r->list));
    if (json_array_size(list) == 0)
        fail_msg("%s: no rows", r->method);
    json_decref(data);
    free(params);
    return list;
}

/* doc: as the examples show; datetime / epoch_ms: every change-time field in that form,
 * the same instant whatever the form. */
static void test_time_formats(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
        const struct report *r = &reports[i];
        json_t *doc = report_rows(&half, r), *dt = report_rows(&closed, r);
        json_t *ms = report_rows(&open_, r);
        size_t matched = 0;
        for (size_t k = 0; k < json_array_size(doc); k++) {
            /* the same record in the three answers (their bounds differ, so their pages
             * may not hold the same rows) */
            json_t *id = json_object_get(json_array_get(doc, k), r->pk);
            json_t *trow = NULL, *mrow = NULL, *x;
            size_t q;
            json_array_foreach(dt, q, x)
            {
                if (json_equal(json_object_get(x, r->pk), id))
                    trow = x;
            }
            json_array_foreach(ms, q, x)
            {
                if (json_equal(json_object_get(x, r->pk), id))
                    mrow = x;
            }
            if (trow == NULL || mrow == NULL)
                continue;
            matched++;
            json_t *dv = json_object_get(json_array_get(doc, k), r->field);
            json_t *tv = json_object_get(trow, r->field);
            json_t *mv = json_object_get(mrow, r->field);
            if ((r->doc_ms ? !json_is_integer(dv) : !json_is_string(dv)) || !json_is_string(tv) ||
                !json_is_integer(mv))
                fail_msg("%s: %s is not in the form of its mode", r->method, r->field);
            int64_t t = 0;
            assert_int_equal(wdts_time_parse_beijing(json_string_value(tv), &t), WDTS_OK);
            assert_int_equal(json_integer_value(mv), t * 1000);
            if (r->doc_ms)
                assert_int_equal(json_integer_value(dv), t * 1000);
            else
                assert_string_equal(json_string_value(dv), json_string_value(tv));
        }
        if (matched == 0)
            fail_msg("%s: no record in all three answers", r->method);
        json_decref(doc);
        json_decref(dt);
        json_decref(ms);
    }
    /* refunds also carry modified_date, a datetime of the same instant, in every mode */
    json_t *rows = report_rows(&half, &reports[2]);
    json_t *row = json_array_get(rows, 0);
    int64_t t = 0;
    assert_int_equal(
        wdts_time_parse_beijing(json_string_value(json_object_get(row, "modified_date")), &t),
        WDTS_OK);
    assert_int_equal(json_integer_value(json_object_get(row, "modified")), t * 1000);
    json_decref(rows);
    /* goods: goods_modified and spec_modified in ms, the row's modified a datetime */
    rows = report_rows(&half, &reports[8]);
    row = json_array_get(rows, 0);
    assert_true(json_is_integer(json_object_get(row, "goods_modified")));
    assert_true(json_is_string(json_object_get(row, "modified")));
    json_t *spec = json_array_get(json_object_get(row, "spec_list"), 0);
    assert_true(json_is_integer(json_object_get(spec, "spec_modified")));
    json_decref(rows);
}

/* Suites carry suite_modified and suite_created; only their lines have modified/created. */
static void test_suite_rows(void **state)
{
    (void)state;
    json_t *rows = report_rows(&half, &reports[9]);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        assert_true(json_is_string(json_object_get(row, "suite_modified")));
        assert_true(json_is_string(json_object_get(row, "suite_created")));
        assert_null(json_object_get(row, "modified"));
        assert_null(json_object_get(row, "created"));
        json_t *line = json_array_get(json_object_get(row, "detail_list"), 0);
        assert_true(json_is_string(json_object_get(line, "modified")));
        assert_true(json_is_string(json_object_get(line, "created")));
    }
    json_decref(rows);
}

#define CHANGES "wms.StockSpec.queryChangeHistory"

/* Without spec_no an hour at most; with it 30 days, and only that spec's rows.
 * rec_id is on every row and unique. */
static void test_stock_changes(void **state)
{
    (void)state;
    char *w = window("start_date", "end_date", T - 3 * 3600 - 1, T - 2 * 3600, NULL);
    char *body = wdts_xasprintf("[%s]", w);
    struct direct_req d;
    direct_defaults(&d, CHANGES, body, T);
    d.page_no = "0";
    d.page_size = "10";
    json_t *j = direct_call(&half, &d);
    expect_status(j, 100, "您的查询时间过宽,不传商家编码,查询时间不能大于1小时");
    json_decref(j);
    free(body);
    free(w);

    w = window("start_date", "end_date", T - 3 * 3600, T - 2 * 3600, NULL);
    json_t *data = direct_data(&half, CHANGES, w, "100000");
    json_t *list = json_object_get(data, "data");
    size_t n = json_array_size(list);
    assert_true(n > 0);
    long long *ids = wdts_xcalloc(n, sizeof(*ids));
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_object_get(json_array_get(list, i), "rec_id");
        assert_true(json_is_integer(rec));
        ids[i] = json_integer_value(rec);
        for (size_t k = 0; k < i; k++)
            if (ids[k] == ids[i])
                fail_msg("rec_id %lld twice", ids[i]);
    }
    const char *spec_no = json_string_value(json_object_get(json_array_get(list, 0), "spec_no"));
    char *extra = wdts_xasprintf("\"spec_no\":\"%s\"", spec_no);
    free(w);
    w = window("start_date", "end_date", T - 20 * 86400, T - 3600, extra);
    json_t *one = direct_data(&half, CHANGES, w, "100000");
    json_t *rows = json_object_get(one, "data");
    assert_true(json_array_size(rows) > 0);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
        assert_string_equal(json_string_value(json_object_get(row, "spec_no")), spec_no);
    json_decref(one);
    json_decref(data);
    free(ids);
    free(extra);
    free(w);
}

/* Rows whose flag field is set (deleted > 0, or is_disabled true). */
static size_t flagged(json_t *list, const char *field)
{
    size_t i, n = 0;
    json_t *row;
    json_array_foreach(list, i, row)
    {
        json_t *v = json_object_get(row, field);
        n += json_is_true(v) || (json_is_integer(v) && json_integer_value(v) > 0);
    }
    return n;
}

/* Deleted goods and suites (deleted > 0), the deleted warehouse and the disabled carrier
 * (is_disabled) come only with the hide parameter at 0 / false. */
static void test_hidden_rows(void **state)
{
    (void)state;
    static const struct {
        const char *method, *list, *flag, *param, *show, *hide;
        int windowed;
    } cases[] = {
        {"goods.Goods.queryWithSpec", "goods_list", "deleted", "hide_deleted", "0", "1", 1},
        {"goods.Suite.search", "suite_list", "deleted", "hide_deleted", "false", "true", 1},
        {"setting.Warehouse.queryWarehouse", "details", "is_disabled", "hide_delete", "0", "1", 0},
        {"setting.Logistics.queryLogistics", "details", "is_disabled", "hide_delete", "false",
         "true", 0},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        size_t total[3];
        for (int v = 0; v < 3; v++) { /* shown, hidden, parameter absent */
            char *extra = v == 2 ? NULL
                                 : wdts_xasprintf("\"%s\":%s", cases[k].param,
                                                  v == 0 ? cases[k].show : cases[k].hide);
            /* every deletion falls in the data set's first 30 days */
            char *params = cases[k].windowed
                               ? window("start_time", "end_time", ORIGIN, ORIGIN + 30 * 86400,
                                        extra)
                               : wdts_xasprintf("{%s}", extra ? extra : "");
            json_t *data = direct_data(&half, cases[k].method, params, "1000");
            json_t *list = json_object_get(data, cases[k].list);
            size_t f = flagged(list, cases[k].flag);
            if (v == 0 && f == 0)
                fail_msg("%s: no deleted or disabled row with %s off", cases[k].method,
                         cases[k].param);
            if (v > 0 && f != 0)
                fail_msg("%s: %zu deleted or disabled rows hidden by default", cases[k].method, f);
            total[v] = json_array_size(list);
            assert_int_equal(json_integer_value(json_object_get(data, "total_count")), total[v]);
            json_decref(data);
            free(params);
            free(extra);
        }
        assert_true(total[0] > total[1]);
        assert_int_equal(total[1], total[2]);
    }
}

/* Qimen: the official names only (stock is wdt.wms.stockspec.search), with or without
 * a scene prefix; total_count per --qimen-total. */
static void test_qimen(void **state)
{
    (void)state;
    char *params = window("start_time", "end_time", T - 86400 - 3600, T - 86400, NULL);
    static const char *const ok[] = {"wdt.wms.stockspec.search",
                                     "3ldsmu02o9.wdt.wms.stockspec.search"};
    for (size_t i = 0; i < 2; i++) {
        struct qimen_req q;
        qimen_defaults(&q, ok[i], params, "{\"page_size\":5,\"page_no\":1}", T);
        json_t *j = qimen_call(&half, &q);
        expect_status(j, 0, NULL);
        json_t *data = json_object_get(json_object_get(j, "response"), "data");
        assert_true(json_is_integer(json_object_get(data, "total_count")));
        json_decref(j);
        j = qimen_call(&closed, &q);
        expect_status(j, 0, NULL);
        data = json_object_get(json_object_get(j, "response"), "data");
        assert_true(json_is_array(json_object_get(data, "detail_list")));
        assert_null(json_object_get(data, "total_count"));
        json_decref(j);
    }
    static const char *const bad[] = {"wdt.wms.stockspec.search2",
                                      "3ldsmu02o9.wdt.wms.stockspec.search2",
                                      "wdt.wms.StockSpec.search2"};
    for (size_t i = 0; i < 3; i++) {
        struct qimen_req q;
        qimen_defaults(&q, bad[i], params, "{\"page_size\":5,\"page_no\":1}", T);
        json_t *j = qimen_call(&half, &q);
        json_t *er = json_object_get(j, "error_response");
        if (er == NULL || json_integer_value(json_object_get(er, "code")) != 22)
            fail_msg("%s was not refused with TOP 22", bad[i]);
        json_decref(j);
    }
    free(params);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds),        cmocka_unit_test(test_time_formats),
        cmocka_unit_test(test_suite_rows),    cmocka_unit_test(test_stock_changes),
        cmocka_unit_test(test_hidden_rows),   cmocka_unit_test(test_qimen),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
