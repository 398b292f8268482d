/* wdt-sandbox faults appear as configured: HTTP 502, status 4/5/99, rate-limit
 * answers, truncated bodies, hangs past the client timeout (and a stop that does
 * not wait for them), probabilities and schedules; each is counted on /metrics. */
#include "wdts_test_sandbox.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "wdts/time.h"
#include "wdts_test.h"
#include "wdts_test_http.h"

static int start_with(struct sbx_proc *p, const char *faults)
{
    const char *args[] = {"--demo", "--faults", faults, NULL};
    return sbx_start(p, args);
}

static void call_now(const struct sbx_proc *p, struct http_res *r, long timeout_ms)
{
    struct direct_req d;
    direct_defaults(&d, "system.Core.now", "[]", wdts_time_now());
    char *url = direct_url(p, &d);
    http_do(url, d.body, "application/json", timeout_ms, r);
    free(url);
}

static void test_status_faults(void **state)
{
    (void)state;
    static const struct {
        const char *spec, *kind;
        int status;
        const char *message;
    } cases[] = {
        {"status4=1", "status4", 4, "数据库错误"},
        {"status5=1.0", "status5", 5, "数据库错误"},
        {"status99=1", "status99", 99, "其他错误"},
        {"ratelimit=1", "ratelimit", 100, "超过每分钟最大调用频率限制，请稍后重试"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sbx_proc p;
        assert_int_equal(start_with(&p, cases[i].spec), 0);
        struct http_res r;
        call_now(&p, &r, 30000);
        assert_int_equal(r.code, 200);
        json_t *j = answer_json(&r);
        expect_status(j, cases[i].status, cases[i].message);
        json_decref(j);
        http_res_free(&r);
        /* The Qimen route answers the same inside "response". */
        struct qimen_req q;
        qimen_defaults(&q, "wdt.system.core.now", NULL, NULL, wdts_time_now());
        j = qimen_call(&p, &q);
        assert_non_null(json_object_get(j, "response"));
        expect_status(j, cases[i].status, cases[i].message);
        json_decref(j);
        char frag[64];
        snprintf(frag, sizeof(frag), "kind=\"%s\"", cases[i].kind);
        assert_int_equal(metric_value(&p, "wdt_sandbox_faults_injected_total{", frag), 2);
        if (cases[i].status == 100)
            assert_int_equal(metric_value(&p, "wdt_sandbox_limit_answers_total{", "limit=\"fault\""), 2);
        assert_int_equal(sbx_stop(&p, 10000), 0);
    }
}

/* The malformed answers: status 0 with data but no record list (total_count 5), and a
 * status that is no number beside data; on both routes. */
static void test_malformed_faults(void **state)
{
    (void)state;
    struct sbx_proc p;
    struct http_res r;
    assert_int_equal(start_with(&p, "nolist=1"), 0);
    call_now(&p, &r, 30000);
    assert_int_equal(r.code, 200);
    json_t *j = answer_json(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 0);
    json_t *data = json_object_get(j, "data");
    assert_int_equal(json_integer_value(json_object_get(data, "total_count")), 5);
    assert_int_equal(json_object_size(data), 1);
    json_decref(j);
    http_res_free(&r);
    struct qimen_req q;
    qimen_defaults(&q, "wdt.system.core.now", NULL, NULL, wdts_time_now());
    j = qimen_call(&p, &q);
    data = json_object_get(json_object_get(j, "response"), "data");
    assert_int_equal(json_integer_value(json_object_get(data, "total_count")), 5);
    json_decref(j);
    assert_int_equal(metric_value(&p, "wdt_sandbox_faults_injected_total{", "kind=\"nolist\""), 2);
    assert_int_equal(sbx_stop(&p, 10000), 0);

    assert_int_equal(start_with(&p, "badstatus=1"), 0);
    call_now(&p, &r, 30000);
    assert_int_equal(r.code, 200);
    j = answer_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "error");
    assert_true(json_is_array(json_object_get(json_object_get(j, "data"), "order")));
    json_decref(j);
    http_res_free(&r);
    assert_int_equal(metric_value(&p, "wdt_sandbox_faults_injected_total{", "kind=\"badstatus\""),
                     1);
    assert_int_equal(sbx_stop(&p, 10000), 0);
}

static void test_http5xx_and_truncate(void **state)
{
    (void)state;
    struct sbx_proc p;
    struct http_res r;
    assert_int_equal(start_with(&p, "http5xx=1"), 0);
    call_now(&p, &r, 30000);
    assert_int_equal(r.code, 502);
    assert_null(json_loads(r.body, 0, NULL));
    http_res_free(&r);
    assert_int_equal(metric_value(&p, "wdt_sandbox_calls_total{", "status=\"http:502\""), 1);
    assert_int_equal(sbx_stop(&p, 10000), 0);

    assert_int_equal(start_with(&p, "truncate=1"), 0);
    call_now(&p, &r, 30000);
    assert_int_equal(r.code, 200);
    assert_int_equal(r.cerr, CURLE_OK);
    assert_true(r.len > 0);
    json_error_t e;
    json_t *j = json_loads(r.body, 0, &e);
    if (j != NULL)
        fail_msg("a truncated body parsed as JSON: %s", r.body);
    assert_int_equal(r.body[0], '{');
    http_res_free(&r);
    assert_int_equal(sbx_stop(&p, 10000), 0);
}

static void test_hang_and_prompt_stop(void **state)
{
    (void)state;
    struct sbx_proc p;
    struct http_res r;
    assert_int_equal(start_with(&p, "hang=1,hangtime=300s"), 0);
    int64_t t0 = wdts_time_mono_ms();
    call_now(&p, &r, 1000);
    assert_int_equal(r.cerr, CURLE_OPERATION_TIMEDOUT);
    assert_true(wdts_time_mono_ms() - t0 >= 900);
    http_res_free(&r);
    /* /healthz still answers while the connection is held. */
    char url[128];
    snprintf(url, sizeof(url), "%s/healthz", p.base);
    http_do(url, NULL, NULL, 10000, &r);
    assert_int_equal(r.code, 200);
    http_res_free(&r);
    assert_int_equal(metric_value(&p, "wdt_sandbox_faults_injected_total{", "kind=\"hang\""), 1);
    /* A stop does not wait for the 300 s hang. */
    t0 = wdts_time_mono_ms();
    assert_int_equal(sbx_stop(&p, 10000), 0);
    assert_true(wdts_time_mono_ms() - t0 < 10000);
}

static void test_schedule_and_probability(void **state)
{
    (void)state;
    struct sbx_proc p;
    struct http_res r;
    /* 502 for the first 4 s after start, never status 99 before an hour. */
    assert_int_equal(start_with(&p, "http5xx@0s-4s=1.0,status99@1h-=1"), 0);
    int64_t t0 = wdts_time_mono_ms();
    call_now(&p, &r, 30000);
    int64_t elapsed = wdts_time_mono_ms() - t0;
    if (elapsed < 3000)
        assert_int_equal(r.code, 502);
    http_res_free(&r);
    usleep(4200 * 1000);
    call_now(&p, &r, 30000);
    assert_int_equal(r.code, 200);
    json_t *j = answer_json(&r);
    expect_status(j, 0, NULL);
    json_decref(j);
    http_res_free(&r);
    assert_int_equal(sbx_stop(&p, 10000), 0);

    /* Half the calls get status 5. */
    assert_int_equal(start_with(&p, "status5=0.5,seed=3"), 0);
    int faulted = 0, ok = 0;
    for (int i = 0; i < 40; i++) {
        call_now(&p, &r, 30000);
        j = answer_json(&r);
        int st = (int)json_integer_value(json_object_get(j, "status"));
        faulted += st == 5;
        ok += st == 0;
        json_decref(j);
        http_res_free(&r);
    }
    assert_int_equal(faulted + ok, 40);
    assert_true(faulted >= 8 && faulted <= 32);
    assert_int_equal(metric_value(&p, "wdt_sandbox_faults_injected_total{", "kind=\"status5\""),
                     faulted);
    assert_int_equal(sbx_stop(&p, 10000), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_faults),
        cmocka_unit_test(test_malformed_faults),
        cmocka_unit_test(test_http5xx_and_truncate),
        cmocka_unit_test(test_hang_and_prompt_stop),
        cmocka_unit_test(test_schedule_and_probability),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
