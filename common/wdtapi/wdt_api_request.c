/* Request building for both routes (see wdts/wdt_api_request.h): pure functions from credentials,
 * a call description and a caller-supplied clock to the exact bytes sent. The body is
 * serialised once and that very buffer is signed and posted. No I/O, no clock here. */
#include "wdts/wdt_api_request.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"
#include "wdts/sign.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts/wdt_api_creds.h"

#define CT_JSON "application/json"
#define CT_FORM "application/x-www-form-urlencoded"

/* Copies validated JSON text without the whitespace between tokens, so the bytes posted
 * are compact while every token (numbers included) stays exactly as the caller wrote it. */
static void json_minify(struct wdts_buf *out, const char *text)
{
    int in_str = 0;
    for (const char *p = text; *p; p++) {
        char c = *p;
        if (in_str) {
            wdts_buf_append(out, p, 1);
            if (c == '\\' && p[1]) {
                p++;
                wdts_buf_append(out, p, 1);
            } else if (c == '"') {
                in_str = 0;
            }
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        if (c == '"')
            in_str = 1;
        wdts_buf_append(out, p, 1);
    }
}

/* Parses call->params_json (NULL = {}) as an object or array. @returns new reference. */
static json_t *params_parse(const char *text, char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    if (text == NULL)
        return json_object();
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (v != NULL && !json_is_object(v) && !json_is_array(v)) {
        snprintf(errstr, errstr_size,
                 "the params must be a JSON object such as {\"start_time\":\"2024-01-01 "
                 "00:00:00\"} (or, on the direct route, an array of positional arguments), not "
                 "a JSON %s",
                 json_is_string(v) ? "string" : json_is_null(v) ? "null" : json_is_boolean(v) ? "boolean" : "number");
        json_decref(v);
        return NULL;
    }
    if (v == NULL) {
        snprintf(errstr, errstr_size,
                 "the params are not valid JSON (%s, line %d column %d): give a JSON object "
                 "such as {\"start_time\":\"2024-01-01 00:00:00\",\"end_time\":\"2024-01-01 "
                 "01:00:00\"}",
                 jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    return v;
}

static wdts_err_t check_call(const struct wdts_api_call *call, char *errstr, size_t errstr_size)
{
    if (call->method == NULL || call->method[0] == '\0') {
        snprintf(errstr, errstr_size, "the API method is empty (e.g. sales.TradeQuery.queryWithDetail)");
        return WDTS_ERR_INVAL;
    }
    for (const char *p = call->method; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_') {
            snprintf(errstr, errstr_size,
                     "the API method '%.80s' has a character other than letters, digits, '.' "
                     "and '_' (e.g. sales.TradeQuery.queryWithDetail)",
                     call->method);
            return WDTS_ERR_INVAL;
        }
    }
    if (call->paged && (call->page_no < 0 || call->page_no > 1000000000LL)) {
        snprintf(errstr, errstr_size, "page_no %lld is out of range: pages count from 0",
                 call->page_no);
        return WDTS_ERR_INVAL;
    }
    if (call->paged && (call->page_size < 1 || call->page_size > 100000LL)) {
        snprintf(errstr, errstr_size, "page_size %lld is out of range: use 1 to 100000 "
                 "(WDT advises 200 or less for trades, at most 1000 for stock)",
                 call->page_size);
        return WDTS_ERR_INVAL;
    }
    if (call->now < WDTS_WDT_EPOCH) {
        snprintf(errstr, errstr_size,
                 "the request time %" PRId64 " is before 2012-01-01, the WDT timestamp origin: "
                 "give Unix seconds",
                 call->now);
        return WDTS_ERR_INVAL;
    }
    return WDTS_OK;
}

/* Appends "k=v" pairs (values percent-encoded) after the gateway's own query, if any. */
static void url_query(struct wdts_buf *url, const char *gateway, const struct wdts_param *q,
                      size_t n)
{
    wdts_buf_append_str(url, gateway);
    const char *qm = strchr(gateway, '?');
    size_t glen = strlen(gateway);
    if (qm == NULL)
        wdts_buf_append_str(url, "?");
    else if (glen > 0 && gateway[glen - 1] != '?' && gateway[glen - 1] != '&')
        wdts_buf_append_str(url, "&");
    for (size_t i = 0; i < n; i++) {
        if (i)
            wdts_buf_append_str(url, "&");
        wdts_buf_append_urlenc(url, q[i].key);
        wdts_buf_append_str(url, "=");
        wdts_buf_append_urlenc(url, q[i].val);
    }
}

static wdts_err_t build_direct(const struct wdts_api_creds *creds, const char *gateway,
                               const struct wdts_api_call *call, const json_t *params,
                               struct wdts_api_request *req)
{
    struct wdts_buf body, url;
    char ts[24], psize[24], pno[24], sign[WDTS_SIGN_MD5_LEN];
    wdts_buf_init(&body);
    wdts_buf_init(&url);

    /* The body is the positional-argument array: a params object becomes its only item. */
    if (json_is_object(params))
        wdts_buf_append_str(&body, "[");
    json_minify(&body, call->params_json ? call->params_json : "{}");
    if (json_is_object(params))
        wdts_buf_append_str(&body, "]");

    snprintf(ts, sizeof(ts), "%" PRId64, wdts_time_wdt_timestamp(call->now));
    snprintf(psize, sizeof(psize), "%lld", call->page_size);
    snprintf(pno, sizeof(pno), "%lld", call->page_no);

    struct wdts_param q[11];
    size_t n = 0;
    q[n++] = (struct wdts_param){"sid", creds->sid};
    q[n++] = (struct wdts_param){"key", creds->appkey};
    q[n++] = (struct wdts_param){"salt", creds->salt};
    q[n++] = (struct wdts_param){"method", call->method};
    q[n++] = (struct wdts_param){"timestamp", ts};
    q[n++] = (struct wdts_param){"v", "1.0"};
    size_t n_sys = n;
    if (call->paged) {
        q[n++] = (struct wdts_param){"page_size", psize};
        q[n++] = (struct wdts_param){"page_no", pno};
        if (call->calc_total)
            q[n++] = (struct wdts_param){"calc_total", "1"};
    }
    /* Signed: everything sent plus body = the exact bytes posted; never sign itself. */
    q[n] = (struct wdts_param){"body", wdts_buf_str(&body)};
    wdts_sign_wdt(creds->secret, q, n + 1, sign);

    /* Query layout: system params, sign, then the pager. */
    struct wdts_param sent[11];
    size_t m = 0;
    for (size_t i = 0; i < n_sys; i++)
        sent[m++] = q[i];
    sent[m++] = (struct wdts_param){"sign", sign};
    for (size_t i = n_sys; i < n; i++)
        sent[m++] = q[i];
    url_query(&url, gateway, sent, m);

    req->http_method = "POST";
    req->content_type = CT_JSON;
    req->body_len = body.len;
    req->body = wdts_buf_steal(&body);
    req->url = wdts_buf_steal(&url);
    return WDTS_OK;
}

char *wdts_api_qimen_method(const char *direct_method, const char *prefix)
{
    struct wdts_buf out;
    char *lower = wdts_xstrdup(direct_method);
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    wdts_buf_init(&out);
    if (strstr(lower, ".wdt.") != NULL) {
        wdts_buf_append_str(&out, lower); /* already scene-prefixed: sent as given */
    } else {
        if (prefix && *prefix) {
            wdts_buf_append_str(&out, prefix); /* "3ldsmu02o9" and "3ldsmu02o9." alike */
            if (prefix[strlen(prefix) - 1] != '.')
                wdts_buf_append_str(&out, ".");
        }
        if (!wdts_str_has_prefix(lower, "wdt."))
            wdts_buf_append_str(&out, "wdt.");
        wdts_buf_append_str(&out, lower);
    }
    free(lower);
    return wdts_buf_steal(&out);
}

char *wdts_api_wire_method(const struct wdts_api_creds *creds, const struct wdts_api_call *call)
{
    if (creds->app != WDTS_API_APP_QIMEN)
        return wdts_xstrdup(call->method);
    const char *name = call->qimen_method && *call->qimen_method ? call->qimen_method
                                                                 : call->method;
    return wdts_api_qimen_method(name, creds->qimen_method_prefix);
}

/* Removes null and empty ("", [], {}) members, recursively: how a null is signed differs
 * between WDT's own Qimen helpers (docs/API.md §6.1), so such fields are never sent. */
static void drop_empty(json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, m)
        {
            drop_empty(m);
            if (json_is_null(m) || (json_is_string(m) && json_string_length(m) == 0) ||
                (json_is_object(m) && json_object_size(m) == 0) ||
                (json_is_array(m) && json_array_size(m) == 0))
                json_object_del(v, k);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) drop_empty(m);
    }
}

static void form_encode(struct wdts_buf *out, const struct wdts_param *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            wdts_buf_append_str(out, "&");
        wdts_buf_append_urlenc(out, p[i].key);
        wdts_buf_append_str(out, "=");
        wdts_buf_append_urlenc(out, p[i].val);
    }
}

static wdts_err_t build_qimen(const struct wdts_api_creds *creds, const char *gateway,
                              const struct wdts_api_call *call, json_t *params,
                              struct wdts_api_request *req, char *errstr, size_t errstr_size)
{
    wdts_err_t err = WDTS_ERR_INVAL;
    char bj[WDTS_BJTIME_LEN], wdt_sign[WDTS_SIGN_MD5_LEN], top_sign[WDTS_SIGN_TOP_LEN];
    char *method = wdts_api_wire_method(creds, call);
    char *params_txt = NULL, *pager = NULL;
    struct wdts_buf url, body;
    wdts_buf_init(&url);
    wdts_buf_init(&body);

    if (!json_is_object(params)) {
        snprintf(errstr, errstr_size,
                 "the Qimen route takes the params as one JSON object, not an array");
        goto out;
    }
    drop_empty(params);
    params_txt = json_dumps(params, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (call->paged)
        pager = wdts_xasprintf("{\"page_size\":%lld,\"page_no\":%lld}", call->page_size,
                               call->page_no + 1); /* Qimen pages count from 1 */
    wdts_time_format_beijing(call->now, bj);

    /* App params (the form body). wdt3_customer_id is sent but not in wdt_sign. */
    struct wdts_param app[8];
    size_t na = 0;
    app[na++] = (struct wdts_param){"datetime", bj};
    app[na++] = (struct wdts_param){"params", params_txt};
    if (pager)
        app[na++] = (struct wdts_param){"pager", pager};
    app[na++] = (struct wdts_param){"wdt_appkey", creds->appkey};
    app[na++] = (struct wdts_param){"wdt_salt", creds->salt};
    app[na++] = (struct wdts_param){"wdt3_customer_id", creds->sid};
    err = wdts_sign_qimen_wdt(creds->secret, method, app, na, WDTS_QIMEN_NULL_SKIP, wdt_sign, errstr,
                              errstr_size);
    if (err != WDTS_OK)
        goto out;
    app[na++] = (struct wdts_param){"wdt_sign", wdt_sign};

    /* System params (the URL query); the outer sign covers system and app params. */
    struct wdts_param all[16];
    size_t n = 0;
    all[n++] = (struct wdts_param){"method", method};
    all[n++] = (struct wdts_param){"app_key", creds->qimen_app_key};
    all[n++] = (struct wdts_param){"target_app_key", creds->target_app_key};
    all[n++] = (struct wdts_param){"sign_method", wdts_top_sign_name(creds->sign_method)};
    all[n++] = (struct wdts_param){"timestamp", bj};
    all[n++] = (struct wdts_param){"format", "json"};
    all[n++] = (struct wdts_param){"v", "2.0"};
    size_t n_sys = n;
    for (size_t i = 0; i < na; i++)
        all[n++] = app[i];
    wdts_sign_top(creds->sign_method, creds->qimen_app_secret, all, n, top_sign);

    struct wdts_param sys[8];
    memcpy(sys, all, sizeof(*sys) * n_sys);
    sys[n_sys] = (struct wdts_param){"sign", top_sign};
    url_query(&url, gateway, sys, n_sys + 1);
    form_encode(&body, app, na);

    req->http_method = "POST";
    req->content_type = CT_FORM;
    req->body_len = body.len;
    req->body = wdts_buf_steal(&body);
    req->url = wdts_buf_steal(&url);
    err = WDTS_OK;
out:
    wdts_buf_deinit(&url);
    wdts_buf_deinit(&body);
    free(method);
    free(params_txt);
    free(pager);
    return err;
}

wdts_err_t wdts_api_request_build(const struct wdts_api_creds *creds, const char *gateway,
                                  const struct wdts_api_call *call, struct wdts_api_request *req,
                                  char *errstr, size_t errstr_size)
{
    wdts_err_t err;
    json_t *params = NULL;
    memset(req, 0, sizeof(*req));
    if (gateway == NULL || gateway[0] == '\0') {
        snprintf(errstr, errstr_size, "the gateway URL is empty (e.g. https://wdt.wangdian.cn/openapi)");
        return WDTS_ERR_INVAL;
    }
    if (creds->secret == NULL || creds->salt == NULL || creds->sid == NULL || creds->appkey == NULL) {
        snprintf(errstr, errstr_size, "the credentials are incomplete (sid, appkey, appsecret)");
        return WDTS_ERR_INVAL;
    }
    if (creds->app == WDTS_API_APP_QIMEN &&
        (creds->qimen_app_key == NULL || creds->qimen_app_secret == NULL)) {
        snprintf(errstr, errstr_size, "a Qimen call needs the Qimen app_key and app_secret");
        return WDTS_ERR_INVAL;
    }
    err = check_call(call, errstr, errstr_size);
    if (err != WDTS_OK)
        return err;
    params = params_parse(call->params_json, errstr, errstr_size);
    if (params == NULL)
        return WDTS_ERR_INVAL;
    if (creds->app == WDTS_API_APP_QIMEN)
        err = build_qimen(creds, gateway, call, params, req, errstr, errstr_size);
    else
        err = build_direct(creds, gateway, call, params, req);
    json_decref(params);
    if (err != WDTS_OK)
        wdts_api_request_deinit(req);
    return err;
}

void wdts_api_request_deinit(struct wdts_api_request *req)
{
    if (req == NULL)
        return;
    free(req->url);
    free(req->body);
    memset(req, 0, sizeof(*req));
}

char *wdts_api_request_to_json(const struct wdts_api_request *req)
{
    struct wdts_buf out;
    wdts_buf_init(&out);
    wdts_buf_append_str(&out, "{\"http_method\":\"");
    wdts_buf_append_json_str(&out, req->http_method ? req->http_method : "");
    wdts_buf_append_str(&out, "\",\"url\":\"");
    wdts_buf_append_json_str(&out, req->url ? req->url : "");
    wdts_buf_append_str(&out, "\",\"content_type\":\"");
    wdts_buf_append_json_str(&out, req->content_type ? req->content_type : "");
    wdts_buf_append_str(&out, "\",\"body\":\"");
    wdts_buf_append_json_str(&out, req->body ? req->body : "");
    wdts_buf_append_str(&out, "\"}");
    return wdts_buf_steal(&out);
}
