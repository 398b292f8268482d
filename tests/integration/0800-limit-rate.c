/* The shared rate limiter against the real redis-server of WDT_TEST_REDIS_URL: several
 * processes, each with its own connection, hammer one (gateway, sid, appkey) and honour
 * the wait hints; every grant's Redis time is collected and no span of L microseconds may
 * hold more than burst + L / interval grants (so never more than rate x T + burst in T).
 * Also: a fractional rate, hints that are exact for a lone client, and a retried request
 * (same slot token) that is not charged twice. */
#include "wdts_test.h"
#include "wdts_test_redis.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/limit.h"
#include "wdts/lock.h"
#include "wdts/redis.h"
#include "wdts/time.h"

static struct wdts_redis_params params;
static struct wdts_redis *redis;
static char es[512];

/* One client process: for run_ms, ask; on go write the grant's Redis time to fd and
 * finish the call at once; on wait sleep exactly the hint. Exits 0, or 1 on an error. */
static void client(int fd, const struct wdts_limit_id *id, const struct wdts_limit_cfg *cfg,
                   int run_ms, int *hint_bad)
{
    char e[256] = "";
    struct wdts_redis *r = wdts_redis_new(&params, e, sizeof(e));
    if (r == NULL) {
        fprintf(stderr, "child connect: %s\n", e);
        _exit(1);
    }
    int64_t end = wdts_time_mono_ms() + run_ms;
    while (wdts_time_mono_ms() < end) {
        char tok[WDTS_LOCK_TOKEN_SIZE];
        struct wdts_limit_start st;
        struct wdts_limit_finish fin;
        if (wdts_lock_token_new(tok) != WDTS_OK ||
            wdts_limit_try_start(r, id, cfg, tok, &st, e, sizeof(e)) != WDTS_OK) {
            fprintf(stderr, "child try_start: %s\n", e);
            _exit(1);
        }
        if (st.go) {
            int64_t t = st.now_us;
            if (write(fd, &t, sizeof(t)) != (ssize_t)sizeof(t))
                _exit(1);
            if (wdts_limit_finish(r, id, cfg, tok, st.now_us, WDTS_LIMIT_OUTCOME_OK, &fin, e,
                                  sizeof(e)) != WDTS_OK ||
                fin.released != 1) {
                fprintf(stderr, "child finish: %s (released %d)\n", e, fin.released);
                _exit(1);
            }
        } else {
            if (st.reason != WDTS_LIMIT_RATE || st.wait_ms < 1 ||
                st.wait_ms > wdts_limit_interval_us(cfg->rate) / 1000 + 1)
                (*hint_bad)++;
            wdts_test_sleep_ms(st.wait_ms);
        }
    }
    wdts_redis_destroy(r);
    _exit(*hint_bad ? 2 : 0);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Runs nproc clients for run_ms against one fresh key and checks the grants. */
static void run_clients(const char *name, double rate, int burst, int nproc, int run_ms)
{
    struct wdts_limit_cfg cfg;
    wdts_limit_cfg_init(&cfg);
    cfg.rate = rate;
    cfg.burst = burst;
    cfg.slots = 1000; /* only the rate limits here */
    struct wdts_limit_id id = {"wdt", name, "appkey-1"};
    int fds[16][2];
    pid_t pids[16];
    assert_true(nproc <= 16);
    for (int p = 0; p < nproc; p++) {
        assert_int_equal(pipe(fds[p]), 0);
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            int bad = 0;
            close(fds[p][0]);
            client(fds[p][1], &id, &cfg, run_ms, &bad);
        }
        close(fds[p][1]);
    }
    int64_t grants[8192];
    size_t n = 0;
    for (int p = 0; p < nproc; p++) {
        int64_t t;
        while (read(fds[p][0], &t, sizeof(t)) == (ssize_t)sizeof(t))
            if (n < sizeof(grants) / sizeof(grants[0]))
                grants[n++] = t;
        close(fds[p][0]);
        int st = 0;
        assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("%s: client %d ended with status %d (2: a wait hint was wrong)", name, p,
                     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    }
    assert_true(n >= (size_t)burst);
    qsort(grants, n, sizeof(grants[0]), cmp_i64);

    /* the GCRA bound for every pair of grants: j - i + 1 <= burst + (t_j - t_i) / T */
    long long T = wdts_limit_interval_us(rate);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i; j < n; j++) {
            long long allowed = burst + (grants[j] - grants[i]) / T;
            if ((long long)(j - i + 1) > allowed)
                fail_msg("%s: %zu grants within %lld us, allowed %lld", name, j - i + 1,
                         (long long)(grants[j] - grants[i]), allowed);
        }
    /* the same as a window count: at most rate x 1 s + burst in any second */
    size_t max_1s = 0;
    for (size_t i = 0, j = 0; i < n; i++) {
        while (j < n && grants[j] - grants[i] < 1000000)
            j++;
        if (j - i > max_1s)
            max_1s = j - i;
    }
    assert_true((double)max_1s <= rate * 1.0 + burst);
    /* the clients, honouring the hints, used most of the budget */
    double span_s = (double)(grants[n - 1] - grants[0]) / 1e6;
    double budget = burst + span_s * 1e6 / (double)T;
    fprintf(stderr,
            "%s: %d processes, rate %.2f/s burst %d: %zu grants in %.3f s (budget %.1f, "
            "%.0f%% used), at most %zu in any 1 s\n",
            name, nproc, rate, burst, n, span_s, budget, 100.0 * (double)n / budget, max_1s);
    assert_true((double)n >= 0.6 * budget);
}

static void test_many_processes(void **state)
{
    (void)state;
    run_clients("sid-many", 40.0, 5, 4, 3000);
}

static void test_fractional_rate(void **state)
{
    (void)state;
    run_clients("sid-frac", 2.5, 2, 3, 2500);
}

static void test_hints_are_exact_for_one_client(void **state)
{
    (void)state;
    struct wdts_limit_cfg cfg;
    wdts_limit_cfg_init(&cfg);
    cfg.rate = 4; /* one call per 250 ms */
    cfg.burst = 1;
    struct wdts_limit_id id = {"wdt", "sid-hint", "appkey-1"};
    struct wdts_limit_start st;
    struct wdts_limit_finish fin;
    char tok[WDTS_LOCK_TOKEN_SIZE];
    long long last_us = 0;
    int waits = 0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(wdts_lock_token_new(tok), WDTS_OK);
        assert_int_equal(wdts_limit_try_start(redis, &id, &cfg, tok, &st, es, sizeof(es)),
                         WDTS_OK);
        if (!st.go) {
            /* refused only inside the interval; the hint is the rest of it */
            assert_int_equal(st.reason, WDTS_LIMIT_RATE);
            assert_true(last_us > 0 && st.now_us - last_us < 250000);
            assert_true(st.wait_ms >= 1 && st.wait_ms <= 250);
            assert_true(st.wait_ms * 1000 >= 250000 - (st.now_us - last_us));
            waits++;
            wdts_test_sleep_ms(st.wait_ms);
            assert_int_equal(wdts_limit_try_start(redis, &id, &cfg, tok, &st, es, sizeof(es)),
                             WDTS_OK);
            assert_int_equal(st.go, 1); /* after sleeping the hint, it goes */
        }
        assert_int_equal(st.reason, WDTS_LIMIT_GO);
        if (last_us)
            assert_true(st.now_us - last_us >= 250000); /* never sooner than 1 / rate */
        last_us = st.now_us;
        assert_int_equal(wdts_limit_finish(redis, &id, &cfg, tok, st.now_us,
                                           WDTS_LIMIT_OUTCOME_OK, &fin, es, sizeof(es)),
                         WDTS_OK);
        assert_int_equal(fin.released, 1);
        assert_int_equal(fin.cooldown_ms, 0);
    }
    assert_true(waits >= 1); /* asking at once after a grant is normally refused */
}

static void test_retry_is_not_charged_twice(void **state)
{
    (void)state;
    struct wdts_limit_cfg cfg;
    wdts_limit_cfg_init(&cfg);
    cfg.rate = 0.2; /* one call per 5 s */
    cfg.burst = 1;
    cfg.slots = 2;
    struct wdts_limit_id id = {"qimen", "sid-retry", "appkey:with:colons"};
    struct wdts_limit_start st;
    assert_int_equal(wdts_limit_try_start(redis, &id, &cfg, "tok-a", &st, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(st.go, 1);
    /* the reply was lost and the worker asks again with the same token */
    assert_int_equal(wdts_limit_try_start(redis, &id, &cfg, "tok-a", &st, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(st.go, 1);
    assert_int_equal(wdts_limit_try_start(redis, &id, &cfg, "tok-b", &st, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(st.go, 0);
    assert_int_equal(st.reason, WDTS_LIMIT_RATE);
    assert_true(st.wait_ms > 2000 && st.wait_ms <= 5000);
}

static void test_bad_config_is_refused(void **state)
{
    (void)state;
    struct wdts_limit_cfg cfg;
    struct wdts_limit_id id = {"wdt", "sid-bad", "k"};
    struct wdts_limit_id empty = {"wdt", "", "k"};
    struct wdts_limit_start st;
    wdts_limit_cfg_init(&cfg);
    cfg.rate = 0;
    assert_int_equal(wdts_limit_try_start(redis, &id, &cfg, "t", &st, es, sizeof(es)),
                     WDTS_ERR_CONFIG);
    assert_non_null(strstr(es, "rate"));
    wdts_limit_cfg_init(&cfg);
    cfg.cooldown_cap_ms = cfg.cooldown_base_ms - 1;
    assert_int_equal(wdts_limit_try_start(redis, &id, &cfg, "t", &st, es, sizeof(es)),
                     WDTS_ERR_CONFIG);
    assert_non_null(strstr(es, "cooldown_cap_ms"));
    wdts_limit_cfg_init(&cfg);
    assert_int_equal(wdts_limit_try_start(redis, &empty, &cfg, "t", &st, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_int_equal(wdts_limit_try_start(redis, &id, &cfg, "", &st, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "token"));
}

int main(void)
{
    wdts_test_redis_group(&params, &redis);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_processes),
        cmocka_unit_test(test_fractional_rate),
        cmocka_unit_test(test_hints_are_exact_for_one_client),
        cmocka_unit_test(test_retry_is_not_charged_twice),
        cmocka_unit_test(test_bad_config_is_refused),
    };
    return cmocka_run_group_tests(tests, wdts_test_redis_group_setup,
                                  wdts_test_redis_group_teardown);
}
