/* wdtctl reports | status | resync: the report catalog, the progress of every
 * (connection, report), and re-sync of a range. Wiring and presentation only: the state
 * is read with scheduler/sched_state.c and a resync runs scheduler/sched_resync.c. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl.h"
#include "sched_estimate.h"
#include "sched_loop.h"
#include "sched_plan.h"
#include "sched_resync.h"
#include "sched_state.h"
#include "wdts/catalog.h"
#include "wdts/cfg.h"
#include "wdts/conn.h"
#include "wdts/err.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"

static const char usage_reports[] =
    "usage: wdtctl reports [--group G] [--json]\n"
    "\n"
    "Lists the report catalog: name, group (what --reports selects by), kind (incremental by\n"
    "a time window, or snapshot), the widest window or the snapshot interval, the time the\n"
    "window filters on (a report whose window is not on the change time sees a record's later\n"
    "changes only by reading again: LATE says so), the direct method, the page size and the\n"
    "primary key. --json prints the same and more as a JSON array: the Qimen and archive\n"
    "methods, the look-back, and the official page each report's facts come from.\n"
    "--group G lists only group G: sales, aftersales, stock, purchase, finance, goods or\n"
    "settings (the words `wdtctl connection add --reports` and `wdtctl plan --reports` take).\n";

static const char usage_status[] =
    "usage: wdtctl status [--connection C] [--json]\n"
    "\n"
    "Per connection and enabled report: state (ok, backfilling, blocked, auth_failed), the\n"
    "watermark (everything before it is delivered), how far it is behind now, windows\n"
    "outstanding (emitted, not completed) and completed, records delivered (when workers\n"
    "record them), whether a document's later changes arrive (LATE: `seen` when the\n"
    "report's window is its change time; `missed` when it is not and nothing re-reads it;\n"
    "otherwise the look-back depth and when the last look-back re-read ran, see\n"
    "docs/CONSUMERS.md), the ETA and the last error with what to do. Reads Redis\n"
    "(WDT_REDIS_URL).\n"
    "ETA, for a backfilling report: the calls its windows in flight still need (their pages\n"
    "are known from their first answer) plus its windows not started yet (outstanding or\n"
    "not planned) at the calls per window of those started, at the connection's rate (the\n"
    "rate seen so far when it is clearly lower); `unknown` until 5 have started (or all of\n"
    "them). Reports share the rate, so a line under the connection gives the whole\n"
    "backfill's time (a lower bound, said so, while a report's calls are unknown).\n"
    "Exit: 0, 1 when Redis cannot be read, 64 bad arguments, 69 no such connection,\n"
    "78 bad configuration.\n";

static const char usage_resync[] =
    "usage: wdtctl resync --connection C --report R --from T1 --to T2\n"
    "\n"
    "Fetches [T1, T2) of report R of connection C again: the range is cut into windows on\n"
    "the scheduler's grid, the watermark moves back to T1 (it returns once the windows\n"
    "complete), and the windows are emitted to topic.jobs as kind `resync`. Only closed\n"
    "time (before now - scheduler.lag) is re-synced. A snapshot report gets its latest list.\n"
    "Times: RFC 3339 (2026-11-01T00:00:00+08:00), Beijing \"yyyy-MM-dd HH:mm:ss\", or Unix\n"
    "seconds. Needs Redis and Kafka (WDT_REDIS_URL, WDT_KAFKA_BOOTSTRAP_SERVERS).\n"
    "Exit: 0 emitted, 1 Redis or Kafka failed, 64 bad arguments, 69 unknown connection or\n"
    "report, 78 bad configuration.\n";

/* Config, catalog and Redis, as every subcommand that reads state needs them. */
static int env_init(struct ctl_env *env, const char *sub)
{
    int rc = ctl_env_init(env, sub, 0);
    return rc != 0 ? rc : ctl_env_redis(env, "cannot reach Redis", " (set WDT_REDIS_URL)");
}

static int usage_error(const char *sub, const char *msg, const char *arg)
{
    fprintf(stderr, "wdtctl %s: %s%s\nRun 'wdtctl %s --help' for usage.\n", sub, msg,
            arg ? arg : "", sub);
    return WDTS_EXIT_USAGE;
}

/* "90d", "1h", "30m", "45s" from seconds: the largest unit that divides it. */
static void fmt_span(int64_t s, char *out, size_t size)
{
    if (s % 86400 == 0)
        snprintf(out, size, "%" PRId64 "d", s / 86400);
    else if (s % 3600 == 0)
        snprintf(out, size, "%" PRId64 "h", s / 3600);
    else if (s % 60 == 0)
        snprintf(out, size, "%" PRId64 "m", s / 60);
    else
        snprintf(out, size, "%" PRId64 "s", s);
}

/* How far behind: "3d4h", "2h05m", "4m10s". */
static void fmt_behind(int64_t s, char *out, size_t size)
{
    if (s < 0)
        s = 0;
    if (s >= 86400)
        snprintf(out, size, "%" PRId64 "d%" PRId64 "h", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, size, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
    else
        snprintf(out, size, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
}

static void join_names(const struct wdts_catalog_names *nm, char *out, size_t size)
{
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < nm->n && len + 1 < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%s", i ? "+" : "", nm->v[i]);
}

/* Whether later changes of a unit's documents arrive: "seen" (its window is the change
 * time), "missed" (not, and no look-back re-reads it) or "lookback"; p from
 * sched_params_for(). */
static const char *late_changes(const struct sched_unit *u, const struct sched_plan_params *p)
{
    if (u->rep == NULL || wdts_catalog_report_sees_late_changes(u->rep))
        return "seen";
    return p->reread > 0 && p->reread_every > 0 ? "lookback" : "missed";
}

/* ---- reports ----------------------------------------------------------------------- */

int ctl_reports_main(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"group", required_argument, NULL, 'g'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int json = 0, c;
    const char *group = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'g': group = optarg; break;
        case 'h': fputs(usage_reports, stdout); return WDTS_EXIT_OK;
        default: return usage_error("reports", "unknown option", NULL);
        }
    }
    if (optind < argc)
        return usage_error("reports", "unexpected argument: ", argv[optind]);
    if (group) {
        int known = 0;
        for (size_t g = 0; wdts_catalog_groups[g]; g++)
            known |= strcmp(group, wdts_catalog_groups[g]) == 0;
        if (!known)
            return usage_error("reports",
                               "--group must be one of sales, aftersales, stock, purchase, "
                               "finance, goods, settings, not ",
                               group);
    }
    int rc = 0;
    struct wdts_catalog *cat = ctl_catalog_load("reports", &rc);
    if (cat == NULL)
        return rc;
    if (json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < wdts_catalog_count(cat); i++) {
            const struct wdts_catalog_report *r = wdts_catalog_at(cat, i);
            if (group && strcmp(r->group, group) != 0)
                continue;
            json_t *pk = json_array();
            for (size_t k = 0; k < r->pk.n; k++)
                json_array_append_new(pk, json_string(r->pk.v[k]));
            json_t *o = json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:i, s:s, s:o}", "name", r->name,
                "description", r->description, "kind", wdts_report_kind_name(r->kind), "method",
                r->method, "qimen_method", r->qimen_method, "max_span_s", (json_int_t)r->max_span,
                "snapshot_interval_s", (json_int_t)r->snapshot_interval, "page_size", r->page_size,
                "list_key", r->list_key, "pk", pk);
            char source[256];
            snprintf(source, sizeof(source), "%s/Firecrawl/%s.md", WDTS_CATALOG_SPEC_SOURCE, r->method);
            json_object_set_new(o, "group", json_string(r->group));
            json_object_set_new(o, "basis", r->kind == WDTS_REPORT_SNAPSHOT
                                                ? json_string("snapshot")
                                                : json_string(r->time_basis));
            json_object_set_new(o, "late_changes_seen",
                                json_boolean(wdts_catalog_report_sees_late_changes(r)));
            json_object_set_new(o, "lookback_s", json_integer((json_int_t)r->lookback));
            json_object_set_new(o, "history_method", *r->history_method
                                                         ? json_string(r->history_method)
                                                         : json_null());
            json_object_set_new(o, "spec_source", json_string(source));
            json_array_append_new(arr, o);
        }
        char *text = json_dumps(arr, JSON_INDENT(2));
        puts(text);
        free(text);
        json_decref(arr);
    } else {
        size_t shown = 0;
        printf("%-25s %-10s %-11s %-9s %-9s %-4s %-46s %-4s %s\n", "REPORT", "GROUP", "KIND",
               "WINDOW", "BASIS", "LATE", "METHOD", "PAGE", "KEY");
        for (size_t i = 0; i < wdts_catalog_count(cat); i++) {
            const struct wdts_catalog_report *r = wdts_catalog_at(cat, i);
            if (group && strcmp(r->group, group) != 0)
                continue;
            shown++;
            char span[32], pk[128], win[40];
            fmt_span(r->kind == WDTS_REPORT_SNAPSHOT ? r->snapshot_interval : r->max_span, span,
                     sizeof(span));
            snprintf(win, sizeof(win), "%s%s", r->kind == WDTS_REPORT_SNAPSHOT ? "every " : "",
                     span);
            join_names(&r->pk, pk, sizeof(pk));
            printf("%-25s %-10s %-11s %-9s %-9s %-4s %-46s %-4d %s\n", r->name, r->group,
                   wdts_report_kind_name(r->kind), win,
                   r->kind == WDTS_REPORT_SNAPSHOT ? "-" : r->time_basis,
                   wdts_catalog_report_sees_late_changes(r) ? "yes" : "no", r->method,
                   r->page_size, pk);
        }
        if (group)
            printf("\n%zu reports of group %s (of %zu). Qimen and archive methods, sources: "
                   "wdtctl reports --json.\n",
                   shown, group, wdts_catalog_count(cat));
        else
            printf("\n%zu reports. Qimen and archive methods, sources: wdtctl reports --json.\n",
                   shown);
    }
    wdts_catalog_destroy(cat);
    return WDTS_EXIT_OK;
}

/* ---- status ------------------------------------------------------------------------ */

/* The state of one (connection, report) and its user-facing error. */
static const char *unit_state(const struct wdts_conn *conn, const struct wdts_conn_report *cr,
                              const struct sched_unit *u, const char **error)
{
    *error = u->last_error[0] ? u->last_error : NULL;
    if (conn->auth_failed) {
        *error = conn->auth_message ? conn->auth_message : "credentials refused";
        return "auth_failed";
    }
    if (cr->blocked) {
        *error = cr->fix ? cr->fix : cr->reason ? cr->reason : "permission refused";
        return "blocked";
    }
    if (u->load_failed)
        return "error";
    if (u->rep && u->rep->kind == WDTS_REPORT_SNAPSHOT) {
        if (!u->plan.has_snapshot || !u->wm.initialized || u->wm.wm <= u->wm.origin)
            return "backfilling";
        return "ok";
    }
    if (!u->plan.has_cursor || !u->wm.initialized || u->wm.wm < u->plan.backfill_end)
        return "backfilling";
    return "ok";
}

/* The backfill's remaining work of one unit: windows left (not completed, or not planned
 * yet) and, once enough windows were seen, the calls they take. */
struct unit_eta {
    int backfilling;
    long long windows_left;
    double calls_per_window; /* -1: unknown */
    double calls_left;       /* -1: unknown */
};

static void unit_eta_of(const struct wdts_cfg *cfg, const struct wdts_conn *conn,
                        const struct sched_unit *u, int64_t now, struct unit_eta *eta)
{
    memset(eta, 0, sizeof(*eta));
    eta->calls_per_window = eta->calls_left = -1;
    if (u->rep == NULL)
        return;
    struct sched_plan_params p;
    sched_params_for(cfg, conn, u->rep, &p);
    long long unplanned = 0;
    char es[256];
    if (!p.snapshot &&
        sched_est_windows(&p, u->plan.has_cursor ? &u->plan : NULL, now, NULL, NULL,
                          &unplanned, es, sizeof(es)) != WDTS_OK)
        unplanned = 0;
    if (p.snapshot && !u->plan.has_snapshot)
        unplanned = 1;
    eta->windows_left = unplanned;
    for (size_t j = 0; j < u->n_out; j++)
        if (!u->out[j].completed &&
            (p.snapshot || u->out[j].kind == WDTS_JOB_BACKFILL ||
             (u->plan.has_cursor && u->out[j].end <= u->plan.backfill_end)))
            eta->windows_left++;
    /* from the progress of the windows started (workers count it at every answer); else
     * from the windows completed, which favour the cheap ones finished first */
    eta->calls_left = sched_est_calls_left(eta->windows_left, u->windows_started,
                                           u->windows_done, u->calls_expected, u->calls_made);
    if (eta->calls_left >= 0 && u->windows_started > 0) {
        eta->calls_per_window = (double)u->calls_expected / (double)u->windows_started;
    } else {
        eta->calls_per_window = sched_est_calls_per_window(u->calls, u->windows_done);
        if (eta->windows_left == 0)
            eta->calls_left = 0;
        else if (eta->calls_per_window >= 0)
            eta->calls_left = eta->calls_per_window * (double)eta->windows_left;
    }
}

/* A connection's backfill as a whole: the calls left of its backfilling reports at the
 * rate the workers get (the configured one, or the one seen when it is clearly lower). */
struct conn_eta {
    int backfilling, unknown;
    long long windows_left;
    double calls_left;
    long long calls_seen;
    int64_t first_done_at; /* since when calls_seen were made */
    double rate;     /* calls/s used */
    int observed;    /* 1: rate is the one seen */
    double seconds;  /* a lower bound when unknown > 0 */
};

static void conn_eta_add(struct conn_eta *c, const struct sched_unit *u, const struct unit_eta *e)
{
    c->backfilling++;
    c->windows_left += e->windows_left;
    if (e->calls_left < 0) {
        c->unknown++;
        c->calls_left += (double)e->windows_left; /* at least one call per window */
    } else {
        c->calls_left += e->calls_left;
    }
    /* the rate seen: calls as the workers make them (progress counters) since the first
     * window started; else calls counted at completions since the first one, which lag */
    int progress = u->windows_started > 0 && u->first_call_at > 0;
    int64_t since = progress ? u->first_call_at : u->first_done_at;
    c->calls_seen += progress ? u->calls_made : u->calls;
    if (since > 0 && (c->first_done_at == 0 || since < c->first_done_at))
        c->first_done_at = since;
}

static void conn_eta_finish(struct conn_eta *c, const struct wdts_conn *conn, int64_t now)
{
    c->rate = conn->rate;
    int64_t elapsed = c->first_done_at > 0 ? now - c->first_done_at : 0;
    if (elapsed >= 60 && c->calls_seen >= 20) {
        double seen = (double)c->calls_seen / (double)elapsed;
        if (seen < 0.9 * conn->rate) {
            c->rate = seen;
            c->observed = 1;
        }
    }
    struct sched_est_limit lim = {c->rate, 1, conn->concurrency, 0};
    c->seconds = sched_est_seconds(c->calls_left, &lim);
}

/* What one row of status shows of one (connection, report). */
struct status_row {
    const char *state, *error, *late;
    char eta[32];
    double eta_s; /* -1: not backfilling, or unknown */
    long long outstanding, completed;
    char wm[WDTS_RFC3339_LEN], behind[32], rec[24], late_txt[64];
    struct sched_plan_params p;
};

static void status_row_of(const struct wdts_cfg *cfg, const struct wdts_conn *conn, size_t r,
                          const struct sched_unit *u, const struct unit_eta *ue,
                          const struct conn_eta *ce, int64_t now, struct status_row *row)
{
    memset(row, 0, sizeof(*row));
    row->state = unit_state(conn, &conn->reports[r], u, &row->error);
    snprintf(row->eta, sizeof(row->eta), "-");
    row->eta_s = -1;
    if (ue->backfilling && ue->calls_left >= 0) {
        struct sched_est_limit lim = {ce->rate, 1, conn->concurrency, 0};
        row->eta_s = sched_est_seconds(ue->calls_left, &lim);
        fmt_behind((int64_t)row->eta_s, row->eta, sizeof(row->eta));
    } else if (ue->backfilling) {
        snprintf(row->eta, sizeof(row->eta), "unknown");
    }
    long long done_now = 0;
    for (size_t j = 0; j < u->n_out; j++) {
        if (u->out[j].completed)
            done_now++;
        else
            row->outstanding++;
    }
    row->completed = u->completed + done_now;
    snprintf(row->wm, sizeof(row->wm), "-");
    snprintf(row->behind, sizeof(row->behind), "-");
    snprintf(row->rec, sizeof(row->rec), "-");
    if (u->wm.initialized) {
        wdts_time_format_rfc3339(u->wm.wm, row->wm);
        fmt_behind(now - u->wm.wm, row->behind, sizeof(row->behind));
    }
    if (u->records >= 0)
        snprintf(row->rec, sizeof(row->rec), "%lld", u->records);
    if (u->rep)
        sched_params_for(cfg, conn, u->rep, &row->p);
    row->late = late_changes(u, &row->p);
    snprintf(row->late_txt, sizeof(row->late_txt), "%s", row->late);
    if (strcmp(row->late, "lookback") == 0) {
        char depth[24], ago[24];
        int64_t last_lb = u->plan.last_lookback;
        if (row->p.reread % 86400 == 0)
            snprintf(depth, sizeof(depth), "%" PRId64 "d", row->p.reread / 86400);
        else
            fmt_behind(row->p.reread, depth, sizeof(depth));
        if (last_lb > 0) {
            fmt_behind(now - last_lb, ago, sizeof(ago));
            snprintf(row->late_txt, sizeof(row->late_txt), "%s, ran %s ago", depth, ago);
        } else {
            snprintf(row->late_txt, sizeof(row->late_txt), "%s, not yet", depth);
        }
    }
}

static json_t *status_backfill_json(const struct unit_eta *ue, const struct conn_eta *ce,
                                    double eta_s)
{
    json_t *b = json_object();
    json_object_set_new(b, "windows_left", json_integer(ue->windows_left));
    json_object_set_new(b, "calls_per_window",
                        ue->calls_per_window >= 0 ? json_real(ue->calls_per_window)
                                                  : json_null());
    json_object_set_new(b, "calls_left",
                        ue->calls_left >= 0 ? json_integer((json_int_t)llround(ue->calls_left))
                                            : json_null());
    json_object_set_new(b, "eta_s",
                        eta_s >= 0 ? json_integer((json_int_t)llround(eta_s)) : json_null());
    json_object_set_new(b, "connection_eta_s", json_integer((json_int_t)llround(ce->seconds)));
    json_object_set_new(b, "connection_eta_is_lower_bound", json_boolean(ce->unknown > 0));
    json_object_set_new(b, "calls_per_min", json_real(ce->rate * 60));
    json_object_set_new(b, "rate_observed", json_boolean(ce->observed));
    return b;
}

static json_t *status_row_json(const struct wdts_conn *conn, const struct sched_unit *u,
                               const struct unit_eta *ue, const struct conn_eta *ce,
                               const struct status_row *row, int64_t now)
{
    int64_t last_lb = u->plan.last_lookback;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "connection", conn->id, "tenant",
                          conn->tenant, "report", u->report, "state", row->state);
    json_object_set_new(o, "gateway_plain_http",
                        json_boolean(wdts_conn_gateway_plain(conn->gateway)));
    json_object_set_new(o, "watermark", u->wm.initialized ? json_string(row->wm) : json_null());
    json_object_set_new(o, "behind_s",
                        u->wm.initialized ? json_integer(now - u->wm.wm) : json_null());
    json_object_set_new(o, "outstanding", json_integer(row->outstanding));
    json_object_set_new(o, "completed", json_integer(row->completed));
    json_object_set_new(o, "records", u->records >= 0 ? json_integer(u->records) : json_null());
    json_object_set_new(o, "late_changes", json_string(row->late));
    json_object_set_new(o, "lookback_s", json_integer((json_int_t)row->p.reread));
    char lb[WDTS_RFC3339_LEN];
    if (last_lb > 0)
        wdts_time_format_rfc3339(last_lb, lb);
    json_object_set_new(o, "last_lookback", last_lb > 0 ? json_string(lb) : json_null());
    json_object_set_new(o, "last_error", row->error ? json_string(row->error) : json_null());
    json_object_set_new(o, "backfill",
                        ue->backfilling ? status_backfill_json(ue, ce, row->eta_s) : json_null());
    char at[WDTS_RFC3339_LEN];
    if (row->error && row->error == u->last_error && u->last_error_at > 0) {
        wdts_time_format_rfc3339(u->last_error_at, at);
        json_object_set_new(o, "last_error_at", json_string(at));
    } else {
        json_object_set_new(o, "last_error_at", json_null());
    }
    return o;
}

/* The line under a backfilling connection's reports: its whole backfill's time. */
static void status_print_backfill(const struct wdts_conn *conn, const struct conn_eta *ce)
{
    char d[64];
    sched_est_format_duration(ce->seconds, d, sizeof(d));
    printf("%-16s backfill: %lld windows and %s%.0f calls left; at %.4g calls/min (%s) "
           "this takes %s%s\n",
           conn->id, ce->windows_left, ce->unknown ? "at least " : "about ", ce->calls_left,
           ce->rate * 60, ce->observed ? "seen so far" : "configured",
           ce->unknown ? "at least " : "", d);
    if (ce->unknown)
        printf("%-16s (%d report%s with fewer than %d windows done counted at one call "
               "per window)\n",
               "", ce->unknown, ce->unknown == 1 ? "" : "s", SCHED_EST_MIN_WINDOWS_SEEN);
}

/* The rows of one loaded connection (its units read already), as lines or into arr. */
static void status_conn_rows(const struct ctl_env *env, const struct wdts_conn *conn,
                             const struct sched_unit *u, int64_t now, json_t *arr)
{
    struct conn_eta ce;
    memset(&ce, 0, sizeof(ce));
    struct unit_eta *ue = wdts_xcalloc(conn->n_reports + 1, sizeof(*ue));
    for (size_t r = 0; r < conn->n_reports; r++) {
        const char *error = NULL;
        if (strcmp(unit_state(conn, &conn->reports[r], &u[r], &error), "backfilling") == 0) {
            unit_eta_of(env->cfg, conn, &u[r], now, &ue[r]);
            ue[r].backfilling = 1;
            conn_eta_add(&ce, &u[r], &ue[r]);
        }
    }
    conn_eta_finish(&ce, conn, now);
    for (size_t r = 0; r < conn->n_reports; r++) {
        struct status_row row;
        status_row_of(env->cfg, conn, r, &u[r], &ue[r], &ce, now, &row);
        if (arr)
            json_array_append_new(arr, status_row_json(conn, &u[r], &ue[r], &ce, &row, now));
        else
            printf("%-16s %-18s %-12s %-25s %-9s %5lld %9lld %9s %-8s  %-18s %s\n", conn->id,
                   u[r].report, row.state, row.wm, row.behind, row.outstanding, row.completed,
                   row.rec, row.eta, row.late_txt, row.error ? row.error : "");
    }
    if (!arr && ce.backfilling)
        status_print_backfill(conn, &ce);
    free(ue);
}

/* The status of connection id, as lines or into arr. @returns 0 to go on with the next
 * connection, 1 to stop (*rc says why). */
static int status_conn(const struct ctl_env *env, const char *id, int only, int64_t now,
                       json_t *arr, int *rc)
{
    const char *prefix = env->cfg->redis_prefix;
    struct wdts_conn *conn = NULL;
    char es[512];
    wdts_err_t err = wdts_conn_load(env->redis, prefix, id, &conn, es, sizeof(es));
    if (err == WDTS_ERR_NOTFOUND && only) {
        fprintf(stderr, "wdtctl status: no connection %s (wdtctl connection list shows them)\n",
                id);
        *rc = CTL_EXIT_NOTFOUND;
        return 1;
    }
    if (err == WDTS_ERR_NOTFOUND)
        return 0;
    if (err != WDTS_OK) {
        fprintf(stderr, "wdtctl status: connection %s: %s\n", id, es);
        *rc = WDTS_EXIT_FATAL;
        return env->redis->err != WDTS_OK;
    }
    struct sched_unit *u = wdts_xcalloc(conn->n_reports + 1, sizeof(*u));
    for (size_t r = 0; r < conn->n_reports; r++) {
        u[r].tenant = conn->tenant;
        u[r].connection = conn->id;
        u[r].report = conn->reports[r].name;
        u[r].rep = wdts_catalog_get(env->cat, conn->reports[r].name);
    }
    err = sched_state_load(env->redis, prefix, u, conn->n_reports, es, sizeof(es));
    if (err != WDTS_OK) {
        fprintf(stderr, "wdtctl status: reading %s: %s\n", conn->id, es);
        *rc = WDTS_EXIT_FATAL;
    } else {
        status_conn_rows(env, conn, u, now, arr);
    }
    if (!arr && wdts_conn_gateway_plain(conn->gateway))
        fprintf(stderr, "note: connection %s: %s (%s)\n", conn->id, WDTS_CONN_PLAIN_HTTP_WARNING,
                conn->gateway);
    for (size_t r = 0; r < conn->n_reports; r++)
        sched_unit_deinit(&u[r]);
    free(u);
    wdts_conn_destroy(conn);
    return *rc == WDTS_EXIT_FATAL && env->redis->err != WDTS_OK;
}

int ctl_status_main(int argc, char **argv)
{
    static const struct option opts[] = {{"connection", required_argument, NULL, 'c'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *only = NULL;
    int json = 0, c, rc;
    char es[512];
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': only = optarg; break;
        case 'j': json = 1; break;
        case 'h': fputs(usage_status, stdout); return WDTS_EXIT_OK;
        default: return usage_error("status", "unknown option", NULL);
        }
    }
    if (optind < argc)
        return usage_error("status", "unexpected argument: ", argv[optind]);
    if (only && !wdts_job_name_valid(only))
        return usage_error("status", "--connection: not a connection id: ", only);

    struct ctl_env env;
    if ((rc = env_init(&env, "status")) != 0) {
        ctl_env_deinit(&env);
        return rc;
    }
    char **ids = NULL;
    size_t n_ids = 0;
    json_t *arr = json_array();
    rc = WDTS_EXIT_OK;
    if (only) {
        ids = wdts_xcalloc(1, sizeof(*ids));
        ids[0] = wdts_xstrdup(only);
        n_ids = 1;
    } else if (wdts_conn_list(env.redis, env.cfg->redis_prefix, &ids, &n_ids, es, sizeof(es)) !=
               WDTS_OK) {
        fprintf(stderr, "wdtctl status: listing connections: %s\n", es);
        rc = WDTS_EXIT_FATAL;
        goto out;
    }
    int64_t now = wdts_time_now();
    if (!json)
        printf("%-16s %-18s %-12s %-25s %-9s %5s %9s %9s %-8s  %-18s %s\n", "CONNECTION",
               "REPORT", "STATE", "WATERMARK", "BEHIND", "OUT", "COMPLETED", "RECORDS", "ETA",
               "LATE", "LAST ERROR");
    for (size_t i = 0; i < n_ids; i++)
        if (status_conn(&env, ids[i], only != NULL, now, json ? arr : NULL, &rc))
            goto out;
    if (json) {
        char *text = json_dumps(arr, JSON_INDENT(2));
        puts(text);
        free(text);
    } else if (n_ids == 0) {
        printf("(no connection; add one with wdtctl connection add)\n");
    }
out:
    json_decref(arr);
    wdts_conn_ids_free(ids, n_ids);
    ctl_env_deinit(&env);
    return rc;
}

/* ---- resync ------------------------------------------------------------------------ */

static int parse_time_arg(const char *s, int64_t *out)
{
    return wdts_time_parse_rfc3339(s, out) == WDTS_OK || wdts_time_parse_beijing(s, out) == WDTS_OK
               ? 0
               : -1;
}

/* The arguments of resync; borrowed from argv. */
struct resync_args {
    const char *cid, *report;
    int64_t from, to;
};

/* @returns -1 to go on, or the exit code (after --help or a usage error). */
static int resync_parse_args(int argc, char **argv, struct resync_args *a)
{
    static const struct option opts[] = {{"connection", required_argument, NULL, 'c'},
                                         {"report", required_argument, NULL, 'r'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *from_s = NULL, *to_s = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->cid = optarg; break;
        case 'r': a->report = optarg; break;
        case 'f': from_s = optarg; break;
        case 't': to_s = optarg; break;
        case 'h': fputs(usage_resync, stdout); return WDTS_EXIT_OK;
        default: return usage_error("resync", "unknown option", NULL);
        }
    }
    if (optind < argc)
        return usage_error("resync", "unexpected argument: ", argv[optind]);
    if (!a->cid || !a->report || !from_s || !to_s)
        return usage_error("resync", "--connection, --report, --from and --to are required", NULL);
    if (parse_time_arg(from_s, &a->from) != 0)
        return usage_error("resync",
                           "--from: not a time (RFC 3339, \"yyyy-MM-dd HH:mm:ss\" Beijing, or "
                           "Unix seconds): ",
                           from_s);
    if (parse_time_arg(to_s, &a->to) != 0)
        return usage_error("resync",
                           "--to: not a time (RFC 3339, \"yyyy-MM-dd HH:mm:ss\" Beijing, or "
                           "Unix seconds): ",
                           to_s);
    if (a->from >= a->to)
        return usage_error("resync", "--from must be before --to", NULL);
    if (!wdts_job_name_valid(a->cid))
        return usage_error("resync", "--connection: not a connection id: ", a->cid);
    return -1;
}

/* The report to re-sync: in the catalog and enabled for the connection (a warning when
 * its jobs will wait). @returns 0, or the exit code after printing why. */
static int resync_report(const struct ctl_env *env, const struct wdts_conn *conn,
                         const char *report, const struct wdts_catalog_report **rep)
{
    *rep = wdts_catalog_get(env->cat, report);
    if (*rep == NULL) {
        fprintf(stderr, "wdtctl resync: no report %s in the catalog (wdtctl reports lists them)\n",
                report);
        return CTL_EXIT_NOTFOUND;
    }
    const struct wdts_conn_report *cr = wdts_conn_report_get(conn, report);
    if (cr == NULL) {
        fprintf(stderr,
                "wdtctl resync: report %s is not enabled for connection %s (enable it first; "
                "wdtctl connection show --id %s lists its reports)\n",
                report, conn->id, conn->id);
        return CTL_EXIT_NOTFOUND;
    }
    if (conn->auth_failed || cr->blocked)
        fprintf(stderr,
                "wdtctl resync: warning: %s is %s; the jobs will wait until wdtctl connection "
                "check succeeds\n",
                conn->auth_failed ? "the connection" : "the report",
                conn->auth_failed ? "auth_failed" : "blocked");
    return 0;
}

int ctl_resync_main(int argc, char **argv)
{
    struct resync_args a = {0};
    char es[1024];
    int rc = resync_parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;

    struct ctl_env env;
    struct wdts_conn *conn = NULL;
    const struct wdts_catalog_report *rep = NULL;
    if ((rc = env_init(&env, "resync")) != 0 || (rc = ctl_conn_load(&env, a.cid, &conn)) != 0 ||
        (rc = resync_report(&env, conn, a.report, &rep)) != 0)
        goto out;
    struct sched_resync_result res;
    wdts_err_t err = sched_resync_run(env.cfg, env.redis, conn, rep, a.from, a.to,
                                      wdts_time_now(), &res, es, sizeof(es));
    if (err != WDTS_OK) {
        fprintf(stderr, "wdtctl resync: %s\n", es);
        rc = err == WDTS_ERR_INVAL ? WDTS_EXIT_USAGE : WDTS_EXIT_FATAL;
        goto out;
    }
    char from[WDTS_RFC3339_LEN], to[WDTS_RFC3339_LEN];
    wdts_time_format_rfc3339(res.start, from);
    wdts_time_format_rfc3339(res.end, to);
    printf("resync of %s/%s: %zu windows emitted covering [%s, %s)%s\n", a.cid, rep->name, res.n,
           from, to,
           res.end < a.to && rep->kind != WDTS_REPORT_SNAPSHOT
               ? " (the rest is not closed yet; the scheduler will plan it)"
               : "");
    rc = WDTS_EXIT_OK;
out:
    wdts_conn_destroy(conn);
    ctl_env_deinit(&env);
    return rc;
}
