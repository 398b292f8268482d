/* Rebalances in the middle of an open transaction: sink A holds one long transaction
 * (sink.batch.time=60s) while records keep arriving; sink B joins the same group, so A's
 * partitions are revoked, and A must commit the open transaction from inside the revoke
 * (then the wrapper commits its offsets). Later A leaves and B takes everything back.
 * Afterwards every record is in one of the two databases and the committed offsets cover
 * every message. Re-applied messages are counted, not forbidden: real Kafka accepts the
 * revoke's offset commit, but the local Kafka answers REBALANCE_IN_PROGRESS to every commit
 * while a group rejoins, so there the new owner re-reads the last transaction of the old
 * one (harmless re-upserts, which is what at-least-once allows). */
#include "wdts_test.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "wdts/kafka.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts_test_kafka.h"
#include "wdts_test_sink.h"

#define TOTAL 24000
#define PARTS 16

static const char *brokers;

struct feeder {
    char topic[96], conn[96];
    volatile int done, failed;
    volatile int produced;
};

/* Produces TOTAL distinct records at about 2,500 a second, so both sinks see traffic.
 * A thread of its own: no cmocka assert here, failures go to fd->failed. */
static void *feed(void *arg)
{
    struct feeder *fd = arg;
    char es[512];
    struct wdts_param pp[] = {{"bootstrap.servers", brokers}, {"linger.ms", "20"}};
    struct wdts_kafka_producer *prod = wdts_kafka_producer_new(pp, 2, NULL, NULL, es, sizeof(es));
    if (prod == NULL) {
        fprintf(stderr, "feeder: %s\n", es);
        fd->failed = 1;
        fd->done = 1;
        return NULL;
    }
    struct wdts_buf b, k;
    wdts_buf_init(&b);
    wdts_buf_init(&k);
    struct wdts_param hdrs[] = {
        {"report", "trades"}, {"tenant", "t1"}, {"schema", "wdt.record.v1"}};
    for (int i = 0; i < TOTAL && !fd->failed; i++) {
        char pk[32];
        snprintf(pk, sizeof(pk), "%d", i);
        wdts_buf_reset(&b);
        wdts_buf_reset(&k);
        st_record(&b, "t1", fd->conn, "trades", pk, "2026-03-01 10:10:00",
                  "2026-03-01T11:05:00+08:00", "\"paid\":\"3.00\"");
        wdts_buf_printf(&k, "%s:trades:%s", fd->conn, pk);
        struct wdts_kafka_out m = {.topic = fd->topic,
                                   .partition = WDTS_KAFKA_PARTITION_ANY,
                                   .key = k.data,
                                   .key_len = k.len,
                                   .value = b.data,
                                   .value_len = b.len,
                                   .headers = hdrs,
                                   .header_cnt = 3};
        wdts_err_t err;
        while ((err = wdts_kafka_produce(prod, &m)) == WDTS_ERR_AGAIN)
            wdts_kafka_producer_poll(prod, 100);
        if (err != WDTS_OK) {
            fprintf(stderr, "feeder: produce: %s\n", wdts_kafka_producer_errstr(prod));
            fd->failed = 1;
            break;
        }
        fd->produced++;
        if (i % 100 == 99) {
            wdts_kafka_producer_poll(prod, 0);
            usleep(40 * 1000);
        }
    }
    if (wdts_kafka_producer_flush(prod, 60000) != WDTS_OK)
        fd->failed = 1;
    wdts_kafka_producer_destroy(prod);
    wdts_buf_deinit(&b);
    wdts_buf_deinit(&k);
    fd->done = 1;
    return NULL;
}

static int64_t applied(const char *db_path, const char *what)
{
    sqlite3 *db = st_db_open(db_path);
    char *sql = wdts_xasprintf("SELECT %s FROM sink_stats WHERE report = 'trades'", what);
    int64_t n = st_int(db, sql, NULL);
    free(sql);
    sqlite3_close(db);
    return n < 0 ? 0 : n;
}

static void test_rebalance(void **state)
{
    (void)state;
    const char *p = wdts_test_prefix();
    struct feeder fd = {0};
    char group[96], dir[256], db_a[300], db_b[300], log_a[300], log_b[300];
    snprintf(fd.topic, sizeof(fd.topic), "%srecords", p);
    snprintf(fd.conn, sizeof(fd.conn), "%sc1", p);
    snprintf(group, sizeof(group), "%ssink", p);
    snprintf(dir, sizeof(dir), "/tmp/wdts-%srebal-XXXXXX", p);
    assert_non_null(mkdtemp(dir));
    snprintf(db_a, sizeof(db_a), "%s/a.db", dir);
    snprintf(db_b, sizeof(db_b), "%s/b.db", dir);
    snprintf(log_a, sizeof(log_a), "%s/a.log", dir);
    snprintf(log_b, sizeof(log_b), "%s/b.log", dir);
    st_create_topic(fd.topic, PARTS);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, feed, &fd), 0);
    const char *extra[] = {"--set", "sink.batch.max=1000000", "--set", "sink.batch.time=60s", NULL};
    pid_t a = st_sink_start(brokers, db_a, group, fd.topic, log_a, extra);
    assert_true(wdts_test_wait_file_has(log_a, "partitions (16 held)", 60));
    sleep(2); /* A applies records into its one open transaction */
    pid_t b = st_sink_start(brokers, db_b, group, fd.topic, log_b, NULL);

    /* The handover: A commits its open transaction in the revoke. */
    int committed = wdts_test_wait_file_has(log_a, "after committing the open transaction", 90);
    if (!committed)
        wdts_test_dump_file(log_a);
    assert_true(committed);
    int64_t at_revoke = applied(db_a, "records");
    fprintf(stderr, "A committed %" PRId64 " records at the revoke (%d produced so far)\n",
            at_revoke, fd.produced);
    assert_true(at_revoke > 0);

    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(fd.failed, 0);
    assert_int_equal(fd.produced, TOTAL);
    sleep(3); /* both take in the tail of the topic */
    /* One after the other: A leaves, B takes all partitions back and settles, then B goes.
     * (Stopped together, each one's commit could meet the other's rebalance.) */
    assert_int_equal(kill(a, SIGTERM), 0);
    int rc_a = wdts_test_wait_exit(a, 60);
    assert_true(wdts_test_wait_file_has(log_b, "partitions (16 held)", 90));
    sleep(3);
    assert_int_equal(kill(b, SIGTERM), 0);
    int rc_b = wdts_test_wait_exit(b, 60);
    if (rc_a != 0 || rc_b != 0) {
        wdts_test_dump_file(log_a);
        wdts_test_dump_file(log_b);
    }
    assert_int_equal(rc_a, 0);
    assert_int_equal(rc_b, 0);
    assert_true(wdts_test_file_has(log_b, "assigned"));

    int64_t ra = applied(db_a, "records"), rb = applied(db_b, "records");
    int64_t again = applied(db_a, "duplicates + stale") + applied(db_b, "duplicates + stale");
    fprintf(stderr,
            "A applied %" PRId64 ", B applied %" PRId64 " of %d messages: %" PRId64
            " applications were repeats (re-upserts: %" PRId64 " in A's own database)\n",
            ra, rb, TOTAL, ra + rb - TOTAL, again);
    assert_true(rb > 0);
    sqlite3 *db = st_db_open(db_a);
    char *attach = wdts_xasprintf("ATTACH DATABASE '%s' AS b", db_b);
    assert_int_equal(sqlite3_exec(db, attach, NULL, NULL, NULL), SQLITE_OK);
    free(attach);
    assert_int_equal(
        st_int(db,
               "SELECT count(*) FROM (SELECT pk FROM main.trades UNION SELECT pk FROM b.trades)",
               NULL),
        TOTAL);
    sqlite3_close(db);
    assert_true(ra + rb >= TOTAL);
    assert_int_equal(wdts_test_kafka_committed_sum(brokers, group, fd.topic, PARTS), TOTAL);

    wdts_test_rmtree(dir);
}

int main(void)
{
    brokers = wdts_test_require_env("WDT_TEST_KAFKA_BROKERS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rebalance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
