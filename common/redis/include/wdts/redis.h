/* Blocking Redis client on hiredis 0.14: connection from a redis:// URL (AUTH and
 * SELECT on connect), commands that hide redisReply, pipelining, Lua scripts run by
 * EVALSHA with a reload on NOSCRIPT, and key naming under a prefix. It has no
 * non-blocking interface; one would sit beside it and share struct wdts_redis_params.
 * It reports errors and never logs them.
 *
 * Ownership:
 *   caller --owns--> wdts_redis --owns--> redisContext (private), copy of the params
 *   caller --owns--> wdts_redis_script (independent of any connection)
 *   caller --owns--> wdts_redis_reply --owns--> its elements (borrowed by accessors)
 * Threads: a handle is used by one thread at a time; scripts are read-only after
 * creation and may be shared by threads.
 * Signals: connecting sets SIGPIPE to SIG_IGN when it still has its default action,
 * because hiredis writes with write() and a reset connection must not kill the process. */
#ifndef WDTS_REDIS_H
#define WDTS_REDIS_H

#include <stddef.h>

#include "wdts/err.h"
#include "wdts/str.h"

struct redisContext;

/** Key prefix used when none is configured. */
#define WDTS_REDIS_PREFIX_DEFAULT "wdt:"
#define WDTS_REDIS_PORT_DEFAULT 6379
#define WDTS_REDIS_CONNECT_TIMEOUT_MS_DEFAULT 2000
#define WDTS_REDIS_COMMAND_TIMEOUT_MS_DEFAULT 5000

/**
 * Where and how to connect; plain data, copied by value. Shared by the blocking
 * handle below and any later non-blocking one.
 * Life cycle: wdts_redis_params_init() (defaults) → wdts_redis_params_from_url() →
 * optional wdts_redis_params_set_password() and timeout/prefix changes → wdts_redis_new().
 */
struct wdts_redis_params {
    char host[256];         /* name or address; IPv6 without brackets */
    int port;               /* 1..65535 */
    char user[128];         /* ACL user; "" sends AUTH with the password only */
    char password[512];     /* "" sends no AUTH */
    int db;                 /* SELECTed on connect when not 0 */
    int connect_timeout_ms; /* > 0 */
    int command_timeout_ms; /* > 0; a command without a reply by then breaks the connection */
    char prefix[64];        /* put before every key by wdts_redis_key() */
};

/** Sets the defaults: 127.0.0.1:6379, db 0, no password, default timeouts and prefix. */
void wdts_redis_params_init(struct wdts_redis_params *params);

/**
 * @brief Reads `redis://[[user]:password@]host[:port][/db]` into params.
 * user and password may be percent-encoded (%40 for '@'). Only host, port, user,
 * password and db are changed; on failure params is left untouched.
 * @returns WDTS_OK, or WDTS_ERR_CONFIG with the reason in errstr (the password is
 *          never copied into errstr).
 */
wdts_err_t wdts_redis_params_from_url(struct wdts_redis_params *params, const char *url,
                                      char *errstr, size_t errstr_size);

/**
 * @brief A password given apart from the URL (e.g. from a *_FILE secret); when non-NULL
 *        and non-empty it replaces the URL's. The caller strips any trailing newline.
 * @returns WDTS_ERR_CONFIG when it is too long.
 */
wdts_err_t wdts_redis_params_set_password(struct wdts_redis_params *params, const char *password,
                                          char *errstr, size_t errstr_size);

/** Writes "host:port" or "host:port/db" (no credentials) for messages. @returns out. */
const char *wdts_redis_params_describe(const struct wdts_redis_params *params, char *out,
                                       size_t out_size);

/**
 * @brief Builds a key: prefix, then the parts joined by ':'. Inside a part ':' becomes
 *        "%3A" and '%' becomes "%25", so different part lists never give the same key.
 * @param prefix used verbatim (it usually ends with ':'); NULL means WDTS_REDIS_PREFIX_DEFAULT.
 * @param ... one or more const char * parts, then NULL.
 * @returns the key, borrowed from buf (which is reset first) until buf next changes.
 */
const char *wdts_redis_key(struct wdts_buf *buf, const char *prefix, ...)
    __attribute__((sentinel));

/**
 * A connection handle (hiredis style). err is sticky: it is set when the connection
 * breaks (I/O error, timeout, protocol error) and every call then returns it at once
 * until wdts_redis_reconnect() succeeds. An error reply from the server (WRONGTYPE, a
 * script error, …) fails only that call with WDTS_ERR_REDIS and leaves err alone.
 * errstr always describes the last failure of any call.
 */
struct wdts_redis {
    struct redisContext *ctx;        /* owned; private to redis.c; NULL while broken */
    struct wdts_redis_params params; /* copy of what wdts_redis_new() was given */
    int pending;                     /* pipelined replies not read yet */
    wdts_err_t err;                  /* WDTS_OK while the connection is usable */
    char errstr[256];                /* set only through redis.c's setter */
};

/**
 * @brief Connects, sets the command timeout, AUTHs, SELECTs the db and PINGs.
 * @owner params: borrowed (copied). Returns a new handle; free with wdts_redis_destroy().
 * @returns NULL on failure with the reason in errstr: refused or unreachable server
 *          and timeouts are retriable; a wrong or missing password and an unknown db
 *          are configuration errors that say what to change.
 */
struct wdts_redis *wdts_redis_new(const struct wdts_redis_params *params, char *errstr,
                                  size_t errstr_size);

/**
 * @brief Drops the current connection (if any) and connects again with the same
 *        params; clears err on success. Unread pipelined replies are lost.
 * @returns WDTS_OK, or the error (also in redis->err / redis->errstr).
 */
wdts_err_t wdts_redis_reconnect(struct wdts_redis *redis);

/** Closes the connection and frees the handle. NULL is a no-op. */
void wdts_redis_destroy(struct wdts_redis *redis);

/** The kind of a reply. STATUS is a simple string ("OK"); ERROR appears only inside arrays. */
enum wdts_redis_type {
    WDTS_REDIS_NIL = 0,
    WDTS_REDIS_INT,
    WDTS_REDIS_STR,
    WDTS_REDIS_STATUS,
    WDTS_REDIS_ARRAY,
    WDTS_REDIS_ERROR,
};

/** A reply (opaque). Accessors never fail: a wrong type or a NULL reply gives 0 / NULL / NIL. */
struct wdts_redis_reply;

enum wdts_redis_type wdts_redis_reply_type(const struct wdts_redis_reply *reply);
/** The integer of an INT reply; 0 for any other type. */
long long wdts_redis_reply_int(const struct wdts_redis_reply *reply);
/**
 * The bytes of a STR, STATUS or ERROR reply (NUL-terminated; binary-safe with len),
 * NULL for any other type. @owner borrowed from reply. @param len may be NULL.
 */
const char *wdts_redis_reply_str(const struct wdts_redis_reply *reply, size_t *len);
/** Number of elements of an ARRAY reply; 0 for any other type. */
size_t wdts_redis_reply_count(const struct wdts_redis_reply *reply);
/** Element i of an ARRAY reply, NULL when out of range. @owner borrowed from reply. */
const struct wdts_redis_reply *wdts_redis_reply_elem(const struct wdts_redis_reply *reply,
                                                     size_t i);
/** Frees a reply and its elements. NULL is a no-op. */
void wdts_redis_reply_free(struct wdts_redis_reply *reply);

/**
 * @brief Runs one command and waits for its reply.
 * @param argv argc arguments, the command name first. @param argvlen their lengths
 *        (binary-safe), or NULL to use strlen().
 * @param reply NULL to discard the reply, else receives it. @owner *reply: new; free
 *        with wdts_redis_reply_free(). Set only on success.
 * @returns WDTS_OK; WDTS_ERR_REDIS for an error reply (its text in errstr, handle still
 *          usable); WDTS_ERR_IO / WDTS_ERR_TIMEOUT when the connection broke (sticky);
 *          WDTS_ERR_INVAL when pipelined replies are still unread.
 */
wdts_err_t wdts_redis_command(struct wdts_redis *redis, int argc, const char **argv,
                              const size_t *argvlen, struct wdts_redis_reply **reply);

/** wdts_redis_command() with C-string arguments ending with NULL: (redis, &reply, "GET", key, NULL). */
wdts_err_t wdts_redis_commandl(struct wdts_redis *redis, struct wdts_redis_reply **reply, ...)
    __attribute__((sentinel));

/** A command whose reply must be an integer. Another type fails with WDTS_ERR_REDIS. */
wdts_err_t wdts_redis_command_int(struct wdts_redis *redis, int argc, const char **argv,
                                  const size_t *argvlen, long long *out);

/**
 * @brief A command whose reply must be a string, a status or nil.
 * @owner *out: new (free()), NUL-terminated; NULL for a nil reply. @param len may be NULL.
 */
wdts_err_t wdts_redis_command_str(struct wdts_redis *redis, int argc, const char **argv,
                                  const size_t *argvlen, char **out, size_t *len);

/**
 * @brief Pipelining: queues a command without waiting. Read each reply, in order,
 *        with wdts_redis_pipeline_read(); nothing is sent before the first read.
 * @owner argv: copied.
 */
wdts_err_t wdts_redis_pipeline_append(struct wdts_redis *redis, int argc, const char **argv,
                                      const size_t *argvlen);

/**
 * @brief The reply to the oldest queued command. An error reply returns WDTS_ERR_REDIS
 *        for that command only; the next reads go on.
 * @param reply as in wdts_redis_command() (NULL discards).
 * @returns WDTS_ERR_INVAL when nothing is queued.
 */
wdts_err_t wdts_redis_pipeline_read(struct wdts_redis *redis, struct wdts_redis_reply **reply);

/** A Lua script with its SHA1, computed locally. Read-only after creation. */
struct wdts_redis_script {
    char *name;   /* owned; used in messages ("lock_release") */
    char *src;    /* owned; Lua source */
    size_t len;
    char sha[41]; /* lowercase hex SHA1 of src, as SCRIPT LOAD returns it */
};

/**
 * @brief Wraps Lua source (e.g. the text of a file in common/redis/lua/) for wdts_redis_eval().
 * @owner name, src: borrowed (copied). Returns a new script; free with
 *        wdts_redis_script_destroy(). Both must be non-empty (programming error otherwise).
 */
struct wdts_redis_script *wdts_redis_script_new(const char *name, const char *src);

/** Frees a script. NULL is a no-op. */
void wdts_redis_script_destroy(struct wdts_redis_script *script);

/**
 * @brief SCRIPT LOAD: optional (wdts_redis_eval() loads on demand), useful at startup
 *        to find a Lua syntax error before the first job.
 */
wdts_err_t wdts_redis_script_load(struct wdts_redis *redis, const struct wdts_redis_script *script);

/**
 * @brief Runs a script by EVALSHA; when the server does not know it (NOSCRIPT, after a
 *        restart or SCRIPT FLUSH) loads it with SCRIPT LOAD and runs it once more.
 * @param keys nkeys key names, @param args nargs arguments (C strings, borrowed).
 * @param reply as in wdts_redis_command(). A Lua error returns WDTS_ERR_REDIS with the
 *        script's name and the server's message in errstr.
 */
wdts_err_t wdts_redis_eval(struct wdts_redis *redis, const struct wdts_redis_script *script,
                           int nkeys, const char *const *keys, int nargs,
                           const char *const *args, struct wdts_redis_reply **reply);

/** wdts_redis_eval() for a script that returns an integer. */
wdts_err_t wdts_redis_eval_int(struct wdts_redis *redis, const struct wdts_redis_script *script,
                               int nkeys, const char *const *keys, int nargs,
                               const char *const *args, long long *out);

#endif
