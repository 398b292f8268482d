/* The report catalog: the embedded default loads and is sane for every report
 * the product promises; a broken catalog is rejected with every problem named. */
#include "wdts_test.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdts/catalog.h"

static const char *const incremental_reports[] = {
    "trades", "stockouts",     "refunds", "refund_stockins", "purchase_orders", "purchase_stockins",
    "stock",  "stock_changes", "goods",   "suites",          "raw_trades",
};
static const char *const snapshot_reports[] = {"shops", "warehouses", "logistics"};

static struct wdts_catalog *load_embedded(void)
{
    char es[1024] = "";
    struct wdts_catalog *cat = wdts_catalog_new(NULL, es, sizeof(es));
    if (cat == NULL)
        fail_msg("embedded catalog rejected: %s", es);
    return cat;
}

static void test_embedded_loads(void **state)
{
    (void)state;
    struct wdts_catalog *cat = load_embedded();
    assert_true(wdts_catalog_count(cat) >= 14);
    assert_null(wdts_catalog_get(cat, "no_such_report"));
    assert_null(wdts_catalog_at(cat, wdts_catalog_count(cat)));
    /* iteration order is file order and every entry can be found by name */
    for (size_t i = 0; i < wdts_catalog_count(cat); i++) {
        const struct wdts_catalog_report *rep = wdts_catalog_at(cat, i);
        assert_ptr_equal(wdts_catalog_get(cat, rep->name), rep);
    }
    assert_string_equal(wdts_catalog_at(cat, 0)->name, "trades");
    wdts_catalog_destroy(cat);
    wdts_catalog_destroy(NULL);
}

/* The Qimen name's form; its value is compared with the API spec by test_spec. */
static void expect_qimen_form(const struct wdts_catalog_report *rep)
{
    assert_true(strncmp(rep->qimen_method, "wdt.", 4) == 0);
    for (const char *p = rep->qimen_method; *p; p++)
        assert_false(isupper((unsigned char)*p));
}

static void test_every_promised_report(void **state)
{
    (void)state;
    struct wdts_catalog *cat = load_embedded();
    for (size_t i = 0; i < sizeof(incremental_reports) / sizeof(incremental_reports[0]); i++) {
        const struct wdts_catalog_report *rep = wdts_catalog_get(cat, incremental_reports[i]);
        if (rep == NULL)
            fail_msg("report %s missing from the catalog", incremental_reports[i]);
        assert_int_equal(rep->kind, WDTS_REPORT_INCREMENTAL);
        assert_true(rep->max_span >= 3600 && rep->max_span <= 30 * 86400);
        assert_int_equal(rep->max_span % 60, 0);
        assert_int_equal(rep->snapshot_interval, 0);
        assert_true(strlen(rep->time_start) > 0 && strlen(rep->time_end) > 0);
        assert_true(strcmp(rep->time_start, rep->time_end) != 0);
        assert_true(strlen(rep->time_basis) > 0);
        assert_true(rep->page_size >= 1 && rep->page_size <= rep->max_page_size);
        assert_true(strlen(rep->list_key) > 0 && rep->pk.n >= 1);
        assert_true(strlen(rep->modified_field) > 0);
        assert_true(strlen(rep->description) > 0);
        assert_true(json_is_object(rep->params));
        expect_qimen_form(rep);
    }
    for (size_t i = 0; i < sizeof(snapshot_reports) / sizeof(snapshot_reports[0]); i++) {
        const struct wdts_catalog_report *rep = wdts_catalog_get(cat, snapshot_reports[i]);
        if (rep == NULL)
            fail_msg("report %s missing from the catalog", snapshot_reports[i]);
        assert_int_equal(rep->kind, WDTS_REPORT_SNAPSHOT);
        assert_true(rep->snapshot_interval >= 60);
        assert_int_equal(rep->max_span, 0);
        assert_string_equal(rep->list_key, "details");
        expect_qimen_form(rep);
    }

    /* The facts of docs/API.md §5 the planner and the worker depend on. */
    const struct wdts_catalog_report *t = wdts_catalog_get(cat, "trades");
    assert_string_equal(t->method, "sales.TradeQuery.queryWithDetail");
    assert_string_equal(t->qimen_method, "wdt.sales.tradequery.querywithdetail");
    assert_int_equal(t->max_span, 3600);
    assert_true(t->page_size >= 100 && t->page_size <= 200);
    assert_int_equal(json_integer_value(json_object_get(t->params, "time_type")), 1);
    assert_string_equal(t->pk.v[0], "trade_id");
    assert_int_equal(t->n_details, 1);
    assert_string_equal(t->details[0].key, "detail_list");
    assert_true(t->pii.n >= 5);

    const struct wdts_catalog_report *so = wdts_catalog_get(cat, "stockouts");
    assert_int_equal(so->max_span, 3600);
    assert_true(so->page_size >= 100 && so->page_size <= 200);
    assert_int_equal(json_integer_value(json_object_get(so->params, "status_type")), 3);
    assert_non_null(strstr(json_string_value(json_object_get(so->params, "status")), "110"));
    assert_true(strlen(so->notes) > 0);

    const struct wdts_catalog_report *rf = wdts_catalog_get(cat, "refunds");
    assert_string_equal(rf->time_start, "modified_from");
    assert_string_equal(rf->time_end, "modified_to");
    assert_true(rf->page_size >= 100 && rf->page_size <= 200);

    const struct wdts_catalog_report *st = wdts_catalog_get(cat, "stock");
    assert_true(st->max_page_size <= 1000 && st->page_size > 200);
    assert_string_equal(st->list_key, "detail_list");

    const struct wdts_catalog_report *sc = wdts_catalog_get(cat, "stock_changes");
    assert_string_equal(sc->time_start, "start_date");
    assert_string_equal(sc->time_end, "end_date");
    /* 60 minutes without spec_no (the official page); rec_id is the change row's key */
    assert_int_equal(sc->max_span, 3600);
    assert_int_equal(sc->pk.n, 1);
    assert_string_equal(sc->pk.v[0], "rec_id");
    assert_string_equal(sc->modified_field, "created");

    const struct wdts_catalog_report *su = wdts_catalog_get(cat, "suites");
    assert_string_equal(su->modified_field, "suite_modified");
    assert_string_equal(st->qimen_method, "wdt.wms.stockspec.search");
    wdts_catalog_destroy(cat);
}

static void test_repo_file_matches_embedded(void **state)
{
    (void)state;
    /* The path override loads the same file the build embedded. */
    char path[1024];
    snprintf(path, sizeof(path), "%s/common/model/catalog/reports.json", WDTS_SOURCE_DIR);
    char es[1024] = "";
    struct wdts_catalog *cat = wdts_catalog_new(path, es, sizeof(es));
    if (cat == NULL)
        fail_msg("%s", es);
    struct wdts_catalog *emb = load_embedded();
    assert_int_equal(wdts_catalog_count(cat), wdts_catalog_count(emb));
    for (size_t i = 0; i < wdts_catalog_count(cat); i++) {
        assert_string_equal(wdts_catalog_at(cat, i)->name, wdts_catalog_at(emb, i)->name);
        assert_int_equal(wdts_catalog_at(cat, i)->max_span, wdts_catalog_at(emb, i)->max_span);
    }
    size_t len = 0;
    const char *json = wdts_catalog_embedded(&len);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *file = calloc(1, len + 2);
    size_t got = fread(file, 1, len + 1, f);
    fclose(f);
    assert_int_equal(got, len);
    assert_memory_equal(file, json, len);
    free(file);
    wdts_catalog_destroy(cat);
    wdts_catalog_destroy(emb);
}

/* A valid incremental entry with one field replaced by `patch` (a JSON fragment). */
#define ENTRY_WITH(name, basis, group, extra)                                                \
    "{\"name\":\"" name "\",\"description\":\"d\",\"kind\":\"incremental\","                       \
    "\"method\":\"a.B.c\",\"qimen_method\":\"wdt.a.b.c\","                                         \
    "\"time\":{\"start\":\"start_time\",\"end\":\"end_time\",\"basis\":\"" basis "\"},"            \
    "\"page_size\":100,\"max_page_size\":200,\"list_key\":\"order\",\"pk\":[\"id\"],"              \
    "\"modified\":{\"field\":\"modified\",\"format\":\"datetime\"},\"group\":\"" group "\"" extra "}"
#define ENTRY(name, extra) ENTRY_WITH(name, "modified", "sales", extra)

static void test_small_valid_catalog(void **state)
{
    (void)state;
    const char *json = "[" ENTRY_WITH("r2", "created", "finance",
                                      ",\"max_span_s\":60,\"lookback_s\":600,\"history\":{"
                                      "\"method\":\"a.B.h\",\"qimen_method\":\"wdt.a.b.h\"}") ","
                       ENTRY(
        "r1",
        ",\"max_span_s\":3600") ","
                                "{\"name\":\"s1\",\"description\":\"d\",\"kind\":\"snapshot\","
                                "\"method\":\"a.B.list\",\"qimen_method\":\"wdt.a.b.list\","
                                "\"page_size\":100,\"max_page_size\":100,\"list_key\":\"details\","
                                "\"pk\":[\"id\"],\"modified\":{\"field\":\"modified\",\"format\":"
                                "\"epoch_ms\"},"
                                "\"snapshot_interval_s\":600,\"group\":\"settings\"}]";
    char es[512] = "";
    struct wdts_catalog *cat =
        wdts_catalog_new_from_json(json, strlen(json), "test", es, sizeof(es));
    if (cat == NULL)
        fail_msg("%s", es);
    assert_int_equal(wdts_catalog_count(cat), 3);
    const struct wdts_catalog_report *r1 = wdts_catalog_get(cat, "r1");
    const struct wdts_catalog_report *r2 = wdts_catalog_get(cat, "r2");
    assert_string_equal(r1->group, "sales");
    assert_string_equal(r1->history_method, "");
    assert_int_equal(r1->lookback, 0);
    assert_int_equal(wdts_catalog_report_sees_late_changes(r1), 1);
    assert_string_equal(r2->group, "finance");
    assert_string_equal(r2->time_basis, "created");
    assert_string_equal(r2->history_method, "a.B.h");
    assert_string_equal(r2->history_qimen_method, "wdt.a.b.h");
    assert_int_equal(r2->lookback, 600);
    /* without its own time or params, the archive method takes the report's */
    assert_string_equal(r2->history_time_start, "start_time");
    assert_string_equal(r2->history_time_end, "end_time");
    assert_ptr_equal(r2->history_params, r2->params);
    assert_int_equal(wdts_catalog_report_sees_late_changes(r2), 0);
    const struct wdts_catalog_report *s1 = wdts_catalog_get(cat, "s1");
    assert_string_equal(s1->group, "settings");
    assert_int_equal(wdts_catalog_report_sees_late_changes(s1), 1);
    assert_int_equal(s1->snapshot_interval, 600);
    assert_int_equal(s1->modified_format, WDTS_TIMEFMT_EPOCH_MS);
    assert_string_equal(s1->time_start, "");
    assert_int_equal(json_object_size(s1->params), 0);
    assert_string_equal(wdts_report_kind_name(s1->kind), "snapshot");
    wdts_catalog_destroy(cat);
}

static void test_broken_catalog_lists_every_problem(void **state)
{
    (void)state;
    const char *json =
        "["
        /* missing list_key (replaced by an unknown field) */
        "{\"name\":\"nolist\",\"description\":\"d\",\"kind\":\"incremental\",\"method\":\"a.B.c\","
        "\"qimen_method\":\"wdt.a.b.c\",\"time\":{\"start\":\"s\",\"end\":\"e\",\"basis\":"
        "\"modified\"},"
        "\"max_span_s\":3600,\"page_size\":100,\"max_page_size\":200,\"listkey\":\"order\","
        "\"pk\":[\"id\"],\"modified\":{\"field\":\"modified\",\"format\":\"datetime\"}},"
        /* bad kind */
        "{\"name\":\"badkind\",\"description\":\"d\",\"kind\":\"stream\",\"method\":\"a.B.c\","
        "\"qimen_method\":\"wdt.a.b.c\",\"page_size\":100,\"max_page_size\":200,"
        "\"list_key\":\"order\",\"pk\":[\"id\"],\"modified\":{\"field\":\"m\",\"format\":"
        "\"datetime\"}},"
        /* zero span */
        ENTRY("zerospan", ",\"max_span_s\":0") ","
        /* duplicate of the one above */
        ENTRY("zerospan",
              ",\"max_span_s\":60") ","
                                    /* page_size above max, bad modified format, upper-case qimen
                                       method */
                                    "{\"name\":\"pages\",\"description\":\"d\",\"kind\":"
                                    "\"incremental\",\"method\":\"a.B.c\","
                                    "\"qimen_method\":\"wdt.a.B.c\",\"time\":{\"start\":\"s\","
                                    "\"end\":\"e\",\"basis\":\"modified\"},"
                                    "\"max_span_s\":3600,\"page_size\":500,\"max_page_size\":200,"
                                    "\"list_key\":\"order\","
                                    "\"pk\":[],\"modified\":{\"field\":\"modified\",\"format\":"
                                    "\"iso\"},\"params\":{\"x\":null}}"
                                    "]";
    char es[4096] = "";
    struct wdts_catalog *cat =
        wdts_catalog_new_from_json(json, strlen(json), "broken.json", es, sizeof(es));
    assert_null(cat);
    print_message("%s\n", es);
    assert_non_null(strstr(es, "catalog broken.json:"));
    assert_non_null(strstr(es, "nolist: unknown field 'listkey'"));
    assert_non_null(strstr(es, "nolist: 'list_key' is missing"));
    assert_non_null(
        strstr(es, "badkind: 'kind' must be \"incremental\" or \"snapshot\" (got 'stream')"));
    assert_non_null(strstr(es, "zerospan: 'max_span_s' must be a positive multiple of 60"));
    assert_non_null(strstr(es, "zerospan: duplicate name (entries 2 and 3)"));
    assert_non_null(strstr(es, "pages: 'page_size' 500 is larger than 'max_page_size' 200"));
    assert_non_null(strstr(es, "pages: 'modified.format' must be"));
    assert_non_null(strstr(es, "pages: 'qimen_method' must be lower case"));
    assert_non_null(strstr(es, "pages: 'pk' must name at least one field"));
    assert_non_null(strstr(es, "pages: 'params.x' must be"));
    assert_non_null(strstr(es, "pages: 'group' is missing"));
    /* thirteen problems (three entries without a group), each listed once; a bad kind does
     * not add span or time noise */
    assert_non_null(strstr(es, "catalog broken.json: 13 problems: "));
}

static void test_other_rejections(void **state)
{
    (void)state;
    char es[512];
    struct {
        const char *json;
        const char *want;
    } cases[] = {
        {"not json", "not valid JSON"},
        {"[]", "non-empty JSON array"},
        {"{\"name\":\"x\"}", "non-empty JSON array"},
        {"[1]", "entry 0: must be an object"},
        {"[" ENTRY("bad:name", ",\"max_span_s\":60") "]", "entry 0: 'name' 'bad:name' must be"},
        {"[" ENTRY("r", ",\"max_span_s\":90") "]",
         "r: 'max_span_s' must be a positive multiple of 60"},
        {"[" ENTRY("r", ",\"max_span_s\":\"3600\"") "]", "r: 'max_span_s' must be an integer"},
        {"[" ENTRY("r", "") "]", "r: 'max_span_s' is missing"},
        {"[" ENTRY("r", ",\"max_span_s\":60,\"snapshot_interval_s\":60") "]",
         "r: 'snapshot_interval_s' is only for snapshot reports"},
        {"[" ENTRY("r", ",\"max_span_s\":60,\"params\":{\"start_time\":\"x\"}") "]",
         "r: 'params.start_time' is the window parameter"},
        {"[" ENTRY("r", ",\"max_span_s\":60,\"details\":[{\"key\":\"d\"}]") "]",
         "r: details[0]: 'pk' is missing"},
        {"[{\"name\":\"s\",\"description\":\"d\",\"kind\":\"snapshot\",\"method\":\"a.B\","
         "\"qimen_method\":\"wdt.a.b\",\"page_size\":1,\"max_page_size\":1,\"list_key\":\"l\","
         "\"pk\":[\"id\"],\"modified\":{\"field\":\"m\",\"format\":\"datetime\"},"
         "\"group\":\"goods\"}]",
         "s: 'snapshot_interval_s' is missing"},
        {"[{\"name\":\"s\",\"description\":\"d\",\"kind\":\"snapshot\",\"method\":\"a.B\","
         "\"qimen_method\":\"wdt.a.b\",\"page_size\":1,\"max_page_size\":1,\"list_key\":\"l\","
         "\"pk\":[\"id\"],\"modified\":{\"field\":\"m\",\"format\":\"datetime\"},"
         "\"snapshot_interval_s\":60,\"group\":\"goods\",\"lookback_s\":60}]",
         "s: 'lookback_s' is only for incremental reports"},
        {"[" ENTRY_WITH("r", "modified", "misc", ",\"max_span_s\":60") "]",
         "r: 'group' must be one of sales, aftersales"},
        {"[" ENTRY_WITH("r", "shipped", "stock", ",\"max_span_s\":60") "]",
         "r: 'time.basis' must be one of modified, created"},
        {"[" ENTRY("r", ",\"max_span_s\":60,\"lookback_s\":61") "]",
         "r: 'lookback_s' must be a positive multiple of 60"},
        {"[" ENTRY("r", ",\"max_span_s\":60,\"history\":{\"method\":\"a.B.c\","
                        "\"qimen_method\":\"wdt.a.b.h\"}") "]",
         "r: 'history.method' must differ from 'method'"},
        {"[" ENTRY("r", ",\"max_span_s\":60,\"history\":{\"method\":\"a.B.h\"}") "]",
         "r: 'qimen_method' is missing"},
        {"[" ENTRY("r", ",\"max_span_s\":60,\"history\":[]") "]",
         "r: 'history' must be an object {method, qimen_method[, time, params]}"},
        {"[" ENTRY("r", ",\"max_span_s\":60,\"history\":{\"method\":\"a.B.h\","
                        "\"qimen_method\":\"wdt.a.b.h\",\"window\":{}}") "]",
         "r: 'history' has an unknown field 'window'"},
        {"[" ENTRY("r", ",\"max_span_s\":60,\"history\":{\"method\":\"a.B.h\","
                        "\"qimen_method\":\"wdt.a.b.h\",\"time\":{\"start\":\"s\"}}") "]",
         "r: 'history.time' must be an object {start, end}"},
        {"[" ENTRY("r", ",\"max_span_s\":60,\"history\":{\"method\":\"a.B.h\","
                        "\"qimen_method\":\"wdt.a.b.h\",\"time\":{\"start\":\"s\","
                        "\"end\":\"e\"},\"params\":{\"s\":\"x\",\"k\":1.5}}") "]",
         "r: 'history.params.s' is the window parameter"},
        {"[" ENTRY("r", ",\"max_span_s\":60,\"history\":{\"method\":\"a.B.h\","
                        "\"qimen_method\":\"wdt.a.b.h\",\"params\":{\"k\":1.5}}") "]",
         "r: 'history.params.k' must be a string, an integer or a boolean"},
        {"[" ENTRY("r", ",\"max_span_s\":60,\"history\":{\"method\":\"a.B.h\","
                        "\"qimen_method\":\"wdt.a.B.h\"}") "]",
         "r: 'qimen_method' must be lower case (got 'wdt.a.B.h')"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        es[0] = '\0';
        struct wdts_catalog *cat =
            wdts_catalog_new_from_json(cases[i].json, strlen(cases[i].json), "t", es, sizeof(es));
        if (cat != NULL || strstr(es, cases[i].want) == NULL)
            fail_msg("case %zu: want '%s', got '%s'", i, cases[i].want, es);
    }
    es[0] = '\0';
    assert_null(wdts_catalog_new("/nonexistent/reports.json", es, sizeof(es)));
    assert_non_null(strstr(es, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_loads),
        cmocka_unit_test(test_every_promised_report),
        cmocka_unit_test(test_repo_file_matches_embedded),
        cmocka_unit_test(test_small_valid_catalog),
        cmocka_unit_test(test_broken_catalog_lists_every_problem),
        cmocka_unit_test(test_other_rejections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
