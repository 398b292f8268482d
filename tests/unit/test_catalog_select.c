/* Report selection (wdts_catalog_select()): groups, all, report names, report:NAME, mixed
 * lists, duplicates, and the error for an unknown or empty word, on a small catalog and on
 * the embedded one. */
#include "wdts_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/catalog.h"

#define ENTRY(name, group, span)                                                             \
    "{\"name\":\"" name "\",\"description\":\"d\",\"kind\":\"incremental\","                   \
    "\"method\":\"a.B.c\",\"qimen_method\":\"wdt.a.b.c\","                                   \
    "\"time\":{\"start\":\"start_time\",\"end\":\"end_time\",\"basis\":\"modified\"},"         \
    "\"max_span_s\":" span ",\"page_size\":100,\"max_page_size\":200,\"list_key\":\"order\","  \
    "\"pk\":[\"id\"],\"modified\":{\"field\":\"modified\",\"format\":\"datetime\"},"           \
    "\"group\":\"" group "\"}"

/* trades (sales), raw_trades (sales), stock (stock: a report named like its group),
 * stock_changes (stock), goods (goods), refunds (aftersales). */
static const char small[] = "[" ENTRY("trades", "sales", "3600") ","
                           ENTRY("raw_trades", "sales", "3600") ","
                           ENTRY("stock", "stock", "3600") ","
                           ENTRY("stock_changes", "stock", "3600") ","
                           ENTRY("goods", "goods", "3600") ","
                           ENTRY("refunds", "aftersales", "3600") "]";

static struct wdts_catalog *load_small(void)
{
    char es[512] = "";
    struct wdts_catalog *cat = wdts_catalog_new_from_json(small, strlen(small), "t", es, sizeof(es));
    if (cat == NULL)
        fail_msg("%s", es);
    return cat;
}

/* The selected names joined by ',' in catalog order. */
static long pick(const struct wdts_catalog *cat, const char *list, char *out, size_t size,
                 char *es, size_t es_size)
{
    unsigned char sel[64];
    assert_true(wdts_catalog_count(cat) <= sizeof(sel));
    long n = wdts_catalog_select(cat, list, sel, es, es_size);
    out[0] = '\0';
    if (n < 0)
        return n;
    size_t len = 0;
    for (size_t i = 0; i < wdts_catalog_count(cat); i++)
        if (sel[i])
            len += (size_t)snprintf(out + len, size - len, "%s%s", len ? "," : "",
                                    wdts_catalog_at(cat, i)->name);
    return n;
}

static void expect(const struct wdts_catalog *cat, const char *list, const char *want)
{
    char got[512], es[2048] = "";
    long n = pick(cat, list, got, sizeof(got), es, sizeof(es));
    if (n < 0)
        fail_msg("'%s': %s", list, es);
    assert_string_equal(got, want);
    size_t commas = 1;
    for (const char *p = want; *p; p++)
        commas += *p == ',';
    assert_int_equal(n, (long)commas);
}

static void test_groups_names_mixed(void **state)
{
    (void)state;
    struct wdts_catalog *cat = load_small();
    expect(cat, "sales", "trades,raw_trades");
    expect(cat, "stock", "stock,stock_changes"); /* the group, not the report alone */
    expect(cat, "report:stock", "stock");
    expect(cat, "goods", "goods");
    expect(cat, "sales,stock_changes", "trades,raw_trades,stock_changes");
    expect(cat, "refunds,trades", "trades,refunds"); /* catalog order, whatever the list's */
    expect(cat, "trades,sales,trades", "trades,raw_trades"); /* duplicates count once */
    expect(cat, "all", "trades,raw_trades,stock,stock_changes,goods,refunds");
    expect(cat, "stock,all", "trades,raw_trades,stock,stock_changes,goods,refunds");
    expect(cat, NULL, "trades,raw_trades,stock,stock_changes,goods,refunds");
    expect(cat, "", "trades,raw_trades,stock,stock_changes,goods,refunds");
    wdts_catalog_destroy(cat);
}

static void test_errors_list_groups_and_reports(void **state)
{
    (void)state;
    struct wdts_catalog *cat = load_small();
    char got[512], es[2048] = "";
    assert_int_equal(pick(cat, "sales,nosuch", got, sizeof(got), es, sizeof(es)), -1);
    assert_non_null(strstr(es, "unknown report or group 'nosuch'"));
    assert_non_null(strstr(es, "sales (trades, raw_trades)"));
    assert_non_null(strstr(es, "stock (stock, stock_changes)"));
    assert_non_null(strstr(es, "aftersales (refunds)"));
    assert_non_null(strstr(es, "finance ()")); /* a group with no report yet is listed too */
    assert_non_null(strstr(es, "report:NAME"));
    es[0] = '\0';
    assert_int_equal(pick(cat, "sales,,stock", got, sizeof(got), es, sizeof(es)), -1);
    assert_non_null(strstr(es, "empty name"));
    assert_int_equal(pick(cat, "Sales", got, sizeof(got), es, sizeof(es)), -1);
    assert_int_equal(pick(cat, "report:sales", got, sizeof(got), es, sizeof(es)), -1);
    assert_int_equal(pick(cat, "trades,", got, sizeof(got), es, sizeof(es)), -1);
    /* a group with no report is no error, but a selection of nothing is */
    es[0] = '\0';
    assert_int_equal(pick(cat, "finance", got, sizeof(got), es, sizeof(es)), -1);
    assert_non_null(strstr(es, "selects no report"));
    expect(cat, "finance,trades", "trades");
    wdts_catalog_destroy(cat);
}

/* On the embedded catalog: every group selects exactly its reports, the groups together
 * are all, and every report is selectable by name (report:NAME too). */
static void test_embedded_catalog(void **state)
{
    (void)state;
    char es[2048] = "";
    struct wdts_catalog *cat = wdts_catalog_new(NULL, es, sizeof(es));
    if (cat == NULL)
        fail_msg("%s", es);
    size_t n = wdts_catalog_count(cat);
    unsigned char *sel = calloc(n, 1), *any = calloc(n, 1);
    long total = 0;
    for (size_t g = 0; wdts_catalog_groups[g]; g++) {
        long k = wdts_catalog_select(cat, wdts_catalog_groups[g], sel, es, sizeof(es));
        if (k < 0)
            continue; /* no report in this group yet */
        for (size_t i = 0; i < n; i++) {
            const struct wdts_catalog_report *r = wdts_catalog_at(cat, i);
            assert_int_equal(sel[i], strcmp(r->group, wdts_catalog_groups[g]) == 0);
            assert_false(sel[i] && any[i]); /* in one group only */
            any[i] |= sel[i];
        }
        total += k;
    }
    assert_int_equal(total, (long)n);
    assert_int_equal(wdts_catalog_select(cat, "all", sel, es, sizeof(es)), (long)n);
    for (size_t i = 0; i < n; i++) {
        char word[128];
        snprintf(word, sizeof(word), "report:%s", wdts_catalog_at(cat, i)->name);
        assert_int_equal(wdts_catalog_select(cat, word, sel, es, sizeof(es)), 1);
        assert_int_equal(sel[i], 1);
    }
    free(sel);
    free(any);
    wdts_catalog_destroy(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_names_mixed),
        cmocka_unit_test(test_errors_list_groups_and_reports),
        cmocka_unit_test(test_embedded_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
