/* The worker's pure decisions, free of I/O so unit tests reach them: checking a job
 * against the catalog, request parameters of a window, the paging order, primary keys
 * and their dedupe set, the pii policy, record envelopes, window markers, dead letters,
 * splitting a window and retry backoff. Nothing here talks to Kafka, Redis or HTTP.
 *
 * Wire forms written here (docs/DESIGN.md §2; consumers read worker/README.md):
 *   record  key "connection:report:pk", headers report, tenant, schema=wdt.record.v1
 *   marker  key "connection:report#window:start:end", headers report, tenant,
 *           schema=wdt.window.v1; body {"v":1,"type":"window",…}
 *   dead letter on wdt.dlq: {"v":1,"job":<original>,"error":class,"message":…,
 *           "attempts":N,"time":RFC 3339,"source":{"topic","partition","offset"}} */
#ifndef WRK_JOB_H
#define WRK_JOB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "wdts/catalog.h"
#include "wdts/conn.h"
#include "wdts/err.h"
#include "wdts/job.h"
#include "wdts/json_scan.h"
#include "wdts/str.h"

#define WRK_SCHEMA_RECORD "wdt.record.v1"
#define WRK_SCHEMA_WINDOW "wdt.window.v1"

/**
 * @brief Decodes a job strictly and finds its report in the catalog.
 * @owner buf borrowed; *rep borrowed from cat.
 * @returns WDTS_OK; WDTS_ERR_JSON / WDTS_ERR_INVAL (malformed job) or WDTS_ERR_NOTFOUND
 *          (unknown report) with the reason in errstr.
 */
wdts_err_t wrk_job_check(const void *buf, size_t len, const struct wdts_catalog *cat,
                         struct wdts_job *job, const struct wdts_catalog_report **rep,
                         char *errstr, size_t errstr_size);

/**
 * Seconds a request reaches back before its window. The pages never say whether the
 * gateway's window bounds are inclusive or exclusive. Change times are whole seconds, so
 * asking for [start - 1, end] returns every record of [start, end) whether the gateway
 * reads the bounds as closed [a, b], half-open [a, b) or open (a, b); a record on an edge
 * may come in two windows (a duplicate by key, never a loss).
 */
#define WRK_JOB_OVERLAP_S 1

/**
 * @brief The `params` JSON object of one call: the fixed params of the report's method (or,
 *        history, of its archive method) plus, for an incremental report, its start/end
 *        parameters as Beijing times of the window, the start WRK_JOB_OVERLAP_S earlier.
 * @owner returns a new string; free() it.
 */
char *wrk_job_params(const struct wdts_catalog_report *rep, const struct wdts_job *job,
                     int history);

/** @returns the span a call of job asks for (what the gateway's span limit counts):
 *  end - start + WRK_JOB_OVERLAP_S. */
int64_t wrk_job_request_span(const struct wdts_job *job);

/**
 * @brief The paging order of docs/DESIGN.md §3: step 0 is page 0 (with calc_total); when there
 *        are npages > 1 pages, steps 1..npages-1 are pages npages-1 down to 1 and step
 *        npages is page 0 again.
 * @returns the page of step, or -1 once the window is done.
 */
long long wrk_job_page_at(long long npages, long long step);

/** @returns ceil(total / page_size), at least 1. */
long long wrk_job_npages(long long total, int page_size);

/**
 * Where a window's paging stands. With a total_count on the first answer: the order of
 * wrk_job_page_at(). Without one (the Qimen pager has no calc_total and no page says that
 * its answers carry a total): forward while pages come back full, then from the page
 * before the last down to page 0, so that a row that slid toward page 0 while the pages
 * were read is still seen (rows only leave a closed window, so they only slide down).
 */
struct wrk_pager {
    long long page;   /* the page to fetch next; -1 once the window is done */
    long long calls;  /* answers taken */
    long long npages; /* with a total: its page count */
    long long step;   /* with a total: the step of wrk_job_page_at() */
    int has_total;    /* the first answer carried a total */
    int forward;      /* without a total: still walking forward */
};

/** Starts at page 0 (the call that asks for the total). */
void wrk_pager_start(struct wrk_pager *p);

/**
 * @brief Takes the answer to p->page: nrec records; has_total/total are read from the
 *        first answer only. Moves p->page to the next page to fetch, or to -1.
 */
void wrk_pager_next(struct wrk_pager *p, int has_total, long long total, size_t nrec,
                    int page_size);

/** @returns 1 when the answer to p->page, not taken yet, is read walking forward without a
 *  total (has_total: whether this answer carries one; only the first answer's counts). */
int wrk_pager_forward(const struct wrk_pager *p, int has_total);

/**
 * @brief The record's primary key: the catalog's pk fields, as text, joined by ':'. A
 *        record in which a pk field is absent altogether is keyed by the catalog's
 *        pk_fallback fields, when it has them (a gateway older than the page that lists
 *        the key field).
 * @returns WDTS_ERR_INVAL when a pk field is missing (and no fallback applies), null or not
 *          a scalar.
 */
wdts_err_t wrk_job_pk(const struct wdts_catalog_report *rep, const json_t *rec,
                      struct wdts_buf *out, char *errstr, size_t errstr_size);

/**
 * @brief Checks that an answer the API called ok holds the report's records: `data` is an
 *        object and data.<list_key> an array. The list may be absent or null only where that
 *        can mean "no rows": the answer's total_count is 0, or a page after the first (asked
 *        without calc_total) has no total. Anything else (no list while the total says there
 *        are rows, a list that is not an array, no data) is never taken for an empty window.
 * @returns 0, or -1 with the reason in errstr.
 */
int wrk_job_answer_check(const struct wdts_catalog_report *rep, const json_t *data,
                         int first_page, int has_total, long long total, char *errstr,
                         size_t errstr_size);

/** A set of strings (pks seen within one job), open addressing. */
struct wrk_pkset {
    char **slots;
    size_t cap, n;
};
void wrk_pkset_init(struct wrk_pkset *s);
void wrk_pkset_deinit(struct wrk_pkset *s);
/** @returns 1 when pk was added, 0 when it was already there. @owner pk copied. */
int wrk_pkset_add(struct wrk_pkset *s, const char *pk);

/**
 * @brief Applies a pii policy to rec in place: every member named in pii, at any depth
 *        (nested detail lists included), is kept, replaced by wdts_pii_hash() of its
 *        text (null and "" stay as they are), or removed.
 * @returns WDTS_OK, or WDTS_ERR_TLS when hashing failed.
 */
wdts_err_t wrk_job_pii(json_t *rec, const struct wdts_catalog_names *pii,
                       enum wdts_conn_pii policy, const void *key, size_t keylen,
                       const char *tenant);

/** What every envelope and marker of a job carries. All borrowed. */
struct wrk_envctx {
    const struct wdts_job *job;
    const char *source; /* "wdt" | "qimen" */
    int64_t extracted_at;
};

/** Appends the record envelope JSON. @owner data borrowed. */
void wrk_job_envelope(struct wdts_buf *out, const struct wrk_envctx *ctx, const char *pk,
                      const json_t *data);
/** The envelope in parts, for the records of a page: pre and post are (re)filled with the
 *  bytes every record of ctx shares, before and after its pk. */
void wrk_job_envelope_head(struct wdts_buf *pre, struct wdts_buf *post,
                           const struct wrk_envctx *ctx);
/** Appends an envelope made of the parts of wrk_job_envelope_head(), the pk and the record
 *  as JSON text (e.g. the bytes the API sent): the same bytes as wrk_job_envelope(). */
void wrk_job_envelope_join(struct wdts_buf *out, const struct wdts_buf *pre,
                           const struct wdts_buf *post, const char *pk, const char *data,
                           size_t data_len);


/**
 * @brief The primary key of a record read from its bytes, with the spans of its pk
 *        members as wdts_jscan_answer() noted them (members asked for in rep->pk order):
 *        the same text wrk_job_pk() makes from the parsed record. Each pk field must be
 *        a member once, a string without escapes, an integer of at most 18 digits (not
 *        -0), true or false. @returns 0, or -1 for anything else (then parse the record
 *        and use wrk_job_pk(), which also says what is wrong).
 */
int wrk_job_pk_item(const struct wdts_catalog_report *rep, const char *body,
                    const struct wdts_jscan_item *it, struct wdts_buf *out);

/** @returns the index of the first pk member that the record noted in it holds more than
 *  once (as wdts_jscan_answer() counted them), or -1. */
int wrk_job_pk_twice(const struct wdts_catalog_report *rep, const struct wdts_jscan_item *it);

/** Appends the record key "connection:report:pk". */
void wrk_job_record_key(struct wdts_buf *out, const struct wdts_job *job, const char *pk);

/** Appends the window marker JSON; api_total < 0 is written as null (no total_count). */
void wrk_job_marker(struct wdts_buf *out, const struct wrk_envctx *ctx, long long records,
                    long long pages, long long calls, long long api_total, long long duplicates);

/** What the history (历史) pass of a window read, for its marker. */
struct wrk_hist_counts {
    long long records; /* distinct records first seen in the history pass */
    long long pages, calls;
    long long total;   /* its first answer's total_count; -1: none (null) */
};

/** wrk_job_marker() plus, when hist is not NULL (the window was read from the history
 *  method too), "history_records", "history_pages", "history_calls" and "history_total";
 *  records, pages, calls and duplicates count both passes, api_total the normal method's. */
void wrk_job_marker_hist(struct wdts_buf *out, const struct wrk_envctx *ctx, long long records,
                         long long pages, long long calls, long long api_total,
                         long long duplicates, const struct wrk_hist_counts *hist);

/**
 * @brief Whether the window of job starts before now - horizon_s + WDTS_CONN_ARCHIVE_MARGIN_S:
 *        documents of it may have moved to the history method (the gateway's horizon is not
 *        known to the day; the margin covers that and the time a job waits).
 */
int wrk_job_archive_old(const struct wdts_job *job, int64_t horizon_s, int64_t now);

/** What a job does about a report's history (历史) method. */
enum wrk_hist_plan {
    WRK_HIST_NONE = 0, /* not read: no history method, a snapshot, or the mode says no */
    WRK_HIST_READ,     /* read the window from it after the normal method */
    WRK_HIST_SKIP,     /* refused, the window is recent: finish it from the normal method */
    WRK_HIST_FAIL,     /* refused, the window is old: its archived documents cannot be read */
};

/**
 * @brief The history plan of a window: READ when the report has a history method and mode
 *        is all, or old with an old window (wrk_job_archive_old()); refused (the connection
 *        marked the method refused, or it answered 权限不足 in this job) turns READ into SKIP
 *        for a recent window and FAIL for an old one, whatever the mode.
 * @param now the gateway's clock (Unix seconds).
 */
enum wrk_hist_plan wrk_job_hist_plan(const struct wdts_catalog_report *rep,
                                     const struct wdts_job *job,
                                     enum wdts_conn_archive_read mode, int64_t horizon_s,
                                     int refused, int64_t now);

/**
 * Rows enter a history method's window while it is paged (documents of the window pass the
 * horizon and are archived, in the middle of the window's order when others of it were
 * archived earlier), unlike the normal method's closed window where they only leave: an
 * insertion shifts the rows after it toward the pages already read (the order is n-1 … 1,
 * then 0). So every call of the history pass asks for total_count, and when an answer's
 * total differs from the pass's first one the window is read from the history method
 * again (the pk set keeps each record once), at most WRK_HIST_MAX_REREADS times; then the
 * job is retried later (a transient error: the gateway's archiving moves on).
 */
#define WRK_HIST_MAX_REREADS 8

/** What to do when a later answer of the history pass carries total (has_total). */
enum wrk_hist_reread { WRK_HIST_GO_ON = 0, WRK_HIST_READ_AGAIN, WRK_HIST_RETRY_LATER };

/** @returns GO_ON when the total is the first answer's (or either is unknown), READ_AGAIN
 *  when it changed and fewer than WRK_HIST_MAX_REREADS re-reads were made, RETRY_LATER
 *  when it changed after as many. */
enum wrk_hist_reread wrk_job_hist_reread(long long first_total, int has_total, long long total,
                                         int rereads);

/** The dead letter's message of WRK_HIST_FAIL, in plain words with the fix.
 *  @param reason what the API said (may be NULL). */
void wrk_job_hist_refused_msg(char *out, size_t out_size, const struct wdts_catalog_report *rep,
                              const struct wdts_job *job, const struct wdts_conn *conn,
                              const char *reason);
/** Appends the marker key "connection:report#window:start:end". */
void wrk_job_marker_key(struct wdts_buf *out, const struct wdts_job *job);

/** Where a dead-lettered message came from. */
struct wrk_dlq_src {
    const char *topic;
    int32_t partition;
    int64_t offset;
};

/**
 * @brief Appends the dead letter: the original message (as JSON when it is a JSON
 *        object, else as a string), the error class, message, attempts and time.
 */
void wrk_job_dlq(struct wdts_buf *out, const void *orig, size_t orig_len, const char *cls,
                 const char *message, int attempts, int64_t now,
                 const struct wrk_dlq_src *src);

/**
 * @brief Halves a window: [start, mid) and [mid, end), same kind, attempt 1, one
 *        split_depth deeper, parent_total = total (-1: the answer carried none).
 * @param min_half_s shortest half allowed (worker.split.min.window)
 * @param max_depth most halvings from the planned window (worker.split.max.depth)
 * @returns WDTS_ERR_INVAL with the reason when a half would be shorter than min_half_s
 *          (or 1 s), or the job is max_depth halvings deep already: a gateway that
 *          answers "too many" (or "too wide") for ever costs at most about
 *          2^(max_depth + 1) calls per planned window, fewer with the minimum.
 */
wdts_err_t wrk_job_split(const struct wdts_job *job, int64_t now, int64_t min_half_s,
                         int max_depth, long long total, struct wdts_job *a, struct wdts_job *b,
                         char *errstr, size_t errstr_size);

/**
 * @brief Whether a half's first total_count is believable as a reason to split again:
 *        an honest gateway's total of a half is below its parent's (rows only leave a
 *        closed window). @returns 1 for a planned window, a half whose parent or itself
 *        carried no total, or a total below the parent's; 0 otherwise (e.g. total_count
 *        1e9 on every window).
 */
int wrk_job_total_shrinks(const struct wdts_job *job, int has_total, long long total);

/** Capped exponential backoff with jitter: ~base * 2^(attempt-1), at most cap_ms.
 *  @param rnd any random number (jitter). */
int64_t wrk_job_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, unsigned rnd);

#endif
