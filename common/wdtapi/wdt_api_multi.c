/* libcurl multi (socket interface) on a wdts_loop, for wdts/wdt_api_multi.h: curl's socket
 * callback maps to wdts_loop_io_set(), its timer callback to one loop timer, and
 * finished transfers are read from curl_multi_info_read() and handed back. */
#include "wdts/wdt_api_multi.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#include "wdt_api_http_int.h"
#include "wdts/log.h"
#include "wdts/loop.h"
#include "wdts/mem.h"

struct wdts_api_multi {
    struct wdts_loop *loop;
    CURLM *multi;
    uint64_t timer;
    size_t running;
};

/* What the multi keeps per running transfer, in the xfer's user slot. */
struct running {
    wdts_api_multi_cb cb;
    void *opaque;
};

static void check_done(struct wdts_api_multi *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        struct wdts_api_xfer *xfer = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&xfer);
        curl_multi_remove_handle(m->multi, easy);
        m->running--;
        wdts_api_xfer_done(xfer, rc);
        struct running *r = *wdts_api_xfer_user(xfer);
        *wdts_api_xfer_user(xfer) = NULL;
        struct running copy = *r;
        free(r);
        copy.cb(xfer, copy.opaque);
    }
}

static void on_io(int fd, int events, void *opaque)
{
    struct wdts_api_multi *m = opaque;
    int mask = 0, still;
    if (events & WDTS_LOOP_READ)
        mask |= CURL_CSELECT_IN;
    if (events & WDTS_LOOP_WRITE)
        mask |= CURL_CSELECT_OUT;
    if (events & WDTS_LOOP_ERROR)
        mask |= CURL_CSELECT_ERR;
    curl_multi_socket_action(m->multi, fd, mask, &still);
    check_done(m);
}

static void on_timer(void *opaque)
{
    struct wdts_api_multi *m = opaque;
    int still;
    m->timer = 0;
    curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &still);
    check_done(m);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    struct wdts_api_multi *m = userp;
    int ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= WDTS_LOOP_READ;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= WDTS_LOOP_WRITE;
    if (what == CURL_POLL_REMOVE)
        ev = 0;
    if (wdts_loop_io_set(m->loop, (int)s, ev, on_io, m) != WDTS_OK)
        WDTS_LOG(WARN, "http", "cannot watch socket %d", (int)s);
    return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct wdts_api_multi *m = userp;
    wdts_loop_timer_cancel(m->loop, m->timer);
    m->timer = 0;
    if (timeout_ms >= 0)
        m->timer = wdts_loop_timer_add(m->loop, timeout_ms, on_timer, m);
    return 0;
}

struct wdts_api_multi *wdts_api_multi_new(struct wdts_loop *loop, long max_host_conns,
                                          char *errstr, size_t errstr_size)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    if (multi == NULL) {
        snprintf(errstr, errstr_size, "libcurl could not create a multi handle");
        return NULL;
    }
    struct wdts_api_multi *m = wdts_xcalloc(1, sizeof(*m));
    m->loop = loop;
    m->multi = multi;
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, m);
    if (max_host_conns > 0)
        curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max_host_conns);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 512L);
    return m;
}

wdts_err_t wdts_api_multi_add(struct wdts_api_multi *m, struct wdts_api_xfer *xfer,
                              wdts_api_multi_cb cb, void *opaque)
{
    struct running *r = wdts_xcalloc(1, sizeof(*r));
    r->cb = cb;
    r->opaque = opaque;
    *wdts_api_xfer_user(xfer) = r;
    if (curl_multi_add_handle(m->multi, wdts_api_xfer_easy(xfer)) != CURLM_OK) {
        *wdts_api_xfer_user(xfer) = NULL;
        free(r);
        return WDTS_ERR_HTTP;
    }
    m->running++;
    return WDTS_OK;
}

void wdts_api_multi_remove(struct wdts_api_multi *m, struct wdts_api_xfer *xfer)
{
    struct running *r = *wdts_api_xfer_user(xfer);
    if (r == NULL)
        return;
    curl_multi_remove_handle(m->multi, wdts_api_xfer_easy(xfer));
    *wdts_api_xfer_user(xfer) = NULL;
    free(r);
    m->running--;
}

size_t wdts_api_multi_running(const struct wdts_api_multi *m)
{
    return m->running;
}

void wdts_api_multi_destroy(struct wdts_api_multi *m)
{
    if (m == NULL)
        return;
    wdts_loop_timer_cancel(m->loop, m->timer);
    curl_multi_cleanup(m->multi);
    free(m);
}
