/* The seller's shared call budget for wdtctl's own calls (ctl.h): the checks of
 * `connection add|check` and the probe of `plan` spend it like the workers. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "wdts/conn.h"
#include "wdts/limit.h"
#include "wdts/lock.h"

/* The checks spend the same budget as the workers (wdts/limit.h, keyed by gateway, sid and
 * appkey), so a check never pushes a seller over its limits. A cooldown set by a
 * rate-limit answer is waited out only when short: a user at a terminal is told instead. */
#define LIMIT_MAX_WAIT_MS 20000

void ctl_limiter_init(struct ctl_limiter *lim, const struct ctl_env *env,
                      const struct wdts_conn *conn)
{
    memset(lim, 0, sizeof(*lim));
    lim->redis = env->redis;
    lim->sub = env->sub;
    lim->id = (struct wdts_limit_id){conn->gateway, conn->sid, conn->appkey};
    wdts_limit_cfg_init(&lim->cfg);
    lim->cfg.rate = conn->rate;
    lim->cfg.burst = conn->burst;
    lim->cfg.slots = conn->concurrency;
}

wdts_err_t ctl_limiter_admit(void *opaque, char *errstr, size_t errstr_size)
{
    struct ctl_limiter *lim = opaque;
    long long waited = 0;
    for (;;) {
        struct wdts_limit_start st;
        wdts_err_t err = wdts_lock_token_new(lim->token);
        if (err == WDTS_OK)
            err = wdts_limit_try_start(lim->redis, &lim->id, &lim->cfg, lim->token, &st, errstr,
                                       errstr_size);
        if (err != WDTS_OK)
            return err;
        if (st.go) {
            lim->started_us = st.now_us;
            lim->held = 1;
            return WDTS_OK;
        }
        if (waited + st.wait_ms > LIMIT_MAX_WAIT_MS) {
            if (st.reason == WDTS_LIMIT_COOLDOWN)
                snprintf(errstr, errstr_size,
                         "sid %s answered a rate limit recently and is cooling down for %lld s "
                         "more (WDT advises 5–10 minutes): run this again after that",
                         lim->id.sid, (st.wait_ms + 999) / 1000);
            else
                snprintf(errstr, errstr_size,
                         "the call budget of sid %s is in use by the workers (%s) for longer "
                         "than %d s: run this again later, or raise the connection's rate",
                         lim->id.sid, wdts_limit_reason2str(st.reason), LIMIT_MAX_WAIT_MS / 1000);
            return WDTS_ERR_AGAIN;
        }
        usleep((useconds_t)st.wait_ms * 1000);
        waited += st.wait_ms;
    }
}

void ctl_limiter_done(void *opaque, enum wdts_api_class cls)
{
    struct ctl_limiter *lim = opaque;
    struct wdts_limit_finish fin;
    char es[256];
    if (!lim->held)
        return;
    lim->held = 0;
    enum wdts_limit_outcome outcome = cls == WDTS_API_RATE_LIMITED ? WDTS_LIMIT_OUTCOME_LIMITED
                                      : cls == WDTS_API_TRANSIENT  ? WDTS_LIMIT_OUTCOME_OTHER
                                                                   : WDTS_LIMIT_OUTCOME_OK;
    /* A failure here only delays the slot's release to its lease: worth a word, no more. */
    if (wdts_limit_finish(lim->redis, &lim->id, &lim->cfg, lim->token, lim->started_us, outcome,
                          &fin, es, sizeof(es)) != WDTS_OK)
        fprintf(stderr, "wdtctl %s: releasing the call slot: %s\n", lim->sub, es);
}
