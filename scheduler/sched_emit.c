/* Job emission (see sched_emit_int.h). Every message's delivery report is awaited before
 * sched_emit_jobs() returns: the flags it writes live on the caller's stack, so no
 * report may arrive after the call (message.timeout.ms bounds the wait). */
#include "sched_emit_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/kafka.h"
#include "wdts/mem.h"

struct sched_emit {
    struct wdts_kafka_producer *prod;
    char *topic;
    size_t pending; /* messages of the current call without a report yet */
    int failed;     /* reports with an error in the current call */
    char first_error[256];
};

static void on_dr(const struct wdts_kafka_dr *dr, void *cb_opaque)
{
    struct sched_emit *em = cb_opaque;
    int *flag = dr->opaque;
    if (flag == NULL)
        return;
    em->pending--;
    if (dr->err == WDTS_OK) {
        *flag = 1;
        return;
    }
    *flag = 0;
    if (em->failed++ == 0)
        snprintf(em->first_error, sizeof(em->first_error), "%s", dr->errstr);
}

struct sched_emit *sched_emit_new(const struct wdts_param *props, size_t nprops, const char *topic,
                                  char *errstr, size_t errstr_size)
{
    struct sched_emit *em = wdts_xcalloc(1, sizeof(*em));
    struct wdts_param *all = wdts_xcalloc(nprops + 2, sizeof(*all));
    all[0] = (struct wdts_param){"enable.idempotence", "true"};
    all[1] = (struct wdts_param){"message.timeout.ms", "30000"};
    for (size_t i = 0; i < nprops; i++)
        all[i + 2] = props[i];
    em->prod = wdts_kafka_producer_new(all, nprops + 2, on_dr, em, errstr, errstr_size);
    free(all);
    if (em->prod == NULL) {
        free(em);
        return NULL;
    }
    em->topic = wdts_xstrdup(topic);
    return em;
}

wdts_err_t sched_emit_jobs(struct sched_emit *em, const struct wdts_job *jobs, size_t n, int *ok,
                           char *errstr, size_t errstr_size)
{
    struct wdts_buf key, val;
    wdts_buf_init(&key);
    wdts_buf_init(&val);
    em->failed = 0;
    em->pending = 0;
    em->first_error[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        ok[i] = 0;
        wdts_buf_reset(&key);
        wdts_buf_reset(&val);
        wdts_job_key(&jobs[i], &key);
        wdts_job_encode(&jobs[i], &val);
        struct wdts_kafka_out m = {.topic = em->topic,
                                   .partition = WDTS_KAFKA_PARTITION_ANY,
                                   .key = key.data,
                                   .key_len = key.len,
                                   .value = val.data,
                                   .value_len = val.len,
                                   .opaque = &ok[i]};
        wdts_err_t err;
        while ((err = wdts_kafka_produce(em->prod, &m)) == WDTS_ERR_AGAIN)
            wdts_kafka_producer_poll(em->prod, 10);
        if (err == WDTS_OK)
            em->pending++;
        else if (em->failed++ == 0)
            snprintf(em->first_error, sizeof(em->first_error), "%s",
                     wdts_kafka_producer_errstr(em->prod));
        wdts_kafka_producer_poll(em->prod, 0);
    }
    /* Every report must be served before the flags go out of scope. */
    while (em->pending > 0)
        wdts_kafka_producer_flush(em->prod, 1000);
    wdts_buf_deinit(&key);
    wdts_buf_deinit(&val);
    if (em->failed == 0)
        return WDTS_OK;
    snprintf(errstr, errstr_size, "%d of %zu jobs not delivered to %s: %s", em->failed, n,
             em->topic, em->first_error);
    return WDTS_ERR_KAFKA;
}

void sched_emit_destroy(struct sched_emit *em, int timeout_ms)
{
    if (em == NULL)
        return;
    wdts_kafka_producer_flush(em->prod, timeout_ms);
    wdts_kafka_producer_destroy(em->prod);
    free(em->topic);
    free(em);
}
