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

#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/redis.h"

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
    size_t max = 6 + 2 * conn->n_reports, n = 0;
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
    wdts_api_json_int(json_object_get(o, "since"), &since);
    if (strcmp(field, "auth") == 0) {
        conn->auth_failed = 1;
        free(conn->auth_message);
        conn->auth_message = msg ? wdts_xstrdup(msg) : NULL;
        conn->auth_since = since;
    } else if (wdts_str_has_prefix(field, "report:")) {
        struct wdts_conn_report *r = wdts_conn_report_get(conn, field + 7);
        if (r) {
            r->blocked = 1;
            free(r->reason);
            free(r->fix);
            r->reason = reason ? wdts_xstrdup(reason) : NULL;
            r->fix = fix ? wdts_xstrdup(fix) : NULL;
            r->since = since;
        }
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

/* 1 when key is <prefix><kind>:<id> or <prefix><kind>:<id>:… (id escaped as wdts_redis_key
 * escapes a part), or a script key hash-tagged on the connection, <prefix><kind>:{<id>:…}…
 * or <prefix><kind>:{<id>}… (wdts_lua_key: watermarks, window locks). */
static int state_key_of(const char *key, const char *prefix, const char *id_part)
{
    if (!wdts_str_has_prefix(key, prefix))
        return 0;
    const char *colon = strchr(key + strlen(prefix), ':');
    if (colon == NULL)
        return 0;
    const char *rest = colon + 1;
    int tagged = *rest == '{';
    if (tagged)
        rest++;
    size_t il = strlen(id_part);
    if (strncmp(rest, id_part, il) != 0)
        return 0;
    char after = rest[il];
    return tagged ? after == ':' || after == '}' : after == '\0' || after == ':';
}

wdts_err_t wdts_conn_remove(struct wdts_redis *redis, const char *prefix, const char *id,
                            long long *deleted, char *errstr, size_t errstr_size)
{
    struct keys k;
    struct wdts_buf pattern, idpart;
    long long total = 0, v = 0;
    wdts_err_t err;
    const char *pfx = prefix ? prefix : WDTS_REDIS_PREFIX_DEFAULT;
    keys_init(&k, prefix, id);
    wdts_buf_init(&pattern);
    wdts_buf_init(&idpart);
    if (deleted)
        *deleted = 0;

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

    /* The id as wdts_redis_key() writes a part, then every key of the connection's state
     * (SCAN finds candidates; state_key_of decides). */
    wdts_redis_key(&idpart, "", id, NULL);
    glob_escape(&pattern, pfx);
    wdts_buf_append_str(&pattern, "*:*");
    glob_escape(&pattern, wdts_buf_str(&idpart));
    wdts_buf_append_str(&pattern, "*");
    char cursor[32] = "0";
    do {
        struct wdts_redis_reply *reply = NULL;
        const char *scan[] = {"SCAN", cursor, "MATCH", wdts_buf_str(&pattern), "COUNT", "1000"};
        if ((err = wdts_redis_command(redis, 6, scan, NULL, &reply)) != WDTS_OK) {
            redis_fail(redis, err, "scanning the connection's state keys", errstr, errstr_size);
            goto out;
        }
        const char *next = wdts_redis_reply_str(wdts_redis_reply_elem(reply, 0), NULL);
        wdts_strlcpy(cursor, next ? next : "0", sizeof(cursor));
        const struct wdts_redis_reply *list = wdts_redis_reply_elem(reply, 1);
        for (size_t i = 0; i < wdts_redis_reply_count(list); i++) {
            const char *key = wdts_redis_reply_str(wdts_redis_reply_elem(list, i), NULL);
            if (key == NULL || !state_key_of(key, pfx, wdts_buf_str(&idpart)))
                continue;
            const char *d[] = {"DEL", key};
            if ((err = wdts_redis_command_int(redis, 2, d, NULL, &v)) != WDTS_OK) {
                wdts_redis_reply_free(reply);
                redis_fail(redis, err, "deleting a state key", errstr, errstr_size);
                goto out;
            }
            total += v;
        }
        wdts_redis_reply_free(reply);
    } while (strcmp(cursor, "0") != 0);
    if (deleted)
        *deleted = total;
out:
    wdts_buf_deinit(&pattern);
    wdts_buf_deinit(&idpart);
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

wdts_err_t wdts_conn_mark_checked(struct wdts_redis *redis, const char *prefix, const char *id,
                                  int64_t now, char *errstr, size_t errstr_size)
{
    char v[32];
    snprintf(v, sizeof(v), "%lld", (long long)now);
    return mark(redis, prefix, id, "checked_at", v, errstr, errstr_size);
}
