/* SIGTERM with a job that cannot finish (its gateway holds every request): the worker
 * stops taking jobs, exits 0 within worker.shutdown.timeout (25 s), releases the window
 * lock of the unfinished job and does not commit its offset, while the job that did
 * finish before the signal stays committed. A config error exits 78 listing every error. */
#include "wdts_test_worker.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts/watermark.h"
#include "wdts_test.h"

#define TENANTS                                                                                    \
    "[{\"sid\":\"st-shop\",\"appkey\":\"st-app\",\"appsecret\":\"st-secret:st-salt\","            \
    "\"orders_per_day\":2000,\"seed\":61}]"

static void test_sigterm(void **state)
{
    (void)state;
    struct wt t;
    struct sbx_proc fast, hung;
    wt_init(&t, 4, 8);
    char tenants[512];
    snprintf(tenants, sizeof(tenants), "%s", wdts_test_write_file(t.dir, "tenants.json", TENANTS));
    const char *a1[] = {"--tenants", tenants, NULL};
    const char *a2[] = {"--tenants", tenants, "--faults", "hang=1.0,hangtime=120s", NULL};
    assert_int_equal(wt_sbx_start(&fast, a1), 0);
    assert_int_equal(wt_sbx_start(&hung, a2), 0);
    char gw1[160], gw2[160];
    snprintf(gw1, sizeof(gw1), "%s/openapi", fast.base);
    snprintf(gw2, sizeof(gw2), "%s/openapi", hung.base);
    const char *reports[] = {"trades", NULL};
    struct wt_conn_opts co = {.id = "c-fast", .tenant = "ts", .sid = "st-shop",
                              .appkey = "st-app", .appsecret = "st-secret:st-salt",
                              .gateway = gw1, .reports = reports, .rate = 20, .burst = 5,
                              .concurrency = 2};
    wt_conn_add(&t, &co);
    co.id = "c-hung";
    co.gateway = gw2;
    wt_conn_add(&t, &co);
    int64_t start = wdts_time_now() / 3600 * 3600 - 3 * 3600, end = start + WT_WINDOW;
    wt_wm_init(&t, "c-fast", "trades", start);
    wt_wm_init(&t, "c-hung", "trades", start);

    struct wt_reader rd;
    wt_reader_open(&t, &rd, t.t_records);
    struct wt_worker wk;
    wt_worker_start(&t, &wk, NULL);
    struct wdts_job jf, jh;
    wt_emit(&t, "ts", "c-fast", "trades", start, end, &jf);
    int32_t pf = wt_last_partition;
    int64_t of = wt_last_offset;
    wt_emit(&t, "ts", "c-hung", "trades", start, end, &jh);
    int32_t ph = wt_last_partition;
    int64_t oh = wt_last_offset;
    const char *ids[] = {jf.job_id};
    if (!wt_wait_markers(&rd, ids, 1, 120000)) {
        wt_log_dump(&wk);
        fail_msg("the fast job did not complete");
    }
    /* the hung job holds its lock while its call hangs */
    struct wdts_buf lk;
    wdts_buf_init(&lk);
    struct wdts_wm_id hid = {"c-hung", "trades"};
    const char *lock_key = wdts_wm_lock_key(&lk, t.rprefix, &hid, start, end);
    struct wdts_redis_reply *r = NULL;
    int held = 0;
    for (int i = 0; i < 100 && !held; i++) {
        assert_int_equal(wdts_redis_commandl(t.redis, &r, "EXISTS", lock_key, NULL), WDTS_OK);
        held = wdts_redis_reply_int(r) == 1;
        wdts_redis_reply_free(r);
        if (!held)
            usleep(100000);
    }
    assert_true(held);
    sleep(2); /* let the fast job's offset be committed */

    int64_t took = 0;
    int rc = wt_worker_stop(&wk, SIGTERM, 40000, &took);
    printf("# SIGTERM with a hung job: exit %d after %lld ms\n", rc, (long long)took);
    if (rc != 0)
        wt_log_dump(&wk);
    assert_int_equal(rc, 0);
    assert_true(took < 25000);
    assert_true(wt_log_has(&wk, "abandoned"));

    assert_int_equal(wdts_redis_commandl(t.redis, &r, "EXISTS", lock_key, NULL), WDTS_OK);
    assert_int_equal(wdts_redis_reply_int(r), 0); /* released, not left to expire */
    wdts_redis_reply_free(r);
    wdts_buf_deinit(&lk);
    long long cf = wt_committed_at(&t, t.t_jobs, pf), ch = wt_committed_at(&t, t.t_jobs, ph);
    printf("# fast job @%d:%lld → committed %lld; hung job @%d:%lld → committed %lld\n", (int)pf,
           (long long)of, cf, (int)ph, (long long)oh, ch);
    assert_true(ch <= oh); /* the unfinished job is not committed */
    if (pf != ph || of < oh)
        assert_true(cf >= of + 1);
    assert_int_equal(wt_wm_get(&t, "c-hung", "trades"), start);
    assert_int_equal(wt_wm_get(&t, "c-fast", "trades"), end);

    wt_reader_close(&rd);
    assert_int_equal(sbx_stop(&fast, 10000), 0);
    sbx_stop(&hung, 10000);
    wt_deinit(&t);
}

static void test_config_errors(void **state)
{
    (void)state;
    char *bin = wdts_xstrdup(wdts_test_bin("wdt-worker"));
    char *argv[] = {bin, "--set", "worker.max.inflight=0", "--set", "redis.url=ftp://x", NULL};
    struct wdts_test_run run;
    assert_int_equal(wdts_test_run(argv, NULL, 30, &run), 0);
    printf("# %s", run.err);
    assert_int_equal(run.status, 78);
    assert_non_null(strstr(run.err, "worker.max.inflight"));
    assert_non_null(strstr(run.err, "redis.url"));
    assert_non_null(strstr(run.err, "secret.key"));
    wdts_test_run_free(&run);
    char *help[] = {bin, "--help-config", NULL};
    assert_int_equal(wdts_test_run(help, NULL, 30, &run), 0);
    assert_int_equal(run.status, 0);
    assert_non_null(strstr(run.out, "worker.lock.ttl"));
    wdts_test_run_free(&run);
    free(bin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_config_errors),
                                       cmocka_unit_test(test_sigterm)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
