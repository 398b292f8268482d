/* The job contract (docs/DESIGN.md §2): one job = one connection × one report × one
 * half-open time window [start, end), carried as JSON on topic wdt.jobs with key
 * "connection:report". The scheduler encodes, the worker decodes; the decoder is
 * strict so a malformed job is dead-lettered with a reason instead of fetched.
 *
 * Wire form (keys in this order, times RFC 3339 in Beijing time, whole seconds):
 *   {"v":1,"job_id":"c1:trades:1700000000:1700003600","tenant":"t1","connection":"c1",
 *    "report":"trades","start":"2023-11-15T06:13:20+08:00","end":"2023-11-15T07:13:20+08:00",
 *    "kind":"incremental","attempt":1,"emitted_at":"2023-11-15T07:20:00+08:00"}
 * job_id is deterministic: connection:report:start:end with start/end in Unix seconds.
 * A half made by a worker's split also carries "split_depth" (how many halvings from the
 * planned window) and "parent_total" (the total_count its parent was given, -1: none);
 * the scheduler's jobs never do. */
#ifndef WDTS_JOB_H
#define WDTS_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"

struct wdts_buf;

/** The contract version this code speaks. */
#define WDTS_JOB_VERSION 1
/** Longest tenant, connection or report name (bytes, without the NUL). */
#define WDTS_JOB_NAME_MAX 64
/** Room for a job id: two names, two 20-digit numbers, three colons and the NUL. */
#define WDTS_JOB_ID_LEN (2 * WDTS_JOB_NAME_MAX + 2 * 20 + 3 + 1)
/** Highest attempt number a job may carry. */
#define WDTS_JOB_MAX_ATTEMPT 1000
/** Window times must lie in [2000-01-01, 2100-01-01) UTC. */
#define WDTS_JOB_MIN_TIME 946684800LL
#define WDTS_JOB_MAX_TIME 4102444800LL

/** Why a window is fetched. */
enum wdts_job_kind {
    WDTS_JOB_BACKFILL = 0, /* part of the first sync: [now - backfill, first now - lag) */
    WDTS_JOB_INCREMENTAL,  /* what changed since the plan cursor */
    WDTS_JOB_SNAPSHOT,     /* the whole list of a snapshot report */
    WDTS_JOB_RESYNC,       /* a range an operator asked to fetch again */
    WDTS_JOB_LOOKBACK,     /* an incremental window fetched once more, K later, for late data */
    WDTS_JOB_KIND__COUNT
};

/** @returns the wire name of kind ("backfill", …); "?" when out of range. */
const char *wdts_job_kind_name(enum wdts_job_kind kind);
/** Parses a wire name. @returns WDTS_ERR_INVAL when unknown. */
wdts_err_t wdts_job_kind_parse(const char *s, enum wdts_job_kind *out);

/** @returns 1 when s is a valid tenant, connection or report name: [A-Za-z0-9_.-]{1,64}. */
int wdts_job_name_valid(const char *s);

/** A decoded or to-be-encoded job. Plain value: embed or copy it freely. */
struct wdts_job {
    int v;                        /* WDTS_JOB_VERSION */
    char job_id[WDTS_JOB_ID_LEN]; /* connection:report:start:end */
    char tenant[WDTS_JOB_NAME_MAX + 1];
    char connection[WDTS_JOB_NAME_MAX + 1];
    char report[WDTS_JOB_NAME_MAX + 1];
    int64_t start; /* Unix seconds, inclusive */
    int64_t end;   /* Unix seconds, exclusive; end > start */
    enum wdts_job_kind kind;
    int attempt;        /* 1 for the first emission */
    int64_t emitted_at; /* Unix seconds */
    int split_depth;    /* 0: as planned; n: a half of a half … n times (worker splits) */
    long long parent_total; /* with split_depth: the parent's total_count, -1 when none */
};

/** Deepest split a job may carry. */
#define WDTS_JOB_MAX_SPLIT_DEPTH 62

/**
 * @brief Fills a job and computes its id.
 * @returns WDTS_ERR_INVAL (reason in errstr) when a name is invalid, the window is
 *          empty or out of range, or attempt is out of [1, WDTS_JOB_MAX_ATTEMPT].
 */
wdts_err_t wdts_job_init(struct wdts_job *job, const char *tenant, const char *connection,
                         const char *report, int64_t start, int64_t end, enum wdts_job_kind kind,
                         int attempt, int64_t emitted_at, char *errstr, size_t errstr_size);

/** Writes the deterministic id "connection:report:start:end" into out (out_size bytes). */
void wdts_job_id_format(const char *connection, const char *report, int64_t start, int64_t end,
                        char *out, size_t out_size);

/** Appends the Kafka message key "connection:report" to buf. */
void wdts_job_key(const struct wdts_job *job, struct wdts_buf *buf);

/** Appends the job's compact JSON (the wire form above) to buf. */
void wdts_job_encode(const struct wdts_job *job, struct wdts_buf *buf);

/**
 * @brief Strictly decodes a job: valid JSON object, every field present with its
 *        type, no unknown field, v == WDTS_JOB_VERSION, valid names, RFC 3339 times
 *        in range with end > start, a known kind, attempt in range, and a job_id
 *        equal to the one the fields determine.
 * @owner buf: borrowed (need not be NUL-terminated). job: caller's; filled only on success.
 * @returns WDTS_OK, WDTS_ERR_JSON (not JSON) or WDTS_ERR_INVAL (a bad field), with
 *          the reason in errstr ("job: field 'end': must be after start").
 */
wdts_err_t wdts_job_decode(const void *buf, size_t len, struct wdts_job *job, char *errstr,
                           size_t errstr_size);

#endif
