/* The parts of the Redis coordination modules that need no server: the embedded
 * scripts, hash-tagged keys, the call struct, and each module's pure key/argument
 * builders and reply parsers. Replies are made by hiredis's own protocol reader from
 * RESP text, exactly as a client (blocking or not) would receive them. */
#include "wdts_test.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "wdts/lease.h"
#include "wdts/limit.h"
#include "wdts/lock.h"
#include "wdts/lua.h"
#include "wdts/redis.h"
#include "wdts/watermark.h"

static char es[512];

/* A reply parsed from RESP text. struct wdts_redis_reply is hiredis's reply (redis.c). */
static struct wdts_redis_reply *resp(const char *text)
{
    redisReader *rd = redisReaderCreate();
    void *r = NULL;
    assert_int_equal(redisReaderFeed(rd, text, strlen(text)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(rd, &r), REDIS_OK);
    assert_non_null(r);
    redisReaderFree(rd);
    return (struct wdts_redis_reply *)r;
}

static void test_embedded_scripts(void **state)
{
    (void)state;
    static const char *const names[WDTS_LUA__COUNT] = {
        "limit_try_start", "limit_finish", "lock_acquire", "lock_renew",
        "lock_release",    "wm_init",      "wm_get",       "wm_complete",
        "wm_reset",        "lease_acquire", "lease_renew", "lease_release",
    };
    for (int i = 0; i < WDTS_LUA__COUNT; i++) {
        const struct wdts_redis_script *s = wdts_lua_script((enum wdts_lua_id)i);
        assert_non_null(s);
        assert_string_equal(s->name, names[i]);
        assert_int_equal(strlen(s->sha), 40);
        /* each file opens with its documentation: name, keys, return value, cost */
        char head[64];
        snprintf(head, sizeof(head), "-- %s: ", names[i]);
        assert_true(strncmp(s->src, head, strlen(head)) == 0);
        assert_non_null(strstr(s->src, "KEYS[1]"));
        assert_non_null(strstr(s->src, "Returns"));
        assert_non_null(strstr(s->src, "Complexity"));
        assert_true(s == wdts_lua_script((enum wdts_lua_id)i)); /* created once */
    }
    /* the embedded bytes are the files' bytes */
    char path[512];
    snprintf(path, sizeof(path), "%s/common/redis/lua/wm_complete.lua", WDTS_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char file[65536];
    size_t n = fread(file, 1, sizeof(file) - 1, f);
    fclose(f);
    file[n] = '\0';
    assert_string_equal(wdts_lua_script(WDTS_LUA_WM_COMPLETE)->src, file);
}

static void test_keys(void **state)
{
    (void)state;
    struct wdts_buf b;
    wdts_buf_init(&b);
    const char *p2[2] = {"a:b", "c{d}%"};
    assert_string_equal(wdts_lua_key(&b, "x:", "wm", p2, 2, ":done"),
                        "x:wm:{a%3Ab:c%7Bd%7D%25}:done");
    const char *p1[1] = {"scheduler"};
    assert_string_equal(wdts_lua_key(&b, NULL, "lease", p1, 1, ""), "wdt:lease:{scheduler}");
    /* different part lists never give the same key */
    const char *q1[2] = {"a", "b:c"}, *q2[2] = {"a:b", "c"};
    char k1[128];
    wdts_strlcpy(k1, wdts_lua_key(&b, "", "n", q1, 2, ""), sizeof(k1));
    assert_string_not_equal(k1, wdts_lua_key(&b, "", "n", q2, 2, ""));

    struct wdts_limit_id id = {"wdt", "sid1", "key1"};
    assert_string_equal(wdts_limit_key(&b, "p:", &id, WDTS_LIMIT_KEY_SEM),
                        "p:rl:{wdt:sid1:key1}:sem");
    struct wdts_wm_id wid = {"conn-1", "trades"};
    assert_string_equal(wdts_wm_key(&b, "p:", &wid, WDTS_WM_KEY_STATE), "p:wm:{conn-1:trades}");
    assert_string_equal(wdts_wm_key(&b, "p:", &wid, WDTS_WM_KEY_FIDX),
                        "p:wm:{conn-1:trades}:fidx");
    assert_string_equal(wdts_wm_lock_key(&b, "p:", &wid, 100, 160),
                        "p:wm:{conn-1:trades}:lock:100:160");
    wdts_buf_deinit(&b);
}

static void test_call_struct(void **state)
{
    (void)state;
    struct wdts_lua_call call;
    char big[300];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    wdts_lua_call_init(&call, WDTS_LUA_WM_GET);
    assert_ptr_equal(call.script, wdts_lua_script(WDTS_LUA_WM_GET));
    /* items stay readable while the store grows and moves */
    for (int i = 0; i < WDTS_LUA_MAX_KEYS; i++)
        wdts_lua_call_key(&call, big);
    for (int i = 0; i < WDTS_LUA_MAX_ARGS; i++)
        wdts_lua_call_arg_ll(&call, -1234567890123LL + i);
    assert_int_equal(call.nkeys, WDTS_LUA_MAX_KEYS);
    assert_int_equal(call.nargs, WDTS_LUA_MAX_ARGS);
    for (int i = 0; i < WDTS_LUA_MAX_KEYS; i++)
        assert_string_equal(call.keys[i], big);
    assert_string_equal(call.args[0], "-1234567890123");
    assert_string_equal(call.args[7], "-1234567890116");
    wdts_lua_call_deinit(&call);
    wdts_lua_call_deinit(NULL);
}

static void test_limit_build(void **state)
{
    (void)state;
    struct wdts_limit_cfg cfg;
    struct wdts_limit_id id = {"wdt", "sid1", "key1"};
    struct wdts_lua_call call;
    wdts_limit_cfg_init(&cfg);
    assert_int_equal(wdts_limit_cfg_check(&cfg, es, sizeof(es)), WDTS_OK);
    cfg.rate = 3;
    cfg.burst = 2;
    cfg.slots = 4;
    assert_int_equal(wdts_limit_try_start_build(&call, "p:", &id, &cfg, "tok", es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(call.nkeys, 3);
    assert_string_equal(call.keys[0], "p:rl:{wdt:sid1:key1}:gcra");
    assert_string_equal(call.keys[1], "p:rl:{wdt:sid1:key1}:sem");
    assert_string_equal(call.keys[2], "p:rl:{wdt:sid1:key1}:cd");
    assert_int_equal(call.nargs, 6);
    assert_string_equal(call.args[0], "333334"); /* 1e6 / 3 rounded up: never faster */
    assert_string_equal(call.args[1], "2");
    assert_string_equal(call.args[2], "4");
    assert_string_equal(call.args[4], "tok");
    wdts_lua_call_deinit(&call);
    assert_int_equal(wdts_limit_interval_us(0.5), 2000000);
    assert_int_equal(wdts_limit_interval_us(1e6), 1);

    assert_int_equal(wdts_limit_finish_build(&call, "p:", &id, &cfg, "tok", 42,
                                             WDTS_LIMIT_OUTCOME_LIMITED, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(call.nkeys, 2);
    assert_string_equal(call.keys[0], "p:rl:{wdt:sid1:key1}:sem");
    assert_string_equal(call.args[1], "42");
    assert_string_equal(call.args[2], "limited");
    assert_string_equal(call.args[3], "30000");
    assert_string_equal(call.args[4], "600000");
    wdts_lua_call_deinit(&call);

    /* every bad input is an error that names the field */
    const double bad_rates[] = {0, -1, 2e6, 0.0 / 0.0};
    for (size_t i = 0; i < 4; i++) {
        cfg.rate = bad_rates[i];
        assert_int_equal(wdts_limit_cfg_check(&cfg, es, sizeof(es)), WDTS_ERR_CONFIG);
        assert_non_null(strstr(es, "rate is"));
    }
    wdts_limit_cfg_init(&cfg);
    cfg.slots = 0;
    assert_int_equal(wdts_limit_try_start_build(&call, NULL, &id, &cfg, "t", es, sizeof(es)),
                     WDTS_ERR_CONFIG);
    assert_non_null(strstr(es, "slots is 0"));
    wdts_lua_call_deinit(&call);
    wdts_limit_cfg_init(&cfg);
    assert_int_equal(wdts_limit_finish_build(&call, NULL, &id, &cfg, "t", -1,
                                             WDTS_LIMIT_OUTCOME_OK, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "now_us"));
    wdts_lua_call_deinit(&call);
    struct wdts_limit_id noid = {"wdt", NULL, "k"};
    assert_int_equal(wdts_limit_try_start_build(&call, NULL, &noid, &cfg, "t", es, sizeof(es)),
                     WDTS_ERR_INVAL);
    wdts_lua_call_deinit(&call);
}

static void test_limit_parse(void **state)
{
    (void)state;
    struct wdts_limit_start st;
    struct wdts_limit_finish fin;
    struct wdts_redis_reply *r;

    r = resp("*4\r\n:1\r\n:0\r\n$2\r\ngo\r\n:1700000000123456\r\n");
    assert_int_equal(wdts_limit_try_start_parse(r, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.go, 1);
    assert_int_equal(st.reason, WDTS_LIMIT_GO);
    assert_int_equal(st.now_us, 1700000000123456LL);
    wdts_redis_reply_free(r);

    r = resp("*4\r\n:0\r\n:250\r\n$11\r\nconcurrency\r\n:1700000000123456\r\n");
    assert_int_equal(wdts_limit_try_start_parse(r, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.go, 0);
    assert_int_equal(st.reason, WDTS_LIMIT_CONCURRENCY);
    assert_int_equal(st.wait_ms, 250);
    assert_string_equal(wdts_limit_reason2str(st.reason), "concurrency");
    wdts_redis_reply_free(r);

    /* shapes a parser must refuse, each with a message */
    const char *bad[] = {
        "*3\r\n:1\r\n:0\r\n$2\r\ngo\r\n",                         /* short */
        "*4\r\n$1\r\n1\r\n:0\r\n$2\r\ngo\r\n:1\r\n",              /* string for int */
        "*4\r\n:0\r\n:10\r\n$5\r\nbogus\r\n:1\r\n",               /* unknown reason */
        "*4\r\n:1\r\n:0\r\n$4\r\nrate\r\n:1\r\n",                 /* go with a reason */
        "*4\r\n:0\r\n:0\r\n$4\r\nrate\r\n:1\r\n",                 /* wait of 0 */
        ":1\r\n",                                                  /* not an array */
        "-ERR limit_try_start: burst must be an integer >= 1\r\n", /* error reply */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = resp(bad[i]);
        es[0] = '\0';
        assert_int_equal(wdts_limit_try_start_parse(r, &st, es, sizeof(es)), WDTS_ERR_REDIS);
        assert_non_null(strstr(es, "limit_try_start"));
        wdts_redis_reply_free(r);
    }
    r = resp("-ERR limit_try_start: burst must be an integer >= 1\r\n");
    assert_int_equal(wdts_limit_try_start_parse(r, &st, es, sizeof(es)), WDTS_ERR_REDIS);
    assert_non_null(strstr(es, "burst must be"));
    wdts_redis_reply_free(r);

    r = resp("*4\r\n:1\r\n:60000\r\n:2\r\n:0\r\n");
    assert_int_equal(wdts_limit_finish_parse(r, &fin, es, sizeof(es)), WDTS_OK);
    assert_int_equal(fin.released, 1);
    assert_int_equal(fin.cooldown_ms, 60000);
    assert_int_equal(fin.level, 2);
    wdts_redis_reply_free(r);
    r = resp("*4\r\n:1\r\n:-5\r\n:2\r\n:0\r\n");
    assert_int_equal(wdts_limit_finish_parse(r, &fin, es, sizeof(es)), WDTS_ERR_REDIS);
    wdts_redis_reply_free(r);
}

static void test_lock_build_and_parse(void **state)
{
    (void)state;
    struct wdts_wm_id id = {"c1", "trades"};
    struct wdts_lua_call call;
    assert_int_equal(wdts_lock_acquire_build(&call, "p:", &id, 100, 160, "tok", 30000, es,
                                             sizeof(es)),
                     WDTS_OK);
    assert_int_equal(call.nkeys, 4);
    assert_string_equal(call.keys[0], "p:wm:{c1:trades}:lock:100:160");
    assert_string_equal(call.keys[1], "p:wm:{c1:trades}");
    assert_string_equal(call.keys[2], "p:wm:{c1:trades}:fence");
    assert_string_equal(call.keys[3], "p:wm:{c1:trades}:fidx");
    assert_int_equal(call.nargs, 4);
    assert_string_equal(call.args[0], "tok");
    assert_string_equal(call.args[1], "30000");
    assert_string_equal(call.args[2], "100");
    assert_string_equal(call.args[3], "160");
    wdts_lua_call_deinit(&call);
    assert_int_equal(wdts_lock_renew_build(&call, "p:", &id, 100, 160, "tok", 5000, es,
                                           sizeof(es)),
                     WDTS_OK);
    assert_int_equal(call.nkeys, 1);
    assert_int_equal(call.nargs, 2);
    wdts_lua_call_deinit(&call);
    assert_int_equal(wdts_lock_release_build(&call, "p:", &id, 100, 160, "", es, sizeof(es)),
                     WDTS_ERR_INVAL);
    wdts_lua_call_deinit(&call);

    struct wdts_lock_grant g;
    struct wdts_redis_reply *r = resp("*3\r\n:1\r\n:1700000000000001\r\n:30000\r\n");
    assert_int_equal(wdts_lock_acquire_parse(r, &g, es, sizeof(es)), WDTS_OK);
    assert_int_equal(g.acquired, 1);
    assert_int_equal(g.fence, 1700000000000001LL);
    wdts_redis_reply_free(r);
    r = resp("*3\r\n:1\r\n:0\r\n:30000\r\n"); /* acquired without a fence */
    assert_int_equal(wdts_lock_acquire_parse(r, &g, es, sizeof(es)), WDTS_ERR_REDIS);
    wdts_redis_reply_free(r);
    struct wdts_lock_renewal rn;
    r = resp("*2\r\n:0\r\n:-2\r\n");
    assert_int_equal(wdts_lock_renew_parse(r, &rn, es, sizeof(es)), WDTS_OK);
    assert_int_equal(rn.held, 0);
    assert_int_equal(rn.ttl_ms, -2);
    wdts_redis_reply_free(r);
    int rel = -1;
    r = resp(":1\r\n");
    assert_int_equal(wdts_lock_release_parse(r, &rel, es, sizeof(es)), WDTS_OK);
    assert_int_equal(rel, 1);
    wdts_redis_reply_free(r);
    r = resp(":7\r\n");
    assert_int_equal(wdts_lock_release_parse(r, &rel, es, sizeof(es)), WDTS_ERR_REDIS);
    wdts_redis_reply_free(r);
}

static void test_watermark_build_and_parse(void **state)
{
    (void)state;
    struct wdts_wm_id id = {"c1", "trades"};
    struct wdts_lua_call call;
    assert_int_equal(wdts_wm_complete_build(&call, "p:", &id, 100, 160, 99, 0, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(call.nkeys, 4);
    assert_string_equal(call.keys[1], "p:wm:{c1:trades}:done");
    assert_int_equal(call.nargs, 4);
    assert_string_equal(call.args[2], "99");
    assert_string_equal(call.args[3], "10000"); /* the default bound */
    wdts_lua_call_deinit(&call);
    assert_int_equal(wdts_wm_init_build(&call, "p:", &id, 5, es, sizeof(es)), WDTS_OK);
    assert_int_equal(call.nkeys, 1);
    assert_string_equal(call.args[0], "5");
    wdts_lua_call_deinit(&call);
    assert_int_equal(wdts_wm_reset_build(&call, "p:", &id, 10, 20, es, sizeof(es)), WDTS_OK);
    assert_int_equal(call.nkeys, 2);
    assert_int_equal(call.nargs, 2);
    wdts_lua_call_deinit(&call);
    assert_int_equal(wdts_wm_get_build(&call, "p:", &id, es, sizeof(es)), WDTS_OK);
    assert_int_equal(call.nkeys, 2);
    assert_int_equal(call.nargs, 0);
    wdts_lua_call_deinit(&call);
    assert_int_equal(wdts_wm_complete_build(&call, "p:", &id, 100, 100, 1, 0, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    wdts_lua_call_deinit(&call);
    assert_int_equal(wdts_wm_complete_build(&call, "p:", &id, 0, 1LL << 40, 1, 0, es,
                                            sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "epoch seconds"));
    wdts_lua_call_deinit(&call);

    struct wdts_wm_result res;
    const char *statuses[] = {"advanced", "pending", "already", "stale", "uninit", "full"};
    for (int i = 0; i < 6; i++) {
        char text[128];
        snprintf(text, sizeof(text), "*3\r\n$%zu\r\n%s\r\n:3600\r\n:2\r\n", strlen(statuses[i]),
                 statuses[i]);
        struct wdts_redis_reply *r = resp(text);
        assert_int_equal(wdts_wm_complete_parse(r, &res, es, sizeof(es)), WDTS_OK);
        assert_int_equal(res.status, i);
        assert_string_equal(wdts_wm_status2str(res.status), statuses[i]);
        assert_int_equal(res.wm, 3600);
        assert_int_equal(res.pending, 2);
        wdts_redis_reply_free(r);
    }
    struct wdts_redis_reply *r = resp("*3\r\n$4\r\nmeh!\r\n:1\r\n:2\r\n");
    assert_int_equal(wdts_wm_complete_parse(r, &res, es, sizeof(es)), WDTS_ERR_REDIS);
    assert_non_null(strstr(es, "unknown status"));
    wdts_redis_reply_free(r);

    struct wdts_wm_state st;
    r = resp("*6\r\n:1\r\n:7200\r\n:0\r\n:3\r\n:1700000000000000\r\n:1700000000000\r\n");
    assert_int_equal(wdts_wm_get_parse(r, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.initialized, 1);
    assert_int_equal(st.wm, 7200);
    assert_int_equal(st.pending, 3);
    assert_int_equal(st.updated_ms, 1700000000000LL);
    wdts_redis_reply_free(r);
    r = resp("*3\r\n:0\r\n:10\r\n:5\r\n");
    assert_int_equal(wdts_wm_init_parse(r, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.created, 0);
    assert_int_equal(st.origin, 5);
    wdts_redis_reply_free(r);
    r = resp("*2\r\n:10\r\n:1\r\n");
    assert_int_equal(wdts_wm_reset_parse(r, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.wm, 10);
    wdts_redis_reply_free(r);
}

static void test_lease_build_and_parse(void **state)
{
    (void)state;
    struct wdts_lua_call call;
    assert_int_equal(wdts_lease_acquire_build(&call, "p:", "scheduler", "host/1", "tok", 15000,
                                              es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(call.nkeys, 2);
    assert_string_equal(call.keys[0], "p:lease:{scheduler}");
    assert_string_equal(call.keys[1], "p:lease:{scheduler}:epoch");
    assert_string_equal(call.args[0], "host/1");
    assert_string_equal(call.args[2], "15000");
    wdts_lua_call_deinit(&call);
    assert_int_equal(wdts_lease_acquire_build(&call, "p:", "scheduler", NULL, "tok", 15000, es,
                                              sizeof(es)),
                     WDTS_ERR_INVAL);
    wdts_lua_call_deinit(&call);

    struct wdts_lease_state st;
    struct wdts_redis_reply *r = resp("*4\r\n:0\r\n$6\r\nhost/2\r\n:1234\r\n:77\r\n");
    assert_int_equal(wdts_lease_state_parse(r, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.held, 0);
    assert_string_equal(st.holder, "host/2");
    assert_int_equal(st.ttl_ms, 1234);
    assert_int_equal(st.epoch, 77);
    wdts_redis_reply_free(r);
    r = resp("*4\r\n:1\r\n$1\r\nh\r\n:1000\r\n:0\r\n"); /* held without an epoch */
    assert_int_equal(wdts_lease_state_parse(r, &st, es, sizeof(es)), WDTS_ERR_REDIS);
    wdts_redis_reply_free(r);
    int rel = -1;
    r = resp("-ERR lease_release: token must not be empty\r\n");
    assert_int_equal(wdts_lease_release_parse(r, &rel, es, sizeof(es)), WDTS_ERR_REDIS);
    assert_non_null(strstr(es, "token must not be empty"));
    wdts_redis_reply_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_scripts),     cmocka_unit_test(test_keys),
        cmocka_unit_test(test_call_struct),          cmocka_unit_test(test_limit_build),
        cmocka_unit_test(test_limit_parse),          cmocka_unit_test(test_lock_build_and_parse),
        cmocka_unit_test(test_watermark_build_and_parse),
        cmocka_unit_test(test_lease_build_and_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
