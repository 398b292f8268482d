/* The report catalog and the sandbox against the API spec (common/model/catalog/wdt-api-spec.json,
 * what the official method pages state; common/model/catalog/SPEC.md). The catalog: every fact
 * the worker acts on (method, Qimen method, window parameters and their basis, span, fixed
 * parameters, list key, primary key, change-time field and the form the pages show it in,
 * detail lists, PII fields, page sizes) must agree. The sandbox: every field of every row it
 * renders, nested lists too, must be a field of the spec with a JSON type the spec allows.
 * Both checkers also run on inputs broken on purpose, which must be refused by name. */
#include "wdts_test.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbx_conform_int.h"
#include "sbx_data.h"
#include "sbx_generic.h"
#include "sbx_method.h"
#include "wdts/catalog.h"
#include "wdts/str.h"

static json_t *spec;

static int setup(void **state)
{
    (void)state;
    char path[1024];
    json_error_t jerr;
    snprintf(path, sizeof(path), "%s/common/model/catalog/wdt-api-spec.json", WDTS_SOURCE_DIR);
    spec = json_load_file(path, 0, &jerr);
    if (spec == NULL)
        fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
    return spec ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(spec);
    return 0;
}

/* ---- the checker ------------------------------------------------------------------ */

/* Distinct problems, one a line (the same one of many rows is said once). */
struct problems {
    char text[32768];
    int n;
};

static void problem(struct problems *pr, const char *report, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int k = snprintf(line, sizeof(line), "%s: ", report);
    vsnprintf(line + k, sizeof(line) - (size_t)k, fmt, ap);
    va_end(ap);
    snprintf(line + strlen(line), sizeof(line) - strlen(line), "\n");
    if (strstr(pr->text, line) != NULL)
        return;
    snprintf(pr->text + strlen(pr->text), sizeof(pr->text) - strlen(pr->text), "%s", line);
    pr->n++;
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The member of array arr whose `key` is value, or NULL. */
static json_t *find_by(const json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (strcmp(str(v, key), value) == 0) return v;
    return NULL;
}

static int names_equal(const struct wdts_catalog_names *a, const json_t *b)
{
    if (!json_is_array(b) || json_array_size(b) != a->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], json_string_value(json_array_get(b, i)) ?: "") != 0)
            return 0;
    return 1;
}

/* The form the pages' example shows a time field in, as the catalog names forms. */
static const char *example_form(const json_t *field)
{
    const char *ex = str(field, "example");
    if (strcmp(ex, "datetime") == 0)
        return "datetime";
    if (strcmp(ex, "epoch_ms") == 0 || strcmp(ex, "epoch_ms_string") == 0)
        return "epoch_ms";
    return ex;
}

/* Is a fixed parameter's value one the spec's parameter takes? */
static void check_param(const struct wdts_catalog_report *rep, const char *name, json_t *val,
                        const json_t *sp, struct problems *pr)
{
    const char *type = str(sp, "type");
    int type_ok = (json_is_integer(val) && (!strcmp(type, "int") || !strcmp(type, "boolean"))) ||
                  (json_is_boolean(val) && !strcmp(type, "boolean")) ||
                  (json_is_string(val) && !strcmp(type, "string"));
    if (!type_ok) {
        problem(pr, rep->name, "param %s: the spec's type is %s", name, type);
        return;
    }
    const json_t *values = json_object_get(sp, "values");
    if (!json_is_array(values))
        return;
    /* a list of values joined by commas (stockouts' status) must hold only known ones */
    char buf[512];
    if (json_is_string(val))
        wdts_strlcpy(buf, json_string_value(val), sizeof(buf));
    else
        snprintf(buf, sizeof(buf), "%lld",
                 json_is_boolean(val) ? (long long)json_is_true(val)
                                      : (long long)json_integer_value(val));
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long long v;
        int found = 0;
        if (wdts_parse_int(tok, INT64_MIN, INT64_MAX, &v) != WDTS_OK) {
            problem(pr, rep->name, "param %s: %s is not a number", name, tok);
            continue;
        }
        size_t i;
        json_t *x;
        json_array_foreach(values, i, x) if (json_integer_value(x) == v) found = 1;
        if (!found)
            problem(pr, rep->name, "param %s: %s is not among the values the spec lists", name,
                    tok);
    }
}

/* A selector's value: one value, or a list of values that select the same basis. */
static int selects(const json_t *value, const json_t *v)
{
    if (!json_is_array(value))
        return json_equal(value, v);
    size_t i;
    json_t *x;
    json_array_foreach(value, i, x) if (json_equal(x, v)) return 1;
    return 0;
}

/* A span's parameter name: exact, or "*_from" for every pair of that suffix. */
static int name_matches(const char *pattern, const char *name)
{
    if (pattern[0] != '*')
        return strcmp(pattern, name) == 0;
    size_t pl = strlen(pattern + 1), nl = strlen(name);
    return nl >= pl && strcmp(name + nl - pl, pattern + 1) == 0;
}

/* What a call sends: its window parameters and fixed params (of the report's method, or of
 * its archive method). */
struct call_shape {
    const char *start, *end;
    const json_t *params;
};

static void check_time(const struct wdts_catalog_report *rep, const struct call_shape *c,
                       const json_t *m, struct problems *pr)
{
    const json_t *times = json_object_get(m, "times");
    const json_t *match = NULL;
    size_t i;
    json_t *t;
    json_array_foreach(times, i, t) {
        if (strcmp(str(t, "start"), c->start) != 0 || strcmp(str(t, "end"), c->end) != 0 ||
            strcmp(str(t, "basis"), rep->time_basis) != 0)
            continue;
        /* a selector (time_type=1) must be what the catalog sends, or the default */
        const json_t *sel = json_object_get(t, "selector");
        if (json_is_object(sel)) {
            const char *param = str(sel, "param");
            json_t *sent = json_object_get(c->params, param);
            json_t *sp = find_by(json_object_get(m, "params"), "name", param);
            json_t *value = json_object_get(sel, "value");
            if (sent ? !selects(value, sent)
                     : !(sp && selects(value, json_object_get(sp, "default"))))
                continue;
        }
        match = t;
    }
    if (match == NULL) {
        problem(pr, rep->name, "window %s/%s on %s time: no such time pair in the spec of %s",
                c->start, c->end, rep->time_basis, str(m, "title"));
        return;
    }
    /* the narrowest span of that pair that applies to the params the catalog sends */
    long long span = 0;
    json_array_foreach(json_object_get(m, "spans"), i, t) {
        if (!name_matches(str(t, "start"), c->start))
            continue;
        const json_t *unless = json_object_get(t, "unless"), *when = json_object_get(t, "when");
        size_t k;
        json_t *p;
        int applies = 1;
        json_array_foreach(unless, k, p) if (json_object_get(c->params, json_string_value(p)))
            applies = 0;
        json_array_foreach(when, k, p) if (!json_object_get(c->params, json_string_value(p)))
            applies = 0;
        long long s = json_integer_value(json_object_get(t, "max_s"));
        if (applies && s > 0 && (span == 0 || s < span))
            span = s;
    }
    if (span == 0)
        problem(pr, rep->name, "the spec states no span for %s/%s", c->start, c->end);
    else if (rep->max_span != span)
        problem(pr, rep->name, "max_span_s is %lld, the spec's span for these params is %lld",
                (long long)rep->max_span, span);
}

static void check_params(const struct wdts_catalog_report *rep, const char *method,
                         const json_t *params, const json_t *m, struct problems *pr)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v) {
        const json_t *sp = find_by(json_object_get(m, "params"), "name", k);
        if (sp == NULL)
            problem(pr, rep->name, "param %s is not a parameter of %s in the spec", k, method);
        else
            check_param(rep, k, v, sp, pr);
    }
}

/* The archive (历史) method of rep: in the spec as the archive of rep's method, taking the
 * window and params the worker sends it, with the same list, key and change time. Its rows
 * may lack detail lists or their keys (nothing reads them by key). */
static void check_history(const struct wdts_catalog_report *rep, const json_t *methods,
                          struct problems *pr)
{
    if (rep->history_method[0] == '\0')
        return;
    const json_t *h = json_object_get(methods, rep->history_method);
    if (h == NULL) {
        problem(pr, rep->name, "history method %s is not in the spec", rep->history_method);
        return;
    }
    const char *of = str(json_object_get(h, "history_of"), "v");
    if (strcmp(of, rep->method) != 0)
        problem(pr, rep->name, "history method %s archives '%s' in the spec, not %s",
                rep->history_method, of, rep->method);
    const char *qm = str(json_object_get(h, "qimen"), "method");
    if (strcmp(rep->history_qimen_method, qm) != 0)
        problem(pr, rep->name, "history qimen_method is %s, the spec says %s",
                rep->history_qimen_method, qm);
    check_time(rep,
               &(struct call_shape){rep->history_time_start, rep->history_time_end,
                                    rep->history_params},
               h, pr);
    check_params(rep, rep->history_method, rep->history_params, h, pr);
    const char *list = str(json_object_get(h, "answer"), "list");
    if (strcmp(rep->list_key, list) != 0)
        problem(pr, rep->name, "history method %s lists its rows in %s, not %s",
                rep->history_method, list, rep->list_key);
    const json_t *row = json_object_get(h, "row");
    if (!names_equal(&rep->pk, json_object_get(row, "pk")))
        problem(pr, rep->name, "history method %s: pk differs from the spec's", rep->history_method);
    if (strcmp(rep->modified_field, str(row, "change_time")) != 0)
        problem(pr, rep->name, "history method %s: the change time is %s, not %s",
                rep->history_method, str(row, "change_time"), rep->modified_field);
}

/* Every fact of rep against method m of the spec; problems appended to pr. */
static void check_report(const struct wdts_catalog_report *rep, const json_t *methods,
                         struct problems *pr)
{
    const json_t *m = json_object_get(methods, rep->method);
    if (m == NULL) {
        problem(pr, rep->name, "method %s is not in the spec", rep->method);
        return;
    }
    const char *qm = str(json_object_get(m, "qimen"), "method");
    if (strcmp(rep->qimen_method, qm) != 0)
        problem(pr, rep->name, "qimen_method is %s, the spec says %s", rep->qimen_method, qm);
    int incremental = json_is_true(json_object_get(json_object_get(m, "incremental"), "v"));
    if (rep->kind == WDTS_REPORT_INCREMENTAL) {
        if (!incremental)
            problem(pr, rep->name, "incremental, but the spec says the method is not");
        else
            check_time(rep, &(struct call_shape){rep->time_start, rep->time_end, rep->params},
                       m, pr);
    }
    check_params(rep, rep->method, rep->params, m, pr);

    const json_t *answer = json_object_get(m, "answer");
    if (strcmp(rep->list_key, str(answer, "list")) != 0)
        problem(pr, rep->name, "list_key is %s, the spec says %s", rep->list_key,
                str(answer, "list"));
    long long max_page = json_integer_value(json_object_get(json_object_get(m, "paging"),
                                                            "max_page_size"));
    if (max_page > 0 && rep->max_page_size > max_page)
        problem(pr, rep->name, "max_page_size %d is above the spec's %lld", rep->max_page_size,
                max_page);

    const json_t *row = json_object_get(m, "row");
    if (!names_equal(&rep->pk, json_object_get(row, "pk")))
        problem(pr, rep->name, "pk differs from the spec's row pk");
    for (size_t i = 0; i < rep->pk_fallback.n; i++)
        if (find_by(json_object_get(row, "fields"), "name", rep->pk_fallback.v[i]) == NULL)
            problem(pr, rep->name, "pk_fallback field %s is not a field of the spec's rows",
                    rep->pk_fallback.v[i]);
    const char *ct = str(row, "change_time");
    if (strcmp(rep->modified_field, ct) != 0) {
        problem(pr, rep->name, "modified.field is %s, the spec's change time is %s",
                rep->modified_field, ct);
    } else {
        const json_t *f = find_by(json_object_get(row, "fields"), "name", ct);
        const char *form = rep->modified_format == WDTS_TIMEFMT_EPOCH_MS ? "epoch_ms"
                                                                          : "datetime";
        if (f == NULL)
            problem(pr, rep->name, "the change time %s is not a field of the spec's rows", ct);
        else if (json_object_get(f, "example") && strcmp(form, example_form(f)) != 0)
            problem(pr, rep->name, "modified.format is %s, the pages' example shows %s", form,
                    example_form(f));
    }

    const json_t *lists = json_object_get(row, "lists");
    for (size_t i = 0; i < rep->n_details; i++) {
        const json_t *l = find_by(lists, "key", rep->details[i].key);
        if (l == NULL)
            problem(pr, rep->name, "detail list %s is not in the spec", rep->details[i].key);
        else if (!names_equal(&rep->details[i].pk, json_object_get(l, "pk")))
            problem(pr, rep->name, "detail list %s: pk differs from the spec",
                    rep->details[i].key);
    }
    /* a PII field must be a field of the rows or of a detail list */
    for (size_t i = 0; i < rep->pii.n; i++) {
        int found = find_by(json_object_get(row, "fields"), "name", rep->pii.v[i]) != NULL;
        size_t j;
        json_t *l;
        json_array_foreach(lists, j, l) if (find_by(json_object_get(l, "fields"), "name",
                                                    rep->pii.v[i])) found = 1;
        if (!found)
            problem(pr, rep->name, "pii field %s is not a field in the spec", rep->pii.v[i]);
    }
}

static int check_catalog(const struct wdts_catalog *cat, struct problems *pr)
{
    memset(pr, 0, sizeof(*pr));
    const json_t *methods = json_object_get(spec, "methods");
    for (size_t i = 0; i < wdts_catalog_count(cat); i++) {
        check_report(wdts_catalog_at(cat, i), methods, pr);
        check_history(wdts_catalog_at(cat, i), methods, pr);
    }
    return pr->n;
}

/* ---- the sandbox's rows ----------------------------------------------------------- */

/* Does JSON value v have a type the spec's field f allows? What the pages' example shows
 * decides where there is one; else the table's type (decimals come as numbers or numeric
 * strings). null is allowed anywhere: the pages mark no field as never null. */
static int type_allowed(const json_t *f, const json_t *v)
{
    if (json_is_null(v))
        return 1;
    const char *ex = str(f, "example"), *type = str(f, "type");
    const char *want = *ex ? ex : type;
    if (!strcmp(type, "decimal") || !strcmp(want, "decimal"))
        return json_is_number(v) || json_is_string(v); /* an example's 0 shows no form */
    if (!strcmp(want, "datetime") || !strcmp(want, "date") || !strcmp(want, "string") ||
        !strcmp(want, "numeric_string") || !strcmp(want, "epoch_ms_string"))
        return json_is_string(v) || (!*ex && !strcmp(type, "string") && json_is_number(v));
    if (!strcmp(want, "epoch_ms") || !strcmp(want, "int"))
        return json_is_integer(v);
    if (!strcmp(want, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(want, "list"))
        return json_is_array(v);
    if (!strcmp(want, "object"))
        return json_is_object(v);
    return 0;
}

static const char *json_type_name(const json_t *v)
{
    static const char *const names[] = {"object", "array",  "string", "integer",
                                        "real",   "true",   "false",  "null"};
    return names[json_typeof(v)];
}

/* Every member of row against the spec's fields (nested lists: their own fields). */
static void check_row(const char *where, const json_t *row, const json_t *fields,
                      const json_t *lists, struct problems *pr)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)row, k, v) {
        const json_t *list = find_by(lists, "key", k);
        if (list && (json_is_array(v) || json_is_object(v))) {
            size_t i;
            json_t *el;
            char sub[160];
            snprintf(sub, sizeof(sub), "%s.%s", where, k);
            if (json_is_object(v))
                check_row(sub, v, json_object_get(list, "fields"), lists, pr);
            else
                json_array_foreach(v, i, el) check_row(sub, el, json_object_get(list, "fields"),
                                                        lists, pr);
            continue;
        }
        const json_t *f = find_by(fields, "name", k);
        if (f == NULL)
            problem(pr, where, "field %s is not in the spec", k);
        else if (!type_allowed(f, v))
            problem(pr, where, "field %s is %s, the spec says %s%s%s", k, json_type_name(v),
                    str(f, "type"), *str(f, "example") ? ", example " : "", str(f, "example"));
    }
}

/* The generator (sandbox/sbx_generic.h) run on every report of the catalog from these
 * methods (SBX_REPORTS_GENERATE_ALL: the hand-made ones too, so every method of the spec
 * with a catalog entry is generated), rows of both routes checked against the spec. */
static void check_generated(const json_t *methods, struct problems *pr, size_t *rows)
{
    json_t *wrap = json_pack("{s:O}", "methods", (json_t *)methods);
    char *spec_text = json_dumps(wrap, 0);
    json_decref(wrap);
    size_t clen;
    const char *ctext = wdts_catalog_embedded(&clen);
    char *cat = strndup(ctext, clen), es[8192];
    struct sbx_reports *reg = sbx_reports_new_from_json(cat, spec_text, SBX_REPORTS_GENERATE_ALL,
                                                        es, sizeof(es));
    free(cat);
    free(spec_text);
    if (reg == NULL) {
        problem(pr, "generator", "%s", es);
        return;
    }
    const struct sbx_dataset ds = {21, 3000, 1780000000LL};
    const int64_t as_of = ds.data_origin + 40 * 86400;
    struct wdts_buf b;
    wdts_buf_init(&b);
    for (size_t i = 0; i < reg->n_gen; i++) {
        const struct sbx_gen_report *g = &reg->gen[i];
        const json_t *row = json_object_get(json_object_get(methods, g->rep->method), "row");
        char where[160];
        snprintf(where, sizeof(where), "generated %s", g->rep->method);
        for (int route = SBX_ROUTE_WDT; route <= SBX_ROUTE_QIMEN; route++) {
            struct sbx_result res;
            assert_int_equal(sbx_gen_select(g, &ds, (enum sbx_route)route, as_of - 20 * 86400,
                                            as_of - 86400, as_of, &res),
                             WDTS_OK);
            if (res.n == 0)
                problem(pr, where, "no rows to check in the sample window");
            for (size_t r = 0; r < res.n && r < 40; r++, (*rows)++) {
                wdts_buf_reset(&b);
                sbx_gen_render(g, &ds, (enum sbx_route)route, res.hits[r].id, as_of,
                               SBX_TIMEFMT_DOC, &b);
                json_t *rec = json_loads(wdts_buf_str(&b), 0, NULL);
                if (!json_is_object(rec))
                    problem(pr, where, "a row is not a JSON object");
                else
                    check_row(where, rec, json_object_get(row, "fields"),
                              json_object_get(row, "lists"), pr);
                json_decref(rec);
            }
            sbx_result_deinit(&res);
        }
    }
    wdts_buf_deinit(&b);
    sbx_reports_destroy(reg);
}

/* Renders rows of every method of the sandbox on both routes (the hand-made model, then the
 * generator), checks them against the spec; rows: the number of rows checked. */
static void check_sandbox(const json_t *methods, struct problems *pr, size_t *rows)
{
    memset(pr, 0, sizeof(*pr));
    *rows = 0;
    size_t nm;
    const struct sbx_method *table = sbx_method_table(&nm);
    const struct sbx_dataset ds = {21, 3000, 1780000000LL};
    const int64_t as_of = ds.data_origin + 40 * 86400;
    struct wdts_buf b, cut;
    wdts_buf_init(&b);
    wdts_buf_init(&cut);
    for (size_t i = 0; i < nm; i++) {
        if (!table[i].is_data)
            continue;
        const json_t *m = json_object_get(methods, table[i].direct);
        /* a history method the spec lists: its rows are cut to its own page, as served */
        const json_t *hrow = table[i].history && m ? json_object_get(m, "row") : NULL;
        for (size_t p = 0; m == NULL && table[i].history && p < nm; p++)
            /* a history (历史) method the spec does not list yet: its rows are its parent's
             * (same entity), so they are checked against the parent's fields */
            if (!table[p].history && table[p].is_data && table[p].entity == table[i].entity)
                m = json_object_get(methods, table[p].direct);
        if (m == NULL) {
            problem(pr, table[i].direct, "the sandbox serves a method the spec lacks");
            continue;
        }
        const json_t *row = json_object_get(m, "row");
        for (int route = SBX_ROUTE_WDT; route <= SBX_ROUTE_QIMEN; route++) {
            struct sbx_result res;
            int64_t end = as_of - 86400, start = end - (table[i].narrow_param ? 3600 : 20 * 86400);
            assert_int_equal(sbx_data_select(&ds, table[i].entity, (enum sbx_route)route,
                                             SBX_TIME_MODIFIED, start, end, as_of, &res),
                             WDTS_OK);
            if (res.n == 0)
                problem(pr, table[i].direct, "no rows to check in the sample window");
            for (size_t r = 0; r < res.n && r < 40; r++, (*rows)++) {
                wdts_buf_reset(&b);
                sbx_data_render(&ds, table[i].entity, (enum sbx_route)route, res.hits[r].id,
                                as_of, &b);
                if (hrow) {
                    wdts_buf_reset(&cut);
                    sbx_conform_row(hrow, NULL, wdts_buf_str(&b), b.len, &cut);
                    wdts_buf_reset(&b);
                    wdts_buf_append(&b, wdts_buf_str(&cut), cut.len);
                }
                json_t *rec = json_loads(wdts_buf_str(&b), 0, NULL);
                if (!json_is_object(rec))
                    problem(pr, table[i].direct, "a row is not a JSON object");
                else
                    check_row(table[i].direct, rec, json_object_get(row, "fields"),
                              json_object_get(row, "lists"), pr);
                json_decref(rec);
            }
            sbx_result_deinit(&res);
        }
    }
    wdts_buf_deinit(&b);
    wdts_buf_deinit(&cut);
    check_generated(methods, pr, rows);
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_spec_cites_its_facts(void **state)
{
    (void)state;
    const json_t *sources = json_object_get(spec, "sources");
    assert_true(json_object_size(sources) >= 2);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sources, k, v) {
        assert_true(strlen(str(v, "repo")) > 0);
        assert_int_equal(strlen(str(v, "commit")), 40);
    }
    /* every method: the answer's list, row pk and change time carry a source line; rows
     * without a change time (employees, platform categories) say why instead */
    json_object_foreach(json_object_get(spec, "methods"), k, v) {
        const json_t *row = json_object_get(v, "row");
        const char *at[] = {str(json_object_get(v, "answer"), "list_at"), str(row, "pk_at"),
                            str(row, "change_time_at")};
        size_t n = 3;
        if (json_is_null(json_object_get(row, "change_time"))) {
            if (strlen(str(row, "change_time_note")) == 0)
                fail_msg("%s: rows without a change time, and no change_time_note", k);
            n = 2;
        }
        for (size_t i = 0; i < n; i++) {
            const char *sep = strchr(at[i], '@');
            long long line;
            if (sep == NULL || wdts_parse_int(sep + 1, 1, INT64_MAX, &line) != WDTS_OK)
                fail_msg("%s: a fact without a source line (%s)", k, at[i]);
            char src[32];
            snprintf(src, sizeof(src), "%.*s", (int)(sep - at[i]), at[i]);
            if (json_object_get(sources, src) == NULL)
                fail_msg("%s: source %s is not in sources", k, src);
        }
    }
}

static void test_catalog_agrees_with_spec(void **state)
{
    (void)state;
    char es[512];
    struct wdts_catalog *cat = wdts_catalog_new(NULL, es, sizeof(es));
    assert_non_null(cat);
    struct problems pr;
    if (check_catalog(cat, &pr) != 0) {
        fprintf(stderr, "%s", pr.text);
        fail_msg("the catalog disagrees with the API spec in %d places (listed above)", pr.n);
    }
    wdts_catalog_destroy(cat);
}

/* The embedded catalog with one member of one report replaced. */
static struct wdts_catalog *broken(const char *report, const char *member, const char *value)
{
    size_t len;
    const char *text = wdts_catalog_embedded(&len);
    json_t *arr = json_loadb(text, len, 0, NULL), *rep = NULL, *r;
    size_t i;
    json_array_foreach(arr, i, r) if (strcmp(str(r, "name"), report) == 0) rep = r;
    assert_non_null(rep);
    json_object_set_new(rep, member, json_loads(value, JSON_DECODE_ANY, NULL));
    char *out = json_dumps(arr, 0), es[1024];
    struct wdts_catalog *cat = wdts_catalog_new_from_json(out, strlen(out), "broken", es,
                                                          sizeof(es));
    if (cat == NULL)
        fail_msg("%s", es);
    free(out);
    json_decref(arr);
    return cat;
}

static void test_broken_facts_are_caught(void **state)
{
    (void)state;
    static const struct {
        const char *report, *member, *value, *want;
    } cases[] = {
        /* the row-level change time of suites is suite_modified */
        {"suites", "modified", "{\"field\":\"modified\",\"format\":\"datetime\"}",
         "suites: modified.field is modified"},
        /* without spec_no, stock changes span at most an hour */
        {"stock_changes", "max_span_s", "2592000", "spec's span for these params is 3600"},
        /* the refunds page shows modified as epoch ms */
        {"refunds", "modified", "{\"field\":\"modified\",\"format\":\"datetime\"}",
         "the pages' example shows epoch_ms"},
        {"stock", "qimen_method", "\"wdt.wms.stockspec.search2\"", "the spec says wdt.wms.stockspec.search"},
        {"trades", "list_key", "\"orders\"", "list_key is orders"},
        {"trades", "pk", "[\"trade_no\"]", "trades: pk differs"},
        {"trades", "params", "{\"time_type\":2}", "no such time pair"},
        {"goods", "params", "{\"hide_deletd\":0}", "param hide_deletd is not a parameter"},
        {"stockouts", "params", "{\"status_type\":3,\"status\":\"5,10,999\"}",
         "999 is not among the values"},
        {"stockouts", "details", "[{\"key\":\"detail_list\",\"pk\":[\"rec_id\"]}]",
         "detail list detail_list is not in the spec"},
        {"trades", "pii", "[\"receiver_name\",\"buyer_email\"]", "pii field buyer_email"},
        {"stock", "max_page_size", "2000", "above the spec's 1000"},
        {"stock_changes", "pk_fallback", "[\"warehouse_no\",\"stockio\"]",
         "pk_fallback field stockio is not"},
        /* the refund archive's window is start_time/end_time */
        {"refunds", "history",
         "{\"method\":\"aftersales.refund.Refund.searchHistory\","
         "\"qimen_method\":\"wdt.aftersales.refund.refund.searchhistory\"}",
         "window modified_from/modified_to on modified time: no such time pair in the spec of"},
        /* the stockout archive has no status_type 3 and no status list */
        {"stockouts", "history",
         "{\"method\":\"wms.stockout.Sales.queryHistoryWithDetail\","
         "\"qimen_method\":\"wdt.wms.stockout.sales.queryhistorywithdetail\"}",
         "param status is not a parameter of wms.stockout.Sales.queryHistoryWithDetail"},
        {"trades", "history",
         "{\"method\":\"sales.TradeQuery.queryWithDetail2\",\"qimen_method\":\"wdt.x.y\"}",
         "history method sales.TradeQuery.queryWithDetail2 is not in the spec"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wdts_catalog *cat = broken(cases[i].report, cases[i].member, cases[i].value);
        struct problems pr;
        check_catalog(cat, &pr);
        if (strstr(pr.text, cases[i].want) == NULL)
            fail_msg("breaking %s.%s = %s was not caught (want \"%s\"); problems:\n%s",
                     cases[i].report, cases[i].member, cases[i].value, cases[i].want, pr.text);
        wdts_catalog_destroy(cat);
    }
}

static void test_sandbox_rows_agree_with_spec(void **state)
{
    (void)state;
    struct problems pr;
    size_t rows;
    check_sandbox(json_object_get(spec, "methods"), &pr, &rows);
    if (pr.n != 0) {
        fprintf(stderr, "%s", pr.text);
        fail_msg("sandbox rows disagree with the API spec in %d ways (listed above)", pr.n);
    }
    printf("# %zu sandbox rows checked against the spec (hand-made and generated)\n", rows);
    assert_true(rows > 1000);
}

/* A spec that lost one field, and one that gives a field another type: both are caught. */
static void test_broken_sandbox_fields_are_caught(void **state)
{
    (void)state;
    json_t *methods = json_deep_copy(json_object_get(spec, "methods"));
    json_t *fields = json_object_get(
        json_object_get(json_object_get(methods, "goods.Suite.search"), "row"), "fields");
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        if (strcmp(str(f, "name"), "suite_name") == 0) {
            json_array_remove(fields, i);
            break;
        }
    }
    fields = json_object_get(
        json_object_get(json_object_get(methods, "aftersales.refund.Refund.search"), "row"),
        "fields");
    json_t *modified = find_by(fields, "name", "modified");
    assert_non_null(modified);
    json_object_set_new(modified, "example", json_string("datetime"));
    struct problems pr;
    size_t rows;
    check_sandbox(methods, &pr, &rows);
    json_decref(methods);
    assert_non_null(strstr(pr.text, "goods.Suite.search: field suite_name is not in the spec"));
    assert_non_null(strstr(pr.text, "aftersales.refund.Refund.search: field modified is integer, "
                                    "the spec says string, example datetime"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_cites_its_facts),
        cmocka_unit_test(test_catalog_agrees_with_spec),
        cmocka_unit_test(test_broken_facts_are_caught),
        cmocka_unit_test(test_sandbox_rows_agree_with_spec),
        cmocka_unit_test(test_broken_sandbox_fields_are_caught),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
