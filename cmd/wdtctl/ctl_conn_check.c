/* `wdtctl connection check`: re-runs add's checks on stored connections and moves their
 * stored state both ways (auth_failed, blocked reports and history methods), one table
 * per connection; the exit code is the worst problem's. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_conn.h"
#include "wdts/cfg.h"
#include "wdts/conn.h"
#include "wdts/conn_probe.h"
#include "wdts/err.h"
#include "wdts/time.h"

static const char usage_check[] =
    "usage: wdtctl connection check [--id C] [--tenant T]\n"
    "\n"
    "Re-runs add's checks for one connection (--id), a tenant's, or all. A connection marked\n"
    "auth_failed whose credentials work again is marked ok; a blocked report whose method\n"
    "now answers is returned to service; a report refused now is marked blocked. Prints one\n"
    "table per connection. Exit code: 0 when every connection's credentials work (blocked\n"
    "reports included), else the code of the worst problem (see wdtctl connection --help).\n";

/* Loads a stored connection with its secrets open (a v1 document is rewritten as v2 on the
 * way) and its API credentials. @returns 0 or the exit code after printing why. */
static int check_open(const struct ctl_env *env, const char *id, struct wdts_conn **conn,
                      struct wdts_api_creds *creds)
{
    const char *pfx = env->cfg->redis_prefix;
    char es[1024];
    if (wdts_conn_load(env->redis, pfx, id, conn, es, sizeof(es)) != WDTS_OK ||
        wdts_conn_open_secrets(*conn, env->key, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl connection check: %s\n", es);
        return WDTS_EXIT_FATAL;
    }
    /* A v1 document (secrets bound to tenant/id/field only) is rewritten as v2 here. */
    int upgraded = 0;
    if (wdts_conn_upgrade(env->redis, pfx, *conn, env->key, &upgraded, es, sizeof(es)) !=
        WDTS_OK) {
        fprintf(stderr, "wdtctl connection check: %s\n", es);
        return WDTS_EXIT_FATAL;
    }
    if (upgraded)
        printf("connection %s: stored again in the v2 form (its secrets are now bound to its "
               "tenant, id, app, sid, appkey and gateway %s)\n", (*conn)->id, (*conn)->gateway);
    wdts_err_t err = wdts_conn_creds(*conn, env->cfg->qimen_app_key, env->cfg->qimen_app_secret,
                                     creds, es, sizeof(es));
    if (err != WDTS_OK) {
        fprintf(stderr, "wdtctl connection check: %s\n", es);
        return err == WDTS_ERR_CONFIG ? WDTS_EXIT_CONFIG : WDTS_EXIT_FATAL;
    }
    return 0;
}

/* Stores what the rows of a check whose credentials work say: a history method refused
 * or allowed again, a blocked report that answers, a report refused now.
 * @returns WDTS_OK, or Redis's error (errstr). */
static wdts_err_t check_store_rows(const struct ctl_env *env, const struct wdts_conn *conn,
                                   const struct wdts_conn_probe *probe, int64_t now,
                                   size_t *unblocked, size_t *blocked, char *es, size_t es_size)
{
    const char *pfx = env->cfg->redis_prefix;
    wdts_err_t err;
    for (size_t i = 0; i < probe->n_rows; i++) {
        const struct wdts_conn_probe_row *row = &probe->rows[i];
        const struct wdts_conn_report *was = wdts_conn_report_get(conn, row->report);
        if (row->history_method && was &&
            (row->history_cls == WDTS_API_PERMISSION ||
             (row->history_cls == WDTS_API_OK && was->history_blocked))) {
            int refused = row->history_cls == WDTS_API_PERMISSION;
            err = wdts_conn_mark_history(env->redis, pfx, conn->id, row->report,
                                         refused ? (row->history_reason ? row->history_reason
                                                                        : "权限不足")
                                                 : NULL,
                                         refused ? row->history_fix : NULL, now, es, es_size);
            if (err != WDTS_OK)
                return err;
            if (!refused)
                printf("  %s: its history method is allowed again\n", row->report);
        }
        if (row->cls == WDTS_API_OK && was && was->blocked) {
            err = wdts_conn_mark_report(env->redis, pfx, conn->id, row->report, NULL, NULL, now,
                                        es, es_size);
            (*unblocked)++;
        } else if (row->cls == WDTS_API_PERMISSION) {
            err = wdts_conn_mark_report(env->redis, pfx, conn->id, row->report,
                                        row->reason ? row->reason : "权限不足", row->fix, now, es,
                                        es_size);
            (*blocked)++;
        } else {
            continue;
        }
        if (err != WDTS_OK)
            return err;
    }
    return wdts_conn_mark_checked(env->redis, pfx, conn->id, now, es, es_size);
}

/* Moves the stored state after a check: auth_failed set or cleared, then the rows.
 * @returns the connection's exit code. */
static int check_store(const struct ctl_env *env, const struct wdts_conn *conn,
                       const struct wdts_conn_probe *probe)
{
    const char *pfx = env->cfg->redis_prefix;
    char es[1024];
    int64_t now = wdts_time_now();
    size_t unblocked = 0, blocked = 0;
    if (probe->cls == WDTS_API_AUTH) {
        printf("  credentials refused: %s\n  what to do: %s\n", probe->what, probe->message);
        if (wdts_conn_mark_auth(env->redis, pfx, conn->id, probe->message, now, es, sizeof(es)) !=
            WDTS_OK)
            goto redis_failed;
        printf("  marked auth_failed: its jobs stop until a check succeeds\n");
        return CTL_EXIT_AUTH;
    }
    if (probe->cls != WDTS_API_OK) {
        /* Clock, unreachable, rate limited: nothing is learnt about the credentials. */
        printf("  could not check: %s\n  %s\n  (state left as it was)\n", probe->what,
               probe->message);
        return ctl_class_exit(probe->cls);
    }
    if (conn->auth_failed) {
        if (wdts_conn_mark_auth(env->redis, pfx, conn->id, NULL, now, es, sizeof(es)) != WDTS_OK)
            goto redis_failed;
        printf("  credentials work again: auth_failed cleared, its reports are planned again\n");
    }
    if (check_store_rows(env, conn, probe, now, &unblocked, &blocked, es, sizeof(es)) != WDTS_OK)
        goto redis_failed;
    printf("  %zu report%s returned to service, %zu blocked\n", unblocked,
           unblocked == 1 ? "" : "s", blocked);
    return WDTS_EXIT_OK;
redis_failed:
    fprintf(stderr, "wdtctl connection check: %s\n", es);
    return WDTS_EXIT_FATAL;
}

/* Checks one stored connection and moves its state. @returns its exit code. */
static int check_one(const struct ctl_env *env, const char *id)
{
    struct wdts_conn *conn = NULL;
    struct wdts_api_creds creds;
    struct wdts_conn_probe probe;
    char es[1024];
    int rc;
    memset(&creds, 0, sizeof(creds));
    memset(&probe, 0, sizeof(probe));
    if ((rc = check_open(env, id, &conn, &creds)) != 0)
        goto out;
    printf("connection %s (tenant %s, app %s, sid %s) at %s\n", conn->id, conn->tenant,
           wdts_api_app_name(conn->app), conn->sid, conn->gateway);
    fflush(stdout);
    /* Rows are printed as they come; the credentials verdict goes before them only when
     * the credentials fail (then no row is checked). */
    if (ctl_conn_probe(env, conn, conn, &creds, &probe, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl connection check: %s\n", es);
        rc = WDTS_EXIT_FATAL;
        goto out;
    }
    rc = check_store(env, conn, &probe);
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

int ctl_conn_check(int argc, char **argv)
{
    struct ctl_conn_args a;
    struct ctl_env env;
    char **ids = NULL, es[512];
    size_t n = 0;
    int rc = ctl_conn_parse_args("check", usage_check, "it", argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? WDTS_EXIT_OK : rc;
    if ((rc = ctl_env_init(&env, "connection check", CTL_ENV_NEED_KEY | CTL_ENV_READ_KEY)) != 0 ||
        (rc = ctl_env_redis(&env, "cannot use Redis", "")) != 0)
        goto out;
    if (a.id) {
        rc = check_one(&env, a.id);
        goto out;
    }
    if (wdts_conn_list(env.redis, env.cfg->redis_prefix, &ids, &n, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl connection check: %s\n", es);
        rc = WDTS_EXIT_FATAL;
        goto out;
    }
    size_t checked = 0;
    for (size_t i = 0; i < n; i++) {
        if (a.tenant) {
            struct wdts_conn *conn = NULL;
            int mine = wdts_conn_load(env.redis, env.cfg->redis_prefix, ids[i], &conn, es,
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
    ctl_env_deinit(&env);
    return rc;
}
