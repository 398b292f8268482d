/* Fuzz target: the strict JSON scanner (common/base/json_scan.c) against jansson. Whatever
 * the scanner accepts, jansson accepts; what jansson accepts the scanner accepts too
 * unless the scanner's header calls it unusual (deep nesting, long numbers); the spans
 * wdts_jscan_answer() reports lie in the input and parse to what jansson finds there.
 * Any disagreement aborts (a crash for libFuzzer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wdts/json_scan.h"

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_json_scan: %s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                                  \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* 1 when the input holds nothing the scanner documents as unusual: nesting of at most
 * 60 (it allows 64), integers of at most 18 digits, fractions of at most 40, exponents of
 * at most 2. A lexical look that skips strings; conservative where it cannot tell. A NUL
 * byte counts as unusual too: jansson 2.14 drops one after a number or literal ("[12\0]" is
 * [12] to it, as its stream reads NUL as the end of a refill), the scanner refuses it. */
static int usual(const char *s, size_t n)
{
    int depth = 0;
    if (memchr(s, '\0', n) != NULL)
        return 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '"') {
            for (i++; i < n && s[i] != '"'; i++)
                if (s[i] == '\\')
                    i++;
            i++;
            continue;
        }
        if (c == '[' || c == '{') {
            if (++depth > 60)
                return 0;
        } else if (c == ']' || c == '}') {
            depth--;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t d = 0, f = 0, x = 0;
            if (c == '-')
                i++;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++, d++;
            if (i < n && s[i] == '.')
                for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                    f++;
            if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                    i++;
                for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
                    x++;
            }
            if (d > 18 || f > 40 || x > 2)
                return 0;
            continue;
        }
        i++;
    }
    return 1;
}

static json_t *load(const char *s, size_t n, size_t flags)
{
    json_error_t jerr;
    return json_loadb(s, n, JSON_DECODE_ANY | flags, &jerr);
}

/* The list jansson finds where wdts_jscan_answer() looks (borrowed from root), and how
 * many of the two places hold an array (the walk wants exactly one). */
static json_t *jansson_list(json_t *root, const char *key, int *arrays)
{
    json_t *at_root = NULL, *in_response = NULL, *d, *env = NULL;
    *arrays = 0;
    d = json_object_get(root, "data");
    if (json_is_object(d) && json_is_array(json_object_get(d, key)))
        at_root = json_object_get(d, key), (*arrays)++;
    json_t *r = json_object_get(root, "response");
    d = json_is_object(r) ? json_object_get(r, "data") : NULL;
    if (json_is_object(d) && json_is_array(json_object_get(d, key)))
        in_response = json_object_get(d, key), (*arrays)++;
    if (json_object_get(root, "status") != NULL)
        env = root;
    else if (json_object_get(root, "error_response") == NULL && json_is_object(r))
        env = r;
    if (env == root)
        return at_root;
    if (env == r)
        return in_response;
    return NULL;
}

static void check_answer(const char *s, size_t n, int strict_ok, int usual_ok)
{
    static const char *const members[] = {"trade_id", "trade_no"};
    struct wdts_jscan_list list;
    int rc = wdts_jscan_answer(s, n, "order", members, 2, 0, &list);
    CHECK(rc == 0 || rc == -1 || rc == WDTS_JSCAN_DUPKEY);
    if (rc != 0) {
        CHECK(list.items == NULL && list.n == 0);
        if (rc == WDTS_JSCAN_DUPKEY) { /* strictly valid, but a key twice on the path */
            CHECK(strict_ok);
            json_t *dup = load(s, n, JSON_REJECT_DUPLICATES);
            CHECK(dup == NULL);
        }
    }
    json_t *root = strict_ok ? load(s, n, JSON_REJECT_DUPLICATES) : NULL;
    int arrays = 0;
    json_t *want = json_is_object(root) ? jansson_list(root, "order", &arrays) : NULL;
    /* the converse: a plain answer without duplicate keys or escaped keys is found */
    if (usual_ok && want != NULL && arrays == 1 && memchr(s, '\\', n) == NULL)
        CHECK(rc == 0);
    if (rc == 0) {
        CHECK(strict_ok);
        json_t *full = load(s, n, 0);
        CHECK(full != NULL);
        /* without duplicates jansson's list is the walk's; with some (off the path) the
         * walk still names exactly one array: compare with what the spans hold */
        CHECK(list.off < n && list.len <= n - list.off && s[list.off] == '[');
        json_t *got = load(s + list.off, list.len, 0);
        CHECK(json_is_array(got));
        if (root != NULL)
            CHECK(want != NULL && json_equal(want, got));
        CHECK(list.n == json_array_size(got));
        for (size_t i = 0; i < list.n; i++) {
            const struct wdts_jscan_item *it = &list.items[i];
            CHECK(it->off >= list.off && it->off < list.off + list.len);
            CHECK(it->len <= list.off + list.len - it->off);
            json_t *item = load(s + it->off, it->len, 0);
            json_t *el = json_array_get(got, i);
            CHECK(item != NULL && json_equal(item, el));
            for (size_t k = 0; k < 2; k++) {
                json_t *m = json_is_object(el) ? json_object_get(el, members[k]) : NULL;
                if (it->mcount[k] == 0)
                    CHECK(m == NULL);
                if (it->mcount[k] <= 0)
                    continue;
                CHECK(it->moff[k] >= it->off && it->moff[k] < it->off + it->len);
                CHECK(it->mlen[k] <= it->off + it->len - it->moff[k]);
                json_t *mv = load(s + it->moff[k], it->mlen[k], 0);
                CHECK(mv != NULL && m != NULL && json_equal(mv, m)); /* the last one wins */
                json_decref(mv);
            }
            json_decref(item);
        }
        json_decref(got);
        json_decref(full);
    }
    json_decref(root);
    wdts_jscan_list_deinit(&list);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *e = s + size;
    const char *end = wdts_jscan_value(s, e);
    int whole = 0;
    if (end != NULL) {
        CHECK(end > s && end <= e);
        /* the value alone is JSON to jansson too */
        json_t *v = load(s, (size_t)(end - s), 0);
        CHECK(v != NULL);
        json_decref(v);
        /* the fast walk over checked bytes ends where the strict one does */
        CHECK(wdts_jscan_value_checked(s, end) == end);
        const char *p = end;
        while (p < e && is_ws(*p))
            p++;
        whole = p == e;
    }
    json_t *all = load(s, size, 0);
    int usual_ok = all != NULL && usual(s, size);
    if (whole)
        CHECK(all != NULL);
    if (usual_ok)
        CHECK(whole);
    json_decref(all);

    /* on any bytes the fast walk stays inside them */
    const char *c = wdts_jscan_value_checked(s, e);
    CHECK(c == NULL || (c > s && c <= e));
    size_t cost = wdts_jscan_cost(s, e, 1000);
    (void)cost;

    check_answer(s, size, whole, usual_ok);
    return 0;
}
