/* The estimated clock of each gateway, for signing requests: this machine's clock until a
 * timestamp error, then the gateway's as its Date headers tell it. */
#include <stdlib.h>
#include <string.h>

#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/time.h"
#include "wrk_int.h"

/** The estimated clock of one gateway (resynced after a timestamp error). */
struct wrk_clock {
    struct wrk_clock *next;
    char *gateway;
    int synced;          /* 0: use this machine's clock */
    int64_t anchor_mono; /* monotonic ms of the last Date seen */
    int64_t anchor_gw;   /* the gateway's time then, ms */
    int64_t rate_mono, rate_gw; /* an older anchor, for the rate */
    double rate;         /* gateway ms per local ms (1 for a real gateway) */
};

static struct wrk_clock *clock_get(struct wrk *w, const char *gateway)
{
    for (struct wrk_clock *k = w->clocks; k; k = k->next)
        if (strcmp(k->gateway, gateway) == 0)
            return k;
    struct wrk_clock *k = wdts_xcalloc(1, sizeof(*k));
    k->gateway = wdts_xstrdup(gateway);
    k->rate = 1.0;
    k->next = w->clocks;
    w->clocks = k;
    return k;
}

int64_t wrk_clock_now(struct wrk *w, const char *gateway)
{
    struct wrk_clock *k = clock_get(w, gateway);
    if (!k->synced)
        return wdts_time_now();
    int64_t ms = k->anchor_gw + (int64_t)((double)(wdts_time_mono_ms() - k->anchor_mono) * k->rate);
    return ms / 1000;
}

/* After a timestamp error: from now on, sign with the gateway's clock as its Date headers
 * tell it (offset, and the rate when two readings are far enough apart: a simulator may
 * run its clock faster than real time). */
void wrk_clock_resync(struct wrk *w, const char *gateway, int64_t date_s)
{
    struct wrk_clock *k = clock_get(w, gateway);
    int64_t mono = wdts_time_mono_ms();
    if (!k->synced) {
        k->synced = 1;
        k->rate_mono = mono;
        k->rate_gw = date_s * 1000 + 500;
        WDTS_LOG(WARN, "wrk", "gateway %s: clock resynced: it is %lld s ahead of this machine",
                 gateway, (long long)(date_s - wdts_time_now()));
    }
    wrk_clock_observe(w, gateway, date_s);
}

void wrk_clock_observe(struct wrk *w, const char *gateway, int64_t date_s)
{
    struct wrk_clock *k = clock_get(w, gateway);
    if (!k->synced)
        return;
    int64_t mono = wdts_time_mono_ms();
    k->anchor_mono = mono;
    k->anchor_gw = date_s * 1000 + 500; /* Date has whole seconds */
    if (mono - k->rate_mono >= 5000) {
        double r = (double)(k->anchor_gw - k->rate_gw) / (double)(mono - k->rate_mono);
        if (r > 0.5 && r < 10000)
            k->rate = r;
        k->rate_mono = mono;
        k->rate_gw = k->anchor_gw;
    }
}

void wrk_clocks_clear(struct wrk *w)
{
    while (w->clocks) {
        struct wrk_clock *k = w->clocks;
        w->clocks = k->next;
        free(k->gateway);
        free(k);
    }
}
