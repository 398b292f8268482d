/* Private to common/wdtapi: the libcurl side of a prepared API transfer, for an event loop
 * (curl multi) that lives in common/wdtapi too. Programs and the worker only see the opaque
 * struct wdts_api_xfer of wdts/wdt_api_http.h; curl handles never leave common/wdtapi.
 *
 * Event-loop use: x = wdts_api_xfer_new(); curl_multi_add_handle(m, wdts_api_xfer_easy(x));
 * on CURLMSG_DONE: curl_multi_remove_handle(); wdts_api_xfer_done(x, msg->data.result);
 * wdts_api_xfer_finish(x, …); wdts_api_xfer_destroy(x). CURLOPT_PRIVATE holds x. */
#ifndef WDTS_WDT_API_HTTP_INT_H
#define WDTS_WDT_API_HTTP_INT_H

#include <curl/curl.h>

#include "wdts/wdt_api_http.h"

/** @returns the easy handle; borrowed, owned by xfer. Do not change its options. */
CURL *wdts_api_xfer_easy(struct wdts_api_xfer *xfer);
/** A pointer slot for the event loop driving the transfer (wdt_api_multi.c). */
void **wdts_api_xfer_user(struct wdts_api_xfer *xfer);
/** Records curl's result for a transfer that has finished (blocking or multi). */
void wdts_api_xfer_done(struct wdts_api_xfer *xfer, CURLcode rc);

#endif
