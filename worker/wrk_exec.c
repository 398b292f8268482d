/* One job's state machine (see wrk_int.h): window lock with renewal and fencing token,
 * the shared limiter per (gateway, sid, appkey), the API call on the curl multi, paging
 * in the order of docs/DESIGN.md §3, records and the window marker to Kafka, the watermark
 * after every delivery report, and the error classes. Every wait is a loop timer or a
 * callback: nothing here blocks, except the rare connection marks (auth, permission). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/log.h"
#include "wdts/lua.h"
#include "wdts/mem.h"
#include "wdts/time.h"
#include "wdts/watermark.h"
#include "wdts/wdt_api_answer.h"
#include "wdts/wdt_api_http.h"
#include "wdts/wdt_api_request.h"
#include "wrk_int.h"

#define RETRY_REDIS_MS 500
#define LOCK_BUSY_RETRY_MS 2000
#define WM_FULL_RETRY_MS 5000
#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS 60000
#define STARTS_TTL_S "86400" /* how long a job's starts are remembered */

static void permit(struct wrk_exec *e);
static const char *starts_key(struct wdts_buf *key, const struct wrk_exec *e);
static void dead(struct wrk_exec *e, const char *cls, const char *message);
static void http_start(struct wrk_exec *e);
static void lq_remove(struct wrk_exec *e);
static void next_step(struct wrk_exec *e);
static void split(struct wrk_exec *e, const char *why, long long total);
static void try_finish(struct wrk_exec *e);
static void lock_acquire(struct wrk_exec *e);

static struct wdts_wm_id wm_id(const struct wrk_exec *e)
{
    struct wdts_wm_id id = {e->job.connection, e->job.report};
    return id;
}

static const char *source_name(const struct wrk_exec *e)
{
    return e->conn && e->conn->conn ? wdts_api_app_name(e->conn->conn->app) : "wdt";
}

/* The method of the pass running (the report's, or its history method). */
static const char *pass_method(const struct wrk_exec *e)
{
    return e->pass ? e->rep->history_method : e->rep->method;
}

/* Back to the normal pass, before the whole window is fetched again. */
static void pass_reset(struct wrk_exec *e)
{
    e->pass = 0;
    e->records_before_hist = 0;
    e->hist_rereads = 0;
    e->hist_retries = 0;
    memset(&e->hc, 0, sizeof(e->hc));
    e->hc.total = -1;
}

/* The history method is refused and the window is recent: counted, logged once per
 * connection and report, and the window is finished from the normal method. */
static void hist_skip(struct wrk_exec *e, const char *reason)
{
    struct wrk *w = e->w;
    struct wdts_buf k;
    wdts_buf_init(&k);
    wdts_buf_printf(&k, "%s:%s", e->job.connection, e->job.report);
    wdts_metrics_inc(w->m.hist_skipped);
    if (wrk_pkset_add(&w->hist_logged, wdts_buf_str(&k)))
        WDTS_LOG(WARN, "wrk", "connection %s: the app may not call %s (%s), the history method "
                 "of %s: recent windows are synced from %s alone, windows older than the "
                 "archive horizon fail; add the interface for sid %s in 开放平台 → 自助对接 → "
                 "应用管理, then run wdtctl connection check --id %s (logged once)",
                 e->job.connection, e->rep->history_method, reason ? reason : "权限不足",
                 e->job.report, e->rep->method, e->conn->conn->sid, e->job.connection);
    wdts_buf_deinit(&k);
}

struct wrk_exec *wrk_exec_new(struct wrk *w, const struct wdts_kafka_msg *msg)
{
    struct wrk_exec *e = wdts_xcalloc(1, sizeof(*e));
    e->w = w;
    e->topic = wdts_xstrdup(msg->topic);
    e->partition = msg->partition;
    e->offset = msg->offset;
    if (msg->value && msg->value_len) {
        e->raw = wdts_xmalloc(msg->value_len);
        memcpy(e->raw, msg->value, msg->value_len);
        e->raw_len = msg->value_len;
    }
    wrk_pkset_init(&e->seen);
    pass_reset(e);
    for (int i = 0; i < 4; i++) {
        e->dr[i].e = e;
        e->dr[i].kind = (enum wrk_dr_kind)i;
    }
    e->refs = 1; /* the job's own reference, dropped when it is finished */
    e->next = w->jobs;
    if (w->jobs)
        w->jobs->prev = e;
    w->jobs = e;
    w->inflight++;
    wdts_metrics_set(w->m.inflight, w->inflight);
    wrk_commit_consumed(w, e->topic, e->partition, e->offset);
    return e;
}

void wrk_exec_free(struct wrk_exec *e)
{
    struct wrk *w = e->w;
    if (e->prev)
        e->prev->next = e->next;
    else
        w->jobs = e->next;
    if (e->next)
        e->next->prev = e->prev;
    wdts_loop_timer_cancel(w->loop, e->timer);
    wdts_loop_timer_cancel(w->loop, e->renew_timer);
    lq_remove(e);
    if (e->xfer) {
        wdts_api_multi_remove(w->multi, e->xfer);
        wdts_api_xfer_destroy(e->xfer);
    }
    if (e->conn)
        wrk_conn_unref(w, e->conn);
    wrk_pkset_deinit(&e->seen);
    free(e->dead_msg);
    free(e->topic);
    free(e->raw);
    free(e);
}

void wrk_exec_unref(struct wrk_exec *e)
{
    if (--e->refs == 0 && !e->w->tearing_down)
        wrk_exec_free(e);
}

/* ---- finishing ----------------------------------------------------------------- */

static void ignore_reply(const struct wdts_redis_reply *reply, const char *err, void *opaque)
{
    (void)reply;
    (void)err;
    (void)opaque;
}

static void lock_release(struct wrk_exec *e)
{
    struct wrk *w = e->w;
    wdts_loop_timer_cancel(w->loop, e->renew_timer);
    e->renew_timer = 0;
    if (!e->locked)
        return;
    e->locked = 0;
    struct wdts_lua_call call;
    char es[256];
    struct wdts_wm_id id = wm_id(e);
    if (wdts_lock_release_build(&call, w->prefix, &id, e->job.start, e->job.end, e->lock_token,
                                es, sizeof(es)) == WDTS_OK)
        wdts_redis_async_lua(w->ra, &call, ignore_reply, NULL);
    wdts_lua_call_deinit(&call);
}

/* The offset is settled: store it (unless the partition moved on), drop the job's ref. */
static void finish(struct wrk_exec *e, const char *outcome)
{
    struct wrk *w = e->w;
    if (e->finished)
        return;
    e->finished = 1;
    e->st = WRK_ST_FINISHED;
    lock_release(e);
    wdts_loop_timer_cancel(w->loop, e->timer);
    e->timer = 0;
    if (!e->orphan)
        wrk_commit_finished(w, e->topic, e->partition, e->offset);
    if (e->job.job_id[0]) { /* finished: its starts no longer count (best effort) */
        struct wdts_buf key;
        wdts_buf_init(&key);
        const char *argv[] = {"DEL", starts_key(&key, e)};
        wdts_redis_async_command(w->ra, 2, argv, ignore_reply, NULL);
        wdts_buf_deinit(&key);
    }
    w->inflight--;
    wdts_metrics_set(w->m.inflight, w->inflight);
    wrk_metrics_job_outcome(w, outcome);
    WDTS_LOG(INFO, "wrk", "job %s %s: %lld records, %lld pages, %lld calls, %lld duplicates",
             e->job.job_id[0] ? e->job.job_id : "(undecoded)", outcome, e->records, e->pages,
             e->calls, e->dups);
    wrk_exec_unref(e);
}

static void finish_retry(void *opaque)
{
    struct wrk_exec *e = opaque;
    e->timer = 0;
    try_finish(e);
}

/* Dead-letters the job; it is finished once the dead letter is acknowledged. */
static void dead(struct wrk_exec *e, const char *cls, const char *message)
{
    struct wrk *w = e->w;
    lock_release(e);
    wdts_loop_timer_cancel(w->loop, e->timer);
    e->timer = 0;
    WDTS_LOG(WARN, "wrk", "job %s dead-lettered (%s): %s",
             e->job.job_id[0] ? e->job.job_id : "(undecoded)", cls, message);
    const char *v[] = {cls};
    wdts_metrics_inc(wdts_metrics_series(w->m.dlq, v));
    wdts_strlcpy(e->dead_class, cls, sizeof(e->dead_class));
    free(e->dead_msg);
    e->dead_msg = wdts_xstrdup(message);
    wrk_dlq_send(e, cls, message);
    if (e->outstanding == 0) { /* not even queued: try again in a moment */
        e->dr_failed = 1;
        e->timer = wdts_loop_timer_add(w->loop, RETRY_REDIS_MS, finish_retry, e);
    }
}

void wrk_exec_abandon(struct wrk_exec *e)
{
    struct wrk *w = e->w;
    if (e->finished)
        return;
    e->finished = 1;
    lq_remove(e); /* shutdown: the queue's next job does not ask any more */
    wdts_loop_timer_cancel(w->loop, e->timer);
    e->timer = 0;
    if (e->xfer) {
        wdts_api_multi_remove(w->multi, e->xfer);
        wdts_api_xfer_destroy(e->xfer);
        e->xfer = NULL;
    }
    wdts_loop_timer_cancel(w->loop, e->renew_timer);
    e->renew_timer = 0;
    if (e->locked) { /* blocking: the loop is winding down */
        char es[256];
        if (w->redis->err != WDTS_OK)
            wdts_redis_reconnect(w->redis);
        int released = 0;
        struct wdts_wm_id id = wm_id(e);
        if (wdts_lock_release(w->redis, &id, e->job.start, e->job.end, e->lock_token, &released,
                              es, sizeof(es)) != WDTS_OK)
            WDTS_LOG(WARN, "wrk", "job %s: lock release: %s", e->job.job_id, es);
        e->locked = 0;
    }
    w->inflight--;
    wrk_metrics_job_outcome(w, "abandoned");
    WDTS_LOG(INFO, "wrk", "job %s abandoned at shutdown (offset %lld not committed)",
             e->job.job_id, (long long)e->offset);
}

/* ---- start: decode, starts, connection, lock --------------------------------------- */

static void count_start(struct wrk_exec *e);
static void conn_request(struct wrk_exec *e);

/* <prefix>starts:<job_id>: how many times the job was begun without finishing. */
static const char *starts_key(struct wdts_buf *key, const struct wrk_exec *e)
{
    return wdts_redis_key(key, e->w->prefix, "starts", e->job.job_id, NULL);
}

static void starts_retry(void *opaque)
{
    struct wrk_exec *e = opaque;
    e->timer = 0;
    count_start(e);
}

static void on_starts(const struct wdts_redis_reply *reply, const char *err, void *opaque)
{
    struct wrk_exec *e = opaque;
    struct wrk *w = e->w;
    if (w->tearing_down || e->finished) {
        wrk_exec_unref(e);
        return;
    }
    if (reply == NULL || wdts_redis_reply_type(reply) != WDTS_REDIS_INT) {
        WDTS_LOG(WARN, "wrk", "job %s: counting its start: %s", e->job.job_id,
                 err ? err : "not an integer");
        e->timer = wdts_loop_timer_add(w->loop, RETRY_REDIS_MS, starts_retry, e);
    } else if (wdts_redis_reply_int(reply) > w->cfg->worker_max_starts) {
        char msg[300];
        snprintf(msg, sizeof(msg), "the job was begun %lld times without finishing (each time "
                 "its worker died or restarted while it held it, e.g. on an answer that crashes "
                 "or exhausts it; worker.max.starts %d): not begun again",
                 wdts_redis_reply_int(reply) - 1, w->cfg->worker_max_starts);
        dead(e, "poison", msg);
    } else {
        e->st = WRK_ST_CONN;
        conn_request(e);
    }
    wrk_exec_unref(e);
}

/* Counts this start of the job in Redis (<prefix>starts:<job_id>, kept a day, deleted
 * when the job finishes): a job that takes its workers down with it is dead-lettered
 * after worker.max.starts starts, so no answer can crash-loop the fleet. */
static void count_start(struct wrk_exec *e)
{
    struct wrk *w = e->w;
    static const char script[] = "local n = redis.call('INCR', KEYS[1]) "
                                 "redis.call('EXPIRE', KEYS[1], ARGV[1]) return n";
    struct wdts_buf key;
    wdts_buf_init(&key);
    const char *argv[] = {"EVAL", script, "1", starts_key(&key, e), STARTS_TTL_S};
    e->st = WRK_ST_CONN;
    if (wdts_redis_async_command(w->ra, 5, argv, on_starts, e) == WDTS_OK)
        e->refs++;
    else
        e->timer = wdts_loop_timer_add(w->loop, RETRY_REDIS_MS, starts_retry, e);
    wdts_buf_deinit(&key);
}

void wrk_exec_start(struct wrk_exec *e)
{
    struct wrk *w = e->w;
    char es[512];
    wdts_err_t err = wrk_job_check(e->raw, e->raw_len, w->cat, &e->job, &e->rep, es, sizeof(es));
    if (err != WDTS_OK) {
        memset(&e->job, 0, sizeof(e->job));
        dead(e, "malformed", es);
        return;
    }
    count_start(e);
}

static void conn_retry(void *opaque)
{
    struct wrk_exec *e = opaque;
    e->timer = 0;
    conn_request(e);
}

/* The connection of e is loaded (wc holds a reference for e), or could not be read from
 * Redis right now (wc NULL: e retries). */
static void conn_ready(struct wrk_exec *e, struct wrk_conn *wc)
{
    struct wrk *w = e->w;
    char es[512];
    if (e->finished || w->tearing_down) {
        if (wc)
            wrk_conn_unref(w, wc);
        return;
    }
    if (wc == NULL) { /* Redis unreachable: try again shortly */
        e->timer = wdts_loop_timer_add(w->loop, RETRY_REDIS_MS, conn_retry, e);
        return;
    }
    e->conn = wc;
    if (!e->conn->usable) {
        dead(e, e->conn->error_code == WDTS_ERR_NOTFOUND ? "malformed" : "connection",
             e->conn->error);
        return;
    }
    struct wdts_conn *c = e->conn->conn;
    if (strcmp(c->tenant, e->job.tenant) != 0) {
        snprintf(es, sizeof(es), "job: tenant '%s' does not own connection '%s' (its tenant is "
                 "'%s'); the job was not made by our scheduler", e->job.tenant, c->id, c->tenant);
        dead(e, "malformed", es);
        return;
    }
    struct wdts_conn_report *r = wdts_conn_report_get(c, e->job.report);
    if (r == NULL) {
        snprintf(es, sizeof(es), "job: report '%s' is not enabled for connection '%s'; enable it "
                 "with wdtctl or stop planning it", e->job.report, c->id);
        dead(e, "malformed", es);
        return;
    }
    if (c->auth_failed) {
        snprintf(es, sizeof(es), "connection %s is auth_failed: %s", c->id,
                 c->auth_message ? c->auth_message : "fix its credentials and run wdtctl "
                                                     "connection check");
        dead(e, "auth", es);
        return;
    }
    if (r->blocked) {
        snprintf(es, sizeof(es), "report %s of connection %s is blocked: %s", r->name, c->id,
                 r->fix ? r->fix : (r->reason ? r->reason : "run wdtctl connection check"));
        dead(e, "permission", es);
        return;
    }
    e->hist = wrk_job_hist_plan(e->rep, &e->job, c->archive_read, c->archive_horizon_s,
                                r->history_blocked, wrk_clock_now(w, c->gateway));
    if (e->hist == WRK_HIST_FAIL) {
        char msg[1500];
        wrk_job_hist_refused_msg(msg, sizeof(msg), e->rep, &e->job, c, r->history_reason);
        dead(e, "permission", msg);
        return;
    }
    if (e->hist == WRK_HIST_SKIP)
        hist_skip(e, r->history_reason);
    if (wdts_lock_token_new(e->lock_token) != WDTS_OK) {
        dead(e, "internal", "no random lock token (the CSPRNG failed)");
        return;
    }
    lock_acquire(e);
}

/* Called once per conn_request(), with the reference on e it took. */
static void on_conn(void *opaque, struct wrk_conn *wc)
{
    struct wrk_exec *e = opaque;
    conn_ready(e, wc);
    wrk_exec_unref(e);
}

/* Asks the connection cache for e's connection; e is held until the answer. */
static void conn_request(struct wrk_exec *e)
{
    e->refs++;
    wrk_conn_request(e->w, e->job.connection, on_conn, e);
}

static void renew_timer(void *opaque);

static void on_renew(const struct wdts_redis_reply *reply, const char *err, void *opaque)
{
    struct wrk_exec *e = opaque;
    struct wrk *w = e->w;
    if (!w->tearing_down && !e->finished && e->locked) {
        struct wdts_lock_renewal rn;
        char es[256];
        if (reply && wdts_lock_renew_parse(reply, &rn, es, sizeof(es)) == WDTS_OK && !rn.held) {
            /* Another worker took the window over: it will produce and complete it; our
             * fence is stale, so stop without advancing anything. */
            WDTS_LOG(WARN, "wrk", "job %s: the window lock was lost; stopping", e->job.job_id);
            e->locked = 0;
        }
        (void)err;
        if (e->locked)
            e->renew_timer = wdts_loop_timer_add(w->loop, w->lock_ttl_ms / 3, renew_timer, e);
    }
    wrk_exec_unref(e);
}

static void renew_timer(void *opaque)
{
    struct wrk_exec *e = opaque;
    struct wrk *w = e->w;
    e->renew_timer = 0;
    struct wdts_lua_call call;
    char es[256];
    struct wdts_wm_id id = wm_id(e);
    if (wdts_lock_renew_build(&call, w->prefix, &id, e->job.start, e->job.end, e->lock_token,
                              w->lock_ttl_ms, es, sizeof(es)) == WDTS_OK &&
        wdts_redis_async_lua(w->ra, &call, on_renew, e) == WDTS_OK)
        e->refs++;
    else
        e->renew_timer = wdts_loop_timer_add(w->loop, RETRY_REDIS_MS, renew_timer, e);
    wdts_lua_call_deinit(&call);
}

static void lock_retry(void *opaque)
{
    struct wrk_exec *e = opaque;
    e->timer = 0;
    lock_acquire(e);
}

static void on_lock(const struct wdts_redis_reply *reply, const char *err, void *opaque)
{
    struct wrk_exec *e = opaque;
    struct wrk *w = e->w;
    if (w->tearing_down || e->finished) {
        wrk_exec_unref(e);
        return;
    }
    struct wdts_lock_grant g;
    char es[256];
    if (reply == NULL || wdts_lock_acquire_parse(reply, &g, es, sizeof(es)) != WDTS_OK) {
        WDTS_LOG(WARN, "wrk", "job %s: lock: %s", e->job.job_id, reply ? es : err);
        e->timer = wdts_loop_timer_add(w->loop, RETRY_REDIS_MS, lock_retry, e);
    } else if (!g.acquired) {
        /* a copy of this job runs elsewhere: wait for it rather than fetch twice */
        long long d = g.ttl_ms > 0 && g.ttl_ms < LOCK_BUSY_RETRY_MS ? g.ttl_ms : LOCK_BUSY_RETRY_MS;
        WDTS_LOG(DEBUG, "wrk", "job %s: window locked elsewhere; waiting", e->job.job_id);
        e->timer = wdts_loop_timer_add(w->loop, d, lock_retry, e);
    } else {
        e->locked = 1;
        e->fence = g.fence;
        e->renew_timer = wdts_loop_timer_add(w->loop, w->lock_ttl_ms / 3, renew_timer, e);
        wrk_pager_start(&e->pg);
        permit(e);
    }
    wrk_exec_unref(e);
}

static void lock_acquire(struct wrk_exec *e)
{
    struct wrk *w = e->w;
    struct wdts_lua_call call;
    char es[256];
    e->st = WRK_ST_LOCK;
    struct wdts_wm_id id = wm_id(e);
    wdts_err_t err = wdts_lock_acquire_build(&call, w->prefix, &id, e->job.start, e->job.end,
                                             e->lock_token, w->lock_ttl_ms, es, sizeof(es));
    if (err == WDTS_OK && wdts_redis_async_lua(w->ra, &call, on_lock, e) == WDTS_OK)
        e->refs++;
    else
        e->timer = wdts_loop_timer_add(w->loop, RETRY_REDIS_MS, lock_retry, e);
    wdts_lua_call_deinit(&call);
}

/* ---- limiter ---------------------------------------------------------------------- */

static struct wdts_limit_id limit_id(const struct wrk_exec *e)
{
    const struct wdts_conn *c = e->conn->conn;
    struct wdts_limit_id id = {c->gateway, c->sid, c->appkey};
    return id;
}

static void limit_cfg(const struct wrk_exec *e, struct wdts_limit_cfg *lc)
{
    const struct wdts_conn *c = e->conn->conn;
    wdts_limit_cfg_init(lc);
    lc->rate = c->rate;
    lc->burst = c->burst;
    lc->slots = c->concurrency;
    lc->slot_lease_ms = (int)(e->w->cfg->worker_http_timeout_ms + 10000);
    lc->cooldown_base_ms = (int)e->w->cfg->worker_cooldown_base_ms;
    lc->cooldown_cap_ms = (int)e->w->cfg->worker_cooldown_max_ms;
    if (lc->cooldown_cap_ms < lc->cooldown_base_ms)
        lc->cooldown_cap_ms = lc->cooldown_base_ms;
}

static void permit_timer(void *opaque)
{
    struct wrk_exec *e = opaque;
    e->timer = 0;
    permit(e);
}

static void http_start(struct wrk_exec *e);

/* Jobs of one limiter key (gateway, sid, appkey) wait for permits in a queue of this
 * worker: only its head asks Redis, the others wait their turn. Without it every waiting
 * job of a seller would ask at the same moment, one would win and the rest would only
 * load Redis and delay the next winner (a seller then got ~3 of its 5 calls/s with 200
 * sellers). Across workers, the heads of each worker compete in Redis as before. */
struct wrk_lq {
    struct wrk_lq *next; /* in the bucket */
    char *key;
    struct wrk_exec *head, *tail;
    int asking; /* the head has a try_start in flight or a wait timer set */
    struct wrk_exec *slot_waiter; /* the head, when its timer waits for a busy slot: a
                                   * finish of ours ends that wait early */
};

static uint64_t lq_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static char *lq_key(const struct wrk_exec *e)
{
    const struct wdts_conn *c = e->conn->conn;
    return wdts_xasprintf("%s\x1f%s\x1f%s", c->gateway, c->sid, c->appkey);
}

static struct wrk_lq *lq_find(struct wrk *w, const char *key)
{
    for (struct wrk_lq *q = w->lq[lq_hash(key) % WRK_LQ_BUCKETS]; q; q = q->next)
        if (strcmp(q->key, key) == 0)
            return q;
    return NULL;
}

static struct wrk_lq *lq_get(struct wrk *w, const struct wrk_exec *e)
{
    char *key = lq_key(e);
    size_t b = (size_t)(lq_hash(key) % WRK_LQ_BUCKETS);
    for (struct wrk_lq *q = w->lq[b]; q; q = q->next)
        if (strcmp(q->key, key) == 0) {
            free(key);
            return q;
        }
    struct wrk_lq *q = wdts_xcalloc(1, sizeof(*q));
    q->key = key;
    q->next = w->lq[b];
    w->lq[b] = q;
    return q;
}

void wrk_lq_destroy_all(struct wrk *w)
{
    for (size_t b = 0; b < WRK_LQ_BUCKETS; b++)
        while (w->lq[b]) {
            struct wrk_lq *q = w->lq[b];
            w->lq[b] = q->next;
            free(q->key);
            free(q);
        }
}

static void lq_remove(struct wrk_exec *e)
{
    struct wrk_lq *q = e->lq;
    if (q == NULL)
        return;
    if (q->slot_waiter == e)
        q->slot_waiter = NULL;
    struct wrk_exec **pp = &q->head, *prev = NULL;
    while (*pp && *pp != e) {
        prev = *pp;
        pp = &(*pp)->lq_next;
    }
    if (*pp == e) {
        *pp = e->lq_next;
        if (q->tail == e)
            q->tail = prev;
    }
    e->lq_next = NULL;
    e->lq = NULL;
}

static void ask(struct wrk_lq *q);

static void ask_timer(void *opaque)
{
    struct wrk_exec *e = opaque;
    e->timer = 0;
    if (e->lq)
        ask(e->lq);
}

/* The head got its permit (or left): the next job asks at once. */
static void lq_next_ask(struct wrk_lq *q)
{
    q->asking = 0;
    if (q->head)
        ask(q);
}

static void on_permit(const struct wdts_redis_reply *reply, const char *err, void *opaque)
{
    struct wrk_exec *e = opaque;
    struct wrk *w = e->w;
    if (w->tearing_down || e->finished) {
        wrk_exec_unref(e);
        return;
    }
    struct wdts_limit_start ls;
    char es[256];
    int parsed = reply && wdts_limit_try_start_parse(reply, &ls, es, sizeof(es)) == WDTS_OK;
    if (parsed)
        WDTS_LOG(DEBUG, "wrk", "job %s: permit %s, wait %lld ms, asked %lld ms ago",
                 e->job.job_id, ls.go ? "go" : "wait", ls.wait_ms,
                 (long long)(wdts_time_mono_ms() - e->asked_ms));
    if (!parsed) {
        WDTS_LOG(WARN, "wrk", "job %s: limiter: %s", e->job.job_id, reply ? es : err);
        e->timer = wdts_loop_timer_add(w->loop, RETRY_REDIS_MS, ask_timer, e);
    } else if (!ls.go) {
        const char *rv[] = {wdts_limit_reason2str(ls.reason)};
        wdts_metrics_inc(wdts_metrics_series(w->m.waits, rv));
        e->timer = wdts_loop_timer_add(w->loop, ls.wait_ms, ask_timer, e);
        if (e->lq && e->lq->head == e)
            e->lq->slot_waiter = ls.reason == WDTS_LIMIT_CONCURRENCY ? e : NULL;
    } else {
        struct wrk_lq *q = e->lq;
        lq_remove(e);
        if (e->wait_since_ms) {
            wdts_metrics_add(w->m.wait_s, (wdts_time_mono_ms() - e->wait_since_ms) / 1000.0);
            e->wait_since_ms = 0;
        }
        e->slot_now_us = ls.now_us;
        http_start(e);
        if (q)
            lq_next_ask(q);
    }
    wrk_exec_unref(e);
}

/* The head of q asks Redis for a permit. */
static void ask(struct wrk_lq *q)
{
    struct wrk_exec *e = q->head;
    struct wrk *w = e->w;
    q->asking = 1;
    q->slot_waiter = NULL;
    struct wdts_lua_call call;
    struct wdts_limit_cfg lc;
    struct wdts_limit_id id = limit_id(e);
    char es[256];
    limit_cfg(e, &lc);
    if (wdts_lock_token_new(e->slot_token) != WDTS_OK) {
        e->timer = wdts_loop_timer_add(w->loop, RETRY_REDIS_MS, ask_timer, e);
        return;
    }
    wdts_err_t err = wdts_limit_try_start_build(&call, w->prefix, &id, &lc, e->slot_token, es,
                                                sizeof(es));
    if (err == WDTS_ERR_CONFIG || err == WDTS_ERR_INVAL) {
        wdts_lua_call_deinit(&call);
        char msg[512];
        snprintf(msg, sizeof(msg), "connection %s has unusable rate limits: %s; fix them with "
                 "wdtctl", e->job.connection, es);
        lq_remove(e);
        dead(e, "connection", msg);
        lq_next_ask(q);
        return;
    }
    e->asked_ms = wdts_time_mono_ms();
    if (err == WDTS_OK && wdts_redis_async_lua(w->ra, &call, on_permit, e) == WDTS_OK)
        e->refs++;
    else
        e->timer = wdts_loop_timer_add(w->loop, RETRY_REDIS_MS, ask_timer, e);
    wdts_lua_call_deinit(&call);
}

static void permit(struct wrk_exec *e)
{
    struct wrk *w = e->w;
    if (!e->locked) { /* lost the lock: another worker completes the window */
        finish(e, "lock_lost");
        return;
    }
    e->st = WRK_ST_PERMIT;
    if (e->wait_since_ms == 0)
        e->wait_since_ms = wdts_time_mono_ms();
    struct wrk_lq *q = lq_get(w, e);
    e->lq = q;
    e->lq_next = NULL;
    if (q->tail)
        q->tail->lq_next = e;
    else
        q->head = e;
    q->tail = e;
    if (!q->asking)
        ask(q);
}

struct slot_freed {
    struct wrk *w;
    char *key;
};

/* A slot of this key is free again: a job of ours waiting for one asks now instead of
 * at the end of its poll interval (other workers still poll). */
static void on_limit_finished(const struct wdts_redis_reply *reply, const char *err, void *opaque)
{
    struct slot_freed *f = opaque;
    struct wrk *w = f->w;
    (void)err;
    struct wrk_lq *q = reply && !w->tearing_down ? lq_find(w, f->key) : NULL;
    if (q && q->head && q->asking && q->slot_waiter == q->head && q->head->timer) {
        wdts_loop_timer_cancel(w->loop, q->head->timer);
        q->head->timer = 0;
        ask(q);
    }
    free(f->key);
    free(f);
}

static void limit_finish(struct wrk_exec *e, enum wdts_limit_outcome outcome)
{
    struct wrk *w = e->w;
    struct wdts_lua_call call;
    struct wdts_limit_cfg lc;
    struct wdts_limit_id id = limit_id(e);
    char es[256];
    limit_cfg(e, &lc);
    if (wdts_limit_finish_build(&call, w->prefix, &id, &lc, e->slot_token, e->slot_now_us,
                                outcome, es, sizeof(es)) == WDTS_OK) {
        struct slot_freed *f = wdts_xmalloc(sizeof(*f));
        f->w = w;
        f->key = lq_key(e);
        if (wdts_redis_async_lua(w->ra, &call, on_limit_finished, f) != WDTS_OK) {
            free(f->key);
            free(f);
        }
    }
    wdts_lua_call_deinit(&call);
}

/* ---- the API call ----------------------------------------------------------------- */

static void on_http(struct wdts_api_xfer *xfer, void *opaque);
static void count_progress(struct wrk_exec *e, int first);

static void http_start(struct wrk_exec *e)
{
    struct wrk *w = e->w;
    struct wrk_conn *c = e->conn;
    const struct wdts_catalog_report *rep = e->rep;
    if (rep->kind == WDTS_REPORT_INCREMENTAL && wrk_job_request_span(&e->job) > rep->max_span) {
        char why[200];
        limit_finish(e, WDTS_LIMIT_OUTCOME_OTHER);
        snprintf(why, sizeof(why), "a call would ask for %lld s, more than the %lld s %s accepts",
                 (long long)wrk_job_request_span(&e->job), (long long)rep->max_span,
                 pass_method(e));
        split(e, why, -1);
        return;
    }
    long long page = e->pg.page;
    char *params = wrk_job_params(rep, &e->job, e->pass);
    struct wdts_api_call call = {
        .method = pass_method(e),
        .qimen_method = e->pass ? rep->history_qimen_method : rep->qimen_method,
        .params_json = params,
        .paged = 1,
        .page_no = page,
        .page_size = rep->page_size,
        /* the history pass asks on every page: did rows enter meanwhile? */
        .calc_total = e->pg.calls == 0 || e->pass,
        .now = wrk_clock_now(w, c->conn->gateway),
    };
    struct wdts_api_request req;
    struct wdts_api_http_opts opts = {
        .timeout_ms = (long)w->cfg->worker_http_timeout_ms,
        .connection_close = w->cfg->worker_http_connections == 1,
        .max_answer_bytes = (size_t)w->cfg->worker_max_answer_bytes};
    char es[512];
    e->st = WRK_ST_HTTP;
    wdts_err_t err = wdts_api_request_build(&c->creds, c->conn->gateway, &call, &req, es,
                                            sizeof(es));
    free(params);
    if (err != WDTS_OK) {
        limit_finish(e, WDTS_LIMIT_OUTCOME_OTHER);
        wdts_api_request_deinit(&req);
        char msg[700];
        snprintf(msg, sizeof(msg), "the request could not be built: %s", es);
        dead(e, "bad_request", msg);
        return;
    }
    e->xfer = wdts_api_xfer_new(&req, &opts, es, sizeof(es));
    if (e->xfer == NULL || wdts_api_multi_add(w->multi, e->xfer, on_http, e) != WDTS_OK) {
        wdts_api_request_deinit(&req);
        wdts_api_xfer_destroy(e->xfer);
        e->xfer = NULL;
        limit_finish(e, WDTS_LIMIT_OUTCOME_OTHER);
        WDTS_LOG(WARN, "wrk", "job %s: transfer not started: %s", e->job.job_id, es);
        e->timer = wdts_loop_timer_add(w->loop, BACKOFF_BASE_MS, permit_timer, e);
        return;
    }
    e->calls++;
    if (e->pass)
        e->hc.calls++;
}

/* total: the first answer's total_count, -1 when none (the halves carry it). */
static void split(struct wrk_exec *e, const char *why, long long total)
{
    struct wrk *w = e->w;
    struct wdts_job a, b;
    char es[256];
    if (wrk_job_split(&e->job, wdts_time_now(), w->cfg->worker_split_min_window_ms / 1000,
                      w->cfg->worker_split_max_depth, total, &a, &b, es,
                      sizeof(es)) != WDTS_OK) {
        char msg[600];
        snprintf(msg, sizeof(msg), "%s, and %s: the gateway keeps answering so for ever "
                 "smaller windows; check the gateway, or narrow the report's window in the "
                 "catalog", why, es);
        dead(e, "bad_request", msg);
        return;
    }
    lock_release(e);
    e->st = WRK_ST_SPLIT;
    const struct wdts_job *halves[] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        struct wdts_buf k, v;
        wdts_buf_init(&k);
        wdts_buf_init(&v);
        wdts_job_key(halves[i], &k);
        wdts_job_encode(halves[i], &v);
        e->outstanding++;
        e->refs++;
        if (wrk_produce(w, w->cfg->topic_jobs, wdts_buf_str(&k), k.len, wdts_buf_str(&v), v.len,
                        NULL, 0, &e->dr[WRK_DR_SPLIT]) != WDTS_OK) {
            e->outstanding--;
            e->refs--;
            e->dr_failed = 1;
        }
        wdts_buf_deinit(&k);
        wdts_buf_deinit(&v);
    }
    WDTS_LOG(INFO, "wrk", "job %s split in halves (%s)", e->job.job_id, why);
    try_finish(e);
}

/* Parses record span sp of raw (its bytes were checked strictly, so this cannot fail but
 * for memory). @returns the record (owned), or NULL after dead-lettering the job. */
static json_t *parse_record(struct wrk_exec *e, const char *raw, const struct wdts_jscan_item *sp)
{
    json_error_t jerr;
    json_t *rec = json_loadb(raw + sp->off, sp->len, JSON_DECODE_ANY, &jerr);
    if (rec == NULL) {
        char es[256];
        snprintf(es, sizeof(es), "a record of %s could not be read: %s", e->rep->name, jerr.text);
        dead(e, "bad_answer", es);
    }
    return rec;
}

/* The pk of one record into pk: read from its bytes (sp, when elided) when they are plain,
 * else from the record (*rec, parsed here into *owned when there is none yet).
 * @returns 0, or -1 after dead-lettering the job (*owned freed). */
static int record_pk(struct wrk_exec *e, const char *raw, const struct wdts_jscan_item *sp,
                     int elided, json_t **rec, json_t **owned, struct wdts_buf *pk)
{
    char es[256];
    int twice = elided ? wrk_job_pk_twice(e->rep, sp) : -1;
    if (twice >= 0) {
        /* its key would come from one occurrence, a reader's data from the other */
        snprintf(es, sizeof(es), "a record of %s has its pk member '%s' more than once",
                 e->rep->name, e->rep->pk.v[twice]);
        dead(e, "bad_answer", es);
        return -1;
    }
    if (elided && wrk_job_pk_item(e->rep, raw, sp, pk) == 0)
        return 0;
    if (*rec == NULL && (*rec = *owned = parse_record(e, raw, sp)) == NULL)
        return -1;
    if (wrk_job_pk(e->rep, *rec, pk, es, sizeof(es)) != WDTS_OK) {
        json_decref(*owned);
        *owned = NULL;
        dead(e, "bad_answer", es);
        return -1;
    }
    return 0;
}

/* Queues one record envelope to the records topic; when it cannot be queued, the window is
 * fetched again (dr_failed). */
static void send_record(struct wrk_exec *e, const struct wdts_buf *key, const struct wdts_buf *val)
{
    struct wrk *w = e->w;
    struct wdts_param hdrs[] = {{"report", e->job.report},
                                {"tenant", e->job.tenant},
                                {"schema", WRK_SCHEMA_RECORD}};
    e->outstanding++;
    e->refs++;
    if (wrk_produce(w, w->cfg->topic_records, wdts_buf_str(key), key->len, wdts_buf_str(val),
                    val->len, hdrs, 3, &e->dr[WRK_DR_RECORD]) != WDTS_OK) {
        e->outstanding--;
        e->refs--;
        e->dr_failed = 1;
        snprintf(e->dr_error, sizeof(e->dr_error), "a record could not be queued");
        return;
    }
    e->records++;
    wdts_metrics_inc(w->m.records);
    if (e->pass)
        wdts_metrics_inc(w->m.hist_records);
    wdts_metrics_add(w->m.bytes, (double)val->len);
}

/* Produces the records of one page. raw/spans: the answer's bytes and each record's span
 * in them (when they match the list one for one), so that the envelope carries the record
 * exactly as the API sent it, without serialising it again. With elided, list is empty
 * and the records exist only as spans (strictly checked, with their pk members noted): the
 * pk is read from the bytes, and a record is parsed only when that is not plain or the
 * pii policy changes it. @returns 0, or -1 after dead-lettering the job. */
static int produce_page(struct wrk_exec *e, json_t *list, const char *raw,
                        const struct wdts_jscan_item *spans, size_t nspans, int elided,
                        int as_sent_ok)
{
    struct wrk *w = e->w;
    struct wrk_envctx ctx = {&e->job, source_name(e), wdts_time_now()};
    struct wdts_buf *pk = &w->pbuf[0], *key = &w->pbuf[1], *val = &w->pbuf[2];
    struct wdts_buf *pre = &w->pbuf[3], *post = &w->pbuf[4];
    size_t n = elided ? nspans : json_array_size(list);
    int as_sent = as_sent_ok && spans != NULL && nspans == n;
    wrk_job_envelope_head(pre, post, &ctx);
    for (size_t i = 0; i < n; i++) {
        json_t *rec = elided ? NULL : json_array_get(list, i), *owned = NULL;
        const struct wdts_jscan_item *sp = spans ? &spans[i] : NULL;
        if (record_pk(e, raw, sp, elided, &rec, &owned, pk) != 0)
            return -1;
        /* a record with an escaped key is sent as jansson reads it (its members cannot be
         * told from the bytes, so its pk came from that parse) */
        int rec_as_sent = as_sent && !(elided && sp->mcount[0] < 0);
        if (!wrk_pkset_add(&e->seen, wdts_buf_str(pk))) {
            json_decref(owned);
            e->dups++;
            wdts_metrics_inc(w->m.dups);
            continue;
        }
        if (!rec_as_sent && rec == NULL && (rec = owned = parse_record(e, raw, sp)) == NULL)
            return -1;
        if (!rec_as_sent && wrk_job_pii(rec, &e->rep->pii, e->conn->conn->pii, w->pii_key,
                                        w->pii_key_len, e->job.tenant) != WDTS_OK) {
            json_decref(owned);
            dead(e, "internal", "pii hashing failed (OpenSSL)");
            return -1;
        }
        wdts_buf_reset(key);
        wdts_buf_reset(val);
        wrk_job_record_key(key, &e->job, wdts_buf_str(pk));
        if (rec_as_sent) {
            wrk_job_envelope_join(val, pre, post, wdts_buf_str(pk), raw + sp->off, sp->len);
        } else {
            char *d = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
            wrk_job_envelope_join(val, pre, post, wdts_buf_str(pk), d ? d : "null",
                                  d ? strlen(d) : 4);
            free(d);
        }
        json_decref(owned);
        send_record(e, key, val);
    }
    return 0;
}

static void retry_later(struct wrk_exec *e, const char *cls, const char *message)
{
    struct wrk *w = e->w;
    e->attempts++;
    if (e->attempts >= w->cfg->worker_max_attempts) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "gave up after %d attempts: %s", e->attempts, message);
        dead(e, cls, msg);
        return;
    }
    int64_t d = wrk_job_backoff_ms(e->attempts, BACKOFF_BASE_MS, BACKOFF_CAP_MS, w->rnd++ * 2654435761u);
    WDTS_LOG(INFO, "wrk", "job %s: %s (attempt %d), retrying in %lld ms: %s", e->job.job_id, cls,
             e->attempts, (long long)d, message);
    e->st = WRK_ST_PERMIT;
    e->timer = wdts_loop_timer_add(w->loop, d, permit_timer, e);
}

/* The first page's total is over worker.max.records.per.job: the window is split in
 * halves, or dead-lettered when a half's total did not shrink. @returns 1 when it was. */
static int first_total_too_big(struct wrk_exec *e, const struct wdts_api_result *res)
{
    struct wrk *w = e->w;
    long long first_total = res->has_total ? res->total_count : -1;
    if (e->pass)
        e->hc.total = first_total;
    else
        e->api_total = first_total;
    if (first_total <= w->cfg->worker_max_records_per_job)
        return 0;
    char why[600];
    if (!wrk_job_total_shrinks(&e->job, res->has_total, res->total_count)) {
        snprintf(why, sizeof(why), "the gateway gave total_count %lld for [%lld, "
                 "%lld), a half of a window it gave %lld: a total that does not "
                 "shrink when its window is halved is not believable, so it is not "
                 "split again (if every record really is in this half, raise "
                 "worker.max.records.per.job and resync the window)",
                 first_total, (long long)e->job.start, (long long)e->job.end,
                 e->job.parent_total);
        dead(e, "bad_answer", why);
        return 1;
    }
    snprintf(why, sizeof(why), "total_count %lld of %s exceeds "
             "worker.max.records.per.job %d", first_total, pass_method(e),
             w->cfg->worker_max_records_per_job);
    split(e, why, first_total);
    return 1;
}

/* No total: the full pages read forward reach worker.max.records.per.job, so the window
 * is split in halves. @returns 1 when it was. */
static int forward_pages_too_many(struct wrk_exec *e, const struct wdts_api_result *res,
                                  size_t nrec)
{
    struct wrk *w = e->w;
    if (!wrk_pager_forward(&e->pg, res->has_total))
        return 0;
    long long seen = (e->pg.page + 1) * (long long)e->rep->page_size;
    if (nrec < (size_t)e->rep->page_size || seen < w->cfg->worker_max_records_per_job)
        return 0;
    char why[200];
    snprintf(why, sizeof(why), "the answers carry no total_count and %lld full pages "
             "reach worker.max.records.per.job %d", e->pg.page + 1,
             w->cfg->worker_max_records_per_job);
    split(e, why, -1);
    return 1;
}

/* The history pass's total changed while it was paged (rr says what to do): read it again
 * now, or later (the job waits, or is dead-lettered after worker.max.attempts such waits).
 * @returns 1 when the job does not go on now. */
static int hist_total_changed(struct wrk_exec *e, enum wrk_hist_reread rr,
                              const struct wdts_api_result *res)
{
    struct wrk *w = e->w;
    char why[300];
    snprintf(why, sizeof(why), "%s gave total_count %lld, then %lld while it was paged "
             "(documents were archived or changed meanwhile)", pass_method(e),
             e->hc.total, res->total_count);
    if (rr == WRK_HIST_RETRY_LATER) {
        /* the records read so far are out; the history pass starts again later */
        e->hist_rereads = 0;
        wrk_pager_start(&e->pg);
        if (++e->hist_retries >= w->cfg->worker_max_attempts) {
            char msg[600];
            snprintf(msg, sizeof(msg), "gave up after %d x %d reads of the history "
                     "pass: %s; resync the window once the gateway's archiving is "
                     "done", e->hist_retries, WRK_HIST_MAX_REREADS + 1, why);
            dead(e, "transient", msg);
            return 1;
        }
        int64_t d = wrk_job_backoff_ms(e->hist_retries, BACKOFF_BASE_MS, BACKOFF_CAP_MS,
                                       w->rnd++ * 2654435761u);
        WDTS_LOG(INFO, "wrk", "job %s: %s, %d times: reading it again in %lld ms",
                 e->job.job_id, why, WRK_HIST_MAX_REREADS + 1, (long long)d);
        e->st = WRK_ST_PERMIT;
        e->timer = wdts_loop_timer_add(w->loop, d, permit_timer, e);
        return 1;
    }
    WDTS_LOG(INFO, "wrk", "job %s: %s: reading it again", e->job.job_id, why);
    e->hist_rereads++;
    wrk_pager_start(&e->pg);
    return 0;
}

/* A page answered: checked, bounded (split when the window is too big), its records
 * produced, the pager moved on, then the next step. */
static void on_page(struct wrk_exec *e, struct wdts_api_xfer *xfer,
                    const struct wdts_api_result *res)
{
    struct wrk *w = e->w;
    json_t *list = res->data ? json_object_get(res->data, e->rep->list_key) : NULL;
    char bad[300];
    if (wrk_job_answer_check(e->rep, res->data, e->pg.calls == 0, res->has_total,
                             res->total_count, bad, sizeof(bad)) != 0) {
        retry_later(e, "bad_answer", bad);
        return;
    }
    if (json_is_null(list))
        list = NULL; /* an empty window, as answer_check allowed */
    size_t alen = 0;
    const char *answer = wdts_api_xfer_answer(xfer, &alen);
    struct wdts_jscan_item *spans = NULL;
    size_t nspans = 0;
    int elided = res->list_elided && list != NULL;
    if (elided) {
        spans = res->list.items;
        nspans = res->list.n;
    }
    size_t nrec = elided ? nspans : json_array_size(list);
    if (nrec > (size_t)e->rep->page_size) { /* the elided walk stops before this */
        char why[200];
        snprintf(why, sizeof(why), "data.%s holds %zu records, more than the page_size %d "
                 "asked for", e->rep->list_key, nrec, e->rep->page_size);
        retry_later(e, "bad_answer", why);
        return;
    }
    if (e->pg.calls == 0 && first_total_too_big(e, res))
        return;
    if (forward_pages_too_many(e, res, nrec))
        return;
    e->pages++;
    if (e->pass)
        e->hc.pages++;
    e->attempts = 0; /* worker.max.attempts bounds failures in a row */
    wdts_metrics_inc(w->m.pages);
    /* Records go out as sent unless the pii policy changes them, and only from an
     * elided list: an answer parsed in full (one the strict walk did not take) is
     * serialised from jansson's tree, so its pk and data come from the same parse. */
    int as_sent_ok = e->conn->conn->pii == WDTS_CONN_PII_KEEP || e->rep->pii.n == 0;
    int prc = list ? produce_page(e, list, answer, spans, nspans, elided, as_sent_ok) : 0;
    if (prc != 0)
        return;
    int first = e->pg.calls == 0;
    enum wrk_hist_reread rr = WRK_HIST_GO_ON;
    if (e->pass && e->pg.calls > 0)
        rr = wrk_job_hist_reread(e->hc.total, res->has_total, res->total_count,
                                 e->hist_rereads);
    wrk_pager_next(&e->pg, res->has_total, res->total_count, nrec, e->rep->page_size);
    if (e->pg.has_total)
        count_progress(e, first);
    if (rr != WRK_HIST_GO_ON && hist_total_changed(e, rr, res))
        return;
    next_step(e);
}

/* The blocking client marks connections: reconnect it first when it broke. */
static void redis_reconnect_if_broken(struct wrk *w)
{
    if (w->redis->err != WDTS_OK && wdts_redis_reconnect(w->redis) != WDTS_OK)
        WDTS_LOG(WARN, "redis", "reconnect: %s", w->redis->errstr);
}

/* The credentials were refused: the connection is marked auth_failed, the job dead. */
static void auth_refused(struct wrk_exec *e, const struct wdts_api_result *res)
{
    struct wrk *w = e->w;
    struct wrk_conn *c = e->conn;
    char es[256];
    redis_reconnect_if_broken(w);
    if (wdts_conn_mark_auth(w->redis, w->prefix, c->conn->id, res->message, wdts_time_now(),
                            es, sizeof(es)) != WDTS_OK)
        WDTS_LOG(WARN, "wrk", "connection %s: marking auth_failed: %s", c->conn->id, es);
    wrk_conn_invalidate(w, c->conn->id);
    dead(e, "auth", res->message);
}

/* The app may not call the history method: marked on the connection; the report itself
 * goes on, and a recent window is finished from the normal method (else dead-lettered). */
static void history_refused(struct wrk_exec *e, const struct wdts_api_result *res)
{
    struct wrk *w = e->w;
    struct wrk_conn *c = e->conn;
    char es[256];
    const char *why = res->api_message ? res->api_message : res->message;
    char hfix[600];
    snprintf(hfix, sizeof(hfix), "add the interface %s in 开放平台 → 自助对接 → 应用管理 "
             "and have it approved for sid %s, then run wdtctl connection check --id %s; "
             "until then windows older than the archive horizon fail",
             e->rep->history_method, c->conn->sid, c->conn->id);
    redis_reconnect_if_broken(w);
    if (wdts_conn_mark_history(w->redis, w->prefix, c->conn->id, e->job.report, why, hfix,
                               wdts_time_now(), es, sizeof(es)) != WDTS_OK)
        WDTS_LOG(WARN, "wrk", "connection %s: marking the history method of %s refused: "
                 "%s", c->conn->id, e->job.report, es);
    wrk_conn_invalidate(w, c->conn->id);
    e->hist = wrk_job_hist_plan(e->rep, &e->job, c->conn->archive_read,
                                c->conn->archive_horizon_s, 1,
                                wrk_clock_now(w, c->conn->gateway));
    if (e->hist == WRK_HIST_FAIL) {
        char msg[1500];
        wrk_job_hist_refused_msg(msg, sizeof(msg), e->rep, &e->job, c->conn, why);
        dead(e, "permission", msg);
        return;
    }
    hist_skip(e, why);
    e->pg.page = -1; /* the window is done from the normal method */
    next_step(e);
}

/* The app may not call the report's method: the report is marked blocked on the
 * connection, the job dead. */
static void report_refused(struct wrk_exec *e, const struct wdts_api_result *res)
{
    struct wrk *w = e->w;
    struct wrk_conn *c = e->conn;
    char es[256], fix[512];
    redis_reconnect_if_broken(w);
    snprintf(fix, sizeof(fix), "add the interface %s in 开放平台 → 自助对接 → 应用管理 and have "
             "it approved for sid %s, then run wdtctl connection check %s", e->rep->method,
             c->conn->sid, c->conn->id);
    if (wdts_conn_mark_report(w->redis, w->prefix, c->conn->id, e->job.report,
                              res->api_message ? res->api_message : res->message, fix,
                              wdts_time_now(), es, sizeof(es)) != WDTS_OK)
        WDTS_LOG(WARN, "wrk", "connection %s: marking %s blocked: %s", c->conn->id,
                 e->job.report, es);
    wrk_conn_invalidate(w, c->conn->id);
    char msg[1200];
    snprintf(msg, sizeof(msg), "%s; %s", res->message, fix);
    dead(e, "permission", msg);
}

/* A call finished: the limiter and the gateway's clock learn from it, then its error class
 * decides the job's next step. */
static void on_http(struct wdts_api_xfer *xfer, void *opaque)
{
    struct wrk_exec *e = opaque;
    struct wrk *w = e->w;
    struct wrk_conn *c = e->conn;
    struct wdts_api_result res;
    struct wdts_api_ctx ctx = {c->conn->app, pass_method(e), c->conn->sid, c->conn->appkey,
                               c->conn->gateway};
    wdts_api_result_init(&res);
    wdts_api_xfer_finish_elided(xfer, &ctx, &c->creds, e->rep->list_key,
                                (const char *const *)e->rep->pk.v, e->rep->pk.n,
                                (size_t)e->rep->page_size, &res);
    int64_t date = wdts_api_xfer_date(xfer);
    e->xfer = NULL; /* destroyed at the end: the records are taken from its answer */
    const char *cv[] = {wdts_api_class_name(res.cls)};
    wdts_metrics_inc(wdts_metrics_series(w->m.calls, cv));
    limit_finish(e, res.cls == WDTS_API_RATE_LIMITED ? WDTS_LIMIT_OUTCOME_LIMITED
                    : res.cls == WDTS_API_TRANSIENT  ? WDTS_LIMIT_OUTCOME_OTHER
                                                     : WDTS_LIMIT_OUTCOME_OK);
    if (date > 0)
        wrk_clock_observe(w, c->conn->gateway, date);

    switch (res.cls) {
    case WDTS_API_OK:
        on_page(e, xfer, &res);
        break;
    case WDTS_API_TRANSIENT:
        retry_later(e, res.kind == WDTS_API_KIND_BAD_ANSWER ? "bad_answer" : "transient",
                    res.message);
        break;
    case WDTS_API_RATE_LIMITED:
        /* the finish above set the shared cooldown; the next permit waits it out */
        WDTS_LOG(INFO, "wrk", "job %s: rate limited: %s", e->job.job_id, res.message);
        e->st = WRK_ST_PERMIT;
        e->timer = wdts_loop_timer_add(w->loop, 0, permit_timer, e);
        break;
    case WDTS_API_CLOCK:
        if (date > 0) { /* resynced from the answer's Date: retry at once */
            wrk_clock_resync(w, c->conn->gateway, date);
            if (++e->attempts >= w->cfg->worker_max_attempts) {
                dead(e, "clock", res.message);
                break;
            }
            e->st = WRK_ST_PERMIT;
            e->timer = wdts_loop_timer_add(w->loop, 0, permit_timer, e);
        } else {
            retry_later(e, "clock", res.message);
        }
        break;
    case WDTS_API_AUTH:
        auth_refused(e, &res);
        break;
    case WDTS_API_PERMISSION:
        if (e->pass) /* the history method: the report itself goes on */
            history_refused(e, &res);
        else
            report_refused(e, &res);
        break;
    case WDTS_API_BAD_REQUEST:
        if (res.kind == WDTS_API_KIND_WINDOW_TOO_WIDE)
            split(e, res.message, -1);
        else
            dead(e, "bad_request", res.message);
        break;
    default:
        dead(e, "internal", res.message);
        break;
    }
    wdts_api_result_deinit(&res);
    wdts_api_xfer_destroy(xfer);
}

/* ---- pages done: marker, watermark ------------------------------------------------ */

static void next_step(struct wrk_exec *e)
{
    if (e->pg.page >= 0) {
        permit(e);
        return;
    }
    if (e->pass == 0 && e->hist == WRK_HIST_READ) {
        /* the same window from the history method: own pager and total, same pk set */
        e->pass = 1;
        e->records_before_hist = e->records;
        wrk_pager_start(&e->pg);
        permit(e);
        return;
    }
    e->st = WRK_ST_DELIVER;
    try_finish(e);
}

static void wm_complete(struct wrk_exec *e);

static void wm_timer(void *opaque)
{
    struct wrk_exec *e = opaque;
    e->timer = 0;
    wm_complete(e);
}

static void on_count(const struct wdts_redis_reply *reply, const char *err, void *opaque)
{
    (void)reply;
    if (err != NULL)
        WDTS_LOG(DEBUG, "wrk", "records counter of %s: %s", (const char *)opaque, err);
    free(opaque);
}

/* Adds the window's records to <prefix>stat:<connection>:<report> records, its calls to
 * calls and 1 to windows, and sets first_done_at once (Unix s): `wdtctl status` shows the
 * records and estimates the backfill's end from calls per window and calls per second.
 * Best effort: a lost increment only makes those figures low. */
static void count_records(struct wrk_exec *e)
{
    struct wdts_buf key;
    char n[24], calls[24], now[24];
    wdts_buf_init(&key);
    wdts_redis_key(&key, e->w->prefix, "stat", e->job.connection, e->job.report, NULL);
    snprintf(n, sizeof(n), "%lld", e->records);
    snprintf(calls, sizeof(calls), "%lld", e->calls);
    snprintf(now, sizeof(now), "%lld", (long long)wdts_time_now());
    const char *cmds[4][4] = {
        {"HINCRBY", wdts_buf_str(&key), "records", n},
        {"HINCRBY", wdts_buf_str(&key), "calls", calls},
        {"HINCRBY", wdts_buf_str(&key), "windows", "1"},
        {"HSETNX", wdts_buf_str(&key), "first_done_at", now},
    };
    for (size_t i = 0; i < 4; i++) {
        char *what = wdts_xstrdup(e->job.job_id);
        if (wdts_redis_async_command(e->w->ra, 4, cmds[i], on_count, what) != WDTS_OK)
            free(what);
    }
    wdts_buf_deinit(&key);
}

/* The progress of windows with a total, for the ETA of `wdtctl status`: at a window's
 * first answer the calls its pages take (1, or pages + 1; one more when it is read from the
 * history method too) go to calls_expected and 1 to windows_started; the history pass's
 * first answer adds its pages' calls beyond that one; every answer adds 1 to calls_made
 * (and the first window's start sets first_call_at, Unix s: the rate seen). So
 * the calls left of the windows in flight are calls_expected - calls_made, and the windows
 * started are a sample of what the others will take. Best effort. */
static void count_progress(struct wrk_exec *e, int first)
{
    struct wdts_buf key;
    char expected[24];
    long long pages_calls = e->pg.npages <= 1 ? 1LL : (long long)e->pg.npages + 1;
    long long add = 0, started = 0;
    if (first && e->pass == 0 && !e->prog_started) {
        /* a window read from the history method too costs at least one call more */
        e->prog_started = 1;
        started = 1;
        add = pages_calls + (e->hist == WRK_HIST_READ ? 1 : 0);
    } else if (first && e->pass == 1 && e->prog_started && !e->prog_hist) {
        e->prog_hist = 1;
        add = pages_calls - 1; /* its first call was counted at the window's start */
    } else if (!e->prog_started) {
        return; /* a window whose start was not counted (no total): none of it is */
    }
    wdts_buf_init(&key);
    wdts_redis_key(&key, e->w->prefix, "stat", e->job.connection, e->job.report, NULL);
    snprintf(expected, sizeof(expected), "%lld", add);
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)wdts_time_now());
    const char *cmds[4][4] = {
        {"HINCRBY", wdts_buf_str(&key), "calls_made", "1"},
        {"HINCRBY", wdts_buf_str(&key), "calls_expected", expected},
        {"HINCRBY", wdts_buf_str(&key), "windows_started", "1"},
        {"HSETNX", wdts_buf_str(&key), "first_call_at", now},
    };
    size_t n = started ? 4 : add > 0 ? 2 : 1;
    for (size_t i = 0; i < n; i++) {
        char *what = wdts_xstrdup(e->job.job_id);
        if (wdts_redis_async_command(e->w->ra, 4, cmds[i], on_count, what) != WDTS_OK)
            free(what);
    }
    wdts_buf_deinit(&key);
}

static void on_wm(const struct wdts_redis_reply *reply, const char *err, void *opaque)
{
    struct wrk_exec *e = opaque;
    struct wrk *w = e->w;
    if (w->tearing_down || e->finished) {
        wrk_exec_unref(e);
        return;
    }
    struct wdts_wm_result r;
    char es[256];
    if (reply == NULL || wdts_wm_complete_parse(reply, &r, es, sizeof(es)) != WDTS_OK) {
        WDTS_LOG(WARN, "wrk", "job %s: watermark: %s", e->job.job_id, reply ? es : err);
        e->timer = wdts_loop_timer_add(w->loop, RETRY_REDIS_MS, wm_timer, e);
    } else {
        switch (r.status) {
        case WDTS_WM_FULL:
            e->timer = wdts_loop_timer_add(w->loop, WM_FULL_RETRY_MS, wm_timer, e);
            break;
        case WDTS_WM_UNINIT:
            WDTS_LOG(WARN, "wrk", "job %s: the watermark of %s/%s was never initialised (the "
                     "scheduler sets it); the window's records are delivered but not counted",
                     e->job.job_id, e->job.connection, e->job.report);
            finish(e, "done");
            break;
        case WDTS_WM_STALE:
            WDTS_LOG(WARN, "wrk", "job %s: fencing token %lld is stale: another worker holds the "
                     "window; its completion counts", e->job.job_id, e->fence);
            finish(e, "stale");
            break;
        default:
            WDTS_LOG(DEBUG, "wrk", "job %s: watermark %s, now %lld", e->job.job_id,
                     wdts_wm_status2str(r.status), r.wm);
            if (r.status != WDTS_WM_ALREADY) /* first completion: count its records once */
                count_records(e);
            finish(e, "done");
            break;
        }
    }
    wrk_exec_unref(e);
}

static void wm_complete(struct wrk_exec *e)
{
    struct wrk *w = e->w;
    struct wdts_lua_call call;
    char es[256];
    struct wdts_wm_id id = wm_id(e);
    e->st = WRK_ST_WM;
    if (wdts_wm_complete_build(&call, w->prefix, &id, e->job.start, e->job.end, e->fence, 0, es,
                               sizeof(es)) == WDTS_OK &&
        wdts_redis_async_lua(w->ra, &call, on_wm, e) == WDTS_OK)
        e->refs++;
    else
        e->timer = wdts_loop_timer_add(w->loop, RETRY_REDIS_MS, wm_timer, e);
    wdts_lua_call_deinit(&call);
}

static void refetch(void *opaque)
{
    struct wrk_exec *e = opaque;
    e->timer = 0;
    permit(e);
}

/* Called whenever a phase may be complete: all pages fetched and every report in. */
static void try_finish(struct wrk_exec *e)
{
    struct wrk *w = e->w;
    if (e->outstanding > 0 || e->finished)
        return;
    /* Only a job between phases acts here. Delivery reports also arrive while a page is
     * being produced (a full queue is polled): a failure then is handled once the pages
     * are done, not in the middle of one. */
    if (e->st != WRK_ST_SPLIT && e->st != WRK_ST_DEAD && e->st != WRK_ST_DELIVER &&
        e->st != WRK_ST_MARKER)
        return;
    if (e->st == WRK_ST_SPLIT) {
        if (e->dr_failed) { /* a half was not enqueued: fetch (and split) the window again */
            e->dr_failed = 0;
            e->attempts++;
            if (e->attempts >= w->cfg->worker_max_attempts) {
                dead(e, "delivery", e->dr_error);
                return;
            }
            wrk_pager_start(&e->pg);
            pass_reset(e);
            lock_acquire(e);
            return;
        }
        finish(e, "split");
        return;
    }
    if (e->st == WRK_ST_DEAD) {
        if (e->dr_failed) { /* the dead letter was not acknowledged: send it again */
            e->dr_failed = 0;
            e->timer = 0;
            wrk_dlq_send(e, e->dead_class, e->dead_msg ? e->dead_msg : "");
            return;
        }
        finish(e, "dead_letter");
        return;
    }
    if (e->dr_failed) {
        /* Kafka refused something: fetch the whole window again (keys are idempotent) */
        e->dr_failed = 0;
        wrk_pkset_deinit(&e->seen);
        wrk_pkset_init(&e->seen);
        wrk_pager_start(&e->pg);
        pass_reset(e);
        e->records = 0;
        e->attempts++;
        WDTS_LOG(WARN, "wrk", "job %s: delivery failed (%s); fetching the window again",
                 e->job.job_id, e->dr_error);
        if (e->attempts >= w->cfg->worker_max_attempts) {
            dead(e, "delivery", e->dr_error);
            return;
        }
        e->st = WRK_ST_PERMIT;
        e->timer = wdts_loop_timer_add(
            w->loop, wrk_job_backoff_ms(e->attempts, BACKOFF_BASE_MS, BACKOFF_CAP_MS, w->rnd++),
            refetch, e);
        return;
    }
    if (e->st == WRK_ST_DELIVER) {
        /* every record is acknowledged: now the marker, so that it follows them */
        struct wrk_envctx ctx = {&e->job, source_name(e), wdts_time_now()};
        struct wdts_buf k, v;
        wdts_buf_init(&k);
        wdts_buf_init(&v);
        wrk_job_marker_key(&k, &e->job);
        int hist_read = e->hist == WRK_HIST_READ && e->pass == 1;
        if (hist_read)
            e->hc.records = e->records - e->records_before_hist;
        wrk_job_marker_hist(&v, &ctx, e->records, e->pages, e->calls, e->api_total, e->dups,
                            hist_read ? &e->hc : NULL);
        struct wdts_param hdrs[] = {{"report", e->job.report},
                                    {"tenant", e->job.tenant},
                                    {"schema", WRK_SCHEMA_WINDOW}};
        e->st = WRK_ST_MARKER;
        e->outstanding++;
        e->refs++;
        if (wrk_produce(w, w->cfg->topic_records, wdts_buf_str(&k), k.len, wdts_buf_str(&v),
                        v.len, hdrs, 3, &e->dr[WRK_DR_MARKER]) != WDTS_OK) {
            e->outstanding--;
            e->refs--;
            e->st = WRK_ST_DELIVER;
            e->timer = wdts_loop_timer_add(w->loop, RETRY_REDIS_MS, finish_retry, e);
        }
        wdts_buf_deinit(&k);
        wdts_buf_deinit(&v);
        return;
    }
    if (e->st == WRK_ST_MARKER)
        wm_complete(e);
}

void wrk_exec_on_dr(struct wrk_dr *dr, const struct wdts_kafka_dr *rep)
{
    struct wrk_exec *e = dr->e;
    e->outstanding--;
    if (rep->err != WDTS_OK) {
        e->dr_failed = 1;
        snprintf(e->dr_error, sizeof(e->dr_error), "%s [%d]: %s", rep->topic ? rep->topic : "?",
                 (int)rep->partition, rep->errstr);
    }
    if (!e->w->tearing_down && !e->finished)
        try_finish(e);
    wrk_exec_unref(e);
}
