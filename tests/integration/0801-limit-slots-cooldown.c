/* The concurrency semaphore and the cooldown against the real redis-server of
 * WDT_TEST_REDIS_URL: slots are released by token only, the slots of a process killed
 * with SIGKILL free themselves after their lease, the wait hint while all slots are busy
 * is the time to the first expiry; a rate-limit answer sets a cooldown that doubles and
 * stops at the cap, answers of calls that began before the cooldown do not escalate it,
 * a streak of successes resets it, and the cooldown is checked before anything else. */
#include "wdts_test.h"
#include "wdts_test_redis.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/limit.h"
#include "wdts/redis.h"
#include "wdts/time.h"

static struct wdts_redis_params params;
static struct wdts_redis *redis;
static char es[512];

static struct wdts_limit_start try_start(const struct wdts_limit_id *id,
                                         const struct wdts_limit_cfg *cfg, const char *tok)
{
    struct wdts_limit_start st;
    if (wdts_limit_try_start(redis, id, cfg, tok, &st, es, sizeof(es)) != WDTS_OK)
        fail_msg("try_start: %s", es);
    return st;
}

static struct wdts_limit_finish finish(const struct wdts_limit_id *id,
                                       const struct wdts_limit_cfg *cfg, const char *tok,
                                       long long started_us, enum wdts_limit_outcome oc)
{
    struct wdts_limit_finish fin;
    if (wdts_limit_finish(redis, id, cfg, tok, started_us, oc, &fin, es, sizeof(es)) != WDTS_OK)
        fail_msg("finish: %s", es);
    return fin;
}

/* A cfg where only slots and cooldowns matter. */
static void fast_cfg(struct wdts_limit_cfg *cfg)
{
    wdts_limit_cfg_init(cfg);
    cfg->rate = 10000;
    cfg->burst = 1000;
}

static void test_slots_released_by_token(void **state)
{
    (void)state;
    struct wdts_limit_cfg cfg;
    fast_cfg(&cfg);
    cfg.slots = 2;
    struct wdts_limit_id id = {"wdt", "sid-slots", "k"};
    assert_int_equal(try_start(&id, &cfg, "a").go, 1);
    assert_int_equal(try_start(&id, &cfg, "b").go, 1);
    struct wdts_limit_start st = try_start(&id, &cfg, "c");
    assert_int_equal(st.go, 0);
    assert_int_equal(st.reason, WDTS_LIMIT_CONCURRENCY);
    assert_true(st.wait_ms >= 1 && st.wait_ms <= cfg.poll_ms);
    /* a token that holds no slot frees nothing */
    assert_int_equal(finish(&id, &cfg, "zzz", st.now_us, WDTS_LIMIT_OUTCOME_OK).released, 0);
    assert_int_equal(try_start(&id, &cfg, "c").go, 0);
    assert_int_equal(finish(&id, &cfg, "a", st.now_us, WDTS_LIMIT_OUTCOME_OTHER).released, 1);
    assert_int_equal(try_start(&id, &cfg, "c").go, 1);
    assert_int_equal(try_start(&id, &cfg, "d").go, 0);
    /* a second release of the same slot is a no-op */
    assert_int_equal(finish(&id, &cfg, "a", st.now_us, WDTS_LIMIT_OUTCOME_OK).released, 0);
    assert_int_equal(try_start(&id, &cfg, "d").go, 0);
}

static void test_killed_holder_slots_expire(void **state)
{
    (void)state;
    struct wdts_limit_cfg cfg;
    fast_cfg(&cfg);
    cfg.slots = 2;
    cfg.slot_lease_ms = 3000;
    cfg.poll_ms = 60000; /* so the hint is the time to the first expiry */
    struct wdts_limit_id id = {"wdt", "sid-kill", "k"};
    int sync[2];
    assert_int_equal(pipe(sync), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* a worker that takes both slots and dies without releasing them */
        char e[256];
        struct wdts_limit_start st;
        struct wdts_redis *r = wdts_redis_new(&params, e, sizeof(e));
        int ok = r && wdts_limit_try_start(r, &id, &cfg, "dead-1", &st, e, sizeof(e)) == 0 &&
                 st.go && wdts_limit_try_start(r, &id, &cfg, "dead-2", &st, e, sizeof(e)) == 0 &&
                 st.go;
        char c = ok ? 'y' : 'n';
        (void)!write(sync[1], &c, 1);
        raise(SIGKILL);
        _exit(1);
    }
    close(sync[1]);
    char c = 0;
    assert_int_equal(read(sync[0], &c, 1), 1);
    close(sync[0]);
    assert_int_equal(c, 'y');
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);

    int64_t t0 = wdts_time_mono_ms();
    struct wdts_limit_start st = try_start(&id, &cfg, "live");
    assert_int_equal(st.go, 0);
    assert_int_equal(st.reason, WDTS_LIMIT_CONCURRENCY);
    assert_true(st.wait_ms >= 1 && st.wait_ms <= 3000);
    /* the hint is when the first dead slot expires: after it the call goes */
    wdts_test_sleep_ms(st.wait_ms);
    st = try_start(&id, &cfg, "live");
    assert_int_equal(st.go, 1);
    int64_t waited = wdts_time_mono_ms() - t0;
    fprintf(stderr, "slots of the killed process freed after %lld ms (lease 3000 ms)\n",
            (long long)waited);
    assert_true(waited < 10000);
}

/* While a cooldown of dur_ms set at set_at (monotonic ms) lasts, calls wait with the
 * reason cooldown and a hint within it; a machine slow enough to reach this after the
 * end may see go, but only then. Returns the answer once the call may go. */
static struct wdts_limit_start wait_out_cooldown(const struct wdts_limit_id *id,
                                                 const struct wdts_limit_cfg *cfg,
                                                 struct wdts_limit_start st, int64_t set_at,
                                                 long long dur_ms)
{
    if (st.go) {
        assert_true(wdts_time_mono_ms() - set_at >= dur_ms - 5);
        return st;
    }
    assert_int_equal(st.reason, WDTS_LIMIT_COOLDOWN);
    assert_true(st.wait_ms >= 1 && st.wait_ms <= dur_ms);
    wdts_test_sleep_ms(st.wait_ms);
    st = try_start(id, cfg, "t");
    assert_int_equal(st.go, 1);
    return st;
}

static void test_cooldown_grows_caps_and_resets(void **state)
{
    (void)state;
    struct wdts_limit_cfg cfg;
    fast_cfg(&cfg);
    cfg.cooldown_base_ms = 100;
    cfg.cooldown_cap_ms = 400;
    cfg.cooldown_reset_after = 3;
    struct wdts_limit_id id = {"qimen", "sid-cool", "k"};
    const long long want_ms[] = {100, 200, 400, 400, 400};
    const int want_level[] = {1, 2, 3, 3, 3};
    int64_t set_at = 0;
    for (int i = 0; i < 5; i++) {
        struct wdts_limit_start st = try_start(&id, &cfg, "t");
        if (i > 0)
            st = wait_out_cooldown(&id, &cfg, st, set_at, want_ms[i - 1]);
        assert_int_equal(st.go, 1);
        struct wdts_limit_finish fin = finish(&id, &cfg, "t", st.now_us,
                                              WDTS_LIMIT_OUTCOME_LIMITED);
        set_at = wdts_time_mono_ms();
        assert_int_equal(fin.released, 1);
        assert_int_equal(fin.cooldown_ms, want_ms[i]);
        assert_int_equal(fin.level, want_level[i]);
    }
    /* the cooldown ends; successes reset the level after a streak of 3 */
    struct wdts_limit_start st = try_start(&id, &cfg, "t");
    st = wait_out_cooldown(&id, &cfg, st, set_at, 400);
    assert_int_equal(finish(&id, &cfg, "t", st.now_us, WDTS_LIMIT_OUTCOME_OTHER).released, 1);
    for (int i = 1; i <= 3; i++) {
        st = try_start(&id, &cfg, "t");
        assert_int_equal(st.go, 1);
        struct wdts_limit_finish fin = finish(&id, &cfg, "t", st.now_us, WDTS_LIMIT_OUTCOME_OK);
        assert_int_equal(fin.cooldown_ms, 0);
        assert_int_equal(fin.level, i < 3 ? 3 : 0);
        assert_int_equal(fin.streak, i < 3 ? i : 0);
    }
    st = try_start(&id, &cfg, "t");
    assert_int_equal(st.go, 1);
    struct wdts_limit_finish fin = finish(&id, &cfg, "t", st.now_us, WDTS_LIMIT_OUTCOME_LIMITED);
    assert_int_equal(fin.cooldown_ms, 100); /* back to the base */
    assert_int_equal(fin.level, 1);
}

static void test_burst_of_answers_escalates_once(void **state)
{
    (void)state;
    struct wdts_limit_cfg cfg;
    fast_cfg(&cfg);
    cfg.slots = 3;
    cfg.cooldown_base_ms = 20000; /* long: nothing here may outlast it */
    cfg.cooldown_cap_ms = 60000;
    struct wdts_limit_id id = {"wdt", "sid-burst", "k"};
    /* three calls in flight; the vendor answers all three with a rate limit */
    struct wdts_limit_start a = try_start(&id, &cfg, "a");
    struct wdts_limit_start b = try_start(&id, &cfg, "b");
    struct wdts_limit_start c = try_start(&id, &cfg, "c");
    assert_true(a.go && b.go && c.go);
    struct wdts_limit_finish fin = finish(&id, &cfg, "a", a.now_us, WDTS_LIMIT_OUTCOME_LIMITED);
    assert_int_equal(fin.level, 1);
    fin = finish(&id, &cfg, "b", b.now_us, WDTS_LIMIT_OUTCOME_LIMITED);
    assert_int_equal(fin.level, 1); /* b started before the cooldown: no escalation */
    assert_true(fin.cooldown_ms > 0 && fin.cooldown_ms <= 20000);
    /* nor does c's success count towards a streak */
    fin = finish(&id, &cfg, "c", c.now_us, WDTS_LIMIT_OUTCOME_OK);
    assert_int_equal(fin.level, 1);
    assert_int_equal(fin.streak, 0);
    assert_int_equal(fin.released, 1);
    /* every worker sees the cooldown, whatever its slot or token */
    struct wdts_limit_start d = try_start(&id, &cfg, "d");
    assert_int_equal(d.go, 0);
    assert_int_equal(d.reason, WDTS_LIMIT_COOLDOWN);
}

/* Processes take slots of one key while counting themselves in a shared counter: it
 * never exceeds the slot count. */
static void test_processes_respect_slots(void **state)
{
    (void)state;
    enum { NPROC = 4, SLOTS = 2, RUN_MS = 1500 };
    struct wdts_limit_cfg cfg;
    fast_cfg(&cfg);
    cfg.slots = SLOTS;
    cfg.poll_ms = 2;
    struct wdts_limit_id id = {"wdt", "sid-race", "k"};
    struct wdts_buf kb;
    wdts_buf_init(&kb);
    const char *parts[1] = {"slot-holders"};
    char holders[256];
    wdts_strlcpy(holders, wdts_lua_key(&kb, params.prefix, "test", parts, 1, ""),
                 sizeof(holders));
    wdts_buf_deinit(&kb);
    pid_t pids[NPROC];
    int pipes[NPROC][2];
    for (int p = 0; p < NPROC; p++) {
        assert_int_equal(pipe(pipes[p]), 0);
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] > 0) {
            close(pipes[p][1]);
            continue;
        }
        close(pipes[p][0]);
        char e[256], tok[32];
        struct wdts_redis *r = wdts_redis_new(&params, e, sizeof(e));
        if (r == NULL)
            _exit(1);
        int calls = 0, most = 0;
        int64_t end = wdts_time_mono_ms() + RUN_MS;
        for (int i = 0; wdts_time_mono_ms() < end; i++) {
            struct wdts_limit_start st;
            struct wdts_limit_finish fin;
            long long n = 0;
            snprintf(tok, sizeof(tok), "p%d-%d", p, i);
            if (wdts_limit_try_start(r, &id, &cfg, tok, &st, e, sizeof(e)))
                _exit(1);
            if (!st.go) {
                if (st.reason != WDTS_LIMIT_CONCURRENCY)
                    _exit(1);
                wdts_test_sleep_ms(st.wait_ms);
                continue;
            }
            const char *incr[2] = {"INCR", holders};
            const char *decr[2] = {"DECR", holders};
            if (wdts_redis_command_int(r, 2, incr, NULL, &n))
                _exit(1);
            if (n > SLOTS)
                _exit(3);
            if (n > most)
                most = (int)n;
            calls++;
            wdts_test_sleep_ms(3);
            if (wdts_redis_command_int(r, 2, decr, NULL, &n) ||
                wdts_limit_finish(r, &id, &cfg, tok, st.now_us, WDTS_LIMIT_OUTCOME_OK, &fin, e,
                                  sizeof(e)) ||
                !fin.released)
                _exit(1);
        }
        int out[2] = {calls, most};
        (void)!write(pipes[p][1], out, sizeof(out));
        wdts_redis_destroy(r);
        _exit(0);
    }
    int calls = 0, most = 0;
    for (int p = 0; p < NPROC; p++) {
        int in[2] = {0, 0}, st = 0;
        assert_int_equal(read(pipes[p][0], in, sizeof(in)), sizeof(in));
        close(pipes[p][0]);
        assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("process %d: status %d (3: more calls at once than slots)", p,
                     WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        calls += in[0];
        if (in[1] > most)
            most = in[1];
    }
    fprintf(stderr, "%d processes made %d calls with %d slots, at most %d at once\n", NPROC,
            calls, SLOTS, most);
    assert_true(calls >= 10);
    assert_true(most >= 1 && most <= SLOTS);
}

int main(void)
{
    wdts_test_redis_group(&params, &redis);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slots_released_by_token),
        cmocka_unit_test(test_killed_holder_slots_expire),
        cmocka_unit_test(test_cooldown_grows_caps_and_resets),
        cmocka_unit_test(test_burst_of_answers_escalates_once),
        cmocka_unit_test(test_processes_respect_slots),
    };
    return cmocka_run_group_tests(tests, wdts_test_redis_group_setup,
                                  wdts_test_redis_group_teardown);
}
