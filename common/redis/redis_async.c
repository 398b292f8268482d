/* hiredis async context on a wdts_loop (see wdts/redis_async.h): the adapter hooks
 * (addRead/delRead/addWrite/delWrite/cleanup) map onto wdts_loop_io_set(), a timer
 * reconnects after a disconnect, script calls fall back from EVALSHA to EVAL, and a
 * watchdog breaks a connection that leaves commands without a reply for longer than
 * params.command_timeout_ms (a stopped or unreachable server that never closes it). */
#include "wdts/redis_async.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/log.h"
#include "wdts/loop.h"
#include "wdts/lua.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"

#define RECONNECT_MS 500

struct wdts_redis_async {
    struct wdts_loop *loop;
    struct wdts_redis_params params;
    redisAsyncContext *ac; /* NULL while disconnected */
    int fd;
    int events;
    int connected;
    uint64_t reconnect_timer;
    uint64_t watch_timer;
    size_t pending;
    int64_t progress_ms; /* the last reply, or when the first waiting command was sent */
    int timed_out;       /* the watchdog broke the connection: the callbacks say so */
    int destroying;
    int auth_refused;    /* the server refused AUTH: every command would fail NOAUTH */
};

/* One command in flight; for a script call, what it takes to resend it as EVAL. */
struct pending {
    struct wdts_redis_async *ra;
    wdts_redis_async_cb cb;
    void *opaque;
    const struct wdts_redis_script *script; /* NULL for a plain command */
    int argc;                               /* of the EVALSHA form */
    char **argv;
    int resent;
};

static void connect_now(struct wdts_redis_async *ra);

static void on_io(int fd, int events, void *opaque)
{
    struct wdts_redis_async *ra = opaque;
    (void)fd;
    if (ra->ac && (events & WDTS_LOOP_READ))
        redisAsyncHandleRead(ra->ac);
    if (ra->ac && (events & WDTS_LOOP_WRITE))
        redisAsyncHandleWrite(ra->ac);
}

static void update(struct wdts_redis_async *ra, int add, int del)
{
    ra->events = (ra->events | add) & ~del;
    if (ra->fd >= 0)
        wdts_loop_io_set(ra->loop, ra->fd, ra->events, on_io, ra);
}

static void ev_add_read(void *p) { update(p, WDTS_LOOP_READ, 0); }
static void ev_del_read(void *p) { update(p, 0, WDTS_LOOP_READ); }
static void ev_add_write(void *p) { update(p, WDTS_LOOP_WRITE, 0); }
static void ev_del_write(void *p) { update(p, 0, WDTS_LOOP_WRITE); }
static void ev_cleanup(void *p)
{
    struct wdts_redis_async *ra = p;
    update(ra, 0, WDTS_LOOP_READ | WDTS_LOOP_WRITE);
    ra->fd = -1;
}

static void reconnect_timer(void *opaque)
{
    struct wdts_redis_async *ra = opaque;
    ra->reconnect_timer = 0;
    connect_now(ra);
}

static void schedule_reconnect(struct wdts_redis_async *ra)
{
    if (!ra->destroying && ra->reconnect_timer == 0)
        ra->reconnect_timer = wdts_loop_timer_add(ra->loop, RECONNECT_MS, reconnect_timer, ra);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct wdts_redis_async *ra = ac->data;
    if (status != REDIS_OK) {
        WDTS_LOG(WARN, "redis", "async connect to %s:%d failed: %s; retrying", ra->params.host,
                 ra->params.port, ac->errstr);
        ra->ac = NULL; /* hiredis frees the context after this callback */
        ra->connected = 0;
        schedule_reconnect(ra);
        return;
    }
    ra->connected = 1;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct wdts_redis_async *ra = ac->data;
    if (status != REDIS_OK)
        WDTS_LOG(WARN, "redis", "async connection lost: %s; reconnecting", ac->errstr);
    ra->ac = NULL;
    ra->connected = 0;
    schedule_reconnect(ra);
}

static void ignore_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)privdata;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        WDTS_LOG(ERROR, "redis", "async %s:%d: %s", ((struct wdts_redis_async *)ac->data)->params.host,
                 ((struct wdts_redis_async *)ac->data)->params.port, reply->str);
}

/* The AUTH reply is checked: a refused password is a configuration error, said once and
 * clearly, rather than every later command failing with NOAUTH. */
static void auth_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)privdata;
    redisReply *reply = r;
    struct wdts_redis_async *ra = ac->data;
    if (reply == NULL || reply->type != REDIS_REPLY_ERROR) {
        if (reply)
            ra->auth_refused = 0;
        return;
    }
    if (!ra->auth_refused)
        WDTS_LOG(ERROR, "redis",
                 "async %s:%d refused AUTH (%s): check redis.password (WDT_REDIS_PASSWORD) and "
                 "the user in redis.url",
                 ra->params.host, ra->params.port, reply->str);
    ra->auth_refused = 1;
}

int wdts_redis_async_auth_refused(const struct wdts_redis_async *ra)
{
    return ra->auth_refused;
}

static void connect_now(struct wdts_redis_async *ra)
{
    redisAsyncContext *ac = redisAsyncConnect(ra->params.host, ra->params.port);
    if (ac == NULL || ac->err) {
        WDTS_LOG(WARN, "redis", "async connect to %s:%d: %s", ra->params.host, ra->params.port,
                 ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(ra);
        return;
    }
    ac->data = ra;
    ra->ac = ac;
    ra->fd = ac->c.fd;
    ra->events = 0;
    ac->ev.data = ra;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* hiredis 0.14 learns that the connect finished from the first writable event */
    update(ra, WDTS_LOOP_WRITE, 0);
    if (ra->params.password[0]) {
        if (ra->params.user[0])
            redisAsyncCommand(ac, auth_reply, NULL, "AUTH %s %s", ra->params.user,
                              ra->params.password);
        else
            redisAsyncCommand(ac, auth_reply, NULL, "AUTH %s", ra->params.password);
    }
    if (ra->params.db != 0)
        redisAsyncCommand(ac, ignore_reply, NULL, "SELECT %d", ra->params.db);
}

static int64_t watch_every_ms(const struct wdts_redis_async *ra)
{
    int64_t every = ra->params.command_timeout_ms / 4;
    return every < 50 ? 50 : every;
}

/* Commands waiting longer than the command timeout with no reply at all: the server is
 * stopped or cut off without closing the connection. Breaking it fails those commands
 * now (their callers retry) and reconnects, instead of leaving them waiting for ever. */
static void watch_timer(void *opaque)
{
    struct wdts_redis_async *ra = opaque;
    ra->watch_timer = 0;
    int64_t waited = wdts_time_mono_ms() - ra->progress_ms;
    if (ra->ac && ra->connected && ra->pending > 0 && waited > ra->params.command_timeout_ms) {
        WDTS_LOG(WARN, "redis",
                 "no reply from %s:%d for %lld ms with %zu commands waiting (redis.timeout "
                 "%d ms): breaking the connection and reconnecting",
                 ra->params.host, ra->params.port, (long long)waited, ra->pending,
                 ra->params.command_timeout_ms);
        redisAsyncContext *ac = ra->ac;
        ra->ac = NULL;
        ra->connected = 0;
        ra->timed_out = 1;
        redisAsyncFree(ac); /* every waiting callback gets NULL, then the disconnect one */
        ra->timed_out = 0;
        schedule_reconnect(ra);
    }
    if (!ra->destroying)
        ra->watch_timer = wdts_loop_timer_add(ra->loop, watch_every_ms(ra), watch_timer, ra);
}

struct wdts_redis_async *wdts_redis_async_new(struct wdts_loop *loop,
                                              const struct wdts_redis_params *params,
                                              char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    struct wdts_redis_async *ra = wdts_xcalloc(1, sizeof(*ra));
    ra->loop = loop;
    ra->params = *params;
    ra->fd = -1;
    connect_now(ra);
    ra->watch_timer = wdts_loop_timer_add(loop, watch_every_ms(ra), watch_timer, ra);
    return ra;
}

static void pending_free(struct pending *p)
{
    for (int i = 0; i < p->argc; i++)
        free(p->argv[i]);
    free(p->argv);
    free(p);
}

static int send_pending(struct wdts_redis_async *ra, struct pending *p, int as_eval);

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    (void)ac;
    struct pending *p = privdata;
    struct wdts_redis_async *ra = p->ra;
    redisReply *reply = r;
    ra->pending--;
    if (reply)
        ra->progress_ms = wdts_time_mono_ms();
    if (reply && reply->type == REDIS_REPLY_ERROR && p->script && !p->resent &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0 && !ra->destroying) {
        p->resent = 1;
        if (send_pending(ra, p, 1) == 0)
            return;
    }
    const char *err = NULL;
    if (reply == NULL)
        err = ra->destroying ? "shutting down"
              : ra->timed_out ? "no reply from Redis in redis.timeout: the connection was broken"
                              : "the Redis connection broke";
    p->cb((const struct wdts_redis_reply *)(const void *)reply, err, p->opaque);
    pending_free(p);
}

/* Sends p (as EVAL with the script source when as_eval). @returns 0 or -1. */
static int send_pending(struct wdts_redis_async *ra, struct pending *p, int as_eval)
{
    if (ra->ac == NULL || !ra->connected)
        return -1;
    const char *argv[2 + WDTS_LUA_MAX_KEYS + WDTS_LUA_MAX_ARGS + 2];
    size_t argvlen[2 + WDTS_LUA_MAX_KEYS + WDTS_LUA_MAX_ARGS + 2];
    int n = 0;
    for (int i = 0; i < p->argc && n < (int)(sizeof(argv) / sizeof(argv[0])); i++) {
        argv[n] = p->argv[i];
        argvlen[n] = strlen(p->argv[i]);
        n++;
    }
    if (as_eval) { /* EVALSHA sha → EVAL source */
        argv[0] = "EVAL";
        argvlen[0] = 4;
        argv[1] = p->script->src;
        argvlen[1] = p->script->len;
    }
    if (redisAsyncCommandArgv(ra->ac, on_reply, p, n, argv, argvlen) != REDIS_OK)
        return -1;
    if (ra->pending++ == 0)
        ra->progress_ms = wdts_time_mono_ms();
    return 0;
}

static wdts_err_t submit(struct wdts_redis_async *ra, struct pending *p)
{
    if (send_pending(ra, p, 0) != 0) {
        p->cb = NULL;
        pending_free(p);
        return WDTS_ERR_REDIS;
    }
    return WDTS_OK;
}

wdts_err_t wdts_redis_async_command(struct wdts_redis_async *ra, int argc, const char **argv,
                                    wdts_redis_async_cb cb, void *opaque)
{
    if (argc > 2 + WDTS_LUA_MAX_KEYS + WDTS_LUA_MAX_ARGS + 2)
        return WDTS_ERR_INVAL;
    struct pending *p = wdts_xcalloc(1, sizeof(*p));
    p->ra = ra;
    p->cb = cb;
    p->opaque = opaque;
    p->argc = argc;
    p->argv = wdts_xcalloc((size_t)argc, sizeof(char *));
    for (int i = 0; i < argc; i++)
        p->argv[i] = wdts_xstrdup(argv[i]);
    return submit(ra, p);
}

wdts_err_t wdts_redis_async_lua(struct wdts_redis_async *ra, const struct wdts_lua_call *call,
                                wdts_redis_async_cb cb, void *opaque)
{
    struct pending *p = wdts_xcalloc(1, sizeof(*p));
    p->ra = ra;
    p->cb = cb;
    p->opaque = opaque;
    p->script = call->script;
    p->argc = 3 + call->nkeys + call->nargs;
    p->argv = wdts_xcalloc((size_t)p->argc, sizeof(char *));
    int n = 0;
    p->argv[n++] = wdts_xstrdup("EVALSHA");
    p->argv[n++] = wdts_xstrdup(call->script->sha);
    p->argv[n++] = wdts_xasprintf("%d", call->nkeys);
    for (int i = 0; i < call->nkeys; i++)
        p->argv[n++] = wdts_xstrdup(call->keys[i]);
    for (int i = 0; i < call->nargs; i++)
        p->argv[n++] = wdts_xstrdup(call->args[i]);
    return submit(ra, p);
}

int wdts_redis_async_connected(const struct wdts_redis_async *ra)
{
    return ra->connected;
}

size_t wdts_redis_async_pending(const struct wdts_redis_async *ra)
{
    return ra->pending;
}

void wdts_redis_async_destroy(struct wdts_redis_async *ra)
{
    if (ra == NULL)
        return;
    ra->destroying = 1;
    wdts_loop_timer_cancel(ra->loop, ra->reconnect_timer);
    wdts_loop_timer_cancel(ra->loop, ra->watch_timer);
    if (ra->ac) {
        redisAsyncContext *ac = ra->ac;
        ra->ac = NULL;
        redisAsyncFree(ac); /* calls every pending callback with NULL, then cleanup */
    }
    free(ra);
}
