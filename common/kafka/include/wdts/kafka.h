/* Kafka producer and consumer wrappers over librdkafka. Everything librdkafka
 * (rd_kafka_t, messages, partition lists) stays inside common/kafka/kafka.c; callers
 * see opaque handles, plain message views and wdts_err_t. This module does not
 * decide retries or log errors for the caller (except librdkafka's own log lines,
 * which go to WDTS_LOG with comp "kafka"). Transactions are not offered: the
 * local Kafka only goes through their motions (docs/DESIGN.md §3).
 *
 * Ownership and threads:
 *   caller --owns--> wdts_kafka_producer --queues--> messages (copied at produce)
 *                    every produced message gets exactly one delivery report, from
 *                    _poll/_flush, or at the latest from _destroy (err = purged)
 *   caller --owns--> wdts_kafka_consumer --yields--> wdts_kafka_msg (caller owns it
 *                    until wdts_kafka_msg_destroy(); destroy every msg before
 *                    wdts_kafka_consumer_close()/_destroy(), which wait for them)
 * A handle is used from one thread at a time. Callbacks (delivery reports,
 * rebalances) run on that thread, inside the call named in their doc. */
#ifndef WDTS_KAFKA_H
#define WDTS_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"
#include "wdts/str.h"

/** Let the partitioner choose (by key hash, murmur2_random: the Java client's choice). */
#define WDTS_KAFKA_PARTITION_ANY (-1)
/** An offset that is not known (no commit yet, or no delivery). */
#define WDTS_KAFKA_OFFSET_INVALID (-1001)

struct wdts_kafka_producer;
struct wdts_kafka_consumer;

/** A message header: a name and a byte value (our headers are text: report, tenant, schema). */
struct wdts_kafka_header {
    const char *name;  /* NUL-terminated */
    const char *value; /* NUL-terminated copy of the bytes; NULL for a null header */
    size_t value_len;  /* bytes, without the NUL */
};

/* ---------------------------------------------------------------------------------------------
 * Producer
 * ------------------------------------------------------------------------------------------- */

/** A message to produce. Every pointer is borrowed and copied by wdts_kafka_produce(). */
struct wdts_kafka_out {
    const char *topic;
    int32_t partition;                /* WDTS_KAFKA_PARTITION_ANY to partition by key */
    const void *key;                  /* may be NULL (no key) */
    size_t key_len;
    const void *value;                /* may be NULL (a tombstone) */
    size_t value_len;
    const struct wdts_param *headers; /* name = value text headers; may be NULL */
    size_t header_cnt;
    void *opaque;                     /* handed back in this message's delivery report */
};

/** The outcome of one produced message. Every pointer is borrowed for the callback only. */
struct wdts_kafka_dr {
    void *opaque;       /* the message's wdts_kafka_out.opaque */
    wdts_err_t err;     /* WDTS_OK when the broker acknowledged it; WDTS_ERR_KAFKA otherwise */
    const char *errstr; /* librdkafka's reason when err != WDTS_OK; "" otherwise */
    const char *topic;
    int32_t partition;  /* -1 when never assigned */
    int64_t offset;     /* the message's offset, or WDTS_KAFKA_OFFSET_INVALID */
    const void *key;
    size_t key_len;
};

/**
 * @brief Delivery-report callback.
 * @thread the caller's thread, from inside wdts_kafka_producer_poll(), _flush(),
 *         wdts_kafka_produce_sync() or _destroy(). It must not call _destroy().
 */
typedef void (*wdts_kafka_dr_cb)(const struct wdts_kafka_dr *dr, void *cb_opaque);

/**
 * @brief Creates a producer.
 * @param props librdkafka properties (key = property name, e.g. "bootstrap.servers"),
 *        applied in order over the defaults (enable.idempotence=true); each is checked,
 *        and errstr names the first one that is rejected.
 * @param dr_cb called once per message produced with wdts_kafka_produce(); may be NULL.
 * @owner props: borrowed (copied). cb_opaque: borrowed, must outlive the producer.
 *        Returns a new object; free with wdts_kafka_producer_destroy().
 * @returns NULL on failure, with the reason in errstr.
 */
struct wdts_kafka_producer *wdts_kafka_producer_new(const struct wdts_param *props, size_t nprops,
                                                    wdts_kafka_dr_cb dr_cb, void *cb_opaque,
                                                    char *errstr, size_t errstr_size);

/**
 * @brief Queues one message; its delivery report comes later from _poll()/_flush().
 * @returns WDTS_OK when queued; WDTS_ERR_AGAIN when the local queue is full (poll, then
 *          retry); WDTS_ERR_INVAL for a bad message (too large, unknown partition, no
 *          topic); WDTS_ERR_KAFKA for a fatal producer error (recreate the producer).
 *          Details: wdts_kafka_producer_errstr(). No report is made for a message
 *          that was not queued.
 */
wdts_err_t wdts_kafka_produce(struct wdts_kafka_producer *prod, const struct wdts_kafka_out *msg);

/**
 * @brief Serves delivery reports (and other events), waiting at most timeout_ms.
 * @returns the number of events served.
 */
int wdts_kafka_producer_poll(struct wdts_kafka_producer *prod, int timeout_ms);

/**
 * @brief Waits until every queued message has its delivery report (served here).
 * @returns WDTS_OK, or WDTS_ERR_TIMEOUT with the count still outstanding in errstr.
 */
wdts_err_t wdts_kafka_producer_flush(struct wdts_kafka_producer *prod, int timeout_ms);

/** @returns messages queued or in flight whose delivery report has not been served. */
int wdts_kafka_producer_outq_len(struct wdts_kafka_producer *prod);

/**
 * @brief Learns the partitions and leaders of topic before the first message, so that the
 *        first pages do not wait in the local queue for them. Blocks up to twice timeout_ms.
 * @returns WDTS_OK; WDTS_ERR_NOTFOUND when the cluster has no such topic (never created
 *          by asking); WDTS_ERR_TIMEOUT or WDTS_ERR_KAFKA with the reason in the errstr.
 */
wdts_err_t wdts_kafka_producer_topic_ready(struct wdts_kafka_producer *prod, const char *topic,
                                           int timeout_ms);

/**
 * @brief Produces one message and waits for its own delivery report (for CLIs and tests).
 *        Reports of other messages served meanwhile go to the dr_cb as usual; this
 *        message's report does not (msg->opaque is ignored).
 * @param partition, offset where the message landed (may be NULL).
 * @returns WDTS_OK when delivered; WDTS_ERR_TIMEOUT when no report came in timeout_ms
 *          (the message may still be delivered later); otherwise as wdts_kafka_produce()
 *          or WDTS_ERR_KAFKA with the broker's reason in errstr.
 */
wdts_err_t wdts_kafka_produce_sync(struct wdts_kafka_producer *prod,
                                   const struct wdts_kafka_out *msg, int timeout_ms,
                                   int32_t *partition, int64_t *offset);

/** @returns the detail of the last failure of a call on prod ("" if none). Borrowed. */
const char *wdts_kafka_producer_errstr(const struct wdts_kafka_producer *prod);

/**
 * @brief Destroys the producer. Messages without a delivery report yet are purged and
 *        reported to dr_cb with an error, so every opaque comes back exactly once.
 *        Call _flush() first to deliver them. NULL is a no-op.
 */
void wdts_kafka_producer_destroy(struct wdts_kafka_producer *prod);

/* ---------------------------------------------------------------------------------------------
 * Consumer
 * ------------------------------------------------------------------------------------------- */

/** A topic partition and an offset (meaning depends on the call). */
struct wdts_kafka_tp {
    const char *topic; /* borrowed */
    int32_t partition;
    int64_t offset;
};

/**
 * A consumed message, owned by the caller until wdts_kafka_msg_destroy(). Every
 * pointer in it lives as long as the message.
 */
struct wdts_kafka_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* -1 when the message has none */
    const void *key;      /* NULL when the message has no key */
    size_t key_len;
    const void *value;    /* NULL for a tombstone */
    size_t value_len;
    const struct wdts_kafka_header *headers;
    size_t header_cnt;
};

/** Frees a consumed message. NULL is a no-op. */
void wdts_kafka_msg_destroy(struct wdts_kafka_msg *msg);

/**
 * @brief The value of the last header called name, or NULL.
 * @owner borrowed from msg. value_len may be NULL.
 */
const char *wdts_kafka_msg_header(const struct wdts_kafka_msg *msg, const char *name,
                                  size_t *value_len);

/** What a rebalance callback is told. */
enum wdts_kafka_rebalance {
    WDTS_KAFKA_ASSIGNED = 0, /* these partitions are now ours */
    WDTS_KAFKA_REVOKED,      /* these partitions are no longer ours once the callback returns */
};

/**
 * @brief Rebalance callback: the caller learns of assigned and revoked partitions.
 *        On REVOKED the callback may store offsets for in-flight work it finishes
 *        now; after it returns, the stored offsets are committed and the partitions
 *        dropped (messages not stored will be redelivered to the new owner).
 *        Offsets in tps are not meaningful. The wrapper does the (un)assign itself.
 * @thread the caller's thread, inside wdts_kafka_consumer_poll() or _close().
 */
typedef void (*wdts_kafka_rebalance_cb)(enum wdts_kafka_rebalance ev,
                                        const struct wdts_kafka_tp *tps, size_t n,
                                        void *cb_opaque);

/**
 * @brief Creates a group consumer (it joins the group at wdts_kafka_consumer_subscribe()).
 * @param props librdkafka properties applied in order over the defaults
 *        (session.timeout.ms=6000, heartbeat.interval.ms=1000, auto.offset.reset=earliest);
 *        group.id is required. enable.auto.commit and enable.auto.offset.store are
 *        always false: a property setting either to true is rejected.
 * @param rebalance_cb may be NULL.
 * @owner props: borrowed (copied). cb_opaque: borrowed, must outlive the consumer.
 *        Returns a new object; free with wdts_kafka_consumer_destroy().
 * @returns NULL on failure, with the reason (naming the property) in errstr.
 */
struct wdts_kafka_consumer *wdts_kafka_consumer_new(const struct wdts_param *props,
                                                    size_t nprops,
                                                    wdts_kafka_rebalance_cb rebalance_cb,
                                                    void *cb_opaque, char *errstr,
                                                    size_t errstr_size);

/** @brief Subscribes to topics (replacing any earlier subscription). @owner topics: borrowed. */
wdts_err_t wdts_kafka_consumer_subscribe(struct wdts_kafka_consumer *cons,
                                         const char *const *topics, size_t ntopics);

/**
 * @brief Waits at most timeout_ms for one message; serves rebalances meanwhile.
 * @param out set to a new message (caller destroys it), or NULL when none came.
 * @returns WDTS_OK (with or without a message); WDTS_ERR_KAFKA for a consumer error
 *          (details in _errstr(); most are transient, e.g. a broker went away: keep
 *          polling), or for a fatal error, after which every call fails (recreate).
 */
wdts_err_t wdts_kafka_consumer_poll(struct wdts_kafka_consumer *cons, int timeout_ms,
                                    struct wdts_kafka_msg **out);

/**
 * @brief Stores next_offset (the offset of the next message to read: processed + 1)
 *        for a partition; stored offsets are committed by _commit(NULL), on revoke and
 *        at _close(). Offsets are positional: storing N+1 marks everything before it.
 * @returns WDTS_OK; WDTS_ERR_NOTFOUND when the partition is not assigned to this
 *          consumer (any more): its messages go to the new owner.
 */
wdts_err_t wdts_kafka_consumer_store(struct wdts_kafka_consumer *cons, const char *topic,
                                     int32_t partition, int64_t next_offset);

/**
 * @brief Pauses (pause = 1) or resumes (0) fetching one assigned partition, for
 *        backpressure: messages of it already fetched are dropped and fetched again on
 *        resume, from the position after the last message returned. A partition assigned
 *        later starts unpaused (pause it from the ASSIGNED rebalance callback).
 */
wdts_err_t wdts_kafka_consumer_pause_partition(struct wdts_kafka_consumer *cons,
                                               const char *topic, int32_t partition, int pause);

/** @brief Stores msg->offset + 1 for msg's partition (see wdts_kafka_consumer_store()). */
wdts_err_t wdts_kafka_consumer_store_msg(struct wdts_kafka_consumer *cons,
                                         const struct wdts_kafka_msg *msg);

/**
 * @brief Commits synchronously: the stored offsets when tps is NULL, or exactly the
 *        given offsets (each the next offset to read).
 * @returns WDTS_OK (also when nothing was stored); WDTS_ERR_AGAIN during a rebalance
 *          (REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION from the broker, or a subscribed
 *          consumer that holds no partitions right now, in which case nothing is sent:
 *          keep polling and retry after the rebalance callback reports ASSIGNED; after
 *          ILLEGAL_GENERATION librdkafka drops the assignment and what was stored, so
 *          those messages come again); WDTS_ERR_KAFKA otherwise.
 */
wdts_err_t wdts_kafka_consumer_commit(struct wdts_kafka_consumer *cons,
                                      const struct wdts_kafka_tp *tps, size_t n);

/**
 * @brief Reads the group's committed offsets: tps[i].offset becomes the committed
 *        next offset, or WDTS_KAFKA_OFFSET_INVALID when the group has none. Works without
 *        subscribing (a consumer whose group.id names another group reads that group).
 */
wdts_err_t wdts_kafka_consumer_committed(struct wdts_kafka_consumer *cons,
                                         struct wdts_kafka_tp *tps, size_t n, int timeout_ms);

/**
 * @brief Asks the partition leader for the low and high watermarks of a partition.
 *        On a consumer that is fetching, each such request may wait behind a Fetch
 *        long poll (fetch.wait.max.ms, 500 ms) on the same connection: for metrics,
 *        prefer _lag() (batched) or a consumer handle that never subscribes.
 */
wdts_err_t wdts_kafka_consumer_watermarks(struct wdts_kafka_consumer *cons, const char *topic,
                                          int32_t partition, int64_t *low, int64_t *high,
                                          int timeout_ms);

/**
 * @brief The number of partitions of an existing topic, from cluster metadata.
 *        Never creates the topic. @returns WDTS_ERR_NOTFOUND for an unknown topic.
 */
wdts_err_t wdts_kafka_consumer_partition_count(struct wdts_kafka_consumer *cons,
                                               const char *topic, int *count, int timeout_ms);

/** Lag of one partition for the consumer's group. */
struct wdts_kafka_lag {
    int32_t partition;
    int64_t committed; /* committed next offset, or WDTS_KAFKA_OFFSET_INVALID */
    int64_t low, high; /* watermarks */
    int64_t lag;       /* high - committed (high - low when nothing is committed) */
};

/**
 * @brief The group's lag on every partition of topic (committed offsets + watermarks,
 *        one metadata, one OffsetFetch and two batched ListOffsets requests).
 * @param out array of cap entries; *n is set to the partition count. When the topic has
 *        more than cap partitions, WDTS_ERR_INVAL is returned and *n tells how many.
 */
wdts_err_t wdts_kafka_consumer_lag(struct wdts_kafka_consumer *cons, const char *topic,
                                   struct wdts_kafka_lag *out, size_t cap, size_t *n,
                                   int timeout_ms);

/** @returns the detail of the last failure of a call on cons ("" if none). Borrowed. */
const char *wdts_kafka_consumer_errstr(const struct wdts_kafka_consumer *cons);

/**
 * @brief Commits what was stored, then leaves the group (the rebalance callback sees
 *        the revoke). Call once, before _destroy(); further calls are no-ops. Afterwards
 *        _subscribe/_poll/_store/_commit answer WDTS_ERR_SHUTDOWN.
 * @returns the commit's result: WDTS_OK, or an error (the group was still left).
 */
wdts_err_t wdts_kafka_consumer_close(struct wdts_kafka_consumer *cons);

/** Closes (if not done yet) and frees the consumer. NULL is a no-op. */
void wdts_kafka_consumer_destroy(struct wdts_kafka_consumer *cons);

#endif
