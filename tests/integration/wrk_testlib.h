/* Helpers for the worker integration tests (1000–1099), header-only: topics of this run
 * (created in the local Kafka through its control FIFO), connections stored in the real
 * Redis with the library (sealed as wdtctl would), wdt-worker processes started with an
 * environment of their own, jobs produced with the job codec, and a reader of the records
 * topic that groups envelopes and markers by job. Builds on sbx_testlib.h (sandbox). */
#ifndef WRK_TESTLIB_H
#define WRK_TESTLIB_H

#include "sbx_testlib.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/prctl.h>

#include "wdts/catalog.h"
#include "wdts/conn.h"
#include "wdts/crypto.h"
#include "wdts/job.h"
#include "wdts/kafka.h"
#include "wdts/redis.h"
#include "wdts/watermark.h"

static inline int atoi_safe(const char *s)
{
    long long v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return (int)v;
}

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

/* Child processes a failing test must not leave behind: killed at exit (cmocka's fail
 * returns from the test function, so the normal stop calls are skipped). */
static pid_t wt_children[32];
static size_t wt_nchildren;

static void wt_kill_children(void)
{
    for (size_t i = 0; i < wt_nchildren; i++) {
        pid_t pid = wt_children[i];
        /* only a child of ours that is still running: waitpid() answers 0 for it, and -1
         * for a number reaped already (perhaps reused by another process by now) */
        if (pid > 0 && waitpid(pid, NULL, WNOHANG) == 0 && kill(pid, SIGKILL) == 0)
            waitpid(pid, NULL, 0);
    }
}

static inline void wt_track(pid_t pid)
{
    if (wt_nchildren == 0)
        atexit(wt_kill_children);
    if (wt_nchildren < sizeof(wt_children) / sizeof(wt_children[0]))
        wt_children[wt_nchildren++] = pid;
}

/* sbx_start(), and the sandbox is killed at exit if the test fails before stopping it. */
static inline int wt_sbx_start(struct sbx_proc *p, const char *const *args)
{
    int rc = sbx_start(p, args);
    if (rc == 0)
        wt_track(p->pid);
    return rc;
}

/* Writes tenants (JSON) into the test's directory and starts wdt-sandbox on them
 * (wt_sbx_start) with more arguments after --tenants (NULL-terminated; NULL for none).
 * path gets the file's path (wt_truth reads it), gw the gateway URL: the sandbox's
 * address and route ("/openapi" or "/router/qm"). */
static inline void wt_sandbox(struct wt *t, struct sbx_proc *sbx, const char *tenants,
                              const char *const *more, const char *route, char *path,
                              size_t path_size, char *gw, size_t gw_size)
{
    snprintf(path, path_size, "%s", write_file(t->dir, "tenants.json", tenants));
    const char *args[16] = {"--tenants", path};
    size_t n = 2;
    for (size_t i = 0; more && more[i]; i++) {
        assert_true(n < 15);
        args[n++] = more[i];
    }
    args[n] = NULL;
    assert_int_equal(wt_sbx_start(sbx, args), 0);
    snprintf(gw, gw_size, "%s%s", sbx->base, route);
}

static inline void wt_create_topic(struct wt *t, const char *name, int parts)
{
    int fd = open(t->ctl, O_WRONLY | O_NONBLOCK);
    assert_true(fd >= 0);
    char line[256];
    int n = snprintf(line, sizeof(line), "create %s %d\n", name, parts);
    assert_int_equal(write(fd, line, (size_t)n), n);
    close(fd);
}

static inline void wt_init_redis(struct wt *t, int job_parts, int record_parts,
                                 const char *redis_url);

static inline void wt_init(struct wt *t, int job_parts, int record_parts)
{
    wt_init_redis(t, job_parts, record_parts, NULL);
}

/* As wt_init(), with a Redis of the test's own (redis_url) instead of the shared one. */
static inline void wt_init_redis(struct wt *t, int job_parts, int record_parts,
                                 const char *redis_url)
{
    memset(t, 0, sizeof(*t));
    t->redis_url = redis_url ? redis_url : wdts_test_require_env("WDT_TEST_REDIS_URL");
    t->brokers = wdts_test_require_env("WDT_TEST_KAFKA_BROKERS");
    t->ctl = wdts_test_require_env("WDT_TEST_KAFKA_CTL");
    snprintf(t->prefix, sizeof(t->prefix), "%s", wdts_test_prefix());
    snprintf(t->rprefix, sizeof(t->rprefix), "%s:", t->prefix);
    snprintf(t->t_jobs, sizeof(t->t_jobs), "%sjobs", t->prefix);
    snprintf(t->t_records, sizeof(t->t_records), "%srecords", t->prefix);
    snprintf(t->t_dlq, sizeof(t->t_dlq), "%sdlq", t->prefix);
    snprintf(t->group, sizeof(t->group), "%sworkers", t->prefix);
    snprintf(t->dir, sizeof(t->dir), "/tmp/wrk-test.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    wt_create_topic(t, t->t_jobs, job_parts);
    wt_create_topic(t, t->t_records, record_parts);
    wt_create_topic(t, t->t_dlq, 2);
    usleep(300000);
    char es[512];
    struct wdts_redis_params rp;
    wdts_redis_params_init(&rp);
    assert_int_equal(wdts_redis_params_from_url(&rp, t->redis_url, es, sizeof(es)), WDTS_OK);
    t->redis = wdts_redis_new(&rp, es, sizeof(es));
    assert_non_null(t->redis);
    struct wdts_param pp[] = {{"bootstrap.servers", t->brokers}};
    t->prod = wdts_kafka_producer_new(pp, 1, NULL, NULL, es, sizeof(es));
    assert_non_null(t->prod);
    assert_int_equal(wdts_crypto_key_parse(WT_KEY_HEX, t->key, es, sizeof(es)), WDTS_OK);
}

static inline void wt_deinit(struct wt *t)
{
    wdts_kafka_producer_destroy(t->prod);
    wdts_redis_destroy(t->redis);
}

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

static inline void wt_conn_add(struct wt *t, const struct wt_conn_opts *o)
{
    char es[512];
    struct wdts_conn *c = wdts_conn_new();
    c->tenant = wdts_xstrdup(o->tenant);
    c->id = wdts_xstrdup(o->id);
    c->app = o->qimen_app_key ? WDTS_API_APP_QIMEN : WDTS_API_APP_WDT;
    if (o->qimen_app_key) {
        c->qimen_app_key = wdts_xstrdup(o->qimen_app_key);
        c->qimen_app_secret = wdts_xstrdup(o->qimen_app_secret);
    }
    c->sid = wdts_xstrdup(o->sid);
    c->appkey = wdts_xstrdup(o->appkey);
    c->appsecret = wdts_xstrdup(o->appsecret);
    free(c->gateway);
    c->gateway = wdts_xstrdup(o->gateway);
    for (size_t i = 0; o->reports[i]; i++)
        wdts_conn_add_report(c, o->reports[i]);
    c->rate = o->rate > 0 ? o->rate : 10;
    c->burst = o->burst > 0 ? o->burst : 5;
    c->concurrency = o->concurrency > 0 ? o->concurrency : 2;
    c->pii = o->pii;
    if (o->archive_horizon_s > 0)
        c->archive_horizon_s = o->archive_horizon_s;
    c->archive_read = o->archive_read;
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    if (wdts_conn_validate(c, NULL, &errs) != WDTS_OK)
        fail_msg("connection %s: %s", o->id, wdts_buf_str(&errs));
    wdts_buf_deinit(&errs);
    assert_int_equal(wdts_conn_seal(c, t->key, es, sizeof(es)), WDTS_OK);
    if (wdts_conn_save(t->redis, t->rprefix, c, 1, es, sizeof(es)) != WDTS_OK)
        fail_msg("save: %s", es);
    wdts_conn_destroy(c);
}

static inline void wt_wm_init(struct wt *t, const char *conn, const char *report, int64_t start)
{
    char es[256];
    struct wdts_wm_id id = {conn, report};
    struct wdts_wm_state st;
    struct wdts_lua_call call;
    assert_int_equal(wdts_lua_call_exec(t->redis, &call,
                                        wdts_wm_init_build(&call, t->rprefix, &id, start, es,
                                                           sizeof(es)),
                                        (wdts_lua_parse_cb)wdts_wm_init_parse, &st, es,
                                        sizeof(es)),
                     WDTS_OK);
}

static inline long long wt_wm_get(struct wt *t, const char *conn, const char *report)
{
    char es[256];
    struct wdts_wm_id id = {conn, report};
    struct wdts_wm_state st;
    struct wdts_lua_call call;
    assert_int_equal(wdts_lua_call_exec(t->redis, &call,
                                        wdts_wm_get_build(&call, t->rprefix, &id, es, sizeof(es)),
                                        (wdts_lua_parse_cb)wdts_wm_get_parse, &st, es, sizeof(es)),
                     WDTS_OK);
    return st.wm;
}

/* Produces a job (or raw bytes when raw is set) to the jobs topic. */
static int32_t wt_last_partition;
static int64_t wt_last_offset;

static inline void wt_emit_raw(struct wt *t, const char *key, const char *value)
{
    struct wdts_kafka_out out = {.topic = t->t_jobs,
                                 .partition = WDTS_KAFKA_PARTITION_ANY,
                                 .key = key,
                                 .key_len = key ? strlen(key) : 0,
                                 .value = value,
                                 .value_len = value ? strlen(value) : 0};
    assert_int_equal(
        wdts_kafka_produce_sync(t->prod, &out, 10000, &wt_last_partition, &wt_last_offset),
        WDTS_OK);
}

static inline void wt_emit(struct wt *t, const char *tenant, const char *conn, const char *report,
                           int64_t start, int64_t end, struct wdts_job *out)
{
    struct wdts_job job;
    char es[256];
    assert_int_equal(wdts_job_init(&job, tenant, conn, report, start, end, WDTS_JOB_INCREMENTAL,
                                   1, wdts_time_now(), es, sizeof(es)),
                     WDTS_OK);
    struct wdts_buf k, v;
    wdts_buf_init(&k);
    wdts_buf_init(&v);
    wdts_job_key(&job, &k);
    wdts_job_encode(&job, &v);
    wt_emit_raw(t, wdts_buf_str(&k), wdts_buf_str(&v));
    wdts_buf_deinit(&k);
    wdts_buf_deinit(&v);
    if (out)
        *out = job;
}

/* ---- worker processes ------------------------------------------------------------ */

struct wt_worker {
    pid_t pid;
    char log[320];
};

/* Starts wdt-worker; extra: "WDT_X=y" strings, NULL-terminated (may be NULL). */
static inline void wt_worker_start(struct wt *t, struct wt_worker *wk, const char *const *extra)
{
    static int seq;
    snprintf(wk->log, sizeof(wk->log), "%s/worker-%d.log", t->dir, ++seq);
    char *env[48];
    int n = 0;
    env[n++] = wdts_xasprintf("WDT_SECRET_KEY=%s", WT_KEY_HEX);
    env[n++] = wdts_xasprintf("WDT_REDIS_URL=%s", t->redis_url);
    env[n++] = wdts_xasprintf("WDT_REDIS_PREFIX=%s", t->rprefix);
    env[n++] = wdts_xasprintf("WDT_TOPIC_JOBS=%s", t->t_jobs);
    env[n++] = wdts_xasprintf("WDT_TOPIC_RECORDS=%s", t->t_records);
    env[n++] = wdts_xasprintf("WDT_TOPIC_DLQ=%s", t->t_dlq);
    env[n++] = wdts_xasprintf("WDT_KAFKA_BOOTSTRAP_SERVERS=%s", t->brokers);
    env[n++] = wdts_xasprintf("WDT_KAFKA_GROUP_ID=%s", t->group);
    env[n++] = wdts_xasprintf("WDT_KAFKA_SESSION_TIMEOUT_MS=6000");
    env[n++] = wdts_xasprintf("WDT_HTTP_LISTEN=127.0.0.1:0");
    env[n++] = wdts_xasprintf("WDT_LOG_FORMAT=text");
    for (size_t i = 0; extra && extra[i] && n < 46; i++)
        env[n++] = wdts_xstrdup(extra[i]);
    env[n] = NULL;
    char *bin = wdts_xstrdup(wdts_test_bin("wdt-worker"));
    wk->pid = fork();
    if (wk->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a failed test */
        int fd = open(wk->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        char *argv[] = {bin, NULL};
        execve(bin, argv, env);
        _exit(127);
    }
    free(bin);
    for (int i = 0; i < n; i++)
        free(env[i]);
    assert_true(wk->pid > 0);
    wt_track(wk->pid);
}

/* Sends sig and waits up to timeout_ms. @returns the exit status (128+sig when killed),
 * or -1 on timeout (then it is killed). *took_ms gets the time it took. */
static inline int wt_worker_stop(struct wt_worker *wk, int sig, int timeout_ms, int64_t *took_ms)
{
    int64_t t0 = wdts_time_mono_ms();
    kill(wk->pid, sig);
    int st = 0;
    while (wdts_time_mono_ms() - t0 <= timeout_ms) {
        if (waitpid(wk->pid, &st, WNOHANG) == wk->pid) {
            if (took_ms)
                *took_ms = wdts_time_mono_ms() - t0;
            wk->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(20000);
    }
    kill(wk->pid, SIGKILL);
    waitpid(wk->pid, &st, 0);
    wk->pid = 0;
    return -1;
}

/* @returns 1 when the worker's log holds text. */
static inline int wt_log_has(const struct wt_worker *wk, const char *text)
{
    FILE *f = fopen(wk->log, "r");
    if (f == NULL)
        return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

static inline void wt_log_dump(const struct wt_worker *wk)
{
    FILE *f = fopen(wk->log, "r");
    if (f == NULL)
        return;
    char line[4096];
    fprintf(stderr, "---- %s\n", wk->log);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fclose(f);
}

/* The worker's HTTP port, from its log line "… on port N" (waits up to 20 s). */
static inline int wt_worker_port(const struct wt_worker *wk)
{
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(wk->log, "r");
        char line[4096];
        while (f && fgets(line, sizeof(line), f)) {
            const char *p = strstr(line, "/readyz on port ");
            if (p) {
                fclose(f);
                return atoi_safe(p + strlen("/readyz on port "));
            }
        }
        if (f)
            fclose(f);
        usleep(100000);
    }
    return -1;
}

/* The value of a worker metric line containing frag1 (and frag2); 0 when absent. */
static inline double wt_metric(int port, const char *frag1, const char *frag2)
{
    char url[128];
    struct http_res r;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
    http_do(url, NULL, NULL, 10000, &r);
    assert_int_equal(r.code, 200);
    double total = 0;
    for (char *line = r.body, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] == '#' || strstr(line, frag1) == NULL || (frag2 && strstr(line, frag2) == NULL))
            continue;
        const char *sp = strrchr(line, ' ');
        if (sp)
            total += strtod(sp + 1, NULL);
    }
    http_res_free(&r);
    return total;
}

/* GET path on the worker's port. @returns the HTTP status. */
static inline long wt_http_status(int port, const char *path)
{
    char url[128];
    struct http_res r;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    http_do(url, NULL, NULL, 10000, &r);
    http_res_free(&r);
    return r.code;
}

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

static inline void wt_reader_open(struct wt *t, struct wt_reader *r, const char *topic)
{
    char es[512], group[128];
    static int seq;
    memset(r, 0, sizeof(*r));
    snprintf(group, sizeof(group), "%sreader-%d", t->prefix, ++seq);
    struct wdts_param cp[] = {{"bootstrap.servers", t->brokers}, {"group.id", group}};
    r->cons = wdts_kafka_consumer_new(cp, 2, NULL, NULL, es, sizeof(es));
    assert_non_null(r->cons);
    const char *topics[] = {topic};
    assert_int_equal(wdts_kafka_consumer_subscribe(r->cons, topics, 1), WDTS_OK);
}

/* Reads what is there for up to ms. */
static inline void wt_reader_poll(struct wt_reader *r, int ms)
{
    int64_t t0 = wdts_time_mono_ms();
    while (wdts_time_mono_ms() - t0 < ms) {
        struct wdts_kafka_msg *msg = NULL;
        if (wdts_kafka_consumer_poll(r->cons, 100, &msg) != WDTS_OK || msg == NULL)
            continue;
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 1024;
            r->v = wdts_xrealloc(r->v, r->cap * sizeof(*r->v));
        }
        struct wt_rec *x = &r->v[r->n++];
        memset(x, 0, sizeof(*x));
        x->key = wdts_xstrndup(msg->key ? msg->key : "", msg->key_len);
        const char *schema = wdts_kafka_msg_header(msg, "schema", NULL);
        x->schema = wdts_xstrdup(schema ? schema : "");
        x->body = json_loadb(msg->value ? msg->value : "", msg->value_len, 0, NULL);
        const char *jid = json_string_value(json_object_get(x->body, "job_id"));
        const char *pk = json_string_value(json_object_get(x->body, "pk"));
        x->job_id = wdts_xstrdup(jid ? jid : "");
        x->pk = wdts_xstrdup(pk ? pk : "");
        wdts_kafka_msg_destroy(msg);
    }
}

/* The marker of job_id, or NULL. @owner borrowed. */
static inline json_t *wt_marker(const struct wt_reader *r, const char *job_id)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].schema, "wdt.window.v1") == 0 && strcmp(r->v[i].job_id, job_id) == 0)
            return r->v[i].body;
    return NULL;
}

/* Polls until every job id has a marker or timeout_ms passes. @returns 1 when all did. */
static inline int wt_wait_markers(struct wt_reader *r, const char *const *job_ids, size_t n,
                                  int timeout_ms)
{
    int64_t t0 = wdts_time_mono_ms();
    for (;;) {
        size_t have = 0;
        for (size_t i = 0; i < n; i++)
            have += wt_marker(r, job_ids[i]) != NULL;
        if (have == n)
            return 1;
        if (wdts_time_mono_ms() - t0 > timeout_ms)
            return 0;
        wt_reader_poll(r, 500);
    }
}

static inline void wt_reader_close(struct wt_reader *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].key);
        free(r->v[i].pk);
        free(r->v[i].job_id);
        free(r->v[i].schema);
        json_decref(r->v[i].body);
    }
    free(r->v);
    wdts_kafka_consumer_destroy(r->cons);
    memset(r, 0, sizeof(*r));
}

/* The group's committed offset of one partition (0 when none). */
static inline long long wt_committed_at(struct wt *t, const char *topic, int32_t partition)
{
    char es[512];
    struct wdts_param cp[] = {{"bootstrap.servers", t->brokers}, {"group.id", t->group}};
    struct wdts_kafka_consumer *c = wdts_kafka_consumer_new(cp, 2, NULL, NULL, es, sizeof(es));
    assert_non_null(c);
    struct wdts_kafka_tp tp = {topic, partition, 0};
    assert_int_equal(wdts_kafka_consumer_committed(c, &tp, 1, 10000), WDTS_OK);
    wdts_kafka_consumer_destroy(c);
    return tp.offset >= 0 ? tp.offset : 0;
}

/* Sum over the group's committed offsets on topic (partitions 0..parts-1; none = 0). */
static inline long long wt_committed_now(struct wt *t, const char *topic, int parts)
{
    char es[512];
    struct wdts_param cp[] = {{"bootstrap.servers", t->brokers}, {"group.id", t->group}};
    struct wdts_kafka_consumer *c = wdts_kafka_consumer_new(cp, 2, NULL, NULL, es, sizeof(es));
    assert_non_null(c);
    struct wdts_kafka_tp tps[16];
    for (int i = 0; i < parts; i++)
        tps[i] = (struct wdts_kafka_tp){topic, i, 0};
    assert_int_equal(wdts_kafka_consumer_committed(c, tps, (size_t)parts, 10000), WDTS_OK);
    long long sum = 0;
    for (int i = 0; i < parts; i++)
        sum += tps[i].offset >= 0 ? tps[i].offset : 0;
    wdts_kafka_consumer_destroy(c);
    return sum;
}

/* The same, asked again every 200 ms for up to 10 s until it reaches want (commits run
 * about once a second). @returns the last sum. */
static inline long long wt_committed(struct wt *t, const char *topic, int parts, long long want)
{
    long long committed = 0;
    for (int i = 0; i < 50 && committed < want; i++) {
        committed = wt_committed_now(t, topic, parts);
        if (committed < want)
            usleep(200000);
    }
    return committed;
}

/* The pks the truth says must be present: modified as of as_of in [since, before). */
static inline size_t wt_truth_route(const char *tenants_path, const char *sid,
                                    const char *report, const char *route, int64_t as_of,
                                    int64_t since, int64_t before, char ***pks);

static inline size_t wt_truth(const char *tenants_path, const char *sid, const char *report,
                              int64_t as_of, int64_t since, int64_t before, char ***pks)
{
    return wt_truth_route(tenants_path, sid, report, "wdt", as_of, since, before, pks);
}

/* As wt_truth() for a route ("wdt" | "qimen"). */
static inline size_t wt_truth_route(const char *tenants_path, const char *sid,
                                    const char *report, const char *route, int64_t as_of,
                                    int64_t since, int64_t before, char ***pks)
{
    char a[32], s[32], b[32];
    snprintf(a, sizeof(a), "%lld", (long long)as_of);
    snprintf(s, sizeof(s), "%lld", (long long)since);
    snprintf(b, sizeof(b), "%lld", (long long)before);
    char *bin = wdts_xstrdup(wdts_test_bin("wdt-sandbox"));
    char *argv[] = {bin, "truth", "--tenants", (char *)tenants_path, "--sid", (char *)sid,
                    "--report", (char *)report, "--as-of", a, "--since", s, "--before", b,
                    "--route", (char *)route, NULL};
    struct wdts_test_run run;
    assert_int_equal(wdts_test_run(argv, NULL, 120, &run), 0);
    if (run.status != 0)
        fail_msg("truth failed (%d): %s", run.status, run.err);
    size_t n = 0, cap = 0;
    *pks = NULL;
    for (char *line = run.out, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            *pks = wdts_xrealloc(*pks, cap * sizeof(char *));
        }
        (*pks)[n++] = wdts_xstrdup(json_string_value(json_object_get(j, "pk")));
        json_decref(j);
    }
    wdts_test_run_free(&run);
    free(bin);
    return n;
}

/* @returns 1 when the reader holds a record of report with pk (any job). */
static inline int wt_has_pk(const struct wt_reader *r, const char *conn, const char *report,
                            const char *pk)
{
    char key[256];
    snprintf(key, sizeof(key), "%s:%s:%s", conn, report, pk);
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].key, key) == 0)
            return 1;
    return 0;
}

#endif
