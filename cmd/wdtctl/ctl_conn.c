/* `wdtctl connection add|list|show|remove|check`: wiring of the connection model
 * (wdts/conn.h) and its live checks (wdts/conn_probe.h) to flags, config, Redis and the
 * terminal. `add` checks the credentials and every enabled report with real calls before
 * anything is stored; `check` re-runs the checks and moves stored state both ways.
 * Secrets come from flags or files, are sealed before they reach Redis and are never
 * printed: list and show have no secret to print, not even sealed. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "wdts/catalog.h"
#include "wdts/cfg.h"
#include "wdts/cfg_redis.h"
#include "wdts/conn.h"
#include "wdts/conn_probe.h"
#include "wdts/crypto.h"
#include "wdts/err.h"
#include "wdts/job.h"
#include "wdts/limit.h"
#include "wdts/lock.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/secret.h"
#include "wdts/str.h"
#include "wdts/time.h"

extern char **environ;

static const char usage_main[] =
    "usage: wdtctl connection <add|list|show|remove|check> [options]\n"
    "       wdtctl connection <subcommand> --help\n"
    "\n"
    "Connections are the authorised WDT apps of tenants, stored in Redis with their secrets\n"
    "encrypted under secret.key (WDT_SECRET_KEY or WDT_SECRET_KEY_FILE).\n"
    "\n"
    "  add     check credentials and report permissions with real calls, then store\n"
    "  list    the stored connections (no secrets)\n"
    "  show    one connection and the state of each report (no secrets)\n"
    "  remove  delete a connection and all its state\n"
    "  check   re-check credentials and permissions; unblock what works again\n"
    "\n"
    "Config (environment): WDT_REDIS_URL, WDT_REDIS_PREFIX, WDT_SECRET_KEY[_FILE],\n"
    "WDT_QIMEN_APP_KEY / WDT_QIMEN_APP_SECRET[_FILE] for platform-provided Qimen apps.\n"
    "Exit codes: 0 ok, 1 failure, 2 gateway unreachable, 3 rate limited, 4 clock skew,\n"
    "5 credentials refused, 6 no report permitted, 7 not a WDT gateway, 64 bad command line,\n"
    "78 bad config.\n";

static const char usage_add[] =
    "usage: wdtctl connection add --tenant T --id C --app wdt|qimen --sid S --appkey K\n"
    "           --appsecret-file F|-\n"
    "           [--qimen-app-key K --qimen-app-secret-file F|- | --qimen-platform]\n"
    "           [--gateway URL|production|test] [--reports GROUP|NAME,...|all] [--backfill 90d]\n"
    "           [--rate R] [--burst N] [--concurrency N] [--pii keep|hash|drop]\n"
    "           [--lookback REPORT=D,...]\n"
    "           [--archive-horizon 90d] [--archive-read all|old|off]\n"
    "\n"
    "Checks the credentials with a real call (the shops list, one row), then each enabled\n"
    "report with the smallest call it accepts, and prints a table: report, method, ok or\n"
    "blocked with the reason and the fix. Nothing is stored unless the credentials work and\n"
    "at least one report may be read; blocked reports are stored as blocked and are not\n"
    "synced until `wdtctl connection check` finds them approved. Once stored, it prints the\n"
    "first-sync estimate (windows, least calls and time at --rate per report and in all;\n"
    "wdtctl plan --connection C --probe N refines it with the gateway's record counts).\n"
    "\n"
    "  --tenant T               tenant id (A-Z a-z 0-9 _ . -, at most 64)\n"
    "  --id C                   connection id, unique (same alphabet)\n"
    "  --app wdt|qimen          wdt: 旺店通自定义应用 on the WDT gateway; qimen: 奇门自定义应用\n"
    "                           (needed for Taobao/Tmall and 系统供销 data)\n"
    "  --sid S                  seller account (卖家账号)\n"
    "  --appkey K               API account (接口账号)\n"
    "  --appsecret-file F       file holding the appsecret exactly as issued (- reads\n"
    "                           standard input; only one secret can come from it)\n"
    "  --appsecret SECRET:SALT  deprecated: the secret shows in the process list\n"
    "  --qimen-app-key K        your Qimen app_key (app qimen), with\n"
    "                           --qimen-app-secret-file F (or deprecated --qimen-app-secret S)\n"
    "  --qimen-platform         use the operator's Qimen app (WDT_QIMEN_APP_KEY/SECRET)\n"
    "  --gateway URL            production (default: " WDTS_CONN_GATEWAY_WDT " or\n"
    "                           " WDTS_CONN_GATEWAY_QIMEN "), test, or a URL;\n"
    "                           a plain http:// one (the WDT test gateway) is warned about\n"
    "  --reports LIST           comma-separated groups (sales, aftersales, stock, purchase,\n"
    "                           finance, goods, settings), report names or all, mixed:\n"
    "                           sales,stock_changes (default all; wdtctl reports --group G\n"
    "                           lists a group; report:stock is the stock report alone)\n"
    "  --backfill D             how far back the first sync goes (default 90d; 12h, 30d, ...)\n"
    "  --rate R                 calls per second to this seller (default 1)\n"
    "  --burst N                calls above the rate at once (default 1)\n"
    "  --concurrency N          calls in flight to this seller (default 1)\n"
    "  --pii keep|hash|drop     buyer and receiver fields: as returned, HMAC-hashed per\n"
    "                           tenant, or removed (default keep)\n"
    "  --lookback REPORT=D,...  for a report windowed by a time that never moves (pay, ship,\n"
    "                           creation time: LATE in wdtctl status), read the last D behind\n"
    "                           the watermark again every scheduler.lookback.interval, instead\n"
    "                           of the catalog's lookback_s (e.g. trades_by_pay=14d; 0: never)\n"
    "  --archive-horizon D      documents older than this are served only by the history\n"
    "                           (历史) methods (default 90d; no official page states it)\n"
    "  --archive-read all|old|off  which windows of a report with a history method are\n"
    "                           read from it as well: all (default; about one more call per\n"
    "                           window), old (only windows older than the horizon less 7\n"
    "                           days), off (never: records older than the horizon are lost)\n"
    "  --replace                the id exists: replace its settings and credentials (after\n"
    "                           the same checks), keeping its watermarks and plan; its\n"
    "                           auth_failed and blocked states are replaced by this check's\n";

static const char usage_list[] =
    "usage: wdtctl connection list [--tenant T] [--json]\n"
    "\n"
    "One line per stored connection: id, tenant, app, sid, appkey, state, reports ok and\n"
    "blocked, gateway. --json prints a JSON array of the connections. No secret is printed.\n";

static const char usage_show[] =
    "usage: wdtctl connection show --id C [--json]\n"
    "\n"
    "The connection's settings, its state (ok or auth_failed with what to do) and each\n"
    "report's state (ok or blocked with the reason and the fix). No secret is printed.\n";

static const char usage_remove[] =
    "usage: wdtctl connection remove --id C\n"
    "\n"
    "Deletes the connection, its state and every key of it (plan cursors, watermarks,\n"
    "locks): the scheduler stops planning it at its next pass.\n";

static const char usage_check[] =
    "usage: wdtctl connection check [--id C] [--tenant T]\n"
    "\n"
    "Re-runs add's checks for one connection (--id), a tenant's, or all. A connection marked\n"
    "auth_failed whose credentials work again is marked ok; a blocked report whose method\n"
    "now answers is returned to service; a report refused now is marked blocked. Prints one\n"
    "table per connection. Exit code: 0 when every connection's credentials work (blocked\n"
    "reports included), else the code of the worst problem (see wdtctl connection --help).\n";

/* Exit codes of add and check, one per class of a refusal (same as `wdtctl call`). */
static int class_exit(enum wdts_api_class cls)
{
    switch (cls) {
    case WDTS_API_OK: return WDTS_EXIT_OK;
    case WDTS_API_TRANSIENT: return CTL_EXIT_TRANSIENT;
    case WDTS_API_RATE_LIMITED: return CTL_EXIT_RATE_LIMITED;
    case WDTS_API_CLOCK: return CTL_EXIT_CLOCK;
    case WDTS_API_AUTH: return CTL_EXIT_AUTH;
    case WDTS_API_PERMISSION: return CTL_EXIT_PERMISSION;
    case WDTS_API_BAD_REQUEST: return CTL_EXIT_BAD_REQUEST;
    default: return WDTS_EXIT_FATAL;
    }
}

static int usage_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *sub, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "wdtctl connection %s: ", sub);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'wdtctl connection %s --help' for usage.\n", sub);
    return WDTS_EXIT_USAGE;
}

static void set_secret(char **dst, char *val)
{
    if (*dst)
        wdts_crypto_free_secret(*dst, strlen(*dst));
    *dst = val;
}

/* ---- config, Redis, catalog ------------------------------------------------------ */

struct env {
    struct wdts_cfg *cfg;
    struct wdts_redis *redis;
    struct wdts_catalog *cat;
    unsigned char key[WDTS_CRYPTO_KEY_LEN];
    int has_key;
};

static void env_deinit(struct env *env)
{
    wdts_redis_destroy(env->redis);
    wdts_catalog_destroy(env->cat);
    wdts_cfg_destroy(env->cfg);
    wdts_crypto_wipe(env->key, sizeof(env->key));
    memset(env, 0, sizeof(*env));
}

/* Loads config (need_key: secret.key is required), connects to Redis, loads the catalog.
 * @returns 0, or the exit code after printing why. */
static int env_init(struct env *env, const char *sub, int need_key)
{
    static const char *const require_key[] = {"secret.key", NULL};
    struct wdts_cfg_opts opts = {.envp = environ, .require = need_key ? require_key : NULL};
    struct wdts_buf errs;
    char es[512];
    memset(env, 0, sizeof(*env));
    wdts_buf_init(&errs);
    if (wdts_cfg_load(&opts, &env->cfg, &errs) != WDTS_OK) {
        fprintf(stderr, "wdtctl connection %s: invalid configuration:\n%s", sub,
                wdts_buf_str(&errs));
        wdts_buf_deinit(&errs);
        return WDTS_EXIT_CONFIG;
    }
    wdts_buf_deinit(&errs);
    if (env->cfg->secret_key) {
        if (wdts_crypto_key_parse(env->cfg->secret_key, env->key, es, sizeof(es)) != WDTS_OK) {
            fprintf(stderr, "wdtctl connection %s: secret.key: %s\n", sub, es);
            return WDTS_EXIT_CONFIG;
        }
        env->has_key = 1;
    }
    env->cat = wdts_catalog_new(env->cfg->catalog_path, es, sizeof(es));
    if (env->cat == NULL) {
        fprintf(stderr, "wdtctl connection %s: %s\n", sub, es);
        return WDTS_EXIT_FATAL;
    }
    struct wdts_redis_params params;
    if (wdts_redis_params_from_cfg(&params, env->cfg, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl connection %s: %s\n", sub, es);
        return WDTS_EXIT_CONFIG;
    }
    env->redis = wdts_redis_new(&params, es, sizeof(es));
    wdts_crypto_wipe(&params, sizeof(params));
    if (env->redis == NULL) {
        fprintf(stderr, "wdtctl connection %s: cannot use Redis: %s\n", sub, es);
        return WDTS_EXIT_FATAL;
    }
    return 0;
}

static const char *prefix_of(const struct env *env)
{
    return env->cfg->redis_prefix;
}

/* ---- printing ----------------------------------------------------------------------- */

static void print_time(FILE *out, const char *label, int64_t t)
{
    char buf[WDTS_RFC3339_LEN];
    if (t <= 0) {
        fprintf(out, "%-14s -\n", label);
        return;
    }
    wdts_time_format_rfc3339(t, buf);
    fprintf(out, "%-14s %s\n", label, buf);
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s)
        printf("%s\n", s);
    free(s);
}

/* The probe table, printed a row at a time as the checks answer: report, method, ok or
 * blocked with reason and fix. */
struct table {
    const struct wdts_conn *before; /* the stored connection (check), or NULL (add) */
    int header_done;
};

static void print_row(const struct wdts_conn_probe_row *row, void *opaque)
{
    struct table *t = opaque;
    const struct wdts_conn_report *was = t->before ? wdts_conn_report_get(t->before, row->report)
                                                   : NULL;
    if (!t->header_done) {
        if (t->before) /* check: a row means the credentials call was accepted */
            printf("  credentials ok\n");
        printf("%-18s %-44s %s\n", "REPORT", "METHOD", "STATUS");
        t->header_done = 1;
    }
    if (row->cls == WDTS_API_OK) {
        printf("%-18s %-44s ok%s\n", row->report, row->method,
               was && was->blocked ? " (was blocked: returned to service)" : "");
    } else {
        const char *status = row->cls == WDTS_API_PERMISSION ? "blocked" : "error";
        printf("%-18s %-44s %s: %s\n", row->report, row->method, status,
               row->reason ? row->reason : wdts_api_class_name(row->cls));
        printf("%-18s %-44s   fix: %s\n", "", "", row->fix ? row->fix : "");
    }
    if (row->history_method) {
        if (row->history_cls == WDTS_API_OK)
            printf("%-18s %-44s ok\n", "  (history)", row->history_method);
        else {
            printf("%-18s %-44s %s: %s\n", "  (history)", row->history_method,
                   row->history_cls == WDTS_API_PERMISSION ? "refused" : "error",
                   row->history_reason ? row->history_reason
                                       : wdts_api_class_name(row->history_cls));
            printf("%-18s %-44s   fix: %s\n", "", "", row->history_fix ? row->history_fix : "");
        }
    }
    fflush(stdout);
}

static size_t count_rows(const struct wdts_conn_probe *probe, enum wdts_api_class cls)
{
    size_t n = 0;
    for (size_t i = 0; i < probe->n_rows; i++)
        n += probe->rows[i].cls == cls;
    return n;
}

/* ---- the seller's shared call budget ---------------------------------------------------- */

/* The checks spend the same budget as the workers (wdts/limit.h, keyed by gateway, sid and
 * appkey), so a check never pushes a seller over its limits. A cooldown set by a
 * rate-limit answer is waited out only when short: a user at a terminal is told instead. */
#define LIMIT_MAX_WAIT_MS 20000

void ctl_limiter_init(struct ctl_limiter *lim, struct wdts_redis *redis,
                      const struct wdts_conn *conn)
{
    memset(lim, 0, sizeof(*lim));
    lim->redis = redis;
    lim->id = (struct wdts_limit_id){conn->gateway, conn->sid, conn->appkey};
    wdts_limit_cfg_init(&lim->cfg);
    lim->cfg.rate = conn->rate;
    lim->cfg.burst = conn->burst;
    lim->cfg.slots = conn->concurrency;
}

wdts_err_t ctl_limiter_admit(void *opaque, char *errstr, size_t errstr_size)
{
    struct ctl_limiter *lim = opaque;
    long long waited = 0;
    for (;;) {
        struct wdts_limit_start st;
        wdts_err_t err = wdts_lock_token_new(lim->token);
        if (err == WDTS_OK)
            err = wdts_limit_try_start(lim->redis, &lim->id, &lim->cfg, lim->token, &st, errstr,
                                       errstr_size);
        if (err != WDTS_OK)
            return err;
        if (st.go) {
            lim->started_us = st.now_us;
            lim->held = 1;
            return WDTS_OK;
        }
        if (waited + st.wait_ms > LIMIT_MAX_WAIT_MS) {
            if (st.reason == WDTS_LIMIT_COOLDOWN)
                snprintf(errstr, errstr_size,
                         "sid %s answered a rate limit recently and is cooling down for %lld s "
                         "more (WDT advises 5–10 minutes): run this again after that",
                         lim->id.sid, (st.wait_ms + 999) / 1000);
            else
                snprintf(errstr, errstr_size,
                         "the call budget of sid %s is in use by the workers (%s) for longer "
                         "than %d s: run this again later, or raise the connection's rate",
                         lim->id.sid, wdts_limit_reason2str(st.reason), LIMIT_MAX_WAIT_MS / 1000);
            return WDTS_ERR_AGAIN;
        }
        usleep((useconds_t)st.wait_ms * 1000);
        waited += st.wait_ms;
    }
}

void ctl_limiter_done(void *opaque, enum wdts_api_class cls)
{
    struct ctl_limiter *lim = opaque;
    struct wdts_limit_finish fin;
    char es[256];
    if (!lim->held)
        return;
    lim->held = 0;
    enum wdts_limit_outcome outcome = cls == WDTS_API_RATE_LIMITED ? WDTS_LIMIT_OUTCOME_LIMITED
                                      : cls == WDTS_API_TRANSIENT  ? WDTS_LIMIT_OUTCOME_OTHER
                                                                   : WDTS_LIMIT_OUTCOME_OK;
    /* A failure here only delays the slot's release to its lease: worth a word, no more. */
    if (wdts_limit_finish(lim->redis, &lim->id, &lim->cfg, lim->token, lim->started_us, outcome,
                          &fin, es, sizeof(es)) != WDTS_OK)
        fprintf(stderr, "wdtctl connection: releasing the call slot: %s\n", es);
}

/* ---- add ------------------------------------------------------------------------------ */

static int parse_count(const char *sub, const char *flag, const char *s, long long min,
                       long long max, int *out)
{
    long long v;
    if (wdts_parse_int(s, min, max, &v) != WDTS_OK)
        return usage_error(sub, "%s must be a whole number from %lld to %lld, not '%s'", flag, min,
                           max, s);
    *out = (int)v;
    return 0;
}

static int parse_rate(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v) || v <= 0 || v > WDTS_CONN_RATE_MAX)
        return usage_error("add", "--rate must be calls per second above 0 and at most %.0f "
                           "(e.g. 1 or 0.5), not '%s'", WDTS_CONN_RATE_MAX, s);
    *out = v;
    return 0;
}

/* Enables the reports of a selection: groups, report names or all (wdts_catalog_select()). */
static int parse_reports(struct wdts_conn *conn, const char *list, const struct wdts_catalog *cat)
{
    char es[4096];
    size_t n = wdts_catalog_count(cat);
    unsigned char *sel = wdts_xcalloc(n ? n : 1, 1);
    if (wdts_catalog_select(cat, list, sel, es, sizeof(es)) < 0) {
        free(sel);
        return usage_error("add", "--reports: %s", es);
    }
    for (size_t i = 0; i < n; i++)
        if (sel[i])
            wdts_conn_add_report(conn, wdts_catalog_at(cat, i)->name);
    free(sel);
    return 0;
}

enum {
    O_TENANT = 256, O_ID, O_APP, O_SID, O_APPKEY, O_APPSECRET, O_APPSECRET_FILE, O_QM_KEY,
    O_QM_SECRET, O_QM_SECRET_FILE, O_QM_PLATFORM, O_GATEWAY, O_REPORTS, O_BACKFILL, O_RATE,
    O_BURST, O_CONCURRENCY, O_PII, O_REPLACE, O_LOOKBACK, O_ARCHIVE_HORIZON,
    O_ARCHIVE_READ,
};

/* --lookback REPORT=D,...: per enabled report, the look-back depth of this connection. */
static int parse_lookback(struct wdts_conn *conn, const char *list)
{
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *item = wdts_xstrndup(p, len);
        char *eq = strchr(item, '=');
        int64_t ms = -1;
        if (eq)
            *eq = '\0';
        struct wdts_conn_report *r = eq ? wdts_conn_report_get(conn, item) : NULL;
        if (eq == NULL || wdts_cfg_parse_duration(eq + 1, &ms) != WDTS_OK || ms % 60000 != 0) {
            int rc = usage_error("add", "--lookback: give REPORT=DURATION in whole minutes "
                                 "(e.g. trades_by_pay=7d, 0 for none), not '%s'", p);
            free(item);
            return rc;
        }
        if (r == NULL) {
            int rc = usage_error("add", "--lookback: %s is not an enabled report of this "
                                 "connection (--reports)", item);
            free(item);
            return rc;
        }
        r->has_lookback = 1;
        r->lookback_s = ms / 1000;
        free(item);
        p += len + (comma ? 1 : 0);
    }
    return 0;
}

static int cmd_add(int argc, char **argv)
{
    static const struct option lo[] = {
        {"tenant", required_argument, NULL, O_TENANT},
        {"id", required_argument, NULL, O_ID},
        {"app", required_argument, NULL, O_APP},
        {"sid", required_argument, NULL, O_SID},
        {"appkey", required_argument, NULL, O_APPKEY},
        {"appsecret", required_argument, NULL, O_APPSECRET},
        {"appsecret-file", required_argument, NULL, O_APPSECRET_FILE},
        {"qimen-app-key", required_argument, NULL, O_QM_KEY},
        {"qimen-app-secret", required_argument, NULL, O_QM_SECRET},
        {"qimen-app-secret-file", required_argument, NULL, O_QM_SECRET_FILE},
        {"qimen-platform", no_argument, NULL, O_QM_PLATFORM},
        {"gateway", required_argument, NULL, O_GATEWAY},
        {"reports", required_argument, NULL, O_REPORTS},
        {"backfill", required_argument, NULL, O_BACKFILL},
        {"rate", required_argument, NULL, O_RATE},
        {"burst", required_argument, NULL, O_BURST},
        {"concurrency", required_argument, NULL, O_CONCURRENCY},
        {"pii", required_argument, NULL, O_PII},
        {"lookback", required_argument, NULL, O_LOOKBACK},
        {"replace", no_argument, NULL, O_REPLACE},
        {"archive-horizon", required_argument, NULL, O_ARCHIVE_HORIZON},
        {"archive-read", required_argument, NULL, O_ARCHIVE_READ},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int replace = 0;
    int64_t created_at = 0;
    const char *app = NULL, *gateway = NULL, *reports = NULL, *backfill = NULL, *rate = NULL,
               *burst = NULL, *concurrency = NULL, *pii = NULL, *lookback = NULL,
               *horizon = NULL, *archive_read = NULL;
    struct wdts_conn *conn = wdts_conn_new();
    struct wdts_conn_probe probe;
    struct wdts_api_creds creds;
    struct env env;
    char es[1024];
    int rc = 0, c, stdin_used = 0;
    memset(&probe, 0, sizeof(probe));
    memset(&creds, 0, sizeof(creds));
    memset(&env, 0, sizeof(env));

    optind = 1;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case O_TENANT: free(conn->tenant); conn->tenant = wdts_xstrdup(optarg); break;
        case O_ID: free(conn->id); conn->id = wdts_xstrdup(optarg); break;
        case O_APP: app = optarg; break;
        case O_SID: free(conn->sid); conn->sid = wdts_xstrdup(optarg); break;
        case O_APPKEY: free(conn->appkey); conn->appkey = wdts_xstrdup(optarg); break;
        case O_APPSECRET:
            set_secret(&conn->appsecret, wdts_xstrdup(optarg));
            ctl_warn_secret_arg("connection add", "--appsecret", "--appsecret-file", optarg);
            break;
        case O_QM_KEY: free(conn->qimen_app_key); conn->qimen_app_key = wdts_xstrdup(optarg); break;
        case O_QM_SECRET:
            set_secret(&conn->qimen_app_secret, wdts_xstrdup(optarg));
            ctl_warn_secret_arg("connection add", "--qimen-app-secret",
                                "--qimen-app-secret-file", optarg);
            break;
        case O_APPSECRET_FILE:
        case O_QM_SECRET_FILE: {
            if (strcmp(optarg, "-") == 0 && stdin_used++) {
                rc = usage_error("add", "%s", "only one secret can be read from standard input "
                                 "(-); give the other one a file");
                break;
            }
            char *v = wdts_secret_read_file(optarg, es, sizeof(es));
            if (v == NULL) {
                rc = usage_error("add", "%s", es);
                break;
            }
            set_secret(c == O_APPSECRET_FILE ? &conn->appsecret : &conn->qimen_app_secret, v);
            break;
        }
        case O_QM_PLATFORM: conn->qimen_platform = 1; break;
        case O_GATEWAY: gateway = optarg; break;
        case O_REPORTS: reports = optarg; break;
        case O_BACKFILL: backfill = optarg; break;
        case O_RATE: rate = optarg; break;
        case O_BURST: burst = optarg; break;
        case O_CONCURRENCY: concurrency = optarg; break;
        case O_PII: pii = optarg; break;
        case O_LOOKBACK: lookback = optarg; break;
        case O_REPLACE: replace = 1; break;
        case O_ARCHIVE_HORIZON: horizon = optarg; break;
        case O_ARCHIVE_READ: archive_read = optarg; break;
        case 'h': fputs(usage_add, stdout); rc = -1; break;
        case ':': rc = usage_error("add", "option %s needs a value", argv[optind - 1]); break;
        default: rc = usage_error("add", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (rc != 0)
        goto out;
    if (optind < argc) {
        rc = usage_error("add", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    const char *missing = !conn->tenant   ? "--tenant"
                          : !conn->id     ? "--id"
                          : !app          ? "--app"
                          : !conn->sid    ? "--sid"
                          : !conn->appkey ? "--appkey"
                          : !conn->appsecret ? "--appsecret or --appsecret-file"
                                             : NULL;
    if (missing) {
        rc = usage_error("add", "%s is required", missing);
        goto out;
    }
    if (wdts_api_app_parse(app, &conn->app) != WDTS_OK) {
        rc = usage_error("add", "--app must be wdt or qimen, not '%s'", app);
        goto out;
    }
    if (conn->app == WDTS_API_APP_QIMEN && !conn->qimen_platform &&
        (conn->qimen_app_key == NULL || conn->qimen_app_secret == NULL)) {
        rc = usage_error("add", "--app qimen needs a Qimen app: give --qimen-app-key and "
                         "--qimen-app-secret (or --qimen-app-secret-file), or --qimen-platform to "
                         "use the operator's; Taobao/Tmall data can only be read through one");
        goto out;
    }
    conn->gateway = wdts_xstrdup(wdts_conn_gateway_resolve(conn->app, gateway));
    if (backfill) {
        int64_t ms;
        if (wdts_cfg_parse_duration(backfill, &ms) != WDTS_OK || ms < 0) {
            rc = usage_error("add", "--backfill must be a duration such as 90d, 30d or 12h, not "
                             "'%s'", backfill);
            goto out;
        }
        conn->backfill_s = ms / 1000;
    }
    if ((rate && (rc = parse_rate(rate, &conn->rate)) != 0) ||
        (burst && (rc = parse_count("add", "--burst", burst, 1, WDTS_CONN_BURST_MAX,
                                    &conn->burst)) != 0) ||
        (concurrency && (rc = parse_count("add", "--concurrency", concurrency, 1,
                                          WDTS_CONN_CONCURRENCY_MAX, &conn->concurrency)) != 0))
        goto out;
    if (pii && wdts_conn_pii_parse(pii, &conn->pii) != WDTS_OK) {
        rc = usage_error("add", "--pii must be keep, hash or drop, not '%s'", pii);
        goto out;
    }
    if (horizon) {
        int64_t ms;
        if (wdts_cfg_parse_duration(horizon, &ms) != WDTS_OK || ms < 86400000LL ||
            ms % 60000 != 0) {
            rc = usage_error("add", "--archive-horizon must be whole minutes of at least a day, "
                             "such as 90d or 2d, not '%s'", horizon);
            goto out;
        }
        conn->archive_horizon_s = ms / 1000;
    }
    if (archive_read && wdts_conn_archive_read_parse(archive_read, &conn->archive_read) != WDTS_OK) {
        rc = usage_error("add", "--archive-read must be all, old or off, not '%s'", archive_read);
        goto out;
    }

    /* The catalog is needed to read --reports (catalog.path, or the built-in one). */
    struct wdts_catalog *cat = ctl_catalog_load("connection add", &rc);
    if (cat == NULL)
        goto out;
    rc = parse_reports(conn, reports, cat);
    if (rc == 0 && lookback)
        rc = parse_lookback(conn, lookback);
    if (rc == 0) {
        struct wdts_buf errs;
        wdts_buf_init(&errs);
        if (wdts_conn_validate(conn, cat, &errs) != WDTS_OK)
            rc = usage_error("add", "the connection is not valid:\n%s", wdts_buf_str(&errs));
        wdts_buf_deinit(&errs);
    }
    wdts_catalog_destroy(cat);
    if (rc != 0)
        goto out;

    if ((rc = env_init(&env, "add", 1)) != 0)
        goto out;
    /* An existing id is refused (or, with --replace, checked) before any call is spent. */
    struct wdts_conn *old = NULL;
    wdts_err_t err = wdts_conn_load(env.redis, prefix_of(&env), conn->id, &old, es, sizeof(es));
    if (err == WDTS_OK && !replace) {
        fprintf(stderr, "wdtctl connection add: a connection with id %s already exists: give "
                "--replace to change its settings or credentials (its sync state is kept), or "
                "choose another id\n", conn->id);
        err = WDTS_ERR_INVAL;
    } else if (err == WDTS_OK && strcmp(old->tenant, conn->tenant) != 0) {
        fprintf(stderr, "wdtctl connection add: connection %s belongs to tenant %s, not %s: a "
                "connection keeps its tenant (remove it and add it again to move it)\n",
                conn->id, old->tenant, conn->tenant);
        err = WDTS_ERR_INVAL;
    } else if (err == WDTS_OK) {
        created_at = old->created_at;
    } else if (err == WDTS_ERR_NOTFOUND) {
        err = WDTS_OK;
        replace = 0;
    } else {
        fprintf(stderr, "wdtctl connection add: %s\n", es);
    }
    wdts_conn_destroy(old);
    if (err != WDTS_OK) {
        rc = WDTS_EXIT_FATAL;
        goto out;
    }
    err = wdts_conn_creds(conn, env.cfg->qimen_app_key, env.cfg->qimen_app_secret, &creds, es,
                          sizeof(es));
    if (err != WDTS_OK) {
        fprintf(stderr, "wdtctl connection add: %s\n", es);
        rc = err == WDTS_ERR_CONFIG ? WDTS_EXIT_CONFIG : WDTS_EXIT_USAGE;
        goto out;
    }

    if (wdts_conn_gateway_plain(conn->gateway))
        fprintf(stderr, "warning: connection %s: %s (%s)\n", conn->id,
                WDTS_CONN_PLAIN_HTTP_WARNING, conn->gateway);
    printf("checking connection %s (tenant %s, app %s, sid %s) at %s\n", conn->id, conn->tenant,
           wdts_api_app_name(conn->app), conn->sid, conn->gateway);
    fflush(stdout);
    struct table table = {NULL, 0};
    struct ctl_limiter lim;
    ctl_limiter_init(&lim, env.redis, conn);
    struct wdts_conn_probe_opts popts = {.on_row = print_row, .opaque = &table,
                                         .admit = ctl_limiter_admit, .done = ctl_limiter_done,
                                         .limit_opaque = &lim};
    if (wdts_conn_probe_run(conn, &creds, env.cat, &popts, &probe, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl connection add: %s\n", es);
        rc = WDTS_EXIT_FATAL;
        goto out;
    }
    if (probe.cls != WDTS_API_OK) {
        fprintf(stderr, "wdtctl connection add: connection %s was NOT stored: %s\n%s\n", conn->id,
                probe.what, probe.message);
        rc = class_exit(probe.cls);
        goto out;
    }
    size_t n_ok = count_rows(&probe, WDTS_API_OK);
    size_t n_blocked = count_rows(&probe, WDTS_API_PERMISSION);
    if (n_ok == 0) {
        fprintf(stderr, "wdtctl connection add: connection %s was NOT stored: the app may call "
                "none of its %zu enabled reports. Every interface must be approved for sid %s in "
                "开放平台 → 自助对接 → 应用管理 (see the fixes above), then run add again\n",
                conn->id, probe.n_rows, conn->sid);
        rc = CTL_EXIT_PERMISSION;
        goto out;
    }

    int64_t now = wdts_time_now();
    size_t n_hist_refused = 0;
    for (size_t i = 0; i < probe.n_rows; i++) {
        const struct wdts_conn_probe_row *row = &probe.rows[i];
        struct wdts_conn_report *r = wdts_conn_report_get(conn, row->report);
        if (r && row->history_method && row->history_cls == WDTS_API_PERMISSION) {
            r->history_blocked = 1;
            r->history_reason = row->history_reason ? wdts_xstrdup(row->history_reason) : NULL;
            r->history_fix = row->history_fix ? wdts_xstrdup(row->history_fix) : NULL;
            r->history_since = now;
            n_hist_refused++;
        }
        if (r == NULL || row->cls != WDTS_API_PERMISSION)
            continue;
        r->blocked = 1;
        r->reason = row->reason ? wdts_xstrdup(row->reason) : NULL;
        r->fix = row->fix ? wdts_xstrdup(row->fix) : NULL;
        r->since = now;
    }
    conn->created_at = created_at ? created_at : now;
    conn->updated_at = conn->checked_at = now;
    if (wdts_conn_seal(conn, env.key, es, sizeof(es)) != WDTS_OK ||
        wdts_conn_save(env.redis, prefix_of(&env), conn, replace, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl connection add: connection %s was NOT stored: %s\n", conn->id, es);
        rc = WDTS_EXIT_FATAL;
        goto out;
    }
    printf("connection %s %s: %zu report%s ok, %zu blocked", conn->id,
           replace ? "replaced (its sync state is kept)" : "stored", n_ok, n_ok == 1 ? "" : "s",
           n_blocked);
    if (probe.n_rows > n_ok + n_blocked)
        printf(", %zu with errors", probe.n_rows - n_ok - n_blocked);
    printf("\n");
    if (n_blocked)
        printf("blocked reports are not synced; once their interfaces are approved run: wdtctl "
               "connection check --id %s\n", conn->id);
    if (n_hist_refused)
        printf("%zu report%s may not call %s history (历史) method: recent windows are synced, "
               "windows older than the archive horizon (%lldd) fail until it is approved (then "
               "run wdtctl connection check --id %s)\n", n_hist_refused,
               n_hist_refused == 1 ? "" : "s", n_hist_refused == 1 ? "its" : "their",
               (long long)(conn->archive_horizon_s / 86400), conn->id);
    if (conn->app == WDTS_API_APP_WDT)
        printf("note: the WDT gateway does not return Taobao/Tmall, PDD or 系统供销 orders; for "
               "Taobao data add a second connection with --app qimen\n");
    /* The first-sync estimate; a failure to compute it does not undo the stored connection. */
    ctl_plan_print_for(env.cfg, env.cat, conn, stdout);
    rc = WDTS_EXIT_OK;
out:
    wdts_conn_probe_deinit(&probe);
    wdts_api_creds_deinit(&creds);
    wdts_conn_destroy(conn);
    env_deinit(&env);
    return rc < 0 ? WDTS_EXIT_OK : rc;
}

/* ---- list, show, remove ------------------------------------------------------------ */

struct simple_args {
    const char *id, *tenant;
    int json;
};

/* Parses the few flags of list/show/remove/check. allowed: "itj" letters of the flags
 * this subcommand takes. @returns 0, -1 after --help, or the exit code. */
static int parse_simple(const char *sub, const char *usage, const char *allowed, int argc,
                        char **argv, struct simple_args *a)
{
    static const struct option lo[] = {
        {"id", required_argument, NULL, 'i'},
        {"tenant", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    memset(a, 0, sizeof(*a));
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        if (c == ':')
            return usage_error(sub, "option %s needs a value", argv[optind - 1]);
        if (c == '?' || strchr(allowed, c) == NULL)
            return usage_error(sub, "unknown option '%s'", argv[optind - 1]);
        if (c == 'i')
            a->id = optarg;
        else if (c == 't')
            a->tenant = optarg;
        else
            a->json = 1;
    }
    if (optind < argc)
        return usage_error(sub, "unexpected argument '%s'", argv[optind]);
    if (a->id && !wdts_job_name_valid(a->id))
        return usage_error(sub, "--id '%s' is not a connection id (A-Z a-z 0-9 _ . -)", a->id);
    return 0;
}

static size_t n_blocked_of(const struct wdts_conn *conn)
{
    size_t n = 0;
    for (size_t i = 0; i < conn->n_reports; i++)
        n += conn->reports[i].blocked;
    return n;
}

static int cmd_list(int argc, char **argv)
{
    struct simple_args a;
    struct env env;
    char **ids = NULL, es[512];
    size_t n = 0;
    int rc = parse_simple("list", usage_list, "tj", argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? WDTS_EXIT_OK : rc;
    if ((rc = env_init(&env, "list", 0)) != 0)
        goto out;
    if (wdts_conn_list(env.redis, prefix_of(&env), &ids, &n, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl connection list: %s\n", es);
        rc = WDTS_EXIT_FATAL;
        goto out;
    }
    json_t *arr = json_array();
    if (!a.json)
        printf("%-20s %-16s %-6s %-16s %-16s %-12s %-9s %s\n", "ID", "TENANT", "APP", "SID",
               "APPKEY", "STATE", "REPORTS", "GATEWAY");
    for (size_t i = 0; i < n; i++) {
        struct wdts_conn *conn = NULL;
        wdts_err_t err = wdts_conn_load(env.redis, prefix_of(&env), ids[i], &conn, es, sizeof(es));
        if (err == WDTS_ERR_NOTFOUND)
            continue; /* removed meanwhile */
        if (err != WDTS_OK) {
            fprintf(stderr, "wdtctl connection list: %s\n", es);
            rc = WDTS_EXIT_FATAL;
            continue;
        }
        if (a.tenant && strcmp(a.tenant, conn->tenant) != 0) {
            wdts_conn_destroy(conn);
            continue;
        }
        if (a.json) {
            json_array_append_new(arr, wdts_conn_to_json(conn, WDTS_CONN_JSON_PUBLIC));
        } else {
            char rep[32];
            size_t nb = n_blocked_of(conn);
            snprintf(rep, sizeof(rep), "%zu/%zu", conn->n_reports - nb, conn->n_reports);
            printf("%-20s %-16s %-6s %-16s %-16s %-12s %-9s %s\n", conn->id, conn->tenant,
                   wdts_api_app_name(conn->app), conn->sid, conn->appkey,
                   conn->auth_failed ? "auth_failed" : nb ? "blocked" : "ok", rep, conn->gateway);
        }
        wdts_conn_destroy(conn);
    }
    if (a.json)
        print_json(arr);
    json_decref(arr);
out:
    wdts_conn_ids_free(ids, n);
    env_deinit(&env);
    return rc;
}

static void print_conn(const struct wdts_conn *conn, const struct wdts_catalog *cat)
{
    char rate[64];
    printf("%-14s %s\n", "id", conn->id);
    printf("%-14s %s\n", "tenant", conn->tenant);
    printf("%-14s %s\n", "app", wdts_api_app_name(conn->app));
    printf("%-14s %s\n", "sid", conn->sid);
    printf("%-14s %s\n", "appkey", conn->appkey);
    printf("%-14s %s\n", "appsecret", conn->appsecret_sealed ? "(stored encrypted)" : "(missing)");
    if (conn->app == WDTS_API_APP_QIMEN) {
        if (conn->qimen_platform)
            printf("%-14s %s\n", "qimen app", "platform-provided");
        else
            printf("%-14s %s (secret stored encrypted)\n", "qimen app",
                   conn->qimen_app_key ? conn->qimen_app_key : "?");
    }
    printf("%-14s %s\n", "gateway", conn->gateway);
    if (wdts_conn_gateway_plain(conn->gateway))
        printf("%-14s plain http (unencrypted): %s\n", "transport", WDTS_CONN_PLAIN_HTTP_WARNING);
    printf("%-14s %lldd", "backfill", (long long)(conn->backfill_s / 86400));
    if (conn->backfill_s % 86400)
        printf(" %llds", (long long)(conn->backfill_s % 86400));
    printf("\n");
    snprintf(rate, sizeof(rate), "%g calls/s, burst %d, concurrency %d", conn->rate, conn->burst,
             conn->concurrency);
    printf("%-14s %s\n", "rate", rate);
    printf("%-14s %s\n", "pii", wdts_conn_pii_name(conn->pii));
    struct wdts_buf lb;
    wdts_buf_init(&lb);
    for (size_t i = 0; i < conn->n_reports; i++) {
        const struct wdts_conn_report *r = &conn->reports[i];
        if (!r->has_lookback)
            continue;
        if (r->lookback_s % 86400 == 0)
            wdts_buf_printf(&lb, "%s%s=%lldd", lb.len ? ", " : "", r->name,
                            (long long)(r->lookback_s / 86400));
        else
            wdts_buf_printf(&lb, "%s%s=%lldm", lb.len ? ", " : "", r->name,
                            (long long)(r->lookback_s / 60));
    }
    if (lb.len)
        printf("%-14s %s (instead of the catalog's lookback_s)\n", "lookback", wdts_buf_str(&lb));
    wdts_buf_deinit(&lb);
    printf("%-14s horizon %lldd", "archive", (long long)(conn->archive_horizon_s / 86400));
    if (conn->archive_horizon_s % 86400)
        printf(" %llds", (long long)(conn->archive_horizon_s % 86400));
    printf(", read %s\n", wdts_conn_archive_read_name(conn->archive_read));
    if (conn->auth_failed) {
        printf("%-14s auth_failed\n", "state");
        print_time(stdout, "  since", conn->auth_since);
        printf("%-14s %s\n", "  what to do", conn->auth_message ? conn->auth_message : "");
    } else {
        printf("%-14s ok\n", "state");
    }
    print_time(stdout, "created", conn->created_at);
    print_time(stdout, "checked", conn->checked_at);
    printf("\n%-18s %-44s %s\n", "REPORT", "METHOD", "STATE");
    for (size_t i = 0; i < conn->n_reports; i++) {
        const struct wdts_conn_report *r = &conn->reports[i];
        const struct wdts_catalog_report *cr = wdts_catalog_get(cat, r->name);
        const char *method = cr == NULL                         ? "(not in the catalog)"
                             : conn->app == WDTS_API_APP_QIMEN ? cr->qimen_method
                                                               : cr->method;
        if (!r->blocked) {
            printf("%-18s %-44s ok\n", r->name, method);
        } else {
            printf("%-18s %-44s blocked: %s\n", r->name, method, r->reason ? r->reason : "");
            printf("%-18s %-44s   fix: %s\n", "", "", r->fix ? r->fix : "");
        }
        if (cr && cr->history_method[0]) {
            const char *hm = conn->app == WDTS_API_APP_QIMEN ? cr->history_qimen_method
                                                             : cr->history_method;
            if (!r->history_blocked) {
                printf("%-18s %-44s %s\n", "  (history)", hm,
                       conn->archive_read == WDTS_CONN_ARCHIVE_OFF ? "not read (archive read off)"
                                                                   : "ok");
            } else {
                printf("%-18s %-44s refused: %s\n", "  (history)", hm,
                       r->history_reason ? r->history_reason : "");
                printf("%-18s %-44s   fix: %s\n", "", "", r->history_fix ? r->history_fix : "");
            }
        }
    }
}

static int cmd_show(int argc, char **argv)
{
    struct simple_args a;
    struct env env;
    struct wdts_conn *conn = NULL;
    char es[512];
    int rc = parse_simple("show", usage_show, "ij", argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? WDTS_EXIT_OK : rc;
    if (a.id == NULL)
        return usage_error("show", "--id is required");
    if ((rc = env_init(&env, "show", 0)) != 0)
        goto out;
    if (wdts_conn_load(env.redis, prefix_of(&env), a.id, &conn, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl connection show: %s\n", es);
        rc = WDTS_EXIT_FATAL;
        goto out;
    }
    if (a.json) {
        json_t *j = wdts_conn_to_json(conn, WDTS_CONN_JSON_PUBLIC);
        print_json(j);
        json_decref(j);
    } else {
        print_conn(conn, env.cat);
    }
out:
    wdts_conn_destroy(conn);
    env_deinit(&env);
    return rc;
}

static int cmd_remove(int argc, char **argv)
{
    struct simple_args a;
    struct env env;
    char es[512];
    long long deleted = 0;
    int rc = parse_simple("remove", usage_remove, "i", argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? WDTS_EXIT_OK : rc;
    if (a.id == NULL)
        return usage_error("remove", "--id is required");
    if ((rc = env_init(&env, "remove", 0)) != 0)
        goto out;
    /* Every report of the catalog, so that the keys of reports disabled since go too. */
    size_t n_reports = wdts_catalog_count(env.cat);
    const char **reports = wdts_xcalloc(n_reports ? n_reports : 1, sizeof(*reports));
    for (size_t i = 0; i < n_reports; i++)
        reports[i] = wdts_catalog_at(env.cat, i)->name;
    wdts_err_t err = wdts_conn_remove(env.redis, prefix_of(&env), a.id, reports, n_reports,
                                      &deleted, es, sizeof(es));
    free(reports);
    if (err != WDTS_OK) {
        fprintf(stderr, "wdtctl connection remove: %s\n", es);
        rc = err == WDTS_ERR_INVAL ? WDTS_EXIT_USAGE : WDTS_EXIT_FATAL;
        goto out;
    }
    printf("connection %s removed (%lld keys deleted)\n", a.id, deleted);
out:
    env_deinit(&env);
    return rc;
}

/* ---- check ----------------------------------------------------------------------------- */

/* Checks one stored connection and moves its state. @returns its exit code. */
static int check_one(struct env *env, const char *id)
{
    struct wdts_conn *conn = NULL;
    struct wdts_api_creds creds;
    struct wdts_conn_probe probe;
    char es[1024];
    int rc = WDTS_EXIT_OK;
    const char *pfx = prefix_of(env);
    memset(&creds, 0, sizeof(creds));
    memset(&probe, 0, sizeof(probe));
    if (wdts_conn_load(env->redis, pfx, id, &conn, es, sizeof(es)) != WDTS_OK ||
        wdts_conn_open_secrets(conn, env->key, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl connection check: %s\n", es);
        rc = WDTS_EXIT_FATAL;
        goto out;
    }
    /* A v1 document (secrets bound to tenant/id/field only) is rewritten as v2 here. */
    int upgraded = 0;
    if (wdts_conn_upgrade(env->redis, pfx, conn, env->key, &upgraded, es, sizeof(es)) !=
        WDTS_OK) {
        fprintf(stderr, "wdtctl connection check: %s\n", es);
        rc = WDTS_EXIT_FATAL;
        goto out;
    }
    if (upgraded)
        printf("connection %s: stored again in the v2 form (its secrets are now bound to its "
               "tenant, id, app, sid, appkey and gateway %s)\n", conn->id, conn->gateway);
    wdts_err_t err = wdts_conn_creds(conn, env->cfg->qimen_app_key, env->cfg->qimen_app_secret,
                                     &creds, es, sizeof(es));
    if (err != WDTS_OK) {
        fprintf(stderr, "wdtctl connection check: %s\n", es);
        rc = err == WDTS_ERR_CONFIG ? WDTS_EXIT_CONFIG : WDTS_EXIT_FATAL;
        goto out;
    }
    printf("connection %s (tenant %s, app %s, sid %s) at %s\n", conn->id, conn->tenant,
           wdts_api_app_name(conn->app), conn->sid, conn->gateway);
    fflush(stdout);
    /* Rows are printed as they come; the credentials verdict goes before them only when
     * the credentials fail (then no row is checked). */
    struct table table = {conn, 0};
    struct ctl_limiter lim;
    ctl_limiter_init(&lim, env->redis, conn);
    struct wdts_conn_probe_opts popts = {.on_row = print_row, .opaque = &table,
                                         .admit = ctl_limiter_admit, .done = ctl_limiter_done,
                                         .limit_opaque = &lim};
    if (wdts_conn_probe_run(conn, &creds, env->cat, &popts, &probe, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl connection check: %s\n", es);
        rc = WDTS_EXIT_FATAL;
        goto out;
    }
    int64_t now = wdts_time_now();
    if (probe.cls == WDTS_API_AUTH) {
        printf("  credentials refused: %s\n  what to do: %s\n", probe.what, probe.message);
        if (wdts_conn_mark_auth(env->redis, pfx, conn->id, probe.message, now, es, sizeof(es)) !=
            WDTS_OK)
            goto redis_failed;
        printf("  marked auth_failed: its jobs stop until a check succeeds\n");
        rc = CTL_EXIT_AUTH;
        goto out;
    }
    if (probe.cls != WDTS_API_OK) {
        /* Clock, unreachable, rate limited: nothing is learnt about the credentials. */
        printf("  could not check: %s\n  %s\n  (state left as it was)\n", probe.what,
               probe.message);
        rc = class_exit(probe.cls);
        goto out;
    }
    if (conn->auth_failed) {
        if (wdts_conn_mark_auth(env->redis, pfx, conn->id, NULL, now, es, sizeof(es)) != WDTS_OK)
            goto redis_failed;
        printf("  credentials work again: auth_failed cleared, its reports are planned again\n");
    }
    size_t unblocked = 0, blocked = 0;
    for (size_t i = 0; i < probe.n_rows; i++) {
        const struct wdts_conn_probe_row *row = &probe.rows[i];
        const struct wdts_conn_report *was = wdts_conn_report_get(conn, row->report);
        if (row->history_method && was &&
            (row->history_cls == WDTS_API_PERMISSION ||
             (row->history_cls == WDTS_API_OK && was->history_blocked))) {
            int refused = row->history_cls == WDTS_API_PERMISSION;
            if (wdts_conn_mark_history(env->redis, pfx, conn->id, row->report,
                                       refused ? (row->history_reason ? row->history_reason
                                                                      : "权限不足")
                                               : NULL,
                                       refused ? row->history_fix : NULL, now, es,
                                       sizeof(es)) != WDTS_OK)
                goto redis_failed;
            if (!refused)
                printf("  %s: its history method is allowed again\n", row->report);
        }
        if (row->cls == WDTS_API_OK && was && was->blocked) {
            err = wdts_conn_mark_report(env->redis, pfx, conn->id, row->report, NULL, NULL, now,
                                        es, sizeof(es));
            unblocked++;
        } else if (row->cls == WDTS_API_PERMISSION) {
            err = wdts_conn_mark_report(env->redis, pfx, conn->id, row->report,
                                        row->reason ? row->reason : "权限不足", row->fix, now, es,
                                        sizeof(es));
            blocked++;
        } else {
            continue;
        }
        if (err != WDTS_OK)
            goto redis_failed;
    }
    if (wdts_conn_mark_checked(env->redis, pfx, conn->id, now, es, sizeof(es)) != WDTS_OK)
        goto redis_failed;
    printf("  %zu report%s returned to service, %zu blocked\n", unblocked,
           unblocked == 1 ? "" : "s", blocked);
    goto out;
redis_failed:
    fprintf(stderr, "wdtctl connection check: %s\n", es);
    rc = WDTS_EXIT_FATAL;
out:
    fflush(stdout);
    wdts_conn_probe_deinit(&probe);
    wdts_api_creds_deinit(&creds);
    wdts_conn_destroy(conn);
    return rc;
}

/* Which exit code wins when several connections are checked: the worst. */
static int worse(int a, int b)
{
    static const int order[] = {WDTS_EXIT_OK, CTL_EXIT_RATE_LIMITED, CTL_EXIT_TRANSIENT,
                                CTL_EXIT_CLOCK, CTL_EXIT_BAD_REQUEST, CTL_EXIT_AUTH,
                                WDTS_EXIT_CONFIG, WDTS_EXIT_FATAL};
    int ra = 0, rb = 0;
    for (int i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++) {
        if (order[i] == a)
            ra = i;
        if (order[i] == b)
            rb = i;
    }
    return rb > ra ? b : a;
}

static int cmd_check(int argc, char **argv)
{
    struct simple_args a;
    struct env env;
    char **ids = NULL, es[512];
    size_t n = 0;
    int rc = parse_simple("check", usage_check, "it", argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? WDTS_EXIT_OK : rc;
    if ((rc = env_init(&env, "check", 1)) != 0)
        goto out;
    if (a.id) {
        rc = check_one(&env, a.id);
        goto out;
    }
    if (wdts_conn_list(env.redis, prefix_of(&env), &ids, &n, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl connection check: %s\n", es);
        rc = WDTS_EXIT_FATAL;
        goto out;
    }
    size_t checked = 0;
    for (size_t i = 0; i < n; i++) {
        if (a.tenant) {
            struct wdts_conn *conn = NULL;
            int mine = wdts_conn_load(env.redis, prefix_of(&env), ids[i], &conn, es,
                                      sizeof(es)) == WDTS_OK &&
                       strcmp(conn->tenant, a.tenant) == 0;
            wdts_conn_destroy(conn);
            if (!mine)
                continue;
        }
        rc = worse(rc, check_one(&env, ids[i]));
        checked++;
    }
    if (checked == 0)
        printf("no connection to check\n");
out:
    wdts_conn_ids_free(ids, n);
    env_deinit(&env);
    return rc;
}

int ctl_conn_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {
        {"add", cmd_add},       {"list", cmd_list},   {"show", cmd_show},
        {"remove", cmd_remove}, {"check", cmd_check},
    };
    if (argc < 2) {
        fputs(usage_main, stderr);
        return WDTS_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_main, stdout);
        return WDTS_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "wdtctl connection: unknown subcommand '%s'\n\n", argv[1]);
    fputs(usage_main, stderr);
    return WDTS_EXIT_USAGE;
}
