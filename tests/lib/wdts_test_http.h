/* The HTTP fixture: requests with libcurl (http_do) and the sum of a Prometheus series
 * they read, and an in-process responder on 127.0.0.1 (libmicrohttpd) whose answers a
 * test decides per request: the stand-in gateway of tests that need answers wdt-sandbox
 * does not give. */
#ifndef WDTS_TEST_HTTP_H
#define WDTS_TEST_HTTP_H

#include <curl/curl.h>
#include <microhttpd.h>

struct http_res {
    long code;     /* HTTP status, 0 on a transport error */
    CURLcode cerr; /* CURLE_OK or the transport error */
    char *body;    /* NUL-terminated; free() */
    size_t len;
};

/** POSTs body (NULL = GET) to url with content type ctype, timeout_ms. */
void http_do(const char *url, const char *body, const char *ctype, long timeout_ms,
             struct http_res *res);
void http_res_free(struct http_res *res);

/** The sum of the values of the series lines of GET base/metrics that hold frag1 (and
 * frag2 when not NULL); 0 when none. Fails the test unless the scrape answers 200. */
double wdts_test_http_metric(const char *base, const char *frag1, const char *frag2);

/**
 * Answers one request of the responder, on a thread of the responder's (one per
 * connection): url, the whole request body ("" when none), conn for headers and
 * arguments (MHD_lookup_connection_value and friends). Sets *status.
 * @returns the response to queue (the responder destroys it).
 */
typedef struct MHD_Response *(*wdts_test_responder_cb)(void *opaque,
                                                       struct MHD_Connection *conn,
                                                       const char *url, const char *body,
                                                       unsigned *status);

/** Starts a responder on 127.0.0.1, a free port. @returns it, or NULL (reason on stderr).
 * @owner new: wdts_test_responder_stop(); opaque: borrowed until then. */
struct wdts_test_responder *wdts_test_responder_start(wdts_test_responder_cb cb, void *opaque);
/** Its port. */
unsigned short wdts_test_responder_port(const struct wdts_test_responder *resp);
/** Stops it (waits for its threads); NULL is a no-op. */
void wdts_test_responder_stop(struct wdts_test_responder *resp);

#endif
