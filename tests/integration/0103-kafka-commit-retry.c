/* Commit errors during a rebalance are retryable: with an own wdt-localkafka (error
 * injection is cluster-wide, so not on the shared one), OffsetCommit is made to fail
 * with REBALANCE_IN_PROGRESS and ILLEGAL_GENERATION; the wrapper must answer
 * WDTS_ERR_AGAIN, and retrying after polling must commit every stored offset. Also:
 * an injected retriable Produce error is absorbed by the idempotent producer. */
#include "wdts_test.h"

#include <stdio.h>
#include <string.h>

#include "wdts/kafka.h"
#include "wdts/time.h"
#include "wdts_test_kafka.h"

#define TOPIC "retry.test"
#define PARTS 3
#define MSGS 30

static struct wdts_test_own_kafka kafka; /* error injection is cluster-wide: our own */

static int start_kafka(void **state)
{
    (void)state;
    return wdts_test_own_kafka_start(&kafka, 3, TOPIC ":3");
}

static int stop_kafka(void **state)
{
    (void)state;
    if (wdts_test_own_kafka_stop(&kafka) != 0) {
        fprintf(stderr, "wdt-localkafka did not exit 0 on SIGTERM\n");
        return -1;
    }
    return 0;
}

static void test_commit_again_then_ok(void **state)
{
    (void)state;
    char es[512];
    struct wdts_param pp[] = {{"bootstrap.servers", kafka.boot}};
    struct wdts_kafka_producer *prod = wdts_kafka_producer_new(pp, 1, NULL, NULL, es, sizeof(es));
    assert_non_null(prod);
    for (int i = 0; i < MSGS; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        struct wdts_kafka_out m = {.topic = TOPIC,
                                   .partition = WDTS_KAFKA_PARTITION_ANY,
                                   .key = key,
                                   .key_len = strlen(key),
                                   .value = key,
                                   .value_len = strlen(key)};
        assert_int_equal(wdts_kafka_produce(prod, &m), WDTS_OK);
    }
    assert_int_equal(wdts_kafka_producer_flush(prod, 30000), WDTS_OK);

    /* Two NOT_LEADER answers to Produce: librdkafka retries, the report is still good. */
    wdts_test_own_kafka_control(&kafka, "error Produce NOT_LEADER_FOR_PARTITION 2",
                                "error Produce NOT_LEADER_FOR_PARTITION 2: ok");
    struct wdts_kafka_out m = {.topic = TOPIC, .partition = 0, .value = "x", .value_len = 1};
    assert_int_equal(wdts_kafka_produce_sync(prod, &m, 30000, NULL, NULL), WDTS_OK);
    wdts_kafka_producer_destroy(prod);
    const int total = MSGS + 1;

    struct wdts_param cp[] = {{"bootstrap.servers", kafka.boot}, {"group.id", "retry-group"}};
    struct wdts_kafka_consumer *cons = wdts_kafka_consumer_new(cp, 2, NULL, NULL, es, sizeof(es));
    assert_non_null(cons);
    const char *topics[] = {TOPIC};
    assert_int_equal(wdts_kafka_consumer_subscribe(cons, topics, 1), WDTS_OK);
    int got = 0;
    int64_t deadline = wdts_time_mono_ms() + 60000;
    while (got < total && wdts_time_mono_ms() < deadline) {
        struct wdts_kafka_msg *msg = NULL;
        if (wdts_kafka_consumer_poll(cons, 200, &msg) != WDTS_OK || msg == NULL)
            continue;
        got++;
        assert_int_equal(wdts_kafka_consumer_store_msg(cons, msg), WDTS_OK);
        wdts_kafka_msg_destroy(msg);
    }
    assert_int_equal(got, total);

    /* First the stored offsets, then explicit ones (the high watermarks). Nothing new
     * would be sent for stored offsets already committed, so the second round uses
     * the explicit form, which is always sent. */
    static const char *const errs[] = {"REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION"};
    struct wdts_kafka_tp tps[PARTS];
    for (int p = 0; p < PARTS; p++) {
        int64_t lo, hi;
        assert_int_equal(wdts_kafka_consumer_watermarks(cons, TOPIC, p, &lo, &hi, 10000), WDTS_OK);
        tps[p] = (struct wdts_kafka_tp){.topic = TOPIC, .partition = p, .offset = hi};
    }
    for (int e = 0; e < 2; e++) {
        char line[128], answer[128];
        const struct wdts_kafka_tp *list = e == 0 ? NULL : tps;
        size_t nlist = e == 0 ? 0 : PARTS;
        snprintf(line, sizeof(line), "error OffsetCommit %s", errs[e]);
        snprintf(answer, sizeof(answer), "error OffsetCommit %s 1: ok", errs[e]);
        wdts_test_own_kafka_control(&kafka, line, answer);
        wdts_err_t err = wdts_kafka_consumer_commit(cons, list, nlist);
        fprintf(stderr, "%s commit with %s injected: %s: %s\n", e == 0 ? "stored" : "explicit",
                errs[e], wdts_err2str(err), wdts_kafka_consumer_errstr(cons));
        assert_int_equal(err, WDTS_ERR_AGAIN);
        assert_true(wdts_err_is_retriable(err));
        assert_non_null(strstr(wdts_kafka_consumer_errstr(cons), "rebalance"));
        int tries = 0;
        deadline = wdts_time_mono_ms() + 60000;
        while (err == WDTS_ERR_AGAIN && wdts_time_mono_ms() < deadline) {
            struct wdts_kafka_msg *msg = NULL;
            wdts_kafka_consumer_poll(cons, 200, &msg);
            assert_null(msg); /* everything was read */
            err = wdts_kafka_consumer_commit(cons, list, nlist);
            tries++;
        }
        fprintf(stderr, "  then %s after %d more tries\n", wdts_err2str(err), tries);
        assert_int_equal(err, WDTS_OK);
    }

    /* Every message is committed: lag 0 on every partition, offsets sum to total. */
    struct wdts_kafka_lag lag[PARTS];
    size_t n = 0;
    assert_int_equal(wdts_kafka_consumer_lag(cons, TOPIC, lag, PARTS, &n, 10000), WDTS_OK);
    assert_int_equal(n, PARTS);
    int64_t sum = 0;
    for (int p = 0; p < PARTS; p++) {
        assert_int_equal(lag[p].lag, 0);
        assert_int_equal(lag[p].committed, lag[p].high);
        sum += lag[p].committed;
    }
    assert_int_equal(sum, total);
    assert_int_equal(wdts_kafka_consumer_close(cons), WDTS_OK);
    wdts_kafka_consumer_destroy(cons);
}

int main(void)
{
    /* Needs no shared service, but runs with the others so the same switch applies. */
    wdts_test_require_env("WDT_TEST_KAFKA_BROKERS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_again_then_ok),
    };
    return cmocka_run_group_tests(tests, start_kafka, stop_kafka);
}
