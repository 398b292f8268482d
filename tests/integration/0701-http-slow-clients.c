/* Probes answer while slow clients hold connections (security review M2): 200 connections, each
 * from an address of its own in 127.0.0.0/8 and sending one byte of a request line about every
 * second, must not delay GET /healthz beyond 1 s, and the server must close every one of them
 * at its request-header deadline (not at the 10 s idle timeout, which the trickle never
 * reaches). Then one address that opens more than its share of connections gets the extra ones
 * closed at once while a probe from another address is answered. Loopback only, no external
 * service, bounded to about 15 s. */
#include "wdts_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "wdts/http_server.h"

#define SLOW 200

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *opaque)
{
    (void)p;
    (void)opaque;
    return size * n;
}

/* GET /healthz from 127.0.0.1. @returns the seconds it took; fails the test unless 200. */
static double probe(unsigned port)
{
    char url[64];
    long status = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", port);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    double t0 = now_s();
    CURLcode rc = curl_easy_perform(c);
    double took = now_s() - t0;
    if (rc != CURLE_OK)
        fail_msg("GET /healthz after %.3f s: %s", took, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    assert_int_equal(status, 200);
    return took;
}

/* A connection to 127.0.0.1:port from source address src (host order). */
static int slow_connect(unsigned port, uint32_t src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(src);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        fail_msg("bind 127.x source: %s", strerror(errno));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)port);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        fail_msg("connect: %s", strerror(errno));
    (void)fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* @returns 1 when the server has closed fd (EOF or reset), 0 while it is open. */
static int closed_by_server(int fd)
{
    char b[64];
    ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
    if (n == 0)
        return 1;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return 1;
    return 0; /* a server that answered would have sent data: never, the request is unfinished */
}

static void test_probes_answer_under_200_slow_connections(void **state)
{
    (void)state;
    char es[256];
    static const char line[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    struct wdts_http_server *srv = wdts_http_server_new("127.0.0.1:0", NULL, NULL, NULL, es,
                                                        sizeof(es));
    if (srv == NULL)
        fail_msg("start: %s", es);
    unsigned port = wdts_http_server_port(srv);

    int fds[SLOW];
    double opened[SLOW], closed_at[SLOW];
    size_t sent[SLOW];
    for (int i = 0; i < SLOW; i++) {
        /* 127.0.1.1 … 127.0.1.200: one address each, so no per-address limit applies */
        fds[i] = slow_connect(port, 0x7f000100u + (uint32_t)i + 1);
        opened[i] = now_s();
        closed_at[i] = 0;
        sent[i] = 0;
    }

    double worst = 0, t_end = now_s() + WDTS_HTTP_HEADER_TIMEOUT_MS / 1000.0 + 3.0;
    int probes = 0, open_cnt = SLOW;
    double next_probe = 0;
    while (open_cnt > 0 && now_s() < t_end) {
        /* one byte more on each open connection, about every second */
        for (int i = 0; i < SLOW; i++) {
            if (closed_at[i] > 0)
                continue;
            if (closed_by_server(fds[i])) {
                closed_at[i] = now_s();
                open_cnt--;
                continue;
            }
            if (now_s() - opened[i] >= (double)sent[i]) {
                if (send(fds[i], line + sent[i] % (sizeof(line) - 1), 1, MSG_NOSIGNAL) == 1)
                    sent[i]++;
            }
        }
        /* probe while most of the slow connections are still open */
        if (open_cnt > SLOW / 2 && now_s() >= next_probe) {
            double took = probe(port);
            probes++;
            if (took > worst)
                worst = took;
            next_probe = now_s() + 0.25;
        }
        usleep(20000);
    }
    double first_close = 1e9, last_close = 0;
    for (int i = 0; i < SLOW; i++) {
        if (closed_at[i] == 0)
            fail_msg("slow connection %d still open %.1f s after it opened", i,
                     now_s() - opened[i]);
        double held = closed_at[i] - opened[i];
        if (held < first_close)
            first_close = held;
        if (held > last_close)
            last_close = held;
        close(fds[i]);
    }
    print_message("%d slow connections: %d probes, slowest %.3f s; slow ones closed after "
                  "%.2f-%.2f s (header deadline %d ms)\n",
                  SLOW, probes, worst, first_close, last_close, WDTS_HTTP_HEADER_TIMEOUT_MS);
    assert_true(probes >= 3);
    if (worst >= 1.0)
        fail_msg("a probe took %.3f s under %d slow connections", worst, SLOW);
    /* closed by the header deadline: not early, and well before the 10 s idle timeout */
    assert_true(first_close >= WDTS_HTTP_HEADER_TIMEOUT_MS / 1000.0 - 0.5);
    assert_true(last_close <= WDTS_HTTP_HEADER_TIMEOUT_MS / 1000.0 + 2.0);
    (void)probe(port); /* and the server is still fine */
    wdts_http_server_destroy(srv);
}

static void test_one_address_gets_its_share(void **state)
{
    (void)state;
    char es[256];
    enum { N = WDTS_HTTP_MAX_CONNECTIONS_PER_IP + 16 };
    struct wdts_http_server *srv = wdts_http_server_new("127.0.0.1:0", NULL, NULL, NULL, es,
                                                        sizeof(es));
    if (srv == NULL)
        fail_msg("start: %s", es);
    unsigned port = wdts_http_server_port(srv);
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = slow_connect(port, 0x7f000002u); /* all from 127.0.0.2 */
        (void)send(fds[i], "G", 1, MSG_NOSIGNAL);
    }
    double took = probe(port); /* from 127.0.0.1 */
    usleep(500000);
    int refused = 0;
    for (int i = 0; i < N; i++)
        refused += closed_by_server(fds[i]);
    print_message("%d connections from one address: %d closed at once; probe %.3f s\n", N,
                  refused, took);
    assert_int_equal(refused, N - WDTS_HTTP_MAX_CONNECTIONS_PER_IP);
    assert_true(took < 1.0);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    wdts_http_server_destroy(srv);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probes_answer_under_200_slow_connections),
        cmocka_unit_test(test_one_address_gets_its_share),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
