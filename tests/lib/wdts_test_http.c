/* The HTTP fixture (see wdts_test_http.h). */
#include "wdts_test_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts_test.h"

static size_t http_sink(char *ptr, size_t size, size_t nmemb, void *ud)
{
    wdts_buf_append((struct wdts_buf *)ud, ptr, size * nmemb);
    return size * nmemb;
}

void http_do(const char *url, const char *body, const char *ctype, long timeout_ms,
             struct http_res *res)
{
    CURL *h = curl_easy_init();
    struct wdts_buf b;
    struct curl_slist *hdr = NULL;
    wdts_buf_init(&b);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        char ct[128];
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        hdr = curl_slist_append(hdr, ct);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    res->cerr = curl_easy_perform(h);
    res->code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->code);
    res->len = b.len;
    res->body = wdts_buf_steal(&b);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
}

void http_res_free(struct http_res *res)
{
    free(res->body);
    res->body = NULL;
}

double wdts_test_http_metric(const char *base, const char *frag1, const char *frag2)
{
    char url[160];
    struct http_res r;
    snprintf(url, sizeof(url), "%s/metrics", base);
    http_do(url, NULL, NULL, 10000, &r);
    assert_int_equal(r.code, 200);
    double total = 0;
    for (char *line = r.body, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] == '#' || strstr(line, frag1) == NULL || (frag2 && strstr(line, frag2) == NULL))
            continue;
        const char *sp = strrchr(line, ' ');
        if (sp)
            total += strtod(sp + 1, NULL);
    }
    http_res_free(&r);
    return total;
}

/* ---- the responder ---------------------------------------------------------------- */

struct wdts_test_responder {
    struct MHD_Daemon *mhd;
    unsigned short port;
    wdts_test_responder_cb cb;
    void *opaque;
};

/* The body of one request, gathered over the calls libmicrohttpd makes for it. */
struct upload {
    struct wdts_buf body;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct wdts_test_responder *resp = cls;
    (void)method;
    (void)version;
    struct upload *up = *req_cls;
    if (up == NULL) {
        up = wdts_xcalloc(1, sizeof(*up));
        wdts_buf_init(&up->body);
        *req_cls = up;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        wdts_buf_append(&up->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    unsigned status = 200;
    struct MHD_Response *r = resp->cb(resp->opaque, conn, url, wdts_buf_str(&up->body), &status);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct upload *up = *req_cls;
    if (up) {
        wdts_buf_deinit(&up->body);
        free(up);
    }
    *req_cls = NULL;
}

struct wdts_test_responder *wdts_test_responder_start(wdts_test_responder_cb cb, void *opaque)
{
    struct wdts_test_responder *resp = wdts_xcalloc(1, sizeof(*resp));
    resp->cb = cb;
    resp->opaque = opaque;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = 0; /* a free port */
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    resp->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
                                 0, NULL, NULL, on_request, resp, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                                 NULL, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        resp->mhd ? MHD_get_daemon_info(resp->mhd, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    resp->port = info ? info->port : 0;
    if (resp->port == 0) {
        fprintf(stderr, "cannot start libmicrohttpd on 127.0.0.1\n");
        wdts_test_responder_stop(resp);
        return NULL;
    }
    return resp;
}

unsigned short wdts_test_responder_port(const struct wdts_test_responder *resp)
{
    return resp->port;
}

void wdts_test_responder_stop(struct wdts_test_responder *resp)
{
    if (resp == NULL)
        return;
    if (resp->mhd)
        MHD_stop_daemon(resp->mhd);
    free(resp);
}
