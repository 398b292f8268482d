/* Report groups and the first-sync estimate against wdt-sandbox and the real Redis:
 * `wdtctl connection add --reports` takes groups and names mixed (an unknown word lists
 * the groups and reports, stores nothing) and prints the estimate once stored;
 * `wdtctl plan` counts the windows the scheduler plans (one per 59 minutes for an hourly
 * report, one for a 30-day one), --json says the same, --probe asks the gateway for
 * total_count on sample windows (exactly that many calls, seen in the sandbox's metrics)
 * and its calls follow the worker's paging; `wdtctl status` agrees on the windows left
 * and says the time is unknown before any window is done; `wdtctl reports --group`. */
#include "wdts_test_sandbox.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts_test.h"
#include "wdts_test_redis.h"

static struct sbx_proc sbx;
static char dir[256], gw[128], prefix[80];

static int setup(void **state)
{
    (void)state;
    if (wdts_test_store_env("plan", prefix, sizeof(prefix)) != 0)
        return -1;
    snprintf(dir, sizeof(dir), "/tmp/plan-test.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    const char *tenants = wdts_test_write_file(
        dir, "tenants.json",
        "[{\"sid\":\"plan-shop\",\"appkey\":\"plan-app\",\"appsecret\":\"plan-secret:plan-salt\","
        "\"rate_per_min\":6000,\"orders_per_day\":2000,\"seed\":7}]");
    const char *args[] = {"--tenants", tenants, NULL};
    if (sbx_start(&sbx, args) != 0)
        return -1;
    snprintf(gw, sizeof(gw), "%s/openapi", sbx.base);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sbx_stop(&sbx, 10000);
    wdts_test_rmtree(dir);
    return 0;
}

static void ctlv(struct wdts_test_run *run, const char *const *args, const char *stdin_text)
{
    wdts_test_run_bin("wdtctl", args, stdin_text, 120, run);
}

#define CTL(run, ...) ctlv((run), (const char *const[]){__VA_ARGS__, NULL}, NULL)

static void add(struct wdts_test_run *run, const char *id, const char *reports)
{
    const char *args[] = {"connection", "add", "--tenant", "t1", "--id", id, "--app", "wdt",
                          "--sid", "plan-shop", "--appkey", "plan-app", "--appsecret-file", "-",
                          "--gateway", gw, "--reports", reports, "--backfill", "1d", "--rate",
                          "2", "--concurrency", "2", NULL};
    ctlv(run, args, "plan-secret:plan-salt\n");
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (j == NULL)
        fail_msg("not JSON: %s\n%s", jerr.text, text);
    return j;
}

static json_t *row_of(json_t *plan, const char *report)
{
    json_t *r;
    size_t i;
    json_array_foreach(json_object_get(plan, "reports"), i, r)
        if (strcmp(json_string_value(json_object_get(r, "report")), report) == 0)
            return r;
    fail_msg("no row for %s", report);
    return NULL;
}

static long long iget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", k);
    return (long long)json_integer_value(v);
}

/* Whether the catalog gives report name a history (archive) method. */
static int has_history(const char *name)
{
    static json_t *cat;
    if (cat == NULL) {
        struct wdts_test_run run;
        const char *args[] = {"reports", "--json", NULL};
        ctlv(&run, args, NULL);
        assert_int_equal(run.status, 0);
        cat = parse(run.out);
        wdts_test_run_free(&run);
    }
    json_t *r;
    size_t i;
    json_array_foreach(cat, i, r)
        if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
            return json_is_string(json_object_get(r, "history_method"));
    fail_msg("no report %s in the catalog", name);
    return 0;
}

static void test_groups(void **state)
{
    (void)state;
    struct wdts_test_run run;
    add(&run, "p-bad", "sales,nosuch");
    wdts_test_expect_run(&run, 64, NULL, "unknown report or group 'nosuch'");
    assert_non_null(strstr(run.err, "aftersales ("));
    assert_non_null(strstr(run.err, "trades"));
    wdts_test_run_free(&run);
    CTL(&run, "connection", "show", "--id", "p-bad");
    assert_int_not_equal(run.status, 0); /* nothing stored */
    wdts_test_run_free(&run);

    CTL(&run, "reports", "--group", "sales");
    wdts_test_expect_run(&run, 0, "trades", NULL);
    assert_non_null(strstr(run.out, "raw_trades"));
    assert_null(strstr(run.out, "stockouts"));
    assert_non_null(strstr(run.out, "of group sales"));
    wdts_test_run_free(&run);
    CTL(&run, "reports", "--group", "sales", "--json");
    json_t *j = parse(run.out);
    json_t *r;
    size_t i;
    assert_true(json_array_size(j) >= 2);
    json_array_foreach(j, i, r)
        assert_string_equal(json_string_value(json_object_get(r, "group")), "sales");
    json_decref(j);
    wdts_test_run_free(&run);
    CTL(&run, "reports", "--group", "bogus");
    wdts_test_expect_run(&run, 64, NULL, "--group must be one of");
    wdts_test_run_free(&run);
}

static void test_add_plan_probe_status(void **state)
{
    (void)state;
    struct wdts_test_run run;
    /* a group and a report of another group, mixed */
    add(&run, "p1", "sales,stock_changes");
    wdts_test_expect_run(&run, 0, "first sync of connection p1", NULL);
    assert_non_null(strstr(run.out, "least: "));
    assert_non_null(strstr(run.out, "at 120 calls/min this takes about"));
    assert_null(strstr(run.out, "stockouts"));
    wdts_test_run_free(&run);

    CTL(&run, "connection", "show", "--id", "p1", "--json");
    wdts_test_expect_run(&run, 0, "stock_changes", NULL);
    assert_non_null(strstr(run.out, "raw_trades"));
    assert_null(strstr(run.out, "stockouts"));
    wdts_test_run_free(&run);

    /* the estimate without calls */
    int64_t before = metric_value(&sbx, "wdt_sandbox_calls_total", "plan-shop");
    CTL(&run, "plan", "--connection", "p1", "--json");
    wdts_test_expect_run(&run, 0, "\"least_calls\"", NULL);
    assert_int_equal(metric_value(&sbx, "wdt_sandbox_calls_total", "plan-shop"), before);
    json_t *p = parse(run.out);
    assert_false(json_is_true(json_object_get(p, "probed")));
    /* one day of 59-minute windows: 25 or 26 (the range's ends cut grid cells) */
    long long trades = iget(row_of(p, "trades"), "windows");
    assert_true(trades >= 25 && trades <= 26);
    assert_int_equal(iget(row_of(p, "stock_changes"), "windows"), trades);
    /* a 30-day report: one window for a day (two when a 30-day grid point falls in it) */
    long long raw = iget(row_of(p, "raw_trades"), "windows");
    assert_true(raw >= 1 && raw <= 2);
    long long least = 0;
    json_t *r;
    size_t i;
    json_array_foreach(json_object_get(p, "reports"), i, r) {
        /* archive read `all` (the default): every window of a report with a history method
         * is read there too, one call more */
        const char *name = json_string_value(json_object_get(r, "report"));
        long long w = iget(r, "windows");
        assert_int_equal(iget(r, "archive_windows"), has_history(name) ? w : 0);
        assert_int_equal(iget(r, "least_calls"), w + iget(r, "archive_windows"));
        least += iget(r, "least_calls");
    }
    assert_true(has_history("trades")); /* the archive is counted at all */
    assert_int_equal(iget(p, "least_calls"), least);
    /* at 2 calls/s, burst 1: (least - 1) / 2 seconds */
    assert_true(fabs(json_real_value(json_object_get(p, "least_seconds")) - (least - 1) / 2.0) <
                1e-6);
    json_decref(p);
    wdts_test_run_free(&run);

    /* the probe: 3 windows per report, exactly that many calls (one for a one-window report) */
    before = metric_value(&sbx, "wdt_sandbox_calls_total", "plan-shop");
    CTL(&run, "plan", "--connection", "p1", "--probe", "3", "--json");
    wdts_test_expect_run(&run, 0, "\"probed\": true", NULL);
    long long after = metric_value(&sbx, "wdt_sandbox_calls_total", "plan-shop");
    p = parse(run.out);
    long long samples = 0;
    json_array_foreach(json_object_get(p, "reports"), i, r) {
        long long n = iget(r, "probe_samples");
        long long w = iget(r, "windows");
        assert_int_equal(n, w < 3 ? w : 3);
        assert_true(json_is_null(json_object_get(r, "probe_error")));
        /* a sample window read from the archive is asked there too */
        const char *name = json_string_value(json_object_get(r, "report"));
        assert_int_equal(iget(r, "probe_archive_samples"), has_history(name) ? n : 0);
        samples += n + iget(r, "probe_archive_samples");
        /* 2,000 orders a day: the sampled hours hold records, and windows of more than
         * a page take ceil(records/page)+1 calls, so more than the least */
        assert_true(iget(r, "records") > 0);
        assert_true(iget(r, "calls") >= iget(r, "least_calls"));
    }
    assert_int_equal(after - before, samples);
    assert_true(iget(p, "calls") > iget(p, "least_calls"));
    assert_true(json_real_value(json_object_get(p, "seconds")) >
                json_real_value(json_object_get(p, "least_seconds")));
    json_decref(p);
    wdts_test_run_free(&run);

    CTL(&run, "plan", "--connection", "p1", "--probe", "2");
    wdts_test_expect_run(&run, 0, "with the pages the probe saw: ", NULL);
    assert_non_null(strstr(run.out, "SAMPLED"));
    wdts_test_run_free(&run);

    /* a connection that never reads the archive: no archive windows */
    const char *off[] = {"connection", "add", "--tenant", "t1", "--id", "p-off", "--app", "wdt",
                         "--sid", "plan-shop", "--appkey", "plan-app", "--appsecret-file", "-",
                         "--gateway", gw, "--reports", "trades", "--backfill", "1d",
                         "--archive-read", "off", NULL};
    ctlv(&run, off, "plan-secret:plan-salt\n");
    wdts_test_expect_run(&run, 0, "archive read off", NULL);
    wdts_test_run_free(&run);
    CTL(&run, "plan", "--connection", "p-off", "--json");
    wdts_test_expect_run(&run, 0, NULL, NULL);
    p = parse(run.out);
    assert_int_equal(iget(row_of(p, "trades"), "archive_windows"), 0);
    assert_int_equal(iget(row_of(p, "trades"), "least_calls"), trades);
    json_decref(p);
    wdts_test_run_free(&run);

    /* a selection of the connection's reports */
    CTL(&run, "plan", "--connection", "p1", "--reports", "stock", "--json");
    wdts_test_expect_run(&run, 0, NULL, NULL);
    p = parse(run.out);
    assert_int_equal(json_array_size(json_object_get(p, "reports")), 1);
    assert_int_equal(iget(row_of(p, "stock_changes"), "windows"), trades);
    json_decref(p);
    wdts_test_run_free(&run);

    /* status: nothing planned yet, every window is left and the time is unknown */
    CTL(&run, "status", "--connection", "p1", "--json");
    wdts_test_expect_run(&run, 0, NULL, NULL);
    json_t *st = parse(run.out);
    json_array_foreach(st, i, r) {
        assert_string_equal(json_string_value(json_object_get(r, "state")), "backfilling");
        json_t *b = json_object_get(r, "backfill");
        assert_non_null(b);
        if (strcmp(json_string_value(json_object_get(r, "report")), "trades") == 0)
            assert_int_equal(iget(b, "windows_left"), trades);
        assert_true(json_is_null(json_object_get(b, "calls_per_window")));
        assert_true(json_is_null(json_object_get(b, "eta_s")));
        assert_true(json_is_true(json_object_get(b, "connection_eta_is_lower_bound")));
    }
    json_decref(st);
    wdts_test_run_free(&run);
    CTL(&run, "status", "--connection", "p1");
    wdts_test_expect_run(&run, 0, "unknown", NULL);
    assert_non_null(strstr(run.out, "backfill: "));
    assert_non_null(strstr(run.out, "at least"));
    wdts_test_run_free(&run);
}

static void test_errors(void **state)
{
    (void)state;
    struct wdts_test_run run;
    CTL(&run, "plan", "--help");
    wdts_test_expect_run(&run, 0, "--probe N", NULL);
    wdts_test_run_free(&run);
    CTL(&run, "plan");
    wdts_test_expect_run(&run, 64, NULL, "--connection is required");
    wdts_test_run_free(&run);
    CTL(&run, "plan", "--connection", "nope");
    wdts_test_expect_run(&run, 69, NULL, "no connection nope");
    wdts_test_run_free(&run);
    CTL(&run, "plan", "--connection", "p1", "--probe", "0");
    wdts_test_expect_run(&run, 64, NULL, "--probe must be");
    wdts_test_run_free(&run);
    CTL(&run, "plan", "--connection", "p1", "--reports", "stockz");
    wdts_test_expect_run(&run, 64, NULL, "unknown report or group 'stockz'");
    wdts_test_run_free(&run);
    CTL(&run, "plan", "--connection", "p1", "--reports", "aftersales");
    wdts_test_expect_run(&run, 64, NULL, "none of the reports selected");
    wdts_test_run_free(&run);
    CTL(&run, "--help");
    wdts_test_expect_run(&run, 0, "plan", NULL);
    wdts_test_run_free(&run);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_add_plan_probe_status),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
