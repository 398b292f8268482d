/* A named lease in Redis that one process at a time holds: the one active scheduler
 * among its replicas. acquire takes a free lease (or renews the caller's own), renew
 * only extends the caller's, release gives it up; a holder that dies loses it after
 * its expiry and another replica takes over. Answers say who holds it and for how long,
 * and an epoch that grows with every new holder (a fencing token for the holder's
 * writes). Times come from the Redis server's clock.
 *
 * Operations have a pure _build and _parse and a blocking convenience (see limit.h).
 * Keys: <prefix>lease:{<name>} (hash holder, token, epoch; expires) and
 *       <prefix>lease:{<name>}:epoch (the last epoch; never expires).
 * Use:  every ttl/3, acquire (not yet holder) or renew (holder); a renew answer with
 *       held = 0 means stop acting as holder at once.
 * Threads: functions are reentrant; a struct wdts_redis is used by one thread at a time. */
#ifndef WDTS_LEASE_H
#define WDTS_LEASE_H

#include <stddef.h>

#include "wdts/err.h"
#include "wdts/lua.h"

struct wdts_redis;
struct wdts_redis_reply;

/** Longest holder name kept in struct wdts_lease_state (longer ones are refused). */
#define WDTS_LEASE_HOLDER_MAX 127

/** What an acquire or renew found. */
struct wdts_lease_state {
    int held;                               /* 1: the caller holds the lease */
    char holder[WDTS_LEASE_HOLDER_MAX + 1]; /* who holds it; "" when nobody */
    long long ttl_ms;                       /* held: the expiry set; else the holder's
                                               time left (-2: nobody holds it) */
    long long epoch;                        /* the holder's epoch (0 when nobody) */
};

/**
 * @brief Takes the lease name for holder under token (renews it when token holds it).
 * @param name e.g. "scheduler". @param holder e.g. "host-1/pid 42", for messages.
 * @param token random (wdts_lock_token_new()), kept by the holder for renew and release.
 */
wdts_err_t wdts_lease_acquire_build(struct wdts_lua_call *call, const char *prefix,
                                    const char *name, const char *holder, const char *token,
                                    long long ttl_ms, char *errstr, size_t errstr_size);
/** @brief Extends the lease, only for token; never takes a free one. */
wdts_err_t wdts_lease_renew_build(struct wdts_lua_call *call, const char *prefix,
                                  const char *name, const char *token, long long ttl_ms,
                                  char *errstr, size_t errstr_size);
/** Parses the reply of acquire or renew (the same shape). */
wdts_err_t wdts_lease_state_parse(const struct wdts_redis_reply *reply,
                                  struct wdts_lease_state *out, char *errstr, size_t errstr_size);
wdts_err_t wdts_lease_acquire(struct wdts_redis *redis, const char *name, const char *holder,
                              const char *token, long long ttl_ms, struct wdts_lease_state *out,
                              char *errstr, size_t errstr_size);
wdts_err_t wdts_lease_renew(struct wdts_redis *redis, const char *name, const char *token,
                            long long ttl_ms, struct wdts_lease_state *out, char *errstr,
                            size_t errstr_size);

/** @brief Deletes the lease, only for token. *released: 1 when it was held with token. */
wdts_err_t wdts_lease_release_build(struct wdts_lua_call *call, const char *prefix,
                                    const char *name, const char *token, char *errstr,
                                    size_t errstr_size);
wdts_err_t wdts_lease_release_parse(const struct wdts_redis_reply *reply, int *released,
                                    char *errstr, size_t errstr_size);
wdts_err_t wdts_lease_release(struct wdts_redis *redis, const char *name, const char *token,
                              int *released, char *errstr, size_t errstr_size);

#endif
