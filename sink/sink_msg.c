/* Record envelope and window marker decoding (see sink_msg_int.h). Pure: jansson and
 * the catalog only. Every rejection names the field and what the contract wants, so
 * the rejects table tells a producer's author what to fix. */
#include "sink_msg_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wdts/catalog.h"
#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"

static void reject(struct sink_msg *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reject(struct sink_msg *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
    out->type = SINK_MSG_REJECT;
}

wdts_err_t sink_msg_parse_time_ms(const char *s, int64_t *ms)
{
    int64_t sec;
    if (s == NULL || strlen(s) < 20 || (s[10] != 'T' && s[10] != 't'))
        return WDTS_ERR_INVAL;
    if (wdts_time_parse_rfc3339(s, &sec) != WDTS_OK)
        return WDTS_ERR_INVAL;
    int64_t frac = 0;
    if (s[19] == '.') {
        /* The common parser drops fractions; the order of extractions needs them. */
        int digits = 0;
        for (const char *p = s + 20; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        for (; digits < 3; digits++)
            frac *= 10;
    }
    *ms = sec * 1000 + frac;
    return WDTS_OK;
}

enum sink_version sink_msg_version_cmp(int64_t new_modified_ms, int64_t new_extracted_ms,
                                       int64_t old_modified_ms, int64_t old_extracted_ms)
{
    if (new_modified_ms > old_modified_ms)
        return SINK_VERSION_NEWER;
    if (new_modified_ms < old_modified_ms)
        return SINK_VERSION_OLDER;
    return new_extracted_ms > old_extracted_ms ? SINK_VERSION_SAME_LATER : SINK_VERSION_SAME;
}

/* Marker or record: the only place that tells them apart, so a change in how the
 * producer labels markers is a change here. The `schema` header decides when the
 * producer sets one we know; otherwise the body's shape does (a record carries `data`
 * and `op`, a marker `records` and `status`). */
static enum sink_msg_type classify(const json_t *root, const char *schema)
{
    if (schema != NULL) {
        if (strcmp(schema, SINK_SCHEMA_MARKER) == 0 || strstr(schema, "window") ||
            strstr(schema, "marker"))
            return SINK_MSG_MARKER;
        if (strcmp(schema, SINK_SCHEMA_RECORD) == 0 || strstr(schema, "record"))
            return SINK_MSG_RECORD;
    }
    const char *type = json_string_value(json_object_get(root, "type"));
    if (type && (strcmp(type, "window") == 0 || strcmp(type, "marker") == 0 ||
                 strcmp(type, "window_marker") == 0))
        return SINK_MSG_MARKER;
    if (json_object_get(root, "data") || json_object_get(root, "op"))
        return SINK_MSG_RECORD;
    if (json_object_get(root, "records") && json_object_get(root, "status"))
        return SINK_MSG_MARKER;
    return SINK_MSG_REJECT;
}

/* A string field; NULL (and a reject) when absent or not a string. */
static const char *get_str(const json_t *root, const char *field, const char *what,
                           struct sink_msg *out)
{
    const char *s = json_string_value(json_object_get(root, field));
    if (s == NULL)
        reject(out, "%s: field '%s' must be a string", what, field);
    return s;
}

static int get_name(const json_t *root, const char *field, const char *what, char *dst,
                    size_t dst_size, struct sink_msg *out)
{
    const char *s = get_str(root, field, what, out);
    if (s == NULL)
        return -1;
    if (!wdts_job_name_valid(s)) {
        reject(out, "%s: field '%s' must be 1-%d characters of A-Z a-z 0-9 _ . -", what, field,
               WDTS_JOB_NAME_MAX);
        return -1;
    }
    wdts_strlcpy(dst, s, dst_size);
    return 0;
}

static int check_version(const json_t *root, const char *what, struct sink_msg *out)
{
    const json_t *v = json_object_get(root, "v");
    if (!json_is_integer(v)) {
        reject(out, "%s: field 'v' must be the integer %d", what, SINK_ENVELOPE_VERSION);
        return -1;
    }
    if (json_integer_value(v) != SINK_ENVELOPE_VERSION) {
        reject(out, "%s: version %lld is not supported (this sink reads v%d); upgrade the sink",
               what, (long long)json_integer_value(v), SINK_ENVELOPE_VERSION);
        return -1;
    }
    return 0;
}

/* The window object: {"start": RFC 3339, "end": RFC 3339}. */
static int check_window(const json_t *root, const char *what, const char **start,
                        const char **end, struct sink_msg *out)
{
    const json_t *w = json_object_get(root, "window");
    int64_t s, e;
    if (!json_is_object(w)) {
        reject(out, "%s: field 'window' must be an object {\"start\",\"end\"}", what);
        return -1;
    }
    *start = json_string_value(json_object_get(w, "start"));
    *end = json_string_value(json_object_get(w, "end"));
    if (*start == NULL || sink_msg_parse_time_ms(*start, &s) != WDTS_OK) {
        reject(out, "%s: field 'window.start' must be an RFC 3339 time", what);
        return -1;
    }
    if (*end == NULL || sink_msg_parse_time_ms(*end, &e) != WDTS_OK) {
        reject(out, "%s: field 'window.end' must be an RFC 3339 time", what);
        return -1;
    }
    if (e < s) {
        reject(out, "%s: field 'window.end' is before window.start", what);
        return -1;
    }
    return 0;
}

/* Epoch seconds or milliseconds: a 13-digit value is milliseconds; one below 1e11 (before
 * 1973 as milliseconds, a date in 5138 as seconds) is read as seconds. */
static int64_t epoch_to_ms(int64_t v)
{
    return v < 100000000000LL ? v * 1000 : v;
}

/* The record's change time from data, in the field the catalog names. The official pages
 * show some change times as "yyyy-MM-dd HH:mm:ss" and others as epoch milliseconds, and a
 * field's table never says which, so both forms are accepted for every report (the
 * catalog's format is what the pages' examples show, not a promise). */
static int record_modified(const json_t *data, const struct wdts_catalog_report *rep,
                           int64_t *ms, struct sink_msg *out)
{
    const char *field = rep ? rep->modified_field : "modified";
    const json_t *m = json_object_get(data, field);
    int64_t sec;
    long long v;
    if (m == NULL || json_is_null(m)) {
        reject(out, "record: data.%s is missing, so versions of this record cannot be ordered",
               field);
        return -1;
    }
    if (json_is_integer(m) && json_integer_value(m) >= 0) {
        *ms = epoch_to_ms(json_integer_value(m));
        return 0;
    }
    if (json_is_string(m)) {
        const char *s = json_string_value(m);
        if (wdts_time_parse_beijing(s, &sec) == WDTS_OK) {
            *ms = sec * 1000;
            return 0;
        }
        if (wdts_parse_int(s, 0, INT64_MAX, &v) == WDTS_OK) {
            *ms = epoch_to_ms(v);
            return 0;
        }
    }
    reject(out, "record: data.%s must be \"yyyy-MM-dd HH:mm:ss\" (Beijing) or epoch "
           "milliseconds", field);
    return -1;
}

static int check_headers(const struct sink_msg_headers *hdrs, const char *report,
                         const char *tenant, const char *what, struct sink_msg *out)
{
    if (hdrs == NULL)
        return 0;
    if (hdrs->report && strcmp(hdrs->report, report) != 0) {
        reject(out, "%s: header 'report' (%.64s) differs from the body's report (%s)", what,
               hdrs->report, report);
        return -1;
    }
    if (tenant && tenant[0] && hdrs->tenant && strcmp(hdrs->tenant, tenant) != 0) {
        reject(out, "%s: header 'tenant' (%.64s) differs from the body's tenant (%s)", what,
               hdrs->tenant, tenant);
        return -1;
    }
    return 0;
}

static void decode_record(const void *key, size_t key_len, json_t *root,
                          const struct sink_msg_headers *hdrs, const struct wdts_catalog *cat,
                          struct sink_msg *out)
{
    struct sink_record *rec = &out->rec;
    const char *w = "record", *s, *ws, *we;
    if (get_name(root, "report", w, out->report, sizeof(out->report), out) != 0)
        return;
    if (check_version(root, w, out) != 0 ||
        get_name(root, "tenant", w, rec->tenant, sizeof(rec->tenant), out) != 0 ||
        get_name(root, "connection", w, rec->connection, sizeof(rec->connection), out) != 0)
        return;
    if ((s = get_str(root, "source", w, out)) == NULL)
        return;
    if (strcmp(s, "wdt") != 0 && strcmp(s, "qimen") != 0) {
        reject(out, "record: field 'source' must be \"wdt\" or \"qimen\"");
        return;
    }
    wdts_strlcpy(rec->source, s, sizeof(rec->source));
    if ((s = get_str(root, "op", w, out)) == NULL)
        return;
    if (strcmp(s, "upsert") != 0) {
        reject(out, "record: op '%.32s' is not supported (v1 has only \"upsert\")", s);
        return;
    }
    const char *pk = get_str(root, "pk", w, out);
    if (pk == NULL)
        return;
    if (pk[0] == '\0' || strlen(pk) > SINK_PK_MAX) {
        reject(out, "record: field 'pk' must be 1-%d bytes", SINK_PK_MAX);
        return;
    }
    if ((s = get_str(root, "job_id", w, out)) == NULL)
        return;
    if (s[0] == '\0' || strlen(s) >= sizeof(rec->job_id)) {
        reject(out, "record: field 'job_id' must be 1-%zu bytes", sizeof(rec->job_id) - 1);
        return;
    }
    wdts_strlcpy(rec->job_id, s, sizeof(rec->job_id));
    if (check_window(root, w, &ws, &we, out) != 0)
        return;
    const char *ext = get_str(root, "extracted_at", w, out);
    if (ext == NULL)
        return;
    if (sink_msg_parse_time_ms(ext, &rec->extracted_ms) != WDTS_OK) {
        reject(out, "record: field 'extracted_at' must be an RFC 3339 time");
        return;
    }
    const json_t *data = json_object_get(root, "data");
    if (!json_is_object(data)) {
        reject(out, "record: field 'data' must be an object (the record as the API returned it)");
        return;
    }

    /* The key is what a consumer upserts by: it must name the same record as the body. */
    size_t want_len = strlen(rec->connection) + strlen(out->report) + strlen(pk) + 2;
    char *want = wdts_xasprintf("%s:%s:%s", rec->connection, out->report, pk);
    int key_ok = key != NULL && key_len == want_len && memcmp(key, want, want_len) == 0;
    free(want);
    if (!key_ok) {
        reject(out, "record: key must be \"connection:report:pk\" (%s:%s:%.64s)", rec->connection,
               out->report, pk);
        return;
    }
    if (check_headers(hdrs, out->report, rec->tenant, w, out) != 0)
        return;
    const struct wdts_catalog_report *rep = cat ? wdts_catalog_get(cat, out->report) : NULL;
    if (record_modified(data, rep, &rec->modified_ms, out) != 0)
        return;

    rec->data = json_dumps(data, JSON_COMPACT);
    WDTS_ASSERT(rec->data != NULL);
    rec->pk = wdts_xstrdup(pk);
    rec->extracted_at = wdts_xstrdup(ext);
    out->type = SINK_MSG_RECORD;
}

/* job_id = connection:report:start:end; fills connection and report. */
static int split_job_id(const char *job_id, char *connection, char *report)
{
    const char *c1 = strchr(job_id, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c2 == NULL || (size_t)(c1 - job_id) > WDTS_JOB_NAME_MAX ||
        (size_t)(c2 - c1 - 1) > WDTS_JOB_NAME_MAX)
        return -1;
    memcpy(connection, job_id, (size_t)(c1 - job_id));
    connection[c1 - job_id] = '\0';
    memcpy(report, c1 + 1, (size_t)(c2 - c1 - 1));
    report[c2 - c1 - 1] = '\0';
    return wdts_job_name_valid(connection) && wdts_job_name_valid(report) ? 0 : -1;
}

static int get_count(const json_t *root, const char *field, int nullable, int64_t *v,
                     struct sink_msg *out)
{
    const json_t *j = json_object_get(root, field);
    if (nullable && json_is_null(j)) {
        *v = -1;
        return 0;
    }
    if (!json_is_integer(j) || json_integer_value(j) < 0) {
        reject(out, "marker: field '%s' must be an integer >= 0%s", field,
               nullable ? " or null" : "");
        return -1;
    }
    *v = json_integer_value(j);
    return 0;
}

static void decode_marker(json_t *root, const struct sink_msg_headers *hdrs,
                          struct sink_msg *out)
{
    struct sink_marker *mk = &out->marker;
    const char *w = "marker", *s, *ws, *we;
    char conn[WDTS_JOB_NAME_MAX + 1], report[WDTS_JOB_NAME_MAX + 1];
    if (check_version(root, w, out) != 0 || (s = get_str(root, "job_id", w, out)) == NULL)
        return;
    if (strlen(s) >= sizeof(mk->job_id) || split_job_id(s, conn, report) != 0) {
        reject(out, "marker: field 'job_id' must be \"connection:report:start:end\"");
        return;
    }
    wdts_strlcpy(mk->job_id, s, sizeof(mk->job_id));
    wdts_strlcpy(out->report, report, sizeof(out->report));
    wdts_strlcpy(mk->connection, conn, sizeof(mk->connection));
    /* Optional fields; when present they must agree with the job id. */
    static const char *const names[] = {"tenant", "connection", "report", "source"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const json_t *j = json_object_get(root, names[i]);
        if (j == NULL || json_is_null(j))
            continue;
        const char *v = json_string_value(j);
        if (v == NULL || (i < 3 && !wdts_job_name_valid(v))) {
            reject(out, "marker: field '%s' must be a name (A-Z a-z 0-9 _ . -)", names[i]);
            return;
        }
        if ((i == 1 && strcmp(v, conn) != 0) || (i == 2 && strcmp(v, report) != 0)) {
            reject(out, "marker: field '%s' differs from the job_id's", names[i]);
            return;
        }
        if (i == 3 && strcmp(v, "wdt") != 0 && strcmp(v, "qimen") != 0) {
            reject(out, "marker: field 'source' must be \"wdt\" or \"qimen\"");
            return;
        }
        if (i == 0)
            wdts_strlcpy(mk->tenant, v, sizeof(mk->tenant));
        else if (i == 3)
            wdts_strlcpy(mk->source, v, sizeof(mk->source));
    }
    if (check_window(root, w, &ws, &we, out) != 0 ||
        get_count(root, "records", 0, &mk->records, out) != 0 ||
        get_count(root, "pages", 0, &mk->pages, out) != 0 ||
        get_count(root, "api_total", 1, &mk->api_total, out) != 0)
        return;
    if ((s = get_str(root, "status", w, out)) == NULL)
        return;
    if (s[0] == '\0') {
        reject(out, "marker: field 'status' must not be empty");
        return;
    }
    if (check_headers(hdrs, report, mk->tenant, w, out) != 0)
        return;
    mk->window_start = wdts_xstrdup(ws);
    mk->window_end = wdts_xstrdup(we);
    mk->status = wdts_xstrdup(s);
    mk->json = json_dumps(root, JSON_COMPACT);
    WDTS_ASSERT(mk->json != NULL);
    out->type = SINK_MSG_MARKER;
}

void sink_msg_decode(const void *key, size_t key_len, const void *value, size_t value_len,
                     const struct sink_msg_headers *hdrs, const struct wdts_catalog *cat,
                     struct sink_msg *out)
{
    json_error_t jerr;
    memset(out, 0, sizeof(*out));
    if (value == NULL || value_len == 0) {
        reject(out, "empty value (a tombstone): the contract has no deletes");
        return;
    }
    json_t *root = json_loadb(value, value_len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        reject(out, "not JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return;
    }
    if (!json_is_object(root)) {
        reject(out, "not a JSON object");
        goto out;
    }
    switch (classify(root, hdrs ? hdrs->schema : NULL)) {
    case SINK_MSG_RECORD:
        decode_record(key, key_len, root, hdrs, cat, out);
        break;
    case SINK_MSG_MARKER:
        decode_marker(root, hdrs, out);
        break;
    default:
        reject(out, "neither a record envelope (no 'data') nor a window marker (no 'records' "
                    "and 'status')");
        break;
    }
out:
    if (out->type == SINK_MSG_REJECT) {
        /* Keep only the report name for attribution; drop anything half-built. */
        char report[sizeof(out->report)], reason[sizeof(out->reason)];
        memcpy(report, out->report, sizeof(report));
        memcpy(reason, out->reason, sizeof(reason));
        sink_msg_deinit(out);
        memcpy(out->report, report, sizeof(report));
        memcpy(out->reason, reason, sizeof(reason));
    }
    json_decref(root);
}

void sink_msg_deinit(struct sink_msg *out)
{
    if (out == NULL)
        return;
    free(out->rec.pk);
    free(out->rec.extracted_at);
    free(out->rec.data);
    free(out->marker.window_start);
    free(out->marker.window_end);
    free(out->marker.status);
    free(out->marker.json);
    memset(out, 0, sizeof(*out));
}
