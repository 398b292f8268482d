/* The watermark of a (connection, report) (see watermark.h): keys, arguments and reply
 * parsing for common/redis/lua/wm_init.lua, wm_get.lua, wm_complete.lua and wm_reset.lua, and
 * the key names lock.c shares. The contiguity logic itself is in wm_complete.lua. */
#include "wdts/watermark.h"

#include <stdio.h>
#include <string.h>

#include "wdts/redis.h"
#include "wdts/str.h"

/* Epoch seconds up to 9999-12-31: far inside the integers a Lua double holds exactly. */
#define WM_TIME_MAX 253402300799LL

static const char *const key_suffix[] = {
    [WDTS_WM_KEY_STATE] = "",
    [WDTS_WM_KEY_DONE] = ":done",
    [WDTS_WM_KEY_FENCE] = ":fence",
    [WDTS_WM_KEY_FIDX] = ":fidx",
};

const char *wdts_wm_key(struct wdts_buf *out, const char *prefix, const struct wdts_wm_id *id,
                        enum wdts_wm_key_kind kind)
{
    const char *parts[2] = {id->connection, id->report};
    return wdts_lua_key(out, prefix, "wm", parts, 2, key_suffix[kind]);
}

const char *wdts_wm_lock_key(struct wdts_buf *out, const char *prefix,
                             const struct wdts_wm_id *id, long long start, long long end)
{
    char suffix[64];
    const char *parts[2] = {id->connection, id->report};
    snprintf(suffix, sizeof(suffix), ":lock:%lld:%lld", start, end);
    return wdts_lua_key(out, prefix, "wm", parts, 2, suffix);
}

wdts_err_t wdts_wm_id_check(const struct wdts_wm_id *id, char *errstr, size_t errstr_size)
{
    if (id == NULL || id->connection == NULL || !*id->connection || id->report == NULL ||
        !*id->report) {
        snprintf(errstr, errstr_size, "watermark: connection and report must both be given");
        return WDTS_ERR_INVAL;
    }
    return WDTS_OK;
}

static wdts_err_t check_time(const char *name, long long t, char *errstr, size_t errstr_size)
{
    if (t >= 0 && t <= WM_TIME_MAX)
        return WDTS_OK;
    snprintf(errstr, errstr_size,
             "watermark: %s is %lld; it must be epoch seconds between 0 and %lld", name, t,
             WM_TIME_MAX);
    return WDTS_ERR_INVAL;
}

static wdts_err_t check_window(long long start, long long end, char *errstr, size_t errstr_size)
{
    wdts_err_t err = check_time("start", start, errstr, errstr_size);
    if (err == WDTS_OK)
        err = check_time("end", end, errstr, errstr_size);
    if (err == WDTS_OK && end <= start) {
        snprintf(errstr, errstr_size,
                 "watermark: window [%lld, %lld) is empty; end must be after start", start, end);
        err = WDTS_ERR_INVAL;
    }
    return err;
}

static void add_key(struct wdts_lua_call *call, const char *prefix, const struct wdts_wm_id *id,
                    enum wdts_wm_key_kind kind)
{
    struct wdts_buf kb;
    wdts_buf_init(&kb);
    wdts_lua_call_key(call, wdts_wm_key(&kb, prefix, id, kind));
    wdts_buf_deinit(&kb);
}

/* Runs a built call and its parser, then frees the call; shared by every blocking
 * convenience here. */
/* ---- init -------------------------------------------------------------------------- */

wdts_err_t wdts_wm_init_build(struct wdts_lua_call *call, const char *prefix,
                              const struct wdts_wm_id *id, long long start, char *errstr,
                              size_t errstr_size)
{
    wdts_lua_call_init(call, WDTS_LUA_WM_INIT);
    wdts_err_t err = wdts_wm_id_check(id, errstr, errstr_size);
    if (err == WDTS_OK)
        err = check_time("start", start, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    add_key(call, prefix, id, WDTS_WM_KEY_STATE);
    wdts_lua_call_arg_ll(call, start);
    return WDTS_OK;
}

wdts_err_t wdts_wm_init_parse(const struct wdts_redis_reply *reply, struct wdts_wm_state *out,
                              char *errstr, size_t errstr_size)
{
    static const char what[] = "wm_init";
    long long created = 0, wm = 0, origin = 0;
    wdts_err_t err;
    memset(out, 0, sizeof(*out));
    if ((err = wdts_lua_reply_array(reply, 3, what, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 0, what, &created, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 1, what, &wm, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 2, what, &origin, errstr, errstr_size)))
        return err;
    out->initialized = 1;
    out->created = created != 0;
    out->wm = wm;
    out->origin = origin;
    return WDTS_OK;
}

static wdts_err_t init_parse(const struct wdts_redis_reply *r, void *o, char *e, size_t n)
{
    return wdts_wm_init_parse(r, o, e, n);
}

wdts_err_t wdts_wm_init(struct wdts_redis *redis, const struct wdts_wm_id *id, long long start,
                        struct wdts_wm_state *out, char *errstr, size_t errstr_size)
{
    struct wdts_lua_call call;
    wdts_err_t built =
        wdts_wm_init_build(&call, redis->params.prefix, id, start, errstr, errstr_size);
    return wdts_lua_call_exec(redis, &call, built, init_parse, out, errstr, errstr_size);
}

/* ---- get --------------------------------------------------------------------------- */

wdts_err_t wdts_wm_get_build(struct wdts_lua_call *call, const char *prefix,
                             const struct wdts_wm_id *id, char *errstr, size_t errstr_size)
{
    wdts_lua_call_init(call, WDTS_LUA_WM_GET);
    wdts_err_t err = wdts_wm_id_check(id, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    add_key(call, prefix, id, WDTS_WM_KEY_STATE);
    add_key(call, prefix, id, WDTS_WM_KEY_DONE);
    return WDTS_OK;
}

wdts_err_t wdts_wm_get_parse(const struct wdts_redis_reply *reply, struct wdts_wm_state *out,
                             char *errstr, size_t errstr_size)
{
    static const char what[] = "wm_get";
    long long v[6] = {0};
    wdts_err_t err;
    memset(out, 0, sizeof(*out));
    if ((err = wdts_lua_reply_array(reply, 6, what, errstr, errstr_size)))
        return err;
    for (size_t i = 0; i < 6; i++)
        if ((err = wdts_lua_reply_int(reply, i, what, &v[i], errstr, errstr_size)))
            return err;
    out->initialized = v[0] != 0;
    out->wm = v[1];
    out->origin = v[2];
    out->pending = v[3];
    out->fence = v[4];
    out->updated_ms = v[5];
    return WDTS_OK;
}

static wdts_err_t get_parse(const struct wdts_redis_reply *r, void *o, char *e, size_t n)
{
    return wdts_wm_get_parse(r, o, e, n);
}

wdts_err_t wdts_wm_get(struct wdts_redis *redis, const struct wdts_wm_id *id,
                       struct wdts_wm_state *out, char *errstr, size_t errstr_size)
{
    struct wdts_lua_call call;
    wdts_err_t built = wdts_wm_get_build(&call, redis->params.prefix, id, errstr, errstr_size);
    return wdts_lua_call_exec(redis, &call, built, get_parse, out, errstr, errstr_size);
}

/* ---- complete ---------------------------------------------------------------------- */

static const char *const status_names[] = {
    [WDTS_WM_ADVANCED] = "advanced", [WDTS_WM_PENDING] = "pending", [WDTS_WM_ALREADY] = "already",
    [WDTS_WM_STALE] = "stale",       [WDTS_WM_UNINIT] = "uninit",   [WDTS_WM_FULL] = "full",
};
#define N_STATUS (sizeof(status_names) / sizeof(status_names[0]))

const char *wdts_wm_status2str(enum wdts_wm_status status)
{
    return (size_t)status < N_STATUS ? status_names[status] : "unknown";
}

wdts_err_t wdts_wm_complete_build(struct wdts_lua_call *call, const char *prefix,
                                  const struct wdts_wm_id *id, long long start, long long end,
                                  long long fence, long long max_pending, char *errstr,
                                  size_t errstr_size)
{
    wdts_lua_call_init(call, WDTS_LUA_WM_COMPLETE);
    wdts_err_t err = wdts_wm_id_check(id, errstr, errstr_size);
    if (err == WDTS_OK)
        err = check_window(start, end, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    /* tokens are below 2^53 (Redis TIME in microseconds for millennia): exact in Lua */
    if (fence < 1 || fence > (1LL << 53)) {
        snprintf(errstr, errstr_size,
                 "watermark: fencing token %lld is not one lock_acquire issues; pass the "
                 "fence of wdts_lock_acquire()",
                 fence);
        return WDTS_ERR_INVAL;
    }
    if (max_pending <= 0)
        max_pending = WDTS_WM_MAX_PENDING_DEFAULT;
    add_key(call, prefix, id, WDTS_WM_KEY_STATE);
    add_key(call, prefix, id, WDTS_WM_KEY_DONE);
    add_key(call, prefix, id, WDTS_WM_KEY_FENCE);
    add_key(call, prefix, id, WDTS_WM_KEY_FIDX);
    wdts_lua_call_arg_ll(call, start);
    wdts_lua_call_arg_ll(call, end);
    wdts_lua_call_arg_ll(call, fence);
    wdts_lua_call_arg_ll(call, max_pending);
    return WDTS_OK;
}

wdts_err_t wdts_wm_complete_parse(const struct wdts_redis_reply *reply,
                                  struct wdts_wm_result *out, char *errstr, size_t errstr_size)
{
    static const char what[] = "wm_complete";
    const char *status = NULL;
    long long wm = 0, pending = 0;
    wdts_err_t err;
    memset(out, 0, sizeof(*out));
    if ((err = wdts_lua_reply_array(reply, 3, what, errstr, errstr_size)) ||
        (err = wdts_lua_reply_str(reply, 0, what, &status, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 1, what, &wm, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 2, what, &pending, errstr, errstr_size)))
        return err;
    int i = wdts_word_index(status_names, N_STATUS, status);
    if (i >= 0) {
        out->status = (enum wdts_wm_status)i;
        out->wm = wm;
        out->pending = pending;
        return WDTS_OK;
    }
    snprintf(errstr, errstr_size, "script %s: unknown status \"%.40s\"", what, status);
    return WDTS_ERR_REDIS;
}

static wdts_err_t complete_parse(const struct wdts_redis_reply *r, void *o, char *e, size_t n)
{
    return wdts_wm_complete_parse(r, o, e, n);
}

wdts_err_t wdts_wm_complete(struct wdts_redis *redis, const struct wdts_wm_id *id,
                            long long start, long long end, long long fence,
                            long long max_pending, struct wdts_wm_result *out, char *errstr,
                            size_t errstr_size)
{
    struct wdts_lua_call call;
    wdts_err_t built = wdts_wm_complete_build(&call, redis->params.prefix, id, start, end, fence,
                                              max_pending, errstr, errstr_size);
    return wdts_lua_call_exec(redis, &call, built, complete_parse, out, errstr, errstr_size);
}

/* ---- reset ------------------------------------------------------------------------- */

wdts_err_t wdts_wm_reset_build(struct wdts_lua_call *call, const char *prefix,
                               const struct wdts_wm_id *id, long long from, long long to,
                               char *errstr, size_t errstr_size)
{
    wdts_lua_call_init(call, WDTS_LUA_WM_RESET);
    wdts_err_t err = wdts_wm_id_check(id, errstr, errstr_size);
    if (err == WDTS_OK)
        err = check_window(from, to, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    add_key(call, prefix, id, WDTS_WM_KEY_STATE);
    add_key(call, prefix, id, WDTS_WM_KEY_DONE);
    wdts_lua_call_arg_ll(call, from);
    wdts_lua_call_arg_ll(call, to);
    return WDTS_OK;
}

wdts_err_t wdts_wm_reset_parse(const struct wdts_redis_reply *reply, struct wdts_wm_state *out,
                               char *errstr, size_t errstr_size)
{
    static const char what[] = "wm_reset";
    long long wm = 0, pending = 0;
    wdts_err_t err;
    memset(out, 0, sizeof(*out));
    if ((err = wdts_lua_reply_array(reply, 2, what, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 0, what, &wm, errstr, errstr_size)) ||
        (err = wdts_lua_reply_int(reply, 1, what, &pending, errstr, errstr_size)))
        return err;
    out->initialized = 1;
    out->wm = wm;
    out->pending = pending;
    return WDTS_OK;
}

static wdts_err_t reset_parse(const struct wdts_redis_reply *r, void *o, char *e, size_t n)
{
    return wdts_wm_reset_parse(r, o, e, n);
}

wdts_err_t wdts_wm_reset(struct wdts_redis *redis, const struct wdts_wm_id *id, long long from,
                         long long to, struct wdts_wm_state *out, char *errstr,
                         size_t errstr_size)
{
    struct wdts_lua_call call;
    wdts_err_t built =
        wdts_wm_reset_build(&call, redis->params.prefix, id, from, to, errstr, errstr_size);
    return wdts_lua_call_exec(redis, &call, built, reset_parse, out, errstr, errstr_size);
}
