/* Answer parsing and THE classification (see wdts/wdt_api_answer.h): transport failures, HTTP
 * statuses, the direct envelope {"status":…}, the Qimen envelope {"response":{…}} and
 * the TOP error envelope become one class of docs/DESIGN.md §3 with a message that says
 * what to do. The rules are tables, so a newly seen message is one more row. */
#include "wdts/wdt_api_answer.h"

#include <stdlib.h>
#include <string.h>

#include "wdts/json_num.h"
#include "wdts/json_scan.h"
#include "wdts/mem.h"
#include "wdts/str.h"

static const char *const class_names[WDTS_API_CLASS__COUNT] = {
    "ok", "transient", "rate_limited", "clock", "auth", "permission", "bad_request",
};

static const char *const kind_names[WDTS_API_KIND__COUNT] = {
    "", "window_too_wide", "pager_required", "concurrency", "qimen_only", "erp_rights",
    "answer_too_large", "bad_answer",
};

const char *wdts_api_class_name(enum wdts_api_class cls)
{
    return (unsigned)cls < WDTS_API_CLASS__COUNT ? class_names[cls] : "unknown";
}

const char *wdts_api_kind_name(enum wdts_api_kind kind)
{
    return (unsigned)kind < WDTS_API_KIND__COUNT ? kind_names[kind] : "";
}

#define ANY_STATUS (-1000000LL)
#define NO_WDT_STATUS (-1000001LL) /* matches only the rows that hold for any status */

/* One rule of the direct (and embedded WDT) error table, docs/API.md §4.2. The message
 * template may hold {method} {sid} {appkey} {gateway} {msg} (the API's own message). */
struct rule {
    long long status;   /* ANY_STATUS: any */
    const char *needle; /* substring of the message, or NULL */
    const char *code;   /* equal to the string `code`, or NULL */
    enum wdts_api_class cls;
    enum wdts_api_kind kind;
    const char *text;
};

#define PERMISSION_FIX                                                                           \
    "add the interface {method} in 开放平台 → 自助对接 → 应用管理 and have it approved for sid {sid}"
#define ERP_RIGHTS_FIX                                                                           \
    "the API account (appkey {appkey}) is an ERP employee: grant it the rights in the ERP under "  \
    "设置 → 安全设置 → 员工权限"

static const struct rule wdt_rules[] = {
    {1, "sid is not exists", NULL, WDTS_API_AUTH, 0,
     "the gateway does not know the sid {sid} (sid is not exists): check the seller account (sid), "
     "and that the gateway URL {gateway} is the right environment (production "
     "https://wdt.wangdian.cn/openapi, test http://47.92.239.46/openapi)"},
    {1, "sid is not found", NULL, WDTS_API_AUTH, 0,
     "the gateway does not know the sid {sid} (sid is not found): check the seller account (sid), "
     "and that the gateway URL {gateway} is the right environment (production "
     "https://wdt.wangdian.cn/openapi, test http://47.92.239.46/openapi)"},
    {1, "验证失败", NULL, WDTS_API_AUTH, 0,
     "the appkey or appsecret is wrong (signature rejected, 验证失败): copy sid, appkey and "
     "appsecret again from 开放平台 → 应用管理 (the appsecret has the form secret:salt)"},
    {1, "app auth fail", NULL, WDTS_API_AUTH, 0,
     "the app (appkey {appkey}) is not authorised for sid {sid} or for this caller (app auth "
     "fail): check in 开放平台 → 应用管理 that the app is authorised for this seller and that the "
     "worker's egress IP is on the app's IP whitelist"},
    {1, "For input string", NULL, WDTS_API_BAD_REQUEST, 0,
     "the gateway could not read a number in the request ({msg}): the timestamp must be seconds "
     "since 2012-01-01 and numeric params must be numbers; check the params of {method}"},
    {1, NULL, NULL, WDTS_API_BAD_REQUEST, 0,
     "the gateway rejected the arguments of {method} ({msg}): check the params against the "
     "method's documentation (a query method takes one JSON object)"},
    {2, NULL, NULL, WDTS_API_BAD_REQUEST, 0,
     "the method {method} does not accept the parameter '{msg}': remove it from the params"},
    {3, NULL, NULL, WDTS_API_AUTH, 0,
     "the seller account requires a dynamic password (需要动态口令), which API calls cannot give: "
     "disable the dynamic password (动态口令) for the API account (appkey {appkey}) in the ERP"},
    {4, NULL, NULL, WDTS_API_TRANSIENT, 0,
     "the WDT server had a database error ({msg}): retry later; if it persists contact WDT support"},
    {5, NULL, NULL, WDTS_API_TRANSIENT, 0,
     "the WDT server had a database error ({msg}): retry later; if it persists contact WDT support"},
    {6, NULL, NULL, WDTS_API_AUTH, 0,
     "the gateway refused the caller's IP address (ip限制): add the worker's egress IP to the "
     "app's IP whitelist in 开放平台 → 应用管理"},
    {7, NULL, NULL, WDTS_API_CLOCK, 0,
     "the gateway rejected the request time (时间戳错误): this machine's clock differs from WDT's "
     "by more than 2 minutes; resync the clock (NTP) and retry"},
    {8, NULL, NULL, WDTS_API_BAD_REQUEST, 0,
     "the gateway rejected the protocol version (版本错误, {msg}): this client sends v=1.0; "
     "report this with the method {method}"},
    {99, NULL, NULL, WDTS_API_TRANSIENT, 0,
     "the WDT server reported an unspecified error (其他错误, {msg}): retry later; if it persists "
     "contact WDT support"},
    {ANY_STATUS, "超过每分钟最大并发次数限制", NULL, WDTS_API_RATE_LIMITED, WDTS_API_KIND_CONCURRENCY,
     "the seller's limit of concurrent API calls was reached (超过每分钟最大并发次数限制): wait "
     "before calling again (WDT advises 5–10 minutes); lower the connection's concurrency if "
     "this repeats"},
    {ANY_STATUS, "超过每分钟最大调用频率限制", NULL, WDTS_API_RATE_LIMITED, 0,
     "the seller's limit of API calls per minute was reached (超过每分钟最大调用频率限制): wait "
     "before calling again (WDT advises 5–10 minutes); lower the connection's calls per second if "
     "this repeats"},
    {ANY_STATUS, "并发", NULL, WDTS_API_RATE_LIMITED, WDTS_API_KIND_CONCURRENCY,
     "the gateway reports too many concurrent calls ({msg}): wait before calling again; lower "
     "the connection's concurrency if this repeats"},
    {ANY_STATUS, "频率", NULL, WDTS_API_RATE_LIMITED, 0,
     "the gateway reports too many calls ({msg}): wait before calling again; lower the "
     "connection's calls per second if this repeats"},
    {ANY_STATUS, NULL, "right.required", WDTS_API_PERMISSION, WDTS_API_KIND_ERP_RIGHTS,
     "the API account lacks a warehouse or shop right ({msg}): " ERP_RIGHTS_FIX},
    {ANY_STATUS, "无仓库访问权限", NULL, WDTS_API_PERMISSION, WDTS_API_KIND_ERP_RIGHTS,
     "the API account lacks the warehouse right ({msg}): " ERP_RIGHTS_FIX},
    {ANY_STATUS, "仓库权限", NULL, WDTS_API_PERMISSION, WDTS_API_KIND_ERP_RIGHTS,
     "the API account lacks the warehouse right ({msg}): " ERP_RIGHTS_FIX},
    {ANY_STATUS, "店铺权限", NULL, WDTS_API_PERMISSION, WDTS_API_KIND_ERP_RIGHTS,
     "the API account lacks the shop right ({msg}): " ERP_RIGHTS_FIX},
    {ANY_STATUS, "传入店铺编号全部错误", NULL, WDTS_API_PERMISSION, WDTS_API_KIND_ERP_RIGHTS,
     "none of the shop numbers given exist or are allowed (传入店铺编号全部错误): check shop_no in "
     "the params; " ERP_RIGHTS_FIX},
    {ANY_STATUS, "接口权限不足", NULL, WDTS_API_PERMISSION, 0,
     "the app may not call {method} (接口权限不足): " PERMISSION_FIX},
    {ANY_STATUS, "权限不足", NULL, WDTS_API_PERMISSION, 0,
     "the app may not call {method} (权限不足): " PERMISSION_FIX},
    {ANY_STATUS, "The API used internal only", NULL, WDTS_API_PERMISSION, WDTS_API_KIND_QIMEN_ONLY,
     "{method} is not open on the direct gateway (The API used internal only): fetch this report "
     "through a Qimen connection (app qimen)"},
    {ANY_STATUS, "仅支持分页查询", NULL, WDTS_API_BAD_REQUEST, WDTS_API_KIND_PAGER_REQUIRED,
     "{method} can only be called with a pager (此方法仅支持分页查询): give page_no and page_size"},
    {ANY_STATUS, "查询时间过宽", NULL, WDTS_API_BAD_REQUEST, WDTS_API_KIND_WINDOW_TOO_WIDE,
     "the time window is wider than {method} allows ({msg}): split it into smaller windows"},
    {ANY_STATUS, "查询时间不能大于", NULL, WDTS_API_BAD_REQUEST, WDTS_API_KIND_WINDOW_TOO_WIDE,
     "the time window is wider than {method} allows ({msg}): split it into smaller windows"},
    {ANY_STATUS, "查询条件太过宽", NULL, WDTS_API_BAD_REQUEST, WDTS_API_KIND_WINDOW_TOO_WIDE,
     "the query is wider than {method} allows ({msg}): split the window or add conditions"},
    {ANY_STATUS, "必须包含起止时间", NULL, WDTS_API_BAD_REQUEST, 0,
     "{method} needs a time window (参数中必须包含起止时间): give its start and end time params"},
    {ANY_STATUS, "Unparseable date", NULL, WDTS_API_BAD_REQUEST, 0,
     "a time parameter has the wrong format ({msg}): use yyyy-MM-dd HH:mm:ss in Beijing time"},
    {ANY_STATUS, "invalid http status", NULL, WDTS_API_TRANSIENT, 0,
     "a WDT upstream service failed ({msg}): retry later"},
    {ANY_STATUS, "数据库错误", NULL, WDTS_API_TRANSIENT, 0,
     "the WDT server had a database error ({msg}): retry later; if it persists contact WDT support"},
    {ANY_STATUS, "Database Error", NULL, WDTS_API_TRANSIENT, 0,
     "the WDT server had a database error ({msg}): retry later; if it persists contact WDT support"},
    {100, NULL, NULL, WDTS_API_BAD_REQUEST, 0,
     "the gateway refused the call to {method} ({msg}): check the params against the method's "
     "documentation"},
};

/* TOP platform codes (docs/API.md §6.3), for Qimen/TOP failures without a WDT status. */
struct top_rule {
    long long code;
    enum wdts_api_class cls;
    const char *text;
};

static const struct top_rule top_rules[] = {
    {7, WDTS_API_RATE_LIMITED,
     "the Qimen app's call quota is used up ({msg}): wait before calling again; raise the app's call limit "
     "on the Taobao open platform if this repeats"},
    {8, WDTS_API_RATE_LIMITED,
     "the Qimen app calls too often ({msg}): wait before calling again; lower the connection's "
     "calls per second if this repeats"},
    {11, WDTS_API_PERMISSION,
     "the Qimen app may not call {method} ({msg}): have the Qimen app authorised for the WDT "
     "custom scene and " PERMISSION_FIX},
    {15, WDTS_API_TRANSIENT,
     "the Qimen gateway reported a remote service error ({msg}): retry later; if it persists check "
     "the WDT Qimen scene with WDT support"},
    {25, WDTS_API_AUTH,
     "the Qimen gateway rejected the signature ({msg}): check the Qimen app_secret and the sign "
     "method (md5, hmac or hmac-sha256)"},
    {29, WDTS_API_AUTH,
     "the Qimen gateway does not know the app_key ({msg}): check the Qimen app_key"},
    {31, WDTS_API_CLOCK,
     "the Qimen gateway rejected the request time ({msg}): this machine's clock differs by more "
     "than 10 minutes; resync the clock (NTP) and retry"},
    {40, WDTS_API_BAD_REQUEST,
     "the Qimen gateway reports a missing argument ({msg}): check the params of {method}"},
    {41, WDTS_API_BAD_REQUEST,
     "the Qimen gateway reports an invalid argument ({msg}): check the params of {method}"},
};

void wdts_api_result_init(struct wdts_api_result *res)
{
    memset(res, 0, sizeof(*res));
}

void wdts_api_result_deinit(struct wdts_api_result *res)
{
    if (res == NULL)
        return;
    free(res->code);
    free(res->api_message);
    free(res->message);
    json_decref(res->answer);
    wdts_jscan_list_deinit(&res->list);
    wdts_api_result_init(res);
}

/* A short, printable excerpt of bytes that may be anything (HTML, binary, half a reply). */
static void excerpt(char *out, size_t out_size, const char *body, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < out_size && i < 48; i++) {
        unsigned char c = (unsigned char)body[i];
        out[n++] = (c < 0x20 || c >= 0x7f) ? (c == '\n' || c == '\r' || c == '\t' ? ' ' : '?') : (char)c;
    }
    if (len > 48 && n + 4 < out_size) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

char *wdts_api_text_clean(const char *s, size_t len, size_t max)
{
    struct wdts_buf out;
    wdts_buf_init(&out);
    const unsigned char *p = (const unsigned char *)s, *e = p + (s ? len : 0);
    while (p < e) {
        unsigned char c = *p;
        size_t n = 1;
        const char *rep = NULL;
        if (c < 0x20 || c == 0x7f) {
            rep = c == '\n' || c == '\r' || c == '\t' ? " " : "?"; /* C0, DEL and ESC */
        } else if (c >= 0x80) {
            /* a valid UTF-8 sequence is kept, but C1 controls (U+0080-U+009F, e.g. the CSI
             * and OSC introducers) and invalid bytes are replaced */
            unsigned cp = 0, min = 0;
            if (c >= 0xc2 && c <= 0xdf)
                n = 2, cp = c & 0x1f, min = 0x80;
            else if (c >= 0xe0 && c <= 0xef)
                n = 3, cp = c & 0x0f, min = 0x800;
            else if (c >= 0xf0 && c <= 0xf4)
                n = 4, cp = c & 0x07, min = 0x10000;
            else
                n = 0;
            for (size_t i = 1; n && i < n; i++) {
                if (p + i >= e || (p[i] & 0xc0) != 0x80)
                    n = 0;
                else
                    cp = (cp << 6) | (p[i] & 0x3f);
            }
            if (n == 0 || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
                cp <= 0x9f) {
                rep = "?";
                n = n ? n : 1;
            }
        }
        size_t add = rep ? 1 : n;
        if (out.len + add > max) {
            wdts_buf_append_str(&out, "…");
            break;
        }
        if (rep)
            wdts_buf_append(&out, rep, 1);
        else
            wdts_buf_append(&out, (const char *)p, n);
        p += n;
    }
    return wdts_buf_steal(&out);
}

static char *clean_dup(const char *s, size_t max)
{
    return wdts_api_text_clean(s, strlen(s), max);
}

/* Expands {method} {sid} {appkey} {gateway} {msg} in a rule text. */
static char *expand(const char *tmpl, const struct wdts_api_ctx *ctx, const char *msg)
{
    static const char *const names[] = {"{method}", "{sid}", "{appkey}", "{gateway}", "{msg}"};
    const char *vals[5] = {
        ctx && ctx->method ? ctx->method : "the method",
        ctx && ctx->sid ? ctx->sid : "(sid not given)",
        ctx && ctx->appkey ? ctx->appkey : "(appkey not given)",
        ctx && ctx->gateway ? ctx->gateway : "(gateway not given)",
        msg && *msg ? msg : "no message",
    };
    struct wdts_buf out;
    wdts_buf_init(&out);
    for (const char *p = tmpl; *p;) {
        int hit = 0;
        if (*p == '{') {
            for (int i = 0; i < 5; i++) {
                size_t nl = strlen(names[i]);
                if (strncmp(p, names[i], nl) == 0) {
                    /* Bound what the API says, so a huge message cannot flood a log line;
                     * cut on a character boundary, so the message stays UTF-8 (logs and
                     * dead letters are JSON, and jansson refuses a broken sequence). */
                    size_t vl = strlen(vals[i]);
                    if (vl > 300) {
                        vl = 300;
                        while (vl > 0 && ((unsigned char)vals[i][vl] & 0xc0) == 0x80)
                            vl--;
                    }
                    wdts_buf_append(&out, vals[i], vl);
                    p += nl;
                    hit = 1;
                    break;
                }
            }
        }
        if (!hit)
            wdts_buf_append(&out, p++, 1);
    }
    return wdts_buf_steal(&out);
}

static void set_result(struct wdts_api_result *res, enum wdts_api_class cls, enum wdts_api_kind kind,
                       char *message)
{
    res->cls = cls;
    res->kind = kind;
    free(res->message);
    res->message = message;
}

static void set_text(struct wdts_api_result *res, enum wdts_api_class cls, enum wdts_api_kind kind,
                     const struct wdts_api_ctx *ctx, const char *tmpl, const char *msg)
{
    set_result(res, cls, kind, expand(tmpl, ctx, msg));
}

/* First matching row of the WDT table; with need_text, only rows that match on text. */
static const struct rule *match_wdt(long long status, const char *code, const char *msg,
                                    int need_text)
{
    for (size_t i = 0; i < sizeof(wdt_rules) / sizeof(wdt_rules[0]); i++) {
        const struct rule *r = &wdt_rules[i];
        if (r->status != ANY_STATUS && r->status != status)
            continue;
        if (r->needle && (msg == NULL || strstr(msg, r->needle) == NULL))
            continue;
        if (r->code && (code == NULL || strcmp(code, r->code) != 0))
            continue;
        if (need_text && r->needle == NULL && r->code == NULL)
            continue;
        return r;
    }
    return NULL;
}

static const char *str_member(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The envelope object: the direct answer itself, or the single *_response value. */
static json_t *find_envelope(json_t *root, int *is_top_error)
{
    *is_top_error = 0;
    if (json_object_get(root, "status") != NULL)
        return root;
    json_t *v = json_object_get(root, "error_response");
    if (json_is_object(v)) {
        *is_top_error = 1;
        return v;
    }
    v = json_object_get(root, "response");
    if (json_is_object(v))
        return v;
    const char *k;
    json_object_foreach(root, k, v)
    {
        size_t kl = strlen(k);
        if (kl > 9 && strcmp(k + kl - 9, "_response") == 0 && json_is_object(v))
            return v;
    }
    return NULL;
}

/* Keeps both texts of an envelope in res->api_message: TOP puts the useful part in
 * sub_message. Every consumer (logs, dead letters, connection marks, wdtctl) gets the text
 * cleaned and bounded here. */
static void set_api_message(struct wdts_api_result *res, const char *msg, const char *sub_msg)
{
    if (msg == NULL && sub_msg == NULL)
        return;
    char *m = msg ? clean_dup(msg, WDTS_API_TEXT_MAX) : NULL;
    char *sm = sub_msg ? clean_dup(sub_msg, WDTS_API_TEXT_MAX) : NULL;
    if (m && sm) {
        char *both = wdts_xasprintf("%s: %s", m, sm);
        res->api_message = clean_dup(both, WDTS_API_TEXT_MAX);
        free(both);
    } else {
        res->api_message = m ? m : sm;
        m = sm = NULL;
    }
    free(m);
    free(sm);
}

/* A WDT envelope (direct, or inside the Qimen response) with a numeric status. */
static void classify_wdt_status(long long status, const struct wdts_api_ctx *ctx,
                                struct wdts_api_result *res)
{
    const char *text = res->api_message;
    res->has_status = 1;
    res->status = status;
    if (status == 0) {
        set_result(res, WDTS_API_OK, 0, wdts_xstrdup("ok"));
        return;
    }
    const struct rule *r = match_wdt(status, res->code, text, 0);
    if (r) {
        set_text(res, r->cls, r->kind, ctx, r->text, text);
        return;
    }
    char *m = wdts_xasprintf("%lld: %s", status, text ? text : "no message");
    set_text(res, WDTS_API_TRANSIENT, 0, ctx,
             "the gateway gave an unrecognised answer to {method} (status {msg}): "
             "retry later; if it persists report this message",
             m);
    free(m);
}

/* A Qimen/TOP failure: a WDT message it forwards, else the TOP code, else the sub code. */
static void classify_top_failure(int has_code, long long top_code, const char *code_str,
                                 const char *sub_code, const struct wdts_api_ctx *ctx,
                                 struct wdts_api_result *res)
{
    const char *text = res->api_message;
    if (has_code) {
        res->has_status = 1;
        res->status = top_code;
    }
    if (sub_code)
        res->code = clean_dup(sub_code, WDTS_API_CODE_MAX);
    else if (code_str && !has_code)
        res->code = clean_dup(code_str, WDTS_API_CODE_MAX);
    /* A WDT message forwarded by Qimen says more than the TOP code (e.g. 权限不足 behind 15). */
    const struct rule *r = match_wdt(NO_WDT_STATUS, res->code, text, 1);
    if (r) {
        set_text(res, r->cls, r->kind, ctx, r->text, text);
        return;
    }
    if (has_code) {
        for (size_t i = 0; i < sizeof(top_rules) / sizeof(top_rules[0]); i++) {
            if (top_rules[i].code == top_code) {
                set_text(res, top_rules[i].cls, 0, ctx, top_rules[i].text, text);
                return;
            }
        }
    }
    if (sub_code && (wdts_str_has_prefix(sub_code, "isp.") || strstr(sub_code, "service-unavailable")))
        set_text(res, WDTS_API_TRANSIENT, 0, ctx,
                 "the Qimen gateway reported a service failure ({msg}): retry later", text);
    else
        set_text(res, WDTS_API_BAD_REQUEST, 0, ctx,
                 "the Qimen gateway refused the call to {method} ({msg}): check the params and "
                 "the Qimen app",
                 text);
}

/* Classifies a parsed envelope. @returns 1 when it was recognised. */
static int classify_envelope(json_t *env, int is_top_error, const struct wdts_api_ctx *ctx,
                             struct wdts_api_result *res)
{
    const char *msg = str_member(env, "message");
    if (msg == NULL)
        msg = str_member(env, "msg");
    const char *sub_msg = str_member(env, "sub_message");
    if (sub_msg == NULL)
        sub_msg = str_member(env, "sub_msg");
    const char *code_str = str_member(env, "code");
    const char *sub_code = str_member(env, "sub_code");
    const char *flag = str_member(env, "flag");
    long long status = 0, top_code = 0;
    int has_status = wdts_json_int(json_object_get(env, "status"), &status);
    int has_code = wdts_json_int(json_object_get(env, "code"), &top_code);

    res->inner = env;
    res->data = json_object_get(env, "data");
    if (res->data && json_is_object(res->data))
        res->has_total =
            wdts_json_int(json_object_get(res->data, "total_count"), &res->total_count);
    set_api_message(res, msg, sub_msg);
    const char *text = res->api_message;

    if (has_status && !is_top_error) {
        /* A WDT envelope (direct, or inside the Qimen response). */
        if (code_str && !has_code)
            res->code = clean_dup(code_str, WDTS_API_CODE_MAX);
        classify_wdt_status(status, ctx, res);
        return 1;
    }

    json_t *sv = json_object_get(env, "status");
    if (sv != NULL && !is_top_error) {
        /* {"status":"error",…,"data":{…}}: a status that is no number is never success */
        char *m = json_dumps(sv, JSON_ENCODE_ANY | JSON_COMPACT);
        /* the status echoed is gateway text too: cleaned (DEL and C1 controls pass
         * json_dumps as they are) and cut on a character boundary */
        char *st = m ? clean_dup(m, 40) : wdts_xstrdup("?");
        char *t = wdts_xasprintf("%s: %s", st, text ? text : "no message");
        free(st);
        set_text(res, WDTS_API_TRANSIENT, 0, ctx,
                 "the answer of {method} has a status that is not a number ({msg}): retry "
                 "later; if it persists report this message",
                 t);
        free(t);
        free(m);
        return 1;
    }

    int failure = is_top_error || (flag && strcmp(flag, "failure") == 0) || has_code;
    if (!failure) {
        if ((flag && strcmp(flag, "success") == 0) || res->data) {
            set_result(res, WDTS_API_OK, 0, wdts_xstrdup("ok"));
            return 1;
        }
        return 0;
    }

    classify_top_failure(has_code, top_code, code_str, sub_code, ctx, res);
    return 1;
}

static void classify_transport(const struct wdts_api_outcome *o, const struct wdts_api_ctx *ctx,
                               struct wdts_api_result *res)
{
    const char *detail = o->transport_detail && *o->transport_detail ? o->transport_detail
                                                                       : wdts_err2str(o->transport);
    switch (o->transport) {
    case WDTS_ERR_TIMEOUT:
        set_text(res, WDTS_API_TRANSIENT, 0, ctx,
                 "no complete answer from the gateway {gateway} in time ({msg}): retry later; if "
                 "it persists check the network or raise the timeout",
                 detail);
        break;
    case WDTS_ERR_INVAL:
        set_text(res, WDTS_API_BAD_REQUEST, 0, ctx,
                 "the gateway URL {gateway} cannot be used ({msg}): give an http:// or https:// URL "
                 "such as https://wdt.wangdian.cn/openapi",
                 detail);
        break;
    default:
        set_text(res, WDTS_API_TRANSIENT, 0, ctx,
                 "could not get an answer from the gateway {gateway} ({msg}): retry later; if it "
                 "persists check the gateway URL and the network",
                 detail);
    }
}

static void classify_http_status(long st, const struct wdts_api_ctx *ctx,
                                 struct wdts_api_result *res)
{
    char m[64];
    snprintf(m, sizeof(m), "HTTP %ld", st);
    if (st == 429)
        set_text(res, WDTS_API_RATE_LIMITED, 0, ctx,
                 "the gateway answered {msg} (too many requests): wait before calling again", m);
    else if (st >= 500 || st == 408)
        set_text(res, WDTS_API_TRANSIENT, 0, ctx,
                 "the gateway {gateway} answered {msg} (a server-side failure): retry later; if it "
                 "persists check the gateway's status",
                 m);
    else if (st == 401 || st == 403)
        set_text(res, WDTS_API_AUTH, 0, ctx,
                 "the gateway {gateway} refused access ({msg}): check the credentials and that "
                 "the worker's egress IP is on the app's IP whitelist",
                 m);
    else if (st == 404)
        set_text(res, WDTS_API_BAD_REQUEST, 0, ctx,
                 "the gateway URL {gateway} was not found ({msg}): check the URL (the WDT gateway "
                 "is https://wdt.wangdian.cn/openapi)",
                 m);
    else if (st >= 300 && st < 400)
        set_text(res, WDTS_API_BAD_REQUEST, 0, ctx,
                 "the gateway URL {gateway} redirects elsewhere ({msg}): use the URL it redirects "
                 "to (often https:// instead of http://)",
                 m);
    else
        set_text(res, WDTS_API_BAD_REQUEST, 0, ctx,
                 "the gateway {gateway} refused the request ({msg}): check the gateway URL and "
                 "the request",
                 m);
}

/* The answer without its record list: when one strict walk over the whole body finds the
 * envelope's data.<list> without doubt, the tree is built from the body with that list
 * replaced by [] (the records are then read from their bytes). @returns NULL when not
 * so: the caller parses in full, unless *refused says why the answer must not be parsed
 * at all (WDTS_JSCAN_DUPKEY, WDTS_JSCAN_TOO_MANY, or 1: the rest costs too much). */
static json_t *load_elided(const struct wdts_api_outcome *o, struct wdts_api_result *res,
                           int *refused)
{
    struct wdts_jscan_list list;
    int rc = wdts_jscan_answer(o->body, o->body_len, o->elide_list, o->elide_members,
                               o->elide_nmembers, o->elide_max_records, &list);
    if (rc == WDTS_JSCAN_DUPKEY || rc == WDTS_JSCAN_TOO_MANY)
        *refused = rc;
    if (rc != 0)
        return NULL;
    /* what is left around the list is parsed: bounded as a whole answer would be */
    const char *b = o->body, *l = b + list.off, *le = l + list.len, *e = b + o->body_len;
    size_t cost = wdts_jscan_cost(b, l, WDTS_API_MAX_COST);
    if (cost <= WDTS_API_MAX_COST)
        cost += wdts_jscan_cost(le, e, WDTS_API_MAX_COST);
    if (cost > WDTS_API_MAX_COST) {
        *refused = 1;
        wdts_jscan_list_deinit(&list);
        return NULL;
    }
    struct wdts_buf sk;
    json_error_t jerr;
    wdts_buf_init(&sk);
    wdts_buf_append(&sk, o->body, list.off);
    wdts_buf_append(&sk, "[]", 2);
    wdts_buf_append(&sk, o->body + list.off + list.len, o->body_len - list.off - list.len);
    json_t *root = json_loadb(sk.data, sk.len, JSON_DECODE_ANY, &jerr);
    wdts_buf_deinit(&sk);
    if (root == NULL) {
        wdts_jscan_list_deinit(&list);
        return NULL;
    }
    res->list_elided = 1;
    res->list = list;
    return root;
}

/* An answer refused before parsing (see load_elided()): a bad_answer, retried as transient. */
static void refuse(const struct wdts_api_outcome *o, const struct wdts_api_ctx *ctx,
                   struct wdts_api_result *res, int why)
{
    char m[160];
    if (why == WDTS_JSCAN_DUPKEY)
        snprintf(m, sizeof(m), "a key occurs twice on the path to data.%s; which one counts is "
                 "not defined", o->elide_list ? o->elide_list : "<list>");
    else if (why == WDTS_JSCAN_TOO_MANY)
        snprintf(m, sizeof(m), "data.%s holds more than the %zu records a page may hold",
                 o->elide_list ? o->elide_list : "<list>", o->elide_max_records);
    else
        snprintf(m, sizeof(m), "%zu bytes holding more values than any page (a tree of them "
                 "would take far more memory than the answer)", o->body_len);
    set_text(res, WDTS_API_TRANSIENT, WDTS_API_KIND_BAD_ANSWER, ctx,
             "the answer of {method} was refused unparsed ({msg}): retry later; if it persists "
             "the gateway is broken or not the WDT open API",
             m);
}

static void classify_body(const struct wdts_api_outcome *o, const struct wdts_api_ctx *ctx,
                          struct wdts_api_result *res);

void wdts_api_classify(const struct wdts_api_outcome *o, const struct wdts_api_ctx *ctx,
                       struct wdts_api_result *res)
{
    classify_body(o, ctx, res);
    if (res->cls != WDTS_API_OK || res->data == NULL) {
        res->list_elided = 0;
        wdts_jscan_list_deinit(&res->list);
    }
}

static void classify_body(const struct wdts_api_outcome *o, const struct wdts_api_ctx *ctx,
                       struct wdts_api_result *res)
{
    wdts_api_result_deinit(res);
    res->http_status = o->http_status;

    if (o->transport != WDTS_OK) {
        classify_transport(o, ctx, res);
        return;
    }
    if (o->answer_too_large) {
        set_text(res, WDTS_API_BAD_REQUEST, WDTS_API_KIND_ANSWER_TOO_LARGE, ctx,
                 "the answer of {method} is larger than the size cap ({msg}): lower page_size or "
                 "narrow the window",
                 "answer cut at the cap");
        return;
    }

    /* Parse whatever came; an HTTP error with a readable envelope is classified by it. */
    json_error_t jerr;
    json_t *root = NULL;
    int ok_http = o->http_status >= 200 && o->http_status < 300, refused = 0;
    if (o->elide_list && o->body && o->body_len > 0 && ok_http)
        root = load_elided(o, res, &refused);
    if (root == NULL && !refused && o->body && o->body_len > 0 &&
        wdts_jscan_cost(o->body, o->body + o->body_len, WDTS_API_MAX_COST) > WDTS_API_MAX_COST)
        refused = 1;
    if (refused) {
        refuse(o, ctx, res, refused);
        return;
    }
    if (root == NULL && o->body && o->body_len > 0)
        root = json_loadb(o->body, o->body_len, JSON_DECODE_ANY, &jerr);
    int is_top_error = 0;
    json_t *env = json_is_object(root) ? find_envelope(root, &is_top_error) : NULL;
    res->answer = root;

    if (o->http_status >= 300 || (o->http_status > 0 && o->http_status < 200)) {
        if (env && classify_envelope(env, is_top_error, ctx, res) && res->cls != WDTS_API_OK)
            return;
        free(res->api_message);
        free(res->code);
        res->api_message = res->code = NULL;
        res->has_status = 0;
        res->inner = res->data = NULL;
        res->has_total = 0;
        classify_http_status(o->http_status, ctx, res);
        return;
    }
    if (o->body == NULL || o->body_len == 0) {
        set_text(res, WDTS_API_TRANSIENT, 0, ctx,
                 "the gateway {gateway} sent an empty answer: retry later; if it persists check that "
                 "the URL points at the WDT open API",
                 NULL);
        return;
    }
    if (root == NULL) {
        char ex[64], *m;
        excerpt(ex, sizeof(ex), o->body, o->body_len);
        /* Cut-off JSON fails at the very end of the input; anything else is not JSON at all. */
        int starts_json = o->body[0] == '{' || o->body[0] == '[';
        if (starts_json && (size_t)jerr.position >= o->body_len) {
            m = wdts_xasprintf("%zu bytes", o->body_len);
            set_text(res, WDTS_API_TRANSIENT, 0, ctx,
                     "the answer was cut off (truncated JSON after {msg}): the connection broke or "
                     "the gateway failed mid-answer; retry later",
                     m);
        } else {
            m = wdts_xasprintf("%zu bytes starting \"%s\"", o->body_len, ex);
            set_text(res, WDTS_API_TRANSIENT, 0, ctx,
                     "the answer is not JSON ({msg}): retry later; if it persists check that the "
                     "gateway URL {gateway} points at the WDT open API",
                     m);
        }
        free(m);
        return;
    }
    if (env == NULL || !classify_envelope(env, is_top_error, ctx, res)) {
        char ex[64];
        excerpt(ex, sizeof(ex), o->body, o->body_len);
        set_text(res, WDTS_API_TRANSIENT, 0, ctx,
                 "the answer is JSON but carries no status ({msg}): retry later; if it persists "
                 "check that the gateway URL {gateway} points at the WDT open API",
                 ex);
        res->inner = res->data = NULL;
    }
}

/* Replaces each occurrence of needle in *s by "***". */
static void redact_one(char **s, const char *needle)
{
    if (*s == NULL || needle == NULL || *needle == '\0' || strstr(*s, needle) == NULL)
        return;
    struct wdts_buf out;
    size_t nl = strlen(needle);
    wdts_buf_init(&out);
    const char *p = *s, *hit;
    while ((hit = strstr(p, needle)) != NULL) {
        wdts_buf_append(&out, p, (size_t)(hit - p));
        wdts_buf_append_str(&out, "***");
        p = hit + nl;
    }
    wdts_buf_append_str(&out, p);
    free(*s);
    *s = wdts_buf_steal(&out);
}

void wdts_api_result_redact(struct wdts_api_result *res, const char *const *secrets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        /* A very short "secret" would match ordinary words; real ones are 32 hex digits. */
        if (secrets[i] == NULL || strlen(secrets[i]) < WDTS_API_REDACT_MIN)
            continue;
        redact_one(&res->message, secrets[i]);
        redact_one(&res->api_message, secrets[i]);
    }
}
