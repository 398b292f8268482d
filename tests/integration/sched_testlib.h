/* Helpers of the scheduler's integration tests (1100-1199): a private Redis key prefix
 * and jobs topic per run, connections stored with the real store (wdts_conn_save), runs of
 * the real wdt-scheduler and wdtctl binaries, and the jobs read back from the topic with
 * kcat (no group join) and decoded with the strict job decoder. Header-only (static). */
#ifndef SCHED_TESTLIB_H
#define SCHED_TESTLIB_H

#include "wdts_test.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched_plan.h"
#include "sched_state.h"
#include "wdts/catalog.h"
#include "wdts/conn.h"
#include "wdts/job.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"

#define ST_UNUSED __attribute__((unused))

struct st_env {
    const char *redis_url;
    const char *brokers;
    char prefix[96]; /* Redis key prefix of this run */
    char topic[96];  /* jobs topic of this run */
    struct wdts_redis *redis;
    struct wdts_catalog *cat;
};

static ST_UNUSED void st_setup(struct st_env *env, const char *max_outstanding)
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

    struct wdts_redis_params params;
    wdts_redis_params_init(&params);
    if (wdts_redis_params_from_url(&params, env->redis_url, es, sizeof(es)) != WDTS_OK)
        fail_msg("redis url: %s", es);
    wdts_strlcpy(params.prefix, env->prefix, sizeof(params.prefix));
    env->redis = wdts_redis_new(&params, es, sizeof(es));
    if (env->redis == NULL)
        fail_msg("redis: %s", es);
    env->cat = wdts_catalog_new(NULL, es, sizeof(es));
    if (env->cat == NULL)
        fail_msg("catalog: %s", es);
}

static ST_UNUSED void st_teardown(struct st_env *env)
{
    wdts_redis_destroy(env->redis);
    wdts_catalog_destroy(env->cat);
}

/* Stores a connection with the given reports (NULL: every report of the catalog). */
static ST_UNUSED void st_add_conn(struct st_env *env, const char *tenant, const char *id,
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

/* Runs bin with args (NULL-terminated, after the program name); returns its status. */
static ST_UNUSED int st_run(const char *bin, struct wdts_test_run *run, const char *const *args)
{
    char *argv[32];
    size_t n = 0;
    argv[n++] = wdts_xstrdup(wdts_test_bin(bin));
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    memset(run, 0, sizeof(*run));
    int rc = wdts_test_run(argv, NULL, 300, run);
    free(argv[0]);
    assert_int_equal(rc, 0);
    return run->status;
}

/* wdt-scheduler --once --now now [extra]; asserts exit 0 and returns nothing. */
static ST_UNUSED void st_once(int64_t now, const char *extra)
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

/* Every job on the topic, in topic order per partition. */
struct st_jobs {
    struct wdts_job *v;
    size_t n;
};

static ST_UNUSED void st_jobs_free(struct st_jobs *j)
{
    free(j->v);
    j->v = NULL;
    j->n = 0;
}

static ST_UNUSED void st_consume(struct st_env *env, struct st_jobs *out)
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

static ST_UNUSED int st_cmp_start(const void *a, const void *b)
{
    const struct wdts_job *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end ? 1 : 0;
}

/* The jobs of (connection, report) [with emitted_at == emitted when emitted > 0], sorted by
 * start; caller frees the array. */
static ST_UNUSED struct wdts_job *st_select(const struct st_jobs *all, const char *connection,
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

/* Asserts that v[0..n) covers [from, to) exactly: half-open, sorted, no gap, no overlap,
 * none wider than the planned span and none across a point of its grid. max_span is the
 * catalog's (what a request may span): the scheduler plans a minute less, as a worker asks
 * a second before each window. */
static ST_UNUSED void st_check_cover(const struct wdts_job *v, size_t n, int64_t from, int64_t to,
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

/* The count of jobs whose id is id. */
static ST_UNUSED size_t st_count_id(const struct st_jobs *all, const char *id)
{
    size_t k = 0;
    for (size_t i = 0; i < all->n; i++)
        k += strcmp(all->v[i].job_id, id) == 0;
    return k;
}

/* ---- a scheduler in the background -------------------------------------------------- */

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/time.h"

/* Starts wdt-scheduler with args, stdout and stderr to log; returns its pid. */
static ST_UNUSED pid_t st_spawn(const char *log, const char *const *args)
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

/* The whole of a file (new; free()), "" when missing. */
static ST_UNUSED char *st_slurp(const char *path)
{
    struct wdts_buf b;
    char chunk[4096];
    wdts_buf_init(&b);
    wdts_buf_append_str(&b, "");
    FILE *fp = fopen(path, "r");
    if (fp) {
        size_t k;
        while ((k = fread(chunk, 1, sizeof(chunk), fp)) > 0)
            wdts_buf_append(&b, chunk, k);
        fclose(fp);
    }
    return wdts_buf_steal(&b);
}

/* Waits at most timeout_s for text to appear in the file. @returns 1 when it did. */
static ST_UNUSED int st_wait_log(const char *path, const char *text, int timeout_s)
{
    int64_t until = wdts_time_mono_ms() + (int64_t)timeout_s * 1000;
    while (wdts_time_mono_ms() < until) {
        char *s = st_slurp(path);
        int found = strstr(s, text) != NULL;
        free(s);
        if (found)
            return 1;
        usleep(100 * 1000);
    }
    return 0;
}

/* Waits at most timeout_s for pid to exit. @returns its status (128+sig), or -1. */
static ST_UNUSED int st_wait_exit(pid_t pid, int timeout_s)
{
    int64_t until = wdts_time_mono_ms() + (int64_t)timeout_s * 1000;
    int status;
    while (wdts_time_mono_ms() < until) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(50 * 1000);
    }
    return -1;
}

/* ---- an own local Kafka (error injection is cluster-wide) ---------------------------- */

struct st_kafka {
    pid_t pid;
    char dir[64];
    char boot[1024];
    char ctl[128], log[128];
};

static ST_UNUSED void st_kafka_start(struct st_kafka *k, const char *topic_spec)
{
    memset(k, 0, sizeof(*k));
    snprintf(k->dir, sizeof(k->dir), "/tmp/wdts-sched-kafka.XXXXXX");
    assert_non_null(mkdtemp(k->dir));
    char boot_path[160];
    snprintf(boot_path, sizeof(boot_path), "%s/boot", k->dir);
    snprintf(k->ctl, sizeof(k->ctl), "%s/ctl", k->dir);
    snprintf(k->log, sizeof(k->log), "%s/log", k->dir);
    char *bin = wdts_xstrdup(wdts_test_bin("wdt-localkafka"));
    k->pid = fork();
    assert_true(k->pid >= 0);
    if (k->pid == 0) {
        int fd = open(k->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        char *argv[] = {
            bin,       "--brokers", "1",    "--topic", (char *)topic_spec, "--bootstrap-file",
            boot_path, "--control", k->ctl, NULL};
        execv(bin, argv);
        _exit(127);
    }
    free(bin);
    for (int i = 0; i < 400; i++) {
        char *b = st_slurp(boot_path);
        b[strcspn(b, "\n")] = '\0';
        wdts_strlcpy(k->boot, b, sizeof(k->boot));
        free(b);
        if (k->boot[0])
            return;
        usleep(50 * 1000);
    }
    fail_msg("the own wdt-localkafka wrote no bootstrap file");
}

/* Sends a control line and waits for its answer in the log. */
static ST_UNUSED void st_kafka_control(struct st_kafka *k, const char *line, const char *answer)
{
    int fd = open(k->ctl, O_WRONLY | O_NONBLOCK);
    assert_true(fd >= 0);
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);
    assert_int_equal(write(fd, buf, (size_t)n), n);
    close(fd);
    if (!st_wait_log(k->log, answer, 10))
        fail_msg("no answer '%s' to '%s'", answer, line);
}

static ST_UNUSED void st_kafka_stop(struct st_kafka *k)
{
    if (k->pid > 0) {
        kill(k->pid, SIGTERM);
        if (st_wait_exit(k->pid, 20) < 0) {
            kill(k->pid, SIGKILL);
            waitpid(k->pid, NULL, 0);
        }
        k->pid = 0;
    }
    unlink(k->log);
    rmdir(k->dir);
}

#endif
