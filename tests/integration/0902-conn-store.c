/* The connection store's API against the real Redis, as the worker and scheduler will use
 * it: save refuses unsealed secrets and existing ids (unless replacing), load gives back
 * the connection with its state, list is sorted, the markers keep the time a condition was
 * first seen and refuse unknown connections, a damaged document is reported as such, and
 * remove deletes exactly the connection's keys. */
#include "wdts_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/conn.h"
#include "wdts/crypto.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/watermark.h"

#define APPSECRET "77777777777777777777777777777777:salt-x"

static struct wdts_redis *redis;
static char prefix[80];
static unsigned char key[WDTS_CRYPTO_KEY_LEN];

static int setup(void **state)
{
    (void)state;
    char es[256];
    const char *url = wdts_test_require_env("WDT_TEST_REDIS_URL");
    snprintf(prefix, sizeof(prefix), "%sstore:", wdts_test_prefix());
    struct wdts_redis_params params;
    wdts_redis_params_init(&params);
    if (wdts_redis_params_from_url(&params, url, es, sizeof(es)) != WDTS_OK ||
        (redis = wdts_redis_new(&params, es, sizeof(es))) == NULL)
        return -1;
    return wdts_crypto_random(key, sizeof(key)) == WDTS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    wdts_redis_destroy(redis);
    return 0;
}

static struct wdts_conn *make(const char *id)
{
    struct wdts_conn *conn = wdts_conn_new();
    conn->tenant = wdts_xstrdup("t1");
    conn->id = wdts_xstrdup(id);
    conn->sid = wdts_xstrdup("s1");
    conn->appkey = wdts_xstrdup("k1");
    conn->appsecret = wdts_xstrdup(APPSECRET);
    conn->gateway = wdts_xstrdup("http://127.0.0.1:9/openapi");
    wdts_conn_add_report(conn, "trades");
    wdts_conn_add_report(conn, "refunds");
    conn->created_at = conn->updated_at = 1700000000;
    return conn;
}

static void test_save_load_list(void **state)
{
    (void)state;
    char es[512];
    struct wdts_conn *b = make("b-conn"), *a = make("a-conn"), *back = NULL;
    assert_int_equal(wdts_conn_save(redis, prefix, b, 0, es, sizeof(es)), WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "not sealed"));
    assert_int_equal(wdts_conn_seal(b, key, es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_conn_seal(a, key, es, sizeof(es)), WDTS_OK);
    wdts_conn_report_get(b, "refunds")->blocked = 1;
    wdts_conn_report_get(b, "refunds")->reason = wdts_xstrdup("权限不足");
    wdts_conn_report_get(b, "refunds")->since = 1700000001;
    assert_int_equal(wdts_conn_save(redis, prefix, b, 0, es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_conn_save(redis, prefix, a, 0, es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_conn_save(redis, prefix, a, 0, es, sizeof(es)), WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "already exists"));

    assert_int_equal(wdts_conn_load(redis, prefix, "b-conn", &back, es, sizeof(es)), WDTS_OK);
    assert_string_equal(back->appsecret_sealed, b->appsecret_sealed);
    assert_true(wdts_conn_report_get(back, "refunds")->blocked);
    assert_string_equal(wdts_conn_report_get(back, "refunds")->reason, "权限不足");
    assert_int_equal(wdts_conn_report_get(back, "refunds")->since, 1700000001);
    assert_false(wdts_conn_report_get(back, "trades")->blocked);
    assert_int_equal(wdts_conn_open_secrets(back, key, es, sizeof(es)), WDTS_OK);
    assert_string_equal(back->appsecret, APPSECRET);
    wdts_conn_destroy(back);

    /* Replacing rewrites the document and the state (refunds ok again). */
    wdts_conn_report_get(b, "refunds")->blocked = 0;
    assert_int_equal(wdts_conn_save(redis, prefix, b, 1, es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_conn_load(redis, prefix, "b-conn", &back, es, sizeof(es)), WDTS_OK);
    assert_false(wdts_conn_report_get(back, "refunds")->blocked);
    wdts_conn_destroy(back);

    char **ids = NULL;
    size_t n = 0;
    assert_int_equal(wdts_conn_list(redis, prefix, &ids, &n, es, sizeof(es)), WDTS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], "a-conn");
    assert_string_equal(ids[1], "b-conn");
    wdts_conn_ids_free(ids, n);

    back = (struct wdts_conn *)1;
    assert_int_equal(wdts_conn_load(redis, prefix, "zz", &back, es, sizeof(es)),
                     WDTS_ERR_NOTFOUND);
    assert_null(back);
    wdts_conn_destroy(a);
    wdts_conn_destroy(b);
}

static void test_markers_keep_first_seen(void **state)
{
    (void)state;
    char es[512];
    struct wdts_conn *back = NULL;
    assert_int_equal(wdts_conn_mark_report(redis, prefix, "a-conn", "trades", "权限不足", "fix it",
                                           1000, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_conn_mark_report(redis, prefix, "a-conn", "trades", "接口权限不足",
                                           "fix it again", 2000, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_conn_mark_auth(redis, prefix, "a-conn", "验证失败: copy again", 3000, es,
                                         sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_conn_mark_auth(redis, prefix, "a-conn", "验证失败: still", 4000, es,
                                         sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_conn_mark_checked(redis, prefix, "a-conn", 5000, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_conn_load(redis, prefix, "a-conn", &back, es, sizeof(es)), WDTS_OK);
    struct wdts_conn_report *r = wdts_conn_report_get(back, "trades");
    assert_true(r->blocked);
    assert_string_equal(r->reason, "接口权限不足"); /* the latest words */
    assert_string_equal(r->fix, "fix it again");
    assert_int_equal(r->since, 1000); /* the first time seen */
    assert_true(back->auth_failed);
    assert_string_equal(back->auth_message, "验证失败: still");
    assert_int_equal(back->auth_since, 3000);
    assert_int_equal(back->checked_at, 5000);
    wdts_conn_destroy(back);

    assert_int_equal(wdts_conn_mark_report(redis, prefix, "a-conn", "trades", NULL, NULL, 6000, es,
                                           sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_conn_mark_auth(redis, prefix, "a-conn", NULL, 6000, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_conn_load(redis, prefix, "a-conn", &back, es, sizeof(es)), WDTS_OK);
    assert_false(wdts_conn_report_get(back, "trades")->blocked);
    assert_false(back->auth_failed);
    wdts_conn_destroy(back);

    /* A marker never creates state for a connection that does not exist. */
    assert_int_equal(wdts_conn_mark_auth(redis, prefix, "ghost", "x", 1, es, sizeof(es)),
                     WDTS_ERR_NOTFOUND);
    assert_int_equal(wdts_conn_mark_report(redis, prefix, "ghost", "trades", "x", "y", 1, es,
                                           sizeof(es)),
                     WDTS_ERR_NOTFOUND);
    struct wdts_buf k;
    wdts_buf_init(&k);
    long long v = 1;
    const char *ex[] = {"EXISTS", wdts_redis_key(&k, prefix, "connstate", "ghost", NULL)};
    assert_int_equal(wdts_redis_command_int(redis, 2, ex, NULL, &v), WDTS_OK);
    assert_int_equal(v, 0);
    wdts_buf_deinit(&k);
}

static void test_damaged_document(void **state)
{
    (void)state;
    char es[512];
    struct wdts_buf k;
    struct wdts_conn *back = NULL;
    wdts_buf_init(&k);
    const char *set[] = {"SET", wdts_redis_key(&k, prefix, "conn", "broken", NULL), "{not json"};
    assert_int_equal(wdts_redis_command(redis, 3, set, NULL, NULL), WDTS_OK);
    assert_int_equal(wdts_conn_load(redis, prefix, "broken", &back, es, sizeof(es)), WDTS_ERR_JSON);
    assert_non_null(strstr(es, "remove it and add it again"));
    const char *set2[] = {"SET", wdts_buf_str(&k), "{\"v\":1,\"tenant\":\"t\"}"};
    assert_int_equal(wdts_redis_command(redis, 3, set2, NULL, NULL), WDTS_OK);
    assert_int_equal(wdts_conn_load(redis, prefix, "broken", &back, es, sizeof(es)), WDTS_ERR_JSON);
    assert_non_null(strstr(es, "id must be"));
    assert_null(back);
    long long n = 0;
    assert_int_equal(wdts_conn_remove(redis, prefix, "broken", &n, es, sizeof(es)), WDTS_OK);
    assert_int_equal(n, 1);
    wdts_buf_deinit(&k);
}

static void test_remove_exactly_its_keys(void **state)
{
    (void)state;
    char es[512];
    struct wdts_buf a, b, c, d, e, f, g;
    wdts_buf_init(&a);
    wdts_buf_init(&b);
    wdts_buf_init(&c);
    wdts_buf_init(&d);
    wdts_buf_init(&e);
    wdts_buf_init(&f);
    wdts_buf_init(&g);
    const char *k1 = wdts_redis_key(&a, prefix, "wm", "a-conn", "trades", NULL);
    const char *k2 = wdts_redis_key(&b, prefix, "plan", "a-conn", NULL);
    const char *k3 = wdts_redis_key(&c, prefix, "wm", "a-conn-2", "trades", NULL);
    const char *k4 = wdts_redis_key(&d, prefix, "wm", "b-conn", "a-conn", NULL);
    /* The scripts' keys are hash-tagged on connection and report: {a-conn:trades}. */
    const struct wdts_wm_id mine = {"a-conn", "trades"}, other = {"a-conn-2", "trades"};
    const char *k5 = wdts_wm_key(&e, prefix, &mine, WDTS_WM_KEY_STATE);
    const char *k6 = wdts_wm_key(&f, prefix, &mine, WDTS_WM_KEY_DONE);
    const char *k7 = wdts_wm_key(&g, prefix, &other, WDTS_WM_KEY_STATE);
    const char *const keys[] = {k1, k2, k3, k4, k5, k6, k7};
    for (size_t i = 0; i < 7; i++) {
        const char *s[] = {"SET", keys[i], "1"};
        assert_int_equal(wdts_redis_command(redis, 3, s, NULL, NULL), WDTS_OK);
    }
    long long n = 0;
    assert_int_equal(wdts_conn_remove(redis, prefix, "a-conn", &n, es, sizeof(es)), WDTS_OK);
    assert_int_equal(n, 6); /* document, state, wm, plan, the watermark's two script keys */
    long long left = 0;
    const char *ex[] = {"EXISTS", k1, k2, k3, k4, k5, k6, k7};
    assert_int_equal(wdts_redis_command_int(redis, 8, ex, NULL, &left), WDTS_OK);
    assert_int_equal(left, 3); /* another connection's keys stay */
    assert_int_equal(wdts_conn_remove(redis, prefix, "a-conn", &n, es, sizeof(es)),
                     WDTS_ERR_NOTFOUND);
    assert_int_equal(wdts_conn_remove(redis, prefix, "b-conn", &n, es, sizeof(es)), WDTS_OK);
    const char *del[] = {"DEL", k3, k4, k7};
    assert_int_equal(wdts_redis_command(redis, 4, del, NULL, NULL), WDTS_OK);
    char **ids = NULL;
    size_t cnt = 9;
    assert_int_equal(wdts_conn_list(redis, prefix, &ids, &cnt, es, sizeof(es)), WDTS_OK);
    assert_int_equal(cnt, 0);
    wdts_conn_ids_free(ids, cnt);
    wdts_buf_deinit(&e);
    wdts_buf_deinit(&f);
    wdts_buf_deinit(&g);
    wdts_buf_deinit(&a);
    wdts_buf_deinit(&b);
    wdts_buf_deinit(&c);
    wdts_buf_deinit(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_load_list),
        cmocka_unit_test(test_markers_keep_first_seen),
        cmocka_unit_test(test_damaged_document),
        cmocka_unit_test(test_remove_exactly_its_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
