/* A small closed-loop load generator for wdt-sandbox (tests/bench/sandbox-bench.sh
 * drives it): C connections on one libcurl multi handle keep one request each in
 * flight, bounded by a call count and a duration. Requests are signed once with
 * wdts/sign.h against a frozen sandbox clock, so signing is not what is measured.
 * Every answer is checked (HTTP 200, status 0); every 8th is parsed for its row count
 * (the full page, and rows/s is estimated from those). --windows N
 * spreads the calls over N distinct windows so that rows rarely repeat (cold caches). */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"
#include "wdts/sign.h"
#include "wdts/str.h"
#include "wdts/time.h"

#define MAX_CONNS 256
#define N_PAGES 8

/* What a request asks for: a report (whose list key is "order") and its window. */
struct report {
    const char *name, *direct, *qimen, *start, *end;
    int64_t span;
};

static const struct report reports[] = {
    {"trades", "sales.TradeQuery.queryWithDetail", "wdt.sales.tradequery.querywithdetail",
     "start_time", "end_time", 3600},
    {"raw_trades", "sales.RawTrade.search", "wdt.sales.rawtrade.search", "start_time", "end_time",
     3600},
    {"refunds", "aftersales.refund.Refund.search", "wdt.aftersales.refund.refund.search",
     "modified_from", "modified_to", 3 * 86400},
};

struct opts {
    const struct report *rep;
    const char *base, *mode, *sid, *key, *secret, *salt, *qkey, *qsecret;
    long long clock, conns, seconds, max_calls, page_size, windows;
};

struct req {
    char *url;
    char *body;        /* NULL for GET */
    const char *ctype; /* static */
};

/* One connection. Every answer's first bytes and length are kept; every
 * CHECK_EVERY-th answer is kept whole and its rows counted, so that checking does
 * not make the load generator the bottleneck at ~1 GB/s of answers. */
#define CHECK_EVERY 8

struct conn {
    CURL *h;
    struct wdts_buf buf; /* the whole answer, when full */
    int full;
    size_t len;
    char head[64];
    size_t head_len;
    int64_t started_us;
    size_t req;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    struct conn *c = ud;
    size_t len = s * n;
    if (c->head_len + 1 < sizeof(c->head)) {
        size_t k = sizeof(c->head) - 1 - c->head_len;
        k = k < len ? k : len;
        memcpy(c->head + c->head_len, p, k);
        c->head_len += k;
        c->head[c->head_len] = '\0';
    }
    c->len += len;
    if (c->full)
        wdts_buf_append(&c->buf, p, len);
    return len;
}

/* Window w of a request: the w-th span back from a day before the clock. With one
 * window every call reads the same 8 pages (warm caches); with many, rows repeat
 * rarely (cold). */
static void window(const struct opts *o, int w, char *params, size_t size)
{
    char a[WDTS_BJTIME_LEN], b[WDTS_BJTIME_LEN];
    int64_t end = o->clock - 86400 - (int64_t)w * o->rep->span;
    wdts_time_format_beijing(end - o->rep->span, a);
    wdts_time_format_beijing(end, b);
    snprintf(params, size, "{\"%s\":\"%s\",\"%s\":\"%s\"}", o->rep->start, a, o->rep->end, b);
}

static void build_direct(const struct opts *o, int w, int page, struct req *r)
{
    char params[160], body[192], ts[32], pn[16], ps[16], sign[WDTS_SIGN_MD5_LEN];
    window(o, w, params, sizeof(params));
    snprintf(body, sizeof(body), "[%s]", params);
    snprintf(ts, sizeof(ts), "%lld", (long long)wdts_time_wdt_timestamp(o->clock));
    snprintf(pn, sizeof(pn), "%d", page);
    snprintf(ps, sizeof(ps), "%lld", o->page_size);
    struct wdts_param p[] = {
        {"sid", o->sid},    {"key", o->key},     {"salt", o->salt},   {"method", o->rep->direct},
        {"timestamp", ts},  {"v", "1.0"},        {"page_no", pn},     {"page_size", ps},
        {"body", body},
    };
    wdts_sign_wdt(o->secret, p, 9, sign);
    struct wdts_buf u;
    wdts_buf_init(&u);
    wdts_buf_printf(&u, "%s/openapi?", o->base);
    for (size_t i = 0; i < 8; i++) {
        wdts_buf_printf(&u, "%s=", p[i].key);
        wdts_buf_append_urlenc(&u, p[i].val);
        wdts_buf_append_str(&u, "&");
    }
    wdts_buf_printf(&u, "sign=%s", sign);
    r->url = wdts_buf_steal(&u);
    r->body = wdts_xstrdup(body);
    r->ctype = "Content-Type: application/json";
}

static void build_qimen(const struct opts *o, int w, int page, struct req *r)
{
    char params[160], pager[64], dt[WDTS_BJTIME_LEN], wsign[WDTS_SIGN_MD5_LEN], es[128];
    char sign[WDTS_SIGN_TOP_LEN];
    const char *method = o->rep->qimen;
    window(o, w, params, sizeof(params));
    snprintf(pager, sizeof(pager), "{\"page_size\":%lld,\"page_no\":%d}", o->page_size, page + 1);
    wdts_time_format_beijing(o->clock, dt);
    struct wdts_param app[] = {{"datetime", dt},       {"params", params},   {"pager", pager},
                               {"wdt_appkey", o->key}, {"wdt_salt", o->salt}};
    if (wdts_sign_qimen_wdt(o->secret, method, app, 5, WDTS_QIMEN_NULL_SKIP, wsign, es,
                            sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "sbx_load: %s\n", es);
        exit(1);
    }
    struct wdts_param all[] = {
        {"method", method},        {"app_key", o->qkey},      {"target_app_key", "21363512"},
        {"sign_method", "md5"},    {"timestamp", dt},         {"format", "json"},
        {"v", "2.0"},              {"datetime", dt},          {"params", params},
        {"pager", pager},          {"wdt_appkey", o->key},    {"wdt_salt", o->salt},
        {"wdt3_customer_id", o->sid}, {"wdt_sign", wsign},
    };
    size_t n = sizeof(all) / sizeof(all[0]);
    wdts_sign_top(WDTS_TOP_SIGN_MD5, o->qsecret, all, n, sign);
    struct wdts_buf u, b;
    wdts_buf_init(&u);
    wdts_buf_init(&b);
    wdts_buf_printf(&u, "%s/router/qm?sign=%s", o->base, sign);
    for (size_t i = 0; i < n; i++) {
        struct wdts_buf *dst = i < 7 ? &u : &b;
        wdts_buf_append_str(dst, dst == &u || b.len ? "&" : "");
        wdts_buf_printf(dst, "%s=", all[i].key);
        wdts_buf_append_urlenc(dst, all[i].val);
    }
    r->url = wdts_buf_steal(&u);
    r->body = wdts_buf_steal(&b);
    r->ctype = "Content-Type: application/x-www-form-urlencoded";
}

/* Counts the rows of an answer: the objects directly inside the "order" list (one
 * pass over the JSON, tracking strings and depth; no parse tree). -1 when absent. */
static long rows_of(const char *body)
{
    const char *p = strstr(body, "\"order\":[");
    if (p == NULL)
        return -1;
    long n = 0;
    int depth = 0, in_str = 0;
    for (p += 9; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                in_str = 0;
        } else if (*p == '"') {
            in_str = 1;
        } else if (*p == '{' || *p == '[') {
            n += *p == '{' && depth == 0;
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (depth-- == 0)
                return n;
        }
    }
    return -1;
}

static void start(CURLM *multi, struct conn *c, const struct req *reqs, size_t nreq,
                  size_t next, struct curl_slist **hdrs)
{
    c->req = next % nreq;
    const struct req *r = &reqs[c->req];
    wdts_buf_reset(&c->buf);
    c->full = next % CHECK_EVERY == 0;
    c->len = c->head_len = 0;
    c->head[0] = '\0';
    curl_easy_setopt(c->h, CURLOPT_URL, r->url);
    if (r->body) {
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
        curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs[c->req]);
    } else {
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    }
    c->started_us = now_us();
    curl_multi_add_handle(multi, c->h);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct opts o = {&reports[0], NULL, "direct", "bench-shop", "bk", "bs", "bsalt", "bench-qimen", "bqs",
                     0, 32, 10, 200000, 100, 1};
    static const struct option lo[] = {
        {"base", required_argument, NULL, 'b'},     {"mode", required_argument, NULL, 'm'},
        {"clock", required_argument, NULL, 'c'},    {"conns", required_argument, NULL, 'n'},
        {"seconds", required_argument, NULL, 's'},  {"max-calls", required_argument, NULL, 'x'},
        {"page-size", required_argument, NULL, 'p'}, {"report", required_argument, NULL, 'r'},
        {"windows", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        long long *dst = NULL, lo_v = 1, hi_v = 0;
        switch (ch) {
        case 'b': o.base = optarg; continue;
        case 'm': o.mode = optarg; continue;
        case 'r':
            o.rep = NULL;
            for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++)
                if (strcmp(reports[i].name, optarg) == 0)
                    o.rep = &reports[i];
            if (o.rep == NULL) {
                fprintf(stderr, "sbx_load: --report trades|raw_trades|refunds\n");
                return 64;
            }
            continue;
        case 'c': dst = &o.clock, hi_v = 4102444800LL; break;
        case 'n': dst = &o.conns, hi_v = MAX_CONNS; break;
        case 's': dst = &o.seconds, hi_v = 120; break;
        case 'x': dst = &o.max_calls, hi_v = 10000000; break;
        case 'p': dst = &o.page_size, hi_v = 1000; break;
        case 'w': dst = &o.windows, hi_v = 2000; break;
        default: return 64;
        }
        if (wdts_parse_int(optarg, lo_v, hi_v, dst) != WDTS_OK) {
            fprintf(stderr, "sbx_load: bad value '%s' (from %lld to %lld)\n", optarg, lo_v, hi_v);
            return 64;
        }
    }
    int healthz = strcmp(o.mode, "healthz") == 0, qimen = strcmp(o.mode, "qimen") == 0;
    if (o.base == NULL || (!healthz && !qimen && strcmp(o.mode, "direct") != 0) ||
        (!healthz && o.clock == 0)) {
        fprintf(stderr, "usage: sbx_load --base URL --mode direct|qimen|healthz --clock UNIX "
                        "[--report trades|raw_trades|refunds] [--conns N] [--seconds S] [--max-calls N] "
                        "[--page-size N] [--windows N]\n");
        return 64;
    }

    size_t nreq = healthz ? 1 : (size_t)o.windows * N_PAGES;
    struct req *reqs = wdts_xcalloc(nreq, sizeof(*reqs));
    struct curl_slist **hdrs = wdts_xcalloc(nreq, sizeof(*hdrs));
    for (size_t i = 0; i < nreq; i++) {
        hdrs[i] = NULL;
        if (healthz) {
            reqs[i].url = wdts_xasprintf("%s/healthz", o.base);
            reqs[i].body = NULL;
            reqs[i].ctype = NULL;
            continue;
        }
        /* Consecutive requests walk the pages of one window, then the next window. */
        (qimen ? build_qimen : build_direct)(&o, (int)(i / N_PAGES), (int)(i % N_PAGES), &reqs[i]);
        hdrs[i] = curl_slist_append(NULL, reqs[i].ctype);
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    struct conn *conns = wdts_xcalloc((size_t)o.conns, sizeof(*conns));
    size_t cap = (size_t)o.max_calls;
    int64_t *lat = wdts_xmalloc(cap * sizeof(*lat));
    size_t done = 0, sent = 0, bad = 0, checked = 0;
    long long bytes = 0, rows = 0;
    for (long long i = 0; i < o.conns; i++) {
        conns[i].h = curl_easy_init();
        wdts_buf_init(&conns[i].buf);
        curl_easy_setopt(conns[i].h, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(conns[i].h, CURLOPT_WRITEDATA, &conns[i]);
        curl_easy_setopt(conns[i].h, CURLOPT_BUFFERSIZE, 512L * 1024);
        curl_easy_setopt(conns[i].h, CURLOPT_PRIVATE, &conns[i]);
        curl_easy_setopt(conns[i].h, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(conns[i].h, CURLOPT_NOSIGNAL, 1L);
    }
    int64_t t0 = now_us(), deadline = t0 + o.seconds * 1000000;
    for (long long i = 0; i < o.conns && sent < cap; i++)
        start(multi, &conns[i], reqs, nreq, sent++, hdrs);
    int running = 1;
    while (running > 0 || done < sent) {
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct conn *c = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            long code = 0;
            curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
            int64_t t = now_us();
            lat[done++] = t - c->started_us;
            bytes += (long long)c->len;
            const char *want = qimen ? "{\"response\":{\"status\":0," : "{\"status\":0,";
            if (m->data.result != CURLE_OK || code != 200) {
                bad++;
            } else if (!healthz && strncmp(c->head, want, strlen(want)) != 0) {
                bad++;
            } else if (!healthz && c->full) {
                long n = rows_of(wdts_buf_str(&c->buf));
                /* A quiet hour may hold fewer rows than 8 pages; a row too many is wrong. */
                if (n < 0 || n > o.page_size || (o.windows == 1 && n != o.page_size))
                    bad++;
                rows += n;
                checked++;
            }
            curl_multi_remove_handle(multi, c->h);
            if (t < deadline && sent < cap)
                start(multi, c, reqs, nreq, sent++, hdrs);
        }
        if (running > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
        if (running == 0 && done == sent)
            break;
    }
    double secs = (double)(now_us() - t0) / 1e6;
    qsort(lat, done, sizeof(*lat), cmp_i64);
    printf("{\"mode\":\"%s\",\"report\":\"%s\",\"windows\":%lld,\"conns\":%lld,\"page_size\":%lld,\"calls\":%zu,\"errors\":%zu,"
           "\"seconds\":%.2f,\"calls_per_s\":%.0f,\"rows_per_call\":%.1f,\"rows_per_s\":%.0f,\"mb_per_s\":%.1f,"
           "\"p50_ms\":%.2f,\"p99_ms\":%.2f}\n",
           o.mode, healthz ? "-" : o.rep->name, o.windows, o.conns, healthz ? 0 : o.page_size, done, bad, secs, (double)done / secs,
           checked ? (double)rows / (double)checked : 0.0,
           checked ? (double)rows / (double)checked * (double)done / secs : 0.0,
           (double)bytes / secs / 1e6,
           done ? (double)lat[done / 2] / 1000.0 : 0.0,
           done ? (double)lat[(size_t)((double)done * 0.99)] / 1000.0 : 0.0);
    for (long long i = 0; i < o.conns; i++) {
        curl_easy_cleanup(conns[i].h);
        wdts_buf_deinit(&conns[i].buf);
    }
    for (size_t i = 0; i < nreq; i++) {
        free(reqs[i].url);
        free(reqs[i].body);
        curl_slist_free_all(hdrs[i]);
    }
    free(reqs);
    free(hdrs);
    free(conns);
    free(lat);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return bad == 0 && done > 0 ? 0 : 1;
}
