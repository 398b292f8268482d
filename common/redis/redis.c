/* Blocking Redis client (see redis.h): URL parsing, connect with AUTH/SELECT/PING,
 * commands and pipelines over hiredis 0.14, scripts by EVALSHA with a reload on
 * NOSCRIPT, and key naming. A broken connection is closed at once and the handle
 * keeps a sticky error until wdts_redis_reconnect(); error replies are not sticky.
 * struct wdts_redis_reply is never defined: it is hiredis's redisReply, cast. */
#include "wdts/redis.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "wdts/log.h"
#include "wdts/mem.h"

/* ---- parameters and URL ---------------------------------------------------------- */

void wdts_redis_params_init(struct wdts_redis_params *params)
{
    memset(params, 0, sizeof(*params));
    wdts_strlcpy(params->host, "127.0.0.1", sizeof(params->host));
    params->port = WDTS_REDIS_PORT_DEFAULT;
    params->connect_timeout_ms = WDTS_REDIS_CONNECT_TIMEOUT_MS_DEFAULT;
    params->command_timeout_ms = WDTS_REDIS_COMMAND_TIMEOUT_MS_DEFAULT;
    wdts_strlcpy(params->prefix, WDTS_REDIS_PREFIX_DEFAULT, sizeof(params->prefix));
}

static int host_char_ok(char c, int ipv6)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.')
        return 1;
    return ipv6 ? c == ':' : (c == '-' || c == '_');
}

#define REDIS_URL_EXAMPLE "e.g. redis://:PASSWORD@127.0.0.1:6379/0"

/* The scheme: redis:// only. @returns what follows it, or NULL with the reason in errstr. */
static const char *url_after_scheme(const char *url, char *errstr, size_t errstr_size)
{
    if (url == NULL || *url == '\0') {
        snprintf(errstr, errstr_size, "no Redis URL given: set one, " REDIS_URL_EXAMPLE);
        return NULL;
    }
    if (strncasecmp(url, "rediss://", 9) == 0) {
        snprintf(errstr, errstr_size,
                 "Redis URL: rediss:// (TLS) is not supported by this build (hiredis 0.14 has no "
                 "TLS); use redis:// on a trusted network or through a TLS tunnel");
        return NULL;
    }
    if (strncasecmp(url, "unix://", 7) == 0) {
        snprintf(errstr, errstr_size,
                 "Redis URL: unix sockets are not supported; use redis://HOST:PORT");
        return NULL;
    }
    if (strncasecmp(url, "redis://", 8) != 0) {
        snprintf(errstr, errstr_size, "Redis URL must start with redis:// (" REDIS_URL_EXAMPLE ")");
        return NULL;
    }
    return url + 8;
}

/* The user info [user]:password@ into p. @returns where the host starts, or NULL. */
static const char *url_userinfo(const char *rest, struct wdts_redis_params *p, char *errstr,
                                size_t errstr_size)
{
    /* The last '@' ends the user info: the host part never holds one, while an
     * unencoded password might. */
    const char *at = strrchr(rest, '@');
    if (at == NULL)
        return rest;
    const char *colon = memchr(rest, ':', (size_t)(at - rest));
    if (colon == NULL) {
        snprintf(errstr, errstr_size,
                 "Redis URL: the part before '@' has no ':'; write redis://:PASSWORD@HOST or "
                 "redis://USER:PASSWORD@HOST");
        return NULL;
    }
    int rc = wdts_pct_decode(rest, (size_t)(colon - rest), p->user, sizeof(p->user), 0);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "Redis URL: the user %s",
                 rc == -2 ? "is too long" : "has a bad %-escape (write '%' as %25)");
        return NULL;
    }
    rc = wdts_pct_decode(colon + 1, (size_t)(at - colon - 1), p->password, sizeof(p->password), 0);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "Redis URL: the password %s",
                 rc == -2 ? "is too long"
                          : "has a bad %-escape (write '%' as %25, or give the password "
                            "separately)");
        return NULL;
    }
    return at + 1;
}

/* The host: a name, an IPv4 address or a bracketed IPv6 address, into p->host.
 * @returns what follows it, or NULL. */
static const char *url_host(const char *hp, struct wdts_redis_params *p, char *errstr,
                            size_t errstr_size)
{
    const char *h = hp, *hend;
    int ipv6 = 0;
    if (*h == '[') {
        ipv6 = 1;
        h++;
        hend = strchr(h, ']');
        if (hend == NULL) {
            snprintf(errstr, errstr_size, "Redis URL: '[' of an IPv6 host has no ']'");
            return NULL;
        }
    } else {
        hend = h + strcspn(h, ":/");
    }
    size_t hlen = (size_t)(hend - h);
    if (hlen == 0) {
        snprintf(errstr, errstr_size, "Redis URL has no host (" REDIS_URL_EXAMPLE ")");
        return NULL;
    }
    if (hlen >= sizeof(p->host)) {
        snprintf(errstr, errstr_size, "Redis URL: the host is longer than %zu bytes",
                 sizeof(p->host) - 1);
        return NULL;
    }
    for (size_t i = 0; i < hlen; i++) {
        if (!host_char_ok(h[i], ipv6)) {
            snprintf(errstr, errstr_size,
                     "Redis URL: the host '%.*s' has a character not allowed in a host name "
                     "(percent-encode '@', ':' or '/' in a password)",
                     (int)(hlen > 64 ? 64 : hlen), h);
            return NULL;
        }
    }
    memcpy(p->host, h, hlen);
    p->host[hlen] = '\0';
    return ipv6 ? hend + 1 : hend;
}

/* What follows the host: [:port][/db] into p. */
static wdts_err_t url_port_db(const char *s, struct wdts_redis_params *p, char *errstr,
                              size_t errstr_size)
{
    if (*s == ':') {
        s++;
        size_t plen = strcspn(s, "/");
        char num[8];
        long long v = 0;
        int ok = plen > 0 && plen < sizeof(num) && s[0] >= '0' && s[0] <= '9';
        if (ok) {
            memcpy(num, s, plen);
            num[plen] = '\0';
            ok = wdts_parse_int(num, 1, 65535, &v) == WDTS_OK;
        }
        if (!ok) {
            snprintf(errstr, errstr_size,
                     "Redis URL: the port '%.*s' is not a number from 1 to 65535",
                     (int)(plen > 16 ? 16 : plen), s);
            return WDTS_ERR_CONFIG;
        }
        p->port = (int)v;
        s += plen;
    } else if (*s != '\0' && *s != '/') {
        snprintf(errstr, errstr_size, "Redis URL: unexpected '%c' after the host", *s);
        return WDTS_ERR_CONFIG;
    }
    if (*s == '/') {
        s++;
        long long v = 0;
        if (*s != '\0' &&
            (*s < '0' || *s > '9' || wdts_parse_int(s, 0, 1000000, &v) != WDTS_OK)) {
            snprintf(errstr, errstr_size,
                     "Redis URL: the db '%.16s' is not a number from 0 (redis://HOST:PORT/DB)", s);
            return WDTS_ERR_CONFIG;
        }
        p->db = (int)v;
    }
    return WDTS_OK;
}

wdts_err_t wdts_redis_params_from_url(struct wdts_redis_params *params, const char *url,
                                      char *errstr, size_t errstr_size)
{
    struct wdts_redis_params p = *params;
    p.user[0] = p.password[0] = '\0';
    p.port = WDTS_REDIS_PORT_DEFAULT;
    p.db = 0;

    const char *rest = url_after_scheme(url, errstr, errstr_size);
    const char *hp = rest ? url_userinfo(rest, &p, errstr, errstr_size) : NULL;
    if (hp == NULL)
        return WDTS_ERR_CONFIG;
    if (strpbrk(hp, "?#") != NULL) {
        snprintf(errstr, errstr_size,
                 "Redis URL: options after '?' or '#' are not supported; set timeouts in the "
                 "configuration (" REDIS_URL_EXAMPLE ")");
        return WDTS_ERR_CONFIG;
    }
    const char *s = url_host(hp, &p, errstr, errstr_size);
    if (s == NULL || url_port_db(s, &p, errstr, errstr_size) != WDTS_OK)
        return WDTS_ERR_CONFIG;
    *params = p;
    return WDTS_OK;
}

wdts_err_t wdts_redis_params_set_password(struct wdts_redis_params *params, const char *password,
                                          char *errstr, size_t errstr_size)
{
    if (password == NULL || *password == '\0')
        return WDTS_OK;
    if (strlen(password) >= sizeof(params->password)) {
        snprintf(errstr, errstr_size, "the Redis password is longer than %zu bytes",
                 sizeof(params->password) - 1);
        return WDTS_ERR_CONFIG;
    }
    wdts_strlcpy(params->password, password, sizeof(params->password));
    return WDTS_OK;
}

const char *wdts_redis_params_describe(const struct wdts_redis_params *params, char *out,
                                       size_t out_size)
{
    const char *fmt = strchr(params->host, ':') ? "[%s]:%d" : "%s:%d";
    int n = snprintf(out, out_size, fmt, params->host, params->port);
    if (params->db != 0 && n > 0 && (size_t)n < out_size)
        snprintf(out + n, out_size - (size_t)n, "/%d", params->db);
    return out;
}

const char *wdts_redis_key(struct wdts_buf *buf, const char *prefix, ...)
{
    va_list ap;
    wdts_buf_reset(buf);
    wdts_buf_append_str(buf, prefix ? prefix : WDTS_REDIS_PREFIX_DEFAULT);
    va_start(ap, prefix);
    const char *part;
    int first = 1;
    while ((part = va_arg(ap, const char *)) != NULL) {
        if (!first)
            wdts_buf_append(buf, ":", 1);
        first = 0;
        for (const char *c = part; *c; c++) {
            if (*c == ':')
                wdts_buf_append(buf, "%3A", 3);
            else if (*c == '%')
                wdts_buf_append(buf, "%25", 3);
            else
                wdts_buf_append(buf, c, 1);
        }
    }
    va_end(ap);
    return wdts_buf_str(buf);
}

/* ---- errors ------------------------------------------------------------------------ */

/* The one setter of errstr. A sticky error also closes the connection: a socket that
 * failed or timed out may still deliver a stale reply, so it is never reused. */
__attribute__((format(printf, 4, 5))) static wdts_err_t set_error(struct wdts_redis *redis,
                                                                  wdts_err_t err, int sticky,
                                                                  const char *fmt, ...)
{
    char where[300];
    va_list ap;
    wdts_redis_params_describe(&redis->params, where, sizeof(where));
    int n = snprintf(redis->errstr, sizeof(redis->errstr), "redis %s: ", where);
    if (n > 0 && (size_t)n < sizeof(redis->errstr)) {
        va_start(ap, fmt);
        vsnprintf(redis->errstr + n, sizeof(redis->errstr) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    if (sticky) {
        redis->err = err;
        redis->pending = 0;
        if (redis->ctx) {
            redisFree(redis->ctx);
            redis->ctx = NULL;
        }
    }
    return err;
}

/* Turns a failed hiredis call (ctx->err set) into a sticky error. */
static wdts_err_t conn_broken(struct wdts_redis *redis, const char *what)
{
    redisContext *ctx = redis->ctx;
    if (ctx == NULL)
        return set_error(redis, WDTS_ERR_NOMEM, 1, "%s: hiredis could not allocate", what);
    /* A blocking read or write past SO_RCVTIMEO/SO_SNDTIMEO fails with EAGAIN. */
    if (ctx->err == REDIS_ERR_IO && strcmp(ctx->errstr, strerror(EAGAIN)) == 0)
        return set_error(redis, WDTS_ERR_TIMEOUT, 1,
                         "no reply to %s within %d ms; the connection was closed", what,
                         redis->params.command_timeout_ms);
    switch (ctx->err) {
    case REDIS_ERR_EOF:
        return set_error(redis, WDTS_ERR_IO, 1, "connection lost during %s: %s", what,
                         ctx->errstr);
    case REDIS_ERR_PROTOCOL:
        return set_error(redis, WDTS_ERR_REDIS, 1, "protocol error during %s: %s", what,
                         ctx->errstr);
    case REDIS_ERR_OOM:
        return set_error(redis, WDTS_ERR_NOMEM, 1, "out of memory during %s", what);
    default:
        return set_error(redis, WDTS_ERR_IO, 1, "%s failed: %s", what, ctx->errstr);
    }
}

/* Calls may not start on a broken handle or between pipelined appends and reads. */
static wdts_err_t check_ready(struct wdts_redis *redis, int pipelining)
{
    if (redis->err != WDTS_OK)
        return redis->err;
    if (!pipelining && redis->pending > 0)
        return set_error(redis, WDTS_ERR_INVAL, 0,
                         "%d pipelined replies are unread; read them before another command",
                         redis->pending);
    return WDTS_OK;
}

/* "GET" from argv[0], bounded, for messages. */
static void cmd_name(char *out, size_t size, int argc, const char **argv, const size_t *argvlen)
{
    if (argc < 1) {
        wdts_strlcpy(out, "(empty command)", size);
        return;
    }
    size_t len = argvlen ? argvlen[0] : strlen(argv[0]);
    snprintf(out, size, "%.*s", (int)(len > 32 ? 32 : len), argv[0]);
}

/* ---- connection -------------------------------------------------------------------- */

static struct timeval ms_to_tv(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

/* An error reply to AUTH, SELECT or PING while connecting, in words that say what to
 * change. Fatal to the connection: the handle is not usable half set up. */
static wdts_err_t setup_error(struct wdts_redis *redis, const char *cmd, const char *msg)
{
    if (strncmp(msg, "NOAUTH", 6) == 0)
        return set_error(redis, WDTS_ERR_CONFIG, 1,
                         "the server requires a password (%s): give it in the URL "
                         "(redis://:PASSWORD@HOST) or separately", msg);
    if (strncmp(msg, "WRONGPASS", 9) == 0 || strstr(msg, "invalid password") ||
        strstr(msg, "invalid username-password"))
        return set_error(redis, WDTS_ERR_CONFIG, 1,
                         "authentication failed, wrong password%s (%s): check the password",
                         redis->params.user[0] ? " or user" : "", msg);
    if (strstr(msg, "without any password configured") || strstr(msg, "no password is set"))
        return set_error(redis, WDTS_ERR_CONFIG, 1,
                         "a password was given but the server has none (%s): remove the "
                         "password or set requirepass on the server", msg);
    if (strstr(msg, "DB index is out of range") || strstr(msg, "invalid DB index"))
        return set_error(redis, WDTS_ERR_CONFIG, 1,
                         "db %d does not exist (%s): use a db below the server's 'databases' "
                         "setting (16 by default)", redis->params.db, msg);
    if (strncmp(msg, "LOADING", 7) == 0)
        return set_error(redis, WDTS_ERR_IO, 1,
                         "the server is still loading its data (%s); try again shortly", msg);
    if (strncmp(msg, "NOPERM", 6) == 0)
        return set_error(redis, WDTS_ERR_CONFIG, 1,
                         "the user may not run %s (%s): grant it in the server's ACL", cmd, msg);
    return set_error(redis, WDTS_ERR_REDIS, 1, "%s while connecting failed: %s", cmd, msg);
}

/* Runs one setup command; a NULL reply or an error reply ends the connection. */
static wdts_err_t setup_cmd(struct wdts_redis *redis, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(redis->ctx, argc, argv, NULL);
    if (r == NULL)
        return conn_broken(redis, argv[0]);
    wdts_err_t err = WDTS_OK;
    if (r->type == REDIS_REPLY_ERROR)
        err = setup_error(redis, argv[0], r->str);
    freeReplyObject(r);
    return err;
}

/* hiredis sends with write(): writing to a connection the server has reset raises
 * SIGPIPE, whose default action kills the process. A Redis restart must be an error
 * for the caller, not the end of the worker. A handler someone set stays. */
static void ignore_sigpipe(void)
{
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
        old.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
}

static wdts_err_t conn_open(struct wdts_redis *redis)
{
    const struct wdts_redis_params *p = &redis->params;
    redis->err = WDTS_OK;
    redis->pending = 0;
    ignore_sigpipe();
    redis->ctx = redisConnectWithTimeout(p->host, p->port, ms_to_tv(p->connect_timeout_ms));
    if (redis->ctx == NULL)
        return set_error(redis, WDTS_ERR_NOMEM, 1, "hiredis could not allocate a context");
    if (redis->ctx->err) {
        const char *why = redis->ctx->errstr;
        if (strstr(why, "refused"))
            return set_error(redis, WDTS_ERR_IO, 1,
                             "cannot connect: %s; is redis-server running at this address?", why);
        if (strstr(why, "timed out"))
            return set_error(redis, WDTS_ERR_TIMEOUT, 1,
                             "cannot connect within %d ms: %s; check the host and the network",
                             p->connect_timeout_ms, why);
        if (redis->ctx->err == REDIS_ERR_OTHER)
            return set_error(redis, WDTS_ERR_IO, 1,
                             "cannot connect: %s; check the host name in the URL", why);
        return set_error(redis, WDTS_ERR_IO, 1, "cannot connect: %s", why);
    }
    if (redisSetTimeout(redis->ctx, ms_to_tv(p->command_timeout_ms)) != REDIS_OK)
        return conn_broken(redis, "setting the command timeout");
    /* Keepalive finds a peer that vanished without a FIN between commands. */
    (void)redisEnableKeepAlive(redis->ctx);

    wdts_err_t err;
    if (p->password[0]) {
        const char *auth[3] = {"AUTH", p->user[0] ? p->user : p->password, p->password};
        err = setup_cmd(redis, p->user[0] ? 3 : 2, auth);
        if (err != WDTS_OK)
            return err;
    }
    if (p->db != 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", p->db);
        const char *sel[2] = {"SELECT", db};
        err = setup_cmd(redis, 2, sel);
        if (err != WDTS_OK)
            return err;
    }
    /* PING proves the server answers us (and finds NOAUTH or LOADING) before any job. */
    const char *ping[1] = {"PING"};
    return setup_cmd(redis, 1, ping);
}

struct wdts_redis *wdts_redis_new(const struct wdts_redis_params *params, char *errstr,
                                  size_t errstr_size)
{
    struct wdts_redis *redis = wdts_xcalloc(1, sizeof(*redis));
    redis->params = *params;
    if (params->port < 1 || params->port > 65535 || params->connect_timeout_ms <= 0 ||
        params->command_timeout_ms <= 0 || params->db < 0 || params->host[0] == '\0') {
        set_error(redis, WDTS_ERR_CONFIG, 1,
                  "invalid parameters: host must be set, port in 1..65535, db >= 0, "
                  "timeouts > 0");
        goto fail;
    }
    if (conn_open(redis) != WDTS_OK)
        goto fail;
    return redis;
fail:
    wdts_strlcpy(errstr, redis->errstr, errstr_size);
    wdts_redis_destroy(redis);
    return NULL;
}

wdts_err_t wdts_redis_reconnect(struct wdts_redis *redis)
{
    if (redis->ctx) {
        redisFree(redis->ctx);
        redis->ctx = NULL;
    }
    return conn_open(redis);
}

void wdts_redis_destroy(struct wdts_redis *redis)
{
    if (redis == NULL)
        return;
    if (redis->ctx)
        redisFree(redis->ctx);
    /* the password copy should not linger in freed memory */
    memset(&redis->params, 0, sizeof(redis->params));
    free(redis);
}

/* ---- replies ----------------------------------------------------------------------- */

#define RAW(reply) ((const redisReply *)(const void *)(reply))

enum wdts_redis_type wdts_redis_reply_type(const struct wdts_redis_reply *reply)
{
    if (reply == NULL)
        return WDTS_REDIS_NIL;
    switch (RAW(reply)->type) {
    case REDIS_REPLY_INTEGER:
        return WDTS_REDIS_INT;
    case REDIS_REPLY_STRING:
        return WDTS_REDIS_STR;
    case REDIS_REPLY_STATUS:
        return WDTS_REDIS_STATUS;
    case REDIS_REPLY_ARRAY:
        return WDTS_REDIS_ARRAY;
    case REDIS_REPLY_ERROR:
        return WDTS_REDIS_ERROR;
    default:
        return WDTS_REDIS_NIL;
    }
}

long long wdts_redis_reply_int(const struct wdts_redis_reply *reply)
{
    return reply && RAW(reply)->type == REDIS_REPLY_INTEGER ? RAW(reply)->integer : 0;
}

const char *wdts_redis_reply_str(const struct wdts_redis_reply *reply, size_t *len)
{
    const redisReply *r = RAW(reply);
    int t = r ? r->type : REDIS_REPLY_NIL;
    if (t != REDIS_REPLY_STRING && t != REDIS_REPLY_STATUS && t != REDIS_REPLY_ERROR) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = r->len;
    return r->str;
}

size_t wdts_redis_reply_count(const struct wdts_redis_reply *reply)
{
    return reply && RAW(reply)->type == REDIS_REPLY_ARRAY ? RAW(reply)->elements : 0;
}

const struct wdts_redis_reply *wdts_redis_reply_elem(const struct wdts_redis_reply *reply,
                                                     size_t i)
{
    const redisReply *r = RAW(reply);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
        return NULL;
    return (const struct wdts_redis_reply *)(const void *)r->element[i];
}

void wdts_redis_reply_free(struct wdts_redis_reply *reply)
{
    if (reply)
        freeReplyObject(reply);
}

static const char *type_name(const struct wdts_redis_reply *reply)
{
    static const char *const names[] = {
        [WDTS_REDIS_NIL] = "nil",       [WDTS_REDIS_INT] = "an integer",
        [WDTS_REDIS_STR] = "a string",  [WDTS_REDIS_STATUS] = "a status",
        [WDTS_REDIS_ARRAY] = "an array", [WDTS_REDIS_ERROR] = "an error",
    };
    return names[wdts_redis_reply_type(reply)];
}

/* Hands a raw reply to the caller: an error reply fails the call (not sticky) and is
 * freed; any other reply goes to *out or is freed when out is NULL. */
static wdts_err_t deliver(struct wdts_redis *redis, const char *what, redisReply *r,
                          struct wdts_redis_reply **out)
{
    if (r->type == REDIS_REPLY_ERROR) {
        set_error(redis, WDTS_ERR_REDIS, 0, "%s: %s", what, r->str);
        freeReplyObject(r);
        return WDTS_ERR_REDIS;
    }
    if (out)
        *out = (struct wdts_redis_reply *)(void *)r;
    else
        freeReplyObject(r);
    return WDTS_OK;
}

/* ---- commands ---------------------------------------------------------------------- */

/* One round trip; *raw receives any reply, error replies included. */
static wdts_err_t run_raw(struct wdts_redis *redis, const char *what, int argc, const char **argv,
                          const size_t *argvlen, redisReply **raw)
{
    wdts_err_t err = check_ready(redis, 0);
    if (err != WDTS_OK)
        return err;
    if (argc < 1)
        return set_error(redis, WDTS_ERR_INVAL, 0, "a command needs at least its name");
    redisReply *r = redisCommandArgv(redis->ctx, argc, argv, argvlen);
    if (r == NULL)
        return conn_broken(redis, what);
    *raw = r;
    return WDTS_OK;
}

wdts_err_t wdts_redis_command(struct wdts_redis *redis, int argc, const char **argv,
                              const size_t *argvlen, struct wdts_redis_reply **reply)
{
    char what[40];
    redisReply *r = NULL;
    cmd_name(what, sizeof(what), argc, argv, argvlen);
    wdts_err_t err = run_raw(redis, what, argc, argv, argvlen, &r);
    if (err != WDTS_OK)
        return err;
    return deliver(redis, what, r, reply);
}

wdts_err_t wdts_redis_commandl(struct wdts_redis *redis, struct wdts_redis_reply **reply, ...)
{
    va_list ap, ap2;
    int argc = 0;
    va_start(ap, reply);
    va_copy(ap2, ap);
    while (va_arg(ap, const char *) != NULL)
        argc++;
    va_end(ap);
    const char **argv = wdts_xmalloc(sizeof(*argv) * (size_t)(argc ? argc : 1));
    for (int i = 0; i < argc; i++)
        argv[i] = va_arg(ap2, const char *);
    va_end(ap2);
    wdts_err_t err = wdts_redis_command(redis, argc, argv, NULL, reply);
    free(argv);
    return err;
}

static wdts_err_t want_int(struct wdts_redis *redis, const char *what,
                           struct wdts_redis_reply *reply, long long *out)
{
    wdts_err_t err = WDTS_OK;
    if (wdts_redis_reply_type(reply) == WDTS_REDIS_INT)
        *out = wdts_redis_reply_int(reply);
    else
        err = set_error(redis, WDTS_ERR_REDIS, 0, "%s: expected an integer reply, got %s",
                        what, type_name(reply));
    wdts_redis_reply_free(reply);
    return err;
}

wdts_err_t wdts_redis_command_int(struct wdts_redis *redis, int argc, const char **argv,
                                  const size_t *argvlen, long long *out)
{
    struct wdts_redis_reply *reply = NULL;
    char what[40];
    cmd_name(what, sizeof(what), argc, argv, argvlen);
    wdts_err_t err = wdts_redis_command(redis, argc, argv, argvlen, &reply);
    if (err != WDTS_OK)
        return err;
    return want_int(redis, what, reply, out);
}

wdts_err_t wdts_redis_command_str(struct wdts_redis *redis, int argc, const char **argv,
                                  const size_t *argvlen, char **out, size_t *len)
{
    struct wdts_redis_reply *reply = NULL;
    char what[40];
    cmd_name(what, sizeof(what), argc, argv, argvlen);
    wdts_err_t err = wdts_redis_command(redis, argc, argv, argvlen, &reply);
    if (err != WDTS_OK)
        return err;
    enum wdts_redis_type t = wdts_redis_reply_type(reply);
    size_t n = 0;
    if (t == WDTS_REDIS_NIL) {
        *out = NULL;
    } else if (t == WDTS_REDIS_STR || t == WDTS_REDIS_STATUS) {
        const char *s = wdts_redis_reply_str(reply, &n);
        *out = wdts_xstrndup(s, n);
    } else {
        err = set_error(redis, WDTS_ERR_REDIS, 0, "%s: expected a string or nil reply, got %s",
                        what, type_name(reply));
    }
    if (err == WDTS_OK && len)
        *len = n;
    wdts_redis_reply_free(reply);
    return err;
}

wdts_err_t wdts_redis_pipeline_append(struct wdts_redis *redis, int argc, const char **argv,
                                      const size_t *argvlen)
{
    wdts_err_t err = check_ready(redis, 1);
    if (err != WDTS_OK)
        return err;
    if (argc < 1)
        return set_error(redis, WDTS_ERR_INVAL, 0, "a command needs at least its name");
    if (redisAppendCommandArgv(redis->ctx, argc, argv, argvlen) != REDIS_OK)
        return conn_broken(redis, "pipeline append");
    redis->pending++;
    return WDTS_OK;
}

wdts_err_t wdts_redis_pipeline_read(struct wdts_redis *redis, struct wdts_redis_reply **reply)
{
    wdts_err_t err = check_ready(redis, 1);
    if (err != WDTS_OK)
        return err;
    if (redis->pending == 0)
        return set_error(redis, WDTS_ERR_INVAL, 0, "pipeline read with no command queued");
    void *r = NULL;
    if (redisGetReply(redis->ctx, &r) != REDIS_OK || r == NULL)
        return conn_broken(redis, "a pipelined command");
    redis->pending--;
    return deliver(redis, "pipelined command", r, reply);
}

/* ---- scripts ----------------------------------------------------------------------- */

struct wdts_redis_script *wdts_redis_script_new(const char *name, const char *src)
{
    WDTS_ASSERT(name != NULL && *name != '\0' && src != NULL && *src != '\0');
    struct wdts_redis_script *script = wdts_xcalloc(1, sizeof(*script));
    script->name = wdts_xstrdup(name);
    script->src = wdts_xstrdup(src);
    script->len = strlen(src);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    WDTS_ASSERT(EVP_Digest(script->src, script->len, md, &mdlen, EVP_sha1(), NULL) == 1 &&
                mdlen == 20);
    wdts_hex_lower(md, mdlen, script->sha);
    return script;
}

void wdts_redis_script_destroy(struct wdts_redis_script *script)
{
    if (script == NULL)
        return;
    free(script->name);
    free(script->src);
    free(script);
}

wdts_err_t wdts_redis_script_load(struct wdts_redis *redis, const struct wdts_redis_script *script)
{
    char what[96];
    snprintf(what, sizeof(what), "SCRIPT LOAD of %.64s", script->name);
    const char *argv[3] = {"SCRIPT", "LOAD", script->src};
    const size_t argvlen[3] = {6, 4, script->len};
    redisReply *r = NULL;
    wdts_err_t err = run_raw(redis, what, 3, argv, argvlen, &r);
    if (err != WDTS_OK)
        return err;
    if (r->type == REDIS_REPLY_STRING && strcmp(r->str, script->sha) == 0) {
        freeReplyObject(r);
        return WDTS_OK;
    }
    if (r->type == REDIS_REPLY_ERROR)
        err = set_error(redis, WDTS_ERR_REDIS, 0, "%s: %s", what, r->str);
    else
        err = set_error(redis, WDTS_ERR_REDIS, 0, "%s: the server returned %.40s, expected SHA1 %s",
                        what, r->type == REDIS_REPLY_STRING ? r->str : "no string",
                        script->sha);
    freeReplyObject(r);
    return err;
}

wdts_err_t wdts_redis_eval(struct wdts_redis *redis, const struct wdts_redis_script *script,
                           int nkeys, const char *const *keys, int nargs,
                           const char *const *args, struct wdts_redis_reply **reply)
{
    char what[80];
    char nk[16];
    snprintf(what, sizeof(what), "script %.64s", script->name);
    if (nkeys < 0 || nargs < 0)
        return set_error(redis, WDTS_ERR_INVAL, 0, "%s: negative key or argument count", what);
    snprintf(nk, sizeof(nk), "%d", nkeys);
    int argc = 3 + nkeys + nargs;
    const char **argv = wdts_xmalloc(sizeof(*argv) * (size_t)argc);
    argv[0] = "EVALSHA";
    argv[1] = script->sha;
    argv[2] = nk;
    for (int i = 0; i < nkeys; i++)
        argv[3 + i] = keys[i];
    for (int i = 0; i < nargs; i++)
        argv[3 + nkeys + i] = args[i];

    redisReply *r = NULL;
    wdts_err_t err = run_raw(redis, what, argc, argv, NULL, &r);
    /* The server lost its script cache (restart, failover, SCRIPT FLUSH): load the
     * script and try once more; a second NOSCRIPT is reported as an error. */
    if (err == WDTS_OK && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        r = NULL;
        err = wdts_redis_script_load(redis, script);
        if (err == WDTS_OK)
            err = run_raw(redis, what, argc, argv, NULL, &r);
    }
    free(argv);
    if (err != WDTS_OK)
        return err;
    return deliver(redis, what, r, reply);
}

wdts_err_t wdts_redis_eval_int(struct wdts_redis *redis, const struct wdts_redis_script *script,
                               int nkeys, const char *const *keys, int nargs,
                               const char *const *args, long long *out)
{
    struct wdts_redis_reply *reply = NULL;
    wdts_err_t err = wdts_redis_eval(redis, script, nkeys, keys, nargs, args, &reply);
    if (err != WDTS_OK)
        return err;
    char what[80];
    snprintf(what, sizeof(what), "script %.64s", script->name);
    return want_int(redis, what, reply, out);
}
