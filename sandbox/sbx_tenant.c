/* Sandbox tenants (see sbx_tenant.h): the --tenants JSON file, checked field by
 * field with every problem listed, and the built-in demo set. It does not know
 * how tenants are served; the gateway reads the limits and permissions.
 *
 * The demo set (wdt-sandbox --demo):
 *   sid "demo-shop"   appkey "demo-app"   appsecret "demo-secret:demo-salt"
 *                     Qimen app_key "demo-qimen-app", app_secret "demo-qimen-secret"
 *                     every method; 600 calls/min, 4 in flight; 2,000 orders a day; seed 1
 *   sid "demo-shop-2" appkey "demo2-app"  appsecret "demo2-secret:demo2-salt"
 *                     no Qimen app; every method but refunds (aftersales.refund.Refund.search
 *                     answers 权限不足); 120 calls/min, 2 in flight; 500 orders a day; seed 2
 * Both data sets begin at SBX_TENANT_DEFAULT_ORIGIN. */
#include "sbx_tenant.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbx_generic.h"
#include "sbx_method.h"
#include "wdts/cfg.h"
#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"

/* 2026-01-01 00:00:00 +08:00: a fixed default, so that the server and the truth
 * subcommand, started at different times, see the same data set. */
#define SBX_TENANT_DEFAULT_ORIGIN 1767196800LL
#define SBX_TENANT_DEFAULT_ORDERS 2000

/* Problems are appended to errstr, one per line, so the user sees all of them. */
struct problems {
    char *errstr;
    size_t size;
    size_t used;
    int count;
};

static void problem(struct problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct problems *p, const char *fmt, ...)
{
    p->count++;
    if (p->errstr == NULL || p->size == 0 || p->used + 1 >= p->size)
        return;
    if (p->used > 0)
        p->errstr[p->used++] = '\n';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->errstr + p->used, p->size - p->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        p->used += (size_t)n < p->size - p->used ? (size_t)n : p->size - p->used - 1;
}

static void tenant_deinit(struct sbx_tenant *t)
{
    free(t->sid);
    free(t->appkey);
    free(t->appsecret);
    free(t->secret);
    free(t->salt);
    free(t->qimen_app_key);
    free(t->qimen_app_secret);
    for (size_t i = 0; i < t->n_permissions; i++)
        free(t->permissions[i]);
    free(t->permissions);
    memset(t, 0, sizeof(*t));
}

void sbx_tenants_deinit(struct sbx_tenants *tenants)
{
    if (tenants == NULL)
        return;
    for (size_t i = 0; i < tenants->n; i++)
        tenant_deinit(&tenants->v[i]);
    free(tenants->v);
    tenants->v = NULL;
    tenants->n = 0;
}

/* A stable default seed from the sid (FNV-1a), so that a file without seeds still
 * gives every tenant its own data set. */
static uint64_t seed_from_sid(const char *sid)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)sid; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

static int split_secret(struct sbx_tenant *t)
{
    const char *colon = strchr(t->appsecret, ':');
    if (colon == NULL || colon == t->appsecret || colon[1] == '\0')
        return -1;
    t->secret = wdts_xstrndup(t->appsecret, (size_t)(colon - t->appsecret));
    t->salt = wdts_xstrdup(colon + 1);
    return 0;
}

/* Reads a required or optional non-empty string member. */
static char *get_str(json_t *obj, const char *key, int required, const char *where,
                     struct problems *p)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            problem(p, "%s: \"%s\" is missing (a non-empty string)", where, key);
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        problem(p, "%s: \"%s\" must be a non-empty string", where, key);
        return NULL;
    }
    return wdts_xstrdup(json_string_value(v));
}

static int get_int(json_t *obj, const char *key, long long min, long long max, long long dflt,
                   const char *where, struct problems *p)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return (int)dflt;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        problem(p, "%s: \"%s\" must be an integer from %lld to %lld", where, key, min, max);
        return (int)dflt;
    }
    return (int)json_integer_value(v);
}

/* Ids go into URLs and metric labels: letters, digits and . _ - only. */
static int plain_id(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static const char *const known_keys[] = {
    "sid",         "appkey", "appsecret", "qimen_app_key",  "qimen_app_secret", "permissions",
    "rate_per_min", "concurrency", "orders_per_day", "seed", "data_origin",     "time_format",
    "archive_horizon", NULL,
};

/* Reports the members of a tenant that are not known_keys. */
static void check_known_keys(json_t *obj, const char *where, struct problems *p)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (wdts_word_index(known_keys, SIZE_MAX, k) < 0)
            problem(p, "%s: unknown field \"%s\" (known: sid, appkey, appsecret, qimen_app_key, "
                       "qimen_app_secret, permissions, rate_per_min, concurrency, orders_per_day, "
                       "seed, data_origin, time_format, archive_horizon)", where, k);
    }
}

/* "permissions": direct method names the hand-made table or the generated reports serve. */
static void parse_permissions(json_t *obj, const struct sbx_reports *reports, const char *where,
                              struct sbx_tenant *t, struct problems *p)
{
    json_t *perms = json_object_get(obj, "permissions");
    if (perms != NULL && !json_is_null(perms)) {
        if (!json_is_array(perms)) {
            problem(p, "%s: \"permissions\" must be an array of direct method names", where);
        } else {
            t->permissions = wdts_xcalloc(json_array_size(perms) + 1, sizeof(char *));
            size_t i;
            json_t *m;
            json_array_foreach(perms, i, m) {
                if (!json_is_string(m)) {
                    problem(p, "%s: permissions[%zu] must be a string", where, i);
                    continue;
                }
                if (sbx_method_find_direct(json_string_value(m)) == NULL &&
                    sbx_reports_find_direct(reports, json_string_value(m), NULL) == NULL)
                    problem(p, "%s: permissions[%zu]: unknown method \"%s\" (use direct names "
                               "such as sales.TradeQuery.queryWithDetail)",
                            where, i, json_string_value(m));
                t->permissions[t->n_permissions++] = wdts_xstrdup(json_string_value(m));
            }
        }
    }
}

static void parse_data_origin(json_t *obj, const char *where, struct sbx_tenant *t,
                              struct problems *p)
{
    json_t *origin = json_object_get(obj, "data_origin");
    t->data_origin = SBX_TENANT_DEFAULT_ORIGIN;
    if (origin != NULL && !json_is_null(origin)) {
        int64_t o = 0;
        if (json_is_integer(origin) && json_integer_value(origin) > 0) {
            t->data_origin = json_integer_value(origin);
        } else if (json_is_string(origin) &&
                   (wdts_time_parse_rfc3339(json_string_value(origin), &o) == WDTS_OK ||
                    wdts_time_parse_beijing(json_string_value(origin), &o) == WDTS_OK)) {
            t->data_origin = o;
        } else {
            problem(p, "%s: \"data_origin\" must be Unix seconds, RFC 3339 "
                       "(\"2026-01-01T00:00:00+08:00\") or \"yyyy-MM-dd HH:mm:ss\" Beijing time",
                    where);
        }
    }
}

static void parse_time_format(json_t *obj, const char *where, struct sbx_tenant *t,
                              struct problems *p)
{
    json_t *tf = json_object_get(obj, "time_format");
    enum sbx_timefmt fmt;
    t->time_format = -1;
    if (tf != NULL && !json_is_null(tf)) {
        if (sbx_timefmt_parse(json_string_value(tf), &fmt) == WDTS_OK)
            t->time_format = (int)fmt;
        else
            problem(p, "%s: \"time_format\" must be \"doc\", \"datetime\" or \"epoch_ms\"",
                    where);
    }
}

static void parse_archive_horizon(json_t *obj, const char *where, struct sbx_tenant *t,
                                  struct problems *p)
{
    json_t *ah = json_object_get(obj, "archive_horizon");
    t->archive_horizon = -1;
    if (ah != NULL && !json_is_null(ah)) {
        int64_t ms = -1;
        if (json_is_integer(ah) && json_integer_value(ah) >= 0)
            t->archive_horizon = json_integer_value(ah);
        else if (json_is_string(ah) && strcmp(json_string_value(ah), "off") == 0)
            t->archive_horizon = 0;
        else if (json_is_string(ah) &&
                 wdts_cfg_parse_duration(json_string_value(ah), &ms) == WDTS_OK && ms >= 1000)
            t->archive_horizon = ms / 1000;
        else
            problem(p, "%s: \"archive_horizon\" must be a duration such as \"2d\", seconds, or "
                       "\"off\"", where);
    }
}

static void parse_tenant(json_t *obj, size_t idx, const struct sbx_reports *reports,
                         struct sbx_tenant *t, struct problems *p)
{
    char where[96];
    snprintf(where, sizeof(where), "tenant #%zu", idx + 1);
    if (!json_is_object(obj)) {
        problem(p, "%s: must be a JSON object", where);
        return;
    }
    t->sid = get_str(obj, "sid", 1, where, p);
    if (t->sid)
        snprintf(where, sizeof(where), "tenant #%zu (sid \"%.32s\")", idx + 1, t->sid);

    check_known_keys(obj, where, p);

    if (t->sid && !plain_id(t->sid))
        problem(p, "%s: \"sid\" may hold letters, digits, '.', '_' and '-' only", where);
    t->appkey = get_str(obj, "appkey", 1, where, p);
    if (t->appkey && !plain_id(t->appkey))
        problem(p, "%s: \"appkey\" may hold letters, digits, '.', '_' and '-' only", where);
    t->appsecret = get_str(obj, "appsecret", 1, where, p);
    if (t->appsecret && split_secret(t) != 0)
        problem(p, "%s: \"appsecret\" must have the form \"secret:salt\" with both parts non-empty",
                where);
    t->qimen_app_key = get_str(obj, "qimen_app_key", 0, where, p);
    t->qimen_app_secret = get_str(obj, "qimen_app_secret", 0, where, p);
    if ((t->qimen_app_key == NULL) != (t->qimen_app_secret == NULL))
        problem(p, "%s: give both \"qimen_app_key\" and \"qimen_app_secret\", or neither", where);

    parse_permissions(obj, reports, where, t, p);

    t->rate_per_min = get_int(obj, "rate_per_min", 0, 1000000, 0, where, p);
    t->concurrency = get_int(obj, "concurrency", 0, 100000, 0, where, p);
    t->orders_per_day =
        get_int(obj, "orders_per_day", 1, 1000000, SBX_TENANT_DEFAULT_ORDERS, where, p);

    json_t *seed = json_object_get(obj, "seed");
    if (seed == NULL || json_is_null(seed)) {
        t->seed = t->sid ? seed_from_sid(t->sid) : 0;
    } else if (json_is_integer(seed) && json_integer_value(seed) >= 0) {
        t->seed = (uint64_t)json_integer_value(seed);
    } else {
        problem(p, "%s: \"seed\" must be a non-negative integer", where);
    }

    parse_data_origin(obj, where, t, p);
    parse_time_format(obj, where, t, p);
    parse_archive_horizon(obj, where, t, p);
}

wdts_err_t sbx_tenants_load(const char *path, struct sbx_tenants *out, char *errstr,
                            size_t errstr_size)
{
    return sbx_tenants_load_for(path, NULL, out, errstr, errstr_size);
}

wdts_err_t sbx_tenants_load_for(const char *path, const struct sbx_reports *reports,
                                struct sbx_tenants *out, char *errstr, size_t errstr_size)
{
    struct problems p = {errstr, errstr_size, 0, 0};
    json_error_t jerr;
    json_t *root = NULL;
    memset(out, 0, sizeof(*out));
    if (errstr && errstr_size)
        errstr[0] = '\0';

    root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        problem(&p, "%s: line %d column %d: %s", path, jerr.line, jerr.column, jerr.text);
        goto out;
    }
    if (!json_is_array(root) || json_array_size(root) == 0) {
        problem(&p, "%s: must be a non-empty JSON array of tenant objects", path);
        goto out;
    }
    out->n = json_array_size(root);
    out->v = wdts_xcalloc(out->n, sizeof(*out->v));
    for (size_t i = 0; i < out->n; i++)
        parse_tenant(json_array_get(root, i), i, reports, &out->v[i], &p);

    for (size_t i = 0; i < out->n; i++) {
        for (size_t j = i + 1; j < out->n; j++) {
            const struct sbx_tenant *a = &out->v[i], *b = &out->v[j];
            if (a->sid && b->sid && strcmp(a->sid, b->sid) == 0)
                problem(&p, "tenants #%zu and #%zu have the same sid \"%s\" (sids are unique)",
                        i + 1, j + 1, a->sid);
            /* One Qimen app may serve several sellers, but with one secret only. */
            if (a->qimen_app_key && b->qimen_app_key &&
                strcmp(a->qimen_app_key, b->qimen_app_key) == 0 &&
                strcmp(a->qimen_app_secret, b->qimen_app_secret) != 0)
                problem(&p, "tenants #%zu and #%zu share qimen_app_key \"%s\" with different "
                            "qimen_app_secret values",
                        i + 1, j + 1, a->qimen_app_key);
        }
    }
out:
    json_decref(root);
    if (p.count > 0) {
        sbx_tenants_deinit(out);
        return WDTS_ERR_CONFIG;
    }
    return WDTS_OK;
}

static void demo_tenant(struct sbx_tenant *t, const char *sid, const char *appkey,
                        const char *appsecret, const char *qkey, const char *qsecret, int rate,
                        int conc, int orders, uint64_t seed)
{
    t->sid = wdts_xstrdup(sid);
    t->appkey = wdts_xstrdup(appkey);
    t->appsecret = wdts_xstrdup(appsecret);
    WDTS_ASSERT(split_secret(t) == 0);
    t->qimen_app_key = qkey ? wdts_xstrdup(qkey) : NULL;
    t->qimen_app_secret = qsecret ? wdts_xstrdup(qsecret) : NULL;
    t->rate_per_min = rate;
    t->concurrency = conc;
    t->orders_per_day = orders;
    t->seed = seed;
    t->data_origin = SBX_TENANT_DEFAULT_ORIGIN;
    t->time_format = -1;
    t->archive_horizon = -1;
}

void sbx_tenants_demo(struct sbx_tenants *out)
{
    out->n = 2;
    out->v = wdts_xcalloc(out->n, sizeof(*out->v));
    demo_tenant(&out->v[0], "demo-shop", "demo-app", "demo-secret:demo-salt", "demo-qimen-app",
                "demo-qimen-secret", 600, 4, 2000, 1);
    demo_tenant(&out->v[1], "demo-shop-2", "demo2-app", "demo2-secret:demo2-salt", NULL, NULL, 120,
                2, 500, 2);
    /* demo-shop-2 may call everything but refunds, to show a permission gap. */
    size_t n = 0;
    const struct sbx_method *m = sbx_method_table(&n);
    struct sbx_tenant *t = &out->v[1];
    t->permissions = wdts_xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].direct, "aftersales.refund.Refund.search") != 0)
            t->permissions[t->n_permissions++] = wdts_xstrdup(m[i].direct);
}

const struct sbx_tenant *sbx_tenants_find(const struct sbx_tenants *tenants, const char *sid)
{
    for (size_t i = 0; i < tenants->n; i++)
        if (strcmp(tenants->v[i].sid, sid) == 0)
            return &tenants->v[i];
    return NULL;
}

int sbx_tenant_may_call(const struct sbx_tenant *tenant, const char *direct_method)
{
    if (tenant->permissions == NULL)
        return 1;
    for (size_t i = 0; i < tenant->n_permissions; i++)
        if (strcmp(tenant->permissions[i], direct_method) == 0)
            return 1;
    return 0;
}
