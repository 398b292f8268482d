/* The scheduler lease (see sched_lease_int.h). Renewal is driven by the caller's loop, so a
 * long pass calls sched_lease_tick() between batches: a holder that cannot renew in time
 * stops itself before its lease can expire and another replica takes over. */
#include "sched_lease_int.h"

#include <stdio.h>
#include <string.h>

#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"

wdts_err_t sched_lease_init(struct sched_lease *lease, struct wdts_redis *redis, const char *holder,
                            long long ttl_ms, char *errstr, size_t errstr_size)
{
    memset(lease, 0, sizeof(*lease));
    lease->redis = redis;
    lease->ttl_ms = ttl_ms;
    wdts_strlcpy(lease->holder, holder, sizeof(lease->holder));
    if (wdts_lock_token_new(lease->token) != WDTS_OK) {
        snprintf(errstr, errstr_size, "lease: no random token (OpenSSL CSPRNG failed)");
        return WDTS_ERR_TLS;
    }
    return WDTS_OK;
}

int sched_lease_tick(struct sched_lease *lease, int force, char *errstr, size_t errstr_size)
{
    int64_t now = wdts_time_mono_ms();
    if (!force && lease->held && now - lease->last_ok_ms < lease->ttl_ms / 3)
        return 1;
    struct wdts_lease_state st;
    wdts_err_t err;
    if (lease->held)
        err = wdts_lease_renew(lease->redis, SCHED_LEASE_NAME, lease->token, lease->ttl_ms, &st,
                               errstr, errstr_size);
    else
        err = wdts_lease_acquire(lease->redis, SCHED_LEASE_NAME, lease->holder, lease->token,
                                 lease->ttl_ms, &st, errstr, errstr_size);
    if (err != WDTS_OK) {
        if (lease->redis->err != WDTS_OK)
            wdts_redis_reconnect(lease->redis);
        /* keep acting only while the lease certainly has not expired yet */
        if (lease->held && now - lease->last_ok_ms >= lease->ttl_ms * 2 / 3)
            lease->held = 0;
        return lease->held;
    }
    lease->seen = st;
    lease->held = st.held;
    if (st.held)
        lease->last_ok_ms = now;
    return lease->held;
}

void sched_lease_release(struct sched_lease *lease)
{
    char es[256];
    int released = 0;
    if (!lease->held)
        return;
    wdts_lease_release(lease->redis, SCHED_LEASE_NAME, lease->token, &released, es, sizeof(es));
    lease->held = 0;
}
