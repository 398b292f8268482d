/* Produces 10,000 messages with keys and headers to wdt.test and expects 10,000 good
 * delivery reports, each opaque exactly once; then a group consumer reads them all
 * back with keys, values and headers intact. Other tests share wdt.test, so only
 * keys with this run's prefix count. Prints the throughput it sees. */
#include "wdts_test.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/kafka.h"
#include "wdts/str.h"
#include "wdts/time.h"

#define N 10000

static const char *brokers;

struct reports {
    int ok, failed, bad;
    unsigned char *seen; /* N + 1 counters, indexed by opaque */
    char first_error[256];
};

static void on_dr(const struct wdts_kafka_dr *dr, void *opaque)
{
    struct reports *r = opaque;
    intptr_t i = (intptr_t)dr->opaque;
    if (i < 1 || i > N) { /* never assert (longjmp) out of librdkafka */
        r->bad++;
        return;
    }
    r->seen[i]++;
    if (dr->err == WDTS_OK && dr->partition >= 0 && dr->offset >= 0) {
        r->ok++;
    } else {
        if (!r->failed)
            snprintf(r->first_error, sizeof(r->first_error), "%s", dr->errstr);
        r->failed++;
    }
}

static void value_for(int i, char *buf, size_t size)
{
    snprintf(buf, size, "{\"v\":1,\"seq\":%d,\"data\":{\"trade_no\":\"T%08d\",\"amount\":%d.%02d}}",
             i, i, i * 7, i % 100);
}

static void test_produce_then_consume(void **state)
{
    (void)state;
    const char *prefix = wdts_test_prefix();
    char es[512], key[96], val[160], seq[16], tenant[96];
    struct reports r;
    memset(&r, 0, sizeof(r));
    r.seen = calloc(N + 1, 1);
    assert_non_null(r.seen);
    snprintf(tenant, sizeof(tenant), "%stenant", prefix);

    struct wdts_param pp[] = {{"bootstrap.servers", brokers}};
    struct wdts_kafka_producer *prod = wdts_kafka_producer_new(pp, 1, on_dr, &r, es, sizeof(es));
    assert_non_null(prod);
    int64_t t0 = wdts_time_mono_ms();
    int again = 0;
    for (int i = 1; i <= N; i++) {
        snprintf(key, sizeof(key), "%sk%d", prefix, i);
        value_for(i, val, sizeof(val));
        snprintf(seq, sizeof(seq), "%d", i);
        struct wdts_param hdrs[] = {
            {"report", "trades"}, {"tenant", tenant}, {"schema", "wdt.record.v1"}, {"seq", seq}};
        struct wdts_kafka_out m = {.topic = "wdt.test",
                                   .partition = WDTS_KAFKA_PARTITION_ANY,
                                   .key = key,
                                   .key_len = strlen(key),
                                   .value = val,
                                   .value_len = strlen(val),
                                   .headers = hdrs,
                                   .header_cnt = 4,
                                   .opaque = (void *)(intptr_t)i};
        wdts_err_t err;
        while ((err = wdts_kafka_produce(prod, &m)) == WDTS_ERR_AGAIN) {
            again++;
            wdts_kafka_producer_poll(prod, 10);
        }
        assert_int_equal(err, WDTS_OK);
        wdts_kafka_producer_poll(prod, 0);
    }
    int64_t t_queued = wdts_time_mono_ms();
    assert_int_equal(wdts_kafka_producer_flush(prod, 60000), WDTS_OK);
    int64_t t_done = wdts_time_mono_ms();
    fprintf(stderr, "produced %d messages: queued in %" PRId64 " ms, all reported after %" PRId64
                    " ms (queue full %d times); %d ok, %d failed%s%s\n",
            N, t_queued - t0, t_done - t0, again, r.ok, r.failed, r.failed ? ": " : "",
            r.first_error);
    assert_int_equal(r.bad, 0);
    assert_int_equal(r.failed, 0);
    assert_int_equal(r.ok, N);
    for (int i = 1; i <= N; i++)
        assert_int_equal(r.seen[i], 1);
    assert_int_equal(wdts_kafka_producer_outq_len(prod), 0);

    /* Header edge cases: a repeated name (the last one wins), a null value, an empty
     * value, and a message without key or headers. */
    char skey[96];
    snprintf(skey, sizeof(skey), "%sspecial", prefix);
    struct wdts_param shdrs[] = {{"report", "first"}, {"nullval", NULL}, {"empty", ""},
                                 {"report", "last"}};
    struct wdts_kafka_out sm = {.topic = "wdt.test",
                                .partition = WDTS_KAFKA_PARTITION_ANY,
                                .key = skey,
                                .key_len = strlen(skey),
                                .value = "v",
                                .value_len = 1,
                                .headers = shdrs,
                                .header_cnt = 4};
    assert_int_equal(wdts_kafka_produce_sync(prod, &sm, 30000, NULL, NULL), WDTS_OK);
    wdts_kafka_producer_destroy(prod);

    /* Read them back in a fresh group. */
    char group[96];
    snprintf(group, sizeof(group), "%sread", prefix);
    struct wdts_param cp[] = {{"bootstrap.servers", brokers}, {"group.id", group}};
    struct wdts_kafka_consumer *cons = wdts_kafka_consumer_new(cp, 2, NULL, NULL, es, sizeof(es));
    assert_non_null(cons);
    const char *topics[] = {"wdt.test"};
    assert_int_equal(wdts_kafka_consumer_subscribe(cons, topics, 1), WDTS_OK);
    memset(r.seen, 0, N + 1);
    int got = 0, dups = 0, errors = 0, foreign = 0, special = 0;
    int64_t c0 = wdts_time_mono_ms(), first = 0, deadline = c0 + 120000;
    size_t plen = strlen(prefix);
    while ((got < N || !special) && wdts_time_mono_ms() < deadline) {
        struct wdts_kafka_msg *msg = NULL;
        wdts_err_t err = wdts_kafka_consumer_poll(cons, 500, &msg);
        if (err != WDTS_OK) {
            fprintf(stderr, "poll: %s\n", wdts_kafka_consumer_errstr(cons));
            errors++;
            continue;
        }
        if (msg == NULL)
            continue;
        if (!first)
            first = wdts_time_mono_ms();
        if (msg->key_len <= plen + 1 || memcmp(msg->key, prefix, plen) != 0) {
            foreign++;
            wdts_kafka_msg_destroy(msg);
            continue;
        }
        if (msg->key_len == strlen(skey) && memcmp(msg->key, skey, msg->key_len) == 0) {
            size_t len = 99;
            assert_int_equal(msg->header_cnt, 4);
            assert_string_equal(wdts_kafka_msg_header(msg, "report", NULL), "last");
            assert_string_equal(msg->headers[0].value, "first");
            assert_null(wdts_kafka_msg_header(msg, "nullval", &len));
            assert_string_equal(msg->headers[1].name, "nullval");
            assert_null(msg->headers[1].value);
            assert_string_equal(wdts_kafka_msg_header(msg, "empty", &len), "");
            assert_int_equal(len, 0);
            special++;
            wdts_kafka_msg_destroy(msg);
            continue;
        }
        /* key "<prefix>k<i>": everything about message i must come back intact */
        char kbuf[96];
        long long i = 0;
        assert_true(msg->key_len < sizeof(kbuf));
        memcpy(kbuf, msg->key, msg->key_len);
        kbuf[msg->key_len] = '\0';
        assert_int_equal(kbuf[plen], 'k');
        assert_int_equal(wdts_parse_int(kbuf + plen + 1, 1, N, &i), WDTS_OK);
        value_for((int)i, val, sizeof(val));
        assert_int_equal(msg->value_len, strlen(val));
        assert_memory_equal(msg->value, val, msg->value_len);
        assert_int_equal(msg->header_cnt, 4);
        assert_string_equal(wdts_kafka_msg_header(msg, "report", NULL), "trades");
        assert_string_equal(wdts_kafka_msg_header(msg, "tenant", NULL), tenant);
        assert_string_equal(wdts_kafka_msg_header(msg, "schema", NULL), "wdt.record.v1");
        size_t slen = 0;
        snprintf(seq, sizeof(seq), "%lld", i);
        assert_string_equal(wdts_kafka_msg_header(msg, "seq", &slen), seq);
        assert_int_equal(slen, strlen(seq));
        assert_null(wdts_kafka_msg_header(msg, "absent", NULL));
        assert_string_equal(msg->topic, "wdt.test");
        assert_true(msg->partition >= 0 && msg->partition < 12 && msg->offset >= 0);
        if (r.seen[i]++)
            dups++;
        else
            got++;
        wdts_kafka_msg_destroy(msg);
    }
    int64_t c_done = wdts_time_mono_ms();
    fprintf(stderr,
            "consumed %d of ours (+%d from other tests, %d duplicates, %d poll errors): "
            "first message after %" PRId64 " ms (group join), all after %" PRId64 " ms\n",
            got, foreign, dups, errors, first ? first - c0 : -1, c_done - c0);
    assert_int_equal(got, N);
    assert_int_equal(dups, 0);
    assert_int_equal(special, 1);
    wdts_kafka_consumer_destroy(cons);
    free(r.seen);
}

int main(void)
{
    brokers = wdts_test_require_env("WDT_TEST_KAFKA_BROKERS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_produce_then_consume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
