/* wdt-sink-sqlite against the local Kafka: the latest version wins by `modified`
 * whatever the arrival order, an older version arriving later never replaces, equal
 * modified keeps the later extraction and counts a duplicate, connections do not clash,
 * one table per report (also one the catalog does not know), markers land in `windows`,
 * malformed messages land in `rejects` with their position and are counted, and a second
 * run resumes from the committed offsets (nothing applied twice). Also the command line's
 * errors. Topic, group and names carry this run's prefix. */
#include "wdts_test.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/kafka.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts_test_kafka.h"
#include "wdts_test_sink.h"

static const char *brokers;

#define E0 "2026-03-01T11:05:00.100+08:00"
#define E1 "2026-03-01T11:05:00.200+08:00"
#define E2 "2026-03-01T11:05:00.500+08:00"

struct ctx {
    char topic[96], group[96], c1[96], c2[96], dir[256], db[300], log[300];
    struct wdts_kafka_producer *prod;
    int produced;
};

static void rec(struct ctx *c, const char *conn, const char *report, const char *pk,
                const char *modified, const char *extracted)
{
    struct wdts_buf b, k;
    wdts_buf_init(&b);
    wdts_buf_init(&k);
    st_record(&b, "t1", conn, report, pk, modified, extracted, "\"paid\":\"1.00\"");
    wdts_buf_printf(&k, "%s:%s:%s", conn, report, pk);
    st_produce(c->prod, c->topic, wdts_buf_str(&k), wdts_buf_str(&b), report, "t1",
               "wdt.record.v1");
    c->produced++;
    wdts_buf_deinit(&b);
    wdts_buf_deinit(&k);
}

static void raw(struct ctx *c, const char *key, const char *value, const char *report)
{
    st_produce(c->prod, c->topic, key, value, report, "t1", report ? "wdt.record.v1" : NULL);
    c->produced++;
}

static int run_sink(struct ctx *c)
{
    const char *extra[] = {"--once-idle", "3", NULL};
    pid_t pid = st_sink_start(brokers, c->db, c->group, c->topic, c->log, extra);
    int rc = st_sink_wait(pid, 240, c->log);
    return rc;
}

static int64_t q(sqlite3 *db, const char *fmt, const char *a)
{
    char *sql = wdts_xasprintf(fmt, a);
    int64_t v = st_int(db, sql, NULL);
    free(sql);
    return v;
}

static void test_upsert_rules(void **state)
{
    (void)state;
    struct ctx c = {0};
    const char *p = wdts_test_prefix();
    struct wdts_buf b;
    wdts_buf_init(&b);
    snprintf(c.topic, sizeof(c.topic), "%srecords", p);
    snprintf(c.group, sizeof(c.group), "%ssink", p);
    snprintf(c.c1, sizeof(c.c1), "%sc1", p);
    snprintf(c.c2, sizeof(c.c2), "%sc2", p);
    snprintf(c.dir, sizeof(c.dir), "/tmp/wdts-%ssink-XXXXXX", p);
    assert_non_null(mkdtemp(c.dir));
    snprintf(c.db, sizeof(c.db), "%s/sink.db", c.dir);
    snprintf(c.log, sizeof(c.log), "%s/sink.log", c.dir);
    st_create_topic(c.topic, 6);
    c.prod = wdts_test_kafka_producer(brokers, "20");

    /* A: arrives v2, v3, v1 → v3 stays; v1 is stale. */
    rec(&c, c.c1, "trades", "A", "2026-03-01 10:20:00", E1);
    rec(&c, c.c1, "trades", "A", "2026-03-01 10:30:00", E1);
    rec(&c, c.c1, "trades", "A", "2026-03-01 10:10:00", E1);
    /* B: in order. */
    rec(&c, c.c1, "trades", "B", "2026-03-01 10:10:00", E1);
    rec(&c, c.c1, "trades", "B", "2026-03-01 10:20:00", E1);
    rec(&c, c.c1, "trades", "B", "2026-03-01 10:30:00", E1);
    /* C: one version four times: exact copy, later extraction (replaces), earlier (does not). */
    rec(&c, c.c1, "trades", "C", "2026-03-01 10:15:00", E1);
    rec(&c, c.c1, "trades", "C", "2026-03-01 10:15:00", E1);
    rec(&c, c.c1, "trades", "C", "2026-03-01 10:15:00", E2);
    rec(&c, c.c1, "trades", "C", "2026-03-01 10:15:00", E0);
    /* D: pk A again, other connection: its own row. */
    rec(&c, c.c2, "trades", "A", "2026-03-01 10:05:00", E1);
    /* Other reports: one in the catalog, one not (its modified is epoch ms). */
    rec(&c, c.c1, "refunds", "R1", "2026-03-01 10:40:00", E1);
    rec(&c, c.c1, "custom_x", "X1", "1772331000000", E1);
    /* Markers: trades (twice: a redelivery) and refunds without headers (told by its body). */
    char jid[200], mkey[200];
    snprintf(jid, sizeof(jid), "%s:trades:%lld:%lld", c.c1, ST_WIN_START_S, ST_WIN_END_S);
    snprintf(mkey, sizeof(mkey), ST_MARKER_KEY_FMT, c.c1, "trades");
    st_marker(&b, "t1", c.c1, "trades", 11, 12, "complete");
    st_produce(c.prod, c.topic, mkey, wdts_buf_str(&b), "trades", "t1", "wdt.window.v1");
    st_produce(c.prod, c.topic, mkey, wdts_buf_str(&b), "trades", "t1", "wdt.window.v1");
    wdts_buf_reset(&b);
    snprintf(mkey, sizeof(mkey), ST_MARKER_KEY_FMT, c.c1, "refunds");
    st_marker(&b, "t1", c.c1, "refunds", 1, 1, "complete");
    st_produce(c.prod, c.topic, mkey, wdts_buf_str(&b), NULL, NULL, NULL);
    wdts_buf_reset(&b);
    c.produced += 3;

    /* Rejects, one per rule. */
    char key[200];
    snprintf(key, sizeof(key), "%s:trades:Z", c.c1);
    raw(&c, key, "not json", NULL);
    raw(&c, key, NULL, NULL); /* tombstone */
    st_record(&b, "t1", c.c1, "trades", "Z", "2026-03-01 10:00:00", E1, NULL);
    char *v2 = wdts_xstrdup(wdts_buf_str(&b));
    v2[5] = '2'; /* {"v":2 */
    raw(&c, key, v2, "trades");
    free(v2);
    raw(&c, "k", "{\"hello\":1}", NULL);
    raw(&c, key, wdts_buf_str(&b), "refunds"); /* header report differs from the body */
    snprintf(key, sizeof(key), "%s:trades:Y", c.c1);
    raw(&c, key, wdts_buf_str(&b), "trades");  /* key names another pk */
    wdts_buf_reset(&b);
    wdts_buf_printf(&b,
                    "{\"v\":1,\"tenant\":\"t1\",\"connection\":\"%s\",\"source\":\"wdt\","
                    "\"report\":\"trades\",\"pk\":\"Z\",\"op\":\"upsert\",\"window\":{\"start\":"
                    "\"%s\",\"end\":\"%s\"},\"job_id\":\"j\",\"extracted_at\":\"%s\",\"data\":{\"id\":"
                    "\"Z\"}}",
                    c.c1, ST_WIN_START, ST_WIN_END, E1);
    snprintf(key, sizeof(key), "%s:trades:Z", c.c1);
    raw(&c, key, wdts_buf_str(&b), "trades"); /* no data.modified */
    wdts_buf_reset(&b);
    st_record(&b, "t1", c.c1, "trades", "Z", "2026-03-01 10:00:00", E1, NULL);
    char *erp = wdts_xstrdup(wdts_buf_str(&b));
    char *src = strstr(erp, "\"wdt\"");
    memcpy(src, "\"erp\"", 5);
    raw(&c, key, erp, "trades");
    free(erp);
    raw(&c, "m3", "{\"v\":1,\"job_id\":\"nonsense\",\"window\":{\"start\":\"" ST_WIN_START
                  "\",\"end\":\"" ST_WIN_END "\"},\"records\":1,\"pages\":1,\"api_total\":1,"
                  "\"status\":\"complete\"}",
        NULL);
    const int n_rejects = 9;
    assert_int_equal(wdts_kafka_producer_flush(c.prod, 60000), WDTS_OK);

    int64_t t0 = wdts_time_mono_ms();
    assert_int_equal(run_sink(&c), 0);
    fprintf(stderr, "first run: %d messages in %" PRId64 " ms (3 s of it idle)\n", c.produced,
            wdts_time_mono_ms() - t0);

    sqlite3 *db = st_db_open(c.db);
    char text[512], sql[512];
    /* A: v3 stayed although v1 came last. */
    snprintf(sql, sizeof(sql),
             "SELECT json_extract(data, '$.modified') || '|' || versions || '|' || modified_at "
             "FROM trades WHERE connection = '%s' AND pk = ?1",
             c.c1);
    st_text(db, sql, "A", text, sizeof(text));
    assert_string_equal(text, "2026-03-01 10:30:00|2|2026-03-01T10:30:00+08:00");
    st_text(db, sql, "B", text, sizeof(text));
    assert_string_equal(text, "2026-03-01 10:30:00|3|2026-03-01T10:30:00+08:00");
    /* C: the later extraction of the same version was kept, the earlier one was not. */
    snprintf(sql, sizeof(sql),
             "SELECT extracted_at || '|' || versions FROM trades WHERE connection = '%s' AND "
             "pk = ?1",
             c.c1);
    st_text(db, sql, "C", text, sizeof(text));
    assert_string_equal(text, E2 "|1");
    /* D: the other connection's A is its own row. */
    snprintf(sql, sizeof(sql),
             "SELECT json_extract(data, '$.modified') FROM trades WHERE connection = '%s' AND "
             "pk = ?1",
             c.c2);
    st_text(db, sql, "A", text, sizeof(text));
    assert_string_equal(text, "2026-03-01 10:05:00");
    assert_int_equal(st_int(db, "SELECT count(*) FROM trades", NULL), 4);
    assert_int_equal(st_int(db, "SELECT count(*) FROM refunds", NULL), 1);
    assert_int_equal(st_int(db, "SELECT modified FROM custom_x WHERE pk = 'X1'", NULL),
                     1772331000000LL);
    st_text(db, "SELECT tenant || '|' || source || '|' || job_id FROM refunds", NULL, text,
            sizeof(text));
    snprintf(sql, sizeof(sql), "t1|wdt|%s:refunds:%lld:%lld", c.c1, ST_WIN_START_S,
             ST_WIN_END_S);
    assert_string_equal(text, sql);

    /* Counters: trades 11 records = 4 inserted + 3 updated + 3 duplicates + 1 stale. */
    st_text(db,
            "SELECT records || ' ' || inserted || ' ' || updated || ' ' || duplicates || ' ' || "
            "stale || ' ' || markers FROM sink_stats WHERE report = ?1",
            "trades", text, sizeof(text));
    assert_string_equal(text, "11 4 3 3 1 2");
    assert_int_equal(q(db, "SELECT inserted FROM sink_stats WHERE report = '%s'", "refunds"), 1);
    assert_int_equal(q(db, "SELECT markers FROM sink_stats WHERE report = '%s'", "refunds"), 1);
    assert_int_equal(q(db, "SELECT inserted FROM sink_stats WHERE report = '%s'", "custom_x"), 1);

    /* Markers. */
    assert_int_equal(st_int(db, "SELECT count(*) FROM windows", NULL), 2);
    st_text(db,
            "SELECT report || '|' || records || '|' || pages || '|' || api_total || '|' || "
            "status || '|' || seen || '|' || window_start FROM windows WHERE job_id = ?1",
            jid, text, sizeof(text));
    assert_string_equal(text, "trades|11|1|12|complete|2|" ST_WIN_START);
    snprintf(sql, sizeof(sql),
             "SELECT status || '|' || api_total || '|' || json_extract(marker, '$.calls') FROM "
             "windows WHERE report = "
             "'refunds' AND connection = ?1");
    st_text(db, sql, c.c1, text, sizeof(text));
    assert_string_equal(text, "complete|1|1");

    /* Rejects: each stored once with its position and a reason, and counted. */
    assert_int_equal(st_int(db, "SELECT count(*) FROM rejects", NULL), n_rejects);
    assert_int_equal(st_int(db, "SELECT sum(rejected) FROM sink_stats", NULL), n_rejects);
    assert_int_equal(st_int(db,
                            "SELECT count(*) FROM rejects WHERE topic = ?1 AND partition >= 0 "
                            "AND \"offset\" >= 0 AND length(reason) > 10",
                            c.topic),
                     n_rejects);
    static const char *const reasons[] = {
        "not JSON",        "tombstone",     "version 2 is not supported",
        "neither a record", "header 'report'", "key must be",
        "data.modified is missing", "'source'", "'job_id'"};
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        char *like = wdts_xasprintf("%%%s%%", reasons[i]);
        int64_t n = st_int(db, "SELECT count(*) FROM rejects WHERE reason LIKE ?1", like);
        if (n != 1)
            fprintf(stderr, "reason '%s': %" PRId64 " rows\n", reasons[i], n);
        assert_int_equal(n, 1);
        free(like);
    }
    sqlite3_close(db);
    int parts = wdts_test_kafka_partitions(brokers, c.topic);
    assert_int_equal(wdts_test_kafka_committed_sum(brokers, c.group, c.topic, parts), c.produced);

    /* Second run, same group: only the new messages are applied. */
    rec(&c, c.c1, "trades", "A", "2026-03-01 10:40:00", E1);
    raw(&c, "k", "[]", NULL);
    assert_int_equal(wdts_kafka_producer_flush(c.prod, 60000), WDTS_OK);
    assert_int_equal(run_sink(&c), 0);
    db = st_db_open(c.db);
    st_text(db,
            "SELECT records || ' ' || inserted || ' ' || updated || ' ' || duplicates || ' ' || "
            "stale || ' ' || markers FROM sink_stats WHERE report = ?1",
            "trades", text, sizeof(text));
    assert_string_equal(text, "12 4 4 3 1 2");
    assert_int_equal(st_int(db, "SELECT count(*) FROM rejects", NULL), n_rejects + 1);
    assert_int_equal(st_int(db, "SELECT sum(rejected) FROM sink_stats", NULL), n_rejects + 1);
    snprintf(sql, sizeof(sql),
             "SELECT json_extract(data, '$.modified') FROM trades WHERE connection = '%s' AND "
             "pk = ?1",
             c.c1);
    st_text(db, sql, "A", text, sizeof(text));
    assert_string_equal(text, "2026-03-01 10:40:00");
    sqlite3_close(db);
    assert_int_equal(wdts_test_kafka_committed_sum(brokers, c.group, c.topic, parts), c.produced);

    wdts_kafka_producer_destroy(c.prod);
    wdts_buf_deinit(&b);
    wdts_test_rmtree(c.dir);
}

static void expect_exit(const char *const *args, int want, const char *needle)
{
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)wdts_test_bin("wdt-sink-sqlite");
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    struct wdts_test_run run;
    assert_int_equal(wdts_test_run(argv, NULL, 60, &run), 0);
    if (run.status != want || (needle && !strstr(run.out, needle) && !strstr(run.err, needle)))
        fprintf(stderr, "status %d\nout: %s\nerr: %s\n", run.status, run.out, run.err);
    assert_int_equal(run.status, want);
    if (needle)
        assert_true(strstr(run.out, needle) || strstr(run.err, needle));
    wdts_test_run_free(&run);
}

static void test_command_line(void **state)
{
    (void)state;
    const char *help[] = {"--help", NULL};
    expect_exit(help, 0, "--once-idle");
    const char *unknown[] = {"--dbx", "x", NULL};
    expect_exit(unknown, 64, "unknown argument");
    const char *idle[] = {"--db", "/tmp/x.db", "--once-idle", "soon", NULL};
    expect_exit(idle, 64, "--once-idle");
    /* No bootstrap servers in this child's environment unless the harness set them:
     * pass an empty one explicitly to see the configuration error. */
    const char *nodb[] = {"--set", "kafka.bootstrap.servers=127.0.0.1:1", NULL};
    expect_exit(nodb, 78, "--db");
    const char *badset[] = {"--db", "/tmp/x.db", "--set", "sink.batch.max=0", NULL};
    expect_exit(badset, 78, "sink.batch.max");
    const char *baddb[] = {"--db", "/nonexistent-dir/x.db", "--set",
                           "kafka.bootstrap.servers=127.0.0.1:1", NULL};
    expect_exit(baddb, 1, "cannot open");
}

int main(void)
{
    brokers = wdts_test_require_env("WDT_TEST_KAFKA_BROKERS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_line),
        cmocka_unit_test(test_upsert_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
