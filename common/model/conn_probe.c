/* Live checks of a connection (see wdts/conn_probe.h): the credentials call, then one
 * minimal call per enabled report, each retried a little on transient answers and paced
 * by the connection's rate. The words added here name which credential is wrong; the
 * what-to-do text itself comes from the one classification in wdt_api_answer.c. */
#include "wdts/conn_probe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wdts/catalog.h"
#include "wdts/conn.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts/wdt_api_http.h"
#include "wdts/wdt_api_request.h"

/* The report whose call proves the credentials: a snapshot, one row, no window. */
#define PROBE_CREDENTIALS_REPORT "shops"
#define PROBE_CREDENTIALS_METHOD "setting.Shop.queryShop"

wdts_err_t wdts_conn_creds(const struct wdts_conn *conn, const char *platform_key,
                           const char *platform_secret, struct wdts_api_creds *creds,
                           char *errstr, size_t errstr_size)
{
    memset(creds, 0, sizeof(*creds));
    if (conn->appsecret == NULL) {
        snprintf(errstr, errstr_size, "connection %s: its appsecret is not open",
                 conn->id ? conn->id : "?");
        return WDTS_ERR_INVAL;
    }
    wdts_err_t err =
        wdts_api_creds_init(creds, conn->sid, conn->appkey, conn->appsecret, errstr, errstr_size);
    if (err != WDTS_OK || conn->app != WDTS_API_APP_QIMEN)
        return err;
    const char *key = conn->qimen_app_key, *secret = conn->qimen_app_secret;
    if (conn->qimen_platform) {
        if (platform_key == NULL || *platform_key == '\0' || platform_secret == NULL ||
            *platform_secret == '\0') {
            snprintf(errstr, errstr_size,
                     "connection %s uses the platform-provided Qimen app, but qimen.app.key and "
                     "qimen.app.secret are not configured: set WDT_QIMEN_APP_KEY and "
                     "WDT_QIMEN_APP_SECRET (or WDT_QIMEN_APP_SECRET_FILE), or give the "
                     "connection its own Qimen app",
                     conn->id ? conn->id : "?");
            return WDTS_ERR_CONFIG;
        }
        key = platform_key;
        secret = platform_secret;
    }
    if (key == NULL || secret == NULL) {
        snprintf(errstr, errstr_size, "connection %s: a qimen connection needs a Qimen app "
                 "(its app_key and app_secret, or the platform-provided one)",
                 conn->id ? conn->id : "?");
        return WDTS_ERR_INVAL;
    }
    return wdts_api_creds_set_qimen(creds, key, secret, NULL, NULL, NULL, errstr, errstr_size);
}

void wdts_conn_probe_deinit(struct wdts_conn_probe *probe)
{
    if (probe == NULL)
        return;
    for (size_t i = 0; i < probe->n_rows; i++) {
        free(probe->rows[i].method);
        free(probe->rows[i].reason);
        free(probe->rows[i].fix);
        free(probe->rows[i].history_method);
        free(probe->rows[i].history_reason);
        free(probe->rows[i].history_fix);
    }
    free(probe->rows);
    free(probe->what);
    free(probe->message);
    memset(probe, 0, sizeof(*probe));
}

static int has(const char *s, const char *needle)
{
    return s && strstr(s, needle) != NULL;
}

const char *wdts_conn_probe_what(enum wdts_api_app app, const struct wdts_api_result *res)
{
    const char *m = res->api_message;
    int qimen = app == WDTS_API_APP_QIMEN;
    switch (res->cls) {
    case WDTS_API_OK:
        return "ok";
    case WDTS_API_CLOCK:
        return "clock skew (时间戳错误)";
    case WDTS_API_TRANSIENT:
        return "gateway unreachable or failing";
    case WDTS_API_RATE_LIMITED:
        return "rate limited";
    case WDTS_API_PERMISSION:
        return "interface not approved";
    case WDTS_API_BAD_REQUEST:
        return "not a WDT gateway, or a request it refused";
    default:
        break;
    }
    if (has(m, "验证失败"))
        return "wrong appkey or appsecret (验证失败)";
    if (has(m, "sid is not"))
        return "unknown sid or wrong gateway (sid is not exists)";
    if (has(m, "app auth fail"))
        return qimen ? "Qimen app not authorised for this seller (app auth fail)"
                     : "app not authorised or not online (app auth fail)";
    if (res->has_status && !qimen && res->status == 6)
        return "IP not on the whitelist (ip限制)";
    if (has(m, "ip限制"))
        return "IP not on the whitelist (ip限制)";
    if ((res->has_status && !qimen && res->status == 3) || has(m, "动态口令"))
        return "dynamic password required (需要动态口令)";
    if (res->has_status && res->status == 25)
        return "wrong Qimen app_secret (Invalid Signature)";
    if (res->has_status && res->status == 29)
        return "unknown Qimen app_key (Invalid App Key)";
    if (res->http_status == 401 || res->http_status == 403)
        return "access refused by the gateway";
    return "credentials refused";
}

/* What to add to the classification's message when `add` or `check` is refused. */
static const char *extra_hint(enum wdts_api_app app, const struct wdts_api_result *res)
{
    if (res->cls != WDTS_API_AUTH)
        return NULL;
    if (has(res->api_message, "app auth fail"))
        return app == WDTS_API_APP_QIMEN
                   ? "A qimen connection needs a Qimen (Taobao open platform) app that the seller "
                     "authorised for the WDT custom scene (奇门自定义应用): check --qimen-app-key "
                     "and --qimen-app-secret, or use --qimen-platform"
                   : "The WDT app must be online (已上线) and authorised for this sid in 开放平台 → "
                     "自助对接 → 应用管理";
    return NULL;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

struct prober {
    const struct wdts_conn *conn;
    const struct wdts_api_creds *creds;
    struct wdts_conn_probe_opts opts;
    struct wdts_api_http_opts http;
    int64_t interval_ms; /* between two calls, from the connection's rate */
    int64_t last_call_ms;
    struct wdts_conn_probe *out;
};

/* One call with its retries; res holds the last answer. */
static wdts_err_t call_with_retries(struct prober *pr, const struct wdts_api_call *call,
                                    struct wdts_api_result *res, char *errstr, size_t errstr_size)
{
    int64_t backoff = pr->opts.backoff_ms;
    for (int attempt = 1;; attempt++) {
        if (pr->opts.admit) {
            wdts_err_t a = pr->opts.admit(pr->opts.limit_opaque, errstr, errstr_size);
            if (a != WDTS_OK)
                return a;
        } else if (pr->last_call_ms) {
            int64_t wait = pr->last_call_ms + pr->interval_ms - wdts_time_mono_ms();
            sleep_ms(wait);
        }
        pr->last_call_ms = wdts_time_mono_ms();
        pr->out->calls++;
        struct wdts_api_call c = *call;
        c.now = wdts_time_now();
        wdts_err_t err = wdts_api_call_blocking(pr->creds, pr->conn->gateway, &c, &pr->http, res,
                                                NULL, errstr, errstr_size);
        if (pr->opts.admit && pr->opts.done)
            pr->opts.done(pr->opts.limit_opaque, err == WDTS_OK ? res->cls : WDTS_API_TRANSIENT);
        if (err != WDTS_OK)
            return err;
        if ((res->cls != WDTS_API_TRANSIENT && res->cls != WDTS_API_RATE_LIMITED) ||
            attempt >= pr->opts.attempts)
            return WDTS_OK;
        sleep_ms(backoff);
        backoff *= 2;
    }
}

/* The params of a minimal call to report r (history: to its archive method): its fixed
 * params, and for an incremental report a one-minute window that closed lag_s ago.
 * @owner new string; free(). */
static char *probe_params(const struct wdts_catalog_report *r, int history, int64_t now,
                          int64_t lag_s)
{
    int64_t end = (now - lag_s) / 60 * 60;
    return wdts_catalog_call_params(r, history, end - 60, end);
}

static void set_stop(struct prober *pr, const struct wdts_api_result *res, const char *while_what)
{
    struct wdts_conn_probe *out = pr->out;
    const char *hint = extra_hint(pr->conn->app, res);
    out->cls = res->cls;
    out->what = wdts_xstrdup(wdts_conn_probe_what(pr->conn->app, res));
    if (res->cls == WDTS_API_TRANSIENT || res->cls == WDTS_API_RATE_LIMITED)
        out->message = wdts_xasprintf("%s, after %d tries%s: %s", out->what, pr->opts.attempts,
                                      while_what, res->message ? res->message : "");
    else
        out->message = wdts_xasprintf("%s%s%s", res->message ? res->message : out->what,
                                      hint ? ". " : "", hint ? hint : "");
}

/* An admission refusal (WDTS_ERR_AGAIN) is a verdict: rate limited, with its reason. */
static wdts_err_t stop_admission(struct wdts_conn_probe *out, wdts_err_t err, const char *errstr)
{
    if (err != WDTS_ERR_AGAIN)
        return err;
    out->cls = WDTS_API_RATE_LIMITED;
    free(out->what);
    free(out->message);
    out->what = wdts_xstrdup("rate limited");
    out->message = wdts_xstrdup(errstr);
    return WDTS_OK;
}

/* The history (历史) method of an ok report, with its own params and the same one-minute
 * window: its verdict goes in the row's history_* members. @returns WDTS_OK, or the error of
 * the call (admission). */
static wdts_err_t probe_history(struct prober *pr, const struct wdts_catalog_report *r,
                                struct wdts_conn_probe_row *row, struct wdts_api_result *res,
                                char *errstr, size_t errstr_size)
{
    char *params = probe_params(r, 1, wdts_time_now(), pr->opts.lag_s);
    struct wdts_api_call call = {0};
    call.method = r->history_method;
    call.qimen_method = r->history_qimen_method;
    call.params_json = params;
    call.paged = 1;
    call.page_size = 1;
    row->history_method = wdts_api_wire_method(pr->creds, &call);
    wdts_err_t err = call_with_retries(pr, &call, res, errstr, errstr_size);
    free(params);
    if (err != WDTS_OK)
        return err;
    row->history_cls = res->cls;
    if (res->cls == WDTS_API_OK)
        return WDTS_OK;
    row->history_reason = res->api_message ? wdts_xstrdup(res->api_message) : NULL;
    if (res->cls == WDTS_API_PERMISSION)
        row->history_fix = wdts_xasprintf(
            "add the interface %s in 开放平台 → 自助对接 → 应用管理 and have it approved for sid "
            "%s, then run wdtctl connection check --id %s. Until then %s is synced from %s "
            "alone, and its windows older than the archive horizon (%lldd) fail: documents "
            "older than it are only served by the history method",
            r->history_method, pr->conn->sid, pr->conn->id ? pr->conn->id : "C", r->name,
            r->method, (long long)(pr->conn->archive_horizon_s / 86400));
    else
        row->history_fix =
            wdts_xstrdup(res->message ? res->message : wdts_api_class_name(res->cls));
    return WDTS_OK;
}

static void prober_init(struct prober *pr, const struct wdts_conn *conn,
                        const struct wdts_api_creds *creds, const struct wdts_conn_probe_opts *opts,
                        struct wdts_conn_probe *out)
{
    memset(pr, 0, sizeof(*pr));
    pr->conn = conn;
    pr->creds = creds;
    pr->out = out;
    if (opts)
        pr->opts = *opts;
    if (pr->opts.attempts <= 0)
        pr->opts.attempts = 3;
    if (pr->opts.backoff_ms <= 0)
        pr->opts.backoff_ms = 500;
    if (pr->opts.timeout_ms <= 0)
        pr->opts.timeout_ms = 15000;
    if (pr->opts.lag_s <= 0)
        pr->opts.lag_s = 300;
    pr->http.timeout_ms = pr->opts.timeout_ms;
    pr->http.connect_timeout_ms = pr->opts.timeout_ms < 10000 ? pr->opts.timeout_ms : 10000;
    pr->http.connection_close = 1; /* calls of several sellers may share this process */
    pr->interval_ms = conn->rate > 0 ? (int64_t)(1000.0 / conn->rate) : 1000;
}

/* The smallest paged call (one row) of a method with params (taken: freed here). */
static wdts_err_t probe_call(struct prober *pr, const char *method, const char *qimen_method,
                             char *params, struct wdts_api_result *res, char *errstr,
                             size_t errstr_size)
{
    struct wdts_api_call call = {0};
    call.method = method;
    call.qimen_method = qimen_method;
    call.params_json = params;
    call.paged = 1;
    call.page_size = 1;
    wdts_err_t err = call_with_retries(pr, &call, res, errstr, errstr_size);
    free(params);
    return err;
}

/* A refusal's words in row: the API's message and what to do (nothing for ok). */
static void row_set_answer(struct wdts_conn_probe_row *row, enum wdts_api_class cls,
                           const char *reason, const char *fix)
{
    row->cls = cls;
    if (cls != WDTS_API_OK) {
        row->reason = reason ? wdts_xstrdup(reason) : NULL;
        row->fix = wdts_xstrdup(fix ? fix : wdts_api_class_name(cls));
    }
}

/* Report r's own check into row (and its history method's, when it answers ok). Sets
 * *stop when the answer is about the whole connection or persists (then the check ends).
 * @returns WDTS_OK, or what stops the check (the row is left out when never checked). */
static wdts_err_t probe_report(struct prober *pr, const struct wdts_catalog_report *r,
                               struct wdts_conn_probe_row *row, struct wdts_api_result *res,
                               int *stop, char *errstr, size_t errstr_size)
{
    wdts_err_t err = probe_call(pr, r->method, r->qimen_method,
                                probe_params(r, 0, wdts_time_now(), pr->opts.lag_s), res, errstr,
                                errstr_size);
    if (err != WDTS_OK) {
        pr->out->n_rows--; /* never checked */
        return stop_admission(pr->out, err, errstr);
    }
    row_set_answer(row, res->cls, res->api_message, res->message);
    if (res->cls == WDTS_API_OK && r->history_method[0] &&
        (err = probe_history(pr, r, row, res, errstr, errstr_size)) != WDTS_OK) {
        err = stop_admission(pr->out, err, errstr);
        if (pr->opts.on_row)
            pr->opts.on_row(row, pr->opts.opaque);
        return err;
    }
    if (pr->opts.on_row)
        pr->opts.on_row(row, pr->opts.opaque);
    if (res->cls == WDTS_API_OK || res->cls == WDTS_API_PERMISSION ||
        res->cls == WDTS_API_BAD_REQUEST)
        return WDTS_OK;
    /* About the whole connection, or persistent: stop here. */
    char *where = wdts_xasprintf(" (checking report %s)", row->report);
    set_stop(pr, res, where);
    free(where);
    *stop = 1;
    return WDTS_OK;
}

wdts_err_t wdts_conn_probe_run(const struct wdts_conn *conn, const struct wdts_api_creds *creds,
                               const struct wdts_catalog *cat,
                               const struct wdts_conn_probe_opts *opts,
                               struct wdts_conn_probe *out, char *errstr, size_t errstr_size)
{
    struct prober pr;
    struct wdts_api_result res;
    char *cred_reason = NULL, *cred_fix = NULL;
    enum wdts_api_class cred_cls;
    wdts_err_t err = WDTS_OK;
    int stop = 0;
    memset(out, 0, sizeof(*out));
    wdts_api_result_init(&res);
    prober_init(&pr, conn, creds, opts, out);

    /* 1. The credentials: the shops snapshot, one row. A refusal of the method itself
     *    (权限不足) still proves the signature, sid and IP were accepted. */
    const struct wdts_catalog_report *shops = wdts_catalog_get(cat, PROBE_CREDENTIALS_REPORT);
    err = probe_call(&pr, shops ? shops->method : PROBE_CREDENTIALS_METHOD,
                     shops ? shops->qimen_method : NULL,
                     shops ? probe_params(shops, 0, wdts_time_now(), pr.opts.lag_s)
                           : wdts_xstrdup("{}"),
                     &res, errstr, errstr_size);
    if (err != WDTS_OK) {
        err = stop_admission(out, err, errstr);
        goto out;
    }
    if (res.cls != WDTS_API_OK && res.cls != WDTS_API_PERMISSION) {
        set_stop(&pr, &res, " (checking the credentials)");
        goto out;
    }
    out->cls = WDTS_API_OK;
    if (pr.opts.credentials_only)
        goto out;
    /* The shops report, when enabled, takes this answer instead of a second call. */
    cred_cls = res.cls;
    cred_reason = res.api_message ? wdts_xstrdup(res.api_message) : NULL;
    cred_fix = res.message ? wdts_xstrdup(res.message) : NULL;

    /* 2. Each enabled report: its own method, the smallest call it accepts. */
    out->rows = wdts_xcalloc(conn->n_reports ? conn->n_reports : 1, sizeof(*out->rows));
    for (size_t i = 0; i < conn->n_reports && !stop; i++) {
        const struct wdts_catalog_report *r = wdts_catalog_get(cat, conn->reports[i].name);
        if (r == NULL) {
            snprintf(errstr, errstr_size, "report '%s' is not in the report catalog (wdtctl "
                     "reports lists them)", conn->reports[i].name);
            err = WDTS_ERR_INVAL;
            goto out;
        }
        struct wdts_conn_probe_row *row = &out->rows[out->n_rows++];
        row->report = conn->reports[i].name;
        struct wdts_api_call named = {.method = r->method, .qimen_method = r->qimen_method};
        row->method = wdts_api_wire_method(pr.creds, &named);
        if (shops && r == shops) {
            row_set_answer(row, cred_cls, cred_reason, cred_fix);
            if (pr.opts.on_row)
                pr.opts.on_row(row, pr.opts.opaque);
            continue;
        }
        if ((err = probe_report(&pr, r, row, &res, &stop, errstr, errstr_size)) != WDTS_OK)
            goto out;
    }
out:
    free(cred_reason);
    free(cred_fix);
    wdts_api_result_deinit(&res);
    return err;
}

void wdts_conn_probe_apply(struct wdts_conn *conn, const struct wdts_conn_probe *probe,
                           int64_t now, struct wdts_conn_probe_counts *counts)
{
    memset(counts, 0, sizeof(*counts));
    for (size_t i = 0; i < probe->n_rows; i++) {
        const struct wdts_conn_probe_row *row = &probe->rows[i];
        struct wdts_conn_report *r = wdts_conn_report_get(conn, row->report);
        counts->ok += row->cls == WDTS_API_OK;
        counts->blocked += row->cls == WDTS_API_PERMISSION;
        if (r && row->history_method && row->history_cls == WDTS_API_PERMISSION) {
            wdts_conn_report_mark(r, 1, row->history_reason, row->history_fix, now);
            counts->history_refused++;
        }
        if (r && row->cls == WDTS_API_PERMISSION)
            wdts_conn_report_mark(r, 0, row->reason, row->fix, now);
    }
}
