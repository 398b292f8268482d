/* TEMPORARY stand-in for the data module (sbx_data.h), only so that the gateway
 * builds and its tests run before the real data set lands; the real sbx_data.c
 * replaces this file whole. It has a lifecycle (modified moves as time passes)
 * but no realistic fields, no platforms and no privacy rules. */
#include "sbx_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"

static const char *const names[SBX_E__COUNT] = {
    "trades", "stockouts", "refunds", "refund_stockins", "purchase_orders", "purchase_stockins",
    "stock",  "stock_changes", "goods", "suites", "raw_trades", "shops", "warehouses", "logistics",
};

static const char *const pk_fields[SBX_E__COUNT] = {
    "trade_id", "stockout_id", "refund_id", "stockin_id", "purchase_id", "stockin_id", "rec_id",
    "rec_id",   "goods_id",    "suite_id",  "rec_id",     "shop_id",     "warehouse_id", "logistics_id",
};

const char *sbx_entity_name(enum sbx_entity e)
{
    return (unsigned)e < SBX_E__COUNT ? names[e] : "unknown";
}

wdts_err_t sbx_entity_parse(const char *name, enum sbx_entity *out)
{
    for (int i = 0; i < SBX_E__COUNT; i++) {
        if (strcmp(names[i], name) == 0) {
            *out = (enum sbx_entity)i;
            return WDTS_OK;
        }
    }
    return WDTS_ERR_INVAL;
}

static int is_snapshot(enum sbx_entity e)
{
    return e == SBX_E_SHOP || e == SBX_E_WAREHOUSE || e == SBX_E_LOGISTICS;
}

/* Seconds between two records' creation. */
static int64_t interval(const struct sbx_dataset *ds, enum sbx_entity e)
{
    int64_t per_day = ds->orders_per_day > 0 ? ds->orders_per_day : 1;
    if (e == SBX_E_REFUND || e == SBX_E_REFUND_STOCKIN)
        per_day = per_day / 10 + 1;
    else if (e != SBX_E_TRADE && e != SBX_E_STOCKOUT && e != SBX_E_RAW_TRADE)
        per_day = per_day / 4 + 1;
    int64_t iv = 86400 / per_day;
    return iv > 0 ? iv : 1;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Offsets of a record's versions after its creation (the last one is final). */
static const int64_t steps[] = {0, 600, 3600, 4 * 3600, 86400, 3 * 86400};
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))
#define LIFETIME (3 * 86400 + 3600)

static int64_t created_of(const struct sbx_dataset *ds, enum sbx_entity e, uint64_t id)
{
    if (is_snapshot(e))
        return ds->data_origin;
    return ds->data_origin + (int64_t)id * interval(ds, e);
}

static int64_t modified_of(const struct sbx_dataset *ds, enum sbx_entity e, uint64_t id, int64_t t)
{
    int64_t c = created_of(ds, e, id);
    int64_t jitter = (int64_t)(mix(ds->seed ^ (id * 31 + (uint64_t)e)) % 300);
    int64_t m = c;
    for (size_t i = 1; i < NSTEPS; i++)
        if (c + steps[i] + jitter <= t)
            m = c + steps[i] + jitter;
    return m;
}

static int64_t time_of(const struct sbx_dataset *ds, enum sbx_entity e, uint64_t id,
                       enum sbx_timekind k, int64_t t)
{
    int64_t c = created_of(ds, e, id);
    switch (k) {
    case SBX_TIME_CREATED:
        return c;
    case SBX_TIME_PAID:
        return c + 600 <= t ? c + 600 : -1;
    case SBX_TIME_CONSIGNED:
        return c + 4 * 3600 <= t ? c + 4 * 3600 : -1;
    case SBX_TIME_MODIFIED:
    default:
        return modified_of(ds, e, id, t);
    }
}

static int hit_cmp(const void *a, const void *b)
{
    const struct sbx_hit *x = a, *y = b;
    if (x->modified != y->modified)
        return x->modified < y->modified ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

wdts_err_t sbx_data_select(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                           enum sbx_timekind timekind, int64_t start, int64_t end, int64_t as_of,
                           struct sbx_result *out)
{
    (void)route;
    memset(out, 0, sizeof(*out));
    size_t cap = 64;
    out->hits = wdts_xmalloc(cap * sizeof(*out->hits));
    if (is_snapshot(e)) {
        for (uint64_t id = 1; id <= 5; id++) {
            out->hits[out->n].id = id;
            out->hits[out->n].modified = ds->data_origin;
            out->n++;
        }
        return WDTS_OK;
    }
    int64_t iv = interval(ds, e);
    int64_t lo = start - LIFETIME, hi = end < as_of + 1 ? end : as_of + 1;
    int64_t first = (lo - ds->data_origin) / iv, last = (hi - ds->data_origin) / iv + 1;
    if (first < 1)
        first = 1;
    for (int64_t id = first; id <= last; id++) {
        if (created_of(ds, e, (uint64_t)id) > as_of)
            break;
        int64_t tk = time_of(ds, e, (uint64_t)id, timekind, as_of);
        if (tk < start || tk >= end)
            continue;
        if (out->n == cap) {
            cap *= 2;
            out->hits = wdts_xrealloc(out->hits, cap * sizeof(*out->hits));
        }
        /* Sorting on the selected time gives the API's paging order. */
        out->hits[out->n].id = (uint64_t)id;
        out->hits[out->n].modified = tk;
        out->n++;
    }
    qsort(out->hits, out->n, sizeof(*out->hits), hit_cmp);
    for (size_t i = 0; i < out->n; i++)
        out->hits[i].modified = modified_of(ds, e, out->hits[i].id, as_of);
    return WDTS_OK;
}

void sbx_result_deinit(struct sbx_result *res)
{
    if (res == NULL)
        return;
    free(res->hits);
    res->hits = NULL;
    res->n = 0;
}

void sbx_data_pk(enum sbx_entity e, uint64_t id, struct wdts_buf *buf)
{
    (void)e;
    wdts_buf_printf(buf, "%llu", (unsigned long long)id);
}

void sbx_data_render(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                     uint64_t id, int64_t as_of, struct wdts_buf *buf)
{
    char mod[WDTS_BJTIME_LEN], cre[WDTS_BJTIME_LEN];
    wdts_time_format_beijing(modified_of(ds, e, id, as_of), mod);
    wdts_time_format_beijing(created_of(ds, e, id), cre);
    wdts_buf_printf(buf, "{\"%s\":%llu,\"modified\":\"%s\",\"created\":\"%s\",\"route\":\"%s\"}",
                    pk_fields[e], (unsigned long long)id, mod, cre,
                    route == SBX_ROUTE_QIMEN ? "qimen" : "wdt");
}

wdts_err_t sbx_truth_write(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                           int64_t as_of, int64_t since, int64_t before, FILE *out);
wdts_err_t sbx_truth_write(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                           int64_t as_of, int64_t since, int64_t before, FILE *out)
{
    struct sbx_result res;
    wdts_err_t err = sbx_data_select(ds, e, route, SBX_TIME_MODIFIED, since, before, as_of, &res);
    if (err != WDTS_OK)
        return err;
    struct wdts_buf pk;
    wdts_buf_init(&pk);
    for (size_t i = 0; i < res.n; i++) {
        char mod[WDTS_RFC3339_LEN];
        wdts_buf_reset(&pk);
        sbx_data_pk(e, res.hits[i].id, &pk);
        wdts_time_format_rfc3339(res.hits[i].modified, mod);
        fprintf(out, "{\"pk\":\"%s\",\"modified\":\"%s\"}\n", wdts_buf_str(&pk), mod);
    }
    wdts_buf_deinit(&pk);
    sbx_result_deinit(&res);
    return WDTS_OK;
}
