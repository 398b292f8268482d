/* kill -9 of wdt-sink-sqlite in the middle of a run, then a restart: nothing is
 * lost, the only effect is re-upserts (counted as duplicates or stale). While
 * it is dead, the group's committed offsets never cover more messages than
 * SQLite holds: offsets are committed only after the transaction (sink_stats is
 * written in the same transaction, so its counters are exactly the messages
 * SQLite has applied). */
#include "wdts_test.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "wdts/kafka.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts_test_kafka.h"
#include "wdts_test_sink.h"

#define N 6000 /* keys; each gets two versions, so 2N messages */
#define PARTS 8

static const char *brokers;

static void test_kill_restart(void **state)
{
    (void)state;
    struct st_case c;
    st_case_init(&c, "kill", PARTS);

    struct wdts_kafka_producer *prod = wdts_test_kafka_producer(brokers, "20");
    struct wdts_buf b, k;
    wdts_buf_init(&b);
    wdts_buf_init(&k);
    for (int v = 0; v < 2; v++) {
        for (int i = 0; i < N; i++) {
            char pk[32];
            snprintf(pk, sizeof(pk), "%d", i);
            wdts_buf_reset(&b);
            wdts_buf_reset(&k);
            st_record(&b, "t1", c.conn, "trades", pk,
                      v == 0 ? "2026-03-01 10:10:00" : "2026-03-01 10:50:00",
                      "2026-03-01T11:05:00+08:00",
                      "\"paid\":\"12.50\",\"shop_name\":\"shop\",\"pad\":\".........."
                      "......\"");
            wdts_buf_printf(&k, "%s:trades:%s", c.conn, pk);
            st_produce(prod, c.topic, wdts_buf_str(&k), wdts_buf_str(&b), "trades", "t1",
                       "wdt.record.v1");
        }
    }
    assert_int_equal(wdts_kafka_producer_flush(prod, 120000), WDTS_OK);
    wdts_kafka_producer_destroy(prod);
    int parts = wdts_test_kafka_partitions(brokers, c.topic);

    /* Small transactions, so the kill lands between many commits. */
    const char *extra[] = {"--set", "sink.batch.max=100", NULL};
    pid_t pid = st_sink_start(brokers, c.db, c.group, c.topic, c.log, extra);
    int64_t deadline = wdts_time_mono_ms() + 180000, seen = 0;
    while (wdts_time_mono_ms() < deadline) {
        usleep(20 * 1000);
        if (access(c.db, F_OK) != 0)
            continue;
        sqlite3 *db = st_db_open(c.db);
        seen = st_applied(db);
        sqlite3_close(db);
        if (seen >= 2 * N / 5)
            break;
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(wdts_test_wait_exit(pid, 30), 128 + SIGKILL);

    sqlite3 *db = st_db_open(c.db);
    int64_t in_sqlite = st_applied(db);
    sqlite3_close(db);
    int64_t committed = wdts_test_kafka_committed_sum(brokers, c.group, c.topic, parts);
    fprintf(stderr,
            "killed with %" PRId64 " of %d messages applied in SQLite, %" PRId64
            " covered by committed offsets\n",
            in_sqlite, 2 * N, committed);
    if (in_sqlite >= 2 * N)
        wdts_test_dump_file(c.log);
    assert_true(in_sqlite < 2 * N); /* the kill came mid-run */
    assert_true(in_sqlite > 0);
    assert_true(committed <= in_sqlite); /* never an offset past SQLite */

    /* Restart: it resumes from the committed offsets and finishes. */
    const char *extra2[] = {"--once-idle", "3", NULL};
    pid = st_sink_start(brokers, c.db, c.group, c.topic, c.log, extra2);
    int rc = st_sink_wait(pid, 300, c.log);
    assert_int_equal(rc, 0);

    db = st_db_open(c.db);
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM trades WHERE connection = ?1");
    assert_int_equal(st_int(db, sql, c.conn), N);
    /* Every key in its latest version, replaced exactly once. */
    assert_int_equal(st_int(db,
                            "SELECT count(*) FROM trades WHERE json_extract(data, '$.modified') "
                            "= '2026-03-01 10:50:00' AND versions = 2",
                            NULL),
                     N);
    int64_t records = st_int(db, "SELECT records FROM sink_stats WHERE report = 'trades'", NULL);
    int64_t inserted = st_int(db, "SELECT inserted FROM sink_stats WHERE report = 'trades'", NULL);
    int64_t updated = st_int(db, "SELECT updated FROM sink_stats WHERE report = 'trades'", NULL);
    int64_t dups = st_int(db, "SELECT duplicates FROM sink_stats WHERE report = 'trades'", NULL);
    int64_t stale = st_int(db, "SELECT stale FROM sink_stats WHERE report = 'trades'", NULL);
    sqlite3_close(db);
    fprintf(stderr,
            "after restart: records %" PRId64 " (inserted %" PRId64 ", updated %" PRId64
            ", re-upserts: %" PRId64 " duplicates + %" PRId64 " stale)\n",
            records, inserted, updated, dups, stale);
    assert_int_equal(inserted, N);
    assert_int_equal(updated, N);
    assert_int_equal(records, inserted + updated + dups + stale);
    /* What was applied but not committed came again: exactly that many
     * re-upserts. */
    assert_int_equal(dups + stale, in_sqlite - committed);
    assert_int_equal(wdts_test_kafka_committed_sum(brokers, c.group, c.topic, parts), 2 * N);

    wdts_buf_deinit(&b);
    wdts_buf_deinit(&k);
    st_case_deinit(&c);
}

int main(void)
{
    brokers = wdts_test_require_env("WDT_TEST_KAFKA_BROKERS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
