/* Live checks of a connection against its gateway, for `wdtctl connection add|check`:
 * first a cheap call that proves the credentials (the shops snapshot, page_size 1), then
 * one minimal call per enabled report (a one-minute window or a one-row snapshot page)
 * that proves the app may call its method (and its history method, when it has one). Every answer goes through wdts_api_classify();
 * this module adds which credential is wrong and what to do, in words for the user.
 * Blocking calls on the caller's thread, paced by the connection's rate; no Redis, no
 * logging. The caller decides what to store.
 *
 *   wdts_conn (borrowed) + wdts_api_creds (borrowed) + catalog (borrowed)
 *        ──► wdts_conn_probe_run() ──► wdts_conn_probe (owned rows and messages) */
#ifndef WDTS_CONN_PROBE_H
#define WDTS_CONN_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"
#include "wdts/wdt_api_answer.h"
#include "wdts/wdt_api_creds.h"

struct wdts_conn;
struct wdts_catalog;

/**
 * @brief Builds the API credentials of a connection whose secrets are open
 *        (wdts_conn_open_secrets(), or set in memory by `add`).
 * @param platform_key, platform_secret the operator's Qimen app (config qimen.app.key /
 *        qimen.app.secret), used when the connection is platform-provided; may be NULL.
 * @owner all borrowed (copied into creds); deinit creds with wdts_api_creds_deinit() even
 *        on failure.
 * @returns WDTS_ERR_CONFIG when the platform-provided Qimen app is not configured,
 *          WDTS_ERR_INVAL for unusable credentials; errstr says what to do.
 */
wdts_err_t wdts_conn_creds(const struct wdts_conn *conn, const char *platform_key,
                           const char *platform_secret, struct wdts_api_creds *creds,
                           char *errstr, size_t errstr_size);

/** One report's check. */
struct wdts_conn_probe_row {
    const char *report;      /* borrowed from the connection */
    char *method;            /* the method as sent on the connection's route (scene prefix too) */
    enum wdts_api_class cls; /* WDTS_API_OK, WDTS_API_PERMISSION (blocked), or another class */
    char *reason;            /* not ok: the API's own message (e.g. 权限不足); owned; may be NULL */
    char *fix;               /* not ok: what to do; owned */
    /* The report's history (历史) method, when the catalog gives one and the report is ok:
     * the same minimal call. A refusal does not block the report (its recent windows do
     * not need it); history_fix says what it costs and what to do. */
    char *history_method;            /* as sent; NULL when not checked */
    enum wdts_api_class history_cls; /* as cls */
    char *history_reason;            /* not ok: the API's own message; owned; may be NULL */
    char *history_fix;               /* not ok: what to do; owned */
};

/**
 * The outcome. cls is the verdict on the credentials: WDTS_API_OK (they work; rows hold the
 * per-report results), or the class that stopped the check: AUTH (refused), CLOCK (skew),
 * TRANSIENT (the gateway was unreachable or failing after the retries), RATE_LIMITED, or
 * BAD_REQUEST (the gateway URL is not a WDT gateway). Life cycle: zeroed by
 * wdts_conn_probe_run() → read → wdts_conn_probe_deinit().
 */
struct wdts_conn_probe {
    enum wdts_api_class cls;
    char *what;    /* not ok: a short name of the problem ("wrong appkey or appsecret (验证失败)") */
    char *message; /* not ok: what happened and what to do; owned */
    struct wdts_conn_probe_row *rows;
    size_t n_rows;
    int calls; /* calls made, retries included */
};

struct wdts_conn_probe_opts {
    int attempts;       /* tries per call on transient or rate-limited answers; 0 = 3 */
    int64_t backoff_ms; /* wait before the second try, doubled after; 0 = 500 */
    long timeout_ms;    /* per call; 0 = 15000 */
    int64_t lag_s;      /* the one-minute window ends this long before now; 0 = 300 */
    int credentials_only; /* 1: stop after the credentials check */
    /* Called with each report's row as soon as it is known (a check at the default rate
     * takes a second per report), on the caller's thread; may be NULL. The row is borrowed
     * until wdts_conn_probe_deinit(). */
    void (*on_row)(const struct wdts_conn_probe_row *row, void *opaque);
    void *opaque;
    /* Optional admission of each call, e.g. the seller's shared budget (wdts/limit.h), so a
     * check never adds to what the workers already spend. admit runs before every call and
     * may sleep: WDTS_OK to go, WDTS_ERR_AGAIN to stop the check as rate limited (reason in
     * errstr), another code to stop it as failed. done runs after every admitted call with
     * the class of its answer. Without admit, calls are paced by the connection's rate. */
    wdts_err_t (*admit)(void *limit_opaque, char *errstr, size_t errstr_size);
    void (*done)(void *limit_opaque, enum wdts_api_class cls);
    void *limit_opaque;
};

/**
 * @brief Checks the credentials, then each enabled report (unless credentials_only).
 *        A report whose method is refused (权限不足, ERP rights, Qimen-only) gets a
 *        PERMISSION row with the fix; the check stops at the first answer that is about
 *        the whole connection (auth, clock) or that persists through the retries
 *        (transient, rate-limited).
 * @param opts may be NULL (defaults).
 * @owner conn, creds, cat, opts borrowed (conn and cat must outlive out); out filled with
 *        owned members (free with wdts_conn_probe_deinit()).
 * @returns WDTS_OK (the verdict is in out), WDTS_ERR_INVAL when a request could not be
 *          built (a report missing from the catalog, bad catalog params), or the error of
 *          opts->admit; reason in errstr.
 */
wdts_err_t wdts_conn_probe_run(const struct wdts_conn *conn, const struct wdts_api_creds *creds,
                               const struct wdts_catalog *cat,
                               const struct wdts_conn_probe_opts *opts,
                               struct wdts_conn_probe *out, char *errstr, size_t errstr_size);

/** Frees the members. NULL-safe. */
void wdts_conn_probe_deinit(struct wdts_conn_probe *probe);

/** What a check found, counted by wdts_conn_probe_apply(). */
struct wdts_conn_probe_counts {
    size_t ok;              /* reports whose method answered */
    size_t blocked;         /* reports whose method was refused (PERMISSION) */
    size_t history_refused; /* reports whose history method was refused */
};

/**
 * @brief Marks in conn, in memory, what a check of a connection not stored yet found
 *        (`wdtctl connection add`): a report whose method was refused is blocked, one whose
 *        history method was refused is history_blocked, each with the reason, the fix and
 *        since = now. Storing conn is the caller's business.
 * @owner conn: modified (copies of the reasons); probe borrowed.
 */
void wdts_conn_probe_apply(struct wdts_conn *conn, const struct wdts_conn_probe *probe,
                           int64_t now, struct wdts_conn_probe_counts *counts);

/**
 * @brief The short name of a refusal of the credentials, from the classified answer:
 *        "wrong appkey or appsecret (验证失败)", "unknown sid or wrong gateway (sid is not
 *        exists)", "IP not on the whitelist (ip限制)", "dynamic password required
 *        (需要动态口令)", "clock skew (时间戳错误)", … Pure.
 * @owner returns a static string.
 */
const char *wdts_conn_probe_what(enum wdts_api_app app, const struct wdts_api_result *res);

#endif
