/* The generated data set of a report the hand-made model does not cover (see
 * sbx_generic.h and sandbox/DATA.md "Generated reports"). A pure function of
 * (tenant seed, report, T): document i is created at a jittered time of its slot
 * (max(3, orders_per_day / 40) slots a day), reaches its basis time (paid, consigned, …)
 * a fixed delay later, and changes one to three times afterwards, some changes after the
 * basis time. Rows are rendered from the report's precomputed field plans. */
#include "sbx_generic.h"

#include <stdlib.h>
#include <string.h>

#include "sbx_data_int.h"
#include "sbx_truth.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"

#define G_MAX_CHANGES 3
#define G_DMAX (10 * 86400LL)   /* the last change is at most this long after creation */
#define G_BDMAX (28800LL + 600) /* the basis time is at most this long after creation */
#define G_SNAP_STEP 600         /* snapshot rows: one created every 10 minutes from the origin */
#define G_MAX_DEPTH 4
#define G_MAX_PER_DAY 2000      /* documents a day at most (orders_per_day 80,000 and above) */

/* ---- the model ------------------------------------------------------------------ */

struct gdoc {
    uint64_t h;
    int64_t created;
    int64_t basis;                   /* basis time; -1 for basis modified */
    int64_t ev[1 + G_MAX_CHANGES];   /* creation, then the changes */
    int n_ev;
    int shop;
    int snapshot_period;             /* snapshot rows: seconds between changes */
};

static uint64_t gseed(const struct sbx_gen_report *g, const struct sbx_dataset *ds)
{
    return ds->seed ^ g->salt;
}

uint64_t sbx_gen_per_day(const struct sbx_gen_report *g, const struct sbx_dataset *ds)
{
    uint64_t n = (uint64_t)(ds->orders_per_day > 0 ? ds->orders_per_day : 0) / 40;
    if (g->snapshot)
        return n < 5 ? 5 : n > 200 ? 200 : n;
    return n < 3 ? 3 : n > G_MAX_PER_DAY ? G_MAX_PER_DAY : n;
}

static int64_t slot_width(uint64_t n)
{
    return (int64_t)(86400 / n);
}

int64_t sbx_gen_created(const struct sbx_gen_report *g, const struct sbx_dataset *ds,
                        uint64_t idx)
{
    if (g->snapshot)
        return ds->data_origin + (int64_t)idx * G_SNAP_STEP;
    uint64_t n = sbx_gen_per_day(g, ds);
    int64_t w = slot_width(n);
    uint64_t h = sbx_hash(gseed(g, ds), 0x6e00, idx);
    return ds->data_origin + (int64_t)(idx / n) * 86400 + (int64_t)(idx % n) * w +
           (int64_t)(h % (uint64_t)w);
}

/* The index of the slot holding time t (t >= origin): every document created before t
 * has a lower or equal index. */
static uint64_t slot_of(const struct sbx_gen_report *g, const struct sbx_dataset *ds, int64_t t)
{
    if (t <= ds->data_origin)
        return 0;
    uint64_t n = sbx_gen_per_day(g, ds);
    int64_t w = slot_width(n), off = t - ds->data_origin;
    uint64_t s = (uint64_t)((off % 86400) / w);
    if (s >= n)
        s = n - 1;
    return (uint64_t)(off / 86400) * n + s;
}

static void doc_get(const struct sbx_gen_report *g, const struct sbx_dataset *ds, uint64_t idx,
                    struct gdoc *d)
{
    static const int64_t basis_delays[] = {300, 1200, 3600, 10800, 28800};
    uint64_t h = sbx_hash(gseed(g, ds), 0x6e01, idx);
    memset(d, 0, sizeof(*d));
    d->h = h;
    d->created = sbx_gen_created(g, ds, idx);
    d->shop = (int)((h >> 48) % SBX_N_SHOPS);
    d->ev[0] = d->created;
    if (g->snapshot) {
        d->n_ev = 1;
        d->basis = -1;
        d->snapshot_period = (int)((3 + (h >> 8) % 23) * 86400 + (h >> 16) % 3600);
        return;
    }
    if (g->basis == SBX_GB_MODIFIED)
        d->basis = -1;
    else if (g->basis == SBX_GB_CREATED)
        d->basis = d->created;
    else
        d->basis = d->created + basis_delays[h % 5] + (int64_t)((h >> 8) % 600);
    int n_changes = 1 + (int)((h >> 20) % 3);
    int64_t m = 120 + (int64_t)((h >> 24) % 2880); /* 2–50 minutes */
    d->ev[1] = d->created + m;
    if (n_changes >= 2) {
        m += 21600 + (int64_t)((h >> 32) % 237600); /* 6 h – 3 d later */
        d->ev[2] = d->created + m;
    }
    if (n_changes >= 3) {
        m += 86400 + (int64_t)((h >> 40) % 432000); /* 1 – 6 d later */
        d->ev[3] = d->created + m;
    }
    d->n_ev = 1 + n_changes;
}

/* The change time as of t (-1 when not created yet) and the version (events so far). */
static int64_t doc_change(const struct gdoc *d, int64_t t, int *version)
{
    if (t < d->created) {
        *version = 0;
        return -1;
    }
    if (d->snapshot_period > 0) {
        int64_t k = (t - d->created) / d->snapshot_period;
        *version = (int)(1 + k % 1000000);
        return d->created + k * d->snapshot_period;
    }
    int v = 0;
    int64_t last = -1;
    for (int i = 0; i < d->n_ev; i++) {
        if (d->ev[i] <= t) {
            last = d->ev[i];
            v = i + 1;
        }
    }
    *version = v;
    return last;
}

static int doc_visible(const struct sbx_gen_report *g, const struct gdoc *d, enum sbx_route route)
{
    return !g->exclude_platforms || sbx_route_visible(route, sbx_shops[d->shop].platform_id);
}

int64_t sbx_gen_basis_time(const struct sbx_gen_report *g, const struct sbx_dataset *ds,
                           uint64_t idx, int64_t as_of)
{
    struct gdoc d;
    doc_get(g, ds, idx, &d);
    int v;
    return d.basis >= 0 ? d.basis : doc_change(&d, as_of, &v);
}

/* ---- selection ------------------------------------------------------------------- */

struct ghit {
    int64_t t;
    uint64_t idx;
    int64_t modified;
};

static int ghit_cmp(const void *a, const void *b)
{
    const struct ghit *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

wdts_err_t sbx_gen_select(const struct sbx_gen_report *g, const struct sbx_dataset *ds,
                          enum sbx_route route, int64_t start, int64_t end, int64_t as_of,
                          struct sbx_result *out)
{
    out->hits = NULL;
    out->n = 0;
    if (as_of < 0 || as_of > SBX_MAX_TIME || ds->data_origin < 0 ||
        ds->data_origin > SBX_MAX_TIME || ds->orders_per_day < 0 ||
        ds->orders_per_day > SBX_MAX_ORDERS_PER_DAY)
        return WDTS_ERR_INVAL;
    if (as_of < ds->data_origin)
        return WDTS_OK;
    uint64_t lo, hi; /* candidate indexes [lo, hi) */
    if (g->snapshot) {
        lo = 0;
        hi = (uint64_t)((as_of - ds->data_origin) / G_SNAP_STEP) + 1;
        uint64_t n = sbx_gen_per_day(g, ds);
        if (hi > n)
            hi = n;
        start = INT64_MIN;
        end = INT64_MAX;
    } else {
        int64_t s = start < ds->data_origin ? ds->data_origin : start;
        int64_t e = end > as_of ? as_of + 1 : end; /* nothing has a basis time after as_of */
        if (e <= s)
            return WDTS_OK;
        int64_t reach = g->basis == SBX_GB_MODIFIED ? G_DMAX : G_BDMAX;
        lo = slot_of(g, ds, s - reach);
        hi = slot_of(g, ds, e - 1) + 1;
    }
    struct ghit *hits = NULL;
    size_t n = 0, cap = 0;
    for (uint64_t i = lo; i < hi; i++) {
        struct gdoc d;
        doc_get(g, ds, i, &d);
        if (d.created > as_of || !doc_visible(g, &d, route))
            continue;
        int v;
        int64_t mod = doc_change(&d, as_of, &v);
        int64_t t = d.basis >= 0 ? d.basis : mod;
        if (t > as_of || t < start || t >= end)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            hits = wdts_xrealloc(hits, cap * sizeof(*hits));
        }
        hits[n++] = (struct ghit){t, i, mod};
    }
    if (n > 1)
        qsort(hits, n, sizeof(*hits), ghit_cmp);
    if (n > 0) {
        out->hits = wdts_xmalloc(n * sizeof(*out->hits));
        for (size_t i = 0; i < n; i++)
            out->hits[i] = (struct sbx_hit){hits[i].idx, hits[i].modified};
    }
    out->n = n;
    free(hits);
    return WDTS_OK;
}

/* ---- rendering --------------------------------------------------------------------- */

/* A Beijing datetime, formatted once per time and render. */
struct bjtime {
    int64_t t;
    char text[WDTS_BJTIME_LEN];
};

struct gctx {
    const struct sbx_gen_report *g;
    uint64_t seed;
    enum sbx_route route;
    uint64_t idx;
    int64_t as_of;
    enum sbx_timefmt fmt;
    struct gdoc d;
    int64_t change;
    int version;
    struct wdts_buf *b;
    struct bjtime created_bj, change_bj, basis_bj;
};

/* v in decimal, at least width digits (zero-padded): the renderer's one number writer. */
static void put_u64(struct wdts_buf *b, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 || n < width);
    wdts_buf_append(b, tmp + sizeof(tmp) - n, (size_t)n);
}

static void put_lit(struct wdts_buf *b, const char *s, size_t n)
{
    wdts_buf_append(b, s, n);
}
#define PUT(b, lit) put_lit(b, lit, sizeof(lit) - 1)

/* The number of a key part: unique per document (row keys) or per nested row. */
static uint64_t pk_number(const struct sbx_gen_report *g, uint64_t idx)
{
    return (1 + g->salt % 89) * 1000000000ULL + idx;
}

/* "stockin_no" → "SN": the initials of a string key's name. */
static void key_prefix(struct wdts_buf *b, const char *name)
{
    char p[8];
    size_t n = 0;
    for (const char *s = name; *s && n < sizeof(p) - 1; s++)
        if ((s == name || s[-1] == '_') && *s >= 'a' && *s <= 'z')
            p[n++] = (char)(*s - 'a' + 'A');
    p[n] = '\0';
    wdts_buf_append_str(b, n ? p : "K");
}

static void put_key(struct wdts_buf *b, const struct sbx_gfield *f, uint64_t num)
{
    if (f->form == SBX_GF_INT) {
        put_u64(b, num, 1);
    } else if (f->form == SBX_GF_BOOL) {
        wdts_buf_append_str(b, num & 1 ? "true" : "false");
    } else if (f->form == SBX_GF_DIGITS || f->form == SBX_GF_NUMSTR) {
        PUT(b, "\"");
        put_u64(b, num, 1);
        PUT(b, "\"");
    } else {
        PUT(b, "\"");
        key_prefix(b, f->name);
        put_u64(b, num, 12);
        PUT(b, "\"");
    }
}

static void put_time(struct wdts_buf *b, enum sbx_gform form, int64_t t, struct bjtime *cache)
{
    switch (form) {
    case SBX_GF_EPOCH_MS:
        if (t < 0)
            PUT(b, "null");
        else
            put_u64(b, (uint64_t)t * 1000, 1);
        return;
    case SBX_GF_EPOCH_MS_STR:
        if (t < 0) {
            PUT(b, "\"\"");
        } else {
            PUT(b, "\"");
            put_u64(b, (uint64_t)t * 1000, 1);
            PUT(b, "\"");
        }
        return;
    default:
        break;
    }
    if (t < 0) {
        if (form == SBX_GF_DATE)
            PUT(b, "\"0000-00-00\"");
        else
            PUT(b, "\"0000-00-00 00:00:00\"");
        return;
    }
    if (cache->t != t) {
        wdts_time_format_beijing(t, cache->text);
        cache->t = t;
    }
    PUT(b, "\"");
    put_lit(b, cache->text, form == SBX_GF_DATE ? 10 : 19);
    PUT(b, "\"");
}

/* The platform's own ciphertext of a private value, as the hand-made model writes it. */
static void put_cipher(struct wdts_buf *b, uint64_t h)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[32];
    size_t o = 0;
    out[o++] = '~';
    for (int i = 0; i < 22; i++)
        out[o++] = b64[sbx_hash(h, 0x702, (uint64_t)i) & 63];
    out[o++] = '=';
    out[o++] = '=';
    out[o] = '\0';
    PUT(b, "\"");
    put_lit(b, out, o);
    PUT(b, "~1~\"");
}

static void put_plain(struct wdts_buf *b, const struct sbx_gfield *f, uint64_t v)
{
    switch (f->form) {
    case SBX_GF_INT:
        put_u64(b, f->is_id ? 1 + v % 100000 : v % 100, 1);
        break;
    case SBX_GF_REAL:
        put_u64(b, v % 100000, 1);
        PUT(b, ".");
        put_u64(b, (v >> 20) % 100, 2);
        break;
    case SBX_GF_NUMSTR:
        PUT(b, "\"");
        put_u64(b, v % 100000, 1);
        PUT(b, ".");
        put_u64(b, (v >> 20) % 100, 2);
        PUT(b, "00\"");
        break;
    case SBX_GF_DIGITS:
        PUT(b, "\"");
        put_u64(b, 10000 + v % 90000, 1);
        PUT(b, "\"");
        break;
    case SBX_GF_BOOL:
        wdts_buf_append_str(b, (v >> 7) & 1 ? "true" : "false");
        break;
    case SBX_GF_STRING:
        wdts_buf_append_str(b, f->text_json);
        put_u64(b, v % 10000, 1);
        PUT(b, "\"");
        break;
    default: /* SBX_GF_NULL, and a time form without a time role (not planned) */
        wdts_buf_append_str(b, "null");
        break;
    }
}

static void render_list(struct gctx *c, const struct sbx_glist *l, uint64_t path, int depth);

static void render_field(struct gctx *c, const struct sbx_gfield *f, uint64_t path, int depth)
{
    struct wdts_buf *b = c->b;
    const struct sbx_shop_def *shop = &sbx_shops[c->d.shop];
    wdts_buf_append(b, f->key_json, f->key_len);
    switch (f->role) {
    case SBX_GR_PK:
    case SBX_GR_ROW_PK:
        put_key(b, f, pk_number(c->g, c->idx));
        return;
    case SBX_GR_LIST_PK:
        put_key(b, f, path + 1);
        return;
    case SBX_GR_CHANGE: {
        enum sbx_gform form = f->form;
        if (c->fmt == SBX_TIMEFMT_DATETIME)
            form = SBX_GF_DATETIME;
        else if (c->fmt == SBX_TIMEFMT_EPOCH_MS)
            form = SBX_GF_EPOCH_MS;
        put_time(b, form, c->change, &c->change_bj);
        return;
    }
    case SBX_GR_CREATED:
    case SBX_GR_TIME:
        put_time(b, f->form, c->d.created, &c->created_bj);
        return;
    case SBX_GR_BASIS:
        put_time(b, f->form, c->d.basis >= 0 && c->d.basis <= c->as_of ? c->d.basis : -1,
                 &c->basis_bj);
        return;
    case SBX_GR_PII: {
        uint64_t h = sbx_hash(c->seed ^ f->salt, c->idx, 0x6e10);
        if (c->route == SBX_ROUTE_QIMEN && f->qimen_blank)
            wdts_buf_append_str(b, "\"\"");
        else if (shop->platform_id == 0 || shop->platform_id == 127)
            put_plain(b, f, h);
        else if (shop->platform_id == 1 || shop->platform_id == 3)
            put_cipher(b, h);
        else
            wdts_buf_append_str(b, "\"\"");
        return;
    }
    case SBX_GR_SHOP_NO:
    case SBX_GR_SHOP_NAME:
        PUT(b, "\"");
        wdts_buf_append_str(b, f->role == SBX_GR_SHOP_NO ? shop->shop_no : shop->name);
        PUT(b, "\"");
        return;
    case SBX_GR_SHOP_ID:
        wdts_buf_printf(b, f->form == SBX_GF_INT ? "%d" : "\"%d\"", c->d.shop + 1);
        return;
    case SBX_GR_PLATFORM:
        wdts_buf_printf(b, f->form == SBX_GF_INT ? "%d" : "\"%d\"", shop->platform_id);
        return;
    case SBX_GR_PLAIN:
        break;
    }
    if (f->form == SBX_GF_NESTED) {
        render_list(c, f->nested, path, depth + 1);
        return;
    }
    put_plain(b, f, sbx_hash(c->seed ^ f->salt, path, (uint64_t)c->version));
}

static void render_fields(struct gctx *c, const struct sbx_glist *l, uint64_t path, int depth)
{
    wdts_buf_append_str(c->b, "{");
    for (size_t i = 0; i < l->n_fields; i++) {
        if (i > 0)
            wdts_buf_append_str(c->b, ",");
        render_field(c, &l->fields[i], path, depth);
    }
    wdts_buf_append_str(c->b, "}");
}

/* A nested list: 1–3 rows (an object: one), keyed by path * 4 + row. */
static void render_list(struct gctx *c, const struct sbx_glist *l, uint64_t path, int depth)
{
    if (l->is_object) {
        if (depth > G_MAX_DEPTH || l->n_fields == 0)
            wdts_buf_append_str(c->b, "{}");
        else
            render_fields(c, l, path * 4, depth);
        return;
    }
    wdts_buf_append_str(c->b, "[");
    uint64_t rows = depth > G_MAX_DEPTH || l->n_fields == 0
                        ? 0
                        : 1 + sbx_hash(c->seed, path, 0x6e20 + (uint64_t)l->ordinal) % 3;
    for (uint64_t r = 0; r < rows; r++) {
        if (r > 0)
            wdts_buf_append_str(c->b, ",");
        render_fields(c, l, path * 4 + r, depth);
    }
    wdts_buf_append_str(c->b, "]");
}

void sbx_gen_render(const struct sbx_gen_report *g, const struct sbx_dataset *ds,
                    enum sbx_route route, uint64_t idx, int64_t as_of, enum sbx_timefmt fmt,
                    struct wdts_buf *buf)
{
    struct gctx c;
    memset(&c, 0, sizeof(c));
    c.g = g;
    c.seed = gseed(g, ds);
    c.route = route;
    c.idx = idx;
    c.as_of = as_of;
    c.fmt = fmt;
    c.b = buf;
    doc_get(g, ds, idx, &c.d);
    c.change = doc_change(&c.d, as_of, &c.version);
    c.created_bj.t = c.change_bj.t = c.basis_bj.t = -1;
    if (c.change < 0) {
        wdts_buf_append_str(buf, "{}"); /* not created yet at as_of */
        return;
    }
    render_fields(&c, &g->row, idx, 0);
}

void sbx_gen_pk(const struct sbx_gen_report *g, uint64_t idx, struct wdts_buf *buf)
{
    for (int k = 0; k < g->n_pk; k++) {
        if (k > 0)
            wdts_buf_append_str(buf, ":");
        uint64_t num = pk_number(g, idx);
        const struct sbx_gfield *f = NULL;
        for (size_t i = 0; i < g->row.n_fields; i++)
            if (g->row.fields[i].role == SBX_GR_PK && g->row.fields[i].pk_index == k)
                f = &g->row.fields[i];
        if (f != NULL && f->form == SBX_GF_BOOL) {
            wdts_buf_append_str(buf, num & 1 ? "true" : "false");
            continue;
        }
        if (f != NULL && f->form == SBX_GF_STRING)
            key_prefix(buf, f->name);
        put_u64(buf, num, f != NULL && f->form == SBX_GF_STRING ? 12 : 1);
    }
}

wdts_err_t sbx_gen_truth_write(const struct sbx_gen_report *g, const struct sbx_dataset *ds,
                               enum sbx_route route, int64_t as_of, int64_t since,
                               int64_t before, FILE *out)
{
    struct sbx_result res = {NULL, 0};
    struct wdts_buf line, pk;
    wdts_buf_init(&line);
    wdts_buf_init(&pk);
    wdts_err_t err = sbx_gen_select(g, ds, route, since, before, as_of, &res);
    for (size_t i = 0; err == WDTS_OK && i < res.n; i++) {
        int64_t m = res.hits[i].modified;
        if (g->snapshot && (m < since || m >= before))
            continue; /* a snapshot is the whole list; the truth is by change time */
        wdts_buf_reset(&pk);
        sbx_gen_pk(g, res.hits[i].id, &pk);
        int64_t basis = !g->snapshot && g->basis != SBX_GB_MODIFIED
                            ? sbx_gen_basis_time(g, ds, res.hits[i].id, as_of)
                            : -1;
        err = sbx_truth_line(out, wdts_buf_str(&pk), m, basis, &line);
    }
    if (err == WDTS_OK && fflush(out) != 0)
        err = WDTS_ERR_IO;
    wdts_buf_deinit(&line);
    wdts_buf_deinit(&pk);
    sbx_result_deinit(&res);
    return err;
}
