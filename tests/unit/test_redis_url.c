/* Redis URL parsing, the separate password, key naming and script SHA1s: everything
 * of the Redis module that needs no server. */
#include "wdts_test.h"

#include <string.h>

#include "wdts/redis.h"

static struct wdts_redis_params parse_ok(const char *url)
{
    struct wdts_redis_params p;
    char es[256] = "";
    wdts_redis_params_init(&p);
    wdts_err_t err = wdts_redis_params_from_url(&p, url, es, sizeof(es));
    if (err != WDTS_OK)
        fail_msg("%s: %s", url, es);
    return p;
}

static void test_defaults(void **state)
{
    (void)state;
    struct wdts_redis_params p;
    wdts_redis_params_init(&p);
    assert_string_equal(p.host, "127.0.0.1");
    assert_int_equal(p.port, 6379);
    assert_int_equal(p.db, 0);
    assert_string_equal(p.password, "");
    assert_string_equal(p.prefix, "wdt:");
    assert_true(p.connect_timeout_ms > 0 && p.command_timeout_ms > 0);
}

static void test_host_port_db(void **state)
{
    (void)state;
    struct wdts_redis_params p = parse_ok("redis://localhost");
    assert_string_equal(p.host, "localhost");
    assert_int_equal(p.port, 6379);
    assert_int_equal(p.db, 0);
    assert_string_equal(p.user, "");
    assert_string_equal(p.password, "");

    p = parse_ok("redis://10.1.2.3:6380/3");
    assert_string_equal(p.host, "10.1.2.3");
    assert_int_equal(p.port, 6380);
    assert_int_equal(p.db, 3);

    p = parse_ok("REDIS://redis-0.redis_svc.ns:1/");
    assert_string_equal(p.host, "redis-0.redis_svc.ns");
    assert_int_equal(p.port, 1);
    assert_int_equal(p.db, 0);

    p = parse_ok("redis://h:65535/15");
    assert_int_equal(p.port, 65535);
    assert_int_equal(p.db, 15);

    p = parse_ok("redis://[::1]:7000/2");
    assert_string_equal(p.host, "::1");
    assert_int_equal(p.port, 7000);
    assert_int_equal(p.db, 2);

    p = parse_ok("redis://[fe80::1]");
    assert_string_equal(p.host, "fe80::1");
    assert_int_equal(p.port, 6379);
}

static void test_credentials(void **state)
{
    (void)state;
    struct wdts_redis_params p = parse_ok("redis://:secret@h:1/0");
    assert_string_equal(p.user, "");
    assert_string_equal(p.password, "secret");

    p = parse_ok("redis://alice:s%40cr%3At%25@h");
    assert_string_equal(p.user, "alice");
    assert_string_equal(p.password, "s@cr:t%");

    /* an unencoded '@', ':' or '/' in the password: the last '@' ends it */
    p = parse_ok("redis://:p@s:s/w@h:2/4");
    assert_string_equal(p.password, "p@s:s/w");
    assert_string_equal(p.host, "h");
    assert_int_equal(p.port, 2);
    assert_int_equal(p.db, 4);

    /* an empty password means no AUTH */
    p = parse_ok("redis://:@h");
    assert_string_equal(p.password, "");

    /* a URL without credentials clears earlier ones, and keeps timeouts and prefix */
    struct wdts_redis_params q;
    char es[256];
    wdts_redis_params_init(&q);
    q.command_timeout_ms = 1234;
    wdts_strlcpy(q.prefix, "x:", sizeof(q.prefix));
    assert_int_equal(wdts_redis_params_from_url(&q, "redis://u:pw@a/5", es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_redis_params_from_url(&q, "redis://b", es, sizeof(es)), WDTS_OK);
    assert_string_equal(q.host, "b");
    assert_string_equal(q.user, "");
    assert_string_equal(q.password, "");
    assert_int_equal(q.db, 0);
    assert_int_equal(q.command_timeout_ms, 1234);
    assert_string_equal(q.prefix, "x:");
}

static void test_separate_password_wins(void **state)
{
    (void)state;
    char es[256] = "";
    struct wdts_redis_params p = parse_ok("redis://alice:fromurl@h");
    assert_int_equal(wdts_redis_params_set_password(&p, NULL, es, sizeof(es)), WDTS_OK);
    assert_string_equal(p.password, "fromurl");
    assert_int_equal(wdts_redis_params_set_password(&p, "", es, sizeof(es)), WDTS_OK);
    assert_string_equal(p.password, "fromurl");
    assert_int_equal(wdts_redis_params_set_password(&p, "fromfile", es, sizeof(es)), WDTS_OK);
    assert_string_equal(p.password, "fromfile");
    assert_string_equal(p.user, "alice");

    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(wdts_redis_params_set_password(&p, big, es, sizeof(es)), WDTS_ERR_CONFIG);
    assert_non_null(strstr(es, "longer than"));
    assert_string_equal(p.password, "fromfile");
}

/* Each bad URL fails with WDTS_ERR_CONFIG, a message containing want, params untouched. */
static void expect_bad(const char *url, const char *want)
{
    struct wdts_redis_params p, before;
    char es[256] = "";
    wdts_redis_params_init(&p);
    wdts_strlcpy(p.host, "unchanged", sizeof(p.host));
    before = p;
    wdts_err_t err = wdts_redis_params_from_url(&p, url, es, sizeof(es));
    if (err != WDTS_ERR_CONFIG)
        fail_msg("%s: expected a config error, got %d (%s)", url ? url : "(null)", err, es);
    if (strstr(es, want) == NULL)
        fail_msg("%s: message \"%s\" lacks \"%s\"", url ? url : "(null)", es, want);
    assert_memory_equal(&p, &before, sizeof(p));
}

static void test_bad_urls(void **state)
{
    (void)state;
    expect_bad(NULL, "no Redis URL");
    expect_bad("", "no Redis URL");
    expect_bad("localhost:6379", "must start with redis://");
    expect_bad("http://h", "must start with redis://");
    expect_bad("rediss://h:6380", "TLS");
    expect_bad("unix:///run/redis.sock", "unix sockets");
    expect_bad("redis://", "no host");
    expect_bad("redis://:6379/0", "no host");
    expect_bad("redis://:pw@", "no host");
    expect_bad("redis://h:0", "port '0'");
    expect_bad("redis://h:65536", "port '65536'");
    expect_bad("redis://h:abc", "port 'abc'");
    expect_bad("redis://h:", "port ''");
    expect_bad("redis://h:+80", "port '+80'");
    expect_bad("redis://h:6379x/1", "port '6379x'");
    expect_bad("redis://h/x", "db 'x'");
    expect_bad("redis://h/-1", "db '-1'");
    expect_bad("redis://h/1/2", "db '1/2'");
    expect_bad("redis://h/ 1", "db ' 1'");
    expect_bad("redis://h/99999999999", "db '99999999999'");
    expect_bad("redis://h?timeout=1", "'?'");
    expect_bad("redis://h:1/0#x", "'?' or '#'");
    expect_bad("redis://alice@h", "has no ':'");
    expect_bad("redis://:a%zz@h", "bad %-escape");
    expect_bad("redis://:a%4@h", "bad %-escape");
    expect_bad("redis://:a%00b@h", "bad %-escape");
    expect_bad("redis://[::1", "no ']'");
    expect_bad("redis://[::1]x", "unexpected 'x'");
    expect_bad("redis://ho st", "not allowed in a host");
    expect_bad("redis://h*st:1", "not allowed in a host");
}

static void test_errors_never_show_the_password(void **state)
{
    (void)state;
    const char *urls[] = {"redis://:topsecret@bad host", "redis://u:topsecret@h:99999",
                          "redis://:topsecret@h/db", "redis://:topsecret%zz@h",
                          "redis://:topsecret@h?x=1"};
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        struct wdts_redis_params p;
        char es[256] = "";
        wdts_redis_params_init(&p);
        assert_int_equal(wdts_redis_params_from_url(&p, urls[i], es, sizeof(es)), WDTS_ERR_CONFIG);
        assert_true(es[0] != '\0');
        if (strstr(es, "topsecret"))
            fail_msg("%s: message shows the password: %s", urls[i], es);
    }
}

static void test_describe(void **state)
{
    (void)state;
    char out[300];
    struct wdts_redis_params p = parse_ok("redis://:pw@h:7/0");
    assert_string_equal(wdts_redis_params_describe(&p, out, sizeof(out)), "h:7");
    p = parse_ok("redis://u:pw@[::1]:7000/2");
    assert_string_equal(wdts_redis_params_describe(&p, out, sizeof(out)), "[::1]:7000/2");
    assert_null(strstr(out, "pw"));
}

static void test_keys(void **state)
{
    (void)state;
    struct wdts_buf b;
    wdts_buf_init(&b);
    assert_string_equal(wdts_redis_key(&b, NULL, "lock", "c1", "trades", NULL), "wdt:lock:c1:trades");
    assert_string_equal(wdts_redis_key(&b, "t1-ab-", "wm", NULL), "t1-ab-wm");
    assert_string_equal(wdts_redis_key(&b, "", "a", "", "b", NULL), "a::b");
    /* ':' and '%' inside a part are escaped, so part lists cannot collide */
    assert_string_equal(wdts_redis_key(&b, "p:", "rl", "http://127.0.0.1:8080/x", "sid", NULL),
                        "p:rl:http%3A//127.0.0.1%3A8080/x:sid");
    char k1[64], k2[64];
    wdts_strlcpy(k1, wdts_redis_key(&b, NULL, "a:b", "c", NULL), sizeof(k1));
    wdts_strlcpy(k2, wdts_redis_key(&b, NULL, "a", "b:c", NULL), sizeof(k2));
    assert_string_not_equal(k1, k2);
    assert_string_equal(wdts_redis_key(&b, NULL, "100%", NULL), "wdt:100%25");
    wdts_buf_deinit(&b);
}

static void test_script_sha(void **state)
{
    (void)state;
    /* the SHA1 that SCRIPT LOAD "return 1" returns */
    struct wdts_redis_script *s = wdts_redis_script_new("one", "return 1");
    assert_string_equal(s->sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    assert_string_equal(s->name, "one");
    assert_int_equal(s->len, 8);
    wdts_redis_script_destroy(s);
    wdts_redis_script_destroy(NULL);
}

static void test_reply_accessors_take_null(void **state)
{
    (void)state;
    size_t len = 99;
    assert_int_equal(wdts_redis_reply_type(NULL), WDTS_REDIS_NIL);
    assert_int_equal(wdts_redis_reply_int(NULL), 0);
    assert_null(wdts_redis_reply_str(NULL, &len));
    assert_int_equal(len, 0);
    assert_int_equal(wdts_redis_reply_count(NULL), 0);
    assert_null(wdts_redis_reply_elem(NULL, 0));
    wdts_redis_reply_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_host_port_db),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_separate_password_wins),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_errors_never_show_the_password),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_script_sha),
        cmocka_unit_test(test_reply_accessors_take_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
