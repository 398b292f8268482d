/* wdt-worker: consumes jobs from wdt.jobs in a consumer group and runs many of them at
 * once on one event loop (libcurl multi, timers, hiredis async), each job fetching one
 * window of one report of one connection, producing record envelopes and a window
 * marker to wdt.records, and advancing the watermark once Kafka has acknowledged them.
 *
 * Ownership (see wrk_int.h for the inside):
 *   main --owns--> wrk --owns--> loop, curl multi, async + blocking Redis, consumer,
 *                               producer, metrics registry, HTTP server, jobs in flight
 * Threads: everything runs on the caller's thread, except the HTTP server's own thread
 * (it renders metrics and asks wrk for readiness through atomics) and librdkafka's. */
#ifndef WRK_H
#define WRK_H

#include <signal.h>
#include <stddef.h>

struct wdts_cfg;
struct wrk;

/**
 * @brief Connects everything (Redis, Kafka, HTTP endpoint) and loads the catalog.
 * @owner cfg borrowed, must outlive the worker.
 * @returns a new worker (wrk_destroy()), or NULL with the reason in errstr.
 */
struct wrk *wrk_new(const struct wdts_cfg *cfg, char *errstr, size_t errstr_size);

/**
 * @brief Runs until *stop becomes non-zero, then shuts down: no new jobs, in-flight jobs
 *        get until worker.shutdown.timeout to finish, the rest are abandoned (locks
 *        released, offsets not committed), the group is left.
 * @returns the process exit code (0 after a clean stop, 1 after a fatal error).
 */
int wrk_run(struct wrk *w, volatile sig_atomic_t *stop);

/** Frees everything. NULL is a no-op. */
void wrk_destroy(struct wrk *w);

#endif
