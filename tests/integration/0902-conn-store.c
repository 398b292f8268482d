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
#include "wdts/lua.h"
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
    assert_int_equal(wdts_conn_remove(redis, prefix, "broken", NULL, 0, &n, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(n, 1);
    wdts_buf_deinit(&k);
}

static char *get_doc(const char *id)
{
    struct wdts_buf k;
    char *json = NULL;
    wdts_buf_init(&k);
    const char *get[] = {"GET", wdts_redis_key(&k, prefix, "conn", id, NULL)};
    assert_int_equal(wdts_redis_command_str(redis, 2, get, NULL, &json, NULL), WDTS_OK);
    wdts_buf_deinit(&k);
    assert_non_null(json);
    return json;
}

static void put_doc(const char *id, const char *json)
{
    struct wdts_buf k;
    wdts_buf_init(&k);
    const char *set[] = {"SET", wdts_redis_key(&k, prefix, "conn", id, NULL), json};
    assert_int_equal(wdts_redis_command(redis, 3, set, NULL, NULL), WDTS_OK);
    wdts_buf_deinit(&k);
}

/* L1: a v1 document (sealed with tenant/id/field only, as stored before) loads, opens and
 * is rewritten as v2 by wdts_conn_upgrade() (what `wdtctl connection check` runs); a
 * document whose gateway was changed in Redis, or that was copied under another id, no
 * longer opens or loads, with an error that says so. */
static void test_v1_upgrade_and_tampering(void **state)
{
    (void)state;
    char es[512];
    struct wdts_conn *c = make("old-conn"), *back = NULL;
    char *aad = wdts_conn_aad_v(c, "appsecret", 1);
    assert_int_equal(wdts_crypto_seal(key, APPSECRET, strlen(APPSECRET), aad,
                                      &c->appsecret_sealed, es, sizeof(es)),
                     WDTS_OK);
    free(aad);
    c->version = 1;
    assert_int_equal(wdts_conn_save(redis, prefix, c, 0, es, sizeof(es)), WDTS_OK);
    char *doc = get_doc("old-conn");
    assert_non_null(strstr(doc, "\"v\":1"));
    free(doc);

    assert_int_equal(wdts_conn_load(redis, prefix, "old-conn", &back, es, sizeof(es)), WDTS_OK);
    assert_int_equal(back->version, 1);
    assert_int_equal(wdts_conn_open_secrets(back, key, es, sizeof(es)), WDTS_OK);
    int upgraded = 0;
    assert_int_equal(wdts_conn_upgrade(redis, prefix, back, key, &upgraded, es, sizeof(es)),
                     WDTS_OK);
    assert_true(upgraded);
    assert_int_equal(wdts_conn_upgrade(redis, prefix, back, key, &upgraded, es, sizeof(es)),
                     WDTS_OK);
    assert_false(upgraded); /* already v2 */
    wdts_conn_destroy(back);
    doc = get_doc("old-conn");
    assert_non_null(strstr(doc, "\"v\":2"));
    assert_int_equal(wdts_conn_load(redis, prefix, "old-conn", &back, es, sizeof(es)), WDTS_OK);
    assert_int_equal(back->version, 2);
    assert_int_equal(wdts_conn_open_secrets(back, key, es, sizeof(es)), WDTS_OK);
    assert_string_equal(back->appsecret, APPSECRET);
    wdts_conn_destroy(back);

    /* The gateway changed in Redis: loads, but the secrets do not open. */
    json_t *j = json_loads(doc, 0, NULL);
    json_object_set_new(j, "gateway", json_string("http://127.0.0.2:9/openapi"));
    char *edited = json_dumps(j, JSON_COMPACT);
    put_doc("old-conn", edited);
    assert_int_equal(wdts_conn_load(redis, prefix, "old-conn", &back, es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_conn_open_secrets(back, key, es, sizeof(es)), WDTS_ERR_TLS);
    assert_non_null(strstr(es, "gateway"));
    assert_non_null(strstr(es, "changed in Redis"));
    wdts_conn_destroy(back);
    free(edited);
    json_decref(j);

    /* The (good) document copied under another id: refused at load. */
    put_doc("copy-conn", doc);
    back = (struct wdts_conn *)1;
    assert_int_equal(wdts_conn_load(redis, prefix, "copy-conn", &back, es, sizeof(es)),
                     WDTS_ERR_JSON);
    assert_null(back);
    assert_non_null(strstr(es, "says it is connection old-conn"));
    long long n = 0;
    assert_int_equal(wdts_conn_remove(redis, prefix, "copy-conn", NULL, 0, &n, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_conn_remove(redis, prefix, "old-conn", NULL, 0, &n, es, sizeof(es)),
                     WDTS_OK);
    free(doc);
    wdts_conn_destroy(c);
}

/* Stores a sealed connection id under pfx. */
static void store(const char *pfx, const char *id)
{
    char es[512];
    struct wdts_conn *c = make(id);
    assert_int_equal(wdts_conn_seal(c, key, es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_conn_save(redis, pfx, c, 1, es, sizeof(es)), WDTS_OK);
    wdts_conn_destroy(c);
}

/* Every key a connection owns under pfx for one report (the layout of wdts/conn.h), plus
 * one window lock. Appends to keys. */
static void own_keys(struct wdts_buf *b, const char *pfx, const char *id, const char *report,
                     char **keys, size_t *n)
{
    static const char *const kinds[] = {"plan", "out", "outmeta", "stat"};
    for (size_t i = 0; i < 4; i++)
        keys[(*n)++] = wdts_xstrdup(wdts_redis_key(b, pfx, kinds[i], id, report, NULL));
    const struct wdts_wm_id wm = {id, report};
    for (int k = WDTS_WM_KEY_STATE; k <= WDTS_WM_KEY_FIDX; k++)
        keys[(*n)++] = wdts_xstrdup(wdts_wm_key(b, pfx, &wm, (enum wdts_wm_key_kind)k));
    keys[(*n)++] = wdts_xstrdup(wdts_wm_lock_key(b, pfx, &wm, 1700000000, 1700003540));
}

static long long count_existing(char **keys, size_t n)
{
    long long have = 0, v = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ex[] = {"EXISTS", keys[i]};
        assert_int_equal(wdts_redis_command_int(redis, 2, ex, NULL, &v), WDTS_OK);
        have += v;
    }
    return have;
}

static void set_all(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *s[] = {"SET", keys[i], "1"};
        assert_int_equal(wdts_redis_command(redis, 3, s, NULL, NULL), WDTS_OK);
    }
}

/* M4: remove deletes exactly the keys the connection owns. Before, it deleted every
 * <prefix><kind>:<id>… it found, so `remove --id scheduler` took the scheduler's lease and
 * epoch, and an id could match keys of another deployment's prefix. */
static void test_remove_exactly_its_keys(void **state)
{
    (void)state;
    char es[512], other_pfx[96];
    char *mine[64], *others[64];
    size_t n_mine = 0, n_others = 0;
    struct wdts_buf b;
    wdts_buf_init(&b);
    /* "<test>store:" and "<test>storex:", as "wdt:" and "wdtx:" */
    snprintf(other_pfx, sizeof(other_pfx), "%.*sx:", (int)strlen(prefix) - 1, prefix);

    store(prefix, "a-conn");
    store(prefix, "a-conn-2");
    store(prefix, "scheduler");
    store(other_pfx, "a-conn");
    /* a-conn's enabled reports (trades, refunds) and one disabled since (orders). */
    own_keys(&b, prefix, "a-conn", "trades", mine, &n_mine);
    own_keys(&b, prefix, "a-conn", "refunds", mine, &n_mine);
    own_keys(&b, prefix, "a-conn", "orders", mine, &n_mine);
    /* Others: a connection whose id starts the same, the same id under another prefix,
     * another connection with a report named like the id, and the scheduler's lease. */
    own_keys(&b, prefix, "a-conn-2", "trades", others, &n_others);
    own_keys(&b, other_pfx, "a-conn", "trades", others, &n_others);
    own_keys(&b, prefix, "scheduler", "a-conn", others, &n_others);
    const char *lease[1] = {"scheduler"};
    others[n_others++] = wdts_xstrdup(wdts_lua_key(&b, prefix, "lease", lease, 1, ""));
    others[n_others++] = wdts_xstrdup(wdts_lua_key(&b, prefix, "lease", lease, 1, ":epoch"));
    others[n_others++] = wdts_xstrdup(wdts_redis_key(&b, prefix, "connstate", "a-conn-2", NULL));
    set_all(mine, n_mine);
    set_all(others, n_others);

    long long n = 0;
    const char *catalog[] = {"trades", "orders"};
    assert_int_equal(wdts_conn_remove(redis, prefix, "a-conn", catalog, 2, &n, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(n, (long long)n_mine + 1); /* + the document (no state was written) */
    assert_int_equal(count_existing(mine, n_mine), 0);
    assert_int_equal(count_existing(others, n_others), (long long)n_others);
    assert_int_equal(wdts_conn_remove(redis, prefix, "a-conn", NULL, 0, &n, es, sizeof(es)),
                     WDTS_ERR_NOTFOUND);

    /* A connection called "scheduler" goes without the scheduler's lease and epoch. */
    const char *its[] = {"a-conn"};
    assert_int_equal(wdts_conn_remove(redis, prefix, "scheduler", its, 1, &n, es, sizeof(es)),
                     WDTS_OK);
    long long lease_left = 0;
    const char *ex[] = {"EXISTS", others[n_others - 3], others[n_others - 2]};
    assert_int_equal(wdts_redis_command_int(redis, 3, ex, NULL, &lease_left), WDTS_OK);
    assert_int_equal(lease_left, 2);
    /* An id add would refuse (a pattern, a key separator) is refused. */
    assert_int_equal(wdts_conn_remove(redis, prefix, "*", NULL, 0, &n, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_int_equal(wdts_conn_remove(redis, prefix, "a:b", NULL, 0, &n, es, sizeof(es)),
                     WDTS_ERR_INVAL);

    assert_int_equal(wdts_conn_remove(redis, prefix, "a-conn-2", NULL, 0, &n, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_conn_remove(redis, other_pfx, "a-conn", NULL, 0, &n, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_conn_remove(redis, prefix, "b-conn", NULL, 0, &n, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(count_existing(others, n_others), 2); /* only the lease's keys remain */
    const char *del[] = {"DEL", others[n_others - 3], others[n_others - 2]};
    assert_int_equal(wdts_redis_command(redis, 3, del, NULL, NULL), WDTS_OK);
    char **ids = NULL;
    size_t cnt = 9;
    assert_int_equal(wdts_conn_list(redis, prefix, &ids, &cnt, es, sizeof(es)), WDTS_OK);
    assert_int_equal(cnt, 0);
    wdts_conn_ids_free(ids, cnt);
    for (size_t i = 0; i < n_mine; i++)
        free(mine[i]);
    for (size_t i = 0; i < n_others; i++)
        free(others[i]);
    wdts_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_load_list),
        cmocka_unit_test(test_markers_keep_first_seen),
        cmocka_unit_test(test_damaged_document),
        cmocka_unit_test(test_v1_upgrade_and_tampering),
        cmocka_unit_test(test_remove_exactly_its_keys),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
