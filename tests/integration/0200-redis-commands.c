/* The Redis wrapper against the real redis-server of WDT_TEST_REDIS_URL: every reply
 * type, binary-safe arguments, error replies that leave the handle usable, pipelining
 * (1000 INCRs), and SELECT of another db. Keys live under a prefix unique to the run. */
#include "wdts_test.h"
#include "wdts_test_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/redis.h"

static struct wdts_redis_params params;

/* A key of this test in a buffer of its own (KEYLEN bytes). */
#define KEYLEN 128
static const char *key(char *out, const char *name)
{
    struct wdts_buf b;
    wdts_buf_init(&b);
    wdts_strlcpy(out, wdts_redis_key(&b, params.prefix, "0200", name, NULL), KEYLEN);
    wdts_buf_deinit(&b);
    return out;
}

static struct wdts_redis *connect_or_fail(const struct wdts_redis_params *p)
{
    char es[256] = "";
    struct wdts_redis *redis = wdts_redis_new(p, es, sizeof(es));
    if (redis == NULL)
        fail_msg("connect: %s", es);
    assert_int_equal(redis->err, WDTS_OK);
    return redis;
}

static void test_reply_types(void **state)
{
    (void)state;
    struct wdts_redis *redis = connect_or_fail(&params);
    char k[KEYLEN], missing[KEYLEN], nk[KEYLEN], list[KEYLEN], tk[KEYLEN];
    struct wdts_redis_reply *reply = NULL;

    /* status */
    key(k, "bin");
    const char *set[3] = {"SET", k, "a\0b"};
    const size_t setlen[3] = {3, strlen(k), 3};
    assert_int_equal(wdts_redis_command(redis, 3, set, setlen, &reply), WDTS_OK);
    assert_int_equal(wdts_redis_reply_type(reply), WDTS_REDIS_STATUS);
    assert_string_equal(wdts_redis_reply_str(reply, NULL), "OK");
    wdts_redis_reply_free(reply);

    /* binary-safe string */
    size_t len = 0;
    assert_int_equal(wdts_redis_commandl(redis, &reply, "GET", k, NULL), WDTS_OK);
    assert_int_equal(wdts_redis_reply_type(reply), WDTS_REDIS_STR);
    const char *s = wdts_redis_reply_str(reply, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(s, "a\0b", 3);
    assert_int_equal(wdts_redis_reply_int(reply), 0);
    assert_int_equal(wdts_redis_reply_count(reply), 0);
    wdts_redis_reply_free(reply);

    char *str = NULL;
    const char *get[2] = {"GET", k};
    assert_int_equal(wdts_redis_command_str(redis, 2, get, NULL, &str, &len), WDTS_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(str, "a\0b", 3);
    free(str);

    /* nil */
    key(missing, "missing");
    assert_int_equal(wdts_redis_commandl(redis, &reply, "GET", missing, NULL), WDTS_OK);
    assert_int_equal(wdts_redis_reply_type(reply), WDTS_REDIS_NIL);
    assert_null(wdts_redis_reply_str(reply, NULL));
    wdts_redis_reply_free(reply);
    const char *getm[2] = {"GET", missing};
    str = (char *)"sentinel";
    assert_int_equal(wdts_redis_command_str(redis, 2, getm, NULL, &str, NULL), WDTS_OK);
    assert_null(str);

    /* integer */
    long long n = 0;
    const char *incr[3] = {"INCRBY", key(nk, "n"), "-42"};
    assert_int_equal(wdts_redis_command_int(redis, 3, incr, NULL, &n), WDTS_OK);
    assert_int_equal(n, -42);

    /* arrays */
    key(list, "list");
    assert_int_equal(wdts_redis_commandl(redis, NULL, "RPUSH", list, "x", "yy", "zzz", NULL),
                     WDTS_OK);
    assert_int_equal(wdts_redis_commandl(redis, &reply, "LRANGE", list, "0", "-1", NULL), WDTS_OK);
    assert_int_equal(wdts_redis_reply_type(reply), WDTS_REDIS_ARRAY);
    assert_int_equal(wdts_redis_reply_count(reply), 3);
    assert_string_equal(wdts_redis_reply_str(wdts_redis_reply_elem(reply, 0), NULL), "x");
    assert_string_equal(wdts_redis_reply_str(wdts_redis_reply_elem(reply, 2), &len), "zzz");
    assert_int_equal(len, 3);
    assert_null(wdts_redis_reply_elem(reply, 3));
    wdts_redis_reply_free(reply);

    assert_int_equal(wdts_redis_commandl(redis, &reply, "MGET", nk, missing, NULL), WDTS_OK);
    assert_int_equal(wdts_redis_reply_count(reply), 2);
    assert_string_equal(wdts_redis_reply_str(wdts_redis_reply_elem(reply, 0), NULL), "-42");
    assert_int_equal(wdts_redis_reply_type(wdts_redis_reply_elem(reply, 1)), WDTS_REDIS_NIL);
    wdts_redis_reply_free(reply);

    /* an error inside an array: EXEC of a transaction whose 2nd command fails */
    key(tk, "tx");
    assert_int_equal(wdts_redis_commandl(redis, NULL, "MULTI", NULL), WDTS_OK);
    assert_int_equal(wdts_redis_commandl(redis, NULL, "SET", tk, "text", NULL), WDTS_OK);
    assert_int_equal(wdts_redis_commandl(redis, NULL, "INCR", tk, NULL), WDTS_OK);
    assert_int_equal(wdts_redis_commandl(redis, &reply, "EXEC", NULL), WDTS_OK);
    assert_int_equal(wdts_redis_reply_count(reply), 2);
    assert_int_equal(wdts_redis_reply_type(wdts_redis_reply_elem(reply, 0)), WDTS_REDIS_STATUS);
    assert_int_equal(wdts_redis_reply_type(wdts_redis_reply_elem(reply, 1)), WDTS_REDIS_ERROR);
    assert_non_null(strstr(wdts_redis_reply_str(wdts_redis_reply_elem(reply, 1), NULL),
                           "not an integer"));
    wdts_redis_reply_free(reply);

    wdts_redis_destroy(redis);
}

static void test_error_replies_are_not_sticky(void **state)
{
    (void)state;
    struct wdts_redis *redis = connect_or_fail(&params);
    char k[KEYLEN], ik[KEYLEN];
    key(k, "str");
    assert_int_equal(wdts_redis_commandl(redis, NULL, "SET", k, "text", NULL), WDTS_OK);

    /* WRONGTYPE: the call fails, the handle stays usable */
    struct wdts_redis_reply *reply = NULL; /* must stay untouched */
    assert_int_equal(wdts_redis_commandl(redis, &reply, "LPUSH", k, "x", NULL), WDTS_ERR_REDIS);
    assert_null(reply);
    assert_non_null(strstr(redis->errstr, "LPUSH: WRONGTYPE"));
    assert_int_equal(redis->err, WDTS_OK);

    /* a reply of the wrong type for the typed helpers */
    long long n = 0;
    const char *get[2] = {"GET", k};
    assert_int_equal(wdts_redis_command_int(redis, 2, get, NULL, &n), WDTS_ERR_REDIS);
    assert_non_null(strstr(redis->errstr, "GET: expected an integer reply, got a string"));
    char *str = NULL;
    const char *incr[2] = {"INCR", key(ik, "i")};
    assert_int_equal(wdts_redis_command_str(redis, 2, incr, NULL, &str, NULL), WDTS_ERR_REDIS);
    assert_non_null(strstr(redis->errstr, "INCR: expected a string or nil reply, got an integer"));

    /* an unknown command */
    assert_int_equal(wdts_redis_commandl(redis, NULL, "NOSUCHCOMMAND", NULL), WDTS_ERR_REDIS);
    assert_non_null(strstr(redis->errstr, "unknown command"));
    assert_int_equal(redis->err, WDTS_OK);

    assert_int_equal(wdts_redis_commandl(redis, &reply, "GET", k, NULL), WDTS_OK);
    assert_string_equal(wdts_redis_reply_str(reply, NULL), "text");
    wdts_redis_reply_free(reply);
    wdts_redis_destroy(redis);
}

static void test_pipeline(void **state)
{
    (void)state;
    struct wdts_redis *redis = connect_or_fail(&params);
    char k[KEYLEN], sk[KEYLEN];
    key(k, "counter");
    const char *incr[2] = {"INCR", k};

    for (int i = 0; i < 1000; i++)
        assert_int_equal(wdts_redis_pipeline_append(redis, 2, incr, NULL), WDTS_OK);
    assert_int_equal(redis->pending, 1000);

    /* a plain command may not jump the queue */
    assert_int_equal(wdts_redis_commandl(redis, NULL, "PING", NULL), WDTS_ERR_INVAL);
    assert_non_null(strstr(redis->errstr, "1000 pipelined replies are unread"));

    long long sum = 0, last = 0;
    for (int i = 0; i < 1000; i++) {
        struct wdts_redis_reply *reply = NULL;
        assert_int_equal(wdts_redis_pipeline_read(redis, &reply), WDTS_OK);
        assert_int_equal(wdts_redis_reply_type(reply), WDTS_REDIS_INT);
        last = wdts_redis_reply_int(reply);
        assert_int_equal(last, i + 1); /* replies come back in order */
        sum += last;
        wdts_redis_reply_free(reply);
    }
    assert_int_equal(last, 1000);
    assert_int_equal(sum, 1000LL * 1001 / 2);
    assert_int_equal(redis->pending, 0);
    assert_int_equal(wdts_redis_pipeline_read(redis, NULL), WDTS_ERR_INVAL);

    char *v = NULL;
    const char *get[2] = {"GET", k};
    assert_int_equal(wdts_redis_command_str(redis, 2, get, NULL, &v, NULL), WDTS_OK);
    assert_string_equal(v, "1000");
    free(v);

    /* an error reply in the middle fails that read only */
    key(sk, "s");
    const char *set[3] = {"SET", sk, "text"};
    const char *bad[2] = {"INCR", sk};
    assert_int_equal(wdts_redis_pipeline_append(redis, 3, set, NULL), WDTS_OK);
    assert_int_equal(wdts_redis_pipeline_append(redis, 2, bad, NULL), WDTS_OK);
    assert_int_equal(wdts_redis_pipeline_append(redis, 2, incr, NULL), WDTS_OK);
    assert_int_equal(wdts_redis_pipeline_read(redis, NULL), WDTS_OK);
    assert_int_equal(wdts_redis_pipeline_read(redis, NULL), WDTS_ERR_REDIS);
    assert_non_null(strstr(redis->errstr, "not an integer"));
    struct wdts_redis_reply *reply = NULL;
    assert_int_equal(wdts_redis_pipeline_read(redis, &reply), WDTS_OK);
    assert_int_equal(wdts_redis_reply_int(reply), 1001);
    wdts_redis_reply_free(reply);
    assert_int_equal(redis->err, WDTS_OK);
    wdts_redis_destroy(redis);
}

static void test_select_db(void **state)
{
    (void)state;
    struct wdts_redis_params p3 = params;
    p3.db = 3;
    struct wdts_redis *r0 = connect_or_fail(&params);
    struct wdts_redis *r3 = connect_or_fail(&p3);
    char k[KEYLEN];
    key(k, "db3");
    long long n = -1;
    assert_int_equal(wdts_redis_commandl(r3, NULL, "SET", k, "x", "EX", "60", NULL), WDTS_OK);
    const char *exists[2] = {"EXISTS", k};
    assert_int_equal(wdts_redis_command_int(r3, 2, exists, NULL, &n), WDTS_OK);
    assert_int_equal(n, 1);
    if (params.db != 3) {
        assert_int_equal(wdts_redis_command_int(r0, 2, exists, NULL, &n), WDTS_OK);
        assert_int_equal(n, 0);
    }
    assert_int_equal(wdts_redis_commandl(r3, NULL, "DEL", k, NULL), WDTS_OK);
    wdts_redis_destroy(r0);
    wdts_redis_destroy(r3);
}

static int cleanup(void **state)
{
    (void)state;
    char es[256];
    struct wdts_redis *redis = wdts_redis_new(&params, es, sizeof(es));
    if (redis == NULL)
        return 0;
    char k[KEYLEN];
    const char *names[] = {"bin", "n", "list", "tx", "str", "i", "counter", "s"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        (void)wdts_redis_commandl(redis, NULL, "DEL", key(k, names[i]), NULL);
    wdts_redis_destroy(redis);
    return 0;
}

int main(void)
{
    wdts_test_redis_params(&params);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_types),
        cmocka_unit_test(test_error_replies_are_not_sticky),
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_select_db),
    };
    return cmocka_run_group_tests(tests, NULL, cleanup);
}
