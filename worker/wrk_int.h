/* The inside of the worker, shared by wrk.c (lifecycle, loop, consumer), wrk_exec.c (one
 * job's state machine), wrk_commit.c (offsets, dead letters) and what they use:
 * wrk_conns.c (connection cache), wrk_clock.c (gateway clocks), wrk_produce.c,
 * wrk_metrics.c. Not a public interface. Calls go one way, wrk.c → wrk_exec.c →
 * wrk_commit.c, and those three use the four below them, which call none of them (the
 * connection cache answers a job through a callback).
 *
 * A job (struct wrk_exec) exists from the moment its message is consumed until its
 * offset is settled (finished: done, split or dead-lettered; or abandoned):
 *
 *   consumed → [bad job → DEAD] → CONN (cached or loaded) → LOCK ──(held elsewhere: wait)
 *            → PERMIT (queued per limiter key; the head asks: go / wait N ms) → HTTP →
 *              page handled → PERMIT … →
 *            → DELIVER (all record reports in) → MARKER (its report in) → WM → DONE
 *   error classes branch to: backoff → PERMIT, SPLIT, DEAD (dlq report in → finished)
 *
 * Every asynchronous operation a job waits for (Redis reply, delivery report) holds a
 * reference (refs); a finished job is freed when refs drops to 0. */
#ifndef WRK_INT_H
#define WRK_INT_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "wdts/wdt_api_multi.h"
#include "wdts/catalog.h"
#include "wdts/cfg.h"
#include "wdts/conn.h"
#include "wdts/job.h"
#include "wdts/kafka.h"
#include "wdts/limit.h"
#include "wdts/lock.h"
#include "wdts/loop.h"
#include "wdts/metrics.h"
#include "wdts/redis.h"
#include "wdts/redis_async.h"
#include "wdts/wdt_api_creds.h"
#include "wrk_job.h"

struct wrk;
struct wrk_clock;
struct wrk_conn_load;
struct wrk_exec;
struct wrk_lq;

#define WRK_LQ_BUCKETS 1024

/** A loaded connection with opened credentials, cached and shared by jobs (refcounted). */
struct wrk_conn {
    struct wrk_conn *next;
    char *id;
    struct wdts_conn *conn;       /* owned; NULL when it could not be loaded */
    struct wdts_api_creds creds;  /* owned; valid when usable */
    int usable;                   /* 1: loaded, secrets opened, creds built */
    char error[1024];             /* why not usable (bad secret, not found …) */
    wdts_err_t error_code;        /* WDTS_ERR_NOTFOUND when the connection does not exist */
    int64_t loaded_ms;            /* monotonic */
    int refs;                     /* jobs holding it, plus 1 while it is in the cache */
};

/** One assigned partition of wdt.jobs: which offsets are consumed but not finished. */
struct wrk_part {
    char *topic;
    int32_t partition;
    int64_t next;     /* highest consumed offset + 1 (-1: nothing consumed yet) */
    int64_t *open;    /* offsets of jobs not finished */
    size_t nopen, cap;
    int64_t stored;   /* last stored next offset */
    int paused;       /* fetching paused (backpressure) */
};

enum wrk_dr_kind { WRK_DR_RECORD = 0, WRK_DR_MARKER, WRK_DR_DLQ, WRK_DR_SPLIT };

/** Delivery-report opaque: a pointer to one of these inside the job. */
struct wrk_dr {
    struct wrk_exec *e;
    enum wrk_dr_kind kind;
};

enum wrk_state {
    WRK_ST_NEW = 0,
    WRK_ST_CONN,
    WRK_ST_LOCK,
    WRK_ST_PERMIT,
    WRK_ST_HTTP,
    WRK_ST_DELIVER,
    WRK_ST_MARKER,
    WRK_ST_WM,
    WRK_ST_SPLIT,
    WRK_ST_DEAD,
    WRK_ST_FINISHED,
};

struct wrk_exec {
    struct wrk *w;
    struct wrk_exec *prev, *next;
    /* where it came from */
    char *topic;
    int32_t partition;
    int64_t offset;
    void *raw; /* the message value, for the dead letter */
    size_t raw_len;
    int orphan; /* its partition was revoked: never store its offset */

    struct wdts_job job;
    const struct wdts_catalog_report *rep; /* borrowed from the catalog */
    struct wrk_conn *conn;                 /* a reference */
    enum wrk_state st;

    char lock_token[WDTS_LOCK_TOKEN_SIZE];
    long long fence;
    int locked;
    uint64_t renew_timer, timer;

    char slot_token[WDTS_LOCK_TOKEN_SIZE];
    long long slot_now_us;
    int64_t asked_ms;      /* monotonic time of the last try_start sent */
    int64_t wait_since_ms; /* monotonic start of a rate-limit wait, 0 when none */
    struct wdts_api_xfer *xfer;
    struct wrk_lq *lq;          /* the permit queue it waits in (PERMIT), else NULL */
    struct wrk_exec *lq_next;

    struct wrk_pager pg;
    long long api_total, pages, calls, records, dups;
    /* The history (历史) pass: after the report's method, the same window from its history
     * method (own pager and total, one pk set across both passes). */
    enum wrk_hist_plan hist;
    int pass;                   /* 0: the report's method; 1: its history method */
    long long records_before_hist; /* records when the history pass began */
    int hist_rereads;              /* history passes read again (total changed) */
    int hist_retries;              /* times WRK_HIST_MAX_REREADS were used up */
    int prog_started, prog_hist;   /* the ETA's progress counted: the window's start (normal
                                      pass), the history pass's pages */
    struct wrk_hist_counts hc;
    int attempts; /* failed calls that count toward worker.max.attempts */
    struct wrk_pkset seen;
    int outstanding;  /* delivery reports awaited */
    int dr_failed;    /* a delivery report failed: the window is fetched again */
    char dr_error[256];
    int refs;
    int finished;     /* offset settled (or abandoned) */
    struct wrk_dr dr[4];
    char dead_class[32];
    char *dead_msg;
};

struct wrk {
    const struct wdts_cfg *cfg;
    struct wdts_catalog *cat;
    unsigned char secret_key[WDTS_CRYPTO_KEY_LEN];
    const void *pii_key;
    size_t pii_key_len;
    struct wdts_buf pbuf[5]; /* a page's scratch buffers (pk, key, value, envelope head
                              * before and after the pk), reused; owned */
    char prefix[64];

    struct wdts_loop *loop;
    struct wdts_api_multi *multi;
    struct wdts_redis_params rparams;
    struct wdts_redis_async *ra;
    struct wdts_redis *redis; /* blocking: connection loads and marks, shutdown */
    struct wdts_kafka_consumer *cons;
    struct wdts_kafka_producer *prod;
    struct wdts_metrics *reg;
    struct wdts_http_server *srv;

    struct wrk_conn *conns;
    struct wrk_lq *lq[WRK_LQ_BUCKETS]; /* permit queues by limiter key (wrk_exec.c) */
    struct wrk_conn_load *loads;
    pthread_t lag_thread;
    int lag_started;
    int lag_stop; /* atomics */
    struct wrk_clock *clocks;
    struct wrk_part *parts;
    size_t nparts;
    struct wrk_exec *jobs; /* doubly linked list of jobs not yet freed */
    struct wrk_pkset hist_logged; /* "connection:report" whose refused history method was
                                   * logged (once per connection and report) */
    int inflight;          /* jobs not finished */
    int paused;
    int stopping;
    int tearing_down;
    int fatal;
    int stored_dirty;
    int64_t lock_ttl_ms;
    unsigned rnd;

    int ready_assigned; /* read by the HTTP thread (atomics) */
    int ready_redis;
    int ready_stopping;

    struct {
        struct wdts_metric *jobs, *calls, *dlq, *waits, *states;
        struct wdts_metric_series *loop_lag, *wait_s, *records, *bytes, *dups, *inflight, *lag, *pages,
            *queue_full_s, *hist_records, *hist_skipped;
    } m;
};

/* wrk_conns.c */
/** Gets connection id: from the cache when fresh, else by a non-blocking load that every
 *  job asking meanwhile waits for. ready(opaque, c) is called once, maybe before this
 *  returns: c holds a reference for the caller (wrk_conn_unref()), or is NULL when the
 *  connection could not be read from Redis right now or the worker is tearing down. */
void wrk_conn_request(struct wrk *w, const char *id,
                      void (*ready)(void *opaque, struct wrk_conn *c), void *opaque);
void wrk_conn_unref(struct wrk *w, struct wrk_conn *c);
/** Drops id from the cache (jobs holding it keep their reference). */
void wrk_conn_invalidate(struct wrk *w, const char *id);
/** Frees the cache and the loads still pending (teardown). */
void wrk_conns_clear(struct wrk *w);

/* wrk_clock.c */
int64_t wrk_clock_now(struct wrk *w, const char *gateway);
void wrk_clock_resync(struct wrk *w, const char *gateway, int64_t date_s);
void wrk_clock_observe(struct wrk *w, const char *gateway, int64_t date_s);
void wrk_clocks_clear(struct wrk *w);

/* wrk_produce.c */
wdts_err_t wrk_produce(struct wrk *w, const char *topic, const char *key, size_t key_len,
                       const char *value, size_t value_len, const struct wdts_param *hdrs,
                       size_t nhdrs, void *opaque);

/* wrk_metrics.c */
void wrk_metrics_init(struct wrk *w);
void wrk_metrics_count_states(struct wrk *w);
void wrk_metrics_job_outcome(struct wrk *w, const char *outcome);

/* wrk_exec.c */
struct wrk_exec *wrk_exec_new(struct wrk *w, const struct wdts_kafka_msg *msg);
void wrk_exec_start(struct wrk_exec *e);
void wrk_exec_on_dr(struct wrk_dr *dr, const struct wdts_kafka_dr *rep);
void wrk_exec_abandon(struct wrk_exec *e);
void wrk_exec_unref(struct wrk_exec *e);
void wrk_exec_free(struct wrk_exec *e);
void wrk_lq_destroy_all(struct wrk *w);

/* wrk_commit.c */
void wrk_commit_assigned(struct wrk *w, const struct wdts_kafka_tp *tps, size_t n);
void wrk_commit_revoked(struct wrk *w, const struct wdts_kafka_tp *tps, size_t n);
void wrk_commit_consumed(struct wrk *w, const char *topic, int32_t partition, int64_t offset);
void wrk_commit_finished(struct wrk *w, const char *topic, int32_t partition, int64_t offset);
void wrk_commit_flush(struct wrk *w);
void wrk_commit_clear(struct wrk *w);
void wrk_dlq_send(struct wrk_exec *e, const char *cls, const char *message);

#endif
