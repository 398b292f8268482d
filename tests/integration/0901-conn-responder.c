/* `wdtctl connection add|check` against an in-process libmicrohttpd gateway that checks
 * the flagship signature with wdts/sign.h and answers per sid the refusals wdt-sandbox
 * does not simulate: IP whitelist (ip限制), dynamic password (需要动态口令), an app that
 * is not online (app auth fail), a gateway that fails twice then answers (the retries
 * store the connection), one that always fails (unreachable: nothing stored), a seller
 * always over its rate limit (its cooldown is shared), per-method refusals that block
 * single reports (权限不足, ERP warehouse rights, Qimen-only methods) while the others
 * work, and `check` through an outage (state kept) and an IP refusal (auth_failed). */
#include "wdts_test.h"
#include "wdts_test_http.h"
#include "wdts_test_redis.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/sign.h"
#include "wdts/str.h"

#define RSECRET "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
#define RSALT "r-salt"
#define MAX_ARGS 48

static struct wdts_test_responder *responder;
static char gw[128], prefix[80];
static struct wdts_redis *redis;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int flaky_calls, total_calls, bad_signatures;
/* What "toggle-shop" answers: 0 ok, 1 HTTP 503, 2 ip限制. */
static int toggle_mode;

struct args {
    struct wdts_param v[32];
    size_t n;
    const char *sid, *method, *sign;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    struct args *a = cls;
    if (strcmp(key, "sid") == 0)
        a->sid = value;
    if (strcmp(key, "method") == 0)
        a->method = value;
    if (strcmp(key, "sign") == 0) {
        a->sign = value;
        return MHD_YES;
    }
    if (a->n < 31)
        a->v[a->n++] = (struct wdts_param){key, value ? value : ""};
    return MHD_YES;
}

/* The answer for one verified call: by sid, then by method. */
static const char *answer(const char *sid, const char *method, unsigned *http)
{
    static const char ok[] = "{\"status\":0,\"data\":{\"total_count\":0,\"order\":[]}}";
    *http = 200;
    if (strcmp(sid, "ip-shop") == 0)
        return "{\"status\":6,\"message\":\"ip限制\"}";
    if (strcmp(sid, "otp-shop") == 0)
        return "{\"status\":3,\"message\":\"需要动态口令\"}";
    if (strcmp(sid, "offline-shop") == 0)
        return "{\"status\":1,\"message\":\"app auth fail\"}";
    if (strcmp(sid, "busy-shop") == 0)
        return "{\"status\":100,\"message\":\"超过每分钟最大调用频率限制，请稍后重试\"}";
    if (strcmp(sid, "down-shop") == 0) {
        *http = 502;
        return "<html>502 Bad Gateway</html>";
    }
    if (strcmp(sid, "flaky-shop") == 0) {
        pthread_mutex_lock(&lock);
        int n = ++flaky_calls;
        pthread_mutex_unlock(&lock);
        if (n <= 2) {
            *http = 500;
            return "Internal Server Error";
        }
        return ok;
    }
    if (strcmp(sid, "perm-shop") == 0) {
        if (strcmp(method, "sales.TradeQuery.queryWithDetail") == 0)
            return "{\"status\":100,\"message\":\"权限不足\"}";
        if (strcmp(method, "wms.StockSpec.search2") == 0)
            return "{\"status\":100,\"code\":\"right.required\",\"message\":\"无该仓库权限\"}";
        if (strcmp(method, "wms.StockSpec.queryChangeHistory") == 0)
            return "{\"status\":100,\"message\":\"The API used internal only: "
                   "wms.StockSpec.queryChangeHistory\"}";
        if (strcmp(method, "sales.RawTrade.searchHistory") == 0)
            return "{\"status\":100,\"message\":\"权限不足\"}";
        return ok;
    }
    if (strcmp(sid, "toggle-shop") == 0) {
        pthread_mutex_lock(&lock);
        int mode = toggle_mode;
        pthread_mutex_unlock(&lock);
        if (mode == 1) {
            *http = 503;
            return "Service Unavailable";
        }
        return mode == 2 ? "{\"status\":6,\"message\":\"ip限制\"}" : ok;
    }
    if (strcmp(sid, "ok-shop") == 0)
        return ok;
    return "{\"status\":1,\"message\":\"sid is not exists\"}";
}

/* The gateway: checks the flagship signature, then answers by sid and method. */
static struct MHD_Response *on_request(void *opaque, struct MHD_Connection *conn,
                                       const char *url, const char *body, unsigned *status)
{
    (void)opaque;
    (void)url;
    struct args a;
    memset(&a, 0, sizeof(a));
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect, &a);
    a.v[a.n++] = (struct wdts_param){"body", body};
    char want[WDTS_SIGN_MD5_LEN];
    wdts_sign_wdt(RSECRET, a.v, a.n, want);
    const char *text;
    *status = 200;
    pthread_mutex_lock(&lock);
    total_calls++;
    pthread_mutex_unlock(&lock);
    if (a.sign == NULL || strcmp(a.sign, want) != 0) {
        pthread_mutex_lock(&lock);
        bad_signatures++;
        pthread_mutex_unlock(&lock);
        text = "{\"status\":1,\"message\":\"验证失败\"}";
    } else {
        text = answer(a.sid ? a.sid : "", a.method ? a.method : "", status);
    }
    return MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
}

static int setup(void **state)
{
    (void)state;
    char es[256];
    if (wdts_test_store_env("resp", prefix, sizeof(prefix)) != 0)
        return -1;
    if ((redis = wdts_test_redis_connect(NULL, NULL, es, sizeof(es))) == NULL)
        return -1;
    if ((responder = wdts_test_responder_start(on_request, NULL)) == NULL)
        return -1;
    snprintf(gw, sizeof(gw), "http://127.0.0.1:%u/openapi",
             (unsigned)wdts_test_responder_port(responder));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wdts_test_responder_stop(responder);
    wdts_redis_destroy(redis);
    return 0;
}

/* Runs `wdtctl connection add` for sid with the id "c-<sid>"; extra args after it. */
static void add(struct wdts_test_run *run, const char *sid, const char *reports)
{
    char id[64];
    snprintf(id, sizeof(id), "c-%s", sid);
    char *argv[] = {wdts_xstrdup(wdts_test_bin("wdtctl")), "connection", "add", "--tenant", "t9",
                    "--id", id, "--app", "wdt", "--sid", (char *)sid, "--appkey", "k9",
                    "--appsecret", RSECRET ":" RSALT, "--gateway", gw, "--rate", "50",
                    "--reports", (char *)reports, NULL};
    assert_int_equal(wdts_test_run(argv, NULL, 120, run), 0);
    free(argv[0]);
    assert_null(strstr(run->out, RSECRET));
    assert_null(strstr(run->err, RSECRET));
}

static long long stored(const char *sid)
{
    struct wdts_buf k;
    char id[64];
    long long v = -1;
    snprintf(id, sizeof(id), "c-%s", sid);
    wdts_buf_init(&k);
    const char *c[] = {"EXISTS", wdts_redis_key(&k, prefix, "conn", id, NULL)};
    assert_int_equal(wdts_redis_command_int(redis, 2, c, NULL, &v), WDTS_OK);
    wdts_buf_deinit(&k);
    return v;
}

static void test_refusals_store_nothing(void **state)
{
    (void)state;
    static const struct {
        const char *sid;
        int status;
        const char *what, *fix;
    } cases[] = {
        {"ip-shop", 5, "IP not on the whitelist (ip限制)", "IP whitelist"},
        {"otp-shop", 5, "dynamic password required (需要动态口令)", "disable the dynamic password"},
        {"offline-shop", 5, "app not authorised or not online (app auth fail)",
         "The WDT app must be online"},
        {"nobody-shop", 5, "unknown sid or wrong gateway", "check the seller account"},
        {"down-shop", 2, "gateway unreachable or failing", "after 3 tries"},
        {"busy-shop", 3, "rate limited", "is cooling down"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct wdts_test_run run;
        add(&run, cases[i].sid, "trades,shops");
        if (run.status != cases[i].status || strstr(run.err, "was NOT stored") == NULL ||
            strstr(run.err, cases[i].what) == NULL || strstr(run.err, cases[i].fix) == NULL)
            fail_msg("%s: exit %d (want %d)\nstdout: %s\nstderr: %s", cases[i].sid, run.status,
                     cases[i].status, run.out, run.err);
        wdts_test_run_free(&run);
        assert_int_equal(stored(cases[i].sid), 0);
    }
    /* Every request carried a signature the gateway verified. */
    assert_int_equal(bad_signatures, 0);

    /* busy-shop's rate-limit answer set the seller's shared cooldown (wdts/limit.h): a
     * second add waits for nobody and sends nothing. */
    struct wdts_test_run run;
    int before = total_calls;
    add(&run, "busy-shop", "trades");
    if (run.status != 3 || strstr(run.err, "is cooling down") == NULL)
        fail_msg("exit %d\nstdout: %s\nstderr: %s", run.status, run.out, run.err);
    wdts_test_run_free(&run);
    assert_int_equal(total_calls, before);
}

static void test_wrong_secret_is_caught_by_the_signature(void **state)
{
    (void)state;
    char *argv[] = {wdts_xstrdup(wdts_test_bin("wdtctl")), "connection", "add", "--tenant", "t9",
                    "--id", "c-wrong", "--app", "wdt", "--sid", "ok-shop", "--appkey", "k9",
                    "--appsecret", "another-secret:" RSALT, "--gateway", gw, NULL};
    struct wdts_test_run run;
    int before = bad_signatures;
    assert_int_equal(wdts_test_run(argv, NULL, 120, &run), 0);
    free(argv[0]);
    if (run.status != 5 || strstr(run.err, "验证失败") == NULL)
        fail_msg("exit %d\nstdout: %s\nstderr: %s", run.status, run.out, run.err);
    assert_null(strstr(run.err, "another-secret"));
    assert_true(bad_signatures > before);
    wdts_test_run_free(&run);
    assert_int_equal(stored("wrong"), 0);
}

static void test_retries_ride_out_a_flaky_gateway(void **state)
{
    (void)state;
    struct wdts_test_run run;
    add(&run, "flaky-shop", "trades");
    if (run.status != 0 || strstr(run.out, "stored: 1 report ok") == NULL)
        fail_msg("exit %d\nstdout: %s\nstderr: %s", run.status, run.out, run.err);
    wdts_test_run_free(&run);
    assert_int_equal(flaky_calls, 5); /* shops: 500, 500, ok; trades: ok; its history: ok */
    assert_int_equal(stored("flaky-shop"), 1);
}

static void test_single_reports_blocked_with_their_fix(void **state)
{
    (void)state;
    struct wdts_test_run run;
    add(&run, "perm-shop", "trades,stockouts,raw_trades,report:stock,stock_changes,shops");
    if (run.status != 0 || strstr(run.out, "stored: 3 reports ok, 3 blocked") == NULL)
        fail_msg("exit %d\nstdout: %s\nstderr: %s", run.status, run.out, run.err);
    static const char *const want[] = {
        "trades             sales.TradeQuery.queryWithDetail             blocked: 权限不足",
        "approved for sid perm-shop",
        "stock              wms.StockSpec.search2                        blocked: 无该仓库权限",
        "设置 → 安全设置 → 员工权限",
        "blocked: The API used internal only",
        "through a Qimen connection",
        "stockouts          wms.stockout.Sales.queryWithDetail           ok",
        "raw_trades         sales.RawTrade.search                        ok",
        /* its history (历史) method is refused: the report is stored ok, with the cost */
        "  (history)        sales.RawTrade.searchHistory                 refused: 权限不足",
        "windows older than the archive horizon (90d) fail",
        "1 report may not call its history (历史) method",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(run.out, want[i]) == NULL)
            fail_msg("want '%s' in:\n%s", want[i], run.out);
    wdts_test_run_free(&run);

    /* The stored state says the same, for the scheduler to skip them. */
    struct wdts_buf k;
    wdts_buf_init(&k);
    const char *c[] = {"HKEYS", wdts_redis_key(&k, prefix, "connstate", "c-perm-shop", NULL)};
    struct wdts_redis_reply *r = NULL;
    assert_int_equal(wdts_redis_command(redis, 2, c, NULL, &r), WDTS_OK);
    size_t blocked = 0, history = 0;
    for (size_t i = 0; i < wdts_redis_reply_count(r); i++) {
        const char *f = wdts_redis_reply_str(wdts_redis_reply_elem(r, i), NULL);
        blocked += wdts_str_has_prefix(f, "report:");
        history += strcmp(f, "history:raw_trades") == 0;
    }
    assert_int_equal(blocked, 3);
    assert_int_equal(history, 1);
    wdts_redis_reply_free(r);
    wdts_buf_deinit(&k);
}

/* Runs `wdtctl connection check --id c-<sid>`. */
static void check(struct wdts_test_run *run, const char *sid)
{
    char id[64];
    snprintf(id, sizeof(id), "c-%s", sid);
    char *argv[] = {wdts_xstrdup(wdts_test_bin("wdtctl")), "connection", "check", "--id", id, NULL};
    assert_int_equal(wdts_test_run(argv, NULL, 120, run), 0);
    free(argv[0]);
    assert_null(strstr(run->out, RSECRET));
    assert_null(strstr(run->err, RSECRET));
}

static long long auth_marked(const char *sid)
{
    struct wdts_buf k;
    char id[64];
    long long v = -1;
    snprintf(id, sizeof(id), "c-%s", sid);
    wdts_buf_init(&k);
    const char *c[] = {"HEXISTS", wdts_redis_key(&k, prefix, "connstate", id, NULL), "auth"};
    assert_int_equal(wdts_redis_command_int(redis, 3, c, NULL, &v), WDTS_OK);
    wdts_buf_deinit(&k);
    return v;
}

static void test_check_outages_and_refusals(void **state)
{
    (void)state;
    struct wdts_test_run run;
    toggle_mode = 0;
    add(&run, "toggle-shop", "trades");
    if (run.status != 0)
        fail_msg("exit %d\nstdout: %s\nstderr: %s", run.status, run.out, run.err);
    wdts_test_run_free(&run);

    /* An outage teaches nothing about the credentials: state left as it was. */
    pthread_mutex_lock(&lock);
    toggle_mode = 1;
    pthread_mutex_unlock(&lock);
    check(&run, "toggle-shop");
    if (run.status != 2 || strstr(run.out, "could not check") == NULL ||
        strstr(run.out, "state left as it was") == NULL)
        fail_msg("exit %d\nstdout: %s\nstderr: %s", run.status, run.out, run.err);
    wdts_test_run_free(&run);
    assert_int_equal(auth_marked("toggle-shop"), 0);

    /* The whitelist drops this machine: auth_failed with the IP fix. */
    pthread_mutex_lock(&lock);
    toggle_mode = 2;
    pthread_mutex_unlock(&lock);
    check(&run, "toggle-shop");
    if (run.status != 5 || strstr(run.out, "IP not on the whitelist (ip限制)") == NULL ||
        strstr(run.out, "marked auth_failed") == NULL)
        fail_msg("exit %d\nstdout: %s\nstderr: %s", run.status, run.out, run.err);
    wdts_test_run_free(&run);
    assert_int_equal(auth_marked("toggle-shop"), 1);

    /* An outage now leaves auth_failed alone; the fix clears it. */
    pthread_mutex_lock(&lock);
    toggle_mode = 1;
    pthread_mutex_unlock(&lock);
    check(&run, "toggle-shop");
    assert_int_equal(run.status, 2);
    wdts_test_run_free(&run);
    assert_int_equal(auth_marked("toggle-shop"), 1);
    pthread_mutex_lock(&lock);
    toggle_mode = 0;
    pthread_mutex_unlock(&lock);
    check(&run, "toggle-shop");
    if (run.status != 0 || strstr(run.out, "credentials work again") == NULL)
        fail_msg("exit %d\nstdout: %s\nstderr: %s", run.status, run.out, run.err);
    wdts_test_run_free(&run);
    assert_int_equal(auth_marked("toggle-shop"), 0);
}

static void test_cleanup(void **state)
{
    (void)state;
    static const char *const ids[] = {"c-flaky-shop", "c-perm-shop", "c-toggle-shop"};
    for (size_t i = 0; i < 3; i++) {
        char *argv[] = {wdts_xstrdup(wdts_test_bin("wdtctl")), "connection", "remove", "--id",
                        (char *)ids[i], NULL};
        struct wdts_test_run run;
        assert_int_equal(wdts_test_run(argv, NULL, 60, &run), 0);
        free(argv[0]);
        assert_int_equal(run.status, 0);
        wdts_test_run_free(&run);
    }
    assert_int_equal(stored("flaky-shop"), 0);
    assert_int_equal(stored("perm-shop"), 0);
    assert_int_equal(stored("toggle-shop"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals_store_nothing),
        cmocka_unit_test(test_wrong_secret_is_caught_by_the_signature),
        cmocka_unit_test(test_retries_ride_out_a_flaky_gateway),
        cmocka_unit_test(test_single_reports_blocked_with_their_fix),
        cmocka_unit_test(test_check_outages_and_refusals),
        cmocka_unit_test(test_cleanup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
