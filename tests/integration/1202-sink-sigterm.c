/* SIGTERM in the middle of a run: wdt-sink-sqlite commits the open transaction,
 * then exactly those offsets, leaves the group and exits 0. So afterwards the
 * committed offsets cover exactly what SQLite holds, and a restart finishes the
 * topic with no re-upsert at all (no duplicate, nothing stale). */
#include "wdts_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink_testlib.h"

#define N 8000
#define PARTS 8

static const char *brokers;

static int64_t applied(sqlite3 *db)
{
    int64_t n =
        st_int(db, "SELECT sum(records) + sum(markers) + sum(rejected) FROM sink_stats", NULL);
    return n < 0 ? 0 : n;
}

static int log_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int found = 0;
    if (f == NULL)
        return 0;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static void test_sigterm(void **state)
{
    (void)state;
    const char *p = wdts_test_prefix();
    char topic[96], group[96], conn[96], dir[256], db_path[300], log_path[300];
    snprintf(topic, sizeof(topic), "%srecords", p);
    snprintf(group, sizeof(group), "%ssink", p);
    snprintf(conn, sizeof(conn), "%sc1", p);
    snprintf(dir, sizeof(dir), "/tmp/wdts-%sterm-XXXXXX", p);
    assert_non_null(mkdtemp(dir));
    snprintf(db_path, sizeof(db_path), "%s/sink.db", dir);
    snprintf(log_path, sizeof(log_path), "%s/sink.log", dir);
    st_create_topic(topic, PARTS);

    struct wdts_kafka_producer *prod = st_producer(brokers);
    struct wdts_buf b, k;
    wdts_buf_init(&b);
    wdts_buf_init(&k);
    for (int i = 0; i < N; i++) {
        char pk[32];
        snprintf(pk, sizeof(pk), "%d", i);
        wdts_buf_reset(&b);
        wdts_buf_reset(&k);
        st_record(&b, "t1", conn, "stockouts", pk, "2026-03-01 10:10:00",
                  "2026-03-01T11:05:00+08:00", "\"goods_count\":\"3\"");
        wdts_buf_printf(&k, "%s:stockouts:%s", conn, pk);
        st_produce(prod, topic, wdts_buf_str(&k), wdts_buf_str(&b), "stockouts", "t1",
                   "wdt.record.v1");
    }
    assert_int_equal(wdts_kafka_producer_flush(prod, 120000), WDTS_OK);
    wdts_kafka_producer_destroy(prod);
    int parts = st_partitions(brokers, topic);

    /* Long transactions (up to 10 s): SIGTERM finds one open and must commit it.
     */
    const char *extra[] = {"--set", "sink.batch.max=700", "--set", "sink.batch.time=10s", NULL};
    pid_t pid = st_sink_start(brokers, db_path, group, topic, log_path, extra);
    int64_t deadline = wdts_time_mono_ms() + 180000;
    while (wdts_time_mono_ms() < deadline) {
        usleep(20 * 1000);
        if (access(db_path, F_OK) != 0)
            continue;
        sqlite3 *db = st_db_open(db_path);
        int64_t seen = applied(db);
        sqlite3_close(db);
        if (seen >= N / 5)
            break;
    }
    int64_t t_term = wdts_time_mono_ms();
    assert_int_equal(kill(pid, SIGTERM), 0);
    int rc = st_wait(pid, 60);
    int64_t stop_ms = wdts_time_mono_ms() - t_term;
    if (rc != 0) {
        if (rc < 0)
            kill(pid, SIGKILL), waitpid(pid, NULL, 0);
        st_dump_log(log_path);
    }
    assert_int_equal(rc, 0);
    assert_true(log_has(log_path, "revoked")); /* it left the group */
    assert_true(log_has(log_path, "stopped:"));

    sqlite3 *db = st_db_open(db_path);
    int64_t in_sqlite = applied(db);
    sqlite3_close(db);
    int64_t committed = st_committed_sum(brokers, group, topic, parts);
    fprintf(stderr,
            "SIGTERM: exit 0 in %" PRId64 " ms with %" PRId64 " of %d applied, %" PRId64
            " committed\n",
            stop_ms, in_sqlite, N, committed);
    assert_true(in_sqlite > 0);
    assert_int_equal(committed, in_sqlite); /* exactly: nothing applied is left uncommitted */

    const char *extra2[] = {"--once-idle", "3", NULL};
    pid = st_sink_start(brokers, db_path, group, topic, log_path, extra2);
    rc = st_wait(pid, 300);
    if (rc != 0) {
        if (rc < 0)
            kill(pid, SIGKILL), waitpid(pid, NULL, 0);
        st_dump_log(log_path);
    }
    assert_int_equal(rc, 0);
    db = st_db_open(db_path);
    assert_int_equal(st_int(db, "SELECT count(*) FROM stockouts WHERE connection = ?1", conn), N);
    assert_int_equal(st_int(db, "SELECT records FROM sink_stats WHERE report = 'stockouts'", NULL),
                     N);
    assert_int_equal(st_int(db,
                            "SELECT duplicates + stale FROM sink_stats WHERE "
                            "report = 'stockouts'",
                            NULL),
                     0);
    sqlite3_close(db);
    assert_int_equal(st_committed_sum(brokers, group, topic, parts), N);

    wdts_buf_deinit(&b);
    wdts_buf_deinit(&k);
    char *rm = wdts_xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(rm), 0);
    free(rm);
}

int main(void)
{
    brokers = wdts_test_require_env("WDT_TEST_KAFKA_BROKERS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigterm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
