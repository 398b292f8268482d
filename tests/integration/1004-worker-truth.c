/* The invariant of docs/DESIGN.md §6 for a multi-tenant run with the sandbox clock running
 * 60 times faster than real time (records change, and leave their windows, while they are
 * paged): three connections, four hourly windows each, two worker processes sharing the
 * jobs (at most 4 in flight each, so consumption pauses and resumes). Once every window
 * is complete and the watermark of each connection has reached W, every record whose
 * modified as of that moment lies in [origin, W) is present downstream in that version or
 * a later one. Duplicates are counted and reported, not failed. */
#include "wdts_test_worker.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"
#include "wdts/time.h"
#include "wdts_test.h"

#define NCONN 3
#define NWIN 4

static const char *const sids[NCONN] = {"tr-a", "tr-b", "tr-c"};

static void test_truth(void **state)
{
    (void)state;
    struct wt t;
    struct sbx_proc sbx;
    wt_init(&t, 4, 8);
    const char *ten = "[{\"sid\":\"tr-a\",\"appkey\":\"ka\",\"appsecret\":\"sa:xa\","
                      "\"orders_per_day\":3000,\"seed\":51},"
                      "{\"sid\":\"tr-b\",\"appkey\":\"kb\",\"appsecret\":\"sb:xb\","
                      "\"orders_per_day\":5000,\"seed\":52},"
                      "{\"sid\":\"tr-c\",\"appkey\":\"kc\",\"appsecret\":\"sc:xc\","
                      "\"orders_per_day\":8000,\"seed\":53,\"rate_per_min\":600}]";
    char tenants[512], gw[160], clock[64];
    snprintf(clock, sizeof(clock), "speed:60@%lld", (long long)wdts_time_now());
    /* the gateway checks request times against the fast clock too: the workers resync */
    const char *more[] = {"--clock", clock, "--timestamp-clock", "sandbox", "--faults",
                          "latency=20ms", NULL};
    wt_sandbox(&t, &sbx, ten, more, "/openapi", tenants, sizeof(tenants), gw, sizeof(gw));
    const char *reports[] = {"trades", NULL};
    char conn[NCONN][8], tenant[NCONN][8], key[NCONN][4], secret[NCONN][8];
    for (int c = 0; c < NCONN; c++) {
        snprintf(conn[c], sizeof(conn[c]), "c%c", 'a' + c);
        snprintf(tenant[c], sizeof(tenant[c]), "t%c", 'a' + c);
        snprintf(key[c], sizeof(key[c]), "k%c", 'a' + c);
        snprintf(secret[c], sizeof(secret[c]), "s%c:x%c", 'a' + c, 'a' + c);
        struct wt_conn_opts co = {.id = conn[c], .tenant = tenant[c], .sid = sids[c],
                                  .appkey = key[c], .appsecret = secret[c], .gateway = gw,
                                  .reports = reports, .rate = 8, .burst = 4, .concurrency = 2,
                                  .pii = c == 1 ? WDTS_CONN_PII_DROP : WDTS_CONN_PII_KEEP};
        wt_conn_add(&t, &co);
    }
    int64_t t0 = sbx_clock(&sbx) / 3600 * 3600;
    int64_t origin = t0 - (NWIN + 1) * 3600, wend = origin + NWIN * WT_WINDOW;
    for (int c = 0; c < NCONN; c++)
        wt_wm_init(&t, conn[c], "trades", origin);

    struct wt_reader rd;
    wt_reader_open(&t, &rd, t.t_records);
    const char *extra[] = {"WDT_WORKER_MAX_INFLIGHT=4", "WDT_WORKER_LOCK_TTL=10s", NULL};
    struct wt_worker w1, w2;
    wt_worker_start(&t, &w1, extra);
    wt_worker_start(&t, &w2, extra);

    char ids[NCONN * NWIN][WDTS_JOB_ID_LEN];
    const char *idp[NCONN * NWIN];
    for (int i = 0; i < NWIN; i++)
        for (int c = 0; c < NCONN; c++) {
            struct wdts_job j;
            int k = i * NCONN + c;
            wt_emit(&t, tenant[c], conn[c], "trades", origin + i * WT_WINDOW, origin + (i + 1) * WT_WINDOW,
                    &j);
            snprintf(ids[k], sizeof(ids[k]), "%s", j.job_id);
            idp[k] = ids[k];
        }
    if (!wt_wait_markers(&rd, idp, NCONN * NWIN, 300000)) {
        wt_log_dump(&w1);
        wt_log_dump(&w2);
        fail_msg("markers missing");
    }
    for (int c = 0; c < NCONN; c++)
        assert_int_equal(wt_wm_get(&t, conn[c], "trades"), wend);
    int64_t as_of = sbx_clock(&sbx); /* the watermarks reached W before this moment */
    wt_reader_poll(&rd, 1000);

    size_t total = 0, missing = 0, stale = 0, dups = 0, records = 0;
    for (size_t i = 0; i < rd.n; i++)
        records += strcmp(rd.v[i].schema, "wdt.record.v1") == 0;
    for (int c = 0; c < NCONN; c++) {
        char *bin = wdts_xstrdup(wdts_test_bin("wdt-sandbox"));
        char a[32], s[32], b[32];
        snprintf(a, sizeof(a), "%lld", (long long)as_of);
        snprintf(s, sizeof(s), "%lld", (long long)origin);
        snprintf(b, sizeof(b), "%lld", (long long)wend);
        char *argv[] = {bin, "truth", "--tenants", tenants, "--sid", (char *)sids[c], "--report",
                        "trades", "--as-of", a, "--since", s, "--before", b, "--route", "wdt",
                        NULL};
        struct wdts_test_run run;
        assert_int_equal(wdts_test_run(argv, NULL, 120, &run), 0);
        assert_int_equal(run.status, 0);
        for (char *line = run.out, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            json_t *j = json_loads(line, 0, NULL);
            assert_non_null(j);
            const char *pk = json_string_value(json_object_get(j, "pk"));
            int64_t want = json_integer_value(json_object_get(j, "modified_unix"));
            char k[256];
            snprintf(k, sizeof(k), "%s:trades:%s", conn[c], pk);
            int64_t best = -1;
            int copies = 0;
            for (size_t i = 0; i < rd.n; i++) {
                if (strcmp(rd.v[i].key, k) != 0)
                    continue;
                copies++;
                const char *m = json_string_value(
                    json_object_get(json_object_get(rd.v[i].body, "data"), "modified"));
                int64_t got = 0;
                if (m && wdts_time_parse_beijing(m, &got) == WDTS_OK && got > best)
                    best = got;
            }
            total++;
            if (copies == 0)
                missing++;
            else if (best < want)
                stale++;
            if (copies > 1)
                dups += (size_t)(copies - 1);
            json_decref(j);
        }
        wdts_test_run_free(&run);
        free(bin);
    }
    printf("# truth: %zu records in [origin, W) as of the sandbox clock; %zu missing, %zu only in "
           "an older version; %zu record messages read, %zu duplicates\n",
           total, missing, stale, records, dups);
    assert_true(total > 500);
    assert_int_equal(missing, 0);
    assert_int_equal(stale, 0);

    assert_int_equal(wt_worker_stop(&w1, SIGTERM, 30000, NULL), 0);
    assert_int_equal(wt_worker_stop(&w2, SIGTERM, 30000, NULL), 0);
    wt_reader_close(&rd);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    wt_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_truth)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
