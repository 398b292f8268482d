/* The worker fixture (tests 1000-1099 and the pipelines built on them): topics of this run
 * (created in the local Kafka through its control FIFO), connections stored in the real
 * Redis with the library (sealed as wdtctl would), wdt-worker processes started with an
 * environment of their own, jobs produced with the job codec, a reader of the records
 * topic that groups envelopes and markers by job, and the sandbox's truth to compare
 * with. Builds on the sandbox fixture. */
#ifndef WDTS_TEST_WORKER_H
#define WDTS_TEST_WORKER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wdts/conn.h"
#include "wdts/job.h"
#include "wdts_test.h"
#include "wdts_test_sandbox.h"

/* A window of an hourly report as the scheduler plans it: the gateway's hour less the
 * minute that the second a worker asks before each window costs (worker/README.md). */
#define WT_WINDOW 3540

#define WT_KEY_HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct wt {
    const char *redis_url, *brokers, *ctl;
    char prefix[64];  /* topics and Redis keys */
    char rprefix[80]; /* Redis key prefix: "<prefix>:" */
    char t_jobs[96], t_records[96], t_dlq[96];
    char group[96];
    char dir[256];
    struct wdts_redis *redis;
    struct wdts_kafka_producer *prod;
    unsigned char key[32];
};

/* sbx_start(), and the sandbox is killed at exit if the test fails before stopping it. */
int wt_sbx_start(struct sbx_proc *p, const char *const *args);

/* Writes tenants (JSON) into the test's directory and starts wdt-sandbox on them
 * (wt_sbx_start) with more arguments after --tenants (NULL-terminated; NULL for none).
 * path gets the file's path (wt_truth reads it), gw the gateway URL: the sandbox's
 * address and route ("/openapi" or "/router/qm"). */
void wt_sandbox(struct wt *t, struct sbx_proc *sbx, const char *tenants,
                const char *const *more, const char *route, char *path, size_t path_size,
                char *gw, size_t gw_size);

/* This run's topics (jobs and records with the given partitions, a DLQ), Redis
 * connection, producer and secret key; a directory of its own. */
void wt_init(struct wt *t, int job_parts, int record_parts);
/* As wt_init(), with a Redis of the test's own (redis_url) instead of the shared one. */
void wt_init_redis(struct wt *t, int job_parts, int record_parts, const char *redis_url);
void wt_deinit(struct wt *t);

/* A connection as wdtctl stores it. reports: comma-free names, NULL-terminated. */
struct wt_conn_opts {
    const char *id, *tenant, *sid, *appkey, *appsecret, *gateway;
    const char *const *reports;
    double rate;
    int burst, concurrency;
    enum wdts_conn_pii pii;
    const char *qimen_app_key, *qimen_app_secret; /* set: a qimen connection with its own app */
    int64_t archive_horizon_s;                    /* 0: the default (90 days) */
    enum wdts_conn_archive_read archive_read;     /* default all */
};

void wt_conn_add(struct wt *t, const struct wt_conn_opts *o);

void wt_wm_init(struct wt *t, const char *conn, const char *report, int64_t start);
long long wt_wm_get(struct wt *t, const char *conn, const char *report);

/* Where the last job of wt_emit_raw() / wt_emit() landed. */
extern int32_t wt_last_partition;
extern int64_t wt_last_offset;

/* Produces raw bytes to the jobs topic (and waits for the ack). */
void wt_emit_raw(struct wt *t, const char *key, const char *value);
/* Produces a job of one window to the jobs topic; *out (when not NULL) gets the job. */
void wt_emit(struct wt *t, const char *tenant, const char *conn, const char *report,
             int64_t start, int64_t end, struct wdts_job *out);

/* ---- worker processes ------------------------------------------------------------ */

struct wt_worker {
    pid_t pid;
    char log[320];
};

/* Starts wdt-worker; extra: "WDT_X=y" strings, NULL-terminated (may be NULL). */
void wt_worker_start(struct wt *t, struct wt_worker *wk, const char *const *extra);

/* Sends sig and waits up to timeout_ms. @returns the exit status (128+sig when killed),
 * or -1 on timeout (then it is killed). *took_ms gets the time it took. */
int wt_worker_stop(struct wt_worker *wk, int sig, int timeout_ms, int64_t *took_ms);

/* @returns 1 when the worker's log holds text. */
int wt_log_has(const struct wt_worker *wk, const char *text);
/* Copies the worker's log to stderr. */
void wt_log_dump(const struct wt_worker *wk);

/* The worker's HTTP port, from its log line "… on port N" (waits up to 20 s). */
int wt_worker_port(const struct wt_worker *wk);

/* The value of a worker metric line containing frag1 (and frag2); 0 when absent. */
double wt_metric(int port, const char *frag1, const char *frag2);

/* GET path on the worker's port. @returns the HTTP status. */
long wt_http_status(int port, const char *path);

/* ---- reading the records topic ---------------------------------------------------- */

struct wt_rec {
    char *key;
    char *pk;
    char *job_id;
    char *schema;
    json_t *body; /* the envelope or marker */
};

struct wt_reader {
    struct wdts_kafka_consumer *cons;
    struct wt_rec *v;
    size_t n, cap;
};

/* A reader of topic in a group of its own, from the start. */
void wt_reader_open(struct wt *t, struct wt_reader *r, const char *topic);

/* Reads what is there for up to ms. */
void wt_reader_poll(struct wt_reader *r, int ms);

/* The marker of job_id, or NULL. @owner borrowed. */
json_t *wt_marker(const struct wt_reader *r, const char *job_id);

/* Polls until every job id has a marker or timeout_ms passes. @returns 1 when all did. */
int wt_wait_markers(struct wt_reader *r, const char *const *job_ids, size_t n, int timeout_ms);

void wt_reader_close(struct wt_reader *r);

/* The group's committed offset of one partition (0 when none). */
long long wt_committed_at(struct wt *t, const char *topic, int32_t partition);

/* Sum over the group's committed offsets on topic (partitions 0..parts-1; none = 0),
 * asked again every 200 ms for up to 10 s until it reaches want (commits run about once
 * a second). @returns the last sum. */
long long wt_committed(struct wt *t, const char *topic, int parts, long long want);

/* The pks the truth says must be present: modified as of as_of in [since, before). */
size_t wt_truth(const char *tenants_path, const char *sid, const char *report, int64_t as_of,
                int64_t since, int64_t before, char ***pks);

/* As wt_truth() for a route ("wdt" | "qimen"). */
size_t wt_truth_route(const char *tenants_path, const char *sid, const char *report,
                      const char *route, int64_t as_of, int64_t since, int64_t before,
                      char ***pks);

/* How many of pks[0..n) (from wt_truth) the reader holds no record of; frees pks. */
size_t wt_missing(const struct wt_reader *r, const char *conn, const char *report, char **pks,
                  size_t n);

/* Polls until the reader holds a record of job_id, at most timeout_ms.
 * @returns how many it holds (0: none came). */
size_t wt_wait_job_records(struct wt_reader *r, const char *job_id, int timeout_ms);

#endif
