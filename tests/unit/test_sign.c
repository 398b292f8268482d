/* The signature reference vectors V1–V3 of docs/API.md. */
#include "wdts_test.h"

#include <string.h>

#include "wdts/sign.h"

static void test_v1_official_example(void **state)
{
    (void)state;
    struct wdts_param p[] = {
        {"sid", "wdterp30"},
        {"key", "czhc"},
        {"salt", "dd488d0802b1e431e4c72cd355847853"},
        {"method", "wms.stockout.Sales.weighingExt"},
        {"timestamp", "232623153"},
        {"v", "1.0"},
        {"body", "[\"xc109393939393939\",\"\",1.2,0,false]"},
    };
    char sign[WDTS_SIGN_MD5_LEN];
    wdts_sign_wdt("693f9fed686bfe13441385da98b436b6", p, sizeof(p) / sizeof(p[0]), sign);
    assert_string_equal(sign, "20f557aaf9190797c581bbceeb6d5a5c");
}

static void test_v2_third_party_values(void **state)
{
    (void)state;
    struct wdts_param a[] = {
        {"sid", "wdtapi3"}, {"key", "appkey"}, {"salt", "salt"},
        {"method", "goods.Goods.queryWithSpec"}, {"timestamp", "100"}, {"v", "1.0"},
        {"body", "[{\"goods_no\":\"G001\"}]"},
    };
    char sign[WDTS_SIGN_MD5_LEN];
    wdts_sign_wdt("secret", a, 7, sign);
    assert_string_equal(sign, "703b2c4b5b16565883e6b58d18e254a2");

    struct wdts_param b[] = {
        {"body", "[]"}, {"key", "wdt_test"}, {"method", "system.Core.now"},
        {"salt", "dd"}, {"sid", "wdtapi3"}, {"timestamp", "100"}, {"v", "1.0"},
    };
    wdts_sign_wdt("aa", b, 7, sign);
    assert_string_equal(sign, "b5745bf1f4721a0d16e9a68cb7513032");
}

static void test_any_changed_byte_changes_the_sign(void **state)
{
    (void)state;
    struct wdts_param p[] = {{"body", "[{}]"}, {"sid", "s"}, {"key", "k"}};
    char a[WDTS_SIGN_MD5_LEN], b[WDTS_SIGN_MD5_LEN];
    wdts_sign_wdt("x", p, 3, a);
    p[0].val = "[{ }]";
    wdts_sign_wdt("x", p, 3, b);
    assert_string_not_equal(a, b);
}

static const struct wdts_param v3_params[] = {
    {"datetime", "2020-09-17 19:22:26"},
    {"wdt_salt", "salt"},
    {"wdt3_customer_id", "wdtapi3"},
    {"wdt_appkey", "wdt_appkey"},
    {"pager", "{\"page_size\":10,\"page_no\":1}"},
    {"params", "{\"spec_no\":null,\"start_date\":\"2020-08-23 00:00:00\",\"end_date\":"
               "\"2020-09-20 00:00:00\",\"warehouse_no\":\"1001\"}"},
};

static void test_v3_qimen_wdt_sign_both_null_conventions(void **state)
{
    (void)state;
    char sign[WDTS_SIGN_MD5_LEN], es[128];
    assert_int_equal(wdts_sign_qimen_wdt("secret", "3ldsmu02o9.wdt.wms.stockspec.querychangehistory",
                                         v3_params, 6, WDTS_QIMEN_NULL_SKIP, sign, es, sizeof(es)),
                     WDTS_OK);
    assert_string_equal(sign, "1f5e87bbbc8bc68f4f0af70f79620b7d");
    assert_int_equal(wdts_sign_qimen_wdt("secret", "wdt.wms.stockspec.querychangehistory", v3_params,
                                         6, WDTS_QIMEN_NULL_EMPTY, sign, es, sizeof(es)),
                     WDTS_OK);
    assert_string_equal(sign, "a58f06cbf436eea64122bb3d067e4108");
}

static void test_qimen_method_without_wdt_is_refused(void **state)
{
    (void)state;
    char sign[WDTS_SIGN_MD5_LEN], es[128];
    assert_int_equal(wdts_sign_qimen_wdt("s", "taobao.trade.get", v3_params, 6,
                                         WDTS_QIMEN_NULL_SKIP, sign, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "wdt."));
}

static void test_top_sign_methods(void **state)
{
    (void)state;
    /* No reference vector exists for the outer sign (docs/API.md §6.2). These values are
     * the algorithm computed independently with md5sum and openssl dgst -hmac over the
     * sorted string, e.g. printf 'Sapp_keyKmethodwdt.xsign_methodmd5S' | md5sum. The
     * empty value and "sign" are left out; sign_method is itself signed. */
    struct wdts_param p[] = {{"method", "wdt.x"}, {"app_key", "K"}, {"sign_method", "md5"},
                             {"empty", ""}, {"sign", "ignored"}};
    char sign[WDTS_SIGN_TOP_LEN];
    wdts_sign_top(WDTS_TOP_SIGN_MD5, "S", p, 5, sign);
    assert_string_equal(sign, "8924D8B7765EC05A66A8D6C16608E61E");
    p[2].val = "hmac";
    wdts_sign_top(WDTS_TOP_SIGN_HMAC, "S", p, 5, sign);
    assert_string_equal(sign, "FCBF0A5B78DE50639E826017DA2D4B1F");
    p[2].val = "hmac-sha256";
    wdts_sign_top(WDTS_TOP_SIGN_HMAC_SHA256, "S", p, 5, sign);
    assert_string_equal(sign, "6787F1DF66B4F0B30DF8F3C4B739FC26B61937731DE2269114D888C558E07376");
}

static void test_top_sign_parse(void **state)
{
    (void)state;
    enum wdts_top_sign m;
    assert_int_equal(wdts_top_sign_parse("hmac-sha256", &m), WDTS_OK);
    assert_int_equal(m, WDTS_TOP_SIGN_HMAC_SHA256);
    assert_string_equal(wdts_top_sign_name(m), "hmac-sha256");
    assert_int_equal(wdts_top_sign_parse("sha1", &m), WDTS_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_official_example),
        cmocka_unit_test(test_v2_third_party_values),
        cmocka_unit_test(test_any_changed_byte_changes_the_sign),
        cmocka_unit_test(test_v3_qimen_wdt_sign_both_null_conventions),
        cmocka_unit_test(test_qimen_method_without_wdt_is_refused),
        cmocka_unit_test(test_top_sign_methods),
        cmocka_unit_test(test_top_sign_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
