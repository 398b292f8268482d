/* The scheduler fixture (see wdts_test_sched.h). */
#include "wdts_test_sched.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdts/catalog.h"
#include "wdts/conn.h"
#include "wdts/crypto.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts_test_redis.h"

void st_setup(struct st_env *env, const char *max_outstanding)
{
    char es[512];
    memset(env, 0, sizeof(*env));
    env->redis_url = wdts_test_require_env("WDT_TEST_REDIS_URL");
    env->brokers = wdts_test_require_env("WDT_TEST_KAFKA_BROKERS");
    snprintf(env->prefix, sizeof(env->prefix), "%swdt:", wdts_test_prefix());
    snprintf(env->topic, sizeof(env->topic), "%sjobs", wdts_test_prefix());
    setenv("WDT_REDIS_URL", env->redis_url, 1);
    setenv("WDT_REDIS_PREFIX", env->prefix, 1);
    setenv("WDT_TOPIC_JOBS", env->topic, 1);
    setenv("WDT_KAFKA_BOOTSTRAP_SERVERS", env->brokers, 1);
    setenv("WDT_LOG_FORMAT", "text", 1);
    setenv("WDT_HTTP_LISTEN", "127.0.0.1:0", 1);
    setenv("WDT_SCHEDULER_MAX_OUTSTANDING", max_outstanding, 1);
    unsetenv("WDT_CONFIG_FILE");

    env->redis = wdts_test_redis_connect(env->redis_url, env->prefix, es, sizeof(es));
    if (env->redis == NULL)
        fail_msg("redis: %s", es);
    env->cat = wdts_catalog_new(NULL, es, sizeof(es));
    if (env->cat == NULL)
        fail_msg("catalog: %s", es);
}

void st_teardown(struct st_env *env)
{
    wdts_redis_destroy(env->redis);
    wdts_catalog_destroy(env->cat);
}

void st_add_conn(struct st_env *env, const char *tenant, const char *id,
                 const char *const *reports, int64_t backfill_s)
{
    char es[512];
    unsigned char key[WDTS_CRYPTO_KEY_LEN];
    memset(key, 7, sizeof(key));
    struct wdts_conn *conn = wdts_conn_new();
    conn->tenant = wdts_xstrdup(tenant);
    conn->id = wdts_xstrdup(id);
    conn->app = WDTS_API_APP_WDT;
    conn->sid = wdts_xstrdup("sid-test");
    conn->appkey = wdts_xstrdup("appkey-test");
    conn->appsecret = wdts_xstrdup("secret:salt");
    conn->gateway = wdts_xstrdup("http://127.0.0.1:9/openapi");
    conn->backfill_s = backfill_s;
    if (reports == NULL) {
        for (size_t i = 0; i < wdts_catalog_count(env->cat); i++)
            wdts_conn_add_report(conn, wdts_catalog_at(env->cat, i)->name);
    } else {
        for (size_t i = 0; reports[i]; i++)
            wdts_conn_add_report(conn, reports[i]);
    }
    assert_int_equal(wdts_conn_seal(conn, key, es, sizeof(es)), WDTS_OK);
    if (wdts_conn_save(env->redis, env->prefix, conn, 0, es, sizeof(es)) != WDTS_OK)
        fail_msg("saving connection %s: %s", id, es);
    wdts_conn_destroy(conn);
}

int st_run(const char *bin, struct wdts_test_run *run, const char *const *args)
{
    return wdts_test_run_bin(bin, args, NULL, 300, run);
}

void st_once(int64_t now, const char *extra)
{
    char nows[32];
    struct wdts_test_run run;
    snprintf(nows, sizeof(nows), "%" PRId64, now);
    const char *args[] = {"--once", "--now", nows, extra, NULL};
    int st = st_run("wdt-scheduler", &run, args);
    if (st != 0)
        fail_msg("wdt-scheduler --once exited %d:\n%s\n%s", st, run.out, run.err);
    wdts_test_run_free(&run);
}

void st_jobs_free(struct st_jobs *j)
{
    free(j->v);
    j->v = NULL;
    j->n = 0;
}

void st_consume(struct st_env *env, struct st_jobs *out)
{
    struct wdts_test_run run;
    const char *args[] = {"-b",        env->brokers, "-C", "-t", env->topic, "-o",
                          "beginning", "-e",         "-q", "-f", "%k\t%s\n", NULL};
    char *argv[16];
    size_t n = 0;
    argv[n++] = "/usr/bin/kcat";
    for (size_t i = 0; args[i]; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    memset(out, 0, sizeof(*out));
    assert_int_equal(wdts_test_run(argv, NULL, 120, &run), 0);
    if (run.status != 0)
        fail_msg("kcat exited %d: %s", run.status, run.err);
    size_t cap = 0;
    char *line = run.out;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *tab = strchr(line, '\t');
        if (tab == NULL)
            fail_msg("kcat line without a key: %s", line);
        *tab = '\0';
        if (out->n == cap) {
            cap = cap ? cap * 2 : 1024;
            out->v = wdts_xrealloc(out->v, cap * sizeof(*out->v));
        }
        char es[256];
        struct wdts_job *job = &out->v[out->n];
        if (wdts_job_decode(tab + 1, strlen(tab + 1), job, es, sizeof(es)) != WDTS_OK)
            fail_msg("a job on the topic does not decode: %s: %s", es, tab + 1);
        char key[160];
        snprintf(key, sizeof(key), "%s:%s", job->connection, job->report);
        if (strcmp(key, line) != 0)
            fail_msg("job %s has key %s, want %s", job->job_id, line, key);
        out->n++;
        line = nl ? nl + 1 : NULL;
    }
    wdts_test_run_free(&run);
}

int st_cmp_start(const void *a, const void *b)
{
    const struct wdts_job *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end ? 1 : 0;
}

struct wdts_job *st_select(const struct st_jobs *all, const char *connection,
                           const char *report, int64_t emitted, size_t *n)
{
    struct wdts_job *v = wdts_xcalloc(all->n + 1, sizeof(*v));
    *n = 0;
    for (size_t i = 0; i < all->n; i++) {
        const struct wdts_job *j = &all->v[i];
        if (strcmp(j->connection, connection) == 0 && strcmp(j->report, report) == 0 &&
            (emitted <= 0 || j->emitted_at == emitted))
            v[(*n)++] = *j;
    }
    if (*n > 1)
        qsort(v, *n, sizeof(*v), st_cmp_start);
    return v;
}

void st_check_cover(const struct wdts_job *v, size_t n, int64_t from, int64_t to,
                    int64_t max_span, const char *what)
{
    int64_t span = max_span > 60 ? max_span - 60 : max_span;
    if (n == 0)
        fail_msg("%s: no window, want [%" PRId64 ", %" PRId64 ")", what, from, to);
    if (v[0].start != from)
        fail_msg("%s: first window starts at %" PRId64 ", want %" PRId64, what, v[0].start, from);
    for (size_t i = 0; i < n; i++) {
        if (v[i].end <= v[i].start || v[i].end - v[i].start > span)
            fail_msg("%s: window %s is empty or wider than %" PRId64 " s", what, v[i].job_id, span);
        if (sched_plan_align_down(v[i].end - 1, span) != sched_plan_align_down(v[i].start, span))
            fail_msg("%s: window %s crosses the span grid", what, v[i].job_id);
        if (i > 0 && v[i].start != v[i - 1].end)
            fail_msg("%s: %s follows %s: %s", what, v[i].job_id, v[i - 1].job_id,
                     v[i].start < v[i - 1].end ? "overlap" : "gap");
    }
    if (v[n - 1].end != to)
        fail_msg("%s: last window ends at %" PRId64 ", want %" PRId64, what, v[n - 1].end, to);
}

size_t st_count_id(const struct st_jobs *all, const char *id)
{
    size_t k = 0;
    for (size_t i = 0; i < all->n; i++)
        k += strcmp(all->v[i].job_id, id) == 0;
    return k;
}

pid_t st_spawn(const char *log, const char *const *args)
{
    char *argv[32];
    size_t n = 0;
    argv[n++] = wdts_xstrdup(wdts_test_bin("wdt-scheduler"));
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    free(argv[0]);
    return pid;
}

