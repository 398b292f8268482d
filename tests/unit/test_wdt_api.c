/* The API client without a network: credentials, request building (V1/V2 exactly, the
 * Qimen layout and its V3 wdt_sign, URL encoding), and the classification of every class
 * with the real messages of docs/API.md §4.2 and §6.3, transport failures included. */
#include "wdts_test.h"

#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"
#include "wdts/sign.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts/wdt_api_answer.h"
#include "wdts/wdt_api_creds.h"
#include "wdts/wdt_api_request.h"

#define V1_SECRET "693f9fed686bfe13441385da98b436b6"
#define V1_APPSECRET V1_SECRET ":dd488d0802b1e431e4c72cd355847853"
#define QM_SECRET "qimen-app-secret-0123456789"

/* ---- helpers -------------------------------------------------------------------- */

/* Percent-decodes s[0..n) into new memory ('+' stays '+': we never emit it). */
static char *pct_decode(const char *s, size_t n)
{
    char *out = wdts_xmalloc(n + 1);
    wdts_pct_decode(s, n, out, n + 1, WDTS_PCT_LENIENT);
    return out;
}

/* The decoded value of key in "k=v&k=v" (after a '?' when there is one), or NULL. */
static char *form_get(const char *s, const char *key)
{
    const char *q = strchr(s, '?');
    const char *p = q ? q + 1 : s;
    size_t kl = strlen(key);
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=')
            return pct_decode(p + kl + 1, len - kl - 1);
        p += len + (amp ? 1 : 0);
    }
    return NULL;
}

/* The keys of "k=v&k=v" in order, joined by ','. */
static char *form_keys(const char *s)
{
    const char *q = strchr(s, '?');
    const char *p = q ? q + 1 : s;
    struct wdts_buf b;
    wdts_buf_init(&b);
    while (*p) {
        const char *eq = strchr(p, '='), *amp = strchr(p, '&');
        if (b.len)
            wdts_buf_append_str(&b, ",");
        wdts_buf_append(&b, p, (size_t)(eq - p));
        if (amp == NULL)
            break;
        p = amp + 1;
    }
    return wdts_buf_steal(&b);
}

static void assert_form(const char *s, const char *key, const char *want)
{
    char *v = form_get(s, key);
    if (v == NULL)
        fail_msg("%s missing in %s", key, s);
    assert_string_equal(v, want);
    free(v);
}

static void creds_wdt(struct wdts_api_creds *c, const char *sid, const char *key, const char *as)
{
    char es[256];
    assert_int_equal(wdts_api_creds_init(c, sid, key, as, es, sizeof(es)), WDTS_OK);
}

static void creds_qimen(struct wdts_api_creds *c, const char *sign_method, const char *prefix)
{
    char es[256];
    creds_wdt(c, "wdtapi3", "wdt_appkey", "secret:salt");
    assert_int_equal(wdts_api_creds_set_qimen(c, "23456789", QM_SECRET, sign_method, NULL, prefix,
                                              es, sizeof(es)),
                     WDTS_OK);
}

/* ---- credentials ---------------------------------------------------------------- */

static void test_appsecret_split(void **state)
{
    (void)state;
    char *sec = NULL, *salt = NULL, es[256];
    assert_int_equal(wdts_api_appsecret_split("a:b:c", &sec, &salt, es, sizeof(es)), WDTS_OK);
    assert_string_equal(sec, "a"); /* the first ':' splits; the salt keeps the rest */
    assert_string_equal(salt, "b:c");
    free(sec);
    free(salt);

    sec = salt = NULL;
    assert_int_equal(wdts_api_appsecret_split("nocolonsecretvalue", &sec, &salt, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "secret:salt"));
    assert_null(strstr(es, "nocolonsecretvalue")); /* the value is never echoed */
    assert_null(sec);
    assert_int_equal(wdts_api_appsecret_split(":salt", &sec, &salt, es, sizeof(es)), WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "secret part"));
    assert_int_equal(wdts_api_appsecret_split("secret:", &sec, &salt, es, sizeof(es)), WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "salt part"));
}

static void test_creds(void **state)
{
    (void)state;
    struct wdts_api_creds c;
    char es[256];
    assert_int_equal(wdts_api_creds_init(&c, "sid", "key", "topsecret", es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "secret:salt"));
    wdts_api_creds_deinit(&c);
    assert_int_equal(wdts_api_creds_init(&c, "", "key", "a:b", es, sizeof(es)), WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "sid"));
    wdts_api_creds_deinit(&c);

    creds_wdt(&c, "sid", "key", "s3cr3t:salty");
    assert_int_equal(c.app, WDTS_API_APP_WDT);
    assert_string_equal(c.secret, "s3cr3t");
    assert_string_equal(c.salt, "salty");
    assert_int_equal(wdts_api_creds_set_qimen(&c, "k", "s", "sha1", NULL, NULL, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "md5, hmac or hmac-sha256"));
    assert_int_equal(wdts_api_creds_set_qimen(&c, NULL, "s", NULL, NULL, NULL, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "app_key"));
    assert_int_equal(wdts_api_creds_set_qimen(&c, "k", "s", "hmac", NULL, NULL, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(c.app, WDTS_API_APP_QIMEN);
    assert_string_equal(c.target_app_key, "21363512");
    assert_int_equal(c.sign_method, WDTS_TOP_SIGN_HMAC);
    wdts_api_creds_deinit(&c);
    wdts_api_creds_deinit(&c); /* twice is harmless */
    wdts_api_creds_deinit(NULL);

    enum wdts_api_app app;
    assert_int_equal(wdts_api_app_parse("qimen", &app), WDTS_OK);
    assert_int_equal(app, WDTS_API_APP_QIMEN);
    assert_int_equal(wdts_api_app_parse("WDT", &app), WDTS_ERR_INVAL);
}

/* ---- direct request building ---------------------------------------------------- */

static void test_build_v1_exactly(void **state)
{
    (void)state;
    struct wdts_api_creds c;
    struct wdts_api_request req;
    char es[256];
    creds_wdt(&c, "wdterp30", "czhc", V1_APPSECRET);
    struct wdts_api_call call = {
        .method = "wms.stockout.Sales.weighingExt",
        .params_json = "[\"xc109393939393939\", \"\", 1.2, 0, false]", /* positional body */
        .now = 232623153 + WDTS_WDT_EPOCH,
    };
    assert_int_equal(wdts_api_request_build(&c, "http://127.0.0.1:9/openapi", &call, &req, es,
                                            sizeof(es)),
                     WDTS_OK);
    assert_string_equal(req.http_method, "POST");
    assert_string_equal(req.content_type, "application/json");
    assert_string_equal(req.url, "http://127.0.0.1:9/openapi?sid=wdterp30&key=czhc"
                                 "&salt=dd488d0802b1e431e4c72cd355847853"
                                 "&method=wms.stockout.Sales.weighingExt&timestamp=232623153&v=1.0"
                                 "&sign=20f557aaf9190797c581bbceeb6d5a5c");
    assert_string_equal(req.body, "[\"xc109393939393939\",\"\",1.2,0,false]");
    assert_int_equal(req.body_len, strlen(req.body));
    assert_null(strstr(req.url, V1_SECRET));
    wdts_api_request_deinit(&req);
    wdts_api_creds_deinit(&c);
}

static void test_build_v2_exactly(void **state)
{
    (void)state;
    struct wdts_api_creds c;
    struct wdts_api_request req;
    char es[256];
    creds_wdt(&c, "wdtapi3", "appkey", "secret:salt");
    struct wdts_api_call call = {
        .method = "goods.Goods.queryWithSpec",
        .params_json = "{ \"goods_no\" : \"G001\" }", /* an object becomes [object], compact */
        .now = 100 + WDTS_WDT_EPOCH,
    };
    assert_int_equal(wdts_api_request_build(&c, "http://h/openapi", &call, &req, es, sizeof(es)),
                     WDTS_OK);
    assert_string_equal(req.body, "[{\"goods_no\":\"G001\"}]");
    assert_string_equal(req.url, "http://h/openapi?sid=wdtapi3&key=appkey&salt=salt"
                                 "&method=goods.Goods.queryWithSpec&timestamp=100&v=1.0"
                                 "&sign=703b2c4b5b16565883e6b58d18e254a2");
    wdts_api_request_deinit(&req);
    wdts_api_creds_deinit(&c);

    creds_wdt(&c, "wdtapi3", "wdt_test", "aa:dd");
    call.method = "system.Core.now";
    call.params_json = "[]";
    assert_int_equal(wdts_api_request_build(&c, "http://h/openapi", &call, &req, es, sizeof(es)),
                     WDTS_OK);
    assert_string_equal(req.body, "[]");
    assert_form(req.url, "sign", "b5745bf1f4721a0d16e9a68cb7513032");
    wdts_api_request_deinit(&req);

    /* No params at all: one empty object. */
    call.params_json = NULL;
    assert_int_equal(wdts_api_request_build(&c, "http://h/openapi", &call, &req, es, sizeof(es)),
                     WDTS_OK);
    assert_string_equal(req.body, "[{}]");
    wdts_api_request_deinit(&req);
    wdts_api_creds_deinit(&c);
}

static void test_build_direct_paged_layout(void **state)
{
    (void)state;
    struct wdts_api_creds c;
    struct wdts_api_request req;
    char es[256];
    creds_wdt(&c, "wdtapi3", "wdtapi3-test9", "sec:136787110023126585465b366becff09");
    struct wdts_api_call call = {
        .method = "aftersales.refund.Refund.searchHistory",
        .params_json = "{\"start_time\":\"2018-10-25 10:32:12\",\"end_time\":\"2018-10-29 "
                       "10:32:12\",\"type\":3, \"amount\": 1.10}",
        .paged = 1, .page_no = 0, .page_size = 200, .calc_total = 1,
        .now = 454601645 + WDTS_WDT_EPOCH,
    };
    assert_int_equal(wdts_api_request_build(&c, "http://h/openapi?tenant=x", &call, &req, es,
                                            sizeof(es)),
                     WDTS_OK);
    /* The gateway's own query is kept; ours follows. */
    assert_true(wdts_str_has_prefix(req.url, "http://h/openapi?tenant=x&sid=wdtapi3&"));
    char *keys = form_keys(req.url);
    assert_string_equal(keys, "tenant,sid,key,salt,method,timestamp,v,sign,page_size,page_no,calc_total");
    free(keys);
    assert_form(req.url, "page_no", "0");
    assert_form(req.url, "page_size", "200");
    assert_form(req.url, "calc_total", "1");
    /* Numbers are sent as written (1.10 stays 1.10), whitespace between tokens goes. */
    assert_string_equal(req.body, "[{\"start_time\":\"2018-10-25 10:32:12\",\"end_time\":"
                                  "\"2018-10-29 10:32:12\",\"type\":3,\"amount\":1.10}]");
    /* The sign covers the pager and exactly the body bytes. */
    struct wdts_param p[] = {
        {"sid", "wdtapi3"}, {"key", "wdtapi3-test9"}, {"salt", "136787110023126585465b366becff09"},
        {"method", "aftersales.refund.Refund.searchHistory"}, {"timestamp", "454601645"},
        {"v", "1.0"}, {"page_size", "200"}, {"page_no", "0"}, {"calc_total", "1"},
        {"body", req.body},
    };
    char want[WDTS_SIGN_MD5_LEN];
    wdts_sign_wdt("sec", p, 10, want);
    assert_form(req.url, "sign", want);
    wdts_api_request_deinit(&req);

    /* Without calc_total the parameter is not sent at all. */
    call.calc_total = 0;
    call.page_no = 7;
    assert_int_equal(wdts_api_request_build(&c, "http://h/openapi", &call, &req, es, sizeof(es)),
                     WDTS_OK);
    assert_null(strstr(req.url, "calc_total"));
    assert_form(req.url, "page_no", "7");
    wdts_api_request_deinit(&req);
    wdts_api_creds_deinit(&c);
}

static void test_build_url_encodes_values(void **state)
{
    (void)state;
    struct wdts_api_creds c;
    struct wdts_api_request req;
    char es[256];
    creds_wdt(&c, "sid 1", "a b&c=d/é+", "sec:salt?#");
    struct wdts_api_call call = {.method = "x.Y.z", .params_json = "{\"shop_no\":\"店铺01\"}",
                                 .now = 1700000000};
    assert_int_equal(wdts_api_request_build(&c, "http://h/openapi", &call, &req, es, sizeof(es)),
                     WDTS_OK);
    assert_non_null(strstr(req.url, "?sid=sid%201&key=a%20b%26c%3Dd%2F%C3%A9%2B&salt=salt%3F%23&"));
    assert_non_null(strstr(req.url, "&timestamp=374652800&")); /* docs/API.md §2 example */
    /* Non-ASCII is posted as raw UTF-8 and signed over those bytes, raw values in the sign. */
    assert_string_equal(req.body, "[{\"shop_no\":\"店铺01\"}]");
    struct wdts_param p[] = {
        {"sid", "sid 1"}, {"key", "a b&c=d/é+"}, {"salt", "salt?#"}, {"method", "x.Y.z"},
        {"timestamp", "374652800"}, {"v", "1.0"}, {"body", req.body},
    };
    char want[WDTS_SIGN_MD5_LEN];
    wdts_sign_wdt("sec", p, 7, want);
    assert_form(req.url, "sign", want);
    wdts_api_request_deinit(&req);
    wdts_api_creds_deinit(&c);
}

static void test_build_rejects_bad_input(void **state)
{
    (void)state;
    struct wdts_api_creds c;
    struct wdts_api_request req;
    char es[256];
    creds_wdt(&c, "s", "k", "sec:salt");
    struct wdts_api_call call = {.method = "a.B.c", .params_json = "{\"a\":", .now = 1700000000};
    assert_int_equal(wdts_api_request_build(&c, "http://h", &call, &req, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "not valid JSON"));
    assert_null(req.url);
    call.params_json = "42";
    assert_int_equal(wdts_api_request_build(&c, "http://h", &call, &req, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "must be a JSON object"));
    assert_non_null(strstr(es, "number"));
    call.params_json = "{\"a\":1,\"a\":2}";
    assert_int_equal(wdts_api_request_build(&c, "http://h", &call, &req, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    call.params_json = NULL;
    call.method = "";
    assert_int_equal(wdts_api_request_build(&c, "http://h", &call, &req, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "method"));
    call.method = "a.b c";
    assert_int_equal(wdts_api_request_build(&c, "http://h", &call, &req, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    call.method = "a.B.c";
    call.paged = 1;
    call.page_size = 0;
    assert_int_equal(wdts_api_request_build(&c, "http://h", &call, &req, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "page_size"));
    call.page_size = 10;
    call.page_no = -1;
    assert_int_equal(wdts_api_request_build(&c, "http://h", &call, &req, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    call.page_no = 0;
    assert_int_equal(wdts_api_request_build(&c, "", &call, &req, es, sizeof(es)), WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "gateway"));
    call.now = 5; /* before the 2012 origin: a clock given in the wrong unit */
    assert_int_equal(wdts_api_request_build(&c, "http://h", &call, &req, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    wdts_api_creds_deinit(&c);
}

static void test_request_to_json(void **state)
{
    (void)state;
    struct wdts_api_creds c;
    struct wdts_api_request req;
    char es[256];
    creds_wdt(&c, "s", "k", V1_APPSECRET);
    struct wdts_api_call call = {.method = "a.B.c", .params_json = "{\"q\":\"x\\\"y\\\\z\"}",
                                 .now = 1700000000};
    assert_int_equal(wdts_api_request_build(&c, "http://h/openapi", &call, &req, es, sizeof(es)),
                     WDTS_OK);
    char *txt = wdts_api_request_to_json(&req);
    assert_null(strstr(txt, V1_SECRET));
    json_t *j = json_loads(txt, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 4);
    assert_string_equal(json_string_value(json_object_get(j, "http_method")), "POST");
    assert_string_equal(json_string_value(json_object_get(j, "url")), req.url);
    assert_string_equal(json_string_value(json_object_get(j, "content_type")), "application/json");
    assert_string_equal(json_string_value(json_object_get(j, "body")), req.body);
    assert_string_equal(req.body, "[{\"q\":\"x\\\"y\\\\z\"}]");
    json_decref(j);
    free(txt);
    wdts_api_request_deinit(&req);
    wdts_api_creds_deinit(&c);
}

/* ---- Qimen request building ----------------------------------------------------- */

static void test_qimen_method_names(void **state)
{
    (void)state;
    char *m = wdts_api_qimen_method("sales.TradeQuery.queryWithDetail", NULL);
    assert_string_equal(m, "wdt.sales.tradequery.querywithdetail");
    free(m);
    m = wdts_api_qimen_method("wms.StockSpec.search", "3ldsmu02o9.");
    assert_string_equal(m, "3ldsmu02o9.wdt.wms.stockspec.search");
    free(m);
    m = wdts_api_qimen_method("wms.StockSpec.search", "3ldsmu02o9");
    assert_string_equal(m, "3ldsmu02o9.wdt.wms.stockspec.search");
    free(m);
    m = wdts_api_qimen_method("wdt.Setting.Shop.QueryShop", NULL);
    assert_string_equal(m, "wdt.setting.shop.queryshop");
    free(m);
    m = wdts_api_qimen_method("3ldsmu02o9.wdt.wms.stockspec.search", "3ldsmu02o9.");
    assert_string_equal(m, "3ldsmu02o9.wdt.wms.stockspec.search");
    free(m);

    /* what a call sends: the catalog's Qimen name (not derived from search2), prefixed */
    char es[256];
    struct wdts_api_creds creds;
    assert_int_equal(wdts_api_creds_init(&creds, "sid", "key", "s:salt", es, sizeof(es)), WDTS_OK);
    struct wdts_api_call call = {.method = "wms.StockSpec.search2",
                                 .qimen_method = "wdt.wms.stockspec.search"};
    m = wdts_api_wire_method(&creds, &call);
    assert_string_equal(m, "wms.StockSpec.search2"); /* the direct route */
    free(m);
    assert_int_equal(wdts_api_creds_set_qimen(&creds, "qk", "qs", NULL, NULL, "3ldsmu02o9.", es,
                                              sizeof(es)),
                     WDTS_OK);
    m = wdts_api_wire_method(&creds, &call);
    assert_string_equal(m, "3ldsmu02o9.wdt.wms.stockspec.search");
    free(m);
    call.qimen_method = NULL; /* none given: derived */
    m = wdts_api_wire_method(&creds, &call);
    assert_string_equal(m, "3ldsmu02o9.wdt.wms.stockspec.search2");
    free(m);
    wdts_api_creds_deinit(&creds);
}

static void test_qimen_layout_and_v3_wdt_sign(void **state)
{
    (void)state;
    struct wdts_api_creds c;
    struct wdts_api_request req;
    char es[256];
    creds_qimen(&c, NULL, NULL);
    int64_t now;
    assert_int_equal(wdts_time_parse_beijing("2020-09-17 19:22:26", &now), WDTS_OK);
    struct wdts_api_call call = {
        .method = "wms.StockSpec.queryChangeHistory",
        .params_json = "{\"spec_no\":null,\"start_date\":\"2020-08-23 00:00:00\",\"end_date\":"
                       "\"2020-09-20 00:00:00\",\"warehouse_no\":\"1001\",\"shop_no\":\"\"}",
        .paged = 1, .page_no = 0, .page_size = 10, .calc_total = 1,
        .now = now,
    };
    assert_int_equal(wdts_api_request_build(&c, "http://127.0.0.1:9/router/qm", &call, &req, es,
                                            sizeof(es)),
                     WDTS_OK);
    assert_string_equal(req.http_method, "POST");
    assert_string_equal(req.content_type, "application/x-www-form-urlencoded");
    char *keys = form_keys(req.url);
    assert_string_equal(keys, "method,app_key,target_app_key,sign_method,timestamp,format,v,sign");
    free(keys);
    keys = form_keys(req.body);
    assert_string_equal(keys, "datetime,params,pager,wdt_appkey,wdt_salt,wdt3_customer_id,wdt_sign");
    free(keys);
    assert_form(req.url, "method", "wdt.wms.stockspec.querychangehistory");
    assert_form(req.url, "app_key", "23456789");
    assert_form(req.url, "target_app_key", "21363512");
    assert_form(req.url, "sign_method", "md5");
    assert_form(req.url, "timestamp", "2020-09-17 19:22:26");
    assert_form(req.url, "format", "json");
    assert_form(req.url, "v", "2.0");
    assert_form(req.body, "datetime", "2020-09-17 19:22:26");
    /* Null and empty fields are never sent (docs/API.md §6.1); the pager is 1-based. */
    assert_form(req.body, "params", "{\"start_date\":\"2020-08-23 00:00:00\",\"end_date\":"
                                    "\"2020-09-20 00:00:00\",\"warehouse_no\":\"1001\"}");
    assert_form(req.body, "pager", "{\"page_size\":10,\"page_no\":1}");
    assert_form(req.body, "wdt_appkey", "wdt_appkey");
    assert_form(req.body, "wdt_salt", "salt");
    assert_form(req.body, "wdt3_customer_id", "wdtapi3");
    /* V3's inputs, so V3's reference wdt_sign (Java null convention). */
    assert_form(req.body, "wdt_sign", "1f5e87bbbc8bc68f4f0af70f79620b7d");
    assert_null(strstr(req.url, "calc_total"));
    assert_null(strstr(req.body, "calc_total"));

    /* The outer TOP sign covers every system and app parameter (raw JSON strings). */
    const char *names[] = {"method", "app_key", "target_app_key", "sign_method", "timestamp",
                           "format", "v"};
    const char *app_names[] = {"datetime", "params", "pager", "wdt_appkey", "wdt_salt",
                               "wdt3_customer_id", "wdt_sign"};
    struct wdts_param all[14];
    char *vals[14];
    for (int i = 0; i < 7; i++) {
        vals[i] = form_get(req.url, names[i]);
        all[i] = (struct wdts_param){names[i], vals[i]};
        vals[7 + i] = form_get(req.body, app_names[i]);
        all[7 + i] = (struct wdts_param){app_names[i], vals[7 + i]};
    }
    char want[WDTS_SIGN_TOP_LEN];
    wdts_sign_top(WDTS_TOP_SIGN_MD5, QM_SECRET, all, 14, want);
    assert_form(req.url, "sign", want);
    for (int i = 0; i < 14; i++)
        free(vals[i]);
    assert_null(strstr(req.url, QM_SECRET));
    assert_null(strstr(req.body, QM_SECRET));
    assert_null(strstr(req.body, "secret"));
    wdts_api_request_deinit(&req);
    wdts_api_creds_deinit(&c);
}

static void test_qimen_sign_methods_and_prefix(void **state)
{
    (void)state;
    struct wdts_api_creds c;
    struct wdts_api_request req;
    char es[256];
    struct wdts_api_call call = {.method = "wms.StockSpec.search", .params_json = "{\"a\":1}",
                                 .paged = 1, .page_no = 4, .page_size = 50, .now = 1700000000};
    creds_qimen(&c, "hmac", NULL);
    assert_int_equal(wdts_api_request_build(&c, "http://h/router/qm", &call, &req, es, sizeof(es)),
                     WDTS_OK);
    assert_form(req.url, "sign_method", "hmac");
    assert_form(req.url, "timestamp", "2023-11-15 06:13:20"); /* Beijing time of 1700000000 */
    assert_form(req.body, "pager", "{\"page_size\":50,\"page_no\":5}");
    char *sign = form_get(req.url, "sign");
    assert_int_equal(strlen(sign), 32);
    free(sign);
    wdts_api_request_deinit(&req);
    wdts_api_creds_deinit(&c);

    creds_qimen(&c, "hmac-sha256", "3ldsmu02o9.");
    assert_int_equal(wdts_api_request_build(&c, "http://h/router/qm", &call, &req, es, sizeof(es)),
                     WDTS_OK);
    assert_form(req.url, "method", "3ldsmu02o9.wdt.wms.stockspec.search");
    sign = form_get(req.url, "sign");
    assert_int_equal(strlen(sign), 64);
    for (const char *p = sign; *p; p++)
        assert_true((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F'));
    free(sign);
    /* wdt_sign uses the unprefixed name whatever is sent as the TOP method. */
    char *dt = form_get(req.body, "datetime"), *params = form_get(req.body, "params"),
         *pager = form_get(req.body, "pager");
    struct wdts_param app[] = {{"datetime", dt}, {"params", params}, {"pager", pager},
                               {"wdt_appkey", "wdt_appkey"}, {"wdt_salt", "salt"}};
    char want[WDTS_SIGN_MD5_LEN];
    assert_int_equal(wdts_sign_qimen_wdt("secret", "wdt.wms.stockspec.search", app, 5,
                                         WDTS_QIMEN_NULL_SKIP, want, es, sizeof(es)),
                     WDTS_OK);
    assert_form(req.body, "wdt_sign", want);
    free(dt);
    free(params);
    free(pager);
    wdts_api_request_deinit(&req);

    /* Not paged: no pager at all. An array is refused on Qimen. */
    call.paged = 0;
    assert_int_equal(wdts_api_request_build(&c, "http://h/router/qm", &call, &req, es, sizeof(es)),
                     WDTS_OK);
    assert_null(strstr(req.body, "pager="));
    wdts_api_request_deinit(&req);
    call.params_json = "[1,2]";
    assert_int_equal(wdts_api_request_build(&c, "http://h/router/qm", &call, &req, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "object"));
    wdts_api_creds_deinit(&c);
}

/* ---- classification ------------------------------------------------------------- */

struct ccase {
    long http;
    const char *body;
    enum wdts_api_class cls;
    enum wdts_api_kind kind;
    const char *in_message; /* a phrase the what-to-do message must hold */
};

static const struct wdts_api_ctx ctx_wdt = {WDTS_API_APP_WDT, "sales.TradeQuery.queryWithDetail",
                                            "seller42", "appkey7", "http://127.0.0.1:9/openapi"};

static const struct ccase direct_cases[] = {
    {200, "{\"status\":0,\"data\":{\"total_count\":2,\"order\":[{},{}]}}", WDTS_API_OK, 0, "ok"},
    {200, "{\"status\":\"0\",\"data\":{\"total_count\":\"12\",\"order\":[]}}", WDTS_API_OK, 0, "ok"},
    {200, "{\"status\":1,\"message\":\"验证失败\"}", WDTS_API_AUTH, 0,
     "the appkey or appsecret is wrong (signature rejected"},
    {200, "{\"status\":1,\"message\":\"验证失败\"}", WDTS_API_AUTH, 0, "开放平台 → 应用管理"},
    {200, "{\"status\":1,\"message\":\"sid is not exists\"}", WDTS_API_AUTH, 0, "gateway URL"},
    {200, "{\"status\":\"1\",\"message\":\"sid is not found\"}", WDTS_API_AUTH, 0, "seller42"},
    {200, "{\"status\":1,\"message\":\"app auth fail\"}", WDTS_API_AUTH, 0, "not authorised"},
    {200, "{\"status\":3,\"message\":\"需要动态口令\"}", WDTS_API_AUTH, 0, "disable the dynamic password"},
    {200, "{\"status\":6,\"message\":\"ip限制\"}", WDTS_API_AUTH, 0, "egress IP to the app's IP whitelist"},
    {200, "{\"status\":7,\"message\":\"时间戳错误\"}", WDTS_API_CLOCK, 0, "resync the clock"},
    {200, "{\"status\":1,\"message\":\"参数错误\"}", WDTS_API_BAD_REQUEST, 0, "参数错误"},
    {200, "{\"status\":1,\"message\":\"invalid argument count\"}", WDTS_API_BAD_REQUEST, 0, "arguments"},
    {200, "{\"status\":1,\"message\":\"For input string: \\\"1665947116495\\\"\"}",
     WDTS_API_BAD_REQUEST, 0, "seconds since 2012"},
    {200, "{\"status\":2,\"message\":\"shop_no\"}", WDTS_API_BAD_REQUEST, 0, "'shop_no'"},
    {200, "{\"status\":4,\"message\":\"数据库错误\"}", WDTS_API_TRANSIENT, 0, "retry later"},
    {200, "{\"status\":5,\"message\":\"数据库错误\"}", WDTS_API_TRANSIENT, 0, "database error"},
    {200, "{\"status\":8,\"message\":\"版本错误\"}", WDTS_API_BAD_REQUEST, 0, "v=1.0"},
    {200, "{\"status\":99,\"message\":\"其他错误\"}", WDTS_API_TRANSIENT, 0, "retry later"},
    {200, "{\"status\":100,\"message\":\"此方法仅支持分页查询：sales.TradeQuery.queryWithDetail\"}",
     WDTS_API_BAD_REQUEST, WDTS_API_KIND_PAGER_REQUIRED, "page_no and page_size"},
    {200, "{\"status\":100,\"message\":\"参数中必须包含起止时间\"}", WDTS_API_BAD_REQUEST, 0,
     "start and end"},
    {200, "{\"status\":100,\"message\":\"您的查询时间过宽,查询时间不能大于60分钟\"}",
     WDTS_API_BAD_REQUEST, WDTS_API_KIND_WINDOW_TOO_WIDE, "split"},
    {200, "{\"status\":100,\"message\":\"您的查询时间过宽,查询时间不能大于30天\"}",
     WDTS_API_BAD_REQUEST, WDTS_API_KIND_WINDOW_TOO_WIDE, "30天"},
    {200, "{\"status\":100,\"message\":\"您的查询条件太过宽，请增加查询条件\"}",
     WDTS_API_BAD_REQUEST, WDTS_API_KIND_WINDOW_TOO_WIDE, "split"},
    {200, "{\"status\":100,\"message\":\"超过每分钟最大调用频率限制，请稍后重试\"}",
     WDTS_API_RATE_LIMITED, 0, "5–10 minutes"},
    {200, "{\"status\":100,\"message\":\"超过每分钟最大并发次数限制，请稍后重试\"}",
     WDTS_API_RATE_LIMITED, WDTS_API_KIND_CONCURRENCY, "concurrency"},
    {200, "{\"status\":100,\"message\":\"权限不足\"}", WDTS_API_PERMISSION, 0,
     "add the interface sales.TradeQuery.queryWithDetail in 开放平台 → 自助对接 → 应用管理 and have "
     "it approved for sid seller42"},
    {200, "{\"status\":100,\"message\":\"接口权限不足\"}", WDTS_API_PERMISSION, 0, "自助对接"},
    {200, "{\"status\":100,\"code\":\"right.required\",\"message\":\"无该仓库权限\"}",
     WDTS_API_PERMISSION, WDTS_API_KIND_ERP_RIGHTS, "员工权限"},
    {200, "{\"status\":100,\"message\":\"无仓库访问权限\"}", WDTS_API_PERMISSION,
     WDTS_API_KIND_ERP_RIGHTS, "appkey7"},
    {200, "{\"status\":100,\"message\":\"传入店铺编号全部错误\"}", WDTS_API_PERMISSION,
     WDTS_API_KIND_ERP_RIGHTS, "shop_no"},
    {200, "{\"status\":100,\"message\":\"The API used internal only: wms.stockin.PreStockin.search\"}",
     WDTS_API_PERMISSION, WDTS_API_KIND_QIMEN_ONLY, "Qimen connection"},
    {200, "{\"status\":100,\"message\":\"Unparseable date: 2023/02/06 17:59:19\"}",
     WDTS_API_BAD_REQUEST, 0, "yyyy-MM-dd HH:mm:ss"},
    {200, "{\"status\":100,\"message\":\"invalid http status 502\"}", WDTS_API_TRANSIENT, 0,
     "invalid http status 502"},
    {200, "{\"status\":1064,\"message\":\"Unknown Database Error\"}", WDTS_API_TRANSIENT, 0,
     "retry later"},
    {200, "{\"status\":100,\"message\":\"something new\"}", WDTS_API_BAD_REQUEST, 0, "something new"},
    {200, "{\"status\":12345,\"message\":\"never seen\"}", WDTS_API_TRANSIENT, 0, "12345: never seen"},
    {200, "{\"status\":100}", WDTS_API_BAD_REQUEST, 0, "no message"},
    /* Qimen envelopes (docs/API.md §6.3). */
    {200, "{\"response\":{\"status\":0,\"message\":\"\",\"data\":{\"total_count\":3,\"order\":[]}}}",
     WDTS_API_OK, 0, "ok"},
    {200, "{\"wdt_sales_tradequery_querywithdetail_response\":{\"status\":\"0\",\"data\":{}}}",
     WDTS_API_OK, 0, "ok"},
    {200, "{\"response\":{\"flag\":\"success\",\"data\":{\"total_count\":\"1\"}}}", WDTS_API_OK, 0, "ok"},
    {200, "{\"response\":{\"status\":100,\"message\":\"权限不足\"}}", WDTS_API_PERMISSION, 0, "自助对接"},
    {200, "{\"response\":{\"status\":1,\"message\":\"验证失败\"}}", WDTS_API_AUTH, 0, "appsecret"},
    {200, "{\"response\":{\"flag\":\"failure\",\"code\":25,\"message\":\"Invalid signature\","
          "\"sub_code\":\"isv.invalid-signature\",\"request_id\":\"r1\"}}",
     WDTS_API_AUTH, 0, "Qimen app_secret"},
    {200, "{\"error_response\":{\"code\":25,\"msg\":\"Invalid Signature\"}}", WDTS_API_AUTH, 0,
     "sign method"},
    {200, "{\"error_response\":{\"code\":\"29\",\"msg\":\"Invalid App Key\"}}", WDTS_API_AUTH, 0,
     "Qimen app_key"},
    {200, "{\"error_response\":{\"code\":7,\"msg\":\"App Call Limited\"}}", WDTS_API_RATE_LIMITED, 0,
     "App Call Limited"},
    {200, "{\"error_response\":{\"code\":8,\"msg\":\"App Call Exceeds Limited Frequency\"}}",
     WDTS_API_RATE_LIMITED, 0, "calls too often"},
    {200, "{\"error_response\":{\"code\":11,\"msg\":\"Insufficient ISV Permissions\"}}",
     WDTS_API_PERMISSION, 0, "approved for sid seller42"},
    {200, "{\"error_response\":{\"code\":31,\"msg\":\"Invalid Timestamp\"}}", WDTS_API_CLOCK, 0,
     "resync the clock"},
    {200, "{\"error_response\":{\"code\":15,\"msg\":\"Remote service error\"}}", WDTS_API_TRANSIENT,
     0, "retry later"},
    {200, "{\"error_response\":{\"code\":15,\"msg\":\"Remote service error\",\"sub_code\":"
          "\"isv.x\",\"sub_msg\":\"超过每分钟最大调用频率限制，请稍后重试\"}}",
     WDTS_API_RATE_LIMITED, 0, "calls per minute"},
    {200, "{\"error_response\":{\"code\":40,\"msg\":\"Missing Required Arguments\"}}",
     WDTS_API_BAD_REQUEST, 0, "missing argument"},
    {200, "{\"error_response\":{\"code\":41,\"msg\":\"Invalid Arguments\"}}", WDTS_API_BAD_REQUEST,
     0, "invalid argument"},
    {200, "{\"error_response\":{\"code\":99999,\"msg\":\"x\",\"sub_code\":\"isp.unknown-error\"}}",
     WDTS_API_TRANSIENT, 0, "service failure"},
    /* HTTP and body shapes. */
    {500, "<html><body>Internal Server Error</body></html>", WDTS_API_TRANSIENT, 0, "HTTP 500"},
    {502, "{\"status\":0,\"data\":{}}", WDTS_API_TRANSIENT, 0, "HTTP 502"},
    {503, "", WDTS_API_TRANSIENT, 0, "HTTP 503"},
    {500, "{\"status\":100,\"message\":\"超过每分钟最大调用频率限制，请稍后重试\"}",
     WDTS_API_RATE_LIMITED, 0, "calls per minute"},
    {429, "", WDTS_API_RATE_LIMITED, 0, "HTTP 429"},
    {404, "not found", WDTS_API_BAD_REQUEST, 0, "/openapi"},
    {403, "forbidden", WDTS_API_AUTH, 0, "whitelist"},
    {301, "", WDTS_API_BAD_REQUEST, 0, "redirects"},
    {200, "<html>502 Bad Gateway</html>", WDTS_API_TRANSIENT, 0, "not JSON"},
    {200, "<html>502 Bad Gateway</html>", WDTS_API_TRANSIENT, 0, "starting \"<html>502"},
    {200, "{\"status\":0,\"data\":{\"order\":[{\"trade_id\":1", WDTS_API_TRANSIENT, 0,
     "cut off (truncated JSON"},
    {200, "{\"status\":0,\"da", WDTS_API_TRANSIENT, 0, "cut off"},
    {200, "", WDTS_API_TRANSIENT, 0, "empty answer"},
    {200, "[1,2,3]", WDTS_API_TRANSIENT, 0, "no status"},
    {200, "{\"foo\":1}", WDTS_API_TRANSIENT, 0, "no status"},
    {200, "null", WDTS_API_TRANSIENT, 0, "no status"},
    /* a status that is no number is never success, whatever data holds */
    {200, "{\"status\":\"error\",\"message\":\"x\",\"data\":{\"order\":[]}}",
     WDTS_API_TRANSIENT, 0, "not a number"},
    {200, "{\"response\":{\"status\":null,\"data\":{\"order\":[]}}}", WDTS_API_TRANSIENT, 0,
     "not a number"},
    {200, "\"status\"", WDTS_API_TRANSIENT, 0, "no status"},
    {200, "\x01\x02\xff binary", WDTS_API_TRANSIENT, 0, "not JSON"},
};

static void classify_body(long http, const char *body, struct wdts_api_result *res)
{
    struct wdts_api_outcome o = {.transport = WDTS_OK, .http_status = http, .body = body,
                                 .body_len = strlen(body)};
    wdts_api_classify(&o, &ctx_wdt, res);
}

static void test_classify_every_class(void **state)
{
    (void)state;
    int seen[WDTS_API_CLASS__COUNT] = {0};
    struct wdts_api_result res;
    wdts_api_result_init(&res);
    for (size_t i = 0; i < sizeof(direct_cases) / sizeof(direct_cases[0]); i++) {
        const struct ccase *c = &direct_cases[i];
        classify_body(c->http, c->body, &res); /* res is reused: classify deinits it first */
        if (res.cls != c->cls || res.kind != c->kind || res.message == NULL ||
            strstr(res.message, c->in_message) == NULL)
            fail_msg("case %zu (%ld %s): got %s/%s \"%s\", want %s/%s with \"%s\"", i, c->http,
                     c->body, wdts_api_class_name(res.cls), wdts_api_kind_name(res.kind),
                     res.message ? res.message : "(null)", wdts_api_class_name(c->cls),
                     wdts_api_kind_name(c->kind), c->in_message);
        assert_int_equal(res.http_status, c->http);
        seen[res.cls]++;
    }
    for (int k = 0; k < WDTS_API_CLASS__COUNT; k++)
        assert_true(seen[k] > 0);
    wdts_api_result_deinit(&res);
}

static void test_classify_fields(void **state)
{
    (void)state;
    struct wdts_api_result res;
    wdts_api_result_init(&res);
    classify_body(200, "{\"status\":\"0\",\"data\":{\"total_count\":\"12\",\"order\":[{\"a\":1}]}}",
                  &res);
    assert_int_equal(res.cls, WDTS_API_OK);
    assert_true(res.has_status);
    assert_int_equal(res.status, 0);
    assert_true(res.has_total);
    assert_int_equal(res.total_count, 12);
    assert_non_null(res.data);
    assert_int_equal(json_array_size(json_object_get(res.data, "order")), 1);

    classify_body(200, "{\"response\":{\"status\":0,\"data\":{\"total_count\":3.0}}}", &res);
    assert_int_equal(res.cls, WDTS_API_OK);
    assert_int_equal(res.total_count, 3);
    assert_ptr_equal(res.inner, json_object_get(res.answer, "response"));

    classify_body(200, "{\"status\":0}", &res); /* no data, no total: still ok */
    assert_int_equal(res.cls, WDTS_API_OK);
    assert_false(res.has_total);
    assert_null(res.data);

    classify_body(200, "{\"status\":100,\"code\":\"right.required\",\"message\":\"无该仓库权限\"}",
                  &res);
    assert_int_equal(res.status, 100);
    assert_string_equal(res.code, "right.required");
    assert_string_equal(res.api_message, "无该仓库权限");

    classify_body(200, "{\"error_response\":{\"code\":\"25\",\"msg\":\"Invalid Signature\","
                       "\"sub_code\":\"isv.invalid-signature\",\"sub_msg\":\"bad\"}}",
                  &res);
    assert_int_equal(res.status, 25);
    assert_string_equal(res.code, "isv.invalid-signature");
    assert_string_equal(res.api_message, "Invalid Signature: bad");

    classify_body(500, "oops", &res);
    assert_null(res.answer);
    assert_false(res.has_status);
    wdts_api_result_deinit(&res);
    wdts_api_result_deinit(&res);
}

static void test_classify_transport(void **state)
{
    (void)state;
    struct wdts_api_result res;
    wdts_api_result_init(&res);
    struct wdts_api_outcome o = {.transport = WDTS_ERR_IO,
                                 .transport_detail = "Failed to connect to 127.0.0.1 port 9"};
    wdts_api_classify(&o, &ctx_wdt, &res);
    assert_int_equal(res.cls, WDTS_API_TRANSIENT);
    assert_non_null(strstr(res.message, "Failed to connect"));
    assert_non_null(strstr(res.message, "http://127.0.0.1:9/openapi"));

    o.transport = WDTS_ERR_TIMEOUT;
    o.transport_detail = "Operation timed out after 1000 milliseconds";
    wdts_api_classify(&o, &ctx_wdt, &res);
    assert_int_equal(res.cls, WDTS_API_TRANSIENT);
    assert_non_null(strstr(res.message, "in time"));

    o.transport = WDTS_ERR_HTTP;
    o.transport_detail = "the answer was cut off after 10 bytes";
    o.http_status = 200;
    wdts_api_classify(&o, &ctx_wdt, &res);
    assert_int_equal(res.cls, WDTS_API_TRANSIENT);
    assert_non_null(strstr(res.message, "cut off"));

    o.transport = WDTS_ERR_INVAL;
    o.transport_detail = NULL;
    wdts_api_classify(&o, &ctx_wdt, &res);
    assert_int_equal(res.cls, WDTS_API_BAD_REQUEST);
    assert_non_null(strstr(res.message, "http://"));

    struct wdts_api_outcome big = {.transport = WDTS_OK, .answer_too_large = 1, .http_status = 200,
                                   .body = "{\"sta", .body_len = 5};
    wdts_api_classify(&big, &ctx_wdt, &res);
    assert_int_equal(res.cls, WDTS_API_BAD_REQUEST);
    assert_int_equal(res.kind, WDTS_API_KIND_ANSWER_TOO_LARGE);
    assert_non_null(strstr(res.message, "page_size"));

    /* No context at all still gives a message. */
    struct wdts_api_outcome perm = {.http_status = 200, .body = "{\"status\":100,\"message\":\"权限不足\"}",
                                    .body_len = strlen("{\"status\":100,\"message\":\"权限不足\"}")};
    wdts_api_classify(&perm, NULL, &res);
    assert_int_equal(res.cls, WDTS_API_PERMISSION);
    assert_non_null(strstr(res.message, "自助对接"));
    wdts_api_result_deinit(&res);
}

static void test_messages_never_hold_secrets(void **state)
{
    (void)state;
    struct wdts_api_result res;
    wdts_api_result_init(&res);
    const char *secrets[] = {V1_SECRET, QM_SECRET, "abc"};
    /* A server that echoes a secret back: the finished result is scrubbed. */
    classify_body(200, "{\"status\":1,\"message\":\"参数错误 secret=" V1_SECRET " app=" QM_SECRET
                       " abc\"}",
                  &res);
    assert_non_null(strstr(res.message, V1_SECRET)); /* the rule quotes the API's message */
    assert_non_null(strstr(res.api_message, QM_SECRET));
    wdts_api_result_redact(&res, secrets, 3);
    assert_null(strstr(res.message, V1_SECRET));
    assert_null(strstr(res.api_message, V1_SECRET));
    assert_null(strstr(res.message, QM_SECRET));
    assert_null(strstr(res.api_message, QM_SECRET));
    assert_non_null(strstr(res.message, "secret=*** app=***"));
    assert_non_null(strstr(res.message, " abc")); /* too short to be a real secret: kept */

    /* Every classified case: the secret never reaches a message. */
    for (size_t i = 0; i < sizeof(direct_cases) / sizeof(direct_cases[0]); i++) {
        classify_body(direct_cases[i].http, direct_cases[i].body, &res);
        assert_null(strstr(res.message, V1_SECRET));
        assert_null(strstr(res.message, "dd488d0802b1e431e4c72cd355847853:"));
    }
    wdts_api_result_deinit(&res);
}

/* Every cut of a good answer is transient (never ok, never a crash); the whole one is ok. */
static void test_classify_every_truncation(void **state)
{
    (void)state;
    static const char *const answers[] = {
        "{\"status\":0,\"data\":{\"total_count\":\"2\",\"order\":[{\"trade_id\":1,\"receiver_name\":"
        "\"张三\",\"paid\":\"12.50\"},{\"trade_id\":2,\"paid\":0.0}]}}",
        "{\"response\":{\"status\":0,\"data\":{\"total_count\":1,\"order\":[{\"x\":[1,2,{}]}]}}}",
    };
    struct wdts_api_result res;
    wdts_api_result_init(&res);
    for (size_t a = 0; a < 2; a++) {
        size_t len = strlen(answers[a]);
        for (size_t cut = 0; cut < len; cut++) {
            struct wdts_api_outcome o = {.http_status = 200, .body = answers[a], .body_len = cut};
            wdts_api_classify(&o, &ctx_wdt, &res);
            if (res.cls != WDTS_API_TRANSIENT)
                fail_msg("answer %zu cut at %zu: %s", a, cut, wdts_api_class_name(res.cls));
        }
        struct wdts_api_outcome o = {.http_status = 200, .body = answers[a], .body_len = len};
        wdts_api_classify(&o, &ctx_wdt, &res);
        assert_int_equal(res.cls, WDTS_API_OK);
    }
    wdts_api_result_deinit(&res);
}

/* Gateway text reaches terminals, logs and Redis: escapes are replaced, the size bounded. */
static void test_text_clean(void **state)
{
    (void)state;
    const char *forged = "ok 中文 \x1b[2K\rclass: ok\x1b]0;x\x07 \xc2\x9b" "1m \xff|";
    char *c = wdts_api_text_clean(forged, strlen(forged), 1024);
    assert_string_equal(c, "ok 中文 ?[2K class: ok?]0;x? ?1m ?|");
    free(c);
    /* cut on a character boundary */
    c = wdts_api_text_clean("中文中文", 12, 7);
    assert_string_equal(c, "中文…");
    free(c);
    c = wdts_api_text_clean(NULL, 0, 10);
    assert_string_equal(c, "");
    free(c);

    /* once, in the classification: a forged line and a 2 MB message */
    struct wdts_api_result res;
    wdts_api_result_init(&res);
    size_t big = 2 << 20;
    struct wdts_buf b;
    wdts_buf_init(&b);
    wdts_buf_append_str(&b, "{\"status\":100,\"code\":\"\\u001b[31mx\",\"message\":\"权限不足\\u001b[1A\\r\\nclass: ok ");
    for (size_t i = 0; i < big; i++)
        wdts_buf_append(&b, "A", 1);
    wdts_buf_append_str(&b, "\"}");
    classify_body(200, wdts_buf_str(&b), &res);
    assert_int_equal(res.cls, WDTS_API_PERMISSION);
    assert_non_null(res.api_message);
    assert_true(strlen(res.api_message) <= WDTS_API_TEXT_MAX + 3);
    assert_null(strchr(res.api_message, '\x1b'));
    assert_null(strchr(res.api_message, '\n'));
    assert_null(strchr(res.message, '\x1b'));
    assert_true(strlen(res.message) < 4096);
    assert_non_null(res.code);
    assert_null(strchr(res.code, '\x1b'));
    assert_true(strncmp(res.api_message, "权限不足?[1A  class: ok AAA", 30) == 0);
    wdts_api_result_deinit(&res);
    wdts_buf_deinit(&b);
}

/* The API's text in a message is cut at 300 bytes on a character boundary: a cut inside
 * a 3-byte character left a broken UTF-8 sequence that jansson refuses as a string (found
 * by tests/fuzz/fuzz_api_classify.c). */
static void test_message_cut_keeps_utf8(void **state)
{
    (void)state;
    for (size_t lead = 0; lead < 3; lead++) {
        struct wdts_api_result res;
        struct wdts_buf b;
        wdts_api_result_init(&res);
        wdts_buf_init(&b);
        wdts_buf_append_str(&b, "{\"status\":4,\"message\":\"");
        wdts_buf_append(&b, "AA", lead);
        for (int i = 0; i < 200; i++)
            wdts_buf_append_str(&b, "数");
        wdts_buf_append_str(&b, "\"}");
        classify_body(200, wdts_buf_str(&b), &res);
        assert_int_equal(res.cls, WDTS_API_TRANSIENT);
        json_t *s = json_string(res.message);
        assert_non_null(s);
        json_decref(s);
        wdts_api_result_deinit(&res);
        wdts_buf_deinit(&b);
    }
}

/* A status that is no number is echoed in the message cleaned: DEL and C1 controls (which
 * json_dumps keeps as they are) became '?', and a long one is cut on a character boundary
 * (found by tests/fuzz/fuzz_api_classify.c). */
static void test_status_echo_is_clean(void **state)
{
    (void)state;
    struct wdts_api_result res;
    wdts_api_result_init(&res);
    classify_body(200, "{\"status\":\"100\\u007f\\u0085\\u001b[2K\",\"message\":\"m\"}", &res);
    assert_int_equal(res.cls, WDTS_API_TRANSIENT);
    assert_non_null(strstr(res.message, "not a number"));
    assert_null(strchr(res.message, 0x7f));
    assert_null(strstr(res.message, "\xc2\x85"));
    assert_non_null(strstr(res.message, "\"100??\\u001B[2K\": m"));
    wdts_api_result_deinit(&res);
    classify_body(200, "{\"status\":\"数数数数数数数数数数数数数数数数数数数数\"}", &res);
    json_t *s = json_string(res.message);
    assert_non_null(s);
    json_decref(s);
    assert_non_null(strstr(res.message, "\"数数数数数数数数数数数数数…: no message"));
    wdts_api_result_deinit(&res);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(wdts_api_class_name(WDTS_API_RATE_LIMITED), "rate_limited");
    assert_string_equal(wdts_api_class_name(WDTS_API_BAD_REQUEST), "bad_request");
    assert_string_equal(wdts_api_kind_name(WDTS_API_KIND_WINDOW_TOO_WIDE), "window_too_wide");
    assert_string_equal(wdts_api_kind_name(WDTS_API_KIND_NONE), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appsecret_split),
        cmocka_unit_test(test_creds),
        cmocka_unit_test(test_build_v1_exactly),
        cmocka_unit_test(test_build_v2_exactly),
        cmocka_unit_test(test_build_direct_paged_layout),
        cmocka_unit_test(test_build_url_encodes_values),
        cmocka_unit_test(test_build_rejects_bad_input),
        cmocka_unit_test(test_request_to_json),
        cmocka_unit_test(test_qimen_method_names),
        cmocka_unit_test(test_qimen_layout_and_v3_wdt_sign),
        cmocka_unit_test(test_qimen_sign_methods_and_prefix),
        cmocka_unit_test(test_classify_every_class),
        cmocka_unit_test(test_classify_fields),
        cmocka_unit_test(test_classify_transport),
        cmocka_unit_test(test_messages_never_hold_secrets),
        cmocka_unit_test(test_classify_every_truncation),
        cmocka_unit_test(test_text_clean),
        cmocka_unit_test(test_message_cut_keeps_utf8),
        cmocka_unit_test(test_status_echo_is_clean),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
