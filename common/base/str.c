/* String helpers (see str.h). */
#include "wdts/str.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wdts/mem.h"

size_t wdts_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);
    if (size > 0) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

wdts_err_t wdts_parse_int(const char *s, long long min, long long max, long long *out)
{
    if (s == NULL || *s == '\0')
        return WDTS_ERR_INVAL;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return WDTS_ERR_INVAL;
    *out = v;
    return WDTS_OK;
}

int wdts_str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int word_index(const char *const *words, size_t n, const char *w,
                      int (*cmp)(const char *, const char *))
{
    for (size_t i = 0; w != NULL && i < n && words[i] != NULL; i++)
        if (cmp(w, words[i]) == 0)
            return (int)i;
    return -1;
}

int wdts_word_index(const char *const *words, size_t n, const char *w)
{
    return word_index(words, n, w, strcmp);
}

int wdts_word_index_nocase(const char *const *words, size_t n, const char *w)
{
    return word_index(words, n, w, strcasecmp);
}

void wdts_buf_init(struct wdts_buf *buf)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void wdts_buf_deinit(struct wdts_buf *buf)
{
    if (buf == NULL)
        return;
    free(buf->data);
    wdts_buf_init(buf);
}

void wdts_buf_reset(struct wdts_buf *buf)
{
    buf->len = 0;
    if (buf->data)
        buf->data[0] = '\0';
}

static void buf_reserve(struct wdts_buf *buf, size_t extra)
{
    size_t need = buf->len + extra + 1;
    if (need <= buf->cap)
        return;
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap *= 2;
    buf->data = wdts_xrealloc(buf->data, cap);
    buf->cap = cap;
}

void wdts_buf_reserve(struct wdts_buf *buf, size_t extra)
{
    buf_reserve(buf, extra);
}

void wdts_buf_append(struct wdts_buf *buf, const void *data, size_t len)
{
    buf_reserve(buf, len);
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void wdts_buf_append_str(struct wdts_buf *buf, const char *s)
{
    wdts_buf_append(buf, s, strlen(s));
}

void wdts_buf_printf(struct wdts_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        buf_reserve(buf, (size_t)n);
        vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap2);
        buf->len += (size_t)n;
    }
    va_end(ap2);
}

void wdts_buf_append_urlenc(struct wdts_buf *buf, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
            c == '_' || c == '.' || c == '~') {
            wdts_buf_append(buf, &c, 1);
        } else {
            char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
            wdts_buf_append(buf, enc, 3);
        }
    }
}

void wdts_buf_append_json_str(struct wdts_buf *buf, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c != '\0' && c != '"' && c != '\\' && c >= 0x20)
            continue;
        wdts_buf_append(buf, run, (size_t)(p - run));
        if (c == '\0')
            break;
        run = p + 1;
        switch (c) {
        case '"': wdts_buf_append(buf, "\\\"", 2); break;
        case '\\': wdts_buf_append(buf, "\\\\", 2); break;
        case '\n': wdts_buf_append(buf, "\\n", 2); break;
        case '\r': wdts_buf_append(buf, "\\r", 2); break;
        case '\t': wdts_buf_append(buf, "\\t", 2); break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            wdts_buf_append(buf, esc, 6);
        }
        }
    }
}

const char *wdts_buf_str(const struct wdts_buf *buf)
{
    return buf->data ? buf->data : "";
}

char *wdts_buf_steal(struct wdts_buf *buf)
{
    char *out = buf->data ? buf->data : wdts_xstrdup("");
    wdts_buf_init(buf);
    return out;
}

void wdts_errstr_set(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (errstr == NULL || errstr_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

int wdts_hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t wdts_hex_decode(const char *hex, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = wdts_hex_value((unsigned char)hex[2 * i]);
        int lo = wdts_hex_value((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return i;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return n;
}

int wdts_pct_decode(const char *s, size_t len, char *out, size_t size, int flags)
{
    int strict = !(flags & WDTS_PCT_LENIENT);
    size_t o = 0;
    if (size == 0)
        return -2;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < len ? wdts_hex_value((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? wdts_hex_value((unsigned char)s[i + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                c = hi * 16 + lo;
                i += 2;
            } else if (strict) {
                return -1;
            }
            if (c == 0 && strict)
                return -1;
        } else if (c == '+' && (flags & WDTS_PCT_PLUS_SPACE)) {
            c = ' ';
        }
        if (o + 1 >= size)
            return -2;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

static void hex_encode(const unsigned char *in, size_t len, char *out, const char *digits)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

void wdts_hex_lower(const unsigned char *in, size_t len, char *out)
{
    hex_encode(in, len, out, "0123456789abcdef");
}

void wdts_hex_upper(const unsigned char *in, size_t len, char *out)
{
    hex_encode(in, len, out, "0123456789ABCDEF");
}
