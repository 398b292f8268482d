/* The example queries of sink/queries.sql (printed by the demo, shown in
 * docs/CONSUMERS.md) on a small data set that went through wdt-sink-sqlite: orders of
 * two shops over two days, one unpaid, one seen through both a wdt and a qimen
 * connection (counted once), one with an older version arriving last (ignored), and
 * refunds. Every answer is checked row by row. */
#include "wdts_test.h"

#include <stdio.h>
#include <stdlib.h>

#include "wdts/kafka.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts_test_kafka.h"
#include "wdts_test_sink.h"

static const char *brokers;

struct ctx {
    const char *topic;
    struct wdts_kafka_producer *prod;
};

static void put(struct ctx *c, const char *conn, const char *report, const char *pk,
                const char *modified, const char *fields)
{
    struct wdts_buf b, k;
    wdts_buf_init(&b);
    wdts_buf_init(&k);
    st_record(&b, "shopco", conn, report, pk, modified, "2026-03-02T12:00:00+08:00", fields);
    wdts_buf_printf(&k, "%s:%s:%s", conn, report, pk);
    st_produce(c->prod, c->topic, wdts_buf_str(&k), wdts_buf_str(&b), report, "shopco",
               "wdt.record.v1");
    wdts_buf_deinit(&b);
    wdts_buf_deinit(&k);
}

static char *trade(const char *no, const char *shop, const char *pay_time, const char *paid,
                   const char *lines)
{
    return wdts_xasprintf("\"trade_no\":\"%s\",\"shop_name\":\"%s\",\"pay_time\":\"%s\","
                          "\"paid\":\"%s\",\"detail_list\":[%s]",
                          no, shop, pay_time, paid, lines);
}

#define LINE(no, name, num, share)                                                                 \
    "{\"goods_no\":\"" no "\",\"goods_name\":\"" name "\",\"num\":\"" num                          \
    "\",\"share_amount\":\"" share "\"}"

/* Runs every statement of the file; each statement's rows become "a|b|c\n" lines. */
static int run_queries(sqlite3 *db, const char *path, struct wdts_buf *out, int max)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    struct wdts_buf sql;
    wdts_buf_init(&sql);
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
        wdts_buf_append(&sql, chunk, r);
    fclose(f);
    const char *p = wdts_buf_str(&sql);
    int n = 0;
    while (*p && n < max) {
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        int rc = sqlite3_prepare_v2(db, p, -1, &st, &tail);
        if (rc != SQLITE_OK)
            fprintf(stderr, "query %d: %s\n", n, sqlite3_errmsg(db));
        assert_int_equal(rc, SQLITE_OK);
        p = tail;
        if (st == NULL) /* only comments or blanks were left */
            break;
        wdts_buf_init(&out[n]);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            for (int i = 0; i < sqlite3_column_count(st); i++) {
                const unsigned char *t = sqlite3_column_text(st, i);
                wdts_buf_printf(&out[n], "%s%s", i ? "|" : "", t ? (const char *)t : "NULL");
            }
            wdts_buf_append_str(&out[n], "\n");
        }
        assert_int_equal(rc, SQLITE_DONE);
        sqlite3_finalize(st);
        n++;
    }
    wdts_buf_deinit(&sql);
    return n;
}

static void test_queries(void **state)
{
    (void)state;
    const char *pfx = wdts_test_prefix();
    struct st_case sc;
    struct ctx c;
    char cw[96], cq[96];
    st_case_init(&sc, "queries", 4);
    c.topic = sc.topic;
    snprintf(cw, sizeof(cw), "%swdt", pfx);
    snprintf(cq, sizeof(cq), "%sqimen", pfx);
    c.prod = wdts_test_kafka_producer(brokers, "20");

    char *t;
    t = trade("JY1", "Shop A", "2026-03-01 09:00:00", "100.00",
              LINE("G1", "Tea", "2.0000", "80.00") "," LINE("G2", "Cup", "1.0000", "20.00"));
    put(&c, cw, "trades", "1", "2026-03-01 10:30:00", t);
    free(t);
    /* An older version of JY1 arriving later: must not count. */
    t = trade("JY1", "Shop A", "2026-03-01 09:00:00", "90.00",
              LINE("G1", "Tea", "9.0000", "90.00"));
    put(&c, cw, "trades", "1", "2026-03-01 10:00:00", t);
    free(t);
    t = trade("JY2", "Shop A", "2026-03-02 08:00:00", "50.00",
              LINE("G1", "Tea", "1.0000", "50.00"));
    put(&c, cw, "trades", "2", "2026-03-02 08:00:00", t);
    free(t);
    t = trade("JY3", "Shop B", "2026-03-01 12:00:00", "30.00",
              LINE("G3", "Pen", "3.0000", "30.00"));
    put(&c, cw, "trades", "3", "2026-03-01 12:00:00", t);
    put(&c, cq, "trades", "3", "2026-03-01 12:40:00", t); /* same order via qimen */
    free(t);
    t = trade("JY4", "Shop B", "0000-00-00 00:00:00", "0.00", LINE("G1", "Tea", "5.0000", "0.00"));
    put(&c, cw, "trades", "4", "2026-03-01 13:00:00", t);
    free(t);
    put(&c, cw, "refunds", "1", "2026-03-01 15:00:00",
        "\"refund_no\":\"TK1\",\"trade_no_list\":\"JY1\",\"guarantee_refund_amount\":\"20.0000\","
        "\"direct_refund_amount\":\"0.0000\"");
    put(&c, cw, "refunds", "2", "2026-03-01 16:00:00",
        "\"refund_no\":\"TK2\",\"trade_no_list\":\"JY3\",\"guarantee_refund_amount\":\"0.0000\","
        "\"direct_refund_amount\":\"30.0000\"");
    struct wdts_buf b;
    char mkey[200];
    wdts_buf_init(&b);
    st_marker(&b, "shopco", cw, "trades", 4, 4, "complete");
    snprintf(mkey, sizeof(mkey), ST_MARKER_KEY_FMT, cw, "trades");
    st_produce(c.prod, c.topic, mkey, wdts_buf_str(&b), "trades", "shopco", "wdt.window.v1");
    wdts_buf_deinit(&b);
    assert_int_equal(wdts_kafka_producer_flush(c.prod, 60000), WDTS_OK);
    wdts_kafka_producer_destroy(c.prod);

    const char *extra[] = {"--once-idle", "3", NULL};
    pid_t pid = st_sink_start(brokers, sc.db, sc.group, c.topic, sc.log, extra);
    int rc = st_sink_wait(pid, 240, sc.log);
    assert_int_equal(rc, 0);

    sqlite3 *db = st_db_open(sc.db);
    struct wdts_buf res[8];
    int n = run_queries(db, WDTS_SOURCE_DIR "/sink/queries.sql", res, 8);
    sqlite3_close(db);
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "query %d:\n%s", i, wdts_buf_str(&res[i]));

    assert_string_equal(wdts_buf_str(&res[0]), "2026-03-01|Shop A|1|100.00\n"
                                               "2026-03-01|Shop B|1|30.00\n"
                                               "2026-03-02|Shop A|1|50.00\n");
    assert_string_equal(wdts_buf_str(&res[1]), "G1|Tea|3|130.00\n"
                                               "G3|Pen|3|30.00\n"
                                               "G2|Cup|1|20.00\n");
    assert_string_equal(wdts_buf_str(&res[2]), "Shop A|2|1|50.0%|20.00|13.3%\n"
                                               "Shop B|1|1|100.0%|30.00|100.0%\n");
    char want[512];
    snprintf(want, sizeof(want), "%s|trades|1|4|0|%s|%s\n", cw, ST_WIN_START, ST_WIN_END);
    assert_string_equal(wdts_buf_str(&res[3]), want);
    assert_string_equal(wdts_buf_str(&res[4]), "refunds|2|2|0|0|0|0|0\n"
                                               "trades|6|5|0|0|1|1|0\n");
    for (int i = 0; i < n; i++)
        wdts_buf_deinit(&res[i]);
    st_case_deinit(&sc);
}

int main(void)
{
    brokers = wdts_test_require_env("WDT_TEST_KAFKA_BROKERS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
