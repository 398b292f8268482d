/* Named leases (see lease.h): keys, arguments and reply parsing for
 * common/redis/lua/lease_acquire.lua, lease_renew.lua and lease_release.lua. */
#include "wdts/lease.h"

#include <stdio.h>
#include <string.h>

#include "wdts/redis.h"

#define LEASE_TTL_MAX_MS 86400000LL

static wdts_err_t check_args(const char *name, const char *holder, const char *token,
                             long long ttl_ms, int need_ttl, char *errstr, size_t errstr_size)
{
    if (name == NULL || !*name) {
        snprintf(errstr, errstr_size, "lease: the lease name is empty (e.g. \"scheduler\")");
        return WDTS_ERR_INVAL;
    }
    if (holder != NULL && (!*holder || strlen(holder) > WDTS_LEASE_HOLDER_MAX)) {
        snprintf(errstr, errstr_size,
                 "lease %s: the holder name must have 1..%d characters (e.g. host and pid)",
                 name, WDTS_LEASE_HOLDER_MAX);
        return WDTS_ERR_INVAL;
    }
    if (token == NULL || !*token) {
        snprintf(errstr, errstr_size,
                 "lease %s: the token is empty; make one with wdts_lock_token_new()", name);
        return WDTS_ERR_INVAL;
    }
    if (need_ttl && (ttl_ms < 1 || ttl_ms > LEASE_TTL_MAX_MS)) {
        snprintf(errstr, errstr_size, "lease %s: ttl_ms is %lld; give 1..%lld ms", name, ttl_ms,
                 LEASE_TTL_MAX_MS);
        return WDTS_ERR_INVAL;
    }
    return WDTS_OK;
}

static void add_keys(struct wdts_lua_call *call, const char *prefix, const char *name, int both)
{
    struct wdts_buf kb;
    const char *parts[1] = {name};
    wdts_buf_init(&kb);
    wdts_lua_call_key(call, wdts_lua_key(&kb, prefix, "lease", parts, 1, ""));
    if (both)
        wdts_lua_call_key(call, wdts_lua_key(&kb, prefix, "lease", parts, 1, ":epoch"));
    wdts_buf_deinit(&kb);
}

wdts_err_t wdts_lease_acquire_build(struct wdts_lua_call *call, const char *prefix,
                                    const char *name, const char *holder, const char *token,
                                    long long ttl_ms, char *errstr, size_t errstr_size)
{
    wdts_lua_call_init(call, WDTS_LUA_LEASE_ACQUIRE);
    if (holder == NULL)
        holder = "";
    wdts_err_t err = check_args(name, holder, token, ttl_ms, 1, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    add_keys(call, prefix, name, 1);
    wdts_lua_call_arg(call, holder);
    wdts_lua_call_arg(call, token);
    wdts_lua_call_arg_ll(call, ttl_ms);
    return WDTS_OK;
}

wdts_err_t wdts_lease_renew_build(struct wdts_lua_call *call, const char *prefix,
                                  const char *name, const char *token, long long ttl_ms,
                                  char *errstr, size_t errstr_size)
{
    wdts_lua_call_init(call, WDTS_LUA_LEASE_RENEW);
    wdts_err_t err = check_args(name, NULL, token, ttl_ms, 1, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    add_keys(call, prefix, name, 0);
    wdts_lua_call_arg(call, token);
    wdts_lua_call_arg_ll(call, ttl_ms);
    return WDTS_OK;
}

wdts_err_t wdts_lease_state_parse(const struct wdts_redis_reply *reply,
                                  struct wdts_lease_state *out, char *errstr, size_t errstr_size)
{
    static const char what[] = "lease";
    long long held = 0, ttl = 0, epoch = 0;
    const char *holder = NULL;
    wdts_err_t err;
    memset(out, 0, sizeof(*out));
    if ((err = wdts_lua_reply_array(reply, 4, what, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 0, what, &held, errstr, errstr_size)) ||
        (err = wdts_lua_reply_str(reply, 1, what, &holder, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 2, what, &ttl, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 3, what, &epoch, errstr, errstr_size)))
        return err;
    if ((held != 0 && held != 1) || (held == 1 && (epoch < 1 || ttl < 1))) {
        snprintf(errstr, errstr_size, "script %s: inconsistent answer {%lld, %lld, %lld}", what,
                 held, ttl, epoch);
        return WDTS_ERR_REDIS;
    }
    out->held = (int)held;
    wdts_strlcpy(out->holder, holder, sizeof(out->holder));
    out->ttl_ms = ttl;
    out->epoch = epoch;
    return WDTS_OK;
}

static wdts_err_t state_parse(const struct wdts_redis_reply *r, void *o, char *e, size_t n)
{
    return wdts_lease_state_parse(r, o, e, n);
}

wdts_err_t wdts_lease_acquire(struct wdts_redis *redis, const char *name, const char *holder,
                              const char *token, long long ttl_ms, struct wdts_lease_state *out,
                              char *errstr, size_t errstr_size)
{
    struct wdts_lua_call call;
    wdts_err_t built = wdts_lease_acquire_build(&call, redis->params.prefix, name, holder, token,
                                                ttl_ms, errstr, errstr_size);
    return wdts_lua_call_exec(redis, &call, built, state_parse, out, errstr, errstr_size);
}

wdts_err_t wdts_lease_renew(struct wdts_redis *redis, const char *name, const char *token,
                            long long ttl_ms, struct wdts_lease_state *out, char *errstr,
                            size_t errstr_size)
{
    struct wdts_lua_call call;
    wdts_err_t built = wdts_lease_renew_build(&call, redis->params.prefix, name, token, ttl_ms,
                                              errstr, errstr_size);
    return wdts_lua_call_exec(redis, &call, built, state_parse, out, errstr, errstr_size);
}

wdts_err_t wdts_lease_release_build(struct wdts_lua_call *call, const char *prefix,
                                    const char *name, const char *token, char *errstr,
                                    size_t errstr_size)
{
    wdts_lua_call_init(call, WDTS_LUA_LEASE_RELEASE);
    wdts_err_t err = check_args(name, NULL, token, 0, 0, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    add_keys(call, prefix, name, 0);
    wdts_lua_call_arg(call, token);
    return WDTS_OK;
}

wdts_err_t wdts_lease_release_parse(const struct wdts_redis_reply *reply, int *released,
                                    char *errstr, size_t errstr_size)
{
    *released = 0;
    if (wdts_redis_reply_type(reply) == WDTS_REDIS_ERROR)
        return wdts_lua_reply_array(reply, 0, "lease_release", errstr, errstr_size);
    if (wdts_redis_reply_type(reply) != WDTS_REDIS_INT ||
        (wdts_redis_reply_int(reply) != 0 && wdts_redis_reply_int(reply) != 1)) {
        snprintf(errstr, errstr_size, "script lease_release: expected 0 or 1");
        return WDTS_ERR_REDIS;
    }
    *released = (int)wdts_redis_reply_int(reply);
    return WDTS_OK;
}

static wdts_err_t release_parse(const struct wdts_redis_reply *r, void *o, char *e, size_t n)
{
    return wdts_lease_release_parse(r, o, e, n);
}

wdts_err_t wdts_lease_release(struct wdts_redis *redis, const char *name, const char *token,
                              int *released, char *errstr, size_t errstr_size)
{
    struct wdts_lua_call call;
    wdts_err_t built = wdts_lease_release_build(&call, redis->params.prefix, name, token, errstr,
                                                errstr_size);
    return wdts_lua_call_exec(redis, &call, built, release_parse, released, errstr, errstr_size);
}
