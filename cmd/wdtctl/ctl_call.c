/* `wdtctl call`: one call to the WDT flagship gateway or its Qimen route, for users who
 * debug credentials. Parses flags, builds the request with the common API client, and
 * either prints it (--dry-run) or sends it and prints the answer and its error class.
 * Secrets are read from flags or files and never printed. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "wdts/err.h"
#include "wdts/mem.h"
#include "wdts/secret.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts/wdt_api_answer.h"
#include "wdts/wdt_api_creds.h"
#include "wdts/wdt_api_http.h"
#include "wdts/wdt_api_request.h"

static const char usage_text[] =
    "usage: wdtctl call --gateway URL --sid S --appkey K --appsecret-file PATH\n"
    "                   --method METHOD [options]\n"
    "\n"
    "Makes one call to the WDT flagship open API (--app wdt) or to its Qimen route\n"
    "(--app qimen), prints the API's JSON answer, then its error class and, when the\n"
    "class is not ok, what to do.\n"
    "\n"
    "  --app wdt|qimen            route (default wdt)\n"
    "  --gateway URL              http(s) gateway, e.g. https://wdt.wangdian.cn/openapi or\n"
    "                             https://3ldsmu02o9.api.taobao.com/router/qm\n"
    "  --sid S                    seller account (卖家账号)\n"
    "  --appkey K                 WDT API account (接口账号)\n"
    "  --appsecret-file PATH      file holding the WDT appsecret, exactly as issued\n"
    "                             (secret:salt); - reads it from standard input\n"
    "  --appsecret SECRET:SALT    deprecated: the secret shows in the process list\n"
    "  --method METHOD            direct method name, e.g. sales.TradeQuery.queryWithDetail;\n"
    "                             on Qimen it is sent as wdt.<lower-cased name>\n"
    "  --params JSON              the params: a JSON object (default {}). For --app wdt a\n"
    "                             JSON array is sent as the positional-argument body as is.\n"
    "                             @PATH reads the JSON from a file.\n"
    "  --page-no N                page number, counted from 0 (Qimen sends N+1)\n"
    "  --page-size N              page size; giving it makes the call paged\n"
    "  --calc-total               ask for data.total_count (direct route)\n"
    "  --timestamp UNIX           fix the request clock (Unix seconds) for reproducible output\n"
    "  --timeout SECONDS          whole-call timeout (default 30)\n"
    "  --connection-close         send Connection: close (multi-seller mode)\n"
    "  --dry-run                  send nothing; print the request as one JSON object\n"
    "                             {\"http_method\",\"url\",\"content_type\",\"body\"}\n"
    "\n"
    "Qimen (--app qimen) also needs:\n"
    "  --qimen-app-key K          your Qimen (Taobao open platform) app_key\n"
    "  --qimen-app-secret-file P  file holding its app secret (- for standard input;\n"
    "                             only one secret can come from standard input)\n"
    "  --qimen-app-secret S       deprecated: the secret shows in the process list\n"
    "  --sign-method M            md5 (default), hmac or hmac-sha256\n"
    "  --target-app-key K         WDT's app on Qimen (default " WDTS_API_QIMEN_TARGET_APP_KEY ")\n"
    "  --qimen-method-prefix P    send P + wdt.… as the method (e.g. 3ldsmu02o9.)\n"
    "\n"
    "Output: the answer as received, then lines 'class: …', and when not ok\n"
    "'kind: …' (if any), 'status: …', 'http_status: …' and 'message: …' (what to do).\n"
    "\n"
    "Exit codes: 0 ok, 2 transient, 3 rate_limited, 4 clock, 5 auth, 6 permission,\n"
    "7 bad_request, 64 bad command line, 1 internal failure.\n";

enum {
    OPT_APP = 256, OPT_GATEWAY, OPT_SID, OPT_APPKEY, OPT_APPSECRET, OPT_APPSECRET_FILE,
    OPT_QM_KEY, OPT_QM_SECRET, OPT_QM_SECRET_FILE, OPT_SIGN_METHOD, OPT_TARGET, OPT_QM_PREFIX,
    OPT_METHOD, OPT_PARAMS, OPT_PAGE_NO, OPT_PAGE_SIZE, OPT_CALC_TOTAL, OPT_TIMESTAMP,
    OPT_TIMEOUT, OPT_CONN_CLOSE, OPT_DRY_RUN,
};

static const struct option long_opts[] = {
    {"app", required_argument, NULL, OPT_APP},
    {"gateway", required_argument, NULL, OPT_GATEWAY},
    {"sid", required_argument, NULL, OPT_SID},
    {"appkey", required_argument, NULL, OPT_APPKEY},
    {"appsecret", required_argument, NULL, OPT_APPSECRET},
    {"appsecret-file", required_argument, NULL, OPT_APPSECRET_FILE},
    {"qimen-app-key", required_argument, NULL, OPT_QM_KEY},
    {"qimen-app-secret", required_argument, NULL, OPT_QM_SECRET},
    {"qimen-app-secret-file", required_argument, NULL, OPT_QM_SECRET_FILE},
    {"sign-method", required_argument, NULL, OPT_SIGN_METHOD},
    {"target-app-key", required_argument, NULL, OPT_TARGET},
    {"qimen-method-prefix", required_argument, NULL, OPT_QM_PREFIX},
    {"method", required_argument, NULL, OPT_METHOD},
    {"params", required_argument, NULL, OPT_PARAMS},
    {"page-no", required_argument, NULL, OPT_PAGE_NO},
    {"page-size", required_argument, NULL, OPT_PAGE_SIZE},
    {"calc-total", no_argument, NULL, OPT_CALC_TOTAL},
    {"timestamp", required_argument, NULL, OPT_TIMESTAMP},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"connection-close", no_argument, NULL, OPT_CONN_CLOSE},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct call_args {
    const char *app, *gateway, *sid, *appkey, *method, *params_arg, *sign_method, *target,
        *qm_prefix, *qm_key;
    char *appsecret, *qm_secret, *params; /* owned */
    const char *page_no, *page_size, *timestamp, *timeout;
    int calc_total, conn_close, dry_run;
};

static int usage_error(const char *fmt, const char *arg)
{
    fputs("wdtctl call: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nRun 'wdtctl call --help' for usage.\n", stderr);
    return WDTS_EXIT_USAGE;
}

#define PARAMS_FILE_MAX (16u << 20) /* a params file larger than this is a wrong path */

/* Reads a whole params file (at most PARAMS_FILE_MAX bytes); trailing newlines are dropped. */
static char *read_file(const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(errstr, errstr_size, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    struct wdts_buf b;
    char chunk[4096];
    size_t n;
    wdts_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len <= PARAMS_FILE_MAX)
        wdts_buf_append(&b, chunk, n);
    int failed = ferror(f);
    fclose(f);
    if (failed || b.len > PARAMS_FILE_MAX) {
        if (failed)
            snprintf(errstr, errstr_size, "cannot read %s: read error", path);
        else
            snprintf(errstr, errstr_size, "%s is larger than %u MiB; is it the right file?", path,
                     PARAMS_FILE_MAX >> 20);
        wdts_buf_deinit(&b);
        return NULL;
    }
    while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
        b.data[--b.len] = '\0';
    return wdts_buf_steal(&b);
}

static void set_owned(char **dst, char *val)
{
    if (*dst) {
        explicit_bzero(*dst, strlen(*dst));
        free(*dst);
    }
    *dst = val;
}

/* @returns 0 to go on, or the exit code. */
static int parse_args(int argc, char **argv, struct call_args *a)
{
    char es[256];
    int c, stdin_used = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_APP: a->app = optarg; break;
        case OPT_GATEWAY: a->gateway = optarg; break;
        case OPT_SID: a->sid = optarg; break;
        case OPT_APPKEY: a->appkey = optarg; break;
        case OPT_APPSECRET:
            set_owned(&a->appsecret, wdts_xstrdup(optarg));
            ctl_warn_secret_arg("call", "--appsecret", "--appsecret-file", optarg);
            break;
        case OPT_QM_KEY: a->qm_key = optarg; break;
        case OPT_QM_SECRET:
            set_owned(&a->qm_secret, wdts_xstrdup(optarg));
            ctl_warn_secret_arg("call", "--qimen-app-secret", "--qimen-app-secret-file", optarg);
            break;
        case OPT_APPSECRET_FILE:
        case OPT_QM_SECRET_FILE: {
            if (strcmp(optarg, "-") == 0 && stdin_used++)
                return usage_error("%s", "only one secret can be read from standard input "
                                         "(-); give the other one a file");
            char *v = wdts_secret_read_file(optarg, es, sizeof(es));
            if (v == NULL)
                return usage_error("%s", es);
            set_owned(c == OPT_APPSECRET_FILE ? &a->appsecret : &a->qm_secret, v);
            break;
        }
        case OPT_SIGN_METHOD: a->sign_method = optarg; break;
        case OPT_TARGET: a->target = optarg; break;
        case OPT_QM_PREFIX: a->qm_prefix = optarg; break;
        case OPT_METHOD: a->method = optarg; break;
        case OPT_PARAMS: a->params_arg = optarg; break;
        case OPT_PAGE_NO: a->page_no = optarg; break;
        case OPT_PAGE_SIZE: a->page_size = optarg; break;
        case OPT_CALC_TOTAL: a->calc_total = 1; break;
        case OPT_TIMESTAMP: a->timestamp = optarg; break;
        case OPT_TIMEOUT: a->timeout = optarg; break;
        case OPT_CONN_CLOSE: a->conn_close = 1; break;
        case OPT_DRY_RUN: a->dry_run = 1; break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        case ':':
            return usage_error("option %s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (a->params_arg && a->params_arg[0] == '@') {
        a->params = read_file(a->params_arg + 1, es, sizeof(es));
        if (a->params == NULL)
            return usage_error("--params: %s", es);
    } else if (a->params_arg) {
        a->params = wdts_xstrdup(a->params_arg);
    }
    return 0;
}

static void print_result(const struct wdts_api_result *res, const char *raw)
{
    /* The answer as received when it is JSON; anything else is described by the message. */
    if (raw && res->answer)
        printf("%s\n", raw);
    printf("class: %s\n", wdts_api_class_name(res->cls));
    if (res->cls == WDTS_API_OK) {
        if (res->has_total)
            printf("total_count: %lld\n", res->total_count);
        return;
    }
    if (res->kind != WDTS_API_KIND_NONE)
        printf("kind: %s\n", wdts_api_kind_name(res->kind));
    if (res->has_status)
        printf("status: %lld\n", res->status);
    if (res->code)
        printf("code: %s\n", res->code);
    if (res->http_status)
        printf("http_status: %ld\n", res->http_status);
    printf("message: %s\n", res->message ? res->message : "");
}

/* The route and the credentials' flags: which app, what is missing, what does not fit.
 * @returns 0, or the exit code after printing why. */
static int check_route(const struct call_args *a, enum wdts_api_app *app)
{
    enum wdts_top_sign sm;
    if (a->app && wdts_api_app_parse(a->app, app) != WDTS_OK)
        return usage_error("--app must be wdt or qimen, not '%s'", a->app);
    const char *missing = !a->gateway ? "--gateway" : !a->sid ? "--sid" : !a->appkey ? "--appkey"
                          : !a->appsecret ? "--appsecret" : !a->method ? "--method" : NULL;
    if (missing)
        return usage_error("%s is required", missing);
    if (!wdts_str_has_prefix(a->gateway, "http://") && !wdts_str_has_prefix(a->gateway, "https://"))
        return usage_error("--gateway must be an http:// or https:// URL, not '%s'", a->gateway);
    if (a->sign_method && wdts_top_sign_parse(a->sign_method, &sm) != WDTS_OK)
        return usage_error("unknown --sign-method '%s': use md5, hmac or hmac-sha256",
                           a->sign_method);
    if (*app == WDTS_API_APP_WDT && (a->qm_key || a->qm_secret || a->sign_method || a->target ||
                                     a->qm_prefix))
        return usage_error("%s", "the Qimen options (--qimen-app-key, --qimen-app-secret, "
                                 "--sign-method, --target-app-key, --qimen-method-prefix) need "
                                 "--app qimen");
    if (*app == WDTS_API_APP_QIMEN && (!a->qm_key || !a->qm_secret))
        return usage_error("%s", "--app qimen needs --qimen-app-key and --qimen-app-secret (your "
                                 "Qimen app) besides the WDT sid, appkey and appsecret");
    return 0;
}

/* The call itself (method, params, paging, clock) and the transfer's options.
 * @returns 0, or the exit code after printing why. */
static int build_call(const struct call_args *a, struct wdts_api_call *call,
                      struct wdts_api_http_opts *opts)
{
    long long v;
    call->method = a->method;
    call->params_json = a->params;
    if (a->page_no && !a->page_size)
        return usage_error("%s", "--page-no needs --page-size");
    if (a->calc_total && !a->page_size)
        return usage_error("%s", "--calc-total needs --page-size (a paged call)");
    if (a->page_size) {
        call->paged = 1;
        call->calc_total = a->calc_total;
        if (wdts_parse_int(a->page_size, 1, 100000, &call->page_size) != WDTS_OK)
            return usage_error("--page-size must be a whole number from 1 to 100000, not '%s'",
                               a->page_size);
        if (a->page_no && wdts_parse_int(a->page_no, 0, 1000000000, &call->page_no) != WDTS_OK)
            return usage_error("--page-no must be a whole number from 0 (pages count from 0), "
                               "not '%s'",
                               a->page_no);
    }
    call->now = wdts_time_now();
    if (a->timestamp) {
        if (wdts_parse_int(a->timestamp, WDTS_WDT_EPOCH, 32503680000LL, &v) != WDTS_OK)
            return usage_error("--timestamp must be Unix seconds after 2012-01-01 (e.g. "
                               "1700000000), not '%s'",
                               a->timestamp);
        call->now = v;
    }
    *opts = (struct wdts_api_http_opts){.timeout_ms = 30000, .connection_close = a->conn_close};
    if (a->timeout) {
        if (wdts_parse_int(a->timeout, 1, 3600, &v) != WDTS_OK)
            return usage_error("--timeout must be whole seconds from 1 to 3600, not '%s'",
                               a->timeout);
        opts->timeout_ms = (long)v * 1000;
        if (opts->timeout_ms < 10000)
            opts->connect_timeout_ms = opts->timeout_ms;
    }
    return 0;
}

/* Sends the call, prints the answer and its class. @returns the class's exit code. */
static int send_call(const struct call_args *a, const struct wdts_api_creds *creds,
                     const struct wdts_api_call *call, const struct wdts_api_http_opts *opts)
{
    struct wdts_api_result res;
    char es[512], *raw = NULL;
    wdts_api_result_init(&res);
    if (wdts_api_call_blocking(creds, a->gateway, call, opts, &res, &raw, es, sizeof(es)) !=
        WDTS_OK) {
        fprintf(stderr, "wdtctl call: %s\n", es);
        wdts_api_result_deinit(&res);
        return WDTS_EXIT_FATAL;
    }
    print_result(&res, raw);
    int rc = ctl_class_exit(res.cls);
    free(raw);
    wdts_api_result_deinit(&res);
    return rc;
}

static int run(struct call_args *a)
{
    int rc;
    char es[512];
    struct wdts_api_creds creds;
    struct wdts_api_call call;
    struct wdts_api_request req;
    struct wdts_api_http_opts opts;
    enum wdts_api_app app = WDTS_API_APP_WDT;
    memset(&creds, 0, sizeof(creds));
    memset(&call, 0, sizeof(call));
    memset(&req, 0, sizeof(req));

    if ((rc = check_route(a, &app)) != 0)
        goto out;
    rc = WDTS_EXIT_USAGE;
    if (wdts_api_creds_init(&creds, a->sid, a->appkey, a->appsecret, es, sizeof(es)) != WDTS_OK) {
        rc = usage_error("%s", es);
        goto out;
    }
    if (app == WDTS_API_APP_QIMEN &&
        wdts_api_creds_set_qimen(&creds, a->qm_key, a->qm_secret, a->sign_method, a->target,
                                 a->qm_prefix, es, sizeof(es)) != WDTS_OK) {
        rc = usage_error("%s", es);
        goto out;
    }
    if ((rc = build_call(a, &call, &opts)) != 0)
        goto out;
    if (wdts_api_request_build(&creds, a->gateway, &call, &req, es, sizeof(es)) != WDTS_OK) {
        rc = usage_error("%s", es);
        goto out;
    }
    if (a->dry_run) {
        char *json = wdts_api_request_to_json(&req);
        printf("%s\n", json);
        free(json);
        rc = WDTS_EXIT_OK;
        goto out;
    }
    rc = send_call(a, &creds, &call, &opts);
out:
    fflush(stdout);
    wdts_api_request_deinit(&req);
    wdts_api_creds_deinit(&creds);
    return rc;
}

int ctl_call_main(int argc, char **argv)
{
    struct call_args a;
    memset(&a, 0, sizeof(a));
    int rc = parse_args(argc, argv, &a);
    if (rc == 0)
        rc = run(&a);
    else if (rc < 0)
        rc = WDTS_EXIT_OK; /* --help */
    set_owned(&a.appsecret, NULL);
    set_owned(&a.qm_secret, NULL);
    free(a.params);
    return rc;
}
