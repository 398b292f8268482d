/* Helpers of the wdt-sink-sqlite tests (12NN): build record envelopes and window
 * markers by the contract (docs/DESIGN.md §2, docs/schemas/), produce them to a topic of the
 * test's own, start the sink, and read its SQLite file with the sqlite3 C API.
 * Header-only (static functions) so each test stays one file plus this. */
#ifndef SINK_TESTLIB_H
#define SINK_TESTLIB_H

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "wdts/kafka.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts_test.h"

/* A one-hour window of 2026-03-01 (Beijing) and its job id for connection/report. */
#define ST_WIN_START "2026-03-01T10:00:00+08:00"
#define ST_WIN_END "2026-03-01T11:00:00+08:00"
#define ST_WIN_START_S 1772330400LL
#define ST_WIN_END_S 1772334000LL

/* Appends a record envelope; modified is "yyyy-MM-dd HH:mm:ss", extracted RFC 3339. */
static inline void st_record(struct wdts_buf *b, const char *tenant, const char *conn,
                             const char *report, const char *pk, const char *modified,
                             const char *extracted, const char *extra_data)
{
    wdts_buf_printf(
        b,
        "{\"v\":1,\"tenant\":\"%s\",\"connection\":\"%s\",\"source\":\"wdt\","
        "\"report\":\"%s\",\"pk\":\"%s\",\"op\":\"upsert\",\"window\":{\"start\":\"%s\","
        "\"end\":\"%s\"},\"job_id\":\"%s:%s:%lld:%lld\",\"extracted_at\":\"%s\","
        "\"data\":{\"id\":\"%s\",\"modified\":\"%s\"%s%s}}",
        tenant, conn, report, pk, ST_WIN_START, ST_WIN_END, conn, report, ST_WIN_START_S,
        ST_WIN_END_S, extracted, pk, modified, extra_data ? "," : "", extra_data ? extra_data : "");
}

/* Appends a window marker of connection/report's test window, as wdt-worker writes it
 * (docs/schemas/window-marker.schema.json); its key is ST_MARKER_KEY_FMT. */
#define ST_MARKER_KEY_FMT "%s:%s#window:1772330400:1772334000"
static inline void st_marker(struct wdts_buf *b, const char *tenant, const char *conn,
                             const char *report, int records, int api_total, const char *status)
{
    wdts_buf_printf(b,
                    "{\"v\":1,\"type\":\"window\",\"tenant\":\"%s\",\"connection\":\"%s\","
                    "\"source\":\"wdt\",\"report\":\"%s\",\"job_id\":\"%s:%s:%lld:%lld\","
                    "\"window\":{\"start\":\"%s\",\"end\":\"%s\"},\"records\":%d,\"pages\":1,"
                    "\"calls\":1,\"api_total\":%d,\"duplicates\":0,\"status\":\"%s\","
                    "\"extracted_at\":\"2026-03-01T11:06:00+08:00\"}",
                    tenant, conn, report, conn, report, ST_WIN_START_S, ST_WIN_END_S, ST_WIN_START,
                    ST_WIN_END, records, api_total, status);
}

/* Produces one message (key may be NULL; headers report/tenant/schema when report != NULL). */
static inline void st_produce(struct wdts_kafka_producer *prod, const char *topic, const char *key,
                              const char *value, const char *report, const char *tenant,
                              const char *schema)
{
    struct wdts_param hdrs[3] = {{"report", report}, {"tenant", tenant}, {"schema", schema}};
    struct wdts_kafka_out m = {.topic = topic,
                               .partition = WDTS_KAFKA_PARTITION_ANY,
                               .key = key,
                               .key_len = key ? strlen(key) : 0,
                               .value = value,
                               .value_len = value ? strlen(value) : 0,
                               .headers = report ? hdrs : NULL,
                               .header_cnt = report ? 3 : 0};
    for (;;) {
        wdts_err_t err = wdts_kafka_produce(prod, &m);
        if (err == WDTS_OK)
            return;
        assert_int_equal(err, WDTS_ERR_AGAIN);
        wdts_kafka_producer_poll(prod, 100);
    }
}

static inline struct wdts_kafka_producer *st_producer(const char *brokers)
{
    char es[512];
    struct wdts_param pp[] = {{"bootstrap.servers", brokers}, {"linger.ms", "20"}};
    struct wdts_kafka_producer *prod = wdts_kafka_producer_new(pp, 2, NULL, NULL, es, sizeof(es));
    if (prod == NULL)
        fprintf(stderr, "producer: %s\n", es);
    assert_non_null(prod);
    return prod;
}

/* Creates topic with parts partitions through the local Kafka's control FIFO when the
 * harness gives one (else the first produce auto-creates it with 4 partitions). */
static inline void st_create_topic(const char *topic, int parts)
{
    const char *ctl = getenv("WDT_TEST_KAFKA_CTL");
    if (ctl == NULL || *ctl == '\0')
        return;
    FILE *f = fopen(ctl, "w");
    if (f == NULL)
        return;
    fprintf(f, "create %s %d\n", topic, parts);
    fclose(f);
    usleep(300 * 1000); /* the command is served asynchronously */
}

/* Starts wdt-sink-sqlite with the given extra arguments (NULL-terminated), output to log. */
static inline pid_t st_sink_start(const char *brokers, const char *db, const char *group,
                                  const char *topic, const char *log_path, const char *const *extra)
{
    fflush(stdout); /* or the child's freopen() would write our buffered lines again */
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *argv[32];
        int n = 0;
        argv[n++] = (char *)wdts_test_bin("wdt-sink-sqlite");
        argv[n++] = "--db";
        argv[n++] = (char *)db;
        argv[n++] = "--group";
        argv[n++] = (char *)group;
        argv[n++] = "--topics";
        argv[n++] = (char *)topic;
        for (size_t i = 0; extra && extra[i] && n < 30; i++)
            argv[n++] = (char *)extra[i];
        argv[n] = NULL;
        FILE *lf = freopen(log_path, "a", stdout);
        (void)lf;
        dup2(1, 2);
        setenv("WDT_KAFKA_BOOTSTRAP_SERVERS", brokers, 1);
        setenv("WDT_LOG_FORMAT", "text", 1);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Waits at most timeout_s for pid; returns its exit code, 128 + signal, or -1 on timeout. */
static inline int st_wait(pid_t pid, int timeout_s)
{
    int64_t deadline = wdts_time_mono_ms() + (int64_t)timeout_s * 1000;
    int st;
    while (wdts_time_mono_ms() < deadline) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(50 * 1000);
    }
    return -1;
}

static inline void st_dump_log(const char *log_path)
{
    FILE *f = fopen(log_path, "r");
    char line[1024];
    if (f == NULL)
        return;
    fprintf(stderr, "---- %s\n", log_path);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fclose(f);
}

static inline sqlite3 *st_db_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

/* The single integer answer of sql (with optional text ?1), or -1 when there is no row
 * or the query fails (e.g. the table does not exist yet). */
static inline int64_t st_int(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The single text answer of sql (?1 = arg) into out; "" when none. */
static inline void st_text(sqlite3 *db, const char *sql, const char *arg, char *out,
                           size_t out_size)
{
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(out, out_size, "(sql error: %s)", sqlite3_errmsg(db));
        return;
    }
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        wdts_strlcpy(out, (const char *)sqlite3_column_text(st, 0), out_size);
    sqlite3_finalize(st);
}

/* Sum of the group's committed offsets over parts partitions of topic (0 for none). */
static inline int64_t st_committed_sum(const char *brokers, const char *group, const char *topic,
                                       int parts)
{
    char es[512];
    struct wdts_param cp[] = {{"bootstrap.servers", brokers}, {"group.id", group}};
    struct wdts_kafka_consumer *cons = wdts_kafka_consumer_new(cp, 2, NULL, NULL, es, sizeof(es));
    assert_non_null(cons);
    struct wdts_kafka_tp tps[64];
    assert_true(parts <= 64);
    for (int p = 0; p < parts; p++)
        tps[p] = (struct wdts_kafka_tp){.topic = topic, .partition = p, .offset = 0};
    assert_int_equal(wdts_kafka_consumer_committed(cons, tps, (size_t)parts, 15000), WDTS_OK);
    int64_t sum = 0;
    for (int p = 0; p < parts; p++)
        if (tps[p].offset >= 0)
            sum += tps[p].offset;
    wdts_kafka_consumer_close(cons);
    wdts_kafka_consumer_destroy(cons);
    return sum;
}

/* Number of partitions of topic. */
static inline int st_partitions(const char *brokers, const char *topic)
{
    char es[512];
    struct wdts_param cp[] = {{"bootstrap.servers", brokers}, {"group.id", "sink-test-meta"}};
    struct wdts_kafka_consumer *cons = wdts_kafka_consumer_new(cp, 2, NULL, NULL, es, sizeof(es));
    assert_non_null(cons);
    int n = 0;
    assert_int_equal(wdts_kafka_consumer_partition_count(cons, topic, &n, 15000), WDTS_OK);
    wdts_kafka_consumer_close(cons);
    wdts_kafka_consumer_destroy(cons);
    return n;
}

#endif
