/* The metrics registry: exact text of a small registry in the 0.0.4 format, label and HELP
 * escaping, cumulative histogram buckets with +Inf, _sum and _count, and refused names. */
#include "wdts_test.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/metrics.h"
#include "wdts/str.h"

static char *render(struct wdts_metrics *reg)
{
    struct wdts_buf b;
    wdts_buf_init(&b);
    wdts_metrics_render(reg, &b);
    return wdts_buf_steal(&b);
}

static void test_small_registry_exact_text(void **state)
{
    (void)state;
    char es[256];
    struct wdts_metrics *reg = wdts_metrics_new();
    static const char *const call_labels[] = {"class", "method"};
    struct wdts_metric *calls = wdts_metrics_counter(
        reg, "wdt_calls_total", "API calls by result class and method.", call_labels, 2, es,
        sizeof(es));
    assert_non_null(calls);
    struct wdts_metric *inflight =
        wdts_metrics_gauge(reg, "wdt_jobs_in_flight", "Jobs being worked on.", NULL, 0, es,
                           sizeof(es));
    assert_non_null(inflight);
    static const double bounds[] = {0.1, 0.5, 1};
    struct wdts_metric *lat = wdts_metrics_histogram(reg, "wdt_call_seconds", "Call latency.",
                                                     NULL, 0, bounds, 3, es, sizeof(es));
    assert_non_null(lat);

    const char *ok_trades[] = {"ok", "trades.query"};
    const char *rl_trades[] = {"rate_limited", "trades.query"};
    wdts_metrics_inc(wdts_metrics_series(calls, ok_trades));
    wdts_metrics_inc(wdts_metrics_series(calls, ok_trades));
    wdts_metrics_add(wdts_metrics_series(calls, rl_trades), 3);
    struct wdts_metric_series *g = wdts_metrics_series(inflight, NULL);
    wdts_metrics_set(g, 7);
    wdts_metrics_add(g, -2.5);
    struct wdts_metric_series *h = wdts_metrics_series(lat, NULL);
    wdts_metrics_observe(h, 0.05);
    wdts_metrics_observe(h, 0.1); /* equal to a bound: counts in that bucket ("le") */
    wdts_metrics_observe(h, 0.7);
    wdts_metrics_observe(h, 3);

    char *text = render(reg);
    assert_string_equal(text,
                        "# HELP wdt_calls_total API calls by result class and method.\n"
                        "# TYPE wdt_calls_total counter\n"
                        "wdt_calls_total{class=\"ok\",method=\"trades.query\"} 2\n"
                        "wdt_calls_total{class=\"rate_limited\",method=\"trades.query\"} 3\n"
                        "# HELP wdt_jobs_in_flight Jobs being worked on.\n"
                        "# TYPE wdt_jobs_in_flight gauge\n"
                        "wdt_jobs_in_flight 4.5\n"
                        "# HELP wdt_call_seconds Call latency.\n"
                        "# TYPE wdt_call_seconds histogram\n"
                        "wdt_call_seconds_bucket{le=\"0.1\"} 2\n"
                        "wdt_call_seconds_bucket{le=\"0.5\"} 2\n"
                        "wdt_call_seconds_bucket{le=\"1\"} 3\n"
                        "wdt_call_seconds_bucket{le=\"+Inf\"} 4\n"
                        "wdt_call_seconds_sum 3.85\n"
                        "wdt_call_seconds_count 4\n");
    free(text);
    assert_true(wdts_metrics_value(wdts_metrics_series(calls, ok_trades)) == 2.0);
    assert_true(wdts_metrics_value(h) == 4.0);
    /* The same label values give back the same series. */
    assert_ptr_equal(wdts_metrics_series(calls, ok_trades), wdts_metrics_series(calls, ok_trades));
    wdts_metrics_destroy(reg);
}

static void test_fresh_families_render_zero_or_nothing(void **state)
{
    (void)state;
    char es[256];
    struct wdts_metrics *reg = wdts_metrics_new();
    static const char *const lbl[] = {"report"};
    assert_non_null(wdts_metrics_counter(reg, "a_total", "A.", NULL, 0, es, sizeof(es)));
    assert_non_null(wdts_metrics_counter(reg, "b_total", "B.", lbl, 1, es, sizeof(es)));
    static const double bounds[] = {1};
    assert_non_null(wdts_metrics_histogram(reg, "c", "C.", lbl, 1, bounds, 1, es, sizeof(es)));
    char *text = render(reg);
    assert_string_equal(text, "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n"
                              "# HELP b_total B.\n# TYPE b_total counter\n"
                              "# HELP c C.\n# TYPE c histogram\n");
    free(text);
    wdts_metrics_destroy(reg);
}

static void test_label_and_help_escaping(void **state)
{
    (void)state;
    char es[256];
    struct wdts_metrics *reg = wdts_metrics_new();
    static const char *const lbl[] = {"v", "w"};
    struct wdts_metric *m = wdts_metrics_counter(reg, "esc_total", "Back\\slash and\nnewline \"q\".",
                                                 lbl, 2, es, sizeof(es));
    assert_non_null(m);
    const char *vals[] = {"a\"b\\c\nd", "店铺 \xff ok"}; /* a quote, a backslash, a newline;
                                                           UTF-8 kept, an invalid byte replaced */
    wdts_metrics_inc(wdts_metrics_series(m, vals));
    const char *empty[] = {NULL, ""};
    wdts_metrics_inc(wdts_metrics_series(m, empty));
    char *text = render(reg);
    assert_string_equal(text, "# HELP esc_total Back\\\\slash and\\nnewline \"q\".\n"
                              "# TYPE esc_total counter\n"
                              "esc_total{v=\"a\\\"b\\\\c\\nd\",w=\"店铺 \xef\xbf\xbd ok\"} 1\n"
                              "esc_total{v=\"\",w=\"\"} 1\n");
    free(text);
    /* ("a","bc") and ("ab","c") are two series. */
    const char *x[] = {"a", "bc"}, *y[] = {"ab", "c"};
    assert_ptr_not_equal(wdts_metrics_series(m, x), wdts_metrics_series(m, y));
    wdts_metrics_destroy(reg);
}

static void test_histogram_buckets_are_cumulative_with_labels(void **state)
{
    (void)state;
    char es[256];
    struct wdts_metrics *reg = wdts_metrics_new();
    static const char *const lbl[] = {"gateway"};
    static const double bounds[] = {0.005, 0.25, 10, INFINITY}; /* trailing +Inf is implicit */
    struct wdts_metric *m =
        wdts_metrics_histogram(reg, "wdt_ratelimit_wait_seconds", "Waits.", lbl, 1, bounds, 4,
                               es, sizeof(es));
    assert_non_null(m);
    const char *gw[] = {"wdt"};
    struct wdts_metric_series *s = wdts_metrics_series(m, gw);
    double obs[] = {0.001, 0.005, 0.2, 0.3, 11, 100, NAN, -1};
    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
        wdts_metrics_observe(s, obs[i]);
    char *text = render(reg);
    assert_string_equal(text, "# HELP wdt_ratelimit_wait_seconds Waits.\n"
                              "# TYPE wdt_ratelimit_wait_seconds histogram\n"
                              "wdt_ratelimit_wait_seconds_bucket{gateway=\"wdt\",le=\"0.005\"} 3\n"
                              "wdt_ratelimit_wait_seconds_bucket{gateway=\"wdt\",le=\"0.25\"} 4\n"
                              "wdt_ratelimit_wait_seconds_bucket{gateway=\"wdt\",le=\"10\"} 5\n"
                              "wdt_ratelimit_wait_seconds_bucket{gateway=\"wdt\",le=\"+Inf\"} 7\n"
                              "wdt_ratelimit_wait_seconds_sum{gateway=\"wdt\"} 110.506\n"
                              "wdt_ratelimit_wait_seconds_count{gateway=\"wdt\"} 7\n");
    free(text);
    wdts_metrics_destroy(reg);
}

static void test_value_formatting(void **state)
{
    (void)state;
    char es[256];
    struct wdts_metrics *reg = wdts_metrics_new();
    static const char *const lbl[] = {"k"};
    struct wdts_metric *m = wdts_metrics_gauge(reg, "g", "G.", lbl, 1, es, sizeof(es));
    const char *k[6][1] = {{"a"}, {"b"}, {"c"}, {"d"}, {"e"}, {"f"}};
    wdts_metrics_set(wdts_metrics_series(m, k[0]), 0.1);
    wdts_metrics_set(wdts_metrics_series(m, k[1]), 1e20);
    wdts_metrics_set(wdts_metrics_series(m, k[2]), -3);
    wdts_metrics_set(wdts_metrics_series(m, k[3]), INFINITY);
    wdts_metrics_set(wdts_metrics_series(m, k[4]), NAN);
    wdts_metrics_set(wdts_metrics_series(m, k[5]), 1.0 / 3);
    char *text = render(reg);
    assert_string_equal(text, "# HELP g G.\n# TYPE g gauge\n"
                              "g{k=\"a\"} 0.1\n"
                              "g{k=\"b\"} 1e+20\n"
                              "g{k=\"c\"} -3\n"
                              "g{k=\"d\"} +Inf\n"
                              "g{k=\"e\"} NaN\n"
                              "g{k=\"f\"} 0.33333333333333331\n");
    free(text);
    wdts_metrics_destroy(reg);
}

static void test_counter_ignores_negative_and_nan(void **state)
{
    (void)state;
    char es[256];
    struct wdts_metrics *reg = wdts_metrics_new();
    struct wdts_metric *m = wdts_metrics_counter(reg, "c_total", "C.", NULL, 0, es, sizeof(es));
    struct wdts_metric_series *s = wdts_metrics_series(m, NULL);
    wdts_metrics_add(s, 5);
    wdts_metrics_add(s, -1);
    wdts_metrics_add(s, NAN);
    wdts_metrics_inc(s);
    assert_true(wdts_metrics_value(s) == 6.0);
    wdts_metrics_destroy(reg);
}

static void test_bad_registrations_are_refused(void **state)
{
    (void)state;
    char es[256];
    struct wdts_metrics *reg = wdts_metrics_new();
    static const char *const bad_lbl[] = {"9x"};
    static const char *const reserved[] = {"__x"};
    static const char *const le[] = {"le"};
    static const char *const twice[] = {"a", "a"};
    static const double down[] = {1, 0.5};
    static const double nan_b[] = {NAN};

    assert_null(wdts_metrics_counter(reg, "1abc", "h", NULL, 0, es, sizeof(es)));
    assert_non_null(strstr(es, "'1abc' is invalid"));
    assert_null(wdts_metrics_counter(reg, "a-b", "h", NULL, 0, es, sizeof(es)));
    assert_null(wdts_metrics_counter(reg, "", "h", NULL, 0, es, sizeof(es)));
    assert_null(wdts_metrics_counter(reg, NULL, "h", NULL, 0, es, sizeof(es)));
    assert_null(wdts_metrics_counter(reg, "x_total", "h", bad_lbl, 1, es, sizeof(es)));
    assert_non_null(strstr(es, "label name '9x'"));
    assert_null(wdts_metrics_counter(reg, "x_total", "h", reserved, 1, es, sizeof(es)));
    assert_null(wdts_metrics_counter(reg, "x_total", "h", twice, 2, es, sizeof(es)));
    assert_non_null(strstr(es, "given twice"));
    assert_null(wdts_metrics_counter(reg, "x_total", "h", NULL, 1, es, sizeof(es)));
    assert_null(wdts_metrics_histogram(reg, "h", "h", le, 1, NULL, 0, es, sizeof(es)));
    assert_non_null(strstr(es, "reserved"));
    assert_null(wdts_metrics_histogram(reg, "h", "h", NULL, 0, down, 2, es, sizeof(es)));
    assert_non_null(strstr(es, "strictly increasing"));
    assert_null(wdts_metrics_histogram(reg, "h", "h", NULL, 0, nan_b, 1, es, sizeof(es)));

    assert_non_null(wdts_metrics_counter(reg, "dup", "h", NULL, 0, es, sizeof(es)));
    assert_null(wdts_metrics_gauge(reg, "dup", "h", NULL, 0, es, sizeof(es)));
    assert_non_null(strstr(es, "clashes with the counter dup"));
    /* A histogram owns name_bucket, name_sum and name_count. */
    assert_non_null(wdts_metrics_histogram(reg, "lat", "h", NULL, 0, NULL, 0, es, sizeof(es)));
    assert_null(wdts_metrics_counter(reg, "lat_count", "h", NULL, 0, es, sizeof(es)));
    assert_non_null(wdts_metrics_counter(reg, "x_sum", "h", NULL, 0, es, sizeof(es)));
    assert_null(wdts_metrics_histogram(reg, "x", "h", NULL, 0, NULL, 0, es, sizeof(es)));
    assert_non_null(strstr(es, "clashes"));

    /* Nothing refused shows up in the output. */
    char *text = render(reg);
    assert_null(strstr(text, "x_total"));
    assert_null(strstr(text, "# TYPE h "));
    free(text);
    wdts_metrics_destroy(reg);
}

static void test_series_past_the_limit_are_dropped_visibly(void **state)
{
    (void)state;
    char es[256], v[32];
    struct wdts_metrics *reg = wdts_metrics_new();
    static const char *const lbl[] = {"id"};
    struct wdts_metric *m = wdts_metrics_counter(reg, "many_total", "M.", lbl, 1, es, sizeof(es));
    for (int i = 0; i < WDTS_METRICS_MAX_SERIES + 5; i++) {
        snprintf(v, sizeof(v), "%d", i);
        const char *vals[] = {v};
        wdts_metrics_inc(wdts_metrics_series(m, vals));
    }
    char *text = render(reg);
    assert_non_null(strstr(text, "many_total{id=\"9999\"} 1\n"));
    assert_null(strstr(text, "many_total{id=\"10000\"}"));
    assert_non_null(strstr(text, "# many_total: 5 label sets dropped past 10000 series"));
    free(text);
    wdts_metrics_destroy(reg);
}

struct hammer {
    struct wdts_metric_series *c, *h;
    int n;
};

static void *hammer_run(void *arg)
{
    struct hammer *hm = arg;
    for (int i = 0; i < hm->n; i++) {
        wdts_metrics_inc(hm->c);
        wdts_metrics_observe(hm->h, 1.0);
    }
    return NULL;
}

static void test_concurrent_updates_add_up(void **state)
{
    (void)state;
    char es[256];
    struct wdts_metrics *reg = wdts_metrics_new();
    static const double bounds[] = {0.5, 2};
    struct hammer hm = {
        wdts_metrics_series(wdts_metrics_counter(reg, "n_total", "N.", NULL, 0, es, sizeof(es)),
                            NULL),
        wdts_metrics_series(
            wdts_metrics_histogram(reg, "o", "O.", NULL, 0, bounds, 2, es, sizeof(es)), NULL),
        50000};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &hm), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_true(wdts_metrics_value(hm.c) == 200000.0);
    char *text = render(reg);
    assert_non_null(strstr(text, "n_total 200000\n"));
    assert_non_null(strstr(text, "o_bucket{le=\"0.5\"} 0\no_bucket{le=\"2\"} 200000\n"
                                 "o_bucket{le=\"+Inf\"} 200000\no_sum 200000\no_count 200000\n"));
    free(text);
    wdts_metrics_destroy(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_registry_exact_text),
        cmocka_unit_test(test_fresh_families_render_zero_or_nothing),
        cmocka_unit_test(test_label_and_help_escaping),
        cmocka_unit_test(test_histogram_buckets_are_cumulative_with_labels),
        cmocka_unit_test(test_value_formatting),
        cmocka_unit_test(test_counter_ignores_negative_and_nan),
        cmocka_unit_test(test_bad_registrations_are_refused),
        cmocka_unit_test(test_series_past_the_limit_are_dropped_visibly),
        cmocka_unit_test(test_concurrent_updates_add_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
