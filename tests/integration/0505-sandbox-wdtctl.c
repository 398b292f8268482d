/* wdt-sandbox against `wdtctl call`, the API client's own signing: direct and
 * Qimen (md5, hmac, hmac-sha256) calls are accepted; the exact request wdtctl
 * would send (--dry-run) with one byte changed is refused as the real gateway
 * refuses it; and every refusal the sandbox gives reaches the client as the
 * error class it stands for (auth, clock, permission, bad request, rate-limited,
 * transient). */
#include "wdts_test_sandbox.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdts/mem.h"
#include "wdts/time.h"
#include "wdts_test.h"
#include "wdts_test_http.h"

static struct sbx_proc sbx;
static int64_t T;
static char gw_direct[128], gw_qimen[128], ts[32], params[160], wide[160], refund_params[160];

static int setup(void **state)
{
    (void)state;
    /* Requests are signed with the frozen sandbox time. */
    if (sbx_start_demo_frozen(&sbx, &T) != 0)
        return -1;
    snprintf(gw_direct, sizeof(gw_direct), "%s/openapi", sbx.base);
    snprintf(gw_qimen, sizeof(gw_qimen), "%s/router/qm", sbx.base);
    snprintf(ts, sizeof(ts), "%lld", (long long)T);
    char a[WDTS_BJTIME_LEN], b[WDTS_BJTIME_LEN], c[WDTS_BJTIME_LEN];
    wdts_time_format_beijing(T - 7200, a);
    wdts_time_format_beijing(T - 3600, b);
    wdts_time_format_beijing(T - 3599, c);
    snprintf(params, sizeof(params), "{\"start_time\":\"%s\",\"end_time\":\"%s\"}", a, b);
    snprintf(wide, sizeof(wide), "{\"start_time\":\"%s\",\"end_time\":\"%s\"}", a, c);
    snprintf(refund_params, sizeof(refund_params),
             "{\"modified_from\":\"%s\",\"modified_to\":\"%s\"}", a, b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return sbx_stop(&sbx, 10000) == 0 ? 0 : -1;
}

/* Runs wdtctl call with the demo credentials plus extra args (NULL-terminated). */
static void ctl(struct wdts_test_run *run, const char *app, const char *gateway,
                const char *const *extra)
{
    const char *argv[48];
    size_t n = 0;
    char *bin = wdts_xstrdup(wdts_test_bin("wdtctl"));
    argv[n++] = bin;
    argv[n++] = "call";
    argv[n++] = "--app";
    argv[n++] = app;
    argv[n++] = "--gateway";
    argv[n++] = gateway;
    argv[n++] = "--timeout";
    argv[n++] = "20";
    if (strcmp(app, "qimen") == 0) {
        argv[n++] = "--qimen-app-key";
        argv[n++] = DEMO_QKEY;
    }
    /* Secrets go the way users should give them: the appsecret on standard input, the Qimen
     * secret in a file; never on the command line. */
    const char *appsecret = NULL;
    char qpath[] = "/tmp/wdts-0505-qm.XXXXXX";
    int qfd = -1;
    for (size_t i = 0; extra[i] && n < 46; i++) {
        if (strcmp(extra[i], "--appsecret") == 0 && extra[i + 1]) {
            appsecret = extra[++i];
            argv[n++] = "--appsecret-file";
            argv[n++] = "-";
        } else if (strcmp(extra[i], "--qimen-app-secret") == 0 && extra[i + 1] && qfd < 0) {
            qfd = mkstemp(qpath);
            assert_true(qfd >= 0);
            i++;
            assert_int_equal(write(qfd, extra[i], strlen(extra[i])), (ssize_t)strlen(extra[i]));
            close(qfd);
            argv[n++] = "--qimen-app-secret-file";
            argv[n++] = qpath;
        } else {
            argv[n++] = extra[i];
        }
    }
    argv[n] = NULL;
    assert_int_equal(wdts_test_run((char *const *)argv, appsecret, 60, run), 0);
    if (qfd >= 0)
        unlink(qpath);
    assert_null(strstr(run->err, "WARNING"));
    free(bin);
}

static void expect_run(struct wdts_test_run *run, int exit_code, const char *text)
{
    if (run->status != exit_code || (text && strstr(run->out, text) == NULL))
        fail_msg("want exit %d with '%s'; got exit %d\nstdout: %.600s\nstderr: %.300s", exit_code,
                 text ? text : "", run->status, run->out, run->err);
}

#define CREDS "--sid", DEMO_SID, "--appkey", DEMO_KEY, "--appsecret", DEMO_SECRET ":" DEMO_SALT

static void test_accepted(void **state)
{
    (void)state;
    struct wdts_test_run run;
    const char *direct[] = {CREDS, "--method", "sales.TradeQuery.queryWithDetail", "--params",
                            params, "--page-size", "5", "--calc-total", "--timestamp", ts, NULL};
    ctl(&run, "wdt", gw_direct, direct);
    expect_run(&run, 0, "class: ok");
    assert_non_null(strstr(run.out, "\"total_count\":"));
    wdts_test_run_free(&run);

    const char *methods[] = {"md5", "hmac", "hmac-sha256"};
    for (size_t i = 0; i < 3; i++) {
        const char *qimen[] = {CREDS, "--qimen-app-secret", DEMO_QSECRET, "--sign-method",
                               methods[i], "--method", "sales.TradeQuery.queryWithDetail",
                               "--params", params, "--page-size", "5", "--page-no", "1",
                               "--timestamp", ts, i == 2 ? "--qimen-method-prefix" : NULL,
                               "3ldsmu02o9.", NULL};
        ctl(&run, "qimen", gw_qimen, qimen);
        expect_run(&run, 0, "class: ok");
        assert_non_null(strstr(run.out, "{\"response\":{\"status\":0"));
        wdts_test_run_free(&run);
    }
}

/* The request wdtctl would send, from --dry-run. @owner json_decref. */
static json_t *dry_run(const char *app, const char *gateway, const char *const *extra)
{
    struct wdts_test_run run;
    const char *args[32];
    size_t n = 0;
    for (size_t i = 0; extra[i]; i++)
        args[n++] = extra[i];
    args[n++] = "--dry-run";
    args[n] = NULL;
    ctl(&run, app, gateway, args);
    expect_run(&run, 0, NULL);
    json_t *j = json_loads(run.out, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(j);
    wdts_test_run_free(&run);
    return j;
}

static json_t *post(const char *url, const char *body, const char *ctype)
{
    struct http_res r;
    http_do(url, body, ctype, 30000, &r);
    assert_int_equal(r.code, 200);
    json_t *j = answer_json(&r);
    http_res_free(&r);
    return j;
}

static void test_changed_byte_refused(void **state)
{
    (void)state;
    const char *direct[] = {CREDS, "--method", "sales.TradeQuery.queryWithDetail", "--params",
                            params, "--page-size", "5", "--timestamp", ts, NULL};
    json_t *req = dry_run("wdt", gw_direct, direct);
    const char *url = json_string_value(json_object_get(req, "url"));
    const char *body = json_string_value(json_object_get(req, "body"));
    const char *ctype = json_string_value(json_object_get(req, "content_type"));
    assert_non_null(url);
    assert_non_null(body);

    json_t *j = post(url, body, ctype); /* exactly as wdtctl sends it */
    expect_status(j, 0, NULL);
    json_decref(j);
    /* Every byte position of the body, one at a time, gets 验证失败 (or 参数错误 is never
     * reached: the signature is checked first). Bytes 1, middle and last are enough. */
    size_t blen = strlen(body);
    size_t at[] = {1, blen / 2, blen - 2};
    for (size_t i = 0; i < 3; i++) {
        char *b = wdts_xstrdup(body);
        b[at[i]] = b[at[i]] == '1' ? '2' : '1';
        j = post(url, b, ctype);
        expect_status(j, 1, "验证失败");
        json_decref(j);
        free(b);
    }
    /* One byte of the query: a digit of the timestamp (still within the skew). */
    char *u = wdts_xstrdup(url);
    char *tsp = strstr(u, "timestamp=");
    assert_non_null(tsp);
    char *last = tsp + strlen("timestamp=");
    while (last[1] >= '0' && last[1] <= '9')
        last++;
    *last = *last == '0' ? '1' : '0';
    j = post(u, body, ctype);
    expect_status(j, 1, "验证失败");
    json_decref(j);
    free(u);
    json_decref(req);

    /* Qimen: a changed byte in the form body breaks the outer TOP signature. */
    const char *qimen[] = {CREDS, "--qimen-app-secret", DEMO_QSECRET, "--method",
                           "sales.TradeQuery.queryWithDetail", "--params", params, "--page-size",
                           "5", "--timestamp", ts, NULL};
    req = dry_run("qimen", gw_qimen, qimen);
    url = json_string_value(json_object_get(req, "url"));
    body = json_string_value(json_object_get(req, "body"));
    ctype = json_string_value(json_object_get(req, "content_type"));
    j = post(url, body, ctype);
    expect_status(j, 0, NULL);
    json_decref(j);
    char *b = wdts_xstrdup(body);
    char *salt = strstr(b, "wdt_salt=");
    assert_non_null(salt);
    salt[9] = salt[9] == 'x' ? 'y' : 'x';
    j = post(url, b, ctype);
    json_t *er = json_object_get(j, "error_response");
    assert_non_null(er);
    assert_int_equal(json_integer_value(json_object_get(er, "code")), 25);
    json_decref(j);
    free(b);
    json_decref(req);
}

static void test_error_classes(void **state)
{
    (void)state;
    struct wdts_test_run run;
    char skewed[32];
    snprintf(skewed, sizeof(skewed), "%lld", (long long)(T - 600));

    const char *bad_secret[] = {"--sid", DEMO_SID, "--appkey", DEMO_KEY, "--appsecret",
                                "wrong:" DEMO_SALT, "--method", "system.Core.now", "--timestamp",
                                ts, NULL};
    ctl(&run, "wdt", gw_direct, bad_secret);
    expect_run(&run, 5, "验证失败");
    wdts_test_run_free(&run);

    const char *bad_sid[] = {"--sid", "nobody", "--appkey", DEMO_KEY, "--appsecret",
                             DEMO_SECRET ":" DEMO_SALT, "--method", "system.Core.now",
                             "--timestamp", ts, NULL};
    ctl(&run, "wdt", gw_direct, bad_sid);
    expect_run(&run, 5, "sid is not exists");
    wdts_test_run_free(&run);

    const char *skew[] = {CREDS, "--method", "system.Core.now", "--timestamp", skewed, NULL};
    ctl(&run, "wdt", gw_direct, skew);
    expect_run(&run, 4, "时间戳错误");
    wdts_test_run_free(&run);

    const char *perm[] = {"--sid", "demo-shop-2", "--appkey", "demo2-app", "--appsecret",
                          "demo2-secret:demo2-salt", "--method",
                          "aftersales.refund.Refund.search", "--params", refund_params,
                          "--page-size", "10", "--timestamp", ts, NULL};
    ctl(&run, "wdt", gw_direct, perm);
    expect_run(&run, 6, "权限不足");
    wdts_test_run_free(&run);

    const char *too_wide[] = {CREDS, "--method", "sales.TradeQuery.queryWithDetail", "--params",
                              wide, "--page-size", "5", "--timestamp", ts, NULL};
    ctl(&run, "wdt", gw_direct, too_wide);
    expect_run(&run, 7, "查询时间不能大于60分钟");
    wdts_test_run_free(&run);

    const char *qbad[] = {CREDS, "--qimen-app-secret", "not-the-secret", "--method",
                          "sales.TradeQuery.queryWithDetail", "--params", params, "--page-size",
                          "5", "--timestamp", ts, NULL};
    ctl(&run, "qimen", gw_qimen, qbad);
    expect_run(&run, 5, "Invalid signature");
    wdts_test_run_free(&run);
}

static void test_fault_classes(void **state)
{
    (void)state;
    static const struct {
        const char *faults;
        int exit_code;
    } cases[] = {{"status4=1", 2}, {"status99=1", 2}, {"truncate=1", 2}, {"http5xx=1", 2},
                 {"ratelimit=1", 3}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sbx_proc p;
        const char *args[] = {"--demo", "--faults", cases[i].faults, NULL};
        assert_int_equal(sbx_start(&p, args), 0);
        char gw[128], now[32];
        snprintf(gw, sizeof(gw), "%s/openapi", p.base);
        snprintf(now, sizeof(now), "%lld", (long long)wdts_time_now());
        const char *call[] = {CREDS, "--method", "system.Core.now", "--timestamp", now, NULL};
        struct wdts_test_run run;
        ctl(&run, "wdt", gw, call);
        if (run.status != cases[i].exit_code)
            fail_msg("--faults %s: wdtctl exit %d, want %d\n%s", cases[i].faults, run.status,
                     cases[i].exit_code, run.out);
        wdts_test_run_free(&run);
        assert_int_equal(sbx_stop(&p, 10000), 0);
    }
}

/* The gateway checks timestamps against its own (real) clock whatever speed the data
 * clock runs at, so a client signing with its own clock is accepted by a sped-up
 * sandbox; a gateway clock off by 10 minutes refuses it as the clock class. */
static void test_timestamp_clock(void **state)
{
    (void)state;
    static const struct {
        const char *skew;
        int exit_code;
    } cases[] = {{"0", 0}, {"600", 4}, {"-600", 4}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sbx_proc p;
        const char *args[] = {"--demo", "--clock", "speed:3600", "--timestamp-skew", cases[i].skew,
                              NULL};
        assert_int_equal(sbx_start(&p, args), 0);
        char gw[128];
        snprintf(gw, sizeof(gw), "%s/openapi", p.base);
        const char *call[] = {CREDS, "--method", "system.Core.now", NULL};
        struct wdts_test_run run;
        ctl(&run, "wdt", gw, call);
        if (run.status != cases[i].exit_code)
            fail_msg("--timestamp-skew %s: wdtctl exit %d, want %d\n%s", cases[i].skew,
                     run.status, cases[i].exit_code, run.out);
        wdts_test_run_free(&run);
        assert_int_equal(sbx_stop(&p, 10000), 0);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_changed_byte_refused),
        cmocka_unit_test(test_error_classes),
        cmocka_unit_test(test_fault_classes),
        cmocka_unit_test(test_timestamp_clock),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
