/* The two gateways' checks and answers (see sbx_gateway.h), in the order the real
 * flagship gateway makes them: sid, version, timestamp, signature, method,
 * permission, limits, body, pager, window; and for Qimen the TOP checks first
 * (app key, timestamp, signature, target, method), then the WDT ones inside
 * `response`. Messages are the gateway's own (docs/API.md §4.2, §6.3); where the
 * reference gives none, the message says plainly what is wrong. */
#include "sbx_gateway.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sbx_clock.h"
#include "sbx_conform_int.h"
#include "sbx_fault.h"
#include "sbx_generic.h"
#include "sbx_method.h"
#include "sbx_tenant.h"
#include "wdts/mem.h"
#include "wdts/sign.h"
#include "wdts/str.h"
#include "wdts/time.h"

#define SBX_WDT_SKEW_S 120  /* flagship timestamp tolerance (docs/API.md §2) */
#define SBX_TOP_SKEW_S 600  /* TOP timestamp tolerance (docs/API.md §6) */
#define SBX_QIMEN_TARGET "21363512"
#define SBX_MAX_PAGE_SIZE 100000

#define MSG_RATE "超过每分钟最大调用频率限制，请稍后重试"
#define MSG_CONC "超过每分钟最大并发次数限制，请稍后重试"

/* ---- key/value lists ---------------------------------------------------- */

static char *urldecode(const char *s, size_t len)
{
    char *out = wdts_xmalloc(len + 1);
    wdts_pct_decode(s, len, out, len + 1, WDTS_PCT_PLUS_SPACE | WDTS_PCT_LENIENT);
    return out;
}

void sbx_kv_parse(struct sbx_kv *kv, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(s + i, '=', j - i);
            size_t klen = eq ? (size_t)(eq - (s + i)) : j - i;
            kv->v = wdts_xrealloc(kv->v, (kv->n + 1) * sizeof(*kv->v));
            kv->v[kv->n].key = urldecode(s + i, klen);
            kv->v[kv->n].val = eq ? urldecode(eq + 1, (size_t)(s + j - eq - 1)) : wdts_xstrdup("");
            kv->n++;
        }
        i = j + 1;
    }
}

const char *sbx_kv_get(const struct sbx_kv *kv, const char *key)
{
    for (size_t i = kv->n; i > 0; i--)
        if (strcmp(kv->v[i - 1].key, key) == 0)
            return kv->v[i - 1].val;
    return NULL;
}

void sbx_kv_deinit(struct sbx_kv *kv)
{
    if (kv == NULL)
        return;
    for (size_t i = 0; i < kv->n; i++) {
        free((char *)kv->v[i].key);
        free((char *)kv->v[i].val);
    }
    free(kv->v);
    kv->v = NULL;
    kv->n = 0;
}

/* ---- life cycle ---------------------------------------------------------- */

wdts_err_t sbx_bounds_parse(const char *name, enum sbx_bounds *out)
{
    static const char *const names[] = {"half", "closed", "open"};
    int i = wdts_word_index(names, 3, name);
    if (i < 0)
        return WDTS_ERR_INVAL;
    *out = (enum sbx_bounds)i;
    return WDTS_OK;
}

void sbx_gateway_init(struct sbx_gateway *gw, const struct sbx_tenants *tenants,
                      const struct sbx_clock *clock, struct sbx_faults *faults)
{
    memset(gw, 0, sizeof(*gw));
    gw->tenants = tenants;
    gw->clock = clock;
    gw->faults = faults;
    sbx_limits_init(&gw->limits, tenants);
    sbx_metrics_init(&gw->metrics);
    gw->start_mono_ms = wdts_time_mono_ms();
}

void sbx_gateway_deinit(struct sbx_gateway *gw)
{
    if (gw == NULL)
        return;
    sbx_limits_deinit(&gw->limits);
    sbx_metrics_deinit(&gw->metrics);
}

void sbx_answer_init(struct sbx_answer *ans)
{
    memset(ans, 0, sizeof(*ans));
    ans->http_status = 200;
    ans->content_type = "application/json; charset=utf-8";
    wdts_buf_init(&ans->body);
    ans->slot = -1;
}

void sbx_answer_deinit(struct sbx_answer *ans)
{
    if (ans == NULL)
        return;
    wdts_buf_deinit(&ans->body);
}

void sbx_gateway_done(struct sbx_gateway *gw, struct sbx_answer *ans)
{
    if (ans->slot >= 0) {
        sbx_limits_release(&gw->limits, (size_t)ans->slot);
        ans->slot = -1;
    }
}

/* ---- one request ----------------------------------------------------------- */

/* What a request resolved to while it is checked. */
struct call {
    struct sbx_gateway *gw;
    const struct sbx_request *req;
    struct sbx_answer *ans;
    enum sbx_route route;
    const struct sbx_tenant *tenant;
    long tenant_idx;
    const struct sbx_method *method;   /* a hand-made method, or NULL and: */
    const struct sbx_gen_report *gen; /* a generated report */
    int gen_history;                  /* called by its history method: nothing archived */
    json_t *params; /* owned; the business parameters object */
    int has_pager;
    long long page_no; /* 0-based on both routes */
    long long page_size;
    int calc_total;
    int64_t now;    /* the sandbox (data) clock */
    int64_t ts_now; /* the clock request timestamps are checked against */
    char status[24]; /* for the calls counter */
};

static void body_open(struct call *c)
{
    if (c->route == SBX_ROUTE_QIMEN)
        wdts_buf_append_str(&c->ans->body, "{\"response\":");
}

static void body_close(struct call *c)
{
    if (c->route == SBX_ROUTE_QIMEN)
        wdts_buf_append_str(&c->ans->body, "}");
}

/* A WDT error: {"status":S,"message":M}, inside "response" on the Qimen route. */
static void wdt_error(struct call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void wdt_error(struct call *c, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    wdts_buf_reset(&c->ans->body);
    body_open(c);
    wdts_buf_printf(&c->ans->body, "{\"status\":%d,\"message\":\"", status);
    wdts_buf_append_json_str(&c->ans->body, msg);
    wdts_buf_append_str(&c->ans->body, "\"}");
    body_close(c);
    snprintf(c->status, sizeof(c->status), "%d", status);
}

/* A TOP platform error, in the TOP form. */
static void top_error(struct call *c, int code, const char *msg, const char *sub_msg)
{
    static uint64_t counter;
    uint64_t n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    wdts_buf_reset(&c->ans->body);
    wdts_buf_printf(&c->ans->body, "{\"error_response\":{\"code\":%d,\"msg\":\"%s\"", code, msg);
    if (sub_msg) {
        wdts_buf_append_str(&c->ans->body, ",\"sub_msg\":\"");
        wdts_buf_append_json_str(&c->ans->body, sub_msg);
        wdts_buf_append_str(&c->ans->body, "\"");
    }
    wdts_buf_printf(&c->ans->body, ",\"request_id\":\"sbx%llx\"}}", (unsigned long long)n);
    snprintf(c->status, sizeof(c->status), "top:%d", code);
}

static void count_limit(struct call *c, const char *limit)
{
    char labels[256];
    snprintf(labels, sizeof(labels), "route=\"%s\",sid=\"%s\",limit=\"%s\"",
             c->route == SBX_ROUTE_QIMEN ? "qimen" : "wdt", c->tenant ? c->tenant->sid : "unknown",
             limit);
    sbx_metrics_inc(&c->gw->metrics, SBX_M_LIMITED, labels);
}

static int64_t skew(int64_t a, int64_t b)
{
    return a > b ? a - b : b - a;
}

/* Java's Integer.parseInt, whose failure text the gateway echoes. */
static int parse_java_int(const char *s, long long *out)
{
    return s != NULL && wdts_parse_int(s, -2147483648LL, 2147483647LL, out) == WDTS_OK ? 0 : -1;
}

/* The text of a JSON value as the gateway would echo it in Unparseable date. */
static void value_text(json_t *v, char *out, size_t size)
{
    if (json_is_string(v)) {
        snprintf(out, size, "%s", json_string_value(v));
        return;
    }
    char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(out, size, "%s", t ? t : "");
    free(t);
}

/* Reads an integer parameter given as a JSON number or a numeric string. */
static int json_int(json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_string(v) && wdts_parse_int(json_string_value(v), -2147483648LL, 2147483647LL,
                                            out) == WDTS_OK)
        return 0;
    return -1;
}

/* Whether a hide_deleted / hide_delete value asks for everything: 0, "0" or false. */
static int shows_hidden(json_t *v)
{
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_false(v))
        return 1;
    if (json_is_integer(v))
        return json_integer_value(v) == 0;
    if (json_is_string(v))
        return strcmp(json_string_value(v), "0") == 0 ||
               strcasecmp(json_string_value(v), "false") == 0;
    return 0;
}

/* The window's two times from the params, and the width check: 0, or -1 once answered. */
static int read_window(struct call *c, const char *start_param, const char *end_param,
                       int64_t max_span, const char *span_text, int64_t *start, int64_t *end)
{
    json_t *sv = json_object_get(c->params, start_param);
    json_t *ev = json_object_get(c->params, end_param);
    if (sv == NULL || ev == NULL || json_is_null(sv) || json_is_null(ev) ||
        (json_is_string(sv) && json_string_length(sv) == 0) ||
        (json_is_string(ev) && json_string_length(ev) == 0)) {
        wdt_error(c, 100, "参数中必须包含起止时间");
        return -1;
    }
    char text[128];
    if (!json_is_string(sv) || wdts_time_parse_beijing(json_string_value(sv), start) != WDTS_OK) {
        value_text(sv, text, sizeof(text));
        wdt_error(c, 100, "Unparseable date: %s", text);
        return -1;
    }
    if (!json_is_string(ev) || wdts_time_parse_beijing(json_string_value(ev), end) != WDTS_OK) {
        value_text(ev, text, sizeof(text));
        wdt_error(c, 100, "Unparseable date: %s", text);
        return -1;
    }
    if (max_span > 0 && *end - *start > max_span) {
        wdt_error(c, 100, "您的查询时间过宽,查询时间不能大于%s", span_text);
        return -1;
    }
    return 0;
}

/* Times are whole seconds, so every bounds mode is a half-open window [start, end). */
static void apply_bounds(struct call *c, int64_t *start, int64_t *end)
{
    if (c->gw->bounds == SBX_BOUNDS_CLOSED && *end < INT64_MAX)
        (*end)++;
    else if (c->gw->bounds == SBX_BOUNDS_OPEN)
        (*start)++;
}

/* A selector parameter (time_type, status_type): its value, or def when absent (an error
 * when required). @returns 0, or -1 once answered. */
static int read_selector(struct call *c, const char *param, int required, long long def,
                         long long *out)
{
    json_t *kv = json_object_get(c->params, param);
    *out = def;
    if (kv == NULL || json_is_null(kv)) {
        if (required) {
            wdt_error(c, 100, "参数错误: %s 为必传参数", param);
            return -1;
        }
    } else if (json_int(kv, out) != 0) {
        char text[64];
        value_text(kv, text, sizeof(text));
        wdt_error(c, 1, "For input string: \"%s\"", text);
        return -1;
    }
    return 0;
}

/* The rows [from, to) a page of n rows shows: every row without a pager. */
static void page_range(const struct call *c, size_t n, size_t *from, size_t *to)
{
    *from = 0;
    *to = n;
    if (c->has_pager) {
        unsigned long long f = (unsigned long long)c->page_no * (unsigned long long)c->page_size;
        *from = f < n ? (size_t)f : n;
        *to = *from + (size_t)c->page_size < n ? *from + (size_t)c->page_size : n;
    }
}

/* The answer up to its list's '[': total_key (n) where the route gives it. */
static void page_open(struct call *c, size_t n, const char *list_key, const char *total_key)
{
    struct wdts_buf *b = &c->ans->body;
    body_open(c);
    wdts_buf_append_str(b, "{\"status\":0,\"data\":{");
    /* Qimen has no calc_total; no page says whether its answers carry total_count, so
     * --qimen-total decides (present by default). */
    if (total_key != NULL && (c->route == SBX_ROUTE_QIMEN ? !c->gw->qimen_total_absent
                                                          : c->calc_total || !c->has_pager))
        wdts_buf_printf(b, "\"%s\":%zu,", total_key, n);
    wdts_buf_printf(b, "\"%s\":[", list_key);
}

static void page_close(struct call *c)
{
    wdts_buf_append_str(&c->ans->body, "]}}");
    body_close(c);
    snprintf(c->status, sizeof(c->status), "0");
}

/* The method names a generated report was called by (its own, or its history method's). */
static const char *call_direct_name(const struct call *c)
{
    return c->gen_history ? c->gen->rep->history_method : c->gen->rep->method;
}

static const char *call_qimen_name(const struct call *c)
{
    return c->gen_history ? c->gen->rep->history_qimen_method : c->gen->rep->qimen_method;
}

/* A report the generator serves (sbx_generic.h): the same checks and answer as a
 * hand-made method, from the report's plan. */
static void serve_generic(struct call *c, const char *name)
{
    const struct sbx_gen_report *g = c->gen;
    if (g->paging_required && !c->has_pager) {
        wdt_error(c, 100, "此方法仅支持分页查询：%s", name);
        return;
    }
    if (c->has_pager && g->max_page_size > 0 && c->page_size > g->max_page_size) {
        wdt_error(c, 100, "参数错误: page_size 不能大于%d", g->max_page_size);
        return;
    }
    int64_t start = 0, end = 0;
    /* the history method takes its own page's window parameters (the catalog's history.time) */
    const char *sp = g->start_param, *ep = g->end_param;
    if (c->gen_history && sp && *g->rep->history_time_start) {
        sp = g->rep->history_time_start;
        ep = g->rep->history_time_end;
    }
    if (sp) {
        if (read_window(c, sp, ep, g->max_span, g->span_text, &start, &end) != 0)
            return;
        apply_bounds(c, &start, &end);
    }
    if (g->kind_param && !c->gen_history) {
        long long v;
        if (read_selector(c, g->kind_param, !g->kind_has_default, g->kind_default, &v) != 0)
            return;
        int ok = 0;
        for (size_t i = 0; i < g->n_kind_values; i++)
            ok |= g->kind_values[i] == v;
        if (!ok) {
            wdt_error(c, 100, "参数错误: %s 不支持取值 %lld", g->kind_param, v);
            return;
        }
    }
    const struct sbx_tenant *t = c->tenant;
    struct sbx_dataset ds = {t->seed, t->orders_per_day, t->data_origin};
    struct sbx_result res = {NULL, 0};
    if (!c->gen_history && sbx_gen_select(g, &ds, c->route, start, end, c->now, &res) != WDTS_OK) {
        wdt_error(c, 99, "其他错误");
        return;
    }
    enum sbx_timefmt fmt = t->time_format >= 0 ? (enum sbx_timefmt)t->time_format : c->gw->timefmt;
    size_t from, to;
    page_range(c, res.n, &from, &to);
    wdts_buf_reset(&c->ans->body);
    page_open(c, res.n, g->list_key, g->total_key);
    for (size_t i = from; i < to; i++) {
        if (i > from)
            wdts_buf_append(&c->ans->body, ",", 1);
        sbx_gen_render(g, &ds, c->route, res.hits[i].id, c->now, fmt, &c->ans->body);
    }
    page_close(c);
    sbx_result_deinit(&res);
}

/* Permission, then the tenant's limits (a slot held until the answer is sent).
 * @returns 0, or -1 after answering an error. */
static int admit(struct call *c, const char *direct)
{
    if (!sbx_tenant_may_call(c->tenant, direct)) {
        wdt_error(c, 100, "权限不足");
        return -1;
    }
    switch (sbx_limits_acquire(&c->gw->limits, (size_t)c->tenant_idx, wdts_time_mono_ms())) {
    case SBX_LIMIT_CONCURRENCY:
        count_limit(c, "concurrency");
        wdt_error(c, 100, MSG_CONC);
        return -1;
    case SBX_LIMIT_RATE:
        count_limit(c, "rate");
        wdt_error(c, 100, MSG_RATE);
        return -1;
    case SBX_LIMIT_OK:
        c->ans->slot = c->tenant_idx;
        break;
    }
    return 0;
}

/* system.Core.now: the sandbox's clock. */
static void serve_now(struct call *c)
{
    wdts_buf_reset(&c->ans->body);
    body_open(c);
    wdts_buf_printf(&c->ans->body, "{\"status\":0,\"data\":%lld}", (long long)c->now);
    body_close(c);
    snprintf(c->status, sizeof(c->status), "0");
}

/* The window of a query (bounded as the gateway reads it) and the narrowing parameter
 * that allows a wider one. @returns 0, or -1 after answering an error. */
static int query_window(struct call *c, const struct sbx_method *m, int64_t *start, int64_t *end,
                        const char **narrow)
{
    if (m->start_param &&
        read_window(c, m->start_param, m->end_param, m->max_span, m->span_text, start, end) != 0)
        return -1;
    if (m->narrow_param) {
        json_t *nv = json_object_get(c->params, m->narrow_param);
        if (json_is_string(nv) && json_string_length(nv) > 0)
            *narrow = json_string_value(nv);
        if (*narrow == NULL && *end - *start > m->narrow_span) {
            wdt_error(c, 100, "您的查询时间过宽,%s", m->narrow_text);
            return -1;
        }
    }
    apply_bounds(c, start, end);
    return 0;
}

/* Which time of a record the window selects on. @returns 0, or -1 after answering an error. */
static int query_timekind(struct call *c, const struct sbx_method *m, enum sbx_timekind *kind)
{
    if (!m->kind_param) {
        *kind = m->choices[0].kind;
        return 0;
    }
    long long v;
    if (read_selector(c, m->kind_param, m->kind_required, m->kind_default, &v) != 0)
        return -1;
    if (sbx_method_timekind(m, (int)v, kind) != 0) {
        wdt_error(c, 100, "参数错误: %s 不支持取值 %lld", m->kind_param, v);
        return -1;
    }
    return 0;
}

/* Drops from res what the query does not show: other specs (narrow), deleted records
 * unless asked for, and the archive's split between a method and its history method. */
static void query_filter(struct call *c, const struct sbx_method *m, const struct sbx_dataset *ds,
                         const char *narrow, struct sbx_result *res)
{
    const struct sbx_tenant *t = c->tenant;
    struct sbx_archive arch = c->gw->archive;
    if (t->archive_horizon >= 0)
        arch.horizon = t->archive_horizon;
    struct sbx_filter filter = {1, narrow, NULL, m->history};
    if (arch.horizon > 0 && sbx_method_entity_has_history(m->entity) &&
        (arch.only == 0 || (arch.only & (1u << m->entity))))
        filter.archive = &arch; /* the parent serves the others, the history method these */
    if (m->hide_param)
        filter.show_deleted = shows_hidden(json_object_get(c->params, m->hide_param));
    if (!filter.show_deleted || filter.spec_no || filter.archive)
        sbx_result_filter(ds, m->entity, c->now, &filter, res);
    if (m->history && filter.archive == NULL)
        res->n = 0; /* nothing is archived */
}

/* The page of res the pager asks for, rendered into the answer's body. */
static void render_page(struct call *c, const struct sbx_method *m, const struct sbx_dataset *ds,
                        const struct sbx_result *res)
{
    const struct sbx_tenant *t = c->tenant;
    enum sbx_timefmt fmt = t->time_format >= 0 ? (enum sbx_timefmt)t->time_format : c->gw->timefmt;
    size_t from, to;
    page_range(c, res->n, &from, &to);
    struct wdts_buf *b = &c->ans->body;
    wdts_buf_reset(b);
    /* Size the body once from the bytes per row seen so far: a 100-row page of trades
     * is ~270 KB, and growing to it by doubling costs a copy of it. */
    static size_t row_bytes[SBX_E__COUNT];
    size_t per_row = __atomic_load_n(&row_bytes[m->entity], __ATOMIC_RELAXED);
    size_t need = (to - from) * per_row + 256;
    if (per_row > 0 && b->cap < need) {
        b->data = wdts_xrealloc(b->data, need);
        if (b->cap == 0)
            b->data[0] = '\0';
        b->cap = need;
    }
    page_open(c, res->n, m->list_key, "total_count");
    /* A history method's rows: the document as its current method renders it, cut to the
     * archive page's fields and forms (sbx_conform_int.h). */
    const json_t *hrow = m->history ? sbx_reports_spec_row(c->gw->reports, m->direct) : NULL;
    const char *keep = fmt == SBX_TIMEFMT_DOC ? NULL
                                              : json_string_value(json_object_get(hrow,
                                                                                  "change_time"));
    struct wdts_buf one;
    wdts_buf_init(&one);
    for (size_t i = from; i < to; i++) {
        if (i > from)
            wdts_buf_append(b, ",", 1);
        if (hrow == NULL) {
            sbx_data_render_fmt(ds, m->entity, c->route, res->hits[i].id, c->now, fmt, b);
            continue;
        }
        wdts_buf_reset(&one);
        sbx_data_render_fmt(ds, m->entity, c->route, res->hits[i].id, c->now, fmt, &one);
        sbx_conform_row(hrow, keep, wdts_buf_str(&one), one.len, b);
    }
    wdts_buf_deinit(&one);
    page_close(c);
    if (to > from) {
        size_t seen = b->len / (to - from) + 64;
        if (seen > per_row)
            __atomic_store_n(&row_bytes[m->entity], seen, __ATOMIC_RELAXED);
    }
}

/* The checks both routes share once the caller is authenticated: permission,
 * limits, pager, window; then the page itself. */
static void serve_query(struct call *c)
{
    const struct sbx_method *m = c->method;
    const char *direct = m ? m->direct : call_direct_name(c);
    const char *name = c->route == SBX_ROUTE_QIMEN ? (m ? m->qimen : call_qimen_name(c)) : direct;

    if (admit(c, direct) != 0)
        return;
    if (m == NULL) {
        serve_generic(c, name);
        return;
    }
    if (!m->is_data) { /* system.Core.now */
        serve_now(c);
        return;
    }
    if (m->paging == SBX_PAGE_REQUIRED && !c->has_pager) {
        wdt_error(c, 100, "此方法仅支持分页查询：%s", name);
        return;
    }
    int64_t start = 0, end = 0;
    const char *narrow = NULL;
    enum sbx_timekind kind = SBX_TIME_MODIFIED;
    if (query_window(c, m, &start, &end, &narrow) != 0 || query_timekind(c, m, &kind) != 0)
        return;

    const struct sbx_tenant *t = c->tenant;
    struct sbx_dataset ds = {t->seed, t->orders_per_day, t->data_origin};
    struct sbx_result res;
    if (sbx_data_select(&ds, m->entity, c->route, kind, start, end, c->now, &res) != WDTS_OK) {
        wdt_error(c, 99, "其他错误");
        return;
    }
    query_filter(c, m, &ds, narrow, &res);
    render_page(c, m, &ds, &res);
    sbx_result_deinit(&res);
}

static long tenant_index(const struct sbx_tenants *ts, const struct sbx_tenant *t)
{
    return t ? (long)(t - ts->v) : -1;
}

/* ---- direct: POST /openapi ------------------------------------------------- */

/* The signature covers every query parameter but sign, plus the raw body.
 * @returns 0, or -1 after answering an error. */
static int direct_signed(struct call *c, const struct sbx_kv *q)
{
    const char *sign = sbx_kv_get(q, "sign");
    const char *key = sbx_kv_get(q, "key");
    const char *salt = sbx_kv_get(q, "salt");
    if (sign == NULL || key == NULL || salt == NULL || strcmp(key, c->tenant->appkey) != 0 ||
        strcmp(salt, c->tenant->salt) != 0 || memchr(c->req->body, '\0', c->req->body_len)) {
        wdt_error(c, 1, "验证失败");
        return -1;
    }
    struct wdts_param *set = wdts_xmalloc((q->n + 1) * sizeof(*set));
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (strcmp(q->v[i].key, "sign") == 0)
            continue;
        /* A repeated key is signed once, with the value the gateway reads (the last). */
        if (sbx_kv_get(q, q->v[i].key) != q->v[i].val)
            continue;
        set[n++] = q->v[i];
    }
    set[n].key = "body";
    set[n].val = c->req->body;
    n++;
    char want[WDTS_SIGN_MD5_LEN];
    wdts_sign_wdt(c->tenant->secret, set, n, want);
    free(set);
    if (strcmp(want, sign) != 0) {
        wdt_error(c, 1, "验证失败");
        return -1;
    }
    return 0;
}

/* The body: a JSON array of positional arguments; query methods take one object, which
 * becomes c->params. @returns 0, or -1 after answering an error. */
static int direct_params(struct call *c)
{
    json_error_t jerr;
    json_t *args = c->req->body_len ? json_loadb(c->req->body, c->req->body_len, 0, &jerr) : json_array();
    if (args == NULL || !json_is_array(args)) {
        json_decref(args);
        wdt_error(c, 1, "参数错误");
        return -1;
    }
    if (json_array_size(args) > 1) {
        json_decref(args);
        wdt_error(c, 1, "参数个数错误");
        return -1;
    }
    json_t *p0 = json_array_get(args, 0);
    if (p0 != NULL && !json_is_object(p0)) {
        json_decref(args);
        wdt_error(c, 1, "argument type mismatch");
        return -1;
    }
    c->params = p0 ? json_incref(p0) : json_object();
    json_decref(args);
    return 0;
}

/* page_no, page_size (both or neither; page_no from 0) and calc_total.
 * @returns 0, or -1 after answering an error. */
static int direct_pager(struct call *c, const struct sbx_kv *q, const char *mname)
{
    const char *pn = sbx_kv_get(q, "page_no"), *ps = sbx_kv_get(q, "page_size");
    const char *ct = sbx_kv_get(q, "calc_total");
    if (pn || ps) {
        if (pn == NULL || ps == NULL) {
            wdt_error(c, 100, "此方法仅支持分页查询：%s", mname);
            return -1;
        }
        if (parse_java_int(pn, &c->page_no) != 0) {
            wdt_error(c, 1, "For input string: \"%s\"", pn);
            return -1;
        }
        if (parse_java_int(ps, &c->page_size) != 0) {
            wdt_error(c, 1, "For input string: \"%s\"", ps);
            return -1;
        }
        if (c->page_no < 0 || c->page_size < 1 || c->page_size > SBX_MAX_PAGE_SIZE) {
            wdt_error(c, 100, "参数错误: page_no 从0开始, page_size 取 1-%d", SBX_MAX_PAGE_SIZE);
            return -1;
        }
        c->has_pager = 1;
    }
    c->calc_total = ct != NULL && strcmp(ct, "1") == 0;
    return 0;
}

static void serve_direct(struct call *c)
{
    const struct sbx_kv *q = c->req->query;
    const char *mname = sbx_kv_get(q, "method");
    /* Checked after the signature. A generated report is never one the hand-made table
     * serves, unless every report is generated (--generate-all): then it wins. */
    c->gen = mname ? sbx_reports_find_direct(c->gw->reports, mname, &c->gen_history) : NULL;
    c->method = mname && c->gen == NULL ? sbx_method_find_direct(mname) : NULL;
    const char *sid = sbx_kv_get(q, "sid");
    c->tenant = sid ? sbx_tenants_find(c->gw->tenants, sid) : NULL;
    if (c->tenant == NULL) {
        wdt_error(c, 1, "sid is not exists");
        return;
    }
    c->tenant_idx = tenant_index(c->gw->tenants, c->tenant);

    const char *v = sbx_kv_get(q, "v");
    if (v == NULL || strcmp(v, "1.0") != 0) {
        wdt_error(c, 8, "版本错误");
        return;
    }
    const char *ts = sbx_kv_get(q, "timestamp");
    long long tsv = 0;
    if (parse_java_int(ts, &tsv) != 0) {
        wdt_error(c, 1, "For input string: \"%s\"", ts ? ts : "");
        return;
    }
    if (skew(tsv + WDTS_WDT_EPOCH, c->ts_now) > SBX_WDT_SKEW_S) {
        wdt_error(c, 7, "时间戳错误");
        return;
    }

    if (direct_signed(c, q) != 0)
        return;

    if (c->method == NULL && c->gen == NULL) {
        wdt_error(c, 100, "接口不存在：%s (the sandbox serves the query methods of the catalog)",
                  mname ? mname : "");
        return;
    }

    if (direct_params(c) != 0 || direct_pager(c, q, mname) != 0)
        return;
    serve_query(c);
}

/* ---- Qimen: POST /router/qm -------------------------------------------------- */

static const struct sbx_tenant *qimen_app(const struct sbx_tenants *ts, const char *app_key)
{
    for (size_t i = 0; i < ts->n; i++)
        if (ts->v[i].qimen_app_key && strcmp(ts->v[i].qimen_app_key, app_key) == 0)
            return &ts->v[i];
    return NULL;
}

/* The TOP gateway's checks: system parameters, app, timestamp, signature, version,
 * target app. @returns the tenant whose Qimen app calls, or NULL after answering an error. */
static const struct sbx_tenant *qimen_top_checked(struct call *c, const struct sbx_kv *all)
{
    static const struct {
        const char *key;
        int code;
        const char *msg;
    } required[] = {
        {"method", 21, "Missing Method"},     {"app_key", 28, "Missing App Key"},
        {"timestamp", 30, "Missing Timestamp"}, {"sign", 24, "Missing Signature"},
        {"v", 32, "Missing Version"},
    };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        const char *val = sbx_kv_get(all, required[i].key);
        if (val == NULL || *val == '\0') {
            top_error(c, required[i].code, required[i].msg, required[i].key);
            return NULL;
        }
    }
    const char *app_key = sbx_kv_get(all, "app_key");
    const struct sbx_tenant *app = qimen_app(c->gw->tenants, app_key);
    if (app == NULL) {
        top_error(c, 29, "Invalid App Key", NULL);
        return NULL;
    }
    int64_t tsv = 0;
    if (wdts_time_parse_beijing(sbx_kv_get(all, "timestamp"), &tsv) != WDTS_OK ||
        skew(tsv, c->ts_now) > SBX_TOP_SKEW_S) {
        top_error(c, 31, "Invalid Timestamp",
                  "timestamp must be yyyy-MM-dd HH:mm:ss GMT+8 within 10 minutes of the server");
        return NULL;
    }
    const char *sm = sbx_kv_get(all, "sign_method");
    enum wdts_top_sign method = WDTS_TOP_SIGN_MD5;
    if (sm && *sm && wdts_top_sign_parse(sm, &method) != WDTS_OK) {
        top_error(c, 41, "Invalid Arguments", "sign_method must be md5, hmac or hmac-sha256");
        return NULL;
    }
    char want[WDTS_SIGN_TOP_LEN];
    wdts_sign_top(method, app->qimen_app_secret, all->v, all->n, want);
    if (strcasecmp(want, sbx_kv_get(all, "sign")) != 0) {
        top_error(c, 25, "Invalid signature", NULL);
        return NULL;
    }
    const char *v = sbx_kv_get(all, "v");
    if (strcmp(v, "2.0") != 0) {
        top_error(c, 33, "Invalid Version", "v must be 2.0");
        return NULL;
    }
    const char *target = sbx_kv_get(all, "target_app_key");
    if (target == NULL || *target == '\0') {
        top_error(c, 40, "Missing Required Arguments", "target_app_key");
        return NULL;
    }
    if (strcmp(target, SBX_QIMEN_TARGET) != 0) {
        top_error(c, 41, "Invalid Arguments", "target_app_key must be 21363512");
        return NULL;
    }
    return app;
}

/* Inside the scene: the WDT checks (tenant, its Qimen app, wdt_sign, datetime), answered
 * in "response". @returns 0, or -1 after answering an error. */
static int qimen_wdt_checked(struct call *c, const struct sbx_kv *all, const char *mname,
                             const char *app_key)
{
    const char *sid = sbx_kv_get(all, "wdt3_customer_id");
    c->tenant = sid ? sbx_tenants_find(c->gw->tenants, sid) : NULL;
    if (c->tenant == NULL) {
        wdt_error(c, 1, "sid is not exists");
        return -1;
    }
    c->tenant_idx = tenant_index(c->gw->tenants, c->tenant);
    if (c->tenant->qimen_app_key == NULL || strcmp(c->tenant->qimen_app_key, app_key) != 0) {
        wdt_error(c, 1, "app auth fail");
        return -1;
    }
    const char *wkey = sbx_kv_get(all, "wdt_appkey"), *wsalt = sbx_kv_get(all, "wdt_salt");
    const char *wsign = sbx_kv_get(all, "wdt_sign");
    if (wkey == NULL || wsalt == NULL || wsign == NULL || strcmp(wkey, c->tenant->appkey) != 0 ||
        strcmp(wsalt, c->tenant->salt) != 0) {
        wdt_error(c, 1, "验证失败");
        return -1;
    }
    /* wdt_sign covers the app parameters only: drop the TOP system parameters. */
    static const char *const top_keys[] = {"method", "app_key", "target_app_key", "timestamp",
                                           "sign", "sign_method", "format", "v", "session",
                                           "partner_id", "simplify", NULL};
    struct wdts_param *app_params = wdts_xmalloc((all->n + 1) * sizeof(*app_params));
    size_t n = 0;
    for (size_t i = 0; i < all->n; i++) {
        if (wdts_word_index(top_keys, SIZE_MAX, all->v[i].key) < 0)
            app_params[n++] = all->v[i];
    }
    char s1[WDTS_SIGN_MD5_LEN], s2[WDTS_SIGN_MD5_LEN], es[128];
    wdts_err_t e1 = wdts_sign_qimen_wdt(c->tenant->secret, mname, app_params, n,
                                        WDTS_QIMEN_NULL_SKIP, s1, es, sizeof(es));
    wdts_err_t e2 = wdts_sign_qimen_wdt(c->tenant->secret, mname, app_params, n,
                                        WDTS_QIMEN_NULL_EMPTY, s2, es, sizeof(es));
    free(app_params);
    /* Both helpers' null conventions are in use (docs/API.md §6.1); accept either. */
    if (e1 != WDTS_OK || e2 != WDTS_OK || (strcmp(s1, wsign) != 0 && strcmp(s2, wsign) != 0)) {
        wdt_error(c, 1, "验证失败");
        return -1;
    }
    const char *dt = sbx_kv_get(all, "datetime");
    int64_t dtv = 0;
    if (dt == NULL || wdts_time_parse_beijing(dt, &dtv) != WDTS_OK) {
        wdt_error(c, 1, "Unparseable date: %s", dt ? dt : "");
        return -1;
    }
    if (skew(dtv, c->ts_now) > SBX_WDT_SKEW_S) {
        wdt_error(c, 7, "时间戳错误");
        return -1;
    }
    return 0;
}

/* params (a JSON object, into c->params) and pager ({"page_no": from 1, "page_size"}).
 * @returns 0, or -1 after answering an error. */
static int qimen_params(struct call *c, const struct sbx_kv *all)
{
    const char *params = sbx_kv_get(all, "params");
    json_error_t jerr;
    c->params = params && *params ? json_loads(params, 0, &jerr) : json_object();
    if (c->params == NULL || !json_is_object(c->params)) {
        wdt_error(c, 1, "参数错误");
        return -1;
    }
    const char *pager = sbx_kv_get(all, "pager");
    if (pager && *pager) {
        json_t *pj = json_loads(pager, 0, &jerr);
        long long pn = 1, ps = 0;
        int ok = pj && json_is_object(pj) &&
                 json_int(json_object_get(pj, "page_size"), &ps) == 0 &&
                 (json_object_get(pj, "page_no") == NULL ||
                  json_int(json_object_get(pj, "page_no"), &pn) == 0);
        json_decref(pj);
        if (!ok) {
            wdt_error(c, 1, "参数错误");
            return -1;
        }
        if (ps < 1 || ps > SBX_MAX_PAGE_SIZE || pn < 0) {
            wdt_error(c, 100, "参数错误: page_no 从1开始, page_size 取 1-%d", SBX_MAX_PAGE_SIZE);
            return -1;
        }
        /* Qimen pages count from 1; 0 is read as the first page, as one client assumes. */
        c->page_no = pn > 0 ? pn - 1 : 0;
        c->page_size = ps;
        c->has_pager = 1;
    }
    return 0;
}

static void serve_qimen(struct call *c, const struct sbx_kv *all)
{
    if (qimen_top_checked(c, all) == NULL)
        return;
    const char *mname = sbx_kv_get(all, "method");
    c->gen = sbx_reports_find_qimen(c->gw->reports, mname, &c->gen_history);
    c->method = c->gen == NULL ? sbx_method_find_qimen(mname) : NULL;
    if (c->method == NULL && c->gen == NULL) {
        top_error(c, 22, "Invalid Method", mname);
        return;
    }
    if (qimen_wdt_checked(c, all, mname, sbx_kv_get(all, "app_key")) != 0 ||
        qimen_params(c, all) != 0)
        return;
    serve_query(c);
}

/* ---- entry --------------------------------------------------------------------- */

/* The answer an injected status fault gives, on either route. */
static void fault_answer(struct call *c, enum sbx_fault_kind kind)
{
    switch (kind) {
    case SBX_FAULT_STATUS4:
        wdt_error(c, 4, "数据库错误");
        break;
    case SBX_FAULT_STATUS5:
        wdt_error(c, 5, "数据库错误");
        break;
    case SBX_FAULT_STATUS99:
        wdt_error(c, 99, "其他错误");
        break;
    case SBX_FAULT_RATELIMIT:
        count_limit(c, "fault");
        wdt_error(c, 100, MSG_RATE);
        break;
    case SBX_FAULT_NOLIST: /* an answer that must never pass for an empty window */
        body_open(c);
        wdts_buf_append_str(&c->ans->body, "{\"status\":0,\"data\":{\"total_count\":5}}");
        body_close(c);
        snprintf(c->status, sizeof(c->status), "0");
        break;
    case SBX_FAULT_BADSTATUS:
        body_open(c);
        wdts_buf_append_str(&c->ans->body, "{\"status\":\"error\",\"message\":\"服务繁忙\","
                                           "\"data\":{\"total_count\":0,\"order\":[]}}");
        body_close(c);
        snprintf(c->status, sizeof(c->status), "error");
        break;
    case SBX_FAULT_HUGELIST:
    case SBX_FAULT_DEEPNEST:
    case SBX_FAULT_LIARTOTAL:
    case SBX_FAULT_DUPKEY: {
        const char *mname = sbx_kv_get(c->req->query, "method");
        const struct sbx_gen_report *g =
            mname ? sbx_reports_find_direct(c->gw->reports, mname, NULL) : NULL;
        const struct sbx_method *m = mname && !g ? sbx_method_find_direct(mname) : NULL;
        const char *lk = m && m->list_key ? m->list_key : g ? g->list_key : "order";
        struct wdts_buf *b = &c->ans->body;
        body_open(c);
        if (kind == SBX_FAULT_HUGELIST) {
            wdts_buf_printf(b, "{\"status\":0,\"data\":{\"total_count\":2000000,\"%s\":[0", lk);
            for (int i = 1; i < 2000000; i++)
                wdts_buf_append(b, ",0", 2);
            wdts_buf_append_str(b, "]}}");
        } else if (kind == SBX_FAULT_DEEPNEST) {
            wdts_buf_printf(b, "{\"status\":0,\"data\":{\"total_count\":1,\"%s\":[", lk);
            for (int i = 0; i < 100000; i++)
                wdts_buf_append(b, "[", 1);
            for (int i = 0; i < 100000; i++)
                wdts_buf_append(b, "]", 1);
            wdts_buf_append_str(b, "]}}");
        } else if (kind == SBX_FAULT_LIARTOTAL) {
            wdts_buf_printf(b, "{\"status\":0,\"data\":{\"total_count\":1000000000,\"%s\":[]}}",
                            lk);
        } else {
            wdts_buf_printf(b, "{\"status\":0,\"data\":{\"total_count\":1,\"%s\":[{}]},"
                            "\"data\":{\"total_count\":0,\"%s\":[]}}", lk, lk);
        }
        body_close(c);
        snprintf(c->status, sizeof(c->status), "0");
        break;
    }
    case SBX_FAULT_HUGESTRING: {
        struct wdts_buf *b = &c->ans->body;
        body_open(c);
        wdts_buf_append_str(b, "{\"status\":99,\"message\":\"\\u001b[2K\\rclass: ok \\u001b]0;x"
                               "\\u0007\u5176\u4ed6\u9519\u8bef ");
        for (int i = 0; i < (8 << 20); i++)
            wdts_buf_append(b, "A", 1);
        wdts_buf_append_str(b, "\"}");
        body_close(c);
        snprintf(c->status, sizeof(c->status), "99");
        break;
    }
    default:
        break;
    }
}

void sbx_gateway_handle(struct sbx_gateway *gw, const struct sbx_request *req,
                        struct sbx_answer *ans)
{
    struct call c;
    memset(&c, 0, sizeof(c));
    c.gw = gw;
    c.req = req;
    c.ans = ans;
    c.route = req->route;
    c.tenant_idx = -1;
    c.now = sbx_clock_now(gw->clock);
    c.ts_now = gw->ts_sandbox_clock ? c.now : wdts_time_now() + gw->ts_skew_s;

    struct sbx_fault_draw fd = {SBX_FAULT_NONE, 0};
    if (gw->faults)
        sbx_faults_draw(gw->faults, wdts_time_mono_ms() - gw->start_mono_ms, &fd);
    ans->delay_ms = fd.latency_ms;
    if (fd.latency_ms > 0)
        sbx_metrics_inc(&gw->metrics, SBX_M_FAULTS, "kind=\"latency\"");
    if (fd.kind != SBX_FAULT_NONE) {
        char labels[64];
        snprintf(labels, sizeof(labels), "kind=\"%s\"", sbx_fault_name(fd.kind));
        sbx_metrics_inc(&gw->metrics, SBX_M_FAULTS, labels);
    }

    struct sbx_kv all = {NULL, 0};
    if (fd.kind == SBX_FAULT_HTTP5XX) {
        ans->http_status = 502;
        ans->content_type = "text/html";
        wdts_buf_append_str(&ans->body, "<html><head><title>502 Bad Gateway</title></head><body>"
                                        "<center><h1>502 Bad Gateway</h1></center></body></html>\n");
        snprintf(c.status, sizeof(c.status), "http:502");
        goto count;
    }
    if (fd.kind == SBX_FAULT_HANG) {
        ans->hang = 1;
        ans->delay_ms = gw->faults->hang_ms;
        snprintf(c.status, sizeof(c.status), "hang");
        goto count;
    }
    if (fd.kind == SBX_FAULT_STATUS4 || fd.kind == SBX_FAULT_STATUS5 ||
        fd.kind == SBX_FAULT_STATUS99 || fd.kind == SBX_FAULT_RATELIMIT ||
        fd.kind == SBX_FAULT_NOLIST || fd.kind == SBX_FAULT_BADSTATUS ||
        fd.kind >= SBX_FAULT_HUGELIST) {
        /* The tenant is named when the request names a known one, for the counters. */
        const char *sid = sbx_kv_get(req->query, "sid");
        c.tenant = sid ? sbx_tenants_find(gw->tenants, sid) : NULL;
        fault_answer(&c, fd.kind);
        goto count;
    }

    if (req->route == SBX_ROUTE_WDT) {
        serve_direct(&c);
    } else {
        /* The app parameters come in the form body (official SDKs) or the query (GET
         * style clients); the body wins when both carry a key. */
        sbx_kv_parse(&all, req->body, req->body_len);
        struct sbx_kv merged = {NULL, 0};
        for (size_t i = 0; i < req->query->n; i++) {
            const char *k = req->query->v[i].key;
            if (sbx_kv_get(&all, k) == NULL && sbx_kv_get(req->query, k) == req->query->v[i].val) {
                merged.v = wdts_xrealloc(merged.v, (merged.n + 1) * sizeof(*merged.v));
                merged.v[merged.n].key = wdts_xstrdup(k);
                merged.v[merged.n].val = wdts_xstrdup(req->query->v[i].val);
                merged.n++;
            }
        }
        for (size_t i = 0; i < all.n; i++) {
            if (sbx_kv_get(&all, all.v[i].key) != all.v[i].val)
                continue;
            merged.v = wdts_xrealloc(merged.v, (merged.n + 1) * sizeof(*merged.v));
            merged.v[merged.n].key = wdts_xstrdup(all.v[i].key);
            merged.v[merged.n].val = wdts_xstrdup(all.v[i].val);
            merged.n++;
        }
        sbx_kv_deinit(&all);
        all = merged;
        serve_qimen(&c, &all);
    }

    if (fd.kind == SBX_FAULT_TRUNCATE && ans->body.len > 1) {
        /* Cut mid-JSON: half the body, so no parser can take it for a whole answer. */
        ans->body.len /= 2;
        ans->body.data[ans->body.len] = '\0';
    }
count:;
    char labels[384];
    snprintf(labels, sizeof(labels), "route=\"%s\",method=\"%s\",sid=\"%s\",status=\"%s\"",
             req->route == SBX_ROUTE_QIMEN ? "qimen" : "wdt",
             c.method ? c.method->direct : c.gen ? call_direct_name(&c) : "unknown",
             c.tenant ? c.tenant->sid : "unknown",
             c.status[0] ? c.status : "none");
    sbx_metrics_inc(&gw->metrics, SBX_M_CALLS, labels);
    json_decref(c.params);
    sbx_kv_deinit(&all);
}
