/* Kafka wrappers against the local Kafka: bad properties give an error that names
 * the property, the consumer's forced settings, synchronous produce, metadata and
 * watermarks, and a producer destroyed with messages outstanding still reports
 * every one of them. */
#include "wdts_test.h"

#include <stdio.h>
#include <string.h>

#include "wdts/kafka.h"

static const char *brokers;

static void test_bad_producer_properties(void **state)
{
    (void)state;
    char es[512];
    struct wdts_param unknown[] = {{"bootstrap.servers", brokers}, {"no.such.property", "1"}};
    es[0] = '\0';
    assert_null(wdts_kafka_producer_new(unknown, 2, NULL, NULL, es, sizeof(es)));
    assert_non_null(strstr(es, "no.such.property"));
    fprintf(stderr, "unknown property: %s\n", es);

    struct wdts_param badval[] = {{"bootstrap.servers", brokers}, {"enable.idempotence", "maybe"}};
    es[0] = '\0';
    assert_null(wdts_kafka_producer_new(badval, 2, NULL, NULL, es, sizeof(es)));
    assert_non_null(strstr(es, "enable.idempotence"));
    assert_non_null(strstr(es, "maybe"));
    fprintf(stderr, "bad value: %s\n", es);

    struct wdts_param noval[] = {{"linger.ms", NULL}};
    es[0] = '\0';
    assert_null(wdts_kafka_producer_new(noval, 1, NULL, NULL, es, sizeof(es)));
    assert_non_null(strstr(es, "linger.ms"));
}

static void test_bad_consumer_properties(void **state)
{
    (void)state;
    char es[512];
    struct wdts_param nogroup[] = {{"bootstrap.servers", brokers}};
    es[0] = '\0';
    assert_null(wdts_kafka_consumer_new(nogroup, 1, NULL, NULL, es, sizeof(es)));
    assert_non_null(strstr(es, "group.id"));
    fprintf(stderr, "no group: %s\n", es);

    const char *forced[] = {"enable.auto.commit", "enable.auto.offset.store"};
    for (size_t i = 0; i < 2; i++) {
        struct wdts_param p[] = {
            {"bootstrap.servers", brokers}, {"group.id", "g"}, {forced[i], "true"}};
        es[0] = '\0';
        assert_null(wdts_kafka_consumer_new(p, 3, NULL, NULL, es, sizeof(es)));
        assert_non_null(strstr(es, forced[i]));
        fprintf(stderr, "forced: %s\n", es);
    }
    /* Saying what is enforced anyway is fine. */
    struct wdts_param ok[] = {{"bootstrap.servers", brokers},
                              {"group.id", "g"},
                              {"enable.auto.commit", "false"},
                              {"session.timeout.ms", "7000"}};
    struct wdts_kafka_consumer *cons = wdts_kafka_consumer_new(ok, 4, NULL, NULL, es, sizeof(es));
    assert_non_null(cons);
    const char *none[1] = {NULL};
    assert_int_equal(wdts_kafka_consumer_subscribe(cons, none, 0), WDTS_ERR_INVAL);
    /* Not subscribed, nothing assigned: a partition cannot be stored. */
    assert_int_equal(wdts_kafka_consumer_store(cons, "wdt.test", 0, 1), WDTS_ERR_NOTFOUND);
    fprintf(stderr, "store unassigned: %s\n", wdts_kafka_consumer_errstr(cons));
    wdts_kafka_consumer_destroy(cons);
}

static void test_sync_produce_and_metadata(void **state)
{
    (void)state;
    char es[512];
    struct wdts_param pp[] = {{"bootstrap.servers", brokers}};
    struct wdts_kafka_producer *prod = wdts_kafka_producer_new(pp, 1, NULL, NULL, es, sizeof(es));
    assert_non_null(prod);

    char key[96];
    snprintf(key, sizeof(key), "%ssync", wdts_test_prefix());
    struct wdts_param hdrs[] = {{"report", "trades"}, {"tenant", "t1"}};
    struct wdts_kafka_out m = {.topic = "wdt.test",
                               .partition = WDTS_KAFKA_PARTITION_ANY,
                               .key = key,
                               .key_len = strlen(key),
                               .value = "{}",
                               .value_len = 2,
                               .headers = hdrs,
                               .header_cnt = 2};
    int32_t part = -1;
    int64_t off = -1;
    assert_int_equal(wdts_kafka_produce_sync(prod, &m, 30000, &part, &off), WDTS_OK);
    assert_true(part >= 0 && part < 12);
    assert_true(off >= 0);

    /* wdt.test has 12 partitions: partition 12 does not exist. */
    m.partition = 12;
    wdts_err_t err = wdts_kafka_produce_sync(prod, &m, 30000, NULL, NULL);
    assert_int_not_equal(err, WDTS_OK);
    fprintf(stderr, "partition 12: %s: %s\n", wdts_err2str(err), wdts_kafka_producer_errstr(prod));
    assert_non_null(strstr(wdts_kafka_producer_errstr(prod), "partition"));

    m.topic = NULL;
    assert_int_equal(wdts_kafka_produce(prod, &m), WDTS_ERR_INVAL);
    wdts_kafka_producer_destroy(prod);

    char group[96];
    snprintf(group, sizeof(group), "%smeta", wdts_test_prefix());
    struct wdts_param cp[] = {{"bootstrap.servers", brokers}, {"group.id", group}};
    struct wdts_kafka_consumer *cons = wdts_kafka_consumer_new(cp, 2, NULL, NULL, es, sizeof(es));
    assert_non_null(cons);
    int cnt = 0;
    assert_int_equal(wdts_kafka_consumer_partition_count(cons, "wdt.test", &cnt, 10000), WDTS_OK);
    assert_int_equal(cnt, 12);
    assert_int_equal(wdts_kafka_consumer_partition_count(cons, "wdt.records", &cnt, 10000),
                     WDTS_OK);
    assert_int_equal(cnt, 24);
    char missing[96];
    snprintf(missing, sizeof(missing), "%sno-such-topic", wdts_test_prefix());
    assert_int_equal(wdts_kafka_consumer_partition_count(cons, missing, &cnt, 10000),
                     WDTS_ERR_NOTFOUND);
    assert_non_null(strstr(wdts_kafka_consumer_errstr(cons), missing));

    int64_t lo = -1, hi = -1;
    assert_int_equal(wdts_kafka_consumer_watermarks(cons, "wdt.test", part, &lo, &hi, 10000),
                     WDTS_OK);
    assert_true(hi > off && lo <= off);

    /* A group that never committed: every partition has no committed offset. */
    struct wdts_kafka_lag lag[12];
    size_t n = 0;
    assert_int_equal(wdts_kafka_consumer_lag(cons, "wdt.test", lag, 12, &n, 10000), WDTS_OK);
    assert_int_equal(n, 12);
    assert_int_equal(lag[part].committed, WDTS_KAFKA_OFFSET_INVALID);
    assert_true(lag[part].lag >= 1);
    assert_int_equal(wdts_kafka_consumer_lag(cons, "wdt.test", lag, 4, &n, 10000),
                     WDTS_ERR_INVAL);
    assert_int_equal(n, 12);
    wdts_kafka_consumer_destroy(cons);
}

struct dr_count {
    int ok, failed, bad, seen[64];
};

static void count_dr(const struct wdts_kafka_dr *dr, void *opaque)
{
    struct dr_count *c = opaque;
    int i = (int)(intptr_t)dr->opaque;
    if (i < 1 || i >= 64) { /* no assert here: never longjmp out of librdkafka */
        c->bad++;
        return;
    }
    c->seen[i]++;
    if (dr->err == WDTS_OK)
        c->ok++;
    else
        c->failed++;
}

static void test_destroy_reports_every_message(void **state)
{
    (void)state;
    char es[512];
    struct dr_count c;
    memset(&c, 0, sizeof(c));
    /* A long linger keeps the messages queued, so destroy has to purge them. */
    struct wdts_param pp[] = {{"bootstrap.servers", brokers}, {"linger.ms", "10000"}};
    struct wdts_kafka_producer *prod = wdts_kafka_producer_new(pp, 2, count_dr, &c, es, sizeof(es));
    assert_non_null(prod);
    for (int i = 1; i < 64; i++) {
        struct wdts_kafka_out m = {.topic = "wdt.test",
                                   .partition = WDTS_KAFKA_PARTITION_ANY,
                                   .value = "x",
                                   .value_len = 1,
                                   .opaque = (void *)(intptr_t)i};
        assert_int_equal(wdts_kafka_produce(prod, &m), WDTS_OK);
    }
    assert_int_equal(wdts_kafka_producer_outq_len(prod), 63);
    wdts_kafka_producer_destroy(prod);
    assert_int_equal(c.bad, 0);
    for (int i = 1; i < 64; i++)
        assert_int_equal(c.seen[i], 1);
    fprintf(stderr, "destroy with 63 queued: %d delivered, %d purged\n", c.ok, c.failed);
    assert_int_equal(c.ok + c.failed, 63);
    assert_true(c.failed > 0);
}

int main(void)
{
    brokers = wdts_test_require_env("WDT_TEST_KAFKA_BROKERS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_producer_properties),
        cmocka_unit_test(test_bad_consumer_properties),
        cmocka_unit_test(test_sync_produce_and_metadata),
        cmocka_unit_test(test_destroy_reports_every_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
