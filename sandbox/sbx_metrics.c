/* The sandbox's counters (see sbx_metrics.h): a small chained hash table under
 * one mutex. A call takes the lock once; at 10^4 calls/s that is not the cost. */
#include "sbx_metrics.h"

#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"
#include "wdts/str.h"

struct sbx_metric {
    struct sbx_metric *next;
    enum sbx_metric_family fam;
    uint64_t value;
    char labels[]; /* NUL-terminated */
};

static const struct {
    const char *name, *help;
} families[SBX_M__COUNT] = {
    {"wdt_sandbox_calls_total", "Gateway calls answered, by route, method, tenant and status "
                                "(WDT status, top:<code> for TOP errors, http:<code> for faults)."},
    {"wdt_sandbox_limit_answers_total",
     "Rate-limit and concurrency answers given (limit=rate|concurrency|fault)."},
    {"wdt_sandbox_faults_injected_total", "Faults injected, by kind."},
    {"wdt_sandbox_http_requests_total", "HTTP requests by path and HTTP status code."},
    {"wdt_sandbox_connections_total", "TCP connections accepted (keep-alive shows as fewer "
                                      "connections than requests)."},
};

void sbx_metrics_init(struct sbx_metrics *m)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
}

void sbx_metrics_deinit(struct sbx_metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < 256; i++) {
        struct sbx_metric *e = m->buckets[i];
        while (e) {
            struct sbx_metric *next = e->next;
            free(e);
            e = next;
        }
        m->buckets[i] = NULL;
    }
    pthread_mutex_destroy(&m->lock);
}

static unsigned hash(enum sbx_metric_family fam, const char *s)
{
    unsigned h = 2166136261u ^ (unsigned)fam;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h & 255u;
}

void sbx_metrics_inc(struct sbx_metrics *m, enum sbx_metric_family fam, const char *labels)
{
    unsigned b = hash(fam, labels);
    pthread_mutex_lock(&m->lock);
    struct sbx_metric *e;
    for (e = m->buckets[b]; e; e = e->next)
        if (e->fam == fam && strcmp(e->labels, labels) == 0)
            break;
    if (e == NULL) {
        size_t len = strlen(labels);
        e = wdts_xcalloc(1, sizeof(*e) + len + 1);
        e->fam = fam;
        memcpy(e->labels, labels, len + 1);
        e->next = m->buckets[b];
        m->buckets[b] = e;
    }
    e->value++;
    pthread_mutex_unlock(&m->lock);
}

void sbx_metrics_render(struct sbx_metrics *m, struct wdts_buf *out)
{
    pthread_mutex_lock(&m->lock);
    for (int f = 0; f < SBX_M__COUNT; f++) {
        wdts_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", families[f].name,
                        families[f].help, families[f].name);
        for (size_t i = 0; i < 256; i++)
            for (struct sbx_metric *e = m->buckets[i]; e; e = e->next)
                if (e->fam == (enum sbx_metric_family)f && e->labels[0])
                    wdts_buf_printf(out, "%s{%s} %llu\n", families[f].name, e->labels,
                                    (unsigned long long)e->value);
                else if (e->fam == (enum sbx_metric_family)f)
                    wdts_buf_printf(out, "%s %llu\n", families[f].name,
                                    (unsigned long long)e->value);
    }
    pthread_mutex_unlock(&m->lock);
    wdts_buf_printf(out,
                    "# HELP wdt_sandbox_inflight Gateway requests being answered.\n"
                    "# TYPE wdt_sandbox_inflight gauge\nwdt_sandbox_inflight %lld\n",
                    (long long)__atomic_load_n(&m->inflight, __ATOMIC_RELAXED));
}
