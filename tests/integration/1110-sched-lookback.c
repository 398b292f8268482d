/* The look-back re-read end to end (scheduler/README.md, docs/CONSUMERS.md "Reports whose
 * window is not the change time"): a test catalog (catalog.path) with two copies of the
 * trades report windowed by pay time (time_type 2, basis paid): `trades_by_pay` with
 * lookback_s 7 days, `trades_by_pay_nolb` without. One connection syncs both.
 *
 *   day 0  sandbox frozen at T1: `wdt-scheduler --once --now T1` plans a 12-hour first
 *          sync, a worker completes it; every trade paid in it arrives in its version of T1;
 *   day 1  sandbox frozen at T2 = T1 + 1 day (the trades have been checked, shipped …
 *          since: new versions, same pay time): the pass at T2 plans the new day and, for
 *          trades_by_pay only, re-reads [origin, watermark) as kind `lookback`; a second
 *          pass (a restart) re-reads nothing more.
 *
 * Then every trade of the first sync is present in trades_by_pay in its version of T2 (the
 * sandbox's truth), while trades_by_pay_nolb still has the version of T1 for most of them:
 * without the look-back the later change is never seen. The watermark is not moved back by
 * the look-back, and `wdtctl status --json` says which report sees late changes and when
 * the last look-back ran. Last, `wdtctl connection add --lookback` gives the connection
 * depths of its own (refusing a bad duration or a report it does not sync), which `connection
 * show`, `status` and the next pass use. */
#include "wdts_test_worker.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched_state.h"
#include "wdts/catalog.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts_test.h"

#define SID "lb-shop"
#define TENANTS                                                                                    \
    "[{\"sid\":\"" SID "\",\"appkey\":\"lb-app\",\"appsecret\":\"lb-secret:lb-salt\","             \
    "\"orders_per_day\":600,\"seed\":13}]"
#define LB "trades_by_pay"
#define NOLB "trades_by_pay_nolb"
#define DAY 86400LL
/* the sandbox's default data origin, 2026-01-01 00:00 +08:00, and two instants after it */
#define D0 1767196800LL
#define T1 (D0 + 6 * DAY + 10 * 3600 + 7 * 60 + 13)
#define T2 (T1 + DAY)

/* The test catalog: the built-in trades entry, windowed by pay time, twice. */
static char *write_catalog(const char *dir)
{
    size_t len = 0;
    const char *text = wdts_catalog_embedded(&len);
    json_t *all = json_loadb(text, len, 0, NULL);
    assert_non_null(all);
    json_t *trades = NULL;
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *e = json_array_get(all, i);
        if (strcmp(json_string_value(json_object_get(e, "name")), "trades") == 0)
            trades = e;
    }
    assert_non_null(trades);
    json_t *out = json_array();
    for (int k = 0; k < 2; k++) {
        json_t *e = json_deep_copy(trades);
        json_object_set_new(e, "name", json_string(k == 0 ? LB : NOLB));
        json_object_set_new(e, "description", json_string("Sales orders by pay time."));
        json_object_set_new(e, "params", json_pack("{s:i}", "time_type", 2));
        json_t *tm = json_object_get(e, "time");
        json_object_set_new(tm, "basis", json_string("paid"));
        json_object_set_new(tm, "meaning", json_string("pay time (time_type=2)"));
        json_object_del(e, "history");
        if (k == 0)
            json_object_set_new(e, "lookback_s", json_integer(7 * DAY));
        json_array_append_new(out, e);
    }
    char *path = wdts_xasprintf("%s/catalog.json", dir);
    assert_int_equal(json_dump_file(out, path, JSON_INDENT(1)), 0);
    json_decref(out);
    json_decref(all);
    return path;
}

static void save_conn(struct wt *t, const char *gw)
{
    char es[512];
    struct wdts_conn *c = wdts_conn_new();
    c->tenant = wdts_xstrdup("t1");
    c->id = wdts_xstrdup("c1");
    c->app = WDTS_API_APP_WDT;
    c->sid = wdts_xstrdup(SID);
    c->appkey = wdts_xstrdup("lb-app");
    c->appsecret = wdts_xstrdup("lb-secret:lb-salt");
    free(c->gateway);
    c->gateway = wdts_xstrdup(gw);
    wdts_conn_add_report(c, LB);
    wdts_conn_add_report(c, NOLB);
    c->backfill_s = 12 * 3600;
    c->rate = 40;
    c->burst = 10;
    c->concurrency = 4;
    assert_int_equal(wdts_conn_seal(c, t->key, es, sizeof(es)), WDTS_OK);
    if (wdts_conn_save(t->redis, t->rprefix, c, 1, es, sizeof(es)) != WDTS_OK)
        fail_msg("saving the connection: %s", es);
    wdts_conn_destroy(c);
}

static long long hget_ll(struct wt *t, const char *kind, const char *report, const char *field)
{
    struct wdts_buf key;
    char *v = NULL;
    wdts_buf_init(&key);
    const char *cmd[] = {"HGET", sched_state_key(&key, t->rprefix, kind, "c1", report), field};
    assert_int_equal(wdts_redis_command_str(t->redis, 3, cmd, NULL, &v, NULL), WDTS_OK);
    wdts_buf_deinit(&key);
    long long n = v ? strtoll(v, NULL, 10) : -1;
    free(v);
    return n;
}

/* wdt-scheduler --once --now now; returns its output (caller frees). */
static char *sched_once(int64_t now)
{
    char nows[32];
    snprintf(nows, sizeof(nows), "%lld", (long long)now);
    const char *args[] = {"--once", "--now", nows, NULL};
    struct wdts_test_run run;
    if (wdts_test_run_bin("wdt-scheduler", args, NULL, 120, &run) != 0 ||
        strstr(run.out, "pass:") == NULL)
        fail_msg("wdt-scheduler --once: %d\n%s%s", run.status, run.out, run.err);
    char *out = wdts_xasprintf("%s%s", run.out, run.err);
    wdts_test_run_free(&run);
    return out;
}

static void wait_wm(struct wt *t, struct wt_worker *wk, const char *report, long long want)
{
    long long wm = 0;
    for (int i = 0; i < 900 && wm != want; i++) {
        wm = wt_wm_get(t, "c1", report);
        if (wm != want)
            usleep(200000);
    }
    if (wm != want) {
        wt_log_dump(wk);
        fail_msg("%s: the watermark is at %lld, want %lld", report, wm, want);
    }
}

/* The latest version (modified, Unix s) of each pk of a report seen in rd[from..). */
struct versions {
    char **pk;
    int64_t *mod;
    size_t n;
};

static void versions_add(struct versions *v, const char *pk, int64_t mod)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->pk[i], pk) == 0) {
            if (mod > v->mod[i])
                v->mod[i] = mod;
            return;
        }
    v->pk = wdts_xrealloc(v->pk, (v->n + 1) * sizeof(*v->pk));
    v->mod = wdts_xrealloc(v->mod, (v->n + 1) * sizeof(*v->mod));
    v->pk[v->n] = wdts_xstrdup(pk);
    v->mod[v->n++] = mod;
}

static int64_t versions_get(const struct versions *v, const char *pk)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->pk[i], pk) == 0)
            return v->mod[i];
    return -1;
}

static void versions_free(struct versions *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->pk[i]);
    free(v->pk);
    free(v->mod);
    memset(v, 0, sizeof(*v));
}

static void collect(const struct wt_reader *rd, const char *report, struct versions *v)
{
    for (size_t i = 0; i < rd->n; i++) {
        const struct wt_rec *x = &rd->v[i];
        if (strcmp(x->schema, "wdt.record.v1") != 0)
            continue;
        if (strcmp(json_string_value(json_object_get(x->body, "report")), report) != 0)
            continue;
        const char *m =
            json_string_value(json_object_get(json_object_get(x->body, "data"), "modified"));
        int64_t mod = 0;
        assert_non_null(m);
        assert_int_equal(wdts_time_parse_beijing(m, &mod), WDTS_OK);
        versions_add(v, x->pk, mod);
    }
}

/* Markers of report in rd[from..) whose window ends at or before end. */
static size_t markers_before(const struct wt_reader *rd, size_t from, const char *report,
                             int64_t end)
{
    size_t n = 0;
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "c1:%s#window:", report);
    for (size_t i = from; i < rd->n; i++) {
        const struct wt_rec *x = &rd->v[i];
        if (strcmp(x->schema, "wdt.window.v1") != 0 || strncmp(x->key, prefix, strlen(prefix)))
            continue;
        const char *e = json_string_value(json_object_get(json_object_get(x->body, "window"), "end"));
        int64_t we = 0;
        assert_non_null(e);
        assert_int_equal(wdts_time_parse_rfc3339(e, &we), WDTS_OK);
        n += we <= end;
    }
    return n;
}

/* The sandbox's truth as of as_of: pk -> modified, every trade of the direct route. */
static void truth_versions(const char *tenants, int64_t as_of, struct versions *v)
{
    const char *source[] = {"--tenants", tenants, NULL};
    json_t *all = sbx_truth(source, SID, "trades", "wdt", as_of, 0, as_of + 1);
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *j = json_array_get(all, i);
        versions_add(v, json_string_value(json_object_get(j, "pk")),
                     json_integer_value(json_object_get(j, "modified_unix")));
    }
    json_decref(all);
}

static json_t *status_row(json_t *arr, const char *report)
{
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *row = json_array_get(arr, i);
        if (strcmp(json_string_value(json_object_get(row, "report")), report) == 0)
            return row;
    }
    fail_msg("wdtctl status lists no %s", report);
    return NULL;
}

static json_t *status_json(void)
{
    const char *args[] = {"status", "--json", NULL};
    return wdts_test_run_json("wdtctl", args, 60);
}

/* wdtctl with args (NULL-terminated); returns its exit status, output in *out (freed by
 * the caller). */
static int ctl(char **out, const char *const *args)
{
    struct wdts_test_run run;
    wdts_test_run_bin("wdtctl", args, NULL, 120, &run);
    *out = wdts_xasprintf("%s%s", run.out, run.err);
    int st = run.status;
    wdts_test_run_free(&run);
    return st;
}

static void test_lookback(void **state)
{
    (void)state;
    struct wt t;
    struct sbx_proc sbx;
    char tenants[512], gw[160], clock[64];
    wt_init(&t, 4, 8);
    char *catalog = write_catalog(t.dir);
    char *cat_env = wdts_xasprintf("WDT_CATALOG_PATH=%s", catalog);

    snprintf(clock, sizeof(clock), "frozen:%lld", (long long)T1);
    const char *more1[] = {"--clock", clock, NULL};
    wt_sandbox(&t, &sbx, TENANTS, more1, "/openapi", tenants, sizeof(tenants), gw, sizeof(gw));
    save_conn(&t, gw);

    setenv("WDT_REDIS_URL", t.redis_url, 1);
    setenv("WDT_REDIS_PREFIX", t.rprefix, 1);
    setenv("WDT_TOPIC_JOBS", t.t_jobs, 1);
    setenv("WDT_KAFKA_BOOTSTRAP_SERVERS", t.brokers, 1);
    setenv("WDT_LOG_FORMAT", "text", 1);
    setenv("WDT_HTTP_LISTEN", "127.0.0.1:0", 1);
    setenv("WDT_CATALOG_PATH", catalog, 1);
    setenv("WDT_SCHEDULER_LOOKBACK_INTERVAL", "6h", 1);
    unsetenv("WDT_CONFIG_FILE");

    struct wt_reader rd;
    wt_reader_open(&t, &rd, t.t_records);

    /* ---- day 0: the first sync ---- */
    char *log = sched_once(T1);
    free(log);
    long long cursor1 = hget_ll(&t, "plan", LB, "cursor");
    long long origin = T1 - 12 * 3600;
    origin -= (origin - SCHED_PLAN_GRID_ORIGIN) % 60;
    assert_int_equal(hget_ll(&t, "plan", NOLB, "cursor"), cursor1);
    assert_int_equal(hget_ll(&t, "plan", LB, "last_lookback"), -1);
    long long n1 = hget_ll(&t, "stat", LB, "emitted");
    printf("# day 0: %lld windows per report, [%lld, %lld)\n", n1, origin, cursor1);
    assert_true(n1 >= 12 && n1 <= 14);

    const char *extra[] = {cat_env, NULL};
    struct wt_worker w1;
    wt_worker_start(&t, &w1, extra);
    wait_wm(&t, &w1, LB, cursor1);
    wait_wm(&t, &w1, NOLB, cursor1);
    for (int i = 0; i < 100 && markers_before(&rd, 0, NOLB, cursor1) < (size_t)n1; i++)
        wt_reader_poll(&rd, 300);
    for (int i = 0; i < 100 && markers_before(&rd, 0, LB, cursor1) < (size_t)n1; i++)
        wt_reader_poll(&rd, 300);
    assert_int_equal(wt_worker_stop(&w1, SIGTERM, 30000, NULL), 0);
    wt_reader_poll(&rd, 500);

    struct versions day0 = {0}, day0_nolb = {0};
    collect(&rd, LB, &day0);
    collect(&rd, NOLB, &day0_nolb);
    printf("# day 0: %zu trades paid in the first sync (%zu without look-back)\n", day0.n,
           day0_nolb.n);
    assert_true(day0.n >= 100);
    assert_int_equal(day0_nolb.n, day0.n);
    for (size_t i = 0; i < day0.n; i++)
        assert_true(day0.mod[i] <= T1);

    json_t *st = status_json();
    assert_string_equal(json_string_value(json_object_get(status_row(st, LB), "late_changes")),
                        "lookback");
    assert_int_equal(json_integer_value(json_object_get(status_row(st, LB), "lookback_s")),
                     7 * DAY);
    assert_true(json_is_null(json_object_get(status_row(st, LB), "last_lookback")));
    assert_string_equal(json_string_value(json_object_get(status_row(st, NOLB), "late_changes")),
                        "missed");
    json_decref(st);

    /* ---- day 1: the trades have changed; their pay time has not ---- */
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    snprintf(clock, sizeof(clock), "frozen:%lld", (long long)T2);
    const char *more2[] = {"--clock", clock, NULL};
    wt_sandbox(&t, &sbx, TENANTS, more2, "/openapi", tenants, sizeof(tenants), gw, sizeof(gw));
    save_conn(&t, gw);
    size_t day1_from = rd.n;

    log = sched_once(T2);
    long long lb_windows = (cursor1 - origin + WT_WINDOW - 1) / WT_WINDOW;
    char want[96];
    snprintf(want, sizeof(want), "1 look-back re-reads (%lld windows)", lb_windows);
    if (strstr(log, want) == NULL)
        fail_msg("the pass at T2 should re-read %lld windows of %s:\n%s", lb_windows, LB, log);
    free(log);
    /* the look-back did not move the watermark back, and is recorded */
    assert_int_equal(wt_wm_get(&t, "c1", LB), cursor1);
    assert_int_equal(hget_ll(&t, "plan", LB, "last_lookback"), T2);
    assert_int_equal(hget_ll(&t, "plan", NOLB, "last_lookback"), -1);
    long long cursor2 = hget_ll(&t, "plan", LB, "cursor");
    assert_true(cursor2 > cursor1);

    /* a restart a minute later: the re-read is not repeated */
    log = sched_once(T2 + 60);
    if (strstr(log, " 0 look-back re-reads") == NULL)
        fail_msg("a second pass re-read again:\n%s", log);
    free(log);
    cursor2 = hget_ll(&t, "plan", LB, "cursor");

    struct wt_worker w2;
    wt_worker_start(&t, &w2, extra);
    wait_wm(&t, &w2, LB, cursor2);
    wait_wm(&t, &w2, NOLB, cursor2);
    /* the look-back windows hold no watermark: wait for their markers */
    for (int i = 0; i < 200 && markers_before(&rd, day1_from, LB, cursor1) < (size_t)lb_windows;
         i++)
        wt_reader_poll(&rd, 300);
    wt_reader_poll(&rd, 1000);
    size_t lb_markers = markers_before(&rd, day1_from, LB, cursor1);
    size_t nolb_markers = markers_before(&rd, day1_from, NOLB, cursor1);
    printf("# day 1: %zu look-back windows completed for %s, %zu for %s\n", lb_markers, LB,
           nolb_markers, NOLB);
    if (lb_markers < (size_t)lb_windows) {
        wt_log_dump(&w2);
        fail_msg("%zu of %lld look-back windows completed", lb_markers, lb_windows);
    }
    assert_int_equal(nolb_markers, 0);
    assert_int_equal(wt_worker_stop(&w2, SIGTERM, 30000, NULL), 0);

    /* every trade of the first sync: in its version of T2 with the look-back, and (for
     * most) still in its version of T1 without */
    struct versions truth = {0}, now_lb = {0}, now_nolb = {0};
    truth_versions(tenants, T2, &truth);
    collect(&rd, LB, &now_lb);
    collect(&rd, NOLB, &now_nolb);
    size_t changed = 0, fresh = 0, stale_nolb = 0;
    for (size_t i = 0; i < day0.n; i++) {
        int64_t tv = versions_get(&truth, day0.pk[i]);
        if (tv < 0)
            fail_msg("trade %s is not in the truth", day0.pk[i]);
        changed += tv > day0.mod[i];
        int64_t lv = versions_get(&now_lb, day0.pk[i]);
        if (lv != tv)
            fail_msg("trade %s: %s has the version of %lld, the truth of T2 is %lld (T1: %lld)",
                     day0.pk[i], LB, (long long)lv, (long long)tv, (long long)day0.mod[i]);
        fresh++;
        int64_t nv = versions_get(&now_nolb, day0.pk[i]);
        assert_true(nv >= 0 && nv <= tv);
        stale_nolb += nv < tv;
    }
    printf("# %zu trades of the first sync, %zu changed after their window; with look-back "
           "%zu in their latest version, without it %zu still stale\n",
           day0.n, changed, fresh, stale_nolb);
    assert_true(changed >= day0.n / 2);
    assert_int_equal(stale_nolb, changed);

    st = status_json();
    char t2s[WDTS_RFC3339_LEN];
    wdts_time_format_rfc3339(T2, t2s);
    assert_string_equal(json_string_value(json_object_get(status_row(st, LB), "last_lookback")),
                        t2s);
    assert_true(json_is_null(json_object_get(status_row(st, NOLB), "last_lookback")));
    json_decref(st);

    /* a connection's own depth (`wdtctl connection add --lookback`) replaces the catalog's */
    setenv("WDT_SECRET_KEY", WT_KEY_HEX, 1);
    char *secret =
        wdts_xasprintf("%s", wdts_test_write_file(t.dir, "secret.txt", "lb-secret:lb-salt"));
    const char *reports = LB "," NOLB;
    char *out = NULL;
    const char *bad1[] = {"connection", "add", "--tenant", "t1", "--id", "c1", "--app", "wdt",
                          "--sid", SID, "--appkey", "lb-app", "--appsecret-file", secret,
                          "--gateway", gw, "--reports", reports, "--replace", "--lookback",
                          LB "=90s", NULL};
    assert_int_equal(ctl(&out, bad1), 64);
    assert_non_null(strstr(out, "whole minutes"));
    free(out);
    const char *bad2[] = {"connection", "add", "--tenant", "t1", "--id", "c1", "--app", "wdt",
                          "--sid", SID, "--appkey", "lb-app", "--appsecret-file", secret,
                          "--gateway", gw, "--reports", LB, "--replace", "--lookback",
                          NOLB "=1d", NULL};
    assert_int_equal(ctl(&out, bad2), 64);
    assert_non_null(strstr(out, "not an enabled report"));
    free(out);
    const char *good[] = {"connection", "add", "--tenant", "t1", "--id", "c1", "--app", "wdt",
                          "--sid", SID, "--appkey", "lb-app", "--appsecret-file", secret,
                          "--gateway", gw, "--reports", reports, "--backfill", "12h",
                          "--replace", "--lookback", LB "=3d," NOLB "=1d", NULL};
    if (ctl(&out, good) != 0)
        fail_msg("wdtctl connection add --lookback:\n%s", out);
    free(out);
    const char *show[] = {"connection", "show", "--id", "c1", NULL};
    assert_int_equal(ctl(&out, show), 0);
    if (strstr(out, LB "=3d, " NOLB "=1d") == NULL)
        fail_msg("connection show does not list the look-backs:\n%s", out);
    free(out);
    st = status_json();
    assert_int_equal(json_integer_value(json_object_get(status_row(st, LB), "lookback_s")),
                     3 * DAY);
    assert_string_equal(json_string_value(json_object_get(status_row(st, NOLB), "late_changes")),
                        "lookback");
    assert_int_equal(json_integer_value(json_object_get(status_row(st, NOLB), "lookback_s")), DAY);
    json_decref(st);
    /* the scheduler takes it: six hours after the first sync's end, the report that had
     * none re-reads its last day (the first sync's 12 hours) */
    log = sched_once(T2 + 6 * 3600);
    if (strstr(log, "c1/" NOLB ": look-back re-read of") == NULL)
        fail_msg("the connection's look-back of %s did not run:\n%s", NOLB, log);
    free(log);
    free(secret);

    versions_free(&day0);
    versions_free(&day0_nolb);
    versions_free(&truth);
    versions_free(&now_lb);
    versions_free(&now_nolb);
    wt_reader_close(&rd);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    free(cat_env);
    free(catalog);
    wt_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_lookback)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
