/* A redis-server of this test's own (free port, temp dir, AOF with fsync always,
 * requirepass): wrong and missing passwords and ACL users, distinct messages for a bad
 * URL, a refused port and a wrong password, EVALSHA after SCRIPT FLUSH, a SIGKILL +
 * restart on the same port that wdts_redis_reconnect() survives with the AOF's key still
 * there and the lost script cache refilled, and a stopped server (SIGSTOP: the connection
 * stays open, nothing answers) that the async client gives up on after its command
 * timeout, then reconnects to once it runs again; an async client with a wrong password
 * sees its AUTH refused (said, not ignored) and its commands fail. */
#include "wdts_test.h"
#include "wdts_test_redis.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/loop.h"
#include "wdts/redis.h"
#include "wdts/redis_async.h"
#include "wdts/time.h"

#define PASSWORD "pw-0203"

static struct wdts_test_redis_server srv;
static char srv_dir[256];
static struct wdts_redis_params params; /* for srv, with the right password */

/* Starts the test's own server, with a password, on srv.port in srv_dir. */
static int server_start(void)
{
    static const char *const extra[] = {"--requirepass", PASSWORD, NULL};
    return wdts_test_redis_server_start(&srv, srv_dir, &params, extra);
}

static struct wdts_redis *connect_or_fail(const struct wdts_redis_params *p)
{
    char es[256] = "";
    struct wdts_redis *redis = wdts_redis_new(p, es, sizeof(es));
    if (redis == NULL)
        fail_msg("connect: %s", es);
    return redis;
}

/* The connect error for p; fails the test when it connects. */
static void connect_error(const struct wdts_redis_params *p, char *es, size_t size)
{
    es[0] = '\0';
    struct wdts_redis *redis = wdts_redis_new(p, es, size);
    if (redis != NULL)
        fail_msg("connected, expected a failure");
    assert_true(es[0] != '\0');
}

static void test_passwords(void **state)
{
    (void)state;
    char es[256];
    struct wdts_redis_params p = params;

    p.password[0] = '\0';
    connect_error(&p, es, sizeof(es));
    print_message("missing password: %s\n", es);
    assert_non_null(strstr(es, "the server requires a password"));

    wdts_strlcpy(p.password, "wrong-pw", sizeof(p.password));
    connect_error(&p, es, sizeof(es));
    print_message("wrong password: %s\n", es);
    assert_non_null(strstr(es, "authentication failed, wrong password (WRONGPASS"));
    assert_null(strstr(es, "wrong-pw"));

    /* the password given apart from the URL wins over the URL's */
    char url[128];
    snprintf(url, sizeof(url), "redis://:wrong-pw@127.0.0.1:%d", srv.port);
    assert_int_equal(wdts_redis_params_from_url(&p, url, es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_redis_params_set_password(&p, PASSWORD, es, sizeof(es)), WDTS_OK);
    struct wdts_redis *redis = connect_or_fail(&p);

    /* an ACL user with its own password */
    assert_int_equal(wdts_redis_commandl(redis, NULL, "ACL", "SETUSER", "alice", "on",
                                         ">alice-pw", "~*", "+@all", NULL),
                     WDTS_OK);
    snprintf(url, sizeof(url), "redis://alice:alice-pw@127.0.0.1:%d/2", srv.port);
    assert_int_equal(wdts_redis_params_from_url(&p, url, es, sizeof(es)), WDTS_OK);
    struct wdts_redis *alice = connect_or_fail(&p);
    char *who = NULL;
    const char *whoami[2] = {"ACL", "WHOAMI"};
    assert_int_equal(wdts_redis_command_str(alice, 2, whoami, NULL, &who, NULL), WDTS_OK);
    assert_string_equal(who, "alice");
    free(who);
    wdts_strlcpy(p.password, "nope", sizeof(p.password));
    connect_error(&p, es, sizeof(es));
    assert_non_null(strstr(es, "wrong password or user"));

    wdts_redis_destroy(alice);
    wdts_redis_destroy(redis);
}

static void test_distinct_errors(void **state)
{
    (void)state;
    char bad_url[256], refused[256], wrong_pw[256];
    struct wdts_redis_params p = params;
    assert_int_equal(wdts_redis_params_from_url(&p, "redis://127.0.0.1:99999", bad_url,
                                                sizeof(bad_url)),
                     WDTS_ERR_CONFIG);
    p = params;
    p.port = wdts_test_unused_port();
    connect_error(&p, refused, sizeof(refused));
    p = params;
    wdts_strlcpy(p.password, "wrong-pw", sizeof(p.password));
    connect_error(&p, wrong_pw, sizeof(wrong_pw));
    print_message("bad URL:        %s\nrefused port:   %s\nwrong password: %s\n", bad_url,
                  refused, wrong_pw);
    assert_non_null(strstr(bad_url, "port '99999' is not a number from 1 to 65535"));
    assert_non_null(strstr(refused, "Connection refused; is redis-server running"));
    assert_non_null(strstr(wrong_pw, "check the password"));
    assert_string_not_equal(bad_url, refused);
    assert_string_not_equal(refused, wrong_pw);
    assert_string_not_equal(bad_url, wrong_pw);
}

static const char incr_src[] = "return redis.call('incrby', KEYS[1], ARGV[1])";

static void test_evalsha_after_script_flush(void **state)
{
    (void)state;
    struct wdts_redis *redis = connect_or_fail(&params);
    struct wdts_redis_script *script = wdts_redis_script_new("incrby", incr_src);
    struct wdts_buf b;
    wdts_buf_init(&b);
    const char *keys[1] = {wdts_redis_key(&b, params.prefix, "flush", NULL)};
    const char *args[1] = {"2"};
    long long n = 0, exists = -1;
    const char *script_exists[3] = {"SCRIPT", "EXISTS", script->sha};
    struct wdts_redis_reply *reply = NULL;

    assert_int_equal(wdts_redis_script_load(redis, script), WDTS_OK);
    assert_int_equal(wdts_redis_eval_int(redis, script, 1, keys, 1, args, &n), WDTS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(wdts_redis_commandl(redis, NULL, "SCRIPT", "FLUSH", NULL), WDTS_OK);
    assert_int_equal(wdts_redis_command(redis, 3, script_exists, NULL, &reply), WDTS_OK);
    exists = wdts_redis_reply_int(wdts_redis_reply_elem(reply, 0));
    wdts_redis_reply_free(reply);
    assert_int_equal(exists, 0);

    /* EVALSHA gets NOSCRIPT, the wrapper loads and retries: the caller sees a result */
    assert_int_equal(wdts_redis_eval_int(redis, script, 1, keys, 1, args, &n), WDTS_OK);
    assert_int_equal(n, 4);
    assert_int_equal(wdts_redis_command(redis, 3, script_exists, NULL, &reply), WDTS_OK);
    exists = wdts_redis_reply_int(wdts_redis_reply_elem(reply, 0));
    wdts_redis_reply_free(reply);
    assert_int_equal(exists, 1);

    wdts_buf_deinit(&b);
    wdts_redis_script_destroy(script);
    wdts_redis_destroy(redis);
}

static void test_restart_and_reconnect(void **state)
{
    (void)state;
    struct wdts_redis *redis = connect_or_fail(&params);
    struct wdts_redis_script *script = wdts_redis_script_new("incrby", incr_src);
    struct wdts_buf b;
    wdts_buf_init(&b);
    char k[128], ck[128];
    wdts_strlcpy(k, wdts_redis_key(&b, params.prefix, "kept", NULL), sizeof(k));
    wdts_strlcpy(ck, wdts_redis_key(&b, params.prefix, "count", NULL), sizeof(ck));
    const char *keys[1] = {ck};
    const char *args[1] = {"1"};
    long long n = 0;

    assert_int_equal(wdts_redis_commandl(redis, NULL, "SET", k, "survives", NULL), WDTS_OK);
    assert_int_equal(wdts_redis_eval_int(redis, script, 1, keys, 1, args, &n), WDTS_OK);
    assert_int_equal(n, 1);

    wdts_test_redis_server_kill(&srv, SIGKILL);

    /* the old connection is gone: the first call says so, and the error sticks */
    const char *get[2] = {"GET", k};
    char *v = NULL;
    wdts_err_t err = wdts_redis_command_str(redis, 2, get, NULL, &v, NULL);
    print_message("after SIGKILL: %s\n", redis->errstr);
    assert_int_equal(err, WDTS_ERR_IO);
    assert_int_equal(redis->err, WDTS_ERR_IO);
    assert_non_null(strstr(redis->errstr, "GET"));
    assert_int_equal(wdts_redis_commandl(redis, NULL, "PING", NULL), WDTS_ERR_IO);

    /* reconnecting while the server is down fails clearly and may be repeated */
    assert_int_equal(wdts_redis_reconnect(redis), WDTS_ERR_IO);
    assert_non_null(strstr(redis->errstr, "Connection refused"));
    assert_int_equal(wdts_redis_commandl(redis, NULL, "PING", NULL), WDTS_ERR_IO);

    assert_int_equal(server_start(), 0);
    int64_t deadline = wdts_time_mono_ms() + 20000;
    while (wdts_redis_reconnect(redis) != WDTS_OK) {
        if (wdts_time_mono_ms() > deadline)
            fail_msg("reconnect after restart: %s", redis->errstr);
        usleep(50000);
    }
    assert_int_equal(redis->err, WDTS_OK);

    /* the AOF kept the key */
    assert_int_equal(wdts_redis_command_str(redis, 2, get, NULL, &v, NULL), WDTS_OK);
    assert_non_null(v);
    assert_string_equal(v, "survives");
    free(v);

    /* the restart emptied the script cache; eval reloads it without the caller noticing */
    struct wdts_redis_reply *reply = NULL;
    assert_int_equal(
        wdts_redis_commandl(redis, &reply, "SCRIPT", "EXISTS", script->sha, NULL), WDTS_OK);
    assert_int_equal(wdts_redis_reply_int(wdts_redis_reply_elem(reply, 0)), 0);
    wdts_redis_reply_free(reply);
    assert_int_equal(wdts_redis_eval_int(redis, script, 1, keys, 1, args, &n), WDTS_OK);
    assert_int_equal(n, 2);

    wdts_buf_deinit(&b);
    wdts_redis_script_destroy(script);
    wdts_redis_destroy(redis);
}

struct ping {
    int done;
    char err[256];
    char reply[64];
};

static void on_ping(const struct wdts_redis_reply *reply, const char *err, void *opaque)
{
    struct ping *p = opaque;
    p->done = 1;
    if (err)
        wdts_strlcpy(p->err, err, sizeof(p->err));
    const char *s = reply ? wdts_redis_reply_str(reply, NULL) : NULL;
    if (s)
        wdts_strlcpy(p->reply, s, sizeof(p->reply));
}

/* Sends PING on ra and runs loop until its reply or within_ms. @returns the ms it took. */
static int64_t ping_async(struct wdts_loop *loop, struct wdts_redis_async *ra, struct ping *p,
                          int64_t within_ms)
{
    memset(p, 0, sizeof(*p));
    const char *argv[] = {"PING"};
    int64_t t0 = wdts_time_mono_ms();
    if (wdts_redis_async_command(ra, 1, argv, on_ping, p) != WDTS_OK) {
        wdts_strlcpy(p->err, "not sent", sizeof(p->err));
        p->done = 1;
    }
    while (!p->done && wdts_time_mono_ms() - t0 < within_ms)
        wdts_loop_run_once(loop, 50);
    return wdts_time_mono_ms() - t0;
}

static void wait_connected(struct wdts_loop *loop, struct wdts_redis_async *ra)
{
    int64_t deadline = wdts_time_mono_ms() + 10000;
    while (!wdts_redis_async_connected(ra)) {
        if (wdts_time_mono_ms() > deadline)
            fail_msg("the async client did not connect in 10 s");
        wdts_loop_run_once(loop, 50);
    }
}

static void test_async_stopped_server(void **state)
{
    (void)state;
    char es[256];
    struct wdts_loop *loop = wdts_loop_new(es, sizeof(es));
    assert_non_null(loop);
    struct wdts_redis_params p = params;
    p.command_timeout_ms = 600;
    struct wdts_redis_async *ra = wdts_redis_async_new(loop, &p, es, sizeof(es));
    assert_non_null(ra);
    wait_connected(loop, ra);
    struct ping ping;
    ping_async(loop, ra, &ping, 5000);
    assert_true(ping.done);
    assert_string_equal(ping.err, "");
    assert_string_equal(ping.reply, "PONG");

    /* stopped: the connection stays open and nothing answers */
    assert_int_equal(kill(srv.pid, SIGSTOP), 0);
    int64_t took = ping_async(loop, ra, &ping, 10000);
    print_message("stopped server: \"%s\" after %lld ms\n", ping.err, (long long)took);
    assert_true(ping.done);
    assert_non_null(strstr(ping.err, "no reply from Redis"));
    assert_true(took >= 600 && took < 5000);
    assert_false(wdts_redis_async_connected(ra));

    /* running again: the client reconnects by itself and commands answer */
    assert_int_equal(kill(srv.pid, SIGCONT), 0);
    wait_connected(loop, ra);
    ping_async(loop, ra, &ping, 5000);
    assert_string_equal(ping.err, "");
    assert_string_equal(ping.reply, "PONG");

    wdts_redis_async_destroy(ra);
    wdts_loop_destroy(loop);
}

static void test_async_wrong_password(void **state)
{
    (void)state;
    char es[256];
    struct wdts_loop *loop = wdts_loop_new(es, sizeof(es));
    assert_non_null(loop);
    struct wdts_redis_params p = params;
    wdts_strlcpy(p.password, "wrong-pw", sizeof(p.password));
    p.command_timeout_ms = 2000;
    struct wdts_redis_async *ra = wdts_redis_async_new(loop, &p, es, sizeof(es));
    assert_non_null(ra);
    int64_t deadline = wdts_time_mono_ms() + 5000;
    while (!wdts_redis_async_auth_refused(ra) && wdts_time_mono_ms() < deadline)
        wdts_loop_run_once(loop, 50);
    struct ping ping;
    ping_async(loop, ra, &ping, 5000);
    print_message("wrong password, async: refused %d, PING error \"%s\" reply \"%s\"\n",
                  wdts_redis_async_auth_refused(ra), ping.err, ping.reply);
    assert_true(wdts_redis_async_auth_refused(ra));
    assert_true(ping.done);
    assert_string_not_equal(ping.reply, "PONG"); /* NOAUTH: the command failed */
    wdts_redis_async_destroy(ra);

    /* the right password: not refused, PONG */
    ra = wdts_redis_async_new(loop, &params, es, sizeof(es));
    assert_non_null(ra);
    wait_connected(loop, ra);
    ping_async(loop, ra, &ping, 5000);
    assert_false(wdts_redis_async_auth_refused(ra));
    assert_string_equal(ping.reply, "PONG");
    wdts_redis_async_destroy(ra);
    wdts_loop_destroy(loop);
}

static int setup(void **state)
{
    (void)state;
    snprintf(srv_dir, sizeof(srv_dir), "/tmp/wdts-0203-XXXXXX");
    if (mkdtemp(srv_dir) == NULL) {
        perror("mkdtemp");
        return -1;
    }
    srv.port = wdts_test_unused_port();
    wdts_redis_params_init(&params);
    params.port = srv.port;
    wdts_strlcpy(params.password, PASSWORD, sizeof(params.password));
    wdts_strlcpy(params.prefix, wdts_test_prefix(), sizeof(params.prefix));
    return server_start();
}

static int teardown(void **state)
{
    (void)state;
    wdts_test_redis_server_kill(&srv, SIGTERM);
    wdts_test_rmtree(srv_dir);
    return 0;
}

int main(void)
{
    /* Runs under tests/run.sh like the other Redis tests, which also provides redis-server. */
    (void)wdts_test_require_env("WDT_TEST_REDIS_URL");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_distinct_errors),
        cmocka_unit_test(test_evalsha_after_script_flush),
        cmocka_unit_test(test_restart_and_reconnect),
        cmocka_unit_test(test_async_stopped_server),
        cmocka_unit_test(test_async_wrong_password),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
