/* Re-sync of a range of one (connection, report), for `wdtctl resync`: replan [from, to)
 * on the planning grid (sched_plan_resync), move the watermark back over it
 * (wdts_wm_reset: a worker still running an old job of the range cannot complete it),
 * emit the windows as kind `resync`, and add them to the outstanding set so the
 * scheduler re-emits any that is lost. It refuses a report that was never planned: its
 * first sync will fetch the range anyway, and a reset before it would move its start.
 * Threads: the caller's; nothing is kept between calls. */
#ifndef SCHED_RESYNC_H
#define SCHED_RESYNC_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"

struct wdts_cfg;
struct wdts_conn;
struct wdts_catalog_report;
struct wdts_redis;

/** What a resync did. */
struct sched_resync_result {
    size_t n;      /* windows emitted */
    int64_t start; /* the range actually re-synced: [start, end) */
    int64_t end;
};

/**
 * @brief Replans, resets the watermark, emits and records [from, to) of (connection, report),
 *        with the report's knobs as the scheduler builds them (sched_params_for()) and a
 *        producer of its own on topic.jobs (flushed before it returns).
 * @owner every pointer borrowed.
 * @returns WDTS_OK; WDTS_ERR_INVAL (a range that is not closed yet, or a report never
 *          planned) or WDTS_ERR_NOTFOUND, with a message that says what to do; a Redis or
 *          Kafka error (errstr says whether the watermark was already moved back; a
 *          producer that cannot be made says "Kafka producer: …").
 */
wdts_err_t sched_resync_run(const struct wdts_cfg *cfg, struct wdts_redis *redis,
                            const struct wdts_conn *conn, const struct wdts_catalog_report *rep,
                            int64_t from, int64_t to, int64_t now, struct sched_resync_result *out,
                            char *errstr, size_t errstr_size);

#endif
