/* One active scheduler at a time: A runs (interval 1 s) and holds the lease; B --once
 * planning two hours later plans nothing and says who holds the lease; A's /metrics shows
 * it holds it. On SIGTERM A releases the lease and exits 0; then B --once plans at once
 * (without waiting for the lease to expire) exactly the two hours A did not. A answers
 * /readyz and /healthz with 200. */
#include "wdts_test_sched.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdts_test.h"

#define T1 1795659453LL

static void test_lease(void **state)
{
    (void)state;
    struct st_env env;
    struct st_jobs all;
    char log[256], nows[32];
    st_setup(&env, "4096");
    setenv("WDT_SCHEDULER_JOB_LEASE", "1d", 1);
    setenv("WDT_SCHEDULER_INTERVAL", "1s", 1);
    setenv("WDT_SCHEDULER_LEASE_TTL", "30s", 1); /* takeover must come from the release */
    static const char *const r1[] = {"trades", NULL};
    st_add_conn(&env, "acme", "c1", r1, 86400);

    snprintf(log, sizeof(log), "/tmp/%sa.log", wdts_test_prefix());
    snprintf(nows, sizeof(nows), "%lld", T1);
    const char *a_args[] = {"--now", nows, NULL};
    pid_t a = st_spawn(log, a_args);
    if (!wdts_test_wait_file_has(log, "pass:", 60)) {
        char *s = wdts_test_slurp(log);
        kill(a, SIGKILL);
        fail_msg("scheduler A made no pass:\n%s", s);
    }

    /* A's metrics say it holds the lease */
    char *alog = wdts_test_slurp(log);
    const char *p = strstr(alog, "/metrics on port ");
    assert_non_null(p);
    long port = strtol(p + strlen("/metrics on port "), NULL, 10);
    free(alog);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%ld/metrics", port);
    char *cargv[] = {"/usr/bin/curl", "-s", url, NULL};
    struct wdts_test_run run;
    assert_int_equal(wdts_test_run(cargv, NULL, 30, &run), 0);
    assert_non_null(strstr(run.out, "wdt_sched_lease_held 1"));
    assert_non_null(strstr(run.out, "wdt_sched_passes_total{result=\"ok\"}"));
    st_consume(&env, &all);
    char want[96];
    snprintf(want, sizeof(want), "wdt_sched_jobs_emitted_total{kind=\"backfill\"} %zu\n", all.n);
    if (strstr(run.out, want) == NULL)
        fail_msg("metrics do not count the %zu jobs on the topic:\n%s", all.n, run.out);
    /* nothing completed: trades lag from the backfill start, 1 day and 33 s; goods has no
     * connection */
    if (strstr(run.out, "wdt_sched_watermark_lag_seconds{report=\"trades\"} 86433\n") == NULL ||
        strstr(run.out, "wdt_sched_watermark_lag_seconds{report=\"goods\"} 0\n") == NULL)
        fail_msg("watermark lag gauges:\n%s", run.out);
    st_jobs_free(&all);
    wdts_test_run_free(&run);
    const char *paths[] = {"/readyz", "/healthz"};
    for (int i = 0; i < 2; i++) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%ld%s", port, paths[i]);
        char *hargv[] = {"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url, NULL};
        assert_int_equal(wdts_test_run(hargv, NULL, 30, &run), 0);
        if (strcmp(run.out, "200") != 0)
            fail_msg("%s answered %s", paths[i], run.out);
        wdts_test_run_free(&run);
    }

    /* B cannot plan while A holds the lease */
    char nows2[32];
    snprintf(nows2, sizeof(nows2), "%lld", T1 + 7200);
    const char *b_args[] = {"--once", "--now", nows2, NULL};
    assert_int_equal(st_run("wdt-scheduler", &run, b_args), 0);
    if (strstr(run.out, "not planning") == NULL)
        fail_msg("B did not say it is not planning:\n%s%s", run.out, run.err);
    wdts_test_run_free(&run);
    st_consume(&env, &all);
    for (size_t i = 0; i < all.n; i++)
        if (all.v[i].emitted_at != T1)
            fail_msg("job %s was emitted by B while A held the lease", all.v[i].job_id);
    size_t first = all.n;
    st_jobs_free(&all);

    /* SIGTERM: A releases the lease and exits 0 */
    kill(a, SIGTERM);
    int st = wdts_test_wait_exit(a, 60);
    if (st != 0) {
        char *s = wdts_test_slurp(log);
        fail_msg("A exited %d on SIGTERM:\n%s", st, s);
    }
    assert_int_equal(wdts_test_wait_file_has(log, "lease released", 1), 1);
    unlink(log);

    /* now B plans the two hours */
    assert_int_equal(st_run("wdt-scheduler", &run, b_args), 0);
    wdts_test_run_free(&run);
    st_consume(&env, &all);
    size_t n;
    struct wdts_job *v = st_select(&all, "c1", "trades", T1 + 7200, &n);
    st_check_cover(v, n, sched_plan_align_down(T1 - 300, 60),
                   sched_plan_align_down(T1 + 7200 - 300, 60), 3600, "B's trades");
    assert_int_equal(all.n, first + n);
    free(v);
    st_jobs_free(&all);
    st_teardown(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_lease)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
