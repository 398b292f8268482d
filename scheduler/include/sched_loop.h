/* wdt-scheduler's life cycle (docs/DESIGN.md §3): every scheduler.interval, while this
 * process holds the Redis lease, one planning pass over every connection (not
 * auth_failed) × enabled, not-blocked report: read the stored plan state and the
 * outstanding windows, drop the ones the watermark says are completed, re-emit those
 * whose job lease expired (attempt + 1), plan new windows (sched_plan_pass) within the
 * outstanding bound, emit them to wdt.jobs, and only after Kafka acknowledged them store
 * the new plan state and the outstanding set (sched_state.h). A crash between emission
 * and storage re-emits the same deterministic job ids; nothing is skipped.
 *
 * Ownership: caller --owns--> sched --owns--> Redis handle, producer (sched_emit),
 *            catalog, lease; metrics registry borrowed (must outlive the sched).
 * Threads: every sched_* function runs on the caller's thread.
 * (Not called sched.h: scheduler/include is on the include path of everything that links
 * the module, and <pthread.h> includes the system's <sched.h>.) */
#ifndef SCHED_LOOP_H
#define SCHED_LOOP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"
#include "wdts/job.h"

struct wdts_buf;
struct wdts_cfg;
struct wdts_conn;
struct wdts_catalog_report;
struct wdts_metrics;
struct sched_plan_params;
struct sched;

/** Options beside the configuration. Zero-initialise. */
struct sched_opts {
    int64_t now;          /* test aid: a fixed "now" (Unix s) for every pass; 0 = the clock */
    int crash_after_emit; /* test aid: _exit(SCHED_CRASH_EXIT) once the first batch is
                             delivered, before its state is stored */
    size_t batch;         /* connections per batch (pipelined reads, one flush); 0 = 32 */
};

/** Exit status of the crash test aid. */
#define SCHED_CRASH_EXIT 86

/** What one pass did. */
struct sched_pass_stats {
    int held;           /* 0: another scheduler holds the lease; nothing was planned */
    int lease_lost;     /* 1: the lease was lost during the pass, which stopped early */
    int stopped;        /* 1: a stop was requested, the pass ended after a batch */
    size_t connections; /* connections looked at */
    size_t units;       /* (connection, report) planned */
    size_t skipped;     /* auth_failed connections' reports and blocked reports */
    size_t emitted[WDTS_JOB_KIND__COUNT]; /* new windows delivered, by kind */
    size_t reemitted;                     /* expired windows delivered again */
    size_t rereads;                       /* look-back re-reads emitted (reports re-read) */
    size_t reread_jobs;                   /* their windows delivered (also in emitted) */
    size_t completed;                     /* outstanding windows found completed */
    size_t errors;                        /* units that failed (stored as their last_error) */
    double seconds;                       /* wall time of the pass */
};

/**
 * @brief Connects to Redis, loads the catalog, creates the producer and the lease.
 * @param holder names this process in the lease ("host/pid 42").
 * @owner cfg: borrowed, must outlive the sched. reg: borrowed (may be NULL).
 * @returns a new sched (sched_destroy()), or NULL with the reason in errstr.
 */
struct sched *sched_new(const struct wdts_cfg *cfg, const struct sched_opts *opts,
                        const char *holder, struct wdts_metrics *reg, char *errstr,
                        size_t errstr_size);

/**
 * @brief One planning pass, if the lease is (or can be) held.
 * @param stop when non-NULL and set, the pass ends after the batch in flight.
 * @returns WDTS_OK (see st), or a Redis/Kafka error that stopped the pass (errstr).
 */
wdts_err_t sched_pass(struct sched *s, volatile sig_atomic_t *stop, struct sched_pass_stats *st,
                      char *errstr, size_t errstr_size);

/** @returns 1 when Redis and Kafka answered at the last pass (for /readyz). @thread any. */
int sched_ready(const struct sched *s, char *reason, size_t reason_size);

/**
 * @brief Passes every scheduler.interval while holding the lease, keeping the lease
 *        renewed in between, until *stop is set; then releases the lease.
 * @returns WDTS_EXIT_OK.
 */
int sched_run(struct sched *s, volatile sig_atomic_t *stop);

/**
 * @brief The planning knobs of one (connection, report): the report's span or interval,
 *        the connection's backfill depth (cfg scheduler.backfill when it has none), and
 *        scheduler.lag, .lookback and .max.outstanding, and the look-back re-read: the
 *        connection's or else the catalog's lookback_s (only when the report's basis does
 *        not see late changes) every scheduler.lookback.interval. @owner all borrowed.
 */
void sched_params_for(const struct wdts_cfg *cfg, const struct wdts_conn *conn,
                      const struct wdts_catalog_report *rep, struct sched_plan_params *p);

/**
 * @brief Checks the settings only the scheduler reads (planning edges in whole minutes or
 *        seconds, a job lease of at least 3 intervals), one line per problem appended to errs.
 * @returns WDTS_OK, or WDTS_ERR_CONFIG (exit with WDTS_EXIT_CONFIG).
 */
wdts_err_t sched_cfg_check(const struct wdts_cfg *cfg, struct wdts_buf *errs);

/** Writes the name this process holds the lease under: "host/pid 42". */
void sched_holder_name(char *out, size_t size);

/**
 * @brief One pass (`wdt-scheduler --once`), its summary logged in one line.
 * @returns WDTS_EXIT_OK (also when another scheduler holds the lease: it says so), or
 *          WDTS_EXIT_FATAL after logging why the pass failed.
 */
int sched_run_once(struct sched *s, volatile sig_atomic_t *stop);

/** Releases the lease (when held), flushes and frees. NULL is a no-op. */
void sched_destroy(struct sched *s);

#endif
