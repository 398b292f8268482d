/* The observability endpoint every long-running program serves, on libmicrohttpd:
 *   GET /metrics  the registry in the Prometheus text format 0.0.4
 *   GET /healthz  200 "ok": the process is alive and its HTTP thread answers
 *   GET /readyz   200 "ready" when ready, else 503 "not ready: <reason>"
 * Anything else is 404 (405 for another method on these paths). It is not a general web server:
 * no TLS, no request bodies, no other routes.
 *
 * Threads: wdts_http_server_new() starts one internal libmicrohttpd thread that accepts
 * connections and answers every request; the registry is rendered and the readiness callback is
 * called on that thread. Requests are answered one at a time, and a second thread closes slow
 * clients.
 *
 * Slow or hostile clients must not starve the kubelet's probes: a connection whose request
 * headers have not all arrived WDTS_HTTP_HEADER_TIMEOUT_MS after it opened (or after its previous
 * answer) is closed, however steadily it trickles bytes; one idle for WDTS_HTTP_IDLE_TIMEOUT_S
 * is closed; at most WDTS_HTTP_MAX_CONNECTIONS are open, WDTS_HTTP_MAX_CONNECTIONS_PER_IP of them
 * from one address (more are closed at once). Binding http.listen to the pod's IP (not 0.0.0.0)
 * and a NetworkPolicy that admits only the node and Prometheus keep the rest of the network away.
 * wdts_http_server_set_ready() may be called from any thread. wdts_http_server_destroy() joins
 * the thread: no callback runs after it returns.
 *
 * Wiring in a program's main():
 *   srv = wdts_http_server_new(cfg->metrics_listen, reg, NULL, NULL, errstr, sizeof(errstr));
 *   ... wdts_http_server_set_ready(srv, 1, NULL) once Kafka and Redis answer ...
 *   wdts_http_server_set_ready(srv, 0, "shutting down");  (on SIGTERM)
 *   wdts_http_server_destroy(srv); wdts_metrics_destroy(reg); */
#ifndef WDTS_HTTP_SERVER_H
#define WDTS_HTTP_SERVER_H

#include <stddef.h>

struct wdts_metrics;
struct wdts_http_server;

#define WDTS_HTTP_HEADER_TIMEOUT_MS 3000
#define WDTS_HTTP_IDLE_TIMEOUT_S 10
#define WDTS_HTTP_MAX_CONNECTIONS 512
#define WDTS_HTTP_MAX_CONNECTIONS_PER_IP 32

/**
 * @brief  Readiness check, called for each GET /readyz.
 * @param  reason  on "not ready", write a short reason there (NUL-terminated, at most
 *                 reason_size bytes); it is sent in the 503 body.
 * @returns 1 when ready, 0 when not.
 * @thread the server's thread; it must be quick and must not block on the event loop.
 */
typedef int (*wdts_http_ready_cb)(void *opaque, char *reason, size_t reason_size);

/**
 * @brief  Binds to listen_addr and starts serving in a thread of its own.
 * @param  listen_addr "host:port": "127.0.0.1:9100", "0.0.0.0:9100", ":9100" (all IPv4
 *                  interfaces), "[::]:9100" or "[::1]:0"; a host name such as "localhost" is
 *                  resolved and the first address used. Port 0 picks a free port (see
 *                  wdts_http_server_port()).
 * @param  metrics  rendered for /metrics; NULL serves an empty page.
 * @param  ready_cb decides /readyz; NULL uses the flag of wdts_http_server_set_ready(), which
 *                  starts as "not ready: starting".
 * @owner  listen_addr: borrowed. metrics, opaque: borrowed, and must outlive the server
 *         (destroy the server first). Returns a new server; stop and free it with wdts_http_server_destroy().
 * @returns NULL with the reason in errstr: a bad address ("expected host:port ..."), an address
 *          in use, an address not on this machine, a privileged port, or a thread that would not
 *          start.
 */
struct wdts_http_server *wdts_http_server_new(const char *listen_addr,
                                              struct wdts_metrics *metrics,
                                              wdts_http_ready_cb ready_cb, void *opaque,
                                              char *errstr, size_t errstr_size);

/** @returns the port actually bound (the chosen one when the listen port was 0). */
unsigned wdts_http_server_port(const struct wdts_http_server *srv);

/**
 * @brief  Sets the readiness flag used when the server has no ready_cb.
 * @param  reason  why not ready (copied, truncated to 255 bytes); ignored when ready is 1;
 *                 NULL means "not ready".
 * @thread any.
 */
void wdts_http_server_set_ready(struct wdts_http_server *srv, int ready, const char *reason);

/**
 * @brief  Stops serving (closes the listening socket and open connections, joins the thread) and
 *         frees the server. NULL is a no-op.
 */
void wdts_http_server_destroy(struct wdts_http_server *srv);

#endif
