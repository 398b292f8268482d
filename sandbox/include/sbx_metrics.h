/* Counters of wdt-sandbox, served on GET /metrics in the Prometheus text format.
 * A counter is a family (fixed list below) plus a label set the caller formats
 * from controlled values (known method names, known sids, numeric statuses), so
 * the number of series stays bounded whatever clients send. */
#ifndef SBX_METRICS_H
#define SBX_METRICS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct wdts_buf;

enum sbx_metric_family {
    SBX_M_CALLS = 0, /* wdt_sandbox_calls_total{route,method,sid,status} */
    SBX_M_LIMITED,   /* wdt_sandbox_limit_answers_total{route,sid,limit} */
    SBX_M_FAULTS,    /* wdt_sandbox_faults_injected_total{kind} */
    SBX_M_HTTP,      /* wdt_sandbox_http_requests_total{path,code} */
    SBX_M_CONNS,     /* wdt_sandbox_connections_total (no labels) */
    SBX_M__COUNT
};

struct sbx_metric; /* one series; private to sbx_metrics.c */

struct sbx_metrics {
    pthread_mutex_t lock;
    struct sbx_metric *buckets[256];
    int64_t inflight; /* gauge: gateway requests being answered (atomic) */
};

void sbx_metrics_init(struct sbx_metrics *m);
void sbx_metrics_deinit(struct sbx_metrics *m);
/** Adds 1 to the series (family, labels); labels like `sid="a",status="0"`. @thread any. */
void sbx_metrics_inc(struct sbx_metrics *m, enum sbx_metric_family fam, const char *labels);
/** Appends the Prometheus text exposition of every series. @thread any. */
void sbx_metrics_render(struct sbx_metrics *m, struct wdts_buf *out);

#endif
