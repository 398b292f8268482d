/* wdt-sandbox limits: calls per minute and calls in flight per tenant answer the
 * gateway's two status-100 messages once exceeded, and are counted on /metrics;
 * a delayed answer does not hold a server thread (one thread, many delayed
 * calls at once); a tenants file with problems is refused with all of them. */
#include <pthread.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"
#include "wdts/time.h"
#include "wdts_test.h"
#include "wdts_test_http.h"
#include "wdts_test_sandbox.h"

static struct sbx_proc sbx;
static char dir[256];

#define TENANTS                                                                                    \
    "[{\"sid\":\"rate-shop\",\"appkey\":\"rk\",\"appsecret\":\"rs:rsalt\",\"rate_per_min\":5},"    \
    " {\"sid\":\"conc-shop\",\"appkey\":\"ck\",\"appsecret\":\"cs:csalt\",\"concurrency\":1},"     \
    " {\"sid\":\"free-shop\",\"appkey\":\"fk\",\"appsecret\":\"fs:fsalt\"}]"

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sbx-limits.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    const char *path = wdts_test_write_file(dir, "tenants.json", TENANTS);
    /* Every answer waits 600 ms, so calls overlap; one HTTP thread serves them all. */
    const char *args[] = {"--tenants", path, "--faults", "latency=600ms", "--threads", "1", NULL};
    return sbx_start(&sbx, args) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = sbx_stop(&sbx, 10000);
    sbx_rmdir(dir);
    return rc == 0 ? 0 : -1;
}

static void tenant_req(struct direct_req *d, const char *who)
{
    direct_defaults(d, "system.Core.now", "[]", wdts_time_now());
    d->sid = who[0] == 'r' ? "rate-shop" : who[0] == 'c' ? "conc-shop" : "free-shop";
    d->key = who[0] == 'r' ? "rk" : who[0] == 'c' ? "ck" : "fk";
    d->secret = who[0] == 'r' ? "rs" : who[0] == 'c' ? "cs" : "fs";
    d->salt = who[0] == 'r' ? "rsalt" : who[0] == 'c' ? "csalt" : "fsalt";
}

static void test_rate_per_minute(void **state)
{
    (void)state;
    struct direct_req d;
    for (int i = 0; i < 5; i++) {
        tenant_req(&d, "rate");
        json_t *j = direct_call(&sbx, &d);
        expect_status(j, 0, NULL);
        json_decref(j);
    }
    tenant_req(&d, "rate");
    json_t *j = direct_call(&sbx, &d);
    expect_status(j, 100, "超过每分钟最大调用频率限制，请稍后重试");
    json_decref(j);
    /* Another tenant is not limited by it. */
    tenant_req(&d, "free");
    j = direct_call(&sbx, &d);
    expect_status(j, 0, NULL);
    json_decref(j);
    assert_true(metric_value(&sbx, "wdt_sandbox_limit_answers_total{", "limit=\"rate\"") >= 1);
}

struct par {
    const char *who;
    int status;
    char message[160];
};

static void *par_call(void *arg)
{
    struct par *p = arg;
    struct direct_req d;
    tenant_req(&d, p->who);
    char *url = direct_url(&sbx, &d);
    struct http_res r;
    http_do(url, d.body, "application/json", 30000, &r);
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    p->status = j ? (int)json_integer_value(json_object_get(j, "status")) : -1;
    snprintf(p->message, sizeof(p->message), "%s",
             j && json_string_value(json_object_get(j, "message"))
                 ? json_string_value(json_object_get(j, "message"))
                 : "");
    json_decref(j);
    http_res_free(&r);
    free(url);
    return NULL;
}

/* Runs n calls of tenant who at once. @returns the wall time in ms. */
static int64_t run_parallel(const char *who, struct par *ps, int n)
{
    pthread_t th[16];
    int64_t t0 = wdts_time_mono_ms();
    for (int i = 0; i < n; i++) {
        ps[i].who = who;
        pthread_create(&th[i], NULL, par_call, &ps[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    return wdts_time_mono_ms() - t0;
}

static void test_concurrency(void **state)
{
    (void)state;
    struct par ps[4];
    memset(ps, 0, sizeof(ps));
    run_parallel("conc", ps, 4);
    int ok = 0, refused = 0;
    for (int i = 0; i < 4; i++) {
        if (ps[i].status == 0)
            ok++;
        else if (ps[i].status == 100 &&
                 strcmp(ps[i].message, "超过每分钟最大并发次数限制，请稍后重试") == 0)
            refused++;
        else
            fail_msg("unexpected answer: status %d message %s", ps[i].status, ps[i].message);
    }
    /* One call holds the only slot for 600 ms; the others arrive meanwhile. */
    assert_true(ok >= 1);
    assert_true(refused >= 1);
    assert_true(metric_value(&sbx, "wdt_sandbox_limit_answers_total{", "limit=\"concurrency\"") >= 1);
    /* Once the slot is free again, a call goes through. */
    struct direct_req d;
    tenant_req(&d, "conc");
    json_t *j = direct_call(&sbx, &d);
    expect_status(j, 0, NULL);
    json_decref(j);
}

static void test_delay_does_not_block(void **state)
{
    (void)state;
    struct par ps[10];
    memset(ps, 0, sizeof(ps));
    int64_t ms = run_parallel("free", ps, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(ps[i].status, 0);
    /* Served one after another on the one thread this would take 6 s. */
    if (ms >= 4000)
        fail_msg("10 delayed calls took %lld ms: delays block the server thread", (long long)ms);
    assert_true(metric_value(&sbx, "wdt_sandbox_faults_injected_total{", "kind=\"latency\"") >= 10);
}

static void test_bad_tenants_file(void **state)
{
    (void)state;
    const char *path = wdts_test_write_file(dir, "bad.json",
                                  "[{\"sid\":\"a\",\"appkey\":\"k\",\"appsecret\":\"nosalt\","
                                  "\"rate_per_min\":-1,\"permissions\":[\"no.such.Method\"],"
                                  "\"colour\":\"red\"},{\"sid\":\"a\",\"appsecret\":\"s:t\","
                                  "\"qimen_app_key\":\"q\"},{\"sid\":\"bad\\\"sid\",\"appkey\":\"k\","
                                  "\"appsecret\":\"s:t\"}]");
    char *argv[] = {(char *)wdts_test_bin("wdt-sandbox"), "--listen", "127.0.0.1:0", "--tenants",
                    (char *)path, NULL};
    char *bin = wdts_xstrdup(argv[0]);
    argv[0] = bin;
    struct wdts_test_run run;
    assert_int_equal(wdts_test_run(argv, NULL, 30, &run), 0);
    assert_int_equal(run.status, 78);
    const char *want[] = {"secret:salt", "rate_per_min", "no.such.Method", "colour",
                          "same sid", "\"appkey\" is missing", "qimen_app_secret",
                          "may hold letters"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(run.err, want[i]) == NULL)
            fail_msg("stderr does not name '%s':\n%s", want[i], run.err);
    wdts_test_run_free(&run);

    char *argv2[] = {bin, "--listen", "127.0.0.1:0", "--demo", "--faults", "http5xx=2", NULL};
    assert_int_equal(wdts_test_run(argv2, NULL, 30, &run), 0);
    assert_int_equal(run.status, 64);
    assert_non_null(strstr(run.err, "http5xx=2"));
    wdts_test_run_free(&run);

    char *argv3[] = {bin, "--listen", "127.0.0.1:0", "--demo", "--clock", "fast", NULL};
    assert_int_equal(wdts_test_run(argv3, NULL, 30, &run), 0);
    assert_int_equal(run.status, 64);
    assert_non_null(strstr(run.err, "speed:FACTOR"));
    wdts_test_run_free(&run);
    free(bin);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_per_minute),
        cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_delay_does_not_block),
        cmocka_unit_test(test_bad_tenants_file),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
