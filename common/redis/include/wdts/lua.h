/* The Lua scripts of common/redis/lua/, embedded at build time, and a script call kept apart
 * from its transport: builders fill a struct wdts_lua_call (script, keys, arguments)
 * without touching the network, any client sends it (wdts_lua_call_run() with the
 * blocking handle, or a non-blocking client as EVALSHA sha nkeys keys... args...), and
 * pure parsers read the reply. Also: hash-tagged key names and reply readers.
 *
 * Ownership:
 *   wdts_lua_script() --borrowed--> static struct wdts_redis_script (lives until exit)
 *   caller --embeds--> wdts_lua_call --owns--> the key and argument bytes
 * Threads: wdts_lua_script() may be called from any thread (created once); a call struct
 * is used by one thread at a time. */
#ifndef WDTS_LUA_H
#define WDTS_LUA_H

#include <stddef.h>

#include "wdts/err.h"
#include "wdts/str.h"

struct wdts_redis;
struct wdts_redis_reply;
struct wdts_redis_script;

/** One value per file common/redis/lua/<name>.lua; the name is the file's base name. */
enum wdts_lua_id {
    WDTS_LUA_LIMIT_TRY_START = 0,
    WDTS_LUA_LIMIT_FINISH,
    WDTS_LUA_LOCK_ACQUIRE,
    WDTS_LUA_LOCK_RENEW,
    WDTS_LUA_LOCK_RELEASE,
    WDTS_LUA_WM_INIT,
    WDTS_LUA_WM_GET,
    WDTS_LUA_WM_COMPLETE,
    WDTS_LUA_WM_RESET,
    WDTS_LUA_LEASE_ACQUIRE,
    WDTS_LUA_LEASE_RENEW,
    WDTS_LUA_LEASE_RELEASE,
    WDTS_LUA__COUNT
};

/**
 * @brief The script of id, with its name, source and SHA1 (for EVALSHA / SCRIPT LOAD).
 * @owner borrowed; static, read-only, valid until the process exits.
 */
const struct wdts_redis_script *wdts_lua_script(enum wdts_lua_id id);

/** Most keys / arguments any script of common/redis/lua/ takes. */
#define WDTS_LUA_MAX_KEYS 4
#define WDTS_LUA_MAX_ARGS 8

/**
 * A ready-to-send script call: EVALSHA script->sha nkeys keys[0..nkeys) args[0..nargs).
 * Life cycle: wdts_lua_call_init() → wdts_lua_call_key()/_arg() (by builders) → send
 * (any number of times) → wdts_lua_call_deinit(). keys[] and args[] point into store and
 * stay valid until the next add or deinit.
 */
struct wdts_lua_call {
    const struct wdts_redis_script *script; /* borrowed (wdts_lua_script()) */
    int nkeys;
    int nargs;
    const char *keys[WDTS_LUA_MAX_KEYS];
    const char *args[WDTS_LUA_MAX_ARGS];
    size_t key_off[WDTS_LUA_MAX_KEYS]; /* offsets of keys[] and args[] in store */
    size_t arg_off[WDTS_LUA_MAX_ARGS];
    struct wdts_buf store; /* owned: every key and argument, each NUL-terminated */
};

/** Empties call for script id (also after an earlier use: call must be initialised). */
void wdts_lua_call_init(struct wdts_lua_call *call, enum wdts_lua_id id);
/** Frees the bytes. NULL is a no-op; init may follow again. */
void wdts_lua_call_deinit(struct wdts_lua_call *call);
/** Appends a key (copied). More than WDTS_LUA_MAX_KEYS is a programming error (abort). */
void wdts_lua_call_key(struct wdts_lua_call *call, const char *key);
/** Appends an argument (copied). More than WDTS_LUA_MAX_ARGS aborts. */
void wdts_lua_call_arg(struct wdts_lua_call *call, const char *arg);
/** Appends an integer argument in decimal. */
void wdts_lua_call_arg_ll(struct wdts_lua_call *call, long long v);

/**
 * @brief Sends call with the blocking handle (EVALSHA, loading the script on NOSCRIPT).
 * @param reply receives the reply on success. @owner *reply: new; free with
 *        wdts_redis_reply_free().
 * @returns WDTS_OK or the handle's error, whose text is copied into errstr.
 */
wdts_err_t wdts_lua_call_run(struct wdts_redis *redis, const struct wdts_lua_call *call,
                             struct wdts_redis_reply **reply, char *errstr, size_t errstr_size);

/** A reply parser as the modules define them (the _parse functions); out is its result. */
typedef wdts_err_t (*wdts_lua_parse_cb)(const struct wdts_redis_reply *reply, void *out,
                                        char *errstr, size_t errstr_size);

/**
 * @brief The blocking conveniences in one: when built is WDTS_OK, sends call with
 *        wdts_lua_call_run() and hands the reply to parse; then frees the reply and
 *        deinits call (in every case).
 * @param built what the builder returned; any other value is returned as it is.
 */
wdts_err_t wdts_lua_call_exec(struct wdts_redis *redis, struct wdts_lua_call *call,
                              wdts_err_t built, wdts_lua_parse_cb parse, void *out, char *errstr,
                              size_t errstr_size);

/**
 * @brief A key with a Redis Cluster hash tag: prefix ns ":{" id "}" suffix, where id is
 *        the parts joined by ':' with ':', '%', '{' and '}' inside a part percent-encoded
 *        (so different part lists never give the same key, and every key of one id
 *        lands in one cluster slot, as a script's keys must).
 * @param prefix NULL means WDTS_REDIS_PREFIX_DEFAULT. @param suffix appended verbatim
 *        ("" or e.g. ":sem").
 * @returns the key, borrowed from out (reset first) until out next changes.
 */
const char *wdts_lua_key(struct wdts_buf *out, const char *prefix, const char *ns,
                         const char *const *parts, size_t nparts, const char *suffix);

/**
 * @brief Checks that reply is an array of n elements (an ERROR reply, as a
 *        non-blocking client may hand over, gives WDTS_ERR_REDIS with its text).
 * @param what names the script in messages.
 * @returns WDTS_OK, or WDTS_ERR_REDIS with the reason in errstr.
 */
wdts_err_t wdts_lua_reply_array(const struct wdts_redis_reply *reply, size_t n, const char *what,
                                char *errstr, size_t errstr_size);
/** Element i of an array reply as an integer; WDTS_ERR_REDIS when it is not one. */
wdts_err_t wdts_lua_reply_int(const struct wdts_redis_reply *reply, size_t i, const char *what,
                              long long *out, char *errstr, size_t errstr_size);
/**
 * Element i of an array reply as a string. @owner *out: borrowed from reply.
 * WDTS_ERR_REDIS when it is not a string.
 */
wdts_err_t wdts_lua_reply_str(const struct wdts_redis_reply *reply, size_t i, const char *what,
                              const char **out, char *errstr, size_t errstr_size);

#endif
