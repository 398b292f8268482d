/* Pure parts of job execution (see wrk_job.h): no I/O, no clock, no globals. */
#include "wrk_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/crypto.h"
#include "wdts/log.h"
#include "wdts/json_scan.h"
#include "wdts/mem.h"
#include "wdts/time.h"

wdts_err_t wrk_job_check(const void *buf, size_t len, const struct wdts_catalog *cat,
                         struct wdts_job *job, const struct wdts_catalog_report **rep,
                         char *errstr, size_t errstr_size)
{
    if (buf == NULL || len == 0) {
        snprintf(errstr, errstr_size, "job: the message is empty (a tombstone?); the scheduler "
                 "writes one JSON job per message");
        return WDTS_ERR_JSON;
    }
    wdts_err_t err = wdts_job_decode(buf, len, job, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    *rep = wdts_catalog_get(cat, job->report);
    if (*rep == NULL) {
        snprintf(errstr, errstr_size, "job: report '%s' is not in the report catalog; upgrade "
                 "the workers or fix the scheduler's catalog", job->report);
        return WDTS_ERR_NOTFOUND;
    }
    return WDTS_OK;
}

char *wrk_job_params(const struct wdts_catalog_report *rep, const struct wdts_job *job,
                     int history)
{
    return wdts_catalog_call_params(rep, history, job->start - WRK_JOB_OVERLAP_S, job->end);
}

int64_t wrk_job_request_span(const struct wdts_job *job)
{
    return job->end - job->start + WRK_JOB_OVERLAP_S;
}

long long wrk_job_npages(long long total, int page_size)
{
    if (total <= 0 || page_size <= 0)
        return 1;
    return (total + page_size - 1) / page_size;
}

long long wrk_job_page_at(long long npages, long long step)
{
    if (step == 0)
        return 0;
    if (npages <= 1 || step < 0 || step > npages)
        return -1;
    if (step == npages)
        return 0;
    return npages - step;
}

void wrk_pager_start(struct wrk_pager *p)
{
    memset(p, 0, sizeof(*p));
}

void wrk_pager_next(struct wrk_pager *p, int has_total, long long total, size_t nrec,
                    int page_size)
{
    if (p->page < 0)
        return;
    if (p->calls++ == 0) {
        p->has_total = has_total;
        p->forward = !has_total;
        if (has_total)
            p->npages = wrk_job_npages(total, page_size);
    }
    if (p->has_total) {
        p->page = wrk_job_page_at(p->npages, ++p->step);
        return;
    }
    if (p->forward && page_size > 0 && nrec >= (size_t)page_size) {
        p->page++;
        return;
    }
    /* The last page (short or empty) or a page of the way back: one page down. */
    p->forward = 0;
    p->page = p->page > 0 ? p->page - 1 : -1;
}

static int scalar_text(const json_t *v, struct wdts_buf *out)
{
    if (json_is_string(v))
        wdts_buf_append_str(out, json_string_value(v));
    else if (json_is_integer(v))
        wdts_buf_printf(out, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        wdts_buf_printf(out, "%.17g", json_real_value(v));
    else if (json_is_true(v))
        wdts_buf_append_str(out, "true");
    else if (json_is_false(v))
        wdts_buf_append_str(out, "false");
    else
        return -1;
    return 0;
}

int wrk_pager_forward(const struct wrk_pager *p, int has_total)
{
    return p->calls == 0 ? !has_total : p->forward;
}

/* The fields of names as text joined by ':'. @returns the first unusable field, or NULL. */
static const char *key_text(const struct wdts_catalog_names *names, const json_t *rec,
                            struct wdts_buf *out)
{
    wdts_buf_reset(out);
    for (size_t i = 0; i < names->n; i++) {
        if (i > 0)
            wdts_buf_append_str(out, ":");
        if (scalar_text(json_object_get(rec, names->v[i]), out) != 0)
            return names->v[i];
    }
    return NULL;
}

wdts_err_t wrk_job_pk(const struct wdts_catalog_report *rep, const json_t *rec,
                      struct wdts_buf *out, char *errstr, size_t errstr_size)
{
    wdts_buf_reset(out);
    if (!json_is_object(rec)) {
        snprintf(errstr, errstr_size, "a record of %s is not a JSON object", rep->name);
        return WDTS_ERR_INVAL;
    }
    const char *bad = key_text(&rep->pk, rec, out);
    if (bad != NULL && rep->pk_fallback.n > 0 &&
        json_object_get(rec, bad) == NULL && key_text(&rep->pk_fallback, rec, out) == NULL)
        return WDTS_OK; /* the pk field is absent altogether: the fallback key */
    if (bad != NULL) {
        snprintf(errstr, errstr_size, "a record of %s has no usable primary key field '%s'",
                 rep->name, bad);
        return WDTS_ERR_INVAL;
    }
    return WDTS_OK;
}

int wrk_job_answer_check(const struct wdts_catalog_report *rep, const json_t *data,
                         int first_page, int has_total, long long total, char *errstr,
                         size_t errstr_size)
{
    if (!json_is_object(data)) {
        snprintf(errstr, errstr_size, "the answer of %s has status 0 but no data object, so its "
                 "records cannot be read; retried, and dead-lettered if it persists", rep->method);
        return -1;
    }
    const json_t *list = json_object_get(data, rep->list_key);
    if (json_is_array(list))
        return 0;
    if (list != NULL && !json_is_null(list)) {
        snprintf(errstr, errstr_size, "data.%s of %s is not a list; retried, and dead-lettered "
                 "if it persists", rep->list_key, rep->method);
        return -1;
    }
    if (has_total ? total == 0 : !first_page)
        return 0;
    if (has_total)
        snprintf(errstr, errstr_size, "the answer of %s has no data.%s although its total_count "
                 "is %lld; retried, and dead-lettered if it persists", rep->method, rep->list_key,
                 total);
    else
        snprintf(errstr, errstr_size, "the answer of %s has neither data.%s nor a total_count, "
                 "so an empty window cannot be told from a malformed answer; retried, and "
                 "dead-lettered if it persists", rep->method, rep->list_key);
    return -1;
}

/* ---- pk set ----------------------------------------------------------------------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void wrk_pkset_init(struct wrk_pkset *s)
{
    memset(s, 0, sizeof(*s));
}

void wrk_pkset_deinit(struct wrk_pkset *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i]);
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

static void pkset_insert(char **slots, size_t cap, char *pk)
{
    size_t i = (size_t)hash_str(pk) & (cap - 1);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = pk;
}

int wrk_pkset_add(struct wrk_pkset *s, const char *pk)
{
    if (s->cap == 0 || (s->n + 1) * 4 > s->cap * 3) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        char **slots = wdts_xcalloc(cap, sizeof(char *));
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i])
                pkset_insert(slots, cap, s->slots[i]);
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    size_t i = (size_t)hash_str(pk) & (s->cap - 1);
    while (s->slots[i]) {
        if (strcmp(s->slots[i], pk) == 0)
            return 0;
        i = (i + 1) & (s->cap - 1);
    }
    s->slots[i] = wdts_xstrdup(pk);
    s->n++;
    return 1;
}

/* ---- pii -------------------------------------------------------------------------- */

static int is_pii(const struct wdts_catalog_names *pii, const char *key)
{
    for (size_t i = 0; i < pii->n; i++)
        if (strcmp(pii->v[i], key) == 0)
            return 1;
    return 0;
}

wdts_err_t wrk_job_pii(json_t *rec, const struct wdts_catalog_names *pii,
                       enum wdts_conn_pii policy, const void *key, size_t keylen,
                       const char *tenant)
{
    if (policy == WDTS_CONN_PII_KEEP || pii->n == 0 || rec == NULL)
        return WDTS_OK;
    if (json_is_array(rec)) {
        size_t i;
        json_t *v;
        json_array_foreach(rec, i, v) {
            wdts_err_t err = wrk_job_pii(v, pii, policy, key, keylen, tenant);
            if (err != WDTS_OK)
                return err;
        }
        return WDTS_OK;
    }
    if (!json_is_object(rec))
        return WDTS_OK;
    const char *k;
    json_t *v;
    void *tmp;
    struct wdts_buf text;
    wdts_buf_init(&text);
    wdts_err_t err = WDTS_OK;
    json_object_foreach_safe(rec, tmp, k, v) {
        if (!is_pii(pii, k)) {
            if (json_is_object(v) || json_is_array(v))
                if ((err = wrk_job_pii(v, pii, policy, key, keylen, tenant)) != WDTS_OK)
                    break;
            continue;
        }
        if (policy == WDTS_CONN_PII_DROP) {
            json_object_del(rec, k);
            continue;
        }
        wdts_buf_reset(&text);
        if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
            continue;
        if (scalar_text(v, &text) != 0) { /* a nested value: hash its compact JSON */
            char *d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            wdts_buf_append_str(&text, d ? d : "");
            free(d);
        }
        char hex[WDTS_CRYPTO_SHA256_HEX_SIZE];
        if ((err = wdts_pii_hash(key, keylen, tenant, wdts_buf_str(&text), hex)) != WDTS_OK)
            break;
        json_object_set_new(rec, k, json_string(hex));
    }
    wdts_buf_deinit(&text);
    return err;
}

/* ---- wire forms ------------------------------------------------------------------- */

/* A JSON string literal, quotes included. */
static void json_str(struct wdts_buf *out, const char *s)
{
    wdts_buf_append_str(out, "\"");
    wdts_buf_append_json_str(out, s);
    wdts_buf_append_str(out, "\"");
}

static void append_window(struct wdts_buf *out, const struct wdts_job *job)
{
    char a[WDTS_RFC3339_LEN], b[WDTS_RFC3339_LEN];
    wdts_time_format_rfc3339(job->start, a);
    wdts_time_format_rfc3339(job->end, b);
    wdts_buf_printf(out, "\"window\":{\"start\":\"%s\",\"end\":\"%s\"}", a, b);
}

static void append_common(struct wdts_buf *out, const struct wrk_envctx *ctx)
{
    const struct wdts_job *job = ctx->job;
    wdts_buf_append_str(out, "\"tenant\":");
    json_str(out, job->tenant);
    wdts_buf_append_str(out, ",\"connection\":");
    json_str(out, job->connection);
    wdts_buf_printf(out, ",\"source\":\"%s\",\"report\":", ctx->source);
    json_str(out, job->report);
}

void wrk_job_envelope_head(struct wdts_buf *pre, struct wdts_buf *post,
                           const struct wrk_envctx *ctx)
{
    char ex[WDTS_RFC3339_LEN];
    wdts_time_format_rfc3339(ctx->extracted_at, ex);
    wdts_buf_reset(pre);
    wdts_buf_reset(post);
    wdts_buf_append_str(pre, "{\"v\":1,");
    append_common(pre, ctx);
    wdts_buf_append_str(pre, ",\"pk\":");
    wdts_buf_append_str(post, ",\"op\":\"upsert\",");
    append_window(post, ctx->job);
    wdts_buf_append_str(post, ",\"job_id\":");
    json_str(post, ctx->job->job_id);
    wdts_buf_printf(post, ",\"extracted_at\":\"%s\",\"data\":", ex);
}

void wrk_job_envelope_join(struct wdts_buf *out, const struct wdts_buf *pre,
                           const struct wdts_buf *post, const char *pk, const char *data,
                           size_t data_len)
{
    wdts_buf_append(out, pre->data, pre->len);
    json_str(out, pk);
    wdts_buf_append(out, post->data, post->len);
    wdts_buf_append(out, data, data_len);
    wdts_buf_append(out, "}", 1);
}

void wrk_job_envelope(struct wdts_buf *out, const struct wrk_envctx *ctx, const char *pk,
                      const json_t *data)
{
    struct wdts_buf pre, post;
    wdts_buf_init(&pre);
    wdts_buf_init(&post);
    wrk_job_envelope_head(&pre, &post, ctx);
    char *d = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
    wrk_job_envelope_join(out, &pre, &post, pk, d ? d : "null", d ? strlen(d) : 4);
    free(d);
    wdts_buf_deinit(&pre);
    wdts_buf_deinit(&post);
}

/* ---- primary keys read from the bytes ------------------------------------------- */

int wrk_job_pk_twice(const struct wdts_catalog_report *rep, const struct wdts_jscan_item *it)
{
    for (size_t i = 0; i < rep->pk.n && i < WDTS_JSCAN_MAX_MEMBERS; i++)
        if (it->mcount[i] > 1)
            return (int)i;
    return -1;
}

int wrk_job_pk_item(const struct wdts_catalog_report *rep, const char *body,
                    const struct wdts_jscan_item *it, struct wdts_buf *out)
{
    wdts_buf_reset(out);
    if (rep->pk.n > WDTS_JSCAN_MAX_MEMBERS)
        return -1;
    for (size_t i = 0; i < rep->pk.n; i++) {
        if (it->mcount[i] != 1)
            return -1;
        const char *v = body + it->moff[i], *end = v + it->mlen[i];
        if (i > 0)
            wdts_buf_append_str(out, ":");
        if (*v == '"') {
            if (memchr(v, '\\', (size_t)(end - v)) != NULL)
                return -1;
            wdts_buf_append(out, v + 1, (size_t)(end - v - 2));
        } else if (*v == '-' || (*v >= '0' && *v <= '9')) {
            for (const char *d = *v == '-' ? v + 1 : v; d < end; d++)
                if (*d < '0' || *d > '9')
                    return -1; /* a real: %.17g text, left to wrk_job_pk() */
            if (end - v == 2 && v[0] == '-' && v[1] == '0')
                return -1;
            wdts_buf_append(out, v, (size_t)(end - v));
        } else if (*v == 't' || *v == 'f') {
            wdts_buf_append(out, v, (size_t)(end - v));
        } else {
            return -1;
        }
    }
    return 0;
}

void wrk_job_record_key(struct wdts_buf *out, const struct wdts_job *job, const char *pk)
{
    wdts_buf_append_str(out, job->connection);
    wdts_buf_append(out, ":", 1);
    wdts_buf_append_str(out, job->report);
    wdts_buf_append(out, ":", 1);
    wdts_buf_append_str(out, pk);
}

void wrk_job_marker(struct wdts_buf *out, const struct wrk_envctx *ctx, long long records,
                    long long pages, long long calls, long long api_total, long long duplicates)
{
    wrk_job_marker_hist(out, ctx, records, pages, calls, api_total, duplicates, NULL);
}

void wrk_job_marker_hist(struct wdts_buf *out, const struct wrk_envctx *ctx, long long records,
                         long long pages, long long calls, long long api_total,
                         long long duplicates, const struct wrk_hist_counts *hist)
{
    char ex[WDTS_RFC3339_LEN];
    wdts_time_format_rfc3339(ctx->extracted_at, ex);
    wdts_buf_append_str(out, "{\"v\":1,\"type\":\"window\",");
    append_common(out, ctx);
    wdts_buf_append_str(out, ",\"job_id\":");
    json_str(out, ctx->job->job_id);
    wdts_buf_append_str(out, ",");
    append_window(out, ctx->job);
    wdts_buf_printf(out, ",\"records\":%lld,\"pages\":%lld,\"calls\":%lld,\"api_total\":",
                    records, pages, calls);
    if (api_total >= 0) /* null: the answers carried no total_count */
        wdts_buf_printf(out, "%lld", api_total);
    else
        wdts_buf_append_str(out, "null");
    if (hist) {
        wdts_buf_printf(out, ",\"history_records\":%lld,\"history_pages\":%lld,"
                        "\"history_calls\":%lld,\"history_total\":", hist->records, hist->pages,
                        hist->calls);
        if (hist->total >= 0)
            wdts_buf_printf(out, "%lld", hist->total);
        else
            wdts_buf_append_str(out, "null");
    }
    wdts_buf_printf(out, ",\"duplicates\":%lld,\"status\":\"complete\",\"extracted_at\":\"%s\"}",
                    duplicates, ex);
}

enum wrk_hist_reread wrk_job_hist_reread(long long first_total, int has_total, long long total,
                                         int rereads)
{
    if (!has_total || first_total < 0 || total == first_total)
        return WRK_HIST_GO_ON;
    return rereads < WRK_HIST_MAX_REREADS ? WRK_HIST_READ_AGAIN : WRK_HIST_RETRY_LATER;
}

int wrk_job_archive_old(const struct wdts_job *job, int64_t horizon_s, int64_t now)
{
    return job->start < now - horizon_s + WDTS_CONN_ARCHIVE_MARGIN_S;
}

enum wrk_hist_plan wrk_job_hist_plan(const struct wdts_catalog_report *rep,
                                     const struct wdts_job *job,
                                     enum wdts_conn_archive_read mode, int64_t horizon_s,
                                     int refused, int64_t now)
{
    if (rep->kind != WDTS_REPORT_INCREMENTAL || rep->history_method == NULL ||
        rep->history_method[0] == '\0')
        return WRK_HIST_NONE;
    int old = wrk_job_archive_old(job, horizon_s, now);
    if (mode == WDTS_CONN_ARCHIVE_OFF || (mode == WDTS_CONN_ARCHIVE_OLD && !old))
        return WRK_HIST_NONE;
    if (!refused)
        return WRK_HIST_READ;
    return old ? WRK_HIST_FAIL : WRK_HIST_SKIP;
}

void wrk_job_hist_refused_msg(char *out, size_t out_size, const struct wdts_catalog_report *rep,
                              const struct wdts_job *job, const struct wdts_conn *conn,
                              const char *reason)
{
    char a[WDTS_RFC3339_LEN], b[WDTS_RFC3339_LEN];
    wdts_time_format_rfc3339(job->start, a);
    wdts_time_format_rfc3339(job->end, b);
    snprintf(out, out_size,
             "the window %s .. %s of %s is older than the archive horizon of connection %s "
             "(%lldd, less a %lldd margin), so some of its documents are served only by the "
             "history method %s, and the app may not call it (%s): add the interface %s in "
             "开放平台 → 自助对接 → 应用管理 and have it approved for sid %s, run wdtctl "
             "connection check --id %s, then resync the window (wdtctl resync --connection %s "
             "--report %s --from %s --to %s)",
             a, b, rep->name, conn->id, (long long)(conn->archive_horizon_s / 86400),
             (long long)(WDTS_CONN_ARCHIVE_MARGIN_S / 86400), rep->history_method,
             reason && *reason ? reason : "权限不足", rep->history_method, conn->sid, conn->id,
             conn->id, rep->name, a, b);
}

void wrk_job_marker_key(struct wdts_buf *out, const struct wdts_job *job)
{
    wdts_buf_printf(out, "%s:%s#window:%lld:%lld", job->connection, job->report,
                    (long long)job->start, (long long)job->end);
}

void wrk_job_dlq(struct wdts_buf *out, const void *orig, size_t orig_len, const char *cls,
                 const char *message, int attempts, int64_t now,
                 const struct wrk_dlq_src *src)
{
    json_t *o = json_object();
    json_t *j = orig && orig_len ? json_loadb(orig, orig_len, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        j = orig ? json_stringn_nocheck(orig, orig_len) : json_null();
        if (j == NULL) /* not UTF-8 */
            j = json_string("<binary message>");
    }
    char t[WDTS_RFC3339_LEN];
    wdts_time_format_rfc3339(now, t);
    json_object_set_new(o, "v", json_integer(1));
    json_object_set_new(o, "job", j);
    json_object_set_new(o, "error", json_string(cls));
    json_object_set_new(o, "message", json_string(message ? message : ""));
    json_object_set_new(o, "attempts", json_integer(attempts));
    json_object_set_new(o, "time", json_string(t));
    if (src && src->topic)
        json_object_set_new(o, "source",
                            json_pack("{s:s,s:i,s:I}", "topic", src->topic, "partition",
                                      (int)src->partition, "offset", (json_int_t)src->offset));
    char *d = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    wdts_buf_append_str(out, d ? d : "{}");
    free(d);
    json_decref(o);
}

wdts_err_t wrk_job_split(const struct wdts_job *job, int64_t now, int64_t min_half_s,
                         int max_depth, long long total, struct wdts_job *a, struct wdts_job *b,
                         char *errstr, size_t errstr_size)
{
    int64_t half = (job->end - job->start) / 2;
    if (min_half_s < 1)
        min_half_s = 1;
    if (half < min_half_s) {
        snprintf(errstr, errstr_size, "the window [%lld, %lld) is not split into halves shorter "
                 "than %lld s (worker.split.min.window)", (long long)job->start,
                 (long long)job->end, (long long)min_half_s);
        return WDTS_ERR_INVAL;
    }
    if (job->split_depth >= max_depth || job->split_depth >= WDTS_JOB_MAX_SPLIT_DEPTH) {
        snprintf(errstr, errstr_size, "the window [%lld, %lld) was halved %d times already "
                 "(worker.split.max.depth)", (long long)job->start, (long long)job->end,
                 job->split_depth);
        return WDTS_ERR_INVAL;
    }
    int64_t mid = job->start + half;
    wdts_err_t err = wdts_job_init(a, job->tenant, job->connection, job->report, job->start, mid,
                                   job->kind, 1, now, errstr, errstr_size);
    if (err == WDTS_OK)
        err = wdts_job_init(b, job->tenant, job->connection, job->report, mid, job->end,
                            job->kind, 1, now, errstr, errstr_size);
    if (err == WDTS_OK) {
        a->split_depth = b->split_depth = job->split_depth + 1;
        a->parent_total = b->parent_total = total >= 0 ? total : -1;
    }
    return err;
}

int wrk_job_total_shrinks(const struct wdts_job *job, int has_total, long long total)
{
    if (job->split_depth == 0 || job->parent_total < 0 || !has_total)
        return 1;
    return total < job->parent_total;
}

int64_t wrk_job_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, unsigned rnd)
{
    int64_t d = base_ms;
    for (int i = 1; i < attempt && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    /* up to 25% jitter below the nominal delay, so retries of many jobs spread out */
    int64_t jitter = d / 4 > 0 ? (int64_t)(rnd % (unsigned)(d / 4 + 1)) : 0;
    return d - jitter;
}
