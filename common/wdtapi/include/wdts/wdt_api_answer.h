/* The WDT API client: answer parsing and the one classification of every outcome into
 * the error classes of docs/DESIGN.md §3, with a what-to-do message; gateway text cleaning and
 * the redaction of secrets from messages.
 * Not here: retries (the worker decides those).
 *
 * @thread Any thread, on distinct objects; no global state.
 */
#ifndef WDTS_WDT_API_ANSWER_H
#define WDTS_WDT_API_ANSWER_H

#include <jansson.h>
#include <stddef.h>

#include "wdts/json_scan.h"
#include "wdts/wdt_api_creds.h"

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

/** Secrets shorter than this are not redacted (they would match ordinary words). */
#define WDTS_API_REDACT_MIN 6

/** Replaces every occurrence of each secret (of at least WDTS_API_REDACT_MIN bytes) in
 *  res->message and res->api_message with "***" (defence in depth: the classification never
 *  sees a secret, and an echo from the server is scrubbed too). */
void wdts_api_result_redact(struct wdts_api_result *res, const char *const *secrets, size_t n);

#endif
