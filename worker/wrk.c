/* The worker's lifecycle and consume loop (see wrk.h): setup of every client, the loop
 * that polls the consumer and producer between event-loop iterations, backpressure by
 * pausing the consumer at worker.max.inflight, the connection cache, the gateway clocks,
 * metrics and readiness, and the shutdown sequence. One job's steps are in wrk_exec.c,
 * offsets and dead letters in wrk_commit.c. */
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

#define CONN_CACHE_MS 15000     /* a connection is reloaded this often (picks up wdtctl changes) */
#define COMMIT_EVERY_MS 1000
#define LAG_EVERY_MS 15000
#define LOOP_WAIT_MS 10         /* the consumer and producer have no descriptor: poll them */
#define POLL_BATCH 64
#define SHUTDOWN_MARGIN_MS 3000 /* kept for abandoning, committing and leaving the group */

static struct wdts_param *kafka_props(const struct wdts_cfg *cfg, int consumer, size_t *n);

/* ---- connections ------------------------------------------------------------------ */

static void conn_free(struct wrk_conn *c)
{
    wdts_api_creds_deinit(&c->creds);
    wdts_conn_destroy(c->conn);
    free(c->id);
    free(c);
}

void wrk_conn_unref(struct wrk *w, struct wrk_conn *c)
{
    (void)w;
    if (--c->refs == 0)
        conn_free(c);
}

/* Drops id from the cache (jobs holding it keep their reference). */
void wrk_conn_invalidate(struct wrk *w, const char *id)
{
    for (struct wrk_conn **pp = &w->conns; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            struct wrk_conn *c = *pp;
            *pp = c->next;
            wrk_conn_unref(w, c);
            return;
        }
    }
}

/* Builds a cache entry from a stored connection: opens the secrets and the credentials.
 * err/why: how the load went (WDTS_ERR_NOTFOUND, WDTS_ERR_JSON: an unusable entry). */
static struct wrk_conn *conn_make(struct wrk *w, const char *id, struct wdts_conn *cn,
                                  wdts_err_t err, const char *why)
{
    char es[400];
    struct wrk_conn *c = wdts_xcalloc(1, sizeof(*c));
    c->id = wdts_xstrdup(id);
    c->loaded_ms = wdts_time_mono_ms();
    c->refs = 1; /* the cache's */
    c->conn = cn;
    if (err != WDTS_OK) {
        c->error_code = err;
        snprintf(c->error, sizeof(c->error), "%s", why);
        return c;
    }
    if (wdts_conn_open_secrets(cn, w->secret_key, es, sizeof(es)) != WDTS_OK) {
        snprintf(c->error, sizeof(c->error), "connection %s: its secrets cannot be opened: %s",
                 id, es);
        return c;
    }
    if (wdts_api_creds_init(&c->creds, cn->sid, cn->appkey, cn->appsecret, es, sizeof(es)) !=
        WDTS_OK) {
        snprintf(c->error, sizeof(c->error), "connection %s: %s", id, es);
        return c;
    }
    if (cn->app == WDTS_API_APP_QIMEN) {
        const char *k = cn->qimen_platform ? w->cfg->qimen_app_key : cn->qimen_app_key;
        const char *sec = cn->qimen_platform ? w->cfg->qimen_app_secret : cn->qimen_app_secret;
        if (k == NULL || sec == NULL) {
            snprintf(c->error, sizeof(c->error),
                     "connection %s uses the platform-provided Qimen app, but qimen.app.key / "
                     "qimen.app.secret are not configured on the workers; set them",
                     id);
            return c;
        }
        if (wdts_api_creds_set_qimen(&c->creds, k, sec, NULL, NULL, NULL, es, sizeof(es)) !=
            WDTS_OK) {
            snprintf(c->error, sizeof(c->error), "connection %s: %s", id, es);
            return c;
        }
    }
    c->usable = 1;
    return c;
}

static void load_free(struct wrk *w, struct wrk_conn_load *ld)
{
    for (struct wrk_conn_load **pp = &w->loads; *pp; pp = &(*pp)->next)
        if (*pp == ld) {
            *pp = ld->next;
            break;
        }
    free(ld->id);
    free(ld->doc);
    free(ld->waiters);
    free(ld);
}

/* Both replies are in (or one is lost): cache the connection, wake the waiters. */
static void load_done(struct wrk_conn_load *ld, const struct wdts_redis_reply *state)
{
    struct wrk *w = ld->w;
    struct wrk_conn *c = NULL;
    if (!w->tearing_down && !ld->failed) {
        char es[400];
        struct wdts_conn *cn = NULL;
        wdts_err_t err = wdts_conn_load_parse(ld->id, ld->doc, ld->doc_len, state, &cn, es,
                                              sizeof(es));
        c = conn_make(w, ld->id, cn, err, es);
        wrk_conn_invalidate(w, ld->id);
        c->next = w->conns;
        w->conns = c;
    } else if (!w->tearing_down) {
        WDTS_LOG(WARN, "wrk", "loading connection %s: %s", ld->id, ld->error);
    }
    for (size_t i = 0; i < ld->n; i++) {
        struct wrk_exec *e = ld->waiters[i];
        if (c)
            c->refs++;
        if (!w->tearing_down)
            wrk_exec_conn_ready(e, c);
        else if (c)
            wrk_conn_unref(w, c);
        wrk_exec_unref(e);
    }
    load_free(w, ld);
}

static void load_failed(struct wrk_conn_load *ld, const struct wdts_redis_reply *reply,
                        const char *err)
{
    ld->failed = 1;
    snprintf(ld->error, sizeof(ld->error), "%s",
             reply ? wdts_redis_reply_str(reply, NULL) : (err ? err : "no reply"));
}

static void on_conn_doc(const struct wdts_redis_reply *reply, const char *err, void *opaque)
{
    struct wrk_conn_load *ld = opaque;
    if (reply == NULL || wdts_redis_reply_type(reply) == WDTS_REDIS_ERROR) {
        load_failed(ld, reply, err);
    } else {
        size_t len = 0;
        const char *text = wdts_redis_reply_str(reply, &len);
        if (text) {
            ld->doc = wdts_xstrndup(text, len);
            ld->doc_len = len;
        }
    }
    if (!ld->expect_state) { /* HGETALL could not be sent */
        ld->failed = 1;
        load_done(ld, NULL);
    }
}

static void on_conn_state(const struct wdts_redis_reply *reply, const char *err, void *opaque)
{
    struct wrk_conn_load *ld = opaque;
    if (reply == NULL || wdts_redis_reply_type(reply) == WDTS_REDIS_ERROR)
        load_failed(ld, reply, err);
    load_done(ld, reply);
}

/* Gets the connection for e: from the cache when fresh, else by a non-blocking load that
 * e (and any other job asking meanwhile) waits for. Answers through wrk_exec_conn_ready(). */
void wrk_conn_request(struct wrk *w, const char *id, struct wrk_exec *e)
{
    int64_t now = wdts_time_mono_ms();
    for (struct wrk_conn *c = w->conns; c; c = c->next) {
        if (strcmp(c->id, id) == 0 && now - c->loaded_ms < CONN_CACHE_MS) {
            c->refs++;
            wrk_exec_conn_ready(e, c);
            return;
        }
    }
    struct wrk_conn_load *ld;
    for (ld = w->loads; ld; ld = ld->next)
        if (strcmp(ld->id, id) == 0)
            break;
    int fresh = ld == NULL;
    if (fresh) {
        ld = wdts_xcalloc(1, sizeof(*ld));
        ld->w = w;
        ld->id = wdts_xstrdup(id);
        ld->next = w->loads;
        w->loads = ld;
    }
    if (ld->n == ld->cap) {
        ld->cap = ld->cap ? ld->cap * 2 : 4;
        ld->waiters = wdts_xrealloc(ld->waiters, ld->cap * sizeof(*ld->waiters));
    }
    ld->waiters[ld->n++] = e;
    e->refs++;
    if (!fresh)
        return;
    struct wdts_buf dk, sk;
    wdts_buf_init(&dk);
    wdts_buf_init(&sk);
    wdts_conn_load_keys(w->prefix, id, &dk, &sk);
    const char *get[] = {"GET", wdts_buf_str(&dk)};
    const char *hall[] = {"HGETALL", wdts_buf_str(&sk)};
    if (wdts_redis_async_command(w->ra, 2, get, on_conn_doc, ld) != WDTS_OK) {
        load_failed(ld, NULL, "no Redis connection");
        load_done(ld, NULL);
    } else if (wdts_redis_async_command(w->ra, 2, hall, on_conn_state, ld) == WDTS_OK) {
        ld->expect_state = 1;
    } /* else on_conn_doc finishes it as failed */
    wdts_buf_deinit(&dk);
    wdts_buf_deinit(&sk);
}

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

/* ---- gateway clocks --------------------------------------------------------------- */

static struct wrk_clock *clock_get(struct wrk *w, const char *gateway)
{
    for (struct wrk_clock *k = w->clocks; k; k = k->next)
        if (strcmp(k->gateway, gateway) == 0)
            return k;
    struct wrk_clock *k = wdts_xcalloc(1, sizeof(*k));
    k->gateway = wdts_xstrdup(gateway);
    k->rate = 1.0;
    k->next = w->clocks;
    w->clocks = k;
    return k;
}

int64_t wrk_clock_now(struct wrk *w, const char *gateway)
{
    struct wrk_clock *k = clock_get(w, gateway);
    if (!k->synced)
        return wdts_time_now();
    int64_t ms = k->anchor_gw + (int64_t)((double)(wdts_time_mono_ms() - k->anchor_mono) * k->rate);
    return ms / 1000;
}

/* After a timestamp error: from now on, sign with the gateway's clock as its Date headers
 * tell it (offset, and the rate when two readings are far enough apart: a simulator may
 * run its clock faster than real time). */
void wrk_clock_resync(struct wrk *w, const char *gateway, int64_t date_s)
{
    struct wrk_clock *k = clock_get(w, gateway);
    int64_t mono = wdts_time_mono_ms();
    if (!k->synced) {
        k->synced = 1;
        k->rate_mono = mono;
        k->rate_gw = date_s * 1000 + 500;
        WDTS_LOG(WARN, "wrk", "gateway %s: clock resynced: it is %lld s ahead of this machine",
                 gateway, (long long)(date_s - wdts_time_now()));
    }
    wrk_clock_observe(w, gateway, date_s);
}

void wrk_clock_observe(struct wrk *w, const char *gateway, int64_t date_s)
{
    struct wrk_clock *k = clock_get(w, gateway);
    if (!k->synced)
        return;
    int64_t mono = wdts_time_mono_ms();
    k->anchor_mono = mono;
    k->anchor_gw = date_s * 1000 + 500; /* Date has whole seconds */
    if (mono - k->rate_mono >= 5000) {
        double r = (double)(k->anchor_gw - k->rate_gw) / (double)(mono - k->rate_mono);
        if (r > 0.5 && r < 10000)
            k->rate = r;
        k->rate_mono = mono;
        k->rate_gw = k->anchor_gw;
    }
}

/* ---- Kafka ------------------------------------------------------------------------ */

wdts_err_t wrk_produce(struct wrk *w, const char *topic, const char *key, size_t key_len,
                       const char *value, size_t value_len, const struct wdts_param *hdrs,
                       size_t nhdrs, void *opaque)
{
    struct wdts_kafka_out out = {
        .topic = topic,
        .partition = WDTS_KAFKA_PARTITION_ANY,
        .key = key,
        .key_len = key_len,
        .value = value,
        .value_len = value_len,
        .headers = hdrs,
        .header_cnt = nhdrs,
        .opaque = opaque,
    };
    int64_t blocked_since = 0;
    for (int tries = 0;; tries++) {
        wdts_err_t err = wdts_kafka_produce(w->prod, &out);
        if (err != WDTS_ERR_AGAIN || tries >= 100) {
            if (blocked_since)
                wdts_metrics_add(w->m.queue_full_s,
                                 (double)(wdts_time_mono_ms() - blocked_since) / 1000.0);
            if (err != WDTS_OK)
                WDTS_LOG(ERROR, "kafka", "produce to %s: %s", topic,
                         wdts_kafka_producer_errstr(w->prod));
            return err;
        }
        if (!blocked_since)
            blocked_since = wdts_time_mono_ms();
        wdts_kafka_producer_poll(w->prod, 10); /* the local queue is full: let it drain */
    }
}

static void on_dr(const struct wdts_kafka_dr *dr, void *cb_opaque)
{
    (void)cb_opaque;
    if (dr->opaque)
        wrk_exec_on_dr(dr->opaque, dr);
}

static void backpressure(struct wrk *w);

/* Jobs in flight by state, for /metrics (walks the list: once a second). */
static void count_states(struct wrk *w)
{
    static const char *const names[] = {"new", "conn", "lock", "permit", "http", "deliver",
                                        "marker", "wm", "split", "dead", "finished"};
    double n[sizeof(names) / sizeof(names[0])] = {0};
    for (struct wrk_exec *e = w->jobs; e; e = e->next)
        if (!e->finished && (size_t)e->st < sizeof(names) / sizeof(names[0]))
            n[e->st]++;
    for (size_t i = 0; i + 1 < sizeof(names) / sizeof(names[0]); i++) {
        const char *v[] = {names[i]};
        wdts_metrics_set(wdts_metrics_series(w->m.states, v), n[i]);
    }
}

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

void wrk_job_outcome(struct wrk *w, const char *outcome)
{
    const char *v[] = {outcome};
    wdts_metrics_inc(wdts_metrics_series(w->m.jobs, v));
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

static struct wdts_metric *must(struct wdts_metric *m)
{
    WDTS_ASSERT(m != NULL);
    return m;
}

static void metrics_init(struct wrk *w)
{
    char es[256];
    static const char *const outcome[] = {"outcome"};
    static const char *const cls[] = {"class"};
    w->reg = wdts_metrics_new();
    w->m.jobs = must(wdts_metrics_counter(w->reg, "wdt_worker_jobs_total",
                                          "Jobs by outcome (done, split, dead_letter, stale, "
                                          "lock_lost, abandoned).",
                                          outcome, 1, es, sizeof(es)));
    w->m.calls = must(wdts_metrics_counter(w->reg, "wdt_worker_api_calls_total",
                                           "API calls by error class (ok, transient, "
                                           "rate_limited, clock, auth, permission, bad_request).",
                                           cls, 1, es, sizeof(es)));
    w->m.dlq = must(wdts_metrics_counter(w->reg, "wdt_worker_dead_letters_total",
                                         "Jobs dead-lettered, by error class.", cls, 1, es,
                                         sizeof(es)));
    static const char *const state[] = {"state"};
    w->m.states = must(wdts_metrics_gauge(w->reg, "wdt_worker_jobs_by_state",
                                          "Jobs in flight by what they wait for (conn, lock, "
                                          "permit, http, deliver, marker, wm, split, dead).",
                                          state, 1, es, sizeof(es)));
    static const char *const reason[] = {"reason"};
    w->m.waits = must(wdts_metrics_counter(w->reg, "wdt_worker_limiter_waits_total",
                                           "Limiter answers to wait, by reason (cooldown, "
                                           "concurrency, rate).",
                                           reason, 1, es, sizeof(es)));
    w->m.wait_s = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_ratelimit_wait_seconds_total",
                                  "Time jobs waited for the shared rate limiter, summed.", NULL, 0,
                                  es, sizeof(es))),
        NULL);
    w->m.records = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_records_total",
                                  "Record envelopes produced.", NULL, 0, es, sizeof(es))),
        NULL);
    w->m.bytes = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_record_bytes_total",
                                  "Bytes of record envelopes produced.", NULL, 0, es, sizeof(es))),
        NULL);
    w->m.queue_full_s = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_produce_blocked_seconds_total",
                                  "Time the event loop waited for room in the producer's full "
                                  "local queue (Kafka acknowledging slower than pages arrive).",
                                  NULL, 0, es, sizeof(es))),
        NULL);
    w->m.dups = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_duplicates_total",
                                  "Records seen twice within a job (dropped by pk).", NULL, 0, es,
                                  sizeof(es))),
        NULL);
    w->m.hist_records = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_history_records_total",
                                  "Records first seen in a window's history (历史) pass.", NULL,
                                  0, es, sizeof(es))),
        NULL);
    w->m.hist_skipped = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_history_skipped_total",
                                  "Recent windows finished from the normal method alone because "
                                  "the app may not call the history (历史) method.", NULL, 0, es,
                                  sizeof(es))),
        NULL);
    w->m.pages = wdts_metrics_series(
        must(wdts_metrics_counter(w->reg, "wdt_worker_pages_total", "Pages fetched.", NULL, 0,
                                  es, sizeof(es))),
        NULL);
    w->m.inflight = wdts_metrics_series(
        must(wdts_metrics_gauge(w->reg, "wdt_worker_inflight_jobs", "Jobs in flight.", NULL, 0,
                                es, sizeof(es))),
        NULL);
    w->m.loop_lag = wdts_metrics_series(
        must(wdts_metrics_gauge(w->reg, "wdt_worker_loop_lag_seconds",
                                "Most a timer of the event loop fired late in the last second.",
                                NULL, 0, es, sizeof(es))),
        NULL);
    w->m.lag = wdts_metrics_series(
        must(wdts_metrics_gauge(w->reg, "wdt_worker_consumer_lag",
                                "Jobs not yet committed by the group, all partitions.", NULL, 0,
                                es, sizeof(es))),
        NULL);
}

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
    metrics_init(w);

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
            count_states(w);
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
    while (w->loads)
        load_free(w, w->loads);
    while (w->jobs)
        wrk_exec_free(w->jobs);
    wrk_lq_destroy_all(w);
    wrk_pkset_deinit(&w->hist_logged);
    wdts_api_multi_destroy(w->multi);
    wdts_loop_destroy(w->loop);
    while (w->conns) {
        struct wrk_conn *c = w->conns;
        w->conns = c->next;
        wrk_conn_unref(w, c);
    }
    while (w->clocks) {
        struct wrk_clock *k = w->clocks;
        w->clocks = k->next;
        free(k->gateway);
        free(k);
    }
    wrk_commit_clear(w);
    wdts_redis_destroy(w->redis);
    wdts_catalog_destroy(w->cat);
    wdts_metrics_destroy(w->reg);
    wdts_crypto_wipe(w->secret_key, sizeof(w->secret_key));
    for (size_t i = 0; i < sizeof(w->pbuf) / sizeof(w->pbuf[0]); i++)
        wdts_buf_deinit(&w->pbuf[i]);
    free(w);
}
