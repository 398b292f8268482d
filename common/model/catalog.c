/* Report catalog loading and validation (see catalog.h). The parsed JSON is kept
 * for the catalog's lifetime and every string in an entry points into it, so an
 * entry costs a few pointers. Validation collects every problem, not just the
 * first, so one edit of reports.json can fix them all. */
#include "wdts/catalog.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/job.h"
#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"

/* Generated at build time from common/model/catalog/reports.json (wdts_embed_file of
 * common/cmake/embed-file.cmake, called in common/CMakeLists.txt). */
extern const unsigned char wdts_catalog_embedded_json[];
extern const size_t wdts_catalog_embedded_json_len;

#define MAX_SPAN_LIMIT (366LL * 86400)    /* no WDT method allows more than 30 days */
#define MAX_INTERVAL_LIMIT (30LL * 86400) /* snapshots at least monthly */
#define MAX_PAGE_SIZE_LIMIT 2000          /* the largest page any method documents */

struct wdts_catalog {
    json_t *root;                        /* owned; every borrowed string lives here */
    struct wdts_catalog_report *reports; /* owned array of n */
    size_t n;
};

/* Problems found so far; rendered into errstr at the end. */
struct problems {
    struct wdts_buf text;
    int count;
};

static void problem(struct problems *pr, const char *entry, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(struct problems *pr, const char *entry, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (pr->count > 0)
        wdts_buf_append_str(&pr->text, "; ");
    wdts_buf_printf(&pr->text, "%s: %s", entry, msg);
    pr->count++;
}

static const char *const entry_fields[] = {
    "name",         "description",   "kind",     "method",
    "qimen_method", "time",          "params",   "max_span_s",
    "page_size",    "max_page_size", "list_key", "pk",
    "pk_fallback",  "modified",      "details",  "pii",
    "snapshot_interval_s", "notes",    "group",    "history",
    "lookback_s",
};
#define N_ENTRY_FIELDS (sizeof(entry_fields) / sizeof(entry_fields[0]))

/* The report groups `--reports` selects by (wdts/catalog.h), and the times a window may
 * filter on (the API spec's `basis` words). */
const char *const wdts_catalog_groups[] = {"sales",   "aftersales", "stock",    "purchase",
                                           "finance", "goods",      "settings", NULL};
static const char *const basis_words[] = {"modified", "created", "paid",  "consigned",
                                          "audited",  "stockin", "other", NULL};

static int in_list(const char *s, const char *const *words)
{
    return wdts_word_index(words, SIZE_MAX, s) >= 0;
}

/* A required (or, with optional, possibly absent) string; "" stands in when absent or bad. */
static const char *get_string(json_t *obj, const char *field, int optional, int nonempty,
                              struct problems *pr, const char *entry)
{
    json_t *v = json_object_get(obj, field);
    if (v == NULL) {
        if (!optional)
            problem(pr, entry, "'%s' is missing", field);
        return "";
    }
    const char *s = json_string_value(v);
    if (s == NULL) {
        problem(pr, entry, "'%s' must be a string", field);
        return "";
    }
    if (nonempty && *s == '\0')
        problem(pr, entry, "'%s' must not be empty", field);
    return s;
}

/* A required positive integer of seconds, a multiple of 60 and at most limit. */
static int64_t get_seconds(json_t *obj, const char *field, long long limit, struct problems *pr,
                           const char *entry)
{
    json_t *v = json_object_get(obj, field);
    if (v == NULL) {
        problem(pr, entry, "'%s' is missing", field);
        return 0;
    }
    if (!json_is_integer(v)) {
        problem(pr, entry, "'%s' must be an integer number of seconds", field);
        return 0;
    }
    long long s = json_integer_value(v);
    if (s <= 0 || s % 60 != 0 || s > limit) {
        problem(pr, entry,
                "'%s' must be a positive multiple of 60 seconds, at most %lld (got %lld)", field,
                limit, s);
        return 0;
    }
    return s;
}

/* An array of non-empty strings into names (pointers borrowed from the JSON). */
static void get_names(json_t *obj, const char *field, int optional, int nonempty,
                      struct wdts_catalog_names *names, struct problems *pr, const char *entry)
{
    names->v = NULL;
    names->n = 0;
    json_t *arr = json_object_get(obj, field);
    if (arr == NULL) {
        if (!optional)
            problem(pr, entry, "'%s' is missing", field);
        return;
    }
    if (!json_is_array(arr)) {
        problem(pr, entry, "'%s' must be an array of field names", field);
        return;
    }
    size_t n = json_array_size(arr);
    if (nonempty && n == 0) {
        problem(pr, entry, "'%s' must name at least one field", field);
        return;
    }
    names->v = wdts_xcalloc(n + 1, sizeof(*names->v));
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s == NULL || *s == '\0') {
            problem(pr, entry, "'%s'[%zu] must be a non-empty string", field, i);
            continue;
        }
        names->v[names->n++] = s;
    }
}

static int is_method(const char *s)
{
    /* dotted identifiers: "sales.TradeQuery.queryWithDetail" */
    int dots = 0;
    size_t seg = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (seg == 0)
                return 0;
            dots++;
            seg = 0;
        } else if (isalnum((unsigned char)*p)) {
            seg++;
        } else {
            return 0;
        }
    }
    return dots >= 1 && seg > 0;
}

/* The Qimen name is a fact of the official Qimen SDK, not always derived from the direct
 * method (the stock query is wdt.wms.stockspec.search for wms.StockSpec.search2), so only
 * its form is checked here; tests/unit/test_spec.c compares it with the API spec. */
static void check_qimen_method(const char *q, struct problems *pr, const char *entry)
{
    if (*q == '\0')
        return;
    if (!wdts_str_has_prefix(q, "wdt.") || !is_method(q)) {
        problem(pr, entry, "'qimen_method' must be a Qimen method name \"wdt.x.y\" (got '%s')", q);
        return;
    }
    for (const char *p = q; *p; p++) {
        if (isupper((unsigned char)*p)) {
            problem(pr, entry, "'qimen_method' must be lower case (got '%s')", q);
            return;
        }
    }
}

static void parse_time(json_t *e, struct wdts_catalog_report *rep, int kind_ok, struct problems *pr,
                       const char *entry)
{
    rep->time_start = rep->time_end = rep->time_basis = rep->time_meaning = "";
    json_t *t = json_object_get(e, "time");
    if (t == NULL) {
        if (kind_ok && rep->kind == WDTS_REPORT_INCREMENTAL)
            problem(pr, entry,
                    "'time' is missing (an incremental report needs its window parameters)");
        return;
    }
    if (!json_is_object(t)) {
        problem(pr, entry, "'time' must be an object {start, end, basis, meaning}");
        return;
    }
    const char *key;
    json_t *val;
    json_object_foreach (t, key, val) {
        if (strcmp(key, "start") && strcmp(key, "end") && strcmp(key, "basis") &&
            strcmp(key, "meaning"))
            problem(pr, entry, "'time' has an unknown field '%s' (start, end, basis, meaning)",
                    key);
    }
    rep->time_start = get_string(t, "start", 0, 1, pr, entry);
    rep->time_end = get_string(t, "end", 0, 1, pr, entry);
    rep->time_basis = get_string(t, "basis", 0, 1, pr, entry);
    if (*rep->time_basis && !in_list(rep->time_basis, basis_words))
        problem(pr, entry,
                "'time.basis' must be one of modified, created, paid, consigned, audited, "
                "stockin, other (got '%s')",
                rep->time_basis);
    rep->time_meaning = get_string(t, "meaning", 1, 0, pr, entry);
    if (*rep->time_start && strcmp(rep->time_start, rep->time_end) == 0)
        problem(pr, entry, "'time.start' and 'time.end' must be different parameters");
}

/* Fixed request parameters `p` (of the report or of its history method): strings, integers
 * and booleans, none of them the window's own parameters. */
static void check_fixed_params(json_t *p, const char *field, const char *start, const char *end,
                               struct problems *pr, const char *entry)
{
    if (!json_is_object(p)) {
        problem(pr, entry, "'%s' must be an object of fixed request parameters", field);
        return;
    }
    const char *key;
    json_t *val;
    json_object_foreach (p, key, val) {
        /* Nulls and floats are signed differently by different Qimen helpers (docs/API.md §6.1). */
        if (!json_is_string(val) && !json_is_integer(val) && !json_is_boolean(val))
            problem(pr, entry, "'%s.%s' must be a string, an integer or a boolean", field, key);
        if ((*start && strcmp(key, start) == 0) || (*end && strcmp(key, end) == 0))
            problem(pr, entry, "'%s.%s' is the window parameter; the planner sets it", field,
                    key);
    }
}

static void parse_params(json_t *e, struct wdts_catalog_report *rep, struct problems *pr,
                         const char *entry)
{
    json_t *p = json_object_get(e, "params");
    if (p == NULL) {
        /* An empty object owned by the root, so params is never NULL. */
        p = json_object();
        json_object_set_new(e, "params", p);
    }
    rep->params = p;
    check_fixed_params(p, "params", rep->time_start, rep->time_end, pr, entry);
}

static void parse_modified(json_t *e, struct wdts_catalog_report *rep, struct problems *pr,
                           const char *entry)
{
    rep->modified_field = "";
    rep->modified_format = WDTS_TIMEFMT_DATETIME;
    json_t *m = json_object_get(e, "modified");
    if (m == NULL) {
        problem(pr, entry,
                "'modified' is missing ({\"field\": …, \"format\": \"datetime\"|\"epoch_ms\"})");
        return;
    }
    if (!json_is_object(m)) {
        problem(pr, entry, "'modified' must be an object {field, format}");
        return;
    }
    rep->modified_field = get_string(m, "field", 0, 1, pr, entry);
    const char *fmt = get_string(m, "format", 0, 1, pr, entry);
    if (strcmp(fmt, "datetime") == 0)
        rep->modified_format = WDTS_TIMEFMT_DATETIME;
    else if (strcmp(fmt, "epoch_ms") == 0)
        rep->modified_format = WDTS_TIMEFMT_EPOCH_MS;
    else if (*fmt)
        problem(pr, entry, "'modified.format' must be \"datetime\" or \"epoch_ms\" (got '%s')",
                fmt);
}

static void parse_details(json_t *e, struct wdts_catalog_report *rep, struct problems *pr,
                          const char *entry)
{
    rep->details = NULL;
    rep->n_details = 0;
    json_t *arr = json_object_get(e, "details");
    if (arr == NULL)
        return;
    if (!json_is_array(arr)) {
        problem(pr, entry, "'details' must be an array of {key, pk}");
        return;
    }
    size_t n = json_array_size(arr);
    struct wdts_catalog_detail *d = wdts_xcalloc(n + 1, sizeof(*d));
    rep->details = d;
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(arr, i);
        char where[128];
        snprintf(where, sizeof(where), "%s: details[%zu]", entry, i);
        if (!json_is_object(it)) {
            problem(pr, where, "must be an object {key, pk}");
            continue;
        }
        d[rep->n_details].key = get_string(it, "key", 0, 1, pr, where);
        get_names(it, "pk", 0, 1, &d[rep->n_details].pk, pr, where);
        rep->n_details++;
    }
}

/* The archive (历史) counterpart: the same paging, list and keys; the same window and fixed
 * parameters unless `time` / `params` say the archive method's own. */
static void parse_history(json_t *e, struct wdts_catalog_report *rep, int kind_ok,
                          struct problems *pr, const char *entry)
{
    rep->history_time_start = rep->time_start;
    rep->history_time_end = rep->time_end;
    rep->history_params = rep->params;
    json_t *h = json_object_get(e, "history");
    if (h == NULL)
        return;
    if (!json_is_object(h)) {
        problem(pr, entry, "'history' must be an object {method, qimen_method[, time, params]}");
        return;
    }
    const char *key;
    json_t *val;
    json_object_foreach (h, key, val) {
        if (strcmp(key, "method") && strcmp(key, "qimen_method") && strcmp(key, "time") &&
            strcmp(key, "params"))
            problem(pr, entry,
                    "'history' has an unknown field '%s' (method, qimen_method, time, params)",
                    key);
    }
    json_t *t = json_object_get(h, "time");
    if (t != NULL) {
        if (!json_is_object(t) || json_object_size(t) != 2) {
            problem(pr, entry, "'history.time' must be an object {start, end}");
        } else {
            rep->history_time_start = get_string(t, "start", 0, 1, pr, entry);
            rep->history_time_end = get_string(t, "end", 0, 1, pr, entry);
            if (*rep->history_time_start &&
                strcmp(rep->history_time_start, rep->history_time_end) == 0)
                problem(pr, entry, "'history.time.start' and '.end' must be different");
        }
    }
    json_t *p = json_object_get(h, "params");
    if (p != NULL) {
        check_fixed_params(p, "history.params", rep->history_time_start, rep->history_time_end,
                           pr, entry);
        if (json_is_object(p))
            rep->history_params = p;
    }
    if (kind_ok && rep->kind != WDTS_REPORT_INCREMENTAL)
        problem(pr, entry, "'history' is only for incremental reports");
    rep->history_method = get_string(h, "method", 0, 1, pr, entry);
    if (*rep->history_method && !is_method(rep->history_method))
        problem(pr, entry, "'history.method' must be a dotted API method name (got '%s')",
                rep->history_method);
    if (*rep->history_method && strcmp(rep->history_method, rep->method) == 0)
        problem(pr, entry, "'history.method' must differ from 'method'");
    rep->history_qimen_method = get_string(h, "qimen_method", 0, 1, pr, entry);
    check_qimen_method(rep->history_qimen_method, pr, entry);
}

/* How far back a report whose basis is not its change time is read again. */
static void parse_lookback(json_t *e, struct wdts_catalog_report *rep, int kind_ok,
                           struct problems *pr, const char *entry)
{
    if (json_object_get(e, "lookback_s") == NULL)
        return;
    if (kind_ok && rep->kind != WDTS_REPORT_INCREMENTAL) {
        problem(pr, entry, "'lookback_s' is only for incremental reports");
        return;
    }
    rep->lookback = get_seconds(e, "lookback_s", MAX_SPAN_LIMIT, pr, entry);
}

/* kind: incremental or snapshot. @returns 1 when known (without a kind, the checks that
 * depend on it would only add noise). */
static int parse_kind(json_t *e, struct wdts_catalog_report *rep, struct problems *pr,
                      const char *entry)
{
    const char *kind = get_string(e, "kind", 0, 1, pr, entry);
    if (strcmp(kind, "incremental") == 0) {
        rep->kind = WDTS_REPORT_INCREMENTAL;
        return 1;
    }
    if (strcmp(kind, "snapshot") == 0) {
        rep->kind = WDTS_REPORT_SNAPSHOT;
        return 1;
    }
    if (*kind)
        problem(pr, entry, "'kind' must be \"incremental\" or \"snapshot\" (got '%s')", kind);
    return 0;
}

/* The widest window of an incremental report, or the interval of a snapshot one. */
static void parse_window(json_t *e, struct wdts_catalog_report *rep, struct problems *pr,
                         const char *entry)
{
    if (rep->kind == WDTS_REPORT_INCREMENTAL) {
        rep->max_span = get_seconds(e, "max_span_s", MAX_SPAN_LIMIT, pr, entry);
        if (json_object_get(e, "snapshot_interval_s"))
            problem(pr, entry, "'snapshot_interval_s' is only for snapshot reports");
    } else {
        rep->snapshot_interval =
            get_seconds(e, "snapshot_interval_s", MAX_INTERVAL_LIMIT, pr, entry);
        if (json_object_get(e, "max_span_s"))
            problem(pr, entry, "'max_span_s' is only for incremental reports");
    }
}

/* page_size within max_page_size, both in [1, MAX_PAGE_SIZE_LIMIT]. */
static void parse_page_size(json_t *e, struct wdts_catalog_report *rep, struct problems *pr,
                            const char *entry)
{
    json_t *ps = json_object_get(e, "page_size");
    json_t *mps = json_object_get(e, "max_page_size");
    if (!json_is_integer(mps) || json_integer_value(mps) < 1 ||
        json_integer_value(mps) > MAX_PAGE_SIZE_LIMIT) {
        problem(pr, entry, "'max_page_size' must be an integer in [1, %d]", MAX_PAGE_SIZE_LIMIT);
    } else {
        rep->max_page_size = (int)json_integer_value(mps);
    }
    if (!json_is_integer(ps) || json_integer_value(ps) < 1 ||
        json_integer_value(ps) > MAX_PAGE_SIZE_LIMIT) {
        problem(pr, entry, "'page_size' must be an integer in [1, %d]", MAX_PAGE_SIZE_LIMIT);
    } else {
        rep->page_size = (int)json_integer_value(ps);
        if (rep->max_page_size && rep->page_size > rep->max_page_size)
            problem(pr, entry, "'page_size' %d is larger than 'max_page_size' %d", rep->page_size,
                    rep->max_page_size);
    }
}

/* Fills rep from entry e; every problem goes to pr under the entry's name. */
static void parse_entry(json_t *e, size_t idx, struct wdts_catalog_report *rep, struct problems *pr)
{
    char entry[WDTS_JOB_NAME_MAX + 32];
    snprintf(entry, sizeof(entry), "entry %zu", idx);
    memset(rep, 0, sizeof(*rep));
    rep->name = rep->description = rep->method = rep->qimen_method = rep->list_key = "";
    rep->notes = rep->time_start = rep->time_end = rep->time_basis = rep->time_meaning = "";
    rep->modified_field = rep->group = rep->history_method = rep->history_qimen_method = "";
    if (!json_is_object(e)) {
        problem(pr, entry, "must be an object");
        rep->params = NULL;
        return;
    }
    const char *name = json_string_value(json_object_get(e, "name"));
    if (name == NULL) {
        problem(pr, entry, "'name' is missing or not a string");
    } else if (!wdts_job_name_valid(name)) {
        problem(pr, entry, "'name' '%.64s' must be 1-%d characters of A-Z a-z 0-9 _ . -", name,
                WDTS_JOB_NAME_MAX);
    } else {
        rep->name = name;
        snprintf(entry, sizeof(entry), "%s", name);
    }

    const char *key;
    json_t *val;
    json_object_foreach (e, key, val) {
        if (wdts_word_index(entry_fields, N_ENTRY_FIELDS, key) < 0)
            problem(pr, entry, "unknown field '%s'", key);
    }

    rep->description = get_string(e, "description", 0, 1, pr, entry);
    int kind_ok = parse_kind(e, rep, pr, entry);

    rep->method = get_string(e, "method", 0, 1, pr, entry);
    if (*rep->method && !is_method(rep->method))
        problem(pr, entry, "'method' must be a dotted API method name (got '%s')", rep->method);
    rep->qimen_method = get_string(e, "qimen_method", 0, 1, pr, entry);
    check_qimen_method(rep->qimen_method, pr, entry);

    parse_time(e, rep, kind_ok, pr, entry);
    parse_params(e, rep, pr, entry);

    if (kind_ok) /* else the span or interval is checked once the kind is fixed */
        parse_window(e, rep, pr, entry);
    parse_page_size(e, rep, pr, entry);

    rep->list_key = get_string(e, "list_key", 0, 1, pr, entry);
    get_names(e, "pk", 0, 1, &rep->pk, pr, entry);
    get_names(e, "pk_fallback", 1, 1, &rep->pk_fallback, pr, entry);
    parse_modified(e, rep, pr, entry);
    parse_details(e, rep, pr, entry);
    get_names(e, "pii", 1, 0, &rep->pii, pr, entry);
    rep->notes = get_string(e, "notes", 1, 0, pr, entry);
    rep->group = get_string(e, "group", 0, 1, pr, entry);
    if (*rep->group && !in_list(rep->group, wdts_catalog_groups))
        problem(pr, entry,
                "'group' must be one of sales, aftersales, stock, purchase, finance, goods, "
                "settings (got '%s')",
                rep->group);
    parse_history(e, rep, kind_ok, pr, entry);
    parse_lookback(e, rep, kind_ok, pr, entry);
}

static void free_reports(struct wdts_catalog_report *reports, size_t n)
{
    for (size_t i = 0; reports && i < n; i++) {
        for (size_t d = 0; d < reports[i].n_details; d++)
            free(reports[i].details[d].pk.v);
        free((void *)reports[i].details);
        free(reports[i].pk.v);
        free(reports[i].pk_fallback.v);
        free(reports[i].pii.v);
    }
    free(reports);
}

struct wdts_catalog *wdts_catalog_new_from_json(const char *json, size_t len, const char *origin,
                                                char *errstr, size_t errstr_size)
{
    struct wdts_catalog *cat = wdts_xcalloc(1, sizeof(*cat));
    struct problems pr = {.count = 0};
    wdts_buf_init(&pr.text);
    json_error_t jerr;
    cat->root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (cat->root == NULL) {
        snprintf(errstr, errstr_size, "catalog %s: not valid JSON: %s (line %d, column %d)", origin,
                 jerr.text, jerr.line, jerr.column);
        goto fail;
    }
    if (!json_is_array(cat->root) || json_array_size(cat->root) == 0) {
        snprintf(errstr, errstr_size, "catalog %s: must be a non-empty JSON array of reports",
                 origin);
        goto fail;
    }
    cat->n = json_array_size(cat->root);
    cat->reports = wdts_xcalloc(cat->n, sizeof(*cat->reports));
    for (size_t i = 0; i < cat->n; i++) {
        parse_entry(json_array_get(cat->root, i), i, &cat->reports[i], &pr);
        for (size_t j = 0; j < i && *cat->reports[i].name; j++) {
            if (strcmp(cat->reports[i].name, cat->reports[j].name) == 0) {
                problem(&pr, cat->reports[i].name, "duplicate name (entries %zu and %zu)", j, i);
                break;
            }
        }
    }
    if (pr.count > 0) {
        snprintf(errstr, errstr_size, "catalog %s: %d problem%s: %s", origin, pr.count,
                 pr.count == 1 ? "" : "s", wdts_buf_str(&pr.text));
        goto fail;
    }
    wdts_buf_deinit(&pr.text);
    return cat;
fail:
    wdts_buf_deinit(&pr.text);
    wdts_catalog_destroy(cat);
    return NULL;
}

struct wdts_catalog *wdts_catalog_new(const char *path, char *errstr, size_t errstr_size)
{
    if (path == NULL)
        return wdts_catalog_new_from_json((const char *)wdts_catalog_embedded_json,
                                          wdts_catalog_embedded_json_len, "(embedded)", errstr,
                                          errstr_size);
    struct wdts_catalog *cat = NULL;
    struct wdts_buf text;
    wdts_buf_init(&text);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(errstr, errstr_size, "catalog %s: cannot open: %s (give a readable JSON file)",
                 path, strerror(errno));
        goto out;
    }
    char chunk[8192];
    size_t r;
    while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
        wdts_buf_append(&text, chunk, r);
    if (ferror(f)) {
        snprintf(errstr, errstr_size, "catalog %s: read error", path);
        goto out;
    }
    cat = wdts_catalog_new_from_json(wdts_buf_str(&text), text.len, path, errstr, errstr_size);
out:
    if (f)
        fclose(f);
    wdts_buf_deinit(&text);
    return cat;
}

void wdts_catalog_destroy(struct wdts_catalog *cat)
{
    if (cat == NULL)
        return;
    free_reports(cat->reports, cat->n);
    json_decref(cat->root);
    free(cat);
}

size_t wdts_catalog_count(const struct wdts_catalog *cat)
{
    return cat->n;
}

const struct wdts_catalog_report *wdts_catalog_at(const struct wdts_catalog *cat, size_t i)
{
    return i < cat->n ? &cat->reports[i] : NULL;
}

const struct wdts_catalog_report *wdts_catalog_get(const struct wdts_catalog *cat, const char *name)
{
    for (size_t i = 0; name && i < cat->n; i++)
        if (strcmp(cat->reports[i].name, name) == 0)
            return &cat->reports[i];
    return NULL;
}

const char *wdts_catalog_embedded(size_t *len)
{
    if (len)
        *len = wdts_catalog_embedded_json_len;
    return (const char *)wdts_catalog_embedded_json;
}

char *wdts_catalog_call_params(const struct wdts_catalog_report *rep, int history,
                               int64_t start, int64_t end)
{
    json_t *p = json_deep_copy(history ? rep->history_params : rep->params);
    if (p == NULL)
        p = json_object();
    const char *ps = history ? rep->history_time_start : rep->time_start;
    const char *pe = history ? rep->history_time_end : rep->time_end;
    if (rep->kind == WDTS_REPORT_INCREMENTAL && ps[0] && pe[0]) {
        char a[WDTS_BJTIME_LEN], b[WDTS_BJTIME_LEN];
        wdts_time_format_beijing(start, a);
        wdts_time_format_beijing(end, b);
        json_object_set_new(p, ps, json_string(a));
        json_object_set_new(p, pe, json_string(b));
    }
    char *s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(p);
    WDTS_ASSERT(s != NULL);
    char *out = wdts_xstrdup(s);
    free(s);
    return out;
}

int wdts_catalog_report_sees_late_changes(const struct wdts_catalog_report *rep)
{
    return rep->kind == WDTS_REPORT_SNAPSHOT || strcmp(rep->time_basis, "modified") == 0;
}

const char *wdts_report_kind_name(enum wdts_report_kind kind)
{
    return kind == WDTS_REPORT_SNAPSHOT ? "snapshot" : "incremental";
}
