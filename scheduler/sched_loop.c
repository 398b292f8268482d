/* The scheduler's passes and loop (see sched.h). Work goes in batches of connections:
 * one pipelined read of every report's state, pure planning, one produce-and-flush of all
 * the batch's jobs, one pipelined write. The lease is checked before each batch is
 * emitted, so a replica that lost it stops within one batch. */
#include "sched_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched_emit_int.h"
#include "sched_lease_int.h"
#include "sched_plan.h"
#include "sched_state.h"
#include "wdts/catalog.h"
#include "wdts/cfg.h"
#include "wdts/cfg_redis.h"
#include "wdts/conn.h"
#include "wdts/log.h"
#include "wdts/lua.h"
#include "wdts/mem.h"
#include "wdts/metrics.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts/watermark.h"

struct sched_metrics {
    struct wdts_metric_series *passes_ok, *passes_no_lease, *passes_failed;
    struct wdts_metric_series *emitted[WDTS_JOB_KIND__COUNT];
    struct wdts_metric_series *reemitted, *completed, *errors, *lease_held, *units;
    struct wdts_metric_series *duration;
    struct wdts_metric *holder; /* wdt_sched_lease_holder_info{holder} */
    struct wdts_metric_series *holder_cur;
    struct wdts_metric_series *
        *wm_lag; /* wdt_sched_watermark_lag_seconds{report}, by catalog index */
    struct wdts_metric_series **reread; /* wdt_sched_lookback_jobs_total{report}, by index */
};

struct sched {
    const struct wdts_cfg *cfg; /* borrowed */
    struct sched_opts opts;
    struct wdts_redis *redis;
    struct wdts_catalog *cat;
    struct sched_emit *emit;
    struct sched_lease lease;
    struct sched_metrics m;
    int have_metrics;
    volatile int ready; /* read by the HTTP thread */
    char why_not_ready[128];

    char standby_logged[WDTS_LEASE_HOLDER_MAX + 1]; /* the holder last named in the log */
    int64_t *lag; /* per catalog report: the largest now - watermark seen in this pass, or -1 */

    /* scratch, reused across batches */
    struct sched_plan_window *win;
    size_t win_cap;
};

/* ---- metrics ----------------------------------------------------------------------- */

static void metrics_init(struct sched *s, struct wdts_metrics *reg)
{
    char es[256];
    static const char *const result_lbl[] = {"result"};
    static const char *const kind_lbl[] = {"kind"};
    static const char *const holder_lbl[] = {"holder"};
    static const double dur_bounds[] = {0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120};
    if (reg == NULL)
        return;
    struct wdts_metric *passes = wdts_metrics_counter(
        reg, "wdt_sched_passes_total", "Planning passes by result (ok, no_lease, failed).",
        result_lbl, 1, es, sizeof(es));
    struct wdts_metric *emitted = wdts_metrics_counter(
        reg, "wdt_sched_jobs_emitted_total",
        "New windows emitted to wdt.jobs and acknowledged, by kind.", kind_lbl, 1, es, sizeof(es));
    struct wdts_metric *reemitted = wdts_metrics_counter(
        reg, "wdt_sched_jobs_reemitted_total",
        "Windows emitted again because their job lease expired before completion.", NULL, 0, es,
        sizeof(es));
    struct wdts_metric *completed = wdts_metrics_counter(
        reg, "wdt_sched_windows_completed_total",
        "Outstanding windows the scheduler found completed (watermark or done set).", NULL, 0, es,
        sizeof(es));
    struct wdts_metric *errors = wdts_metrics_counter(
        reg, "wdt_sched_unit_errors_total",
        "(connection, report) pairs whose planning failed in a pass (see wdtctl status).", NULL, 0,
        es, sizeof(es));
    struct wdts_metric *held = wdts_metrics_gauge(reg, "wdt_sched_lease_held",
                                                  "1 while this process holds the scheduler lease.",
                                                  NULL, 0, es, sizeof(es));
    struct wdts_metric *units = wdts_metrics_gauge(
        reg, "wdt_sched_units", "(connection, report) pairs planned in the last pass.", NULL, 0, es,
        sizeof(es));
    struct wdts_metric *dur = wdts_metrics_histogram(
        reg, "wdt_sched_pass_duration_seconds", "Wall time of a planning pass.", NULL, 0,
        dur_bounds, sizeof(dur_bounds) / sizeof(dur_bounds[0]), es, sizeof(es));
    s->m.holder = wdts_metrics_gauge(reg, "wdt_sched_lease_holder_info",
                                     "1 for the lease holder this process saw last.", holder_lbl, 1,
                                     es, sizeof(es));
    static const char *const report_lbl[] = {"report"};
    struct wdts_metric *lag = wdts_metrics_gauge(
        reg, "wdt_sched_watermark_lag_seconds",
        "Per report, the largest time between now and the watermark over the connections "
        "planned in the last complete pass (0 when none).",
        report_lbl, 1, es, sizeof(es));
    struct wdts_metric *reread = wdts_metrics_counter(
        reg, "wdt_sched_lookback_jobs_total",
        "Per report, look-back windows emitted and acknowledged: the periodic re-read of "
        "lookback_s behind the watermark of a report whose window is not its change time.",
        report_lbl, 1, es, sizeof(es));
    WDTS_ASSERT(passes && emitted && reemitted && completed && errors && held && units && dur &&
                s->m.holder && lag && reread);
    s->m.wm_lag = wdts_xcalloc(wdts_catalog_count(s->cat), sizeof(*s->m.wm_lag));
    s->m.reread = wdts_xcalloc(wdts_catalog_count(s->cat), sizeof(*s->m.reread));
    for (size_t r = 0; r < wdts_catalog_count(s->cat); r++) {
        const char *v[] = {wdts_catalog_at(s->cat, r)->name};
        s->m.wm_lag[r] = wdts_metrics_series(lag, v);
        s->m.reread[r] = wdts_metrics_series(reread, v);
    }
    const char *v_ok[] = {"ok"}, *v_nl[] = {"no_lease"}, *v_f[] = {"failed"};
    s->m.passes_ok = wdts_metrics_series(passes, v_ok);
    s->m.passes_no_lease = wdts_metrics_series(passes, v_nl);
    s->m.passes_failed = wdts_metrics_series(passes, v_f);
    for (int k = 0; k < WDTS_JOB_KIND__COUNT; k++) {
        const char *v[] = {wdts_job_kind_name((enum wdts_job_kind)k)};
        s->m.emitted[k] = wdts_metrics_series(emitted, v);
    }
    s->m.reemitted = wdts_metrics_series(reemitted, NULL);
    s->m.completed = wdts_metrics_series(completed, NULL);
    s->m.errors = wdts_metrics_series(errors, NULL);
    s->m.lease_held = wdts_metrics_series(held, NULL);
    s->m.units = wdts_metrics_series(units, NULL);
    s->m.duration = wdts_metrics_series(dur, NULL);
    s->have_metrics = 1;
}

static void metrics_lease(struct sched *s)
{
    if (!s->have_metrics)
        return;
    wdts_metrics_set(s->m.lease_held, s->lease.held);
    const char *who = s->lease.seen.holder[0] ? s->lease.seen.holder : "";
    const char *v[] = {who};
    struct wdts_metric_series *cur = who[0] ? wdts_metrics_series(s->m.holder, v) : NULL;
    if (s->m.holder_cur && s->m.holder_cur != cur)
        wdts_metrics_set(s->m.holder_cur, 0);
    if (cur)
        wdts_metrics_set(cur, 1);
    s->m.holder_cur = cur;
}

/* ---- life cycle -------------------------------------------------------------------- */

struct sched *sched_new(const struct wdts_cfg *cfg, const struct sched_opts *opts,
                        const char *holder, struct wdts_metrics *reg, char *errstr,
                        size_t errstr_size)
{
    struct sched *s = wdts_xcalloc(1, sizeof(*s));
    struct wdts_redis_params params;
    char es[256];
    s->cfg = cfg;
    if (opts)
        s->opts = *opts;
    if (s->opts.batch == 0)
        s->opts.batch = 32;

    s->cat = wdts_catalog_new(cfg->catalog_path, errstr, errstr_size);
    if (s->cat == NULL)
        goto fail;

    if (wdts_redis_params_from_cfg(&params, cfg, errstr, errstr_size) != WDTS_OK)
        goto fail;
    s->redis = wdts_redis_new(&params, es, sizeof(es));
    if (s->redis == NULL) {
        snprintf(errstr, errstr_size, "redis: %s", es);
        goto fail;
    }
    s->emit = sched_emit_new(cfg->kafka, cfg->kafka_cnt, cfg->topic_jobs, es, sizeof(es));
    if (s->emit == NULL) {
        snprintf(errstr, errstr_size, "kafka producer: %s", es);
        goto fail;
    }
    if (sched_lease_init(&s->lease, s->redis, holder, cfg->scheduler_lease_ttl_ms, errstr,
                         errstr_size) != WDTS_OK)
        goto fail;
    s->lag = wdts_xcalloc(wdts_catalog_count(s->cat) + 1, sizeof(*s->lag));
    metrics_init(s, reg);
    snprintf(s->why_not_ready, sizeof(s->why_not_ready), "no pass yet");
    return s;
fail:
    sched_destroy(s);
    return NULL;
}

void sched_destroy(struct sched *s)
{
    if (s == NULL)
        return;
    if (s->redis)
        sched_lease_release(&s->lease);
    sched_emit_destroy(s->emit, 10000);
    wdts_redis_destroy(s->redis);
    wdts_catalog_destroy(s->cat);
    free(s->win);
    free(s->lag);
    free(s->m.wm_lag);
    free(s->m.reread);
    free(s);
}

int sched_ready(const struct sched *s, char *reason, size_t reason_size)
{
    if (s->ready)
        return 1;
    snprintf(reason, reason_size, "%s", s->why_not_ready);
    return 0;
}

/* ---- one pass ---------------------------------------------------------------------- */

/* One batch: the connections, their units, and the jobs to emit. */
struct batch {
    struct wdts_conn **conns;
    size_t n_conns;
    struct sched_unit *units;
    struct sched_plan_params *params;
    struct sched_plan_result *res; /* per unit; res[i].n new windows */
    char (*err)[256];              /* per unit: the error of this pass, "" if none */
    size_t n_units, cap_units;

    struct wdts_job *jobs; /* every job of the batch */
    size_t *job_unit;      /* its unit */
    int *job_new;          /* JOB_NEW, JOB_REREAD (new, not tracked as outstanding), or 0:
                              a re-emission */
    int *ok;               /* delivered */
    size_t n_jobs, cap_jobs;
};

#define JOB_NEW 1
#define JOB_REREAD 2

static void batch_reset(struct batch *b)
{
    for (size_t i = 0; i < b->n_conns; i++)
        wdts_conn_destroy(b->conns[i]);
    b->n_conns = 0;
    for (size_t i = 0; i < b->n_units; i++)
        sched_unit_deinit(&b->units[i]);
    b->n_units = 0;
    b->n_jobs = 0;
}

static void batch_free(struct batch *b)
{
    batch_reset(b);
    free(b->conns);
    free(b->units);
    free(b->params);
    free(b->res);
    free(b->err);
    free(b->jobs);
    free(b->job_unit);
    free(b->job_new);
    free(b->ok);
}

static struct sched_unit *batch_add_unit(struct batch *b)
{
    if (b->n_units == b->cap_units) {
        b->cap_units = b->cap_units ? b->cap_units * 2 : 64;
        b->units = wdts_xrealloc(b->units, b->cap_units * sizeof(*b->units));
        b->params = wdts_xrealloc(b->params, b->cap_units * sizeof(*b->params));
        b->res = wdts_xrealloc(b->res, b->cap_units * sizeof(*b->res));
        b->err = wdts_xrealloc(b->err, b->cap_units * sizeof(*b->err));
    }
    size_t i = b->n_units++;
    memset(&b->units[i], 0, sizeof(b->units[i]));
    memset(&b->res[i], 0, sizeof(b->res[i]));
    b->err[i][0] = '\0';
    return &b->units[i];
}

static struct wdts_job *batch_add_job(struct batch *b, size_t unit, int is_new)
{
    if (b->n_jobs == b->cap_jobs) {
        b->cap_jobs = b->cap_jobs ? b->cap_jobs * 2 : 1024;
        b->jobs = wdts_xrealloc(b->jobs, b->cap_jobs * sizeof(*b->jobs));
        b->job_unit = wdts_xrealloc(b->job_unit, b->cap_jobs * sizeof(*b->job_unit));
        b->job_new = wdts_xrealloc(b->job_new, b->cap_jobs * sizeof(*b->job_new));
        b->ok = wdts_xrealloc(b->ok, b->cap_jobs * sizeof(*b->ok));
    }
    b->job_unit[b->n_jobs] = unit;
    b->job_new[b->n_jobs] = is_new;
    b->ok[b->n_jobs] = 0;
    return &b->jobs[b->n_jobs++];
}

void sched_params_for(const struct wdts_cfg *cfg, const struct wdts_conn *conn,
                      const struct wdts_catalog_report *rep, struct sched_plan_params *p)
{
    sched_plan_params_init(p, rep);
    p->backfill = conn->backfill_s > 0 ? conn->backfill_s : cfg->scheduler_backfill_ms / 1000;
    p->lag = cfg->scheduler_lag_ms / 1000;
    p->lookback = cfg->scheduler_lookback_ms / 1000;
    p->max_outstanding = cfg->scheduler_max_outstanding;
    if (!p->snapshot && !wdts_catalog_report_sees_late_changes(rep)) {
        const struct wdts_conn_report *cr = wdts_conn_report_get(conn, rep->name);
        p->reread = cr && cr->has_lookback ? cr->lookback_s : rep->lookback;
        p->reread_every = p->reread > 0 ? cfg->scheduler_lookback_interval_ms / 1000 : 0;
    }
}

/* Loads the batch's connections [from, to) of ids and lists their units. */
static wdts_err_t batch_load(struct sched *s, struct batch *b, char **ids, size_t from, size_t to,
                             struct sched_pass_stats *st, char *errstr, size_t errstr_size)
{
    char es[512];
    b->conns = wdts_xrealloc(b->conns, (to - from) * sizeof(*b->conns));
    for (size_t i = from; i < to; i++) {
        struct wdts_conn *conn = NULL;
        wdts_err_t err =
            wdts_conn_load(s->redis, s->cfg->redis_prefix, ids[i], &conn, es, sizeof(es));
        if (err == WDTS_ERR_NOTFOUND)
            continue; /* removed meanwhile */
        if (err != WDTS_OK) {
            if (s->redis->err != WDTS_OK) {
                snprintf(errstr, errstr_size, "loading connection %s: %s", ids[i], es);
                return err;
            }
            WDTS_LOG(WARN, "sched", "connection %s not planned: %s", ids[i], es);
            st->errors++;
            continue;
        }
        b->conns[b->n_conns++] = conn;
        st->connections++;
        if (conn->auth_failed) {
            st->skipped += conn->n_reports;
            WDTS_LOG(DEBUG, "sched", "connection %s not planned: auth_failed", conn->id);
            continue;
        }
        for (size_t r = 0; r < conn->n_reports; r++) {
            if (conn->reports[r].blocked) {
                st->skipped++;
                continue;
            }
            const struct wdts_catalog_report *rep = wdts_catalog_get(s->cat, conn->reports[r].name);
            if (rep == NULL) {
                WDTS_LOG(WARN, "sched",
                         "connection %s: report %s is not in the catalog; not planned", conn->id,
                         conn->reports[r].name);
                st->errors++;
                continue;
            }
            struct sched_unit *u = batch_add_unit(b);
            u->tenant = conn->tenant;
            u->connection = conn->id;
            u->report = rep->name;
            u->rep = rep;
            sched_params_for(s->cfg, conn, rep, &b->params[b->n_units - 1]);
        }
    }
    return WDTS_OK;
}

/* Where the watermark of a unit starts, when it was never set: the first window's start
 * (0 when nothing is to be set). When it was set already but no plan state exists (a crash
 * before the plan state was stored), the plan starts from it. */
static int64_t wm_start_for(struct sched_unit *u, struct sched_plan_params *p, int64_t now)
{
    if (!u->plan.has_cursor && !p->snapshot && u->wm.initialized && u->wm.origin > 0 &&
        u->wm.origin < now) {
        p->backfill = now - u->wm.origin;
        return 0;
    }
    if (u->wm.initialized)
        return 0;
    if (p->snapshot)
        return sched_plan_align_down(now - p->lag, p->interval) - p->interval;
    if (!u->plan.has_cursor)
        return sched_plan_align_down(now - p->backfill, p->step);
    /* the plan exists but the watermark was lost: restart it at the oldest window that is
     * not known complete */
    int64_t start = u->plan.cursor;
    for (size_t j = 0; j < u->n_out; j++)
        if (u->out[j].start < start)
            start = u->out[j].start;
    return start;
}

/* Sets the watermarks of the batch's new units (pipelined) before their first jobs go out,
 * so a worker that completes one finds it: wm_complete refuses an uninitialised watermark.
 * A unit whose init fails gets its error in b->err. */
static wdts_err_t batch_init_wm(struct sched *s, struct batch *b, int64_t now, char *errstr,
                                size_t errstr_size)
{
    int64_t *start = wdts_xcalloc(b->n_units + 1, sizeof(*start));
    struct wdts_lua_call call;
    wdts_err_t err = WDTS_OK;
    char es[256];
    int queued = 0, any = 0;
    wdts_lua_call_init(&call, WDTS_LUA_WM_INIT);
    for (size_t i = 0; i < b->n_units; i++) {
        if (!b->units[i].load_failed)
            start[i] = wm_start_for(&b->units[i], &b->params[i], now);
        any |= start[i] != 0;
    }
    if (!any)
        goto out;
    if ((err = wdts_redis_script_load(s->redis, wdts_lua_script(WDTS_LUA_WM_INIT))) != WDTS_OK) {
        snprintf(errstr, errstr_size, "loading wm_init: %s", s->redis->errstr);
        goto out;
    }
    for (size_t i = 0; i < b->n_units; i++) {
        if (start[i] == 0)
            continue;
        struct wdts_wm_id id = {b->units[i].connection, b->units[i].report};
        if (wdts_wm_init_build(&call, s->cfg->redis_prefix, &id, start[i], es, sizeof(es)) !=
            WDTS_OK) {
            snprintf(b->err[i], sizeof(b->err[i]), "initialising the watermark: %.200s", es);
            wdts_lua_call_deinit(&call);
            start[i] = 0;
            continue;
        }
        WDTS_ASSERT(call.nkeys == 1 && call.nargs == 1); /* wm_init.lua: KEYS[1], ARGV[1] */
        const char *argv[] = {"EVALSHA", call.script->sha, "1", call.keys[0], call.args[0]};
        err = wdts_redis_pipeline_append(s->redis, 5, argv, NULL); /* copies argv */
        wdts_lua_call_deinit(&call);
        if (err != WDTS_OK) {
            snprintf(errstr, errstr_size, "initialising watermarks: %s", s->redis->errstr);
            goto out;
        }
        queued++;
    }
    for (size_t i = 0; i < b->n_units; i++) {
        if (start[i] == 0)
            continue;
        struct wdts_redis_reply *r = NULL;
        struct wdts_wm_state wm;
        err = wdts_redis_pipeline_read(s->redis, &r);
        queued--;
        if (err != WDTS_OK && s->redis->err != WDTS_OK) {
            snprintf(errstr, errstr_size, "initialising watermarks: %s", s->redis->errstr);
            goto out;
        }
        if (err == WDTS_OK && wdts_wm_init_parse(r, &wm, es, sizeof(es)) == WDTS_OK) {
            struct sched_unit *u = &b->units[i];
            struct sched_plan_params *p = &b->params[i];
            u->wm = wm;
            if (!p->snapshot && !u->plan.has_cursor && wm.origin != start[i] && wm.origin > 0 &&
                wm.origin < now)
                p->backfill = now - wm.origin; /* another replica was first */
        } else {
            snprintf(b->err[i], sizeof(b->err[i]), "initialising the watermark: %.200s",
                     err != WDTS_OK ? s->redis->errstr : es);
        }
        err = WDTS_OK;
        wdts_redis_reply_free(r);
    }
out:
    while (queued-- > 0 && s->redis->err == WDTS_OK)
        wdts_redis_pipeline_read(s->redis, NULL);
    wdts_lua_call_deinit(&call);
    free(start);
    return err;
}

/* Keeps the largest lag of the unit's report for wdt_sched_watermark_lag_seconds. */
static void note_lag(struct sched *s, const struct sched_unit *u, int64_t now)
{
    if (!u->wm.initialized)
        return;
    for (size_t r = 0; r < wdts_catalog_count(s->cat); r++) {
        if (wdts_catalog_at(s->cat, r) != u->rep)
            continue;
        int64_t lag = now - u->wm.wm;
        if (lag > s->lag[r])
            s->lag[r] = lag;
        return;
    }
}

/* A snapshot fetches the whole current list, whatever its window, and the cells a stopped
 * scheduler missed are not caught up: so a snapshot window starts where the previous one
 * (completed or outstanding) ended, and the watermark of a snapshot report never waits at
 * a gap. Deterministic: a re-plan after a crash sees the same watermark and outstanding
 * windows, hence the same start. */
static void snapshot_contiguous(const struct sched_unit *u, struct sched_plan_window *win, size_t n)
{
    int64_t prev = u->wm.initialized ? u->wm.wm : 0;
    for (size_t j = 0; j < u->n_out; j++)
        if (!u->out[j].completed && u->out[j].end > prev)
            prev = u->out[j].end;
    for (size_t w = 0; w < n; w++) {
        if (win[w].kind == WDTS_JOB_SNAPSHOT && prev > 0 && prev < win[w].start)
            win[w].start = prev;
        prev = win[w].end;
    }
}

/* The look-back re-read of unit i, when due: its windows join the batch's jobs (not the
 * outstanding set: they end at the watermark, so they are complete for it at once), and
 * the unit's new plan state records now as the last re-read, stored only once every new
 * window of the unit was delivered. A crash before that store re-reads again next pass. */
static void plan_reread(struct sched *s, struct batch *b, size_t i, int64_t now)
{
    struct sched_unit *u = &b->units[i];
    const struct sched_plan_params *p = &b->params[i];
    struct sched_plan_reread_result rr;
    char es[256];
    size_t cap = (size_t)(p->reread / p->span) + 2;
    if (cap > s->win_cap) {
        s->win = wdts_xrealloc(s->win, cap * sizeof(*s->win));
        s->win_cap = cap;
    }
    if (!u->wm.initialized)
        return;
    if (sched_plan_reread(p, &b->res[i].state, u->wm.wm, u->wm.origin, now, s->win, cap, &rr, es,
                          sizeof(es)) != WDTS_OK) {
        snprintf(b->err[i], sizeof(b->err[i]), "look-back: %.200s", es);
        return;
    }
    if (!rr.due)
        return;
    size_t first = b->n_jobs;
    for (size_t w = 0; w < rr.n; w++) {
        struct wdts_job *job = batch_add_job(b, i, JOB_REREAD);
        if (wdts_job_init(job, u->tenant, u->connection, u->report, s->win[w].start,
                          s->win[w].end, WDTS_JOB_LOOKBACK, 1, now, es, sizeof(es)) != WDTS_OK) {
            b->n_jobs = first;
            snprintf(b->err[i], sizeof(b->err[i]), "look-back: %.200s", es);
            return;
        }
    }
    b->res[i].state.last_lookback = now;
    WDTS_LOG(INFO, "sched", "%s/%s: look-back re-read of [%lld, %lld) in %zu windows",
             u->connection, u->report, (long long)rr.start, (long long)rr.end, rr.n);
}

/* Plans every unit of the batch and lists the jobs (re-emissions first). */
static wdts_err_t batch_plan(struct sched *s, struct batch *b, int64_t now,
                             struct sched_pass_stats *st, char *errstr, size_t errstr_size)
{
    const int64_t lease_s = s->cfg->scheduler_job_lease_ms / 1000;
    char es[256];
    wdts_err_t ierr = batch_init_wm(s, b, now, errstr, errstr_size);
    if (ierr != WDTS_OK)
        return ierr;
    for (size_t i = 0; i < b->n_units; i++) {
        struct sched_unit *u = &b->units[i];
        struct sched_plan_params *p = &b->params[i];
        if (u->load_failed) {
            snprintf(b->err[i], sizeof(b->err[i]), "%.200s", u->last_error);
            continue;
        }
        if (b->err[i][0] != '\0')
            continue; /* its watermark could not be set: emit nothing */
        note_lag(s, u, now);
        wdts_err_t err;
        int outstanding = 0;
        for (size_t j = 0; j < u->n_out; j++) {
            struct sched_out *o = &u->out[j];
            if (o->completed) {
                st->completed++;
                continue;
            }
            outstanding++;
            if (now - o->emitted_at < lease_s)
                continue;
            int attempt = o->attempt < WDTS_JOB_MAX_ATTEMPT ? o->attempt + 1 : o->attempt;
            struct wdts_job *job = batch_add_job(b, i, 0);
            if (wdts_job_init(job, u->tenant, u->connection, u->report, o->start, o->end, o->kind,
                              attempt, now, es, sizeof(es)) != WDTS_OK) {
                b->n_jobs--;
                snprintf(b->err[i], sizeof(b->err[i]), "re-emitting: %.200s", es);
            }
        }
        size_t cap = (size_t)p->max_outstanding + 2;
        if (cap > s->win_cap) {
            s->win = wdts_xrealloc(s->win, cap * sizeof(*s->win));
            s->win_cap = cap;
        }
        err =
            sched_plan_pass(p, &u->plan, now, outstanding, s->win, cap, &b->res[i], es, sizeof(es));
        if (err != WDTS_OK) {
            snprintf(b->err[i], sizeof(b->err[i]), "%.200s", es);
            b->res[i].n = 0;
            b->res[i].state = u->plan;
            continue;
        }
        if (p->snapshot)
            snapshot_contiguous(u, s->win, b->res[i].n);
        for (size_t w = 0; w < b->res[i].n; w++) {
            struct wdts_job *job = batch_add_job(b, i, 1);
            if (wdts_job_init(job, u->tenant, u->connection, u->report, s->win[w].start,
                              s->win[w].end, s->win[w].kind, 1, now, es, sizeof(es)) != WDTS_OK) {
                /* cannot happen for planned windows; never store a plan past it */
                b->n_jobs--;
                snprintf(b->err[i], sizeof(b->err[i]), "planning: %.200s", es);
                b->res[i].state = u->plan;
                break;
            }
        }
        if (b->err[i][0] == '\0' && p->reread > 0)
            plan_reread(s, b, i, now);
    }
    return WDTS_OK;
}

/* Counts a delivered look-back window in wdt_sched_lookback_jobs_total{report}. */
static void note_reread(struct sched *s, const struct sched_unit *u)
{
    if (!s->have_metrics)
        return;
    for (size_t r = 0; r < wdts_catalog_count(s->cat); r++)
        if (wdts_catalog_at(s->cat, r) == u->rep) {
            wdts_metrics_inc(s->m.reread[r]);
            return;
        }
}

/* After delivery: what to store for each unit. A unit's plan state is stored only when
 * every one of its new windows was delivered; delivered windows always join the
 * outstanding set (a re-plan emits the same ids again, which is harmless). */
static wdts_err_t batch_store(struct sched *s, struct batch *b, int64_t now,
                              const char *kafka_error, struct sched_pass_stats *st, char *errstr,
                              size_t errstr_size)
{
    size_t nu = b->n_units ? b->n_units : 1;
    struct sched_state_update *upd = wdts_xcalloc(nu, sizeof(*upd));
    struct sched_out *adds = wdts_xcalloc(b->n_jobs ? b->n_jobs : 1, sizeof(*adds));
    size_t j = 0, k = 0;
    for (size_t i = 0; i < b->n_units; i++) {
        struct sched_state_update *w = &upd[i];
        int all_new_ok = b->err[i][0] == '\0';
        w->unit = &b->units[i];
        w->now = now;
        w->add = &adds[k];
        w->drop_completed = !b->units[i].load_failed;
        /* the jobs of one unit are contiguous in b->jobs */
        for (; j < b->n_jobs && b->job_unit[j] == i; j++) {
            const struct wdts_job *job = &b->jobs[j];
            if (!b->ok[j]) {
                all_new_ok &= !b->job_new[j];
                continue;
            }
            if (b->job_new[j] == JOB_REREAD) {
                st->emitted[job->kind]++;
                st->reread_jobs++;
                note_reread(s, &b->units[i]);
                continue;
            }
            adds[k++] = (struct sched_out){job->start, job->end,     job->emitted_at,
                                           job->kind,  job->attempt, 0};
            w->n_add++;
            if (b->job_new[j]) {
                st->emitted[job->kind]++;
            } else {
                w->n_reemitted++;
                st->reemitted++;
            }
        }
        if (b->err[i][0] == '\0' && !all_new_ok)
            snprintf(b->err[i], sizeof(b->err[i]), "emitting: %.200s",
                     kafka_error ? kafka_error : "not delivered");
        const struct sched_plan_state *a = &b->units[i].plan, *n = &b->res[i].state;
        int changed = a->has_cursor != n->has_cursor || a->cursor != n->cursor ||
                      a->backfill_end != n->backfill_end || a->has_snapshot != n->has_snapshot ||
                      a->last_snapshot != n->last_snapshot || a->last_lookback != n->last_lookback;
        if (n->last_lookback != a->last_lookback && all_new_ok)
            st->rereads++;
        if (all_new_ok && !b->units[i].load_failed && changed)
            w->plan = n;
        if (b->err[i][0] != '\0') {
            w->error = b->err[i];
            st->errors++;
            WDTS_LOG(WARN, "sched", "%s/%s: %s", b->units[i].connection, b->units[i].report,
                     b->err[i]);
        }
    }
    wdts_err_t err =
        sched_state_store(s->redis, s->cfg->redis_prefix, upd, b->n_units, errstr, errstr_size);
    free(upd);
    free(adds);
    return err;
}

/* Reconnects Redis when broken and renews (or takes) the lease; st->held says whether
 * this replica plans. @returns WDTS_OK, or the Redis error that stopped the pass. */
static wdts_err_t pass_lease(struct sched *s, struct sched_pass_stats *st, char *errstr,
                             size_t errstr_size)
{
    char es[512];
    if (s->redis->err != WDTS_OK && wdts_redis_reconnect(s->redis) != WDTS_OK) {
        snprintf(errstr, errstr_size, "redis: %s", s->redis->errstr);
        snprintf(s->why_not_ready, sizeof(s->why_not_ready), "redis: %.100s", s->redis->errstr);
        s->ready = 0;
        return s->redis->err;
    }
    es[0] = '\0';
    int was_held = s->lease.held;
    st->held = sched_lease_tick(&s->lease, 1, es, sizeof(es));
    metrics_lease(s);
    if (was_held && !st->held)
        WDTS_LOG(WARN, "sched", "lease lost (now held by %s); not planning",
                 s->lease.seen.holder[0] ? s->lease.seen.holder : "nobody");
    if (es[0] != '\0' && !st->held) {
        snprintf(errstr, errstr_size, "lease: %s", es);
        return WDTS_ERR_REDIS;
    }
    /* Redis answered and the producer exists: ready, also as a standby replica */
    s->ready = 1;
    return WDTS_OK;
}

/* One batch, connections ids[from, to): read, plan, check the lease, emit, store. Sets
 * st->lease_lost when the lease went (nothing emitted). @returns WDTS_OK, or the error
 * that stops the pass. */
static wdts_err_t pass_batch(struct sched *s, struct batch *b, char **ids, size_t from,
                             size_t to, int64_t now, struct sched_pass_stats *st, char *errstr,
                             size_t errstr_size)
{
    char es[512], es2[512];
    wdts_err_t err;
    batch_reset(b);
    if ((err = batch_load(s, b, ids, from, to, st, errstr, errstr_size)) != WDTS_OK)
        return err;
    if (b->n_units == 0)
        return WDTS_OK;
    if ((err = sched_state_load(s->redis, s->cfg->redis_prefix, b->units, b->n_units, errstr,
                                errstr_size)) != WDTS_OK ||
        (err = batch_plan(s, b, now, st, errstr, errstr_size)) != WDTS_OK)
        return err;
    st->units += b->n_units;
    /* the last word before emitting: stop at once when the lease is gone */
    es[0] = '\0';
    if (!sched_lease_tick(&s->lease, 0, es, sizeof(es))) {
        st->lease_lost = 1;
        metrics_lease(s);
        WDTS_LOG(WARN, "sched", "lease lost during a pass; stopped emitting (%s)",
                 es[0] ? es : "another replica holds it");
        return WDTS_OK;
    }
    const char *kafka_error = NULL;
    if (b->n_jobs > 0 &&
        sched_emit_jobs(s->emit, b->jobs, b->n_jobs, b->ok, es, sizeof(es)) != WDTS_OK)
        kafka_error = es;
    if (s->opts.crash_after_emit) {
        WDTS_LOG(WARN, "sched", "test aid: exiting after emitting %zu jobs, before storing",
                 b->n_jobs);
        _exit(SCHED_CRASH_EXIT);
    }
    if ((err = batch_store(s, b, now, kafka_error, st, es2, sizeof(es2))) != WDTS_OK)
        snprintf(errstr, errstr_size, "%s", es2);
    return err;
}

/* A pass's counters into the metrics (the lag gauges only from a complete pass). */
static void pass_metrics(struct sched *s, const struct sched_pass_stats *st, wdts_err_t err)
{
    if (!s->have_metrics)
        return;
    wdts_metrics_inc(err != WDTS_OK ? s->m.passes_failed
                     : st->held     ? s->m.passes_ok
                                    : s->m.passes_no_lease);
    if (st->held) {
        for (int k = 0; k < WDTS_JOB_KIND__COUNT; k++)
            wdts_metrics_add(s->m.emitted[k], (double)st->emitted[k]);
        wdts_metrics_add(s->m.reemitted, (double)st->reemitted);
        wdts_metrics_add(s->m.completed, (double)st->completed);
        wdts_metrics_add(s->m.errors, (double)st->errors);
        wdts_metrics_set(s->m.units, (double)st->units);
        wdts_metrics_observe(s->m.duration, st->seconds);
    }
    /* the lag gauges only from a pass that saw every connection */
    if (st->held && err == WDTS_OK && !st->stopped && !st->lease_lost)
        for (size_t r = 0; r < wdts_catalog_count(s->cat); r++)
            wdts_metrics_set(s->m.wm_lag[r], s->lag[r] > 0 ? (double)s->lag[r] : 0.0);
}

wdts_err_t sched_pass(struct sched *s, volatile sig_atomic_t *stop, struct sched_pass_stats *st,
                      char *errstr, size_t errstr_size)
{
    char **ids = NULL;
    size_t n_ids = 0;
    struct batch b;
    wdts_err_t err;
    char es[512];
    int64_t t0 = wdts_time_mono_ms();
    int64_t now = s->opts.now > 0 ? s->opts.now : wdts_time_now();
    memset(st, 0, sizeof(*st));
    memset(&b, 0, sizeof(b));

    if ((err = pass_lease(s, st, errstr, errstr_size)) != WDTS_OK || !st->held)
        goto out;
    for (size_t r = 0; r < wdts_catalog_count(s->cat); r++)
        s->lag[r] = -1;
    if ((err = wdts_conn_list(s->redis, s->cfg->redis_prefix, &ids, &n_ids, es, sizeof(es))) !=
        WDTS_OK) {
        snprintf(errstr, errstr_size, "listing connections: %s", es);
        goto out;
    }
    for (size_t from = 0; from < n_ids && !st->lease_lost; from += s->opts.batch) {
        if (stop && *stop) {
            st->stopped = 1;
            break;
        }
        size_t to = from + s->opts.batch < n_ids ? from + s->opts.batch : n_ids;
        if ((err = pass_batch(s, &b, ids, from, to, now, st, errstr, errstr_size)) != WDTS_OK)
            goto out;
    }
out:
    batch_free(&b);
    wdts_conn_ids_free(ids, n_ids);
    st->seconds = (double)(wdts_time_mono_ms() - t0) / 1000.0;
    if (err != WDTS_OK && (s->redis->err != WDTS_OK || err == WDTS_ERR_REDIS)) {
        s->ready = 0;
        snprintf(s->why_not_ready, sizeof(s->why_not_ready), "redis: %.100s", s->redis->errstr);
    }
    pass_metrics(s, st, err);
    return err;
}

/* ---- the loop ---------------------------------------------------------------------- */

static void log_pass(struct sched *s, const struct sched_pass_stats *st)
{
    if (!st->held) {
        /* a standby says who plans once, not every interval */
        const char *who = s->lease.seen.holder[0] ? s->lease.seen.holder : "another scheduler";
        if (strcmp(who, s->standby_logged) != 0)
            WDTS_LOG(INFO, "sched", "not planning: the lease is held by %s for %lld ms more", who,
                     s->lease.seen.ttl_ms);
        else
            WDTS_LOG(DEBUG, "sched", "not planning: the lease is held by %s", who);
        wdts_strlcpy(s->standby_logged, who, sizeof(s->standby_logged));
        return;
    }
    s->standby_logged[0] = '\0';
    size_t total = 0;
    for (int k = 0; k < WDTS_JOB_KIND__COUNT; k++)
        total += st->emitted[k];
    WDTS_LOG(INFO, "sched",
             "pass: %zu connections, %zu reports planned, %zu skipped (blocked or auth_failed), "
             "%zu jobs emitted (backfill %zu, incremental %zu, snapshot %zu, lookback %zu), "
             "%zu look-back re-reads (%zu windows), "
             "%zu re-emitted, %zu windows completed, %zu errors, %.3f s%s%s",
             st->connections, st->units, st->skipped, total, st->emitted[WDTS_JOB_BACKFILL],
             st->emitted[WDTS_JOB_INCREMENTAL], st->emitted[WDTS_JOB_SNAPSHOT],
             st->emitted[WDTS_JOB_LOOKBACK], st->rereads, st->reread_jobs, st->reemitted, st->completed, st->errors, st->seconds,
             st->lease_lost ? "; stopped: lease lost" : "",
             st->stopped ? "; stopped: shutting down" : "");
}

int sched_run(struct sched *s, volatile sig_atomic_t *stop)
{
    char es[512];
    int64_t next_pass = 0, next_tick = 0;
    const int64_t interval = s->cfg->scheduler_interval_ms;
    const int64_t tick_every =
        s->cfg->scheduler_lease_ttl_ms / 3 > 1000 ? 1000 : s->cfg->scheduler_lease_ttl_ms / 3;
    while (!*stop) {
        int64_t mono = wdts_time_mono_ms();
        if (mono >= next_pass) {
            struct sched_pass_stats st;
            es[0] = '\0';
            if (sched_pass(s, stop, &st, es, sizeof(es)) != WDTS_OK)
                WDTS_LOG(ERROR, "sched", "pass failed: %s", es);
            else
                log_pass(s, &st);
            next_pass = wdts_time_mono_ms() + interval; /* from the end: passes never overlap */
            next_tick = wdts_time_mono_ms() + tick_every;
        } else if (mono >= next_tick) {
            /* keep the lease between passes (or take it when its holder is gone) */
            int was = s->lease.held;
            int held = sched_lease_tick(&s->lease, 0, es, sizeof(es));
            metrics_lease(s);
            if (was && !held)
                WDTS_LOG(WARN, "sched", "lease lost between passes");
            if (!was && held) {
                WDTS_LOG(INFO, "sched", "lease taken; planning now");
                next_pass = mono;
            }
            next_tick = mono + tick_every;
        }
        usleep(50 * 1000);
    }
    sched_lease_release(&s->lease);
    metrics_lease(s);
    WDTS_LOG(INFO, "sched", "stopped; lease released");
    return WDTS_EXIT_OK;
}
