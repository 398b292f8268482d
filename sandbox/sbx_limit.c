/* Per-tenant limits (see sbx_limit.h): one mutex per tenant, O(1) per call. */
#include "sbx_limit.h"

#include <stdlib.h>
#include <string.h>

#include "sbx_tenant.h"
#include "wdts/mem.h"

void sbx_limits_init(struct sbx_limits *limits, const struct sbx_tenants *tenants)
{
    limits->n = tenants->n;
    limits->slots = wdts_xcalloc(tenants->n ? tenants->n : 1, sizeof(*limits->slots));
    for (size_t i = 0; i < tenants->n; i++) {
        struct sbx_limit_slot *s = &limits->slots[i];
        pthread_mutex_init(&s->lock, NULL);
        s->rate_per_min = tenants->v[i].rate_per_min;
        s->concurrency = tenants->v[i].concurrency;
        if (s->rate_per_min > 0)
            s->ring = wdts_xcalloc((size_t)s->rate_per_min, sizeof(*s->ring));
    }
}

void sbx_limits_deinit(struct sbx_limits *limits)
{
    if (limits == NULL || limits->slots == NULL)
        return;
    for (size_t i = 0; i < limits->n; i++) {
        pthread_mutex_destroy(&limits->slots[i].lock);
        free(limits->slots[i].ring);
    }
    free(limits->slots);
    limits->slots = NULL;
    limits->n = 0;
}

enum sbx_limit_verdict sbx_limits_acquire(struct sbx_limits *limits, size_t idx, int64_t now_ms)
{
    struct sbx_limit_slot *s = &limits->slots[idx];
    enum sbx_limit_verdict v = SBX_LIMIT_OK;
    pthread_mutex_lock(&s->lock);
    if (s->concurrency > 0 && s->inflight >= s->concurrency) {
        v = SBX_LIMIT_CONCURRENCY;
        goto out;
    }
    if (s->rate_per_min > 0) {
        size_t cap = (size_t)s->rate_per_min;
        /* The ring is full and its oldest acceptance is within the last minute. */
        if (s->count == cap && now_ms - s->ring[s->head] < 60000) {
            v = SBX_LIMIT_RATE;
            goto out;
        }
        if (s->count == cap) {
            s->ring[s->head] = now_ms;
            s->head = (s->head + 1) % cap;
        } else {
            s->ring[(s->head + s->count) % cap] = now_ms;
            s->count++;
        }
    }
    s->inflight++;
out:
    pthread_mutex_unlock(&s->lock);
    return v;
}

void sbx_limits_release(struct sbx_limits *limits, size_t idx)
{
    struct sbx_limit_slot *s = &limits->slots[idx];
    pthread_mutex_lock(&s->lock);
    if (s->inflight > 0)
        s->inflight--;
    pthread_mutex_unlock(&s->lock);
}
