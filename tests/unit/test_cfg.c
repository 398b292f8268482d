/* Configuration: precedence, every kind of error reported at once, durations, enums,
 * *_FILE secrets, redaction, the librdkafka pass-through, and the freshness of the
 * generated deploy/CONFIG.md. Run `test_cfg --write-config-md PATH` to regenerate it. */
#include "wdts_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdts/cfg.h"
#include "wdts/log.h"
#include "wdts/mem.h"

/* A temp file holding text. @owner free() the returned path after unlink(). */
static char *temp_file(const char *text)
{
    const char *dir = getenv("TMPDIR");
    char *path = wdts_xasprintf("%s/wdts-cfg-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static void remove_temp(char *path)
{
    unlink(path);
    free(path);
}

/* Loads with the given file (may be NULL), env (NULL-terminated) and overrides. */
static wdts_err_t load(const char *file, char **envp, const char *const *overrides, size_t n,
                       struct wdts_cfg **cfg, struct wdts_buf *errors)
{
    struct wdts_cfg_opts opts = {0};
    opts.file = file;
    opts.envp = envp;
    opts.overrides = overrides;
    opts.overrides_cnt = n;
    return wdts_cfg_load(&opts, cfg, errors);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The value of a line "key = value  # source" of a dump. @owner free() the result. */
static char *dump_line(const struct wdts_cfg *cfg, const char *key)
{
    struct wdts_buf buf;
    wdts_buf_init(&buf);
    wdts_cfg_dump(cfg, &buf);
    char *prefix = wdts_xasprintf("\n%s = ", key);
    const char *all = wdts_buf_str(&buf);
    char *copy = wdts_xasprintf("\n%s", all);
    const char *p = strstr(copy, prefix);
    char *line = NULL;
    if (p) {
        p += 1;
        line = wdts_xstrndup(p, strcspn(p, "\n"));
    }
    free(prefix);
    free(copy);
    wdts_buf_deinit(&buf);
    return line;
}

static void test_defaults(void **state)
{
    (void)state;
    struct wdts_cfg *cfg = NULL;
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    assert_int_equal(load(NULL, NULL, NULL, 0, &cfg, &errs), WDTS_OK);
    assert_string_equal(wdts_buf_str(&errs), "");
    assert_int_equal(cfg->log_level, WDTS_LOGLVL_INFO);
    assert_int_equal(cfg->log_format, WDTS_LOGFMT_JSON);
    assert_string_equal(cfg->log_debug, "");
    assert_string_equal(cfg->redis_url, "redis://127.0.0.1:6379/0");
    assert_null(cfg->redis_password);
    assert_int_equal(cfg->redis_timeout_ms, 2000);
    assert_string_equal(cfg->redis_prefix, "wdt:");
    assert_string_equal(cfg->topic_jobs, "wdt.jobs");
    assert_string_equal(cfg->topic_records, "wdt.records");
    assert_string_equal(cfg->topic_dlq, "wdt.dlq");
    assert_string_equal(cfg->http_listen, "0.0.0.0:9090");
    assert_null(cfg->secret_key);
    assert_null(cfg->qimen_app_key);
    assert_null(cfg->qimen_app_secret);
    assert_null(cfg->pii_hash_key);
    assert_int_equal(cfg->scheduler_backfill_ms, 90LL * 86400 * 1000);
    assert_int_equal(cfg->scheduler_lag_ms, 5 * 60 * 1000);
    assert_int_equal(cfg->scheduler_lookback_ms, 0);
    assert_int_equal(cfg->scheduler_lookback_interval_ms, 6 * 3600 * 1000);
    assert_null(cfg->catalog_path);
    assert_int_equal(cfg->scheduler_interval_ms, 30000);
    assert_int_equal(cfg->scheduler_max_outstanding, 64);
    assert_int_equal(cfg->scheduler_lease_ttl_ms, 15000);
    assert_int_equal(cfg->worker_max_inflight, 256);
    assert_int_equal(cfg->worker_max_records_per_job, 20000);
    assert_int_equal(cfg->worker_http_timeout_ms, 30000);
    assert_int_equal(cfg->worker_max_attempts, 8);
    assert_int_equal(cfg->worker_shutdown_timeout_ms, 25000);
    assert_int_equal(cfg->kafka_cnt, 0);
    char *line = dump_line(cfg, "scheduler.backfill");
    assert_string_equal(line, "scheduler.backfill = 90d  # default");
    free(line);
    line = dump_line(cfg, "secret.key");
    assert_string_equal(line, "secret.key = <unset>  # unset");
    free(line);
    wdts_cfg_destroy(cfg);
    wdts_buf_deinit(&errs);
    wdts_cfg_destroy(NULL); /* no-op */
}

static void test_precedence(void **state)
{
    (void)state;
    char *file = temp_file("# deployment defaults\n"
                           "log.level = warn\n"
                           "redis.prefix = file:\n"
                           "\n"
                           "topic.jobs=file.jobs\n"
                           "   scheduler.lag   =   10m   \n"
                           "kafka.client.id = from-file\n"
                           "kafka.acks = all\n");
    char *envp[] = {"PATH=/usr/bin", "WDT_LOG_LEVEL=error", "WDT_REDIS_PREFIX=env:",
                    "WDT_KAFKA_CLIENT_ID=from-env", "HOME=/root", NULL};
    const char *over[] = {"log.level=debug", "kafka.linger.ms=7"};
    struct wdts_cfg *cfg = NULL;
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    assert_int_equal(load(file, envp, over, 2, &cfg, &errs), WDTS_OK);
    assert_string_equal(wdts_buf_str(&errs), "");

    assert_int_equal(cfg->log_level, WDTS_LOGLVL_DEBUG);      /* override > env > file */
    assert_string_equal(cfg->redis_prefix, "env:");           /* env > file */
    assert_string_equal(cfg->topic_jobs, "file.jobs");        /* file > default */
    assert_int_equal(cfg->scheduler_lag_ms, 10 * 60 * 1000);  /* trimmed */
    assert_string_equal(cfg->topic_dlq, "wdt.dlq");           /* default */

    /* kafka: first-seen order, one entry per property, highest precedence value */
    assert_int_equal(cfg->kafka_cnt, 3);
    assert_string_equal(cfg->kafka[0].key, "client.id");
    assert_string_equal(cfg->kafka[0].val, "from-env");
    assert_string_equal(cfg->kafka[1].key, "acks");
    assert_string_equal(cfg->kafka[1].val, "all");
    assert_string_equal(cfg->kafka[2].key, "linger.ms");
    assert_string_equal(cfg->kafka[2].val, "7");

    /* the dump names the source of each value */
    char *line = dump_line(cfg, "log.level");
    assert_string_equal(line, "log.level = debug  # command line (log.level)");
    free(line);
    line = dump_line(cfg, "redis.prefix");
    assert_string_equal(line, "redis.prefix = env:  # WDT_REDIS_PREFIX");
    free(line);
    char *want = wdts_xasprintf("topic.jobs = file.jobs  # %s:5", file);
    line = dump_line(cfg, "topic.jobs");
    assert_string_equal(line, want);
    free(line);
    free(want);
    line = dump_line(cfg, "kafka.client.id");
    assert_string_equal(line, "kafka.client.id = from-env  # WDT_KAFKA_CLIENT_ID");
    free(line);
    wdts_cfg_destroy(cfg);

    /* WDT_CONFIG_FILE names the file when the program gives none */
    char *with_file_env = wdts_xasprintf("WDT_CONFIG_FILE=%s", file);
    char *envp2[] = {with_file_env, NULL};
    assert_int_equal(load(NULL, envp2, NULL, 0, &cfg, &errs), WDTS_OK);
    assert_int_equal(cfg->log_level, WDTS_LOGLVL_WARN);
    assert_string_equal(cfg->topic_jobs, "file.jobs");
    wdts_cfg_destroy(cfg);

    /* a path given by the program wins over WDT_CONFIG_FILE */
    char *other = temp_file("topic.jobs = other.jobs\n");
    assert_int_equal(load(other, envp2, NULL, 0, &cfg, &errs), WDTS_OK);
    assert_string_equal(cfg->topic_jobs, "other.jobs");
    assert_int_equal(cfg->log_level, WDTS_LOGLVL_INFO);
    wdts_cfg_destroy(cfg);

    /* an empty WDT_CONFIG_FILE means no file */
    char *envp3[] = {"WDT_CONFIG_FILE=", NULL};
    assert_int_equal(load(NULL, envp3, NULL, 0, &cfg, &errs), WDTS_OK);
    wdts_cfg_destroy(cfg);

    free(with_file_env);
    remove_temp(other);
    remove_temp(file);
    wdts_buf_deinit(&errs);
}

static void test_file_format(void **state)
{
    (void)state;
    /* CRLF line ends, '=' and '#' inside a value, indented comment, whitespace everywhere */
    char *file = temp_file("\t# comment\r\n"
                           "   \r\n"
                           "redis.url = redis://127.0.0.1:6380/2\r\n"
                           "qimen.app.secret=a=b#c \r\n"
                           "  # log.level = nonsense\n"
                           "log.format\t=\ttext");
    struct wdts_cfg *cfg = NULL;
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    assert_int_equal(load(file, NULL, NULL, 0, &cfg, &errs), WDTS_OK);
    assert_string_equal(wdts_buf_str(&errs), "");
    assert_string_equal(cfg->redis_url, "redis://127.0.0.1:6380/2");
    assert_string_equal(cfg->qimen_app_secret, "a=b#c");
    assert_int_equal(cfg->log_format, WDTS_LOGFMT_TEXT);
    assert_int_equal(cfg->log_level, WDTS_LOGLVL_INFO);
    wdts_cfg_destroy(cfg);
    remove_temp(file);

    /* an empty file is fine */
    file = temp_file("");
    assert_int_equal(load(file, NULL, NULL, 0, &cfg, &errs), WDTS_OK);
    wdts_cfg_destroy(cfg);
    remove_temp(file);
    wdts_buf_deinit(&errs);
}

/* Three bad settings from three sources: three messages, each with its source. */
static void test_all_errors_listed_at_once(void **state)
{
    (void)state;
    char *file = temp_file("scheduler.lag = 5 minutes\n");
    char *envp[] = {"WDT_WORKER_MAX_INFLIGHT=lots", NULL};
    const char *over[] = {"log.format=yaml"};
    struct wdts_cfg *cfg = (struct wdts_cfg *)1;
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    assert_int_equal(load(file, envp, over, 1, &cfg, &errs), WDTS_ERR_CONFIG);
    assert_null(cfg);
    const char *e = wdts_buf_str(&errs);
    assert_int_equal(count_lines(e), 3);
    char *src = wdts_xasprintf("%s:1: \"5 minutes\" is not a duration", file);
    assert_non_null(strstr(e, src));
    assert_non_null(strstr(e, "250ms, 30s, 5m, 2h, 90d (scheduler.lag)"));
    assert_non_null(strstr(e, "WDT_WORKER_MAX_INFLIGHT: \"lots\" is not an integer; use an "
                              "integer from 1 to 100000"));
    assert_non_null(strstr(e, "command line (log.format): \"yaml\" is not allowed; use one of "
                              "json, text"));
    free(src);
    remove_temp(file);

    /* errors may be NULL: the result alone still says it failed */
    assert_int_equal(load(NULL, envp, NULL, 0, &cfg, NULL), WDTS_ERR_CONFIG);
    assert_null(cfg);
    wdts_buf_deinit(&errs);
}

/* One load with every kind of problem: each reported, in one list. */
static void test_every_error_kind(void **state)
{
    (void)state;
    char *file = temp_file("redis.ulr = redis://x:1\n"          /* 1 unknown key */
                           "just some words\n"                  /* 2 no '=' */
                           "= value\n"                          /* 3 no key */
                           "worker.max.attempts = 0\n"          /* 4 out of range */
                           "worker.max.attempts = 3\n"          /* 5 set twice */
                           "scheduler.interval = 100ms\n"       /* 6 duration out of range */
                           "http.listen = localhost\n"          /* 7 not host:port */
                           "topic.jobs = bad topic\n"           /* 8 not a topic name */
                           "kafka.no.such.property = 1\n");     /* 9 unknown kafka prop */
    char *missing = wdts_xasprintf("WDT_REDIS_PASSWORD_FILE=%s.missing", file);
    char *envp[] = {
        "WDT_DEBUG=kafka",                  /* unknown variable, with a hint */
        "WDT_LOG_LEVEL=verbose",            /* bad enum word */
        "WDT_SCHEDULER_BACKFILL=ninety",    /* bad duration */
        missing,                            /* unreadable secret file */
        "WDT_QIMEN_APP_KEY=k",              /* both forms set */
        "WDT_QIMEN_APP_KEY_FILE=/dev/null",
        "WDT_TOPIC_DLQ_FILE=/dev/null",     /* _FILE of a non-secret */
        "WDT_KAFKA_ACKS=lots",              /* kafka value librdkafka refuses */
        "WDT_KAFKA_=x",                     /* no property named */
        "WDT_TEST_REDIS_URL=redis://ignored", "WDT_TESTS=ignored", /* reserved, ignored */
        NULL};
    const char *over[] = {"nonsense"};
    const char *require[] = {"secret.key", NULL};
    struct wdts_cfg_opts opts = {0};
    opts.file = file;
    opts.envp = envp;
    opts.overrides = over;
    opts.overrides_cnt = 1;
    opts.require = require;
    struct wdts_cfg *cfg = NULL;
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    assert_int_equal(wdts_cfg_load(&opts, &cfg, &errs), WDTS_ERR_CONFIG);
    assert_null(cfg);
    const char *e = wdts_buf_str(&errs);
    const char *want[] = {
        ":1: unknown key \"redis.ulr\" (did you mean redis.url?); fix or remove it",
        ":2: expected \"key = value\"",
        ":3: no key before \"=\"",
        ":4: \"0\" is out of range; use an integer from 1 to 1000 (worker.max.attempts)",
        ":5: worker.max.attempts is already set on line 4",
        ":6: \"100ms\" is out of range; use a duration from 1s to 1d (scheduler.interval)",
        ":7: \"localhost\" is not host:port",
        ":8: \"bad topic\" is not a Kafka topic name",
        ":9: unknown Kafka property \"no.such.property\"",
        "WDT_DEBUG: unknown WDT_* variable (did you mean WDT_LOG_DEBUG?); unset it",
        "WDT_LOG_LEVEL: \"verbose\" is not allowed; use one of error, warn, info, debug",
        "WDT_SCHEDULER_BACKFILL: \"ninety\" is not a duration",
        "WDT_REDIS_PASSWORD_FILE: cannot read ",
        "WDT_QIMEN_APP_KEY and WDT_QIMEN_APP_KEY_FILE are both set; set only one of them",
        "WDT_TOPIC_DLQ_FILE: topic.dlq is not a secret and cannot be read from a file",
        "WDT_KAFKA_ACKS: Kafka property \"acks\": ",
        "WDT_KAFKA_: no Kafka property named",
        "command line: \"nonsense\" is not key=value",
        "secret.key: required but not set; set WDT_SECRET_KEY or WDT_SECRET_KEY_FILE",
    };
    size_t nwant = sizeof(want) / sizeof(want[0]);
    for (size_t i = 0; i < nwant; i++) {
        if (strstr(e, want[i]) == NULL)
            fail_msg("missing error: %s\nin:\n%s", want[i], e);
    }
    assert_int_equal(count_lines(e), (int)nwant);
    assert_null(strstr(e, "WDT_TEST"));
    free(missing);
    remove_temp(file);

    /* a config file that cannot be read */
    assert_int_equal(load("/nonexistent/wdt.conf", NULL, NULL, 0, &cfg, &errs), WDTS_ERR_CONFIG);
    assert_non_null(strstr(wdts_buf_str(&errs), "config file: cannot read /nonexistent/wdt.conf"));
    wdts_buf_deinit(&errs);
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {{"250ms", 250}, {"30s", 30000},       {"5m", 300000},
              {"2h", 7200000}, {"90d", 7776000000LL}, {"0", 0},
              {"0s", 0},       {"1h30m", 5400000},  {"1m500ms", 60500}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t ms = -1;
        assert_int_equal(wdts_cfg_parse_duration(ok[i].s, &ms), WDTS_OK);
        assert_int_equal(ms, ok[i].ms);
    }
    static const char *const bad[] = {"", "5", "m", "-5s", "5 s", " 5s", "5s ", "5sec", "1.5h",
                                      "5S", "99999999999999999999ms", "9999999999999d", "s5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 42;
        if (wdts_cfg_parse_duration(bad[i], &ms) != WDTS_ERR_INVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(ms, 42);
    }

    /* through the loader: stored in ms, dumped in the largest exact unit */
    char *envp[] = {"WDT_REDIS_TIMEOUT=1500ms", "WDT_SCHEDULER_LOOKBACK=2h", NULL};
    struct wdts_cfg *cfg = NULL;
    assert_int_equal(load(NULL, envp, NULL, 0, &cfg, NULL), WDTS_OK);
    assert_int_equal(cfg->redis_timeout_ms, 1500);
    assert_int_equal(cfg->scheduler_lookback_ms, 2 * 3600 * 1000);
    char *line = dump_line(cfg, "redis.timeout");
    assert_string_equal(line, "redis.timeout = 1500ms  # WDT_REDIS_TIMEOUT");
    free(line);
    wdts_cfg_destroy(cfg);
}

/* catalog.path: the file is loaded with the configuration, and every problem of a bad one
 * is a configuration error that names the setting. */
static void test_catalog_path(void **state)
{
    (void)state;
    char *good = temp_file(
        "[{\"name\":\"paid\",\"description\":\"d\",\"kind\":\"incremental\","
        "\"method\":\"sales.TradeQuery.queryWithDetail\","
        "\"qimen_method\":\"wdt.sales.tradequery.querywithdetail\","
        "\"time\":{\"start\":\"start_time\",\"end\":\"end_time\",\"basis\":\"paid\","
        "\"meaning\":\"pay time\"},\"params\":{\"time_type\":2},\"max_span_s\":3600,"
        "\"page_size\":100,\"max_page_size\":100,\"list_key\":\"order\","
        "\"pk\":[\"trade_id\"],\"modified\":{\"field\":\"modified\",\"format\":\"datetime\"},"
        "\"group\":\"sales\",\"lookback_s\":604800}]");
    char *bad = temp_file("[{\"name\":\"x\"}]");
    char *env_good = wdts_xasprintf("WDT_CATALOG_PATH=%s", good);
    char *env_bad = wdts_xasprintf("WDT_CATALOG_PATH=%s", bad);
    char *envp[] = {env_good, "WDT_SCHEDULER_LOOKBACK_INTERVAL=30m", NULL};
    struct wdts_cfg *cfg = NULL;
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    if (load(NULL, envp, NULL, 0, &cfg, &errs) != WDTS_OK)
        fail_msg("a valid catalog refused: %s", wdts_buf_str(&errs));
    assert_string_equal(cfg->catalog_path, good);
    assert_int_equal(cfg->scheduler_lookback_interval_ms, 30 * 60 * 1000);
    wdts_cfg_destroy(cfg);

    char *envb[] = {env_bad, NULL};
    cfg = NULL;
    assert_int_equal(load(NULL, envb, NULL, 0, &cfg, &errs), WDTS_ERR_CONFIG);
    assert_null(cfg);
    assert_non_null(strstr(wdts_buf_str(&errs), "catalog.path: catalog "));
    assert_non_null(strstr(wdts_buf_str(&errs), "description"));
    wdts_buf_reset(&errs);
    const char *missing[] = {"catalog.path=/nonexistent/reports.json"};
    assert_int_equal(load(NULL, NULL, missing, 1, &cfg, &errs), WDTS_ERR_CONFIG);
    assert_non_null(strstr(wdts_buf_str(&errs), "cannot open"));
    wdts_buf_reset(&errs);
    const char *empty[] = {"catalog.path="}; /* empty: unset, the built-in catalog */
    assert_int_equal(load(NULL, NULL, empty, 1, &cfg, &errs), WDTS_OK);
    assert_null(cfg->catalog_path);
    wdts_cfg_destroy(cfg);
    wdts_buf_deinit(&errs);
    free(env_good);
    free(env_bad);
    remove_temp(good);
    remove_temp(bad);
}

static void test_bool_and_enum(void **state)
{
    (void)state;
    int b = -1;
    assert_int_equal(wdts_cfg_parse_bool("true", &b), WDTS_OK);
    assert_int_equal(b, 1);
    assert_int_equal(wdts_cfg_parse_bool("OFF", &b), WDTS_OK);
    assert_int_equal(b, 0);
    assert_int_equal(wdts_cfg_parse_bool("Yes", &b), WDTS_OK);
    assert_int_equal(b, 1);
    assert_int_equal(wdts_cfg_parse_bool("0", &b), WDTS_OK);
    assert_int_equal(b, 0);
    assert_int_equal(wdts_cfg_parse_bool("maybe", &b), WDTS_ERR_INVAL);
    assert_int_equal(wdts_cfg_parse_bool("", &b), WDTS_ERR_INVAL);

    /* enum words map to their index; case does not matter */
    char *envp[] = {"WDT_LOG_LEVEL=WARN", "WDT_LOG_FORMAT=text", NULL};
    struct wdts_cfg *cfg = NULL;
    assert_int_equal(load(NULL, envp, NULL, 0, &cfg, NULL), WDTS_OK);
    assert_int_equal(cfg->log_level, WDTS_LOGLVL_WARN);
    assert_int_equal(cfg->log_format, WDTS_LOGFMT_TEXT);
    char *line = dump_line(cfg, "log.level");
    assert_string_equal(line, "log.level = warn  # WDT_LOG_LEVEL");
    free(line);
    wdts_cfg_destroy(cfg);
}

/* Loads one override and reports whether it was accepted. */
static int accepts(const char *kv)
{
    const char *over[] = {kv};
    struct wdts_cfg *cfg = NULL;
    wdts_err_t err = load(NULL, NULL, over, 1, &cfg, NULL);
    wdts_cfg_destroy(cfg);
    return err == WDTS_OK;
}

static void test_string_checks(void **state)
{
    (void)state;
    static const char *const good[] = {
        "http.listen=[::]:9090", "http.listen=127.0.0.1:0", "http.listen=metrics-host.local:65535",
        "redis.url=redis://10.0.0.5:6379/3", "redis.url=redis://h", "redis.url=redis://u:@h",
        "redis.url=redis://:p%25w@[::1]:7000/2", "topic.jobs=tenant_a.wdt-jobs.v1", "log.debug=all",
        "log.debug=kafka,redis,wrk", "log.debug=", "redis.prefix=x"};
    static const char *const bad[] = {
        "http.listen=:9090", "http.listen=host:", "http.listen=host:65536", "http.listen=::1:9090",
        "http.listen=[::1]9090", "http.listen=host:90x", "http.listen=host:+90",
        "redis.url=http://127.0.0.1:6379", "redis.url=redis://", "redis.url=127.0.0.1:6379",
        /* L7: no TLS and no unix sockets in this build: refused at config time */
        "redis.url=rediss://redis.example:6380", "redis.url=unix:///run/redis.sock",
        /* what the Redis layer refuses is refused here too */
        "redis.url=redis://h:0", "redis.url=redis://alice@h", "redis.url=redis://h?timeout=1",
        "redis.url=redis://:a%zz@h", "redis.url=redis://h/x",
        "topic.jobs=", "topic.jobs=..", "topic.jobs=a/b", "log.debug=kafka,", "log.debug=Kafka",
        "log.debug=,redis", "redis.prefix=", "worker.max.inflight=2147483648",
        "worker.max.inflight=12abc", "worker.max.inflight= 5",
        "worker.max.inflight=+5", "worker.max.inflight=-"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!accepts(good[i]))
            fail_msg("refused %s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (accepts(bad[i]))
            fail_msg("accepted %s", bad[i]);
}

static void test_secret_files(void **state)
{
    (void)state;
    char *pw = temp_file("hunter2-redis\n");
    char *qs = temp_file("qimen-secret-value\r\n\n");
    char *key = temp_file("01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da\n");
    char *e1 = wdts_xasprintf("WDT_REDIS_PASSWORD_FILE=%s", pw);
    char *e2 = wdts_xasprintf("WDT_QIMEN_APP_SECRET_FILE=%s", qs);
    char *e3 = wdts_xasprintf("WDT_SECRET_KEY_FILE=%s", key);
    char *envp[] = {e1, e2, e3, "WDT_PII_HASH_KEY=0123456789abcdef-pii", NULL};
    const char *require[] = {"secret.key", "pii.hash.key", NULL};
    struct wdts_cfg_opts opts = {0};
    opts.envp = envp;
    opts.require = require;
    struct wdts_cfg *cfg = NULL;
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    assert_int_equal(wdts_cfg_load(&opts, &cfg, &errs), WDTS_OK);
    assert_string_equal(wdts_buf_str(&errs), "");
    assert_string_equal(cfg->redis_password, "hunter2-redis");
    assert_string_equal(cfg->qimen_app_secret, "qimen-secret-value");
    assert_string_equal(cfg->secret_key,
                        "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da");
    char *line = dump_line(cfg, "redis.password");
    assert_string_equal(line, "redis.password = <redacted>  # WDT_REDIS_PASSWORD_FILE");
    free(line);
    wdts_cfg_destroy(cfg);

    /* a bad secret is reported without its value */
    char *bad = temp_file("SUPERSECRET-not-a-key\n");
    char *e4 = wdts_xasprintf("WDT_SECRET_KEY_FILE=%s", bad);
    char *envp2[] = {e4, "WDT_PII_HASH_KEY=SHORTSECRET", NULL};
    opts.envp = envp2;
    assert_int_equal(wdts_cfg_load(&opts, &cfg, &errs), WDTS_ERR_CONFIG);
    const char *e = wdts_buf_str(&errs);
    assert_non_null(strstr(e, "WDT_SECRET_KEY_FILE: the value is not a usable key (secret key must be 32 bytes"));
    assert_non_null(strstr(e, "WDT_PII_HASH_KEY: the value is too short"));
    assert_null(strstr(e, "SUPERSECRET"));
    assert_null(strstr(e, "SHORTSECRET"));
    assert_int_equal(count_lines(e), 2);
    wdts_buf_reset(&errs);

    /* required secret: empty counts as missing; the message names both forms */
    char *envp3[] = {"WDT_SECRET_KEY=", NULL};
    const char *require2[] = {"secret.key", NULL};
    opts.envp = envp3;
    opts.require = require2;
    assert_int_equal(wdts_cfg_load(&opts, &cfg, &errs), WDTS_ERR_CONFIG);
    assert_string_equal(wdts_buf_str(&errs),
                        "secret.key: required but not set; set WDT_SECRET_KEY or "
                        "WDT_SECRET_KEY_FILE (a mounted secret file)\n");
    wdts_buf_reset(&errs);

    /* not required when the program does not ask for it */
    opts.require = NULL;
    char *envp4[] = {NULL};
    opts.envp = envp4;
    assert_int_equal(wdts_cfg_load(&opts, &cfg, &errs), WDTS_OK);
    wdts_cfg_destroy(cfg);

    /* a required secret whose file is missing, or given twice: one message each, not two */
    char *envp6[] = {"WDT_SECRET_KEY_FILE=/nonexistent/key", "WDT_PII_HASH_KEY=x",
                     "WDT_PII_HASH_KEY_FILE=/dev/null", NULL};
    const char *require3[] = {"secret.key", "pii.hash.key", NULL};
    opts.envp = envp6;
    opts.require = require3;
    assert_int_equal(wdts_cfg_load(&opts, &cfg, &errs), WDTS_ERR_CONFIG);
    e = wdts_buf_str(&errs);
    assert_non_null(strstr(e, "WDT_SECRET_KEY_FILE: cannot read /nonexistent/key"));
    assert_non_null(strstr(e, "WDT_PII_HASH_KEY and WDT_PII_HASH_KEY_FILE are both set"));
    assert_int_equal(count_lines(e), 2);
    wdts_buf_reset(&errs);
    opts.require = NULL;

    /* an empty _FILE path, and a directory instead of a file */
    char *envp5[] = {"WDT_REDIS_PASSWORD_FILE=", "WDT_PII_HASH_KEY_FILE=/", NULL};
    opts.envp = envp5;
    assert_int_equal(wdts_cfg_load(&opts, &cfg, &errs), WDTS_ERR_CONFIG);
    e = wdts_buf_str(&errs);
    assert_non_null(strstr(e, "WDT_REDIS_PASSWORD_FILE: empty path"));
    assert_non_null(strstr(e, "WDT_PII_HASH_KEY_FILE: cannot read /"));
    assert_int_equal(count_lines(e), 2);

    free(e1);
    free(e2);
    free(e3);
    free(e4);
    remove_temp(pw);
    remove_temp(qs);
    remove_temp(key);
    remove_temp(bad);
    wdts_buf_deinit(&errs);
}

static void test_dump_redacts(void **state)
{
    (void)state;
    char *file = temp_file("redis.password = p4ss-from-file\n"
                           "kafka.sasl.password = kafka-p4ss\n"
                           "kafka.sasl.username = alice\n");
    char *envp[] = {"WDT_REDIS_URL=redis://user:url-p4ss@127.0.0.1:6379/1",
                    "WDT_QIMEN_APP_KEY=qimen-k3y",
                    "WDT_SECRET_KEY=AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09o=",
                    "WDT_KAFKA_SSL_KEY_PASSWORD=ssl-p4ss", NULL};
    struct wdts_cfg *cfg = NULL;
    struct wdts_buf errs, dump;
    wdts_buf_init(&errs);
    wdts_buf_init(&dump);
    assert_int_equal(load(file, envp, NULL, 0, &cfg, &errs), WDTS_OK);
    assert_string_equal(wdts_buf_str(&errs), "");
    assert_string_equal(cfg->redis_password, "p4ss-from-file");
    wdts_cfg_dump(cfg, &dump);
    const char *d = wdts_buf_str(&dump);
    assert_null(strstr(d, "p4ss"));
    assert_null(strstr(d, "qimen-k3y"));
    assert_null(strstr(d, "AQgPFh0k"));
    assert_non_null(strstr(d, "redis.url = redis://user:<redacted>@127.0.0.1:6379/1  # "
                              "WDT_REDIS_URL\n"));
    assert_non_null(strstr(d, "secret.key = <redacted>  # WDT_SECRET_KEY\n"));
    assert_non_null(strstr(d, "kafka.sasl.password = <redacted>"));
    assert_non_null(strstr(d, "kafka.ssl.key.password = <redacted>  # WDT_KAFKA_SSL_KEY_PASSWORD"));
    assert_non_null(strstr(d, "kafka.sasl.username = alice"));
    /* one line per setting plus one per kafka property */
    assert_int_equal(count_lines(d), 41 + 3);
    wdts_cfg_destroy(cfg);

    /* nor does an error about a URL show its password */
    char *envp2[] = {"WDT_REDIS_URL=http://user:url-p4ss@127.0.0.1:6379", NULL};
    assert_int_equal(load(NULL, envp2, NULL, 0, &cfg, &errs), WDTS_ERR_CONFIG);
    assert_null(strstr(wdts_buf_str(&errs), "p4ss"));
    assert_non_null(strstr(wdts_buf_str(&errs), "WDT_REDIS_URL: "
                                                "\"http://user:<redacted>@127.0.0.1:6379\" "
                                                "is not a usable Redis URL: must start with "
                                                "redis://"));
    remove_temp(file);
    wdts_buf_deinit(&errs);
    wdts_buf_deinit(&dump);
}

static void test_kafka_passthrough(void **state)
{
    (void)state;
    char *pw = temp_file("sasl-pw\n");
    char *pwenv = wdts_xasprintf("WDT_KAFKA_SASL_PASSWORD_FILE=%s", pw);
    char *envp[] = {"WDT_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092,127.0.0.1:9093",
                    "WDT_KAFKA_LOG__LEVEL=3",
                    "WDT_KAFKA_ENABLE_IDEMPOTENCE=true",
                    "WDT_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT",
                    "WDT_KAFKA_SASL_MECHANISMS=PLAIN",
                    pwenv,
                    NULL};
    struct wdts_cfg *cfg = NULL;
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    assert_int_equal(load(NULL, envp, NULL, 0, &cfg, &errs), WDTS_OK);
    assert_string_equal(wdts_buf_str(&errs), "");
    const char *want[][2] = {{"bootstrap.servers", "127.0.0.1:9092,127.0.0.1:9093"},
                             {"log_level", "3"},
                             {"enable.idempotence", "true"},
                             {"security.protocol", "SASL_PLAINTEXT"},
                             {"sasl.mechanisms", "PLAIN"},
                             {"sasl.password", "sasl-pw"}};
    assert_int_equal(cfg->kafka_cnt, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(cfg->kafka[i].key, want[i][0]);
        assert_string_equal(cfg->kafka[i].val, want[i][1]);
    }
    wdts_cfg_destroy(cfg);

    /* bad properties: unknown name (a single '_' where '__' was meant), bad value, both forms */
    char *envp2[] = {"WDT_KAFKA_LOG_LEVEL=3", "WDT_KAFKA_ENABLE_IDEMPOTENCE=perhaps",
                     "WDT_KAFKA_SASL_PASSWORD=x", pwenv, NULL};
    assert_int_equal(load(NULL, envp2, NULL, 0, &cfg, &errs), WDTS_ERR_CONFIG);
    const char *e = wdts_buf_str(&errs);
    assert_non_null(strstr(e, "WDT_KAFKA_LOG_LEVEL: unknown Kafka property \"log.level\""));
    assert_non_null(
        strstr(e, "WDT_KAFKA_ENABLE_IDEMPOTENCE: Kafka property \"enable.idempotence\""));
    assert_non_null(
        strstr(e, "WDT_KAFKA_SASL_PASSWORD and WDT_KAFKA_SASL_PASSWORD_FILE are both set"));
    assert_int_equal(count_lines(e), 3);
    wdts_buf_reset(&errs);

    /* a bad value of a secret-looking property is reported without the value */
    char *envp3[] = {"WDT_KAFKA_SSL_KEY_PASSWORD=", NULL};
    const char *over[] = {"kafka.sasl.oauthbearer.config=" /* valid: empty */,
                          "kafka.batch.num.messages=many"};
    assert_int_equal(load(NULL, envp3, over, 2, &cfg, &errs), WDTS_ERR_CONFIG);
    e = wdts_buf_str(&errs);
    assert_non_null(strstr(e, "command line (kafka.batch.num.messages): Kafka property"));
    assert_int_equal(count_lines(e), 1);

    free(pwenv);
    remove_temp(pw);
    wdts_buf_deinit(&errs);
}

static void test_apply_logging(void **state)
{
    (void)state;
    char *envp[] = {"WDT_LOG_LEVEL=warn", "WDT_LOG_DEBUG=kafka,redis", NULL};
    struct wdts_cfg *cfg = NULL;
    assert_int_equal(load(NULL, envp, NULL, 0, &cfg, NULL), WDTS_OK);
    wdts_cfg_apply_logging(cfg);
    assert_int_equal(wdts_log_level_for("sched"), WDTS_LOGLVL_WARN);
    assert_int_equal(wdts_log_level_for("kafka"), WDTS_LOGLVL_DEBUG);
    assert_int_equal(wdts_log_level_for("redis"), WDTS_LOGLVL_DEBUG);
    wdts_cfg_destroy(cfg);
    char *envp2[] = {"WDT_LOG_DEBUG=kafka;redis", NULL};
    assert_int_equal(load(NULL, envp2, NULL, 0, &cfg, NULL), WDTS_ERR_CONFIG);
    wdts_log_setup(WDTS_LOGLVL_INFO, WDTS_LOGFMT_JSON, NULL);
}

/* Every row's env name is the key mapped the documented way, and help lists every row. */
static void test_env_names_and_help(void **state)
{
    (void)state;
    struct wdts_buf md, help;
    wdts_buf_init(&md);
    wdts_buf_init(&help);
    wdts_cfg_markdown(&md);
    wdts_cfg_help(&help);
    int rows = 0;
    const char *p = wdts_buf_str(&md);
    while ((p = strstr(p, "\n| `")) != NULL) {
        p += 4;
        size_t klen = strcspn(p, "`");
        char *key = wdts_xstrndup(p, klen);
        const char *q = strstr(p, "| `");
        assert_non_null(q);
        q += 3;
        char *env = wdts_xstrndup(q, strcspn(q, "`"));
        struct wdts_buf want;
        wdts_buf_init(&want);
        wdts_buf_append_str(&want, "WDT_");
        for (const char *k = key; *k; k++) {
            char c = *k == '.' ? '_' : (char)(*k >= 'a' && *k <= 'z' ? *k - 32 : *k);
            wdts_buf_append(&want, &c, 1);
        }
        assert_string_equal(env, wdts_buf_str(&want));
        assert_non_null(strstr(wdts_buf_str(&help), key));
        assert_non_null(strstr(wdts_buf_str(&help), env));
        /* and the loader knows it under both names */
        char *kv = wdts_xasprintf("%s=", key);
        const char *over[] = {kv};
        struct wdts_cfg *cfg = NULL;
        struct wdts_buf errs;
        wdts_buf_init(&errs);
        load(NULL, NULL, over, 1, &cfg, &errs);
        assert_null(strstr(wdts_buf_str(&errs), "unknown key"));
        wdts_cfg_destroy(cfg);
        wdts_buf_deinit(&errs);
        free(kv);
        wdts_buf_deinit(&want);
        free(key);
        free(env);
        rows++;
    }
    assert_int_equal(rows, 41);
    assert_non_null(strstr(wdts_buf_str(&help),
                           "scheduler.backfill           WDT_SCHEDULER_BACKFILL           "
                           "duration 0s..3650d  [default: 90d]"));
    assert_non_null(strstr(wdts_buf_str(&help), "enum error|warn|info|debug  [default: info]"));
    wdts_buf_deinit(&md);
    wdts_buf_deinit(&help);
}

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    struct wdts_buf buf;
    wdts_buf_init(&buf);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        wdts_buf_append(&buf, chunk, n);
    fclose(fp);
    wdts_buf_append(&buf, "", 0);
    return wdts_buf_steal(&buf);
}

static void test_config_md_is_fresh(void **state)
{
    (void)state;
    const char *path = WDTS_SOURCE_DIR "/deploy/CONFIG.md";
    struct wdts_buf md;
    wdts_buf_init(&md);
    wdts_cfg_markdown(&md);
    char *committed = read_all(path);
    if (committed == NULL || strcmp(committed, wdts_buf_str(&md)) != 0) {
        free(committed);
        wdts_buf_deinit(&md);
        fail_msg("%s is out of date with the table in common/config/cfg.c; update it with:\n"
                 "  cmake --build build && build/tests/test_cfg --write-config-md %s",
                 path, path);
    }
    free(committed);
    wdts_buf_deinit(&md);
}

static int write_config_md(const char *path)
{
    struct wdts_buf md;
    wdts_buf_init(&md);
    wdts_cfg_markdown(&md);
    FILE *fp = fopen(path, "wb");
    int ok = fp != NULL && fwrite(md.data, 1, md.len, fp) == md.len;
    if (fp != NULL && fclose(fp) != 0)
        ok = 0;
    wdts_buf_deinit(&md);
    if (!ok) {
        perror(path);
        return 1;
    }
    printf("wrote %s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-config-md") == 0)
        return write_config_md(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--write-config-md PATH]\n", argv[0]);
        return 64;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_file_format),
        cmocka_unit_test(test_all_errors_listed_at_once),
        cmocka_unit_test(test_every_error_kind),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_bool_and_enum),
        cmocka_unit_test(test_string_checks),
        cmocka_unit_test(test_secret_files),
        cmocka_unit_test(test_dump_redacts),
        cmocka_unit_test(test_kafka_passthrough),
        cmocka_unit_test(test_apply_logging),
        cmocka_unit_test(test_env_names_and_help),
        cmocka_unit_test(test_config_md_is_fresh),
        cmocka_unit_test(test_catalog_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
