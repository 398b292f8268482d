/* The lock on one window of a (connection, report), so that two workers do not fetch
 * the same window at once: SET NX PX with a random token, renewed while the holder
 * pages, released by its token. Each grant also issues a fencing token, recorded for
 * the window, that wdts_wm_complete() checks: a holder that lost its lock (it paused
 * past the expiry and another took over) cannot advance the watermark. The lock is for
 * efficiency; correctness comes from the fencing token and keyed, at-least-once output.
 *
 * Operations have a pure _build and _parse and a blocking convenience (see limit.h).
 * Keys: see watermark.h (the lock is <prefix>wm:{<connection>:<report>}:lock:<s>:<e>).
 * Threads: functions are reentrant; a struct wdts_redis is used by one thread at a time. */
#ifndef WDTS_LOCK_H
#define WDTS_LOCK_H

#include <stddef.h>

#include "wdts/err.h"
#include "wdts/lua.h"
#include "wdts/watermark.h"

struct wdts_redis;
struct wdts_redis_reply;

/** Size of a token from wdts_lock_token_new(): 32 hex characters and a NUL. */
#define WDTS_LOCK_TOKEN_SIZE 33

/**
 * @brief A random token (16 bytes from the OpenSSL CSPRNG, as lowercase hex) for
 *        locks, leases and rate-limit slots.
 * @returns WDTS_ERR_TLS when the CSPRNG fails (out is "" then).
 */
wdts_err_t wdts_lock_token_new(char out[WDTS_LOCK_TOKEN_SIZE]);

/** The answer of acquire. */
struct wdts_lock_grant {
    int acquired;    /* 1: the caller holds the lock (also when it already held it) */
    long long fence; /* when acquired: the fencing token for wdts_wm_complete() */
    long long ttl_ms; /* acquired: the expiry set; else what the other holder has left */
};

/**
 * @brief Takes the lock of window [start, end) under token for ttl_ms. Asking again with
 *        the token that holds it extends it and returns the same fencing token.
 */
wdts_err_t wdts_lock_acquire_build(struct wdts_lua_call *call, const char *prefix,
                                   const struct wdts_wm_id *id, long long start, long long end,
                                   const char *token, long long ttl_ms, char *errstr,
                                   size_t errstr_size);
wdts_err_t wdts_lock_acquire_parse(const struct wdts_redis_reply *reply,
                                   struct wdts_lock_grant *out, char *errstr, size_t errstr_size);
wdts_err_t wdts_lock_acquire(struct wdts_redis *redis, const struct wdts_wm_id *id,
                             long long start, long long end, const char *token, long long ttl_ms,
                             struct wdts_lock_grant *out, char *errstr, size_t errstr_size);

/** The answer of renew. */
struct wdts_lock_renewal {
    int held;         /* 1: renewed; 0: the lock is not ours any more: stop the job */
    long long ttl_ms; /* held: the new expiry; else the other holder's (-2: nobody) */
};

/** @brief Extends the lock to ttl_ms from now, only for token. */
wdts_err_t wdts_lock_renew_build(struct wdts_lua_call *call, const char *prefix,
                                 const struct wdts_wm_id *id, long long start, long long end,
                                 const char *token, long long ttl_ms, char *errstr,
                                 size_t errstr_size);
wdts_err_t wdts_lock_renew_parse(const struct wdts_redis_reply *reply,
                                 struct wdts_lock_renewal *out, char *errstr, size_t errstr_size);
wdts_err_t wdts_lock_renew(struct wdts_redis *redis, const struct wdts_wm_id *id,
                           long long start, long long end, const char *token, long long ttl_ms,
                           struct wdts_lock_renewal *out, char *errstr, size_t errstr_size);

/** @brief Deletes the lock, only for token. *released: 1 when it was held with token. */
wdts_err_t wdts_lock_release_build(struct wdts_lua_call *call, const char *prefix,
                                   const struct wdts_wm_id *id, long long start, long long end,
                                   const char *token, char *errstr, size_t errstr_size);
wdts_err_t wdts_lock_release_parse(const struct wdts_redis_reply *reply, int *released,
                                   char *errstr, size_t errstr_size);
wdts_err_t wdts_lock_release(struct wdts_redis *redis, const struct wdts_wm_id *id,
                             long long start, long long end, const char *token, int *released,
                             char *errstr, size_t errstr_size);

#endif
