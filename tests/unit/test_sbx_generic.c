/* The sandbox's generated reports (sandbox/sbx_generic.h): every catalog report resolves
 * (hand-made or a spec entry; a report with neither is named at start-up), and the
 * generator, run here on every method of the spec (SBX_REPORTS_GENERATE_ALL) and on a
 * catalog variant whose window is on pay time, is deterministic, keys documents and
 * nested rows uniquely, selects by the basis time as of the query, shows the version as
 * of the query (late changes after the basis time included) and agrees with its truth. */
#include "wdts_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sbx_clock.h"
#include "sbx_gateway.h"
#include "sbx_generic.h"
#include "sbx_method.h"
#include "sbx_tenant.h"
#include "wdts/catalog.h"
#include "wdts/mem.h"
#include "wdts/sign.h"
#include "wdts/str.h"
#include "wdts/time.h"

static const struct sbx_dataset DS = {7, 2000, 1767196800LL}; /* 2026-01-01 00:00 +08:00 */
#define DAY 86400

/* The embedded catalog with trades windowed on pay time (time_type 2, basis paid), as
 * JSON text (free it). */
static char *paid_catalog(void)
{
    size_t len;
    const char *text = wdts_catalog_embedded(&len);
    json_t *arr = json_loadb(text, len, 0, NULL), *r;
    size_t i;
    json_array_foreach(arr, i, r) {
        if (strcmp(json_string_value(json_object_get(r, "name")), "trades") == 0) {
            json_object_set_new(json_object_get(r, "params"), "time_type", json_integer(2));
            json_object_set_new(json_object_get(r, "time"), "basis", json_string("paid"));
        }
    }
    char *out = json_dumps(arr, 0);
    json_decref(arr);
    return out;
}

static struct sbx_reports *registry(const char *catalog_json, int flags)
{
    size_t clen = 0, slen;
    const char *spec = sbx_spec_embedded(&slen);
    const char *embedded = wdts_catalog_embedded(&clen);
    char *cat = catalog_json ? NULL : strndup(embedded, clen);
    char es[8192];
    struct sbx_reports *r = sbx_reports_new_from_json(catalog_json ? catalog_json : cat, spec,
                                                      flags, es, sizeof(es));
    free(cat);
    if (r == NULL)
        fail_msg("%s", es);
    return r;
}

static void test_every_report_resolves(void **state)
{
    (void)state;
    struct sbx_reports *r = registry(NULL, 0);
    assert_int_equal(r->n_hand + r->n_gen, wdts_catalog_count(r->cat));
    sbx_reports_destroy(r);
    r = registry(NULL, SBX_REPORTS_GENERATE_ALL);
    assert_int_equal(r->n_gen, wdts_catalog_count(r->cat));
    assert_int_equal(r->n_hand, 0);
    assert_non_null(sbx_reports_find_direct(r, "sales.TradeQuery.queryWithDetail", NULL));
    assert_non_null(sbx_reports_find_qimen(r, "3ldsmu02o9.wdt.sales.tradequery.querywithdetail", NULL));
    assert_non_null(sbx_reports_find_qimen(r, "wdt.wms.stockspec.search", NULL));
    assert_null(sbx_reports_find_qimen(r, "wdt.wms.stockspec.search2", NULL));
    const struct sbx_gen_report *g = sbx_reports_find_name(r, "trades");
    assert_string_equal(g->kind_param, "time_type");
    assert_int_equal(g->n_kind_values, 1);
    assert_int_equal(g->kind_values[0], 1);
    assert_int_equal(g->max_span, 3600);
    assert_string_equal(g->span_text, "60分钟");
    assert_string_equal(g->total_key, "total_count");
    assert_true(g->paging_required);
    assert_true(g->exclude_platforms);
    g = sbx_reports_find_name(r, "shops");
    assert_true(g->snapshot);
    assert_false(g->paging_required);
    assert_null(g->start_param);
    sbx_reports_destroy(r);
}

/* A report without a spec entry stops the start, naming the report and its method. */
static void test_missing_spec_entry_is_named(void **state)
{
    (void)state;
    size_t len, slen;
    const char *text = wdts_catalog_embedded(&len);
    json_t *arr = json_loadb(text, len, 0, NULL);
    json_t *extra = json_deep_copy(json_array_get(arr, 4)); /* purchase_orders */
    json_object_set_new(extra, "name", json_string("made_up"));
    json_object_set_new(extra, "method", json_string("purchase.MadeUp.queryWithDetail"));
    json_object_set_new(extra, "qimen_method", json_string("wdt.purchase.madeup.querywithdetail"));
    json_array_append_new(arr, extra);
    char *cat = json_dumps(arr, 0), es[4096];
    json_decref(arr);
    struct sbx_reports *r =
        sbx_reports_new_from_json(cat, sbx_spec_embedded(&slen), 0, es, sizeof(es));
    free(cat);
    assert_null(r);
    assert_non_null(strstr(es, "made_up: method purchase.MadeUp.queryWithDetail is neither "
                               "served by the hand-made model nor in the API spec"));
    assert_non_null(strstr(es, "(1 problem)"));
}

static char *render(const struct sbx_gen_report *g, const struct sbx_dataset *ds,
                    enum sbx_route route, uint64_t idx, int64_t as_of, enum sbx_timefmt fmt)
{
    struct wdts_buf b;
    wdts_buf_init(&b);
    sbx_gen_render(g, ds, route, idx, as_of, fmt, &b);
    return wdts_buf_steal(&b);
}

static void test_deterministic(void **state)
{
    (void)state;
    struct sbx_reports *a = registry(NULL, SBX_REPORTS_GENERATE_ALL);
    struct sbx_reports *b = registry(NULL, SBX_REPORTS_GENERATE_ALL);
    const int64_t T = DS.data_origin + 30 * DAY;
    struct sbx_dataset other = DS;
    other.seed = 8;
    for (size_t i = 0; i < a->n_gen; i++) {
        const struct sbx_gen_report *ga = &a->gen[i], *gb = &b->gen[i];
        struct sbx_result ra, rb, ro;
        assert_int_equal(sbx_gen_select(ga, &DS, SBX_ROUTE_QIMEN, T - 2 * DAY, T, T, &ra), WDTS_OK);
        assert_int_equal(sbx_gen_select(gb, &DS, SBX_ROUTE_QIMEN, T - 2 * DAY, T, T, &rb), WDTS_OK);
        assert_int_equal(sbx_gen_select(ga, &other, SBX_ROUTE_QIMEN, T - 2 * DAY, T, T, &ro),
                         WDTS_OK);
        assert_true(ra.n > 0);
        assert_int_equal(ra.n, rb.n);
        assert_memory_equal(ra.hits, rb.hits, ra.n * sizeof(*ra.hits));
        int differs = ra.n != ro.n;
        for (size_t k = 0; k < ra.n && k < 5; k++) {
            char *x = render(ga, &DS, SBX_ROUTE_QIMEN, ra.hits[k].id, T, SBX_TIMEFMT_DOC);
            char *y = render(gb, &DS, SBX_ROUTE_QIMEN, ra.hits[k].id, T, SBX_TIMEFMT_DOC);
            char *z = render(ga, &other, SBX_ROUTE_QIMEN, ra.hits[k].id, T, SBX_TIMEFMT_DOC);
            assert_string_equal(x, y);
            differs |= strcmp(x, z) != 0;
            free(x);
            free(y);
            free(z);
        }
        if (!differs)
            fail_msg("%s: another seed gives the same data", ga->rep->name);
        sbx_result_deinit(&ra);
        sbx_result_deinit(&rb);
        sbx_result_deinit(&ro);
    }
    sbx_reports_destroy(a);
    sbx_reports_destroy(b);
}

/* The key of a rendered record as a worker makes it: pk fields as text joined by ':'. */
static void key_of(const struct wdts_catalog_names *pk, const json_t *rec, struct wdts_buf *out)
{
    wdts_buf_reset(out);
    for (size_t i = 0; i < pk->n; i++) {
        json_t *v = json_object_get(rec, pk->v[i]);
        if (i > 0)
            wdts_buf_append_str(out, ":");
        if (json_is_integer(v))
            wdts_buf_printf(out, "%lld", (long long)json_integer_value(v));
        else if (json_is_string(v))
            wdts_buf_append_str(out, json_string_value(v));
        else if (json_is_boolean(v)) /* stock costs' defect */
            wdts_buf_append_str(out, json_is_true(v) ? "true" : "false");
        else
            fail_msg("pk field %s is not an integer, a string or a boolean", pk->v[i]);
    }
}

/* The rows of detail list det wherever it sits in rec (a list may sit in another list's
 * rows): 1–3 per list, each key seen once. @returns the rows checked. */
static size_t check_details(const struct wdts_catalog_report *rep,
                            const struct wdts_catalog_detail *det, const json_t *rec,
                            json_t *seen, struct wdts_buf *key)
{
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)rec, k, v) {
        size_t j;
        json_t *row;
        if (strcmp(k, det->key) == 0) {
            if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > 3)
                fail_msg("%s: %s is not a list of 1 to 3 rows", rep->name, det->key);
            json_array_foreach(v, j, row) {
                key_of(&det->pk, row, key);
                char *dk = wdts_xasprintf("%s/%s", det->key, wdts_buf_str(key));
                if (json_object_get(seen, dk))
                    fail_msg("%s: detail key %s twice", rep->name, dk);
                json_object_set_new(seen, dk, json_true());
                free(dk);
                n++;
            }
        } else if (json_is_array(v)) {
            json_array_foreach(v, j, row) if (json_is_object(row)) n +=
                check_details(rep, det, row, seen, key);
        } else if (json_is_object(v)) {
            n += check_details(rep, det, v, seen, key);
        }
    }
    return n;
}

/* Every key (row pk, and per nested list its pk) seen once; the row key as sbx_gen_pk says. */
static void test_keys_unique(void **state)
{
    (void)state;
    struct sbx_reports *r = registry(NULL, SBX_REPORTS_GENERATE_ALL);
    const int64_t T = DS.data_origin + 40 * DAY;
    struct wdts_buf key, want;
    wdts_buf_init(&key);
    wdts_buf_init(&want);
    size_t nested = 0;
    for (size_t i = 0; i < r->n_gen; i++) {
        const struct sbx_gen_report *g = &r->gen[i];
        const struct wdts_catalog_report *rep = g->rep;
        struct sbx_result res;
        assert_int_equal(sbx_gen_select(g, &DS, SBX_ROUTE_QIMEN, T - 20 * DAY, T, T, &res), WDTS_OK);
        json_t *seen = json_object();
        for (size_t k = 0; k < res.n; k++) {
            char *text = render(g, &DS, SBX_ROUTE_QIMEN, res.hits[k].id, T, SBX_TIMEFMT_DOC);
            json_t *rec = json_loads(text, 0, NULL);
            if (!json_is_object(rec))
                fail_msg("%s: not a JSON object: %s", rep->name, text);
            key_of(&rep->pk, rec, &key);
            wdts_buf_reset(&want);
            sbx_gen_pk(g, res.hits[k].id, &want);
            assert_string_equal(wdts_buf_str(&key), wdts_buf_str(&want));
            if (json_object_get(seen, wdts_buf_str(&key)))
                fail_msg("%s: key %s twice", rep->name, wdts_buf_str(&key));
            json_object_set_new(seen, wdts_buf_str(&key), json_true());
            for (size_t d = 0; d < rep->n_details; d++)
                nested += check_details(rep, &rep->details[d], rec, seen, &key);
            json_decref(rec);
            free(text);
        }
        json_decref(seen);
        sbx_result_deinit(&res);
    }
    printf("# %zu nested rows keyed uniquely\n", nested);
    assert_true(nested > 1000);
    wdts_buf_deinit(&key);
    wdts_buf_deinit(&want);
    sbx_reports_destroy(r);
}

/* Windows on pay time: consecutive windows partition a day; each document's basis time is
 * in its window; its version is as of the query, some changed after the window closed. */
static void test_selection_by_basis(void **state)
{
    (void)state;
    char *cat = paid_catalog();
    struct sbx_reports *r = registry(cat, SBX_REPORTS_GENERATE_ALL);
    free(cat);
    const struct sbx_gen_report *g = sbx_reports_find_name(r, "trades");
    assert_int_equal(g->basis, SBX_GB_PAID);
    assert_int_equal(g->kind_values[0], 2);
    const int64_t day = DS.data_origin + 10 * DAY, T = day + 20 * DAY;
    struct sbx_result whole, part;
    assert_int_equal(sbx_gen_select(g, &DS, SBX_ROUTE_QIMEN, day, day + DAY, T, &whole), WDTS_OK);
    assert_true(whole.n >= 40);
    size_t total = 0, late = 0;
    for (int64_t s = day; s < day + DAY; s += 3600) {
        assert_int_equal(sbx_gen_select(g, &DS, SBX_ROUTE_QIMEN, s, s + 3600, T, &part), WDTS_OK);
        for (size_t k = 0; k < part.n; k++) {
            if (part.hits[k].id != whole.hits[total + k].id ||
                part.hits[k].modified != whole.hits[total + k].modified)
                fail_msg("hit %zu: %llu/%lld, whole %llu/%lld", total + k,
                         (unsigned long long)part.hits[k].id, (long long)part.hits[k].modified,
                         (unsigned long long)whole.hits[total + k].id,
                         (long long)whole.hits[total + k].modified);
            int64_t b = sbx_gen_basis_time(g, &DS, part.hits[k].id, T);
            assert_true(b >= s && b < s + 3600);
            assert_true(part.hits[k].modified <= T);
            assert_true(sbx_gen_created(g, &DS, part.hits[k].id) <= b);
            late += part.hits[k].modified > s + 3600;
        }
        total += part.n;
        sbx_result_deinit(&part);
    }
    assert_int_equal(total, whole.n);
    printf("# %zu of %zu documents changed after their pay-time window closed\n", late, total);
    assert_true(late > total / 3);
    /* as of a moment inside the day: nothing paid later, and earlier versions */
    int64_t mid = day + DAY / 2;
    assert_int_equal(sbx_gen_select(g, &DS, SBX_ROUTE_QIMEN, day, day + DAY, mid, &part), WDTS_OK);
    assert_true(part.n > 0 && part.n < whole.n);
    for (size_t k = 0; k < part.n; k++) {
        assert_true(sbx_gen_basis_time(g, &DS, part.hits[k].id, mid) <= mid);
        assert_true(part.hits[k].modified <= mid);
    }
    sbx_result_deinit(&part);
    /* the direct route leaves out Taobao/Tmall and PDD shops' documents */
    assert_int_equal(sbx_gen_select(g, &DS, SBX_ROUTE_WDT, day, day + DAY, T, &part), WDTS_OK);
    assert_true(part.n < whole.n);
    sbx_result_deinit(&part);
    sbx_result_deinit(&whole);

    /* modified basis: the change time as of T is in the window */
    g = sbx_reports_find_name(r, "purchase_orders");
    assert_int_equal(g->basis, SBX_GB_MODIFIED);
    assert_int_equal(sbx_gen_select(g, &DS, SBX_ROUTE_WDT, day, day + DAY, T, &whole), WDTS_OK);
    assert_true(whole.n > 0);
    for (size_t k = 0; k < whole.n; k++) {
        assert_true(whole.hits[k].modified >= day && whole.hits[k].modified < day + DAY);
        assert_int_equal(sbx_gen_basis_time(g, &DS, whole.hits[k].id, T), whole.hits[k].modified);
        if (k > 0)
            assert_true(whole.hits[k].modified >= whole.hits[k - 1].modified);
    }
    sbx_result_deinit(&whole);
    /* a window after the clock holds nothing; one before the origin nothing either */
    assert_int_equal(sbx_gen_select(g, &DS, SBX_ROUTE_WDT, T + 1, T + DAY, T, &whole), WDTS_OK);
    assert_int_equal(whole.n, 0);
    assert_int_equal(sbx_gen_select(g, &DS, SBX_ROUTE_WDT, INT64_MIN, DS.data_origin, T, &whole),
                     WDTS_OK);
    assert_int_equal(whole.n, 0);
    assert_int_equal(sbx_gen_select(g, &DS, SBX_ROUTE_WDT, 0, 1, -5, &whole), WDTS_ERR_INVAL);
    sbx_reports_destroy(r);
}

/* The change-time field in every --time-format, and the document not yet created. */
static void test_change_time_forms(void **state)
{
    (void)state;
    struct sbx_reports *r = registry(NULL, SBX_REPORTS_GENERATE_ALL);
    const struct sbx_gen_report *g = sbx_reports_find_name(r, "refunds"); /* epoch ms */
    const int64_t T = DS.data_origin + 30 * DAY;
    struct sbx_result res;
    assert_int_equal(sbx_gen_select(g, &DS, SBX_ROUTE_WDT, T - DAY, T, T, &res), WDTS_OK);
    assert_true(res.n > 0);
    uint64_t id = res.hits[0].id;
    int64_t m = res.hits[0].modified;
    enum sbx_timefmt fmts[] = {SBX_TIMEFMT_DOC, SBX_TIMEFMT_DATETIME, SBX_TIMEFMT_EPOCH_MS};
    for (int f = 0; f < 3; f++) {
        char *text = render(g, &DS, SBX_ROUTE_WDT, id, T, fmts[f]);
        json_t *rec = json_loads(text, 0, NULL);
        json_t *v = json_object_get(rec, "modified");
        if (fmts[f] == SBX_TIMEFMT_DATETIME) {
            int64_t t;
            assert_true(json_is_string(v));
            assert_int_equal(wdts_time_parse_beijing(json_string_value(v), &t), WDTS_OK);
            assert_int_equal(t, m);
        } else {
            assert_true(json_is_integer(v));
            assert_int_equal(json_integer_value(v), m * 1000);
        }
        json_decref(rec);
        free(text);
    }
    char *text = render(g, &DS, SBX_ROUTE_WDT, id, DS.data_origin - 1, SBX_TIMEFMT_DOC);
    assert_string_equal(text, "{}");
    free(text);
    sbx_result_deinit(&res);
    sbx_reports_destroy(r);
}

/* The truth lists what the selection holds, with the version as of --as-of. */
static void test_truth(void **state)
{
    (void)state;
    char *cat = paid_catalog();
    struct sbx_reports *r = registry(cat, SBX_REPORTS_GENERATE_ALL);
    free(cat);
    const struct sbx_gen_report *g = sbx_reports_find_name(r, "trades");
    const int64_t since = DS.data_origin + 3 * DAY, before = since + DAY, T = before + 15 * DAY;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(sbx_gen_truth_write(g, &DS, SBX_ROUTE_QIMEN, T, since, before, f), WDTS_OK);
    fclose(f);
    struct sbx_result res;
    assert_int_equal(sbx_gen_select(g, &DS, SBX_ROUTE_QIMEN, since, before, T, &res), WDTS_OK);
    char *line = buf;
    struct wdts_buf pk;
    wdts_buf_init(&pk);
    for (size_t k = 0; k < res.n; k++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        json_t *j = json_loads(line, 0, NULL);
        wdts_buf_reset(&pk);
        sbx_gen_pk(g, res.hits[k].id, &pk);
        assert_string_equal(json_string_value(json_object_get(j, "pk")), wdts_buf_str(&pk));
        assert_int_equal(json_integer_value(json_object_get(j, "modified_unix")),
                         res.hits[k].modified);
        long long b = json_integer_value(json_object_get(j, "basis_unix"));
        assert_true(b >= since && b < before);
        json_decref(j);
        line = nl + 1;
    }
    assert_string_equal(line, "");
    wdts_buf_deinit(&pk);
    sbx_result_deinit(&res);
    free(buf);
    sbx_reports_destroy(r);
}

/* The catalog's PII fields: plain for 线下/自有商城 shops, the platform's ciphertext for
 * 淘系/京东, "" otherwise; on Qimen the receiver fields are always "". */
static void test_pii(void **state)
{
    (void)state;
    struct sbx_reports *r = registry(NULL, SBX_REPORTS_GENERATE_ALL);
    const struct sbx_gen_report *g = sbx_reports_find_name(r, "trades");
    const int64_t T = DS.data_origin + 30 * DAY;
    size_t seen[3] = {0, 0, 0}; /* plain, cipher, empty */
    for (int route = SBX_ROUTE_WDT; route <= SBX_ROUTE_QIMEN; route++) {
        struct sbx_result res;
        assert_int_equal(sbx_gen_select(g, &DS, (enum sbx_route)route, T - 5 * DAY, T, T, &res),
                         WDTS_OK);
        for (size_t k = 0; k < res.n; k++) {
            char *text = render(g, &DS, (enum sbx_route)route, res.hits[k].id, T, SBX_TIMEFMT_DOC);
            json_t *rec = json_loads(text, 0, NULL);
            long long plat = json_integer_value(json_object_get(rec, "platform_id"));
            if (route == SBX_ROUTE_WDT)
                assert_true(plat != 1 && plat != 39); /* excluded_platforms */
            for (size_t p = 0; p < g->rep->pii.n; p++) {
                const char *name = g->rep->pii.v[p];
                const char *v = json_string_value(json_object_get(rec, name));
                assert_non_null(v);
                int qimen_blank = !strncmp(name, "receiver_", 9) || !strcmp(name, "buyer_nick");
                if (route == SBX_ROUTE_QIMEN && qimen_blank) {
                    assert_string_equal(v, "");
                } else if (plat == 0 || plat == 127) {
                    assert_true(strlen(v) > 0 && v[0] != '~');
                    seen[0]++;
                } else if (plat == 1 || plat == 3) {
                    assert_true(v[0] == '~' && strstr(v, "~1~") != NULL);
                    seen[1]++;
                } else {
                    assert_string_equal(v, "");
                    seen[2]++;
                }
            }
            json_decref(rec);
            free(text);
        }
        sbx_result_deinit(&res);
    }
    assert_true(seen[0] > 0 && seen[1] > 0); /* PDD (39), the one other platform, is excluded */
    assert_int_equal(seen[2], 0);
    sbx_reports_destroy(r);
}

/* A tenant's permissions may name a generated report's method (and its history method)
 * only when the registry generates it. */
static void test_tenant_permissions(void **state)
{
    (void)state;
    char path[] = "/tmp/sbx-gen-tenants.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "[{\"sid\":\"s\",\"appkey\":\"k\",\"appsecret\":\"a:b\","
                       "\"permissions\":[\"purchase.MadeUp.queryWithDetail\"]}]";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    size_t len, slen;
    const char *ctext = wdts_catalog_embedded(&len);
    json_t *arr = json_loadb(ctext, len, 0, NULL);
    /* the catalog's own generated reports: those the static method table does not serve */
    size_t n_gen = 0;
    for (size_t i = 0; i < json_array_size(arr); i++)
        n_gen += sbx_method_find_direct(json_string_value(
                     json_object_get(json_array_get(arr, i), "method"))) == NULL;
    json_t *extra = json_deep_copy(json_array_get(arr, 4)); /* purchase_orders */
    json_object_set_new(extra, "name", json_string("made_up"));
    json_object_set_new(extra, "method", json_string("purchase.MadeUp.queryWithDetail"));
    json_object_set_new(extra, "qimen_method", json_string("wdt.purchase.madeup.querywithdetail"));
    json_array_append_new(arr, extra);
    char *cat = json_dumps(arr, 0);
    json_decref(arr);
    /* a spec that has the made-up method: the purchase orders entry under its name */
    const char *stext = sbx_spec_embedded(&slen);
    json_t *spec = json_loadb(stext, slen, 0, NULL);
    json_t *methods = json_object_get(spec, "methods");
    json_object_set(methods, "purchase.MadeUp.queryWithDetail",
                    json_object_get(methods, "purchase.PurchaseOrder.queryWithDetail"));
    char *spec_text = json_dumps(spec, 0), es[4096];
    json_decref(spec);
    struct sbx_reports *r = sbx_reports_new_from_json(cat, spec_text, 0, es, sizeof(es));
    free(cat);
    free(spec_text);
    if (r == NULL)
        fail_msg("%s", es);
    assert_int_equal(r->n_gen, n_gen + 1);
    struct sbx_tenants ts;
    assert_int_equal(sbx_tenants_load_for(path, NULL, &ts, es, sizeof(es)), WDTS_ERR_CONFIG);
    assert_non_null(strstr(es, "unknown method \"purchase.MadeUp.queryWithDetail\""));
    assert_int_equal(sbx_tenants_load_for(path, r, &ts, es, sizeof(es)), WDTS_OK);
    assert_true(sbx_tenant_may_call(&ts.v[0], "purchase.MadeUp.queryWithDetail"));
    sbx_tenants_deinit(&ts);
    sbx_reports_destroy(r);
    unlink(path);
}

/* A signed direct page of a generated report through the gateway (no HTTP), as of clock T.
 * @returns the answer's data.order pks as text, or NULL when its status is not 0. */
static json_t *gateway_page(struct sbx_gateway *gw, int64_t T, const char *method,
                            const char *params)
{
    char ts[32], sign[WDTS_SIGN_MD5_LEN];
    snprintf(ts, sizeof(ts), "%lld", (long long)(T - WDTS_WDT_EPOCH));
    char *body = wdts_xasprintf("[%s]", params);
    struct wdts_param ps[] = {{"sid", "demo-shop"},  {"key", "demo-app"}, {"salt", "demo-salt"},
                              {"method", method},    {"timestamp", ts},   {"v", "1.0"},
                              {"page_no", "0"},      {"page_size", "200"}, {"body", body}};
    size_t n = sizeof(ps) / sizeof(ps[0]);
    wdts_sign_wdt("demo-secret", ps, n, sign);
    struct sbx_kv q = {NULL, 0};
    struct wdts_buf qs;
    wdts_buf_init(&qs);
    for (size_t i = 0; i + 1 < n; i++) {
        wdts_buf_printf(&qs, "%s=", ps[i].key);
        wdts_buf_append_urlenc(&qs, ps[i].val);
        wdts_buf_append_str(&qs, "&");
    }
    wdts_buf_printf(&qs, "sign=%s", sign);
    sbx_kv_parse(&q, qs.data, qs.len);
    struct sbx_request req = {SBX_ROUTE_WDT, &q, body, strlen(body)};
    struct sbx_answer ans;
    sbx_answer_init(&ans);
    sbx_gateway_handle(gw, &req, &ans);
    sbx_gateway_done(gw, &ans);
    json_t *j = json_loads(wdts_buf_str(&ans.body), 0, NULL), *out = NULL;
    if (json_integer_value(json_object_get(j, "status")) == 0 &&
        json_is_integer(json_object_get(j, "status"))) {
        out = json_array();
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(json_object_get(j, "data"), "order"), i, row)
            json_array_append_new(out, json_sprintf("%lld", (long long)json_integer_value(
                                                                json_object_get(row, "trade_id"))));
    } else {
        fprintf(stderr, "answer: %s\n", wdts_buf_str(&ans.body));
    }
    json_decref(j);
    sbx_answer_deinit(&ans);
    sbx_kv_deinit(&q);
    wdts_buf_deinit(&qs);
    free(body);
    return out;
}

static int holds(const json_t *pks, const char *pk)
{
    size_t i;
    json_t *v;
    json_array_foreach(pks, i, v) if (strcmp(json_string_value(v), pk) == 0) return 1;
    return 0;
}

/* The gateway's --bounds on a generated report: a document paid at b is in [b-600, b] only
 * when closed, in [b, b+600] unless open. */
static void test_gateway_bounds(void **state)
{
    (void)state;
    char *cat = paid_catalog();
    struct sbx_reports *r = registry(cat, SBX_REPORTS_GENERATE_ALL);
    free(cat);
    const struct sbx_gen_report *g = sbx_reports_find_name(r, "trades");
    struct sbx_tenants tenants;
    sbx_tenants_demo(&tenants);
    const struct sbx_tenant *t = sbx_tenants_find(&tenants, "demo-shop");
    struct sbx_dataset ds = {t->seed, t->orders_per_day, t->data_origin};
    const int64_t T = ds.data_origin + 20 * DAY;
    struct sbx_result res;
    assert_int_equal(sbx_gen_select(g, &ds, SBX_ROUTE_WDT, T - 2 * DAY, T - DAY, T, &res), WDTS_OK);
    assert_true(res.n > 0);
    int64_t b = sbx_gen_basis_time(g, &ds, res.hits[0].id, T);
    struct wdts_buf pk;
    wdts_buf_init(&pk);
    sbx_gen_pk(g, res.hits[0].id, &pk);
    sbx_result_deinit(&res);
    char clock_spec[64], es[256];
    snprintf(clock_spec, sizeof(clock_spec), "frozen:%lld", (long long)T);
    struct sbx_clock clock;
    assert_int_equal(sbx_clock_parse(clock_spec, &clock, es, sizeof(es)), WDTS_OK);
    char x[WDTS_BJTIME_LEN], y[WDTS_BJTIME_LEN], z[WDTS_BJTIME_LEN];
    wdts_time_format_beijing(b - 600, x);
    wdts_time_format_beijing(b, y);
    wdts_time_format_beijing(b + 600, z);
    char *before = wdts_xasprintf("{\"start_time\":\"%s\",\"end_time\":\"%s\",\"time_type\":2}", x, y);
    char *after = wdts_xasprintf("{\"start_time\":\"%s\",\"end_time\":\"%s\",\"time_type\":2}", y, z);
    static const struct {
        enum sbx_bounds bounds;
        int in_before, in_after;
    } cases[] = {{SBX_BOUNDS_HALF, 0, 1}, {SBX_BOUNDS_CLOSED, 1, 1}, {SBX_BOUNDS_OPEN, 0, 0}};
    for (size_t i = 0; i < 3; i++) {
        struct sbx_gateway gw;
        sbx_gateway_init(&gw, &tenants, &clock, NULL);
        gw.ts_sandbox_clock = 1;
        gw.bounds = cases[i].bounds;
        gw.reports = r;
        json_t *p1 = gateway_page(&gw, T, "sales.TradeQuery.queryWithDetail", before);
        json_t *p2 = gateway_page(&gw, T, "sales.TradeQuery.queryWithDetail", after);
        assert_non_null(p1);
        assert_non_null(p2);
        assert_int_equal(holds(p1, wdts_buf_str(&pk)), cases[i].in_before);
        assert_int_equal(holds(p2, wdts_buf_str(&pk)), cases[i].in_after);
        json_decref(p1);
        json_decref(p2);
        sbx_gateway_deinit(&gw);
    }
    free(before);
    free(after);
    wdts_buf_deinit(&pk);
    sbx_tenants_deinit(&tenants);
    sbx_reports_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_report_resolves),
        cmocka_unit_test(test_missing_spec_entry_is_named),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_keys_unique),
        cmocka_unit_test(test_selection_by_basis),
        cmocka_unit_test(test_change_time_forms),
        cmocka_unit_test(test_truth),
        cmocka_unit_test(test_pii),
        cmocka_unit_test(test_tenant_permissions),
        cmocka_unit_test(test_gateway_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
