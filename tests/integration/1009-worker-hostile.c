/* A hostile gateway (wdt-sandbox's hostile faults) against the real worker:
 *  - answers built to exhaust memory or forge log lines (a list of 2 M zeros, a record
 *    nested 100 000 deep, an 8 MB message opening with terminal escapes, "data" twice)
 *    are retried as bad_answer / transient and dead-lettered, while the worker's peak
 *    resident memory (VmHWM) stays under 96 MB and its log holds no ESC byte;
 *  - a lying total_count (1e9 on every window) costs three calls: the window, then its
 *    two halves, each dead-lettered because its total did not shrink;
 *  - a job whose workers die while they hold it (kill -9, twice) is dead-lettered as
 *    poison by the third worker (worker.max.starts 2), without another call. */
#include "wdts_test_worker.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts_test.h"

#define TENANTS                                                                                    \
    "[{\"sid\":\"evil-shop\",\"appkey\":\"ev-app\",\"appsecret\":\"ev-secret:ev-salt\","          \
    "\"orders_per_day\":500,\"seed\":9}]"
#define RSS_LIMIT_KB (96 * 1024)
/* Under AddressSanitizer the worker's RSS is the sanitizer's (shadow memory, a quarantine of
 * freed blocks), not the worker's: the bound is checked by the release build's run. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_CHECKED 0
#else
#define RSS_CHECKED 1
#endif

/* The tests of this file share their topics (one prefix per process): each uses a
 * connection of its own, and counts only its dead letters. */
static void setup_conn(struct wt *t, struct sbx_proc *sbx, const char *id, const char *faults,
                       char *tenants, size_t tsize)
{
    char gw[160];
    const char *more[] = {"--faults", faults, NULL};
    wt_sandbox(t, sbx, TENANTS, more, "/openapi", tenants, tsize, gw, sizeof(gw));
    const char *reports[] = {"trades", NULL};
    struct wt_conn_opts co = {.id = id, .tenant = "te", .sid = "evil-shop", .appkey = "ev-app",
                              .appsecret = "ev-secret:ev-salt", .gateway = gw,
                              .reports = reports, .rate = 50, .burst = 10, .concurrency = 4};
    wt_conn_add(t, &co);
}

/* The process's peak resident set (VmHWM) in kB. */
static long vm_hwm_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

/* Drops the dead letters of other connections. */
static void keep_conn(struct wt_reader *dlq, const char *conn)
{
    size_t k = 0;
    for (size_t i = 0; i < dlq->n; i++) {
        json_t *job = json_object_get(dlq->v[i].body, "job");
        const char *c = json_string_value(json_object_get(job, "connection"));
        if (c && strcmp(c, conn) == 0) {
            dlq->v[k++] = dlq->v[i];
        } else {
            free(dlq->v[i].key);
            free(dlq->v[i].pk);
            free(dlq->v[i].job_id);
            free(dlq->v[i].schema);
            json_decref(dlq->v[i].body);
        }
    }
    dlq->n = k;
}

/* Polls the dead letters of conn until n are in (or timeout_ms). */
static int wait_dlq(struct wt_reader *dlq, const char *conn, size_t n, int timeout_ms)
{
    int64_t t0 = wdts_time_mono_ms();
    while (dlq->n < n && wdts_time_mono_ms() - t0 < timeout_ms) {
        wt_reader_poll(dlq, 300);
        keep_conn(dlq, conn);
    }
    return dlq->n >= n;
}

static const char *dlq_field(const struct wt_reader *dlq, size_t i, const char *key)
{
    const char *s = json_string_value(json_object_get(dlq->v[i].body, key));
    return s ? s : "";
}

static void test_hostile_answers(void **state)
{
    (void)state;
    struct wt t;
    struct sbx_proc sbx;
    char tenants[512];
    wt_init(&t, 2, 2);
    setup_conn(&t, &sbx, "ce1", "hugelist=0.25,deepnest=0.34,hugestring=0.5,dupkey=1.0,seed=7", tenants,
               sizeof(tenants));
    int64_t start = wdts_time_now() / 3600 * 3600 - 4 * 3600;
    wt_wm_init(&t, "ce1", "trades", start);
    struct wt_reader dlq;
    wt_reader_open(&t, &dlq, t.t_dlq);
    const char *extra[] = {"WDT_WORKER_MAX_ATTEMPTS=4", NULL};
    struct wt_worker wk;
    wt_worker_start(&t, &wk, extra);
    long idle = -1;
    for (int i = 0; i < 100 && idle < 0; i++, usleep(100000))
        if (wt_log_has(&wk, "/readyz on port"))
            idle = vm_hwm_kb(wk.pid);
    wt_emit(&t, "te", "ce1", "trades", start, start + WT_WINDOW, NULL);
    wt_emit(&t, "te", "ce1", "trades", start + WT_WINDOW, start + 2 * WT_WINDOW, NULL);
    if (!wait_dlq(&dlq, "ce1", 2, 120000)) {
        wt_log_dump(&wk);
        fail_msg("the hostile answers were not dead-lettered");
    }
    long peak = vm_hwm_kb(wk.pid);
    long long hl = metric_value(&sbx, "wdt_sandbox_faults_injected_total", "hugelist");
    long long dn = metric_value(&sbx, "wdt_sandbox_faults_injected_total", "deepnest");
    long long hs = metric_value(&sbx, "wdt_sandbox_faults_injected_total", "hugestring");
    long long dk = metric_value(&sbx, "wdt_sandbox_faults_injected_total", "dupkey");
    printf("# answers: hugelist %lld, deepnest %lld, hugestring %lld, dupkey %lld; worker VmHWM "
           "%ld kB at start, %ld kB after (limit %d kB)\n", hl, dn, hs, dk, idle, peak,
           RSS_LIMIT_KB);
    for (size_t i = 0; i < dlq.n; i++)
        printf("# dead letter %s: %.200s\n", dlq_field(&dlq, i, "error"),
               dlq_field(&dlq, i, "message"));
    assert_true(hl + dn + hs + dk >= 8);
    assert_true(hl >= 1);
    assert_true(peak > 0);
    if (RSS_CHECKED)
        assert_true(peak < RSS_LIMIT_KB);
    else
        printf("# sanitizer build: the RSS bound is not checked here\n");
    assert_true(wt_log_has(&wk, "bad_answer"));
    assert_true(wt_log_has(&wk, "class: ok")); /* the forged text, made harmless */
    /* no escape reaches the log, and no line carries the 8 MB message */
    FILE *f = fopen(wk.log, "r");
    assert_non_null(f);
    int c, esc = 0;
    long line = 0, longest = 0;
    while ((c = fgetc(f)) != EOF) {
        esc += c == 0x1b;
        line = c == '\n' ? 0 : line + 1;
        longest = line > longest ? line : longest;
    }
    fclose(f);
    assert_int_equal(esc, 0);
    assert_true(longest < 8192);
    for (size_t i = 0; i < dlq.n; i++)
        assert_null(strchr(dlq_field(&dlq, i, "message"), 0x1b));

    assert_int_equal(wt_worker_stop(&wk, SIGTERM, 30000, NULL), 0);
    wt_reader_close(&dlq);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    wt_deinit(&t);
}

static void test_lying_total(void **state)
{
    (void)state;
    struct wt t;
    struct sbx_proc sbx;
    char tenants[512];
    wt_init(&t, 2, 2);
    setup_conn(&t, &sbx, "ce2", "liartotal=1.0", tenants, sizeof(tenants));
    int64_t start = wdts_time_now() / 3600 * 3600 - 4 * 3600;
    wt_wm_init(&t, "ce2", "trades", start);
    struct wt_reader dlq;
    wt_reader_open(&t, &dlq, t.t_dlq);
    struct wt_worker wk;
    wt_worker_start(&t, &wk, NULL);
    wt_emit(&t, "te", "ce2", "trades", start, start + WT_WINDOW, NULL);
    if (!wait_dlq(&dlq, "ce2", 2, 60000)) {
        wt_log_dump(&wk);
        fail_msg("the halves of a lying total were not dead-lettered");
    }
    wt_reader_poll(&dlq, 3000); /* anything more that would come */
    keep_conn(&dlq, "ce2");
    long long calls = metric_value(&sbx, "wdt_sandbox_calls_total", NULL);
    printf("# total_count 1e9 on every window: %lld calls, %zu dead letters: %.300s\n", calls,
           dlq.n, dlq_field(&dlq, 0, "message"));
    assert_int_equal(dlq.n, 2);
    assert_true(calls <= 3);
    for (size_t i = 0; i < dlq.n; i++)
        assert_non_null(strstr(dlq_field(&dlq, i, "message"), "does not shrink"));
    assert_int_equal(wt_worker_stop(&wk, SIGTERM, 30000, NULL), 0);
    wt_reader_close(&dlq);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    wt_deinit(&t);
}

static long long starts_of(struct wt *t, const char *job_id)
{
    struct wdts_buf key;
    long long n = 0;
    wdts_buf_init(&key);
    wdts_redis_key(&key, t->rprefix, "starts", job_id, NULL);
    const char *argv[] = {"EVAL", "return tonumber(redis.call('GET', KEYS[1]) or '0')", "1",
                          wdts_buf_str(&key)};
    assert_int_equal(wdts_redis_command_int(t->redis, 4, argv, NULL, &n), WDTS_OK);
    wdts_buf_deinit(&key);
    return n;
}

static void test_poison(void **state)
{
    (void)state;
    struct wt t;
    struct sbx_proc sbx;
    char tenants[512];
    wt_init(&t, 1, 2);
    setup_conn(&t, &sbx, "ce3", "latency=4s", tenants, sizeof(tenants));
    int64_t start = wdts_time_now() / 3600 * 3600 - 4 * 3600;
    wt_wm_init(&t, "ce3", "trades", start);
    struct wt_reader dlq;
    wt_reader_open(&t, &dlq, t.t_dlq);
    const char *extra[] = {"WDT_WORKER_MAX_STARTS=2", "WDT_WORKER_LOCK_TTL=3s", NULL};
    struct wdts_job job;
    wt_emit(&t, "te", "ce3", "trades", start, start + WT_WINDOW, &job);
    for (int round = 1; round <= 2; round++) {
        struct wt_worker wk;
        wt_worker_start(&t, &wk, extra);
        int64_t t0 = wdts_time_mono_ms();
        while (starts_of(&t, job.job_id) < round && wdts_time_mono_ms() - t0 < 60000)
            usleep(100000);
        if (starts_of(&t, job.job_id) != round) {
            wt_log_dump(&wk);
            fail_msg("start %d: the job's start count is %lld", round, starts_of(&t, job.job_id));
        }
        usleep(500000); /* its first call is under way (4 s) */
        assert_int_equal(wt_worker_stop(&wk, SIGKILL, 5000, NULL), 128 + SIGKILL);
        printf("# start %d: worker killed while it held the job\n", round);
    }
    long long calls_before = metric_value(&sbx, "wdt_sandbox_calls_total", NULL);
    struct wt_worker last;
    wt_worker_start(&t, &last, extra);
    if (!wait_dlq(&dlq, "ce3", 1, 90000)) {
        wt_log_dump(&last);
        fail_msg("the poison job was not dead-lettered");
    }
    printf("# third start: %s: %.200s\n", dlq_field(&dlq, 0, "error"),
           dlq_field(&dlq, 0, "message"));
    assert_string_equal(dlq_field(&dlq, 0, "error"), "poison");
    assert_non_null(strstr(dlq_field(&dlq, 0, "message"), "begun 2 times without finishing"));
    assert_int_equal(metric_value(&sbx, "wdt_sandbox_calls_total", NULL), calls_before);
    assert_int_equal(starts_of(&t, job.job_id), 0); /* finished: the count is gone */
    assert_int_equal(wt_worker_stop(&last, SIGTERM, 30000, NULL), 0);
    wt_reader_close(&dlq);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    wt_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_answers),
        cmocka_unit_test(test_lying_total),
        cmocka_unit_test(test_poison),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
