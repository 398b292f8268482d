/* The sandbox fixture (see wdts_test_sandbox.h). */
#include "wdts_test_sandbox.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/mem.h"
#include "wdts/sign.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts_test.h"

void sbx_rmdir(const char *dir)
{
    static const char *const names[] = {"port", "log", "tenants.json", "bad.json", NULL};
    char path[512];
    for (size_t i = 0; names[i]; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int sbx_start(struct sbx_proc *p, const char *const *args)
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
    argv[n++] = wdts_xstrdup(wdts_test_bin("wdt-sandbox"));
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

int sbx_start_demo_frozen(struct sbx_proc *p, int64_t *frozen)
{
    *frozen = wdts_time_now() / 60 * 60;
    char clock[64];
    snprintf(clock, sizeof(clock), "frozen:%lld", (long long)*frozen);
    const char *args[] = {"--demo", "--clock", clock, "--timestamp-clock", "sandbox", NULL};
    return sbx_start(p, args);
}

int sbx_stop(struct sbx_proc *p, int timeout_ms)
{
    int rc = -1;
    if (p->pid > 0) {
        rc = wdts_test_stop_child(p->pid, SIGTERM, timeout_ms, NULL);
        p->pid = 0;
    }
    if (rc != 0 && p->dir[0]) {
        char path[320];
        snprintf(path, sizeof(path), "%s/log", p->dir);
        wdts_test_dump_file(path);
    }
    if (p->dir[0])
        sbx_rmdir(p->dir);
    p->dir[0] = '\0';
    return rc;
}

json_t *sbx_truth(const char *const *source, const char *sid, const char *report,
                  const char *route, int64_t as_of, int64_t since, int64_t before)
{
    char a[32], s[32], b[32];
    snprintf(a, sizeof(a), "%lld", (long long)as_of);
    snprintf(s, sizeof(s), "%lld", (long long)since);
    snprintf(b, sizeof(b), "%lld", (long long)before);
    const char *args[32] = {"truth",   "--sid", sid,        "--report", report, "--as-of", a,
                            "--since", s,       "--before", b,          "--route", route};
    size_t n = 13;
    for (size_t i = 0; source[i] && n < 31; i++)
        args[n++] = source[i];
    args[n] = NULL;
    struct wdts_test_run run;
    if (wdts_test_run_bin("wdt-sandbox", args, NULL, 120, &run) != 0)
        fail_msg("truth failed (%d): %s", run.status, run.err);
    json_t *all = json_array();
    for (char *line = run.out, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        json_array_append_new(all, j);
    }
    wdts_test_run_free(&run);
    return all;
}

int64_t sbx_clock(const struct sbx_proc *p)
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

void direct_defaults(struct direct_req *d, const char *method, const char *body, int64_t now)
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

char *direct_url(const struct sbx_proc *p, const struct direct_req *d)
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

json_t *answer_json(const struct http_res *r)
{
    json_error_t e;
    json_t *j = json_loads(r->body ? r->body : "", 0, &e);
    if (j == NULL)
        fail_msg("not JSON (HTTP %ld, curl %d): %.300s", r->code, (int)r->cerr,
                 r->body ? r->body : "");
    return j;
}

json_t *direct_call(const struct sbx_proc *p, const struct direct_req *d)
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

void expect_status(json_t *j, int status, const char *message)
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

void qimen_defaults(struct qimen_req *q, const char *method, const char *params,
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

json_t *qimen_call(const struct sbx_proc *p, const struct qimen_req *q)
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

long long metric_value(const struct sbx_proc *p, const char *frag1, const char *frag2)
{
    return (long long)wdts_test_http_metric(p->base, frag1, frag2);
}
