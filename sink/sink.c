/* The consume loop of the reference consumer (see sink.h): poll, decode, apply to the
 * open SQLite transaction, and every batch_max messages or batch_ms commit SQLite, then
 * store and commit the batch's offsets. A revoke flushes the open batch from inside the
 * rebalance callback, so no partition leaves with applied-but-unstored messages. It does not retry
 * SQLite errors: it exits, and the uncommitted messages come again on the next start. */
#include "sink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink_db_int.h"
#include "sink_msg_int.h"
#include "wdts/catalog.h"
#include "wdts/err.h"
#include "wdts/http_server.h"
#include "wdts/kafka.h"
#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/metrics.h"
#include "wdts/time.h"

#define POLL_MS 100
#define PROGRESS_MS 5000
/* With --once-idle, how long to wait for the first assignment before giving up. */
#define FIRST_ASSIGN_GRACE_MS 60000

/* The next offset to store for one partition of the open batch. */
struct part_off {
    char *topic;
    int32_t partition;
    int64_t next;
};

struct sink {
    const struct sink_opts *opts;
    struct wdts_kafka_consumer *cons;
    struct sink_db *db;
    struct wdts_catalog *cat;

    struct part_off *offs; /* partitions touched by the open batch */
    size_t noffs, cap;
    int batch_n; /* messages applied to the open transaction */
    int64_t batch_opened_ms;

    int assigned; /* partitions held now */
    int ever_assigned;
    int64_t assigned_ms;
    int fatal;

    uint64_t msgs, records, outcomes[4], markers, rejects, batches;

    /* Optional observability (opts->http_listen): series cached once, updated per batch. */
    struct wdts_metrics *reg;
    struct wdts_http_server *http;
    struct wdts_metric_series *m_msgs[6]; /* inserted updated duplicate stale marker rejected */
    struct wdts_metric_series *m_tx, *m_parts, *m_last_commit;
    uint64_t reported[6];
    int64_t started_ms, last_msg_ms, last_progress_ms, last_error_log_ms;
};

static void track_offset(struct sink *s, const struct wdts_kafka_msg *msg)
{
    for (size_t i = 0; i < s->noffs; i++) {
        if (s->offs[i].partition == msg->partition && strcmp(s->offs[i].topic, msg->topic) == 0) {
            if (msg->offset + 1 > s->offs[i].next)
                s->offs[i].next = msg->offset + 1;
            return;
        }
    }
    if (s->noffs == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->offs = wdts_xrealloc(s->offs, s->cap * sizeof(*s->offs));
    }
    s->offs[s->noffs++] =
        (struct part_off){wdts_xstrdup(msg->topic), msg->partition, msg->offset + 1};
}

static void clear_offsets(struct sink *s)
{
    for (size_t i = 0; i < s->noffs; i++)
        free(s->offs[i].topic);
    s->noffs = 0;
}

static const char *const metric_outcomes[6] = {"inserted", "updated", "duplicate",
                                               "stale",    "marker",  "rejected"};

static int metrics_start(struct sink *s)
{
    char es[256];
    static const char *const lbl[] = {"outcome"};
    s->reg = wdts_metrics_new();
    struct wdts_metric *msgs = wdts_metrics_counter(
        s->reg, "wdt_sink_messages_total",
        "Messages applied to SQLite (committed), by what they did.", lbl, 1, es, sizeof(es));
    struct wdts_metric *tx =
        wdts_metrics_counter(s->reg, "wdt_sink_transactions_total",
                             "SQLite transactions committed.", NULL, 0, es, sizeof(es));
    struct wdts_metric *parts =
        wdts_metrics_gauge(s->reg, "wdt_sink_partitions_assigned",
                           "Partitions this consumer holds.", NULL, 0, es, sizeof(es));
    struct wdts_metric *last = wdts_metrics_gauge(
        s->reg, "wdt_sink_last_commit_timestamp_seconds",
        "Unix time of the last SQLite commit (whose offsets were then committed).", NULL, 0, es,
        sizeof(es));
    WDTS_ASSERT(msgs && tx && parts && last);
    for (int i = 0; i < 6; i++) {
        const char *v[] = {metric_outcomes[i]};
        s->m_msgs[i] = wdts_metrics_series(msgs, v);
    }
    s->m_tx = wdts_metrics_series(tx, NULL);
    s->m_parts = wdts_metrics_series(parts, NULL);
    s->m_last_commit = wdts_metrics_series(last, NULL);
    s->http = wdts_http_server_new(s->opts->http_listen, s->reg, NULL, NULL, es, sizeof(es));
    if (s->http == NULL) {
        WDTS_LOG(ERROR, "sink", "metrics endpoint %s: %s", s->opts->http_listen, es);
        return -1;
    }
    WDTS_LOG(INFO, "sink", "serving /metrics, /healthz, /readyz on port %u",
             wdts_http_server_port(s->http));
    return 0;
}

/* Brings the counters up to what is committed now. */
static void metrics_update(struct sink *s)
{
    if (s->reg == NULL)
        return;
    uint64_t now[6] = {s->outcomes[SINK_INSERTED],
                       s->outcomes[SINK_UPDATED],
                       s->outcomes[SINK_DUPLICATE],
                       s->outcomes[SINK_STALE],
                       s->markers,
                       s->rejects};
    for (int i = 0; i < 6; i++) {
        wdts_metrics_add(s->m_msgs[i], (double)(now[i] - s->reported[i]));
        s->reported[i] = now[i];
    }
    wdts_metrics_inc(s->m_tx);
    wdts_metrics_set(s->m_last_commit, (double)wdts_time_now());
}

/* Commits the open transaction, then stores its offsets; with commit_kafka also commits
 * them now (not inside the rebalance callback, where the wrapper commits after it). */
static void flush(struct sink *s, int commit_kafka)
{
    if (s->batch_n == 0 || s->fatal)
        return;
    if (sink_db_commit(s->db) != WDTS_OK) {
        WDTS_LOG(ERROR, "sink",
                 "SQLite commit failed: %s; the batch's offsets are not committed, "
                 "its %d messages come again on restart",
                 sink_db_errstr(s->db), s->batch_n);
        sink_db_rollback(s->db);
        s->fatal = 1;
        return;
    }
    /* Only now are the messages durable in SQLite: their offsets may move on. */
    for (size_t i = 0; i < s->noffs; i++) {
        wdts_err_t err = wdts_kafka_consumer_store(s->cons, s->offs[i].topic, s->offs[i].partition,
                                                   s->offs[i].next);
        if (err != WDTS_OK)
            WDTS_LOG(DEBUG, "sink",
                     "store %s [%" PRId32 "] @%" PRId64 ": %s (not ours any more: "
                     "the new owner re-reads and re-upserts them)",
                     s->offs[i].topic, s->offs[i].partition, s->offs[i].next, wdts_err2str(err));
    }
    clear_offsets(s);
    s->batch_n = 0;
    s->batches++;
    metrics_update(s);
    if (!commit_kafka)
        return;
    wdts_err_t err = wdts_kafka_consumer_commit(s->cons, NULL, 0);
    if (err == WDTS_ERR_AGAIN)
        WDTS_LOG(INFO, "sink",
                 "offset commit deferred: rebalance in progress (the offsets "
                 "stay stored and go with the next commit)");
    else if (err != WDTS_OK)
        WDTS_LOG(WARN, "sink", "offset commit failed: %s (retried with the next batch)",
                 wdts_kafka_consumer_errstr(s->cons));
}

static void on_rebalance(enum wdts_kafka_rebalance ev, const struct wdts_kafka_tp *tps, size_t n,
                         void *opaque)
{
    struct sink *s = opaque;
    (void)tps; /* all of the batch is flushed on any revoke: simpler than per partition */
    if (ev == WDTS_KAFKA_ASSIGNED) {
        s->assigned += (int)n;
        s->ever_assigned = 1;
        s->assigned_ms = wdts_time_mono_ms();
        WDTS_LOG(INFO, "sink", "assigned %zu partitions (%d held)", n, s->assigned);
        if (s->reg) {
            wdts_metrics_set(s->m_parts, s->assigned);
            wdts_http_server_set_ready(s->http, 1, NULL);
        }
        return;
    }
    /* Finish what we applied before the partitions go: the wrapper commits what is stored. */
    int open_n = s->batch_n;
    flush(s, 0);
    s->assigned -= (int)n;
    if (s->assigned < 0)
        s->assigned = 0;
    if (open_n > 0 && !s->fatal)
        WDTS_LOG(INFO, "sink",
                 "revoked %zu partitions (%d held) after committing the open "
                 "transaction of %d messages",
                 n, s->assigned, open_n);
    else
        WDTS_LOG(INFO, "sink", "revoked %zu partitions (%d held)", n, s->assigned);
    if (s->reg)
        wdts_metrics_set(s->m_parts, s->assigned);
}

static void apply_reject(struct sink *s, const struct wdts_kafka_msg *msg, const char *report,
                         const char *reason)
{
    int stored = 0;
    if (sink_db_put_reject(s->db, msg->topic, msg->partition, msg->offset, msg->key, msg->key_len,
                           msg->value, msg->value_len, report, reason, &stored) != WDTS_OK) {
        WDTS_LOG(ERROR, "sink", "SQLite: %s", sink_db_errstr(s->db));
        s->fatal = 1;
        return;
    }
    s->rejects++;
    WDTS_LOG(WARN, "sink", "rejected %s [%" PRId32 "] @%" PRId64 "%s: %s", msg->topic,
             msg->partition, msg->offset, stored ? "" : " (again)", reason);
}

static void apply(struct sink *s, const struct wdts_kafka_msg *msg)
{
    struct sink_msg m;
    struct sink_msg_headers hdrs = {
        .report = wdts_kafka_msg_header(msg, "report", NULL),
        .tenant = wdts_kafka_msg_header(msg, "tenant", NULL),
        .schema = wdts_kafka_msg_header(msg, "schema", NULL),
    };
    if (s->batch_n == 0) {
        if (sink_db_begin(s->db) != WDTS_OK) {
            WDTS_LOG(ERROR, "sink", "SQLite: %s", sink_db_errstr(s->db));
            s->fatal = 1;
            return;
        }
        s->batch_opened_ms = wdts_time_mono_ms();
    }
    sink_msg_decode(msg->key, msg->key_len, msg->value, msg->value_len, &hdrs, s->cat, &m);
    wdts_err_t err = WDTS_OK;
    enum sink_outcome outcome;
    switch (m.type) {
    case SINK_MSG_RECORD:
        err = sink_db_put_record(s->db, m.report, &m.rec, &outcome);
        if (err == WDTS_OK) {
            s->records++;
            s->outcomes[outcome]++;
        } else if (err == WDTS_ERR_INVAL) {
            apply_reject(s, msg, m.report, sink_db_errstr(s->db));
            err = WDTS_OK;
        }
        break;
    case SINK_MSG_MARKER:
        err = sink_db_put_marker(s->db, m.report, &m.marker);
        if (err == WDTS_OK)
            s->markers++;
        break;
    case SINK_MSG_REJECT:
        apply_reject(s, msg, m.report, m.reason);
        break;
    }
    sink_msg_deinit(&m);
    if (err != WDTS_OK) {
        WDTS_LOG(ERROR, "sink", "SQLite: %s (at %s [%" PRId32 "] @%" PRId64 ")",
                 sink_db_errstr(s->db), msg->topic, msg->partition, msg->offset);
        s->fatal = 1;
    }
    if (s->fatal)
        return;
    track_offset(s, msg);
    s->batch_n++;
    s->msgs++;
}

static void progress(struct sink *s, const char *what)
{
    double secs = (double)(wdts_time_mono_ms() - s->started_ms) / 1000.0;
    WDTS_LOG(INFO, "sink",
             "%s: %" PRIu64 " messages in %.1f s (%.0f/s): records %" PRIu64 " (inserted %" PRIu64
             ", updated %" PRIu64 ", duplicates %" PRIu64 ", stale %" PRIu64 "), markers %" PRIu64
             ", rejected %" PRIu64 ", transactions %" PRIu64,
             what, s->msgs, secs, secs > 0 ? (double)s->msgs / secs : 0.0, s->records,
             s->outcomes[SINK_INSERTED], s->outcomes[SINK_UPDATED], s->outcomes[SINK_DUPLICATE],
             s->outcomes[SINK_STALE], s->markers, s->rejects, s->batches);
}

/* 1 when --once-idle says it is time to go; sets fatal when no partition ever came. */
static int idle_done(struct sink *s, int64_t now)
{
    int64_t idle_ms = (int64_t)s->opts->once_idle_s * 1000;
    if (s->opts->once_idle_s <= 0 || s->batch_n > 0)
        return 0;
    if (!s->ever_assigned) {
        if (now - s->started_ms < idle_ms + FIRST_ASSIGN_GRACE_MS)
            return 0;
        WDTS_LOG(ERROR, "sink",
                 "no partition was assigned in %" PRId64 " s: check that the "
                 "topics exist and that kafka.bootstrap.servers is right",
                 (now - s->started_ms) / 1000);
        s->fatal = 1;
        return 1;
    }
    int64_t since = s->last_msg_ms > s->assigned_ms ? s->last_msg_ms : s->assigned_ms;
    return now - since >= idle_ms;
}

int sink_run(const struct sink_opts *opts)
{
    struct sink s = {.opts = opts};
    char es[512];
    struct wdts_param *props = NULL;
    int rc = WDTS_EXIT_FATAL;

    s.started_ms = s.last_progress_ms = wdts_time_mono_ms();
    if (opts->http_listen != NULL && metrics_start(&s) != 0)
        goto out;
    s.cat = wdts_catalog_new(opts->catalog_path, es, sizeof(es));
    if (s.cat == NULL) {
        WDTS_LOG(ERROR, "sink", "report catalog: %s", es);
        goto out;
    }
    s.db = sink_db_open(opts->db_path, es, sizeof(es));
    if (s.db == NULL) {
        WDTS_LOG(ERROR, "sink", "database: %s", es);
        goto out;
    }
    /* The group id comes last so it wins over a kafka.group.id meant for the workers. */
    props = wdts_xcalloc(opts->kafka_cnt + 1, sizeof(*props));
    memcpy(props, opts->kafka, opts->kafka_cnt * sizeof(*props));
    props[opts->kafka_cnt] = (struct wdts_param){"group.id", opts->group};
    s.cons = wdts_kafka_consumer_new(props, opts->kafka_cnt + 1, on_rebalance, &s, es, sizeof(es));
    if (s.cons == NULL) {
        WDTS_LOG(ERROR, "sink", "Kafka consumer: %s", es);
        goto out;
    }
    if (wdts_kafka_consumer_subscribe(s.cons, opts->topics, opts->ntopics) != WDTS_OK) {
        WDTS_LOG(ERROR, "sink", "subscribe: %s", wdts_kafka_consumer_errstr(s.cons));
        goto out;
    }
    WDTS_LOG(INFO, "sink", "consuming %s%s as group %s into %s", opts->topics[0],
             opts->ntopics > 1 ? " (and more)" : "", opts->group, opts->db_path);

    while (!*opts->stop && !s.fatal) {
        struct wdts_kafka_msg *msg = NULL;
        int64_t now;
        if (wdts_kafka_consumer_poll(s.cons, POLL_MS, &msg) != WDTS_OK) {
            now = wdts_time_mono_ms();
            if (now - s.last_error_log_ms >= PROGRESS_MS) {
                WDTS_LOG(WARN, "sink", "consumer: %s (still polling)",
                         wdts_kafka_consumer_errstr(s.cons));
                s.last_error_log_ms = now;
            }
        }
        if (msg != NULL) {
            apply(&s, msg);
            s.last_msg_ms = wdts_time_mono_ms();
            wdts_kafka_msg_destroy(msg);
        }
        now = wdts_time_mono_ms();
        /* A quiet topic closes its batch by time too: at most batch_ms of latency. */
        if (s.batch_n > 0 &&
            (s.batch_n >= opts->batch_max || now - s.batch_opened_ms >= opts->batch_ms))
            flush(&s, 1);
        if (now - s.last_progress_ms >= PROGRESS_MS) {
            progress(&s, "progress");
            s.last_progress_ms = now;
        }
        if (idle_done(&s, now)) {
            if (!s.fatal)
                WDTS_LOG(INFO, "sink", "no message for %d s (--once-idle): stopping",
                         opts->once_idle_s);
            break;
        }
    }
    flush(&s, 1);
    if (s.fatal)
        goto out;
    rc = WDTS_EXIT_OK;
out:
    if (s.db != NULL)
        sink_db_rollback(s.db); /* only after a failure is anything still open */
    if (s.cons != NULL) {
        /* close() commits what was stored (never the failed batch) and leaves the group. */
        if (wdts_kafka_consumer_close(s.cons) != WDTS_OK)
            WDTS_LOG(WARN, "sink", "final offset commit: %s (those messages come again)",
                     wdts_kafka_consumer_errstr(s.cons));
        wdts_kafka_consumer_destroy(s.cons);
    }
    if (s.cons != NULL || s.msgs > 0)
        progress(&s, rc == WDTS_EXIT_OK ? "stopped" : "failed");
    wdts_http_server_destroy(s.http); /* before the registry it renders */
    wdts_metrics_destroy(s.reg);
    clear_offsets(&s);
    free(s.offs);
    free(props);
    sink_db_close(s.db);
    wdts_catalog_destroy(s.cat);
    return rc;
}
