/* Configuration: one table of settings (common/config/cfg.c) read from defaults, an
 * optional properties file, WDT_* environment variables and command-line overrides,
 * in that order of precedence, plus librdkafka properties passed through untouched.
 * Every error is collected so a program reports them all at once and exits 78.
 * It does not connect to anything: validation is syntactic (and librdkafka's own).
 *
 * In main():
 *     struct wdts_cfg_opts opts = {.envp = environ, .overrides = sets, .overrides_cnt = nsets};
 *     struct wdts_buf errs;
 *     wdts_buf_init(&errs);
 *     if (wdts_cfg_load(&opts, &cfg, &errs) != WDTS_OK) {
 *         fputs(wdts_buf_str(&errs), stderr);          every problem, one per line
 *         return WDTS_EXIT_CONFIG;                      78
 *     }
 *     wdts_cfg_apply_logging(cfg);
 */
#ifndef WDTS_CFG_H
#define WDTS_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"
#include "wdts/str.h"

/**
 * The effective configuration. Built by wdts_cfg_load(), read-only afterwards (config is
 * immutable: change it by restarting the process), freed by wdts_cfg_destroy().
 *
 * Field types follow the setting's type in the table:
 *   string   → char *   (owned by cfg; NULL when unset and without a default)
 *   int      → int      (within the row's min..max)
 *   bool     → int      (0 or 1)
 *   duration → int64_t  milliseconds (the field name ends in _ms)
 *   enum     → int      the index of the word in the row's list (the order matches the C
 *                       enum named next to the field)
 * Adding a setting = one field here + one row in the table in cfg.c (+ regenerate
 * deploy/CONFIG.md with `build/tests/test_cfg --write-config-md deploy/CONFIG.md`).
 */
struct wdts_cfg {
    int log_level;  /* enum wdts_loglvl: error, warn, info, debug */
    int log_format; /* enum wdts_logfmt: json, text */
    char *log_debug; /* components logged at debug level, "kafka,redis" or "all"; "" for none */

    char *redis_url;
    char *redis_password; /* SECRET */
    int64_t redis_timeout_ms;
    char *redis_prefix;

    char *topic_jobs;
    char *topic_records;
    char *topic_dlq;

    char *http_listen; /* host:port of /metrics, /healthz, /readyz */

    char *secret_key;       /* SECRET: 32 bytes as hex or base64, see wdts_crypto_key_parse() */
    char *qimen_app_key;    /* SECRET: the operator's platform-provided Qimen credentials */
    char *qimen_app_secret; /* SECRET */
    char *pii_hash_key;     /* SECRET: HMAC key of the `hash` pii policy */

    char *catalog_path; /* report catalog JSON file; NULL: the embedded catalog */

    int64_t scheduler_backfill_ms;
    int64_t scheduler_lag_ms;
    int64_t scheduler_lookback_ms;
    int64_t scheduler_lookback_interval_ms; /* re-read of catalog lookback_s reports; 0 off */
    int64_t scheduler_interval_ms;
    int scheduler_max_outstanding;
    int64_t scheduler_lease_ttl_ms;
    int64_t scheduler_job_lease_ms;

    int worker_max_inflight;
    int worker_max_records_per_job;
    int worker_max_answer_bytes;
    int worker_max_starts;
    int64_t worker_split_min_window_ms;
    int worker_split_max_depth;
    int64_t worker_http_timeout_ms;
    int worker_http_connections; /* 0 reuse: keep-alive shared by every seller; 1 close */
    int worker_max_attempts;
    int64_t worker_shutdown_timeout_ms;
    int64_t worker_lock_ttl_ms;
    int64_t worker_cooldown_base_ms;
    int64_t worker_cooldown_max_ms;

    char *sink_db;          /* wdt-sink-sqlite: SQLite file; NULL when unset */
    char *sink_group;       /* wdt-sink-sqlite: its own consumer group */
    int sink_batch_max;     /* messages per SQLite transaction */
    int64_t sink_batch_time_ms;

    /* librdkafka properties (file `kafka.<prop>`, env WDT_KAFKA_<PROP>), in the order first
     * seen, each property once with its highest-precedence value, each already accepted by
     * rd_kafka_conf_set(). Keys and values are owned by cfg; hand them to the Kafka wrapper
     * as borrowed pairs, valid until wdts_cfg_destroy(). */
    struct wdts_param *kafka;
    size_t kafka_cnt;

    /* Private to cfg.c: where each value came from (for wdts_cfg_dump()). */
    char **src;       /* one per table row */
    char **kafka_src; /* one per kafka entry */
};

/** How wdts_cfg_load() finds its inputs. Zero-initialise, then set what applies. */
struct wdts_cfg_opts {
    /* The properties file. NULL: use $WDT_CONFIG_FILE from envp when set and non-empty,
     * else no file. A file that is named but cannot be read is an error. Borrowed. */
    const char *file;
    /* The environment, "NAME=value" strings ending with NULL (pass `environ` from
     * <unistd.h>; tests pass their own). NULL means an empty environment. Borrowed. */
    char *const *envp;
    /* Command-line overrides, highest precedence: "key=value" strings with file keys
     * ("redis.url=…", "kafka.debug=broker"). Borrowed. */
    const char *const *overrides;
    size_t overrides_cnt;
    /* Keys of settings this program cannot run without, in addition to those marked
     * REQUIRED in the table (e.g. {"secret.key", NULL} for programs that decrypt
     * connection secrets). NULL-terminated; NULL for none. Borrowed. Naming a key that is
     * not in the table is a programming error and aborts. */
    const char *const *require;
};

/**
 * @brief  Builds the effective configuration: defaults < file < WDT_* env < overrides.
 *
 * Secrets: for a SECRET setting, WDT_<NAME>_FILE=/path reads the value from the file
 * (trailing newlines trimmed); setting both forms is an error. The same holds for
 * WDT_KAFKA_<PROP>_FILE. Variables starting with WDT_TEST are the test harness's and are
 * ignored; any other WDT_* variable that names nothing is an error. An empty value of a
 * string setting without a default (every secret) leaves it unset (NULL).
 *
 * @param  opts    borrowed, see struct wdts_cfg_opts.
 * @param  out     on success *out is a new cfg (free with wdts_cfg_destroy()); NULL on error.
 * @param  errors  on WDTS_ERR_CONFIG, one line per problem is appended ("source: problem;
 *                 what to do"), every problem found, never a secret value. May be NULL.
 * @returns WDTS_OK, or WDTS_ERR_CONFIG (the caller prints errors and exits WDTS_EXIT_CONFIG).
 * @thread any: no global state is read or written (the environment comes from opts).
 */
wdts_err_t wdts_cfg_load(const struct wdts_cfg_opts *opts, struct wdts_cfg **out,
                         struct wdts_buf *errors);

/** Frees cfg and everything it owns. NULL is a no-op. */
void wdts_cfg_destroy(struct wdts_cfg *cfg);

/**
 * @brief  Appends the effective configuration, one "key = value  # source" line per
 *         setting then per kafka property. SECRET values, secret-looking kafka properties
 *         and passwords inside URLs print as <redacted>.
 * @owner  cfg borrowed; out is the caller's buffer.
 */
void wdts_cfg_dump(const struct wdts_cfg *cfg, struct wdts_buf *out);

/** Appends the table as text for `--help-config`: key, env, type, default, description. */
void wdts_cfg_help(struct wdts_buf *out);

/** Appends the Markdown document committed as deploy/CONFIG.md (generated, never edited). */
void wdts_cfg_markdown(struct wdts_buf *out);

/** Sets up logging from log.level, log.format and log.debug (wdts_log_setup()); call it
 *  before other threads start. @owner cfg borrowed. */
void wdts_cfg_apply_logging(const struct wdts_cfg *cfg);

/**
 * @brief  Parses a duration: one or more <digits><unit> with unit ms, s, m, h or d
 *         ("250ms", "30s", "5m", "2h", "90d", "1h30m"); a bare "0" is zero.
 * @returns WDTS_ERR_INVAL on anything else or on overflow of int64 milliseconds.
 */
wdts_err_t wdts_cfg_parse_duration(const char *s, int64_t *ms);

/** Parses true/false, yes/no, on/off, 1/0 (case-insensitive). @returns WDTS_ERR_INVAL otherwise. */
wdts_err_t wdts_cfg_parse_bool(const char *s, int *out);

#endif
