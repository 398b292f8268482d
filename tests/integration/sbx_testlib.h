/* Helpers for the wdt-sandbox integration tests (0500–0599), header-only so each
 * test stays one file: start a wdt-sandbox on 127.0.0.1 port 0 and read its port
 * file, build requests signed independently with wdts/sign.h, send them with
 * libcurl, read the answers. Every function fails the test (cmocka) on a
 * transport problem it does not expect. */
#ifndef SBX_TESTLIB_H
#define SBX_TESTLIB_H

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/mem.h"
#include "wdts/sign.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts_test.h"

/* The demo tenants (wdt-sandbox --demo). */
#define DEMO_SID "demo-shop"
#define DEMO_KEY "demo-app"
#define DEMO_SECRET "demo-secret"
#define DEMO_SALT "demo-salt"
#define DEMO_QKEY "demo-qimen-app"
#define DEMO_QSECRET "demo-qimen-secret"

struct sbx_proc {
    pid_t pid;
    int port;
    char dir[256];
    char base[64]; /* "http://127.0.0.1:PORT" */
};

/* Path of a built program: $WDTS_BIN_DIR, else the build tree this test was built in
 * (so a plain ctest run from any directory finds it). Static buffer. */
static inline const char *sbx_bin(const char *name)
{
#ifdef WDTS_BIN_DIR
    static char path[1024];
    if (getenv("WDTS_BIN_DIR") == NULL) {
        snprintf(path, sizeof(path), "%s/%s", WDTS_BIN_DIR, name);
        return path;
    }
#endif
    return wdts_test_bin(name);
}

/* Removes a test directory and the files the tests put in it (no subdirectories). */
static inline void sbx_rmdir(const char *dir)
{
    static const char *const names[] = {"port", "log", "tenants.json", "bad.json", NULL};
    char path[512];
    for (size_t i = 0; names[i]; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Starts wdt-sandbox with args (NULL-terminated, without --listen/--port-file).
 * @returns 0, or -1 when it exited before listening (its stderr is in *err_out). */
static inline int sbx_start(struct sbx_proc *p, const char *const *args)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "/tmp/sbx-test.XXXXXX");
    if (mkdtemp(p->dir) == NULL)
        return -1;
    char portfile[320], logfile[320];
    snprintf(portfile, sizeof(portfile), "%s/port", p->dir);
    snprintf(logfile, sizeof(logfile), "%s/log", p->dir);
    const char *argv[64];
    size_t n = 0;
    argv[n++] = wdts_xstrdup(sbx_bin("wdt-sandbox"));
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--port-file";
    argv[n++] = portfile;
    for (size_t i = 0; args && args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    p->pid = fork();
    if (p->pid == 0) {
        FILE *lf = freopen(logfile, "w", stdout);
        (void)lf;
        dup2(1, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    free((char *)argv[0]);
    for (int i = 0; i < 400; i++) { /* up to 20 s on a busy machine */
        FILE *f = fopen(portfile, "r");
        if (f) {
            char line[128] = "";
            char *ok = fgets(line, sizeof(line), f);
            fclose(f);
            const char *colon = ok ? strrchr(line, ':') : NULL;
            if (colon && (p->port = (int)strtol(colon + 1, NULL, 10)) > 0) {
                snprintf(p->base, sizeof(p->base), "http://127.0.0.1:%d", p->port);
                return 0;
            }
        }
        int st;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            return -1;
        }
        usleep(50000);
    }
    return -1;
}

/* Stops it with SIGTERM and removes its directory. @returns its exit status, or -1
 * when it took over timeout_ms (its log is then printed). */
static inline int sbx_stop(struct sbx_proc *p, int timeout_ms)
{
    int rc = -1, st = 0;
    if (p->pid <= 0)
        goto out;
    kill(p->pid, SIGTERM);
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            goto out;
        }
        usleep(10000);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->pid = 0;
out:
    if (rc != 0 && p->dir[0]) {
        char path[320], line[512];
        snprintf(path, sizeof(path), "%s/log", p->dir);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof(line), f))
            fprintf(stderr, "sandbox log: %s", line);
        if (f)
            fclose(f);
    }
    if (p->dir[0])
        sbx_rmdir(p->dir);
    p->dir[0] = '\0';
    return rc;
}

struct http_res {
    long code;     /* HTTP status, 0 on a transport error */
    CURLcode cerr; /* CURLE_OK or the transport error */
    char *body;    /* NUL-terminated; free() */
    size_t len;
};

static inline size_t http_sink(char *ptr, size_t size, size_t nmemb, void *ud)
{
    wdts_buf_append((struct wdts_buf *)ud, ptr, size * nmemb);
    return size * nmemb;
}

/* POSTs body (NULL = GET) to url with content type ctype, timeout_ms. */
static inline void http_do(const char *url, const char *body, const char *ctype, long timeout_ms,
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

static inline void http_res_free(struct http_res *res)
{
    free(res->body);
    res->body = NULL;
}

/* The sandbox clock, from GET /healthz (Unix seconds). */
static inline int64_t sbx_clock(const struct sbx_proc *p)
{
    char url[128];
    struct http_res r;
    snprintf(url, sizeof(url), "%s/healthz", p->base);
    http_do(url, NULL, NULL, 10000, &r);
    assert_int_equal(r.code, 200);
    json_t *j = json_loads(r.body, 0, NULL);
    assert_non_null(j);
    int64_t t = json_integer_value(json_object_get(j, "clock"));
    json_decref(j);
    http_res_free(&r);
    return t;
}

/* A direct call: every system parameter, the pager (NULLs left out) and the body. */
struct direct_req {
    const char *sid, *key, *secret, *salt, *method, *v;
    const char *page_no, *page_size, *calc_total;
    const char *body;
    int64_t unix_now;     /* the timestamp sent is unix_now - 1325347200 */
    const char *ts_text;  /* sent as is instead, when set */
};

static inline void direct_defaults(struct direct_req *d, const char *method, const char *body,
                            int64_t now)
{
    memset(d, 0, sizeof(*d));
    d->sid = DEMO_SID;
    d->key = DEMO_KEY;
    d->secret = DEMO_SECRET;
    d->salt = DEMO_SALT;
    d->v = "1.0";
    d->method = method;
    d->body = body;
    d->unix_now = now;
}

/* @returns the URL with its query (signed); free() it. */
static inline char *direct_url(const struct sbx_proc *p, const struct direct_req *d)
{
    char ts[32];
    if (d->ts_text)
        snprintf(ts, sizeof(ts), "%s", d->ts_text);
    else
        snprintf(ts, sizeof(ts), "%lld", (long long)wdts_time_wdt_timestamp(d->unix_now));
    struct wdts_param ps[12];
    size_t n = 0;
    ps[n++] = (struct wdts_param){"sid", d->sid};
    ps[n++] = (struct wdts_param){"key", d->key};
    ps[n++] = (struct wdts_param){"salt", d->salt};
    ps[n++] = (struct wdts_param){"method", d->method};
    ps[n++] = (struct wdts_param){"timestamp", ts};
    ps[n++] = (struct wdts_param){"v", d->v};
    if (d->page_no)
        ps[n++] = (struct wdts_param){"page_no", d->page_no};
    if (d->page_size)
        ps[n++] = (struct wdts_param){"page_size", d->page_size};
    if (d->calc_total)
        ps[n++] = (struct wdts_param){"calc_total", d->calc_total};
    ps[n] = (struct wdts_param){"body", d->body};
    char sign[WDTS_SIGN_MD5_LEN];
    wdts_sign_wdt(d->secret, ps, n + 1, sign);
    struct wdts_buf u;
    wdts_buf_init(&u);
    wdts_buf_printf(&u, "%s/openapi?", p->base);
    for (size_t i = 0; i < n; i++) {
        wdts_buf_printf(&u, "%s=", ps[i].key);
        wdts_buf_append_urlenc(&u, ps[i].val);
        wdts_buf_append_str(&u, "&");
    }
    wdts_buf_printf(&u, "sign=%s", sign);
    return wdts_buf_steal(&u);
}

/* Parses an answer; fails the test when it is not JSON. @owner json_decref. */
static inline json_t *answer_json(const struct http_res *r)
{
    json_error_t e;
    json_t *j = json_loads(r->body ? r->body : "", 0, &e);
    if (j == NULL)
        fail_msg("not JSON (HTTP %ld, curl %d): %.300s", r->code, (int)r->cerr,
                 r->body ? r->body : "");
    return j;
}

/* Sends a direct call. @returns the parsed answer (json_decref). */
static inline json_t *direct_call(const struct sbx_proc *p, const struct direct_req *d)
{
    char *url = direct_url(p, d);
    struct http_res r;
    http_do(url, d->body, "application/json", 30000, &r);
    free(url);
    assert_int_equal(r.code, 200);
    json_t *j = answer_json(&r);
    http_res_free(&r);
    return j;
}

/* Asserts that j (or j.response) is {"status":status,"message":message}. */
static inline void expect_status(json_t *j, int status, const char *message)
{
    json_t *inner = json_object_get(j, "response") ? json_object_get(j, "response") : j;
    json_t *st = json_object_get(inner, "status");
    const char *msg = json_string_value(json_object_get(inner, "message"));
    char *dump = json_dumps(j, JSON_COMPACT);
    if (!json_is_integer(st) || json_integer_value(st) != status ||
        (message && (msg == NULL || strcmp(msg, message) != 0)))
        fail_msg("want status %d message '%s', got %.400s", status, message ? message : "(any)",
                 dump);
    free(dump);
}

/* A Qimen call: TOP system parameters in the query, app parameters in the form body. */
struct qimen_req {
    const char *method; /* "wdt.sales.tradequery.querywithdetail" or scene-prefixed */
    const char *app_key, *app_secret, *sign_method, *target, *v;
    const char *sid, *wdt_appkey, *wdt_secret, *wdt_salt;
    const char *params, *pager;
    int64_t unix_now;    /* timestamp and datetime */
    int top_skew_s;      /* added to timestamp only */
    int all_in_query;    /* GET-style: every parameter in the query, no body */
    int corrupt_top;     /* change one character of the outer sign */
    int corrupt_wdt;     /* change one character of wdt_sign */
};

static inline void qimen_defaults(struct qimen_req *q, const char *method, const char *params,
                           const char *pager, int64_t now)
{
    memset(q, 0, sizeof(*q));
    q->method = method;
    q->app_key = DEMO_QKEY;
    q->app_secret = DEMO_QSECRET;
    q->sign_method = "md5";
    q->target = "21363512";
    q->v = "2.0";
    q->sid = DEMO_SID;
    q->wdt_appkey = DEMO_KEY;
    q->wdt_secret = DEMO_SECRET;
    q->wdt_salt = DEMO_SALT;
    q->params = params;
    q->pager = pager;
    q->unix_now = now;
}

static inline json_t *qimen_call(const struct sbx_proc *p, const struct qimen_req *q)
{
    char ts[WDTS_BJTIME_LEN], dt[WDTS_BJTIME_LEN];
    wdts_time_format_beijing(q->unix_now + q->top_skew_s, ts);
    wdts_time_format_beijing(q->unix_now, dt);
    struct wdts_param app[8], all[20];
    size_t na = 0, n = 0;
    app[na++] = (struct wdts_param){"datetime", dt};
    if (q->params)
        app[na++] = (struct wdts_param){"params", q->params};
    if (q->pager)
        app[na++] = (struct wdts_param){"pager", q->pager};
    app[na++] = (struct wdts_param){"wdt_appkey", q->wdt_appkey};
    app[na++] = (struct wdts_param){"wdt_salt", q->wdt_salt};
    char wsign[WDTS_SIGN_MD5_LEN], es[128];
    assert_int_equal(wdts_sign_qimen_wdt(q->wdt_secret, q->method, app, na, WDTS_QIMEN_NULL_SKIP,
                                         wsign, es, sizeof(es)),
                     WDTS_OK);
    if (q->corrupt_wdt)
        wsign[0] = wsign[0] == 'a' ? 'b' : 'a';
    size_t n_sys = 0;
    all[n++] = (struct wdts_param){"method", q->method};
    all[n++] = (struct wdts_param){"app_key", q->app_key};
    if (q->target)
        all[n++] = (struct wdts_param){"target_app_key", q->target};
    all[n++] = (struct wdts_param){"sign_method", q->sign_method};
    all[n++] = (struct wdts_param){"timestamp", ts};
    all[n++] = (struct wdts_param){"format", "json"};
    all[n++] = (struct wdts_param){"v", q->v};
    n_sys = n;
    for (size_t i = 0; i < na; i++)
        all[n++] = app[i];
    all[n++] = (struct wdts_param){"wdt3_customer_id", q->sid};
    all[n++] = (struct wdts_param){"wdt_sign", wsign};
    enum wdts_top_sign sm = WDTS_TOP_SIGN_MD5;
    assert_int_equal(wdts_top_sign_parse(q->sign_method, &sm), WDTS_OK);
    char sign[WDTS_SIGN_TOP_LEN];
    wdts_sign_top(sm, q->app_secret, all, n, sign);
    if (q->corrupt_top)
        sign[1] = sign[1] == 'A' ? 'B' : 'A';

    struct wdts_buf u, b;
    wdts_buf_init(&u);
    wdts_buf_init(&b);
    wdts_buf_printf(&u, "%s/router/qm?sign=%s", p->base, sign);
    for (size_t i = 0; i < n; i++) {
        struct wdts_buf *dst = (i < n_sys || q->all_in_query) ? &u : &b;
        if (dst == &b && b.len > 0)
            wdts_buf_append_str(dst, "&");
        if (dst == &u)
            wdts_buf_append_str(dst, "&");
        wdts_buf_printf(dst, "%s=", all[i].key);
        wdts_buf_append_urlenc(dst, all[i].val);
    }
    struct http_res r;
    http_do(wdts_buf_str(&u), q->all_in_query ? NULL : wdts_buf_str(&b),
            "application/x-www-form-urlencoded;charset=utf-8", 30000, &r);
    assert_int_equal(r.code, 200);
    json_t *j = answer_json(&r);
    http_res_free(&r);
    wdts_buf_deinit(&u);
    wdts_buf_deinit(&b);
    return j;
}

/* Writes text to DIR/name. @returns the path (static buffer). */
static inline const char *write_file(const char *dir, const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The value of a metric series line that contains every given fragment; 0 if none. */
static inline long long metric_value(const struct sbx_proc *p, const char *frag1, const char *frag2)
{
    char url[128];
    struct http_res r;
    snprintf(url, sizeof(url), "%s/metrics", p->base);
    http_do(url, NULL, NULL, 10000, &r);
    assert_int_equal(r.code, 200);
    long long total = 0;
    for (char *line = r.body, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] == '#' || strstr(line, frag1) == NULL || (frag2 && strstr(line, frag2) == NULL))
            continue;
        const char *sp = strrchr(line, ' ');
        if (sp)
            total += strtoll(sp + 1, NULL, 10);
    }
    http_res_free(&r);
    return total;
}

#endif
