/* The sandbox data set: determinism, time behaviour of `modified`, half-open
 * windows, route and privacy rules, valid JSON for every entity, the truth, and
 * bounded memory across tenants. */
#include "wdts_test.h"

#include <jansson.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbx_data.h"
#include "sbx_data_int.h"
#include "sbx_truth.h"
#include "wdts/str.h"
#include "wdts/time.h"

#define ORIGIN 1780000000LL /* 2026-05-29 04:26:40 +08:00 */
#define DAY 86400LL

static const struct sbx_dataset ds_main = {42, 2000, ORIGIN};

static const enum sbx_entity lifecycle_entities[] = {
    SBX_E_TRADE,          SBX_E_STOCKOUT,         SBX_E_REFUND,    SBX_E_REFUND_STOCKIN,
    SBX_E_PURCHASE_ORDER, SBX_E_PURCHASE_STOCKIN, SBX_E_RAW_TRADE,
};
#define N_LIFECYCLE (sizeof(lifecycle_entities) / sizeof(lifecycle_entities[0]))

static const enum sbx_entity trade_derived[] = {SBX_E_TRADE, SBX_E_STOCKOUT, SBX_E_REFUND,
                                                SBX_E_REFUND_STOCKIN, SBX_E_RAW_TRADE};
#define N_TRADE_DERIVED (sizeof(trade_derived) / sizeof(trade_derived[0]))

static int is_snapshot(enum sbx_entity e)
{
    return e == SBX_E_SHOP || e == SBX_E_WAREHOUSE || e == SBX_E_LOGISTICS;
}

static void sel(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                enum sbx_timekind tk, int64_t s, int64_t end, int64_t as_of, struct sbx_result *r)
{
    assert_int_equal(sbx_data_select(ds, e, route, tk, s, end, as_of, r), WDTS_OK);
}

static char *render_fmt(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                        uint64_t id, int64_t as_of, enum sbx_timefmt fmt)
{
    struct wdts_buf b;
    wdts_buf_init(&b);
    sbx_data_render_fmt(ds, e, route, id, as_of, fmt, &b);
    char *s = wdts_buf_steal(&b);
    return s ? s : strdup("");
}

static char *render(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                    uint64_t id, int64_t as_of)
{
    return render_fmt(ds, e, route, id, as_of, SBX_TIMEFMT_DOC);
}

static json_t *render_json_fmt(const struct sbx_dataset *ds, enum sbx_entity e,
                               enum sbx_route route, uint64_t id, int64_t as_of,
                               enum sbx_timefmt fmt)
{
    char *s = render_fmt(ds, e, route, id, as_of, fmt);
    json_error_t jerr;
    json_t *j = json_loads(s, 0, &jerr);
    if (j == NULL)
        fail_msg("%s id %llu: invalid JSON (%s at %d): %.300s", sbx_entity_name(e),
                 (unsigned long long)id, jerr.text, jerr.position, s);
    free(s);
    assert_true(json_is_object(j));
    return j;
}

static json_t *render_json(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                           uint64_t id, int64_t as_of)
{
    return render_json_fmt(ds, e, route, id, as_of, SBX_TIMEFMT_DOC);
}

/* A window in which every entity has rows at T (wide enough for the slow ones). */
static int64_t window_start(enum sbx_entity e, int64_t t)
{
    switch (e) {
    case SBX_E_TRADE:
    case SBX_E_STOCKOUT:
    case SBX_E_RAW_TRADE:
    case SBX_E_STOCK_CHANGE: return t - 3600;
    default: return t - 30 * DAY;
    }
}

/* ---------------------------------------------------------------- tests */

static void test_names(void **state)
{
    (void)state;
    for (int e = 0; e < SBX_E__COUNT; e++) {
        enum sbx_entity back;
        assert_int_equal(sbx_entity_parse(sbx_entity_name((enum sbx_entity)e), &back), WDTS_OK);
        assert_int_equal(back, e);
    }
    enum sbx_route route;
    assert_int_equal(sbx_route_parse("wdt", &route), WDTS_OK);
    assert_int_equal(route, SBX_ROUTE_WDT);
    assert_int_equal(sbx_route_parse("qimen", &route), WDTS_OK);
    assert_int_equal(route, SBX_ROUTE_QIMEN);
    assert_int_equal(sbx_route_parse("QIMEN", &route), WDTS_ERR_INVAL);
    assert_int_equal(sbx_route_parse(NULL, &route), WDTS_ERR_INVAL);
    enum sbx_entity x;
    assert_int_equal(sbx_entity_parse("orders", &x), WDTS_ERR_INVAL);
    assert_int_equal(sbx_entity_parse(NULL, &x), WDTS_ERR_INVAL);
    struct sbx_result r;
    assert_int_equal(
        sbx_data_select(&ds_main, SBX_E__COUNT, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, 0, 1, ORIGIN, &r),
        WDTS_ERR_INVAL);
    assert_int_equal(sbx_data_select(&ds_main, SBX_E_STOCK, SBX_ROUTE_WDT, SBX_TIME_PAID, ORIGIN,
                                     ORIGIN + DAY, ORIGIN + DAY, &r),
                     WDTS_ERR_INVAL);
    assert_int_equal(sbx_data_select(&ds_main, SBX_E_REFUND, SBX_ROUTE_WDT, SBX_TIME_CONSIGNED,
                                     ORIGIN, ORIGIN + DAY, ORIGIN + DAY, &r),
                     WDTS_ERR_INVAL);
    /* times and rates out of range are refused, not overflowed */
    assert_int_equal(sbx_data_select(&ds_main, SBX_E_TRADE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED,
                                     INT64_MIN, INT64_MAX, INT64_MAX, &r),
                     WDTS_ERR_INVAL);
    assert_int_equal(
        sbx_data_select(&ds_main, SBX_E_TRADE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, 0, 1, -5, &r),
        WDTS_ERR_INVAL);
    const struct sbx_dataset huge = {1, 2000000000, ORIGIN};
    assert_int_equal(sbx_data_select(&huge, SBX_E_TRADE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, ORIGIN,
                                     ORIGIN + 60, ORIGIN + 60, &r),
                     WDTS_ERR_INVAL);
    /* extreme window bounds are fine: they are clamped to [data_origin, as_of] */
    assert_int_equal(sbx_data_select(&ds_main, SBX_E_TRADE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED,
                                     INT64_MIN, INT64_MAX, ORIGIN + 600, &r),
                     WDTS_OK);
    assert_true(r.n > 0);
    sbx_result_deinit(&r);
}

static void test_determinism(void **state)
{
    (void)state;
    int64_t t = ORIGIN + 20 * DAY + 1234;
    for (int e = 0; e < SBX_E__COUNT; e++) {
        struct sbx_result a, b;
        sel(&ds_main, e, SBX_ROUTE_QIMEN, SBX_TIME_MODIFIED, window_start(e, t), t, t, &a);
        sbx_data_cache_clear(); /* the second answer is computed again, not read back */
        sel(&ds_main, e, SBX_ROUTE_QIMEN, SBX_TIME_MODIFIED, window_start(e, t), t, t, &b);
        assert_true(a.n > 0);
        assert_int_equal(a.n, b.n);
        assert_memory_equal(a.hits, b.hits, a.n * sizeof(*a.hits));
        for (size_t i = 0; i < a.n && i < 20; i++) {
            char *x = render(&ds_main, e, SBX_ROUTE_QIMEN, a.hits[i].id, t);
            char *y = render(&ds_main, e, SBX_ROUTE_QIMEN, a.hits[i].id, t); /* maybe cached */
            sbx_data_cache_clear();
            char *z = render(&ds_main, e, SBX_ROUTE_QIMEN, a.hits[i].id, t); /* computed */
            assert_string_equal(x, y);
            assert_string_equal(x, z);
            free(x);
            free(y);
            free(z);
        }
        sbx_result_deinit(&a);
        sbx_result_deinit(&b);
    }
    /* another seed is another data set */
    struct sbx_dataset other = ds_main;
    other.seed = 43;
    char *x = render(&ds_main, SBX_E_TRADE, SBX_ROUTE_QIMEN, 1, t);
    char *y = render(&other, SBX_E_TRADE, SBX_ROUTE_QIMEN, 1, t);
    assert_string_not_equal(x, y);
    free(x);
    free(y);
}

/* Every record's modified never decreases as T grows, never exceeds T, and a
 * record that exists at T still exists later. */
static void test_modified_monotonic(void **state)
{
    (void)state;
    const struct sbx_dataset ds = {7, 300, ORIGIN};
    for (size_t k = 0; k < SBX_E__COUNT; k++) {
        enum sbx_entity e = (enum sbx_entity)k;
        size_t cap = 0;
        uint64_t *ids = NULL;
        int64_t *mods = NULL;
        size_t n_prev = 0;
        for (int64_t t = ORIGIN + 3 * DAY; t <= ORIGIN + 25 * DAY; t += DAY / 3 + 777) {
            struct sbx_result r;
            sel(&ds, e, SBX_ROUTE_QIMEN, SBX_TIME_MODIFIED, ORIGIN, t + 1, t, &r);
            assert_true(r.n >= n_prev);
            for (size_t i = 0; i < r.n; i++) {
                assert_true(r.hits[i].modified <= t);
                assert_true(r.hits[i].modified >= ORIGIN);
                if (i > 0 && !is_snapshot(e))
                    assert_true(r.hits[i - 1].modified <= r.hits[i].modified);
            }
            /* each record seen before is still there, with modified >= its old value */
            for (size_t i = 0; i < n_prev; i++) {
                int found = 0;
                for (size_t j = 0; j < r.n; j++) {
                    if (r.hits[j].id == ids[i]) {
                        assert_true(r.hits[j].modified >= mods[i]);
                        found = 1;
                        break;
                    }
                }
                if (!found)
                    fail_msg("%s id %llu vanished at %lld", sbx_entity_name(e),
                             (unsigned long long)ids[i], (long long)t);
            }
            if (r.n > cap) {
                cap = r.n;
                ids = realloc(ids, cap * sizeof(*ids));
                mods = realloc(mods, cap * sizeof(*mods));
            }
            for (size_t i = 0; i < r.n; i++) {
                ids[i] = r.hits[i].id;
                mods[i] = r.hits[i].modified;
            }
            n_prev = r.n;
            sbx_result_deinit(&r);
        }
        assert_true(n_prev > 0);
        free(ids);
        free(mods);
    }
}

/* The version a record renders at T is the version of its modified time: it
 * changes only when modified does. */
static void test_render_follows_modified(void **state)
{
    (void)state;
    int64_t t0 = ORIGIN + 10 * DAY;
    for (size_t k = 0; k < N_LIFECYCLE; k++) {
        enum sbx_entity e = lifecycle_entities[k];
        struct sbx_result r;
        sel(&ds_main, e, SBX_ROUTE_QIMEN, SBX_TIME_MODIFIED, window_start(e, t0), t0, t0, &r);
        assert_true(r.n > 0);
        for (size_t i = 0; i < r.n && i < 30; i++) {
            /* as of its own modified time, and as of t0, the record is the same */
            sbx_data_cache_clear(); /* both renders computed, not one read from the row cache */
            char *a = render(&ds_main, e, SBX_ROUTE_QIMEN, r.hits[i].id, r.hits[i].modified);
            sbx_data_cache_clear();
            char *b = render(&ds_main, e, SBX_ROUTE_QIMEN, r.hits[i].id, t0);
            assert_string_equal(a, b);
            free(a);
            free(b);
        }
        sbx_result_deinit(&r);
    }
}

/* [a, b) ∪ [b, c) is exactly [a, c), in order, for every entity and time kind. */
static void test_half_open_windows(void **state)
{
    (void)state;
    int64_t t = ORIGIN + 12 * DAY + 999;
    static const enum sbx_timekind kinds[] = {SBX_TIME_MODIFIED, SBX_TIME_CREATED, SBX_TIME_PAID,
                                              SBX_TIME_CONSIGNED};
    for (int e = 0; e < SBX_E__COUNT; e++) {
        if (is_snapshot(e))
            continue;
        for (size_t k = 0; k < 4; k++) {
            int64_t a = window_start(e, t) - 1800, c = t - 60;
            struct sbx_result whole;
            if (sbx_data_select(&ds_main, e, SBX_ROUTE_WDT, kinds[k], a, c, t, &whole) != WDTS_OK)
                continue; /* that time kind does not exist for this entity */
            size_t total = 0;
            int cuts = 0;
            /* cut the window at several points, including ones that hit a row's time */
            int64_t pts[6] = {a,
                              a + (c - a) / 3,
                              whole.n ? whole.hits[whole.n / 2].modified : a + 1,
                              a + 2 * (c - a) / 3,
                              c - 1,
                              c};
            if (kinds[k] != SBX_TIME_MODIFIED)
                pts[2] = a + (c - a) / 2;
            for (int p = 0; p + 1 < 6; p++) {
                if (pts[p + 1] < pts[p])
                    pts[p + 1] = pts[p];
                struct sbx_result part;
                sel(&ds_main, e, SBX_ROUTE_WDT, kinds[k], pts[p], pts[p + 1], t, &part);
                assert_true(total + part.n <= whole.n);
                if (part.n)
                    assert_memory_equal(part.hits, whole.hits + total, part.n * sizeof(*part.hits));
                total += part.n;
                cuts++;
                sbx_result_deinit(&part);
            }
            assert_int_equal(cuts, 5);
            assert_int_equal(total, whole.n);
            if (kinds[k] == SBX_TIME_MODIFIED)
                assert_true(whole.n > 0);
            sbx_result_deinit(&whole);
        }
    }
}

static int has_id(const struct sbx_result *r, uint64_t id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->hits[i].id == id)
            return 1;
    return 0;
}

/* As the clock runs, rows leave a past window (their modified moved on) and show up
 * in a later one; nothing new appears in the past window. */
static void test_rows_move_between_windows(void **state)
{
    (void)state;
    int64_t t = ORIGIN + 9 * DAY;
    for (size_t k = 0; k < N_LIFECYCLE; k++) {
        enum sbx_entity e = lifecycle_entities[k];
        int64_t s = window_start(e, t);
        int64_t later =
            t +
            (e == SBX_E_TRADE || e == SBX_E_STOCKOUT || e == SBX_E_RAW_TRADE ? 12 * 3600 : 5 * DAY);
        struct sbx_result before, after, moved;
        sel(&ds_main, e, SBX_ROUTE_QIMEN, SBX_TIME_MODIFIED, s, t, t, &before);
        sel(&ds_main, e, SBX_ROUTE_QIMEN, SBX_TIME_MODIFIED, s, t, later, &after);
        sel(&ds_main, e, SBX_ROUTE_QIMEN, SBX_TIME_MODIFIED, t, later + 1, later, &moved);
        if (after.n >= before.n)
            fail_msg("%s: %zu rows before, %zu after", sbx_entity_name(e), before.n, after.n);
        for (size_t i = 0; i < after.n; i++)
            assert_true(has_id(&before, after.hits[i].id));
        size_t gone = 0;
        for (size_t i = 0; i < before.n; i++) {
            if (!has_id(&after, before.hits[i].id)) {
                gone++;
                assert_true(has_id(&moved, before.hits[i].id));
            }
        }
        assert_int_equal(gone, before.n - after.n);
        sbx_result_deinit(&before);
        sbx_result_deinit(&after);
        sbx_result_deinit(&moved);
    }
}

/* Nothing exists before it is created: a window in the future is empty, and a
 * record rendered before its creation is {}. */
static void test_not_yet_created(void **state)
{
    (void)state;
    int64_t t = ORIGIN + 5 * DAY;
    for (int e = 0; e < SBX_E__COUNT; e++) {
        struct sbx_result r;
        if (is_snapshot(e)) {
            sel(&ds_main, e, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, 0, 0, ORIGIN - 1, &r);
            assert_int_equal(r.n, 0);
            sbx_result_deinit(&r);
            continue;
        }
        sel(&ds_main, e, SBX_ROUTE_QIMEN, SBX_TIME_MODIFIED, t + 1, t + 3600, t, &r);
        assert_int_equal(r.n, 0);
        sbx_result_deinit(&r);
        sel(&ds_main, e, SBX_ROUTE_QIMEN, SBX_TIME_MODIFIED, ORIGIN - DAY, ORIGIN, ORIGIN + 10, &r);
        assert_int_equal(r.n, 0);
        sbx_result_deinit(&r);
    }
    uint64_t count = sbx_stream_count(&ds_main, SBX_S_TRADE, t);
    assert_true(count > 9000 && count < 11000); /* 2000 a day for 5 days */
    char *s = render(&ds_main, SBX_E_TRADE, SBX_ROUTE_QIMEN, count + 1, t);
    assert_string_equal(s, "{}");
    free(s);
    s = render(&ds_main, SBX_E_TRADE, SBX_ROUTE_QIMEN, count, t);
    assert_string_not_equal(s, "{}");
    free(s);
    /* a tenant without orders has no trades but still has its catalog */
    const struct sbx_dataset none = {5, 0, ORIGIN};
    struct sbx_result r;
    sel(&none, SBX_E_TRADE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, ORIGIN, t, t, &r);
    assert_int_equal(r.n, 0);
    sbx_result_deinit(&r);
    sel(&none, SBX_E_GOODS, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, ORIGIN, t, t, &r);
    assert_true(r.n > 0);
    sbx_result_deinit(&r);
    /* ids that name nothing render as {} on every entity, without a fault */
    for (int e = 0; e < SBX_E__COUNT; e++) {
        static const uint64_t ids[] = {0, 1, 7, 1000000, (1ULL << 60) | 12345, UINT64_MAX};
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
            struct wdts_buf b;
            wdts_buf_init(&b);
            sbx_data_render(&none, (enum sbx_entity)e, SBX_ROUTE_WDT, ids[i], t, &b);
            json_error_t jerr;
            json_t *j = json_loads(wdts_buf_str(&b), 0, &jerr);
            assert_non_null(j);
            json_decref(j);
            wdts_buf_reset(&b);
            sbx_data_render(&ds_main, (enum sbx_entity)e, SBX_ROUTE_WDT, ids[i], t, &b);
            j = json_loads(wdts_buf_str(&b), 0, &jerr);
            assert_non_null(j);
            json_decref(j);
            wdts_buf_deinit(&b);
        }
    }
}

static const char *const pii_keys[] = {
    "receiver_name", "receiver_address", "receiver_mobile", "receiver_telno", "buyer_nick",
    "pay_account",   "customer_name",    "nick_name",       "id_card",        "return_telno"};
static const char *const qimen_hidden_keys[] = {"receiver_name",   "receiver_address",
                                                "receiver_mobile", "receiver_telno",
                                                "buyer_nick",      "id_card"};

static int is_cipher(const char *s)
{
    size_t n = strlen(s);
    return n > 5 && s[0] == '~' && strcmp(s + n - 3, "~1~") == 0;
}

static void check_privacy(enum sbx_entity e, enum sbx_route route, int *plats_seen)
{
    int64_t t = ORIGIN + 14 * DAY;
    struct sbx_result r;
    sel(&ds_main, e, route, SBX_TIME_MODIFIED, window_start(e, t), t, t, &r);
    assert_true(r.n > 0);
    for (size_t i = 0; i < r.n; i++) {
        json_t *j = render_json(&ds_main, e, route, r.hits[i].id, t);
        /* refund stock-ins name the shop's platform shop_platform_id; refunds write
         * platform_id as a numeric string (both as their pages show) */
        json_t *pv = json_object_get(j, e == SBX_E_REFUND_STOCKIN ? "shop_platform_id"
                                                                  : "platform_id");
        assert_non_null(pv);
        long long plat = json_integer_value(pv);
        if (json_is_string(pv))
            assert_int_equal(wdts_parse_int(json_string_value(pv), 0, 1000, &plat), WDTS_OK);
        plats_seen[plat & 127] = 1;
        assert_int_not_equal(plat, 39); /* 拼多多 comes from PDD, on neither route */
        if (route == SBX_ROUTE_WDT)
            assert_int_not_equal(plat, 1);
        int n_pii = 0;
        for (size_t k = 0; k < sizeof(pii_keys) / sizeof(pii_keys[0]); k++) {
            json_t *v = json_object_get(j, pii_keys[k]);
            if (v == NULL)
                continue;
            n_pii++;
            assert_true(json_is_string(v));
            const char *s = json_string_value(v);
            int hidden = 0;
            for (size_t q = 0; q < sizeof(qimen_hidden_keys) / sizeof(qimen_hidden_keys[0]); q++)
                hidden |= strcmp(pii_keys[k], qimen_hidden_keys[q]) == 0;
            if (route == SBX_ROUTE_QIMEN && hidden)
                assert_string_equal(s, "");
            else if (plat == 0 || plat == 127) {
                if (s[0] == '\0' || is_cipher(s))
                    fail_msg("%s platform %d route %d: %s = \"%s\"", sbx_entity_name(e), plat,
                             route, pii_keys[k], s);
            } else if (!(s[0] == '\0' || is_cipher(s)))
                fail_msg("%s platform %d: %s = \"%s\" is readable", sbx_entity_name(e), plat,
                         pii_keys[k], s);
        }
        assert_true(n_pii >= 2);
        json_decref(j);
    }
    sbx_result_deinit(&r);
}

static void test_route_and_privacy(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_TRADE_DERIVED; k++) {
        int seen_wdt[128] = {0}, seen_qm[128] = {0};
        check_privacy(trade_derived[k], SBX_ROUTE_WDT, seen_wdt);
        check_privacy(trade_derived[k], SBX_ROUTE_QIMEN, seen_qm);
        assert_true(seen_wdt[0] && seen_wdt[127] && seen_wdt[3]);
        assert_true(!seen_wdt[1]);
        assert_true(seen_qm[1]); /* Taobao/Tmall come through Qimen */
    }
    /* the shops list has all the platforms the orders come from */
    int seen[128] = {0};
    struct sbx_result r;
    sel(&ds_main, SBX_E_SHOP, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, 0, 0, ORIGIN + DAY, &r);
    for (size_t i = 0; i < r.n; i++) {
        json_t *j = render_json(&ds_main, SBX_E_SHOP, SBX_ROUTE_WDT, r.hits[i].id, ORIGIN + DAY);
        seen[json_integer_value(json_object_get(j, "platform_id")) & 127] = 1;
        json_decref(j);
    }
    assert_true(seen[0] && seen[127] && seen[1] && seen[3] && seen[39]);
    sbx_result_deinit(&r);
}

struct shape {
    enum sbx_entity e;
    const char *pk_key; /* NULL: composite */
    const char *list_key;
    const char *time_key; /* the change-time field (the catalog's modified.field) */
};

static const struct shape shapes[] = {
    {SBX_E_TRADE, "trade_id", "detail_list", "modified"},
    {SBX_E_STOCKOUT, "stockout_id", "details_list", "modified"},
    {SBX_E_REFUND, "refund_id", "detail_list", "modified"},
    {SBX_E_REFUND_STOCKIN, "stockin_id", "details_list", "modified"},
    {SBX_E_PURCHASE_ORDER, "purchase_id", "detail_list", "modified"},
    {SBX_E_PURCHASE_STOCKIN, "stockin_id", "details_list", "modified"},
    {SBX_E_STOCK, "rec_id", NULL, "modified"},
    {SBX_E_STOCK_CHANGE, NULL, NULL, "created"},
    {SBX_E_GOODS, "goods_id", "spec_list", "modified"},
    {SBX_E_SUITE, "suite_id", "detail_list", "suite_modified"},
    {SBX_E_RAW_TRADE, "rec_id", "trade_orders", "modified"},
    {SBX_E_SHOP, "shop_id", NULL, "modified"},
    {SBX_E_WAREHOUSE, "warehouse_id", NULL, "modified"},
    {SBX_E_LOGISTICS, "logistics_id", NULL, "modified"},
};

static void test_every_entity_renders_json(void **state)
{
    (void)state;
    assert_int_equal(sizeof(shapes) / sizeof(shapes[0]), SBX_E__COUNT);
    int64_t t = ORIGIN + 33 * DAY + 4321;
    for (size_t k = 0; k < SBX_E__COUNT; k++) {
        const struct shape *sh = &shapes[k];
        struct sbx_result r;
        sel(&ds_main, sh->e, SBX_ROUTE_QIMEN, SBX_TIME_MODIFIED, window_start(sh->e, t), t, t, &r);
        assert_true(r.n > 0);
        size_t step = r.n / 25 + 1;
        for (size_t i = 0; i < r.n; i += step) {
            json_t *j = render_json_fmt(&ds_main, sh->e, SBX_ROUTE_QIMEN, r.hits[i].id, t,
                                        SBX_TIMEFMT_DATETIME);
            struct wdts_buf pk;
            wdts_buf_init(&pk);
            sbx_data_pk(sh->e, r.hits[i].id, &pk);
            char want[96];
            if (sh->pk_key) {
                json_t *v = json_object_get(j, sh->pk_key);
                assert_true(json_is_integer(v));
                snprintf(want, sizeof(want), "%lld", (long long)json_integer_value(v));
            } else {
                snprintf(want, sizeof(want), "%s:%s",
                         json_string_value(json_object_get(j, "stockio_no")),
                         json_string_value(json_object_get(j, "spec_no")));
            }
            assert_string_equal(wdts_buf_str(&pk), want);
            wdts_buf_deinit(&pk);
            if (sh->list_key) {
                json_t *list = json_object_get(j, sh->list_key);
                assert_true(json_is_array(list));
                assert_true(json_array_size(list) > 0);
                assert_true(json_is_object(json_array_get(list, 0)));
            }
            /* the record's own change time is the one selection reported */
            int64_t m = 0;
            assert_int_equal(wdts_time_parse_beijing(
                                 json_string_value(json_object_get(j, sh->time_key)), &m),
                             WDTS_OK);
            if (sh->e == SBX_E_GOODS) {
                /* the goods row's version is the latest of the goods and its specs
                 * (goods_modified and spec_modified are epoch ms, as the page shows) */
                int64_t gm = json_integer_value(json_object_get(j, "goods_modified")) / 1000;
                json_t *spec;
                size_t si;
                json_array_foreach(json_object_get(j, "spec_list"), si, spec)
                {
                    int64_t sm = json_integer_value(json_object_get(spec, "spec_modified")) / 1000;
                    if (sm > gm)
                        gm = sm;
                }
                assert_int_equal(gm, m);
            }
            assert_int_equal(m, r.hits[i].modified);
            json_decref(j);
        }
        sbx_result_deinit(&r);
    }
    /* the typing quirks: trade times in ms, amounts as strings, a decimal as a number */
    struct sbx_result r;
    sel(&ds_main, SBX_E_TRADE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, t - 3600, t, t, &r);
    json_t *j = render_json(&ds_main, SBX_E_TRADE, SBX_ROUTE_WDT, r.hits[0].id, t);
    assert_true(json_is_integer(json_object_get(j, "trade_time")));
    assert_true(json_integer_value(json_object_get(j, "created")) > ORIGIN * 1000);
    assert_true(json_is_string(json_object_get(j, "goods_amount")));
    assert_non_null(strstr(json_string_value(json_object_get(j, "goods_amount")), "."));
    assert_true(json_is_real(json_object_get(j, "post_cost")));
    json_t *d0 = json_array_get(json_object_get(j, "detail_list"), 0);
    assert_true(json_is_integer(json_object_get(d0, "modified")));
    json_decref(j);
    sbx_result_deinit(&r);
}

static void test_snapshots_return_everything(void **state)
{
    (void)state;
    static const size_t want[] = {SBX_N_SHOPS, SBX_N_WAREHOUSES, SBX_N_LOGISTICS_ROWS};
    static const enum sbx_entity es[] = {SBX_E_SHOP, SBX_E_WAREHOUSE, SBX_E_LOGISTICS};
    for (int k = 0; k < 3; k++) {
        struct sbx_result a, b;
        sel(&ds_main, es[k], SBX_ROUTE_WDT, SBX_TIME_MODIFIED, 0, 0, ORIGIN + DAY, &a);
        sel(&ds_main, es[k], SBX_ROUTE_QIMEN, SBX_TIME_CREATED, ORIGIN + 5 * DAY,
            ORIGIN + 5 * DAY + 60, ORIGIN + 90 * DAY, &b);
        assert_int_equal(a.n, want[k]);
        assert_int_equal(b.n, want[k]);
        for (size_t i = 0; i < a.n; i++)
            assert_int_equal(a.hits[i].id, i + 1);
        sbx_result_deinit(&a);
        sbx_result_deinit(&b);
    }
}

static void test_truth_matches_select(void **state)
{
    (void)state;
    int64_t t = ORIGIN + 16 * DAY + 77;
    for (int e = 0; e < SBX_E__COUNT; e++) {
        int64_t since = window_start(e, t - 7200), before = t - 7200;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        assert_non_null(f);
        assert_int_equal(sbx_truth_write(&ds_main, e, SBX_ROUTE_WDT, t, since, before, f), WDTS_OK);
        fclose(f);
        struct sbx_result r;
        sel(&ds_main, e, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, since, before, t, &r);
        size_t lines = 0;
        char *next = NULL;
        for (char *line = text; line && *line; line = next) {
            char *nl = strchr(line, '\n');
            assert_non_null(nl); /* every line ends with a newline */
            *nl = '\0';
            next = nl + 1;
            json_error_t jerr;
            json_t *j = json_loads(line, 0, &jerr);
            assert_non_null(j);
            assert_true(lines < r.n);
            struct wdts_buf pk;
            wdts_buf_init(&pk);
            sbx_data_pk(e, r.hits[lines].id, &pk);
            assert_string_equal(json_string_value(json_object_get(j, "pk")), wdts_buf_str(&pk));
            wdts_buf_deinit(&pk);
            int64_t m = json_integer_value(json_object_get(j, "modified_unix"));
            assert_int_equal(m, r.hits[lines].modified);
            int64_t parsed = 0;
            assert_int_equal(
                wdts_time_parse_rfc3339(json_string_value(json_object_get(j, "modified")), &parsed),
                WDTS_OK);
            assert_int_equal(parsed, m);
            if (!is_snapshot(e))
                assert_true(m >= since && m < before);
            json_decref(j);
            lines++;
        }
        assert_int_equal(lines, r.n);
        if (is_snapshot(e))
            assert_true(since <= ORIGIN); /* so every snapshot row is in the truth */
        free(text);
        sbx_result_deinit(&r);
    }
    /* from the beginning: snapshots are in, once */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(sbx_truth_write(&ds_main, SBX_E_SHOP, SBX_ROUTE_WDT, t, INT64_MIN, t, f),
                     WDTS_OK);
    fclose(f);
    size_t nl = 0;
    for (char *p = text; *p; p++)
        nl += *p == '\n';
    assert_int_equal(nl, SBX_N_SHOPS);
    free(text);
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks;
}

/* Ten tenants cost what one costs: after selecting and rendering for them, the heap
 * holds only the bounded caches. */
static void test_memory_bounded_across_tenants(void **state)
{
    (void)state;
    sbx_data_cache_clear();
    size_t base = heap_in_use();
    int64_t t = ORIGIN + 40 * DAY;
    size_t worst_extra = 0;
    for (int round = 0; round < 3; round++) {
        for (uint64_t tenant = 0; tenant < 10; tenant++) {
            const struct sbx_dataset ds = {1000 + tenant, 10000, ORIGIN};
            for (int e = 0; e < SBX_E__COUNT; e++) {
                struct sbx_result r;
                sel(&ds, e, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, window_start(e, t), t, t + round, &r);
                struct wdts_buf b;
                wdts_buf_init(&b);
                for (size_t i = 0; i < r.n && i < 100; i++)
                    sbx_data_render(&ds, e, SBX_ROUTE_WDT, r.hits[i].id, t, &b);
                wdts_buf_deinit(&b);
                sbx_result_deinit(&r);
            }
        }
        struct sbx_cache_stats st;
        sbx_data_cache_stats(&st);
        assert_true(st.bytes <= st.max_bytes);
        size_t used = heap_in_use();
        /* the allocator's header of each cached block is not in st.bytes */
        size_t cached = st.bytes + st.entries * 32;
        size_t extra = used > base + cached ? used - base - cached : 0;
        if (extra > worst_extra)
            worst_extra = extra;
    }
    /* beyond the caches' contents, only allocator slack: no per-tenant state */
    assert_true(worst_extra < 256 * 1024);
    sbx_data_cache_clear();
    assert_true(heap_in_use() < base + 64 * 1024);
}

/* The 60-minute trade window of a 10,000-orders/day tenant is answered without
 * visiting its whole history: a tenant 20x older costs the same visits. */
static void test_selection_cost_independent_of_history(void **state)
{
    (void)state;
    const struct sbx_dataset ds = {99, 10000, ORIGIN};
    struct sbx_result young, old;
    struct sbx_cache_stats st0, st1, st2;
    sbx_data_cache_clear();
    int64_t t1 = ORIGIN + 20 * DAY, t2 = ORIGIN + 400 * DAY;
    sbx_data_cache_stats(&st0);
    sel(&ds, SBX_E_TRADE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, t1 - 3600, t1, t1, &young);
    sbx_data_cache_stats(&st1);
    sel(&ds, SBX_E_TRADE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, t2 - 3600, t2, t2, &old);
    sbx_data_cache_stats(&st2);
    uint64_t v_young = st1.visited - st0.visited, v_old = st2.visited - st1.visited;
    /* same volume of activity: about the same rows and the same work */
    assert_true(young.n > 200 && old.n > 200);
    assert_true(old.n < young.n * 2 && young.n < old.n * 2);
    assert_true(v_young > 0 && v_old < v_young * 2);
    assert_true(v_old < 40000); /* the tenant has 4,000,000 trades by t2 */
    /* a repeated page of the same scan is served from the cache: no visits */
    struct sbx_result again;
    sel(&ds, SBX_E_TRADE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, t2 - 3600, t2, t2, &again);
    sbx_data_cache_stats(&st1);
    assert_int_equal(st1.visited, st2.visited);
    assert_int_equal(again.n, old.n);
    sbx_result_deinit(&again);
    sbx_result_deinit(&young);
    sbx_result_deinit(&old);
}

/* A selection brought forward from a cached one (the clock ran on while a connector
 * paged) is the same as one computed afresh, for every entity and time kind. */
static void test_incremental_equals_fresh(void **state)
{
    (void)state;
    static const enum sbx_timekind kinds[] = {SBX_TIME_MODIFIED, SBX_TIME_CREATED, SBX_TIME_PAID,
                                              SBX_TIME_CONSIGNED};
    static const int64_t steps[] = {0, 1, 1, 7, 60, 600, 3000, 3600, 5000};
    const struct sbx_dataset ds = {77, 20000, ORIGIN};
    for (int e = 0; e < SBX_E__COUNT; e++) {
        for (size_t k = 0; k < 4; k++) {
            int64_t t = ORIGIN + 21 * DAY;
            int64_t s = window_start(e, t) + 1800, end = t + 2 * 3600; /* reaches past the clock */
            struct sbx_result r;
            sbx_data_cache_clear();
            if (sbx_data_select(&ds, e, SBX_ROUTE_QIMEN, kinds[k], s, end, t, &r) != WDTS_OK)
                continue;
            sbx_result_deinit(&r);
            for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                t += steps[i];
                struct sbx_result inc, fresh;
                sel(&ds, e, SBX_ROUTE_QIMEN, kinds[k], s, end, t, &inc); /* from the cache */
                sbx_data_cache_clear();
                sel(&ds, e, SBX_ROUTE_QIMEN, kinds[k], s, end, t, &fresh);
                if (inc.n != fresh.n)
                    fail_msg("%s kind %zu at +%lld: %zu rows brought forward, %zu fresh",
                             sbx_entity_name(e), k, (long long)(t - ORIGIN - 21 * DAY), inc.n,
                             fresh.n);
                if (inc.n)
                    assert_memory_equal(inc.hits, fresh.hits, inc.n * sizeof(*inc.hits));
                sbx_result_deinit(&inc);
                sbx_result_deinit(&fresh);
                /* re-seed the cache with the state before this step for the next one */
                sel(&ds, e, SBX_ROUTE_QIMEN, kinds[k], s, end, t, &inc);
                sbx_result_deinit(&inc);
            }
        }
    }
}

/* ---------------------------------------------------------------- brute force */

struct bf {
    struct sbx_hit *v;
    size_t n, cap;
};

static void bf_add(struct bf *b, uint64_t id, int64_t key, int64_t modified)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        b->v = realloc(b->v, b->cap * 2 * sizeof(*b->v));
    }
    /* pairs: [2i] = (id, key), [2i+1] = (id, modified) */
    b->v[2 * b->n].id = id;
    b->v[2 * b->n].modified = key;
    b->v[2 * b->n + 1].id = id;
    b->v[2 * b->n + 1].modified = modified;
    b->n++;
}

static int bf_cmp(const void *x, const void *y)
{
    const struct sbx_hit *a = x, *b = y;
    if (a[0].modified != b[0].modified)
        return a[0].modified < b[0].modified ? -1 : 1;
    return a[0].id < b[0].id ? -1 : a[0].id > b[0].id;
}

static void bf_check(struct bf *b, const struct sbx_result *r, const char *what)
{
    if (b->n > 1)
        qsort(b->v, b->n, 2 * sizeof(*b->v), bf_cmp);
    if (b->n != r->n)
        fail_msg("%s: brute force %zu rows, selection %zu", what, b->n, r->n);
    for (size_t i = 0; i < b->n; i++) {
        assert_int_equal(b->v[2 * i].id, r->hits[i].id);
        assert_int_equal(b->v[2 * i + 1].modified, r->hits[i].modified);
    }
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

/* Selection against a scan of every record ever created: no candidate range may miss one. */
/* Windows on `modified` long before as_of, at every distance where another event of
 * the trade can have superseded the one in the window (the selection skips events
 * surely superseded): the same records as the brute force. */
static void test_settled_windows_match_brute_force(void **state)
{
    (void)state;
    const struct sbx_dataset ds = {77, 900, ORIGIN};
    const int64_t t = ORIGIN + 25 * DAY + 1111;
    static const int64_t ago[] = {1800,     7000,    7900,    3 * 3600, 9 * 3600, 13 * 3600,
                                  DAY + 99, 2 * DAY, 3 * DAY, 4 * DAY,  5 * DAY,  6 * DAY,
                                  8 * DAY,  10 * DAY, 12 * DAY, 16 * DAY, 20 * DAY};
    uint64_t nt = sbx_stream_count(&ds, SBX_S_TRADE, t);
    struct sbx_trade_life *lives = calloc(nt, sizeof(*lives));
    assert_non_null(lives);
    for (uint64_t n = 0; n < nt; n++)
        sbx_trade_life_get(&ds, n, 0, &lives[n]);
    size_t checked = 0;
    for (size_t a = 0; a < sizeof(ago) / sizeof(ago[0]); a++) {
        for (int route = 0; route < 2; route++) {
            for (size_t k = 0; k < N_TRADE_DERIVED; k++) {
                enum sbx_entity e = trade_derived[k];
                int64_t span = e == SBX_E_REFUND || e == SBX_E_REFUND_STOCKIN ? DAY : 3600;
                int64_t end = t - ago[a], s = end - span;
                struct sbx_result r;
                sbx_data_cache_clear();
                assert_int_equal(sbx_data_select(&ds, e, (enum sbx_route)route,
                                                 SBX_TIME_MODIFIED, s, end, t, &r),
                                 WDTS_OK);
                struct bf b = {NULL, 0, 0};
                for (uint64_t n = 0; n < nt; n++) {
                    if (!sbx_route_visible((enum sbx_route)route,
                                           sbx_shops[lives[n].shop].platform_id))
                        continue;
                    int64_t mod = sbx_trade_modified(&lives[n], e, t, NULL);
                    if (mod >= s && mod < end)
                        bf_add(&b, n + 1, mod, mod);
                }
                checked += b.n;
                char what[64];
                snprintf(what, sizeof(what), "%s route %d %lld s ago", sbx_entity_name(e), route,
                         (long long)ago[a]);
                bf_check(&b, &r, what);
                sbx_result_deinit(&r);
            }
        }
    }
    assert_true(checked > 1000);
    free(lives);
}

static void test_selection_matches_brute_force(void **state)
{
    (void)state;
    const struct sbx_dataset ds = {1234, 700, ORIGIN};
    static const int64_t offsets[] = {3 * DAY + 100, 11 * DAY + 3000, 19 * DAY + 77};
    for (size_t o = 0; o < 3; o++) {
        int64_t t = ORIGIN + offsets[o];
        uint64_t nt = sbx_stream_count(&ds, SBX_S_TRADE, t);
        uint64_t np = sbx_stream_count(&ds, SBX_S_PURCHASE, t);
        for (int route = 0; route < 2; route++) {
            for (size_t k = 0; k < N_LIFECYCLE; k++) {
                enum sbx_entity e = lifecycle_entities[k];
                int purchase = e == SBX_E_PURCHASE_ORDER || e == SBX_E_PURCHASE_STOCKIN;
                for (int tk = 0; tk < 4; tk++) {
                    int64_t s = t - (purchase || e == SBX_E_REFUND || e == SBX_E_REFUND_STOCKIN
                                         ? 6 * DAY
                                         : 5 * 3600),
                            end = t + 600;
                    struct sbx_result r;
                    sbx_data_cache_clear();
                    if (sbx_data_select(&ds, e, (enum sbx_route)route, (enum sbx_timekind)tk, s,
                                        end, t, &r) != WDTS_OK)
                        continue;
                    struct bf b = {NULL, 0, 0};
                    for (uint64_t n = 0; n < (purchase ? np : nt); n++) {
                        int64_t mod, key = -1;
                        if (purchase) {
                            struct sbx_purchase_life l;
                            sbx_purchase_life_get(&ds, n, 0, &l);
                            mod = sbx_purchase_modified(&l, e, t, NULL);
                            key = tk == SBX_TIME_MODIFIED     ? mod
                                  : e == SBX_E_PURCHASE_ORDER ? l.created
                                                              : l.arrive;
                        } else {
                            struct sbx_trade_life l;
                            sbx_trade_life_get(&ds, n, 0, &l);
                            if (!sbx_route_visible((enum sbx_route)route,
                                                   sbx_shops[l.shop].platform_id))
                                continue;
                            mod = sbx_trade_modified(&l, e, t, NULL);
                            if (tk == SBX_TIME_MODIFIED)
                                key = mod;
                            else if (tk == SBX_TIME_PAID)
                                key = l.pay;
                            else if (tk == SBX_TIME_CONSIGNED)
                                key = l.ship;
                            else
                                key = e == SBX_E_STOCKOUT         ? l.check
                                      : e == SBX_E_REFUND         ? l.refund
                                      : e == SBX_E_REFUND_STOCKIN ? l.rf_done
                                                                  : l.created;
                        }
                        if (mod >= 0 && key >= s && key < end && key <= t)
                            bf_add(&b, n + 1, key, mod);
                    }
                    char what[64];
                    snprintf(what, sizeof(what), "%s route %d kind %d", sbx_entity_name(e), route,
                             tk);
                    bf_check(&b, &r, what);
                    sbx_result_deinit(&r);
                }
            }
        }
        /* stock changes and stock records from every movement */
        int64_t s = t - 2 * DAY;
        struct bf b = {NULL, 0, 0};
        size_t slots = (sbx_n_goods(&ds) * SBX_MAX_SPECS_PER_GOODS + 1) * 8;
        int64_t *last = calloc(slots, sizeof(*last));
        for (uint64_t n = 0; n < nt; n++) {
            struct sbx_trade_life l;
            sbx_trade_life_get(&ds, n, 1, &l);
            for (int i = 0; i < l.n_lines && l.ship >= 0 && l.ship <= t; i++) {
                uint64_t sid = sbx_stock_id(l.lines[i].goods, l.lines[i].spec, l.wh);
                if (l.ship > last[sid])
                    last[sid] = l.ship;
                if (l.ship >= s)
                    bf_add(&b, sbx_chg_id(SBX_CHG_SALE, n, l.lines[i].goods, l.lines[i].spec, i),
                           l.ship, l.ship);
            }
            if (l.si_done >= 0 && l.si_done <= t) {
                const struct sbx_line *ln = &l.lines[l.refund_line];
                uint64_t sid = sbx_stock_id(ln->goods, ln->spec, l.wh);
                if (l.si_done > last[sid])
                    last[sid] = l.si_done;
                if (l.si_done >= s)
                    bf_add(&b, sbx_chg_id(SBX_CHG_REFUND_IN, n, ln->goods, ln->spec, l.refund_line),
                           l.si_done, l.si_done);
            }
        }
        for (uint64_t n = 0; n < np; n++) {
            struct sbx_purchase_life l;
            sbx_purchase_life_get(&ds, n, 1, &l);
            for (int i = 0; i < l.n_lines && l.si_done <= t; i++) {
                uint64_t sid = sbx_stock_id(l.lines[i].goods, l.lines[i].spec, l.wh);
                if (l.si_done > last[sid])
                    last[sid] = l.si_done;
                if (l.si_done >= s)
                    bf_add(&b,
                           sbx_chg_id(SBX_CHG_PURCHASE_IN, n, l.lines[i].goods, l.lines[i].spec, i),
                           l.si_done, l.si_done);
            }
        }
        struct sbx_result r;
        sbx_data_cache_clear();
        sel(&ds, SBX_E_STOCK_CHANGE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, s, t + 1, t, &r);
        bf_check(&b, &r, "stock_changes");
        sbx_result_deinit(&r);
        for (size_t id = 0; id < slots; id++) {
            uint32_t g, sp;
            int wh;
            if (!sbx_stock_split(&ds, id, &g, &sp, &wh))
                continue;
            int64_t m = last[id] ? last[id] : ORIGIN;
            if (m >= s)
                bf_add(&b, id, m, m);
        }
        sbx_data_cache_clear();
        sel(&ds, SBX_E_STOCK, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, s, t + 1, t, &r);
        bf_check(&b, &r, "stock");
        sbx_result_deinit(&r);
        free(last);
    }
}

/* What the sandbox exists to show: while the clock runs, paging a window forwards
 * misses rows that shift onto pages already read; the last page backwards plus a
 * final page 0 misses none (docs/DESIGN.md §3). Missed = in the window as of the end of
 * the scan but never seen. */
static size_t page_scan(const struct sbx_dataset *ds, int64_t s, int64_t e, int64_t t0,
                        int backwards, size_t page, int64_t secs_per_call)
{
    uint64_t *seen = NULL;
    size_t n_seen = 0, cap = 0;
    int64_t t = t0;
    struct sbx_result r;
    sel(ds, SBX_E_TRADE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, s, e, t, &r);
    size_t pages = (r.n + page - 1) / page;
    sbx_result_deinit(&r);
    for (size_t k = 0; k <= pages; k++) {
        size_t p;
        if (backwards)
            p = k == 0 ? 0 : pages - k; /* 0, then N-1 … 1, then 0 again */
        else if (k < pages)
            p = k;
        else
            break;
        sel(ds, SBX_E_TRADE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, s, e, t, &r);
        for (size_t i = p * page; i < r.n && i < (p + 1) * page; i++) {
            if (n_seen == cap) {
                cap = cap ? 2 * cap : 256;
                seen = realloc(seen, cap * sizeof(*seen));
            }
            seen[n_seen++] = r.hits[i].id;
        }
        sbx_result_deinit(&r);
        t += secs_per_call;
    }
    sel(ds, SBX_E_TRADE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, s, e, t, &r);
    size_t missed = 0;
    for (size_t i = 0; i < r.n; i++) {
        int found = 0;
        for (size_t j = 0; j < n_seen && !found; j++)
            found = seen[j] == r.hits[i].id;
        missed += !found;
    }
    sbx_result_deinit(&r);
    free(seen);
    return missed;
}

static void test_backward_paging_misses_none(void **state)
{
    (void)state;
    const struct sbx_dataset ds = {2024, 10000, ORIGIN};
    size_t fwd_missed = 0;
    for (int w = 0; w < 6; w++) {
        int64_t t0 = ORIGIN + 30 * DAY + w * 7919;
        int64_t s = t0 - 2 * 3600, e = t0 - 3600; /* rows here are being paid, checked, shipped */
        fwd_missed += page_scan(&ds, s, e, t0, 0, 20, 30);
        assert_int_equal(page_scan(&ds, s, e, t0, 1, 20, 30), 0);
    }
    assert_true(fwd_missed > 0);
}

/* The caches are shared by the gateway's threads: concurrent selections and renders
 * give what one thread gives. */
struct thread_job {
    uint64_t seed;
    uint64_t sum;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static void *thread_work(void *arg)
{
    struct thread_job *job = arg;
    const struct sbx_dataset ds = {job->seed, 5000, ORIGIN};
    uint64_t h = 1469598103934665603ULL;
    static const enum sbx_entity es[] = {SBX_E_TRADE, SBX_E_STOCK, SBX_E_STOCK_CHANGE,
                                         SBX_E_REFUND};
    for (int64_t t = ORIGIN + 12 * DAY; t < ORIGIN + 12 * DAY + 40; t += 2) {
        for (size_t k = 0; k < 4; k++) {
            struct sbx_result r;
            if (sbx_data_select(&ds, es[k], SBX_ROUTE_WDT, SBX_TIME_MODIFIED,
                                window_start(es[k], t), t, t, &r) != WDTS_OK)
                return NULL;
            h = fnv(h, r.hits, r.n * sizeof(*r.hits));
            struct wdts_buf b;
            wdts_buf_init(&b);
            for (size_t i = 0; i < r.n && i < 50; i++)
                sbx_data_render(&ds, es[k], SBX_ROUTE_WDT, r.hits[i].id, t, &b);
            h = fnv(h, b.data ? b.data : "", b.len);
            wdts_buf_deinit(&b);
            sbx_result_deinit(&r);
        }
    }
    job->sum = h;
    return NULL;
}

static void test_threads_share_caches(void **state)
{
    (void)state;
    struct thread_job solo[2] = {{500, 0}, {501, 0}};
    sbx_data_cache_clear();
    thread_work(&solo[0]);
    sbx_data_cache_clear();
    thread_work(&solo[1]);
    sbx_data_cache_clear();
    pthread_t th[6];
    struct thread_job jobs[6];
    for (int i = 0; i < 6; i++) {
        jobs[i].seed = 500 + (uint64_t)(i % 2);
        jobs[i].sum = 0;
        assert_int_equal(pthread_create(&th[i], NULL, thread_work, &jobs[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        assert_true(jobs[i].sum != 0);
        assert_true(jobs[i].sum == solo[i % 2].sum);
    }
}


/* The archive: with a horizon, the normal and the history methods split every window's
 * rows between them (nothing twice, nothing lost); by modified with RETURN a document is
 * archived exactly when its current version is older than the horizon; STAY keeps a
 * document archived after a later change (the trades' done event comes 7 to 15 days after
 * the shipment), and archives at least as much as RETURN. */
static void test_archive_splits_windows(void **state)
{
    (void)state;
    const int64_t as_of = ORIGIN + 40 * DAY, H = 2 * DAY;
    const struct sbx_archive modes[] = {
        {H, SBX_ARCHIVE_BY_MODIFIED, SBX_ARCHIVE_LATE_RETURN, 0},
        {H, SBX_ARCHIVE_BY_MODIFIED, SBX_ARCHIVE_LATE_STAY, 0},
        {H, SBX_ARCHIVE_BY_CREATED, SBX_ARCHIVE_LATE_RETURN, 0},
        {H, SBX_ARCHIVE_BY_CREATED, SBX_ARCHIVE_LATE_STAY, 0},
    };
    size_t stay_recent_archived = 0, total_archived[4] = {0};
    for (size_t k = 0; k < N_TRADE_DERIVED; k++) {
        enum sbx_entity e = trade_derived[k];
        /* an old window (everything in it archived by modified) and a recent one */
        const int64_t starts[] = {as_of - 10 * DAY, as_of - DAY + 3600};
        for (size_t w = 0; w < 2; w++) {
            struct sbx_result all;
            sel(&ds_main, e, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, starts[w], starts[w] + 6 * 3600,
                as_of, &all);
            assert_true(all.n > 0);
            for (size_t m = 0; m < 4; m++) {
                struct sbx_result normal, hist;
                sel(&ds_main, e, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, starts[w],
                    starts[w] + 6 * 3600, as_of, &normal);
                sel(&ds_main, e, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, starts[w],
                    starts[w] + 6 * 3600, as_of, &hist);
                struct sbx_filter fn = {1, NULL, &modes[m], 0}, fh = {1, NULL, &modes[m], 1};
                sbx_result_filter(&ds_main, e, as_of, &fn, &normal);
                sbx_result_filter(&ds_main, e, as_of, &fh, &hist);
                assert_int_equal(normal.n + hist.n, all.n);
                size_t a = 0, b = 0;
                for (size_t i = 0; i < all.n; i++) { /* both keep the order: a merge */
                    if (a < normal.n && normal.hits[a].id == all.hits[i].id)
                        a++;
                    else if (b < hist.n && hist.hits[b].id == all.hits[i].id)
                        b++;
                    else
                        fail_msg("row %llu of %s is in neither method",
                                 (unsigned long long)all.hits[i].id, sbx_entity_name(e));
                    int64_t mod = all.hits[i].modified;
                    int arch = sbx_data_archived(&ds_main, e, all.hits[i].id, as_of, &modes[m]);
                    if (m == 0)
                        assert_int_equal(arch, mod + H < as_of);
                    if (m == 1 && w == 1 && arch)
                        stay_recent_archived++;
                    if (m == 1 && sbx_data_archived(&ds_main, e, all.hits[i].id, as_of,
                                                    &modes[0]))
                        assert_true(arch); /* STAY archives whatever RETURN does */
                }
                total_archived[m] += hist.n;
                if (w == 0 && m == 0)
                    assert_int_equal(normal.n, 0); /* 10 days old: all archived */
                sbx_result_deinit(&normal);
                sbx_result_deinit(&hist);
            }
            sbx_result_deinit(&all);
        }
    }
    /* a recent change to a document archived before it: only STAY keeps it there */
    assert_true(stay_recent_archived > 0);
    assert_true(total_archived[1] > total_archived[0]);
    assert_true(total_archived[3] >= total_archived[2]);
    /* off, and entities without a history method: nothing is archived */
    const struct sbx_archive off = {0, SBX_ARCHIVE_BY_MODIFIED, SBX_ARCHIVE_LATE_STAY, 0};
    assert_false(sbx_data_archived(&ds_main, SBX_E_TRADE, 5, as_of, &off));
    assert_false(sbx_data_archived(&ds_main, SBX_E_PURCHASE_ORDER, 5, as_of, &modes[1]));
    printf("# archived rows (return, stay, created-return, created-stay): %zu %zu %zu %zu; "
           "recent windows' rows archived under stay: %zu\n", total_archived[0], total_archived[1],
           total_archived[2], total_archived[3], stay_recent_archived);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_archive_splits_windows),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_modified_monotonic),
        cmocka_unit_test(test_render_follows_modified),
        cmocka_unit_test(test_half_open_windows),
        cmocka_unit_test(test_rows_move_between_windows),
        cmocka_unit_test(test_not_yet_created),
        cmocka_unit_test(test_route_and_privacy),
        cmocka_unit_test(test_every_entity_renders_json),
        cmocka_unit_test(test_snapshots_return_everything),
        cmocka_unit_test(test_truth_matches_select),
        cmocka_unit_test(test_memory_bounded_across_tenants),
        cmocka_unit_test(test_selection_cost_independent_of_history),
        cmocka_unit_test(test_incremental_equals_fresh),
        cmocka_unit_test(test_selection_matches_brute_force),
        cmocka_unit_test(test_settled_windows_match_brute_force),
        cmocka_unit_test(test_backward_paging_misses_none),
        cmocka_unit_test(test_threads_share_caches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
