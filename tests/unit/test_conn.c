/* The connection model without I/O: JSON round trips of every form, that no form ever
 * carries a plain secret, sealing bound to the connection and field, validation of each
 * field with a message per problem, and the names given to refused credentials. */
#include "wdts_test.h"

#include <stdlib.h>
#include <string.h>

#include "wdts/catalog.h"
#include "wdts/conn.h"
#include "wdts/conn_probe.h"
#include "wdts/mem.h"
#include "wdts/str.h"

#define APPSECRET "0123456789abcdef0123456789abcdef:salt-4711"
#define QM_SECRET "qimen-secret-9876543210"

static const unsigned char key1[WDTS_CRYPTO_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                                        12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                                        23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const unsigned char key2[WDTS_CRYPTO_KEY_LEN] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
                                                        9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
                                                        9, 9, 9, 9, 9, 9, 9, 9, 9, 42};

static struct wdts_conn *sample(enum wdts_api_app app)
{
    struct wdts_conn *conn = wdts_conn_new();
    conn->tenant = wdts_xstrdup("acme");
    conn->id = wdts_xstrdup("acme-wdt.1");
    conn->app = app;
    conn->sid = wdts_xstrdup("seller42");
    conn->appkey = wdts_xstrdup("key7");
    conn->appsecret = wdts_xstrdup(APPSECRET);
    if (app == WDTS_API_APP_QIMEN) {
        conn->qimen_app_key = wdts_xstrdup("qm-app");
        conn->qimen_app_secret = wdts_xstrdup(QM_SECRET);
    }
    conn->gateway = wdts_xstrdup(wdts_conn_gateway_resolve(app, NULL));
    wdts_conn_add_report(conn, "trades");
    wdts_conn_add_report(conn, "refunds");
    wdts_conn_add_report(conn, "shops");
    conn->rate = 2.5;
    conn->burst = 3;
    conn->concurrency = 2;
    conn->pii = WDTS_CONN_PII_HASH;
    conn->backfill_s = 30 * 86400;
    conn->created_at = 1700000000;
    conn->updated_at = 1700000100;
    return conn;
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(s);
    return s;
}

static void assert_no_plain_secret(const char *text)
{
    assert_null(strstr(text, APPSECRET));
    assert_null(strstr(text, "0123456789abcdef0123456789abcdef"));
    assert_null(strstr(text, QM_SECRET));
}

static int64_t conn_defaults_horizon(void)
{
    struct wdts_conn *conn = wdts_conn_new();
    assert_int_equal(conn->archive_read, WDTS_CONN_ARCHIVE_ALL);
    int64_t h = conn->archive_horizon_s;
    wdts_conn_destroy(conn);
    return h;
}

static void test_defaults(void **state)
{
    (void)state;
    struct wdts_conn *conn = wdts_conn_new();
    assert_int_equal(conn->backfill_s, 90 * 86400);
    assert_true(conn->rate == 1.0);
    assert_int_equal(conn->burst, 1);
    assert_int_equal(conn->concurrency, 1);
    assert_int_equal(conn->pii, WDTS_CONN_PII_KEEP);
    assert_int_equal(conn->app, WDTS_API_APP_WDT);
    wdts_conn_destroy(conn);
    wdts_conn_destroy(NULL);
    /* M1: both production gateways are https; only the WDT test gateway is plain http. */
    assert_string_equal(wdts_conn_gateway_resolve(WDTS_API_APP_WDT, NULL),
                        "https://wdt.wangdian.cn/openapi");
    assert_string_equal(wdts_conn_gateway_resolve(WDTS_API_APP_WDT, "production"),
                        "https://wdt.wangdian.cn/openapi");
    assert_string_equal(wdts_conn_gateway_resolve(WDTS_API_APP_QIMEN, NULL),
                        "https://3ldsmu02o9.api.taobao.com/router/qm");
    assert_string_equal(wdts_conn_gateway_resolve(WDTS_API_APP_QIMEN, "production"),
                        "https://3ldsmu02o9.api.taobao.com/router/qm");
    assert_string_equal(wdts_conn_gateway_resolve(WDTS_API_APP_WDT, "test"),
                        "http://47.92.239.46/openapi");
    assert_string_equal(wdts_conn_gateway_resolve(WDTS_API_APP_QIMEN, "test"),
                        "https://3ldsmu02o9.api.taobao.com/router/qmtest");
    assert_string_equal(wdts_conn_gateway_resolve(WDTS_API_APP_WDT, "http://127.0.0.1:9/x"),
                        "http://127.0.0.1:9/x");
    assert_false(wdts_conn_gateway_plain(wdts_conn_default_gateway(WDTS_API_APP_WDT)));
    assert_false(wdts_conn_gateway_plain(wdts_conn_default_gateway(WDTS_API_APP_QIMEN)));
    assert_true(wdts_conn_gateway_plain(WDTS_CONN_GATEWAY_WDT_TEST));
    assert_true(wdts_conn_gateway_plain("HTTP://127.0.0.1:9/x"));
    assert_false(wdts_conn_gateway_plain("https://127.0.0.1:9/x"));
    assert_false(wdts_conn_gateway_plain(NULL));
    enum wdts_conn_pii pii;
    assert_int_equal(wdts_conn_pii_parse("drop", &pii), WDTS_OK);
    assert_int_equal(pii, WDTS_CONN_PII_DROP);
    assert_int_equal(wdts_conn_pii_parse("Hash", &pii), WDTS_ERR_INVAL);
    assert_string_equal(wdts_conn_pii_name(WDTS_CONN_PII_HASH), "hash");
    /* the archive: a 90-day horizon, every window read from the history methods too */
    assert_int_equal(conn_defaults_horizon(), 90 * 86400);
    enum wdts_conn_archive_read ar;
    assert_int_equal(wdts_conn_archive_read_parse("old", &ar), WDTS_OK);
    assert_int_equal(ar, WDTS_CONN_ARCHIVE_OLD);
    assert_int_equal(wdts_conn_archive_read_parse("none", &ar), WDTS_ERR_INVAL);
    assert_string_equal(wdts_conn_archive_read_name(WDTS_CONN_ARCHIVE_ALL), "all");
    assert_string_equal(wdts_conn_archive_read_name(WDTS_CONN_ARCHIVE_OFF), "off");
}

static void test_round_trip_full(void **state)
{
    (void)state;
    char es[256];
    struct wdts_conn *conn = sample(WDTS_API_APP_QIMEN), *back = NULL;
    assert_int_equal(wdts_conn_seal(conn, key1, es, sizeof(es)), WDTS_OK);
    struct wdts_conn_report *r = wdts_conn_report_get(conn, "refunds");
    r->blocked = 1;
    r->reason = wdts_xstrdup("权限不足");
    r->fix = wdts_xstrdup("add the interface in 开放平台 → 自助对接 → 应用管理");
    r->since = 1700000200;
    r->has_lookback = 1;
    r->lookback_s = 14 * 86400;
    r = wdts_conn_report_get(conn, "trades");
    r->history_blocked = 1;
    r->history_reason = wdts_xstrdup("权限不足");
    r->history_fix = wdts_xstrdup("add sales.TradeQuery.queryHistoryWithDetail");
    r->history_since = 1700000250;
    conn->archive_horizon_s = 2 * 86400;
    conn->archive_read = WDTS_CONN_ARCHIVE_OLD;
    conn->auth_failed = 1;
    conn->auth_message = wdts_xstrdup("the appkey or appsecret is wrong (验证失败)");
    conn->auth_since = 1700000300;
    conn->checked_at = 1700000400;

    json_t *j = wdts_conn_to_json(conn, WDTS_CONN_JSON_FULL);
    char *text = dump(j);
    assert_no_plain_secret(text);
    assert_int_equal(wdts_conn_from_json(j, &back, es, sizeof(es)), WDTS_OK);
    json_t *j2 = wdts_conn_to_json(back, WDTS_CONN_JSON_FULL);
    char *text2 = dump(j2);
    assert_string_equal(text, text2); /* every field survives */
    assert_string_equal(back->tenant, "acme");
    assert_int_equal(back->app, WDTS_API_APP_QIMEN);
    assert_string_equal(back->qimen_app_key, "qm-app");
    assert_true(back->rate == 2.5);
    assert_int_equal(back->burst, 3);
    assert_int_equal(back->concurrency, 2);
    assert_int_equal(back->pii, WDTS_CONN_PII_HASH);
    assert_int_equal(back->backfill_s, 30 * 86400);
    assert_int_equal(back->n_reports, 3);
    assert_true(wdts_conn_report_get(back, "refunds")->blocked);
    assert_string_equal(wdts_conn_report_get(back, "refunds")->reason, "权限不足");
    assert_int_equal(wdts_conn_report_get(back, "refunds")->since, 1700000200);
    assert_true(wdts_conn_report_get(back, "refunds")->has_lookback);
    assert_int_equal(wdts_conn_report_get(back, "refunds")->lookback_s, 14 * 86400);
    assert_false(wdts_conn_report_get(back, "trades")->has_lookback);
    /* a look-back of a report the connection does not sync is refused */
    json_t *jl = wdts_conn_to_json(conn, WDTS_CONN_JSON_FULL);
    json_object_set_new(json_object_get(jl, "lookback"), "goods", json_integer(60));
    struct wdts_conn *bad = NULL;
    assert_int_equal(wdts_conn_from_json(jl, &bad, es, sizeof(es)), WDTS_ERR_JSON);
    assert_non_null(strstr(es, "lookback"));
    json_decref(jl);
    assert_false(wdts_conn_report_get(back, "trades")->blocked);
    assert_true(wdts_conn_report_get(back, "trades")->history_blocked);
    assert_string_equal(wdts_conn_report_get(back, "trades")->history_reason, "权限不足");
    assert_int_equal(wdts_conn_report_get(back, "trades")->history_since, 1700000250);
    assert_false(wdts_conn_report_get(back, "refunds")->history_blocked);
    assert_int_equal(back->archive_horizon_s, 2 * 86400);
    assert_int_equal(back->archive_read, WDTS_CONN_ARCHIVE_OLD);
    assert_true(back->auth_failed);
    assert_int_equal(back->auth_since, 1700000300);
    assert_int_equal(back->checked_at, 1700000400);
    assert_null(back->appsecret); /* sealed only, until opened */
    assert_string_equal(back->appsecret_sealed, conn->appsecret_sealed);

    /* The secrets open with the same key and give back exactly the plain values. */
    assert_int_equal(wdts_conn_open_secrets(back, key1, es, sizeof(es)), WDTS_OK);
    assert_string_equal(back->appsecret, APPSECRET);
    assert_string_equal(back->qimen_app_secret, QM_SECRET);
    free(text);
    free(text2);
    json_decref(j);
    json_decref(j2);
    wdts_conn_destroy(conn);
    wdts_conn_destroy(back);
}

static void test_stored_and_public_forms(void **state)
{
    (void)state;
    char es[256];
    struct wdts_conn *conn = sample(WDTS_API_APP_QIMEN);
    assert_int_equal(wdts_conn_seal(conn, key1, es, sizeof(es)), WDTS_OK);
    conn->auth_failed = 1;
    conn->auth_message = wdts_xstrdup("refused");

    json_t *stored = wdts_conn_to_json(conn, WDTS_CONN_JSON_STORED);
    char *s = dump(stored);
    assert_no_plain_secret(s);
    assert_non_null(strstr(s, "\"appsecret\":\"v1:"));
    assert_non_null(strstr(s, "\"app_secret\":\"v1:"));
    assert_null(json_object_get(stored, "state")); /* state lives in its own hash */

    json_t *pub = wdts_conn_to_json(conn, WDTS_CONN_JSON_PUBLIC);
    char *p = dump(pub);
    assert_no_plain_secret(p);
    assert_null(strstr(p, conn->appsecret_sealed)); /* not even sealed */
    assert_null(strstr(p, conn->qimen_app_secret_sealed));
    assert_null(json_object_get(pub, "appsecret"));
    char kid[WDTS_CRYPTO_KEY_ID_SIZE];
    wdts_crypto_key_id(key1, kid);
    assert_string_equal(json_string_value(json_object_get(pub, "secret_key_id")), kid);
    assert_string_equal(json_string_value(json_object_get(json_object_get(pub, "state"), "state")),
                        "auth_failed");
    free(s);
    free(p);
    json_decref(stored);
    json_decref(pub);
    wdts_conn_destroy(conn);
}

/* L1: the v2 associated data binds where the signed calls go. A document edited to send
 * them to another gateway, sid or appkey, or to run as another tenant, no longer opens. */
static void test_sealing_binds_the_destination(void **state)
{
    (void)state;
    char es[512];
    static const char *const fields[] = {"gateway", "sid", "appkey", "tenant", "qimen_app_key"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        struct wdts_conn *conn = sample(WDTS_API_APP_QIMEN);
        assert_int_equal(wdts_conn_seal(conn, key1, es, sizeof(es)), WDTS_OK);
        json_t *doc = wdts_conn_to_json(conn, WDTS_CONN_JSON_STORED);
        json_t *where = strcmp(fields[i], "qimen_app_key") == 0 ? json_object_get(doc, "qimen")
                                                                : doc;
        const char *name = strcmp(fields[i], "qimen_app_key") == 0 ? "app_key" : fields[i];
        json_object_set_new(where, name, json_string(strcmp(name, "gateway") == 0
                                                         ? "http://attacker.example/openapi"
                                                         : "other"));
        struct wdts_conn *edited = NULL;
        assert_int_equal(wdts_conn_from_json(doc, &edited, es, sizeof(es)), WDTS_OK);
        assert_int_equal(wdts_conn_open_secrets(edited, key1, es, sizeof(es)), WDTS_ERR_TLS);
        assert_non_null(strstr(es, "changed in Redis"));
        json_decref(doc);
        wdts_conn_destroy(edited);
        wdts_conn_destroy(conn);
    }
    /* The platform/own Qimen choice and the app are bound too. */
    struct wdts_conn *conn = sample(WDTS_API_APP_WDT);
    assert_int_equal(wdts_conn_seal(conn, key1, es, sizeof(es)), WDTS_OK);
    conn->app = WDTS_API_APP_QIMEN;
    conn->qimen_platform = 1;
    assert_int_equal(wdts_conn_open_secrets(conn, key1, es, sizeof(es)), WDTS_ERR_TLS);
    wdts_conn_destroy(conn);
}

/* L1: a v1 document (sealed with "<tenant>/<id>/<field>") still opens, and sealing it
 * again writes v2. */
static void test_v1_document_opens_and_reseals_as_v2(void **state)
{
    (void)state;
    char es[512];
    struct wdts_conn *conn = sample(WDTS_API_APP_WDT);
    char *aad = wdts_conn_aad_v(conn, "appsecret", 1), *sealed = NULL;
    assert_int_equal(wdts_crypto_seal(key1, APPSECRET, strlen(APPSECRET), aad, &sealed, es,
                                      sizeof(es)),
                     WDTS_OK);
    free(aad);
    conn->appsecret_sealed = sealed;
    conn->version = 1;
    json_t *doc = wdts_conn_to_json(conn, WDTS_CONN_JSON_STORED);
    assert_int_equal(json_integer_value(json_object_get(doc, "v")), 1);
    struct wdts_conn *back = NULL;
    assert_int_equal(wdts_conn_from_json(doc, &back, es, sizeof(es)), WDTS_OK);
    assert_int_equal(back->version, 1);
    assert_int_equal(wdts_conn_open_secrets(back, key1, es, sizeof(es)), WDTS_OK);
    assert_string_equal(back->appsecret, APPSECRET);
    assert_int_equal(wdts_conn_seal(back, key1, es, sizeof(es)), WDTS_OK);
    assert_int_equal(back->version, 2);
    json_t *doc2 = wdts_conn_to_json(back, WDTS_CONN_JSON_STORED);
    assert_int_equal(json_integer_value(json_object_get(doc2, "v")), 2);
    /* The v1 blob does not open as v2 (no downgrade by relabelling either way). */
    free(back->appsecret_sealed);
    back->appsecret_sealed = wdts_xstrdup(sealed);
    assert_int_equal(wdts_conn_open_secrets(back, key1, es, sizeof(es)), WDTS_ERR_TLS);
    /* A version this build does not know is refused. */
    json_object_set_new(doc2, "v", json_integer(3));
    wdts_conn_destroy(back);
    assert_int_equal(wdts_conn_from_json(doc2, &back, es, sizeof(es)), WDTS_ERR_JSON);
    json_decref(doc);
    json_decref(doc2);
    wdts_conn_destroy(conn);
}

static void test_sealing_is_bound_to_connection_and_key(void **state)
{
    (void)state;
    char es[256];
    struct wdts_conn *conn = sample(WDTS_API_APP_QIMEN);
    assert_int_equal(wdts_conn_seal(conn, key1, es, sizeof(es)), WDTS_OK);
    assert_int_equal(conn->version, 2);
    char *aad = wdts_conn_aad_v(conn, "appsecret", 1);
    assert_string_equal(aad, "acme/acme-wdt.1/appsecret"); /* the v1 form */
    free(aad);
    aad = wdts_conn_aad(conn, "appsecret");
    assert_non_null(strstr(aad, conn->gateway));
    assert_non_null(strstr(aad, conn->sid));
    free(aad);

    /* Another key: refused, and the message names the key mismatch. */
    assert_int_equal(wdts_conn_open_secrets(conn, key2, es, sizeof(es)), WDTS_ERR_TLS);
    assert_non_null(strstr(es, "appsecret"));
    assert_null(strstr(es, APPSECRET));

    /* The sealed value copied to another connection id does not open there. */
    struct wdts_conn *other = sample(WDTS_API_APP_QIMEN);
    free(other->id);
    other->id = wdts_xstrdup("acme-wdt.2");
    free(other->appsecret_sealed);
    other->appsecret_sealed = wdts_xstrdup(conn->appsecret_sealed);
    free(other->qimen_app_secret_sealed);
    other->qimen_app_secret_sealed = wdts_xstrdup(conn->qimen_app_secret_sealed);
    assert_int_equal(wdts_conn_open_secrets(other, key1, es, sizeof(es)), WDTS_ERR_TLS);

    /* Swapping the two fields of one connection does not open either. */
    char *tmp = conn->appsecret_sealed;
    conn->appsecret_sealed = conn->qimen_app_secret_sealed;
    conn->qimen_app_secret_sealed = tmp;
    assert_int_equal(wdts_conn_open_secrets(conn, key1, es, sizeof(es)), WDTS_ERR_TLS);

    /* Sealing twice gives different texts (fresh nonce), both open. */
    struct wdts_conn *a = sample(WDTS_API_APP_WDT);
    assert_int_equal(wdts_conn_seal(a, key1, es, sizeof(es)), WDTS_OK);
    char *first = wdts_xstrdup(a->appsecret_sealed);
    assert_int_equal(wdts_conn_seal(a, key1, es, sizeof(es)), WDTS_OK);
    assert_string_not_equal(first, a->appsecret_sealed);
    free(first);
    assert_int_equal(wdts_conn_open_secrets(a, key1, es, sizeof(es)), WDTS_OK);
    assert_string_equal(a->appsecret, APPSECRET);

    /* Nothing to seal. */
    struct wdts_conn *empty = wdts_conn_new();
    assert_int_equal(wdts_conn_seal(empty, key1, es, sizeof(es)), WDTS_ERR_INVAL);
    wdts_conn_destroy(empty);
    wdts_conn_destroy(a);
    wdts_conn_destroy(other);
    wdts_conn_destroy(conn);
}

/* Validates conn and checks that the problems mention want (or that there are none). */
static void expect_valid(const struct wdts_conn *conn, const struct wdts_catalog *cat,
                         const char *want)
{
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    wdts_err_t err = wdts_conn_validate(conn, cat, &errs);
    if (want == NULL && err != WDTS_OK)
        fail_msg("unexpected problems: %s", wdts_buf_str(&errs));
    if (want && (err != WDTS_ERR_INVAL || strstr(wdts_buf_str(&errs), want) == NULL))
        fail_msg("want a problem with '%s', got: %s", want, wdts_buf_str(&errs));
    assert_no_plain_secret(wdts_buf_str(&errs));
    wdts_buf_deinit(&errs);
}

static void test_validate(void **state)
{
    (void)state;
    char es[512];
    struct wdts_catalog *cat = wdts_catalog_new(NULL, es, sizeof(es));
    assert_non_null(cat);
    struct wdts_conn *conn = sample(WDTS_API_APP_WDT);
    expect_valid(conn, cat, NULL);

#define CASE(mutate, undo, want)                                                                   \
    do {                                                                                           \
        mutate;                                                                                    \
        expect_valid(conn, cat, want);                                                             \
        undo;                                                                                      \
        expect_valid(conn, cat, NULL);                                                             \
    } while (0)
    char *saved;
    CASE((saved = conn->id, conn->id = wdts_xstrdup("a:b")), (free(conn->id), conn->id = saved),
         "id:");
    CASE((saved = conn->tenant, conn->tenant = NULL), (conn->tenant = saved), "tenant:");
    CASE((saved = conn->sid, conn->sid = wdts_xstrdup("sel ler")), (free(conn->sid), conn->sid = saved),
         "sid:");
    CASE((saved = conn->appsecret, conn->appsecret = wdts_xstrdup("nocolon")),
         (free(conn->appsecret), conn->appsecret = saved), "secret:salt");
    CASE((saved = conn->appsecret, conn->appsecret = wdts_xstrdup("secret:")),
         (free(conn->appsecret), conn->appsecret = saved), "secret:salt");
    CASE((saved = conn->gateway, conn->gateway = wdts_xstrdup("ftp://x")),
         (free(conn->gateway), conn->gateway = saved), "gateway:");
    CASE((saved = conn->gateway, conn->gateway = wdts_xstrdup("http://")),
         (free(conn->gateway), conn->gateway = saved), "gateway:");
    CASE(conn->rate = 0, conn->rate = 1, "rate:");
    CASE(conn->rate = 1000, conn->rate = 1, "rate:");
    CASE(conn->burst = 0, conn->burst = 1, "burst:");
    CASE(conn->concurrency = 33, conn->concurrency = 1, "concurrency:");
    CASE(conn->backfill_s = -1, conn->backfill_s = 86400, "backfill:");
    /* a look-back for a report windowed by its change time is refused; the bounds */
    struct wdts_conn_report *tr = wdts_conn_report_get(conn, "trades");
    CASE((tr->has_lookback = 1, tr->lookback_s = 7 * 86400), tr->has_lookback = 0,
         "lookback: trades is windowed by its change time");
    CASE((tr->has_lookback = 1, tr->lookback_s = 90), tr->has_lookback = 0, "whole minutes");
    CASE((tr->has_lookback = 1, tr->lookback_s = 400 * 86400), tr->has_lookback = 0,
         "whole minutes");
    CASE(conn->archive_horizon_s = 3600, conn->archive_horizon_s = 86400, "archive horizon:");
    CASE(conn->archive_horizon_s = 86400 + 1, conn->archive_horizon_s = 86400,
         "archive horizon:");
    CASE(conn->archive_read = (enum wdts_conn_archive_read)7,
         conn->archive_read = WDTS_CONN_ARCHIVE_ALL, "archive read:");
    CASE(conn->qimen_platform = 1, conn->qimen_platform = 0, "need app qimen");
    CASE(wdts_conn_add_report(conn, "no_such_report"),
         (free(conn->reports[--conn->n_reports].name)), "no_such_report");
#undef CASE
    /* Several problems at once: every one is listed. */
    struct wdts_conn *bad = wdts_conn_new();
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    assert_int_equal(wdts_conn_validate(bad, cat, &errs), WDTS_ERR_INVAL);
    for (const char *const *w = (const char *const[]){"tenant:", "id:", "sid:", "appkey:",
                                                      "appsecret:", "gateway:", "reports:", NULL};
         *w; w++)
        assert_non_null(strstr(wdts_buf_str(&errs), *w));
    wdts_buf_deinit(&errs);
    wdts_conn_destroy(bad);

    /* Qimen: needs its own app or the platform's, not both, not neither. */
    struct wdts_conn *q = sample(WDTS_API_APP_QIMEN);
    expect_valid(q, cat, NULL);
    q->qimen_platform = 1;
    expect_valid(q, cat, "not both");
    free(q->qimen_app_key);
    q->qimen_app_key = NULL;
    wdts_crypto_free_secret(q->qimen_app_secret, strlen(q->qimen_app_secret));
    q->qimen_app_secret = NULL;
    expect_valid(q, cat, NULL);
    q->qimen_platform = 0;
    expect_valid(q, cat, "needs a Qimen app");
    wdts_conn_destroy(q);
    wdts_conn_destroy(conn);
    wdts_catalog_destroy(cat);
}

static void test_from_json_rejects(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"[]", "not an object"},
        {"{\"v\":3,\"tenant\":\"a\",\"id\":\"b\",\"app\":\"wdt\",\"sid\":\"s\",\"appkey\":\"k\","
         "\"gateway\":\"http://x\",\"reports\":[]}",
         "v must be 1"},
        {"{\"v\":1,\"tenant\":\"a\",\"id\":\"b\",\"app\":\"erp\",\"sid\":\"s\",\"appkey\":\"k\","
         "\"gateway\":\"http://x\",\"reports\":[]}",
         "app must be"},
        {"{\"v\":1,\"tenant\":\"a\",\"id\":\"b\",\"app\":\"wdt\",\"sid\":\"s\",\"appkey\":\"k\","
         "\"gateway\":\"http://x\",\"reports\":[],\"colour\":1}",
         "unknown member colour"},
        {"{\"v\":1,\"tenant\":\"a\",\"id\":\"b\",\"app\":\"wdt\",\"sid\":5,\"appkey\":\"k\","
         "\"gateway\":\"http://x\",\"reports\":[]}",
         "sid must be a string"},
        {"{\"v\":1,\"tenant\":\"a\",\"id\":\"b\",\"app\":\"wdt\",\"sid\":\"s\",\"appkey\":\"k\","
         "\"gateway\":\"http://x\",\"reports\":\"trades\"}",
         "reports must be"},
        {"{\"v\":1,\"tenant\":\"a\",\"id\":\"b\",\"app\":\"wdt\",\"sid\":\"s\",\"appkey\":\"k\","
         "\"gateway\":\"http://x\",\"reports\":[],\"pii\":\"mask\"}",
         "pii must be"},
        {"{\"v\":1,\"tenant\":\"a\",\"id\":\"b\",\"app\":\"wdt\",\"sid\":\"s\",\"appkey\":\"k\","
         "\"gateway\":\"http://x\",\"reports\":[],\"archive_read\":\"some\"}",
         "archive_read must be"},
        {"{\"v\":1,\"tenant\":\"a\",\"id\":\"b\",\"app\":\"wdt\",\"sid\":\"s\",\"appkey\":\"k\","
         "\"gateway\":\"http://x\",\"reports\":[\"trades\"],\"report_state\":{\"goods\":"
         "{\"state\":\"blocked\"}}}",
         "report_state must be"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char es[256] = "";
        struct wdts_conn *conn = (struct wdts_conn *)1;
        json_t *j = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        assert_int_equal(wdts_conn_from_json(j, &conn, es, sizeof(es)), WDTS_ERR_JSON);
        assert_null(conn);
        if (strstr(es, cases[i].want) == NULL)
            fail_msg("case %zu: want '%s' in '%s'", i, cases[i].want, es);
        json_decref(j);
    }
}

static void test_probe_what_names_each_refusal(void **state)
{
    (void)state;
    static const struct {
        enum wdts_api_app app;
        enum wdts_api_class cls;
        long long status;
        const char *msg, *want;
    } cases[] = {
        {WDTS_API_APP_WDT, WDTS_API_AUTH, 1, "验证失败", "wrong appkey or appsecret"},
        {WDTS_API_APP_WDT, WDTS_API_AUTH, 1, "sid is not exists", "unknown sid or wrong gateway"},
        {WDTS_API_APP_WDT, WDTS_API_AUTH, 1, "app auth fail", "not online"},
        {WDTS_API_APP_QIMEN, WDTS_API_AUTH, 1, "app auth fail", "Qimen app not authorised"},
        {WDTS_API_APP_WDT, WDTS_API_AUTH, 6, "ip限制", "IP not on the whitelist"},
        {WDTS_API_APP_WDT, WDTS_API_AUTH, 3, "需要动态口令", "dynamic password"},
        {WDTS_API_APP_WDT, WDTS_API_CLOCK, 7, "时间戳错误", "clock skew"},
        {WDTS_API_APP_QIMEN, WDTS_API_AUTH, 25, "Invalid Signature", "Qimen app_secret"},
        {WDTS_API_APP_WDT, WDTS_API_TRANSIENT, 0, NULL, "unreachable"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wdts_api_result res;
        wdts_api_result_init(&res);
        res.cls = cases[i].cls;
        res.has_status = cases[i].status != 0;
        res.status = cases[i].status;
        res.api_message = cases[i].msg ? wdts_xstrdup(cases[i].msg) : NULL;
        const char *what = wdts_conn_probe_what(cases[i].app, &res);
        if (strstr(what, cases[i].want) == NULL)
            fail_msg("case %zu: want '%s' in '%s'", i, cases[i].want, what);
        wdts_api_result_deinit(&res);
    }
}

static void test_creds_from_connection(void **state)
{
    (void)state;
    char es[512];
    struct wdts_api_creds creds;
    struct wdts_conn *conn = sample(WDTS_API_APP_WDT);
    assert_int_equal(wdts_conn_creds(conn, NULL, NULL, &creds, es, sizeof(es)), WDTS_OK);
    assert_string_equal(creds.secret, "0123456789abcdef0123456789abcdef");
    assert_string_equal(creds.salt, "salt-4711");
    assert_null(creds.qimen_app_key);
    wdts_api_creds_deinit(&creds);

    struct wdts_conn *q = sample(WDTS_API_APP_QIMEN);
    assert_int_equal(wdts_conn_creds(q, "platform-key", "platform-secret", &creds, es, sizeof(es)),
                     WDTS_OK);
    assert_string_equal(creds.qimen_app_key, "qm-app"); /* its own app wins */
    wdts_api_creds_deinit(&creds);
    q->qimen_platform = 1;
    assert_int_equal(wdts_conn_creds(q, "platform-key", "platform-secret", &creds, es, sizeof(es)),
                     WDTS_OK);
    assert_string_equal(creds.qimen_app_key, "platform-key");
    wdts_api_creds_deinit(&creds);
    assert_int_equal(wdts_conn_creds(q, NULL, NULL, &creds, es, sizeof(es)), WDTS_ERR_CONFIG);
    assert_non_null(strstr(es, "WDT_QIMEN_APP_KEY"));
    wdts_api_creds_deinit(&creds);
    wdts_conn_destroy(q);
    wdts_conn_destroy(conn);
}

/* add's check marks a new connection in memory: refused reports blocked, refused history
 * methods history_blocked, each with its words and time; the others untouched. */
static void test_probe_apply_marks_refusals(void **state)
{
    (void)state;
    struct wdts_conn *conn = wdts_conn_new();
    wdts_conn_add_report(conn, "trades");
    wdts_conn_add_report(conn, "refunds");
    wdts_conn_add_report(conn, "stock");
    struct wdts_conn_probe_row rows[4];
    memset(rows, 0, sizeof(rows));
    rows[0] = (struct wdts_conn_probe_row){.report = "trades",
                                           .cls = WDTS_API_OK,
                                           .history_method = "h",
                                           .history_cls = WDTS_API_PERMISSION,
                                           .history_reason = "权限不足",
                                           .history_fix = "approve"};
    rows[1] = (struct wdts_conn_probe_row){.report = "refunds", .cls = WDTS_API_PERMISSION,
                                           .reason = "权限不足", .fix = "approve it"};
    rows[2] = (struct wdts_conn_probe_row){.report = "stock", .cls = WDTS_API_BAD_REQUEST,
                                           .fix = "bad"};
    rows[3] = (struct wdts_conn_probe_row){.report = "not-enabled", .cls = WDTS_API_PERMISSION};
    struct wdts_conn_probe probe = {.cls = WDTS_API_OK, .rows = rows, .n_rows = 4};
    struct wdts_conn_probe_counts n;
    wdts_conn_probe_apply(conn, &probe, 1700000000, &n);
    assert_int_equal(n.ok, 1);
    assert_int_equal(n.blocked, 2);
    assert_int_equal(n.history_refused, 1);
    const struct wdts_conn_report *t = wdts_conn_report_get(conn, "trades");
    assert_false(t->blocked);
    assert_true(t->history_blocked);
    assert_string_equal(t->history_fix, "approve");
    assert_int_equal(t->history_since, 1700000000);
    const struct wdts_conn_report *r = wdts_conn_report_get(conn, "refunds");
    assert_true(r->blocked);
    assert_string_equal(r->reason, "权限不足");
    assert_string_equal(r->fix, "approve it");
    assert_int_equal(r->since, 1700000000);
    assert_false(wdts_conn_report_get(conn, "stock")->blocked);
    wdts_conn_destroy(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_round_trip_full),
        cmocka_unit_test(test_stored_and_public_forms),
        cmocka_unit_test(test_sealing_is_bound_to_connection_and_key),
        cmocka_unit_test(test_sealing_binds_the_destination),
        cmocka_unit_test(test_v1_document_opens_and_reseals_as_v2),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_from_json_rejects),
        cmocka_unit_test(test_probe_what_names_each_refusal),
        cmocka_unit_test(test_creds_from_connection),
        cmocka_unit_test(test_probe_apply_marks_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
