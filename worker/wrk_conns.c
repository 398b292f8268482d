/* The connection cache (see wrk_int.h): connections loaded from Redis with their secrets
 * opened and credentials built, shared by the jobs of one worker and reloaded every
 * CONN_CACHE_MS; a load is non-blocking (GET + HGETALL on the async client) and every job
 * asking meanwhile waits for the same one. It knows nothing of jobs: a waiter is a callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/time.h"
#include "wrk_int.h"

#define CONN_CACHE_MS 15000 /* a connection is reloaded this often (picks up wdtctl changes) */

/** A job waiting for a load: called once with the connection (a reference) or NULL. */
struct wrk_conn_waiter {
    void (*ready)(void *opaque, struct wrk_conn *c);
    void *opaque;
};

/** A connection being loaded from Redis (GET + HGETALL, non-blocking) and who waits for it. */
struct wrk_conn_load {
    struct wrk_conn_load *next;
    struct wrk *w;
    char *id;
    struct wrk_conn_waiter *waiters;
    size_t n, cap;
    char *doc; /* the GET reply's text; NULL for nil */
    size_t doc_len;
    int failed;       /* a reply was missing (connection broke) or an error */
    int expect_state; /* 1 once HGETALL was sent */
    char error[256];
};

static void conn_free(struct wrk_conn *c)
{
    wdts_api_creds_deinit(&c->creds);
    wdts_conn_destroy(c->conn);
    free(c->id);
    free(c);
}

void wrk_conn_unref(struct wrk *w, struct wrk_conn *c)
{
    (void)w;
    if (--c->refs == 0)
        conn_free(c);
}

/* Drops id from the cache (jobs holding it keep their reference). */
void wrk_conn_invalidate(struct wrk *w, const char *id)
{
    for (struct wrk_conn **pp = &w->conns; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            struct wrk_conn *c = *pp;
            *pp = c->next;
            wrk_conn_unref(w, c);
            return;
        }
    }
}

/* Builds a cache entry from a stored connection: opens the secrets and the credentials.
 * err/why: how the load went (WDTS_ERR_NOTFOUND, WDTS_ERR_JSON: an unusable entry). */
static struct wrk_conn *conn_make(struct wrk *w, const char *id, struct wdts_conn *cn,
                                  wdts_err_t err, const char *why)
{
    char es[400];
    struct wrk_conn *c = wdts_xcalloc(1, sizeof(*c));
    c->id = wdts_xstrdup(id);
    c->loaded_ms = wdts_time_mono_ms();
    c->refs = 1; /* the cache's */
    c->conn = cn;
    if (err != WDTS_OK) {
        c->error_code = err;
        snprintf(c->error, sizeof(c->error), "%s", why);
        return c;
    }
    if (wdts_conn_open_secrets(cn, w->secret_key, es, sizeof(es)) != WDTS_OK) {
        snprintf(c->error, sizeof(c->error), "connection %s: its secrets cannot be opened: %s",
                 id, es);
        return c;
    }
    if (wdts_api_creds_init(&c->creds, cn->sid, cn->appkey, cn->appsecret, es, sizeof(es)) !=
        WDTS_OK) {
        snprintf(c->error, sizeof(c->error), "connection %s: %s", id, es);
        return c;
    }
    if (cn->app == WDTS_API_APP_QIMEN) {
        const char *k = cn->qimen_platform ? w->cfg->qimen_app_key : cn->qimen_app_key;
        const char *sec = cn->qimen_platform ? w->cfg->qimen_app_secret : cn->qimen_app_secret;
        if (k == NULL || sec == NULL) {
            snprintf(c->error, sizeof(c->error),
                     "connection %s uses the platform-provided Qimen app, but qimen.app.key / "
                     "qimen.app.secret are not configured on the workers; set them",
                     id);
            return c;
        }
        if (wdts_api_creds_set_qimen(&c->creds, k, sec, NULL, NULL, NULL, es, sizeof(es)) !=
            WDTS_OK) {
            snprintf(c->error, sizeof(c->error), "connection %s: %s", id, es);
            return c;
        }
    }
    c->usable = 1;
    return c;
}

static void load_free(struct wrk *w, struct wrk_conn_load *ld)
{
    for (struct wrk_conn_load **pp = &w->loads; *pp; pp = &(*pp)->next)
        if (*pp == ld) {
            *pp = ld->next;
            break;
        }
    free(ld->id);
    free(ld->doc);
    free(ld->waiters);
    free(ld);
}

/* Both replies are in (or one is lost): cache the connection, wake the waiters. */
static void load_done(struct wrk_conn_load *ld, const struct wdts_redis_reply *state)
{
    struct wrk *w = ld->w;
    struct wrk_conn *c = NULL;
    if (!w->tearing_down && !ld->failed) {
        char es[400];
        struct wdts_conn *cn = NULL;
        wdts_err_t err = wdts_conn_load_parse(ld->id, ld->doc, ld->doc_len, state, &cn, es,
                                              sizeof(es));
        c = conn_make(w, ld->id, cn, err, es);
        wrk_conn_invalidate(w, ld->id);
        c->next = w->conns;
        w->conns = c;
    } else if (!w->tearing_down) {
        WDTS_LOG(WARN, "wrk", "loading connection %s: %s", ld->id, ld->error);
    }
    for (size_t i = 0; i < ld->n; i++) {
        struct wrk_conn_waiter *wt = &ld->waiters[i];
        if (c)
            c->refs++;
        wt->ready(wt->opaque, c);
    }
    load_free(w, ld);
}

static void load_failed(struct wrk_conn_load *ld, const struct wdts_redis_reply *reply,
                        const char *err)
{
    ld->failed = 1;
    snprintf(ld->error, sizeof(ld->error), "%s",
             reply ? wdts_redis_reply_str(reply, NULL) : (err ? err : "no reply"));
}

static void on_conn_doc(const struct wdts_redis_reply *reply, const char *err, void *opaque)
{
    struct wrk_conn_load *ld = opaque;
    if (reply == NULL || wdts_redis_reply_type(reply) == WDTS_REDIS_ERROR) {
        load_failed(ld, reply, err);
    } else {
        size_t len = 0;
        const char *text = wdts_redis_reply_str(reply, &len);
        if (text) {
            ld->doc = wdts_xstrndup(text, len);
            ld->doc_len = len;
        }
    }
    if (!ld->expect_state) { /* HGETALL could not be sent */
        ld->failed = 1;
        load_done(ld, NULL);
    }
}

static void on_conn_state(const struct wdts_redis_reply *reply, const char *err, void *opaque)
{
    struct wrk_conn_load *ld = opaque;
    if (reply == NULL || wdts_redis_reply_type(reply) == WDTS_REDIS_ERROR)
        load_failed(ld, reply, err);
    load_done(ld, reply);
}

void wrk_conn_request(struct wrk *w, const char *id,
                      void (*ready)(void *opaque, struct wrk_conn *c), void *opaque)
{
    int64_t now = wdts_time_mono_ms();
    for (struct wrk_conn *c = w->conns; c; c = c->next) {
        if (strcmp(c->id, id) == 0 && now - c->loaded_ms < CONN_CACHE_MS) {
            c->refs++;
            ready(opaque, c);
            return;
        }
    }
    struct wrk_conn_load *ld;
    for (ld = w->loads; ld; ld = ld->next)
        if (strcmp(ld->id, id) == 0)
            break;
    int fresh = ld == NULL;
    if (fresh) {
        ld = wdts_xcalloc(1, sizeof(*ld));
        ld->w = w;
        ld->id = wdts_xstrdup(id);
        ld->next = w->loads;
        w->loads = ld;
    }
    if (ld->n == ld->cap) {
        ld->cap = ld->cap ? ld->cap * 2 : 4;
        ld->waiters = wdts_xrealloc(ld->waiters, ld->cap * sizeof(*ld->waiters));
    }
    ld->waiters[ld->n++] = (struct wrk_conn_waiter){ready, opaque};
    if (!fresh)
        return;
    struct wdts_buf dk, sk;
    wdts_buf_init(&dk);
    wdts_buf_init(&sk);
    wdts_conn_load_keys(w->prefix, id, &dk, &sk);
    const char *get[] = {"GET", wdts_buf_str(&dk)};
    const char *hall[] = {"HGETALL", wdts_buf_str(&sk)};
    if (wdts_redis_async_command(w->ra, 2, get, on_conn_doc, ld) != WDTS_OK) {
        load_failed(ld, NULL, "no Redis connection");
        load_done(ld, NULL);
    } else if (wdts_redis_async_command(w->ra, 2, hall, on_conn_state, ld) == WDTS_OK) {
        ld->expect_state = 1;
    } /* else on_conn_doc finishes it as failed */
    wdts_buf_deinit(&dk);
    wdts_buf_deinit(&sk);
}

void wrk_conns_clear(struct wrk *w)
{
    while (w->loads)
        load_free(w, w->loads);
    while (w->conns) {
        struct wrk_conn *c = w->conns;
        w->conns = c->next;
        wrk_conn_unref(w, c);
    }
}
