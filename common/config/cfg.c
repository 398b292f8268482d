/* Configuration (see cfg.h): the settings table, the layered loader (defaults, file,
 * environment, overrides), librdkafka pass-through, and the generated help and
 * deploy/CONFIG.md. Values are checked for form only; nothing here opens a connection.
 * Problems are collected in a buffer rather than logged: the program decides (exit 78). */
#include "wdts/cfg.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>

#include "wdts/catalog.h"
#include "wdts/crypto.h"
#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/secret.h"
#include "wdts/str.h"

enum cfg_type { WDTS_CFG_STR, WDTS_CFG_INT, WDTS_CFG_BOOL, WDTS_CFG_DURATION, WDTS_CFG_ENUM };

#define WDTS_CFG_REQUIRED 0x1u /* every program needs it */
#define WDTS_CFG_SECRET 0x2u   /* redacted in the dump, never in errors, <ENV>_FILE allowed */

#define SECOND_MS 1000LL
#define MINUTE_MS (60 * SECOND_MS)
#define HOUR_MS (60 * MINUTE_MS)
#define DAY_MS (24 * HOUR_MS)

/* Largest secret or config file read; anything bigger is a mistake (a wrong path). */
#define CFG_FILE_MAX (1024 * 1024)

/**
 * One setting. `def` is text parsed exactly like user input, so a default can never
 * disagree with what the parser accepts (load asserts it). `check` validates the form of
 * a string value and writes why it is wrong (without the value: it may be a secret).
 */
struct cfg_def {
    const char *key;
    const char *env;
    enum cfg_type type;
    const char *def;
    size_t off;
    int (*check)(const char *val, char *why, size_t why_size);
    unsigned flags;
    const char *desc;
    long long min, max;       /* int: bounds; duration: bounds in ms */
    const char *const *words; /* enum: allowed words, NULL-terminated */
};

static int check_nonempty(const char *val, char *why, size_t why_size);
static int check_host_port(const char *val, char *why, size_t why_size);
static int check_redis_url(const char *val, char *why, size_t why_size);
static int check_topic(const char *val, char *why, size_t why_size);
static int check_components(const char *val, char *why, size_t why_size);
static int check_key32(const char *val, char *why, size_t why_size);
static int check_hash_key(const char *val, char *why, size_t why_size);

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const log_formats[] = {"json", "text", NULL};
static const char *const http_connections[] = {"reuse", "close", NULL};

#define OFF(field) offsetof(struct wdts_cfg, field)

/* The settings. Keep the env name = "WDT_" + key upper-cased with '.' → '_' (a unit test
 * checks it). Rows: key, env, type, default, offset, check, flags, then the description
 * and the type's bounds or words. */
static const struct cfg_def cfg_defs[] = {
    {"log.level", "WDT_LOG_LEVEL", WDTS_CFG_ENUM, "info", OFF(log_level), NULL, 0,
     .desc = "Lowest level logged.", .words = log_levels},
    {"log.format", "WDT_LOG_FORMAT", WDTS_CFG_ENUM, "json", OFF(log_format), NULL, 0,
     .desc = "Log line format on stdout: JSON lines (for collectors) or text (for a terminal).",
     .words = log_formats},
    {"log.debug", "WDT_LOG_DEBUG", WDTS_CFG_STR, "", OFF(log_debug), check_components, 0,
     .desc = "Components logged at debug level whatever log.level says, comma-separated "
             "(kafka, redis, http, sched, wrk), or all."},

    {"redis.url", "WDT_REDIS_URL", WDTS_CFG_STR, "redis://127.0.0.1:6379/0", OFF(redis_url),
     check_redis_url, 0,
     .desc = "Redis server: redis://[[user]:password@]host[:port][/db] (port 6379 and db 0 "
             "when left out, an IPv6 host in brackets; user and password are percent-decoded: "
             "write '%' as %25). This build has no TLS (hiredis 0.14): rediss:// is refused, as "
             "are unix:// sockets and options after '?'; use a TLS tunnel or a trusted "
             "network. Put the password in redis.password rather than here (it replaces the "
             "URL's); an ACL user is then redis://user:@host."},
    {"redis.password", "WDT_REDIS_PASSWORD", WDTS_CFG_STR, NULL, OFF(redis_password), NULL,
     WDTS_CFG_SECRET, .desc = "Redis AUTH password. Unset: no AUTH."},
    {"redis.timeout", "WDT_REDIS_TIMEOUT", WDTS_CFG_DURATION, "2s", OFF(redis_timeout_ms), NULL,
     0,
     .desc = "Connect and command timeout for Redis. The worker's event loop breaks a "
             "connection that leaves commands without any reply this long (a stopped or "
             "unreachable server), fails them (they are retried) and reconnects.",
     .min = 1, .max = 10 * MINUTE_MS},
    {"redis.prefix", "WDT_REDIS_PREFIX", WDTS_CFG_STR, "wdt:", OFF(redis_prefix), check_nonempty,
     0, .desc = "Prefix of every Redis key, so several deployments can share one Redis."},

    {"topic.jobs", "WDT_TOPIC_JOBS", WDTS_CFG_STR, "wdt.jobs", OFF(topic_jobs), check_topic, 0,
     .desc = "Kafka topic of jobs (scheduler → workers)."},
    {"topic.records", "WDT_TOPIC_RECORDS", WDTS_CFG_STR, "wdt.records", OFF(topic_records),
     check_topic, 0, .desc = "Kafka topic of record envelopes and window markers."},
    {"topic.dlq", "WDT_TOPIC_DLQ", WDTS_CFG_STR, "wdt.dlq", OFF(topic_dlq), check_topic, 0,
     .desc = "Kafka topic of dead-lettered jobs."},

    {"http.listen", "WDT_HTTP_LISTEN", WDTS_CFG_STR, "0.0.0.0:9090", OFF(http_listen),
     check_host_port, 0,
     .desc = "host:port serving /metrics, /healthz and /readyz ([::]:9090 for IPv6; port 0 "
             "picks a free port). In Kubernetes prefer the pod IP (`WDT_HTTP_LISTEN=$(POD_IP):9090`"
             " from the downward API) over 0.0.0.0. Slow clients cannot starve the probes: a "
             "request's headers must arrive within 3 s, at most 512 connections (32 per "
             "address) are open."},

    {"secret.key", "WDT_SECRET_KEY", WDTS_CFG_STR, NULL, OFF(secret_key), check_key32,
     WDTS_CFG_SECRET,
     .desc = "AES-256-GCM key that encrypts connection secrets in Redis: 32 bytes as 64 hex "
             "characters or base64 (make one with `openssl rand -hex 32`). Required by the "
             "programs that read connection secrets. Each secret is bound to its connection's tenant, "
             "id, app, sid, appkey and gateway; `wdtctl connection check` rewrites connections "
             "stored in the older form (v1)."},
    {"qimen.app.key", "WDT_QIMEN_APP_KEY", WDTS_CFG_STR, NULL, OFF(qimen_app_key), NULL,
     WDTS_CFG_SECRET,
     .desc = "The operator's own Qimen app_key, used by qimen connections that are "
             "\"platform-provided\"."},
    {"qimen.app.secret", "WDT_QIMEN_APP_SECRET", WDTS_CFG_STR, NULL, OFF(qimen_app_secret), NULL,
     WDTS_CFG_SECRET, .desc = "The operator's own Qimen app_secret (see qimen.app.key)."},

    {"scheduler.backfill", "WDT_SCHEDULER_BACKFILL", WDTS_CFG_DURATION, "90d",
     OFF(scheduler_backfill_ms), NULL, 0,
     .desc = "How far back the first sync of a new connection starts.", .min = 0,
     .max = 3650 * DAY_MS},
    {"scheduler.lag", "WDT_SCHEDULER_LAG", WDTS_CFG_DURATION, "5m", OFF(scheduler_lag_ms), NULL, 0,
     .desc = "Only windows ending at least this long ago are fetched (clock skew, late "
             "commits on the WDT side).",
     .min = 0, .max = DAY_MS},
    {"scheduler.lookback", "WDT_SCHEDULER_LOOKBACK", WDTS_CFG_DURATION, "0s",
     OFF(scheduler_lookback_ms), NULL, 0,
     .desc = "Re-plan this much before the plan cursor on every pass, for late data. 0s: off.",
     .min = 0, .max = 30 * DAY_MS},
    {"scheduler.lookback.interval", "WDT_SCHEDULER_LOOKBACK_INTERVAL", WDTS_CFG_DURATION, "6h",
     OFF(scheduler_lookback_interval_ms), NULL, 0,
     .desc = "How often the windows of the last `lookback_s` behind the watermark are read "
             "again, for each report whose catalog entry sets `lookback_s` (a report whose "
             "time basis is not its change time, so a later change is not seen by its window; "
             "docs/CONSUMERS.md). 0s: never.",
     .min = 0, .max = 30 * DAY_MS},
    {"scheduler.interval", "WDT_SCHEDULER_INTERVAL", WDTS_CFG_DURATION, "30s",
     OFF(scheduler_interval_ms), NULL, 0, .desc = "Time between planning passes.", .min = SECOND_MS,
     .max = DAY_MS},
    {"scheduler.max.outstanding", "WDT_SCHEDULER_MAX_OUTSTANDING", WDTS_CFG_INT, "64",
     OFF(scheduler_max_outstanding), NULL, 0,
     .desc = "Most windows emitted but not completed per (connection, report): backpressure.",
     .min = 1, .max = 100000},
    {"scheduler.lease.ttl", "WDT_SCHEDULER_LEASE_TTL", WDTS_CFG_DURATION, "15s",
     OFF(scheduler_lease_ttl_ms), NULL, 0,
     .desc = "Lifetime of the Redis lease that lets one scheduler replica plan; renewed well "
             "before it expires.",
     .min = SECOND_MS, .max = HOUR_MS},
    {"scheduler.job.lease", "WDT_SCHEDULER_JOB_LEASE", WDTS_CFG_DURATION, "15m",
     OFF(scheduler_job_lease_ms), NULL, 0,
     .desc = "A window emitted this long ago and not completed yet is emitted again (attempt "
             "+ 1): its job was lost or its worker died.",
     .min = MINUTE_MS, .max = 7 * DAY_MS},

    {"worker.max.inflight", "WDT_WORKER_MAX_INFLIGHT", WDTS_CFG_INT, "256",
     OFF(worker_max_inflight), NULL, 0, .desc = "Most jobs one worker process runs at once.",
     .min = 1, .max = 100000},
    {"worker.max.records.per.job", "WDT_WORKER_MAX_RECORDS_PER_JOB", WDTS_CFG_INT, "20000",
     OFF(worker_max_records_per_job), NULL, 0,
     .desc = "A window whose total_count exceeds this is split in halves instead of paged.",
     .min = 1, .max = 100000000},
    {"worker.max.answer.bytes", "WDT_WORKER_MAX_ANSWER_BYTES", WDTS_CFG_INT, "16777216",
     OFF(worker_max_answer_bytes), NULL, 0,
     .desc = "Largest answer the worker reads (bytes, 16 MiB by default); a larger one is cut "
             "and dead-lettered as bad_request (answer_too_large). Keep it well under the "
             "pod's memory limit.",
     .min = 65536, .max = 1 << 30},
    {"worker.max.starts", "WDT_WORKER_MAX_STARTS", WDTS_CFG_INT, "5",
     OFF(worker_max_starts), NULL, 0,
     .desc = "A job begun this many times without finishing (its workers died or restarted "
             "while they held it, e.g. on an answer that crashes them) is dead-lettered as "
             "poison on its next start. Starts are counted in Redis for a day.",
     .min = 1, .max = 1000},
    {"worker.split.min.window", "WDT_WORKER_SPLIT_MIN_WINDOW", WDTS_CFG_DURATION, "60s",
     OFF(worker_split_min_window_ms), NULL, 0,
     .desc = "A window is never split into halves shorter than this; one that would be is "
             "dead-lettered with what the gateway answered.",
     .min = 2 * SECOND_MS, .max = DAY_MS},
    {"worker.split.max.depth", "WDT_WORKER_SPLIT_MAX_DEPTH", WDTS_CFG_INT, "8",
     OFF(worker_split_max_depth), NULL, 0,
     .desc = "Most times a planned window is halved (2^depth windows at most); a half whose "
             "total_count is not below its parent's is not split again either.",
     .min = 1, .max = 30},
    {"worker.http.timeout", "WDT_WORKER_HTTP_TIMEOUT", WDTS_CFG_DURATION, "30s",
     OFF(worker_http_timeout_ms), NULL, 0, .desc = "Timeout of one API call, connect included.",
     .min = SECOND_MS, .max = 10 * MINUTE_MS},
    {"worker.http.connections", "WDT_WORKER_HTTP_CONNECTIONS", WDTS_CFG_ENUM, "reuse",
     OFF(worker_http_connections), NULL, 0,
     .desc = "reuse: keep-alive connections to a gateway serve the calls of every seller of "
             "the worker. close: every call sends Connection: close on a connection of its "
             "own, as the official SDK's multi-seller mode does (its advice for one process "
             "calling several sids; whether the gateway needs it is not known).",
     .words = http_connections},
    {"worker.max.attempts", "WDT_WORKER_MAX_ATTEMPTS", WDTS_CFG_INT, "8",
     OFF(worker_max_attempts), NULL, 0,
     .desc = "Attempts at a job with retriable errors before it is dead-lettered.", .min = 1,
     .max = 1000},
    {"worker.shutdown.timeout", "WDT_WORKER_SHUTDOWN_TIMEOUT", WDTS_CFG_DURATION, "25s",
     OFF(worker_shutdown_timeout_ms), NULL, 0,
     .desc = "On SIGTERM, how long in-flight jobs may finish before they are abandoned "
             "(uncommitted). Keep it below terminationGracePeriodSeconds.",
     .min = SECOND_MS, .max = HOUR_MS},

    {"worker.lock.ttl", "WDT_WORKER_LOCK_TTL", WDTS_CFG_DURATION, "60s", OFF(worker_lock_ttl_ms),
     NULL, 0,
     .desc = "Lifetime of a window lock; renewed every third of it while the job pages. A "
             "worker that dies holds its windows this long at most.",
     .min = 2 * SECOND_MS, .max = HOUR_MS},
    {"worker.cooldown.base", "WDT_WORKER_COOLDOWN_BASE", WDTS_CFG_DURATION, "30s",
     OFF(worker_cooldown_base_ms), NULL, 0,
     .desc = "First cooldown of a seller app after a rate-limit answer; it doubles with each "
             "further one up to worker.cooldown.max.",
     .min = 100, .max = HOUR_MS},
    {"worker.cooldown.max", "WDT_WORKER_COOLDOWN_MAX", WDTS_CFG_DURATION, "10m",
     OFF(worker_cooldown_max_ms), NULL, 0,
     .desc = "Longest cooldown after rate-limit answers (WDT advises 5-10 minutes).",
     .min = 100, .max = DAY_MS},

    {"sink.db", "WDT_SINK_DB", WDTS_CFG_STR, NULL, OFF(sink_db), NULL, 0,
     .desc = "wdt-sink-sqlite: the SQLite file it writes (created when absent); `--db` sets it "
             "too."},
    {"sink.group", "WDT_SINK_GROUP", WDTS_CFG_STR, "wdt-sink-sqlite", OFF(sink_group),
     check_nonempty, 0,
     .desc = "wdt-sink-sqlite: its consumer group, its own so it sees every record (it wins "
             "over kafka.group.id)."},
    {"sink.batch.max", "WDT_SINK_BATCH_MAX", WDTS_CFG_INT, "2000", OFF(sink_batch_max), NULL, 0,
     .desc = "wdt-sink-sqlite: most messages applied in one SQLite transaction (offsets are "
             "committed after each).",
     .min = 1, .max = 1000000},
    {"sink.batch.time", "WDT_SINK_BATCH_TIME", WDTS_CFG_DURATION, "500ms",
     OFF(sink_batch_time_ms), NULL, 0,
     .desc = "wdt-sink-sqlite: longest a transaction stays open before it is committed.",
     .min = 1, .max = MINUTE_MS},

    {"catalog.path", "WDT_CATALOG_PATH", WDTS_CFG_STR, NULL, OFF(catalog_path), check_nonempty,
     0,
     .desc = "A report catalog (JSON, the form of common/model/catalog/reports.json) used instead "
             "of the one built in; every program of a deployment must use the same file. It "
             "is loaded and checked with the configuration (every problem listed). Unset: the "
             "built-in catalog."},

    {"pii.hash.key", "WDT_PII_HASH_KEY", WDTS_CFG_STR, NULL, OFF(pii_hash_key), check_hash_key,
     WDTS_CFG_SECRET,
     .desc = "HMAC-SHA256 key of the `hash` pii policy (at least 16 characters; make one "
             "with `openssl rand -hex 32`). Changing it changes every hashed value."},
};

#define CFG_NDEFS (sizeof(cfg_defs) / sizeof(cfg_defs[0]))

/* ------------------------------------------------------------------------------------ */
/* Value parsers and checks                                                              */

wdts_err_t wdts_cfg_parse_duration(const char *s, int64_t *ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", SECOND_MS}, {"m", MINUTE_MS}, {"h", HOUR_MS}, {"d", DAY_MS}};

    if (s == NULL || *s == '\0')
        return WDTS_ERR_INVAL;
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return WDTS_OK;
    }
    int64_t total = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return WDTS_ERR_INVAL;
        int64_t n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n > (INT64_MAX - 9) / 10)
                return WDTS_ERR_INVAL;
            n = n * 10 + (*p++ - '0');
        }
        size_t ulen = 0;
        while (isalpha((unsigned char)p[ulen]))
            ulen++;
        int64_t mult = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strlen(units[i].unit) == ulen && strncmp(p, units[i].unit, ulen) == 0)
                mult = units[i].ms;
        if (mult == 0)
            return WDTS_ERR_INVAL;
        if (n > (INT64_MAX - total) / mult)
            return WDTS_ERR_INVAL;
        total += n * mult;
        p += ulen;
    }
    *ms = total;
    return WDTS_OK;
}

/* The largest unit that divides ms exactly: the inverse of the parser. */
static void format_duration(int64_t ms, char *out, size_t out_size)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", DAY_MS}, {"h", HOUR_MS}, {"m", MINUTE_MS}, {"s", SECOND_MS}};
    if (ms == 0) {
        snprintf(out, out_size, "0s");
        return;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms % units[i].ms == 0) {
            snprintf(out, out_size, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    }
    snprintf(out, out_size, "%lldms", (long long)ms);
}

wdts_err_t wdts_cfg_parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    if (s == NULL)
        return WDTS_ERR_INVAL;
    if (wdts_word_index_nocase(yes, 4, s) >= 0) {
        *out = 1;
        return WDTS_OK;
    }
    if (wdts_word_index_nocase(no, 4, s) >= 0) {
        *out = 0;
        return WDTS_OK;
    }
    return WDTS_ERR_INVAL;
}

static int check_nonempty(const char *val, char *why, size_t why_size)
{
    if (*val)
        return 0;
    snprintf(why, why_size, "must not be empty");
    return -1;
}

static int check_host_port(const char *val, char *why, size_t why_size)
{
    const char *colon;
    size_t hostlen;
    if (val[0] == '[') {
        const char *close = strchr(val, ']');
        if (close == NULL || close[1] != ':' || close == val + 1)
            goto bad;
        colon = close + 1;
        hostlen = (size_t)(close - val - 1);
        for (const char *p = val + 1; p < close; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                goto bad;
    } else {
        colon = strrchr(val, ':');
        if (colon == NULL)
            goto bad;
        hostlen = (size_t)(colon - val);
        for (const char *p = val; p < colon; p++)
            if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
                goto bad;
    }
    long long port;
    if (hostlen == 0 || wdts_parse_int(colon + 1, 0, 65535, &port) != WDTS_OK ||
        !isdigit((unsigned char)colon[1]))
        goto bad;
    return 0;
bad:
    snprintf(why, why_size, "is not host:port; use e.g. 0.0.0.0:9090, 127.0.0.1:9090 or [::]:9090");
    return -1;
}

/* The Redis layer's own parser decides, so what the configuration accepts is exactly what
 * the programs can connect with. */
static int check_redis_url(const char *val, char *why, size_t why_size)
{
    struct wdts_redis_params params;
    char es[256];
    wdts_redis_params_init(&params);
    wdts_err_t err = wdts_redis_params_from_url(&params, val, es, sizeof(es));
    wdts_crypto_wipe(&params, sizeof(params)); /* it may hold the URL's password */
    if (err == WDTS_OK)
        return 0;
    /* "Redis URL: the port …", "Redis URL has no host …": say it once */
    const char *detail = es;
    if (wdts_str_has_prefix(detail, "Redis URL"))
        detail += strlen("Redis URL");
    if (*detail == ':')
        detail++;
    while (*detail == ' ')
        detail++;
    snprintf(why, why_size, "is not a usable Redis URL: %s", detail);
    return -1;
}

static int check_topic(const char *val, char *why, size_t why_size)
{
    size_t len = strlen(val);
    int ok = len > 0 && len <= 249 && strcmp(val, ".") != 0 && strcmp(val, "..") != 0;
    for (const char *p = val; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-';
    if (ok)
        return 0;
    snprintf(why, why_size,
             "is not a Kafka topic name; use 1 to 249 characters from a-z A-Z 0-9 . _ -");
    return -1;
}

static int check_components(const char *val, char *why, size_t why_size)
{
    /* Lenient on purpose: components are added by later modules, so only the shape is
     * checked ("kafka,redis"), not the names. */
    const char *p = val;
    if (*p == '\0')
        return 0;
    for (;;) {
        size_t n = 0;
        while (islower((unsigned char)p[n]) || isdigit((unsigned char)p[n]) || p[n] == '_')
            n++;
        if (n == 0)
            break;
        p += n;
        if (*p == '\0')
            return 0;
        if (*p != ',')
            break;
        p++;
    }
    snprintf(why, why_size,
             "is not a comma-separated list of components; use e.g. kafka,redis or all");
    return -1;
}

static int check_key32(const char *val, char *why, size_t why_size)
{
    unsigned char key[WDTS_CRYPTO_KEY_LEN];
    char es[256];
    int ok = wdts_crypto_key_parse(val, key, es, sizeof(es)) == WDTS_OK;
    wdts_crypto_wipe(key, sizeof(key));
    if (ok)
        return 0;
    snprintf(why, why_size, "is not a usable key (%s)", es);
    return -1;
}

static int check_hash_key(const char *val, char *why, size_t why_size)
{
    if (strlen(val) >= 16)
        return 0;
    snprintf(why, why_size,
             "is too short; use at least 16 characters (make one with `openssl rand -hex 32`)");
    return -1;
}

/* ------------------------------------------------------------------------------------ */
/* Loader                                                                                */

struct cfg_load {
    struct wdts_cfg *cfg;
    struct wdts_buf *errors;
    int nerr;
    char *const *envp;
    int file_line[CFG_NDEFS]; /* line in the config file that set a row, 0 if none */
    int row_err[CFG_NDEFS];   /* a value given for the row was rejected */
    int *kafka_file_line;     /* the same for kafka entries (parallel to cfg->kafka) */
};

static void load_error(struct cfg_load *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void load_error(struct cfg_load *ld, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    ld->nerr++;
    if (ld->errors) {
        wdts_buf_append_str(ld->errors, line);
        wdts_buf_append_str(ld->errors, "\n");
    }
}

static const struct cfg_def *def_by_key(const char *key)
{
    for (size_t i = 0; i < CFG_NDEFS; i++)
        if (strcmp(cfg_defs[i].key, key) == 0)
            return &cfg_defs[i];
    return NULL;
}

static const struct cfg_def *def_by_env(const char *name, size_t len)
{
    for (size_t i = 0; i < CFG_NDEFS; i++)
        if (strlen(cfg_defs[i].env) == len && strncmp(cfg_defs[i].env, name, len) == 0)
            return &cfg_defs[i];
    return NULL;
}

/* The value of env var name in envp, or NULL. */
static const char *env_get(char *const *envp, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
            return envp[i] + len + 1;
    return NULL;
}

/* Edit distance, for "did you mean" hints on misspelt keys. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            size_t best = diag + !same;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Writes a " (did you mean X?)" hint for an unknown key or variable name, or "". */
static void suggest(const char *name, int by_env, char *out, size_t out_size)
{
    size_t best = 4; /* farther than 3 edits is no longer a typo */
    const char *hit = NULL;
    for (size_t i = 0; i < CFG_NDEFS; i++) {
        const char *cand = by_env ? cfg_defs[i].env : cfg_defs[i].key;
        size_t d = edit_distance(name, cand);
        /* WDT_DEBUG → WDT_LOG_DEBUG: a known name that ends the same way also helps. */
        size_t nl = strlen(name), cl = strlen(cand);
        if (d >= best && by_env && nl > 4 && cl > nl - 4 &&
            strcmp(cand + cl - (nl - 4), name + 4) == 0 && cand[cl - (nl - 4) - 1] == '_')
            d = best - 1;
        if (d < best) {
            best = d;
            hit = cand;
        }
    }
    if (hit)
        snprintf(out, out_size, " (did you mean %s?)", hit);
    else
        out[0] = '\0';
}

static void *field(struct wdts_cfg *cfg, const struct cfg_def *def)
{
    return (char *)cfg + def->off;
}

static void set_source(struct wdts_cfg *cfg, const struct cfg_def *def, const char *src)
{
    size_t i = (size_t)(def - cfg_defs);
    free(cfg->src[i]);
    cfg->src[i] = wdts_xstrdup(src);
}

static void describe_words(const char *const *words, const char *sep, struct wdts_buf *out)
{
    for (size_t i = 0; words[i]; i++) {
        if (i)
            wdts_buf_append_str(out, sep);
        wdts_buf_append_str(out, words[i]);
    }
}

/* Appends a string value with any password in a URL's user-info replaced. */
static void append_url_redacted(struct wdts_buf *out, const char *val)
{
    const char *scheme = strstr(val, "://");
    if (scheme) {
        const char *auth = scheme + 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = memchr(auth, '@', alen);
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) {
            wdts_buf_append(out, val, (size_t)(colon + 1 - val));
            wdts_buf_append_str(out, "<redacted>");
            wdts_buf_append_str(out, at);
            return;
        }
    }
    wdts_buf_append_str(out, val);
}

/*
 * Parses val for def and stores it. src names where val came from ("WDT_LOG_LEVEL",
 * "/etc/wdt.conf:3", …) and starts every error message. Values of SECRET settings are
 * never repeated in messages.
 */
/* The parsers of parse_value(), one per type: each stores val into cfg or reports why not
 * (shown is how the value may be printed). @returns 0 when stored, -1 after load_error(). */
static int parse_str(struct cfg_load *ld, const struct cfg_def *def, const char *val,
                     const char *src, const char *shown)
{
    char why[256];
    char **p = field(ld->cfg, def);
    if (*val == '\0' && def->def == NULL) {
        /* optional setting given as "": unset, as if never given (k8s empty values) */
        free(*p);
        *p = NULL;
        return 0;
    }
    if (def->check && def->check(val, why, sizeof(why)) != 0) {
        load_error(ld, "%s: %s %s (%s)", src, shown, why, def->key);
        return -1;
    }
    free(*p);
    *p = wdts_xstrdup(val);
    return 0;
}

static int parse_int_value(struct cfg_load *ld, const struct cfg_def *def, const char *val,
                           const char *src, const char *shown)
{
    long long v;
    /* strtoll would also take leading blanks and '+': keep the form strict */
    const char *digits = val[0] == '-' ? val + 1 : val;
    int digit0 = isdigit((unsigned char)digits[0]);
    if (!digit0 || wdts_parse_int(val, LLONG_MIN, LLONG_MAX, &v) != WDTS_OK) {
        load_error(ld, "%s: %s is not an integer; use an integer from %lld to %lld (%s)", src,
                   shown, def->min, def->max, def->key);
        return -1;
    }
    if (v < def->min || v > def->max) {
        load_error(ld, "%s: %s is out of range; use an integer from %lld to %lld (%s)", src,
                   shown, def->min, def->max, def->key);
        return -1;
    }
    *(int *)field(ld->cfg, def) = (int)v;
    return 0;
}

static int parse_bool_value(struct cfg_load *ld, const struct cfg_def *def, const char *val,
                            const char *src, const char *shown)
{
    int v;
    if (wdts_cfg_parse_bool(val, &v) != WDTS_OK) {
        load_error(ld, "%s: %s is not a boolean; use true or false (%s)", src, shown, def->key);
        return -1;
    }
    *(int *)field(ld->cfg, def) = v;
    return 0;
}

static int parse_duration_value(struct cfg_load *ld, const struct cfg_def *def, const char *val,
                                const char *src, const char *shown)
{
    int64_t v;
    if (wdts_cfg_parse_duration(val, &v) != WDTS_OK) {
        load_error(ld,
                   "%s: %s is not a duration; use a number with a unit ms, s, m, h or d, "
                   "e.g. 250ms, 30s, 5m, 2h, 90d (%s)",
                   src, shown, def->key);
        return -1;
    }
    if (v < def->min || v > def->max) {
        char lo[32], hi[32];
        format_duration(def->min, lo, sizeof(lo));
        format_duration(def->max, hi, sizeof(hi));
        load_error(ld, "%s: %s is out of range; use a duration from %s to %s (%s)", src, shown,
                   lo, hi, def->key);
        return -1;
    }
    *(int64_t *)field(ld->cfg, def) = v;
    return 0;
}

static int parse_enum_value(struct cfg_load *ld, const struct cfg_def *def, const char *val,
                            const char *src, const char *shown)
{
    int i = wdts_word_index_nocase(def->words, SIZE_MAX, val);
    if (i >= 0) {
        *(int *)field(ld->cfg, def) = i;
        return 0;
    }
    struct wdts_buf words;
    wdts_buf_init(&words);
    describe_words(def->words, ", ", &words);
    load_error(ld, "%s: %s is not allowed; use one of %s (%s)", src, shown, wdts_buf_str(&words),
               def->key);
    wdts_buf_deinit(&words);
    return -1;
}

static void parse_value(struct cfg_load *ld, const struct cfg_def *def, const char *val,
                        const char *src)
{
    int secret = (def->flags & WDTS_CFG_SECRET) != 0;
    char shown[160];
    int rc = -1;
    if (secret) {
        snprintf(shown, sizeof(shown), "the value");
    } else {
        /* a URL may carry a password even in a setting that is not secret */
        struct wdts_buf tmp;
        wdts_buf_init(&tmp);
        append_url_redacted(&tmp, val);
        snprintf(shown, sizeof(shown), "\"%s\"", wdts_buf_str(&tmp));
        wdts_buf_deinit(&tmp);
    }
    switch (def->type) {
    case WDTS_CFG_STR: rc = parse_str(ld, def, val, src, shown); break;
    case WDTS_CFG_INT: rc = parse_int_value(ld, def, val, src, shown); break;
    case WDTS_CFG_BOOL: rc = parse_bool_value(ld, def, val, src, shown); break;
    case WDTS_CFG_DURATION: rc = parse_duration_value(ld, def, val, src, shown); break;
    case WDTS_CFG_ENUM: rc = parse_enum_value(ld, def, val, src, shown); break;
    }
    if (rc == 0)
        set_source(ld->cfg, def, src);
}

static void set_value(struct cfg_load *ld, const struct cfg_def *def, const char *val,
                      const char *src)
{
    int nerr = ld->nerr;
    parse_value(ld, def, val, src);
    if (ld->nerr > nerr)
        ld->row_err[def - cfg_defs] = 1; /* already reported: not "missing" as well */
}

/* librdkafka marks these sensitive; match them by name so the dump never shows them. */
static int kafka_prop_is_secret(const char *prop)
{
    return strstr(prop, "password") || strstr(prop, "secret") ||
           strstr(prop, "oauthbearer.config") || strstr(prop, "key.pem") ||
           strcmp(prop, "ssl_key") == 0;
}

static void kafka_set(struct cfg_load *ld, const char *prop, const char *val, const char *src,
                      int file_line)
{
    struct wdts_cfg *cfg = ld->cfg;
    if (*prop == '\0') {
        load_error(ld, "%s: no Kafka property named; use kafka.<property> (e.g. "
                       "kafka.bootstrap.servers) or WDT_KAFKA_<PROPERTY>",
                   src);
        return;
    }
    for (size_t i = 0; i < cfg->kafka_cnt; i++) {
        if (strcmp(cfg->kafka[i].key, prop) != 0)
            continue;
        if (file_line && ld->kafka_file_line[i]) {
            load_error(ld, "%s: kafka.%s is already set on line %d; keep one of them", src, prop,
                       ld->kafka_file_line[i]);
            return;
        }
        free((char *)cfg->kafka[i].val);
        free(cfg->kafka_src[i]);
        cfg->kafka[i].val = wdts_xstrdup(val);
        cfg->kafka_src[i] = wdts_xstrdup(src);
        if (file_line)
            ld->kafka_file_line[i] = file_line;
        return;
    }
    size_t n = cfg->kafka_cnt + 1;
    cfg->kafka = wdts_xrealloc(cfg->kafka, n * sizeof(*cfg->kafka));
    cfg->kafka_src = wdts_xrealloc(cfg->kafka_src, n * sizeof(*cfg->kafka_src));
    ld->kafka_file_line = wdts_xrealloc(ld->kafka_file_line, n * sizeof(*ld->kafka_file_line));
    cfg->kafka[n - 1].key = wdts_xstrdup(prop);
    cfg->kafka[n - 1].val = wdts_xstrdup(val);
    cfg->kafka_src[n - 1] = wdts_xstrdup(src);
    ld->kafka_file_line[n - 1] = file_line;
    cfg->kafka_cnt = n;
}

/* Sets a file key or an override key (same namespace). */
static void set_by_key(struct cfg_load *ld, const char *key, const char *val, const char *src,
                       int file_line)
{
    const struct cfg_def *def = def_by_key(key);
    if (def) {
        size_t i = (size_t)(def - cfg_defs);
        if (file_line && ld->file_line[i]) {
            load_error(ld, "%s: %s is already set on line %d; keep one of them", src, key,
                       ld->file_line[i]);
            return;
        }
        if (file_line)
            ld->file_line[i] = file_line;
        set_value(ld, def, val, src);
        return;
    }
    if (wdts_str_has_prefix(key, "kafka.")) {
        kafka_set(ld, key + 6, val, src, file_line);
        return;
    }
    char hint[128];
    suggest(key, 0, hint, sizeof(hint));
    load_error(ld, "%s: unknown key \"%s\"%s; fix or remove it (--help-config lists the settings)",
               src, key, hint);
}

/* Reads a whole small file. @returns new memory (free it) or NULL with errno-based why. */
static char *read_small_file(const char *path, char *why, size_t why_size)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    struct wdts_buf buf;
    wdts_buf_init(&buf);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        wdts_buf_append(&buf, chunk, n);
        if (buf.len > CFG_FILE_MAX)
            break;
    }
    explicit_bzero(chunk, sizeof(chunk)); /* it may have held a secret */
    int failed = ferror(fp);
    fclose(fp);
    if (failed) {
        snprintf(why, why_size, "cannot read %s: read error", path);
        wdts_buf_deinit(&buf);
        return NULL;
    }
    if (buf.len > CFG_FILE_MAX) {
        snprintf(why, why_size, "%s is larger than %d bytes; is it the right file?", path,
                 CFG_FILE_MAX);
        wdts_buf_deinit(&buf);
        return NULL;
    }
    if (memchr(wdts_buf_str(&buf), '\0', buf.len) != NULL) {
        snprintf(why, why_size, "%s contains a NUL byte; is it the right file?", path);
        wdts_buf_deinit(&buf);
        return NULL;
    }
    if (buf.data == NULL)
        wdts_buf_append(&buf, "", 0);
    return wdts_buf_steal(&buf);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static void load_file(struct cfg_load *ld, const char *path)
{
    char why[512];
    char *text = read_small_file(path, why, sizeof(why));
    if (text == NULL) {
        load_error(ld, "config file: %s; fix WDT_CONFIG_FILE or the mount", why);
        return;
    }
    int lineno = 0;
    char *line = text;
    while (line) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        char src[600];
        snprintf(src, sizeof(src), "%s:%d", path, lineno);
        char *s = trim(line);
        line = next;
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            load_error(ld, "%s: expected \"key = value\"; comment lines start with #", src);
            continue;
        }
        *eq = '\0';
        char *key = trim(s);
        char *val = trim(eq + 1);
        if (*key == '\0') {
            load_error(ld, "%s: no key before \"=\"; expected \"key = value\"", src);
            continue;
        }
        set_by_key(ld, key, val, src, lineno);
    }
    free(text);
}

/* Wipes and frees a secret read from a file (NULL is a no-op). */
static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* Reads a secret from the file named by env var name_file (value path). @returns new
 * memory or NULL after reporting the problem. */
static char *read_secret_file(struct cfg_load *ld, const char *name_file, const char *path)
{
    char why[512];
    if (*path == '\0') {
        load_error(ld, "%s: empty path; set it to the mounted secret file or unset it",
                   name_file);
        return NULL;
    }
    char *text = wdts_secret_read(path, CFG_FILE_MAX, WDTS_SECRET_MAY_BE_EMPTY, why, sizeof(why));
    if (text == NULL)
        load_error(ld, "%s: %s; mount the secret file or fix the path", name_file, why);
    return text;
}

/* "SASL_MECHANISMS" → "sasl.mechanisms", "LOG__LEVEL" → "log_level". */
static char *kafka_env_to_prop(const char *s, size_t len)
{
    struct wdts_buf buf;
    wdts_buf_init(&buf);
    for (size_t i = 0; i < len; i++) {
        char c;
        if (s[i] == '_' && i + 1 < len && s[i + 1] == '_') {
            c = '_';
            i++;
        } else if (s[i] == '_') {
            c = '.';
        } else {
            c = (char)tolower((unsigned char)s[i]);
        }
        wdts_buf_append(&buf, &c, 1);
    }
    if (buf.data == NULL)
        wdts_buf_append(&buf, "", 0);
    return wdts_buf_steal(&buf);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t len = strlen(s), sl = strlen(suffix);
    return len >= sl && strcmp(s + len - sl, suffix) == 0;
}

static void load_env_var(struct cfg_load *ld, const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (eq == NULL)
        return;
    size_t len = (size_t)(eq - entry);
    const char *val = eq + 1;
    char name[256];
    if (len >= sizeof(name)) {
        load_error(ld, "%.40s…: unknown WDT_* variable; unset it", entry);
        return;
    }
    memcpy(name, entry, len);
    name[len] = '\0';

    /* WDT_TEST_* and WDT_TESTS belong to the test harness (tests/run.sh). */
    if (strcmp(name, "WDT_CONFIG_FILE") == 0 || wdts_str_has_prefix(name, "WDT_TEST"))
        return;

    const struct cfg_def *def = def_by_env(name, len);
    if (def) {
        char name_file[300];
        snprintf(name_file, sizeof(name_file), "%s_FILE", name);
        if ((def->flags & WDTS_CFG_SECRET) && env_get(ld->envp, name_file))
            return; /* reported once, with the _FILE variable */
        set_value(ld, def, val, name);
        return;
    }
    if (has_suffix(name, "_FILE") && (def = def_by_env(name, len - 5)) != NULL) {
        if (!(def->flags & WDTS_CFG_SECRET)) {
            load_error(ld, "%s: %s is not a secret and cannot be read from a file; set %s "
                           "instead",
                       name, def->key, def->env);
            return;
        }
        char *secret = NULL;
        if (env_get(ld->envp, def->env))
            load_error(ld, "%s and %s are both set; set only one of them", def->env, name);
        else
            secret = read_secret_file(ld, name, val);
        if (secret)
            set_value(ld, def, secret, name);
        else
            ld->row_err[def - cfg_defs] = 1; /* reported: not "missing" as well */
        free_secret(secret);
        return;
    }
    if (wdts_str_has_prefix(name, "WDT_KAFKA_")) {
        const char *rest = name + 10;
        size_t rlen = len - 10;
        int from_file = has_suffix(rest, "_FILE");
        if (from_file)
            rlen -= 5;
        char *prop = kafka_env_to_prop(rest, rlen);
        if (!from_file) {
            char name_file[300];
            snprintf(name_file, sizeof(name_file), "%s_FILE", name);
            if (env_get(ld->envp, name_file) == NULL)
                kafka_set(ld, prop, val, name, 0);
        } else {
            char plain[256];
            snprintf(plain, sizeof(plain), "%.*s", (int)(len - 5), name);
            if (env_get(ld->envp, plain)) {
                load_error(ld, "%s and %s are both set; set only one of them", plain, name);
            } else {
                char *secret = read_secret_file(ld, name, val);
                if (secret)
                    kafka_set(ld, prop, secret, name, 0);
                free_secret(secret);
            }
        }
        free(prop);
        return;
    }
    char hint[128];
    suggest(name, 1, hint, sizeof(hint));
    load_error(ld, "%s: unknown WDT_* variable%s; unset it (--help-config lists the settings)",
               name, hint);
}

static void load_override(struct cfg_load *ld, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (eq == NULL || eq == kv) {
        load_error(ld, "command line: \"%s\" is not key=value (e.g. log.level=debug)", kv);
        return;
    }
    char *key = wdts_xstrndup(kv, (size_t)(eq - kv));
    char src[300];
    snprintf(src, sizeof(src), "command line (%s)", key);
    set_by_key(ld, key, eq + 1, src, 0);
    free(key);
}

static void check_required(struct cfg_load *ld, const char *const *require)
{
    for (size_t i = 0; i < CFG_NDEFS; i++) {
        const struct cfg_def *def = &cfg_defs[i];
        int needed = (def->flags & WDTS_CFG_REQUIRED) != 0;
        for (size_t j = 0; require && require[j]; j++)
            needed |= strcmp(require[j], def->key) == 0;
        if (!needed || def->type != WDTS_CFG_STR || ld->row_err[i])
            continue;
        const char *v = *(char **)field(ld->cfg, def);
        if (v && *v)
            continue;
        if (def->flags & WDTS_CFG_SECRET)
            load_error(ld, "%s: required but not set; set %s or %s_FILE (a mounted secret file)",
                       def->key, def->env, def->env);
        else
            load_error(ld, "%s: required but not set; set %s or %s in the config file", def->key,
                       def->env, def->key);
    }
    for (size_t j = 0; require && require[j]; j++)
        WDTS_ASSERT(def_by_key(require[j]) != NULL);
}

/* Each property once, on a scratch conf: librdkafka knows its own names and value forms. */
static void check_kafka(struct cfg_load *ld)
{
    struct wdts_cfg *cfg = ld->cfg;
    if (cfg->kafka_cnt == 0)
        return;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < cfg->kafka_cnt; i++) {
        char errstr[512];
        const char *prop = cfg->kafka[i].key;
        rd_kafka_conf_res_t res =
            rd_kafka_conf_set(conf, prop, cfg->kafka[i].val, errstr, sizeof(errstr));
        if (res == RD_KAFKA_CONF_OK)
            continue;
        if (res == RD_KAFKA_CONF_UNKNOWN)
            load_error(ld, "%s: unknown Kafka property \"%s\"; see librdkafka's CONFIGURATION.md "
                           "(in env: _ for ., __ for _)",
                       cfg->kafka_src[i], prop);
        else if (kafka_prop_is_secret(prop))
            load_error(ld, "%s: Kafka property \"%s\": the value is invalid; fix it",
                       cfg->kafka_src[i], prop);
        else
            load_error(ld, "%s: Kafka property \"%s\": %s; fix or remove it", cfg->kafka_src[i],
                       prop, errstr);
    }
    rd_kafka_conf_destroy(conf);
}

/* A catalog file is loaded once here, so a bad one stops every program at start (exit 78)
 * with all its problems rather than the first job that needs it. */
static void check_catalog(struct cfg_load *ld)
{
    const char *path = ld->cfg->catalog_path;
    if (path != NULL && *path == '\0') { /* empty = unset: the built-in catalog */
        free(ld->cfg->catalog_path);
        ld->cfg->catalog_path = NULL;
        return;
    }
    if (path == NULL)
        return;
    char es[900];
    struct wdts_catalog *cat = wdts_catalog_new(path, es, sizeof(es));
    if (cat == NULL)
        load_error(ld, "catalog.path: %s", es);
    wdts_catalog_destroy(cat);
}

wdts_err_t wdts_cfg_load(const struct wdts_cfg_opts *opts, struct wdts_cfg **out,
                         struct wdts_buf *errors)
{
    static const struct wdts_cfg_opts no_opts;
    if (opts == NULL)
        opts = &no_opts;
    *out = NULL;

    struct cfg_load ld;
    memset(&ld, 0, sizeof(ld));
    ld.errors = errors;
    ld.envp = opts->envp;
    ld.cfg = wdts_xcalloc(1, sizeof(*ld.cfg));
    ld.cfg->src = wdts_xcalloc(CFG_NDEFS, sizeof(*ld.cfg->src));

    for (size_t i = 0; i < CFG_NDEFS; i++) {
        if (cfg_defs[i].def == NULL) {
            ld.cfg->src[i] = wdts_xstrdup("unset");
            continue;
        }
        set_value(&ld, &cfg_defs[i], cfg_defs[i].def, "default");
        WDTS_ASSERT(ld.nerr == 0); /* a default the parser rejects is a bug in the table */
    }

    const char *path = opts->file;
    if (path == NULL) {
        path = env_get(opts->envp, "WDT_CONFIG_FILE");
        if (path && *path == '\0')
            path = NULL;
    }
    if (path)
        load_file(&ld, path);

    for (size_t i = 0; opts->envp && opts->envp[i]; i++)
        if (wdts_str_has_prefix(opts->envp[i], "WDT_"))
            load_env_var(&ld, opts->envp[i]);

    for (size_t i = 0; i < opts->overrides_cnt; i++)
        load_override(&ld, opts->overrides[i]);

    check_required(&ld, opts->require);
    check_kafka(&ld);
    check_catalog(&ld);

    free(ld.kafka_file_line);
    if (ld.nerr > 0) {
        wdts_cfg_destroy(ld.cfg);
        return WDTS_ERR_CONFIG;
    }
    *out = ld.cfg;
    return WDTS_OK;
}

void wdts_cfg_destroy(struct wdts_cfg *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < CFG_NDEFS; i++) {
        if (cfg_defs[i].type == WDTS_CFG_STR && (cfg_defs[i].flags & WDTS_CFG_SECRET))
            free_secret(*(char **)field(cfg, &cfg_defs[i]));
        else if (cfg_defs[i].type == WDTS_CFG_STR)
            free(*(char **)field(cfg, &cfg_defs[i]));
        if (cfg->src)
            free(cfg->src[i]);
    }
    for (size_t i = 0; i < cfg->kafka_cnt; i++) {
        if (kafka_prop_is_secret(cfg->kafka[i].key))
            free_secret((char *)cfg->kafka[i].val);
        else
            free((char *)cfg->kafka[i].val);
        free((char *)cfg->kafka[i].key);
        free(cfg->kafka_src[i]);
    }
    free(cfg->kafka);
    free(cfg->kafka_src);
    free(cfg->src);
    free(cfg);
}

void wdts_cfg_apply_logging(const struct wdts_cfg *cfg)
{
    wdts_log_setup((enum wdts_loglvl)cfg->log_level, (enum wdts_logfmt)cfg->log_format,
                   cfg->log_debug);
}

/* ------------------------------------------------------------------------------------ */
/* Output                                                                                */

static void append_value(struct wdts_buf *out, const struct wdts_cfg *cfg,
                         const struct cfg_def *def)
{
    const void *p = (const char *)cfg + def->off;
    char tmp[64];
    switch (def->type) {
    case WDTS_CFG_STR: {
        const char *v = *(char *const *)p;
        if (v == NULL)
            wdts_buf_append_str(out, "<unset>");
        else if (def->flags & WDTS_CFG_SECRET)
            wdts_buf_append_str(out, "<redacted>");
        else if (*v == '\0')
            wdts_buf_append_str(out, "\"\"");
        else
            append_url_redacted(out, v);
        break;
    }
    case WDTS_CFG_INT:
        wdts_buf_printf(out, "%d", *(const int *)p);
        break;
    case WDTS_CFG_BOOL:
        wdts_buf_append_str(out, *(const int *)p ? "true" : "false");
        break;
    case WDTS_CFG_DURATION:
        format_duration(*(const int64_t *)p, tmp, sizeof(tmp));
        wdts_buf_append_str(out, tmp);
        break;
    case WDTS_CFG_ENUM:
        wdts_buf_append_str(out, def->words[*(const int *)p]);
        break;
    }
}

void wdts_cfg_dump(const struct wdts_cfg *cfg, struct wdts_buf *out)
{
    for (size_t i = 0; i < CFG_NDEFS; i++) {
        wdts_buf_printf(out, "%s = ", cfg_defs[i].key);
        append_value(out, cfg, &cfg_defs[i]);
        wdts_buf_printf(out, "  # %s\n", cfg->src[i]);
    }
    for (size_t i = 0; i < cfg->kafka_cnt; i++) {
        wdts_buf_printf(out, "kafka.%s = ", cfg->kafka[i].key);
        if (kafka_prop_is_secret(cfg->kafka[i].key))
            wdts_buf_append_str(out, "<redacted>");
        else
            append_url_redacted(out, cfg->kafka[i].val);
        wdts_buf_printf(out, "  # %s\n", cfg->kafka_src[i]);
    }
}

/* "int 1..100000", "duration 1s..1h", "enum: json|text"; markdown escapes the bars. */
static void append_type(struct wdts_buf *out, const struct cfg_def *def, int markdown)
{
    char lo[32], hi[32];
    switch (def->type) {
    case WDTS_CFG_STR:
        wdts_buf_append_str(out, "string");
        break;
    case WDTS_CFG_INT:
        wdts_buf_printf(out, "int %lld..%lld", def->min, def->max);
        break;
    case WDTS_CFG_BOOL:
        wdts_buf_append_str(out, "bool");
        break;
    case WDTS_CFG_DURATION:
        format_duration(def->min, lo, sizeof(lo));
        format_duration(def->max, hi, sizeof(hi));
        wdts_buf_printf(out, "duration %s..%s", lo, hi);
        break;
    case WDTS_CFG_ENUM:
        wdts_buf_append_str(out, "enum ");
        describe_words(def->words, markdown ? " \\| " : "|", out);
        break;
    }
    if (def->flags & WDTS_CFG_SECRET)
        wdts_buf_append_str(out, ", secret");
    if (def->flags & WDTS_CFG_REQUIRED)
        wdts_buf_append_str(out, ", required");
}

void wdts_cfg_help(struct wdts_buf *out)
{
    wdts_buf_append_str(out,
                        "Settings, lowest precedence first: defaults, the file named by "
                        "WDT_CONFIG_FILE (key = value lines),\n"
                        "WDT_* environment variables, command-line overrides. A secret "
                        "setting may be read from the file\n"
                        "named by <ENV>_FILE. librdkafka properties pass through as "
                        "kafka.<property> or WDT_KAFKA_<PROPERTY>\n"
                        "(in env names, _ stands for . and __ for _).\n\n");
    for (size_t i = 0; i < CFG_NDEFS; i++) {
        const struct cfg_def *def = &cfg_defs[i];
        wdts_buf_printf(out, "%-28s %-32s ", def->key, def->env);
        append_type(out, def, 0);
        wdts_buf_printf(out, "  [default: %s]\n    %s\n",
                        def->def == NULL ? "unset" : *def->def ? def->def : "\"\"", def->desc);
    }
}

void wdts_cfg_markdown(struct wdts_buf *out)
{
    wdts_buf_append_str(
        out,
        "# Configuration\n"
        "\n"
        "<!-- Generated from the table in common/config/cfg.c; do not edit. Update with:\n"
        "     cmake --build build && build/tests/test_cfg --write-config-md deploy/CONFIG.md -->\n"
        "\n"
        "Every program (`wdt-scheduler`, `wdt-worker`, `wdtctl`) reads the same settings, lowest\n"
        "precedence first:\n"
        "\n"
        "1. the defaults below;\n"
        "2. the optional properties file named by `WDT_CONFIG_FILE` (e.g. a ConfigMap mount):\n"
        "   one `key = value` per line, `#` starts a comment line, blank lines are ignored,\n"
        "   whitespace around keys and values is trimmed, a key may appear once;\n"
        "3. `WDT_*` environment variables: the key upper-cased with `.` as `_`\n"
        "   (`redis.url` is `WDT_REDIS_URL`);\n"
        "4. overrides given on the command line as `key=value` (for development).\n"
        "\n"
        "Everything is checked at startup. Every problem is printed, each with where the value\n"
        "came from (file and line, or variable name) and what to do, and the program exits with\n"
        "status 78. Unknown keys and unknown `WDT_*` variables are errors (variables starting\n"
        "with `WDT_TEST` are reserved for the test harness and ignored). Configuration does\n"
        "not change while a program runs: to change it, restart (roll the pods).\n"
        "\n"
        "## Secrets\n"
        "\n"
        "A setting marked *secret* may also be read from a file: `WDT_REDIS_PASSWORD_FILE=/path`\n"
        "reads `redis.password` from `/path` (a mounted Kubernetes Secret), with trailing\n"
        "newlines removed. Setting both `WDT_X` and `WDT_X_FILE` is an error. Secret values\n"
        "never appear in the startup configuration dump or in error messages. An empty value\n"
        "of a setting without a default (every secret) leaves it unset.\n"
        "\n"
        "## Kafka client properties\n"
        "\n"
        "Any librdkafka property passes through unchanged: file key `kafka.<property>`\n"
        "(`kafka.bootstrap.servers = broker:9092`) or environment `WDT_KAFKA_<PROPERTY>`, where\n"
        "`_` stands for `.` and `__` for `_` (`WDT_KAFKA_BOOTSTRAP_SERVERS` is\n"
        "`bootstrap.servers`, `WDT_KAFKA_LOG__LEVEL` is `log_level`). `WDT_KAFKA_<PROPERTY>_FILE`\n"
        "reads the value from a file, e.g. `WDT_KAFKA_SASL_PASSWORD_FILE`. Each property is\n"
        "checked by librdkafka at startup; properties whose name contains `password`, `secret`,\n"
        "`oauthbearer.config` or `key.pem` are redacted in the dump. Producers set\n"
        "`enable.idempotence=true`; wdt-worker's producer also sets `linger.ms=20` (records are\n"
        "spread over many partitions: a longer wait makes fewer, larger batches) and\n"
        "`queue.buffering.max.kbytes=16384` (a slow cluster slows the pages, not the memory);\n"
        "a property given here wins over these.\n"
        "\n"
        "## Settings\n"
        "\n"
        "| key | environment | type | default | description |\n"
        "|---|---|---|---|---|\n");
    for (size_t i = 0; i < CFG_NDEFS; i++) {
        const struct cfg_def *def = &cfg_defs[i];
        wdts_buf_printf(out, "| `%s` | `%s` | ", def->key, def->env);
        append_type(out, def, 1);
        if (def->def == NULL)
            wdts_buf_append_str(out, " | (unset) | ");
        else if (*def->def == '\0')
            wdts_buf_append_str(out, " | (empty) | ");
        else
            wdts_buf_printf(out, " | `%s` | ", def->def);
        wdts_buf_printf(out, "%s |\n", def->desc);
    }
}
