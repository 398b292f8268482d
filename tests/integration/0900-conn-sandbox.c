/* `wdtctl connection` against wdt-sandbox and the real Redis: add with good credentials
 * stores the connection and prints the permission table with a blocked row for the
 * interface the tenant may not call; each kind of bad credential (wrong secret, wrong sid,
 * wrong gateway, unreachable gateway, Qimen without a Qimen app, wrong Qimen secret,
 * missing platform app, clock skew, no interface approved) stores nothing and prints its
 * own fix; list and show never print a secret and no Redis value holds one in clear;
 * check returns a report to service once the sandbox grants it, marks a connection
 * auth_failed when its secret stops working and ok again after; remove deletes every key
 * of the connection and nothing else. The sandbox is restarted on the same port with
 * another tenants file to change permissions and secrets, as a seller would. */
#include "wdts_test_sandbox.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdts/catalog.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/watermark.h"
#include "wdts_test.h"
#include "wdts_test_redis.h"

#define SECRET_A "a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define SALT_A "salt-of-a"
#define SECRET_Q "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
#define SALT_Q "salt-of-q"
#define QM_SECRET "qimen-app-secret-5a5a5a5a"
#define PLATFORM_SECRET "platform-qimen-secret-77"
#define REFUNDS_METHOD "aftersales.refund.Refund.search"

static struct sbx_proc sbx, sbx_skewed;
static char dir[256], gw[128], gw_qimen[128], gw_skewed[128], prefix[80];
static struct wdts_redis *redis;
static struct wdts_catalog *cat;

/* ---- the sandbox's tenants ---------------------------------------------------------- */

/* Writes the tenants file: conn-a (direct; every catalog method, refunds only if
 * grant_refunds; its appsecret's secret part is secret_a), conn-q (with a Qimen app),
 * conn-noq (without one), and the operator's platform app granted on conn-p. */
static void write_tenants(const char *path, int grant_refunds, const char *secret_a)
{
    json_t *perms = json_array();
    for (size_t i = 0; i < wdts_catalog_count(cat); i++) {
        const char *m = wdts_catalog_at(cat, i)->method;
        if (grant_refunds || strcmp(m, REFUNDS_METHOD) != 0)
            json_array_append_new(perms, json_string(m));
        /* the history (历史) methods come with the approval of refunds */
        const char *h = wdts_catalog_at(cat, i)->history_method;
        if (grant_refunds && h && *h)
            json_array_append_new(perms, json_string(h));
    }
    char *appsecret_a = wdts_xasprintf("%s:%s", secret_a, SALT_A);
    json_t *t = json_pack("[{s:s,s:s,s:s,s:o},{s:s,s:s,s:s,s:s,s:s},{s:s,s:s,s:s},"
                          "{s:s,s:s,s:s,s:s,s:s}]",
                          "sid", "conn-a", "appkey", "key-a", "appsecret", appsecret_a,
                          "permissions", perms,
                          "sid", "conn-q", "appkey", "key-q", "appsecret", SECRET_Q ":" SALT_Q,
                          "qimen_app_key", "qm-key", "qimen_app_secret", QM_SECRET,
                          "sid", "conn-noq", "appkey", "key-n", "appsecret", "noq-secret:noq-salt",
                          "sid", "conn-p", "appkey", "key-p", "appsecret", "p-secret:p-salt",
                          "qimen_app_key", "platform-key", "qimen_app_secret", PLATFORM_SECRET);
    assert_non_null(t);
    assert_int_equal(json_dump_file(t, path, 0), 0);
    json_decref(t);
    free(appsecret_a);
}

/* (Re)starts the sandbox with tenants on port (0 = a free one). */
/* skew_s: how far the gateway's clock is off the real clock ("0" = in step). */
static void start_sandbox(struct sbx_proc *p, int port, const char *tenants, const char *skew_s)
{
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    const char *args[] = {"--listen",         listen, "--tenants", tenants,
                          "--timestamp-skew", skew_s, NULL};
    for (int attempt = 0; attempt < 50; attempt++) { /* the old one may still hold the port */
        if (sbx_start(p, args) == 0)
            return;
        usleep(100000);
    }
    fail_msg("wdt-sandbox did not start on %s", listen);
}

static void restart_sandbox(int grant_refunds, const char *secret_a)
{
    char path[320];
    int port = sbx.port;
    snprintf(path, sizeof(path), "%s/tenants-%d-%s.json", dir, grant_refunds, secret_a);
    write_tenants(path, grant_refunds, secret_a);
    assert_int_equal(sbx_stop(&sbx, 10000), 0);
    start_sandbox(&sbx, port, path, "0");
    assert_int_equal(sbx.port, port);
}

/* ---- running wdtctl --------------------------------------------------------------- */

/* Fails when text holds a secret of the test in clear. */
static void assert_no_secret(const char *what, const char *text)
{
    static const char *const secrets[] = {SECRET_A, SECRET_Q, QM_SECRET, PLATFORM_SECRET,
                                          SECRET_A ":" SALT_A, NULL};
    for (size_t i = 0; secrets[i]; i++)
        if (strstr(text, secrets[i]) != NULL)
            fail_msg("%s holds a secret in clear:\n%s", what, text);
}

static void ctlv_in(struct wdts_test_run *run, const char *const *args, const char *stdin_text)
{
    wdts_test_run_bin("wdtctl", args, stdin_text, 120, run);
    assert_no_secret("stdout", run->out);
    assert_no_secret("stderr", run->err);
}

static void ctlv(struct wdts_test_run *run, const char *const *args)
{
    ctlv_in(run, args, NULL);
}

#define CTL(run, ...) ctlv((run), (const char *const[]){__VA_ARGS__, NULL})

/* ---- Redis ------------------------------------------------------------------------- */

static char *key_of(const char *a, const char *b)
{
    struct wdts_buf k;
    wdts_buf_init(&k);
    wdts_redis_key(&k, prefix, a, b, NULL);
    return wdts_buf_steal(&k);
}

/* Every key under the test prefix and every value in it, as text. @owner free(). */
static char *redis_dump(size_t *nkeys)
{
    struct wdts_buf out, pat;
    wdts_buf_init(&out);
    wdts_buf_init(&pat);
    wdts_buf_printf(&pat, "%s*", prefix);
    char cursor[32] = "0";
    *nkeys = 0;
    do {
        struct wdts_redis_reply *r = NULL;
        const char *scan[] = {"SCAN", cursor, "MATCH", wdts_buf_str(&pat), "COUNT", "1000"};
        assert_int_equal(wdts_redis_command(redis, 6, scan, NULL, &r), WDTS_OK);
        wdts_strlcpy(cursor, wdts_redis_reply_str(wdts_redis_reply_elem(r, 0), NULL),
                     sizeof(cursor));
        const struct wdts_redis_reply *keys = wdts_redis_reply_elem(r, 1);
        for (size_t i = 0; i < wdts_redis_reply_count(keys); i++) {
            const char *key = wdts_redis_reply_str(wdts_redis_reply_elem(keys, i), NULL);
            char *type = NULL;
            const char *t[] = {"TYPE", key};
            assert_int_equal(wdts_redis_command_str(redis, 2, t, NULL, &type, NULL), WDTS_OK);
            const char *cmd = strcmp(type, "string") == 0 ? "GET"
                              : strcmp(type, "hash") == 0 ? "HGETALL"
                              : strcmp(type, "set") == 0  ? "SMEMBERS"
                                                          : NULL;
            wdts_buf_printf(&out, "%s (%s):", key, type);
            free(type);
            (*nkeys)++;
            if (cmd == NULL)
                continue;
            struct wdts_redis_reply *v = NULL;
            const char *c[] = {cmd, key};
            assert_int_equal(wdts_redis_command(redis, 2, c, NULL, &v), WDTS_OK);
            if (wdts_redis_reply_type(v) == WDTS_REDIS_STR) {
                wdts_buf_printf(&out, " %s", wdts_redis_reply_str(v, NULL));
            } else {
                for (size_t j = 0; j < wdts_redis_reply_count(v); j++)
                    wdts_buf_printf(&out, " %s",
                                    wdts_redis_reply_str(wdts_redis_reply_elem(v, j), NULL));
            }
            wdts_buf_append_str(&out, "\n");
            wdts_redis_reply_free(v);
        }
        wdts_redis_reply_free(r);
    } while (strcmp(cursor, "0") != 0);
    wdts_buf_deinit(&pat);
    return wdts_buf_steal(&out);
}

/* Fails unless nothing at all is stored for connection id: no member of the set, no key
 * <prefix><kind>:<id>[:…]. */
static void assert_nothing_stored(const char *id)
{
    size_t n;
    char *all = redis_dump(&n);
    char *set = key_of("conns", NULL);
    const char *sm[] = {"SISMEMBER", set, id};
    long long member = 1;
    assert_int_equal(wdts_redis_command_int(redis, 3, sm, NULL, &member), WDTS_OK);
    int found = (int)member;
    /* redis_dump writes one "key (type): values" line per key. */
    for (const char *line = all; *line && !found;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *sp = memchr(line, ' ', len);
        size_t klen = sp ? (size_t)(sp - line) : len;
        const char *kind_end = memchr(line + strlen(prefix), ':', klen - strlen(prefix));
        size_t il = strlen(id);
        /* <kind>:<id>… or a script key hash-tagged on it, <kind>:{<id>:…}… */
        if (kind_end && kind_end[1] == '{')
            kind_end++;
        if (kind_end && (size_t)(line + klen - kind_end - 1) >= il &&
            strncmp(kind_end + 1, id, il) == 0 &&
            (kind_end + 1 + il == line + klen || kind_end[1 + il] == ':' ||
             kind_end[1 + il] == '}'))
            found = 1;
        line = end ? end + 1 : line + len;
    }
    if (found)
        fail_msg("something was stored for %s:\n%s", id, all);
    free(set);
    free(all);
}

static long long hexists(const char *key, const char *field)
{
    long long v = -1;
    const char *c[] = {"HEXISTS", key, field};
    assert_int_equal(wdts_redis_command_int(redis, 3, c, NULL, &v), WDTS_OK);
    return v;
}

/* ---- setup --------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    char es[512];
    if (wdts_test_store_env("conn", prefix, sizeof(prefix)) != 0)
        return -1;
    unsetenv("WDT_QIMEN_APP_KEY");
    unsetenv("WDT_QIMEN_APP_SECRET");

    if ((redis = wdts_test_redis_connect(NULL, NULL, es, sizeof(es))) == NULL) {
        fprintf(stderr, "redis: %s\n", es);
        return -1;
    }
    if ((cat = wdts_catalog_new(NULL, es, sizeof(es))) == NULL)
        return -1;
    snprintf(dir, sizeof(dir), "/tmp/conn-test.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    char path[320];
    snprintf(path, sizeof(path), "%s/tenants.json", dir);
    write_tenants(path, 0, SECRET_A);
    start_sandbox(&sbx, 0, path, "0");
    /* A second gateway whose clock is 10 minutes behind: every request looks skewed. */
    start_sandbox(&sbx_skewed, 0, path, "-600");
    snprintf(gw, sizeof(gw), "%s/openapi", sbx.base);
    snprintf(gw_qimen, sizeof(gw_qimen), "%s/router/qm", sbx.base);
    snprintf(gw_skewed, sizeof(gw_skewed), "%s/openapi", sbx_skewed.base);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sbx_stop(&sbx, 10000);
    sbx_stop(&sbx_skewed, 10000);
    if (redis) {
        size_t n;
        char *all = redis_dump(&n); /* what is left is the other connections' keys */
        free(all);
    }
    wdts_redis_destroy(redis);
    wdts_catalog_destroy(cat);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)!system(cmd);
    return 0;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_usage_and_config_errors(void **state)
{
    (void)state;
    struct wdts_test_run run;
    CTL(&run, "connection", "--help");
    wdts_test_expect_run(&run, 0, "add", NULL);
    wdts_test_run_free(&run);
    CTL(&run, "connection", "add", "--help");
    wdts_test_expect_run(&run, 0, "--appsecret-file", NULL);
    wdts_test_run_free(&run);
    static const char *const subs[] = {"list", "show", "remove", "check"};
    for (size_t i = 0; i < 4; i++) {
        CTL(&run, "connection", subs[i], "--help");
        wdts_test_expect_run(&run, 0, "usage: wdtctl connection", NULL);
        wdts_test_run_free(&run);
        CTL(&run, "connection", subs[i], "--bogus");
        wdts_test_expect_run(&run, 64, NULL, "unknown option '--bogus'");
        wdts_test_run_free(&run);
    }
    CTL(&run, "connection", "frobnicate");
    wdts_test_expect_run(&run, 64, NULL, "unknown subcommand");
    wdts_test_run_free(&run);
    CTL(&run, "connection", "add", "--tenant", "t", "--id", "x", "--app", "wdt", "--appkey", "k",
        "--appsecret", "s:t");
    wdts_test_expect_run(&run, 64, NULL, "--sid is required");
    wdts_test_run_free(&run);
    CTL(&run, "connection", "add", "--tenant", "t", "--id", "x", "--app", "erp", "--sid", "s",
        "--appkey", "k", "--appsecret", "s:t");
    wdts_test_expect_run(&run, 64, NULL, "--app must be wdt or qimen");
    wdts_test_run_free(&run);
    CTL(&run, "connection", "add", "--tenant", "t", "--id", "x", "--app", "qimen", "--sid", "s",
        "--appkey", "k", "--appsecret", "s:t");
    wdts_test_expect_run(&run, 64, NULL, "needs a Qimen app");
    wdts_test_run_free(&run);
    CTL(&run, "connection", "add", "--tenant", "t", "--id", "x", "--app", "wdt", "--sid", "s",
        "--appkey", "k", "--appsecret", "s:t", "--reports", "trades,nope");
    wdts_test_expect_run(&run, 64, NULL, "unknown report or group 'nope'");
    wdts_test_run_free(&run);
    CTL(&run, "connection", "add", "--tenant", "t", "--id", "x", "--app", "wdt", "--sid", "s",
        "--appkey", "k", "--appsecret", "nocolon");
    wdts_test_expect_run(&run, 64, NULL, "secret:salt");
    wdts_test_run_free(&run);
    CTL(&run, "connection", "add", "--tenant", "t", "--id", "x:y", "--app", "wdt", "--sid", "s",
        "--appkey", "k", "--appsecret", "s:t", "--rate", "0", "--pii", "keep");
    wdts_test_expect_run(&run, 64, NULL, "--rate must be");
    wdts_test_run_free(&run);
    CTL(&run, "connection", "add", "--tenant", "t", "--id", "x:y", "--app", "wdt", "--sid", "s",
        "--appkey", "k", "--appsecret", "s:t");
    wdts_test_expect_run(&run, 64, NULL, "id:");
    wdts_test_run_free(&run);
    CTL(&run, "connection", "show");
    wdts_test_expect_run(&run, 64, NULL, "--id is required");
    wdts_test_run_free(&run);

    /* Config: add and check need the secret key; a malformed one is named. */
    char *keep = wdts_xstrdup(getenv("WDT_SECRET_KEY"));
    unsetenv("WDT_SECRET_KEY");
    CTL(&run, "connection", "add", "--tenant", "t", "--id", "x", "--app", "wdt", "--sid", "s",
        "--appkey", "k", "--appsecret", "s:t", "--gateway", gw);
    wdts_test_expect_run(&run, 78, NULL, "secret.key");
    wdts_test_run_free(&run);
    CTL(&run, "connection", "check");
    wdts_test_expect_run(&run, 78, NULL, "secret.key");
    wdts_test_run_free(&run);
    CTL(&run, "connection", "list"); /* no secret needed to list */
    wdts_test_expect_run(&run, 0, "ID", NULL);
    wdts_test_run_free(&run);
    setenv("WDT_SECRET_KEY", "not-a-key", 1);
    CTL(&run, "connection", "list");
    wdts_test_expect_run(&run, 78, NULL, "secret.key");
    wdts_test_run_free(&run);
    /* The key from a mounted file: accepted (check then only misses the connection). */
    char path[320];
    snprintf(path, sizeof(path), "%s/secret.key", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", keep);
    fclose(f);
    unsetenv("WDT_SECRET_KEY");
    setenv("WDT_SECRET_KEY_FILE", path, 1);
    CTL(&run, "connection", "check", "--id", "nobody");
    wdts_test_expect_run(&run, 1, NULL, "no connection with id nobody");
    wdts_test_run_free(&run);
    unsetenv("WDT_SECRET_KEY_FILE");
    setenv("WDT_SECRET_KEY", keep, 1);
    free(keep);
    assert_nothing_stored("x");
}

static void test_add_good_credentials(void **state)
{
    (void)state;
    struct wdts_test_run run;
    char path[320];
    snprintf(path, sizeof(path), "%s/appsecret", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(SECRET_A ":" SALT_A "\n", f);
    fclose(f);
    CTL(&run, "connection", "add", "--tenant", "acme", "--id", "acme-wdt", "--app", "wdt", "--sid",
        "conn-a", "--appkey", "key-a", "--appsecret-file", path, "--gateway", gw, "--rate", "50",
        "--pii", "hash", "--backfill", "30d", "--archive-horizon", "60d", "--archive-read", "old");
    /* M1: the loopback sandbox is plain http, which add warns about. */
    /* every report of the catalog but refunds is ok; refunds is blocked */
    size_t n = wdts_catalog_count(cat), with_history = 0;
    assert_true(n >= 45); /* the counts below come from the catalog: it must hold every report */
    for (size_t i = 0; i < n; i++)
        with_history += wdts_catalog_at(cat, i)->history_method[0] != '\0' &&
                        strcmp(wdts_catalog_at(cat, i)->name, "refunds") != 0;
    char stored[96], refused[96];
    snprintf(stored, sizeof(stored), "connection acme-wdt stored: %zu reports ok, 1 blocked",
             n - 1);
    snprintf(refused, sizeof(refused), "%zu reports may not call their history (历史) method",
             with_history);
    wdts_test_expect_run(&run, 0, stored,
           "warning: connection acme-wdt: the gateway is plain http");
    /* The table: every report with its method, refunds blocked with its reason and fix. */
    assert_non_null(strstr(run.out, "REPORT"));
    assert_non_null(strstr(run.out, "trades             sales.TradeQuery.queryWithDetail"));
    assert_non_null(strstr(run.out, "refunds            " REFUNDS_METHOD));
    assert_non_null(strstr(run.out, "blocked: 权限不足"));
    assert_non_null(strstr(run.out, "开放平台 → 自助对接 → 应用管理"));
    assert_non_null(strstr(run.out, "approved for sid conn-a"));
    assert_non_null(strstr(run.out, "--app qimen")); /* Taobao data needs a qimen connection */
    /* The app may call no history (历史) method: shown under each ok report, not blocking */
    assert_non_null(strstr(run.out, "  (history)        sales.TradeQuery.queryHistoryWithDetail"
                                    "      refused: 权限不足"));
    assert_non_null(strstr(run.out, "windows older than the archive horizon (60d) fail"));
    assert_non_null(strstr(run.out, refused));
    wdts_test_run_free(&run);

    char *doc = key_of("conn", "acme-wdt"), *st = key_of("connstate", "acme-wdt");
    char *json = NULL;
    const char *get[] = {"GET", doc};
    assert_int_equal(wdts_redis_command_str(redis, 2, get, NULL, &json, NULL), WDTS_OK);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"appsecret\":\"v1:"));
    assert_non_null(strstr(json, "\"pii\":\"hash\""));
    assert_non_null(strstr(json, "\"backfill_s\":2592000"));
    assert_non_null(strstr(json, "\"archive_horizon_s\":5184000"));
    assert_non_null(strstr(json, "\"archive_read\":\"old\""));
    assert_int_equal(hexists(st, "history:trades"), 1);
    assert_int_equal(hexists(st, "history:refunds"), 0); /* blocked: its history not asked */
    assert_int_equal(hexists(st, "report:refunds"), 1);
    assert_int_equal(hexists(st, "report:trades"), 0);
    free(json);
    free(doc);
    free(st);

    /* The same id again: refused before any call, nothing changes. */
    CTL(&run, "connection", "add", "--tenant", "acme", "--id", "acme-wdt", "--app", "wdt", "--sid",
        "conn-a", "--appkey", "key-a", "--appsecret", SECRET_A ":" SALT_A, "--gateway", gw);
    wdts_test_expect_run(&run, 1, NULL, "--replace");
    wdts_test_run_free(&run);
    CTL(&run, "connection", "add", "--tenant", "other", "--id", "acme-wdt", "--app", "wdt", "--sid",
        "conn-a", "--appkey", "key-a", "--appsecret", SECRET_A ":" SALT_A, "--gateway", gw,
        "--replace");
    wdts_test_expect_run(&run, 1, NULL, "keeps its tenant");
    wdts_test_run_free(&run);
}

static void test_add_qimen(void **state)
{
    (void)state;
    struct wdts_test_run run;
    /* The Qimen app secret from standard input. */
    ctlv_in(&run,
            (const char *const[]){"connection", "add", "--tenant", "acme", "--id", "acme-tb",
                                  "--app", "qimen", "--sid", "conn-q", "--appkey", "key-q",
                                  "--appsecret", SECRET_Q ":" SALT_Q, "--qimen-app-key", "qm-key",
                                  "--qimen-app-secret-file", "-", "--gateway", gw_qimen, "--rate",
                                  "50", "--reports", "trades,refunds,shops", NULL},
            QM_SECRET "\n");
    wdts_test_expect_run(&run, 0, "connection acme-tb stored: 3 reports ok, 0 blocked", NULL);
    assert_non_null(strstr(run.out, "wdt.sales.tradequery.querywithdetail"));
    wdts_test_run_free(&run);

    /* Platform-provided: refused (78) until the operator configures the Qimen app. */
    CTL(&run, "connection", "add", "--tenant", "acme", "--id", "acme-tb2", "--app", "qimen",
        "--sid", "conn-p", "--appkey", "key-p", "--appsecret", "p-secret:p-salt",
        "--qimen-platform", "--gateway", gw_qimen, "--rate", "50", "--reports", "trades");
    wdts_test_expect_run(&run, 78, NULL, "WDT_QIMEN_APP_KEY");
    wdts_test_run_free(&run);
    assert_nothing_stored("acme-tb2");
    setenv("WDT_QIMEN_APP_KEY", "platform-key", 1);
    setenv("WDT_QIMEN_APP_SECRET", PLATFORM_SECRET, 1);
    CTL(&run, "connection", "add", "--tenant", "acme", "--id", "acme-tb2", "--app", "qimen",
        "--sid", "conn-p", "--appkey", "key-p", "--appsecret", "p-secret:p-salt",
        "--qimen-platform", "--gateway", gw_qimen, "--rate", "50", "--reports", "trades");
    wdts_test_expect_run(&run, 0, "connection acme-tb2 stored: 1 report ok", NULL);
    wdts_test_run_free(&run);
    CTL(&run, "connection", "show", "--id", "acme-tb2");
    wdts_test_expect_run(&run, 0, "platform-provided", NULL);
    assert_non_null(strstr(run.out, "transport      plain http (unencrypted)"));
    wdts_test_run_free(&run);
    unsetenv("WDT_QIMEN_APP_KEY");
    unsetenv("WDT_QIMEN_APP_SECRET");
}

static void test_bad_credentials_store_nothing(void **state)
{
    (void)state;
    struct {
        const char *name;
        const char *args[24];
        int status;
        const char *err_has, *fix_has;
    } cases[] = {
        {"wrong secret",
         {"--app", "wdt", "--sid", "conn-a", "--appkey", "key-a", "--appsecret",
          "00000000000000000000000000000000:" SALT_A, "--gateway", gw, NULL},
         5, "wrong appkey or appsecret (验证失败)", "copy sid, appkey and appsecret again"},
        {"wrong appkey",
         {"--app", "wdt", "--sid", "conn-a", "--appkey", "key-x", "--appsecret",
          SECRET_A ":" SALT_A, "--gateway", gw, NULL},
         5, "验证失败", "开放平台 → 应用管理"},
        {"wrong sid",
         {"--app", "wdt", "--sid", "conn-zzz", "--appkey", "key-a", "--appsecret",
          SECRET_A ":" SALT_A, "--gateway", gw, NULL},
         5, "unknown sid or wrong gateway (sid is not exists)", "is the right environment"},
        {"wrong gateway path",
         {"--app", "wdt", "--sid", "conn-a", "--appkey", "key-a", "--appsecret",
          SECRET_A ":" SALT_A, "--gateway", sbx.base, NULL},
         7, "not a WDT gateway", "was not found"},
        {"unreachable gateway",
         {"--app", "wdt", "--sid", "conn-a", "--appkey", "key-a", "--appsecret",
          SECRET_A ":" SALT_A, "--gateway", "http://127.0.0.1:1/openapi", NULL},
         2, "gateway unreachable", "after 3 tries"},
        {"qimen without a qimen app",
         {"--app", "qimen", "--sid", "conn-noq", "--appkey", "key-n", "--appsecret",
          "noq-secret:noq-salt", "--qimen-app-key", "qm-key", "--qimen-app-secret", QM_SECRET,
          "--gateway", gw_qimen, NULL},
         5, "Qimen app not authorised for this seller (app auth fail)",
         "needs a Qimen (Taobao open platform) app"},
        {"wrong qimen secret",
         {"--app", "qimen", "--sid", "conn-q", "--appkey", "key-q", "--appsecret",
          SECRET_Q ":" SALT_Q, "--qimen-app-key", "qm-key", "--qimen-app-secret",
          "qimen-app-secret-wrong", "--gateway", gw_qimen, NULL},
         5, "wrong Qimen app_secret", "check the Qimen app_secret"},
        {"clock skew",
         {"--app", "wdt", "--sid", "conn-a", "--appkey", "key-a", "--appsecret",
          SECRET_A ":" SALT_A, "--gateway", gw_skewed, NULL},
         4, "clock skew (时间戳错误)", "resync the clock"},
        {"no interface approved",
         {"--app", "wdt", "--sid", "conn-a", "--appkey", "key-a", "--appsecret",
          SECRET_A ":" SALT_A, "--gateway", gw, "--reports", "refunds", NULL},
         6, "may call none of its 1 enabled reports", "开放平台 → 自助对接 → 应用管理"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[40];
        size_t n = 0;
        char id[32];
        snprintf(id, sizeof(id), "bad-%zu", i);
        args[n++] = "connection";
        args[n++] = "add";
        args[n++] = "--tenant";
        args[n++] = "acme";
        args[n++] = "--id";
        args[n++] = id;
        args[n++] = "--rate";
        args[n++] = "50";
        for (size_t j = 0; cases[i].args[j]; j++)
            args[n++] = cases[i].args[j];
        args[n] = NULL;
        struct wdts_test_run run;
        ctlv(&run, args);
        if (run.status != cases[i].status || strstr(run.err, "was NOT stored") == NULL ||
            strstr(run.err, cases[i].err_has) == NULL || strstr(run.err, cases[i].fix_has) == NULL)
            fail_msg("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant: %s / %s", cases[i].name,
                     run.status, cases[i].status, run.out, run.err, cases[i].err_has,
                     cases[i].fix_has);
        wdts_test_run_free(&run);
        assert_nothing_stored(id);
    }
}

static void test_list_show_and_redis_hold_no_secret(void **state)
{
    (void)state;
    struct wdts_test_run run;
    size_t nkeys;
    char *all = redis_dump(&nkeys);
    assert_true(nkeys >= 5); /* set, 3 documents, their state */
    assert_no_secret("Redis", all);
    assert_null(strstr(all, SALT_A ":")); /* no trace of the joined appsecret */
    free(all);

    char *doc = key_of("conn", "acme-wdt"), *sealed_json = NULL;
    const char *get[] = {"GET", doc};
    assert_int_equal(wdts_redis_command_str(redis, 2, get, NULL, &sealed_json, NULL), WDTS_OK);
    json_t *j = json_loads(sealed_json, 0, NULL);
    const char *sealed = json_string_value(json_object_get(j, "appsecret"));
    assert_non_null(sealed);

    CTL(&run, "connection", "list");
    wdts_test_expect_run(&run, 0, "acme-wdt", NULL);
    assert_non_null(strstr(run.out, "acme-tb"));
    char ok_of[32];
    snprintf(ok_of, sizeof(ok_of), "%zu/%zu", wdts_catalog_count(cat) - 1,
             wdts_catalog_count(cat));
    assert_non_null(strstr(run.out, ok_of));
    assert_null(strstr(run.out, sealed));
    wdts_test_run_free(&run);

    CTL(&run, "connection", "list", "--json");
    wdts_test_expect_run(&run, 0, NULL, NULL);
    json_t *arr = json_loads(run.out, 0, NULL);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), 3);
    assert_null(strstr(run.out, sealed));
    assert_null(strstr(run.out, "\"appsecret\""));
    assert_null(strstr(run.out, "app_secret"));
    json_decref(arr);
    wdts_test_run_free(&run);

    CTL(&run, "connection", "list", "--tenant", "nobody", "--json");
    wdts_test_expect_run(&run, 0, "[]", NULL);
    wdts_test_run_free(&run);

    CTL(&run, "connection", "show", "--id", "acme-wdt");
    wdts_test_expect_run(&run, 0, "(stored encrypted)", NULL);
    assert_non_null(strstr(run.out, "blocked: 权限不足"));
    assert_non_null(strstr(run.out, "pii            hash"));
    assert_non_null(strstr(run.out, "archive        horizon 60d, read old"));
    assert_non_null(strstr(run.out, "(history)"));
    assert_null(strstr(run.out, sealed));
    wdts_test_run_free(&run);

    CTL(&run, "connection", "show", "--id", "acme-wdt", "--json");
    wdts_test_expect_run(&run, 0, NULL, NULL);
    json_t *one = json_loads(run.out, 0, NULL);
    assert_non_null(one);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(one, "report_state"), "refunds"),
                            "state")),
                        "blocked");
    assert_null(strstr(run.out, sealed));
    json_decref(one);
    wdts_test_run_free(&run);

    CTL(&run, "connection", "show", "--id", "nobody");
    wdts_test_expect_run(&run, 1, NULL, "no connection with id nobody");
    wdts_test_run_free(&run);
    json_decref(j);
    free(sealed_json);
    free(doc);
}

static void test_check_unblocks_and_tracks_auth(void **state)
{
    (void)state;
    struct wdts_test_run run;
    char *st = key_of("connstate", "acme-wdt");

    /* Nothing changed: still blocked. */
    CTL(&run, "connection", "check", "--id", "acme-wdt");
    wdts_test_expect_run(&run, 0, "credentials ok", NULL);
    assert_non_null(strstr(run.out, "0 reports returned to service, 1 blocked"));
    wdts_test_run_free(&run);
    assert_int_equal(hexists(st, "report:refunds"), 1);
    assert_int_equal(hexists(st, "history:trades"), 1);

    /* The seller gets the interface approved: check returns refunds to service. */
    restart_sandbox(1, SECRET_A);
    CTL(&run, "connection", "check", "--id", "acme-wdt");
    wdts_test_expect_run(&run, 0, "returned to service", NULL);
    assert_non_null(strstr(run.out, "1 report returned to service, 0 blocked"));
    /* and the history methods approved with it are allowed again */
    assert_non_null(strstr(run.out, "trades: its history method is allowed again"));
    wdts_test_run_free(&run);
    assert_int_equal(hexists(st, "report:refunds"), 0);
    assert_int_equal(hexists(st, "history:trades"), 0);
    CTL(&run, "connection", "show", "--id", "acme-wdt");
    wdts_test_expect_run(&run, 0, NULL, NULL);
    assert_null(strstr(run.out, "blocked"));
    wdts_test_run_free(&run);

    /* The secret is regenerated on the open platform: auth_failed, with what to do. */
    restart_sandbox(1, "ffffffffffffffffffffffffffffffff");
    CTL(&run, "connection", "check", "--id", "acme-wdt");
    wdts_test_expect_run(&run, 5, "marked auth_failed", NULL);
    assert_non_null(strstr(run.out, "验证失败"));
    wdts_test_run_free(&run);
    assert_int_equal(hexists(st, "auth"), 1);
    CTL(&run, "connection", "list");
    wdts_test_expect_run(&run, 0, "auth_failed", NULL);
    wdts_test_run_free(&run);

    /* The user stores the new secret with --replace: checked, stored, sync state kept. */
    struct wdts_buf wmb;
    const struct wdts_wm_id wmid = {"acme-wdt", "trades"};
    wdts_buf_init(&wmb);
    const char *wm = wdts_wm_key(&wmb, prefix, &wmid, WDTS_WM_KEY_STATE);
    const char *hs[] = {"HSET", wm, "wm", "1700000000"};
    assert_int_equal(wdts_redis_command(redis, 4, hs, NULL, NULL), WDTS_OK);
    CTL(&run, "connection", "add", "--tenant", "acme", "--id", "acme-wdt", "--app", "wdt", "--sid",
        "conn-a", "--appkey", "key-a", "--appsecret", "ffffffffffffffffffffffffffffffff:" SALT_A,
        "--gateway", gw, "--rate", "50", "--reports", "trades,refunds", "--replace");
    wdts_test_expect_run(
        &run, 0, "connection acme-wdt replaced (its sync state is kept): 2 reports ok", NULL);
    wdts_test_run_free(&run);
    assert_int_equal(hexists(st, "auth"), 0);
    assert_int_equal(hexists(wm, "wm"), 1);
    wdts_buf_deinit(&wmb);
    CTL(&run, "connection", "show", "--id", "acme-wdt");
    wdts_test_expect_run(&run, 0, "state          ok", NULL);
    wdts_test_run_free(&run);

    /* The old secret works again (e.g. the new one was revoked): check marks it auth_failed,
     * add --replace with the old one puts it back, and a refusal is blocked again. */
    restart_sandbox(0, SECRET_A);
    CTL(&run, "connection", "check", "--id", "acme-wdt");
    wdts_test_expect_run(&run, 5, "marked auth_failed", NULL);
    wdts_test_run_free(&run);
    CTL(&run, "connection", "add", "--tenant", "acme", "--id", "acme-wdt", "--app", "wdt", "--sid",
        "conn-a", "--appkey", "key-a", "--appsecret", SECRET_A ":" SALT_A, "--gateway", gw,
        "--rate", "50", "--replace");
    wdts_test_expect_run(&run, 0, "replaced", NULL);
    wdts_test_run_free(&run);
    restart_sandbox(1, "ffffffffffffffffffffffffffffffff");
    CTL(&run, "connection", "check", "--id", "acme-wdt");
    wdts_test_expect_run(&run, 5, "marked auth_failed", NULL);
    wdts_test_run_free(&run);

    /* The secret works again (e.g. re-authorised): ok, and a new refusal is blocked again. */
    restart_sandbox(0, SECRET_A);
    CTL(&run, "connection", "check", "--id", "acme-wdt");
    wdts_test_expect_run(&run, 0, "credentials work again", NULL);
    assert_non_null(strstr(run.out, "0 reports returned to service, 1 blocked"));
    wdts_test_run_free(&run);
    assert_int_equal(hexists(st, "auth"), 0);
    assert_int_equal(hexists(st, "report:refunds"), 1);

    /* check without --id checks every connection (one uses the platform's Qimen app). */
    setenv("WDT_QIMEN_APP_KEY", "platform-key", 1);
    setenv("WDT_QIMEN_APP_SECRET", PLATFORM_SECRET, 1);
    CTL(&run, "connection", "check");
    wdts_test_expect_run(&run, 0, "connection acme-tb ", NULL);
    assert_non_null(strstr(run.out, "connection acme-wdt "));
    assert_non_null(strstr(run.out, "connection acme-tb2 "));
    wdts_test_run_free(&run);
    unsetenv("WDT_QIMEN_APP_KEY");
    unsetenv("WDT_QIMEN_APP_SECRET");
    CTL(&run, "connection", "check", "--id", "acme-tb2");
    wdts_test_expect_run(&run, 78, NULL, "WDT_QIMEN_APP_KEY");
    wdts_test_run_free(&run);
    free(st);
}

static void test_remove_cleans_up(void **state)
{
    (void)state;
    struct wdts_test_run run;
    /* State other modules keep per connection, and a key of another connection whose id
     * starts with the same letters. */
    struct wdts_buf lock, wmb, otherb;
    wdts_buf_init(&lock);
    wdts_buf_init(&wmb);
    wdts_buf_init(&otherb);
    const struct wdts_wm_id mine = {"acme-wdt", "trades"}, theirs = {"acme-wdt2", "trades"};
    const char *wm = wdts_wm_key(&wmb, prefix, &mine, WDTS_WM_KEY_STATE);
    const char *other = wdts_wm_key(&otherb, prefix, &theirs, WDTS_WM_KEY_STATE);
    wdts_wm_lock_key(&lock, prefix, &mine, 1700000000, 1700003540);
    const char *c1[] = {"HSET", wm, "wm", "1700000000"};
    const char *c2[] = {"SET", wdts_buf_str(&lock), "token"};
    const char *c3[] = {"SET", other, "x"};
    assert_int_equal(wdts_redis_command(redis, 4, c1, NULL, NULL), WDTS_OK);
    assert_int_equal(wdts_redis_command(redis, 3, c2, NULL, NULL), WDTS_OK);
    assert_int_equal(wdts_redis_command(redis, 3, c3, NULL, NULL), WDTS_OK);

    CTL(&run, "connection", "remove", "--id", "acme-wdt");
    wdts_test_expect_run(&run, 0, "connection acme-wdt removed (4 keys deleted)", NULL);
    wdts_test_run_free(&run);
    assert_nothing_stored("acme-wdt");
    long long v = 0;
    const char *ex[] = {"EXISTS", other};
    assert_int_equal(wdts_redis_command_int(redis, 2, ex, NULL, &v), WDTS_OK);
    assert_int_equal(v, 1);

    CTL(&run, "connection", "remove", "--id", "acme-wdt");
    wdts_test_expect_run(&run, 1, NULL, "no connection with id acme-wdt");
    wdts_test_run_free(&run);
    CTL(&run, "connection", "list");
    wdts_test_expect_run(&run, 0, "acme-tb", NULL);
    assert_null(strstr(run.out, "acme-wdt "));
    wdts_test_run_free(&run);
    CTL(&run, "connection", "remove", "--id", "acme-tb");
    wdts_test_expect_run(&run, 0, "removed", NULL);
    wdts_test_run_free(&run);
    CTL(&run, "connection", "remove", "--id", "acme-tb2");
    wdts_test_expect_run(&run, 0, "removed", NULL);
    wdts_test_run_free(&run);
    const char *del[] = {"DEL", other};
    assert_int_equal(wdts_redis_command(redis, 2, del, NULL, NULL), WDTS_OK);
    /* Left: only the sellers' shared call budgets (rl:{gateway:sid:appkey}, see
     * wdts/limit.h), which expire on their own within seconds. */
    size_t n;
    char *all = redis_dump(&n);
    for (const char *line = all; *line;) {
        const char *end = strchr(line, '\n');
        char *key = wdts_xstrndup(line, strcspn(line, " "));
        long long pttl = 0;
        const char *c[] = {"PTTL", key};
        assert_int_equal(wdts_redis_command_int(redis, 2, c, NULL, &pttl), WDTS_OK);
        if (strstr(key, ":rl:{") == NULL || pttl == -1)
            fail_msg("key left behind: %s (pttl %lld)\n%s", key, pttl, all);
        free(key);
        line = end ? end + 1 : line + strlen(line);
    }
    free(all);
    wdts_buf_deinit(&lock);
    wdts_buf_deinit(&wmb);
    wdts_buf_deinit(&otherb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_and_config_errors),
        cmocka_unit_test(test_add_good_credentials),
        cmocka_unit_test(test_add_qimen),
        cmocka_unit_test(test_bad_credentials_store_nothing),
        cmocka_unit_test(test_list_show_and_redis_hold_no_secret),
        cmocka_unit_test(test_check_unblocks_and_tracks_auth),
        cmocka_unit_test(test_remove_cleans_up),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
