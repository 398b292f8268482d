/* Kafka producer and consumer wrappers (see wdts/kafka.h). librdkafka types never
 * leave this file. Callbacks are all served on the caller's thread through
 * rd_kafka_poll()/rd_kafka_consumer_poll(); only the log callback runs on
 * librdkafka's own threads, and it just writes a log line. */
#include "wdts/kafka.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <librdkafka/rdkafka.h>

#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/time.h"

/* ---------------------------------------------------------------------------------------------
 * Shared: configuration, log and error callbacks
 * ------------------------------------------------------------------------------------------- */

/* librdkafka's syslog levels onto ours. @thread any (librdkafka threads). */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const char *name = rk ? rd_kafka_name(rk) : "rdkafka";
    if (level <= LOG_ERR)
        WDTS_LOG(ERROR, "kafka", "%s %s: %s", name, fac, buf);
    else if (level == LOG_WARNING)
        WDTS_LOG(WARN, "kafka", "%s %s: %s", name, fac, buf);
    else if (level <= LOG_INFO)
        WDTS_LOG(INFO, "kafka", "%s %s: %s", name, fac, buf);
    else
        WDTS_LOG(DEBUG, "kafka", "%s %s: %s", name, fac, buf);
}

/* 1 when a property's value may be a secret, so error texts leave it out. */
static int kafka_prop_is_secret(const char *name)
{
    static const char *const words[] = {"password", "secret", "sasl", "ssl.key", "token",
                                        "oauthbearer", "credential"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(name, words[i]))
            return 1;
    return 0;
}

/* Applies defaults then props to conf; errstr names the rejected property. */
static int kafka_conf_apply(rd_kafka_conf_t *conf, const struct wdts_param *defs, size_t ndefs,
                            const struct wdts_param *props, size_t nprops, char *errstr,
                            size_t errstr_size)
{
    char why[512];
    for (size_t i = 0; i < ndefs; i++)
        if (rd_kafka_conf_set(conf, defs[i].key, defs[i].val, why, sizeof(why)) !=
            RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "kafka default property \"%s\": %s", defs[i].key, why);
            return -1;
        }
    for (size_t i = 0; i < nprops; i++) {
        if (props[i].key == NULL || props[i].key[0] == '\0' || props[i].val == NULL) {
            snprintf(errstr, errstr_size, "kafka property #%zu (\"%s\") has no %s", i + 1,
                     props[i].key ? props[i].key : "", props[i].val ? "name" : "value");
            return -1;
        }
        rd_kafka_conf_res_t res =
            rd_kafka_conf_set(conf, props[i].key, props[i].val, why, sizeof(why));
        if (res != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "kafka property \"%s\"=\"%s\": %s%s", props[i].key,
                     kafka_prop_is_secret(props[i].key) ? "(hidden)" : props[i].val, why,
                     res == RD_KAFKA_CONF_UNKNOWN
                         ? " (see librdkafka's CONFIGURATION.md for property names)"
                         : "");
            return -1;
        }
    }
    return 0;
}

/* 1 when the property name appears in props with a value that conf now reads as "true". */
static int kafka_prop_set_true(rd_kafka_conf_t *conf, const struct wdts_param *props,
                               size_t nprops, const char *name)
{
    for (size_t i = 0; i < nprops; i++)
        if (props[i].key && strcmp(props[i].key, name) == 0) {
            char val[16];
            size_t sz = sizeof(val);
            return rd_kafka_conf_get(conf, name, val, &sz) == RD_KAFKA_CONF_OK &&
                   strcmp(val, "true") == 0;
        }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Producer
 * ------------------------------------------------------------------------------------------- */

/* A produce_sync waiting for its report. Heap-allocated: when the wait times out
 * it is parked on prod->abandoned until its report arrives, so a late report never
 * reaches the caller's dr_cb with a pointer it did not produce. */
struct kafka_sync {
    struct kafka_sync *next;
    int done;
    wdts_err_t err;
    int32_t partition;
    int64_t offset;
    char errstr[256];
};

struct wdts_kafka_producer {
    rd_kafka_t *rk;
    wdts_kafka_dr_cb dr_cb;
    void *cb_opaque;
    struct kafka_sync *sync;      /* the produce_sync in progress, or NULL */
    struct kafka_sync *abandoned; /* timed-out syncs whose report has not come yet */
    wdts_err_t fatal;             /* sticky: WDTS_OK until a fatal error */
    char errstr[512];
};

static void prod_set_error(struct wdts_kafka_producer *prod, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void prod_set_error(struct wdts_kafka_producer *prod, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prod->errstr, sizeof(prod->errstr), fmt, ap);
    va_end(ap);
}

/* @thread the caller's, from rd_kafka_poll()/rd_kafka_flush(). */
static void prod_dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    struct wdts_kafka_producer *prod = opaque;
    wdts_err_t err = rkm->err ? WDTS_ERR_KAFKA : WDTS_OK;
    int64_t offset = rkm->err || rkm->offset < 0 ? WDTS_KAFKA_OFFSET_INVALID : rkm->offset;

    if (prod->sync && rkm->_private == prod->sync) {
        struct kafka_sync *s = prod->sync;
        s->done = 1;
        s->err = err;
        s->partition = rkm->partition;
        s->offset = offset;
        if (rkm->err)
            snprintf(s->errstr, sizeof(s->errstr), "%s", rd_kafka_err2str(rkm->err));
        return;
    }
    for (struct kafka_sync **pp = &prod->abandoned; *pp; pp = &(*pp)->next)
        if (rkm->_private == *pp) {
            struct kafka_sync *s = *pp;
            *pp = s->next;
            free(s);
            return;
        }
    if (prod->dr_cb == NULL)
        return;
    struct wdts_kafka_dr dr = {
        .opaque = rkm->_private,
        .err = err,
        /* not rd_kafka_message_errstr(): on a delivery report it returns the message's
         * payload, which is not NUL-terminated */
        .errstr = rkm->err ? rd_kafka_err2str(rkm->err) : "",
        .topic = rd_kafka_topic_name(rkm->rkt),
        .partition = rkm->partition,
        .offset = offset,
        .key = rkm->key,
        .key_len = rkm->key_len,
    };
    prod->dr_cb(&dr, prod->cb_opaque);
}

/* Client-level errors (all brokers down, fatal idempotence errors) have no caller
 * to return to, so they are logged here; a fatal one also makes the handle sticky.
 * @thread the caller's, from rd_kafka_poll(). */
static void prod_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct wdts_kafka_producer *prod = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        prod->fatal = WDTS_ERR_KAFKA;
        prod_set_error(prod, "fatal producer error %s: %s; recreate the producer",
                       rd_kafka_err2name(orig), why);
        WDTS_LOG(ERROR, "kafka", "%s", prod->errstr);
        return;
    }
    WDTS_LOG(WARN, "kafka", "producer: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err),
             reason);
}

struct wdts_kafka_producer *wdts_kafka_producer_new(const struct wdts_param *props, size_t nprops,
                                                    wdts_kafka_dr_cb dr_cb, void *cb_opaque,
                                                    char *errstr, size_t errstr_size)
{
    static const struct wdts_param defaults[] = {
        {"enable.idempotence", "true"},
    };
    struct wdts_kafka_producer *prod = wdts_xcalloc(1, sizeof(*prod));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    if (kafka_conf_apply(conf, defaults, sizeof(defaults) / sizeof(defaults[0]), props, nprops,
                         errstr, errstr_size) != 0)
        goto fail;
    prod->dr_cb = dr_cb;
    prod->cb_opaque = cb_opaque;
    rd_kafka_conf_set_opaque(conf, prod);
    rd_kafka_conf_set_dr_msg_cb(conf, prod_dr_msg_cb);
    rd_kafka_conf_set_error_cb(conf, prod_error_cb);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    prod->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
    if (prod->rk == NULL)
        goto fail; /* conf is still ours on failure */
    return prod;
fail:
    rd_kafka_conf_destroy(conf);
    free(prod);
    return NULL;
}

wdts_err_t wdts_kafka_produce(struct wdts_kafka_producer *prod, const struct wdts_kafka_out *msg)
{
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_resp_err_t err;

    if (prod->fatal)
        return prod->fatal;
    if (msg->topic == NULL || msg->topic[0] == '\0') {
        prod_set_error(prod, "produce: no topic given");
        return WDTS_ERR_INVAL;
    }
    if (msg->header_cnt > 0) {
        hdrs = rd_kafka_headers_new(msg->header_cnt);
        for (size_t i = 0; i < msg->header_cnt; i++) {
            const struct wdts_param *h = &msg->headers[i];
            if (h->key == NULL || h->key[0] == '\0') {
                rd_kafka_headers_destroy(hdrs);
                prod_set_error(prod, "produce to %s: header #%zu has no name", msg->topic,
                               i + 1);
                return WDTS_ERR_INVAL;
            }
            rd_kafka_header_add(hdrs, h->key, -1, h->val, h->val ? -1 : 0);
        }
    }
    /* Headers pass to librdkafka only on success; F_COPY copies key and value. */
    err = rd_kafka_producev(prod->rk, RD_KAFKA_V_TOPIC(msg->topic),
                            RD_KAFKA_V_PARTITION(msg->partition),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_KEY(msg->key, msg->key ? msg->key_len : 0),
                            RD_KAFKA_V_VALUE((void *)msg->value, msg->value ? msg->value_len : 0),
                            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(msg->opaque),
                            RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        return WDTS_OK;
    rd_kafka_headers_destroy(hdrs);
    prod_set_error(prod, "produce to %s [%d]: %s", msg->topic, (int)msg->partition,
                   rd_kafka_err2str(err));
    switch (err) {
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        return WDTS_ERR_AGAIN;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return WDTS_ERR_INVAL;
    case RD_KAFKA_RESP_ERR__FATAL: {
        char why[256];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(prod->rk, why, sizeof(why));
        prod->fatal = WDTS_ERR_KAFKA;
        prod_set_error(prod, "fatal producer error %s: %s; recreate the producer",
                       rd_kafka_err2name(orig), why);
        return WDTS_ERR_KAFKA;
    }
    default:
        return WDTS_ERR_KAFKA;
    }
}

int wdts_kafka_producer_poll(struct wdts_kafka_producer *prod, int timeout_ms)
{
    return rd_kafka_poll(prod->rk, timeout_ms);
}

wdts_err_t wdts_kafka_producer_flush(struct wdts_kafka_producer *prod, int timeout_ms)
{
    if (rd_kafka_flush(prod->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR)
        return WDTS_OK;
    prod_set_error(prod, "flush: %d messages still without a delivery report after %d ms",
                   rd_kafka_outq_len(prod->rk), timeout_ms);
    return WDTS_ERR_TIMEOUT;
}

int wdts_kafka_producer_outq_len(struct wdts_kafka_producer *prod)
{
    return rd_kafka_outq_len(prod->rk);
}

wdts_err_t wdts_kafka_producer_topic_ready(struct wdts_kafka_producer *prod, const char *topic,
                                           int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    /* all topics first: asking for one by name could make a broker auto-create it */
    rd_kafka_resp_err_t err = rd_kafka_metadata(prod->rk, 1, NULL, &md, timeout_ms);
    if (err) {
        prod_set_error(prod, "metadata: %s", rd_kafka_err2str(err));
        return err == RD_KAFKA_RESP_ERR__TIMED_OUT ? WDTS_ERR_TIMEOUT : WDTS_ERR_KAFKA;
    }
    int found = 0;
    for (int i = 0; i < md->topic_cnt && !found; i++)
        found = strcmp(md->topics[i].topic, topic) == 0 && md->topics[i].partition_cnt > 0;
    rd_kafka_metadata_destroy(md);
    if (!found) {
        prod_set_error(prod, "topic %s does not exist", topic);
        return WDTS_ERR_NOTFOUND;
    }
    /* then the topic itself, which gives the producer its partitions and leaders */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(prod->rk, topic, NULL);
    if (rkt == NULL) {
        prod_set_error(prod, "topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return WDTS_ERR_KAFKA;
    }
    err = rd_kafka_metadata(prod->rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (err) {
        prod_set_error(prod, "metadata of %s: %s", topic, rd_kafka_err2str(err));
        return err == RD_KAFKA_RESP_ERR__TIMED_OUT ? WDTS_ERR_TIMEOUT : WDTS_ERR_KAFKA;
    }
    rd_kafka_metadata_destroy(md);
    return WDTS_OK;
}

wdts_err_t wdts_kafka_produce_sync(struct wdts_kafka_producer *prod,
                                   const struct wdts_kafka_out *msg, int timeout_ms,
                                   int32_t *partition, int64_t *offset)
{
    WDTS_ASSERT(prod->sync == NULL); /* one thread per handle: never nested */
    struct kafka_sync *s = wdts_xcalloc(1, sizeof(*s));
    struct wdts_kafka_out m = *msg;
    m.opaque = s;
    wdts_err_t err = wdts_kafka_produce(prod, &m);
    if (err != WDTS_OK) {
        free(s);
        return err;
    }
    prod->sync = s;
    int64_t deadline = wdts_time_mono_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - wdts_time_mono_ms();
        if (s->done || left <= 0)
            break;
        rd_kafka_poll(prod->rk, left > 100 ? 100 : (int)left);
    }
    prod->sync = NULL;
    if (!s->done) {
        s->next = prod->abandoned;
        prod->abandoned = s;
        prod_set_error(prod, "produce to %s: no delivery report within %d ms", msg->topic,
                       timeout_ms);
        return WDTS_ERR_TIMEOUT;
    }
    err = s->err;
    if (err != WDTS_OK)
        prod_set_error(prod, "produce to %s: %s", msg->topic, s->errstr);
    if (partition)
        *partition = s->partition;
    if (offset)
        *offset = s->offset;
    free(s);
    return err;
}

const char *wdts_kafka_producer_errstr(const struct wdts_kafka_producer *prod)
{
    return prod->errstr;
}

void wdts_kafka_producer_destroy(struct wdts_kafka_producer *prod)
{
    if (prod == NULL)
        return;
    /* Purged messages get a delivery report with a purge error, so the caller gets
     * every opaque back (it may own memory) even for messages never delivered. */
    if (rd_kafka_outq_len(prod->rk) > 0) {
        rd_kafka_purge(prod->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(prod->rk, 5000);
    }
    rd_kafka_destroy(prod->rk);
    while (prod->abandoned) {
        struct kafka_sync *s = prod->abandoned;
        prod->abandoned = s->next;
        free(s);
    }
    free(prod);
}

/* ---------------------------------------------------------------------------------------------
 * Consumer
 * ------------------------------------------------------------------------------------------- */

struct wdts_kafka_consumer {
    rd_kafka_t *rk;
    wdts_kafka_rebalance_cb rebalance_cb;
    void *cb_opaque;
    int closed;
    int subscribed;    /* 1 once subscribe() succeeded: a group member */
    int assigned_cnt;  /* partitions assigned now, kept by the rebalance callback */
    rd_kafka_resp_err_t revoke_commit_err; /* result of the last commit on revoke */
    int revoked;                           /* a revoke happened since this was cleared */
    wdts_err_t fatal;                      /* sticky: WDTS_OK until a fatal error */
    char errstr[512];
};

/* The private part of a consumed message: the public view comes first. */
struct kafka_msg {
    struct wdts_kafka_msg pub;
    rd_kafka_message_t *rkm;
    struct wdts_kafka_header *hdrs; /* one block: the array, then the NUL-ended values */
};

static void cons_set_error(struct wdts_kafka_consumer *cons, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void cons_set_error(struct wdts_kafka_consumer *cons, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cons->errstr, sizeof(cons->errstr), fmt, ap);
    va_end(ap);
}

/* The sticky fatal error, or WDTS_ERR_SHUTDOWN once closed; WDTS_OK when usable. */
static wdts_err_t cons_unusable(struct wdts_kafka_consumer *cons)
{
    if (cons->fatal)
        return cons->fatal;
    if (cons->closed) {
        cons_set_error(cons, "the consumer is closed");
        return WDTS_ERR_SHUTDOWN;
    }
    return WDTS_OK;
}

static void cons_check_fatal(struct wdts_kafka_consumer *cons)
{
    char why[256];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(cons->rk, why, sizeof(why));
    if (orig) {
        cons->fatal = WDTS_ERR_KAFKA;
        cons_set_error(cons, "fatal consumer error %s: %s; recreate the consumer",
                       rd_kafka_err2name(orig), why);
    }
}

/* Tells the caller, with a plain array of the partitions. */
static void cons_notify(struct wdts_kafka_consumer *cons, enum wdts_kafka_rebalance ev,
                        const rd_kafka_topic_partition_list_t *parts)
{
    if (cons->rebalance_cb == NULL)
        return;
    size_t n = parts ? (size_t)parts->cnt : 0;
    struct wdts_kafka_tp *tps = wdts_xcalloc(n ? n : 1, sizeof(*tps));
    for (size_t i = 0; i < n; i++) {
        tps[i].topic = parts->elems[i].topic;
        tps[i].partition = parts->elems[i].partition;
        tps[i].offset = parts->elems[i].offset;
    }
    cons->rebalance_cb(ev, tps, n, cons->cb_opaque);
    free(tps);
}

/* Assign and revoke for both the eager and the cooperative protocol. On revoke the
 * stored offsets are committed while the partitions are still ours, so finished
 * work is not redelivered to the next owner. @thread the caller's, from poll/close. */
static void cons_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct wdts_kafka_consumer *cons = opaque;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (coop)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            err = rd_kafka_assign(rk, parts);
        if (error || (!coop && err)) {
            WDTS_LOG(WARN, "kafka", "assign failed: %s",
                     error ? rd_kafka_error_string(error) : rd_kafka_err2str(err));
            rd_kafka_error_destroy(error);
            return;
        }
        cons->assigned_cnt = coop ? cons->assigned_cnt + parts->cnt : parts->cnt;
        cons_notify(cons, WDTS_KAFKA_ASSIGNED, parts);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        cons_notify(cons, WDTS_KAFKA_REVOKED, parts);
        cons->revoked = 1;
        cons->revoke_commit_err = RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST;
        if (!rd_kafka_assignment_lost(rk))
            cons->revoke_commit_err = rd_kafka_commit(rk, NULL, 0);
        if (coop)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
        rd_kafka_error_destroy(error);
        cons->assigned_cnt = coop && cons->assigned_cnt > parts->cnt
                                 ? cons->assigned_cnt - parts->cnt
                                 : 0;
        return;
    }
    WDTS_LOG(WARN, "kafka", "rebalance error: %s; dropping the assignment", rd_kafka_err2str(err));
    cons->assigned_cnt = 0;
    if (coop)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
}

/* See prod_error_cb. @thread the caller's, from rd_kafka_consumer_poll(). */
static void cons_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    struct wdts_kafka_consumer *cons = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        cons_check_fatal(cons);
        WDTS_LOG(ERROR, "kafka", "%s", cons->errstr);
        return;
    }
    WDTS_LOG(WARN, "kafka", "consumer: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err),
             reason);
}

struct wdts_kafka_consumer *wdts_kafka_consumer_new(const struct wdts_param *props,
                                                    size_t nprops,
                                                    wdts_kafka_rebalance_cb rebalance_cb,
                                                    void *cb_opaque, char *errstr,
                                                    size_t errstr_size)
{
    /* Values that suit the local Kafka: below 4000 ms the mock's 3 s first join hangs. */
    static const struct wdts_param defaults[] = {
        {"session.timeout.ms", "6000"},
        {"heartbeat.interval.ms", "1000"},
        {"auto.offset.reset", "earliest"},
    };
    static const char *const forced[] = {"enable.auto.commit", "enable.auto.offset.store"};
    struct wdts_kafka_consumer *cons = wdts_xcalloc(1, sizeof(*cons));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char val[256];
    size_t sz = sizeof(val);

    if (kafka_conf_apply(conf, defaults, sizeof(defaults) / sizeof(defaults[0]), props, nprops,
                         errstr, errstr_size) != 0)
        goto fail;
    for (size_t i = 0; i < 2; i++) {
        if (kafka_prop_set_true(conf, props, nprops, forced[i])) {
            snprintf(errstr, errstr_size,
                     "kafka property \"%s\" must be false: the consumer stores and commits "
                     "offsets explicitly (remove the property)",
                     forced[i]);
            goto fail;
        }
        rd_kafka_conf_set(conf, forced[i], "false", NULL, 0);
    }
    if (rd_kafka_conf_get(conf, "group.id", val, &sz) != RD_KAFKA_CONF_OK || val[0] == '\0') {
        snprintf(errstr, errstr_size,
                 "kafka property \"group.id\" is required for a consumer (the consumer group "
                 "that shares the partitions)");
        goto fail;
    }
    cons->rebalance_cb = rebalance_cb;
    cons->cb_opaque = cb_opaque;
    rd_kafka_conf_set_opaque(conf, cons);
    rd_kafka_conf_set_rebalance_cb(conf, cons_rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, cons_error_cb);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    cons->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
    if (cons->rk == NULL)
        goto fail;
    /* Errors and logs are served by rd_kafka_consumer_poll() too. */
    rd_kafka_poll_set_consumer(cons->rk);
    return cons;
fail:
    rd_kafka_conf_destroy(conf);
    free(cons);
    return NULL;
}

wdts_err_t wdts_kafka_consumer_subscribe(struct wdts_kafka_consumer *cons,
                                         const char *const *topics, size_t ntopics)
{
    wdts_err_t uerr = cons_unusable(cons);
    if (uerr)
        return uerr;
    if (ntopics == 0) {
        cons_set_error(cons, "subscribe: no topic given");
        return WDTS_ERR_INVAL;
    }
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)ntopics);
    for (size_t i = 0; i < ntopics; i++)
        rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(cons->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        cons_set_error(cons, "subscribe: %s", rd_kafka_err2str(err));
        return err == RD_KAFKA_RESP_ERR__INVALID_ARG ? WDTS_ERR_INVAL : WDTS_ERR_KAFKA;
    }
    cons->subscribed = 1;
    return WDTS_OK;
}

/* Builds the header array: one block holding the array and NUL-ended value copies. */
static void kafka_msg_headers(struct kafka_msg *m)
{
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m->rkm, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || hdrs == NULL)
        return;
    size_t n = rd_kafka_header_cnt(hdrs);
    size_t total = n * sizeof(struct wdts_kafka_header);
    const char *name;
    const void *val;
    size_t size;
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR)
            total += size + 1;
    m->hdrs = wdts_xmalloc(total ? total : 1);
    char *p = (char *)(m->hdrs + n);
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        if (rd_kafka_header_get_all(hdrs, i, &name, &val, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        m->hdrs[cnt].name = name; /* owned by rkm, which lives as long as the message */
        m->hdrs[cnt].value_len = size;
        if (val == NULL) {
            m->hdrs[cnt].value = NULL;
        } else {
            memcpy(p, val, size);
            p[size] = '\0';
            m->hdrs[cnt].value = p;
            p += size + 1;
        }
        cnt++;
    }
    m->pub.headers = m->hdrs;
    m->pub.header_cnt = cnt;
}

wdts_err_t wdts_kafka_consumer_poll(struct wdts_kafka_consumer *cons, int timeout_ms,
                                    struct wdts_kafka_msg **out)
{
    *out = NULL;
    wdts_err_t uerr = cons_unusable(cons);
    if (uerr)
        return uerr;
    rd_kafka_message_t *rkm = rd_kafka_consumer_poll(cons->rk, timeout_ms);
    if (rkm == NULL)
        return cons->fatal; /* the error callback may have made it fatal */
    if (rkm->err) {
        wdts_err_t err = WDTS_ERR_KAFKA;
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            err = WDTS_OK;
        } else if (rkm->err == RD_KAFKA_RESP_ERR__FATAL) {
            cons_check_fatal(cons);
        } else if (rkm->rkt) {
            cons_set_error(cons, "consume %s [%d]: %s", rd_kafka_topic_name(rkm->rkt),
                           (int)rkm->partition, rd_kafka_message_errstr(rkm));
        } else {
            cons_set_error(cons, "consume: %s", rd_kafka_message_errstr(rkm));
        }
        rd_kafka_message_destroy(rkm);
        return err;
    }
    struct kafka_msg *m = wdts_xcalloc(1, sizeof(*m));
    rd_kafka_timestamp_type_t tstype;
    m->rkm = rkm;
    m->pub.topic = rd_kafka_topic_name(rkm->rkt);
    m->pub.partition = rkm->partition;
    m->pub.offset = rkm->offset;
    m->pub.timestamp_ms = rd_kafka_message_timestamp(rkm, &tstype);
    m->pub.key = rkm->key;
    m->pub.key_len = rkm->key_len;
    m->pub.value = rkm->payload;
    m->pub.value_len = rkm->len;
    kafka_msg_headers(m);
    *out = &m->pub;
    return WDTS_OK;
}

void wdts_kafka_msg_destroy(struct wdts_kafka_msg *msg)
{
    if (msg == NULL)
        return;
    struct kafka_msg *m = (struct kafka_msg *)msg; /* pub is the first member */
    rd_kafka_message_destroy(m->rkm);
    free(m->hdrs);
    free(m);
}

const char *wdts_kafka_msg_header(const struct wdts_kafka_msg *msg, const char *name,
                                  size_t *value_len)
{
    for (size_t i = msg->header_cnt; i-- > 0;)
        if (strcmp(msg->headers[i].name, name) == 0) {
            if (value_len)
                *value_len = msg->headers[i].value_len;
            return msg->headers[i].value;
        }
    return NULL;
}

wdts_err_t wdts_kafka_consumer_pause_partition(struct wdts_kafka_consumer *cons,
                                               const char *topic, int32_t partition, int pause)
{
    wdts_err_t uerr = cons_unusable(cons);
    if (uerr)
        return uerr;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition);
    rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(cons->rk, list)
                                    : rd_kafka_resume_partitions(cons->rk, list);
    if (!err)
        err = list->elems[0].err;
    rd_kafka_topic_partition_list_destroy(list);
    if (!err)
        return WDTS_OK;
    cons_set_error(cons, "%s %s [%d]: %s", pause ? "pause" : "resume", topic, (int)partition,
                   rd_kafka_err2str(err));
    return WDTS_ERR_KAFKA;
}

wdts_err_t wdts_kafka_consumer_store(struct wdts_kafka_consumer *cons, const char *topic,
                                     int32_t partition, int64_t next_offset)
{
    wdts_err_t uerr = cons_unusable(cons);
    if (uerr)
        return uerr;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic, partition)->offset = next_offset;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(cons->rk, list);
    if (!err)
        err = list->elems[0].err;
    rd_kafka_topic_partition_list_destroy(list);
    if (!err)
        return WDTS_OK;
    if (err == RD_KAFKA_RESP_ERR__STATE || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
        cons_set_error(cons,
                       "store %s [%d] @ %lld: the partition is not assigned to this consumer; "
                       "its new owner reads it again",
                       topic, (int)partition, (long long)next_offset);
        return WDTS_ERR_NOTFOUND;
    }
    cons_set_error(cons, "store %s [%d] @ %lld: %s", topic, (int)partition,
                   (long long)next_offset, rd_kafka_err2str(err));
    return WDTS_ERR_KAFKA;
}

wdts_err_t wdts_kafka_consumer_store_msg(struct wdts_kafka_consumer *cons,
                                         const struct wdts_kafka_msg *msg)
{
    return wdts_kafka_consumer_store(cons, msg->topic, msg->partition, msg->offset + 1);
}

static wdts_err_t cons_commit_err(struct wdts_kafka_consumer *cons, rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
    case RD_KAFKA_RESP_ERR__NO_OFFSET: /* nothing stored since the last commit */
        return WDTS_OK;
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
        cons_set_error(cons, "commit: %s (a rebalance is under way; poll and retry)",
                       rd_kafka_err2str(err));
        return WDTS_ERR_AGAIN;
    default:
        cons_set_error(cons, "commit: %s", rd_kafka_err2str(err));
        return WDTS_ERR_KAFKA;
    }
}

wdts_err_t wdts_kafka_consumer_commit(struct wdts_kafka_consumer *cons,
                                      const struct wdts_kafka_tp *tps, size_t n)
{
    wdts_err_t uerr = cons_unusable(cons);
    if (uerr)
        return uerr;
    /* A group member without partitions is between a revoke and the next assign. A
     * commit sent then goes out with generation -1, and librdkafka 2.0.2 answers the
     * resulting ILLEGAL_GENERATION by restarting its join, so a caller retrying in a
     * loop kept the group from ever settling (seen against the local Kafka). Wait. */
    if (cons->subscribed && cons->assigned_cnt == 0) {
        cons_set_error(cons, "commit: no partitions assigned (a rebalance is under way); poll "
                             "until the rebalance callback reports ASSIGNED, then retry");
        return WDTS_ERR_AGAIN;
    }
    if (tps == NULL)
        return cons_commit_err(cons, rd_kafka_commit(cons->rk, NULL, 0));
    if (n == 0)
        return WDTS_OK;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, tps[i].topic, tps[i].partition)->offset =
            tps[i].offset;
    rd_kafka_resp_err_t err = rd_kafka_commit(cons->rk, list, 0);
    for (int i = 0; !err && i < list->cnt; i++)
        err = list->elems[i].err;
    rd_kafka_topic_partition_list_destroy(list);
    return cons_commit_err(cons, err);
}

wdts_err_t wdts_kafka_consumer_committed(struct wdts_kafka_consumer *cons,
                                         struct wdts_kafka_tp *tps, size_t n, int timeout_ms)
{
    if (cons->fatal)
        return cons->fatal;
    if (n == 0)
        return WDTS_OK;
    wdts_err_t ret = WDTS_OK;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, tps[i].topic, tps[i].partition);
    rd_kafka_resp_err_t err = rd_kafka_committed(cons->rk, list, timeout_ms);
    if (err) {
        cons_set_error(cons, "committed offsets: %s", rd_kafka_err2str(err));
        ret = err == RD_KAFKA_RESP_ERR__TIMED_OUT ? WDTS_ERR_TIMEOUT : WDTS_ERR_KAFKA;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_topic_partition_t *p = &list->elems[i];
        if (p->err) {
            cons_set_error(cons, "committed offset of %s [%d]: %s", p->topic, (int)p->partition,
                           rd_kafka_err2str(p->err));
            ret = WDTS_ERR_KAFKA;
            goto out;
        }
        tps[i].offset = p->offset >= 0 ? p->offset : WDTS_KAFKA_OFFSET_INVALID;
    }
out:
    rd_kafka_topic_partition_list_destroy(list);
    return ret;
}

wdts_err_t wdts_kafka_consumer_watermarks(struct wdts_kafka_consumer *cons, const char *topic,
                                          int32_t partition, int64_t *low, int64_t *high,
                                          int timeout_ms)
{
    if (cons->fatal)
        return cons->fatal;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(cons->rk, topic, partition, low, high, timeout_ms);
    if (!err)
        return WDTS_OK;
    cons_set_error(cons, "watermarks of %s [%d]: %s", topic, (int)partition,
                   rd_kafka_err2str(err));
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT)
        return WDTS_ERR_TIMEOUT;
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
        return WDTS_ERR_NOTFOUND;
    return WDTS_ERR_KAFKA;
}

wdts_err_t wdts_kafka_consumer_partition_count(struct wdts_kafka_consumer *cons,
                                               const char *topic, int *count, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    wdts_err_t ret = WDTS_ERR_NOTFOUND;

    if (cons->fatal)
        return cons->fatal;
    /* All topics: asking for one topic by name could make a broker auto-create it. */
    rd_kafka_resp_err_t err = rd_kafka_metadata(cons->rk, 1, NULL, &md, timeout_ms);
    if (err) {
        cons_set_error(cons, "metadata: %s", rd_kafka_err2str(err));
        return err == RD_KAFKA_RESP_ERR__TIMED_OUT ? WDTS_ERR_TIMEOUT : WDTS_ERR_KAFKA;
    }
    cons_set_error(cons, "topic %s does not exist", topic);
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (strcmp(t->topic, topic) != 0)
            continue;
        if (t->err && t->partition_cnt == 0) {
            cons_set_error(cons, "metadata of %s: %s", topic, rd_kafka_err2str(t->err));
            ret = WDTS_ERR_KAFKA;
        } else {
            *count = t->partition_cnt;
            ret = WDTS_OK;
        }
        break;
    }
    rd_kafka_metadata_destroy(md);
    return ret;
}

/* The low (which = BEGINNING) or high (END) watermark of partitions 0..cnt-1 in one
 * ListOffsets request per leader, instead of one round trip per partition: each
 * round trip may wait behind a long-polling Fetch on the same connection. */
static wdts_err_t cons_list_offsets(struct wdts_kafka_consumer *cons, const char *topic, int cnt,
                                    int64_t which, struct wdts_kafka_lag *out, int timeout_ms)
{
    wdts_err_t ret = WDTS_OK;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(cnt);
    for (int i = 0; i < cnt; i++)
        rd_kafka_topic_partition_list_add(list, topic, i)->offset = which;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(cons->rk, list, timeout_ms);
    for (int i = 0; !err && i < list->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &list->elems[i];
        err = p->err;
        if (!err && (p->partition < 0 || p->partition >= cnt || p->offset < 0))
            err = RD_KAFKA_RESP_ERR__BAD_MSG;
        if (!err && which == RD_KAFKA_OFFSET_END)
            out[p->partition].high = p->offset;
        else if (!err)
            out[p->partition].low = p->offset;
    }
    if (err) {
        cons_set_error(cons, "%s watermarks of %s: %s", which == RD_KAFKA_OFFSET_END ? "high" : "low",
                       topic, rd_kafka_err2str(err));
        ret = err == RD_KAFKA_RESP_ERR__TIMED_OUT ? WDTS_ERR_TIMEOUT : WDTS_ERR_KAFKA;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return ret;
}

wdts_err_t wdts_kafka_consumer_lag(struct wdts_kafka_consumer *cons, const char *topic,
                                   struct wdts_kafka_lag *out, size_t cap, size_t *n,
                                   int timeout_ms)
{
    int cnt = 0;
    wdts_err_t err = wdts_kafka_consumer_partition_count(cons, topic, &cnt, timeout_ms);
    *n = 0;
    if (err != WDTS_OK)
        return err;
    *n = (size_t)cnt;
    if ((size_t)cnt > cap) {
        cons_set_error(cons, "lag of %s: %d partitions, room for %zu", topic, cnt, cap);
        return WDTS_ERR_INVAL;
    }
    struct wdts_kafka_tp *tps = wdts_xcalloc((size_t)cnt + 1, sizeof(*tps));
    for (int i = 0; i < cnt; i++) {
        tps[i].topic = topic;
        tps[i].partition = i;
    }
    err = wdts_kafka_consumer_committed(cons, tps, (size_t)cnt, timeout_ms);
    if (err == WDTS_OK)
        err = cons_list_offsets(cons, topic, cnt, RD_KAFKA_OFFSET_BEGINNING, out, timeout_ms);
    if (err == WDTS_OK)
        err = cons_list_offsets(cons, topic, cnt, RD_KAFKA_OFFSET_END, out, timeout_ms);
    for (int i = 0; err == WDTS_OK && i < cnt; i++) {
        struct wdts_kafka_lag *l = &out[i];
        l->partition = i;
        l->committed = tps[i].offset;
        /* A commit below the low watermark points at pruned data: count from low. */
        int64_t from = l->committed == WDTS_KAFKA_OFFSET_INVALID || l->committed < l->low
                           ? l->low
                           : l->committed;
        l->lag = l->high > from ? l->high - from : 0;
    }
    free(tps);
    return err;
}

const char *wdts_kafka_consumer_errstr(const struct wdts_kafka_consumer *cons)
{
    return cons->errstr;
}

wdts_err_t wdts_kafka_consumer_close(struct wdts_kafka_consumer *cons)
{
    if (cons->closed)
        return WDTS_OK;
    cons->closed = 1;
    /* Commit first: once this member has left, a commit can only fail. */
    wdts_err_t err = WDTS_OK;
    if (!cons->fatal)
        err = cons_commit_err(cons, rd_kafka_commit(cons->rk, NULL, 0));
    cons->revoked = 0;
    rd_kafka_resp_err_t cerr = rd_kafka_consumer_close(cons->rk);
    /* A commit refused during a rebalance is made good by the revoke's own commit. */
    if (err == WDTS_ERR_AGAIN && cons->revoked &&
        (cons->revoke_commit_err == RD_KAFKA_RESP_ERR_NO_ERROR ||
         cons->revoke_commit_err == RD_KAFKA_RESP_ERR__NO_OFFSET))
        err = WDTS_OK;
    if (err == WDTS_OK && cerr && !cons->fatal) {
        cons_set_error(cons, "close: %s", rd_kafka_err2str(cerr));
        err = WDTS_ERR_KAFKA;
    }
    return err;
}

void wdts_kafka_consumer_destroy(struct wdts_kafka_consumer *cons)
{
    if (cons == NULL)
        return;
    wdts_kafka_consumer_close(cons);
    rd_kafka_destroy(cons->rk);
    free(cons);
}
