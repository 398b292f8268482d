/* Cryptography on OpenSSL: sealing stored connection secrets (AES-256-GCM with associated data),
 * parsing the 32-byte secret key, keyed per-tenant hashing for the pii "hash" policy
 * (HMAC-SHA256), and random tokens. It does not read WDT_SECRET_KEY or its _FILE itself (the
 * config module does) and keeps no state: every function is reentrant and safe on any thread. */
#ifndef WDTS_CRYPTO_H
#define WDTS_CRYPTO_H

#include <stddef.h>

#include "wdts/err.h"

/** Length of a secret key in bytes (AES-256). */
#define WDTS_CRYPTO_KEY_LEN 32
/** Size of a key id buffer: 8 lowercase hex characters and a NUL. */
#define WDTS_CRYPTO_KEY_ID_SIZE 9
/** Size of a SHA-256 digest in bytes, and of its lowercase hex form with the NUL. */
#define WDTS_CRYPTO_SHA256_LEN 32
#define WDTS_CRYPTO_SHA256_HEX_SIZE 65

/**
 * @brief  Parses a secret key given as 64 hex characters or as base64 (standard or URL-safe
 *         alphabet, padding optional) of exactly 32 bytes. Surrounding whitespace (the newline of
 *         a key file) is ignored. A key of all zero bytes is refused as a placeholder.
 * @param  key  receives 32 bytes; untouched on failure.
 * @returns WDTS_OK, or WDTS_ERR_CONFIG with the reason and how to generate a key in errstr.
 */
wdts_err_t wdts_crypto_key_parse(const char *text, unsigned char key[WDTS_CRYPTO_KEY_LEN],
                                 char *errstr, size_t errstr_size);

/**
 * @brief  A short public id of a key (8 hex characters of HMAC-SHA256(key, "wdts-key-id")): it
 *         tells which key sealed a secret without revealing anything usable about the key.
 */
void wdts_crypto_key_id(const unsigned char key[WDTS_CRYPTO_KEY_LEN],
                        char out[WDTS_CRYPTO_KEY_ID_SIZE]);

/**
 * @brief  Encrypts and authenticates plain under key with AES-256-GCM and a fresh random 12-byte
 *         nonce, into the text form "v1:<key id>:<base64(nonce | ciphertext | 16-byte tag)>".
 *         The associated data aad (e.g. "<tenant>/<connection id>") is authenticated but not
 *         stored: opening needs the same aad, so a sealed value cannot be moved elsewhere. The
 *         "v1:<key id>:" header is authenticated too.
 * @param  aad  NUL-terminated; NULL is the same as "".
 * @owner  plain, aad: borrowed. *out: new, NUL-terminated; free() it.
 * @returns WDTS_OK, WDTS_ERR_INVAL (plain NULL with len > 0) or WDTS_ERR_TLS (OpenSSL failed),
 *          with the reason in errstr.
 */
wdts_err_t wdts_crypto_seal(const unsigned char key[WDTS_CRYPTO_KEY_LEN], const void *plain,
                            size_t len, const char *aad, char **out, char *errstr,
                            size_t errstr_size);

/**
 * @brief  Checks and decrypts a value made by wdts_crypto_seal() with the same key and aad.
 * @owner  *plain: new, len bytes followed by a NUL (so text secrets read as C strings); release
 *         it with wdts_crypto_free_secret(*plain, *len), which wipes it first. *len may be NULL.
 * @returns WDTS_OK;
 *          WDTS_ERR_INVAL when sealed is not in the v1 text form (the reason says what is wrong);
 *          WDTS_ERR_TLS when it was sealed under another key (the key ids differ) or when it fails
 *          authentication: it was changed, or the associated data (the connection) differs.
 *          Nothing is returned on failure.
 */
wdts_err_t wdts_crypto_open(const unsigned char key[WDTS_CRYPTO_KEY_LEN], const char *sealed,
                            const char *aad, char **plain, size_t *len, char *errstr,
                            size_t errstr_size);

/** @brief Wipes len bytes of p and frees it. NULL is a no-op. */
void wdts_crypto_free_secret(char *p, size_t len);

/** @brief Overwrites len bytes of p with zeros in a way the compiler does not remove. */
void wdts_crypto_wipe(void *p, size_t len);

/**
 * @brief  out = HMAC-SHA256(key, data); data may be NULL when len is 0.
 * @returns WDTS_ERR_INVAL for a NULL or oversized key, WDTS_ERR_TLS when OpenSSL fails.
 */
wdts_err_t wdts_crypto_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                                   unsigned char out[WDTS_CRYPTO_SHA256_LEN]);

/**
 * @brief  The pii "hash" policy: lowercase hex of HMAC-SHA256(tenant_key, value) where
 *         tenant_key = HMAC-SHA256(key, "pii:" + tenant). Equal values of one tenant hash alike
 *         (joins work inside a tenant); the same value of two tenants does not (no joins across
 *         tenants), and without the key nobody can test a guess.
 * @param  key     the master key (e.g. the 32-byte secret key), keylen > 0.
 * @param  tenant  the tenant id; value: the field value, both NUL-terminated.
 * @param  out     receives 64 hex characters and a NUL.
 * @returns WDTS_ERR_INVAL for a NULL or empty key or a NULL tenant/value, WDTS_ERR_TLS when
 *          OpenSSL fails; out is "" then.
 */
wdts_err_t wdts_pii_hash(const void *key, size_t keylen, const char *tenant, const char *value,
                         char out[WDTS_CRYPTO_SHA256_HEX_SIZE]);

/** @brief Fills buf with len bytes from the OpenSSL CSPRNG. @returns WDTS_ERR_TLS on failure. */
wdts_err_t wdts_crypto_random(void *buf, size_t len);

/**
 * @brief  A random token of nbytes (1..64) random bytes as lowercase hex (lock tokens, ids).
 * @param  out  at least 2 * nbytes + 1 bytes.
 * @returns WDTS_ERR_INVAL when out is too small or nbytes is 0, WDTS_ERR_TLS when the CSPRNG
 *          fails.
 */
wdts_err_t wdts_crypto_token_hex(size_t nbytes, char *out, size_t out_size);

#endif
