/* What the scheduler keeps in Redis per (connection, report), and the batched
 * (pipelined) reads and writes of it: the plan state of sched_plan.h, the set of
 * windows emitted but not completed (outstanding), and a few counters for status.
 * It decides nothing: sched.c plans and emits, wdtctl reads. It never logs.
 *
 * Keys (wdts_redis_key() form; wdts_conn_remove() lists them, see wdts/conn.h):
 *   <prefix>plan:<connection>:<report>     HASH cursor, backfill_end, last_snapshot,
 *                                          last_lookback (a missing field = not set yet),
 *                                          updated
 *   <prefix>out:<connection>:<report>      ZSET member "start:end" (Unix s, the form of the
 *                                          watermark's done set), score = emitted_at (Unix s)
 *   <prefix>outmeta:<connection>:<report>  HASH "start:end" -> "<kind> <attempt>"
 *   <prefix>stat:<connection>:<report>     HASH emitted, reemitted, completed (counted by the
 *                                          scheduler), records (added by whoever delivers
 *                                          them: HINCRBY), last_error, last_error_at (Unix s;
 *                                          written by the scheduler and by workers); calls,
 *                                          windows and first_done_at (Unix s, HSETNX): the
 *                                          workers' calls and windows at first completions;
 *                                          calls_expected, windows_started (at a window's
 *                                          first answer with a total) and calls_made (each
 *                                          answer of such a window), first_call_at (Unix
 *                                          s, HSETNX): progress for the ETA
 * Completion is read from the watermark (wdts/watermark.h): a window is completed when
 * its end is at or before the watermark, or when it is in the watermark's done set.
 *
 * Ownership: the caller owns an array of struct sched_unit; each unit owns its `out`
 * array (sched_unit_deinit()); names are borrowed from the caller's connections.
 * Threads: one thread per struct wdts_redis. */
#ifndef SCHED_STATE_H
#define SCHED_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "sched_plan.h"
#include "wdts/err.h"
#include "wdts/job.h"
#include "wdts/watermark.h"

struct wdts_redis;
struct wdts_catalog_report;

/** Room for a "start:end" member. */
#define SCHED_MEMBER_LEN 48

/** One window emitted and not (known to be) completed. */
struct sched_out {
    int64_t start, end;
    int64_t emitted_at; /* Unix s of the last emission */
    enum wdts_job_kind kind;
    int attempt;   /* of the last emission */
    int completed; /* set by sched_state_load(): the watermark says it is done */
};

/** Everything known about one (connection, report) during a pass. Zero it, set the
 *  names and rep, then sched_state_load(). */
struct sched_unit {
    const char *tenant;                    /* borrowed */
    const char *connection;                /* borrowed */
    const char *report;                    /* borrowed */
    const struct wdts_catalog_report *rep; /* borrowed from the catalog */

    /* read by sched_state_load() */
    struct sched_plan_state plan;
    struct wdts_wm_state wm;
    struct sched_out *out; /* owned; n_out entries, sorted by start */
    size_t n_out, cap_out;
    long long emitted, reemitted, completed, records; /* counters; -1 for records: none */
    long long calls, windows_done; /* calls the workers made for windows_done first completions */
    int64_t first_done_at;         /* Unix s of the first completion a worker counted; 0: none */
    long long calls_made, calls_expected, windows_started; /* workers' progress (see above) */
    int64_t first_call_at; /* Unix s of the first window started with progress counted */
    char last_error[256];
    int64_t last_error_at;
    int load_failed; /* 1: a read failed (reason in last_error): do not plan this unit */
};

/** Frees what sched_state_load() allocated in u. NULL is a no-op. */
void sched_unit_deinit(struct sched_unit *u);

/** Writes the key of kind ("plan", "out", "outmeta", "stat") of a unit into buf. @returns
 *  borrowed from buf. */
const char *sched_state_key(struct wdts_buf *buf, const char *prefix, const char *kind,
                            const char *connection, const char *report);

/** Writes "start:end". */
void sched_state_member(int64_t start, int64_t end, char out[SCHED_MEMBER_LEN]);

/**
 * @brief Marks completed every window of out[0..n_out) that lies inside one run of
 *        touching or overlapping done windows (pure; sched_state_load() uses it).
 * @param done n_done pairs {start, end}, sorted by start (the watermark's done set).
 */
void sched_out_mark_covered(struct sched_out *out, size_t n_out, const int64_t *done,
                            size_t n_done);

/**
 * @brief Reads the plan state, outstanding windows (marking those the watermark says are
 *        completed), watermark and counters of n units, in two pipelined round trips.
 * @returns WDTS_OK, or the connection's error (a broken connection fails every unit). A
 *          malformed stored value fails only its unit (load_failed, reason in last_error).
 */
wdts_err_t sched_state_load(struct wdts_redis *redis, const char *prefix, struct sched_unit *u,
                            size_t n, char *errstr, size_t errstr_size);

/** What to write for one unit after its jobs were delivered. */
struct sched_state_update {
    struct sched_unit *unit;     /* borrowed */
    const struct sched_out *add; /* windows delivered now (new or re-emitted); borrowed */
    size_t n_add;
    size_t n_reemitted;                  /* how many of add were re-emissions */
    const struct sched_plan_state *plan; /* the new plan state, or NULL to keep the old */
    int drop_completed;                  /* 1: remove unit->out entries marked completed */
    const char *error;                   /* non-NULL: record as last_error (with now) */
    int64_t now;
};

/**
 * @brief Writes the updates of n units in one pipelined round trip: outstanding windows
 *        first (ZADD, meta), completed ones out (counted), then the plan state, so a
 *        crash in between leaves windows that are planned again, never skipped.
 */
wdts_err_t sched_state_store(struct wdts_redis *redis, const char *prefix,
                             const struct sched_state_update *upd, size_t n, char *errstr,
                             size_t errstr_size);

#endif
