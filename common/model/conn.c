/* The connection model (see wdts/conn.h): defaults, validation, sealing of the secrets
 * and the JSON forms. No I/O here: the Redis store is conn_store.c, the live checks
 * conn_probe.c. Plain secrets are only ever in struct fields, never in JSON. */
#include "wdts/conn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wdts/catalog.h"
#include "wdts/job.h"
#include "wdts/mem.h"
#include "wdts/str.h"

static const char *const pii_names[] = {"keep", "hash", "drop"};

wdts_err_t wdts_conn_pii_parse(const char *s, enum wdts_conn_pii *out)
{
    int i = wdts_word_index(pii_names, 3, s);
    if (i < 0)
        return WDTS_ERR_INVAL;
    *out = (enum wdts_conn_pii)i;
    return WDTS_OK;
}

const char *wdts_conn_pii_name(enum wdts_conn_pii pii)
{
    return (unsigned)pii < 3 ? pii_names[pii] : "?";
}

static const char *const archive_read_names[] = {"all", "old", "off"};

wdts_err_t wdts_conn_archive_read_parse(const char *s, enum wdts_conn_archive_read *out)
{
    int i = wdts_word_index(archive_read_names, 3, s);
    if (i < 0)
        return WDTS_ERR_INVAL;
    *out = (enum wdts_conn_archive_read)i;
    return WDTS_OK;
}

const char *wdts_conn_archive_read_name(enum wdts_conn_archive_read r)
{
    return (unsigned)r < 3 ? archive_read_names[r] : "?";
}

struct wdts_conn *wdts_conn_new(void)
{
    struct wdts_conn *conn = wdts_xcalloc(1, sizeof(*conn));
    conn->version = WDTS_CONN_VERSION;
    conn->app = WDTS_API_APP_WDT;
    conn->backfill_s = WDTS_CONN_BACKFILL_DEFAULT_S;
    conn->rate = WDTS_CONN_RATE_DEFAULT;
    conn->burst = WDTS_CONN_BURST_DEFAULT;
    conn->concurrency = WDTS_CONN_CONCURRENCY_DEFAULT;
    conn->pii = WDTS_CONN_PII_KEEP;
    conn->archive_horizon_s = WDTS_CONN_ARCHIVE_HORIZON_DEFAULT_S;
    conn->archive_read = WDTS_CONN_ARCHIVE_ALL;
    return conn;
}

static void free_secret(char **p)
{
    if (*p)
        wdts_crypto_free_secret(*p, strlen(*p));
    *p = NULL;
}

void wdts_conn_destroy(struct wdts_conn *conn)
{
    if (conn == NULL)
        return;
    free(conn->tenant);
    free(conn->id);
    free(conn->sid);
    free(conn->appkey);
    free(conn->appsecret_sealed);
    free_secret(&conn->appsecret);
    free(conn->qimen_app_key);
    free(conn->qimen_app_secret_sealed);
    free_secret(&conn->qimen_app_secret);
    free(conn->gateway);
    for (size_t i = 0; i < conn->n_reports; i++) {
        free(conn->reports[i].name);
        free(conn->reports[i].reason);
        free(conn->reports[i].fix);
        free(conn->reports[i].history_reason);
        free(conn->reports[i].history_fix);
    }
    free(conn->reports);
    free(conn->auth_message);
    free(conn);
}

const char *wdts_conn_default_gateway(enum wdts_api_app app)
{
    return app == WDTS_API_APP_QIMEN ? WDTS_CONN_GATEWAY_QIMEN : WDTS_CONN_GATEWAY_WDT;
}

const char *wdts_conn_gateway_resolve(enum wdts_api_app app, const char *text)
{
    if (text == NULL || strcmp(text, "production") == 0)
        return wdts_conn_default_gateway(app);
    if (strcmp(text, "test") == 0)
        return app == WDTS_API_APP_QIMEN ? WDTS_CONN_GATEWAY_QIMEN_TEST : WDTS_CONN_GATEWAY_WDT_TEST;
    return text;
}

int wdts_conn_gateway_plain(const char *gateway)
{
    return gateway != NULL && strncasecmp(gateway, "http://", 7) == 0;
}

struct wdts_conn_report *wdts_conn_report_get(const struct wdts_conn *conn, const char *name)
{
    for (size_t i = 0; i < conn->n_reports; i++)
        if (strcmp(conn->reports[i].name, name) == 0)
            return &conn->reports[i];
    return NULL;
}

void wdts_conn_report_mark(struct wdts_conn_report *r, int history, const char *reason,
                           const char *fix, int64_t since)
{
    char **r_reason = history ? &r->history_reason : &r->reason;
    char **r_fix = history ? &r->history_fix : &r->fix;
    free(*r_reason);
    free(*r_fix);
    *r_reason = reason ? wdts_xstrdup(reason) : NULL;
    *r_fix = fix ? wdts_xstrdup(fix) : NULL;
    if (history) {
        r->history_blocked = 1;
        r->history_since = since;
    } else {
        r->blocked = 1;
        r->since = since;
    }
}

void wdts_conn_add_report(struct wdts_conn *conn, const char *name)
{
    if (wdts_conn_report_get(conn, name) != NULL)
        return;
    conn->reports = wdts_xrealloc(conn->reports, (conn->n_reports + 1) * sizeof(*conn->reports));
    memset(&conn->reports[conn->n_reports], 0, sizeof(*conn->reports));
    conn->reports[conn->n_reports++].name = wdts_xstrdup(name);
}

/* ---- validation ------------------------------------------------------------------- */

static int printable_token(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if ((unsigned char)s[n] <= 0x20 || s[n] == 0x7f)
            return 0;
    return n > 0 && n <= max;
}

static int http_url(const char *s)
{
    const char *rest = wdts_str_has_prefix(s, "http://")    ? s + 7
                       : wdts_str_has_prefix(s, "https://") ? s + 8
                                                            : NULL;
    return rest && *rest && *rest != '/' && printable_token(s, 2048);
}

wdts_err_t wdts_conn_validate(const struct wdts_conn *conn, const struct wdts_catalog *cat,
                              struct wdts_buf *errors)
{
    struct wdts_buf local;
    int problems = 0;
    wdts_buf_init(&local);
    struct wdts_buf *e = errors ? errors : &local;
#define PROBLEM(...)                                                                               \
    do {                                                                                           \
        wdts_buf_printf(e, __VA_ARGS__);                                                           \
        wdts_buf_append_str(e, "\n");                                                              \
        problems++;                                                                                \
    } while (0)

    if (conn->tenant == NULL || !wdts_job_name_valid(conn->tenant))
        PROBLEM("tenant: give 1 to 64 characters of A-Z a-z 0-9 _ . -");
    if (conn->id == NULL || !wdts_job_name_valid(conn->id))
        PROBLEM("id: give 1 to 64 characters of A-Z a-z 0-9 _ . - (it goes into job ids and "
                "Kafka keys)");
    if (conn->app != WDTS_API_APP_WDT && conn->app != WDTS_API_APP_QIMEN)
        PROBLEM("app: must be wdt or qimen");
    if (conn->sid == NULL || !printable_token(conn->sid, 128))
        PROBLEM("sid: give the seller account (卖家账号), without spaces");
    if (conn->appkey == NULL || !printable_token(conn->appkey, 128))
        PROBLEM("appkey: give the API account (接口账号), without spaces");
    if (conn->appsecret == NULL && conn->appsecret_sealed == NULL) {
        PROBLEM("appsecret: give the appsecret as issued, secret:salt");
    } else if (conn->appsecret) {
        const char *colon = strchr(conn->appsecret, ':');
        if (colon == NULL || colon == conn->appsecret || colon[1] == '\0')
            PROBLEM("appsecret: must have the form secret:salt (both parts, as issued by the "
                    "open platform)");
    }
    if (conn->app == WDTS_API_APP_QIMEN) {
        int own_key = conn->qimen_app_key != NULL;
        int own_secret = conn->qimen_app_secret != NULL || conn->qimen_app_secret_sealed != NULL;
        if (conn->qimen_platform && (own_key || own_secret))
            PROBLEM("qimen: give either your own Qimen app_key and app_secret or platform-"
                    "provided, not both");
        else if (!conn->qimen_platform && (!own_key || !own_secret))
            PROBLEM("qimen: a qimen connection needs a Qimen app: give its app_key and "
                    "app_secret, or use the platform-provided one");
        if (conn->qimen_app_secret && conn->qimen_app_secret[0] == '\0')
            PROBLEM("qimen app_secret: is empty; give the Qimen app_secret");
        if (own_key && !printable_token(conn->qimen_app_key, 128))
            PROBLEM("qimen app_key: give the Qimen app_key, without spaces");
    } else if (conn->qimen_platform || conn->qimen_app_key || conn->qimen_app_secret ||
               conn->qimen_app_secret_sealed) {
        PROBLEM("qimen: Qimen app settings need app qimen (this connection is app wdt)");
    }
    if (conn->gateway == NULL || !http_url(conn->gateway))
        PROBLEM("gateway: give an http:// or https:// URL (or production / test)");
    if (conn->n_reports == 0)
        PROBLEM("reports: enable at least one report");
    for (size_t i = 0; i < conn->n_reports; i++) {
        const char *name = conn->reports[i].name;
        if (cat && wdts_catalog_get(cat, name) == NULL)
            PROBLEM("reports: '%s' is not in the report catalog (wdtctl reports lists them)", name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(conn->reports[j].name, name) == 0)
                PROBLEM("reports: '%s' is named twice", name);
    }
    if (conn->backfill_s < 0 || conn->backfill_s > WDTS_CONN_BACKFILL_MAX_S)
        PROBLEM("backfill: must be from 0 to 3650 days");
    if (!(conn->rate > 0.0 && conn->rate <= WDTS_CONN_RATE_MAX) || isnan(conn->rate))
        PROBLEM("rate: calls per second must be above 0 and at most %.0f", WDTS_CONN_RATE_MAX);
    if (conn->burst < 1 || conn->burst > WDTS_CONN_BURST_MAX)
        PROBLEM("burst: must be from 1 to %d", WDTS_CONN_BURST_MAX);
    if (conn->concurrency < 1 || conn->concurrency > WDTS_CONN_CONCURRENCY_MAX)
        PROBLEM("concurrency: must be from 1 to %d", WDTS_CONN_CONCURRENCY_MAX);
    if ((unsigned)conn->pii > WDTS_CONN_PII_DROP)
        PROBLEM("pii: must be keep, hash or drop");
    for (size_t i = 0; i < conn->n_reports; i++) {
        const struct wdts_conn_report *r = &conn->reports[i];
        if (!r->has_lookback)
            continue;
        if (r->lookback_s < 0 || r->lookback_s > WDTS_CONN_LOOKBACK_MAX_S || r->lookback_s % 60)
            PROBLEM("lookback: %s: give whole minutes from 0 to 366 days (e.g. 7d, 0 for none)",
                    r->name);
        const struct wdts_catalog_report *cr = cat ? wdts_catalog_get(cat, r->name) : NULL;
        if (cr && wdts_catalog_report_sees_late_changes(cr))
            PROBLEM("lookback: %s is windowed by its change time (%s) and sees later changes "
                    "without a look-back; remove it from --lookback",
                    r->name, cr->kind == WDTS_REPORT_SNAPSHOT ? "a snapshot" : "basis modified");
    }
    if (conn->archive_horizon_s < 86400 || conn->archive_horizon_s > WDTS_CONN_BACKFILL_MAX_S ||
        conn->archive_horizon_s % 60 != 0)
        PROBLEM("archive horizon: must be whole minutes from 1 to 3650 days (e.g. 90d)");
    if ((unsigned)conn->archive_read > WDTS_CONN_ARCHIVE_OFF)
        PROBLEM("archive read: must be all, old or off");
#undef PROBLEM
    wdts_buf_deinit(&local);
    return problems ? WDTS_ERR_INVAL : WDTS_OK;
}

/* ---- sealing ----------------------------------------------------------------------- */

/* Appends "<length>:<text>;", so no two different field lists give the same bytes. */
static void aad_part(struct wdts_buf *b, const char *text)
{
    if (text == NULL)
        text = "";
    wdts_buf_printf(b, "%zu:%s;", strlen(text), text);
}

char *wdts_conn_aad_v(const struct wdts_conn *conn, const char *field, int version)
{
    if (version < WDTS_CONN_VERSION)
        return wdts_xasprintf("%s/%s/%s", conn->tenant ? conn->tenant : "",
                              conn->id ? conn->id : "", field);
    struct wdts_buf b;
    wdts_buf_init(&b);
    wdts_buf_append_str(&b, "wdts-conn-v2;");
    aad_part(&b, conn->tenant);
    aad_part(&b, conn->id);
    aad_part(&b, wdts_api_app_name(conn->app));
    aad_part(&b, conn->sid);
    aad_part(&b, conn->appkey);
    aad_part(&b, conn->gateway);
    aad_part(&b, conn->app == WDTS_API_APP_QIMEN ? (conn->qimen_platform ? "platform" : "own")
                                                 : "");
    aad_part(&b, conn->app == WDTS_API_APP_QIMEN && !conn->qimen_platform ? conn->qimen_app_key
                                                                          : "");
    aad_part(&b, field);
    return wdts_buf_steal(&b);
}

char *wdts_conn_aad(const struct wdts_conn *conn, const char *field)
{
    return wdts_conn_aad_v(conn, field, conn->version);
}

static wdts_err_t seal_one(const struct wdts_conn *conn, const unsigned char *key,
                           const char *field, const char *plain, char **sealed, char *errstr,
                           size_t errstr_size)
{
    char es[256];
    char *aad = wdts_conn_aad(conn, field), *out = NULL;
    wdts_err_t err = wdts_crypto_seal(key, plain, strlen(plain), aad, &out, es, sizeof(es));
    free(aad);
    if (err != WDTS_OK) {
        snprintf(errstr, errstr_size, "cannot seal %s: %s", field, es);
        return err;
    }
    free(*sealed);
    *sealed = out;
    return WDTS_OK;
}

wdts_err_t wdts_conn_seal(struct wdts_conn *conn, const unsigned char key[WDTS_CRYPTO_KEY_LEN],
                          char *errstr, size_t errstr_size)
{
    int own_qimen = conn->app == WDTS_API_APP_QIMEN && !conn->qimen_platform;
    if (conn->appsecret == NULL) {
        snprintf(errstr, errstr_size, "the appsecret is not set: nothing to seal");
        return WDTS_ERR_INVAL;
    }
    if (own_qimen && conn->qimen_app_secret == NULL) {
        snprintf(errstr, errstr_size, "the Qimen app_secret is not set: nothing to seal");
        return WDTS_ERR_INVAL;
    }
    /* Always the current form: a connection opened under v1 is sealed again as v2. On a
     * failure the connection must not be saved (the caller gets the error). */
    conn->version = WDTS_CONN_VERSION;
    wdts_err_t err = seal_one(conn, key, "appsecret", conn->appsecret, &conn->appsecret_sealed,
                              errstr, errstr_size);
    if (err == WDTS_OK && own_qimen)
        err = seal_one(conn, key, "qimen_app_secret", conn->qimen_app_secret,
                       &conn->qimen_app_secret_sealed, errstr, errstr_size);
    return err;
}

static wdts_err_t open_one(const struct wdts_conn *conn, const unsigned char *key,
                           const char *field, const char *sealed, char **plain, char *errstr,
                           size_t errstr_size)
{
    char es[256];
    if (sealed == NULL) {
        snprintf(errstr, errstr_size, "connection %s has no stored %s: remove it and add it again",
                 conn->id ? conn->id : "?", field);
        return WDTS_ERR_INVAL;
    }
    char *aad = wdts_conn_aad(conn, field), *out = NULL;
    wdts_err_t err = wdts_crypto_open(key, sealed, aad, &out, NULL, es, sizeof(es));
    free(aad);
    if (err != WDTS_OK) {
        snprintf(errstr, errstr_size, "connection %s: cannot open the stored %s: %s (the "
                 "secret is bound to the connection's tenant, id, app, sid, appkey and gateway: "
                 "one of them was changed in Redis, or it was sealed under another key; add the "
                 "connection again with --replace)",
                 conn->id ? conn->id : "?", field, es);
        return err;
    }
    free_secret(plain);
    *plain = out;
    return WDTS_OK;
}

wdts_err_t wdts_conn_open_secrets(struct wdts_conn *conn,
                                  const unsigned char key[WDTS_CRYPTO_KEY_LEN], char *errstr,
                                  size_t errstr_size)
{
    wdts_err_t err = open_one(conn, key, "appsecret", conn->appsecret_sealed, &conn->appsecret,
                              errstr, errstr_size);
    if (err == WDTS_OK && conn->app == WDTS_API_APP_QIMEN && !conn->qimen_platform)
        err = open_one(conn, key, "qimen_app_secret", conn->qimen_app_secret_sealed,
                       &conn->qimen_app_secret, errstr, errstr_size);
    return err;
}

/* ---- JSON -------------------------------------------------------------------------- */

static void set_str(json_t *obj, const char *key, const char *val)
{
    json_object_set_new(obj, key, val ? json_string(val) : json_null());
}

/* The key id inside a sealed value "v1:<key id>:…", for users who rotate keys. */
static json_t *sealed_key_id(const char *sealed)
{
    if (sealed == NULL || !wdts_str_has_prefix(sealed, "v1:") || strlen(sealed) < 12 ||
        sealed[11] != ':')
        return json_null();
    return json_stringn(sealed + 3, 8);
}

json_t *wdts_conn_to_json(const struct wdts_conn *conn, enum wdts_conn_json what)
{
    int secrets = what != WDTS_CONN_JSON_PUBLIC;
    int state = what != WDTS_CONN_JSON_STORED;
    json_t *o = json_object();
    json_object_set_new(o, "v", json_integer(conn->version));
    set_str(o, "tenant", conn->tenant);
    set_str(o, "id", conn->id);
    json_object_set_new(o, "app", json_string(wdts_api_app_name(conn->app)));
    set_str(o, "sid", conn->sid);
    set_str(o, "appkey", conn->appkey);
    if (secrets)
        set_str(o, "appsecret", conn->appsecret_sealed);
    else
        json_object_set_new(o, "secret_key_id", sealed_key_id(conn->appsecret_sealed));
    if (conn->app == WDTS_API_APP_QIMEN) {
        json_t *q = json_object();
        json_object_set_new(q, "platform", json_boolean(conn->qimen_platform));
        if (!conn->qimen_platform) {
            set_str(q, "app_key", conn->qimen_app_key);
            if (secrets)
                set_str(q, "app_secret", conn->qimen_app_secret_sealed);
        }
        json_object_set_new(o, "qimen", q);
    }
    set_str(o, "gateway", conn->gateway);
    json_t *reports = json_array();
    for (size_t i = 0; i < conn->n_reports; i++)
        json_array_append_new(reports, json_string(conn->reports[i].name));
    json_object_set_new(o, "reports", reports);
    json_object_set_new(o, "backfill_s", json_integer(conn->backfill_s));
    json_t *lookback = NULL;
    for (size_t i = 0; i < conn->n_reports; i++) {
        if (!conn->reports[i].has_lookback)
            continue;
        if (lookback == NULL)
            lookback = json_object();
        json_object_set_new(lookback, conn->reports[i].name,
                            json_integer(conn->reports[i].lookback_s));
    }
    if (lookback) /* only when set: a document without it reads in older versions too */
        json_object_set_new(o, "lookback", lookback);
    json_t *rate = json_object();
    json_object_set_new(rate, "calls_per_s", json_real(conn->rate));
    json_object_set_new(rate, "burst", json_integer(conn->burst));
    json_object_set_new(rate, "concurrency", json_integer(conn->concurrency));
    json_object_set_new(o, "rate", rate);
    json_object_set_new(o, "pii", json_string(wdts_conn_pii_name(conn->pii)));
    json_object_set_new(o, "archive_horizon_s", json_integer(conn->archive_horizon_s));
    json_object_set_new(o, "archive_read",
                        json_string(wdts_conn_archive_read_name(conn->archive_read)));
    json_object_set_new(o, "created_at", json_integer(conn->created_at));
    json_object_set_new(o, "updated_at", json_integer(conn->updated_at));
    if (state) {
        json_t *st = json_object();
        json_object_set_new(st, "state", json_string(conn->auth_failed ? "auth_failed" : "ok"));
        if (conn->auth_failed) {
            set_str(st, "message", conn->auth_message);
            json_object_set_new(st, "since", json_integer(conn->auth_since));
        }
        json_object_set_new(st, "checked_at", json_integer(conn->checked_at));
        json_object_set_new(o, "state", st);
        json_t *rs = json_object();
        for (size_t i = 0; i < conn->n_reports; i++) {
            const struct wdts_conn_report *r = &conn->reports[i];
            json_t *one = json_object();
            json_object_set_new(one, "state", json_string(r->blocked ? "blocked" : "ok"));
            if (r->blocked) {
                set_str(one, "reason", r->reason);
                set_str(one, "fix", r->fix);
                json_object_set_new(one, "since", json_integer(r->since));
            }
            if (r->history_blocked) {
                json_t *h = json_object();
                set_str(h, "reason", r->history_reason);
                set_str(h, "fix", r->history_fix);
                json_object_set_new(h, "since", json_integer(r->history_since));
                json_object_set_new(one, "history_blocked", h);
            }
            json_object_set_new(rs, r->name, one);
        }
        json_object_set_new(o, "report_state", rs);
    }
    return o;
}

/* Reading: each getter checks the type and names the member in errstr. */
struct reader {
    char *errstr;
    size_t errstr_size;
    int failed;
};

static void rfail(struct reader *rd, const char *member, const char *want)
{
    if (!rd->failed)
        snprintf(rd->errstr, rd->errstr_size, "connection JSON: %s must be %s", member, want);
    rd->failed = 1;
}

static char *rd_str(struct reader *rd, const json_t *o, const char *key, int required)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            rfail(rd, key, "a string (it is missing)");
        return NULL;
    }
    if (!json_is_string(v)) {
        rfail(rd, key, "a string");
        return NULL;
    }
    return wdts_xstrdup(json_string_value(v));
}

static int64_t rd_int(struct reader *rd, const json_t *o, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return dflt;
    if (!json_is_integer(v)) {
        rfail(rd, key, "an integer");
        return dflt;
    }
    return (int64_t)json_integer_value(v);
}

static void rknown(struct reader *rd, const json_t *o, const char *where,
                   const char *const *known)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (wdts_word_index(known, SIZE_MAX, k) < 0 && !rd->failed) {
            snprintf(rd->errstr, rd->errstr_size, "connection JSON: unknown member %s%s", where, k);
            rd->failed = 1;
        }
    }
}

static void read_state(struct reader *rd, const json_t *o, struct wdts_conn *conn)
{
    static const char *const st_known[] = {"state", "message", "since", "checked_at", NULL};
    static const char *const rs_known[] = {"state", "reason", "fix", "since", "history_blocked",
                                           NULL};
    static const char *const hb_known[] = {"reason", "fix", "since", NULL};
    json_t *st = json_object_get(o, "state");
    if (st != NULL) {
        if (!json_is_object(st)) {
            rfail(rd, "state", "an object");
            return;
        }
        rknown(rd, st, "state.", st_known);
        char *s = rd_str(rd, st, "state", 1);
        if (s && strcmp(s, "auth_failed") == 0)
            conn->auth_failed = 1;
        else if (s && strcmp(s, "ok") != 0)
            rfail(rd, "state.state", "ok or auth_failed");
        free(s);
        conn->auth_message = rd_str(rd, st, "message", 0);
        conn->auth_since = rd_int(rd, st, "since", 0);
        conn->checked_at = rd_int(rd, st, "checked_at", 0);
    }
    json_t *rs = json_object_get(o, "report_state");
    if (rs == NULL)
        return;
    if (!json_is_object(rs)) {
        rfail(rd, "report_state", "an object");
        return;
    }
    const char *name;
    json_t *one;
    json_object_foreach(rs, name, one)
    {
        struct wdts_conn_report *r = wdts_conn_report_get(conn, name);
        if (r == NULL || !json_is_object(one)) {
            rfail(rd, "report_state", "an object of enabled reports");
            return;
        }
        rknown(rd, one, "report_state.", rs_known);
        char *s = rd_str(rd, one, "state", 1);
        r->blocked = s && strcmp(s, "blocked") == 0;
        if (s && !r->blocked && strcmp(s, "ok") != 0)
            rfail(rd, "report_state.state", "ok or blocked");
        free(s);
        r->reason = rd_str(rd, one, "reason", 0);
        r->fix = rd_str(rd, one, "fix", 0);
        r->since = rd_int(rd, one, "since", 0);
        json_t *hb = json_object_get(one, "history_blocked");
        if (hb != NULL) {
            if (!json_is_object(hb)) {
                rfail(rd, "report_state.history_blocked", "an object");
                return;
            }
            rknown(rd, hb, "report_state.history_blocked.", hb_known);
            r->history_blocked = 1;
            r->history_reason = rd_str(rd, hb, "reason", 0);
            r->history_fix = rd_str(rd, hb, "fix", 0);
            r->history_since = rd_int(rd, hb, "since", 0);
        }
    }
}

/* "qimen": the connection's own Qimen app or the platform's (absent or null: none). */
static void read_qimen(struct reader *rd, const json_t *json, struct wdts_conn *conn)
{
    static const char *const q_known[] = {"platform", "app_key", "app_secret", NULL};
    json_t *q = json_object_get(json, "qimen");
    if (q == NULL || json_is_null(q))
        return;
    if (!json_is_object(q)) {
        rfail(rd, "qimen", "an object");
        return;
    }
    rknown(rd, q, "qimen.", q_known);
    json_t *p = json_object_get(q, "platform");
    if (p && !json_is_boolean(p))
        rfail(rd, "qimen.platform", "true or false");
    conn->qimen_platform = json_is_true(p);
    conn->qimen_app_key = rd_str(rd, q, "app_key", 0);
    conn->qimen_app_secret_sealed = rd_str(rd, q, "app_secret", 0);
}

/* "reports": the enabled report names. */
static void read_reports(struct reader *rd, const json_t *json, struct wdts_conn *conn)
{
    json_t *reports = json_object_get(json, "reports");
    size_t i;
    json_t *v;
    if (!json_is_array(reports)) {
        rfail(rd, "reports", "an array of report names");
        return;
    }
    json_array_foreach(reports, i, v)
    {
        if (!json_is_string(v)) {
            rfail(rd, "reports", "an array of report names");
            return;
        }
        wdts_conn_add_report(conn, json_string_value(v));
    }
}

/* "lookback": report name -> seconds, for enabled reports only (optional). */
static void read_lookback(struct reader *rd, const json_t *json, struct wdts_conn *conn)
{
    json_t *lookback = json_object_get(json, "lookback");
    const char *name;
    json_t *v;
    if (lookback == NULL)
        return;
    if (!json_is_object(lookback)) {
        rfail(rd, "lookback", "an object of report name -> seconds");
        return;
    }
    json_object_foreach(lookback, name, v)
    {
        struct wdts_conn_report *r = wdts_conn_report_get(conn, name);
        if (r == NULL || !json_is_integer(v)) {
            rfail(rd, "lookback", "seconds (an integer) per enabled report");
            return;
        }
        r->has_lookback = 1;
        r->lookback_s = (int64_t)json_integer_value(v);
    }
}

/* "rate": calls_per_s, burst, concurrency (optional; defaults). */
static void read_rate(struct reader *rd, const json_t *json, struct wdts_conn *conn)
{
    static const char *const r_known[] = {"calls_per_s", "burst", "concurrency", NULL};
    json_t *rate = json_object_get(json, "rate");
    if (rate == NULL)
        return;
    if (!json_is_object(rate)) {
        rfail(rd, "rate", "an object");
        return;
    }
    rknown(rd, rate, "rate.", r_known);
    json_t *cps = json_object_get(rate, "calls_per_s");
    if (cps && !json_is_number(cps))
        rfail(rd, "rate.calls_per_s", "a number");
    else if (cps)
        conn->rate = json_number_value(cps);
    conn->burst = (int)rd_int(rd, rate, "burst", WDTS_CONN_BURST_DEFAULT);
    conn->concurrency = (int)rd_int(rd, rate, "concurrency", WDTS_CONN_CONCURRENCY_DEFAULT);
}

wdts_err_t wdts_conn_from_json(const json_t *json, struct wdts_conn **out, char *errstr,
                               size_t errstr_size)
{
    static const char *const known[] = {
        "v",       "tenant",     "id",   "app",        "sid",        "appkey",
        "appsecret", "secret_key_id", "qimen", "gateway", "reports", "backfill_s",
        "rate",    "pii",        "created_at", "updated_at", "state", "report_state",
        "lookback", "archive_horizon_s", "archive_read", NULL};
    struct reader rd = {errstr, errstr_size, 0};
    struct wdts_conn *conn = NULL;
    *out = NULL;
    if (!json_is_object(json)) {
        snprintf(errstr, errstr_size, "connection JSON: not an object");
        return WDTS_ERR_JSON;
    }
    rknown(&rd, json, "", known);
    long long version = rd_int(&rd, json, "v", -1);
    if ((version < WDTS_CONN_VERSION_V1 || version > WDTS_CONN_VERSION) && !rd.failed)
        rfail(&rd, "v", "1 or 2 (a newer wdtsync wrote it: upgrade)");
    conn = wdts_conn_new();
    conn->version = (int)version;
    conn->tenant = rd_str(&rd, json, "tenant", 1);
    conn->id = rd_str(&rd, json, "id", 1);
    char *app = rd_str(&rd, json, "app", 1);
    if (app && wdts_api_app_parse(app, &conn->app) != WDTS_OK)
        rfail(&rd, "app", "wdt or qimen");
    free(app);
    conn->sid = rd_str(&rd, json, "sid", 1);
    conn->appkey = rd_str(&rd, json, "appkey", 1);
    conn->appsecret_sealed = rd_str(&rd, json, "appsecret", 0);
    read_qimen(&rd, json, conn);
    conn->gateway = rd_str(&rd, json, "gateway", 1);
    read_reports(&rd, json, conn);
    conn->backfill_s = rd_int(&rd, json, "backfill_s", WDTS_CONN_BACKFILL_DEFAULT_S);
    read_lookback(&rd, json, conn);
    read_rate(&rd, json, conn);
    char *pii = rd_str(&rd, json, "pii", 0);
    if (pii && wdts_conn_pii_parse(pii, &conn->pii) != WDTS_OK)
        rfail(&rd, "pii", "keep, hash or drop");
    free(pii);
    conn->archive_horizon_s =
        rd_int(&rd, json, "archive_horizon_s", WDTS_CONN_ARCHIVE_HORIZON_DEFAULT_S);
    char *ar = rd_str(&rd, json, "archive_read", 0);
    if (ar && wdts_conn_archive_read_parse(ar, &conn->archive_read) != WDTS_OK)
        rfail(&rd, "archive_read", "all, old or off");
    free(ar);
    conn->created_at = rd_int(&rd, json, "created_at", 0);
    conn->updated_at = rd_int(&rd, json, "updated_at", 0);
    if (!rd.failed)
        read_state(&rd, json, conn);
    if (rd.failed) {
        wdts_conn_destroy(conn);
        return WDTS_ERR_JSON;
    }
    *out = conn;
    return WDTS_OK;
}
