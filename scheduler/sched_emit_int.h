/* Emission of jobs to wdt.jobs: encode, produce with the key "connection:report" on an
 * idempotent producer, and wait for every delivery report, so the caller knows which
 * jobs Kafka acknowledged before it stores anything. It does not plan or touch Redis.
 *
 * Ownership: caller --owns--> sched_emit --owns--> wdts_kafka_producer.
 * Threads: one thread; delivery reports are served inside sched_emit_jobs(). */
#ifndef SCHED_EMIT_INT_H
#define SCHED_EMIT_INT_H

#include <stddef.h>

#include "wdts/err.h"
#include "wdts/job.h"
#include "wdts/str.h"

struct sched_emit;

/**
 * @brief Creates the producer (enable.idempotence=true, message.timeout.ms=30000 unless
 *        props say otherwise).
 * @owner props, topic: borrowed (copied). Returns a new object (sched_emit_destroy()).
 * @returns NULL with the reason in errstr.
 */
struct sched_emit *sched_emit_new(const struct wdts_param *props, size_t nprops, const char *topic,
                                  char *errstr, size_t errstr_size);

/**
 * @brief Produces n jobs and waits until each has its delivery report.
 * @param ok n flags set to 1 for a job Kafka acknowledged, 0 otherwise.
 * @returns WDTS_OK when every job was delivered; otherwise WDTS_ERR_KAFKA with the first
 *          reason in errstr (ok[] says which ones made it).
 * @owner jobs: borrowed.
 */
wdts_err_t sched_emit_jobs(struct sched_emit *em, const struct wdts_job *jobs, size_t n, int *ok,
                           char *errstr, size_t errstr_size);

/** Flushes (at most timeout_ms) and frees. NULL is a no-op. */
void sched_emit_destroy(struct sched_emit *em, int timeout_ms);

#endif
