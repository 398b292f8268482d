/* The SQLite store of the reference consumer: one table per report (created on first
 * sight), the window markers, the rejects and the counters, written in caller-driven
 * transactions. The upsert keeps the latest version of each (connection, pk) by
 * `modified` (sink_msg_version_cmp()). It knows nothing of Kafka: the caller commits
 * offsets only after sink_db_commit() succeeds.
 *
 * Tables (docs/CONSUMERS.md shows them with example queries):
 *   "<report>"  connection, pk (PRIMARY KEY together), tenant, source, modified (Unix ms),
 *               modified_at (RFC 3339), extracted_at, extracted_ms, job_id, data (JSON text),
 *               versions (distinct versions the row has held: 1 + replacements), updated_at
 *   windows     one row per job_id: the latest marker of the window, seen (times received)
 *   rejects     one row per rejected message (topic, partition, offset unique)
 *   sink_stats  per report: records, inserted, updated, duplicates, stale, markers, rejected
 *
 * Ownership: sink_db_open() returns a new handle, sink_db_close() frees it. A handle is
 * used from one thread. Every call that fails leaves the reason in sink_db_errstr(). */
#ifndef SINK_DB_INT_H
#define SINK_DB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"

struct sink_db;
struct sink_record;
struct sink_marker;

/** What the upsert of one record did. */
enum sink_outcome {
    SINK_INSERTED = 0, /* first version of this key */
    SINK_UPDATED,      /* a newer version replaced the stored one */
    SINK_DUPLICATE,    /* this version was stored already (equal modified) */
    SINK_STALE,        /* an older version than the stored one: ignored */
};

/** @returns "inserted" | "updated" | "duplicate" | "stale". */
const char *sink_outcome_name(enum sink_outcome o);

/**
 * @brief Opens (creating when absent) the database and its fixed tables.
 * @returns a new handle (close with sink_db_close()), or NULL with the reason in errstr.
 */
struct sink_db *sink_db_open(const char *path, char *errstr, size_t errstr_size);

/** Closes the database, rolling back an open transaction. NULL is a no-op. */
void sink_db_close(struct sink_db *db);

/** @returns the reason of the last failure ("" if none). Borrowed. */
const char *sink_db_errstr(const struct sink_db *db);

/** Starts a write transaction (BEGIN IMMEDIATE). */
wdts_err_t sink_db_begin(struct sink_db *db);
/** Commits it: only after WDTS_OK is the batch durable. */
wdts_err_t sink_db_commit(struct sink_db *db);
/** Rolls it back (no-op without a transaction). */
void sink_db_rollback(struct sink_db *db);

/**
 * @brief Upserts one record into its report's table (created on first sight) by the
 *        latest-version rule, and counts it in sink_stats.
 * @param report the record's report (a valid name). @owner rec borrowed.
 * @returns WDTS_OK with *outcome set; WDTS_ERR_IO on a SQLite error (roll back).
 */
wdts_err_t sink_db_put_record(struct sink_db *db, const char *report,
                              const struct sink_record *rec, enum sink_outcome *outcome);

/** @brief Stores a window marker (the latest per job_id) and counts it. @owner borrowed. */
wdts_err_t sink_db_put_marker(struct sink_db *db, const char *report,
                              const struct sink_marker *marker);

/**
 * @brief Stores a rejected message (once per topic/partition/offset: a redelivered one
 *        is not stored or counted again) and counts it under report ("" when unknown).
 * @param value up to 64 KiB of it is kept. @param stored set to 1 when it was new.
 */
wdts_err_t sink_db_put_reject(struct sink_db *db, const char *topic, int32_t partition,
                              int64_t offset, const void *key, size_t key_len,
                              const void *value, size_t value_len, const char *report,
                              const char *reason, int *stored);

#endif
