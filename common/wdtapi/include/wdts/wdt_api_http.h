/* The WDT API client's libcurl transport: a blocking call, or a prepared transfer for an
 * event loop (wdts/wdt_api_multi.h).
 * Not here: paging strategy, rate limiting, retries (the worker decides those).
 *
 *   wdts_api_request ──(moved)──► wdts_api_xfer ──► wdts_api_xfer_finish() ──► wdts_api_result
 *
 * @thread Any thread, on distinct objects; no global state besides libcurl's one-time global
 *         init (done once, thread-safely, by the first wdts_api_xfer_new()).
 */
#ifndef WDTS_WDT_API_HTTP_H
#define WDTS_WDT_API_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"

struct wdts_api_call;
struct wdts_api_creds;
struct wdts_api_ctx;
struct wdts_api_request;
struct wdts_api_result;

/** Transport options. Zero values take the defaults named. */
struct wdts_api_http_opts {
    long timeout_ms;         /* whole transfer; default 30000 */
    long connect_timeout_ms; /* default 10000 */
    int connection_close;    /* 1: send `Connection: close` (multi-seller mode, docs/API.md §1) */
    size_t max_answer_bytes; /* default 64 MiB; a bigger answer is cut and classified */
};

/**
 * A prepared transfer: one request and its libcurl easy handle, ready for a blocking
 * perform or for an event loop in common/wdtapi (see wdt_api_http_int.h there; curl handles
 * never leave common/wdtapi). Owns the request, the handle, the headers and the answer.
 */
struct wdts_api_xfer;

/**
 * @brief Prepares a transfer for req.
 * @owner takes ownership of req's members on success (req is zeroed); on failure req is
 *        untouched. Returns a new object; free with wdts_api_xfer_destroy().
 * @returns NULL with the reason in errstr.
 */
struct wdts_api_xfer *wdts_api_xfer_new(struct wdts_api_request *req,
                                        const struct wdts_api_http_opts *opts, char *errstr,
                                        size_t errstr_size);
/** Runs the transfer to completion on this thread (curl easy perform). */
void wdts_api_xfer_perform(struct wdts_api_xfer *xfer);
/**
 * @brief Turns the finished transfer into a classified result; secrets of creds are redacted.
 * @owner xfer, ctx, creds borrowed (creds may be NULL); res filled as by wdts_api_classify().
 */
void wdts_api_xfer_finish(struct wdts_api_xfer *xfer, const struct wdts_api_ctx *ctx,
                          const struct wdts_api_creds *creds, struct wdts_api_result *res);
/** As wdts_api_xfer_finish(), with outcome.elide_list = list_key (may be NULL),
 *  outcome.elide_members = members and outcome.elide_max_records = max_records. */
void wdts_api_xfer_finish_elided(struct wdts_api_xfer *xfer, const struct wdts_api_ctx *ctx,
                                 const struct wdts_api_creds *creds, const char *list_key,
                                 const char *const *members, size_t nmembers,
                                 size_t max_records, struct wdts_api_result *res);
/** @returns the raw answer bytes received so far (borrowed until destroy) and their length. */
const char *wdts_api_xfer_answer(const struct wdts_api_xfer *xfer, size_t *len);
/** @returns the answer's HTTP Date header as Unix seconds (the gateway's clock, for a
 *  resync after a timestamp error), or 0 when the answer had none. */
int64_t wdts_api_xfer_date(const struct wdts_api_xfer *xfer);
/** NULL-safe. */
void wdts_api_xfer_destroy(struct wdts_api_xfer *xfer);

/**
 * @brief One blocking call: build, send, classify. For wdtctl and tools, not for the worker.
 * @param raw_answer when not NULL, receives the raw answer bytes (new, NUL-terminated, free()
 *        it; NULL when nothing came back).
 * @returns WDTS_ERR_INVAL when the request could not be built, WDTS_ERR_HTTP when libcurl
 *          could not be set up (reason in errstr; res untouched); otherwise WDTS_OK and every
 *          outcome of the call, failures included, is in res.
 */
wdts_err_t wdts_api_call_blocking(const struct wdts_api_creds *creds, const char *gateway,
                                  const struct wdts_api_call *call,
                                  const struct wdts_api_http_opts *opts, struct wdts_api_result *res,
                                  char **raw_answer, char *errstr, size_t errstr_size);

#endif
