/* Re-sync of a range (see sched_resync.h). The order matters: the watermark is moved back
 * before the jobs go out (so their completions count and older holders are fenced off),
 * and the outstanding set is written only after Kafka acknowledged the jobs. */
#include "sched_resync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched_emit_int.h"
#include "sched_loop.h"
#include "sched_state.h"
#include "wdts/catalog.h"
#include "wdts/cfg.h"
#include "wdts/conn.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/time.h"
#include "wdts/watermark.h"

/* Reads u's plan state; a report never planned is refused (its first sync fetches the
 * range anyway, and a reset before it would move its start). */
static wdts_err_t resync_check_planned(struct wdts_redis *redis, const char *prefix,
                                       struct sched_unit *u, const struct sched_plan_params *p,
                                       char *errstr, size_t errstr_size)
{
    char es[512];
    wdts_err_t err = sched_state_load(redis, prefix, u, 1, es, sizeof(es));
    if (err == WDTS_OK && u->load_failed) {
        snprintf(es, sizeof(es), "%s", u->last_error);
        err = WDTS_ERR_REDIS;
    }
    if (err != WDTS_OK) {
        snprintf(errstr, errstr_size, "reading the plan state: %s", es);
        return err;
    }
    if ((p->snapshot && !u->plan.has_snapshot) || (!p->snapshot && !u->plan.has_cursor) ||
        !u->wm.initialized) {
        snprintf(errstr, errstr_size,
                 "%s of %s has not been planned yet: its first sync will fetch the range; run "
                 "the resync after the scheduler's first pass (wdtctl status shows it)",
                 u->report, u->connection);
        return WDTS_ERR_INVAL;
    }
    return WDTS_OK;
}

/* The windows of [from, to), in chunks on the planning grid. @owner *win new (free()). */
static wdts_err_t resync_windows(const struct sched_plan_params *p, int64_t from, int64_t to,
                                 int64_t now, struct sched_plan_window **win, size_t *n,
                                 struct sched_resync_result *out, char *errstr,
                                 size_t errstr_size)
{
    size_t cap = 0;
    int64_t a = from;
    char es[512];
    *n = 0;
    for (;;) {
        struct sched_plan_resync_result rr;
        if (cap - *n < 1024) {
            cap = cap ? cap * 2 : 2048;
            *win = wdts_xrealloc(*win, cap * sizeof(**win));
        }
        wdts_err_t err = sched_plan_resync(p, a, to, now, *win + *n, cap - *n, &rr, es, sizeof(es));
        if (err != WDTS_OK) {
            snprintf(errstr, errstr_size, "%s", es);
            return err;
        }
        *n += rr.n;
        out->end = rr.end;
        if (rr.n == 0 || rr.next >= rr.end || p->snapshot)
            break;
        a = rr.next;
    }
    if (*n == 0) {
        snprintf(errstr, errstr_size, "resync: nothing to emit in the range");
        return WDTS_ERR_INVAL;
    }
    out->start = (*win)[0].start;
    out->end = (*win)[*n - 1].end;
    return WDTS_OK;
}

/* Emits the windows as resync jobs and records those Kafka acknowledged as outstanding. */
static wdts_err_t resync_send(struct wdts_redis *redis, const char *prefix, struct sched_emit *em,
                              struct sched_unit *u, const struct sched_plan_window *win, size_t n,
                              int64_t now, struct sched_resync_result *out, char *errstr,
                              size_t errstr_size)
{
    struct wdts_job *jobs = wdts_xcalloc(n, sizeof(*jobs));
    int *ok = wdts_xcalloc(n, sizeof(*ok));
    struct sched_out *adds = wdts_xcalloc(n, sizeof(*adds));
    char es[512], es2[512];
    wdts_err_t err = WDTS_OK;
    for (size_t i = 0; i < n; i++) {
        err = wdts_job_init(&jobs[i], u->tenant, u->connection, u->report, win[i].start,
                            win[i].end, WDTS_JOB_RESYNC, 1, now, es, sizeof(es));
        if (err != WDTS_OK) {
            snprintf(errstr, errstr_size, "resync: %s", es);
            goto out;
        }
    }
    err = sched_emit_jobs(em, jobs, n, ok, es, sizeof(es));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ok[i])
            adds[k++] = (struct sched_out){jobs[i].start, jobs[i].end, now, WDTS_JOB_RESYNC, 1, 0};
    out->n = k;
    struct sched_state_update upd = {.unit = u, .add = adds, .n_add = k, .now = now};
    wdts_err_t serr = sched_state_store(redis, prefix, &upd, 1, es2, sizeof(es2));
    if (err != WDTS_OK) {
        snprintf(errstr, errstr_size,
                 "%s; the watermark was moved back already: run the same resync again", es);
        goto out;
    }
    if (serr != WDTS_OK) {
        snprintf(errstr, errstr_size,
                 "the jobs were emitted but not recorded as outstanding (%s); a lost one will "
                 "not be re-emitted: check wdtctl status later",
                 es2);
        err = serr;
    }
out:
    free(jobs);
    free(ok);
    free(adds);
    return err;
}

static wdts_err_t resync_emit(struct wdts_redis *redis, const char *prefix, struct sched_emit *em,
                              const char *tenant, const char *connection, const char *report,
                              const struct sched_plan_params *p, int64_t from, int64_t to,
                              int64_t now, struct sched_resync_result *out, char *errstr,
                              size_t errstr_size)
{
    struct sched_plan_window *win = NULL;
    size_t n = 0;
    wdts_err_t err;
    char es[512];
    struct sched_unit u;
    memset(out, 0, sizeof(*out));
    memset(&u, 0, sizeof(u));
    u.tenant = tenant;
    u.connection = connection;
    u.report = report;
    if ((err = resync_check_planned(redis, prefix, &u, p, errstr, errstr_size)) != WDTS_OK ||
        (err = resync_windows(p, from, to, now, &win, &n, out, errstr, errstr_size)) != WDTS_OK)
        goto out;
    /* snapshots have no range to rewind: only the latest list can be fetched */
    if (!p->snapshot) {
        struct wdts_wm_id id = {connection, report};
        struct wdts_wm_state wm;
        err = wdts_wm_reset(redis, &id, out->start, out->end, &wm, es, sizeof(es));
        if (err != WDTS_OK) {
            snprintf(errstr, errstr_size, "moving the watermark back: %s (nothing was emitted)",
                     es);
            goto out;
        }
    }
    err = resync_send(redis, prefix, em, &u, win, n, now, out, errstr, errstr_size);
out:
    sched_unit_deinit(&u);
    free(win);
    return err;
}

wdts_err_t sched_resync_run(const struct wdts_cfg *cfg, struct wdts_redis *redis,
                            const struct wdts_conn *conn, const struct wdts_catalog_report *rep,
                            int64_t from, int64_t to, int64_t now, struct sched_resync_result *out,
                            char *errstr, size_t errstr_size)
{
    char es[512];
    memset(out, 0, sizeof(*out));
    struct sched_emit *em = sched_emit_new(cfg->kafka, cfg->kafka_cnt, cfg->topic_jobs, es,
                                           sizeof(es));
    if (em == NULL) {
        snprintf(errstr, errstr_size, "Kafka producer: %s", es);
        return WDTS_ERR_KAFKA;
    }
    struct sched_plan_params p;
    sched_params_for(cfg, conn, rep, &p);
    wdts_err_t err = resync_emit(redis, cfg->redis_prefix, em, conn->tenant, conn->id, rep->name,
                                 &p, from, to, now, out, errstr, errstr_size);
    sched_emit_destroy(em, 10000);
    return err;
}
