/* Connections (docs/DESIGN.md §2): one authorised WDT app of one tenant, its credentials,
 * enabled reports, gateway, backfill depth, rate limits and pii policy, plus the state
 * the workers and `wdtctl connection check` keep (auth_failed, blocked reports).
 * This module is the model (JSON, validation, sealing) and its Redis store; the live
 * checks against a gateway are in conn_probe (wdts/conn_probe.h). It never logs.
 *
 * Redis layout (every key under the configured prefix, e.g. "wdt:"):
 *   <prefix>conns              SET of connection ids
 *   <prefix>conn:<id>          STRING: the connection as JSON (secrets sealed, no state)
 *   <prefix>connstate:<id>     HASH: "auth" → {"message":…,"since":…} while auth_failed,
 *                                    "report:<name>" → {"reason":…,"fix":…,"since":…} while
 *                                    blocked, "history:<name>" → the same while the report's
 *                                    history method is refused, "checked_at" → Unix seconds
 *                                    of the last check
 *                              a missing field means ok, so marking is one HSET/HDEL and
 *                              workers never rewrite the connection document.
 * and per enabled report <r> (scheduler/sched_state.h, wdts/watermark.h, wdts/lock.h):
 *   <prefix>plan:<id>:<r>  <prefix>out:<id>:<r>  <prefix>outmeta:<id>:<r>  <prefix>stat:<id>:<r>
 *   <prefix>wm:{<id>:<r>}  …:done  …:fence  …:fidx  …:lock:<start>:<end>
 * wdts_conn_remove() deletes exactly these; a module that adds a per-connection key
 * adds it there too.
 *
 * Secrets: appsecret ("secret:salt") and the own Qimen app_secret are sealed with
 * wdts_crypto_seal() under secret.key, with the whole connection (tenant, id, app, sid,
 * appkey, gateway, Qimen app) and the field as associated data, so a sealed value opens
 * only for the connection, destination and field it was made for; a document edited in
 * Redis to send the calls elsewhere no longer opens. Loading checks that the document's
 * id is the one of the key it was read from. Older (v1) documents: WDTS_CONN_VERSION. Plain
 * secrets exist only in memory after wdts_conn_open_secrets(), are wiped by
 * wdts_conn_destroy(), and no JSON this module writes ever holds them.
 *
 *   caller --owns--> wdts_conn --owns--> every string, reports[]
 * Threads: a wdts_conn is used by one thread at a time; functions keep no global state. */
#ifndef WDTS_CONN_H
#define WDTS_CONN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "wdts/crypto.h"
#include "wdts/err.h"
#include "wdts/str.h"
#include "wdts/wdt_api_creds.h"

struct wdts_redis;
struct wdts_redis_reply;
struct wdts_catalog;

/** Version of the stored JSON document ("v"), which says how its secrets are sealed:
 *  1  associated data "<tenant>/<id>/<field>" only: whoever could write Redis could point
 *     the connection at another gateway or sid, or copy it under another id.
 *  2  associated data binds the whole connection: tenant, id, app, sid, appkey, gateway,
 *     the Qimen app (platform or own, its app_key) and the field (wdts_conn_aad_v()).
 *  A v1 document still opens (with the v1 associated data); wdts_conn_seal() always seals
 *  as v2, and wdts_conn_upgrade() (run by `wdtctl connection check`) rewrites a stored v1
 *  document as v2 in place. */
#define WDTS_CONN_VERSION_V1 1
#define WDTS_CONN_VERSION 2

/** Production gateways (docs/API.md §1, §6) and the test gateways, per route. Both
 *  production gateways are https (the docs print http, which would send sid, appkey,
 *  salt, signatures and buyers' data in clear); the WDT test gateway is only known as
 *  plain http, so it is kept and warned about (wdts_conn_gateway_plain()). */
#define WDTS_CONN_GATEWAY_WDT "https://wdt.wangdian.cn/openapi"
#define WDTS_CONN_GATEWAY_WDT_TEST "http://47.92.239.46/openapi"
#define WDTS_CONN_GATEWAY_QIMEN "https://3ldsmu02o9.api.taobao.com/router/qm"
#define WDTS_CONN_GATEWAY_QIMEN_TEST "https://3ldsmu02o9.api.taobao.com/router/qmtest"

/** What `connection add`, `show` and `status` say about a plain http gateway. */
#define WDTS_CONN_PLAIN_HTTP_WARNING                                                            \
    "the gateway is plain http: sid, appkey, signatures and the sellers' data cross the "      \
    "network unencrypted; use an https:// gateway unless this is a local test"

/** Defaults: 90 days of backfill; conservative limits (docs/API.md §4.3: serial, ≤1 call/s). */
#define WDTS_CONN_BACKFILL_DEFAULT_S (90LL * 86400)
#define WDTS_CONN_RATE_DEFAULT 1.0
#define WDTS_CONN_BURST_DEFAULT 1
#define WDTS_CONN_CONCURRENCY_DEFAULT 1

/** Deepest per-connection look-back (`--lookback report=D`). */
#define WDTS_CONN_LOOKBACK_MAX_S (366LL * 86400)
/** How long before documents move to the history (历史) methods: no page states it; the
 *  first-sync practice suggests about three months. */
#define WDTS_CONN_ARCHIVE_HORIZON_DEFAULT_S (90LL * 86400)
/** archive_read=old reads windows that start before now - horizon + this margin. */
#define WDTS_CONN_ARCHIVE_MARGIN_S (7LL * 86400)

/** Bounds checked by wdts_conn_validate(). */
#define WDTS_CONN_BACKFILL_MAX_S (3650LL * 86400)
#define WDTS_CONN_RATE_MAX 100.0
#define WDTS_CONN_BURST_MAX 100
#define WDTS_CONN_CONCURRENCY_MAX 32

/** What the worker does with the catalog's pii fields of a record (docs/DESIGN.md §3 Privacy). */
enum wdts_conn_pii {
    WDTS_CONN_PII_KEEP = 0,
    WDTS_CONN_PII_HASH, /* keyed HMAC-SHA256 per tenant (wdts_pii_hash) */
    WDTS_CONN_PII_DROP,
};

/** Which windows of a report with a history method are also read from that method. */
enum wdts_conn_archive_read {
    WDTS_CONN_ARCHIVE_ALL = 0, /* every window (an archived document that changes may stay
                                * archived with a recent change time) */
    WDTS_CONN_ARCHIVE_OLD,     /* windows starting before now - horizon + margin */
    WDTS_CONN_ARCHIVE_OFF,     /* none */
};

/** Parses "all" | "old" | "off". @returns WDTS_ERR_INVAL otherwise. */
wdts_err_t wdts_conn_archive_read_parse(const char *s, enum wdts_conn_archive_read *out);
/** @returns "all", "old" or "off". */
const char *wdts_conn_archive_read_name(enum wdts_conn_archive_read r);

/** Parses "keep" | "hash" | "drop". @returns WDTS_ERR_INVAL otherwise. */
wdts_err_t wdts_conn_pii_parse(const char *s, enum wdts_conn_pii *out);
/** @returns "keep", "hash" or "drop". */
const char *wdts_conn_pii_name(enum wdts_conn_pii pii);

/** One enabled report and its state. ok: blocked == 0 and the texts are NULL. */
struct wdts_conn_report {
    char *name;       /* a catalog report name; owned */
    int blocked;      /* 1: the app may not call its method; not planned until unblocked */
    char *reason;     /* blocked: what the API said (e.g. 权限不足); owned, may be NULL */
    char *fix;        /* blocked: what to do; owned, may be NULL */
    int64_t since;    /* blocked: Unix time it was first seen blocked; 0 otherwise */
    int has_lookback;   /* 1: lookback_s overrides the catalog's lookback_s for this connection */
    int64_t lookback_s; /* look-back depth (0 = none), a multiple of 60; with has_lookback */
    /* The report's history (历史) method refused (state field "history:<name>"): the
     * report goes on; windows older than the archive horizon fail until it is approved. */
    int history_blocked;
    char *history_reason; /* owned, may be NULL */
    char *history_fix;    /* owned, may be NULL */
    int64_t history_since;
};

/**
 * A connection. Life cycle: wdts_conn_new() (defaults) or wdts_conn_from_json() /
 * wdts_conn_load() → set or read fields → wdts_conn_seal() before wdts_conn_save() →
 * wdts_conn_destroy(). State machine of `auth_failed`:
 *   ok --(an auth-class answer: worker or check)--> auth_failed --(check succeeds)--> ok
 * and of each report: ok --(permission answer)--> blocked --(check succeeds)--> ok.
 */
struct wdts_conn {
    int version;  /* of the sealed secrets (WDTS_CONN_VERSION above); new ones are current */
    char *tenant; /* [A-Za-z0-9_.-]{1,64} */
    char *id;     /* connection id, unique across tenants, same alphabet */
    enum wdts_api_app app;
    char *sid;
    char *appkey;
    char *appsecret_sealed; /* as stored: "v1:<key id>:…"; NULL until sealed */
    char *appsecret;        /* plain "secret:salt"; NULL unless set or opened; never stored */

    /* Qimen route only. platform: use the operator's qimen.app.key/secret from config. */
    int qimen_platform;
    char *qimen_app_key;           /* own app_key (not a secret, an identifier); NULL if platform */
    char *qimen_app_secret_sealed; /* as stored; NULL if platform */
    char *qimen_app_secret;        /* plain; NULL unless set or opened */

    char *gateway;      /* http(s) URL */
    struct wdts_conn_report *reports;
    size_t n_reports;

    int64_t backfill_s; /* first sync starts now - backfill_s */
    /* The seller app's call budget (wdts/limit.h rate, burst, slots), shared by everything
     * that calls this seller under the limiter id (gateway URL, sid, appkey). */
    double rate;        /* calls per second */
    int burst;          /* calls allowed at once above the rate */
    int concurrency;    /* calls in flight */
    enum wdts_conn_pii pii;
    int64_t archive_horizon_s;                /* documents older than this are archived */
    enum wdts_conn_archive_read archive_read; /* which windows read the history method too */

    int auth_failed;      /* 1: credentials refused; jobs stop until check succeeds */
    char *auth_message;   /* auth_failed: what the API said and what to do; owned */
    int64_t auth_since;   /* auth_failed: since when */

    int64_t created_at;
    int64_t updated_at;
    int64_t checked_at; /* last successful check of the credentials; 0 = never */
};

/** @returns a new connection with the defaults above (no reports). @owner wdts_conn_destroy(). */
struct wdts_conn *wdts_conn_new(void);

/** Wipes the plain secrets and frees everything. NULL is a no-op. */
void wdts_conn_destroy(struct wdts_conn *conn);

/** @returns the production gateway of a route. */
const char *wdts_conn_default_gateway(enum wdts_api_app app);

/**
 * @brief Resolves the --gateway words: NULL or "production" → the route's production
 *        gateway; "test" → its test gateway; otherwise the text itself (checked later).
 * @returns a static string or text itself (borrowed).
 */
const char *wdts_conn_gateway_resolve(enum wdts_api_app app, const char *text);

/** @returns 1 when gateway is a plain http:// URL (nothing is encrypted), else 0. */
int wdts_conn_gateway_plain(const char *gateway);

/** Adds an enabled report (ok). A name already present is not added twice. @owner copied. */
void wdts_conn_add_report(struct wdts_conn *conn, const char *name);

/** @returns the report entry called name, borrowed; NULL when it is not enabled. */
struct wdts_conn_report *wdts_conn_report_get(const struct wdts_conn *conn, const char *name);

/** Marks r blocked (its history method's mark when history) with reason and fix (copied,
 *  either may be NULL; what the mark held before is freed) since the Unix time since. */
void wdts_conn_report_mark(struct wdts_conn_report *r, int history, const char *reason,
                           const char *fix, int64_t since);

/**
 * @brief Checks every field (names, app, sid/appkey, secrets present in either form,
 *        Qimen settings consistent with app, gateway URL, reports known to cat and not
 *        repeated, limits within bounds, backfill). cat may be NULL (reports not looked up).
 * @param errors one line per problem, each saying what to change; may be NULL.
 * @returns WDTS_OK or WDTS_ERR_INVAL.
 */
wdts_err_t wdts_conn_validate(const struct wdts_conn *conn, const struct wdts_catalog *cat,
                              struct wdts_buf *errors);

/**
 * @brief Seals the plain secrets (appsecret, own qimen app_secret) into the *_sealed fields,
 *        replacing older sealed values. The plain values stay in memory.
 * @returns WDTS_OK; WDTS_ERR_INVAL when a plain secret is missing; WDTS_ERR_TLS on failure.
 */
wdts_err_t wdts_conn_seal(struct wdts_conn *conn, const unsigned char key[WDTS_CRYPTO_KEY_LEN],
                          char *errstr, size_t errstr_size);

/**
 * @brief Opens the sealed secrets into the plain fields.
 * @returns WDTS_OK; WDTS_ERR_TLS when they were sealed under another key or for another
 *          connection (errstr says which field and what to do); WDTS_ERR_INVAL when one is
 *          missing or malformed.
 */
wdts_err_t wdts_conn_open_secrets(struct wdts_conn *conn,
                                  const unsigned char key[WDTS_CRYPTO_KEY_LEN], char *errstr,
                                  size_t errstr_size);

/** The associated data of a sealed field in the form of version (see WDTS_CONN_VERSION).
 *  @owner new; free() it. */
char *wdts_conn_aad_v(const struct wdts_conn *conn, const char *field, int version);

/** wdts_conn_aad_v() in the connection's own version. @owner new; free() it. */
char *wdts_conn_aad(const struct wdts_conn *conn, const char *field);

/** What wdts_conn_to_json() includes. */
enum wdts_conn_json {
    WDTS_CONN_JSON_STORED = 0, /* the Redis document: sealed secrets, no state */
    WDTS_CONN_JSON_PUBLIC,     /* for users (show --json): no secrets in any form, with state */
    WDTS_CONN_JSON_FULL,       /* sealed secrets and state (round trips everything) */
};

/**
 * @brief The connection as a JSON object. Plain secrets are never included.
 * @owner returns a new reference; json_decref() it.
 */
json_t *wdts_conn_to_json(const struct wdts_conn *conn, enum wdts_conn_json what);

/**
 * @brief Reads a connection from a JSON object (any of the three forms; a missing state
 *        means ok). Unknown members are rejected so a misspelt field is caught.
 * @owner json borrowed. *out new (wdts_conn_destroy()); NULL on failure.
 * @returns WDTS_OK, or WDTS_ERR_JSON with the member and the problem in errstr.
 */
wdts_err_t wdts_conn_from_json(const json_t *json, struct wdts_conn **out, char *errstr,
                               size_t errstr_size);

/* ---- the Redis store --------------------------------------------------------------- */

/**
 * @brief Stores a new connection: the document, its id in the set and its state, in one
 *        MULTI/EXEC. conn must be sealed (checked: plain-only secrets are refused).
 * @param replace 0: fail with WDTS_ERR_INVAL if the id exists (checked atomically with SETNX).
 * @owner redis, conn borrowed; prefix NULL = WDTS_REDIS_PREFIX_DEFAULT.
 * @returns WDTS_OK, WDTS_ERR_INVAL (exists, not sealed), or the Redis error; errstr says.
 */
wdts_err_t wdts_conn_save(struct wdts_redis *redis, const char *prefix,
                          const struct wdts_conn *conn, int replace, char *errstr,
                          size_t errstr_size);

/**
 * @brief Loads a connection and its state (secrets stay sealed). A document whose id is not
 *        the id of the key it was read from is refused (WDTS_ERR_JSON).
 * @owner *out new; NULL on failure.
 * @returns WDTS_OK, WDTS_ERR_NOTFOUND, WDTS_ERR_JSON (a damaged document) or a Redis error.
 */
wdts_err_t wdts_conn_load(struct wdts_redis *redis, const char *prefix, const char *id,
                          struct wdts_conn **out, char *errstr, size_t errstr_size);

/**
 * @brief For a non-blocking client: the keys a load reads (GET doc_key, HGETALL state_key).
 * @owner both buffers are the caller's; each is reset and filled.
 */
void wdts_conn_load_keys(const char *prefix, const char *id, struct wdts_buf *doc_key,
                         struct wdts_buf *state_key);

/**
 * @brief For a non-blocking client: builds the connection from the GET reply's text (doc,
 *        NULL for a nil reply) and the HGETALL reply (state; NULL means no state), as
 *        wdts_conn_load() does. Pure: no I/O.
 * @owner *out new; NULL on failure.
 * @returns WDTS_OK, WDTS_ERR_NOTFOUND (doc NULL) or WDTS_ERR_JSON (a damaged document).
 */
wdts_err_t wdts_conn_load_parse(const char *id, const char *doc, size_t doc_len,
                                const struct wdts_redis_reply *state, struct wdts_conn **out,
                                char *errstr, size_t errstr_size);

/**
 * @brief Rewrites a stored v1 document (secrets sealed with the old associated data) as
 *        v2: seals the open secrets again (wdts_conn_seal()) and replaces the document only
 *        if it is still that v1 document (a Lua compare-and-set; the state hash is not
 *        touched). A v2 connection is left alone.
 * @param conn loaded and opened (wdts_conn_open_secrets()); its sealed fields and version
 *        are updated. @owner borrowed.
 * @param upgraded 1 when the stored document was rewritten.
 * @returns WDTS_OK, WDTS_ERR_INVAL (secrets not opened), WDTS_ERR_NOTFOUND, WDTS_ERR_TLS or
 *          a Redis error.
 */
wdts_err_t wdts_conn_upgrade(struct wdts_redis *redis, const char *prefix, struct wdts_conn *conn,
                             const unsigned char key[WDTS_CRYPTO_KEY_LEN], int *upgraded,
                             char *errstr, size_t errstr_size);

/**
 * @brief The ids of every stored connection, sorted.
 * @owner *ids new: an array of *n new strings; free with wdts_conn_ids_free().
 */
wdts_err_t wdts_conn_list(struct wdts_redis *redis, const char *prefix, char ***ids, size_t *n,
                          char *errstr, size_t errstr_size);
void wdts_conn_ids_free(char **ids, size_t n);

/**
 * @brief Deletes a connection and exactly the keys it owns (layout above): its id in the
 *        set, its document and state hash, and for each report of the stored document
 *        and of reports[] the scheduler's plan/out/outmeta/stat keys, the watermark's
 *        keys and its window locks (found by a SCAN, each checked against the lock form).
 *        No other kind of key and no other prefix is touched.
 * @param reports more report names whose keys to delete (e.g. the whole catalog, for
 *        reports disabled since); may be NULL with n_reports 0. @owner borrowed.
 * @param deleted receives the number of keys deleted (may be NULL).
 * @returns WDTS_OK, WDTS_ERR_INVAL (an id add would refuse), WDTS_ERR_NOTFOUND (nothing
 *          was stored under id), or a Redis error.
 */
wdts_err_t wdts_conn_remove(struct wdts_redis *redis, const char *prefix, const char *id,
                            const char *const *reports, size_t n_reports, long long *deleted,
                            char *errstr, size_t errstr_size);

/**
 * @brief Marks the connection auth_failed with a message that says what to do (only the
 *        first failure's time is kept as `since`), or, with message NULL, ok again.
 * @returns WDTS_OK, WDTS_ERR_NOTFOUND when the connection does not exist, or a Redis error.
 * @thread any (one HSET/HDEL: workers may call it at once).
 */
wdts_err_t wdts_conn_mark_auth(struct wdts_redis *redis, const char *prefix, const char *id,
                               const char *message, int64_t now, char *errstr,
                               size_t errstr_size);

/**
 * @brief Marks a report of the connection blocked with the API's reason and the fix (the
 *        first time seen is kept as `since`), or, with reason and fix NULL, unblocked.
 * @returns as wdts_conn_mark_auth().
 */
wdts_err_t wdts_conn_mark_report(struct wdts_redis *redis, const char *prefix, const char *id,
                                 const char *report, const char *reason, const char *fix,
                                 int64_t now, char *errstr, size_t errstr_size);

/** Marks the history (历史) method of a report refused (reason, fix) or, with both NULL,
 *  allowed again (state field "history:<report>"). @returns as wdts_conn_mark_auth(). */
wdts_err_t wdts_conn_mark_history(struct wdts_redis *redis, const char *prefix, const char *id,
                                  const char *report, const char *reason, const char *fix,
                                  int64_t now, char *errstr, size_t errstr_size);

/** Records the time of a successful check (state field checked_at). @returns as
 *  wdts_conn_mark_auth(). */
wdts_err_t wdts_conn_mark_checked(struct wdts_redis *redis, const char *prefix, const char *id,
                                   int64_t now, char *errstr, size_t errstr_size);

#endif
