/* The Kafka fixture: topics of this run made through the local Kafka's control FIFO
 * (WDT_TEST_KAFKA_CTL), a producer, the group offsets and partitions the broker reports,
 * and a wdt-localkafka of a test's own (its error injection is cluster-wide). */
#ifndef WDTS_TEST_KAFKA_H
#define WDTS_TEST_KAFKA_H

#include <stdint.h>
#include <sys/types.h>

struct wdts_kafka_producer;

/** Asks the local Kafka behind the control FIFO ctl to create topic with parts partitions
 * (served asynchronously); fails the test when the FIFO cannot be written. */
void wdts_test_kafka_create_topic(const char *ctl, const char *topic, int parts);

/** A producer to brokers, with linger.ms when it is not NULL; fails the test when none.
 * @owner new: wdts_kafka_producer_destroy(). */
struct wdts_kafka_producer *wdts_test_kafka_producer(const char *brokers, const char *linger_ms);

/** Sum of group's committed offsets over partitions 0..parts-1 of topic (none = 0). */
int64_t wdts_test_kafka_committed_sum(const char *brokers, const char *group, const char *topic,
                                      int parts);

/** Number of partitions of topic. */
int wdts_test_kafka_partitions(const char *brokers, const char *topic);

/** A wdt-localkafka of a test's own, one broker. */
struct wdts_test_own_kafka {
    pid_t pid;
    char dir[64];
    char boot[1024]; /* its bootstrap servers */
    char ctl[128], log[128];
};

/** Starts it with brokers brokers and one topic ("name:partitions") and waits (20 s at
 * most) for its bootstrap file. @returns 0, or -1 with the reason on stderr. */
int wdts_test_own_kafka_start(struct wdts_test_own_kafka *k, int brokers, const char *topic_spec);
/** Sends a control line and waits for its answer in the log. */
void wdts_test_own_kafka_control(struct wdts_test_own_kafka *k, const char *line,
                                 const char *answer);
/** Stops it (SIGTERM, SIGKILL after 20 s) and removes its directory.
 * @returns its exit status (128 + signal), or -1 when it had to be killed or never ran. */
int wdts_test_own_kafka_stop(struct wdts_test_own_kafka *k);

#endif
