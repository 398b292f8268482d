/* WDT flagship and Qimen signatures (see sign.h). The string to sign is built in
 * a wdts_buf; MD5 and HMAC come from OpenSSL's EVP/HMAC one-shot functions. */
#include "wdts/sign.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"
#include "wdts/str.h"

static int param_cmp(const void *a, const void *b)
{
    const struct wdts_param *pa = a, *pb = b;
    return strcmp(pa->key, pb->key);
}

/* A sorted copy of the parameters; the strings stay borrowed. */
static struct wdts_param *sorted_copy(const struct wdts_param *params, size_t n)
{
    struct wdts_param *s = wdts_xmalloc(sizeof(*s) * (n ? n : 1));
    if (n)
        memcpy(s, params, sizeof(*s) * n);
    qsort(s, n, sizeof(*s), param_cmp);
    return s;
}

static void md5_hex(const void *data, size_t len, char out[WDTS_SIGN_MD5_LEN], int upper)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL);
    if (upper)
        wdts_hex_upper(md, mdlen, out);
    else
        wdts_hex_lower(md, mdlen, out);
}

void wdts_sign_wdt(const char *secret, const struct wdts_param *params, size_t n,
                   char out[WDTS_SIGN_MD5_LEN])
{
    struct wdts_param *sorted = sorted_copy(params, n);
    struct wdts_buf s;
    wdts_buf_init(&s);
    wdts_buf_append_str(&s, secret);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(sorted[i].key, "sign") == 0)
            continue;
        wdts_buf_append_str(&s, sorted[i].key);
        wdts_buf_append_str(&s, sorted[i].val);
    }
    wdts_buf_append_str(&s, secret);
    md5_hex(wdts_buf_str(&s), s.len, out, 0);
    wdts_buf_deinit(&s);
    free(sorted);
}

/* Appends the flattened form of a JSON value (docs/API.md §6.1 step 3). */
static void flatten_json(struct wdts_buf *s, json_t *v, enum wdts_qimen_null null_mode);

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void flatten_object(struct wdts_buf *s, json_t *obj, enum wdts_qimen_null null_mode)
{
    size_t n = json_object_size(obj), i = 0;
    const char **keys = wdts_xmalloc(sizeof(*keys) * (n ? n : 1));
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), key_cmp);
    for (i = 0; i < n; i++) {
        v = json_object_get(obj, keys[i]);
        if (json_is_null(v) && null_mode == WDTS_QIMEN_NULL_SKIP)
            continue;
        wdts_buf_append_str(s, keys[i]);
        flatten_json(s, v, null_mode);
    }
    free(keys);
}

static void flatten_json(struct wdts_buf *s, json_t *v, enum wdts_qimen_null null_mode)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        flatten_object(s, v, null_mode);
        break;
    case JSON_ARRAY: {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) flatten_json(s, item, null_mode);
        break;
    }
    case JSON_STRING:
        wdts_buf_append(s, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        wdts_buf_printf(s, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL: {
        /* Floats sign differently per helper (PHP "1", Java "1.0"); we emit JSON's text. */
        char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (txt) {
            wdts_buf_append_str(s, txt);
            free(txt);
        }
        break;
    }
    case JSON_TRUE:
        wdts_buf_append_str(s, "true");
        break;
    case JSON_FALSE:
        wdts_buf_append_str(s, "false");
        break;
    case JSON_NULL:
        break; /* the key was skipped or is appended with an empty value by the caller */
    }
}

wdts_err_t wdts_sign_qimen_wdt(const char *secret, const char *method,
                               const struct wdts_param *params, size_t n,
                               enum wdts_qimen_null null_mode, char out[WDTS_SIGN_MD5_LEN],
                               char *errstr, size_t errstr_size)
{
    const char *bare = strstr(method, "wdt.");
    if (bare == NULL) {
        snprintf(errstr, errstr_size, "qimen method '%s' has no 'wdt.' part", method);
        return WDTS_ERR_INVAL;
    }
    /* The signed set: app params minus wdt3_customer_id/wdt_sign, plus method. */
    struct wdts_param *set = wdts_xmalloc(sizeof(*set) * (n + 1));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(params[i].key, "wdt3_customer_id") == 0 || strcmp(params[i].key, "wdt_sign") == 0 ||
            strcmp(params[i].key, "method") == 0)
            continue;
        set[m++] = params[i];
    }
    set[m].key = "method";
    set[m].val = bare;
    m++;
    qsort(set, m, sizeof(*set), param_cmp);

    struct wdts_buf s;
    wdts_buf_init(&s);
    wdts_buf_append_str(&s, secret);
    for (size_t i = 0; i < m; i++) {
        const char *val = set[i].val;
        json_t *parsed = NULL;
        if (val[0] == '{' || val[0] == '[')
            parsed = json_loads(val, JSON_DECODE_ANY, NULL);
        wdts_buf_append_str(&s, set[i].key);
        if (parsed) {
            flatten_json(&s, parsed, null_mode);
            json_decref(parsed);
        } else {
            wdts_buf_append_str(&s, val);
        }
    }
    wdts_buf_append_str(&s, secret);
    md5_hex(wdts_buf_str(&s), s.len, out, 0);
    wdts_buf_deinit(&s);
    free(set);
    return WDTS_OK;
}

static const char *const top_names[] = {"md5", "hmac", "hmac-sha256"};

wdts_err_t wdts_top_sign_parse(const char *name, enum wdts_top_sign *out)
{
    int i = wdts_word_index(top_names, 3, name);
    if (i < 0)
        return WDTS_ERR_INVAL;
    *out = (enum wdts_top_sign)i;
    return WDTS_OK;
}

const char *wdts_top_sign_name(enum wdts_top_sign method)
{
    return (unsigned)method < 3 ? top_names[method] : "md5";
}

void wdts_sign_top(enum wdts_top_sign method, const char *app_secret,
                   const struct wdts_param *params, size_t n, char out[WDTS_SIGN_TOP_LEN])
{
    struct wdts_param *sorted = sorted_copy(params, n);
    struct wdts_buf s;
    wdts_buf_init(&s);
    if (method == WDTS_TOP_SIGN_MD5)
        wdts_buf_append_str(&s, app_secret);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(sorted[i].key, "sign") == 0 || sorted[i].val == NULL || sorted[i].val[0] == '\0')
            continue;
        wdts_buf_append_str(&s, sorted[i].key);
        wdts_buf_append_str(&s, sorted[i].val);
    }
    if (method == WDTS_TOP_SIGN_MD5) {
        wdts_buf_append_str(&s, app_secret);
        md5_hex(wdts_buf_str(&s), s.len, out, 1);
    } else {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        const EVP_MD *evp = method == WDTS_TOP_SIGN_HMAC ? EVP_md5() : EVP_sha256();
        HMAC(evp, app_secret, (int)strlen(app_secret), (const unsigned char *)wdts_buf_str(&s), s.len,
             md, &mdlen);
        wdts_hex_upper(md, mdlen, out);
    }
    wdts_buf_deinit(&s);
    free(sorted);
}
