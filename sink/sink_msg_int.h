/* Decoding of what arrives on the records topic (docs/DESIGN.md §2): record envelopes and
 * window markers, each checked against the contract, or a reject with the reason.
 * Pure: no Kafka, no SQLite, no clock, so unit tests reach every rule. It does not
 * decide what to store; sink_db.c does, with sink_msg_version_cmp() for the order of
 * versions.
 *
 * Ownership: struct sink_msg is embedded by the caller; sink_msg_decode() fills it
 * and sink_msg_deinit() frees what it owns (the strings marked "owned" below). */
#ifndef SINK_MSG_INT_H
#define SINK_MSG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"
#include "wdts/job.h"

struct wdts_catalog;

/** The envelope version this code reads. */
#define SINK_ENVELOPE_VERSION 1
/** Longest pk accepted (bytes); the API's keys are short numbers or codes. */
#define SINK_PK_MAX 512
/** The `schema` header values of the contract (the body decides when it is absent). */
#define SINK_SCHEMA_RECORD "wdt.record.v1"
#define SINK_SCHEMA_MARKER "wdt.window.v1"

enum sink_msg_type {
    SINK_MSG_REJECT = 0, /* malformed or outside the contract: see reason */
    SINK_MSG_RECORD,     /* a record envelope (op "upsert") */
    SINK_MSG_MARKER,     /* a window marker */
};

/** A record envelope, checked. Names are valid wdts_job_name_valid() names. */
struct sink_record {
    char tenant[WDTS_JOB_NAME_MAX + 1];
    char connection[WDTS_JOB_NAME_MAX + 1];
    char source[16];        /* "wdt" | "qimen" */
    char *pk;               /* owned */
    char job_id[WDTS_JOB_ID_LEN];
    int64_t modified_ms;    /* the record's change time (catalog field), Unix ms */
    int64_t extracted_ms;   /* envelope extracted_at, Unix ms */
    char *extracted_at;     /* owned: the text as sent */
    char *data;             /* owned: the `data` object as compact JSON */
};

/** A window marker, checked. api_total is -1 when the marker carries null. */
struct sink_marker {
    char tenant[WDTS_JOB_NAME_MAX + 1];     /* "" when the marker does not say */
    char connection[WDTS_JOB_NAME_MAX + 1]; /* from the marker, else from job_id */
    char source[16];                        /* "" when the marker does not say */
    char job_id[WDTS_JOB_ID_LEN];
    char *window_start;                     /* owned: text as sent */
    char *window_end;                       /* owned */
    int64_t records, pages, api_total;
    char *status;                           /* owned */
    char *json;                             /* owned: the whole marker, compact */
};

/** One decoded message. `report` is set whenever it could be read (also for rejects). */
struct sink_msg {
    enum sink_msg_type type;
    char report[WDTS_JOB_NAME_MAX + 1];
    struct sink_record rec;    /* valid when type == SINK_MSG_RECORD */
    struct sink_marker marker; /* valid when type == SINK_MSG_MARKER */
    char reason[256];          /* why, when type == SINK_MSG_REJECT */
};

/** The headers of a message that the contract defines; each NULL when absent. */
struct sink_msg_headers {
    const char *report;
    const char *tenant;
    const char *schema;
};

/**
 * @brief Decodes one message of the records topic. Never fails: anything outside the
 *        contract becomes SINK_MSG_REJECT with a reason that says what is wrong.
 * @param key, key_len the message key (a record's must be "connection:report:pk").
 * @param value, value_len the message value (need not be NUL-terminated); NULL = tombstone.
 * @param hdrs the contract's headers; when present they must agree with the body.
 * @param cat  the report catalog, for the `modified` field of each report; a report not
 *             in it is ordered by data.modified ("yyyy-MM-dd HH:mm:ss" or epoch ms).
 * @owner everything borrowed; out is caller's and must be sink_msg_deinit() afterwards.
 */
void sink_msg_decode(const void *key, size_t key_len, const void *value, size_t value_len,
                     const struct sink_msg_headers *hdrs, const struct wdts_catalog *cat,
                     struct sink_msg *out);

/** Frees what out owns and zeroes it. Safe on a zeroed struct. */
void sink_msg_deinit(struct sink_msg *out);

/** How a version compares with the stored one of the same key. */
enum sink_version {
    SINK_VERSION_NEWER = 0,  /* later modified: replaces the stored one */
    SINK_VERSION_SAME_LATER, /* same modified, later extraction: a duplicate that replaces */
    SINK_VERSION_SAME,       /* same modified, same or earlier extraction: a duplicate, kept out */
    SINK_VERSION_OLDER,      /* earlier modified: stale, never replaces */
};

/**
 * @brief The upsert rule: the latest version wins by modified; on equal modified the
 *        later extraction is kept. Both counts of "already stored" (SAME_LATER and SAME)
 *        are duplicates.
 */
enum sink_version sink_msg_version_cmp(int64_t new_modified_ms, int64_t new_extracted_ms,
                                       int64_t old_modified_ms, int64_t old_extracted_ms);

/**
 * @brief Parses an RFC 3339 time with milliseconds ("2026-01-02T03:04:05.123+08:00"; the
 *        fraction is optional and cut to ms). @returns WDTS_ERR_INVAL otherwise.
 */
wdts_err_t sink_msg_parse_time_ms(const char *s, int64_t *ms);

#endif
