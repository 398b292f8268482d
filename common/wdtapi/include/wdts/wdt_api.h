/* The WDT flagship API client and its Qimen route (docs/API.md):
 * credentials, pure request building (no I/O, caller-supplied clock), answer parsing and
 * the one classification of every outcome into the error classes of docs/DESIGN.md §3, and a
 * libcurl transport (a blocking call, or a prepared transfer for an event loop).
 * Not here: paging strategy, rate limiting, retries (the worker decides those).
 *
 *   wdts_api_creds ──(borrowed)──► wdts_api_request_build() ──► wdts_api_request (owned)
 *   wdts_api_request ──(moved)──► wdts_api_xfer ──► wdts_api_xfer_finish() ──► wdts_api_result
 *
 * @thread Any thread, on distinct objects; no global state besides libcurl's one-time global
 *         init (done once, thread-safely, by the first wdts_api_xfer_new()).
 */
#ifndef WDTS_WDT_API_H
#define WDTS_WDT_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"
#include "wdts/json_scan.h"
#include "wdts/sign.h"

/** WDT's own app on Qimen: the fixed `target_app_key` (docs/API.md §6). */
#define WDTS_API_QIMEN_TARGET_APP_KEY "21363512"

/** Which route a connection uses (docs/DESIGN.md §2 "app"). */
enum wdts_api_app {
    WDTS_API_APP_WDT = 0, /* direct flagship gateway (旺店通自定义应用) */
    WDTS_API_APP_QIMEN,   /* Qimen custom scene (奇门自定义应用) */
};

/** Parses "wdt" | "qimen". @returns WDTS_ERR_INVAL otherwise. */
wdts_err_t wdts_api_app_parse(const char *name, enum wdts_api_app *out);
/** @returns "wdt" or "qimen". */
const char *wdts_api_app_name(enum wdts_api_app app);

/**
 * The credentials of one connection. Every string is owned by the struct; secrets are
 * wiped by wdts_api_creds_deinit(). No function of this module puts `secret` or
 * `qimen_app_secret` in a URL, a body, a message or a log line.
 * Life cycle: wdts_api_creds_init() → [wdts_api_creds_set_qimen()] → use → _deinit().
 */
struct wdts_api_creds {
    enum wdts_api_app app;
    char *sid;                 /* seller account */
    char *appkey;              /* WDT appkey (sent as `key`, or `wdt_appkey` on Qimen) */
    char *secret;              /* appsecret part before the first ':' (signing only, never sent) */
    char *salt;                /* appsecret part after the first ':' (sent) */
    char *qimen_app_key;       /* Qimen/TOP app_key; NULL for the direct route */
    char *qimen_app_secret;    /* Qimen/TOP app secret; never sent */
    enum wdts_top_sign sign_method;  /* outer TOP signature; default md5 */
    char *target_app_key;      /* default WDTS_API_QIMEN_TARGET_APP_KEY */
    char *qimen_method_prefix; /* NULL: send "wdt.x.y"; e.g. "3ldsmu02o9.": send the scene-prefixed name */
};

/**
 * @brief Splits a WDT appsecret "secret:salt" on the first ':'.
 * @owner *secret and *salt are new; free() them. Untouched on failure.
 * @returns WDTS_ERR_INVAL when there is no ':' or either part is empty; errstr says
 *          the form (never echoing the value).
 */
wdts_err_t wdts_api_appsecret_split(const char *appsecret, char **secret, char **salt,
                                    char *errstr, size_t errstr_size);

/**
 * @brief Sets up direct-route credentials (app = wdt).
 * @owner sid, appkey, appsecret: borrowed (copied). creds must be deinit'ed even on failure.
 * @returns WDTS_ERR_INVAL with the reason in errstr (empty sid/appkey, bad appsecret).
 */
wdts_err_t wdts_api_creds_init(struct wdts_api_creds *creds, const char *sid, const char *appkey,
                               const char *appsecret, char *errstr, size_t errstr_size);

/**
 * @brief Switches creds to the Qimen route with the given Qimen app.
 * @param sign_method "md5" | "hmac" | "hmac-sha256"; NULL = md5.
 * @param target_app_key NULL = WDTS_API_QIMEN_TARGET_APP_KEY.
 * @param method_prefix NULL or "" = unprefixed "wdt.…"; otherwise prepended ("3ldsmu02o9.").
 * @owner every string borrowed (copied).
 */
wdts_err_t wdts_api_creds_set_qimen(struct wdts_api_creds *creds, const char *app_key,
                                    const char *app_secret, const char *sign_method,
                                    const char *target_app_key, const char *method_prefix,
                                    char *errstr, size_t errstr_size);

/** Frees and wipes. NULL-safe; safe on a zeroed struct. */
void wdts_api_creds_deinit(struct wdts_api_creds *creds);

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

/** The classes of docs/DESIGN.md §3 "Errors": what the caller does next. */
enum wdts_api_class {
    WDTS_API_OK = 0,
    WDTS_API_TRANSIENT,    /* retry with capped backoff */
    WDTS_API_RATE_LIMITED, /* cooldown, then retry */
    WDTS_API_CLOCK,        /* resync the clock, retry */
    WDTS_API_AUTH,         /* connection auth_failed: stop its jobs */
    WDTS_API_PERMISSION,   /* this report of this connection blocked */
    WDTS_API_BAD_REQUEST,  /* split (see kind) or dead-letter */
    WDTS_API_CLASS__COUNT
};

/** Finer detail inside a class, for callers that act on it. */
enum wdts_api_kind {
    WDTS_API_KIND_NONE = 0,
    WDTS_API_KIND_WINDOW_TOO_WIDE,  /* bad_request: split the window */
    WDTS_API_KIND_PAGER_REQUIRED,   /* bad_request: the method must be called with a pager */
    WDTS_API_KIND_CONCURRENCY,      /* rate_limited: too many calls in flight (vs calls/minute) */
    WDTS_API_KIND_QIMEN_ONLY,       /* permission: method only reachable through Qimen */
    WDTS_API_KIND_ERP_RIGHTS,       /* permission: the appkey employee lacks warehouse/shop rights */
    WDTS_API_KIND_ANSWER_TOO_LARGE, /* bad_request: the answer exceeded the size cap */
    WDTS_API_KIND_BAD_ANSWER,       /* transient: a 2xx answer refused before it is parsed
                                     * (a key twice on the path to the list, more records
                                     * than asked for, more values than a page holds) */
    WDTS_API_KIND__COUNT
};

/** @returns "ok", "transient", "rate_limited", "clock", "auth", "permission", "bad_request". */
const char *wdts_api_class_name(enum wdts_api_class cls);
/** @returns "" for NONE, else e.g. "window_too_wide". */
const char *wdts_api_kind_name(enum wdts_api_kind kind);

/**
 * Everything that came back from one attempt, before interpretation. All borrowed.
 * transport != WDTS_OK means no complete HTTP answer (then http_status may be 0).
 */
struct wdts_api_outcome {
    wdts_err_t transport;         /* WDTS_OK, _TIMEOUT, _HTTP, _IO, _INVAL (bad URL) … */
    const char *transport_detail; /* e.g. curl's error text; may be NULL */
    int answer_too_large;         /* the body was cut at the size cap */
    long http_status;             /* 0 when there was no answer */
    const char *body;             /* may be NULL */
    size_t body_len;
    const char *elide_list;       /* NULL, or a list key: see wdts_api_result.list_elided */
    const char *const *elide_members; /* noted in each record of an elided list */
    size_t elide_nmembers;
    size_t elide_max_records;     /* with elide_list: more records in the list is a
                                   * bad_answer (0: no cap) */
};

/** Most a 2xx answer may cost as a tree (wdts_jscan_cost() units, ~40 bytes each: about
 *  40 MiB); a costlier one is a bad_answer, never parsed. A page of 2000 records of 200
 *  values costs about 0.4 M. */
#define WDTS_API_MAX_COST ((size_t)1 << 20)

/** Context for the what-to-do messages. All borrowed, any may be NULL. Never secrets. */
struct wdts_api_ctx {
    enum wdts_api_app app;
    const char *method;  /* the direct method name */
    const char *sid;
    const char *appkey;
    const char *gateway;
};

/**
 * The interpreted answer. Life cycle: zero or wdts_api_result_init() → classify → read →
 * wdts_api_result_deinit().
 */
struct wdts_api_result {
    enum wdts_api_class cls;
    enum wdts_api_kind kind;
    long http_status;     /* 0 when none */
    int has_status;       /* 1 when the envelope carried a WDT status or a TOP code */
    long long status;     /* WDT `status`, or the TOP `code` on Qimen/TOP failures */
    char *code;           /* string `code` / TOP `sub_code` when present; owned; may be NULL */
    char *api_message;    /* the API's own message, verbatim; owned; may be NULL */
    char *message;        /* plain words: what happened and what to do; owned; never NULL after classify */
    json_t *answer;       /* the whole parsed answer; owned reference; NULL when not JSON */
    json_t *inner;        /* borrowed from answer: the envelope object (Qimen: the *_response value) */
    json_t *data;         /* borrowed from answer: `data`, NULL when absent */
    int has_total;        /* data.total_count was present */
    long long total_count;
    /* With outcome.elide_list: when the envelope's data.<list> is an array found without
     * doubt and checked strictly (else the whole body is parsed as usual), it is left out
     * of answer (there it is []) and list holds its span in the body, each record's span
     * and those of outcome.elide_members in each record (see wdts_jscan_answer()). */
    int list_elided;
    struct wdts_jscan_list list;
};

void wdts_api_result_init(struct wdts_api_result *res);
/** NULL-safe; leaves res zeroed. */
void wdts_api_result_deinit(struct wdts_api_result *res);

/**
 * @brief THE classification: every outcome (transport error, HTTP status, either envelope,
 *        WDT status/code/message, TOP code) becomes one class with a what-to-do message.
 *        Robust to non-JSON, truncated JSON, empty bodies, numbers sent as strings.
 * @owner outcome, ctx borrowed; res is (re)filled with owned members (deinit'ed first).
 */
void wdts_api_classify(const struct wdts_api_outcome *outcome, const struct wdts_api_ctx *ctx,
                       struct wdts_api_result *res);

/** Most bytes of the API's message kept (res->api_message; then "…"). */
#define WDTS_API_TEXT_MAX 1024
/** Most bytes of the API's string code kept (res->code). */
#define WDTS_API_CODE_MAX 128

/**
 * @brief Gateway text made safe for terminals, logs and Redis: valid UTF-8 is kept; C0
 *        controls, DEL, ESC and C1 controls (U+0080-U+009F) become '?' (tab, CR and LF a
 *        space), as do bytes that are not valid UTF-8; at most max bytes are kept, cut on
 *        a character boundary and followed by "…". The classification applies it once to
 *        every text it takes from an answer (api_message, code).
 * @owner s borrowed (need not be NUL-terminated); returns a new string, free() it.
 */
char *wdts_api_text_clean(const char *s, size_t len, size_t max);

/** Reads a JSON integer that may come as a number or a numeric string. @returns 0 when
 *  v is neither (then *out is untouched). */
int wdts_api_json_int(const json_t *v, long long *out);

/** Secrets shorter than this are not redacted (they would match ordinary words). */
#define WDTS_API_REDACT_MIN 6

/** Replaces every occurrence of each secret (of at least WDTS_API_REDACT_MIN bytes) in
 *  res->message and res->api_message with "***" (defence in depth: the classification never
 *  sees a secret, and an echo from the server is scrubbed too). */
void wdts_api_result_redact(struct wdts_api_result *res, const char *const *secrets, size_t n);

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
