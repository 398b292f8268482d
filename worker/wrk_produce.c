/* Producing to Kafka from the event loop: while the producer's local queue is full, polls
 * it so it drains (up to 100 times; the time counted in
 * wdt_worker_produce_blocked_seconds_total). */
#include "wdts/log.h"
#include "wdts/time.h"
#include "wrk_int.h"

wdts_err_t wrk_produce(struct wrk *w, const char *topic, const char *key, size_t key_len,
                       const char *value, size_t value_len, const struct wdts_param *hdrs,
                       size_t nhdrs, void *opaque)
{
    struct wdts_kafka_out out = {
        .topic = topic,
        .partition = WDTS_KAFKA_PARTITION_ANY,
        .key = key,
        .key_len = key_len,
        .value = value,
        .value_len = value_len,
        .headers = hdrs,
        .header_cnt = nhdrs,
        .opaque = opaque,
    };
    int64_t blocked_since = 0;
    for (int tries = 0;; tries++) {
        wdts_err_t err = wdts_kafka_produce(w->prod, &out);
        if (err != WDTS_ERR_AGAIN || tries >= 100) {
            if (blocked_since)
                wdts_metrics_add(w->m.queue_full_s,
                                 (double)(wdts_time_mono_ms() - blocked_since) / 1000.0);
            if (err != WDTS_OK)
                WDTS_LOG(ERROR, "kafka", "produce to %s: %s", topic,
                         wdts_kafka_producer_errstr(w->prod));
            return err;
        }
        if (!blocked_since)
            blocked_since = wdts_time_mono_ms();
        wdts_kafka_producer_poll(w->prod, 10); /* the local queue is full: let it drain */
    }
}
