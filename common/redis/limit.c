/* Call admission per seller app (see limit.h): keys, arguments and reply parsing for
 * common/redis/lua/limit_try_start.lua and limit_finish.lua. The decisions themselves live in
 * the scripts, where they are atomic and use the Redis clock. */
#include "wdts/limit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "wdts/redis.h"

static const char *const key_suffix[] = {
    [WDTS_LIMIT_KEY_GCRA] = ":gcra",
    [WDTS_LIMIT_KEY_SEM] = ":sem",
    [WDTS_LIMIT_KEY_COOLDOWN] = ":cd",
};

void wdts_limit_cfg_init(struct wdts_limit_cfg *cfg)
{
    cfg->rate = WDTS_LIMIT_RATE_DEFAULT;
    cfg->burst = WDTS_LIMIT_BURST_DEFAULT;
    cfg->slots = WDTS_LIMIT_SLOTS_DEFAULT;
    cfg->slot_lease_ms = WDTS_LIMIT_SLOT_LEASE_MS_DEFAULT;
    cfg->poll_ms = WDTS_LIMIT_POLL_MS_DEFAULT;
    cfg->cooldown_base_ms = WDTS_LIMIT_COOLDOWN_BASE_MS_DEFAULT;
    cfg->cooldown_cap_ms = WDTS_LIMIT_COOLDOWN_CAP_MS_DEFAULT;
    cfg->cooldown_reset_after = WDTS_LIMIT_COOLDOWN_RESET_AFTER_DEFAULT;
}

static wdts_err_t check_range(const char *name, long long v, long long min, long long max,
                              char *errstr, size_t errstr_size)
{
    if (v >= min && v <= max)
        return WDTS_OK;
    snprintf(errstr, errstr_size, "rate limit: %s is %lld; set it between %lld and %lld", name, v,
             min, max);
    return WDTS_ERR_CONFIG;
}

wdts_err_t wdts_limit_cfg_check(const struct wdts_limit_cfg *cfg, char *errstr,
                                size_t errstr_size)
{
    const long long day_ms = 86400000LL;
    if (!(isfinite(cfg->rate) && cfg->rate > 0 && cfg->rate <= WDTS_LIMIT_RATE_MAX)) {
        snprintf(errstr, errstr_size,
                 "rate limit: rate is %g calls/s; set a number above 0 and at most %g "
                 "(fractions allowed: 0.5 is one call every 2 s)",
                 cfg->rate, WDTS_LIMIT_RATE_MAX);
        return WDTS_ERR_CONFIG;
    }
    wdts_err_t err;
    if ((err = check_range("burst", cfg->burst, 1, 1000000, errstr, errstr_size)) ||
        (err = check_range("slots", cfg->slots, 1, 100000, errstr, errstr_size)) ||
        (err = check_range("slot_lease_ms", cfg->slot_lease_ms, 1, day_ms, errstr,
                           errstr_size)) ||
        (err = check_range("poll_ms", cfg->poll_ms, 1, 60000, errstr, errstr_size)) ||
        (err = check_range("cooldown_base_ms", cfg->cooldown_base_ms, 1, day_ms, errstr,
                           errstr_size)) ||
        (err = check_range("cooldown_cap_ms", cfg->cooldown_cap_ms, cfg->cooldown_base_ms,
                           day_ms, errstr, errstr_size)) ||
        (err = check_range("cooldown_reset_after", cfg->cooldown_reset_after, 1, 1000000, errstr,
                           errstr_size)))
        return err;
    return WDTS_OK;
}

long long wdts_limit_interval_us(double rate)
{
    long long us = (long long)ceil(1e6 / rate);
    return us < 1 ? 1 : us;
}

const char *wdts_limit_reason2str(enum wdts_limit_reason reason)
{
    switch (reason) {
    case WDTS_LIMIT_GO:
        return "go";
    case WDTS_LIMIT_COOLDOWN:
        return "cooldown";
    case WDTS_LIMIT_CONCURRENCY:
        return "concurrency";
    case WDTS_LIMIT_RATE:
        return "rate";
    }
    return "unknown";
}

const char *wdts_limit_key(struct wdts_buf *out, const char *prefix,
                           const struct wdts_limit_id *id, enum wdts_limit_key_kind kind)
{
    const char *parts[3] = {id->gateway, id->sid, id->appkey};
    return wdts_lua_key(out, prefix, "rl", parts, 3, key_suffix[kind]);
}

static wdts_err_t check_id(const struct wdts_limit_id *id, const char *token, char *errstr,
                           size_t errstr_size)
{
    if (id == NULL || id->gateway == NULL || !*id->gateway || id->sid == NULL || !*id->sid ||
        id->appkey == NULL || !*id->appkey) {
        snprintf(errstr, errstr_size,
                 "rate limit: gateway, sid and appkey must all be given (non-empty)");
        return WDTS_ERR_INVAL;
    }
    if (token == NULL || !*token) {
        snprintf(errstr, errstr_size,
                 "rate limit: the slot token is empty; make one per call with "
                 "wdts_lock_token_new()");
        return WDTS_ERR_INVAL;
    }
    return WDTS_OK;
}

static void add_key(struct wdts_lua_call *call, struct wdts_buf *kb, const char *prefix,
                    const struct wdts_limit_id *id, enum wdts_limit_key_kind kind)
{
    wdts_lua_call_key(call, wdts_limit_key(kb, prefix, id, kind));
}

wdts_err_t wdts_limit_try_start_build(struct wdts_lua_call *call, const char *prefix,
                                      const struct wdts_limit_id *id,
                                      const struct wdts_limit_cfg *cfg, const char *slot_token,
                                      char *errstr, size_t errstr_size)
{
    wdts_lua_call_init(call, WDTS_LUA_LIMIT_TRY_START);
    wdts_err_t err = check_id(id, slot_token, errstr, errstr_size);
    if (err == WDTS_OK)
        err = wdts_limit_cfg_check(cfg, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    struct wdts_buf kb;
    wdts_buf_init(&kb);
    add_key(call, &kb, prefix, id, WDTS_LIMIT_KEY_GCRA);
    add_key(call, &kb, prefix, id, WDTS_LIMIT_KEY_SEM);
    add_key(call, &kb, prefix, id, WDTS_LIMIT_KEY_COOLDOWN);
    wdts_buf_deinit(&kb);
    wdts_lua_call_arg_ll(call, wdts_limit_interval_us(cfg->rate));
    wdts_lua_call_arg_ll(call, cfg->burst);
    wdts_lua_call_arg_ll(call, cfg->slots);
    wdts_lua_call_arg_ll(call, cfg->slot_lease_ms);
    wdts_lua_call_arg(call, slot_token);
    wdts_lua_call_arg_ll(call, cfg->poll_ms);
    return WDTS_OK;
}

wdts_err_t wdts_limit_try_start_parse(const struct wdts_redis_reply *reply,
                                      struct wdts_limit_start *out, char *errstr,
                                      size_t errstr_size)
{
    static const char what[] = "limit_try_start";
    long long go = 0, wait = 0, now = 0;
    const char *reason = NULL;
    wdts_err_t err;
    memset(out, 0, sizeof(*out));
    if ((err = wdts_lua_reply_array(reply, 4, what, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 0, what, &go, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 1, what, &wait, errstr, errstr_size)) ||
        (err = wdts_lua_reply_str(reply, 2, what, &reason, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 3, what, &now, errstr, errstr_size)))
        return err;
    enum wdts_limit_reason r;
    if (strcmp(reason, "go") == 0)
        r = WDTS_LIMIT_GO;
    else if (strcmp(reason, "cooldown") == 0)
        r = WDTS_LIMIT_COOLDOWN;
    else if (strcmp(reason, "concurrency") == 0)
        r = WDTS_LIMIT_CONCURRENCY;
    else if (strcmp(reason, "rate") == 0)
        r = WDTS_LIMIT_RATE;
    else {
        snprintf(errstr, errstr_size, "script %s: unknown reason \"%.40s\"", what, reason);
        return WDTS_ERR_REDIS;
    }
    if ((go != 0 && go != 1) || (go == 1) != (r == WDTS_LIMIT_GO) || (go == 0 && wait < 1) ||
        now <= 0) {
        snprintf(errstr, errstr_size,
                 "script %s: inconsistent answer {%lld, %lld, \"%s\", %lld}", what, go, wait,
                 reason, now);
        return WDTS_ERR_REDIS;
    }
    out->go = (int)go;
    out->reason = r;
    out->wait_ms = go ? 0 : wait;
    out->now_us = now;
    return WDTS_OK;
}

static wdts_err_t try_start_parse(const struct wdts_redis_reply *r, void *o, char *e, size_t n)
{
    return wdts_limit_try_start_parse(r, o, e, n);
}

wdts_err_t wdts_limit_try_start(struct wdts_redis *redis, const struct wdts_limit_id *id,
                                const struct wdts_limit_cfg *cfg, const char *slot_token,
                                struct wdts_limit_start *out, char *errstr, size_t errstr_size)
{
    struct wdts_lua_call call;
    wdts_err_t built = wdts_limit_try_start_build(&call, redis->params.prefix, id, cfg,
                                                  slot_token, errstr, errstr_size);
    return wdts_lua_call_exec(redis, &call, built, try_start_parse, out, errstr, errstr_size);
}

static const char *outcome_str(enum wdts_limit_outcome outcome)
{
    switch (outcome) {
    case WDTS_LIMIT_OUTCOME_OK:
        return "ok";
    case WDTS_LIMIT_OUTCOME_LIMITED:
        return "limited";
    case WDTS_LIMIT_OUTCOME_OTHER:
        return "other";
    }
    return NULL;
}

wdts_err_t wdts_limit_finish_build(struct wdts_lua_call *call, const char *prefix,
                                   const struct wdts_limit_id *id,
                                   const struct wdts_limit_cfg *cfg, const char *slot_token,
                                   long long started_us, enum wdts_limit_outcome outcome,
                                   char *errstr, size_t errstr_size)
{
    wdts_lua_call_init(call, WDTS_LUA_LIMIT_FINISH);
    wdts_err_t err = check_id(id, slot_token, errstr, errstr_size);
    if (err == WDTS_OK)
        err = wdts_limit_cfg_check(cfg, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    const char *oc = outcome_str(outcome);
    if (oc == NULL || started_us < 0) {
        snprintf(errstr, errstr_size,
                 "rate limit: finish needs an outcome (ok, limited, other) and the now_us "
                 "that try_start returned (got outcome %d, started_us %lld)",
                 (int)outcome, started_us);
        return WDTS_ERR_INVAL;
    }
    struct wdts_buf kb;
    wdts_buf_init(&kb);
    add_key(call, &kb, prefix, id, WDTS_LIMIT_KEY_SEM);
    add_key(call, &kb, prefix, id, WDTS_LIMIT_KEY_COOLDOWN);
    wdts_buf_deinit(&kb);
    wdts_lua_call_arg(call, slot_token);
    wdts_lua_call_arg_ll(call, started_us);
    wdts_lua_call_arg(call, oc);
    wdts_lua_call_arg_ll(call, cfg->cooldown_base_ms);
    wdts_lua_call_arg_ll(call, cfg->cooldown_cap_ms);
    wdts_lua_call_arg_ll(call, cfg->cooldown_reset_after);
    return WDTS_OK;
}

wdts_err_t wdts_limit_finish_parse(const struct wdts_redis_reply *reply,
                                   struct wdts_limit_finish *out, char *errstr,
                                   size_t errstr_size)
{
    static const char what[] = "limit_finish";
    long long rel = 0, cd = 0, level = 0, streak = 0;
    wdts_err_t err;
    memset(out, 0, sizeof(*out));
    if ((err = wdts_lua_reply_array(reply, 4, what, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 0, what, &rel, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 1, what, &cd, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 2, what, &level, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 3, what, &streak, errstr, errstr_size)))
        return err;
    if ((rel != 0 && rel != 1) || cd < 0 || level < 0 || level > 64 || streak < 0 ||
        streak > 1000000) {
        snprintf(errstr, errstr_size, "script %s: inconsistent answer {%lld, %lld, %lld, %lld}",
                 what, rel, cd, level, streak);
        return WDTS_ERR_REDIS;
    }
    out->released = (int)rel;
    out->cooldown_ms = cd;
    out->level = (int)level;
    out->streak = (int)streak;
    return WDTS_OK;
}

static wdts_err_t finish_parse(const struct wdts_redis_reply *r, void *o, char *e, size_t n)
{
    return wdts_limit_finish_parse(r, o, e, n);
}

wdts_err_t wdts_limit_finish(struct wdts_redis *redis, const struct wdts_limit_id *id,
                             const struct wdts_limit_cfg *cfg, const char *slot_token,
                             long long started_us, enum wdts_limit_outcome outcome,
                             struct wdts_limit_finish *out, char *errstr, size_t errstr_size)
{
    struct wdts_lua_call call;
    wdts_err_t built = wdts_limit_finish_build(&call, redis->params.prefix, id, cfg, slot_token,
                                               started_us, outcome, errstr, errstr_size);
    return wdts_lua_call_exec(redis, &call, built, finish_parse, out, errstr, errstr_size);
}
