/* The archive (历史) methods, against wdt-sandbox, Redis and the local Kafka. The sandbox
 * archives documents whose change time is older than a 2-day horizon: they are served only
 * by the history methods. Its data clock is frozen at the test's start, so the truth is
 * exact. Two sandboxes: one where a changed archived document returns to the normal method
 * (--archive-late return), one where it stays archived with its new change time (stay).
 *
 *  - a window 20 days old (deeper than the horizon): 0 missing vs the truth with
 *    archive_read all and old (the marker counts what the history pass read), and every
 *    record missing with archive_read off (so the check can fail);
 *  - a window a day old holding late changes to archived documents: 0 missing with `all`
 *    under both --archive-late modes; under `stay` the same window read with `old` misses
 *    them (why `all` is the default);
 *  - a history total above worker.max.records.per.job splits the window like any other;
 *  - an app that may not call the history method: the old window is dead-lettered
 *    `permission` naming the method and the fix, the connection shows it refused, and a
 *    recent window completes from the normal method (counted in
 *    wdt_worker_history_skipped_total). */
#include "wdts_test_worker.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wdts/time.h"
#include "wdts_test.h"

#define DAY 86400LL

struct conn_case {
    const char *id;
    int sbx; /* 0: return, 1: stay */
    enum wdts_conn_archive_read read;
};

static const struct conn_case conns[] = {
    {"r-all", 0, WDTS_CONN_ARCHIVE_ALL}, {"r-old", 0, WDTS_CONN_ARCHIVE_OLD},
    {"r-off", 0, WDTS_CONN_ARCHIVE_OFF}, {"s-all", 1, WDTS_CONN_ARCHIVE_ALL},
    {"s-old", 1, WDTS_CONN_ARCHIVE_OLD},
};
#define NCONN (sizeof(conns) / sizeof(conns[0]))

static const char *const reports[] = {"trades", "refunds", "raw_trades", NULL};
#define NREP 3

/* Truth pks of report in [start, end) as of as_of, and how many the reader lacks for conn. */
static size_t count_missing(const struct wt_reader *rd, const char *tenants, const char *conn,
                            const char *report, int64_t as_of, int64_t start, int64_t end,
                            size_t *total)
{
    char **pks = NULL;
    size_t n = wt_truth(tenants, "ar-shop", report, as_of, start, end, &pks);
    *total = n;
    return wt_missing(rd, conn, report, pks, n);
}

static void test_archive(void **state)
{
    (void)state;
    struct wt t;
    struct sbx_proc sbx[2], psbx;
    wt_init(&t, 4, 8);
    int64_t now = wdts_time_now();
    char clock[64], tenants[2][512], gw[2][160], ptenants[512], pgw[160];
    snprintf(clock, sizeof(clock), "frozen:%lld", (long long)now);
    const char *ten = "[{\"sid\":\"ar-shop\",\"appkey\":\"ar-app\",\"appsecret\":\"ar-s:ar-x\","
                      "\"orders_per_day\":3000,\"seed\":71,\"archive_horizon\":\"10d\"}]";
    const char *ret[] = {"--clock", clock, NULL};
    const char *stay[] = {"--clock", clock, "--archive-late", "stay", NULL};
    /* two processes; same tenant, so one truth serves both */
    struct wt t2 = t;
    assert_true(snprintf(t2.dir, sizeof(t2.dir), "%s/stay", t.dir) < (int)sizeof(t2.dir));
    assert_int_equal(mkdir(t2.dir, 0700), 0);
    wt_sandbox(&t, &sbx[0], ten, ret, "/openapi", tenants[0], sizeof(tenants[0]), gw[0],
               sizeof(gw[0]));
    wt_sandbox(&t2, &sbx[1], ten, stay, "/openapi", tenants[1], sizeof(tenants[1]), gw[1],
               sizeof(gw[1]));
    /* an app without the trades history method */
    struct wt t3 = t;
    assert_true(snprintf(t3.dir, sizeof(t3.dir), "%s/perm", t.dir) < (int)sizeof(t3.dir));
    assert_int_equal(mkdir(t3.dir, 0700), 0);
    const char *pten = "[{\"sid\":\"ar-shop\",\"appkey\":\"ar-app\",\"appsecret\":\"ar-s:ar-x\","
                       "\"orders_per_day\":3000,\"seed\":71,\"archive_horizon\":\"10d\","
                       "\"permissions\":[\"sales.TradeQuery.queryWithDetail\","
                       "\"setting.Shop.queryShop\"]}]";
    wt_sandbox(&t3, &psbx, pten, ret, "/openapi", ptenants, sizeof(ptenants), pgw, sizeof(pgw));

    for (size_t c = 0; c < NCONN; c++) {
        struct wt_conn_opts co = {.id = conns[c].id, .tenant = "ta", .sid = "ar-shop",
                                  .appkey = "ar-app", .appsecret = "ar-s:ar-x",
                                  .gateway = gw[conns[c].sbx], .reports = reports, .rate = 20,
                                  .burst = 10, .concurrency = 4, .archive_horizon_s = 10 * DAY,
                                  .archive_read = conns[c].read};
        wt_conn_add(&t, &co);
    }
    const char *ptrades[] = {"trades", NULL};
    struct wt_conn_opts pco = {.id = "p-all", .tenant = "ta", .sid = "ar-shop",
                               .appkey = "ar-app", .appsecret = "ar-s:ar-x", .gateway = pgw,
                               .reports = ptrades, .rate = 20, .burst = 10, .concurrency = 4,
                               .archive_horizon_s = 10 * DAY};
    wt_conn_add(&t, &pco);

    /* windows on the hour: one 20 days old, one a day old (not old for archive_read old:
     * it starts after now - horizon + 7 days) */
    int64_t old_start = (now - 20 * DAY) / 3600 * 3600;
    int64_t new_start = (now - DAY) / 3600 * 3600;
    const int64_t starts[2] = {old_start, new_start};

    struct wt_reader rd, dlq;
    wt_reader_open(&t, &rd, t.t_records);
    wt_reader_open(&t, &dlq, t.t_dlq);
    struct wt_worker w1;
    const char *extra[] = {"WDT_WORKER_MAX_INFLIGHT=8", NULL};
    wt_worker_start(&t, &w1, extra);

    char ids[NCONN * NREP * 2][WDTS_JOB_ID_LEN];
    const char *idp[NCONN * NREP * 2];
    size_t nid = 0;
    for (size_t c = 0; c < NCONN; c++) {
        for (int r = 0; r < NREP; r++) {
            wt_wm_init(&t, conns[c].id, reports[r], old_start);
            for (int w = 0; w < 2; w++) {
                struct wdts_job j;
                wt_emit(&t, "ta", conns[c].id, reports[r], starts[w], starts[w] + WT_WINDOW, &j);
                snprintf(ids[nid], sizeof(ids[nid]), "%s", j.job_id);
                idp[nid] = ids[nid];
                nid++;
            }
        }
    }
    wt_wm_init(&t, "p-all", "trades", old_start);
    struct wdts_job pold, pnew;
    wt_emit(&t, "ta", "p-all", "trades", old_start, old_start + WT_WINDOW, &pold);
    wt_emit(&t, "ta", "p-all", "trades", new_start, new_start + WT_WINDOW, &pnew);
    const char *pids[] = {pnew.job_id};

    if (!wt_wait_markers(&rd, idp, nid, 120000) || !wt_wait_markers(&rd, pids, 1, 30000)) {
        wt_log_dump(&w1);
        fail_msg("markers missing");
    }
    wt_reader_poll(&rd, 1000);

    /* old and recent windows per connection and report */
    size_t miss[NCONN][NREP][2], tot[NCONN][NREP][2];
    for (size_t c = 0; c < NCONN; c++)
        for (int r = 0; r < NREP; r++)
            for (int w = 0; w < 2; w++) {
                miss[c][r][w] = count_missing(&rd, tenants[0], conns[c].id, reports[r], now,
                                              starts[w], starts[w] + WT_WINDOW, &tot[c][r][w]);
                printf("# %-5s %-9s %s window: %zu records in the truth, %zu missing\n",
                       conns[c].id, reports[r], w ? "recent" : "old", tot[c][r][w],
                       miss[c][r][w]);
            }
    for (int r = 0; r < NREP; r++) {
        assert_true(tot[0][r][0] > 0); /* the old window has records to lose */
        /* deeper than the horizon: all and old read the history method; off loses them */
        assert_int_equal(miss[0][r][0], 0);
        assert_int_equal(miss[1][r][0], 0);
        assert_int_equal(miss[3][r][0], 0);
        assert_int_equal(miss[4][r][0], 0);
        assert_int_equal(miss[2][r][0], tot[2][r][0]);
        /* late changes to archived documents: `all` misses none under either mode */
        assert_int_equal(miss[0][r][1], 0);
        assert_int_equal(miss[3][r][1], 0);
    }
    /* under stay, a recent window holds archived documents that `old` does not read */
    size_t stay_old_missed = 0;
    for (int r = 0; r < NREP; r++)
        stay_old_missed += miss[4][r][1];
    printf("# late changes to archived documents missed with archive_read old under stay: %zu\n",
           stay_old_missed);
    assert_true(stay_old_missed > 0);

    /* the marker of the old trades window of r-all counts what each method gave */
    json_t *m = wt_marker(&rd, ids[0]);
    assert_non_null(m);
    long long hr = json_integer_value(json_object_get(m, "history_records"));
    long long recs = json_integer_value(json_object_get(m, "records"));
    printf("# r-all old trades window: records %lld, history_records %lld, history_total %lld, "
           "api_total %lld, calls %lld\n", recs, hr,
           json_integer_value(json_object_get(m, "history_total")),
           json_integer_value(json_object_get(m, "api_total")),
           json_integer_value(json_object_get(m, "calls")));
    assert_true(hr > 0);
    assert_int_equal(hr, recs); /* 20 days old: every document is archived */
    assert_int_equal(json_integer_value(json_object_get(m, "api_total")), 0);
    /* r-off read no history method: its marker has no history counts */
    m = wt_marker(&rd, ids[2 * 2 * NREP]);
    assert_non_null(m);
    assert_null(json_object_get(m, "history_records"));

    /* the refused history method: the old window fails in plain words, the recent one
     * completes from the normal method */
    int64_t t0 = wdts_time_mono_ms();
    while (dlq.n < 1 && wdts_time_mono_ms() - t0 < 30000)
        wt_reader_poll(&dlq, 500);
    assert_int_equal(dlq.n, 1);
    const char *cls = json_string_value(json_object_get(dlq.v[0].body, "error"));
    const char *msg = json_string_value(json_object_get(dlq.v[0].body, "message"));
    printf("# dead letter (%s): %s\n", cls, msg);
    assert_string_equal(cls, "permission");
    assert_non_null(strstr(msg, "sales.TradeQuery.queryHistoryWithDetail"));
    assert_non_null(strstr(msg, "sid ar-shop"));
    assert_non_null(strstr(msg, "wdtctl connection check --id p-all"));
    assert_non_null(wt_marker(&rd, pnew.job_id));
    assert_null(json_object_get(wt_marker(&rd, pnew.job_id), "history_records"));
    size_t pt = 0;
    assert_int_equal(count_missing(&rd, tenants[0], "p-all", "trades", now, new_start,
                                   new_start + WT_WINDOW, &pt), 0);
    char es[256];
    struct wdts_conn *pc = NULL;
    assert_int_equal(wdts_conn_load(t.redis, t.rprefix, "p-all", &pc, es, sizeof(es)), WDTS_OK);
    assert_true(wdts_conn_report_get(pc, "trades")->history_blocked);
    assert_false(wdts_conn_report_get(pc, "trades")->blocked);
    wdts_conn_destroy(pc);
    int port = wt_worker_port(&w1);
    double skipped = wt_metric(port, "wdt_worker_history_skipped_total", "");
    double hrec = wt_metric(port, "wdt_worker_history_records_total", "");
    printf("# history skipped %.0f, history records %.0f\n", skipped, hrec);
    assert_true(skipped >= 1);
    assert_true(hrec > 0);

    assert_int_equal(wt_worker_stop(&w1, SIGTERM, 30000, NULL), 0);

    /* the split rule holds for the history pass: a total above worker.max.records.per.job
     * splits the window, whose halves read both methods (the normal one has nothing here) */
    const char *trades_only[] = {"trades", NULL};
    struct wt_conn_opts sco = {.id = "sp-all", .tenant = "ta", .sid = "ar-shop",
                               .appkey = "ar-app", .appsecret = "ar-s:ar-x", .gateway = gw[1],
                               .reports = trades_only, .rate = 20, .burst = 10,
                               .concurrency = 4, .archive_horizon_s = 10 * DAY};
    wt_conn_add(&t, &sco);
    wt_wm_init(&t, "sp-all", "trades", old_start);
    const char *small[] = {"WDT_WORKER_MAX_RECORDS_PER_JOB=30", NULL};
    struct wt_worker w2;
    wt_worker_start(&t, &w2, small);
    wt_emit(&t, "ta", "sp-all", "trades", old_start, old_start + WT_WINDOW, NULL);
    t0 = wdts_time_mono_ms();
    while (wt_wm_get(&t, "sp-all", "trades") < old_start + WT_WINDOW &&
           wdts_time_mono_ms() - t0 < 60000)
        usleep(200000);
    if (wt_wm_get(&t, "sp-all", "trades") != old_start + WT_WINDOW) {
        wt_log_dump(&w2);
        fail_msg("the split history window did not complete");
    }
    wt_reader_poll(&rd, 1000);
    assert_true(wt_log_has(&w2, "of sales.TradeQuery.queryHistoryWithDetail exceeds "
                                "worker.max.records.per.job 30"));
    size_t st = 0, sm = count_missing(&rd, tenants[0], "sp-all", "trades", now, old_start,
                                      old_start + WT_WINDOW, &st);
    printf("# split history window: %zu records in the truth, %zu missing\n", st, sm);
    assert_true(st > 30);
    assert_int_equal(sm, 0);
    assert_int_equal(wt_worker_stop(&w2, SIGTERM, 30000, NULL), 0);
    wt_reader_close(&rd);
    wt_reader_close(&dlq);
    assert_int_equal(sbx_stop(&sbx[0], 10000), 0);
    assert_int_equal(sbx_stop(&sbx[1], 10000), 0);
    assert_int_equal(sbx_stop(&psbx, 10000), 0);
    wt_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_archive)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
