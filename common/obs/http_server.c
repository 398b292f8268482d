/* /metrics, /healthz and /readyz on libmicrohttpd (see http_server.h). The listening socket is
 * made here rather than by libmicrohttpd so that a bad or busy address gets a precise message
 * and port 0 can be read back; libmicrohttpd then owns it and closes it when stopped.
 *
 * Slow clients: libmicrohttpd's own timeout is an idle timeout, which a client sending a byte
 * every few seconds never reaches. So each connection also gets a deadline for its request
 * headers (WDTS_HTTP_HEADER_TIMEOUT_MS from its start or from its previous answer): a watchdog
 * thread shuts down the sockets that pass it. It shuts down a dup() of the socket taken when
 * the connection started, so it can never touch a descriptor libmicrohttpd has closed and
 * reused. With the per-address and total connection limits, a probe gets a connection slot
 * and an answer while hundreds of slow clients hold connections (tests/integration/0701). */
#include "wdts/http_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "wdts/mem.h"
#include "wdts/metrics.h"
#include "wdts/str.h"

#define REASON_SIZE 256
#define LISTEN_HINT "expected host:port, e.g. 127.0.0.1:9100, 0.0.0.0:9100, :9100 or [::1]:9100"
#define WATCHDOG_TICK_MS 100

/* One open connection, as the watchdog sees it (the connection's socket context). */
struct watch {
    struct watch *prev, *next;
    int fd;          /* owned: a dup() of the connection's socket, closed when it closes */
    int armed;       /* waiting for request headers */
    int shut;        /* shut down by the watchdog */
    long long deadline_ms;
};

struct wdts_http_server {
    struct MHD_Daemon *mhd;       /* owned; owns the listening socket */
    struct wdts_metrics *metrics; /* borrowed */
    wdts_http_ready_cb ready_cb;  /* NULL: use ready/reason */
    void *opaque;
    unsigned port;
    pthread_mutex_t lock; /* guards ready, reason, watches, stopping */
    int ready;
    char reason[REASON_SIZE];
    struct watch *watches; /* owned list of open connections */
    pthread_cond_t wake;   /* signalled to stop the watchdog */
    pthread_t watchdog;
    int stopping;
    int watchdog_started;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct watch *conn_watch(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* libmicrohttpd's thread: a connection opened or closed. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct wdts_http_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct watch *wt = wdts_xcalloc(1, sizeof(*wt));
        wt->fd = ci ? fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0) : -1;
        wt->armed = 1;
        wt->deadline_ms = now_ms() + WDTS_HTTP_HEADER_TIMEOUT_MS;
        pthread_mutex_lock(&srv->lock);
        wt->next = srv->watches;
        if (srv->watches)
            srv->watches->prev = wt;
        srv->watches = wt;
        pthread_mutex_unlock(&srv->lock);
        *socket_context = wt;
        return;
    }
    struct watch *wt = *socket_context;
    if (wt == NULL)
        return;
    pthread_mutex_lock(&srv->lock);
    if (wt->prev)
        wt->prev->next = wt->next;
    else
        srv->watches = wt->next;
    if (wt->next)
        wt->next->prev = wt->prev;
    pthread_mutex_unlock(&srv->lock);
    if (wt->fd >= 0)
        close(wt->fd);
    free(wt);
    *socket_context = NULL;
}

/* libmicrohttpd's thread: an answer was sent; the next request gets a new deadline. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct wdts_http_server *srv = cls;
    (void)con_cls;
    (void)toe;
    struct watch *wt = conn_watch(conn);
    if (wt == NULL)
        return;
    pthread_mutex_lock(&srv->lock);
    wt->armed = 1;
    wt->deadline_ms = now_ms() + WDTS_HTTP_HEADER_TIMEOUT_MS;
    pthread_mutex_unlock(&srv->lock);
}

/* Shuts down every connection whose request headers are late; libmicrohttpd then reads EOF
 * and closes it. */
static void *watchdog_run(void *arg)
{
    struct wdts_http_server *srv = arg;
    pthread_mutex_lock(&srv->lock);
    while (!srv->stopping) {
        long long now = now_ms();
        for (struct watch *wt = srv->watches; wt; wt = wt->next) {
            if (wt->armed && !wt->shut && wt->fd >= 0 && now >= wt->deadline_ms) {
                (void)shutdown(wt->fd, SHUT_RDWR);
                wt->shut = 1;
            }
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += WATCHDOG_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->wake, &srv->lock, &ts);
    }
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             char *body, size_t len, int owned)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return reply(conn, status, "text/plain; charset=utf-8", (char *)text, strlen(text), 0);
}

static enum MHD_Result serve_readyz(struct wdts_http_server *srv, struct MHD_Connection *conn)
{
    char reason[REASON_SIZE] = "";
    int ready;
    if (srv->ready_cb) {
        ready = srv->ready_cb(srv->opaque, reason, sizeof(reason));
        reason[sizeof(reason) - 1] = '\0';
    } else {
        pthread_mutex_lock(&srv->lock);
        ready = srv->ready;
        memcpy(reason, srv->reason, sizeof(reason));
        pthread_mutex_unlock(&srv->lock);
    }
    if (ready)
        return reply_text(conn, MHD_HTTP_OK, "ready\n");
    char *body = wdts_xasprintf("not ready: %s\n", reason[0] ? reason : "no reason given");
    return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", body,
                 strlen(body), 1);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct wdts_http_server *srv = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    struct watch *wt = conn_watch(conn);
    if (wt) { /* the headers are in: no deadline until the answer is sent */
        pthread_mutex_lock(&srv->lock);
        wt->armed = 0;
        pthread_mutex_unlock(&srv->lock);
    }
    int known = strcmp(url, "/metrics") == 0 || strcmp(url, "/healthz") == 0 ||
                strcmp(url, "/readyz") == 0;
    if (!known)
        return reply_text(conn, MHD_HTTP_NOT_FOUND,
                          "not found: this server answers GET /metrics, /healthz and /readyz\n");
    /* Answering in the first call is allowed; a request body, if any, is then discarded. */
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n");
    if (strcmp(url, "/healthz") == 0)
        return reply_text(conn, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0)
        return serve_readyz(srv, conn);

    struct wdts_buf b;
    wdts_buf_init(&b);
    if (srv->metrics)
        wdts_metrics_render(srv->metrics, &b);
    if (b.data == NULL)
        return reply(conn, MHD_HTTP_OK, WDTS_METRICS_CONTENT_TYPE, "", 0, 0);
    size_t len = b.len;
    return reply(conn, MHD_HTTP_OK, WDTS_METRICS_CONTENT_TYPE, wdts_buf_steal(&b), len, 1);
}

/* Splits "host:port" / "[v6]:port" / ":port" into host (empty = all IPv4) and port. */
static int split_listen(const char *addr, char *host, size_t host_size, long long *port,
                        char *errstr, size_t errstr_size)
{
    const char *colon, *hs, *he;
    if (addr == NULL || *addr == '\0') {
        snprintf(errstr, errstr_size, "listen address is empty: " LISTEN_HINT);
        return -1;
    }
    if (addr[0] == '[') {
        he = strchr(addr, ']');
        if (he == NULL || he[1] != ':') {
            snprintf(errstr, errstr_size, "listen address '%s': " LISTEN_HINT, addr);
            return -1;
        }
        hs = addr + 1;
        colon = he + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL) {
            snprintf(errstr, errstr_size, "listen address '%s' has no port: " LISTEN_HINT,
                     addr);
            return -1;
        }
        if (memchr(addr, ':', (size_t)(colon - addr)) != NULL) {
            snprintf(errstr, errstr_size,
                     "listen address '%s': put an IPv6 address in brackets, e.g. [::1]:9100",
                     addr);
            return -1;
        }
        hs = addr;
        he = colon;
    }
    if ((size_t)(he - hs) >= host_size) {
        snprintf(errstr, errstr_size, "listen address '%s': the host is too long", addr);
        return -1;
    }
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    if (wdts_parse_int(colon + 1, 0, 65535, port) != WDTS_OK) {
        snprintf(errstr, errstr_size,
                 "listen address '%s': the port must be a number from 0 to 65535 (0 = any free "
                 "port)",
                 addr);
        return -1;
    }
    return 0;
}

/* @returns a bound, listening socket, or -1 with the reason in errstr. */
static int open_listener(const char *addr, unsigned *port_out, int *family, char *errstr,
                         size_t errstr_size)
{
    char host[256], portstr[8];
    long long port;
    struct addrinfo hints, *res = NULL;
    int fd = -1;
    if (split_listen(addr, host, sizeof(host), &port, errstr, errstr_size) != 0)
        return -1;
    snprintf(portstr, sizeof(portstr), "%lld", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : "0.0.0.0", portstr, &hints, &res);
    if (gai != 0 || res == NULL) {
        snprintf(errstr, errstr_size,
                 "listen address '%s': cannot resolve host '%s' (%s); use an IP address of "
                 "this machine or 0.0.0.0",
                 addr, host, gai_strerror(gai));
        goto fail;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "listen address '%s': socket: %s", addr, strerror(errno));
        goto fail;
    }
    int one = 1;
    /* Restarting while old connections sit in TIME_WAIT must not fail with "in use". */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        int e = errno;
        if (e == EADDRINUSE)
            snprintf(errstr, errstr_size,
                     "listen address '%s' is already in use: another process (or another "
                     "instance of this one) listens there; stop it or choose another port",
                     addr);
        else if (e == EADDRNOTAVAIL)
            snprintf(errstr, errstr_size,
                     "listen address '%s' is not an address of this machine; use one of its "
                     "addresses, 127.0.0.1 or 0.0.0.0",
                     addr);
        else if (e == EACCES)
            snprintf(errstr, errstr_size,
                     "listen address '%s': binding a port below 1024 needs privileges; use a "
                     "port of 1024 or above",
                     addr);
        else
            snprintf(errstr, errstr_size, "listen address '%s': bind: %s", addr, strerror(e));
        goto fail;
    }
    if (listen(fd, 256) != 0) {
        snprintf(errstr, errstr_size, "listen address '%s': listen: %s", addr, strerror(errno));
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(errstr, errstr_size, "listen address '%s': getsockname: %s", addr,
                 strerror(errno));
        goto fail;
    }
    *family = ss.ss_family;
    *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    freeaddrinfo(res);
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    if (res)
        freeaddrinfo(res);
    return -1;
}

struct wdts_http_server *wdts_http_server_new(const char *addr, struct wdts_metrics *metrics,
                                              wdts_http_ready_cb ready_cb, void *opaque,
                                              char *errstr, size_t errstr_size)
{
    unsigned port = 0;
    int family = AF_INET;
    int fd = open_listener(addr, &port, &family, errstr, errstr_size);
    if (fd < 0)
        return NULL;
    struct wdts_http_server *srv = wdts_xcalloc(1, sizeof(*srv));
    srv->metrics = metrics;
    srv->ready_cb = ready_cb;
    srv->opaque = opaque;
    srv->port = port;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->wake, &ca);
    pthread_condattr_destroy(&ca);
    wdts_strlcpy(srv->reason, "starting", sizeof(srv->reason));

    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, srv, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WDTS_HTTP_IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)WDTS_HTTP_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)WDTS_HTTP_MAX_CONNECTIONS_PER_IP,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_END);
    if (srv->mhd != NULL && pthread_create(&srv->watchdog, NULL, watchdog_run, srv) == 0) {
        srv->watchdog_started = 1;
    } else if (srv->mhd != NULL) {
        MHD_stop_daemon(srv->mhd); /* closes fd */
        snprintf(errstr, errstr_size,
                 "listen address '%s': the HTTP watchdog thread did not start (out of threads?)",
                 addr);
        pthread_cond_destroy(&srv->wake);
        pthread_mutex_destroy(&srv->lock);
        free(srv);
        return NULL;
    }
    if (srv->mhd == NULL) {
        /* libmicrohttpd did not take the socket: it is still ours to close. */
        snprintf(errstr, errstr_size,
                 "listen address '%s': the HTTP server thread did not start (out of threads or "
                 "file descriptors?)",
                 addr);
        close(fd);
        pthread_cond_destroy(&srv->wake);
        pthread_mutex_destroy(&srv->lock);
        free(srv);
        return NULL;
    }
    return srv;
}

unsigned wdts_http_server_port(const struct wdts_http_server *srv)
{
    return srv->port;
}

void wdts_http_server_set_ready(struct wdts_http_server *srv, int ready, const char *reason)
{
    pthread_mutex_lock(&srv->lock);
    srv->ready = ready ? 1 : 0;
    wdts_strlcpy(srv->reason, ready ? "" : (reason ? reason : "not ready"), sizeof(srv->reason));
    pthread_mutex_unlock(&srv->lock);
}

void wdts_http_server_destroy(struct wdts_http_server *srv)
{
    if (srv == NULL)
        return;
    if (srv->watchdog_started) {
        pthread_mutex_lock(&srv->lock);
        srv->stopping = 1;
        pthread_cond_signal(&srv->wake);
        pthread_mutex_unlock(&srv->lock);
        pthread_join(srv->watchdog, NULL);
    }
    /* joins its thread, closes the listening socket and every connection (each one's watch
     * is freed by on_connection) */
    MHD_stop_daemon(srv->mhd);
    pthread_cond_destroy(&srv->wake);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}
