/* The worker fixture (see wdts_test_worker.h). */
#include "wdts_test_worker.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/crypto.h"
#include "wdts/kafka.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts/watermark.h"
#include "wdts_test_http.h"
#include "wdts_test_kafka.h"
#include "wdts_test_redis.h"

int32_t wt_last_partition;
int64_t wt_last_offset;

int wt_sbx_start(struct sbx_proc *p, const char *const *args)
{
    int rc = sbx_start(p, args);
    if (rc == 0)
        wdts_test_track_child(p->pid);
    return rc;
}

void wt_sandbox(struct wt *t, struct sbx_proc *sbx, const char *tenants,
                const char *const *more, const char *route, char *path, size_t path_size,
                char *gw, size_t gw_size)
{
    snprintf(path, path_size, "%s", wdts_test_write_file(t->dir, "tenants.json", tenants));
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

void wt_init(struct wt *t, int job_parts, int record_parts)
{
    wt_init_redis(t, job_parts, record_parts, NULL);
}

void wt_init_redis(struct wt *t, int job_parts, int record_parts, const char *redis_url)
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
    wdts_test_kafka_create_topic(t->ctl, t->t_jobs, job_parts);
    wdts_test_kafka_create_topic(t->ctl, t->t_records, record_parts);
    wdts_test_kafka_create_topic(t->ctl, t->t_dlq, 2);
    usleep(300000);
    char es[512];
    t->redis = wdts_test_redis_connect(t->redis_url, NULL, es, sizeof(es));
    assert_non_null(t->redis);
    t->prod = wdts_test_kafka_producer(t->brokers, NULL);
    assert_int_equal(wdts_crypto_key_parse(WT_KEY_HEX, t->key, es, sizeof(es)), WDTS_OK);
}

void wt_deinit(struct wt *t)
{
    wdts_kafka_producer_destroy(t->prod);
    wdts_redis_destroy(t->redis);
}

void wt_conn_add(struct wt *t, const struct wt_conn_opts *o)
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

void wt_wm_init(struct wt *t, const char *conn, const char *report, int64_t start)
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

long long wt_wm_get(struct wt *t, const char *conn, const char *report)
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

void wt_emit_raw(struct wt *t, const char *key, const char *value)
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

void wt_emit(struct wt *t, const char *tenant, const char *conn, const char *report,
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

void wt_worker_start(struct wt *t, struct wt_worker *wk, const char *const *extra)
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
    wdts_test_track_child(wk->pid);
}

int wt_worker_stop(struct wt_worker *wk, int sig, int timeout_ms, int64_t *took_ms)
{
    int rc = wdts_test_stop_child(wk->pid, sig, timeout_ms, took_ms);
    wk->pid = 0;
    return rc;
}

int wt_log_has(const struct wt_worker *wk, const char *text)
{
    return wdts_test_file_has(wk->log, text);
}

void wt_log_dump(const struct wt_worker *wk)
{
    wdts_test_dump_file(wk->log);
}

int wt_worker_port(const struct wt_worker *wk)
{
    return wdts_test_logged_port(wk->log, 20000);
}

double wt_metric(int port, const char *frag1, const char *frag2)
{
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    return wdts_test_http_metric(base, frag1, frag2);
}

long wt_http_status(int port, const char *path)
{
    char url[128];
    struct http_res r;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    http_do(url, NULL, NULL, 10000, &r);
    http_res_free(&r);
    return r.code;
}

void wt_reader_open(struct wt *t, struct wt_reader *r, const char *topic)
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

void wt_reader_poll(struct wt_reader *r, int ms)
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

json_t *wt_marker(const struct wt_reader *r, const char *job_id)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].schema, "wdt.window.v1") == 0 && strcmp(r->v[i].job_id, job_id) == 0)
            return r->v[i].body;
    return NULL;
}

int wt_wait_markers(struct wt_reader *r, const char *const *job_ids, size_t n, int timeout_ms)
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

void wt_reader_close(struct wt_reader *r)
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

long long wt_committed_at(struct wt *t, const char *topic, int32_t partition)
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

long long wt_committed(struct wt *t, const char *topic, int parts, long long want)
{
    long long committed = 0;
    for (int i = 0; i < 50 && committed < want; i++) {
        committed = wdts_test_kafka_committed_sum(t->brokers, t->group, topic, parts);
        if (committed < want)
            usleep(200000);
    }
    return committed;
}

size_t wt_truth(const char *tenants_path, const char *sid, const char *report, int64_t as_of,
                int64_t since, int64_t before, char ***pks)
{
    return wt_truth_route(tenants_path, sid, report, "wdt", as_of, since, before, pks);
}

size_t wt_truth_route(const char *tenants_path, const char *sid, const char *report,
                      const char *route, int64_t as_of, int64_t since, int64_t before,
                      char ***pks)
{
    const char *source[] = {"--tenants", tenants_path, NULL};
    json_t *all = sbx_truth(source, sid, report, route, as_of, since, before);
    size_t n = json_array_size(all);
    *pks = wdts_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        (*pks)[i] = wdts_xstrdup(json_string_value(json_object_get(json_array_get(all, i), "pk")));
    json_decref(all);
    return n;
}

/* @returns 1 when the reader holds a record of report with pk (any job). */
static int has_pk(const struct wt_reader *r, const char *conn, const char *report,
                  const char *pk)
{
    char key[256];
    snprintf(key, sizeof(key), "%s:%s:%s", conn, report, pk);
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->v[i].key, key) == 0)
            return 1;
    return 0;
}

size_t wt_missing(const struct wt_reader *r, const char *conn, const char *report, char **pks,
                  size_t n)
{
    size_t missing = 0;
    for (size_t i = 0; i < n; i++) {
        missing += !has_pk(r, conn, report, pks[i]);
        free(pks[i]);
    }
    free(pks);
    return missing;
}

size_t wt_wait_job_records(struct wt_reader *r, const char *job_id, int timeout_ms)
{
    size_t seen = 0;
    int64_t t0 = wdts_time_mono_ms();
    while (seen == 0 && wdts_time_mono_ms() - t0 < timeout_ms) {
        wt_reader_poll(r, 200);
        for (size_t i = 0; i < r->n; i++)
            seen += strcmp(r->v[i].job_id, job_id) == 0;
    }
    return seen;
}
