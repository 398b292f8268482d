/* The WDT flagship API client and its Qimen route (docs/API.md):
 * credentials (the route of a connection, its keys and secrets). Requests are built in
 * wdts/wdt_api_request.h, answers classified in wdts/wdt_api_answer.h, and sent by
 * wdts/wdt_api_http.h.
 *
 *   wdts_api_creds ──(borrowed)──► wdts_api_request_build() ──► wdts_api_request (owned)
 *
 * @thread Any thread, on distinct objects; no global state.
 */
#ifndef WDTS_WDT_API_CREDS_H
#define WDTS_WDT_API_CREDS_H

#include <stddef.h>

#include "wdts/err.h"
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

#endif
