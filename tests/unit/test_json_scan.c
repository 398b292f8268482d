/* The strict JSON scanner (common/base/json_scan.c) and the classification that uses it to
 * leave a page's record list out of the tree: whatever the scanner accepts, jansson
 * accepts too (tables, every truncation, random mutations), and an answer classified
 * with the list left out gives the same class, status, total and message as in full. */
#include "wdts_test.h"

#include <stdlib.h>
#include <string.h>

#include "wdts/json_scan.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/wdt_api_answer.h"
#include "wdts/wdt_api_creds.h"

/* 1 when the scanner takes all of s (one value, then only whitespace). */
static int scan_all(const char *s, size_t n)
{
    const char *e = s + n, *p = wdts_jscan_value(s, e);
    if (p == NULL)
        return 0;
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p == e;
}

static int jansson_ok(const char *s, size_t n)
{
    json_error_t jerr;
    json_t *v = json_loadb(s, n, JSON_DECODE_ANY, &jerr);
    json_decref(v);
    return v != NULL;
}

static void test_values(void **state)
{
    (void)state;
    const char *good[] = {
        "0", "-0", "12", "-123456789012345678", "1.5", "1e5", "1E+05", "-0.25e-7", "true",
        "false", "null", "\"\"", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"\\u00e9\\ud83d\\ude00\"",
        "\"订单 ✓ 😀\"", "[]", " [ 1 , { } , [ ] ] ", "{\"a\":{\"b\":[{\"c\":\"}]\"}]}}",
        "\t\r\n{ \"k\" :\t\"v\" ,\n\"n\": -1 }",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *e = good[i] + strlen(good[i]);
        assert_true(scan_all(good[i], strlen(good[i])));
        assert_true(jansson_ok(good[i], strlen(good[i])));
        /* the fast walk over checked bytes ends where the strict one does */
        assert_ptr_equal(wdts_jscan_value_checked(good[i], e), wdts_jscan_value(good[i], e));
    }
    /* invalid JSON, or valid but unusual (then the caller parses in full) */
    const char *bad[] = {
        "", " ", "01", "-", "+1", "1.", ".5", "1e", "1e+", "0x1", "NaN", "tru", "nul",
        "1234567890123456789", "1e100", "\"a", "\"\\x\"", "\"\\u12\"", "\"\\u0000\"",
        "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"tab\there\"", "\"\xc3\"",
        "\"\xc0\xaf\"", "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xe2\x82\"", "[1,]",
        "[,1]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}", "{\"a\":1 \"b\":2}", "[1 2]", "{",
        "[", "]", "}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(scan_all(bad[i], strlen(bad[i])));
    /* nesting deeper than the scanner's bound is refused, not trusted */
    char deep[300];
    memset(deep, '[', 140);
    memset(deep + 140, ']', 140);
    assert_false(scan_all(deep, 280));
    assert_true(scan_all(deep + 140 - 40, 80));
}

static const char *const page =
    "{\"status\":0,\"message\":\"ok\",\"data\":{\"total_count\":\"3\",\"order\":[\n"
    " {\"trade_id\":1,\"trade_no\":\"T\\\"1]}\",\"goods\":[{\"spec\":\"S\",\"n\":1.5}],\"x\":null},\n"
    " {\"trade_id\":2,\"trade_no\":\"订单\\u8ba2\",\"amt\":\"0.00\",\"ok\":true},\n"
    " {\"trade_id\" : 3 , \"trade_no\":\"\",\"e\":{}}\n]}}";

static void test_truncations_and_mutations(void **state)
{
    (void)state;
    size_t n = strlen(page);
    assert_true(scan_all(page, n));
    assert_true(jansson_ok(page, n));
    for (size_t cut = 0; cut < n; cut++) /* no prefix of an object is a whole value */
        assert_false(scan_all(page, cut));
    /* random byte changes: never accepted by the scanner when jansson refuses */
    char *m = wdts_xmalloc(n);
    static const char alphabet[] = "{}[]\",:\\ u0e9-+.tfn\x80\xc3\xe8\x01";
    unsigned seed = 12345;
    int accepted = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(m, page, n);
        int edits = 1 + round % 3;
        for (int k = 0; k < edits; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % n;
            seed = seed * 1103515245u + 12345u;
            m[at] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
        }
        if (scan_all(m, n)) {
            accepted++;
            assert_true(jansson_ok(m, n));
        }
    }
    assert_true(accepted > 0); /* some edits keep it valid (e.g. a digit for a digit) */
    free(m);
}

static const char *const members[] = {"trade_id", "trade_no"};

static void classify(const char *body, size_t len, long http, const char *elide,
                     struct wdts_api_result *res)
{
    struct wdts_api_outcome o;
    struct wdts_api_ctx ctx = {WDTS_API_APP_WDT, "trade.query", "sid1", "key1",
                               "http://127.0.0.1:1/openapi"};
    memset(&o, 0, sizeof(o));
    o.http_status = http;
    o.body = body;
    o.body_len = len;
    o.elide_list = elide;
    o.elide_members = members;
    o.elide_nmembers = 2;
    wdts_api_result_init(res);
    wdts_api_classify(&o, &ctx, res);
}

/* The same verdict with and without leaving the list out; @returns list_elided. */
static int same_verdict(const char *body, size_t len, long http)
{
    struct wdts_api_result a, b;
    classify(body, len, http, NULL, &a);
    classify(body, len, http, "order", &b);
    if (b.kind == WDTS_API_KIND_BAD_ANSWER) {
        /* refused before parsing (a key twice on the path): a full parse would pick one */
        assert_int_equal(b.cls, WDTS_API_TRANSIENT);
        assert_int_equal(b.list_elided, 0);
        assert_non_null(strstr(b.message, "twice"));
        wdts_api_result_deinit(&a);
        wdts_api_result_deinit(&b);
        return 0;
    }
    assert_int_equal(a.cls, b.cls);
    assert_int_equal(a.kind, b.kind);
    assert_int_equal(a.has_status, b.has_status);
    assert_int_equal(a.status, b.status);
    assert_int_equal(a.has_total, b.has_total);
    assert_int_equal(a.total_count, b.total_count);
    assert_string_equal(a.message, b.message);
    assert_int_equal(a.list_elided, 0);
    int el = b.list_elided;
    if (el) {
        assert_int_equal(b.cls, WDTS_API_OK);
        json_t *list = json_object_get(b.data, "order");
        assert_true(json_is_array(list));
        assert_int_equal(json_array_size(list), 0);
        /* the span is exactly the list jansson found in the full parse */
        json_t *full = json_object_get(a.data, "order");
        json_t *fromspan = json_loadb(body + b.list.off, b.list.len, 0, NULL);
        assert_non_null(fromspan);
        assert_true(json_equal(full, fromspan));
        json_decref(fromspan);
        /* each record's span is that element, each member noted once is that member */
        assert_int_equal(b.list.n, json_array_size(full));
        for (size_t i = 0; i < b.list.n; i++) {
            const struct wdts_jscan_item *it = &b.list.items[i];
            json_t *want = json_array_get(full, i);
            json_t *got = json_loadb(body + it->off, it->len, JSON_DECODE_ANY, NULL);
            assert_non_null(got);
            assert_true(json_equal(want, got));
            json_decref(got);
            for (size_t k = 0; k < 2; k++) {
                json_t *wm = json_is_object(want) ? json_object_get(want, members[k]) : NULL;
                if (it->mcount[k] == 0)
                    assert_null(wm);
                if (it->mcount[k] != 1)
                    continue;
                json_t *gm = json_loadb(body + it->moff[k], it->mlen[k], JSON_DECODE_ANY, NULL);
                assert_non_null(gm);
                assert_true(json_equal(wm, gm));
                json_decref(gm);
            }
        }
    }
    wdts_api_result_deinit(&a);
    wdts_api_result_deinit(&b);
    return el;
}

static void test_classify_elided(void **state)
{
    (void)state;
    size_t n = strlen(page);
    assert_true(same_verdict(page, n, 200));
    const char *qimen = "{\"response\":{\"status\":\"0\",\"data\":{\"order\":[{\"trade_id\":7}]}}}";
    assert_true(same_verdict(qimen, strlen(qimen), 200));
    /* not a plain success, or any doubt about which list jansson would pick: full parse */
    const char *full[] = {
        "{\"status\":1,\"message\":\"sid is not exists\"}",
        "{\"status\":0,\"data\":{\"order\":[1]},\"data\":{\"order\":[2,3]}}",
        "{\"status\":0,\"data\":{\"order\":[1],\"order\":[2]}}",
        "{\"status\":0,\"data\":{\"ord\\u0065r\":[1]}}",
        "{\"status\":0,\"data\":{\"order\":{\"a\":1}}}",
        "{\"status\":0,\"data\":{\"order\":[12345678901234567890]}}",
        "{\"error_response\":{\"code\":7,\"msg\":\"x\"},\"response\":{\"status\":0,\"data\":{\"order\":[]}}}",
        "{\"status\":0,\"data\":{\"order\":[{\"a\":\"\\u0000\"}]}}",
        "{\"status\":0,\"data\":{\"order\":[{\"a\":1}",
        "{\"status\":0,\"data\":{\"order\":[{\"a\":\"\xff\"}]}}",
        "{\"status\":0,\"data\":{\"order\":[]}} trailing",
        "<html>busy</html>",
    };
    for (size_t i = 0; i < sizeof(full) / sizeof(full[0]); i++)
        assert_false(same_verdict(full[i], strlen(full[i]), 200));
    assert_false(same_verdict(page, n, 500)); /* HTTP failures are classified in full */
    /* every truncation of a page classifies as before (cut off, never elided) */
    for (size_t cut = 1; cut < n; cut += 7)
        assert_false(same_verdict(page, cut, 200));
    /* mutations: the same verdict whichever path is taken */
    char *m = wdts_xmalloc(n);
    unsigned seed = 99;
    for (int round = 0; round < 3000; round++) {
        memcpy(m, page, n);
        seed = seed * 1103515245u + 12345u;
        size_t at = (seed >> 8) % n;
        seed = seed * 1103515245u + 12345u;
        m[at] = "{}[]\",:\\ 0x-"[(seed >> 8) % 12];
        same_verdict(m, n, 200);
    }
    free(m);
}

/* The members noted in each record: how often, and -1 when a key of it is escaped. */
static void test_answer_members(void **state)
{
    (void)state;
    const char *body = "{\"status\":0,\"data\":{\"order\":[{\"trade_id\":1,\"trade_id\":2},"
                       "{\"trade_no\":\"a\",\"x\\u0041\":1},7,{\"y\":{\"trade_id\":3}}]}}";
    struct wdts_jscan_list l;
    assert_int_equal(wdts_jscan_answer(body, strlen(body), "order", members, 2, 0, &l), 0);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.items[0].mcount[0], 2); /* twice: the caller parses in full */
    assert_memory_equal(body + l.items[0].moff[0], "2", l.items[0].mlen[0]);
    assert_int_equal(l.items[1].mcount[0], -1);
    assert_int_equal(l.items[1].mcount[1], -1);
    assert_int_equal(l.items[2].mcount[0], 0); /* not an object */
    assert_int_equal(l.items[3].mcount[0], 0); /* only the record's own members count */
    assert_memory_equal(body + l.items[2].off, "7", l.items[2].len);
    wdts_jscan_list_deinit(&l);
    /* no list without doubt: absent, in both envelopes, an escaped key on the path */
    const char *none[] = {
        "{\"status\":0,\"data\":{}}",
        "{\"status\":0,\"data\":{\"order\":[]},\"response\":{\"data\":{\"order\":[]}}}",
        "{\"status\":0,\"st\\u0061tus\":1,\"data\":{\"order\":[]}}",
        "{\"response\":[],\"data\":{\"order\":[]}}",
        "[{\"status\":0,\"data\":{\"order\":[]}}]",
    };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        assert_int_equal(wdts_jscan_answer(none[i], strlen(none[i]), "order", members, 2, 0, &l), -1);
        assert_null(l.items);
        assert_int_equal(l.n, 0);
    }
    /* a key twice on the path: refused as such (a first-key and a last-key reader differ) */
    const char *twice[] = {
        "{\"response\":{\"data\":{\"order\":[]},\"data\":{\"order\":[]}}}",
        "{\"status\":0,\"status\":0,\"data\":{\"order\":[]}}",
        "{\"status\":0,\"data\":{\"order\":[{\"trade_id\":1}]},\"data\":{\"order\":[]}}",
        "{\"status\":0,\"data\":{\"order\":[{\"trade_id\":1}],\"order\":[{\"trade_id\":2}]}}",
        "{\"response\":{\"data\":{}},\"response\":{\"status\":0,\"data\":{\"order\":[]}}}",
    };
    for (size_t i = 0; i < sizeof(twice) / sizeof(twice[0]); i++) {
        assert_int_equal(wdts_jscan_answer(twice[i], strlen(twice[i]), "order", members, 2, 0, &l),
                         WDTS_JSCAN_DUPKEY);
        assert_null(l.items);
    }
    /* a cap on the records: the walk stops at the first one over it */
    const char *three = "{\"status\":0,\"data\":{\"order\":[0,0,0]}}";
    assert_int_equal(wdts_jscan_answer(three, strlen(three), "order", members, 2, 2, &l),
                     WDTS_JSCAN_TOO_MANY);
    assert_null(l.items);
    assert_int_equal(wdts_jscan_answer(three, strlen(three), "order", members, 2, 3, &l), 0);
    assert_int_equal(l.n, 3);
    wdts_jscan_list_deinit(&l);
    const char *resp = "{\"response\":{\"status\":0,\"data\":{\"order\":[{\"trade_id\":5}]}}}";
    assert_int_equal(wdts_jscan_answer(resp, strlen(resp), "order", members, 2, 0, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.items[0].mcount[0], 1);
    assert_memory_equal(resp + l.items[0].moff[0], "5", 1);
    wdts_jscan_list_deinit(&l);
}

/* The cost of a tree, counted without one: values, objects and arrays outside strings. */
static void test_cost(void **state)
{
    (void)state;
    const char *j = "{\"a\":[1,2,{}],\"b,{[\":\"x\\\",{\"}";
    size_t want = WDTS_JSCAN_COST_OBJECT * 2 + WDTS_JSCAN_COST_ARRAY + 3;
    assert_int_equal(wdts_jscan_cost(j, j + strlen(j), 1000), want);
    assert_true(wdts_jscan_cost(j, j + strlen(j), 3) > 3);
    assert_int_equal(wdts_jscan_cost("", (const char *)"" , 10), 0);

    /* the classification refuses, unparsed: more records than a page, a list of 2 M zeros */
    struct wdts_api_result res;
    struct wdts_api_outcome o;
    struct wdts_api_ctx ctx = {WDTS_API_APP_WDT, "trade.query", "sid1", "key1", "gw"};
    const char *three = "{\"status\":0,\"data\":{\"total_count\":3,\"order\":[1,2,3]}}";
    memset(&o, 0, sizeof(o));
    o.http_status = 200;
    o.body = three;
    o.body_len = strlen(three);
    o.elide_list = "order";
    o.elide_max_records = 2;
    wdts_api_result_init(&res);
    wdts_api_classify(&o, &ctx, &res);
    assert_int_equal(res.cls, WDTS_API_TRANSIENT);
    assert_int_equal(res.kind, WDTS_API_KIND_BAD_ANSWER);
    assert_null(res.answer);
    struct wdts_buf b;
    wdts_buf_init(&b);
    wdts_buf_append_str(&b, "{\"status\":0,\"x\":99999999999999999999,\"data\":{\"order\":[0");
    for (size_t i = 0; i < 2000000; i++)
        wdts_buf_append(&b, ",0", 2);
    wdts_buf_append_str(&b, "]}}");
    o.body = b.data;
    o.body_len = b.len;
    o.elide_max_records = 0; /* the walk refuses the 20-digit number: a full parse is asked */
    wdts_api_classify(&o, &ctx, &res);
    assert_int_equal(res.kind, WDTS_API_KIND_BAD_ANSWER);
    assert_null(res.answer);
    o.elide_list = NULL;
    wdts_api_classify(&o, &ctx, &res);
    assert_int_equal(res.kind, WDTS_API_KIND_BAD_ANSWER);
    wdts_api_result_deinit(&res);
    wdts_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_truncations_and_mutations),
        cmocka_unit_test(test_classify_elided),
        cmocka_unit_test(test_answer_members),
        cmocka_unit_test(test_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
