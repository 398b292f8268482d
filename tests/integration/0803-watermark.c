/* The watermark against the real redis-server of WDT_TEST_REDIS_URL: first start set
 * once, in-order and out-of-order completion, contiguity under random completion
 * orders with duplicates (property style, many seeds), the bound on waiting windows,
 * split windows, fencing records cleaned as the watermark passes, re-sync resets, and
 * argument errors. */
#include "wdts_test.h"
#include "wdts_test_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/lock.h"
#include "wdts/redis.h"
#include "wdts/watermark.h"

static struct wdts_redis_params params;
static struct wdts_redis *redis;
static char es[512];

/* A (connection, report) no other test case uses. */
static struct wdts_wm_id new_id(const char *name)
{
    static char conns[64][64];
    static int n;
    assert_true(n < 64);
    snprintf(conns[n], sizeof(conns[n]), "c-%s", name);
    struct wdts_wm_id id = {conns[n++], "trades"};
    return id;
}

/* Locks [s, e) under a fresh token and returns the fence (lock released again: the fence
 * record stays, which is what complete checks). */
static long long lock_fence(const struct wdts_wm_id *id, long long s, long long e)
{
    char tok[WDTS_LOCK_TOKEN_SIZE];
    struct wdts_lock_grant g;
    int rel = 0;
    assert_int_equal(wdts_lock_token_new(tok), WDTS_OK);
    assert_int_equal(wdts_lock_acquire(redis, id, s, e, tok, 60000, &g, es, sizeof(es)), WDTS_OK);
    assert_int_equal(g.acquired, 1);
    assert_true(g.fence > 0);
    assert_int_equal(wdts_lock_release(redis, id, s, e, tok, &rel, es, sizeof(es)), WDTS_OK);
    assert_int_equal(rel, 1);
    return g.fence;
}

static struct wdts_wm_result complete(const struct wdts_wm_id *id, long long s, long long e,
                                      long long fence, long long max_pending)
{
    struct wdts_wm_result r;
    wdts_err_t err = wdts_wm_complete(redis, id, s, e, fence, max_pending, &r, es, sizeof(es));
    if (err != WDTS_OK)
        fail_msg("complete [%lld, %lld): %s", s, e, es);
    return r;
}

static long long key_card(const struct wdts_wm_id *id, enum wdts_wm_key_kind kind)
{
    struct wdts_buf kb;
    struct wdts_redis_reply *reply = NULL;
    wdts_buf_init(&kb);
    const char *k = wdts_wm_key(&kb, params.prefix, id, kind);
    const char *cmd = kind == WDTS_WM_KEY_FENCE ? "HLEN" : "ZCARD";
    assert_int_equal(wdts_redis_commandl(redis, &reply, cmd, k, NULL), WDTS_OK);
    long long n = wdts_redis_reply_int(reply);
    wdts_redis_reply_free(reply);
    wdts_buf_deinit(&kb);
    return n;
}

static void test_init_once_and_uninit(void **state)
{
    (void)state;
    struct wdts_wm_id id = new_id("init");
    struct wdts_wm_state st;
    struct wdts_wm_result r;

    assert_int_equal(wdts_wm_get(redis, &id, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.initialized, 0);
    /* a completion before the first start is refused, not guessed */
    r = complete(&id, 1000, 1060, 1, 0);
    assert_int_equal(r.status, WDTS_WM_UNINIT);

    assert_int_equal(wdts_wm_init(redis, &id, 1000, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.created, 1);
    assert_int_equal(st.wm, 1000);
    assert_int_equal(wdts_wm_init(redis, &id, 5000, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.created, 0);
    assert_int_equal(st.wm, 1000);
    assert_int_equal(st.origin, 1000);

    assert_int_equal(wdts_wm_get(redis, &id, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.initialized, 1);
    assert_int_equal(st.wm, 1000);
    assert_int_equal(st.pending, 0);
    assert_true(st.updated_ms > 1600000000000LL);
}

static void test_in_and_out_of_order(void **state)
{
    (void)state;
    struct wdts_wm_id id = new_id("order");
    struct wdts_wm_state st;
    struct wdts_wm_result r;
    assert_int_equal(wdts_wm_init(redis, &id, 0, &st, es, sizeof(es)), WDTS_OK);

    long long f1 = lock_fence(&id, 0, 60), f2 = lock_fence(&id, 60, 120);
    long long f3 = lock_fence(&id, 120, 180), f4 = lock_fence(&id, 180, 240);
    assert_true(f1 < f2 && f2 < f3 && f3 < f4); /* fences only grow */

    r = complete(&id, 0, 60, f1, 0);
    assert_int_equal(r.status, WDTS_WM_ADVANCED);
    assert_int_equal(r.wm, 60);
    /* window 3 before window 2: the watermark waits */
    r = complete(&id, 120, 180, f3, 0);
    assert_int_equal(r.status, WDTS_WM_PENDING);
    assert_int_equal(r.wm, 60);
    assert_int_equal(r.pending, 1);
    /* recording it twice changes nothing */
    r = complete(&id, 120, 180, f3, 0);
    assert_int_equal(r.status, WDTS_WM_PENDING);
    assert_int_equal(r.pending, 1);
    r = complete(&id, 180, 240, f4, 0);
    assert_int_equal(r.status, WDTS_WM_PENDING);
    assert_int_equal(r.pending, 2);
    /* window 2 closes the gap: the watermark jumps over 2, 3 and 4 */
    r = complete(&id, 60, 120, f2, 0);
    assert_int_equal(r.status, WDTS_WM_ADVANCED);
    assert_int_equal(r.wm, 240);
    assert_int_equal(r.pending, 0);
    /* a redelivered copy of a finished window */
    r = complete(&id, 0, 60, f1, 0);
    assert_int_equal(r.status, WDTS_WM_ALREADY);
    assert_int_equal(r.wm, 240);
    /* every fencing record is gone with the windows */
    assert_int_equal(key_card(&id, WDTS_WM_KEY_FENCE), 0);
    assert_int_equal(key_card(&id, WDTS_WM_KEY_FIDX), 0);
    assert_int_equal(key_card(&id, WDTS_WM_KEY_DONE), 0);
}

/* The expected watermark: the end of the contiguous prefix of done windows. */
static int prefix_len(const int *done, int n)
{
    int k = 0;
    while (k < n && done[k])
        k++;
    return k;
}

static void test_random_orders(void **state)
{
    (void)state;
    enum { N = 40, SEEDS = 25 };
    long long edge[N + 1];
    long long fence[N];
    int order[2 * N];
    for (int seed = 1; seed <= SEEDS; seed++) {
        char name[32];
        snprintf(name, sizeof(name), "rand%d", seed);
        struct wdts_wm_id id = new_id(name);
        srand((unsigned)seed * 7919u);
        /* windows of random widths, contiguous from a random origin */
        edge[0] = 1700000000LL + rand() % 100000;
        for (int i = 0; i < N; i++)
            edge[i + 1] = edge[i] + 1 + rand() % 3600;
        struct wdts_wm_state st;
        assert_int_equal(wdts_wm_init(redis, &id, edge[0], &st, es, sizeof(es)), WDTS_OK);
        for (int i = 0; i < N; i++)
            fence[i] = lock_fence(&id, edge[i], edge[i + 1]);
        /* every window once plus random duplicates, shuffled */
        int m = 0;
        for (int i = 0; i < N; i++)
            order[m++] = i;
        for (int i = 0; i < N; i++)
            if (rand() % 4 == 0)
                order[m++] = rand() % N;
        for (int i = m - 1; i > 0; i--) {
            int j = rand() % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int done[N] = {0};
        for (int k = 0; k < m; k++) {
            int w = order[k];
            int before = prefix_len(done, N);
            int was_done = done[w];
            done[w] = 1;
            int after = prefix_len(done, N);
            int waiting = 0;
            for (int i = after; i < N; i++)
                waiting += done[i];
            struct wdts_wm_result r = complete(&id, edge[w], edge[w + 1], fence[w], 0);
            if (r.wm != edge[after] || r.pending != waiting)
                fail_msg("seed %d step %d window %d: wm %lld pending %lld, want %lld %d", seed, k,
                         w, r.wm, r.pending, edge[after], waiting);
            enum wdts_wm_status want = w < before ? WDTS_WM_ALREADY
                                       : after > before ? WDTS_WM_ADVANCED
                                                        : WDTS_WM_PENDING;
            if (r.status != want)
                fail_msg("seed %d step %d window %d (done before: %d): status %s, want %s", seed,
                         k, w, was_done, wdts_wm_status2str(r.status), wdts_wm_status2str(want));
            /* fencing records exist exactly for windows beyond the watermark */
            assert_int_equal(key_card(&id, WDTS_WM_KEY_FENCE), N - after);
        }
        assert_int_equal(prefix_len(done, N), N);
        assert_int_equal(key_card(&id, WDTS_WM_KEY_DONE), 0);
        assert_int_equal(key_card(&id, WDTS_WM_KEY_FIDX), 0);
    }
}

static void test_bound_on_waiting_windows(void **state)
{
    (void)state;
    struct wdts_wm_id id = new_id("bound");
    struct wdts_wm_state st;
    struct wdts_wm_result r;
    assert_int_equal(wdts_wm_init(redis, &id, 0, &st, es, sizeof(es)), WDTS_OK);
    for (long long i = 1; i <= 3; i++) {
        r = complete(&id, i * 10, i * 10 + 10, lock_fence(&id, i * 10, i * 10 + 10), 3);
        assert_int_equal(r.status, WDTS_WM_PENDING);
    }
    long long f4 = lock_fence(&id, 40, 50);
    r = complete(&id, 40, 50, f4, 3);
    assert_int_equal(r.status, WDTS_WM_FULL);
    assert_int_equal(r.pending, 3);
    /* the contiguous window is always taken, and it drains the set */
    r = complete(&id, 0, 10, lock_fence(&id, 0, 10), 3);
    assert_int_equal(r.status, WDTS_WM_ADVANCED);
    assert_int_equal(r.wm, 40);
    assert_int_equal(r.pending, 0);
    r = complete(&id, 40, 50, f4, 3);
    assert_int_equal(r.status, WDTS_WM_ADVANCED);
    assert_int_equal(r.wm, 50);
}

static void test_split_window(void **state)
{
    (void)state;
    struct wdts_wm_id id = new_id("split");
    struct wdts_wm_state st;
    struct wdts_wm_result r;
    assert_int_equal(wdts_wm_init(redis, &id, 0, &st, es, sizeof(es)), WDTS_OK);
    /* the parent is locked, found too big and split; it never completes itself */
    (void)lock_fence(&id, 0, 7200);
    long long a = lock_fence(&id, 0, 3600), b = lock_fence(&id, 3600, 7200);
    r = complete(&id, 3600, 7200, b, 0);
    assert_int_equal(r.status, WDTS_WM_PENDING);
    r = complete(&id, 0, 3600, a, 0);
    assert_int_equal(r.status, WDTS_WM_ADVANCED);
    assert_int_equal(r.wm, 7200);
    /* the parent's fencing record went with its children */
    assert_int_equal(key_card(&id, WDTS_WM_KEY_FENCE), 0);
    /* overlapping windows (lookback) count from the watermark */
    r = complete(&id, 7000, 9000, lock_fence(&id, 7000, 9000), 0);
    assert_int_equal(r.status, WDTS_WM_ADVANCED);
    assert_int_equal(r.wm, 9000);
}

static void test_reset_for_resync(void **state)
{
    (void)state;
    struct wdts_wm_id id = new_id("reset");
    struct wdts_wm_state st;
    struct wdts_wm_result r;
    assert_int_equal(wdts_wm_init(redis, &id, 0, &st, es, sizeof(es)), WDTS_OK);
    long long old_fence[12];
    for (int i = 0; i < 12; i++)
        old_fence[i] = lock_fence(&id, i * 60, i * 60 + 60);
    for (int i = 0; i < 10; i++)
        complete(&id, i * 60, i * 60 + 60, old_fence[i], 0);
    r = complete(&id, 660, 720, old_fence[11], 0); /* gap at [600, 660) */
    assert_int_equal(r.status, WDTS_WM_PENDING);
    assert_int_equal(r.wm, 600);

    /* re-sync [120, 240): back to 120; [240, 600) stays complete */
    assert_int_equal(wdts_wm_reset(redis, &id, 120, 240, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.wm, 120);
    assert_int_equal(st.pending, 2);
    /* a holder from before the reset cannot complete a window of the range */
    r = complete(&id, 120, 180, old_fence[2], 0);
    assert_int_equal(r.status, WDTS_WM_STALE);
    assert_int_equal(r.wm, 120);
    /* nor a window after it whose start is before `to` ... */
    r = complete(&id, 180, 240, old_fence[3], 0);
    assert_int_equal(r.status, WDTS_WM_STALE);
    /* ... but the gap window beyond the range keeps its holder */
    r = complete(&id, 600, 660, old_fence[10], 0);
    assert_int_equal(r.status, WDTS_WM_PENDING);
    /* re-fetched windows complete and the watermark returns past where it was */
    r = complete(&id, 120, 180, lock_fence(&id, 120, 180), 0);
    assert_int_equal(r.status, WDTS_WM_ADVANCED);
    assert_int_equal(r.wm, 180);
    r = complete(&id, 180, 240, lock_fence(&id, 180, 240), 0);
    assert_int_equal(r.status, WDTS_WM_ADVANCED);
    assert_int_equal(r.wm, 720);
    assert_int_equal(r.pending, 0);

    /* a range beyond the watermark never moves it forward; completions inside it are
     * forgotten, their parts outside kept */
    long long f = lock_fence(&id, 1000, 1100);
    r = complete(&id, 1000, 1100, f, 0);
    assert_int_equal(r.status, WDTS_WM_PENDING);
    assert_int_equal(wdts_wm_reset(redis, &id, 1050, 1200, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.wm, 720);
    assert_int_equal(st.pending, 1);
    r = complete(&id, 720, 1000, lock_fence(&id, 720, 1000), 0);
    assert_int_equal(r.status, WDTS_WM_ADVANCED);
    assert_int_equal(r.wm, 1050); /* [1000, 1050) kept, [1050, 1100) forgotten */
    /* origin moves back with a reset before it */
    assert_int_equal(wdts_wm_reset(redis, &id, 0, 60, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_wm_reset(redis, &id, 0, 60, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.wm, 0);
    assert_int_equal(wdts_wm_get(redis, &id, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.origin, 0);
    r = complete(&id, 0, 60, lock_fence(&id, 0, 60), 0);
    assert_int_equal(r.wm, 1050);

    /* reset of a watermark never set starts it */
    struct wdts_wm_id fresh = new_id("reset-fresh");
    assert_int_equal(wdts_wm_reset(redis, &fresh, 500, 600, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.wm, 500);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct wdts_wm_id id = new_id("bad");
    struct wdts_wm_id empty = {"", "trades"};
    struct wdts_wm_result r;
    struct wdts_wm_state st;
    assert_int_equal(wdts_wm_complete(redis, &id, 60, 60, 1, 0, &r, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "end must be after start"));
    assert_int_equal(wdts_wm_complete(redis, &id, 0, 60, 0, 0, &r, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "fence"));
    assert_int_equal(wdts_wm_init(redis, &empty, 0, &st, es, sizeof(es)), WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "connection and report"));
    assert_int_equal(wdts_wm_reset(redis, &id, 10, 5, &st, es, sizeof(es)), WDTS_ERR_INVAL);
    assert_int_equal(wdts_wm_init(redis, &id, -1, &st, es, sizeof(es)), WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "epoch seconds"));
    /* the script checks too, for callers that build calls by hand */
    struct wdts_lua_call call;
    struct wdts_redis_reply *reply = NULL;
    assert_int_equal(wdts_wm_complete_build(&call, params.prefix, &id, 0, 60, 5, 0, es,
                                            sizeof(es)),
                     WDTS_OK);
    call.args[1] = "abc";
    assert_int_equal(wdts_lua_call_run(redis, &call, &reply, es, sizeof(es)), WDTS_ERR_REDIS);
    assert_non_null(strstr(es, "wm_complete: end must be an integer"));
    wdts_lua_call_deinit(&call);
    assert_int_equal(redis->err, WDTS_OK);
}

int main(void)
{
    wdts_test_redis_group(&params, &redis);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_once_and_uninit),
        cmocka_unit_test(test_in_and_out_of_order),
        cmocka_unit_test(test_random_orders),
        cmocka_unit_test(test_bound_on_waiting_windows),
        cmocka_unit_test(test_split_window),
        cmocka_unit_test(test_reset_for_resync),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, wdts_test_redis_group_setup,
                                  wdts_test_redis_group_teardown);
}
