/* Secret sealing, key parsing, HMAC-SHA256 and the pii hash. Known answers were computed
 * independently (RFC 4231; Python's hmac and the cryptography package's AESGCM). */
#include "wdts_test.h"

#include <stdlib.h>
#include <string.h>

#include "wdts/crypto.h"
#include "wdts/str.h"

/* The key 00 01 02 .. 1f. */
static void test_key(unsigned char key[WDTS_CRYPTO_KEY_LEN])
{
    for (int i = 0; i < WDTS_CRYPTO_KEY_LEN; i++)
        key[i] = (unsigned char)i;
}

static void test_hmac_rfc4231_case2(void **state)
{
    (void)state;
    unsigned char mac[WDTS_CRYPTO_SHA256_LEN];
    char hex[WDTS_CRYPTO_SHA256_HEX_SIZE];
    static const char data[] = "what do ya want for nothing?";
    assert_int_equal(wdts_crypto_hmac_sha256("Jefe", 4, data, sizeof(data) - 1, mac), WDTS_OK);
    wdts_hex_lower(mac, sizeof(mac), hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_key_parse_hex_and_base64(void **state)
{
    (void)state;
    unsigned char want[WDTS_CRYPTO_KEY_LEN], key[WDTS_CRYPTO_KEY_LEN];
    char es[256];
    test_key(want);
    static const char *const good[] = {
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\n",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n", /* unpadded, in a file */
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        memset(key, 0xee, sizeof(key));
        assert_int_equal(wdts_crypto_key_parse(good[i], key, es, sizeof(es)), WDTS_OK);
        assert_memory_equal(key, want, sizeof(want));
    }
    /* URL-safe alphabet: bytes fb ff .. encode with '-' and '_'. */
    unsigned char u[WDTS_CRYPTO_KEY_LEN];
    assert_int_equal(
        wdts_crypto_key_parse("-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8=", u, es, sizeof(es)),
        WDTS_OK);
    assert_int_equal(u[0], 0xfb);
    assert_int_equal(u[1], 0xff);
}

static void test_key_parse_refuses_bad_keys_and_says_how(void **state)
{
    (void)state;
    unsigned char key[WDTS_CRYPTO_KEY_LEN];
    char es[256];
    static const struct {
        const char *text;
        const char *says;
    } bad[] = {
        {NULL, "not set"},
        {"", "empty"},
        {"  \n", "empty"},
        {"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g", "not hex"},
        {"00010203", "exactly 32"},              /* valid base64 of 6 bytes */
        {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8fHw==", "exactly 32"}, /* 34 bytes */
        {"correct horse battery staple", "neither"},
        {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", "neither"}, /* non-zero pad bits */
        {"0000000000000000000000000000000000000000000000000000000000000000", "placeholder"},
        {"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
         "neither"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        es[0] = '\0';
        assert_int_equal(wdts_crypto_key_parse(bad[i].text, key, es, sizeof(es)),
                         WDTS_ERR_CONFIG);
        if (strstr(es, bad[i].says) == NULL || strstr(es, "openssl rand -hex 32") == NULL)
            fail_msg("key %zu: '%s' lacks '%s' or the hint", i, es, bad[i].says);
    }
}

static void test_key_id(void **state)
{
    (void)state;
    unsigned char key[WDTS_CRYPTO_KEY_LEN];
    char id[WDTS_CRYPTO_KEY_ID_SIZE];
    test_key(key);
    wdts_crypto_key_id(key, id);
    assert_string_equal(id, "d18f78ac");
}

static void test_seal_open_round_trip(void **state)
{
    (void)state;
    unsigned char key[WDTS_CRYPTO_KEY_LEN];
    char es[256], *sealed = NULL, *sealed2 = NULL, *plain = NULL;
    size_t len = 0;
    test_key(key);
    static const char secret[] = "app-secret:salt-123";
    assert_int_equal(wdts_crypto_seal(key, secret, strlen(secret), "acme/conn-1", &sealed, es,
                                      sizeof(es)),
                     WDTS_OK);
    assert_true(strncmp(sealed, "v1:d18f78ac:", 12) == 0);
    /* 12 nonce + 19 text + 16 tag = 47 bytes = 64 base64 characters. */
    assert_int_equal(strlen(sealed), 12 + 64);
    assert_int_equal(wdts_crypto_open(key, sealed, "acme/conn-1", &plain, &len, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(len, strlen(secret));
    assert_string_equal(plain, secret);
    wdts_crypto_free_secret(plain, len);

    /* A fresh nonce every time: the same secret seals differently. */
    assert_int_equal(wdts_crypto_seal(key, secret, strlen(secret), "acme/conn-1", &sealed2, es,
                                      sizeof(es)),
                     WDTS_OK);
    assert_string_not_equal(sealed, sealed2);
    free(sealed);
    free(sealed2);

    /* Empty secret, no associated data, binary bytes. */
    assert_int_equal(wdts_crypto_seal(key, NULL, 0, NULL, &sealed, es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_crypto_open(key, sealed, "", &plain, &len, es, sizeof(es)), WDTS_OK);
    assert_int_equal(len, 0);
    assert_string_equal(plain, "");
    wdts_crypto_free_secret(plain, len);
    free(sealed);
    static const unsigned char bin[] = {0, 1, 0xff, 0, 7};
    assert_int_equal(wdts_crypto_seal(key, bin, sizeof(bin), "x", &sealed, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_crypto_open(key, sealed, "x", &plain, NULL, es, sizeof(es)), WDTS_OK);
    assert_memory_equal(plain, bin, sizeof(bin));
    wdts_crypto_free_secret(plain, sizeof(bin));
    free(sealed);
}

static void test_open_value_sealed_elsewhere(void **state)
{
    (void)state;
    unsigned char key[WDTS_CRYPTO_KEY_LEN];
    char es[256], *plain = NULL;
    size_t len;
    test_key(key);
    /* Made by Python's cryptography AESGCM with nonce 64..6f and aad "v1:d18f78ac:acme/conn-1". */
    static const char sealed[] =
        "v1:d18f78ac:ZGVmZ2hpamtsbW5vKWuuSwqMNexbFmWbuwke0HPwNdcFR7JOMvPujHCBZOqpzrE=";
    assert_int_equal(wdts_crypto_open(key, sealed, "acme/conn-1", &plain, &len, es, sizeof(es)),
                     WDTS_OK);
    assert_string_equal(plain, "app-secret:salt-123");
    wdts_crypto_free_secret(plain, len);
}

static void test_open_fails_cleanly(void **state)
{
    (void)state;
    unsigned char key[WDTS_CRYPTO_KEY_LEN], other[WDTS_CRYPTO_KEY_LEN];
    char es[256], *sealed = NULL, *plain = (char *)"untouched";
    size_t len = 99;
    test_key(key);
    memcpy(other, key, sizeof(other));
    other[31] ^= 1;
    assert_int_equal(wdts_crypto_seal(key, "s3cret", 6, "acme/conn-1", &sealed, es, sizeof(es)),
                     WDTS_OK);

    /* Wrong key: told apart by the key id. */
    assert_int_equal(wdts_crypto_open(other, sealed, "acme/conn-1", &plain, &len, es, sizeof(es)),
                     WDTS_ERR_TLS);
    assert_null(plain);
    assert_int_equal(len, 0);
    assert_non_null(strstr(es, "sealed with the key with id d18f78ac"));
    assert_non_null(strstr(es, "WDT_SECRET_KEY"));

    /* Wrong associated data: the secret of another connection. */
    assert_int_equal(wdts_crypto_open(key, sealed, "acme/conn-2", &plain, &len, es, sizeof(es)),
                     WDTS_ERR_TLS);
    assert_null(plain);
    assert_non_null(strstr(es, "another connection"));
    assert_int_equal(wdts_crypto_open(key, sealed, NULL, &plain, &len, es, sizeof(es)),
                     WDTS_ERR_TLS);

    /* Every changed base64 character (nonce, ciphertext or tag) fails authentication. */
    size_t n = strlen(sealed);
    for (size_t i = 12; i < n; i++) {
        char *t = strdup(sealed);
        if (t[i] == '=') {
            free(t);
            continue; /* padding is structure, checked below */
        }
        t[i] = t[i] == 'A' ? 'B' : 'A';
        wdts_err_t err = wdts_crypto_open(key, t, "acme/conn-1", &plain, &len, es, sizeof(es));
        /* The last character also carries padding bits: changing those is a format error. */
        if (err != WDTS_ERR_TLS && !(err == WDTS_ERR_INVAL && strstr(es, "base64")))
            fail_msg("changed char %zu: %d %s", i, err, es);
        assert_null(plain);
        free(t);
    }

    /* A changed key id is reported as another key (and could not pass authentication either). */
    char *t = strdup(sealed);
    t[3] = t[3] == '0' ? '1' : '0';
    assert_int_equal(wdts_crypto_open(key, t, "acme/conn-1", &plain, &len, es, sizeof(es)),
                     WDTS_ERR_TLS);
    free(t);

    /* Bad formats. */
    static const struct {
        const char *text;
        const char *says;
    } bad[] = {
        {"plain-secret", "not a sealed secret"},
        {"", "not a sealed secret"},
        {"v2:d18f78ac:AAAA", "format 'v2'"},
        {"v1:", "key id"},
        {"v1:D18F78AC:AAAA", "key id"},
        {"v1:d18f78acAAAA", "':' after the key id"},
        {"v1:d18f78ac:", "too short"},
        {"v1:d18f78ac:AAAAAAAAAAAAAAAAAAAA", "too short"},
        {"v1:d18f78ac:ZGVmZ2hp*mtsbW5vKWuuSwqMNexbFmWbuwke0HPwNdcFR7JOMvPujHCBZOqpzrE=", "base64"},
        {"v1:d18f78ac:ZGVmZ2hpamtsbW5vKWuuSwqMNexbFmWbuwke0HPwNdcFR7JOMvPujHCBZOqpzrE==", "base64"},
        {"v1:d18f78ac:ZGVmZ2hpamtsbW5vKWuuSwqMNexbFmWbuwke0HPwNdcFR7JOMvPujHCBZOqpz", "base64"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        es[0] = '\0';
        assert_int_equal(wdts_crypto_open(key, bad[i].text, "acme/conn-1", &plain, &len, es,
                                          sizeof(es)),
                         WDTS_ERR_INVAL);
        assert_null(plain);
        if (strstr(es, bad[i].says) == NULL)
            fail_msg("format %zu: '%s' lacks '%s'", i, es, bad[i].says);
    }
    assert_int_equal(wdts_crypto_open(key, NULL, "x", &plain, &len, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    free(sealed);
}

static void test_pii_hash(void **state)
{
    (void)state;
    unsigned char key[WDTS_CRYPTO_KEY_LEN];
    char a[WDTS_CRYPTO_SHA256_HEX_SIZE], b[WDTS_CRYPTO_SHA256_HEX_SIZE];
    test_key(key);
    /* Independent value: HMAC(HMAC(key, "pii:acme"), "13800138000") computed in Python. */
    assert_int_equal(wdts_pii_hash(key, sizeof(key), "acme", "13800138000", a), WDTS_OK);
    assert_string_equal(a, "9dc072b857500b559b27974433a6384791d118480dfeeecb8e8cb27d2a9dbea9");
    /* Deterministic within a tenant. */
    assert_int_equal(wdts_pii_hash(key, sizeof(key), "acme", "13800138000", b), WDTS_OK);
    assert_string_equal(a, b);
    /* Different across tenants. */
    assert_int_equal(wdts_pii_hash(key, sizeof(key), "globex", "13800138000", b), WDTS_OK);
    assert_string_equal(b, "956365a375c652d75421ae07e01e259a73ec8bb839234d779a6b424d0b9499be");
    assert_string_not_equal(a, b);
    /* Different values, different hashes; empty value is fine. */
    assert_int_equal(wdts_pii_hash(key, sizeof(key), "acme", "13800138001", b), WDTS_OK);
    assert_string_not_equal(a, b);
    assert_int_equal(wdts_pii_hash(key, sizeof(key), "acme", "", b), WDTS_OK);
    assert_int_equal(strlen(b), 64);
    /* Bad arguments. */
    assert_int_equal(wdts_pii_hash(NULL, 32, "acme", "v", b), WDTS_ERR_INVAL);
    assert_string_equal(b, "");
    assert_int_equal(wdts_pii_hash(key, 0, "acme", "v", b), WDTS_ERR_INVAL);
    assert_int_equal(wdts_pii_hash(key, 32, NULL, "v", b), WDTS_ERR_INVAL);
    assert_int_equal(wdts_pii_hash(key, 32, "acme", NULL, b), WDTS_ERR_INVAL);
}

static void test_random_tokens(void **state)
{
    (void)state;
    char t1[33], t2[33], small[8];
    assert_int_equal(wdts_crypto_token_hex(16, t1, sizeof(t1)), WDTS_OK);
    assert_int_equal(wdts_crypto_token_hex(16, t2, sizeof(t2)), WDTS_OK);
    assert_int_equal(strlen(t1), 32);
    assert_int_equal(strspn(t1, "0123456789abcdef"), 32);
    assert_string_not_equal(t1, t2);
    assert_int_equal(wdts_crypto_token_hex(16, small, sizeof(small)), WDTS_ERR_INVAL);
    assert_string_equal(small, "");
    assert_int_equal(wdts_crypto_token_hex(0, t1, sizeof(t1)), WDTS_ERR_INVAL);
    unsigned char buf[64] = {0}, zero[64] = {0};
    assert_int_equal(wdts_crypto_random(buf, sizeof(buf)), WDTS_OK);
    assert_memory_not_equal(buf, zero, sizeof(buf));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_rfc4231_case2),
        cmocka_unit_test(test_key_parse_hex_and_base64),
        cmocka_unit_test(test_key_parse_refuses_bad_keys_and_says_how),
        cmocka_unit_test(test_key_id),
        cmocka_unit_test(test_seal_open_round_trip),
        cmocka_unit_test(test_open_value_sealed_elsewhere),
        cmocka_unit_test(test_open_fails_cleanly),
        cmocka_unit_test(test_pii_hash),
        cmocka_unit_test(test_random_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
