/* Benchmark of a planning pass over many connections × 14 reports (issue 4: 10,000
 * connections, target under 2 s of CPU).
 *   pure   sched_plan_pass() for every (connection, report), twice: steady state (the
 *          cursor one interval behind: one window per incremental report) and first
 *          sync bounded by scheduler.max.outstanding (64 windows each). CPU time only.
 *   full   (with WDT_TEST_REDIS_URL and WDT_TEST_KAFKA_BROKERS) a real sched_pass() in
 *          this process: N connections stored in Redis with their plan state and
 *          watermark set up, then (a) a pass with nothing new to plan (reads, reconcile,
 *          planning: the cost of every pass), and (b) a pass where the first E
 *          connections have one new window per incremental report (emission to Kafka
 *          and storage), and (c) M new connections more, with 1 day of backfill each: their
 *          first sync (watermarks set, ~70 jobs each). CPU time of this process (user +
 *          sys, librdkafka's threads included) and wall time.
 *
 *   build/tests/bench-sched_bench [--connections N] [--emit-connections E]
 *                                 [--new-connections M] [--pure-only]
 * Defaults: N = 10000, E = 1000, M = 1000. Keys and the topic carry a random prefix.
 * Needs tests/run.sh's services (or any Redis and local Kafka) for the full passes. */
#include "wdts_test.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched_loop.h"
#include "sched_plan.h"
#include "sched_state.h"
#include "wdts/catalog.h"
#include "wdts/cfg.h"
#include "wdts/conn.h"
#include "wdts/lua.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts/watermark.h"

#define NOW0 1795659420LL /* a whole minute */

/* CPU time of this process, user + system, every thread (librdkafka's included). */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
    return (double)wdts_time_mono_ms() / 1000.0;
}

static void bench_pure(const struct wdts_catalog *cat, size_t nconn)
{
    struct sched_plan_window *win = wdts_xcalloc(4096, sizeof(*win));
    size_t nrep = wdts_catalog_count(cat);
    char es[256];
    for (int scenario = 0; scenario < 2; scenario++) {
        size_t windows = 0;
        double c0 = cpu_s();
        for (size_t c = 0; c < nconn; c++) {
            for (size_t r = 0; r < nrep; r++) {
                const struct wdts_catalog_report *rep = wdts_catalog_at(cat, r);
                struct sched_plan_params p;
                struct sched_plan_state st = {0};
                struct sched_plan_result res;
                sched_plan_params_init(&p, rep);
                p.max_outstanding = 64;
                int64_t now = NOW0 + (int64_t)(c % 60); /* spread within the minute */
                if (scenario == 0) {
                    st.has_cursor = 1;
                    st.cursor = sched_plan_align_down(now - p.lag, p.step) - 60;
                    st.backfill_end = st.cursor - 86400;
                    st.has_snapshot = 1;
                    st.last_snapshot = sched_plan_align_down(
                        now - p.lag, rep->snapshot_interval ? rep->snapshot_interval : 60);
                }
                if (sched_plan_pass(&p, &st, now, 0, win, 4096, &res, es, sizeof(es)) != WDTS_OK) {
                    fprintf(stderr, "plan: %s\n", es);
                    exit(1);
                }
                windows += res.n;
            }
        }
        double c1 = cpu_s();
        printf("pure %-24s %zu connections x %zu reports: %zu windows, %.4f s CPU\n",
               scenario == 0 ? "steady state:" : "first sync (bound 64):", nconn, nrep, windows,
               c1 - c0);
    }
    free(win);
}

/* Stores nconn connections with every report, and their plan state and watermark as a
 * scheduler would have left them at NOW0; the first emit_conns are a minute behind. */
static void populate(struct wdts_redis *redis, const char *prefix, const struct wdts_catalog *cat,
                     size_t nconn, size_t emit_conns, const char *id_fmt, int with_state)
{
    char es[512], id[32];
    unsigned char key[WDTS_CRYPTO_KEY_LEN];
    struct wdts_buf kb;
    memset(key, 3, sizeof(key));
    wdts_buf_init(&kb);
    size_t nrep = wdts_catalog_count(cat);
    double w0 = wall_s();
    for (size_t c = 0; c < nconn; c++) {
        snprintf(id, sizeof(id), id_fmt, c);
        struct wdts_conn *conn = wdts_conn_new();
        conn->tenant = wdts_xstrdup("bench");
        conn->id = wdts_xstrdup(id);
        conn->app = WDTS_API_APP_WDT;
        conn->sid = wdts_xstrdup("sid");
        conn->appkey = wdts_xstrdup("key");
        conn->appsecret = wdts_xstrdup("secret:salt");
        conn->gateway = wdts_xstrdup("http://127.0.0.1:9/openapi");
        conn->backfill_s = 86400;
        for (size_t r = 0; r < nrep; r++)
            wdts_conn_add_report(conn, wdts_catalog_at(cat, r)->name);
        if (wdts_conn_seal(conn, key, es, sizeof(es)) != WDTS_OK ||
            wdts_conn_save(redis, prefix, conn, 1, es, sizeof(es)) != WDTS_OK) {
            fprintf(stderr, "saving %s: %s\n", id, es);
            exit(1);
        }
        wdts_conn_destroy(conn);
        if (!with_state)
            continue;
        /* plan state and watermark, pipelined */
        int queued = 0;
        for (size_t r = 0; r < nrep; r++) {
            const struct wdts_catalog_report *rep = wdts_catalog_at(cat, r);
            int64_t to = sched_plan_align_down(NOW0 - 300, 60) - (c < emit_conns ? 60 : 0);
            int64_t g = rep->snapshot_interval
                            ? sched_plan_align_down(NOW0 - 300, rep->snapshot_interval)
                            : 0;
            char cur[24], bfe[24], ls[24];
            snprintf(cur, sizeof(cur), "%" PRId64, to);
            snprintf(bfe, sizeof(bfe), "%" PRId64, to - 86400);
            snprintf(ls, sizeof(ls), "%" PRId64, g);
            const char *hset[] = {
                "HSET",          sched_state_key(&kb, prefix, "plan", id, rep->name),
                "cursor",        cur,
                "backfill_end",  bfe,
                "last_snapshot", ls};
            wdts_redis_pipeline_append(redis, 8, hset, NULL);
            queued++;
            struct wdts_lua_call call;
            struct wdts_wm_id wid = {id, rep->name};
            wdts_wm_init_build(&call, prefix, &wid, to, es, sizeof(es));
            const char *ev[8] = {"EVALSHA", call.script->sha, "1", call.keys[0], call.args[0]};
            wdts_redis_pipeline_append(redis, 5, ev, NULL);
            queued++;
            wdts_lua_call_deinit(&call);
        }
        while (queued-- > 0)
            if (wdts_redis_pipeline_read(redis, NULL) != WDTS_OK) {
                fprintf(stderr, "populating: %s\n", redis->errstr);
                exit(1);
            }
    }
    printf("populated %zu %s connections x %zu reports in %.1f s\n", nconn,
           with_state ? "planned" : "new", nrep, wall_s() - w0);
    wdts_buf_deinit(&kb);
}

static void bench_full(const struct wdts_catalog *cat, size_t nconn, size_t emit_conns,
                       size_t new_conns)
{
    const char *url = getenv("WDT_TEST_REDIS_URL"), *brokers = getenv("WDT_TEST_KAFKA_BROKERS");
    if (!url || !*url || !brokers || !*brokers) {
        printf("full pass: skipped (WDT_TEST_REDIS_URL / WDT_TEST_KAFKA_BROKERS unset)\n");
        return;
    }
    char prefix[96], topic[96], es[512];
    snprintf(prefix, sizeof(prefix), "%sbench:", wdts_test_prefix());
    snprintf(topic, sizeof(topic), "%sbenchjobs", wdts_test_prefix());
    char *envp[16];
    size_t ne = 0;
    envp[ne++] = wdts_xasprintf("WDT_REDIS_URL=%s", url);
    envp[ne++] = wdts_xasprintf("WDT_REDIS_PREFIX=%s", prefix);
    envp[ne++] = wdts_xasprintf("WDT_TOPIC_JOBS=%s", topic);
    envp[ne++] = wdts_xasprintf("WDT_KAFKA_BOOTSTRAP_SERVERS=%s", brokers);
    envp[ne++] = wdts_xasprintf("WDT_SCHEDULER_JOB_LEASE=1d");
    envp[ne++] = wdts_xasprintf("WDT_LOG_LEVEL=warn");
    envp[ne] = NULL;
    struct wdts_cfg_opts opts = {.envp = envp};
    struct wdts_cfg *cfg = NULL;
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    if (wdts_cfg_load(&opts, &cfg, &errs) != WDTS_OK) {
        fprintf(stderr, "config: %s\n", wdts_buf_str(&errs));
        exit(1);
    }
    wdts_cfg_apply_logging(cfg);

    struct wdts_redis_params params;
    wdts_redis_params_init(&params);
    wdts_redis_params_from_url(&params, url, es, sizeof(es));
    wdts_strlcpy(params.prefix, prefix, sizeof(params.prefix));
    struct wdts_redis *redis = wdts_redis_new(&params, es, sizeof(es));
    if (redis == NULL || wdts_redis_script_load(redis, wdts_lua_script(WDTS_LUA_WM_INIT))) {
        fprintf(stderr, "redis: %s\n", redis ? redis->errstr : es);
        exit(1);
    }
    populate(redis, prefix, cat, nconn, emit_conns, "c%05zu", 1);

    for (int run = 0; run < 2; run++) {
        struct sched_opts so = {.now = NOW0};
        struct sched *s = sched_new(cfg, &so, "bench", NULL, es, sizeof(es));
        if (s == NULL) {
            fprintf(stderr, "sched: %s\n", es);
            exit(1);
        }
        struct sched_pass_stats st;
        double c0 = cpu_s(), w0 = wall_s();
        if (sched_pass(s, NULL, &st, es, sizeof(es)) != WDTS_OK || !st.held) {
            fprintf(stderr, "pass: %s\n", st.held ? es : "lease not held");
            exit(1);
        }
        double c1 = cpu_s(), w1 = wall_s();
        size_t emitted = 0;
        for (int k = 0; k < WDTS_JOB_KIND__COUNT; k++)
            emitted += st.emitted[k];
        printf("full pass %d: %zu connections, %zu reports planned, %zu jobs emitted, %zu "
               "errors: %.3f s CPU in this process, %.3f s wall\n",
               run + 1, st.connections, st.units, emitted, st.errors, c1 - c0, w1 - w0);
        if (run == 0 && emitted != emit_conns * 11) {
            fprintf(stderr,
                    "expected %zu jobs (one per incremental report of the first %zu "
                    "connections)\n",
                    emit_conns * 11, emit_conns);
            exit(1);
        }
        if (run == 1 && emitted != 0) {
            fprintf(stderr, "the second pass emitted %zu jobs, expected none\n", emitted);
            exit(1);
        }
        sched_destroy(s);
    }
    /* (c) new connections: their first sync (1 day of backfill each) */
    if (new_conns > 0) {
        populate(redis, prefix, cat, new_conns, 0, "n%05zu", 0);
        struct sched_opts so = {.now = NOW0};
        struct sched *s = sched_new(cfg, &so, "bench", NULL, es, sizeof(es));
        struct sched_pass_stats st;
        double c0 = cpu_s(), w0 = wall_s();
        if (s == NULL || sched_pass(s, NULL, &st, es, sizeof(es)) != WDTS_OK || !st.held) {
            fprintf(stderr, "first-sync pass: %s\n", es);
            exit(1);
        }
        double c1 = cpu_s(), w1 = wall_s();
        size_t emitted = 0;
        for (int k = 0; k < WDTS_JOB_KIND__COUNT; k++)
            emitted += st.emitted[k];
        printf("full pass 3: %zu connections (%zu new), %zu reports planned, %zu jobs emitted, "
               "%zu errors: %.3f s CPU in this process, %.3f s wall\n",
               st.connections, new_conns, st.units, emitted, st.errors, c1 - c0, w1 - w0);
        if (st.errors != 0 || emitted < new_conns * 14) {
            fprintf(stderr, "the first sync of %zu connections emitted only %zu jobs\n", new_conns,
                    emitted);
            exit(1);
        }
        sched_destroy(s);
    }
    printf("(keys under %s are left for inspection; the test Redis is temporary)\n", prefix);
    wdts_redis_destroy(redis);
    wdts_cfg_destroy(cfg);
    wdts_buf_deinit(&errs);
    for (size_t i = 0; i < ne; i++)
        free(envp[i]);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"connections", required_argument, NULL, 'n'},
                                         {"new-connections", required_argument, NULL, 'N'},
                                         {"emit-connections", required_argument, NULL, 'e'},
                                         {"pure-only", no_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    long long nconn = 10000, emit = 1000, fresh = 1000;
    int pure_only = 0, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (wdts_parse_int(optarg, 1, 1000000, &nconn) != WDTS_OK)
                return 64;
            break;
        case 'e':
            if (wdts_parse_int(optarg, 0, 1000000, &emit) != WDTS_OK)
                return 64;
            break;
        case 'N':
            if (wdts_parse_int(optarg, 0, 1000000, &fresh) != WDTS_OK)
                return 64;
            break;
        case 'p': pure_only = 1; break;
        default:
            fprintf(stderr,
                    "usage: %s [--connections N] [--emit-connections E] [--new-connections M] "
                    "[--pure-only]\n",
                    argv[0]);
            return 64;
        }
    }
    if (emit > nconn)
        emit = nconn;
    char es[256];
    struct wdts_catalog *cat = wdts_catalog_new(NULL, es, sizeof(es));
    if (cat == NULL) {
        fprintf(stderr, "%s\n", es);
        return 1;
    }
    bench_pure(cat, (size_t)nconn);
    if (!pure_only)
        bench_full(cat, (size_t)nconn, (size_t)emit, (size_t)fresh);
    wdts_catalog_destroy(cat);
    return 0;
}
