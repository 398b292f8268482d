/* Resolving the catalog's reports at start-up (see sbx_generic.h): hand-made when the
 * static method table serves the method, else a plan built once from the method's entry
 * in the API spec (common/model/catalog/wdt-api-spec.json, embedded at build time by
 * sandbox/spec-embed.cmake). Nothing here runs per request. */
#include "sbx_generic.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sbx_data_int.h"
#include "sbx_method.h"
#include "wdts/mem.h"
#include "wdts/str.h"

extern const unsigned char sbx_spec_embedded_json[];
extern const size_t sbx_spec_embedded_json_len;

const char *sbx_spec_embedded(size_t *len)
{
    *len = sbx_spec_embedded_json_len;
    return (const char *)sbx_spec_embedded_json;
}

/* ---- problems ------------------------------------------------------------------ */

struct probs {
    char *buf;
    size_t size;
    int n;
};

static void prob(struct probs *p, const char *report, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void prob(struct probs *p, const char *report, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t used = strlen(p->buf);
    if (used + 1 < p->size)
        snprintf(p->buf + used, p->size - used, "%s%s: %s", p->n ? "; " : "", report, msg);
    p->n++;
}

/* ---- small JSON helpers ------------------------------------------------------------ */

static const char *jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static const json_t *find_by(const json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (strcmp(jstr(v, key), value) == 0) return v;
    return NULL;
}

static int in_names(const struct wdts_catalog_names *n, const char *name)
{
    return wdts_word_index(n->v, n->n, name);
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return sbx_mix64(h);
}

/* ---- field plans ---------------------------------------------------------------------- */

static int is_time_form(enum sbx_gform f)
{
    return f == SBX_GF_DATETIME || f == SBX_GF_DATE || f == SBX_GF_EPOCH_MS ||
           f == SBX_GF_EPOCH_MS_STR;
}

/* The form of a spec field: its example, else its table type. @returns 0 when the field
 * is a list or object (rendered only where the spec describes it in row.lists). */
static int field_form(const json_t *f, enum sbx_gform *out)
{
    static const struct {
        const char *name;
        enum sbx_gform form;
    } ex[] = {{"datetime", SBX_GF_DATETIME}, {"date", SBX_GF_DATE},
              {"epoch_ms", SBX_GF_EPOCH_MS}, {"epoch_ms_string", SBX_GF_EPOCH_MS_STR},
              {"int", SBX_GF_INT},           {"decimal", SBX_GF_REAL},
              {"numeric_string", SBX_GF_NUMSTR}, {"string", SBX_GF_STRING},
              {"boolean", SBX_GF_BOOL},      {"null", SBX_GF_NULL}};
    const char *e = jstr(f, "example"), *t = jstr(f, "type");
    for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
        if (strcmp(e, ex[i].name) == 0) {
            *out = ex[i].form;
            /* a numeric string of a code or an id is a whole number */
            if (*out == SBX_GF_NUMSTR && strcmp(t, "decimal") != 0)
                *out = SBX_GF_DIGITS;
            return 1;
        }
    }
    if (*e && strcmp(e, "list") != 0 && strcmp(e, "object") != 0)
        return 0; /* an example form this code does not know: leave the field out */
    if (!strcmp(t, "int"))
        *out = SBX_GF_INT;
    else if (!strcmp(t, "decimal"))
        *out = SBX_GF_NUMSTR;
    else if (!strcmp(t, "string"))
        *out = SBX_GF_STRING;
    else if (!strcmp(t, "boolean"))
        *out = SBX_GF_BOOL;
    else
        return 0;
    return 1;
}

/* A time role on a field whose form shows no time: the form a time takes there. */
static enum sbx_gform time_form(enum sbx_gform f, enum wdts_timefmt catalog_fmt)
{
    if (is_time_form(f))
        return f;
    if (f == SBX_GF_INT)
        return SBX_GF_EPOCH_MS;
    if (f == SBX_GF_NUMSTR || f == SBX_GF_DIGITS)
        return SBX_GF_EPOCH_MS_STR;
    return catalog_fmt == WDTS_TIMEFMT_EPOCH_MS ? SBX_GF_EPOCH_MS : SBX_GF_DATETIME;
}

static int name_is(const char *name, const char *const *set)
{
    return wdts_word_index(set, SIZE_MAX, name) >= 0;
}

static const char *const created_names[] = {"created", "create_time", "created_time",
                                            "create_date", NULL};
static const char *const qimen_blank_names[] = {"receiver_name", "receiver_address",
                                                "receiver_mobile", "receiver_telno",
                                                "buyer_nick", "id_card", NULL};

/* The fields a basis time is shown in, when the rows carry it. */
static int basis_field(enum sbx_gbasis b, const char *name)
{
    static const char *const paid[] = {"pay_time", "paid_time", NULL};
    static const char *const consigned[] = {"consign_time", "send_time", "delivery_time", NULL};
    static const char *const audited[] = {"check_time", "audit_time", "approve_time", NULL};
    static const char *const stockin[] = {"stockin_time", "check_time", NULL};
    switch (b) {
    case SBX_GB_PAID: return name_is(name, paid);
    case SBX_GB_CONSIGNED: return name_is(name, consigned);
    case SBX_GB_AUDITED: return name_is(name, audited);
    case SBX_GB_STOCKIN: return name_is(name, stockin);
    default: return 0;
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

struct build {
    const struct wdts_catalog_report *rep;
    struct sbx_gen_report *g;
    const json_t *row; /* the spec's row */
    struct probs *pr;
};

static void field_init(struct sbx_gfield *gf, const char *name)
{
    memset(gf, 0, sizeof(*gf));
    gf->name = wdts_xstrdup(name);
    struct wdts_buf b;
    wdts_buf_init(&b);
    wdts_buf_append_str(&b, "\"");
    wdts_buf_append_json_str(&b, name);
    wdts_buf_append_str(&b, "\":");
    gf->key_len = b.len;
    gf->key_json = wdts_buf_steal(&b);
    wdts_buf_init(&b);
    wdts_buf_append_str(&b, "\"");
    wdts_buf_append_json_str(&b, name);
    wdts_buf_append_str(&b, "-");
    gf->text_json = wdts_buf_steal(&b);
    gf->is_id = ends_with(name, "_id");
    gf->salt = name_hash(name);
    gf->qimen_blank = name_is(name, qimen_blank_names);
}

/* The plan of one scalar field of the row (list == NULL) or of a nested list. */
static void plan_field(struct build *bd, const struct sbx_glist *list, const json_t *lspec,
                       const json_t *f, enum sbx_gform form, struct sbx_gfield *gf)
{
    const struct wdts_catalog_report *rep = bd->rep;
    const char *name = gf->name;
    gf->form = form;
    gf->role = SBX_GR_PLAIN;
    int k;
    (void)f;
    if (list == NULL && (k = in_names(&rep->pk, name)) >= 0) {
        gf->role = SBX_GR_PK;
        gf->pk_index = k;
        /* a boolean part of a composite key (stock costs' defect) stays boolean: the key's
         * first part is what makes it unique */
        if (form != SBX_GF_INT && form != SBX_GF_DIGITS && form != SBX_GF_STRING &&
            !(form == SBX_GF_BOOL && k > 0))
            gf->form = form == SBX_GF_EPOCH_MS ? SBX_GF_INT
                       : form == SBX_GF_NUMSTR ? SBX_GF_DIGITS
                                               : SBX_GF_STRING;
        bd->g->pk_int[k] = gf->form == SBX_GF_INT;
        return;
    }
    if (list != NULL) {
        const json_t *lpk = json_object_get(lspec, "pk");
        size_t i;
        json_t *p;
        json_array_foreach(lpk, i, p) {
            if (i < 4 && strcmp(json_string_value(p) ?: "", name) == 0) {
                gf->role = SBX_GR_LIST_PK;
                gf->pk_index = (int)i;
                if (form != SBX_GF_INT && form != SBX_GF_DIGITS && form != SBX_GF_STRING)
                    gf->form = form == SBX_GF_NUMSTR ? SBX_GF_DIGITS : SBX_GF_STRING;
                return;
            }
        }
        if ((k = in_names(&rep->pk, name)) >= 0 &&
            (form == SBX_GF_INT || form == SBX_GF_DIGITS || form == SBX_GF_STRING)) {
            gf->role = SBX_GR_ROW_PK;
            gf->pk_index = k;
            return;
        }
    }
    const char *ct = list ? jstr(lspec, "change_time") : jstr(bd->row, "change_time");
    const char *alt = list ? "" : jstr(bd->row, "change_time_alt");
    if ((list == NULL && strcmp(name, rep->modified_field) == 0) || (*ct && !strcmp(name, ct)) ||
        (*alt && !strcmp(name, alt))) {
        gf->role = SBX_GR_CHANGE;
        gf->form = time_form(form, rep->modified_format);
        return;
    }
    if (in_names(&rep->pii, name) >= 0 &&
        (form == SBX_GF_STRING || form == SBX_GF_NUMSTR || form == SBX_GF_DIGITS)) {
        gf->role = SBX_GR_PII;
        gf->form = SBX_GF_STRING;
        return;
    }
    int timeish = is_time_form(form) ||
                  (form == SBX_GF_STRING && (ends_with(name, "_time") || ends_with(name, "_date")));
    if (name_is(name, created_names) && (timeish || form == SBX_GF_STRING || form == SBX_GF_INT)) {
        gf->role = SBX_GR_CREATED;
        gf->form = time_form(form, WDTS_TIMEFMT_DATETIME);
        return;
    }
    if (basis_field(bd->g->basis, name) && (timeish || form == SBX_GF_INT)) {
        gf->role = SBX_GR_BASIS;
        gf->form = time_form(form, WDTS_TIMEFMT_DATETIME);
        return;
    }
    if (timeish) {
        gf->role = SBX_GR_TIME;
        gf->form = time_form(form, WDTS_TIMEFMT_DATETIME);
        if (form == SBX_GF_STRING && ends_with(name, "_date"))
            gf->form = SBX_GF_DATE;
        return;
    }
    if (!strcmp(name, "shop_no") && form == SBX_GF_STRING)
        gf->role = SBX_GR_SHOP_NO;
    else if (!strcmp(name, "shop_name") && form == SBX_GF_STRING)
        gf->role = SBX_GR_SHOP_NAME;
    else if (!strcmp(name, "shop_id") && (form == SBX_GF_INT || form == SBX_GF_DIGITS))
        gf->role = SBX_GR_SHOP_ID;
    else if (!strcmp(name, "platform_id") &&
             (form == SBX_GF_INT || form == SBX_GF_DIGITS || form == SBX_GF_STRING))
        gf->role = SBX_GR_PLATFORM;
}

/* The fields of the row (lspec == NULL) or of list lspec: the spec's scalar fields, and
 * every list of row.lists whose parent is this one, nested. */
static void plan_list(struct build *bd, struct sbx_glist *list, const json_t *lspec)
{
    const json_t *lists = json_object_get(bd->row, "lists");
    const json_t *fields = lspec ? json_object_get(lspec, "fields")
                                 : json_object_get(bd->row, "fields");
    const char *self = lspec ? jstr(lspec, "key") : "";
    size_t cap = json_array_size(fields) + json_array_size(lists) + 1;
    list->fields = wdts_xcalloc(cap, sizeof(*list->fields));
    list->n_fields = 0;
    size_t i;
    json_t *f;
    /* the scalar fields in the spec's order, a nested list where the table names it */
    json_array_foreach(fields, i, f) {
        const char *name = jstr(f, "name");
        enum sbx_gform form;
        int dup = 0;
        for (size_t k = 0; k < list->n_fields; k++)
            dup |= strcmp(list->fields[k].name, name) == 0;
        if (!*name || dup)
            continue;
        size_t li;
        json_t *l;
        const json_t *nested = NULL;
        json_array_foreach(lists, li, l) {
            if (!strcmp(jstr(l, "key"), name) && !strcmp(jstr(l, "parent"), self)) {
                nested = l;
                break;
            }
        }
        struct sbx_gfield *gf = &list->fields[list->n_fields];
        if (nested != NULL) {
            field_init(gf, name);
            gf->form = SBX_GF_NESTED;
            gf->nested = &bd->g->lists[li];
            list->n_fields++;
        } else if (field_form(f, &form)) {
            field_init(gf, name);
            plan_field(bd, lspec ? list : NULL, lspec, f, form, gf);
            list->n_fields++;
        }
    }
    /* the nested lists of this container the table does not name */
    json_array_foreach(lists, i, f) {
        const char *key = jstr(f, "key");
        int dup = 0;
        for (size_t k = 0; k < list->n_fields; k++)
            dup |= strcmp(list->fields[k].name, key) == 0;
        if (strcmp(jstr(f, "parent"), self) != 0 || !*key || dup)
            continue;
        struct sbx_gfield *gf = &list->fields[list->n_fields++];
        field_init(gf, key);
        gf->form = SBX_GF_NESTED;
        gf->nested = &bd->g->lists[i];
    }
}

static void span_text(int64_t s, char out[32])
{
    if (s % 86400 == 0)
        snprintf(out, 32, "%lld天", (long long)(s / 86400));
    else if (s <= 3600 || s % 3600 != 0)
        snprintf(out, 32, "%lld分钟", (long long)(s / 60));
    else
        snprintf(out, 32, "%lld小时", (long long)(s / 3600));
}

static int parse_basis(const char *s, enum sbx_gbasis *out)
{
    static const char *const names[] = {"modified", "created", "paid", "consigned",
                                        "audited", "stockin", "other"};
    int i = wdts_word_index(names, 7, s);
    if (i < 0)
        return -1;
    *out = (enum sbx_gbasis)i;
    return 0;
}

static int value_selects(const json_t *value, long long v)
{
    if (json_is_integer(value))
        return json_integer_value(value) == v;
    size_t i;
    json_t *x;
    json_array_foreach(value, i, x) if (json_is_integer(x) && json_integer_value(x) == v) return 1;
    return 0;
}

static int param_int(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    return json_is_string(v) &&
                   wdts_parse_int(json_string_value(v), INT64_MIN, INT64_MAX, out) == WDTS_OK
               ? 0
               : -1;
}

/* The window: the spec's time pair the catalog's start/end/basis and selector name. */
static void plan_window(struct build *bd, const json_t *m)
{
    const struct wdts_catalog_report *rep = bd->rep;
    struct sbx_gen_report *g = bd->g;
    const json_t *match = NULL;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(m, "times"), i, t) {
        if (strcmp(jstr(t, "start"), rep->time_start) != 0 ||
            strcmp(jstr(t, "end"), rep->time_end) != 0 ||
            strcmp(jstr(t, "basis"), rep->time_basis) != 0)
            continue;
        const json_t *sel = json_object_get(t, "selector");
        if (json_is_object(sel)) {
            json_t *sent = json_object_get(rep->params, jstr(sel, "param"));
            const json_t *sp = find_by(json_object_get(m, "params"), "name", jstr(sel, "param"));
            long long v;
            int ok = sent ? param_int(sent, &v) == 0 && value_selects(json_object_get(sel, "value"), v)
                          : sp && param_int(json_object_get(sp, "default"), &v) == 0 &&
                                value_selects(json_object_get(sel, "value"), v);
            if (!ok)
                continue;
        }
        match = t;
        break;
    }
    if (match == NULL) {
        prob(bd->pr, rep->name, "window %s/%s on %s time: the spec of %s has no such time pair "
             "(with the selector the catalog's params give)", rep->time_start, rep->time_end,
             rep->time_basis, rep->method);
        return;
    }
    const json_t *sel = json_object_get(match, "selector");
    if (!json_is_object(sel))
        return;
    g->kind_param = wdts_xstrdup(jstr(sel, "param"));
    const json_t *value = json_object_get(sel, "value");
    if (json_is_integer(value)) {
        g->kind_values[g->n_kind_values++] = json_integer_value(value);
    } else {
        json_array_foreach(value, i, t) if (json_is_integer(t) && g->n_kind_values < 8)
            g->kind_values[g->n_kind_values++] = json_integer_value(t);
    }
    const json_t *sp = find_by(json_object_get(m, "params"), "name", g->kind_param);
    long long dv;
    if (sp && param_int(json_object_get(sp, "default"), &dv) == 0) {
        g->kind_has_default = 1;
        g->kind_default = dv;
    } else if (param_int(json_object_get(rep->params, g->kind_param), &dv) == 0) {
        /* no default stated: an absent selector reads as the catalog's value */
        g->kind_has_default = 1;
        g->kind_default = dv;
    }
}

static void build_report(const struct wdts_catalog_report *rep, const json_t *m,
                         struct sbx_gen_report *g, struct probs *pr)
{
    memset(g, 0, sizeof(*g));
    g->rep = rep;
    g->salt = name_hash(rep->method);
    g->snapshot = rep->kind == WDTS_REPORT_SNAPSHOT;
    struct build bd = {rep, g, json_object_get(m, "row"), pr};
    if (!json_is_object(bd.row)) {
        prob(pr, rep->name, "the spec entry of %s has no row table", rep->method);
        return;
    }
    if (g->snapshot) {
        g->basis = SBX_GB_MODIFIED;
    } else {
        if (parse_basis(rep->time_basis, &g->basis) != 0)
            prob(pr, rep->name, "time.basis %s is not one of modified, created, paid, consigned, "
                 "audited, stockin, other", rep->time_basis);
        g->start_param = rep->time_start;
        g->end_param = rep->time_end;
        plan_window(&bd, m);
        g->max_span = rep->max_span;
        span_text(g->max_span, g->span_text);
    }
    g->paging_required = !g->snapshot &&
                         json_is_true(json_object_get(json_object_get(m, "paging"), "required"));
    g->max_page_size = rep->max_page_size;
    g->list_key = rep->list_key;
    const char *total = jstr(json_object_get(m, "answer"), "total");
    g->total_key = *total ? wdts_xstrdup(total) : NULL;
    g->exclude_platforms = json_object_get(m, "excluded_platforms") != NULL;
    if (rep->pk.n == 0 || rep->pk.n > 4) {
        prob(pr, rep->name, "the generator serves keys of 1 to 4 fields, not %zu", rep->pk.n);
        return;
    }
    g->n_pk = (int)rep->pk.n;
    const json_t *lists = json_object_get(bd.row, "lists");
    g->n_lists = json_array_size(lists);
    g->lists = wdts_xcalloc(g->n_lists ? g->n_lists : 1, sizeof(*g->lists));
    size_t i;
    json_t *l;
    json_array_foreach(lists, i, l) {
        g->lists[i].key = wdts_xstrdup(jstr(l, "key"));
        g->lists[i].is_object = strcmp(jstr(l, "kind"), "object") == 0;
        g->lists[i].ordinal = (int)i;
    }
    json_array_foreach(lists, i, l) plan_list(&bd, &g->lists[i], l);
    plan_list(&bd, &g->row, NULL);
    /* every key part must be a rendered field, or rows cannot be keyed */
    for (int k = 0; k < g->n_pk; k++) {
        int found = 0;
        for (size_t f = 0; f < g->row.n_fields; f++)
            found |= g->row.fields[f].role == SBX_GR_PK && g->row.fields[f].pk_index == k;
        if (!found)
            prob(pr, rep->name, "pk field %s is not a scalar field of the spec's rows of %s",
                 rep->pk.v[k], rep->method);
    }
    int has_change = 0;
    for (size_t f = 0; f < g->row.n_fields; f++)
        has_change |= g->row.fields[f].role == SBX_GR_CHANGE;
    if (!has_change)
        prob(pr, rep->name, "the change-time field %s is not a field of the spec's rows of %s",
             rep->modified_field, rep->method);
}

static void list_free(struct sbx_glist *l)
{
    for (size_t i = 0; i < l->n_fields; i++) {
        free(l->fields[i].name);
        free(l->fields[i].key_json);
        free(l->fields[i].text_json);
    }
    free(l->fields);
    free(l->key);
}

static void gen_free(struct sbx_gen_report *g)
{
    list_free(&g->row);
    for (size_t i = 0; i < g->n_lists; i++)
        list_free(&g->lists[i]);
    free(g->lists);
    free((char *)g->kind_param);
    free((char *)g->total_key);
}

void sbx_reports_destroy(struct sbx_reports *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_gen; i++)
        gen_free(&r->gen[i]);
    free(r->gen);
    wdts_catalog_destroy(r->cat);
    json_decref(r->spec);
    free(r);
}

const json_t *sbx_reports_spec_row(const struct sbx_reports *r, const char *method)
{
    if (r == NULL)
        return NULL;
    return json_object_get(json_object_get(json_object_get(r->spec, "methods"), method), "row");
}

static struct sbx_reports *resolve(struct wdts_catalog *cat, const char *spec_json, size_t len,
                                   const char *spec_origin, int flags, char *errstr,
                                   size_t errstr_size)
{
    json_error_t jerr;
    json_t *spec = json_loadb(spec_json, len, 0, &jerr);
    const json_t *methods = json_object_get(spec, "methods");
    if (!json_is_object(methods)) {
        snprintf(errstr, errstr_size, "API spec %s: %s (line %d)", spec_origin,
                 spec ? "no \"methods\" object" : jerr.text, jerr.line);
        json_decref(spec);
        wdts_catalog_destroy(cat);
        return NULL;
    }
    struct sbx_reports *r = wdts_xcalloc(1, sizeof(*r));
    r->cat = cat;
    size_t n = wdts_catalog_count(cat);
    r->gen = wdts_xcalloc(n ? n : 1, sizeof(*r->gen));
    errstr[0] = '\0';
    struct probs pr = {errstr, errstr_size, 0};
    for (size_t i = 0; i < n; i++) {
        const struct wdts_catalog_report *rep = wdts_catalog_at(cat, i);
        if (!(flags & SBX_REPORTS_GENERATE_ALL) && sbx_method_find_direct(rep->method) != NULL) {
            r->n_hand++;
            continue;
        }
        const json_t *m = json_object_get(methods, rep->method);
        if (m == NULL) {
            prob(&pr, rep->name, "method %s is neither served by the hand-made model nor in the "
                 "API spec %s: add its entry to the spec (common/model/catalog/SPEC.md)", rep->method,
                 spec_origin);
            continue;
        }
        build_report(rep, m, &r->gen[r->n_gen++], &pr);
    }
    r->spec = spec;
    if (pr.n > 0) {
        char tail[64];
        snprintf(tail, sizeof(tail), " (%d problem%s)", pr.n, pr.n == 1 ? "" : "s");
        wdts_strlcpy(errstr + strlen(errstr), tail, errstr_size - strlen(errstr));
        sbx_reports_destroy(r);
        return NULL;
    }
    return r;
}

struct sbx_reports *sbx_reports_new_from_json(const char *catalog_json, const char *spec_json,
                                              int flags, char *errstr, size_t errstr_size)
{
    struct wdts_catalog *cat = wdts_catalog_new_from_json(catalog_json, strlen(catalog_json),
                                                          "test", errstr, errstr_size);
    if (cat == NULL)
        return NULL;
    return resolve(cat, spec_json, strlen(spec_json), "(text)", flags, errstr, errstr_size);
}

struct sbx_reports *sbx_reports_new(const char *catalog_path, const char *spec_path, int flags,
                                    char *errstr, size_t errstr_size)
{
    struct wdts_catalog *cat = wdts_catalog_new(catalog_path, errstr, errstr_size);
    if (cat == NULL)
        return NULL;
    if (spec_path == NULL) {
        size_t len;
        const char *text = sbx_spec_embedded(&len);
        return resolve(cat, text, len, "(embedded common/model/catalog/wdt-api-spec.json)", flags,
                       errstr, errstr_size);
    }
    FILE *f = fopen(spec_path, "rb");
    if (f == NULL) {
        snprintf(errstr, errstr_size, "cannot open the API spec %s", spec_path);
        wdts_catalog_destroy(cat);
        return NULL;
    }
    struct wdts_buf b;
    wdts_buf_init(&b);
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        wdts_buf_append(&b, chunk, got);
    fclose(f);
    struct sbx_reports *r = resolve(cat, wdts_buf_str(&b), b.len, spec_path, flags, errstr,
                                    errstr_size);
    wdts_buf_deinit(&b);
    return r;
}

const struct sbx_gen_report *sbx_reports_find_direct(const struct sbx_reports *r,
                                                     const char *name, int *history)
{
    for (int h = 0; h < 2; h++) {
        for (size_t i = 0; r && i < r->n_gen; i++) {
            const char *m = h ? r->gen[i].rep->history_method : r->gen[i].rep->method;
            if (*m && strcmp(m, name) == 0) {
                if (history)
                    *history = h;
                return &r->gen[i];
            }
        }
    }
    return NULL;
}

const struct sbx_gen_report *sbx_reports_find_qimen(const struct sbx_reports *r,
                                                    const char *name, int *history)
{
    const char *bare = sbx_method_qimen_bare(name);
    if (bare == NULL)
        return NULL;
    for (int h = 0; h < 2; h++) {
        for (size_t i = 0; r && i < r->n_gen; i++) {
            const char *m = h ? r->gen[i].rep->history_qimen_method : r->gen[i].rep->qimen_method;
            if (*m && strcasecmp(m, bare) == 0) {
                if (history)
                    *history = h;
                return &r->gen[i];
            }
        }
    }
    return NULL;
}

const struct sbx_gen_report *sbx_reports_find_name(const struct sbx_reports *r,
                                                   const char *name)
{
    for (size_t i = 0; r && i < r->n_gen; i++)
        if (strcmp(r->gen[i].rep->name, name) == 0)
            return &r->gen[i];
    return NULL;
}
