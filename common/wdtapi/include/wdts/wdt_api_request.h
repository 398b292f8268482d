/* The WDT API client: pure request building for both routes (no I/O, caller-supplied
 * clock), and the method names a call sends on each route (direct and Qimen).
 * Not here: paging strategy, rate limiting, retries (the worker decides those).
 *
 *   wdts_api_creds ──(borrowed)──► wdts_api_request_build() ──► wdts_api_request (owned)
 *
 * @thread Any thread, on distinct objects; no global state.
 */
#ifndef WDTS_WDT_API_REQUEST_H
#define WDTS_WDT_API_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"

struct wdts_api_creds;

/** One API call, as the caller describes it (route independent). All borrowed. */
struct wdts_api_call {
    const char *method;      /* direct method name, e.g. "sales.TradeQuery.queryWithDetail" */
    const char *qimen_method; /* the Qimen name the official Qimen SDK gives it (the catalog's
                                 qimen_method, e.g. "wdt.wms.stockspec.search" for
                                 wms.StockSpec.search2); NULL derives "wdt." + lower case */
    const char *params_json; /* JSON object text; NULL = {}. Direct route only: an array is the
                                positional-argument body itself (V1-style calls). */
    int paged;               /* 1: send page_no/page_size (and calc_total) */
    long long page_no;       /* 0-based; the Qimen builder sends page_no + 1 */
    long long page_size;
    int calc_total;          /* direct only: calc_total=1 (Qimen has none, total_count comes anyway) */
    int64_t now;             /* Unix seconds of the request: the caller's clock */
};

/** A request exactly as it goes on the wire. Every member owned. */
struct wdts_api_request {
    const char *http_method;  /* static "POST" */
    char *url;                /* gateway + full query string, signature included */
    const char *content_type; /* static: "application/json" or form-urlencoded (Qimen) */
    char *body;               /* exact bytes posted (NUL-terminated for convenience) */
    size_t body_len;
};

/**
 * @brief Builds the signed request for a call on creds->app's route. Pure: no I/O, no clock.
 *        Direct: query sid,key,salt,method,timestamp,v,sign[,page_size,page_no,calc_total],
 *        body `[<params compact>]` signed as those exact bytes (tokens kept as written, only
 *        whitespace between them removed). Qimen: docs/API.md §6; null and empty ("", [], {})
 *        members of params are dropped, because WDT's own helpers sign them differently
 *        (§6.1); 0 and false are kept, they carry meaning (e.g. status_type=0).
 * @param gateway the gateway URL (may already carry a query string).
 * @owner creds, call, gateway borrowed. *req is filled with new memory: free with
 *        wdts_api_request_deinit() (also after a failure; it is zeroed first).
 * @returns WDTS_ERR_INVAL with the reason in errstr (malformed params JSON, params not an
 *          object/array, an array on the Qimen route, empty method, bad paging numbers).
 */
wdts_err_t wdts_api_request_build(const struct wdts_api_creds *creds, const char *gateway,
                                  const struct wdts_api_call *call, struct wdts_api_request *req,
                                  char *errstr, size_t errstr_size);

/** Frees the members. NULL-safe. */
void wdts_api_request_deinit(struct wdts_api_request *req);

/**
 * @brief The request as one JSON object {"http_method","url","content_type","body"}.
 * @owner new string; free() it.
 */
char *wdts_api_request_to_json(const struct wdts_api_request *req);

/** @returns the Qimen `method` for a direct method ("wdt." + lower case, plus the prefix).
 *  A name that already holds "wdt." is only lower-cased. @owner new string; free() it. */
char *wdts_api_qimen_method(const char *direct_method, const char *prefix);

/** @returns the method name a call sends on creds' route: call->method on the direct route;
 *  on Qimen call->qimen_method (or the derived name) with the connection's scene prefix.
 *  @owner new string; free() it. */
char *wdts_api_wire_method(const struct wdts_api_creds *creds, const struct wdts_api_call *call);

#endif
