/* `wdtctl connection add|list|show|remove|check`: wiring of the connection model
 * (wdts/conn.h) and its live checks (wdts/conn_probe.h) to flags, config, Redis and the
 * terminal: list, show and remove, and what every subcommand of connection shares (the
 * usage error, the flags, the checks' table); add (ctl_conn_add.c) checks the credentials
 * and every enabled report with real calls before anything is stored; check
 * (ctl_conn_check.c) re-runs the checks and moves stored state both ways.
 * Secrets come from flags or files, are sealed before they reach Redis and are never
 * printed: list and show have no secret to print, not even sealed. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_conn.h"
#include "wdts/catalog.h"
#include "wdts/cfg.h"
#include "wdts/conn.h"
#include "wdts/conn_probe.h"
#include "wdts/err.h"
#include "wdts/job.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"

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

int ctl_conn_usage_error(const char *sub, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "wdtctl connection %s: ", sub);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'wdtctl connection %s --help' for usage.\n", sub);
    return WDTS_EXIT_USAGE;
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

/* The probe table, printed a row at a time as the checks answer. */
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

wdts_err_t ctl_conn_probe(const struct ctl_env *env, const struct wdts_conn *conn,
                          const struct wdts_conn *before, const struct wdts_api_creds *creds,
                          struct wdts_conn_probe *probe, char *errstr, size_t errstr_size)
{
    struct table table = {before, 0};
    struct ctl_limiter lim;
    ctl_limiter_init(&lim, env, conn);
    struct wdts_conn_probe_opts popts = {.on_row = print_row, .opaque = &table,
                                         .admit = ctl_limiter_admit, .done = ctl_limiter_done,
                                         .limit_opaque = &lim};
    return wdts_conn_probe_run(conn, creds, env->cat, &popts, probe, errstr, errstr_size);
}

/* ---- list, show, remove ------------------------------------------------------------ */

int ctl_conn_parse_args(const char *sub, const char *usage, const char *allowed, int argc,
                        char **argv, struct ctl_conn_args *a)
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
            return ctl_conn_usage_error(sub, "option %s needs a value", argv[optind - 1]);
        if (c == '?' || strchr(allowed, c) == NULL)
            return ctl_conn_usage_error(sub, "unknown option '%s'", argv[optind - 1]);
        if (c == 'i')
            a->id = optarg;
        else if (c == 't')
            a->tenant = optarg;
        else
            a->json = 1;
    }
    if (optind < argc)
        return ctl_conn_usage_error(sub, "unexpected argument '%s'", argv[optind]);
    if (a->id && !wdts_job_name_valid(a->id))
        return ctl_conn_usage_error(sub, "--id '%s' is not a connection id (A-Z a-z 0-9 _ . -)",
                                    a->id);
    return 0;
}

static size_t n_blocked_of(const struct wdts_conn *conn)
{
    size_t n = 0;
    for (size_t i = 0; i < conn->n_reports; i++)
        n += conn->reports[i].blocked;
    return n;
}

int ctl_conn_list(int argc, char **argv)
{
    struct ctl_conn_args a;
    struct ctl_env env;
    char **ids = NULL, es[512];
    size_t n = 0;
    int rc = ctl_conn_parse_args("list", usage_list, "tj", argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? WDTS_EXIT_OK : rc;
    if ((rc = ctl_env_init(&env, "connection list", CTL_ENV_READ_KEY)) != 0 ||
        (rc = ctl_env_redis(&env, "cannot use Redis", "")) != 0)
        goto out;
    if (wdts_conn_list(env.redis, env.cfg->redis_prefix, &ids, &n, es, sizeof(es)) != WDTS_OK) {
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
        wdts_err_t err =
            wdts_conn_load(env.redis, env.cfg->redis_prefix, ids[i], &conn, es, sizeof(es));
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
    ctl_env_deinit(&env);
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

int ctl_conn_show(int argc, char **argv)
{
    struct ctl_conn_args a;
    struct ctl_env env;
    struct wdts_conn *conn = NULL;
    char es[512];
    int rc = ctl_conn_parse_args("show", usage_show, "ij", argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? WDTS_EXIT_OK : rc;
    if (a.id == NULL)
        return ctl_conn_usage_error("show", "--id is required");
    if ((rc = ctl_env_init(&env, "connection show", CTL_ENV_READ_KEY)) != 0 ||
        (rc = ctl_env_redis(&env, "cannot use Redis", "")) != 0)
        goto out;
    if (wdts_conn_load(env.redis, env.cfg->redis_prefix, a.id, &conn, es, sizeof(es)) != WDTS_OK) {
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
    ctl_env_deinit(&env);
    return rc;
}

int ctl_conn_remove(int argc, char **argv)
{
    struct ctl_conn_args a;
    struct ctl_env env;
    char es[512];
    long long deleted = 0;
    int rc = ctl_conn_parse_args("remove", usage_remove, "i", argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? WDTS_EXIT_OK : rc;
    if (a.id == NULL)
        return ctl_conn_usage_error("remove", "--id is required");
    if ((rc = ctl_env_init(&env, "connection remove", CTL_ENV_READ_KEY)) != 0 ||
        (rc = ctl_env_redis(&env, "cannot use Redis", "")) != 0)
        goto out;
    /* Every report of the catalog, so that the keys of reports disabled since go too. */
    size_t n_reports = wdts_catalog_count(env.cat);
    const char **reports = wdts_xcalloc(n_reports ? n_reports : 1, sizeof(*reports));
    for (size_t i = 0; i < n_reports; i++)
        reports[i] = wdts_catalog_at(env.cat, i)->name;
    wdts_err_t err = wdts_conn_remove(env.redis, env.cfg->redis_prefix, a.id, reports, n_reports,
                                      &deleted, es, sizeof(es));
    free(reports);
    if (err != WDTS_OK) {
        fprintf(stderr, "wdtctl connection remove: %s\n", es);
        rc = err == WDTS_ERR_INVAL ? WDTS_EXIT_USAGE : WDTS_EXIT_FATAL;
        goto out;
    }
    printf("connection %s removed (%lld keys deleted)\n", a.id, deleted);
out:
    ctl_env_deinit(&env);
    return rc;
}
