/* Job encoding and strict decoding (see job.h). Pure: no I/O, no clock. The
 * encoder writes keys in a fixed order so the same job always yields the same
 * bytes; the decoder checks every field and names the first one that is wrong. */
#include "wdts/job.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "wdts/str.h"
#include "wdts/time.h"

static const char *const kind_names[WDTS_JOB_KIND__COUNT] = {
    [WDTS_JOB_BACKFILL] = "backfill", [WDTS_JOB_INCREMENTAL] = "incremental",
    [WDTS_JOB_SNAPSHOT] = "snapshot", [WDTS_JOB_RESYNC] = "resync",
    [WDTS_JOB_LOOKBACK] = "lookback",
};

/* Every field of the wire form, in encoding order; anything else is rejected. */
static const char *const job_fields[] = {"v",     "job_id", "tenant", "connection", "report",
                                         "start", "end",    "kind",   "attempt",    "emitted_at"};
#define N_JOB_FIELDS (sizeof(job_fields) / sizeof(job_fields[0]))
/* Fields only the halves of a worker's split carry (both, or neither). */
static const char *const split_fields[] = {"split_depth", "parent_total"};

const char *wdts_job_kind_name(enum wdts_job_kind kind)
{
    if ((int)kind < 0 || kind >= WDTS_JOB_KIND__COUNT)
        return "?";
    return kind_names[kind];
}

wdts_err_t wdts_job_kind_parse(const char *s, enum wdts_job_kind *out)
{
    int k = wdts_word_index(kind_names, WDTS_JOB_KIND__COUNT, s);
    if (k < 0)
        return WDTS_ERR_INVAL;
    *out = (enum wdts_job_kind)k;
    return WDTS_OK;
}

int wdts_job_name_valid(const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = strlen(s);
    if (n == 0 || n > WDTS_JOB_NAME_MAX)
        return 0;
    /* ':' separates the parts of ids and keys, so it (and anything unusual) is out. */
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

void wdts_job_id_format(const char *connection, const char *report, int64_t start, int64_t end,
                        char *out, size_t out_size)
{
    snprintf(out, out_size, "%s:%s:%" PRId64 ":%" PRId64, connection, report, start, end);
}

/* Checks everything but the names' presence; shared by init and decode. */
static wdts_err_t check_values(const struct wdts_job *job, char *errstr, size_t errstr_size)
{
    static const char *const what[] = {"tenant", "connection", "report"};
    const char *vals[] = {job->tenant, job->connection, job->report};
    for (size_t i = 0; i < 3; i++) {
        if (!wdts_job_name_valid(vals[i])) {
            wdts_errstr_set(errstr, errstr_size,
                    "job: field '%s': must be 1-%d characters of A-Z a-z 0-9 _ . -", what[i],
                    WDTS_JOB_NAME_MAX);
            return WDTS_ERR_INVAL;
        }
    }
    if (job->start < WDTS_JOB_MIN_TIME || job->start >= WDTS_JOB_MAX_TIME) {
        wdts_errstr_set(errstr, errstr_size, "job: field 'start': out of range (years 2000-2099)");
        return WDTS_ERR_INVAL;
    }
    if (job->end <= WDTS_JOB_MIN_TIME || job->end > WDTS_JOB_MAX_TIME) {
        wdts_errstr_set(errstr, errstr_size, "job: field 'end': out of range (years 2000-2099)");
        return WDTS_ERR_INVAL;
    }
    if (job->end <= job->start) {
        wdts_errstr_set(errstr, errstr_size,
                "job: field 'end': must be after start (window is [start, end))");
        return WDTS_ERR_INVAL;
    }
    if ((int)job->kind < 0 || job->kind >= WDTS_JOB_KIND__COUNT) {
        wdts_errstr_set(errstr, errstr_size, "job: field 'kind': unknown kind %d", (int)job->kind);
        return WDTS_ERR_INVAL;
    }
    if (job->attempt < 1 || job->attempt > WDTS_JOB_MAX_ATTEMPT) {
        wdts_errstr_set(errstr, errstr_size, "job: field 'attempt': must be 1-%d", WDTS_JOB_MAX_ATTEMPT);
        return WDTS_ERR_INVAL;
    }
    if (job->emitted_at < WDTS_JOB_MIN_TIME || job->emitted_at >= WDTS_JOB_MAX_TIME) {
        wdts_errstr_set(errstr, errstr_size, "job: field 'emitted_at': out of range (years 2000-2099)");
        return WDTS_ERR_INVAL;
    }
    return WDTS_OK;
}

static wdts_err_t copy_name(char *dst, const char *src, const char *field, char *errstr,
                            size_t errstr_size)
{
    if (src == NULL || wdts_strlcpy(dst, src, WDTS_JOB_NAME_MAX + 1) > WDTS_JOB_NAME_MAX) {
        wdts_errstr_set(errstr, errstr_size, "job: field '%s': missing or longer than %d characters", field,
                WDTS_JOB_NAME_MAX);
        return WDTS_ERR_INVAL;
    }
    return WDTS_OK;
}

wdts_err_t wdts_job_init(struct wdts_job *job, const char *tenant, const char *connection,
                         const char *report, int64_t start, int64_t end, enum wdts_job_kind kind,
                         int attempt, int64_t emitted_at, char *errstr, size_t errstr_size)
{
    memset(job, 0, sizeof(*job));
    job->v = WDTS_JOB_VERSION;
    wdts_err_t err;
    if ((err = copy_name(job->tenant, tenant, "tenant", errstr, errstr_size)) != WDTS_OK ||
        (err = copy_name(job->connection, connection, "connection", errstr, errstr_size)) !=
            WDTS_OK ||
        (err = copy_name(job->report, report, "report", errstr, errstr_size)) != WDTS_OK)
        return err;
    job->start = start;
    job->end = end;
    job->kind = kind;
    job->parent_total = -1;
    job->attempt = attempt;
    job->emitted_at = emitted_at;
    if ((err = check_values(job, errstr, errstr_size)) != WDTS_OK)
        return err;
    wdts_job_id_format(connection, report, start, end, job->job_id, sizeof(job->job_id));
    return WDTS_OK;
}

void wdts_job_key(const struct wdts_job *job, struct wdts_buf *buf)
{
    wdts_buf_printf(buf, "%s:%s", job->connection, job->report);
}

static void append_time(struct wdts_buf *buf, const char *key, int64_t t)
{
    char ts[WDTS_RFC3339_LEN];
    wdts_time_format_rfc3339(t, ts);
    wdts_buf_printf(buf, ",\"%s\":\"%s\"", key, ts);
}

static void append_str(struct wdts_buf *buf, const char *key, const char *val)
{
    wdts_buf_printf(buf, ",\"%s\":\"", key);
    wdts_buf_append_json_str(buf, val);
    wdts_buf_append_str(buf, "\"");
}

void wdts_job_encode(const struct wdts_job *job, struct wdts_buf *buf)
{
    wdts_buf_printf(buf, "{\"v\":%d", job->v);
    append_str(buf, "job_id", job->job_id);
    append_str(buf, "tenant", job->tenant);
    append_str(buf, "connection", job->connection);
    append_str(buf, "report", job->report);
    append_time(buf, "start", job->start);
    append_time(buf, "end", job->end);
    append_str(buf, "kind", wdts_job_kind_name(job->kind));
    wdts_buf_printf(buf, ",\"attempt\":%d", job->attempt);
    append_time(buf, "emitted_at", job->emitted_at);
    if (job->split_depth > 0)
        wdts_buf_printf(buf, ",\"split_depth\":%d,\"parent_total\":%lld", job->split_depth,
                        job->parent_total);
    wdts_buf_append_str(buf, "}");
}

/* RFC 3339 as the encoder writes it: whole seconds, "Z" or ±hh:mm, nothing else. */
static wdts_err_t get_time(json_t *root, const char *field, int64_t *out, char *errstr,
                           size_t errstr_size)
{
    json_t *v = json_object_get(root, field);
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    if (s == NULL || (n != 20 && n != 25) || s[10] != 'T' || strchr(s, '.') != NULL ||
        wdts_time_parse_rfc3339(s, out) != WDTS_OK) {
        wdts_errstr_set(errstr, errstr_size,
                "job: field '%s': must be an RFC 3339 time in whole seconds "
                "(\"2026-01-02T03:04:05+08:00\")",
                field);
        return WDTS_ERR_INVAL;
    }
    return WDTS_OK;
}

static wdts_err_t get_int(json_t *root, const char *field, long long min, long long max,
                          long long *out, char *errstr, size_t errstr_size)
{
    json_t *v = json_object_get(root, field);
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        wdts_errstr_set(errstr, errstr_size, "job: field '%s': must be an integer in [%lld, %lld]", field,
                min, max);
        return WDTS_ERR_INVAL;
    }
    *out = json_integer_value(v);
    return WDTS_OK;
}

static const char *get_str(json_t *root, const char *field, char *errstr, size_t errstr_size)
{
    const char *s = json_string_value(json_object_get(root, field));
    if (s == NULL)
        wdts_errstr_set(errstr, errstr_size, "job: field '%s': must be a string", field);
    return s;
}

/* Every field of the contract is there and no other. */
static wdts_err_t check_field_names(json_t *root, char *errstr, size_t errstr_size)
{
    const char *key;
    json_t *val;
    json_object_foreach (root, key, val) {
        if (wdts_word_index(job_fields, N_JOB_FIELDS, key) < 0 &&
            wdts_word_index(split_fields, 2, key) < 0) {
            wdts_errstr_set(errstr, errstr_size, "job: unknown field '%.64s' (contract v%d)", key,
                    WDTS_JOB_VERSION);
            return WDTS_ERR_INVAL;
        }
    }
    for (size_t i = 0; i < N_JOB_FIELDS; i++) {
        if (json_object_get(root, job_fields[i]) == NULL) {
            wdts_errstr_set(errstr, errstr_size, "job: field '%s' is missing", job_fields[i]);
            return WDTS_ERR_INVAL;
        }
    }
    return WDTS_OK;
}

/* v, tenant, connection, report, the times, kind and attempt into tmp. */
static wdts_err_t read_fields(json_t *root, struct wdts_job *tmp, char *errstr,
                              size_t errstr_size)
{
    long long n;
    if (get_int(root, "v", 0, 1000000, &n, errstr, errstr_size) != WDTS_OK)
        return WDTS_ERR_INVAL;
    if (n != WDTS_JOB_VERSION) {
        wdts_errstr_set(errstr, errstr_size,
                "job: field 'v': version %lld is not supported (this build speaks %d)", n,
                WDTS_JOB_VERSION);
        return WDTS_ERR_INVAL;
    }
    tmp->v = (int)n;
    const char *tenant = get_str(root, "tenant", errstr, errstr_size);
    if (tenant == NULL || copy_name(tmp->tenant, tenant, "tenant", errstr, errstr_size) != WDTS_OK)
        return WDTS_ERR_INVAL;
    const char *conn = get_str(root, "connection", errstr, errstr_size);
    if (conn == NULL ||
        copy_name(tmp->connection, conn, "connection", errstr, errstr_size) != WDTS_OK)
        return WDTS_ERR_INVAL;
    const char *report = get_str(root, "report", errstr, errstr_size);
    if (report == NULL || copy_name(tmp->report, report, "report", errstr, errstr_size) != WDTS_OK)
        return WDTS_ERR_INVAL;
    if (get_time(root, "start", &tmp->start, errstr, errstr_size) != WDTS_OK ||
        get_time(root, "end", &tmp->end, errstr, errstr_size) != WDTS_OK ||
        get_time(root, "emitted_at", &tmp->emitted_at, errstr, errstr_size) != WDTS_OK)
        return WDTS_ERR_INVAL;
    const char *kind = get_str(root, "kind", errstr, errstr_size);
    if (kind == NULL)
        return WDTS_ERR_INVAL;
    if (wdts_job_kind_parse(kind, &tmp->kind) != WDTS_OK) {
        wdts_errstr_set(errstr, errstr_size,
                "job: field 'kind': unknown kind '%.32s' (backfill, incremental, snapshot, resync, "
                "lookback)",
                kind);
        return WDTS_ERR_INVAL;
    }
    if (get_int(root, "attempt", 1, WDTS_JOB_MAX_ATTEMPT, &n, errstr, errstr_size) != WDTS_OK)
        return WDTS_ERR_INVAL;
    tmp->attempt = (int)n;
    return WDTS_OK;
}

/* split_depth and parent_total: both or neither (then parent_total is -1). */
static wdts_err_t read_split(json_t *root, struct wdts_job *tmp, char *errstr, size_t errstr_size)
{
    long long n;
    tmp->parent_total = -1;
    int splits = (json_object_get(root, split_fields[0]) != NULL) +
                 (json_object_get(root, split_fields[1]) != NULL);
    if (splits == 1) {
        wdts_errstr_set(errstr, errstr_size, "job: fields 'split_depth' and 'parent_total' come "
                        "together");
        return WDTS_ERR_INVAL;
    }
    if (splits == 2) {
        if (get_int(root, "split_depth", 1, WDTS_JOB_MAX_SPLIT_DEPTH, &n, errstr, errstr_size) !=
            WDTS_OK)
            return WDTS_ERR_INVAL;
        tmp->split_depth = (int)n;
        if (get_int(root, "parent_total", -1, 9000000000000000000LL, &tmp->parent_total, errstr,
                    errstr_size) != WDTS_OK)
            return WDTS_ERR_INVAL;
    }
    return WDTS_OK;
}

/* job_id is the one the fields make. */
static wdts_err_t check_job_id(json_t *root, struct wdts_job *tmp, char *errstr,
                               size_t errstr_size)
{
    const char *id = get_str(root, "job_id", errstr, errstr_size);
    if (id == NULL)
        return WDTS_ERR_INVAL;
    wdts_job_id_format(tmp->connection, tmp->report, tmp->start, tmp->end, tmp->job_id,
                       sizeof(tmp->job_id));
    if (strcmp(id, tmp->job_id) != 0) {
        wdts_errstr_set(errstr, errstr_size,
                "job: field 'job_id': '%.200s' does not match its fields ('%s')", id, tmp->job_id);
        return WDTS_ERR_INVAL;
    }
    return WDTS_OK;
}

wdts_err_t wdts_job_decode(const void *buf, size_t len, struct wdts_job *job, char *errstr,
                           size_t errstr_size)
{
    wdts_err_t err = WDTS_ERR_INVAL;
    struct wdts_job tmp;
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        wdts_errstr_set(errstr, errstr_size, "job: not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                jerr.column);
        return WDTS_ERR_JSON;
    }
    if (!json_is_object(root)) {
        wdts_errstr_set(errstr, errstr_size, "job: must be a JSON object");
        goto out;
    }
    memset(&tmp, 0, sizeof(tmp));
    if (check_field_names(root, errstr, errstr_size) != WDTS_OK ||
        read_fields(root, &tmp, errstr, errstr_size) != WDTS_OK ||
        read_split(root, &tmp, errstr, errstr_size) != WDTS_OK ||
        check_values(&tmp, errstr, errstr_size) != WDTS_OK ||
        check_job_id(root, &tmp, errstr, errstr_size) != WDTS_OK)
        goto out;
    *job = tmp;
    err = WDTS_OK;
out:
    json_decref(root);
    return err;
}
