/* The sink fixture (see wdts_test_sink.h). */
#include "wdts_test_sink.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/kafka.h"
#include "wdts/str.h"
#include "wdts_test.h"
#include "wdts_test_kafka.h"

void st_record(struct wdts_buf *b, const char *tenant, const char *conn, const char *report,
               const char *pk, const char *modified, const char *extracted,
               const char *extra_data)
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

void st_marker(struct wdts_buf *b, const char *tenant, const char *conn, const char *report,
               int records, int api_total, const char *status)
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

void st_produce(struct wdts_kafka_producer *prod, const char *topic, const char *key,
                const char *value, const char *report, const char *tenant, const char *schema)
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

void st_create_topic(const char *topic, int parts)
{
    const char *ctl = getenv("WDT_TEST_KAFKA_CTL");
    if (ctl == NULL || *ctl == '\0')
        return;
    wdts_test_kafka_create_topic(ctl, topic, parts);
    usleep(300 * 1000); /* the command is served asynchronously */
}

pid_t st_sink_start(const char *brokers, const char *db, const char *group, const char *topic,
                    const char *log_path, const char *const *extra)
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

int st_sink_wait(pid_t pid, int timeout_s, const char *log_path)
{
    int rc = wdts_test_wait_exit(pid, timeout_s);
    if (rc != 0) {
        if (rc < 0)
            kill(pid, SIGKILL), waitpid(pid, NULL, 0);
        wdts_test_dump_file(log_path);
    }
    return rc;
}

void st_case_init(struct st_case *c, const char *name, int parts)
{
    const char *p = wdts_test_prefix();
    snprintf(c->topic, sizeof(c->topic), "%srecords", p);
    snprintf(c->group, sizeof(c->group), "%ssink", p);
    snprintf(c->conn, sizeof(c->conn), "%sc1", p);
    snprintf(c->dir, sizeof(c->dir), "/tmp/wdts-%s%s-XXXXXX", p, name);
    assert_non_null(mkdtemp(c->dir));
    snprintf(c->db, sizeof(c->db), "%s/sink.db", c->dir);
    snprintf(c->log, sizeof(c->log), "%s/sink.log", c->dir);
    st_create_topic(c->topic, parts);
}

void st_case_deinit(struct st_case *c)
{
    wdts_test_rmtree(c->dir);
}

sqlite3 *st_db_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

int64_t st_int(sqlite3 *db, const char *sql, const char *arg)
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

int64_t st_applied(sqlite3 *db)
{
    int64_t n =
        st_int(db, "SELECT sum(records) + sum(markers) + sum(rejected) FROM sink_stats", NULL);
    return n < 0 ? 0 : n;
}

void st_text(sqlite3 *db, const char *sql, const char *arg, char *out, size_t out_size)
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

