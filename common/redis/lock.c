/* Window locks with fencing tokens (see lock.h): random tokens, and keys, arguments and
 * reply parsing for common/redis/lua/lock_acquire.lua, lock_renew.lua and lock_release.lua.
 * Key names come from watermark.c, which shares the fencing records. */
#include "wdts/lock.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "wdts/redis.h"

/* Longest lock: a day. A job that pages longer renews. */
#define LOCK_TTL_MAX_MS 86400000LL

wdts_err_t wdts_lock_token_new(char out[WDTS_LOCK_TOKEN_SIZE])
{
    unsigned char raw[(WDTS_LOCK_TOKEN_SIZE - 1) / 2];
    out[0] = '\0';
    if (RAND_bytes(raw, (int)sizeof(raw)) != 1)
        return WDTS_ERR_TLS;
    wdts_hex_lower(raw, sizeof(raw), out);
    return WDTS_OK;
}

static wdts_err_t check_args(const struct wdts_wm_id *id, long long start, long long end,
                             const char *token, long long ttl_ms, int need_ttl, char *errstr,
                             size_t errstr_size)
{
    wdts_err_t err = wdts_wm_id_check(id, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    if (start < 0 || end <= start) {
        snprintf(errstr, errstr_size,
                 "window lock: window [%lld, %lld) is not valid; start >= 0 and end > start",
                 start, end);
        return WDTS_ERR_INVAL;
    }
    if (token == NULL || !*token) {
        snprintf(errstr, errstr_size,
                 "window lock: the token is empty; make one with wdts_lock_token_new()");
        return WDTS_ERR_INVAL;
    }
    if (need_ttl && (ttl_ms < 1 || ttl_ms > LOCK_TTL_MAX_MS)) {
        snprintf(errstr, errstr_size,
                 "window lock: ttl_ms is %lld; give 1..%lld ms and renew while working", ttl_ms,
                 LOCK_TTL_MAX_MS);
        return WDTS_ERR_INVAL;
    }
    return WDTS_OK;
}

static void add_lock_key(struct wdts_lua_call *call, const char *prefix,
                         const struct wdts_wm_id *id, long long start, long long end)
{
    struct wdts_buf kb;
    wdts_buf_init(&kb);
    wdts_lua_call_key(call, wdts_wm_lock_key(&kb, prefix, id, start, end));
    wdts_buf_deinit(&kb);
}

/* ---- acquire ----------------------------------------------------------------------- */

wdts_err_t wdts_lock_acquire_build(struct wdts_lua_call *call, const char *prefix,
                                   const struct wdts_wm_id *id, long long start, long long end,
                                   const char *token, long long ttl_ms, char *errstr,
                                   size_t errstr_size)
{
    wdts_lua_call_init(call, WDTS_LUA_LOCK_ACQUIRE);
    wdts_err_t err = check_args(id, start, end, token, ttl_ms, 1, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    struct wdts_buf kb;
    wdts_buf_init(&kb);
    wdts_lua_call_key(call, wdts_wm_lock_key(&kb, prefix, id, start, end));
    wdts_lua_call_key(call, wdts_wm_key(&kb, prefix, id, WDTS_WM_KEY_STATE));
    wdts_lua_call_key(call, wdts_wm_key(&kb, prefix, id, WDTS_WM_KEY_FENCE));
    wdts_lua_call_key(call, wdts_wm_key(&kb, prefix, id, WDTS_WM_KEY_FIDX));
    wdts_buf_deinit(&kb);
    wdts_lua_call_arg(call, token);
    wdts_lua_call_arg_ll(call, ttl_ms);
    wdts_lua_call_arg_ll(call, start);
    wdts_lua_call_arg_ll(call, end);
    return WDTS_OK;
}

wdts_err_t wdts_lock_acquire_parse(const struct wdts_redis_reply *reply,
                                   struct wdts_lock_grant *out, char *errstr, size_t errstr_size)
{
    static const char what[] = "lock_acquire";
    long long ok = 0, fence = 0, ttl = 0;
    wdts_err_t err;
    memset(out, 0, sizeof(*out));
    if ((err = wdts_lua_reply_array(reply, 3, what, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 0, what, &ok, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 1, what, &fence, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 2, what, &ttl, errstr, errstr_size)))
        return err;
    if ((ok != 0 && ok != 1) || (ok == 1 && fence < 1)) {
        snprintf(errstr, errstr_size, "script %s: inconsistent answer {%lld, %lld, %lld}", what,
                 ok, fence, ttl);
        return WDTS_ERR_REDIS;
    }
    out->acquired = (int)ok;
    out->fence = fence;
    out->ttl_ms = ttl;
    return WDTS_OK;
}

static wdts_err_t acquire_parse(const struct wdts_redis_reply *r, void *o, char *e, size_t n)
{
    return wdts_lock_acquire_parse(r, o, e, n);
}

wdts_err_t wdts_lock_acquire(struct wdts_redis *redis, const struct wdts_wm_id *id,
                             long long start, long long end, const char *token, long long ttl_ms,
                             struct wdts_lock_grant *out, char *errstr, size_t errstr_size)
{
    struct wdts_lua_call call;
    wdts_err_t built = wdts_lock_acquire_build(&call, redis->params.prefix, id, start, end, token,
                                               ttl_ms, errstr, errstr_size);
    return wdts_lua_call_exec(redis, &call, built, acquire_parse, out, errstr, errstr_size);
}

/* ---- renew ------------------------------------------------------------------------- */

wdts_err_t wdts_lock_renew_build(struct wdts_lua_call *call, const char *prefix,
                                 const struct wdts_wm_id *id, long long start, long long end,
                                 const char *token, long long ttl_ms, char *errstr,
                                 size_t errstr_size)
{
    wdts_lua_call_init(call, WDTS_LUA_LOCK_RENEW);
    wdts_err_t err = check_args(id, start, end, token, ttl_ms, 1, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    add_lock_key(call, prefix, id, start, end);
    wdts_lua_call_arg(call, token);
    wdts_lua_call_arg_ll(call, ttl_ms);
    return WDTS_OK;
}

wdts_err_t wdts_lock_renew_parse(const struct wdts_redis_reply *reply,
                                 struct wdts_lock_renewal *out, char *errstr, size_t errstr_size)
{
    static const char what[] = "lock_renew";
    long long ok = 0, ttl = 0;
    wdts_err_t err;
    memset(out, 0, sizeof(*out));
    if ((err = wdts_lua_reply_array(reply, 2, what, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 0, what, &ok, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 1, what, &ttl, errstr, errstr_size)))
        return err;
    if (ok != 0 && ok != 1) {
        snprintf(errstr, errstr_size, "script %s: inconsistent answer {%lld, %lld}", what, ok,
                 ttl);
        return WDTS_ERR_REDIS;
    }
    out->held = (int)ok;
    out->ttl_ms = ttl;
    return WDTS_OK;
}

static wdts_err_t renew_parse(const struct wdts_redis_reply *r, void *o, char *e, size_t n)
{
    return wdts_lock_renew_parse(r, o, e, n);
}

wdts_err_t wdts_lock_renew(struct wdts_redis *redis, const struct wdts_wm_id *id,
                           long long start, long long end, const char *token, long long ttl_ms,
                           struct wdts_lock_renewal *out, char *errstr, size_t errstr_size)
{
    struct wdts_lua_call call;
    wdts_err_t built = wdts_lock_renew_build(&call, redis->params.prefix, id, start, end, token,
                                             ttl_ms, errstr, errstr_size);
    return wdts_lua_call_exec(redis, &call, built, renew_parse, out, errstr, errstr_size);
}

/* ---- release ----------------------------------------------------------------------- */

wdts_err_t wdts_lock_release_build(struct wdts_lua_call *call, const char *prefix,
                                   const struct wdts_wm_id *id, long long start, long long end,
                                   const char *token, char *errstr, size_t errstr_size)
{
    wdts_lua_call_init(call, WDTS_LUA_LOCK_RELEASE);
    wdts_err_t err = check_args(id, start, end, token, 0, 0, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    add_lock_key(call, prefix, id, start, end);
    wdts_lua_call_arg(call, token);
    return WDTS_OK;
}

wdts_err_t wdts_lock_release_parse(const struct wdts_redis_reply *reply, int *released,
                                   char *errstr, size_t errstr_size)
{
    *released = 0;
    if (wdts_redis_reply_type(reply) == WDTS_REDIS_ERROR) /* its text, as for arrays */
        return wdts_lua_reply_array(reply, 0, "lock_release", errstr, errstr_size);
    if (wdts_redis_reply_type(reply) != WDTS_REDIS_INT ||
        (wdts_redis_reply_int(reply) != 0 && wdts_redis_reply_int(reply) != 1)) {
        snprintf(errstr, errstr_size, "script lock_release: expected 0 or 1");
        return WDTS_ERR_REDIS;
    }
    *released = (int)wdts_redis_reply_int(reply);
    return WDTS_OK;
}

static wdts_err_t release_parse(const struct wdts_redis_reply *r, void *o, char *e, size_t n)
{
    return wdts_lock_release_parse(r, o, e, n);
}

wdts_err_t wdts_lock_release(struct wdts_redis *redis, const struct wdts_wm_id *id,
                             long long start, long long end, const char *token, int *released,
                             char *errstr, size_t errstr_size)
{
    struct wdts_lua_call call;
    wdts_err_t built = wdts_lock_release_build(&call, redis->params.prefix, id, start, end,
                                               token, errstr, errstr_size);
    return wdts_lua_call_exec(redis, &call, built, release_parse, released, errstr, errstr_size);
}
