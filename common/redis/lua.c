/* The embedded Lua scripts (see lua.h): the table from script id to the arrays that
 * common/redis/lua-gen.cmake generates from the files common/redis/lua/NAME.lua, created once
 * as script objects; the transport-free call struct; hash-tagged keys; array reply readers.
 * It does not know what any script does: the modules limit, lock, watermark and lease
 * build the calls and read the replies. */
#include "wdts/lua.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/redis.h"

/* Defined in the generated wdts_lua_scripts.c; a missing script file fails the link. */
#define WDTS_LUA_EXTERN(n)                                                                         \
    extern const unsigned char wdts_lua_src_##n[];                                                 \
    extern const size_t wdts_lua_len_##n;
WDTS_LUA_EXTERN(limit_try_start)
WDTS_LUA_EXTERN(limit_finish)
WDTS_LUA_EXTERN(lock_acquire)
WDTS_LUA_EXTERN(lock_renew)
WDTS_LUA_EXTERN(lock_release)
WDTS_LUA_EXTERN(wm_init)
WDTS_LUA_EXTERN(wm_get)
WDTS_LUA_EXTERN(wm_complete)
WDTS_LUA_EXTERN(wm_reset)
WDTS_LUA_EXTERN(lease_acquire)
WDTS_LUA_EXTERN(lease_renew)
WDTS_LUA_EXTERN(lease_release)

struct lua_src {
    const char *name;
    const unsigned char *src;
    const size_t *len;
};

#define WDTS_LUA_ROW(id, n) [id] = {#n, wdts_lua_src_##n, &wdts_lua_len_##n}
static const struct lua_src sources[WDTS_LUA__COUNT] = {
    WDTS_LUA_ROW(WDTS_LUA_LIMIT_TRY_START, limit_try_start),
    WDTS_LUA_ROW(WDTS_LUA_LIMIT_FINISH, limit_finish),
    WDTS_LUA_ROW(WDTS_LUA_LOCK_ACQUIRE, lock_acquire),
    WDTS_LUA_ROW(WDTS_LUA_LOCK_RENEW, lock_renew),
    WDTS_LUA_ROW(WDTS_LUA_LOCK_RELEASE, lock_release),
    WDTS_LUA_ROW(WDTS_LUA_WM_INIT, wm_init),
    WDTS_LUA_ROW(WDTS_LUA_WM_GET, wm_get),
    WDTS_LUA_ROW(WDTS_LUA_WM_COMPLETE, wm_complete),
    WDTS_LUA_ROW(WDTS_LUA_WM_RESET, wm_reset),
    WDTS_LUA_ROW(WDTS_LUA_LEASE_ACQUIRE, lease_acquire),
    WDTS_LUA_ROW(WDTS_LUA_LEASE_RENEW, lease_renew),
    WDTS_LUA_ROW(WDTS_LUA_LEASE_RELEASE, lease_release),
};

/* Created once and never freed: they are constants of the program. */
static struct wdts_redis_script *scripts[WDTS_LUA__COUNT];
static pthread_once_t scripts_once = PTHREAD_ONCE_INIT;

static void scripts_create(void)
{
    for (int i = 0; i < WDTS_LUA__COUNT; i++) {
        WDTS_ASSERT(sources[i].name != NULL);
        /* the generated arrays end with a NUL; a NUL inside would cut the script */
        WDTS_ASSERT(strlen((const char *)sources[i].src) == *sources[i].len);
        scripts[i] = wdts_redis_script_new(sources[i].name, (const char *)sources[i].src);
    }
}

const struct wdts_redis_script *wdts_lua_script(enum wdts_lua_id id)
{
    WDTS_ASSERT((int)id >= 0 && id < WDTS_LUA__COUNT);
    pthread_once(&scripts_once, scripts_create);
    return scripts[id];
}

/* ---- calls ------------------------------------------------------------------------- */

void wdts_lua_call_init(struct wdts_lua_call *call, enum wdts_lua_id id)
{
    memset(call, 0, sizeof(*call));
    call->script = wdts_lua_script(id);
    wdts_buf_init(&call->store);
}

void wdts_lua_call_deinit(struct wdts_lua_call *call)
{
    if (call == NULL)
        return;
    wdts_buf_deinit(&call->store);
    memset(call, 0, sizeof(*call));
}

/* store may move when it grows: point keys[] and args[] at it again. */
static void call_fix(struct wdts_lua_call *call)
{
    for (int i = 0; i < call->nkeys; i++)
        call->keys[i] = call->store.data + call->key_off[i];
    for (int i = 0; i < call->nargs; i++)
        call->args[i] = call->store.data + call->arg_off[i];
}

static size_t call_put(struct wdts_lua_call *call, const char *s)
{
    size_t off = call->store.len;
    wdts_buf_append(&call->store, s, strlen(s) + 1); /* keep the NUL: items sit back to back */
    return off;
}

void wdts_lua_call_key(struct wdts_lua_call *call, const char *key)
{
    WDTS_ASSERT(call->nkeys < WDTS_LUA_MAX_KEYS && key != NULL);
    call->key_off[call->nkeys++] = call_put(call, key);
    call_fix(call);
}

void wdts_lua_call_arg(struct wdts_lua_call *call, const char *arg)
{
    WDTS_ASSERT(call->nargs < WDTS_LUA_MAX_ARGS && arg != NULL);
    call->arg_off[call->nargs++] = call_put(call, arg);
    call_fix(call);
}

void wdts_lua_call_arg_ll(struct wdts_lua_call *call, long long v)
{
    char num[24];
    snprintf(num, sizeof(num), "%lld", v);
    wdts_lua_call_arg(call, num);
}

wdts_err_t wdts_lua_call_run(struct wdts_redis *redis, const struct wdts_lua_call *call,
                             struct wdts_redis_reply **reply, char *errstr, size_t errstr_size)
{
    wdts_err_t err = wdts_redis_eval(redis, call->script, call->nkeys, call->keys, call->nargs,
                                     call->args, reply);
    if (err != WDTS_OK)
        wdts_strlcpy(errstr, redis->errstr, errstr_size);
    return err;
}

wdts_err_t wdts_lua_call_exec(struct wdts_redis *redis, struct wdts_lua_call *call,
                              wdts_err_t built, wdts_lua_parse_cb parse, void *out, char *errstr,
                              size_t errstr_size)
{
    struct wdts_redis_reply *reply = NULL;
    wdts_err_t err = built;
    if (err == WDTS_OK)
        err = wdts_lua_call_run(redis, call, &reply, errstr, errstr_size);
    if (err == WDTS_OK)
        err = parse(reply, out, errstr, errstr_size);
    wdts_redis_reply_free(reply);
    wdts_lua_call_deinit(call);
    return err;
}

/* ---- keys -------------------------------------------------------------------------- */

const char *wdts_lua_key(struct wdts_buf *out, const char *prefix, const char *ns,
                         const char *const *parts, size_t nparts, const char *suffix)
{
    wdts_buf_reset(out);
    wdts_buf_append_str(out, prefix ? prefix : WDTS_REDIS_PREFIX_DEFAULT);
    wdts_buf_append_str(out, ns);
    wdts_buf_append(out, ":{", 2);
    for (size_t i = 0; i < nparts; i++) {
        if (i > 0)
            wdts_buf_append(out, ":", 1);
        for (const char *c = parts[i]; *c; c++) {
            switch (*c) {
            case ':':
                wdts_buf_append(out, "%3A", 3);
                break;
            case '%':
                wdts_buf_append(out, "%25", 3);
                break;
            case '{':
                wdts_buf_append(out, "%7B", 3);
                break;
            case '}':
                wdts_buf_append(out, "%7D", 3);
                break;
            default:
                wdts_buf_append(out, c, 1);
            }
        }
    }
    wdts_buf_append(out, "}", 1);
    wdts_buf_append_str(out, suffix);
    return wdts_buf_str(out);
}

/* ---- replies ----------------------------------------------------------------------- */

static const char *type_name(enum wdts_redis_type t)
{
    static const char *const names[] = {"nil", "an integer", "a string", "a status",
                                        "an array", "an error"};
    return (int)t >= 0 && (size_t)t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

wdts_err_t wdts_lua_reply_array(const struct wdts_redis_reply *reply, size_t n, const char *what,
                                char *errstr, size_t errstr_size)
{
    enum wdts_redis_type t = wdts_redis_reply_type(reply);
    if (t == WDTS_REDIS_ERROR) {
        snprintf(errstr, errstr_size, "script %s: %s", what, wdts_redis_reply_str(reply, NULL));
        return WDTS_ERR_REDIS;
    }
    if (t != WDTS_REDIS_ARRAY) {
        snprintf(errstr, errstr_size, "script %s: expected an array of %zu, got %s", what, n,
                 type_name(t));
        return WDTS_ERR_REDIS;
    }
    if (wdts_redis_reply_count(reply) != n) {
        snprintf(errstr, errstr_size,
                 "script %s: expected an array of %zu, got %zu elements (is the server "
                 "running an older version of the script?)",
                 what, n, wdts_redis_reply_count(reply));
        return WDTS_ERR_REDIS;
    }
    return WDTS_OK;
}

wdts_err_t wdts_lua_reply_int(const struct wdts_redis_reply *reply, size_t i, const char *what,
                              long long *out, char *errstr, size_t errstr_size)
{
    const struct wdts_redis_reply *el = wdts_redis_reply_elem(reply, i);
    if (wdts_redis_reply_type(el) != WDTS_REDIS_INT) {
        snprintf(errstr, errstr_size, "script %s: element %zu: expected an integer, got %s",
                 what, i, type_name(wdts_redis_reply_type(el)));
        return WDTS_ERR_REDIS;
    }
    *out = wdts_redis_reply_int(el);
    return WDTS_OK;
}

wdts_err_t wdts_lua_reply_str(const struct wdts_redis_reply *reply, size_t i, const char *what,
                              const char **out, char *errstr, size_t errstr_size)
{
    const struct wdts_redis_reply *el = wdts_redis_reply_elem(reply, i);
    enum wdts_redis_type t = wdts_redis_reply_type(el);
    if (t != WDTS_REDIS_STR && t != WDTS_REDIS_STATUS) {
        snprintf(errstr, errstr_size, "script %s: element %zu: expected a string, got %s", what,
                 i, type_name(t));
        return WDTS_ERR_REDIS;
    }
    *out = wdts_redis_reply_str(el, NULL);
    return WDTS_OK;
}
