/* At-least-once across consumers of one group: consumer A processes (stores) the
 * first K of our M messages and closes (close commits what was stored); consumer B in the same group must
 * then get exactly the M - K that A did not store: nothing committed is redelivered,
 * nothing uncommitted is lost. Also checks the rebalance callback, committed offsets
 * and lag. Other tests share wdt.test, so only keys with this run's prefix count. */
#include "wdts_test.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/kafka.h"
#include "wdts/str.h"
#include "wdts/time.h"

#define M 600
#define K 250
#define PARTS 12

static const char *brokers;

struct rebal {
    int assigned_events, revoked_events;
    int assigned, revoked; /* partitions of wdt.test, summed over events */
};

static void on_rebalance(enum wdts_kafka_rebalance ev, const struct wdts_kafka_tp *tps, size_t n,
                         void *opaque)
{
    struct rebal *rb = opaque;
    int cnt = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(tps[i].topic, "wdt.test") == 0 && tps[i].partition >= 0 &&
            tps[i].partition < PARTS)
            cnt++;
    if (ev == WDTS_KAFKA_ASSIGNED) {
        rb->assigned_events++;
        rb->assigned += cnt;
    } else {
        rb->revoked_events++;
        rb->revoked += cnt;
    }
}

/* The index of one of our keys ("<prefix>r<i>"), or 0 for a message of another test. */
static int our_index(const struct wdts_kafka_msg *msg, const char *prefix)
{
    size_t plen = strlen(prefix);
    char kbuf[96];
    long long i;
    if (msg->key == NULL || msg->key_len <= plen + 1 || msg->key_len >= sizeof(kbuf) ||
        memcmp(msg->key, prefix, plen) != 0 || ((const char *)msg->key)[plen] != 'r')
        return 0;
    memcpy(kbuf, msg->key, msg->key_len);
    kbuf[msg->key_len] = '\0';
    if (wdts_parse_int(kbuf + plen + 1, 1, M, &i) != WDTS_OK)
        return 0;
    return (int)i;
}

static struct wdts_kafka_consumer *new_consumer(const char *group, struct rebal *rb)
{
    char es[512];
    struct wdts_param cp[] = {{"bootstrap.servers", brokers}, {"group.id", group}};
    struct wdts_kafka_consumer *cons =
        wdts_kafka_consumer_new(cp, 2, on_rebalance, rb, es, sizeof(es));
    if (cons == NULL)
        fprintf(stderr, "consumer: %s\n", es);
    assert_non_null(cons);
    const char *topics[] = {"wdt.test"};
    assert_int_equal(wdts_kafka_consumer_subscribe(cons, topics, 1), WDTS_OK);
    return cons;
}

static void test_commit_close_resume(void **state)
{
    (void)state;
    const char *prefix = wdts_test_prefix();
    char es[512], key[96], group[96];
    static int in_a[M + 1], in_b[M + 1];
    snprintf(group, sizeof(group), "%sresume", prefix);

    struct wdts_param pp[] = {{"bootstrap.servers", brokers}};
    struct wdts_kafka_producer *prod = wdts_kafka_producer_new(pp, 1, NULL, NULL, es, sizeof(es));
    assert_non_null(prod);
    for (int i = 1; i <= M; i++) {
        snprintf(key, sizeof(key), "%sr%d", prefix, i);
        struct wdts_kafka_out m = {.topic = "wdt.test",
                                   .partition = WDTS_KAFKA_PARTITION_ANY,
                                   .key = key,
                                   .key_len = strlen(key),
                                   .value = key,
                                   .value_len = strlen(key)};
        assert_int_equal(wdts_kafka_produce(prod, &m), WDTS_OK);
    }
    assert_int_equal(wdts_kafka_producer_flush(prod, 60000), WDTS_OK);
    wdts_kafka_producer_destroy(prod);

    /* A: process (store) the first K of ours in poll order, then commit and close. */
    struct rebal rba = {0};
    struct wdts_kafka_consumer *a = new_consumer(group, &rba);
    int done_a = 0;
    int64_t t0 = wdts_time_mono_ms(), deadline = t0 + 120000;
    while (done_a < K && wdts_time_mono_ms() < deadline) {
        struct wdts_kafka_msg *msg = NULL;
        if (wdts_kafka_consumer_poll(a, 500, &msg) != WDTS_OK) {
            fprintf(stderr, "A poll: %s\n", wdts_kafka_consumer_errstr(a));
            continue;
        }
        if (msg == NULL)
            continue;
        int i = our_index(msg, prefix);
        if (i) {
            in_a[i]++;
            done_a++;
        }
        assert_int_equal(wdts_kafka_consumer_store_msg(a, msg), WDTS_OK);
        wdts_kafka_msg_destroy(msg);
    }
    assert_int_equal(done_a, K);
    assert_int_equal(rba.assigned_events, 1);
    assert_int_equal(rba.assigned, PARTS);
    /* No explicit commit: close() must commit what was stored. */
    assert_int_equal(wdts_kafka_consumer_close(a), WDTS_OK);
    assert_int_equal(rba.revoked_events, 1);
    assert_int_equal(rba.revoked, PARTS);
    wdts_kafka_consumer_destroy(a);
    int64_t t_a = wdts_time_mono_ms();

    /* B: same group; it must start where A committed. */
    struct rebal rbb = {0};
    struct wdts_kafka_consumer *b = new_consumer(group, &rbb);
    int got_b = 0, dup_b = 0, again_a = 0;
    int64_t quiet_until = 0;
    deadline = wdts_time_mono_ms() + 120000;
    /* Once all M - K came, keep polling 2 s more so a redelivery would show. */
    while (wdts_time_mono_ms() < deadline && (quiet_until == 0 || wdts_time_mono_ms() < quiet_until)) {
        struct wdts_kafka_msg *msg = NULL;
        if (wdts_kafka_consumer_poll(b, 200, &msg) != WDTS_OK) {
            fprintf(stderr, "B poll: %s\n", wdts_kafka_consumer_errstr(b));
            continue;
        }
        if (msg == NULL)
            continue;
        int i = our_index(msg, prefix);
        if (i) {
            if (in_a[i])
                again_a++;
            if (in_b[i]++)
                dup_b++;
            else
                got_b++;
            if (got_b + done_a == M && quiet_until == 0)
                quiet_until = wdts_time_mono_ms() + 2000;
        }
        assert_int_equal(wdts_kafka_consumer_store_msg(b, msg), WDTS_OK);
        wdts_kafka_msg_destroy(msg);
    }
    fprintf(stderr,
            "A processed %d (join+work %" PRId64 " ms); B got %d, %d of them already committed "
            "by A, %d duplicates (%" PRId64 " ms)\n",
            done_a, t_a - t0, got_b, again_a, dup_b, wdts_time_mono_ms() - t_a);
    assert_int_equal(again_a, 0);         /* nothing committed is redelivered */
    assert_int_equal(dup_b, 0);
    assert_int_equal(got_b, M - K);       /* nothing uncommitted is lost */
    for (int i = 1; i <= M; i++)
        assert_int_equal(in_a[i] + in_b[i], 1);

    /* B commits explicit offsets for the partitions it read, then what it stored. */
    struct wdts_kafka_tp tps[PARTS];
    for (int p = 0; p < PARTS; p++)
        tps[p] = (struct wdts_kafka_tp){.topic = "wdt.test", .partition = p, .offset = 0};
    assert_int_equal(wdts_kafka_consumer_commit(b, NULL, 0), WDTS_OK);
    assert_int_equal(wdts_kafka_consumer_committed(b, tps, PARTS, 10000), WDTS_OK);
    struct wdts_kafka_lag lag[PARTS];
    size_t n = 0;
    assert_int_equal(wdts_kafka_consumer_lag(b, "wdt.test", lag, PARTS, &n, 10000), WDTS_OK);
    assert_int_equal(n, PARTS);
    int64_t total_lag = 0;
    for (int p = 0; p < PARTS; p++) {
        assert_int_equal(lag[p].partition, p);
        assert_true(tps[p].offset >= 0);              /* every partition was read: committed */
        assert_true(lag[p].committed >= tps[p].offset); /* other tests may produce meanwhile */
        assert_true(lag[p].high >= lag[p].committed);
        total_lag += lag[p].lag;
    }
    fprintf(stderr, "B's group lag after commit: %" PRId64 " (other tests keep producing)\n",
            total_lag);

    /* An explicit commit moves one partition's committed offset exactly there (back by one). */
    assert_true(tps[0].offset > 0);
    struct wdts_kafka_tp one = {.topic = "wdt.test", .partition = 0, .offset = tps[0].offset - 1};
    assert_int_equal(wdts_kafka_consumer_commit(b, &one, 1), WDTS_OK);
    struct wdts_kafka_tp check = {.topic = "wdt.test", .partition = 0, .offset = -5};
    assert_int_equal(wdts_kafka_consumer_committed(b, &check, 1, 10000), WDTS_OK);
    assert_int_equal(check.offset, tps[0].offset - 1);

    /* After close, nothing can be stored or committed any more. */
    assert_int_equal(wdts_kafka_consumer_close(b), WDTS_OK);
    assert_int_equal(rbb.revoked, PARTS);
    assert_int_equal(wdts_kafka_consumer_store(b, "wdt.test", 0, 1), WDTS_ERR_SHUTDOWN);
    assert_int_equal(wdts_kafka_consumer_commit(b, NULL, 0), WDTS_ERR_SHUTDOWN);
    assert_int_equal(wdts_kafka_consumer_close(b), WDTS_OK);
    wdts_kafka_consumer_destroy(b);
}

int main(void)
{
    brokers = wdts_test_require_env("WDT_TEST_KAFKA_BROKERS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_close_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
