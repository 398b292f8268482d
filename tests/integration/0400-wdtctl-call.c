/* `wdtctl call` end to end over real HTTP on loopback: --dry-run reproduces the reference
 * signatures V1/V2 (and V3's wdt_sign), every bad input exits 64 with a clear message,
 * and answers from a tiny in-process libmicrohttpd responder (fixed bytes per path) come
 * out as the right class: unreachable, non-JSON, truncated, cut connection, HTTP 500 and
 * a timeout as transient, 权限不足 as permission with its fix, 验证失败 as auth.
 * The same responder checks that what is sent is exactly what --dry-run printed, and
 * serves many prepared transfers in flight at once on one curl multi loop. */
#include "wdts_test.h"
#include "wdts_test_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wdt_api_http_int.h" /* the event-loop side, private to common/wdtapi and its tests */
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/wdt_api_answer.h"
#include "wdts/wdt_api_creds.h"
#include "wdts/wdt_api_http.h"
#include "wdts/wdt_api_request.h"

#define V1_SECRET "693f9fed686bfe13441385da98b436b6"
#define V1_APPSECRET V1_SECRET ":dd488d0802b1e431e4c72cd355847853"
#define QM_SECRET "qimen-app-secret-0123456789"
#define MAX_ARGS 48

/* ---- the responder --------------------------------------------------------------- */

struct route {
    const char *path;
    unsigned status;
    const char *body;
};

static const struct route routes[] = {
    {"/ok", 200, "{\"status\":0,\"data\":{\"total_count\":1,\"order\":[{\"trade_id\":1}]}}"},
    {"/nonjson", 200, "<html><body>502 Bad Gateway</body></html>"},
    {"/truncated", 200, "{\"status\":0,\"data\":{\"total_count\":5,\"order\":[{\"trade_id\":1,\"tr"},
    {"/http500", 500, "Internal Server Error"},
    {"/perm", 200, "{\"status\":100,\"message\":\"权限不足\"}"},
    {"/auth", 200, "{\"status\":1,\"message\":\"验证失败\"}"},
    {"/ratelimit", 200, "{\"status\":100,\"message\":\"超过每分钟最大调用频率限制，请稍后重试\"}"},
    {"/qimen", 200, "{\"error_response\":{\"code\":25,\"msg\":\"Invalid Signature\"}}"},
    {"/qimen-ok", 200, "{\"response\":{\"status\":0,\"data\":{\"total_count\":\"2\",\"order\":[]}}}"},
};

/* What the responder saw last (one request at a time in these tests). */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *path, *content_type, *sign, *body, *connection;
} seen;

static struct wdts_test_responder *responder;
static char big_body[300000];

static void set_seen(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? wdts_xstrdup(v) : NULL;
}

/* Sends 20 bytes of a body promised as 200, then fails: MHD closes the connection. */
static ssize_t cut_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    if (pos >= 20)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = 20 - (size_t)pos < max ? 20 - (size_t)pos : max;
    memcpy(buf, "{\"status\":0,\"data\":{" + pos, n);
    return (ssize_t)n;
}

/* The responder's answer: fixed bytes per path, after noting what was sent. */
static struct MHD_Response *answer(void *opaque, struct MHD_Connection *conn, const char *url,
                                   const char *body, unsigned *status)
{
    (void)opaque;
    pthread_mutex_lock(&seen_lock);
    set_seen(&seen.path, url);
    set_seen(&seen.content_type,
             MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE));
    set_seen(&seen.connection,
             MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION));
    set_seen(&seen.sign, MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sign"));
    set_seen(&seen.body, body);
    pthread_mutex_unlock(&seen_lock);

    struct MHD_Response *resp = NULL;
    *status = 404;
    if (strcmp(url, "/slow") == 0) {
        sleep(3);
        *status = 200;
        resp = MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/cut") == 0) {
        *status = 200;
        resp = MHD_create_response_from_callback(200, 64, cut_reader, NULL, NULL);
    } else if (strcmp(url, "/big") == 0) {
        *status = 200;
        resp = MHD_create_response_from_buffer(strlen(big_body), big_body, MHD_RESPMEM_PERSISTENT);
    }
    for (size_t i = 0; resp == NULL && i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(url, routes[i].path) == 0) {
            *status = routes[i].status;
            resp = MHD_create_response_from_buffer(strlen(routes[i].body), (void *)routes[i].body,
                                                   MHD_RESPMEM_PERSISTENT);
        }
    }
    if (resp == NULL)
        resp = MHD_create_response_from_buffer(9, (void *)"not found", MHD_RESPMEM_PERSISTENT);
    return resp;
}

static int start_responder(void **state)
{
    (void)state;
    /* A valid JSON answer far above a 1 KiB cap. */
    struct wdts_buf b;
    wdts_buf_init(&b);
    wdts_buf_append_str(&b, "{\"status\":0,\"data\":{\"order\":[");
    while (b.len < sizeof(big_body) - 100)
        wdts_buf_append_str(&b, "{\"trade_id\":123456789,\"trade_no\":\"T0000001\"},");
    wdts_buf_append_str(&b, "{}]}}");
    wdts_strlcpy(big_body, wdts_buf_str(&b), sizeof(big_body));
    wdts_buf_deinit(&b);

    responder = wdts_test_responder_start(answer, NULL);
    return responder ? 0 : -1;
}

static int stop_responder(void **state)
{
    (void)state;
    wdts_test_responder_stop(responder);
    free(seen.path);
    free(seen.content_type);
    free(seen.sign);
    free(seen.body);
    free(seen.connection);
    return 0;
}

/* ---- running wdtctl ------------------------------------------------------------ */

static char *url_of(const char *path)
{
    return wdts_xasprintf("http://127.0.0.1:%u%s", (unsigned)wdts_test_responder_port(responder),
                          path);
}

/* Runs wdtctl with the given arguments (NULL-terminated); checks no secret leaks. */
static void ctl(struct wdts_test_run *run, ...)
{
    char *argv[MAX_ARGS];
    int n = 0;
    va_list ap;
    argv[n++] = wdts_xstrdup(wdts_test_bin("wdtctl"));
    va_start(ap, run);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < MAX_ARGS - 1)
        argv[n++] = wdts_xstrdup(a);
    va_end(ap);
    argv[n] = NULL;
    assert_int_equal(wdts_test_run(argv, NULL, 60, run), 0);
    for (int i = 0; i < n; i++)
        free(argv[i]);
    assert_null(strstr(run->out, V1_SECRET));
    assert_null(strstr(run->err, V1_SECRET));
    assert_null(strstr(run->out, QM_SECRET));
    assert_null(strstr(run->err, QM_SECRET));
}

#define DIRECT(gw) "call", "--app", "wdt", "--gateway", (gw), "--sid", "seller42", "--appkey", \
                   "appkey7", "--appsecret", V1_APPSECRET

/* ---- tests -------------------------------------------------------------------- */

static json_t *dry_run_json(struct wdts_test_run *run)
{
    wdts_test_expect_run(run, 0, "{\"http_method\":\"POST\"", NULL);
    json_error_t jerr;
    json_t *j = json_loads(run->out, 0, &jerr);
    if (j == NULL)
        fail_msg("dry-run output is not one JSON object: %s (%s)", run->out, jerr.text);
    assert_int_equal(json_object_size(j), 4);
    return j;
}

static void test_dry_run_reproduces_v1_v2(void **state)
{
    (void)state;
    struct wdts_test_run run;
    /* V1: the official example, a positional (array) body, no pager. */
    ctl(&run, "call", "--gateway", "http://127.0.0.1:9/openapi", "--sid", "wdterp30", "--appkey",
        "czhc", "--appsecret", V1_APPSECRET, "--method", "wms.stockout.Sales.weighingExt",
        "--params", "[\"xc109393939393939\",\"\",1.2,0,false]", "--timestamp", "1557970353",
        "--dry-run", NULL);
    json_t *j = dry_run_json(&run);
    assert_string_equal(json_string_value(json_object_get(j, "url")),
                        "http://127.0.0.1:9/openapi?sid=wdterp30&key=czhc"
                        "&salt=dd488d0802b1e431e4c72cd355847853"
                        "&method=wms.stockout.Sales.weighingExt&timestamp=232623153&v=1.0"
                        "&sign=20f557aaf9190797c581bbceeb6d5a5c");
    assert_string_equal(json_string_value(json_object_get(j, "body")),
                        "[\"xc109393939393939\",\"\",1.2,0,false]");
    assert_string_equal(json_string_value(json_object_get(j, "content_type")), "application/json");
    json_decref(j);
    wdts_test_run_free(&run);

    /* V2, first value: a params object. */
    ctl(&run, "call", "--gateway", "http://127.0.0.1:9/openapi", "--sid", "wdtapi3", "--appkey",
        "appkey", "--appsecret", "secret:salt", "--method", "goods.Goods.queryWithSpec", "--params",
        "{\"goods_no\": \"G001\"}", "--timestamp", "1325347300", "--dry-run", NULL);
    j = dry_run_json(&run);
    assert_non_null(strstr(json_string_value(json_object_get(j, "url")),
                           "&timestamp=100&v=1.0&sign=703b2c4b5b16565883e6b58d18e254a2"));
    assert_string_equal(json_string_value(json_object_get(j, "body")), "[{\"goods_no\":\"G001\"}]");
    json_decref(j);
    wdts_test_run_free(&run);

    /* V2, second value: an empty positional body. */
    ctl(&run, "call", "--gateway", "http://127.0.0.1:9/openapi", "--sid", "wdtapi3", "--appkey",
        "wdt_test", "--appsecret", "aa:dd", "--method", "system.Core.now", "--params", "[]",
        "--timestamp", "1325347300", "--dry-run", NULL);
    j = dry_run_json(&run);
    assert_non_null(strstr(json_string_value(json_object_get(j, "url")),
                           "&sign=b5745bf1f4721a0d16e9a68cb7513032"));
    json_decref(j);
    wdts_test_run_free(&run);
}

static void test_dry_run_qimen_v3(void **state)
{
    (void)state;
    struct wdts_test_run run;
    /* V3's inputs: 2020-09-17 19:22:26 Beijing = 1600341746. */
    ctl(&run, "call", "--app", "qimen", "--gateway", "http://127.0.0.1:9/router/qm", "--sid",
        "wdtapi3", "--appkey", "wdt_appkey", "--appsecret", "secret:salt", "--qimen-app-key",
        "23456789", "--qimen-app-secret", QM_SECRET, "--sign-method", "hmac-sha256", "--method",
        "wms.StockSpec.queryChangeHistory", "--params",
        "{\"spec_no\":null,\"start_date\":\"2020-08-23 00:00:00\",\"end_date\":\"2020-09-20 "
        "00:00:00\",\"warehouse_no\":\"1001\"}",
        "--page-size", "10", "--page-no", "0", "--timestamp", "1600341746", "--dry-run", NULL);
    json_t *j = dry_run_json(&run);
    const char *url = json_string_value(json_object_get(j, "url"));
    const char *body = json_string_value(json_object_get(j, "body"));
    assert_true(wdts_str_has_prefix(url, "http://127.0.0.1:9/router/qm?method=wdt.wms.stockspec."
                                         "querychangehistory&app_key=23456789&target_app_key="
                                         "21363512&sign_method=hmac-sha256&timestamp=2020-09-17%"
                                         "2019%3A22%3A26&format=json&v=2.0&sign="));
    assert_string_equal(json_string_value(json_object_get(j, "content_type")),
                        "application/x-www-form-urlencoded");
    assert_non_null(strstr(body, "pager=%7B%22page_size%22%3A10%2C%22page_no%22%3A1%7D"));
    assert_non_null(strstr(body, "&wdt3_customer_id=wdtapi3&wdt_sign=1f5e87bbbc8bc68f4f0af70f79620b7d"));
    json_decref(j);
    wdts_test_run_free(&run);
}

/* Runs wdtctl with stdin_text on its standard input; argv is NULL-terminated. */
static void ctl_stdin(struct wdts_test_run *run, const char *stdin_text, const char *const *args)
{
    char *argv[MAX_ARGS];
    int n = 0;
    argv[n++] = wdts_xstrdup(wdts_test_bin("wdtctl"));
    for (; *args && n < MAX_ARGS - 1; args++)
        argv[n++] = wdts_xstrdup(*args);
    argv[n] = NULL;
    assert_int_equal(wdts_test_run(argv, stdin_text, 60, run), 0);
    for (int i = 0; i < n; i++)
        free(argv[i]);
    assert_null(strstr(run->out, QM_SECRET));
    assert_null(strstr(run->err, QM_SECRET));
}

/* Secrets come from files or standard input (-), never need the command line; a secret given
 * there is warned about, naming the *-file option. */
static void test_secrets_from_stdin_and_files(void **state)
{
    (void)state;
    struct wdts_test_run run;
    char qm_path[] = "/tmp/wdts-0400-qm.XXXXXX";
    int fd = mkstemp(qm_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, QM_SECRET "\n", strlen(QM_SECRET) + 1),
                     (ssize_t)strlen(QM_SECRET) + 1);
    close(fd);

    /* the V2 call of test_dry_run_reproduces_v1_v2, appsecret "aa:dd" on stdin */
    const char *v2[] = {"call", "--gateway", "http://127.0.0.1:9/openapi", "--sid", "wdtapi3",
                        "--appkey", "wdt_test", "--appsecret-file", "-", "--method",
                        "system.Core.now", "--params", "[]", "--timestamp", "1325347300",
                        "--dry-run", NULL};
    ctl_stdin(&run, "aa:dd\n", v2);
    json_t *j = dry_run_json(&run);
    assert_non_null(strstr(json_string_value(json_object_get(j, "url")),
                           "&sign=b5745bf1f4721a0d16e9a68cb7513032"));
    assert_string_equal(run.err, "");
    json_decref(j);
    wdts_test_run_free(&run);

    /* Qimen: the appsecret from stdin, the Qimen secret from a file; the same request as with
     * both on the command line */
    const char *qm_files[] = {"call", "--app", "qimen", "--gateway", "http://127.0.0.1:9/router/qm",
                              "--sid", "wdtapi3", "--appkey", "wdt_appkey", "--appsecret-file",
                              "-", "--qimen-app-key", "23456789", "--qimen-app-secret-file",
                              qm_path, "--method", "wms.StockSpec.queryChangeHistory",
                              "--timestamp", "1600341746", "--dry-run", NULL};
    ctl_stdin(&run, "secret:salt", qm_files);
    wdts_test_expect_run(&run, 0, "{\"http_method\":\"POST\"", NULL);
    assert_string_equal(run.err, "");
    char *from_files = wdts_xstrdup(run.out);
    wdts_test_run_free(&run);
    const char *qm_args[] = {"call", "--app", "qimen", "--gateway", "http://127.0.0.1:9/router/qm",
                             "--sid", "wdtapi3", "--appkey", "wdt_appkey", "--appsecret",
                             "secret:salt", "--qimen-app-key", "23456789", "--qimen-app-secret",
                             QM_SECRET, "--method", "wms.StockSpec.queryChangeHistory",
                             "--timestamp", "1600341746", "--dry-run", NULL};
    ctl_stdin(&run, NULL, qm_args);
    wdts_test_expect_run(&run, 0, NULL, "WARNING: --appsecret puts the secret in the process list");
    wdts_test_expect_run(&run, 0, NULL, "use --qimen-app-secret-file PATH");
    assert_string_equal(run.out, from_files);
    free(from_files);
    wdts_test_run_free(&run);

    /* only one secret can come from standard input */
    const char *both[] = {"call", "--app", "qimen", "--gateway", "http://127.0.0.1:9/router/qm",
                          "--sid", "s", "--appkey", "k", "--appsecret-file", "-",
                          "--qimen-app-key", "k2", "--qimen-app-secret-file", "-", "--method",
                          "a.B.c", "--dry-run", NULL};
    ctl_stdin(&run, "a:b\n", both);
    wdts_test_expect_run(&run, 64, NULL, "only one secret can be read from standard input");
    wdts_test_run_free(&run);

    /* an empty secret file is named, not sent */
    const char *empty[] = {"call", "--gateway", "http://127.0.0.1:9/openapi", "--sid", "s",
                           "--appkey", "k", "--appsecret-file", "-", "--method", "a.B.c",
                           "--dry-run", NULL};
    ctl_stdin(&run, "\n", empty);
    wdts_test_expect_run(&run, 64, NULL, "standard input is empty");
    wdts_test_run_free(&run);
    unlink(qm_path);
}

static void test_bad_inputs_exit_64(void **state)
{
    (void)state;
    struct wdts_test_run run;
    const char *gw = "http://127.0.0.1:9/openapi";
    struct {
        const char *a[8];
        const char *err_has;
    } cases[] = {
        {{"--method", "a.B.c", "--params", "{\"start_time\":", NULL}, "params are not valid JSON"},
        {{"--method", "a.B.c", "--params", "42", NULL}, "must be a JSON object"},
        {{"--method", "a.B.c", "--page-size", "ten", NULL}, "--page-size must be a whole number"},
        {{"--method", "a.B.c", "--page-no", "1", NULL}, "--page-no needs --page-size"},
        {{"--method", "a.B.c", "--timestamp", "soon", NULL}, "--timestamp must be Unix seconds"},
        {{"--method", "a.B.c", "--timeout", "0", NULL}, "--timeout must be whole seconds"},
        {{"--method", "a.B.c", "--bogus", NULL}, "unknown option '--bogus'"},
        {{"--method", NULL}, "option --method needs a value"},
        {{NULL}, "--method is required"},
        {{"--method", "a.B.c", "--sign-method", "md5", NULL}, "need --app qimen"},
        {{"--method", "a.B.c", "--sign-method", "sha1", NULL}, "use md5, hmac or hmac-sha256"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char **a = cases[i].a;
        ctl(&run, DIRECT(gw), a[0], a[1], a[2], a[3], a[4], NULL);
        wdts_test_expect_run(&run, 64, NULL, cases[i].err_has);
        assert_string_equal(run.out, "");
        wdts_test_run_free(&run);
    }

    /* A params file larger than 16 MiB is refused, not cut to a shorter (valid) object. */
    char big[] = "/tmp/wdts-0400-params.XXXXXX";
    int fd = mkstemp(big);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    fputs("{}", f);
    for (int i = 0; i < 16 * 1024 + 1; i++)
        fprintf(f, "%1024s", "");
    assert_int_equal(fclose(f), 0);
    char arg[100];
    snprintf(arg, sizeof(arg), "@%s", big);
    ctl(&run, DIRECT(gw), "--method", "a.B.c", "--params", arg, "--dry-run", NULL);
    wdts_test_expect_run(&run, 64, NULL, "is larger than 16 MiB; is it the right file?");
    wdts_test_run_free(&run);
    unlink(big);

    /* A secret without ':' — the message names the form, never the value. */
    ctl(&run, "call", "--gateway", gw, "--sid", "s", "--appkey", "k", "--appsecret", V1_SECRET,
        "--method", "a.B.c", NULL);
    wdts_test_expect_run(&run, 64, NULL, "the WDT appsecret has the form secret:salt");
    wdts_test_run_free(&run);

    /* Unknown sign method on Qimen. */
    ctl(&run, "call", "--app", "qimen", "--gateway", gw, "--sid", "s", "--appkey", "k",
        "--appsecret", "a:b", "--qimen-app-key", "k2", "--qimen-app-secret", QM_SECRET,
        "--sign-method", "sha1", "--method", "a.B.c", NULL);
    wdts_test_expect_run(&run, 64, NULL,
                         "unknown --sign-method 'sha1': use md5, hmac or hmac-sha256");
    wdts_test_run_free(&run);

    /* Qimen without the Qimen credentials. */
    ctl(&run, "call", "--app", "qimen", "--gateway", gw, "--sid", "s", "--appkey", "k",
        "--appsecret", "a:b", "--method", "a.B.c", NULL);
    wdts_test_expect_run(&run, 64, NULL,
                         "--app qimen needs --qimen-app-key and --qimen-app-secret");
    wdts_test_run_free(&run);

    /* Qimen takes an object, not positional arguments. */
    ctl(&run, "call", "--app", "qimen", "--gateway", gw, "--sid", "s", "--appkey", "k",
        "--appsecret", "a:b", "--qimen-app-key", "k2", "--qimen-app-secret", QM_SECRET, "--method",
        "a.B.c", "--params", "[1]", NULL);
    wdts_test_expect_run(&run, 64, NULL, "one JSON object");
    wdts_test_run_free(&run);

    ctl(&run, "call", "--app", "erp", "--gateway", gw, NULL);
    wdts_test_expect_run(&run, 64, NULL, "--app must be wdt or qimen");
    wdts_test_run_free(&run);
    ctl(&run, DIRECT("ftp://127.0.0.1/openapi"), "--method", "a.B.c", NULL);
    wdts_test_expect_run(&run, 64, NULL, "http:// or https://");
    wdts_test_run_free(&run);
    ctl(&run, "nosuchcommand", NULL);
    wdts_test_expect_run(&run, 64, NULL, "unknown command");
    wdts_test_run_free(&run);
    ctl(&run, NULL);
    wdts_test_expect_run(&run, 64, NULL, "usage: wdtctl");
    wdts_test_run_free(&run);

    ctl(&run, "call", "--help", NULL);
    wdts_test_expect_run(&run, 0, "Exit codes: 0 ok, 2 transient", NULL);
    wdts_test_run_free(&run);
    ctl(&run, "--help", NULL);
    wdts_test_expect_run(&run, 0, "call", NULL);
    wdts_test_run_free(&run);
}

/* A port on 127.0.0.1 that nothing listens on. */
static unsigned short closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd); /* bound but never listening, now closed: connections are refused */
    return ntohs(sa.sin_port);
}

static void test_unreachable_gateway_is_transient(void **state)
{
    (void)state;
    struct wdts_test_run run;
    char *gw = wdts_xasprintf("http://127.0.0.1:%u/openapi", (unsigned)closed_port());
    ctl(&run, DIRECT(gw), "--method", "sales.TradeQuery.queryWithDetail", "--timeout", "10", NULL);
    wdts_test_expect_run(&run, 2, "class: transient", NULL);
    assert_non_null(strstr(run.out, "message: could not get an answer from the gateway"));
    assert_non_null(strstr(run.out, "check the gateway URL and the network"));
    wdts_test_run_free(&run);
    free(gw);
}

static void call_path(struct wdts_test_run *run, const char *path)
{
    char *gw = url_of(path);
    ctl(run, DIRECT(gw), "--method", "sales.TradeQuery.queryWithDetail", "--params",
        "{\"start_time\":\"2024-01-01 00:00:00\",\"end_time\":\"2024-01-01 01:00:00\"}",
        "--page-size", "100", "--calc-total", "--timeout", "20", NULL);
    free(gw);
}

static void test_answers_are_classified(void **state)
{
    (void)state;
    struct wdts_test_run run;
    struct {
        const char *path;
        int status;
        const char *out_has[3];
    } cases[] = {
        {"/ok", 0, {"{\"status\":0,\"data\":{\"total_count\":1", "class: ok", "total_count: 1"}},
        {"/nonjson", 2, {"class: transient", "the answer is not JSON", "starting \"<html><body>502"}},
        {"/truncated", 2, {"class: transient", "the answer was cut off (truncated JSON", NULL}},
        {"/cut", 2, {"class: transient", "the answer was cut off after", NULL}},
        {"/http500", 2, {"class: transient", "answered HTTP 500", "http_status: 500"}},
        {"/perm", 6, {"class: permission", "add the interface sales.TradeQuery.queryWithDetail in "
                      "开放平台 → 自助对接 → 应用管理 and have it approved for sid seller42",
                      "{\"status\":100,\"message\":\"权限不足\"}"}},
        {"/auth", 5, {"class: auth", "the appkey or appsecret is wrong (signature rejected",
                      "copy sid, appkey and appsecret again from 开放平台 → 应用管理"}},
        {"/ratelimit", 3, {"class: rate_limited", "5–10 minutes", NULL}},
        {"/nowhere", 7, {"class: bad_request", "was not found (HTTP 404)", NULL}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        call_path(&run, cases[i].path);
        for (int k = 0; k < 3; k++)
            if (cases[i].out_has[k])
                wdts_test_expect_run(&run, cases[i].status, cases[i].out_has[k], NULL);
        /* Not JSON, or cut short: the raw bytes are not echoed as if they were the answer. */
        if (cases[i].status == 2)
            assert_null(strstr(run.out, "{\"status\":0,\"data\":{\"total_count\":5"));
        wdts_test_run_free(&run);
    }

    /* A gateway slower than --timeout. */
    char *gw = url_of("/slow");
    ctl(&run, DIRECT(gw), "--method", "a.B.c", "--timeout", "1", NULL);
    wdts_test_expect_run(&run, 2, "class: transient", "");
    assert_non_null(strstr(run.out, "no complete answer from the gateway"));
    wdts_test_run_free(&run);
    free(gw);
}

static void test_sent_bytes_equal_dry_run(void **state)
{
    (void)state;
    struct wdts_test_run run;
    char *gw = url_of("/ok");
    const char *params = "{\"start_time\": \"2024-01-01 00:00:00\", \"shop_no\": \"店铺01\"}";
    ctl(&run, DIRECT(gw), "--method", "sales.TradeQuery.queryWithDetail", "--params", params,
        "--page-size", "50", "--page-no", "3", "--timestamp", "1700000000", "--dry-run", NULL);
    json_t *j = dry_run_json(&run);
    wdts_test_run_free(&run);
    ctl(&run, DIRECT(gw), "--method", "sales.TradeQuery.queryWithDetail", "--params", params,
        "--page-size", "50", "--page-no", "3", "--timestamp", "1700000000", "--connection-close",
        NULL);
    wdts_test_expect_run(&run, 0, "class: ok", NULL);
    wdts_test_run_free(&run);
    pthread_mutex_lock(&seen_lock);
    assert_string_equal(seen.path, "/ok");
    assert_string_equal(seen.content_type, "application/json");
    assert_string_equal(seen.body, json_string_value(json_object_get(j, "body")));
    char *want_sign = strstr(json_string_value(json_object_get(j, "url")), "&sign=");
    assert_non_null(want_sign);
    assert_true(strncmp(want_sign + 6, seen.sign, 32) == 0);
    assert_non_null(seen.connection);
    assert_string_equal(seen.connection, "close");
    pthread_mutex_unlock(&seen_lock);
    json_decref(j);

    /* Qimen: form body as printed, and a TOP error envelope classified as auth. */
    free(gw);
    gw = url_of("/qimen");
    ctl(&run, "call", "--app", "qimen", "--gateway", gw, "--sid", "wdtapi3", "--appkey", "k",
        "--appsecret", V1_APPSECRET, "--qimen-app-key", "23456789", "--qimen-app-secret", QM_SECRET,
        "--method", "sales.TradeQuery.queryWithDetail", "--timestamp", "1700000000", "--dry-run",
        NULL);
    j = dry_run_json(&run);
    wdts_test_run_free(&run);
    ctl(&run, "call", "--app", "qimen", "--gateway", gw, "--sid", "wdtapi3", "--appkey", "k",
        "--appsecret", V1_APPSECRET, "--qimen-app-key", "23456789", "--qimen-app-secret", QM_SECRET,
        "--method", "sales.TradeQuery.queryWithDetail", "--timestamp", "1700000000", NULL);
    wdts_test_expect_run(&run, 5, "class: auth", NULL);
    assert_non_null(strstr(run.out, "Qimen app_secret"));
    wdts_test_run_free(&run);
    pthread_mutex_lock(&seen_lock);
    assert_string_equal(seen.content_type, "application/x-www-form-urlencoded");
    assert_string_equal(seen.body, json_string_value(json_object_get(j, "body")));
    pthread_mutex_unlock(&seen_lock);
    json_decref(j);
    free(gw);

    gw = url_of("/qimen-ok");
    ctl(&run, "call", "--app", "qimen", "--gateway", gw, "--sid", "wdtapi3", "--appkey", "k",
        "--appsecret", V1_APPSECRET, "--qimen-app-key", "23456789", "--qimen-app-secret", QM_SECRET,
        "--method", "sales.TradeQuery.queryWithDetail", "--page-size", "20", NULL);
    wdts_test_expect_run(&run, 0, "class: ok", NULL);
    assert_non_null(strstr(run.out, "total_count: 2"));
    wdts_test_run_free(&run);
    free(gw);
}

/* The library's blocking call and prepared transfer against the same responder. */
static void test_library_blocking_call(void **state)
{
    (void)state;
    struct wdts_api_creds creds;
    struct wdts_api_result res;
    char es[256], *raw = NULL;
    assert_int_equal(wdts_api_creds_init(&creds, "seller42", "appkey7", V1_APPSECRET, es, sizeof(es)),
                     WDTS_OK);
    wdts_api_result_init(&res);
    struct wdts_api_call call = {.method = "sales.TradeQuery.queryWithDetail", .paged = 1,
                                 .page_size = 100, .calc_total = 1, .now = 1700000000};
    struct wdts_api_http_opts opts = {.timeout_ms = 20000};
    char *gw = url_of("/ok");
    assert_int_equal(wdts_api_call_blocking(&creds, gw, &call, &opts, &res, &raw, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(res.cls, WDTS_API_OK);
    assert_int_equal(res.http_status, 200);
    assert_true(res.has_total);
    assert_int_equal(res.total_count, 1);
    assert_int_equal(json_array_size(json_object_get(res.data, "order")), 1);
    assert_non_null(raw);
    assert_true(wdts_str_has_prefix(raw, "{\"status\":0"));
    free(raw);
    free(gw);

    /* The size cap: a 300 KB answer with a 1 KiB cap. */
    gw = url_of("/big");
    opts.max_answer_bytes = 1024;
    assert_int_equal(wdts_api_call_blocking(&creds, gw, &call, &opts, &res, NULL, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(res.cls, WDTS_API_BAD_REQUEST);
    assert_int_equal(res.kind, WDTS_API_KIND_ANSWER_TOO_LARGE);
    opts.max_answer_bytes = 0; /* default cap: the same answer is fine */
    assert_int_equal(wdts_api_call_blocking(&creds, gw, &call, &opts, &res, NULL, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(res.cls, WDTS_API_OK);
    free(gw);

    /* A request that cannot be built is an error, not a result. */
    call.params_json = "{";
    assert_int_equal(wdts_api_call_blocking(&creds, "http://127.0.0.1:9", &call, &opts, &res, NULL,
                                            es, sizeof(es)),
                     WDTS_ERR_INVAL);
    wdts_api_result_deinit(&res);
    wdts_api_creds_deinit(&creds);
}

/* Many prepared transfers in flight on one curl multi handle, as the worker runs them. */
static void test_many_transfers_on_one_multi_loop(void **state)
{
    (void)state;
    enum { N = 24 };
    static const char *const paths[] = {"/ok", "/perm", "/http500"};
    static const enum wdts_api_class want[] = {WDTS_API_OK, WDTS_API_PERMISSION, WDTS_API_TRANSIENT};
    struct wdts_api_creds creds;
    char es[256];
    int got[WDTS_API_CLASS__COUNT] = {0};
    assert_int_equal(wdts_api_creds_init(&creds, "seller42", "appkey7", V1_APPSECRET, es, sizeof(es)),
                     WDTS_OK);
    CURLM *multi = curl_multi_init();
    struct wdts_api_http_opts opts = {.timeout_ms = 30000, .connection_close = 1};
    char *gws[3];
    for (int p = 0; p < 3; p++)
        gws[p] = url_of(paths[p]);
    for (int i = 0; i < N; i++) {
        struct wdts_api_request req;
        struct wdts_api_call call = {.method = "sales.TradeQuery.queryWithDetail", .paged = 1,
                                     .page_no = i, .page_size = 100, .now = 1700000000};
        assert_int_equal(wdts_api_request_build(&creds, gws[i % 3], &call, &req, es, sizeof(es)),
                         WDTS_OK);
        struct wdts_api_xfer *x = wdts_api_xfer_new(&req, &opts, es, sizeof(es));
        assert_non_null(x);
        assert_null(req.url); /* ownership moved into the transfer */
        assert_int_equal(curl_multi_add_handle(multi, wdts_api_xfer_easy(x)), CURLM_OK);
    }
    int running = 1, done = 0;
    while (running || done < N) {
        assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct wdts_api_xfer *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            assert_non_null(x);
            curl_multi_remove_handle(multi, msg->easy_handle);
            wdts_api_xfer_done(x, msg->data.result);
            struct wdts_api_result res;
            wdts_api_result_init(&res);
            struct wdts_api_ctx ctx = {WDTS_API_APP_WDT, "sales.TradeQuery.queryWithDetail",
                                       "seller42", "appkey7", NULL};
            wdts_api_xfer_finish(x, &ctx, &creds, &res);
            got[res.cls]++;
            wdts_api_result_deinit(&res);
            wdts_api_xfer_destroy(x);
            done++;
        }
        if (running)
            assert_int_equal(curl_multi_poll(multi, NULL, 0, 1000, NULL), CURLM_OK);
    }
    for (int p = 0; p < 3; p++) {
        assert_int_equal(got[want[p]], N / 3);
        free(gws[p]);
    }
    curl_multi_cleanup(multi);
    wdts_api_creds_deinit(&creds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dry_run_reproduces_v1_v2),
        cmocka_unit_test(test_dry_run_qimen_v3),
        cmocka_unit_test(test_secrets_from_stdin_and_files),
        cmocka_unit_test(test_bad_inputs_exit_64),
        cmocka_unit_test(test_unreachable_gateway_is_transient),
        cmocka_unit_test(test_answers_are_classified),
        cmocka_unit_test(test_sent_bytes_equal_dry_run),
        cmocka_unit_test(test_library_blocking_call),
        cmocka_unit_test(test_many_transfers_on_one_multi_loop),
    };
    return cmocka_run_group_tests(tests, start_responder, stop_responder);
}
