/* wdt-sandbox's HTTP server on libmicrohttpd: POST /openapi (direct), POST or GET
 * /router/qm (Qimen; /router/qmtest too), GET /metrics, GET /healthz.
 *
 * Threads: libmicrohttpd's internal polling with epoll and a pool of `threads`
 * workers answers requests. A delayed answer (latency or hang fault) never holds
 * a worker: the connection is SUSPENDED (MHD_suspend_connection) and one timer
 * thread resumes it when its time comes, so one slow request never stalls others.
 * On shutdown every held connection is released at once, so a hang of minutes
 * does not delay a stop.
 *
 *   sbx_server --owns--> MHD daemon, listen socket, timer thread
 *              --borrows--> sbx_gateway (must outlive the server)
 */
#ifndef SBX_SERVER_H
#define SBX_SERVER_H

#include <stddef.h>

struct sbx_gateway;
struct sbx_server;

struct sbx_server_cfg {
    const char *host; /* address to bind: "127.0.0.1", "0.0.0.0", "::1" */
    int port;         /* 0 = a free port, see sbx_server_port() */
    int threads;      /* worker threads (>= 1) */
    struct sbx_gateway *gw;
};

/**
 * @brief Binds, listens and starts serving.
 * @owner returns a new server; stop and free it with sbx_server_destroy(). cfg->gw borrowed.
 * @returns NULL with the reason in errstr.
 */
struct sbx_server *sbx_server_new(const struct sbx_server_cfg *cfg, char *errstr,
                                  size_t errstr_size);
/** The port actually bound (the free one chosen when cfg->port was 0). */
int sbx_server_port(const struct sbx_server *srv);
/** Releases held connections, stops serving and frees. NULL is a no-op. */
void sbx_server_destroy(struct sbx_server *srv);

#endif
