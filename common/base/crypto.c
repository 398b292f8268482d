/* Secret sealing (AES-256-GCM), key parsing, HMAC-SHA256 for the pii policy and random tokens,
 * all on OpenSSL's EVP and RAND interfaces (see crypto.h). Stateless: no key is kept here, and
 * every buffer that held plaintext or key material is wiped before it is freed. */
#include "wdts/crypto.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "wdts/mem.h"
#include "wdts/str.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define SEAL_VERSION "v1"
/* "v1:" + 8 hex characters of key id + ":" */
#define HEADER_LEN (sizeof(SEAL_VERSION ":") - 1 + (WDTS_CRYPTO_KEY_ID_SIZE - 1) + 1)
/* Secrets are short strings; a bound keeps lengths far from the int limits of EVP. */
#define MAX_PLAIN_LEN (16u << 20)

#define KEY_HINT "generate one with: openssl rand -hex 32"

void wdts_crypto_wipe(void *p, size_t len)
{
    if (p != NULL && len > 0)
        OPENSSL_cleanse(p, len);
}

void wdts_crypto_free_secret(char *p, size_t len)
{
    if (p == NULL)
        return;
    wdts_crypto_wipe(p, len + 1); /* the NUL that wdts_crypto_open() appends */
    free(p);
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Strict base64 decoding of s[0..n) (either alphabet, padding optional but only at the end).
 * @returns the decoded length, or -1 on a bad character or length. out holds at least 3n/4. */
static long b64_decode(const char *s, size_t n, unsigned char *out)
{
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (n % 4 == 1 || (pad > 0 && (n + pad) % 4 != 0))
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    long len = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (unsigned char)(acc >> bits);
        }
    }
    /* Leftover bits must be zero, or two encodings would mean the same bytes. */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    return len;
}

wdts_err_t wdts_crypto_key_parse(const char *text, unsigned char key[WDTS_CRYPTO_KEY_LEN],
                                 char *errstr, size_t errstr_size)
{
    unsigned char tmp[64];
    wdts_err_t err = WDTS_ERR_CONFIG;
    if (text == NULL) {
        snprintf(errstr, errstr_size, "secret key is not set: " KEY_HINT);
        return err;
    }
    const char *s = text;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0) {
        snprintf(errstr, errstr_size, "secret key is empty: " KEY_HINT);
        return err;
    }
    if (n == 2 * WDTS_CRYPTO_KEY_LEN) {
        size_t i = wdts_hex_decode(s, tmp, WDTS_CRYPTO_KEY_LEN);
        if (i < WDTS_CRYPTO_KEY_LEN) {
            snprintf(errstr, errstr_size,
                     "secret key has 64 characters but is not hex (bad character at position "
                     "%zu): " KEY_HINT,
                     2 * i + 1);
            goto out;
        }
    } else {
        /* 84 base64 characters decode to at most 63 bytes, within tmp. */
        long got = n <= 84 ? b64_decode(s, n, tmp) : -1;
        if (got != WDTS_CRYPTO_KEY_LEN) {
            if (got >= 0)
                snprintf(errstr, errstr_size,
                         "secret key is base64 of %ld bytes, but AES-256 needs exactly 32: "
                         KEY_HINT " (or openssl rand -base64 32)",
                         got);
            else
                snprintf(errstr, errstr_size,
                         "secret key must be 32 bytes written as 64 hex characters or as base64 "
                         "(44 characters); got %zu characters that are neither: " KEY_HINT,
                         n);
            goto out;
        }
    }
    unsigned char zero = 0;
    for (size_t i = 0; i < WDTS_CRYPTO_KEY_LEN; i++)
        zero |= tmp[i];
    if (zero == 0) {
        snprintf(errstr, errstr_size, "secret key is all zeros, a placeholder: " KEY_HINT);
        goto out;
    }
    memcpy(key, tmp, WDTS_CRYPTO_KEY_LEN);
    err = WDTS_OK;
out:
    wdts_crypto_wipe(tmp, sizeof(tmp));
    return err;
}

wdts_err_t wdts_crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                                   unsigned char out[WDTS_CRYPTO_SHA256_LEN])
{
    unsigned int outlen = 0;
    static const unsigned char empty = 0;
    if (key == NULL || keylen > INT32_MAX)
        return WDTS_ERR_INVAL;
    /* HMAC() refuses a NULL data pointer even for zero bytes. */
    if (HMAC(EVP_sha256(), key, (int)keylen, len ? data : &empty, len, out, &outlen) == NULL ||
        outlen != WDTS_CRYPTO_SHA256_LEN)
        return WDTS_ERR_TLS;
    return WDTS_OK;
}

void wdts_crypto_key_id(const unsigned char key[WDTS_CRYPTO_KEY_LEN],
                        char out[WDTS_CRYPTO_KEY_ID_SIZE])
{
    unsigned char mac[WDTS_CRYPTO_SHA256_LEN];
    static const char label[] = "wdts-key-id";
    if (wdts_crypto_hmac_sha256(key, WDTS_CRYPTO_KEY_LEN, label, sizeof(label) - 1, mac) !=
        WDTS_OK) {
        /* HMAC-SHA256 on valid inputs only fails when OpenSSL itself is broken. */
        wdts_strlcpy(out, "????????", WDTS_CRYPTO_KEY_ID_SIZE);
        return;
    }
    wdts_hex_lower(mac, (WDTS_CRYPTO_KEY_ID_SIZE - 1) / 2, out);
}

/* GCM over [header | aad] as associated data. enc: 1 to encrypt, 0 to decrypt. */
static int gcm_run(int enc, const unsigned char *key, const unsigned char *nonce,
                   const char *header, const char *aad, const unsigned char *in, size_t len,
                   unsigned char *out, unsigned char *tag)
{
    int ok = 0, n = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return 0;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1)
        goto out;
    /* The header is fixed-length, so header | aad is unambiguous. */
    if (EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)header, (int)strlen(header)) != 1)
        goto out;
    if (aad && *aad &&
        EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1)
        goto out;
    if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + (len > 0 ? (size_t)n : 0), &n) != 1)
        goto out; /* decrypting: the tag does not match */
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
        goto out;
    ok = 1;
out:
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

wdts_err_t wdts_crypto_seal(const unsigned char key[WDTS_CRYPTO_KEY_LEN], const void *plain,
                            size_t len, const char *aad, char **out, char *errstr,
                            size_t errstr_size)
{
    wdts_err_t err = WDTS_ERR_TLS;
    char header[HEADER_LEN + 1], kid[WDTS_CRYPTO_KEY_ID_SIZE];
    unsigned char *raw = NULL;
    size_t rawlen = NONCE_LEN + len + TAG_LEN;
    char *text = NULL;
    *out = NULL;
    if (plain == NULL && len > 0) {
        snprintf(errstr, errstr_size, "seal: no data");
        return WDTS_ERR_INVAL;
    }
    if (len > MAX_PLAIN_LEN) {
        snprintf(errstr, errstr_size, "seal: %zu bytes is more than the %u a secret may have",
                 len, MAX_PLAIN_LEN);
        return WDTS_ERR_INVAL;
    }
    wdts_crypto_key_id(key, kid);
    snprintf(header, sizeof(header), SEAL_VERSION ":%s:", kid);
    raw = wdts_xmalloc(rawlen);
    if (RAND_bytes(raw, NONCE_LEN) != 1) {
        snprintf(errstr, errstr_size, "seal: the random generator failed");
        goto out;
    }
    if (!gcm_run(1, key, raw, header, aad, plain, len, raw + NONCE_LEN, raw + NONCE_LEN + len)) {
        snprintf(errstr, errstr_size, "seal: AES-256-GCM encryption failed in OpenSSL");
        goto out;
    }
    size_t hlen = strlen(header);
    text = wdts_xmalloc(hlen + 4 * ((rawlen + 2) / 3) + 1);
    memcpy(text, header, hlen);
    EVP_EncodeBlock((unsigned char *)text + hlen, raw, (int)rawlen);
    *out = text;
    text = NULL;
    err = WDTS_OK;
out:
    free(text);
    wdts_crypto_wipe(raw, rawlen);
    free(raw);
    return err;
}

wdts_err_t wdts_crypto_open(const unsigned char key[WDTS_CRYPTO_KEY_LEN], const char *sealed,
                            const char *aad, char **plain, size_t *len, char *errstr,
                            size_t errstr_size)
{
    wdts_err_t err = WDTS_ERR_INVAL;
    char kid[WDTS_CRYPTO_KEY_ID_SIZE], header[HEADER_LEN + 1];
    unsigned char *raw = NULL;
    char *text = NULL;
    size_t textlen = 0;
    *plain = NULL;
    if (len)
        *len = 0;
    if (sealed == NULL || !wdts_str_has_prefix(sealed, SEAL_VERSION ":")) {
        if (sealed && sealed[0] == 'v' && isdigit((unsigned char)sealed[1]))
            snprintf(errstr, errstr_size,
                     "sealed secret has format '%.*s'; this build reads only " SEAL_VERSION
                     ": upgrade the program",
                     (int)strcspn(sealed, ":"), sealed);
        else
            snprintf(errstr, errstr_size,
                     "not a sealed secret: expected " SEAL_VERSION
                     ":<key id>:<base64>; was it stored in plain text?");
        goto out;
    }
    const char *p = sealed + strlen(SEAL_VERSION ":");
    for (size_t i = 0; i < WDTS_CRYPTO_KEY_ID_SIZE - 1; i++) {
        if (wdts_hex_value((unsigned char)p[i]) < 0 || isupper((unsigned char)p[i])) {
            snprintf(errstr, errstr_size, "sealed secret: the key id after '" SEAL_VERSION
                                          ":' must be 8 lowercase hex characters");
            goto out;
        }
    }
    if (p[WDTS_CRYPTO_KEY_ID_SIZE - 1] != ':') {
        snprintf(errstr, errstr_size, "sealed secret: expected ':' after the key id");
        goto out;
    }
    memcpy(header, sealed, HEADER_LEN);
    header[HEADER_LEN] = '\0';
    const char *b64 = p + WDTS_CRYPTO_KEY_ID_SIZE;
    size_t b64len = strlen(b64);
    if (b64len > 4 * ((MAX_PLAIN_LEN + NONCE_LEN + TAG_LEN + 2) / 3)) {
        snprintf(errstr, errstr_size, "sealed secret is longer than any secret may be");
        goto out;
    }
    raw = wdts_xmalloc(b64len / 4 * 3 + 3);
    long rawlen = b64_decode(b64, b64len, raw);
    if (rawlen < 0) {
        snprintf(errstr, errstr_size, "sealed secret: the part after the key id is not valid "
                                      "base64 (was it cut or edited?)");
        goto out;
    }
    if (rawlen < NONCE_LEN + TAG_LEN) {
        snprintf(errstr, errstr_size,
                 "sealed secret is too short (%ld bytes; nonce and tag alone take %d)", rawlen,
                 NONCE_LEN + TAG_LEN);
        goto out;
    }
    err = WDTS_ERR_TLS;
    wdts_crypto_key_id(key, kid);
    if (memcmp(kid, p, WDTS_CRYPTO_KEY_ID_SIZE - 1) != 0) {
        snprintf(errstr, errstr_size,
                 "secret was sealed with the key with id %.8s, but the configured key has id %s: "
                 "set WDT_SECRET_KEY (or WDT_SECRET_KEY_FILE) to the key it was sealed with",
                 p, kid);
        goto out;
    }
    textlen = (size_t)rawlen - NONCE_LEN - TAG_LEN;
    text = wdts_xmalloc(textlen + 1);
    if (!gcm_run(0, key, raw, header, aad, raw + NONCE_LEN, textlen, (unsigned char *)text,
                 raw + NONCE_LEN + textlen)) {
        snprintf(errstr, errstr_size,
                 "sealed secret failed authentication: it was changed, or it belongs to another "
                 "connection (the associated data differs); store the secret again");
        goto out;
    }
    text[textlen] = '\0';
    *plain = text;
    if (len)
        *len = textlen;
    text = NULL;
    err = WDTS_OK;
out:
    if (text)
        wdts_crypto_free_secret(text, textlen);
    free(raw);
    return err;
}

wdts_err_t wdts_pii_hash(const void *key, size_t keylen, const char *tenant, const char *value,
                         char out[WDTS_CRYPTO_SHA256_HEX_SIZE])
{
    unsigned char tkey[WDTS_CRYPTO_SHA256_LEN], mac[WDTS_CRYPTO_SHA256_LEN];
    wdts_err_t err = WDTS_ERR_INVAL;
    char *label = NULL;
    out[0] = '\0';
    if (key == NULL || keylen == 0 || tenant == NULL || value == NULL)
        return err;
    label = wdts_xasprintf("pii:%s", tenant);
    err = wdts_crypto_hmac_sha256(key, keylen, label, strlen(label), tkey);
    if (err == WDTS_OK)
        err = wdts_crypto_hmac_sha256(tkey, sizeof(tkey), value, strlen(value), mac);
    if (err == WDTS_OK)
        wdts_hex_lower(mac, sizeof(mac), out);
    wdts_crypto_wipe(tkey, sizeof(tkey));
    free(label);
    return err;
}

wdts_err_t wdts_crypto_random(void *buf, size_t len)
{
    if (len == 0)
        return WDTS_OK;
    if (buf == NULL || len > INT32_MAX)
        return WDTS_ERR_INVAL;
    return RAND_bytes(buf, (int)len) == 1 ? WDTS_OK : WDTS_ERR_TLS;
}

wdts_err_t wdts_crypto_token_hex(size_t nbytes, char *out, size_t out_size)
{
    unsigned char stackbuf[64];
    if (out == NULL || nbytes == 0 || nbytes > sizeof(stackbuf) || out_size < 2 * nbytes + 1) {
        if (out && out_size > 0)
            out[0] = '\0';
        return WDTS_ERR_INVAL;
    }
    wdts_err_t err = wdts_crypto_random(stackbuf, nbytes);
    if (err == WDTS_OK)
        wdts_hex_lower(stackbuf, nbytes, out);
    else
        out[0] = '\0';
    return err;
}
