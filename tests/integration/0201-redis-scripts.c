/* Scripts against the real redis-server of WDT_TEST_REDIS_URL: a SET NX PX lock released
 * by a token-checking script, the first EVALSHA of an unknown script loading it, Lua
 * errors and compile errors as clear messages, and scripts returning arrays. SCRIPT
 * FLUSH and restarts are in 0203, on a server of its own. */
#include "wdts_test.h"
#include "wdts_test_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/redis.h"

static struct wdts_redis_params params;
static struct wdts_redis *redis;

#define KEYLEN 128
static const char *key(char *out, const char *name)
{
    struct wdts_buf b;
    wdts_buf_init(&b);
    wdts_strlcpy(out, wdts_redis_key(&b, params.prefix, "0201", name, NULL), KEYLEN);
    wdts_buf_deinit(&b);
    return out;
}

/* SCRIPT EXISTS for one SHA: 1 or 0. */
static long long script_exists(const char *sha)
{
    struct wdts_redis_reply *reply = NULL;
    assert_int_equal(wdts_redis_commandl(redis, &reply, "SCRIPT", "EXISTS", sha, NULL), WDTS_OK);
    assert_int_equal(wdts_redis_reply_count(reply), 1);
    long long v = wdts_redis_reply_int(wdts_redis_reply_elem(reply, 0));
    wdts_redis_reply_free(reply);
    return v;
}

static const char release_src[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then\n"
    "    return redis.call('del', KEYS[1])\n"
    "end\n"
    "return 0\n";

static void test_lock_and_release_by_token(void **state)
{
    (void)state;
    struct wdts_redis_script *release = wdts_redis_script_new("lock_release", release_src);
    char k[KEYLEN];
    key(k, "lock");
    char *v = NULL;

    const char *take_a[6] = {"SET", k, "token-a", "NX", "PX", "30000"};
    const char *take_b[6] = {"SET", k, "token-b", "NX", "PX", "30000"};
    assert_int_equal(wdts_redis_command_str(redis, 6, take_a, NULL, &v, NULL), WDTS_OK);
    assert_non_null(v);
    assert_string_equal(v, "OK");
    free(v);
    /* held: a second owner gets nil */
    assert_int_equal(wdts_redis_command_str(redis, 6, take_b, NULL, &v, NULL), WDTS_OK);
    assert_null(v);

    long long ttl = 0;
    const char *pttl[2] = {"PTTL", k};
    assert_int_equal(wdts_redis_command_int(redis, 2, pttl, NULL, &ttl), WDTS_OK);
    assert_true(ttl > 0 && ttl <= 30000);

    const char *keys[1] = {k};
    const char *wrong[1] = {"token-b"};
    const char *right[1] = {"token-a"};
    long long n = -1;
    assert_int_equal(wdts_redis_eval_int(redis, release, 1, keys, 1, wrong, &n), WDTS_OK);
    assert_int_equal(n, 0);
    const char *get[2] = {"GET", k};
    assert_int_equal(wdts_redis_command_str(redis, 2, get, NULL, &v, NULL), WDTS_OK);
    assert_non_null(v);
    assert_string_equal(v, "token-a"); /* the wrong token released nothing */
    free(v);

    assert_int_equal(wdts_redis_eval_int(redis, release, 1, keys, 1, right, &n), WDTS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(wdts_redis_command_str(redis, 2, get, NULL, &v, NULL), WDTS_OK);
    assert_null(v);
    assert_int_equal(wdts_redis_eval_int(redis, release, 1, keys, 1, right, &n), WDTS_OK);
    assert_int_equal(n, 0);

    /* free again: the other owner may take it */
    assert_int_equal(wdts_redis_command_str(redis, 6, take_b, NULL, &v, NULL), WDTS_OK);
    assert_non_null(v);
    free(v);
    assert_int_equal(wdts_redis_commandl(redis, NULL, "DEL", k, NULL), WDTS_OK);
    wdts_redis_script_destroy(release);
}

static void test_unknown_script_is_loaded(void **state)
{
    (void)state;
    /* a source no other run has: its SHA is unknown to the server */
    char src[256];
    snprintf(src, sizeof(src), "-- %s\nreturn redis.call('incrby', KEYS[1], ARGV[1])\n",
             params.prefix);
    struct wdts_redis_script *script = wdts_redis_script_new("incrby", src);
    char k[KEYLEN];
    key(k, "sum");
    const char *keys[1] = {k};
    const char *args[1] = {"5"};

    assert_int_equal(script_exists(script->sha), 0);
    long long n = 0;
    assert_int_equal(wdts_redis_eval_int(redis, script, 1, keys, 1, args, &n), WDTS_OK);
    assert_int_equal(n, 5);
    assert_int_equal(script_exists(script->sha), 1); /* loaded under our locally computed SHA */
    assert_int_equal(wdts_redis_eval_int(redis, script, 1, keys, 1, args, &n), WDTS_OK);
    assert_int_equal(n, 10);

    /* explicit load of a known script is a no-op that succeeds */
    assert_int_equal(wdts_redis_script_load(redis, script), WDTS_OK);
    assert_int_equal(wdts_redis_commandl(redis, NULL, "DEL", k, NULL), WDTS_OK);
    wdts_redis_script_destroy(script);
}

static void test_script_returning_array(void **state)
{
    (void)state;
    struct wdts_redis_script *script = wdts_redis_script_new(
        "pair", "return {tonumber(ARGV[1]) * 2, 'wait', ARGV[2], false}");
    const char *args[2] = {"21", "bin\x01"};
    struct wdts_redis_reply *reply = NULL;
    assert_int_equal(wdts_redis_eval(redis, script, 0, NULL, 2, args, &reply), WDTS_OK);
    assert_int_equal(wdts_redis_reply_type(reply), WDTS_REDIS_ARRAY);
    assert_int_equal(wdts_redis_reply_count(reply), 4);
    assert_int_equal(wdts_redis_reply_int(wdts_redis_reply_elem(reply, 0)), 42);
    assert_string_equal(wdts_redis_reply_str(wdts_redis_reply_elem(reply, 1), NULL), "wait");
    assert_string_equal(wdts_redis_reply_str(wdts_redis_reply_elem(reply, 2), NULL), "bin\x01");
    assert_int_equal(wdts_redis_reply_type(wdts_redis_reply_elem(reply, 3)), WDTS_REDIS_NIL);
    wdts_redis_reply_free(reply);

    /* eval_int insists on an integer */
    long long n = 0;
    assert_int_equal(wdts_redis_eval_int(redis, script, 0, NULL, 2, args, &n), WDTS_ERR_REDIS);
    assert_non_null(strstr(redis->errstr, "script pair: expected an integer reply, got an array"));
    wdts_redis_script_destroy(script);
}

static void test_script_errors(void **state)
{
    (void)state;
    /* a runtime error names the script and keeps the handle usable */
    struct wdts_redis_script *boom =
        wdts_redis_script_new("fence_check", "return redis.error_reply('FENCED token 3 < 7')");
    struct wdts_redis_reply *reply = NULL;
    assert_int_equal(wdts_redis_eval(redis, boom, 0, NULL, 0, NULL, &reply), WDTS_ERR_REDIS);
    assert_null(reply);
    assert_non_null(strstr(redis->errstr, "script fence_check: FENCED token 3 < 7"));
    assert_int_equal(redis->err, WDTS_OK);

    struct wdts_redis_script *bad_call =
        wdts_redis_script_new("bad_call", "return redis.call('nosuchcommand')");
    assert_int_equal(wdts_redis_eval(redis, bad_call, 0, NULL, 0, NULL, NULL), WDTS_ERR_REDIS);
    assert_non_null(strstr(redis->errstr, "script bad_call: "));

    /* a syntax error: found by SCRIPT LOAD, and by eval on first use */
    struct wdts_redis_script *syntax = wdts_redis_script_new("syntax", "return (((");
    assert_int_equal(wdts_redis_script_load(redis, syntax), WDTS_ERR_REDIS);
    assert_non_null(strstr(redis->errstr, "SCRIPT LOAD of syntax: ERR Error compiling script"));
    assert_int_equal(wdts_redis_eval(redis, syntax, 0, NULL, 0, NULL, NULL), WDTS_ERR_REDIS);
    assert_non_null(strstr(redis->errstr, "Error compiling script"));

    assert_int_equal(wdts_redis_commandl(redis, NULL, "PING", NULL), WDTS_OK);
    wdts_redis_script_destroy(boom);
    wdts_redis_script_destroy(bad_call);
    wdts_redis_script_destroy(syntax);
}

int main(void)
{
    wdts_test_redis_group(&params, &redis);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lock_and_release_by_token),
        cmocka_unit_test(test_unknown_script_is_loaded),
        cmocka_unit_test(test_script_returning_array),
        cmocka_unit_test(test_script_errors),
    };
    return cmocka_run_group_tests(tests, wdts_test_redis_group_setup,
                                  wdts_test_redis_group_teardown);
}
