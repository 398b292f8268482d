/* The libcurl transport of the API client (see wdts/wdt_api_http.h and wdt_api_http_int.h): one
 * prepared easy handle per request, a capped answer buffer, and the mapping of curl's
 * result to an outcome for wdts_api_classify(). No retries and no logging here. */
#include "wdt_api_http_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/wdt_api_answer.h"
#include "wdts/wdt_api_creds.h"
#include "wdts/wdt_api_request.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_ANSWER ((size_t)64 << 20)

struct wdts_api_xfer {
    CURL *easy;                  /* owned */
    struct curl_slist *headers;  /* owned */
    struct wdts_api_request req; /* owned: the body buffer is posted in place */
    struct wdts_buf answer;      /* owned */
    size_t max_answer;
    int too_large;
    int done;
    CURLcode rc;
    char errbuf[CURL_ERROR_SIZE];
    int64_t date;   /* the answer's Date header, Unix seconds; 0 when none */
    void *user;     /* the event loop's slot (wdts_api_xfer_user()) */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct wdts_api_xfer *xfer = opaque;
    size_t n = size * nmemb;
    if (xfer->answer.len + n > xfer->max_answer) {
        xfer->too_large = 1;
        return 0; /* curl aborts the transfer with CURLE_WRITE_ERROR */
    }
    wdts_buf_append(&xfer->answer, data, n);
    return n;
}

/* Reads the Date header (the gateway's clock, for resyncing after a timestamp error) and
 * Content-Length (the answer's buffer is sized once instead of doubling up to it). */
static size_t on_header(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct wdts_api_xfer *xfer = opaque;
    size_t n = size * nmemb;
    if (n > 15 && n < 64 && strncasecmp(data, "Content-Length:", 15) == 0) {
        char line[64];
        memcpy(line, data + 15, n - 15);
        line[n - 15] = '\0';
        char *end;
        unsigned long long len = strtoull(line, &end, 10);
        if (end != line && len > 0 && len <= xfer->max_answer && xfer->answer.len == 0)
            wdts_buf_reserve(&xfer->answer, (size_t)len);
    }
    if (n > 5 && n < 128 && strncasecmp(data, "Date:", 5) == 0) {
        char line[128];
        memcpy(line, data + 5, n - 5);
        line[n - 5] = '\0';
        time_t t = curl_getdate(line, NULL);
        if (t > 0)
            xfer->date = (int64_t)t;
    }
    return n;
}

struct wdts_api_xfer *wdts_api_xfer_new(struct wdts_api_request *req,
                                        const struct wdts_api_http_opts *opts, char *errstr,
                                        size_t errstr_size)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        snprintf(errstr, errstr_size, "libcurl initialisation failed: %s",
                 curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    if (req->url == NULL || req->body == NULL) {
        snprintf(errstr, errstr_size, "the request has no URL or body (build it first)");
        return NULL;
    }
    CURL *easy = curl_easy_init();
    if (easy == NULL) {
        snprintf(errstr, errstr_size, "libcurl could not create a handle");
        return NULL;
    }
    struct wdts_api_xfer *xfer = wdts_xcalloc(1, sizeof(*xfer));
    xfer->easy = easy;
    xfer->req = *req;
    memset(req, 0, sizeof(*req));
    wdts_buf_init(&xfer->answer);
    long timeout = opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    long ctimeout = opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
                                                         : DEFAULT_CONNECT_TIMEOUT_MS;
    xfer->max_answer = opts && opts->max_answer_bytes ? opts->max_answer_bytes : DEFAULT_MAX_ANSWER;

    char *ct = wdts_xasprintf("Content-Type: %s", xfer->req.content_type);
    xfer->headers = curl_slist_append(xfer->headers, ct);
    free(ct);
    xfer->headers = curl_slist_append(xfer->headers, "Expect:"); /* no 100-continue round trip */
    if (opts && opts->connection_close)
        xfer->headers = curl_slist_append(xfer->headers, "Connection: close");

    curl_easy_setopt(easy, CURLOPT_URL, xfer->req.url);
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, xfer->req.body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)xfer->req.body_len);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, xfer->headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "wdtsync/" WDTS_VERSION);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, ""); /* gzip when offered: pages are big */
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, ctimeout);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect would drop the POST body */
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 65536L); /* a page in fewer reads */
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, xfer);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, xfer->errbuf);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, xfer);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, xfer);
    if (opts && opts->connection_close)
        curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
    return xfer;
}

CURL *wdts_api_xfer_easy(struct wdts_api_xfer *xfer)
{
    return xfer->easy;
}

void wdts_api_xfer_done(struct wdts_api_xfer *xfer, CURLcode rc)
{
    xfer->done = 1;
    xfer->rc = rc;
}

void wdts_api_xfer_perform(struct wdts_api_xfer *xfer)
{
    xfer->errbuf[0] = '\0';
    wdts_api_xfer_done(xfer, curl_easy_perform(xfer->easy));
}

int64_t wdts_api_xfer_date(const struct wdts_api_xfer *xfer)
{
    return xfer->date;
}

void **wdts_api_xfer_user(struct wdts_api_xfer *xfer)
{
    return &xfer->user;
}

const char *wdts_api_xfer_answer(const struct wdts_api_xfer *xfer, size_t *len)
{
    *len = xfer->answer.len;
    return wdts_buf_str(&xfer->answer);
}

/* curl's result as a transport error kind. */
static wdts_err_t map_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return WDTS_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return WDTS_ERR_TIMEOUT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return WDTS_ERR_INVAL;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        return WDTS_ERR_TLS;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return WDTS_ERR_IO;
    default:
        return WDTS_ERR_HTTP;
    }
}

void wdts_api_xfer_finish(struct wdts_api_xfer *xfer, const struct wdts_api_ctx *ctx,
                          const struct wdts_api_creds *creds, struct wdts_api_result *res)
{
    wdts_api_xfer_finish_elided(xfer, ctx, creds, NULL, NULL, 0, 0, res);
}

void wdts_api_xfer_finish_elided(struct wdts_api_xfer *xfer, const struct wdts_api_ctx *ctx,
                                 const struct wdts_api_creds *creds, const char *list_key,
                                 const char *const *members, size_t nmembers,
                                 size_t max_records, struct wdts_api_result *res)
{
    struct wdts_api_outcome o;
    char detail[CURL_ERROR_SIZE + 128];
    long http_status = 0;
    memset(&o, 0, sizeof(o));
    curl_easy_getinfo(xfer->easy, CURLINFO_RESPONSE_CODE, &http_status);
    o.http_status = http_status;
    o.body = xfer->answer.data;
    o.body_len = xfer->answer.len;
    o.elide_list = list_key;
    o.elide_members = members;
    o.elide_nmembers = nmembers;
    o.elide_max_records = max_records;
    if (!xfer->done) {
        o.transport = WDTS_ERR_HTTP;
        o.transport_detail = "the transfer did not run to completion";
    } else if (xfer->rc == CURLE_WRITE_ERROR && xfer->too_large) {
        o.answer_too_large = 1;
    } else if (xfer->rc != CURLE_OK) {
        o.transport = map_curl(xfer->rc);
        if (xfer->rc == CURLE_PARTIAL_FILE || xfer->rc == CURLE_RECV_ERROR)
            snprintf(detail, sizeof(detail),
                     "the answer was cut off after %zu bytes, HTTP %ld: %s", xfer->answer.len,
                     http_status, xfer->errbuf[0] ? xfer->errbuf : curl_easy_strerror(xfer->rc));
        else
            snprintf(detail, sizeof(detail), "%s",
                     xfer->errbuf[0] ? xfer->errbuf : curl_easy_strerror(xfer->rc));
        o.transport_detail = detail;
    }
    wdts_api_classify(&o, ctx, res);
    if (creds) {
        const char *secrets[] = {creds->secret, creds->qimen_app_secret};
        wdts_api_result_redact(res, secrets, 2);
    }
}

void wdts_api_xfer_destroy(struct wdts_api_xfer *xfer)
{
    if (xfer == NULL)
        return;
    curl_easy_cleanup(xfer->easy);
    curl_slist_free_all(xfer->headers);
    wdts_api_request_deinit(&xfer->req);
    wdts_buf_deinit(&xfer->answer);
    free(xfer);
}

wdts_err_t wdts_api_call_blocking(const struct wdts_api_creds *creds, const char *gateway,
                                  const struct wdts_api_call *call,
                                  const struct wdts_api_http_opts *opts, struct wdts_api_result *res,
                                  char **raw_answer, char *errstr, size_t errstr_size)
{
    struct wdts_api_request req;
    if (raw_answer)
        *raw_answer = NULL;
    wdts_err_t err = wdts_api_request_build(creds, gateway, call, &req, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    struct wdts_api_xfer *xfer = wdts_api_xfer_new(&req, opts, errstr, errstr_size);
    if (xfer == NULL) {
        wdts_api_request_deinit(&req);
        return WDTS_ERR_HTTP;
    }
    struct wdts_api_ctx ctx = {creds->app, call->method, creds->sid, creds->appkey, gateway};
    wdts_api_xfer_perform(xfer);
    wdts_api_xfer_finish(xfer, &ctx, creds, res);
    if (raw_answer && xfer->answer.len > 0)
        *raw_answer = wdts_xstrndup(xfer->answer.data, xfer->answer.len);
    wdts_api_xfer_destroy(xfer);
    return WDTS_OK;
}
