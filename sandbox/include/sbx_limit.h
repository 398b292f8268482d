/* Per-tenant call limits, as the flagship gateway applies them per (sid, appkey):
 * calls in flight (concurrency) and calls per minute. The minute is SLIDING: a call
 * is refused when rate_per_min calls were accepted in the 60 s before it (a ring of
 * the last rate_per_min acceptance times). Refused calls are not counted. Wall time
 * (monotonic), not the sandbox clock, so a sped-up clock does not loosen limits. */
#ifndef SBX_LIMIT_H
#define SBX_LIMIT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct sbx_tenants;

enum sbx_limit_verdict { SBX_LIMIT_OK = 0, SBX_LIMIT_RATE, SBX_LIMIT_CONCURRENCY };

struct sbx_limit_slot {
    pthread_mutex_t lock;
    int rate_per_min, concurrency;
    int64_t *ring; /* owned; rate_per_min acceptance times (monotonic ms) */
    size_t head, count;
    int inflight;
};

/** One slot per tenant, in the order of the tenants array. */
struct sbx_limits {
    struct sbx_limit_slot *slots; /* owned */
    size_t n;
};

/** @owner limits->slots is new; free with sbx_limits_deinit(). tenants is read once. */
void sbx_limits_init(struct sbx_limits *limits, const struct sbx_tenants *tenants);
void sbx_limits_deinit(struct sbx_limits *limits);
/**
 * @brief Admits one call of tenant idx at monotonic time now_ms: concurrency is checked
 *        first, then the rate. On SBX_LIMIT_OK the call is in flight until
 *        sbx_limits_release(). @thread any.
 */
enum sbx_limit_verdict sbx_limits_acquire(struct sbx_limits *limits, size_t idx, int64_t now_ms);
void sbx_limits_release(struct sbx_limits *limits, size_t idx);

#endif
