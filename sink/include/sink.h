/* The reference downstream consumer (wdt-sink-sqlite): reads record envelopes and window
 * markers from the records topic in a consumer group of its own and upserts them into
 * SQLite (sink_db_int.h), committing Kafka offsets only after the SQLite transaction that
 * holds the messages has committed (at-least-once; a crash in between only re-upserts).
 *
 * Ownership and threads:
 *   sink_run() --owns--> wdts_kafka_consumer, sink_db, catalog (all for the call)
 *   the caller owns opts and the stop flag; everything runs on the caller's thread
 *   (the rebalance callback too, from inside the consumer poll). */
#ifndef SINK_H
#define SINK_H

#include <signal.h>
#include <stddef.h>

#include "wdts/str.h"

struct sink_opts {
    const char *db_path;                 /* SQLite file, created when absent */
    const char *group;                   /* consumer group id */
    const char *const *topics;           /* topics to subscribe to */
    size_t ntopics;
    const struct wdts_param *kafka;      /* librdkafka properties (bootstrap.servers, …) */
    size_t kafka_cnt;
    int once_idle_s;                     /* > 0: exit 0 after this long without a message */
    int batch_max;                       /* most messages in one SQLite transaction */
    int batch_ms;                        /* longest a transaction stays open */
    const char *http_listen;             /* host:port of /metrics /healthz /readyz; NULL: none */
    const char *catalog_path;            /* report catalog file; NULL: the built-in one */
    volatile sig_atomic_t *stop;         /* set by the caller's SIGTERM/SIGINT handler */
};

/**
 * @brief Runs the consumer until *stop is set, or until once_idle_s seconds pass with
 *        no message. On the way out it commits the open transaction, commits the
 *        offsets and leaves the group.
 * @owner opts and everything it points to: borrowed for the call.
 * @returns an exit code: WDTS_EXIT_OK, or WDTS_EXIT_FATAL after a SQLite or fatal Kafka
 *          error (logged; the offsets of the failed batch are not committed).
 */
int sink_run(const struct sink_opts *opts);

#endif
