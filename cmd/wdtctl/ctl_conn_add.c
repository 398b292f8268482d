/* `wdtctl connection add`: the flags become a connection (struct wdts_conn), checked
 * against the catalog; then the credentials and every enabled report are checked with real
 * calls (wdts/conn_probe.h), and only a connection that may read something is sealed and
 * stored. Each step is a function below; main's order is ctl_conn_add()'s. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_conn.h"
#include "wdts/catalog.h"
#include "wdts/cfg.h"
#include "wdts/conn.h"
#include "wdts/conn_probe.h"
#include "wdts/crypto.h"
#include "wdts/err.h"
#include "wdts/mem.h"
#include "wdts/secret.h"
#include "wdts/str.h"
#include "wdts/time.h"

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

static void set_secret(char **dst, char *val)
{
    if (*dst)
        wdts_crypto_free_secret(*dst, strlen(*dst));
    *dst = val;
}

static int parse_count(const char *sub, const char *flag, const char *s, long long min,
                       long long max, int *out)
{
    long long v;
    if (wdts_parse_int(s, min, max, &v) != WDTS_OK)
        return ctl_conn_usage_error(sub, "%s must be a whole number from %lld to %lld, not '%s'",
                                    flag, min, max, s);
    *out = (int)v;
    return 0;
}

static int parse_rate(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v) || v <= 0 || v > WDTS_CONN_RATE_MAX)
        return ctl_conn_usage_error("add", "--rate must be calls per second above 0 and at "
                                    "most %.0f (e.g. 1 or 0.5), not '%s'", WDTS_CONN_RATE_MAX, s);
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
        return ctl_conn_usage_error("add", "--reports: %s", es);
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
            int rc = ctl_conn_usage_error("add", "--lookback: give REPORT=DURATION in whole "
                                          "minutes (e.g. trades_by_pay=7d, 0 for none), not '%s'",
                                          p);
            free(item);
            return rc;
        }
        if (r == NULL) {
            int rc = ctl_conn_usage_error("add", "--lookback: %s is not an enabled report of this "
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

/* The flags that are not fields of the connection itself; borrowed from argv. */
struct add_args {
    const char *app, *gateway, *reports, *backfill, *rate, *burst, *concurrency, *pii,
        *lookback, *horizon, *archive_read;
    int replace;
};

/* Reads the flags into conn (its fields) and a (the rest).
 * @returns 0, -1 after --help, or the exit code after printing why. */
static int add_parse_args(int argc, char **argv, struct wdts_conn *conn, struct add_args *a)
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
    char es[1024];
    int rc = 0, c, stdin_used = 0;
    optind = 1;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case O_TENANT: free(conn->tenant); conn->tenant = wdts_xstrdup(optarg); break;
        case O_ID: free(conn->id); conn->id = wdts_xstrdup(optarg); break;
        case O_APP: a->app = optarg; break;
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
                rc = ctl_conn_usage_error("add", "%s", "only one secret can be read from "
                                          "standard input (-); give the other one a file");
                break;
            }
            char *v = wdts_secret_read_file(optarg, es, sizeof(es));
            if (v == NULL) {
                rc = ctl_conn_usage_error("add", "%s", es);
                break;
            }
            set_secret(c == O_APPSECRET_FILE ? &conn->appsecret : &conn->qimen_app_secret, v);
            break;
        }
        case O_QM_PLATFORM: conn->qimen_platform = 1; break;
        case O_GATEWAY: a->gateway = optarg; break;
        case O_REPORTS: a->reports = optarg; break;
        case O_BACKFILL: a->backfill = optarg; break;
        case O_RATE: a->rate = optarg; break;
        case O_BURST: a->burst = optarg; break;
        case O_CONCURRENCY: a->concurrency = optarg; break;
        case O_PII: a->pii = optarg; break;
        case O_LOOKBACK: a->lookback = optarg; break;
        case O_REPLACE: a->replace = 1; break;
        case O_ARCHIVE_HORIZON: a->horizon = optarg; break;
        case O_ARCHIVE_READ: a->archive_read = optarg; break;
        case 'h': fputs(usage_add, stdout); rc = -1; break;
        case ':':
            rc = ctl_conn_usage_error("add", "option %s needs a value", argv[optind - 1]);
            break;
        default: rc = ctl_conn_usage_error("add", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (rc == 0 && optind < argc)
        rc = ctl_conn_usage_error("add", "unexpected argument '%s'", argv[optind]);
    return rc;
}

/* The flags every connection needs, and which app it is. @returns 0 or the exit code. */
static int add_identity(struct wdts_conn *conn, const struct add_args *a)
{
    const char *missing = !conn->tenant   ? "--tenant"
                          : !conn->id     ? "--id"
                          : !a->app       ? "--app"
                          : !conn->sid    ? "--sid"
                          : !conn->appkey ? "--appkey"
                          : !conn->appsecret ? "--appsecret or --appsecret-file"
                                             : NULL;
    if (missing)
        return ctl_conn_usage_error("add", "%s is required", missing);
    if (wdts_api_app_parse(a->app, &conn->app) != WDTS_OK)
        return ctl_conn_usage_error("add", "--app must be wdt or qimen, not '%s'", a->app);
    if (conn->app == WDTS_API_APP_QIMEN && !conn->qimen_platform &&
        (conn->qimen_app_key == NULL || conn->qimen_app_secret == NULL))
        return ctl_conn_usage_error(
            "add", "--app qimen needs a Qimen app: give --qimen-app-key and "
                   "--qimen-app-secret (or --qimen-app-secret-file), or --qimen-platform to "
                   "use the operator's; Taobao/Tmall data can only be read through one");
    conn->gateway = wdts_xstrdup(wdts_conn_gateway_resolve(conn->app, a->gateway));
    return 0;
}

/* The connection's settings: depth, limits, PII, archive. @returns 0 or the exit code. */
static int add_settings(struct wdts_conn *conn, const struct add_args *a)
{
    int64_t ms;
    int rc;
    if (a->backfill) {
        if (wdts_cfg_parse_duration(a->backfill, &ms) != WDTS_OK || ms < 0)
            return ctl_conn_usage_error("add", "--backfill must be a duration such as 90d, "
                                        "30d or 12h, not '%s'", a->backfill);
        conn->backfill_s = ms / 1000;
    }
    if ((a->rate && (rc = parse_rate(a->rate, &conn->rate)) != 0) ||
        (a->burst && (rc = parse_count("add", "--burst", a->burst, 1, WDTS_CONN_BURST_MAX,
                                       &conn->burst)) != 0) ||
        (a->concurrency && (rc = parse_count("add", "--concurrency", a->concurrency, 1,
                                             WDTS_CONN_CONCURRENCY_MAX, &conn->concurrency)) != 0))
        return rc;
    if (a->pii && wdts_conn_pii_parse(a->pii, &conn->pii) != WDTS_OK)
        return ctl_conn_usage_error("add", "--pii must be keep, hash or drop, not '%s'", a->pii);
    if (a->horizon) {
        if (wdts_cfg_parse_duration(a->horizon, &ms) != WDTS_OK || ms < 86400000LL ||
            ms % 60000 != 0)
            return ctl_conn_usage_error("add", "--archive-horizon must be whole minutes of at "
                                        "least a day, such as 90d or 2d, not '%s'", a->horizon);
        conn->archive_horizon_s = ms / 1000;
    }
    if (a->archive_read &&
        wdts_conn_archive_read_parse(a->archive_read, &conn->archive_read) != WDTS_OK)
        return ctl_conn_usage_error("add", "--archive-read must be all, old or off, not '%s'",
                                    a->archive_read);
    return 0;
}

/* The reports enabled (--reports, --lookback), and the whole connection validated against
 * the catalog (catalog.path, or the built-in one). @returns 0 or the exit code. */
static int add_reports(struct wdts_conn *conn, const struct add_args *a)
{
    int rc = 0;
    struct wdts_catalog *cat = ctl_catalog_load("connection add", &rc);
    if (cat == NULL)
        return rc;
    rc = parse_reports(conn, a->reports, cat);
    if (rc == 0 && a->lookback)
        rc = parse_lookback(conn, a->lookback);
    if (rc == 0) {
        struct wdts_buf errs;
        wdts_buf_init(&errs);
        if (wdts_conn_validate(conn, cat, &errs) != WDTS_OK)
            rc = ctl_conn_usage_error("add", "the connection is not valid:\n%s",
                                      wdts_buf_str(&errs));
        wdts_buf_deinit(&errs);
    }
    wdts_catalog_destroy(cat);
    return rc;
}

/* An existing id is refused (or, with --replace, checked) before any call is spent.
 * *replace is cleared when there is nothing to replace; *created_at is the old one's.
 * @returns 0 or the exit code after printing why. */
static int add_check_existing(const struct ctl_env *env, const struct wdts_conn *conn,
                              int *replace, int64_t *created_at)
{
    struct wdts_conn *old = NULL;
    char es[1024];
    wdts_err_t err = wdts_conn_load(env->redis, env->cfg->redis_prefix, conn->id, &old, es,
                                    sizeof(es));
    if (err == WDTS_OK && !*replace) {
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
        *created_at = old->created_at;
    } else if (err == WDTS_ERR_NOTFOUND) {
        err = WDTS_OK;
        *replace = 0;
    } else {
        fprintf(stderr, "wdtctl connection add: %s\n", es);
    }
    wdts_conn_destroy(old);
    return err == WDTS_OK ? 0 : WDTS_EXIT_FATAL;
}

/* The real calls: credentials, then every enabled report, the table printed as they
 * answer. @returns 0 when the connection may be stored, else the exit code. */
static int add_probe(const struct ctl_env *env, const struct wdts_conn *conn,
                     struct wdts_api_creds *creds, struct wdts_conn_probe *probe)
{
    char es[1024];
    wdts_err_t err = wdts_conn_creds(conn, env->cfg->qimen_app_key, env->cfg->qimen_app_secret,
                                     creds, es, sizeof(es));
    if (err != WDTS_OK) {
        fprintf(stderr, "wdtctl connection add: %s\n", es);
        return err == WDTS_ERR_CONFIG ? WDTS_EXIT_CONFIG : WDTS_EXIT_USAGE;
    }
    if (wdts_conn_gateway_plain(conn->gateway))
        fprintf(stderr, "warning: connection %s: %s (%s)\n", conn->id,
                WDTS_CONN_PLAIN_HTTP_WARNING, conn->gateway);
    printf("checking connection %s (tenant %s, app %s, sid %s) at %s\n", conn->id, conn->tenant,
           wdts_api_app_name(conn->app), conn->sid, conn->gateway);
    fflush(stdout);
    if (ctl_conn_probe(env, conn, NULL, creds, probe, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl connection add: %s\n", es);
        return WDTS_EXIT_FATAL;
    }
    if (probe->cls != WDTS_API_OK) {
        fprintf(stderr, "wdtctl connection add: connection %s was NOT stored: %s\n%s\n",
                conn->id, probe->what, probe->message);
        return ctl_class_exit(probe->cls);
    }
    return 0;
}

/* What was stored and what to do next. */
static void add_print_stored(const struct wdts_conn *conn, const struct wdts_conn_probe *probe,
                             const struct wdts_conn_probe_counts *n, int replace)
{
    printf("connection %s %s: %zu report%s ok, %zu blocked", conn->id,
           replace ? "replaced (its sync state is kept)" : "stored", n->ok,
           n->ok == 1 ? "" : "s", n->blocked);
    if (probe->n_rows > n->ok + n->blocked)
        printf(", %zu with errors", probe->n_rows - n->ok - n->blocked);
    printf("\n");
    if (n->blocked)
        printf("blocked reports are not synced; once their interfaces are approved run: wdtctl "
               "connection check --id %s\n", conn->id);
    if (n->history_refused)
        printf("%zu report%s may not call %s history (历史) method: recent windows are synced, "
               "windows older than the archive horizon (%lldd) fail until it is approved (then "
               "run wdtctl connection check --id %s)\n", n->history_refused,
               n->history_refused == 1 ? "" : "s", n->history_refused == 1 ? "its" : "their",
               (long long)(conn->archive_horizon_s / 86400), conn->id);
    if (conn->app == WDTS_API_APP_WDT)
        printf("note: the WDT gateway does not return Taobao/Tmall, PDD or 系统供销 orders; for "
               "Taobao data add a second connection with --app qimen\n");
}

/* Marks what the check found, seals the secrets and stores the connection.
 * @returns 0 or the exit code after printing why. */
static int add_store(const struct ctl_env *env, struct wdts_conn *conn,
                     const struct wdts_conn_probe *probe, int replace, int64_t created_at)
{
    struct wdts_conn_probe_counts n;
    char es[1024];
    int64_t now = wdts_time_now();
    wdts_conn_probe_apply(conn, probe, now, &n);
    if (n.ok == 0) {
        fprintf(stderr, "wdtctl connection add: connection %s was NOT stored: the app may call "
                "none of its %zu enabled reports. Every interface must be approved for sid %s in "
                "开放平台 → 自助对接 → 应用管理 (see the fixes above), then run add again\n",
                conn->id, probe->n_rows, conn->sid);
        return CTL_EXIT_PERMISSION;
    }
    conn->created_at = created_at ? created_at : now;
    conn->updated_at = conn->checked_at = now;
    if (wdts_conn_seal(conn, env->key, es, sizeof(es)) != WDTS_OK ||
        wdts_conn_save(env->redis, env->cfg->redis_prefix, conn, replace, es, sizeof(es)) !=
            WDTS_OK) {
        fprintf(stderr, "wdtctl connection add: connection %s was NOT stored: %s\n", conn->id,
                es);
        return WDTS_EXIT_FATAL;
    }
    add_print_stored(conn, probe, &n, replace);
    return 0;
}

int ctl_conn_add(int argc, char **argv)
{
    struct add_args a;
    struct wdts_conn *conn = wdts_conn_new();
    struct wdts_conn_probe probe;
    struct wdts_api_creds creds;
    struct ctl_env env;
    int64_t created_at = 0;
    int rc;
    memset(&a, 0, sizeof(a));
    memset(&probe, 0, sizeof(probe));
    memset(&creds, 0, sizeof(creds));
    memset(&env, 0, sizeof(env));

    if ((rc = add_parse_args(argc, argv, conn, &a)) != 0 || (rc = add_identity(conn, &a)) != 0 ||
        (rc = add_settings(conn, &a)) != 0 || (rc = add_reports(conn, &a)) != 0)
        goto out;
    if ((rc = ctl_env_init(&env, "connection add", CTL_ENV_NEED_KEY | CTL_ENV_READ_KEY)) != 0 ||
        (rc = ctl_env_redis(&env, "cannot use Redis", "")) != 0 ||
        (rc = add_check_existing(&env, conn, &a.replace, &created_at)) != 0 ||
        (rc = add_probe(&env, conn, &creds, &probe)) != 0 ||
        (rc = add_store(&env, conn, &probe, a.replace, created_at)) != 0)
        goto out;
    /* The first-sync estimate; a failure to compute it does not undo the stored connection. */
    ctl_plan_print_for(env.cfg, env.cat, conn, stdout);
    rc = WDTS_EXIT_OK;
out:
    wdts_conn_probe_deinit(&probe);
    wdts_api_creds_deinit(&creds);
    wdts_conn_destroy(conn);
    ctl_env_deinit(&env);
    return rc < 0 ? WDTS_EXIT_OK : rc;
}
