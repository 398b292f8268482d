/* Small string helpers: bounded copy, strict number parsing, and a growable byte
 * buffer used to build request strings, signatures and JSON lines. */
#ifndef WDTS_STR_H
#define WDTS_STR_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"

/** A key and a value, both borrowed: request parameters, client properties. */
struct wdts_param {
    const char *key;
    const char *val;
};

/** Copies src into dst (size bytes), always NUL-terminated. @returns strlen(src). */
size_t wdts_strlcpy(char *dst, const char *src, size_t size);

/** Parses all of s as a base-10 integer within [min, max]. No trailing bytes allowed. */
wdts_err_t wdts_parse_int(const char *s, long long min, long long max, long long *out);

/** @returns 1 when s starts with prefix. */
int wdts_str_has_prefix(const char *s, const char *prefix);

/** @returns the index of w in words[0..n) (a word table: names of an enum's values), or -1
 *  when w is not there or is NULL. The search also ends at a NULL entry, so a NULL-terminated
 *  table may pass SIZE_MAX as n. */
int wdts_word_index(const char *const *words, size_t n, const char *w);
/** As wdts_word_index(), ignoring ASCII case. */
int wdts_word_index_nocase(const char *const *words, size_t n, const char *w);

/**
 * A growable, always NUL-terminated byte buffer (embedded by the caller).
 * Life cycle: wdts_buf_init() → appends → wdts_buf_deinit() (or wdts_buf_steal()).
 */
struct wdts_buf {
    char *data; /* owned; NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
};

void wdts_buf_init(struct wdts_buf *buf);
void wdts_buf_deinit(struct wdts_buf *buf);
void wdts_buf_reset(struct wdts_buf *buf);
void wdts_buf_append(struct wdts_buf *buf, const void *data, size_t len);
/** Makes room for extra more bytes at once (e.g. a body of known length). */
void wdts_buf_reserve(struct wdts_buf *buf, size_t extra);
void wdts_buf_append_str(struct wdts_buf *buf, const char *s);
void wdts_buf_printf(struct wdts_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Appends s percent-encoded as in RFC 3986 (unreserved characters kept, space as %20). */
void wdts_buf_append_urlenc(struct wdts_buf *buf, const char *s);
/** Appends s as the inside of a JSON string (quotes not included). */
void wdts_buf_append_json_str(struct wdts_buf *buf, const char *s);
/** @returns the data ("" when empty); borrowed until the next change. */
const char *wdts_buf_str(const struct wdts_buf *buf);
/** @owner moves the data to the caller (free() it); buf is reset to empty. */
char *wdts_buf_steal(struct wdts_buf *buf);

/** Formats into errstr (errstr_size bytes) when errstr is not NULL: the detail text of
 *  a failing constructor or parser. */
void wdts_errstr_set(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** @returns the value of hex digit c (either case), or -1. */
int wdts_hex_value(int c);

/** Decodes the 2*n hex digits (either case) at hex into n bytes at out.
 *  @returns n, or the number of bytes decoded before the first pair holding a character
 *  that is not a hex digit (out[0..returned) is then filled, the rest untouched). */
size_t wdts_hex_decode(const char *hex, unsigned char *out, size_t n);

/** Flags of wdts_pct_decode(). */
#define WDTS_PCT_PLUS_SPACE 1 /* '+' decodes to a space (form bodies), else it stays '+' */
#define WDTS_PCT_LENIENT 2    /* a '%' without two hex digits stays as it is, %00 is kept */

/**
 * @brief Percent-decodes s[0..len) into out (size bytes, NUL-terminated).
 * @returns 0; -1 on a '%' without two hex digits or a decoded NUL byte (never with
 *          WDTS_PCT_LENIENT); -2 when out is too small (size len + 1 always suffices).
 */
int wdts_pct_decode(const char *s, size_t len, char *out, size_t size, int flags);

/** Lowercase hex of len bytes into out (2*len+1 bytes). */
void wdts_hex_lower(const unsigned char *in, size_t len, char *out);
/** Uppercase hex of len bytes into out (2*len+1 bytes). */
void wdts_hex_upper(const unsigned char *in, size_t len, char *out);

#endif
