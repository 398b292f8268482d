/* Request signatures of the WDT flagship API and of its Qimen route, exactly as
 * docs/API.md §3 and §6 describe them. Pure functions: no
 * I/O, no allocation visible to the caller. Used by the API client to sign and by
 * wdt-sandbox to verify. */
#ifndef WDTS_SIGN_H
#define WDTS_SIGN_H

#include <stddef.h>

#include "wdts/err.h"
#include "wdts/str.h"

/** Lowercase MD5 hex (32 chars + NUL). */
#define WDTS_SIGN_MD5_LEN 33
/** Room for any outer TOP signature (64 hex chars for HMAC-SHA256 + NUL). */
#define WDTS_SIGN_TOP_LEN 65

/**
 * @brief Flagship direct signature: lowercase_hex(MD5(secret + k1 v1 k2 v2 … + secret)),
 *        keys sorted by byte order.
 * @param secret the part of the appsecret before the first ':'.
 * @param params every parameter sent (sid, key, salt, method, timestamp, v, pager) plus
 *        "body" = the exact body bytes posted; never "sign".
 */
void wdts_sign_wdt(const char *secret, const struct wdts_param *params, size_t n,
                   char out[WDTS_SIGN_MD5_LEN]);

/** How a JSON null inside a flattened Qimen value is signed (docs/API.md §6.1 step 3). */
enum wdts_qimen_null {
    WDTS_QIMEN_NULL_SKIP = 0, /* the Java helper: the key is left out (V3: 1f5e87bb…) */
    WDTS_QIMEN_NULL_EMPTY,    /* the PHP helper: the key with an empty value (V3: a58f06cb…) */
};

/**
 * @brief Qimen inner `wdt_sign`.
 * @param secret the part of the WDT appsecret before the first ':'.
 * @param method the API name; any prefix before "wdt." is stripped ("3ldsmu02o9.wdt.x" → "wdt.x").
 * @param params the app parameters (datetime, params, pager, wdt_appkey, wdt_salt, …).
 *        wdt3_customer_id and wdt_sign are ignored if present. A value that is a JSON
 *        object or array is parsed and flattened (sorted keys, key + value, lists inlined).
 * @returns WDTS_ERR_INVAL when method has no "wdt." part, with the reason in errstr.
 */
wdts_err_t wdts_sign_qimen_wdt(const char *secret, const char *method,
                               const struct wdts_param *params, size_t n,
                               enum wdts_qimen_null null_mode, char out[WDTS_SIGN_MD5_LEN],
                               char *errstr, size_t errstr_size);

/** The outer TOP signature methods. */
enum wdts_top_sign {
    WDTS_TOP_SIGN_MD5 = 0,     /* "md5": UPPER_HEX(MD5(secret + s + secret)) */
    WDTS_TOP_SIGN_HMAC,        /* "hmac": UPPER_HEX(HMAC_MD5(secret, s)) */
    WDTS_TOP_SIGN_HMAC_SHA256, /* "hmac-sha256": UPPER_HEX(HMAC_SHA256(secret, s)) */
};

/** Parses "md5" | "hmac" | "hmac-sha256". @returns WDTS_ERR_INVAL otherwise. */
wdts_err_t wdts_top_sign_parse(const char *name, enum wdts_top_sign *out);
/** @returns the wire name of a sign method. */
const char *wdts_top_sign_name(enum wdts_top_sign method);

/**
 * @brief Outer TOP signature over every text parameter except "sign" and empty values,
 *        keys sorted by byte order, k + v concatenated (JSON values raw, not flattened).
 */
void wdts_sign_top(enum wdts_top_sign method, const char *app_secret,
                   const struct wdts_param *params, size_t n, char out[WDTS_SIGN_TOP_LEN]);

#endif
