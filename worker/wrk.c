/* The worker's lifecycle and consume loop (see wrk.h): setup of every client, the loop
 * that polls the consumer and producer between event-loop iterations, backpressure by
 * pausing the consumer at worker.max.inflight, readiness, and the shutdown sequence. One
 * job's steps are in wrk_exec.c, offsets and dead letters in wrk_commit.c; what they share
 * in wrk_conns.c (connection cache), wrk_clock.c (gateway clocks), wrk_produce.c and
 * wrk_metrics.c. */
#include "wrk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdts/cfg_redis.h"
#include "wdts/http_server.h"
#include "wdts/log.h"
#include "wdts/lua.h"
#include "wdts/mem.h"
#include "wdts/time.h"
#include "wrk_int.h"

#define COMMIT_EVERY_MS 1000
#define LAG_EVERY_MS 15000
#define LOOP_WAIT_MS 10         /* the consumer and producer have no descriptor: poll them */
#define POLL_BATCH 64
#define SHUTDOWN_MARGIN_MS 3000 /* kept for abandoning, committing and leaving the group */

static struct wdts_param *kafka_props(const struct wdts_cfg *cfg, int consumer, size_t *n);

/* Lag of the group on the jobs topic, from a thread with a consumer handle of its own that
 * never subscribes: its queries block that thread, never the event loop. */
static void *lag_main(void *opaque)
{
    struct wrk *w = opaque;
    char es[512];
    size_t np;
    struct wdts_param *props = kafka_props(w->cfg, 1, &np);
    struct wdts_kafka_consumer *c = wdts_kafka_consumer_new(props, np, NULL, NULL, es, sizeof(es));
    free(props);
    if (c == NULL) {
        WDTS_LOG(WARN, "wrk", "lag: %s", es);
        return NULL;
    }
    int64_t last = 0;
    while (!__atomic_load_n(&w->lag_stop, __ATOMIC_RELAXED)) {
        int64_t now = wdts_time_mono_ms();
        if (now - last >= LAG_EVERY_MS) {
            struct wdts_kafka_lag lag[256];
            size_t n = 0;
            if (wdts_kafka_consumer_lag(c, w->cfg->topic_jobs, lag, 256, &n, 5000) == WDTS_OK) {
                double total = 0;
                for (size_t i = 0; i < n && i < 256; i++)
                    total += (double)(lag[i].lag > 0 ? lag[i].lag : 0);
                wdts_metrics_set(w->m.lag, total);
            }
            last = now;
        }
        usleep(100000);
    }
    wdts_kafka_consumer_destroy(c);
    return NULL;
}

/* ---- Kafka ------------------------------------------------------------------------ */

static void on_dr(const struct wdts_kafka_dr *dr, void *cb_opaque)
{
    (void)cb_opaque;
    if (dr->opaque)
        wrk_exec_on_dr(dr->opaque, dr);
}

static void backpressure(struct wrk *w);

static void on_rebalance(enum wdts_kafka_rebalance ev, const struct wdts_kafka_tp *tps,
                         size_t n, void *opaque)
{
    struct wrk *w = opaque;
    if (ev == WDTS_KAFKA_ASSIGNED) {
        wrk_commit_assigned(w, tps, n);
        WDTS_LOG(INFO, "wrk", "assigned %zu partitions (%zu held)", n, w->nparts);
        backpressure(w);
    } else {
        wrk_commit_revoked(w, tps, n);
        WDTS_LOG(INFO, "wrk", "revoked %zu partitions (%zu held)", n, w->nparts);
    }
    __atomic_store_n(&w->ready_assigned, w->nparts > 0, __ATOMIC_RELAXED);
}

static int ready_cb(void *opaque, char *reason, size_t reason_size)
{
    struct wrk *w = opaque;
    if (__atomic_load_n(&w->ready_stopping, __ATOMIC_RELAXED)) {
        snprintf(reason, reason_size, "shutting down");
        return 0;
    }
    if (!__atomic_load_n(&w->ready_redis, __ATOMIC_RELAXED)) {
        snprintf(reason, reason_size, "no Redis connection");
        return 0;
    }
    if (!__atomic_load_n(&w->ready_assigned, __ATOMIC_RELAXED)) {
        snprintf(reason, reason_size, "no partition of the jobs topic assigned yet");
        return 0;
    }
    return 1;
}

/* ---- setup ------------------------------------------------------------------------ */

/* kafka.* properties for a client, plus what the worker needs by default. */
static struct wdts_param *kafka_props(const struct wdts_cfg *cfg, int consumer, size_t *n)
{
    struct wdts_param *p = wdts_xcalloc(cfg->kafka_cnt + 4, sizeof(*p));
    size_t k = 0;
    int has_group = 0;
    if (!consumer) {
        /* bounded local queue: a slow cluster slows the pages, not the RSS */
        p[k++] = (struct wdts_param){"queue.buffering.max.kbytes", "16384"};
        /* a page's records go to many partitions: wait for fuller batches */
        p[k++] = (struct wdts_param){"linger.ms", "20"};
    }
    for (size_t i = 0; i < cfg->kafka_cnt; i++) {
        const char *key = cfg->kafka[i].key;
        if (strcmp(key, "group.id") == 0)
            has_group = 1;
        /* keep each client to its own properties: librdkafka warns about the others */
        if (!consumer && (strcmp(key, "group.id") == 0 || strstr(key, "session.timeout") ||
                          strstr(key, "heartbeat") || strstr(key, "auto.offset") ||
                          strstr(key, "max.poll") || strstr(key, "partition.assignment")))
            continue;
        p[k++] = cfg->kafka[i];
    }
    if (consumer && !has_group)
        p[k++] = (struct wdts_param){"group.id", "wdt-workers"};
    *n = k;
    return p;
}

struct wrk *wrk_new(const struct wdts_cfg *cfg, char *errstr, size_t errstr_size)
{
    char es[512];
    struct wrk *w = wdts_xcalloc(1, sizeof(*w));
    for (size_t i = 0; i < sizeof(w->pbuf) / sizeof(w->pbuf[0]); i++)
        wdts_buf_init(&w->pbuf[i]);
    w->cfg = cfg;
    wrk_pkset_init(&w->hist_logged);
    w->rnd = (unsigned)getpid() ^ (unsigned)wdts_time_mono_ms();
    w->lock_ttl_ms = cfg->worker_lock_ttl_ms;
    wdts_strlcpy(w->prefix, cfg->redis_prefix, sizeof(w->prefix));
    wrk_metrics_init(w);

    if (cfg->secret_key == NULL || wdts_crypto_key_parse(cfg->secret_key, w->secret_key, es,
                                                         sizeof(es)) != WDTS_OK) {
        snprintf(errstr, errstr_size, "secret.key: %s", cfg->secret_key ? es : "not set");
        goto fail;
    }
    if (cfg->pii_hash_key) {
        w->pii_key = cfg->pii_hash_key;
        w->pii_key_len = strlen(cfg->pii_hash_key);
    } else { /* the secret key keys the pii hash when no separate key is configured */
        w->pii_key = w->secret_key;
        w->pii_key_len = sizeof(w->secret_key);
    }
    if ((w->cat = wdts_catalog_new(cfg->catalog_path, es, sizeof(es))) == NULL) {
        snprintf(errstr, errstr_size, "report catalog: %s", es);
        goto fail;
    }
    if (wdts_redis_params_from_cfg(&w->rparams, cfg, errstr, errstr_size) != WDTS_OK)
        goto fail;
    if ((w->redis = wdts_redis_new(&w->rparams, es, sizeof(es))) == NULL) {
        snprintf(errstr, errstr_size, "Redis: %s", es);
        goto fail;
    }
    for (int i = 0; i < WDTS_LUA__COUNT; i++) /* a broken script shows up now, not mid-job */
        if (wdts_redis_script_load(w->redis, wdts_lua_script((enum wdts_lua_id)i)) != WDTS_OK) {
            snprintf(errstr, errstr_size, "Redis: loading scripts: %s", w->redis->errstr);
            goto fail;
        }
    if ((w->loop = wdts_loop_new(es, sizeof(es))) == NULL ||
        (w->multi = wdts_api_multi_new(w->loop, 0, es, sizeof(es))) == NULL ||
        (w->ra = wdts_redis_async_new(w->loop, &w->rparams, es, sizeof(es))) == NULL) {
        snprintf(errstr, errstr_size, "event loop: %s", es);
        goto fail;
    }
    size_t np;
    struct wdts_param *props = kafka_props(cfg, 0, &np);
    w->prod = wdts_kafka_producer_new(props, np, on_dr, w, es, sizeof(es));
    free(props);
    if (w->prod == NULL) {
        snprintf(errstr, errstr_size, "Kafka producer: %s", es);
        goto fail;
    }
    wdts_err_t terr = wdts_kafka_producer_topic_ready(w->prod, cfg->topic_records, 5000);
    if (terr == WDTS_ERR_NOTFOUND)
        WDTS_LOG(WARN, "kafka", "%s: create it (deploy/k8s/topics does) before "
                 "jobs arrive, or their records cannot be delivered and the jobs are retried",
                 wdts_kafka_producer_errstr(w->prod));
    else if (terr != WDTS_OK)
        WDTS_LOG(WARN, "kafka", "records topic %s: %s (the producer keeps trying)",
                 cfg->topic_records, wdts_kafka_producer_errstr(w->prod));
    props = kafka_props(cfg, 1, &np);
    w->cons = wdts_kafka_consumer_new(props, np, on_rebalance, w, es, sizeof(es));
    free(props);
    if (w->cons == NULL) {
        snprintf(errstr, errstr_size, "Kafka consumer: %s", es);
        goto fail;
    }
    const char *topics[] = {cfg->topic_jobs};
    if (wdts_kafka_consumer_subscribe(w->cons, topics, 1) != WDTS_OK) {
        snprintf(errstr, errstr_size, "subscribe to %s: %s", cfg->topic_jobs,
                 wdts_kafka_consumer_errstr(w->cons));
        goto fail;
    }
    if ((w->srv = wdts_http_server_new(cfg->http_listen, w->reg, ready_cb, w, es, sizeof(es))) ==
        NULL) {
        snprintf(errstr, errstr_size, "http.listen %s: %s", cfg->http_listen, es);
        goto fail;
    }
    if (pthread_create(&w->lag_thread, NULL, lag_main, w) == 0)
        w->lag_started = 1;
    WDTS_LOG(INFO, "wrk", "serving /metrics /healthz /readyz on port %u",
             wdts_http_server_port(w->srv));
    return w;
fail:
    wrk_destroy(w);
    return NULL;
}

/* ---- the loop --------------------------------------------------------------------- */

/* Backpressure, per partition: a partition is paused while it has its share of the
 * in-flight jobs (worker.max.inflight / partitions held, at least 4), and every partition
 * while the worker is full or stopping. The share keeps one partition's run of jobs for a
 * few sellers from filling every slot while other partitions' sellers wait. */
static void backpressure(struct wrk *w)
{
    int full = w->inflight >= w->cfg->worker_max_inflight;
    size_t share = w->nparts ? (size_t)w->cfg->worker_max_inflight / w->nparts : 1;
    if (share < 4)
        share = 4;
    for (size_t i = 0; i < w->nparts; i++) {
        struct wrk_part *p = &w->parts[i];
        int want = w->stopping || full || p->nopen >= share;
        if (want == p->paused)
            continue;
        if (wdts_kafka_consumer_pause_partition(w->cons, p->topic, p->partition, want) ==
            WDTS_OK)
            p->paused = want;
    }
    w->paused = full;
}

static void poll_jobs(struct wrk *w)
{
    for (int i = 0; i < POLL_BATCH; i++) {
        struct wdts_kafka_msg *msg = NULL;
        if (wdts_kafka_consumer_poll(w->cons, 0, &msg) != WDTS_OK) {
            WDTS_LOG(WARN, "kafka", "consumer: %s", wdts_kafka_consumer_errstr(w->cons));
            break;
        }
        if (msg == NULL)
            break;
        if (w->stopping) { /* fetched before the pause took effect: leave it for others */
            wdts_kafka_msg_destroy(msg);
            continue;
        }
        struct wrk_exec *e = wrk_exec_new(w, msg);
        wdts_kafka_msg_destroy(msg);
        wrk_exec_start(e);
        if (w->inflight >= w->cfg->worker_max_inflight)
            break;
    }
    backpressure(w);
}

int wrk_run(struct wrk *w, volatile sig_atomic_t *stop)
{
    int64_t last_commit = wdts_time_mono_ms(), deadline = 0;
    WDTS_LOG(INFO, "wrk", "consuming %s (group member), up to %d jobs at once",
             w->cfg->topic_jobs, w->cfg->worker_max_inflight);
    for (;;) {
        int64_t now = wdts_time_mono_ms();
        if (!w->stopping && *stop) {
            w->stopping = 1;
            __atomic_store_n(&w->ready_stopping, 1, __ATOMIC_RELAXED);
            deadline = now + w->cfg->worker_shutdown_timeout_ms - SHUTDOWN_MARGIN_MS;
            backpressure(w);
            WDTS_LOG(INFO, "wrk", "stopping: no new jobs; %d in flight get %lld ms to finish",
                     w->inflight, (long long)(deadline - now));
        }
        if (w->stopping && (w->inflight == 0 || now >= deadline))
            break;
        poll_jobs(w); /* also while stopping: serves rebalances, drops fetched messages */
        wdts_kafka_producer_poll(w->prod, 0);
        wdts_loop_run_once(w->loop, LOOP_WAIT_MS);
        __atomic_store_n(&w->ready_redis, wdts_redis_async_connected(w->ra), __ATOMIC_RELAXED);
        if (now - last_commit >= COMMIT_EVERY_MS) {
            wdts_metrics_set(w->m.loop_lag, wdts_loop_take_max_late_ms(w->loop) / 1000.0);
            wrk_metrics_count_states(w);
            wrk_commit_flush(w);
            last_commit = now;
        }
    }

    /* Shutdown: abandon what is left (locks released, offsets not stored), commit what
     * finished, leave the group, deliver what is queued. */
    int abandoned = 0;
    for (struct wrk_exec *e = w->jobs; e; e = e->next)
        if (!e->finished) {
            wrk_exec_abandon(e);
            abandoned++;
        }
    wdts_kafka_producer_poll(w->prod, 0);
    wrk_commit_flush(w);
    if (wdts_kafka_consumer_close(w->cons) != WDTS_OK)
        WDTS_LOG(WARN, "kafka", "final commit: %s", wdts_kafka_consumer_errstr(w->cons));
    if (wdts_kafka_producer_flush(w->prod, SHUTDOWN_MARGIN_MS / 2) != WDTS_OK)
        WDTS_LOG(WARN, "kafka", "%d messages not delivered at exit",
                 wdts_kafka_producer_outq_len(w->prod));
    WDTS_LOG(INFO, "wrk", "stopped (%d jobs abandoned)", abandoned);
    return w->fatal ? WDTS_EXIT_FATAL : WDTS_EXIT_OK;
}

void wrk_destroy(struct wrk *w)
{
    if (w == NULL)
        return;
    if (w->lag_started) {
        __atomic_store_n(&w->lag_stop, 1, __ATOMIC_RELAXED);
        pthread_join(w->lag_thread, NULL);
    }
    wdts_http_server_destroy(w->srv);
    w->tearing_down = 1;
    /* the clients first: their last callbacks still see every job alive */
    wdts_kafka_producer_destroy(w->prod);
    wdts_kafka_consumer_destroy(w->cons);
    wdts_redis_async_destroy(w->ra); /* pending loads finish (as failed) here */
    while (w->jobs)
        wrk_exec_free(w->jobs);
    wrk_lq_destroy_all(w);
    wrk_pkset_deinit(&w->hist_logged);
    wdts_api_multi_destroy(w->multi);
    wdts_loop_destroy(w->loop);
    wrk_conns_clear(w); /* pending loads finished (as failed) with the async client */
    wrk_clocks_clear(w);
    wrk_commit_clear(w);
    wdts_redis_destroy(w->redis);
    wdts_catalog_destroy(w->cat);
    wdts_metrics_destroy(w->reg);
    wdts_crypto_wipe(w->secret_key, sizeof(w->secret_key));
    for (size_t i = 0; i < sizeof(w->pbuf) / sizeof(w->pbuf[0]); i++)
        wdts_buf_deinit(&w->pbuf[i]);
    free(w);
}
