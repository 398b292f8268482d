/* The HTTP side of wdt-sandbox (see sbx_server.h): request contexts, body
 * collection, routing, the suspend/resume timer for delayed answers, and a clean
 * stop. Checks and answers live in sbx_gateway.c; this file only carries bytes. */
#include "sbx_server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sbx_clock.h"
#include "sbx_gateway.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"

#define SBX_MAX_BODY (1024 * 1024)

enum req_phase { PH_NEW = 0, PH_BODY, PH_HELD, PH_RELEASED };

/* One HTTP request; created by the URI callback, freed when MHD completes it. */
struct req {
    struct sbx_server *srv;
    char *uri; /* owned: path and raw query as received */
    enum req_phase phase;
    int is_gateway;
    enum sbx_route route;
    int too_big;
    struct wdts_buf body;
    struct sbx_answer ans;
    int answered; /* ans holds a gateway answer (release its slot at completion) */
    int counted;  /* counted in srv->held_count until handled or completed */
};

struct held {
    int64_t due_ms;
    struct req *r;
    struct MHD_Connection *conn;
};

struct sbx_server {
    struct MHD_Daemon *mhd;
    int lsock;
    int port;
    struct sbx_gateway *gw;

    pthread_t timer;
    int timer_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct held *heap; /* min-heap on due_ms */
    size_t n_heap, cap_heap;
    int stopping;
    int held_count; /* suspended connections not yet handled after their release */
};

/* ---- timer: a min-heap of held connections -------------------------------- */

static void heap_push(struct sbx_server *srv, struct held h)
{
    if (srv->n_heap == srv->cap_heap) {
        srv->cap_heap = srv->cap_heap ? srv->cap_heap * 2 : 64;
        srv->heap = wdts_xrealloc(srv->heap, srv->cap_heap * sizeof(*srv->heap));
    }
    size_t i = srv->n_heap++;
    while (i > 0 && srv->heap[(i - 1) / 2].due_ms > h.due_ms) {
        srv->heap[i] = srv->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    srv->heap[i] = h;
}

static struct held heap_pop(struct sbx_server *srv)
{
    struct held top = srv->heap[0], last = srv->heap[--srv->n_heap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= srv->n_heap)
            break;
        if (c + 1 < srv->n_heap && srv->heap[c + 1].due_ms < srv->heap[c].due_ms)
            c++;
        if (srv->heap[c].due_ms >= last.due_ms)
            break;
        srv->heap[i] = srv->heap[c];
        i = c;
    }
    if (srv->n_heap > 0)
        srv->heap[i] = last;
    return top;
}

static void *timer_main(void *arg)
{
    struct sbx_server *srv = arg;
    pthread_mutex_lock(&srv->lock);
    for (;;) {
        int64_t now = wdts_time_mono_ms();
        /* On stop every held connection is due now. */
        while (srv->n_heap > 0 && (srv->stopping || srv->heap[0].due_ms <= now)) {
            struct held h = heap_pop(srv);
            h.r->phase = PH_RELEASED;
            MHD_resume_connection(h.conn);
        }
        if (srv->stopping)
            break;
        if (srv->n_heap == 0) {
            pthread_cond_wait(&srv->cond, &srv->lock);
        } else {
            int64_t due = srv->heap[0].due_ms;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t wait = due - now;
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (wait % 1000) * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&srv->cond, &srv->lock, &ts);
        }
    }
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

/* Suspends conn until delay_ms from now. @returns 0, or -1 when stopping (answer now). */
static int hold(struct sbx_server *srv, struct req *r, struct MHD_Connection *conn,
                int64_t delay_ms)
{
    pthread_mutex_lock(&srv->lock);
    if (srv->stopping) {
        pthread_mutex_unlock(&srv->lock);
        return -1;
    }
    r->phase = PH_HELD;
    r->counted = 1;
    srv->held_count++;
    MHD_suspend_connection(conn);
    heap_push(srv, (struct held){wdts_time_mono_ms() + delay_ms, r, conn});
    pthread_cond_signal(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
    return 0;
}

/* The held request r is done with: answered, dropped, or its client went away. */
static void unheld(struct sbx_server *srv, struct req *r)
{
    pthread_mutex_lock(&srv->lock);
    if (r->counted) {
        r->counted = 0;
        srv->held_count--;
    }
    pthread_mutex_unlock(&srv->lock);
}

/* ---- answers ----------------------------------------------------------------- */

static void count_http(struct sbx_server *srv, const char *path, int code)
{
    char labels[128];
    snprintf(labels, sizeof(labels), "path=\"%s\",code=\"%d\"", path, code);
    sbx_metrics_inc(&srv->gw->metrics, SBX_M_HTTP, labels);
}

static enum MHD_Result send_buf(struct MHD_Connection *conn, int code, const char *ctype,
                                struct wdts_buf *body)
{
    size_t len = body->len;
    char *data = wdts_buf_steal(body);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)code, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A gateway answer: its Date header tells the gateway clock that request timestamps are
 * checked against, as a real gateway's tells its own, so a client can resync after a
 * timestamp error (also with --timestamp-skew or a fast --timestamp-clock sandbox). */
static enum MHD_Result send_answer(struct sbx_server *srv, struct MHD_Connection *conn,
                                   struct req *r)
{
    size_t len = r->ans.body.len;
    char *data = wdts_buf_steal(&r->ans.body);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ans.content_type);
    time_t now = (time_t)(srv->gw->ts_sandbox_clock ? sbx_clock_now(srv->gw->clock)
                                                    : wdts_time_now() + srv->gw->ts_skew_s);
    struct tm tm;
    char date[64];
    if (gmtime_r(&now, &tm) && strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_DATE, date);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->ans.http_status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_text(struct sbx_server *srv, struct MHD_Connection *conn,
                                 const char *path, int code, const char *ctype, const char *text)
{
    struct wdts_buf b;
    wdts_buf_init(&b);
    wdts_buf_append_str(&b, text);
    count_http(srv, path, code);
    return send_buf(conn, code, ctype, &b);
}

static const char *path_label(const char *path)
{
    if (strcmp(path, "/openapi") == 0)
        return "/openapi";
    if (strcmp(path, "/router/qm") == 0 || strcmp(path, "/router/qmtest") == 0)
        return "/router/qm";
    return "other";
}

/* ---- libmicrohttpd callbacks -------------------------------------------------- */

/* Counts the connections accepted: a client that keeps its connections alive shows fewer
 * of them than requests, one that sends Connection: close one per request. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct sbx_server *srv = cls;
    (void)conn;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        sbx_metrics_inc(&srv->gw->metrics, SBX_M_CONNS, "");
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    struct req *r = wdts_xcalloc(1, sizeof(*r));
    r->srv = cls;
    r->uri = wdts_xstrdup(uri ? uri : "/");
    wdts_buf_init(&r->body);
    sbx_answer_init(&r->ans);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    struct sbx_server *srv = cls;
    struct req *r = *con_cls;
    if (r == NULL)
        return;
    unheld(srv, r); /* a connection closed while held is completed without a resume call */
    if (r->answered) {
        sbx_gateway_done(srv->gw, &r->ans);
        __atomic_sub_fetch(&srv->gw->metrics.inflight, 1, __ATOMIC_RELAXED);
    }
    sbx_answer_deinit(&r->ans);
    wdts_buf_deinit(&r->body);
    free(r->uri);
    free(r);
    *con_cls = NULL;
}

static enum MHD_Result serve_gateway(struct sbx_server *srv, struct req *r,
                                     struct MHD_Connection *conn, const char *query)
{
    struct sbx_kv q = {NULL, 0};
    if (query)
        sbx_kv_parse(&q, query, strlen(query));
    struct sbx_request greq = {r->route, &q, wdts_buf_str(&r->body), r->body.len};
    sbx_gateway_handle(srv->gw, &greq, &r->ans);
    sbx_kv_deinit(&q);
    r->answered = 1;
    __atomic_add_fetch(&srv->gw->metrics.inflight, 1, __ATOMIC_RELAXED);

    if (r->ans.delay_ms > 0 && hold(srv, r, conn, r->ans.delay_ms) == 0)
        return MHD_YES;
    if (r->ans.hang)
        return MHD_NO; /* stopping: drop it now */
    count_http(srv, path_label(r->uri), r->ans.http_status);
    return send_answer(srv, conn, r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)url;
    struct sbx_server *srv = cls;
    struct req *r = *con_cls;
    if (r == NULL) /* no URI callback ran: cannot happen with our options */
        return MHD_NO;

    if (r->phase == PH_RELEASED) {
        unheld(srv, r);
        if (r->ans.hang)
            return MHD_NO; /* held past any client timeout: close without an answer */
        count_http(srv, path_label(r->uri), r->ans.http_status);
        return send_answer(srv, conn, r);
    }
    if (r->phase == PH_HELD)
        return MHD_YES; /* not reached: a suspended connection is not called */

    if (r->phase == PH_NEW) {
        r->phase = PH_BODY;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (r->body.len + *upload_data_size > SBX_MAX_BODY)
            r->too_big = 1;
        else
            wdts_buf_append(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    /* The whole request is in: route it. The path is the URI up to '?'. */
    char *qmark = strchr(r->uri, '?');
    const char *query = NULL;
    if (qmark) {
        *qmark = '\0';
        query = qmark + 1;
    }
    const char *path = r->uri;
    int is_post = strcmp(method, "POST") == 0, is_get = strcmp(method, "GET") == 0;

    if (strcmp(path, "/openapi") == 0 || strcmp(path, "/router/qm") == 0 ||
        strcmp(path, "/router/qmtest") == 0) {
        r->route = strcmp(path, "/openapi") == 0 ? SBX_ROUTE_WDT : SBX_ROUTE_QIMEN;
        if (!(is_post || (is_get && r->route == SBX_ROUTE_QIMEN)))
            return send_text(srv, conn, path_label(path), 405, "application/json",
                             "{\"error\":\"use POST (the Qimen route also takes GET)\"}\n");
        if (r->too_big)
            return send_text(srv, conn, path_label(path), 413, "application/json",
                             "{\"error\":\"request body over 1 MiB\"}\n");
        return serve_gateway(srv, r, conn, query);
    }
    if (strcmp(path, "/metrics") == 0 && is_get) {
        struct wdts_buf b;
        wdts_buf_init(&b);
        sbx_metrics_render(&srv->gw->metrics, &b);
        return send_buf(conn, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
    }
    if (strcmp(path, "/healthz") == 0 && is_get) {
        struct wdts_buf b;
        char bj[WDTS_BJTIME_LEN];
        int64_t now = sbx_clock_now(srv->gw->clock);
        wdts_time_format_beijing(now, bj);
        wdts_buf_init(&b);
        wdts_buf_printf(&b, "{\"status\":\"ok\",\"clock\":%lld,\"clock_ms\":%lld,\"clock_beijing\":\"%s\"}\n",
                        (long long)now, (long long)sbx_clock_now_ms(srv->gw->clock), bj);
        return send_buf(conn, 200, "application/json", &b);
    }
    return send_text(srv, conn, "other", 404, "application/json",
                     "{\"error\":\"not found: the sandbox serves POST /openapi, POST /router/qm, "
                     "GET /metrics and GET /healthz\"}\n");
}

/* ---- life cycle ------------------------------------------------------------------- */

static int listen_on(const char *host, int port, int *port_out, char *errstr, size_t errstr_size)
{
    struct addrinfo hints, *res = NULL;
    char portstr[16];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "cannot resolve listen host '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
        snprintf(errstr, errstr_size, "cannot listen on %s:%d: %s (is the port in use? use port 0 "
                                      "for a free one)", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

struct sbx_server *sbx_server_new(const struct sbx_server_cfg *cfg, char *errstr,
                                  size_t errstr_size)
{
    struct sbx_server *srv = wdts_xcalloc(1, sizeof(*srv));
    srv->gw = cfg->gw;
    srv->lsock = -1;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->cond, &ca);
    pthread_condattr_destroy(&ca);

    srv->lsock = listen_on(cfg->host, cfg->port, &srv->port, errstr, errstr_size);
    if (srv->lsock < 0)
        goto fail;
    if (pthread_create(&srv->timer, NULL, timer_main, srv) != 0) {
        snprintf(errstr, errstr_size, "cannot start the timer thread");
        goto fail;
    }
    srv->timer_started = 1;

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    unsigned threads = cfg->threads > 0 ? (unsigned)cfg->threads : 1;
    srv->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET, srv->lsock,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)4000, MHD_OPTION_END);
    if (srv->mhd == NULL) {
        snprintf(errstr, errstr_size, "libmicrohttpd failed to start on port %d", srv->port);
        goto fail;
    }
    return srv;
fail:
    sbx_server_destroy(srv);
    return NULL;
}

int sbx_server_port(const struct sbx_server *srv)
{
    return srv->port;
}

void sbx_server_destroy(struct sbx_server *srv)
{
    if (srv == NULL)
        return;
    /* Release every held connection, then give the workers a moment to answer or
     * close them: MHD must not stop with connections still suspended. */
    pthread_mutex_lock(&srv->lock);
    srv->stopping = 1;
    pthread_cond_signal(&srv->cond);
    pthread_mutex_unlock(&srv->lock);
    if (srv->timer_started)
        pthread_join(srv->timer, NULL);
    if (srv->mhd) {
        int64_t deadline = wdts_time_mono_ms() + 3000;
        for (;;) {
            pthread_mutex_lock(&srv->lock);
            int held = srv->held_count;
            pthread_mutex_unlock(&srv->lock);
            if (held <= 0 || wdts_time_mono_ms() > deadline)
                break;
            usleep(5000);
        }
        MHD_stop_daemon(srv->mhd); /* closes the listen socket it was given */
    } else if (srv->lsock >= 0) {
        close(srv->lsock);
    }
    free(srv->heap);
    pthread_cond_destroy(&srv->cond);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}
