/* SIGTERM in the middle of a run: wdt-sink-sqlite commits the open transaction,
 * then exactly those offsets, leaves the group and exits 0. So afterwards the
 * committed offsets cover exactly what SQLite holds, and a restart finishes the
 * topic with no re-upsert at all (no duplicate, nothing stale). */
#include "wdts_test.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/kafka.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts_test_kafka.h"
#include "wdts_test_sink.h"

#define N 8000
#define PARTS 8

static const char *brokers;

/* GET http://127.0.0.1:port/path with the curl program; the body, or "" on failure. */
static void http_get(int port, const char *path, struct wdts_buf *out)
{
    char *cmd = wdts_xasprintf("curl -s --max-time 10 http://127.0.0.1:%d%s", port, path);
    FILE *p = popen(cmd, "r");
    char chunk[4096];
    size_t r;
    free(cmd);
    wdts_buf_reset(out);
    if (p == NULL)
        return;
    while ((r = fread(chunk, 1, sizeof(chunk), p)) > 0)
        wdts_buf_append(out, chunk, r);
    pclose(p);
}

/* The integer value of a series in a scrape, or -1. */
static long long metric(const char *scrape, const char *series)
{
    char *needle = wdts_xasprintf("\n%s ", series);
    const char *p = strstr(scrape, needle);
    long long v = -1;
    char num[32];
    if (p != NULL) {
        p += strlen(needle);
        size_t n = strspn(p, "0123456789");
        if (n > 0 && n < sizeof(num)) {
            memcpy(num, p, n);
            num[n] = '\0';
            if (wdts_parse_int(num, 0, INT64_MAX, &v) != WDTS_OK)
                v = -1;
        }
    }
    free(needle);
    return v;
}

static void test_sigterm(void **state)
{
    (void)state;
    struct st_case c;
    st_case_init(&c, "term", PARTS);

    struct wdts_kafka_producer *prod = wdts_test_kafka_producer(brokers, "20");
    struct wdts_buf b, k;
    wdts_buf_init(&b);
    wdts_buf_init(&k);
    for (int i = 0; i < N; i++) {
        char pk[32];
        snprintf(pk, sizeof(pk), "%d", i);
        wdts_buf_reset(&b);
        wdts_buf_reset(&k);
        st_record(&b, "t1", c.conn, "stockouts", pk, "2026-03-01 10:10:00",
                  "2026-03-01T11:05:00+08:00", "\"goods_count\":\"3\"");
        wdts_buf_printf(&k, "%s:stockouts:%s", c.conn, pk);
        st_produce(prod, c.topic, wdts_buf_str(&k), wdts_buf_str(&b), "stockouts", "t1",
                   "wdt.record.v1");
    }
    assert_int_equal(wdts_kafka_producer_flush(prod, 120000), WDTS_OK);
    wdts_kafka_producer_destroy(prod);
    int parts = wdts_test_kafka_partitions(brokers, c.topic);

    /* Long transactions (up to 10 s): SIGTERM finds one open and must commit it.
     */
    const char *extra[] = {"--set",  "sink.batch.max=700", "--set", "sink.batch.time=10s",
                           "--http", "127.0.0.1:0",        NULL};
    pid_t pid = st_sink_start(brokers, c.db, c.group, c.topic, c.log, extra);
    int64_t deadline = wdts_time_mono_ms() + 180000;
    while (wdts_time_mono_ms() < deadline) {
        usleep(20 * 1000);
        if (access(c.db, F_OK) != 0)
            continue;
        sqlite3 *db = st_db_open(c.db);
        int64_t seen = st_applied(db);
        sqlite3_close(db);
        if (seen >= N / 5)
            break;
    }
    int port = wdts_test_logged_port(c.log, 0);
    if (port <= 0)
        wdts_test_dump_file(c.log);
    assert_true(port > 0);
    struct wdts_buf body;
    wdts_buf_init(&body);
    http_get(port, "/readyz", &body);
    assert_string_equal(wdts_buf_str(&body), "ready\n");
    http_get(port, "/metrics", &body);
    char want[128];
    snprintf(want, sizeof(want), "wdt_sink_partitions_assigned %d\n", parts);
    assert_non_null(strstr(wdts_buf_str(&body), want));
    assert_true(metric(wdts_buf_str(&body), "wdt_sink_messages_total{outcome=\"inserted\"}") > 0);
    assert_true(metric(wdts_buf_str(&body), "wdt_sink_transactions_total") > 0);
    wdts_buf_deinit(&body);

    int64_t t_term = wdts_time_mono_ms();
    assert_int_equal(kill(pid, SIGTERM), 0);
    int rc = st_sink_wait(pid, 60, c.log);
    int64_t stop_ms = wdts_time_mono_ms() - t_term;
    assert_int_equal(rc, 0);
    assert_true(wdts_test_file_has(c.log, "revoked")); /* it left the group */
    assert_true(wdts_test_file_has(c.log, "stopped:"));

    sqlite3 *db = st_db_open(c.db);
    int64_t in_sqlite = st_applied(db);
    sqlite3_close(db);
    int64_t committed = wdts_test_kafka_committed_sum(brokers, c.group, c.topic, parts);
    fprintf(stderr,
            "SIGTERM: exit 0 in %" PRId64 " ms with %" PRId64 " of %d applied, %" PRId64
            " committed\n",
            stop_ms, in_sqlite, N, committed);
    assert_true(in_sqlite > 0);
    assert_int_equal(committed, in_sqlite); /* exactly: nothing applied is left uncommitted */

    const char *extra2[] = {"--once-idle", "3", NULL};
    pid = st_sink_start(brokers, c.db, c.group, c.topic, c.log, extra2);
    rc = st_sink_wait(pid, 300, c.log);
    assert_int_equal(rc, 0);
    db = st_db_open(c.db);
    assert_int_equal(st_int(db, "SELECT count(*) FROM stockouts WHERE connection = ?1", c.conn), N);
    assert_int_equal(st_int(db, "SELECT records FROM sink_stats WHERE report = 'stockouts'", NULL),
                     N);
    assert_int_equal(st_int(db,
                            "SELECT duplicates + stale FROM sink_stats WHERE "
                            "report = 'stockouts'",
                            NULL),
                     0);
    sqlite3_close(db);
    assert_int_equal(wdts_test_kafka_committed_sum(brokers, c.group, c.topic, parts), N);

    wdts_buf_deinit(&b);
    wdts_buf_deinit(&k);
    st_case_deinit(&c);
}

int main(void)
{
    brokers = wdts_test_require_env("WDT_TEST_KAFKA_BROKERS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigterm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
