/* The scheduler's hold on the Redis lease "scheduler" (wdts/lease.h): one active
 * scheduler among its replicas. sched_lease_tick() acquires or renews when a third of
 * the TTL has passed since the last success; a renewal that finds the lease gone, or no
 * successful answer for two thirds of the TTL, means "stop emitting at once".
 *
 * Ownership: the caller owns the struct (embedded) and the Redis handle it borrows.
 * Threads: the scheduler's thread only. */
#ifndef SCHED_LEASE_INT_H
#define SCHED_LEASE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"
#include "wdts/lease.h"
#include "wdts/lock.h"

struct wdts_redis;

/** The name of the scheduler's lease. */
#define SCHED_LEASE_NAME "scheduler"

struct sched_lease {
    struct wdts_redis *redis; /* borrowed */
    char holder[WDTS_LEASE_HOLDER_MAX + 1];
    char token[WDTS_LOCK_TOKEN_SIZE];
    long long ttl_ms;
    int held;
    int64_t last_ok_ms;           /* monotonic time of the last successful acquire/renew */
    struct wdts_lease_state seen; /* the last answer (who holds it) */
};

/** @returns WDTS_ERR_TLS when no random token can be made. @owner redis borrowed. */
wdts_err_t sched_lease_init(struct sched_lease *lease, struct wdts_redis *redis, const char *holder,
                            long long ttl_ms, char *errstr, size_t errstr_size);

/**
 * @brief Acquires or renews when due (force: now). @returns 1 while this process holds
 *        the lease, 0 otherwise; a Redis failure is in errstr (held stays 1 only while the
 *        last success is younger than two thirds of the TTL).
 */
int sched_lease_tick(struct sched_lease *lease, int force, char *errstr, size_t errstr_size);

/** Gives the lease up if held (best effort). */
void sched_lease_release(struct sched_lease *lease);

#endif
