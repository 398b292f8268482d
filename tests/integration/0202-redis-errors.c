/* Connection failures against the real redis-server of WDT_TEST_REDIS_URL: a refused
 * port, a password the server does not expect, an unknown db, bad parameters, and a
 * command timeout that breaks the handle (sticky) until wdts_redis_reconnect(). Wrong
 * and missing passwords need a server with one: see 0203. */
#include "wdts_test.h"
#include "wdts_test_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdts/redis.h"
#include "wdts/time.h"

static struct wdts_redis_params params;

/* Connecting with p fails with want_err and a message containing want. */
static void expect_connect_error(const struct wdts_redis_params *p, const char *want)
{
    char es[256] = "";
    struct wdts_redis *redis = wdts_redis_new(p, es, sizeof(es));
    if (redis != NULL)
        fail_msg("connected, expected \"%s\"", want);
    if (strstr(es, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", es, want);
}

static void test_refused(void **state)
{
    (void)state;
    struct wdts_redis_params p = params;
    p.port = wdts_test_unused_port();
    char es[256] = "";
    assert_null(wdts_redis_new(&p, es, sizeof(es)));
    assert_non_null(strstr(es, "cannot connect: Connection refused"));
    assert_non_null(strstr(es, "is redis-server running"));
    char where[300], want[320];
    snprintf(want, sizeof(want), "redis %s: ", wdts_redis_params_describe(&p, where, sizeof(where)));
    assert_true(strncmp(es, want, strlen(want)) == 0);
}

static void test_password_for_a_server_without_one(void **state)
{
    (void)state;
    struct wdts_redis_params p = params;
    wdts_strlcpy(p.password, "not-needed", sizeof(p.password));
    char es[256] = "";
    assert_null(wdts_redis_new(&p, es, sizeof(es)));
    assert_non_null(strstr(es, "a password was given but the server has none"));
    assert_null(strstr(es, "not-needed"));
}

static void test_unknown_db(void **state)
{
    (void)state;
    struct wdts_redis_params p = params;
    p.db = 9999;
    char es[256] = "";
    assert_null(wdts_redis_new(&p, es, sizeof(es)));
    assert_non_null(strstr(es, "db 9999 does not exist"));
    assert_non_null(strstr(es, "'databases'"));
}

static void test_bad_parameters(void **state)
{
    (void)state;
    struct wdts_redis_params p = params;
    p.command_timeout_ms = 0;
    expect_connect_error(&p, "invalid parameters");
    p = params;
    p.host[0] = '\0';
    expect_connect_error(&p, "invalid parameters");
}

static void test_timeout_is_sticky_until_reconnect(void **state)
{
    (void)state;
    struct wdts_redis_params p = params;
    p.command_timeout_ms = 300;
    char es[256] = "";
    struct wdts_redis *redis = wdts_redis_new(&p, es, sizeof(es));
    if (redis == NULL)
        fail_msg("connect: %s", es);

    struct wdts_buf b;
    wdts_buf_init(&b);
    const char *k = wdts_redis_key(&b, params.prefix, "0202", "never", NULL);
    /* BLPOP on an empty list waits 5 s on the server, longer than our 300 ms */
    int64_t t0 = wdts_time_mono_ms();
    assert_int_equal(wdts_redis_commandl(redis, NULL, "BLPOP", k, "5", NULL), WDTS_ERR_TIMEOUT);
    int64_t waited = wdts_time_mono_ms() - t0;
    assert_true(waited >= 250 && waited < 4500);
    assert_int_equal(redis->err, WDTS_ERR_TIMEOUT);
    assert_non_null(strstr(redis->errstr, "no reply to BLPOP within 300 ms"));
    assert_null(redis->ctx);

    /* sticky: every call fails at once with the same error, pipelines too */
    char first[256];
    wdts_strlcpy(first, redis->errstr, sizeof(first));
    assert_int_equal(wdts_redis_commandl(redis, NULL, "PING", NULL), WDTS_ERR_TIMEOUT);
    const char *ping[1] = {"PING"};
    assert_int_equal(wdts_redis_pipeline_append(redis, 1, ping, NULL), WDTS_ERR_TIMEOUT);
    assert_string_equal(redis->errstr, first);

    assert_int_equal(wdts_redis_reconnect(redis), WDTS_OK);
    assert_int_equal(redis->err, WDTS_OK);
    char *v = NULL;
    assert_int_equal(wdts_redis_command_str(redis, 1, ping, NULL, &v, NULL), WDTS_OK);
    assert_string_equal(v, "PONG");
    free(v);

    /* a reconnect drops queued pipeline commands: none of them is sent */
    char ik[128];
    wdts_strlcpy(ik, wdts_redis_key(&b, params.prefix, "0202", "dropped", NULL), sizeof(ik));
    const char *incr[2] = {"INCR", ik};
    assert_int_equal(wdts_redis_pipeline_append(redis, 2, incr, NULL), WDTS_OK);
    assert_int_equal(redis->pending, 1);
    assert_int_equal(wdts_redis_reconnect(redis), WDTS_OK);
    assert_int_equal(redis->pending, 0);
    long long n = -1;
    const char *exists[2] = {"EXISTS", ik};
    assert_int_equal(wdts_redis_command_int(redis, 2, exists, NULL, &n), WDTS_OK);
    assert_int_equal(n, 0);

    wdts_buf_deinit(&b);
    wdts_redis_destroy(redis);
}

int main(void)
{
    wdts_test_redis_params(&params);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_password_for_a_server_without_one),
        cmocka_unit_test(test_unknown_db),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_timeout_is_sticky_until_reconnect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
