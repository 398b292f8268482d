/* Non-blocking Redis on hiredis 0.14's async API, attached to a wdts_loop: commands and
 * Lua script calls (struct wdts_lua_call, EVALSHA with a resend as EVAL on NOSCRIPT)
 * whose replies come back through callbacks, so an event loop never waits on Redis. It
 * reconnects by itself after a broken connection (AUTH and SELECT again). It does not
 * time commands out one by one: a connection that breaks fails every pending command.
 *
 * Ownership: caller --owns--> wdts_redis_async --owns--> redisAsyncContext (private)
 *            replies are borrowed by the callback only (hiredis frees them after it).
 * Threads: the loop's thread only. */
#ifndef WDTS_REDIS_ASYNC_H
#define WDTS_REDIS_ASYNC_H

#include <stddef.h>

#include "wdts/err.h"

struct wdts_loop;
struct wdts_lua_call;
struct wdts_redis_params;
struct wdts_redis_reply;
struct wdts_redis_async;

/**
 * @brief The reply of one command.
 * @param reply the reply (an ERROR reply is passed as is), or NULL when the connection
 *        broke or the handle is being destroyed; then err says why.
 * @owner reply borrowed for the call only.
 * @thread the loop's, from a loop callback or from wdts_redis_async_destroy().
 */
typedef void (*wdts_redis_async_cb)(const struct wdts_redis_reply *reply, const char *err,
                                    void *opaque);

/**
 * @brief Starts connecting (non-blocking); commands may be sent at once and queue.
 * @owner params copied; loop borrowed, must outlive the handle.
 * @returns a new handle (wdts_redis_async_destroy()), or NULL with the reason in errstr.
 */
struct wdts_redis_async *wdts_redis_async_new(struct wdts_loop *loop,
                                              const struct wdts_redis_params *params,
                                              char *errstr, size_t errstr_size);

/** Fails every pending command (callbacks see NULL) and frees the handle. NULL: no-op. */
void wdts_redis_async_destroy(struct wdts_redis_async *ra);

/** @returns 1 while a connection is established (for /readyz). */
int wdts_redis_async_connected(const struct wdts_redis_async *ra);

/**
 * @brief Sends a command. @owner argv copied.
 * @returns WDTS_OK (cb will be called exactly once), or WDTS_ERR_REDIS when there is no
 *          connection right now (cb is not called; retry later).
 */
wdts_err_t wdts_redis_async_command(struct wdts_redis_async *ra, int argc, const char **argv,
                                    wdts_redis_async_cb cb, void *opaque);

/**
 * @brief Sends a script call as EVALSHA; on a NOSCRIPT answer sends it again as EVAL.
 * @owner call borrowed (copied).
 * @returns as wdts_redis_async_command().
 */
wdts_err_t wdts_redis_async_lua(struct wdts_redis_async *ra, const struct wdts_lua_call *call,
                                wdts_redis_async_cb cb, void *opaque);

/** @returns commands sent whose callbacks have not run yet. */
size_t wdts_redis_async_pending(const struct wdts_redis_async *ra);

/** @returns 1 when the server refused the AUTH of the current connection (a wrong
 *  redis.password; logged once as an error), else 0. @thread the loop's. */
int wdts_redis_async_auth_refused(const struct wdts_redis_async *ra);

#endif
