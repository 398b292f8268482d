/* The Redis store of connections (layout in wdts/conn.h): save, load, list, remove, and
 * the markers workers and `wdtctl connection check` set. Every write that touches more
 * than one key, or must not clobber a concurrent one, is a Lua script, so two writers
 * never leave half a connection behind. Plain secrets never reach this file: save refuses
 * a connection whose secrets are not sealed. */
#include "wdts/conn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/job.h"
#include "wdts/json_num.h"
#include "wdts/log.h"
#include "wdts/lua.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/watermark.h"

/* KEYS: doc, set, state. ARGV: json, id, replace, then field/value pairs of the state. */
static const char save_lua[] =
    "if ARGV[3] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[1])\n"
    "redis.call('SADD', KEYS[2], ARGV[2])\n"
    "redis.call('DEL', KEYS[3])\n"
    "for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end\n"
    "return 1\n";

/* KEYS: doc, state. ARGV: field, value ("" deletes the field). A JSON object value keeps
 * the `since` of the value it replaces: the time a condition was first seen. */
static const char mark_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "if ARGV[2] == '' then redis.call('HDEL', KEYS[2], ARGV[1]) return 1 end\n"
    "local v = ARGV[2]\n"
    "local old = redis.call('HGET', KEYS[2], ARGV[1])\n"
    "if old then\n"
    "  local ok1, o = pcall(cjson.decode, old)\n"
    "  local ok2, n = pcall(cjson.decode, v)\n"
    "  if ok1 and ok2 and type(o) == 'table' and type(n) == 'table' and o.since then\n"
    "    n.since = o.since\n"
    "    v = cjson.encode(n)\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[2], ARGV[1], v)\n"
    "return 1\n";

/* KEYS: doc. ARGV: the v1 document's sealed appsecret, the v2 document. Rewrites the
 * document only if it is still that v1 document (a concurrent add --replace wins). */
static const char upgrade_lua[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if not cur then return -1 end\n"
    "local ok, d = pcall(cjson.decode, cur)\n"
    "if not ok or type(d) ~= 'table' or d.v ~= 1 or d.appsecret ~= ARGV[1] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[2])\n"
    "return 1\n";

struct keys {
    struct wdts_buf doc, set, state;
};

static void keys_init(struct keys *k, const char *prefix, const char *id)
{
    wdts_buf_init(&k->doc);
    wdts_buf_init(&k->set);
    wdts_buf_init(&k->state);
    wdts_redis_key(&k->doc, prefix, "conn", id, NULL);
    wdts_redis_key(&k->set, prefix, "conns", NULL);
    wdts_redis_key(&k->state, prefix, "connstate", id, NULL);
}

static void keys_deinit(struct keys *k)
{
    wdts_buf_deinit(&k->doc);
    wdts_buf_deinit(&k->set);
    wdts_buf_deinit(&k->state);
}

static wdts_err_t redis_fail(struct wdts_redis *redis, wdts_err_t err, const char *what,
                             char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size, "redis: %s: %s", what, redis->errstr);
    return err;
}

/* A JSON object as compact text. @owner new; free(). */
static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    WDTS_ASSERT(s != NULL);
    return s;
}

static char *state_value(const char *k1, const char *v1, const char *k2, const char *v2,
                         int64_t since)
{
    json_t *o = json_object();
    if (v1)
        json_object_set_new(o, k1, json_string(v1));
    if (k2 && v2)
        json_object_set_new(o, k2, json_string(v2));
    json_object_set_new(o, "since", json_integer(since));
    char *s = dump(o);
    json_decref(o);
    return s;
}

wdts_err_t wdts_conn_save(struct wdts_redis *redis, const char *prefix,
                          const struct wdts_conn *conn, int replace, char *errstr,
                          size_t errstr_size)
{
    if (conn->appsecret_sealed == NULL ||
        (conn->app == WDTS_API_APP_QIMEN && !conn->qimen_platform &&
         conn->qimen_app_secret_sealed == NULL)) {
        snprintf(errstr, errstr_size, "connection %s: its secrets are not sealed; refusing to "
                 "store it", conn->id ? conn->id : "?");
        return WDTS_ERR_INVAL;
    }
    struct keys k;
    keys_init(&k, prefix, conn->id);
    json_t *doc = wdts_conn_to_json(conn, WDTS_CONN_JSON_STORED);
    char *json = dump(doc);
    json_decref(doc);

    /* The state fields: at most auth, auth's time, checked_at and one per report. */
    size_t max = 6 + 4 * conn->n_reports, n = 0;
    char **args = wdts_xcalloc(max, sizeof(*args));
    args[n++] = json;
    args[n++] = wdts_xstrdup(conn->id);
    args[n++] = wdts_xstrdup(replace ? "1" : "0");
    if (conn->auth_failed) {
        args[n++] = wdts_xstrdup("auth");
        args[n++] = state_value("message", conn->auth_message, NULL, NULL, conn->auth_since);
    }
    if (conn->checked_at) {
        args[n++] = wdts_xstrdup("checked_at");
        args[n++] = wdts_xasprintf("%lld", (long long)conn->checked_at);
    }
    for (size_t i = 0; i < conn->n_reports; i++) {
        const struct wdts_conn_report *r = &conn->reports[i];
        if (r->history_blocked) {
            args[n++] = wdts_xasprintf("history:%s", r->name);
            args[n++] = state_value("reason", r->history_reason, "fix", r->history_fix,
                                    r->history_since);
        }
        if (!r->blocked)
            continue;
        args[n++] = wdts_xasprintf("report:%s", r->name);
        args[n++] = state_value("reason", r->reason, "fix", r->fix, r->since);
    }
    const char *keyv[3] = {wdts_buf_str(&k.doc), wdts_buf_str(&k.set), wdts_buf_str(&k.state)};
    struct wdts_redis_script *script = wdts_redis_script_new("conn_save", save_lua);
    long long stored = 0;
    wdts_err_t err = wdts_redis_eval_int(redis, script, 3, keyv, (int)n,
                                         (const char *const *)args, &stored);
    if (err != WDTS_OK)
        redis_fail(redis, err, "storing the connection", errstr, errstr_size);
    else if (!stored) {
        snprintf(errstr, errstr_size, "a connection with id %s already exists: remove it first "
                 "(wdtctl connection remove --id %s) or choose another id", conn->id, conn->id);
        err = WDTS_ERR_INVAL;
    }
    wdts_redis_script_destroy(script);
    for (size_t i = 0; i < n; i++)
        free(args[i]);
    free(args);
    keys_deinit(&k);
    return err;
}

/* Applies one field of the state hash to conn. Unknown fields are ignored: a later version
 * may add some, and the state is advisory for users. */
static void apply_state(struct wdts_conn *conn, const char *field, const char *val)
{
    if (strcmp(field, "checked_at") == 0) {
        long long v;
        if (wdts_parse_int(val, 0, INT64_MAX, &v) == WDTS_OK)
            conn->checked_at = v;
        return;
    }
    json_t *o = json_loads(val, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    const char *msg = json_string_value(json_object_get(o, "message"));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    const char *fix = json_string_value(json_object_get(o, "fix"));
    long long since = 0; /* cjson (the marker script) may write it as a number of any form */
    wdts_json_int(json_object_get(o, "since"), &since);
    if (strcmp(field, "auth") == 0) {
        conn->auth_failed = 1;
        free(conn->auth_message);
        conn->auth_message = msg ? wdts_xstrdup(msg) : NULL;
        conn->auth_since = since;
    } else if (wdts_str_has_prefix(field, "report:")) {
        struct wdts_conn_report *r = wdts_conn_report_get(conn, field + 7);
        if (r)
            wdts_conn_report_mark(r, 0, reason, fix, since);
    } else if (wdts_str_has_prefix(field, "history:")) {
        struct wdts_conn_report *r = wdts_conn_report_get(conn, field + 8);
        if (r)
            wdts_conn_report_mark(r, 1, reason, fix, since);
    }
    json_decref(o);
}

wdts_err_t wdts_conn_load_parse(const char *id, const char *doc, size_t doc_len,
                                const struct wdts_redis_reply *state, struct wdts_conn **out,
                                char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (doc == NULL) {
        snprintf(errstr, errstr_size, "no connection with id %s (wdtctl connection list shows "
                 "the stored ones)", id);
        return WDTS_ERR_NOTFOUND;
    }
    json_error_t jerr;
    json_t *json = json_loadb(doc, doc_len, 0, &jerr);
    if (json == NULL) {
        snprintf(errstr, errstr_size, "connection %s: the stored document is not JSON (%s): "
                 "remove it and add it again", id, jerr.text);
        return WDTS_ERR_JSON;
    }
    wdts_err_t err = wdts_conn_from_json(json, out, errstr, errstr_size);
    json_decref(json);
    if (err != WDTS_OK)
        return err;
    /* The document must be the one of its key: a copy under another id would run its
     * calls under that id (v2 secrets would not open either; v1 ones would). */
    if (strcmp((*out)->id, id) != 0) {
        snprintf(errstr, errstr_size, "connection %s: the stored document says it is connection "
                 "%s: it was copied or edited in Redis; remove it and add it again", id,
                 (*out)->id);
        wdts_conn_destroy(*out);
        *out = NULL;
        return WDTS_ERR_JSON;
    }
    for (size_t i = 0; i + 1 < wdts_redis_reply_count(state); i += 2) {
        const char *f = wdts_redis_reply_str(wdts_redis_reply_elem(state, i), NULL);
        const char *v = wdts_redis_reply_str(wdts_redis_reply_elem(state, i + 1), NULL);
        if (f && v)
            apply_state(*out, f, v);
    }
    return WDTS_OK;
}

void wdts_conn_load_keys(const char *prefix, const char *id, struct wdts_buf *doc_key,
                         struct wdts_buf *state_key)
{
    wdts_redis_key(doc_key, prefix, "conn", id, NULL);
    wdts_redis_key(state_key, prefix, "connstate", id, NULL);
}

wdts_err_t wdts_conn_load(struct wdts_redis *redis, const char *prefix, const char *id,
                          struct wdts_conn **out, char *errstr, size_t errstr_size)
{
    struct keys k;
    struct wdts_redis_reply *doc = NULL, *state = NULL;
    wdts_err_t err;
    *out = NULL;
    keys_init(&k, prefix, id);
    const char *get[] = {"GET", wdts_buf_str(&k.doc)};
    const char *hall[] = {"HGETALL", wdts_buf_str(&k.state)};
    if ((err = wdts_redis_pipeline_append(redis, 2, get, NULL)) != WDTS_OK ||
        (err = wdts_redis_pipeline_append(redis, 2, hall, NULL)) != WDTS_OK) {
        redis_fail(redis, err, "loading the connection", errstr, errstr_size);
        goto out;
    }
    wdts_err_t e1 = wdts_redis_pipeline_read(redis, &doc);
    wdts_err_t e2 = wdts_redis_pipeline_read(redis, &state);
    if ((err = e1 != WDTS_OK ? e1 : e2) != WDTS_OK) {
        redis_fail(redis, err, "loading the connection", errstr, errstr_size);
        goto out;
    }
    size_t len = 0;
    const char *text = wdts_redis_reply_str(doc, &len);
    err = wdts_conn_load_parse(id, text, len, state, out, errstr, errstr_size);
out:
    wdts_redis_reply_free(doc);
    wdts_redis_reply_free(state);
    keys_deinit(&k);
    return err;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

wdts_err_t wdts_conn_list(struct wdts_redis *redis, const char *prefix, char ***ids, size_t *n,
                          char *errstr, size_t errstr_size)
{
    struct wdts_buf key;
    struct wdts_redis_reply *reply = NULL;
    *ids = NULL;
    *n = 0;
    wdts_buf_init(&key);
    wdts_err_t err = wdts_redis_commandl(redis, &reply, "SMEMBERS",
                                         wdts_redis_key(&key, prefix, "conns", NULL), NULL);
    wdts_buf_deinit(&key);
    if (err != WDTS_OK)
        return redis_fail(redis, err, "listing connections", errstr, errstr_size);
    size_t cnt = wdts_redis_reply_count(reply);
    char **v = wdts_xcalloc(cnt ? cnt : 1, sizeof(*v));
    for (size_t i = 0; i < cnt; i++) {
        const char *s = wdts_redis_reply_str(wdts_redis_reply_elem(reply, i), NULL);
        v[i] = wdts_xstrdup(s ? s : "");
    }
    wdts_redis_reply_free(reply);
    qsort(v, cnt, sizeof(*v), cmp_str);
    *ids = v;
    *n = cnt;
    return WDTS_OK;
}

void wdts_conn_ids_free(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

/* Appends s to a SCAN pattern with the glob characters escaped. */
static void glob_escape(struct wdts_buf *b, const char *s)
{
    for (; *s; s++) {
        if (strchr("*?[]\\", *s))
            wdts_buf_append(b, "\\", 1);
        wdts_buf_append(b, s, 1);
    }
}

/* A list of owned strings, without repeats. */
struct strv {
    char **v;
    size_t n, cap;
};

static void strv_add(struct strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++)
        if (strcmp(sv->v[i], s) == 0)
            return;
    if (sv->n == sv->cap) {
        sv->cap = sv->cap ? 2 * sv->cap : 16;
        sv->v = wdts_xrealloc(sv->v, sv->cap * sizeof(*sv->v));
    }
    sv->v[sv->n++] = wdts_xstrdup(s);
}

static void strv_deinit(struct strv *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    sv->v = NULL;
    sv->n = sv->cap = 0;
}

/* The names in the stored document's "reports", read leniently: a damaged document still
 * lets remove delete what the caller's report list names. */
static void doc_reports(const char *doc, size_t len, struct strv *reports)
{
    json_t *j = doc ? json_loadb(doc, len, 0, NULL) : NULL;
    json_t *arr = json_object_get(j, "reports");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *name = json_string_value(json_array_get(arr, i));
        if (name && *name)
            strv_add(reports, name);
    }
    json_decref(j);
}

/* The keys of one (connection, report) other than window locks: the scheduler's
 * (sched_state.h: plan, out, outmeta, stat; workers add to stat) and the watermark's
 * script keys (watermark.h). */
static void report_keys(struct strv *keys, const char *prefix, const char *id, const char *report)
{
    static const char *const sched_kinds[] = {"plan", "out", "outmeta", "stat"};
    static const enum wdts_wm_key_kind wm_kinds[] = {WDTS_WM_KEY_STATE, WDTS_WM_KEY_DONE,
                                                     WDTS_WM_KEY_FENCE, WDTS_WM_KEY_FIDX};
    struct wdts_buf b;
    wdts_buf_init(&b);
    for (size_t i = 0; i < sizeof(sched_kinds) / sizeof(sched_kinds[0]); i++)
        strv_add(keys, wdts_redis_key(&b, prefix, sched_kinds[i], id, report, NULL));
    const struct wdts_wm_id wm = {id, report};
    for (size_t i = 0; i < sizeof(wm_kinds) / sizeof(wm_kinds[0]); i++)
        strv_add(keys, wdts_wm_key(&b, prefix, &wm, wm_kinds[i]));
    wdts_buf_deinit(&b);
}

/* 1 when s is one or more digits followed by end (the NUL or the character `end`); *after
 * points past them. */
static int digits(const char *s, char end, const char **after)
{
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p == s || *p != end)
        return 0;
    *after = p;
    return 1;
}

/* 1 when key is a window lock of one of the connection's reports: exactly
 * wdts_wm_lock_key(), <wm key of (id, report)>:lock:<start>:<end>. */
static int lock_key_of(const char *key, const char *prefix, const char *id,
                       const struct strv *reports)
{
    struct wdts_buf b;
    int mine = 0;
    wdts_buf_init(&b);
    for (size_t i = 0; i < reports->n && !mine; i++) {
        const struct wdts_wm_id wm = {id, reports->v[i]};
        wdts_wm_key(&b, prefix, &wm, WDTS_WM_KEY_STATE);
        wdts_buf_append_str(&b, ":lock:");
        const char *p;
        if (wdts_str_has_prefix(key, wdts_buf_str(&b)) &&
            digits(key + b.len, ':', &p) && digits(p + 1, '\0', &p))
            mine = 1;
    }
    wdts_buf_deinit(&b);
    return mine;
}

/* Adds the window locks of the connection's reports to keys. Locks carry their window in
 * the name, so they are found by SCAN; every candidate is checked against the exact form. */
static wdts_err_t lock_keys(struct wdts_redis *redis, const char *prefix, const char *id,
                            const struct strv *reports, struct strv *keys, char *errstr,
                            size_t errstr_size)
{
    struct wdts_buf pattern, tag;
    wdts_err_t err = WDTS_OK;
    const char *parts[1] = {id};
    wdts_buf_init(&pattern);
    wdts_buf_init(&tag);
    /* <prefix>wm:{<id>} then drop the closing brace: <prefix>wm:{<id>:<report>}:lock:… */
    wdts_lua_key(&tag, prefix, "wm", parts, 1, "");
    tag.data[--tag.len] = '\0';
    glob_escape(&pattern, wdts_buf_str(&tag));
    wdts_buf_append_str(&pattern, ":*\\}:lock:*");
    char cursor[32] = "0";
    do {
        struct wdts_redis_reply *reply = NULL;
        const char *scan[] = {"SCAN", cursor, "MATCH", wdts_buf_str(&pattern), "COUNT", "1000"};
        if ((err = wdts_redis_command(redis, 6, scan, NULL, &reply)) != WDTS_OK) {
            redis_fail(redis, err, "scanning for the connection's window locks", errstr,
                       errstr_size);
            break;
        }
        const char *next = wdts_redis_reply_str(wdts_redis_reply_elem(reply, 0), NULL);
        wdts_strlcpy(cursor, next ? next : "0", sizeof(cursor));
        const struct wdts_redis_reply *list = wdts_redis_reply_elem(reply, 1);
        for (size_t i = 0; i < wdts_redis_reply_count(list); i++) {
            const char *key = wdts_redis_reply_str(wdts_redis_reply_elem(list, i), NULL);
            if (key && lock_key_of(key, prefix, id, reports))
                strv_add(keys, key);
        }
        wdts_redis_reply_free(reply);
    } while (strcmp(cursor, "0") != 0);
    wdts_buf_deinit(&pattern);
    wdts_buf_deinit(&tag);
    return err;
}

wdts_err_t wdts_conn_remove(struct wdts_redis *redis, const char *prefix, const char *id,
                            const char *const *reports, size_t n_reports, long long *deleted,
                            char *errstr, size_t errstr_size)
{
    struct keys k;
    struct strv names = {0}, keys = {0};
    struct wdts_redis_reply *doc = NULL;
    long long total = 0, v = 0;
    wdts_err_t err;
    if (deleted)
        *deleted = 0;
    /* Only a name add could have stored: no other kind's key can be spelt from it. */
    if (id == NULL || !wdts_job_name_valid(id)) {
        snprintf(errstr, errstr_size, "connection id '%s' is not a valid id (1 to 64 characters "
                 "of A-Z a-z 0-9 _ . -)", id ? id : "");
        return WDTS_ERR_INVAL;
    }
    keys_init(&k, prefix, id);

    const char *get[] = {"GET", wdts_buf_str(&k.doc)};
    if ((err = wdts_redis_command(redis, 2, get, NULL, &doc)) != WDTS_OK) {
        redis_fail(redis, err, "reading the connection", errstr, errstr_size);
        goto out;
    }
    size_t len = 0;
    const char *text = wdts_redis_reply_str(doc, &len);
    doc_reports(text, len, &names);
    for (size_t i = 0; i < n_reports; i++)
        if (reports[i] && *reports[i])
            strv_add(&names, reports[i]);

    const char *srem[] = {"SREM", wdts_buf_str(&k.set), id};
    if ((err = wdts_redis_command_int(redis, 3, srem, NULL, &v)) != WDTS_OK) {
        redis_fail(redis, err, "removing the connection", errstr, errstr_size);
        goto out;
    }
    int was_member = v > 0;
    const char *del[] = {"DEL", wdts_buf_str(&k.doc), wdts_buf_str(&k.state)};
    if ((err = wdts_redis_command_int(redis, 3, del, NULL, &total)) != WDTS_OK) {
        redis_fail(redis, err, "removing the connection", errstr, errstr_size);
        goto out;
    }
    if (!was_member && total == 0) {
        snprintf(errstr, errstr_size, "no connection with id %s (wdtctl connection list shows "
                 "the stored ones)", id);
        err = WDTS_ERR_NOTFOUND;
        goto out;
    }

    /* Exactly the keys of the layout (wdts/conn.h), never a pattern over other kinds. */
    for (size_t i = 0; i < names.n; i++)
        report_keys(&keys, prefix, id, names.v[i]);
    if ((err = lock_keys(redis, prefix, id, &names, &keys, errstr, errstr_size)) != WDTS_OK)
        goto out;
    for (size_t i = 0; i < keys.n; i += 256) {
        size_t m = keys.n - i < 256 ? keys.n - i : 256;
        const char **argv = wdts_xcalloc(m + 1, sizeof(*argv));
        argv[0] = "DEL";
        for (size_t j = 0; j < m; j++)
            argv[j + 1] = keys.v[i + j];
        err = wdts_redis_command_int(redis, (int)m + 1, argv, NULL, &v);
        free(argv);
        if (err != WDTS_OK) {
            redis_fail(redis, err, "deleting the connection's state keys", errstr, errstr_size);
            goto out;
        }
        total += v;
    }
    if (deleted)
        *deleted = total;
out:
    wdts_redis_reply_free(doc);
    strv_deinit(&names);
    strv_deinit(&keys);
    keys_deinit(&k);
    return err;
}

static wdts_err_t mark(struct wdts_redis *redis, const char *prefix, const char *id,
                       const char *field, const char *value, char *errstr, size_t errstr_size)
{
    struct keys k;
    keys_init(&k, prefix, id);
    const char *keyv[2] = {wdts_buf_str(&k.doc), wdts_buf_str(&k.state)};
    const char *args[2] = {field, value ? value : ""};
    struct wdts_redis_script *script = wdts_redis_script_new("conn_mark", mark_lua);
    long long r = 0;
    wdts_err_t err = wdts_redis_eval_int(redis, script, 2, keyv, 2, args, &r);
    if (err != WDTS_OK) {
        redis_fail(redis, err, "marking the connection", errstr, errstr_size);
    } else if (r < 0) {
        snprintf(errstr, errstr_size, "no connection with id %s", id);
        err = WDTS_ERR_NOTFOUND;
    }
    wdts_redis_script_destroy(script);
    keys_deinit(&k);
    return err;
}

wdts_err_t wdts_conn_mark_auth(struct wdts_redis *redis, const char *prefix, const char *id,
                               const char *message, int64_t now, char *errstr,
                               size_t errstr_size)
{
    char *v = message ? state_value("message", message, NULL, NULL, now) : NULL;
    wdts_err_t err = mark(redis, prefix, id, "auth", v, errstr, errstr_size);
    free(v);
    return err;
}

wdts_err_t wdts_conn_mark_report(struct wdts_redis *redis, const char *prefix, const char *id,
                                 const char *report, const char *reason, const char *fix,
                                 int64_t now, char *errstr, size_t errstr_size)
{
    char *field = wdts_xasprintf("report:%s", report);
    char *v = reason || fix ? state_value("reason", reason, "fix", fix, now) : NULL;
    wdts_err_t err = mark(redis, prefix, id, field, v, errstr, errstr_size);
    free(v);
    free(field);
    return err;
}

wdts_err_t wdts_conn_mark_history(struct wdts_redis *redis, const char *prefix, const char *id,
                                  const char *report, const char *reason, const char *fix,
                                  int64_t now, char *errstr, size_t errstr_size)
{
    char *field = wdts_xasprintf("history:%s", report);
    char *v = reason || fix ? state_value("reason", reason, "fix", fix, now) : NULL;
    wdts_err_t err = mark(redis, prefix, id, field, v, errstr, errstr_size);
    free(v);
    free(field);
    return err;
}

wdts_err_t wdts_conn_mark_checked(struct wdts_redis *redis, const char *prefix, const char *id,
                                  int64_t now, char *errstr, size_t errstr_size)
{
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)now);
    return mark(redis, prefix, id, "checked_at", v, errstr, errstr_size);
}

wdts_err_t wdts_conn_upgrade(struct wdts_redis *redis, const char *prefix, struct wdts_conn *conn,
                             const unsigned char key[WDTS_CRYPTO_KEY_LEN], int *upgraded,
                             char *errstr, size_t errstr_size)
{
    *upgraded = 0;
    if (conn->version >= WDTS_CONN_VERSION)
        return WDTS_OK;
    if (conn->appsecret_sealed == NULL || conn->appsecret == NULL) {
        snprintf(errstr, errstr_size, "connection %s: open its secrets before upgrading it",
                 conn->id);
        return WDTS_ERR_INVAL;
    }
    char *old_sealed = wdts_xstrdup(conn->appsecret_sealed);
    wdts_err_t err = wdts_conn_seal(conn, key, errstr, errstr_size);
    if (err != WDTS_OK) {
        free(old_sealed);
        return err;
    }
    struct keys k;
    keys_init(&k, prefix, conn->id);
    json_t *doc = wdts_conn_to_json(conn, WDTS_CONN_JSON_STORED);
    char *json = dump(doc);
    json_decref(doc);
    const char *keyv[1] = {wdts_buf_str(&k.doc)};
    const char *args[2] = {old_sealed, json};
    struct wdts_redis_script *script = wdts_redis_script_new("conn_upgrade", upgrade_lua);
    long long r = 0;
    err = wdts_redis_eval_int(redis, script, 1, keyv, 2, args, &r);
    if (err != WDTS_OK) {
        redis_fail(redis, err, "upgrading the connection", errstr, errstr_size);
    } else if (r < 0) {
        snprintf(errstr, errstr_size, "no connection with id %s", conn->id);
        err = WDTS_ERR_NOTFOUND;
    } else {
        *upgraded = r == 1; /* 0: rewritten meanwhile, already in the new form */
    }
    wdts_redis_script_destroy(script);
    free(json);
    free(old_sealed);
    keys_deinit(&k);
    return err;
}
