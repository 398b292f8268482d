/* The scheduler's per-(connection, report) state in Redis (see sched_state.h): batched
 * reads that mark completed windows from the watermark, and batched writes after
 * delivery. Pipelining keeps a pass over thousands of connections to a few round trips
 * per batch instead of several per report. */
#include "sched_state.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/lua.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"

/* A command under construction: owned copies of its arguments. */
struct argvec {
    char **v;
    size_t n, cap;
};

static void av_add(struct argvec *av, const char *s)
{
    if (av->n == av->cap) {
        av->cap = av->cap ? av->cap * 2 : 16;
        av->v = wdts_xrealloc(av->v, av->cap * sizeof(*av->v));
    }
    av->v[av->n++] = wdts_xstrdup(s);
}

static void av_addll(struct argvec *av, long long v)
{
    char tmp[24];
    snprintf(tmp, sizeof(tmp), "%lld", v);
    av_add(av, tmp);
}

static void av_clear(struct argvec *av)
{
    for (size_t i = 0; i < av->n; i++)
        free(av->v[i]);
    av->n = 0;
}

static void av_free(struct argvec *av)
{
    av_clear(av);
    free(av->v);
    av->v = NULL;
    av->cap = 0;
}

/* Queues av and empties it; the pipeline copies the arguments. */
static wdts_err_t av_send(struct wdts_redis *redis, struct argvec *av, int *queued)
{
    wdts_err_t err = wdts_redis_pipeline_append(redis, (int)av->n, (const char **)av->v, NULL);
    av_clear(av);
    if (err == WDTS_OK)
        (*queued)++;
    return err;
}

void sched_unit_deinit(struct sched_unit *u)
{
    if (u == NULL)
        return;
    free(u->out);
    u->out = NULL;
    u->n_out = u->cap_out = 0;
}

const char *sched_state_key(struct wdts_buf *buf, const char *prefix, const char *kind,
                            const char *connection, const char *report)
{
    return wdts_redis_key(buf, prefix, kind, connection, report, NULL);
}

void sched_state_member(int64_t start, int64_t end, char out[SCHED_MEMBER_LEN])
{
    snprintf(out, SCHED_MEMBER_LEN, "%" PRId64 ":%" PRId64, start, end);
}

static int parse_member(const char *s, int64_t *start, int64_t *end)
{
    long long a, b;
    char tail;
    if (s == NULL || sscanf(s, "%lld:%lld%c", &a, &b, &tail) != 2 || b <= a || a < 0)
        return -1;
    *start = a;
    *end = b;
    return 0;
}

static int64_t str_ll(const struct wdts_redis_reply *r, int64_t dflt, int *present)
{
    const char *s = wdts_redis_reply_str(r, NULL);
    long long v;
    if (present)
        *present = 0;
    if (s == NULL || wdts_parse_int(s, INT64_MIN, INT64_MAX, &v) != WDTS_OK)
        return dflt;
    if (present)
        *present = 1;
    return v;
}

static void unit_fail(struct sched_unit *u, const char *what, const char *why)
{
    u->load_failed = 1;
    snprintf(u->last_error, sizeof(u->last_error), "%.40s: %.200s", what, why);
}

static int cmp_out(const void *a, const void *b)
{
    const struct sched_out *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start ? 1 : 0;
}

void sched_out_mark_covered(struct sched_out *out, size_t n_out, const int64_t *done, size_t n_done)
{
    size_t i = 0;
    while (i < n_done) {
        /* one run of touching or overlapping done windows: [run_s, run_e) */
        int64_t run_s = done[2 * i], run_e = done[2 * i + 1];
        for (i++; i < n_done && done[2 * i] <= run_e; i++)
            if (done[2 * i + 1] > run_e)
                run_e = done[2 * i + 1];
        for (size_t k = 0; k < n_out; k++)
            if (out[k].start >= run_s && out[k].end <= run_e)
                out[k].completed = 1;
    }
}

/* The done windows of a ZRANGEBYSCORE reply ("start:end" by start) for u. */
static void mark_covered(struct sched_unit *u, const struct wdts_redis_reply *r)
{
    size_t n = wdts_redis_reply_count(r), nd = 0;
    int64_t *done = wdts_xcalloc(2 * n + 2, sizeof(*done));
    for (size_t i = 0; i < n; i++)
        if (parse_member(wdts_redis_reply_str(wdts_redis_reply_elem(r, i), NULL), &done[2 * nd],
                         &done[2 * nd + 1]) == 0)
            nd++;
    sched_out_mark_covered(u->out, u->n_out, done, nd);
    free(done);
}

/* plan: HMGET cursor backfill_end last_snapshot last_lookback */
static void parse_plan(struct sched_unit *u, const struct wdts_redis_reply *r)
{
    int has_c = 0, has_b = 0, has_s = 0;
    memset(&u->plan, 0, sizeof(u->plan));
    u->plan.cursor = str_ll(wdts_redis_reply_elem(r, 0), 0, &has_c);
    u->plan.backfill_end = str_ll(wdts_redis_reply_elem(r, 1), 0, &has_b);
    u->plan.last_snapshot = str_ll(wdts_redis_reply_elem(r, 2), 0, &has_s);
    u->plan.last_lookback = str_ll(wdts_redis_reply_elem(r, 3), 0, NULL);
    u->plan.has_cursor = has_c && has_b;
    u->plan.has_snapshot = has_s;
}

/* out: ZRANGE WITHSCORES → member, score, member, score, … (sorted by start) */
static void parse_out(struct sched_unit *u, const struct wdts_redis_reply *r)
{
    size_t cnt = wdts_redis_reply_count(r) / 2;
    if (cnt > u->cap_out) {
        u->out = wdts_xrealloc(u->out, cnt * sizeof(*u->out));
        u->cap_out = cnt;
    }
    u->n_out = 0;
    for (size_t i = 0; i < cnt; i++) {
        struct sched_out *o = &u->out[u->n_out];
        const char *m = wdts_redis_reply_str(wdts_redis_reply_elem(r, 2 * i), NULL);
        const char *sc = wdts_redis_reply_str(wdts_redis_reply_elem(r, 2 * i + 1), NULL);
        if (parse_member(m, &o->start, &o->end) != 0 || sc == NULL)
            continue; /* not ours: ignore rather than fail the report */
        o->emitted_at = (int64_t)strtod(sc, NULL);
        o->kind = WDTS_JOB_INCREMENTAL;
        o->attempt = 1;
        o->completed = 0;
        u->n_out++;
    }
    if (u->n_out > 1) /* out is NULL while empty: qsort and bsearch must not see it */
        qsort(u->out, u->n_out, sizeof(*u->out), cmp_out);
}

/* outmeta: HGETALL → member, "kind attempt", … onto the windows of parse_out() */
static void parse_outmeta(struct sched_unit *u, const struct wdts_redis_reply *r)
{
    size_t nm = wdts_redis_reply_count(r) / 2;
    for (size_t i = 0; i < nm; i++) {
        int64_t s, en;
        const char *m = wdts_redis_reply_str(wdts_redis_reply_elem(r, 2 * i), NULL);
        const char *v = wdts_redis_reply_str(wdts_redis_reply_elem(r, 2 * i + 1), NULL);
        if (parse_member(m, &s, &en) != 0 || v == NULL)
            continue;
        char kind[24];
        int attempt;
        if (sscanf(v, "%23s %d", kind, &attempt) != 2)
            continue;
        struct sched_out key = {.start = s};
        struct sched_out *o =
            u->n_out ? bsearch(&key, u->out, u->n_out, sizeof(*u->out), cmp_out) : NULL;
        if (o == NULL || o->end != en)
            continue;
        enum wdts_job_kind k;
        if (wdts_job_kind_parse(kind, &k) == WDTS_OK)
            o->kind = k;
        if (attempt >= 1 && attempt <= WDTS_JOB_MAX_ATTEMPT)
            o->attempt = attempt;
    }
}

/* stat: HMGET emitted reemitted completed records last_error last_error_at calls windows
 * first_done_at calls_made calls_expected windows_started first_call_at */
static void parse_stat(struct sched_unit *u, const struct wdts_redis_reply *r)
{
    int has_rec = 0;
    u->emitted = str_ll(wdts_redis_reply_elem(r, 0), 0, NULL);
    u->reemitted = str_ll(wdts_redis_reply_elem(r, 1), 0, NULL);
    u->completed = str_ll(wdts_redis_reply_elem(r, 2), 0, NULL);
    u->records = str_ll(wdts_redis_reply_elem(r, 3), -1, &has_rec);
    const char *le = wdts_redis_reply_str(wdts_redis_reply_elem(r, 4), NULL);
    wdts_strlcpy(u->last_error, le ? le : "", sizeof(u->last_error));
    u->last_error_at = str_ll(wdts_redis_reply_elem(r, 5), 0, NULL);
    u->calls = str_ll(wdts_redis_reply_elem(r, 6), 0, NULL);
    u->windows_done = str_ll(wdts_redis_reply_elem(r, 7), 0, NULL);
    u->first_done_at = str_ll(wdts_redis_reply_elem(r, 8), 0, NULL);
    u->calls_made = str_ll(wdts_redis_reply_elem(r, 9), 0, NULL);
    u->calls_expected = str_ll(wdts_redis_reply_elem(r, 10), 0, NULL);
    u->windows_started = str_ll(wdts_redis_reply_elem(r, 11), 0, NULL);
    u->first_call_at = str_ll(wdts_redis_reply_elem(r, 12), 0, NULL);
}

/* Reads the replies of the first round for unit u. */
static wdts_err_t read_round1(struct wdts_redis *redis, struct sched_unit *u)
{
    struct wdts_redis_reply *r[5] = {NULL};
    wdts_err_t err = WDTS_OK, e;
    char es[256];
    for (int i = 0; i < 5; i++) {
        e = wdts_redis_pipeline_read(redis, &r[i]);
        if (e != WDTS_OK && redis->err != WDTS_OK) {
            err = e; /* the connection broke: every later read fails too */
            goto out;
        }
        if (e != WDTS_OK && !u->load_failed)
            unit_fail(u, "reading the plan state", redis->errstr);
    }
    if (u->load_failed)
        goto out;
    parse_plan(u, r[0]);
    parse_out(u, r[1]);
    parse_outmeta(u, r[2]);
    if (wdts_wm_get_parse(r[3], &u->wm, es, sizeof(es)) != WDTS_OK) {
        unit_fail(u, "reading the watermark", es);
        goto out;
    }
    parse_stat(u, r[4]);
    /* windows the watermark passed are completed */
    for (size_t i = 0; i < u->n_out; i++)
        if (u->wm.initialized && u->out[i].end <= u->wm.wm)
            u->out[i].completed = 1;
out:
    for (int i = 0; i < 5; i++)
        wdts_redis_reply_free(r[i]);
    return err;
}

/* Queues an EVALSHA of a built script call. */
static wdts_err_t send_call(struct wdts_redis *redis, const struct wdts_lua_call *call,
                            struct argvec *av, int *queued)
{
    av_add(av, "EVALSHA");
    av_add(av, call->script->sha);
    av_addll(av, call->nkeys);
    for (int i = 0; i < call->nkeys; i++)
        av_add(av, call->keys[i]);
    for (int i = 0; i < call->nargs; i++)
        av_add(av, call->args[i]);
    return av_send(redis, av, queued);
}

/* Drains what is still queued after a failure so the handle can be used again. */
static void drain(struct wdts_redis *redis, int queued)
{
    while (queued-- > 0 && redis->err == WDTS_OK)
        wdts_redis_pipeline_read(redis, NULL);
}

/* Queues the first round of unit u: plan, out, outmeta, the watermark (wm_get) and stat.
 * @returns WDTS_OK, or the error that stopped it (reason in errstr for a bad name). */
static wdts_err_t queue_round1(struct wdts_redis *redis, const char *prefix, struct sched_unit *u,
                               struct wdts_buf *key, struct wdts_lua_call *call, struct argvec *av,
                               int *queued, char *errstr, size_t errstr_size)
{
    static const char *const stat_fields[] = {
        "emitted", "reemitted", "completed", "records", "last_error", "last_error_at", "calls",
        "windows", "first_done_at", "calls_made", "calls_expected", "windows_started",
        "first_call_at"};
    wdts_err_t err;
    u->load_failed = 0;
    u->last_error[0] = '\0';
    av_add(av, "HMGET");
    av_add(av, sched_state_key(key, prefix, "plan", u->connection, u->report));
    av_add(av, "cursor");
    av_add(av, "backfill_end");
    av_add(av, "last_snapshot");
    av_add(av, "last_lookback");
    if ((err = av_send(redis, av, queued)) != WDTS_OK)
        return err;
    av_add(av, "ZRANGE");
    av_add(av, sched_state_key(key, prefix, "out", u->connection, u->report));
    av_add(av, "0");
    av_add(av, "-1");
    av_add(av, "WITHSCORES");
    if ((err = av_send(redis, av, queued)) != WDTS_OK)
        return err;
    av_add(av, "HGETALL");
    av_add(av, sched_state_key(key, prefix, "outmeta", u->connection, u->report));
    if ((err = av_send(redis, av, queued)) != WDTS_OK)
        return err;
    struct wdts_wm_id id = {u->connection, u->report};
    char es[256];
    if (wdts_wm_get_build(call, prefix, &id, es, sizeof(es)) != WDTS_OK) {
        snprintf(errstr, errstr_size, "%s", es);
        return WDTS_ERR_INVAL; /* names were checked by the caller: a programming error */
    }
    err = send_call(redis, call, av, queued);
    wdts_lua_call_deinit(call); /* the next build starts afresh */
    if (err != WDTS_OK)
        return err;
    av_add(av, "HMGET");
    av_add(av, sched_state_key(key, prefix, "stat", u->connection, u->report));
    for (size_t f = 0; f < sizeof(stat_fields) / sizeof(stat_fields[0]); f++)
        av_add(av, stat_fields[f]);
    return av_send(redis, av, queued);
}

/* The last end of u's windows not known to be completed; 0 when there is none. */
static int64_t open_end(const struct sched_unit *u)
{
    int64_t maxend = 0;
    for (size_t j = 0; j < u->n_out; j++)
        if (!u->out[j].completed && u->out[j].end > maxend)
            maxend = u->out[j].end;
    return maxend;
}

/* The end round 2 reads a unit's done windows up to: 0 (not read) when its load failed or it
 * has no open window. queue_round2() and read_round2() both decide by it, so they agree. */
static int64_t round2_end(const struct sched_unit *u)
{
    return u->load_failed ? 0 : open_end(u);
}

/* Round 2: windows beyond the watermark are completed when the done set covers them
 * (a worker's window, or what a resync kept as one synthetic range). Queues, per unit with
 * an open window, the done windows that start before its last open end. */
static wdts_err_t queue_round2(struct wdts_redis *redis, const char *prefix, struct sched_unit *u,
                               size_t n, struct wdts_buf *key, struct argvec *av, int *queued)
{
    wdts_err_t err;
    for (size_t i = 0; i < n; i++) {
        int64_t maxend = round2_end(&u[i]);
        if (maxend == 0)
            continue;
        struct wdts_wm_id id = {u[i].connection, u[i].report};
        char lim[32];
        snprintf(lim, sizeof(lim), "(%" PRId64, maxend);
        av_add(av, "ZRANGEBYSCORE");
        av_add(av, wdts_wm_key(key, prefix, &id, WDTS_WM_KEY_DONE));
        av_add(av, "-inf");
        av_add(av, lim);
        if ((err = av_send(redis, av, queued)) != WDTS_OK)
            return err;
    }
    return WDTS_OK;
}

/* Reads round 2's replies in queue_round2()'s order. @returns WDTS_OK, or the error of a
 * broken connection (a failed read of one unit fails only that unit). */
static wdts_err_t read_round2(struct wdts_redis *redis, struct sched_unit *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (round2_end(&u[i]) == 0)
            continue;
        struct wdts_redis_reply *r = NULL;
        wdts_err_t err = wdts_redis_pipeline_read(redis, &r);
        if (err != WDTS_OK && redis->err != WDTS_OK)
            return err;
        if (err != WDTS_OK) {
            unit_fail(&u[i], "reading the completed windows", redis->errstr);
            continue;
        }
        mark_covered(&u[i], r);
        wdts_redis_reply_free(r);
    }
    return WDTS_OK;
}

wdts_err_t sched_state_load(struct wdts_redis *redis, const char *prefix, struct sched_unit *u,
                            size_t n, char *errstr, size_t errstr_size)
{
    struct argvec av = {0};
    struct wdts_buf key;
    struct wdts_lua_call call;
    wdts_err_t err = WDTS_OK;
    int queued = 0;
    if (errstr_size > 0)
        errstr[0] = '\0';
    wdts_buf_init(&key);
    wdts_lua_call_init(&call, WDTS_LUA_WM_GET);

    /* EVALSHA in a pipeline cannot fall back on NOSCRIPT: make sure it is loaded. */
    err = wdts_redis_script_load(redis, wdts_lua_script(WDTS_LUA_WM_GET));
    if (err != WDTS_OK) {
        snprintf(errstr, errstr_size, "loading wm_get: %s", redis->errstr);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if ((err = queue_round1(redis, prefix, &u[i], &key, &call, &av, &queued, errstr,
                                errstr_size)) != WDTS_OK)
            goto broken;
    for (size_t i = 0; i < n; i++) {
        if ((err = read_round1(redis, &u[i])) != WDTS_OK)
            goto broken_read;
    }
    queued = 0;
    if ((err = queue_round2(redis, prefix, u, n, &key, &av, &queued)) != WDTS_OK)
        goto broken;
    if ((err = read_round2(redis, u, n)) != WDTS_OK)
        goto broken_read;
    goto out;

broken:
    if (errstr[0] == '\0' || redis->err != WDTS_OK)
        snprintf(errstr, errstr_size, "%s", redis->errstr);
    drain(redis, queued);
    goto out;
broken_read:
    snprintf(errstr, errstr_size, "%s", redis->errstr);
out:
    wdts_lua_call_deinit(&call);
    av_free(&av);
    wdts_buf_deinit(&key);
    return err;
}

/* The keys of one unit that a store writes. */
struct unit_keys {
    struct wdts_buf plan, out, meta, stat;
};

/* Adds "start:end" of every window of out[0..n) (with only_completed, of the completed). */
static void av_add_members(struct argvec *av, const struct sched_out *out, size_t n,
                           int only_completed)
{
    char m[SCHED_MEMBER_LEN];
    for (size_t j = 0; j < n; j++) {
        if (only_completed && !out[j].completed)
            continue;
        sched_state_member(out[j].start, out[j].end, m);
        av_add(av, m);
    }
}

/* Sends one HINCRBY of a stat field. */
static wdts_err_t send_incr(struct wdts_redis *redis, const struct wdts_buf *skey,
                            const char *field, long long by, struct argvec *av, int *queued)
{
    av_add(av, "HINCRBY");
    av_add(av, wdts_buf_str(skey));
    av_add(av, field);
    av_addll(av, by);
    return av_send(redis, av, queued);
}

/* The windows delivered now: into out (score emitted_at) and outmeta, counted. */
static wdts_err_t queue_added(struct wdts_redis *redis, const struct sched_state_update *w,
                              const struct unit_keys *k, struct argvec *av, int *queued)
{
    char m[SCHED_MEMBER_LEN], meta[48];
    wdts_err_t err;
    av_add(av, "ZADD");
    av_add(av, wdts_buf_str(&k->out));
    for (size_t j = 0; j < w->n_add; j++) {
        sched_state_member(w->add[j].start, w->add[j].end, m);
        av_addll(av, w->add[j].emitted_at);
        av_add(av, m);
    }
    if ((err = av_send(redis, av, queued)) != WDTS_OK)
        return err;
    av_add(av, "HSET");
    av_add(av, wdts_buf_str(&k->meta));
    for (size_t j = 0; j < w->n_add; j++) {
        sched_state_member(w->add[j].start, w->add[j].end, m);
        snprintf(meta, sizeof(meta), "%s %d", wdts_job_kind_name(w->add[j].kind),
                 w->add[j].attempt);
        av_add(av, m);
        av_add(av, meta);
    }
    if ((err = av_send(redis, av, queued)) != WDTS_OK ||
        (err = send_incr(redis, &k->stat, "emitted", (long long)(w->n_add - w->n_reemitted), av,
                         queued)) != WDTS_OK)
        return err;
    if (w->n_reemitted > 0)
        return send_incr(redis, &k->stat, "reemitted", (long long)w->n_reemitted, av, queued);
    return WDTS_OK;
}

/* The windows found completed: out of out and outmeta, counted. */
static wdts_err_t queue_completed(struct wdts_redis *redis, const struct sched_unit *u,
                                  size_t ndone, const struct unit_keys *k, struct argvec *av,
                                  int *queued)
{
    wdts_err_t err;
    av_add(av, "ZREM");
    av_add(av, wdts_buf_str(&k->out));
    av_add_members(av, u->out, u->n_out, 1);
    if ((err = av_send(redis, av, queued)) != WDTS_OK)
        return err;
    av_add(av, "HDEL");
    av_add(av, wdts_buf_str(&k->meta));
    av_add_members(av, u->out, u->n_out, 1);
    if ((err = av_send(redis, av, queued)) != WDTS_OK)
        return err;
    return send_incr(redis, &k->stat, "completed", (long long)ndone, av, queued);
}

/* The new plan state (only the fields that are set). */
static wdts_err_t queue_plan(struct wdts_redis *redis, const struct sched_plan_state *plan,
                             int64_t now, const struct unit_keys *k, struct argvec *av,
                             int *queued)
{
    av_add(av, "HSET");
    av_add(av, wdts_buf_str(&k->plan));
    if (plan->has_cursor) {
        av_add(av, "cursor");
        av_addll(av, plan->cursor);
        av_add(av, "backfill_end");
        av_addll(av, plan->backfill_end);
    }
    if (plan->has_snapshot) {
        av_add(av, "last_snapshot");
        av_addll(av, plan->last_snapshot);
    }
    if (plan->last_lookback > 0) {
        av_add(av, "last_lookback");
        av_addll(av, plan->last_lookback);
    }
    av_add(av, "updated");
    av_addll(av, now);
    return av_send(redis, av, queued);
}

/* Queues every write of one update, in the order sched_state_store() promises. */
static wdts_err_t queue_update(struct wdts_redis *redis, const char *prefix,
                               const struct sched_state_update *w, struct unit_keys *k,
                               struct argvec *av, int *queued)
{
    const struct sched_unit *u = w->unit;
    wdts_err_t err;
    sched_state_key(&k->plan, prefix, "plan", u->connection, u->report);
    sched_state_key(&k->out, prefix, "out", u->connection, u->report);
    sched_state_key(&k->meta, prefix, "outmeta", u->connection, u->report);
    sched_state_key(&k->stat, prefix, "stat", u->connection, u->report);
    if (w->n_add > 0 && (err = queue_added(redis, w, k, av, queued)) != WDTS_OK)
        return err;
    size_t ndone = 0;
    for (size_t j = 0; w->drop_completed && j < u->n_out; j++)
        ndone += u->out[j].completed;
    if (ndone > 0 && (err = queue_completed(redis, u, ndone, k, av, queued)) != WDTS_OK)
        return err;
    if (w->plan != NULL && (err = queue_plan(redis, w->plan, w->now, k, av, queued)) != WDTS_OK)
        return err;
    if (w->error != NULL) {
        av_add(av, "HSET");
        av_add(av, wdts_buf_str(&k->stat));
        av_add(av, "last_error");
        av_add(av, w->error);
        av_add(av, "last_error_at");
        av_addll(av, w->now);
        return av_send(redis, av, queued);
    }
    return WDTS_OK;
}

wdts_err_t sched_state_store(struct wdts_redis *redis, const char *prefix,
                             const struct sched_state_update *upd, size_t n, char *errstr,
                             size_t errstr_size)
{
    struct argvec av = {0};
    struct unit_keys k;
    wdts_err_t err = WDTS_OK, first = WDTS_OK;
    int queued = 0;
    wdts_buf_init(&k.plan);
    wdts_buf_init(&k.out);
    wdts_buf_init(&k.meta);
    wdts_buf_init(&k.stat);

    for (size_t i = 0; i < n; i++)
        if ((err = queue_update(redis, prefix, &upd[i], &k, &av, &queued)) != WDTS_OK)
            goto broken;
    while (queued > 0) {
        err = wdts_redis_pipeline_read(redis, NULL);
        queued--;
        if (err != WDTS_OK && first == WDTS_OK) {
            first = err;
            snprintf(errstr, errstr_size, "storing the plan state: %s", redis->errstr);
        }
        if (err != WDTS_OK && redis->err != WDTS_OK)
            break;
    }
    err = first;
    goto out;
broken:
    snprintf(errstr, errstr_size, "storing the plan state: %s", redis->errstr);
    drain(redis, queued);
out:
    av_free(&av);
    wdts_buf_deinit(&k.plan);
    wdts_buf_deinit(&k.out);
    wdts_buf_deinit(&k.meta);
    wdts_buf_deinit(&k.stat);
    return err;
}
