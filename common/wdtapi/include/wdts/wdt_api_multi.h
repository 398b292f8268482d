/* API transfers (wdts_api_xfer of wdts/wdt_api_http.h) run concurrently on a wdts_loop with
 * libcurl multi's socket interface: curl tells which sockets to watch and when to wake
 * up, the loop tells curl what became ready, and each finished transfer is handed back
 * through its callback. Keep-alive connections are shared between transfers to the same
 * gateway. It does not build requests, classify answers, retry or rate-limit.
 *
 * Ownership: caller --owns--> wdts_api_multi --borrows--> running transfers (the caller
 *            still owns each xfer; it must not destroy one that is running: remove it).
 * Threads: the loop's thread only. */
#ifndef WDTS_WDT_API_MULTI_H
#define WDTS_WDT_API_MULTI_H

#include <stddef.h>

#include "wdts/err.h"

struct wdts_loop;
struct wdts_api_multi;
struct wdts_api_xfer;

/**
 * @brief A transfer finished (any outcome): call wdts_api_xfer_finish() to classify it.
 * @thread the loop's, from a loop callback.
 */
typedef void (*wdts_api_multi_cb)(struct wdts_api_xfer *xfer, void *opaque);

/** @returns a new driver (wdts_api_multi_destroy()), or NULL with the reason in errstr.
 *  @param max_host_conns most connections per host (0: unlimited). */
struct wdts_api_multi *wdts_api_multi_new(struct wdts_loop *loop, long max_host_conns,
                                          char *errstr, size_t errstr_size);
/** Stops every running transfer (no callback) and frees the driver. NULL is a no-op. */
void wdts_api_multi_destroy(struct wdts_api_multi *m);

/**
 * @brief Starts a transfer. @owner xfer stays the caller's; borrowed until cb or
 *        wdts_api_multi_remove().
 * @returns WDTS_OK, or WDTS_ERR_HTTP when curl refused it (cb will not be called).
 */
wdts_err_t wdts_api_multi_add(struct wdts_api_multi *m, struct wdts_api_xfer *xfer,
                              wdts_api_multi_cb cb, void *opaque);
/** Stops a running transfer without a callback (it may then be destroyed). */
void wdts_api_multi_remove(struct wdts_api_multi *m, struct wdts_api_xfer *xfer);
/** @returns transfers running. */
size_t wdts_api_multi_running(const struct wdts_api_multi *m);

#endif
