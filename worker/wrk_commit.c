/* Offsets of wdt.jobs and dead letters. A partition's offset is stored only up to the
 * lowest job not yet finished (done, split or dead-lettered), so a crash or a rebalance
 * redelivers exactly the unfinished jobs and those after them; stored offsets are
 * committed about once a second. A dead letter counts as finished only once Kafka has
 * acknowledged it. */
#include <stdlib.h>
#include <string.h>

#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/time.h"
#include "wrk_int.h"

static struct wrk_part *part_find(struct wrk *w, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i].partition == partition && strcmp(w->parts[i].topic, topic) == 0)
            return &w->parts[i];
    return NULL;
}

static void part_free(struct wrk_part *p)
{
    free(p->topic);
    free(p->open);
}

void wrk_commit_assigned(struct wrk *w, const struct wdts_kafka_tp *tps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (part_find(w, tps[i].topic, tps[i].partition))
            continue;
        w->parts = wdts_xrealloc(w->parts, (w->nparts + 1) * sizeof(*w->parts));
        struct wrk_part *p = &w->parts[w->nparts++];
        memset(p, 0, sizeof(*p));
        p->topic = wdts_xstrdup(tps[i].topic);
        p->partition = tps[i].partition;
        p->next = -1;
        p->stored = -1;
        /* librdkafka keeps a partition paused across a rebalance: a partition paused before
         * it was revoked comes back paused. Counted as paused, backpressure() resumes it. */
        p->paused = 1;
    }
}

void wrk_commit_revoked(struct wrk *w, const struct wdts_kafka_tp *tps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct wrk_part *p = part_find(w, tps[i].topic, tps[i].partition);
        if (p == NULL)
            continue;
        /* Jobs of the partition go on (they hold the window lock, so the new owner's
         * copy waits for them), but their offsets belong to the new owner now. */
        for (struct wrk_exec *e = w->jobs; e; e = e->next)
            if (e->partition == p->partition && strcmp(e->topic, p->topic) == 0)
                e->orphan = 1;
        part_free(p);
        *p = w->parts[--w->nparts];
    }
}

void wrk_commit_clear(struct wrk *w)
{
    for (size_t i = 0; i < w->nparts; i++)
        part_free(&w->parts[i]);
    free(w->parts);
    w->parts = NULL;
    w->nparts = 0;
}

void wrk_commit_consumed(struct wrk *w, const char *topic, int32_t partition, int64_t offset)
{
    struct wrk_part *p = part_find(w, topic, partition);
    if (p == NULL) { /* a message of a partition we were not told of: track it anyway */
        struct wdts_kafka_tp tp = {topic, partition, offset};
        wrk_commit_assigned(w, &tp, 1);
        p = part_find(w, topic, partition);
    }
    if (p->nopen == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->open = wdts_xrealloc(p->open, p->cap * sizeof(*p->open));
    }
    p->open[p->nopen++] = offset;
    if (offset + 1 > p->next)
        p->next = offset + 1;
}

void wrk_commit_finished(struct wrk *w, const char *topic, int32_t partition, int64_t offset)
{
    struct wrk_part *p = part_find(w, topic, partition);
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nopen; i++) {
        if (p->open[i] == offset) {
            p->open[i] = p->open[--p->nopen];
            break;
        }
    }
    int64_t low = p->next;
    for (size_t i = 0; i < p->nopen; i++)
        if (p->open[i] < low)
            low = p->open[i];
    if (low > p->stored) {
        wdts_err_t err = wdts_kafka_consumer_store(w->cons, p->topic, p->partition, low);
        if (err == WDTS_OK) {
            p->stored = low;
            w->stored_dirty = 1;
        } else {
            WDTS_LOG(WARN, "wrk", "store %s [%d] @ %lld: %s", p->topic, (int)p->partition,
                     (long long)low, wdts_kafka_consumer_errstr(w->cons));
        }
    }
}

void wrk_commit_flush(struct wrk *w)
{
    if (!w->stored_dirty)
        return;
    wdts_err_t err = wdts_kafka_consumer_commit(w->cons, NULL, 0);
    if (err == WDTS_OK)
        w->stored_dirty = 0;
    else if (err != WDTS_ERR_AGAIN)
        WDTS_LOG(WARN, "wrk", "commit: %s", wdts_kafka_consumer_errstr(w->cons));
}

void wrk_dlq_send(struct wrk_exec *e, const char *cls, const char *message)
{
    struct wrk *w = e->w;
    struct wdts_buf v, k;
    wdts_buf_init(&v);
    wdts_buf_init(&k);
    struct wrk_dlq_src src = {e->topic, e->partition, e->offset};
    int attempts = e->attempts > 0 ? e->attempts : 1;
    wrk_job_dlq(&v, e->raw, e->raw_len, cls, message, attempts, wdts_time_now(), &src);
    if (e->job.job_id[0])
        wdts_buf_append_str(&k, e->job.job_id);
    else
        wdts_buf_printf(&k, "%s:%d:%lld", e->topic, (int)e->partition, (long long)e->offset);
    struct wdts_param hdrs[] = {{"error", cls}, {"schema", "wdt.dlq.v1"}};
    e->st = WRK_ST_DEAD;
    e->outstanding++;
    e->refs++;
    if (wrk_produce(w, w->cfg->topic_dlq, wdts_buf_str(&k), k.len, wdts_buf_str(&v), v.len, hdrs,
                    2, &e->dr[WRK_DR_DLQ]) != WDTS_OK) {
        e->outstanding--;
        e->refs--;
        WDTS_LOG(ERROR, "wrk", "job %s: the dead letter could not be queued; the job stays "
                 "uncommitted and comes again after a restart", e->job.job_id);
    }
    wdts_buf_deinit(&v);
    wdts_buf_deinit(&k);
}
