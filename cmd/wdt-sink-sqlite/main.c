/* wdt-sink-sqlite: the reference downstream consumer. Wiring only: command line →
 * config (kafka.*, topic.records, sink.*) → logging → signals → sink_run(). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink.h"
#include "wdts/cfg.h"
#include "wdts/err.h"
#include "wdts/log.h"
#include "wdts/secret.h"
#include "wdts/mem.h"
#include "wdts/str.h"

extern char **environ;

#define MAX_TOPICS 16
#define MAX_SETS 64

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *out)
{
    fputs(
        "usage: wdt-sink-sqlite --db PATH [--group ID] [--topics T1,T2] [--once-idle SECONDS]\n"
        "                       [--http HOST:PORT] [--config FILE] [--set key=value]...\n"
        "                       [--help] [--help-config]\n"
        "\n"
        "Reads record envelopes and window markers (docs/CONSUMERS.md) from the records topic\n"
        "in a consumer group of its own and upserts them into SQLite: one table per report,\n"
        "the latest version of each record by `modified`, markers in `windows`, malformed\n"
        "messages in `rejects`, counters in `sink_stats`. Offsets are committed only after\n"
        "the SQLite transaction that holds the messages has committed.\n"
        "\n"
        "  --db PATH             SQLite file, created when absent (config sink.db)\n"
        "  --group ID            consumer group (config sink.group, default wdt-sink-sqlite)\n"
        "  --topics LIST         comma-separated topics (config topic.records, default\n"
        "                        wdt.records)\n"
        "  --once-idle SECONDS   exit 0 once no message came for SECONDS (tests, the demo)\n"
        "  --http HOST:PORT      serve /metrics, /healthz, /readyz there (off by default, so\n"
        "                        it never takes the port of a worker on the same host)\n"
        "  --config FILE         properties file (else $WDT_CONFIG_FILE)\n"
        "  --set key=value       a config override, e.g. --set kafka.bootstrap.servers=host:9092\n"
        "  --help-config         every setting, its environment variable and default\n"
        "\n"
        "Kafka: kafka.<property> / WDT_KAFKA_<PROPERTY> (bootstrap.servers at least).\n"
        "SIGTERM/SIGINT: commit the open transaction and its offsets, leave the group, exit 0.\n"
        "Exit: 0 done, 1 fatal (SQLite or Kafka; logged), 64 usage, 78 configuration.\n",
        out);
}

/* The value of an option at argv[*i] ("--opt VALUE" or "--opt=VALUE"); NULL if absent. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "wdt-sink-sqlite: %s needs a value (see --help)\n", name);
        exit(WDTS_EXIT_USAGE);
    }
    return argv[++*i];
}

int main(int argc, char **argv)
{
    char perr[256];
    /* before any secret is read: no core dump, no ptrace by others */
    if (wdts_secret_protect_process(perr, sizeof(perr)) != WDTS_OK)
        fprintf(stderr, "wdt-sink-sqlite: warning: %s\n", perr);
    const char *db = NULL, *group = NULL, *topics_arg = NULL, *config = NULL, *idle = NULL;
    const char *http = NULL;
    const char *sets[MAX_SETS];
    size_t nsets = 0;
    const char *v;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return WDTS_EXIT_OK;
        }
        if (strcmp(argv[i], "--help-config") == 0) {
            struct wdts_buf b;
            wdts_buf_init(&b);
            wdts_cfg_help(&b);
            fputs(wdts_buf_str(&b), stdout);
            wdts_buf_deinit(&b);
            return WDTS_EXIT_OK;
        }
        if ((v = opt_value(argc, argv, &i, "--db")) != NULL)
            db = v;
        else if ((v = opt_value(argc, argv, &i, "--group")) != NULL)
            group = v;
        else if ((v = opt_value(argc, argv, &i, "--topics")) != NULL)
            topics_arg = v;
        else if ((v = opt_value(argc, argv, &i, "--once-idle")) != NULL)
            idle = v;
        else if ((v = opt_value(argc, argv, &i, "--http")) != NULL)
            http = v;
        else if ((v = opt_value(argc, argv, &i, "--config")) != NULL)
            config = v;
        else if ((v = opt_value(argc, argv, &i, "--set")) != NULL) {
            if (nsets == MAX_SETS) {
                fprintf(stderr, "wdt-sink-sqlite: at most %d --set options\n", MAX_SETS);
                return WDTS_EXIT_USAGE;
            }
            sets[nsets++] = v;
        } else {
            fprintf(stderr, "wdt-sink-sqlite: unknown argument '%s' (see --help)\n", argv[i]);
            return WDTS_EXIT_USAGE;
        }
    }
    if (group != NULL && *group == '\0') {
        fprintf(stderr, "wdt-sink-sqlite: --group wants a consumer group name, not ''\n");
        return WDTS_EXIT_USAGE;
    }
    long long once_idle = 0;
    if (idle != NULL && wdts_parse_int(idle, 1, 86400, &once_idle) != WDTS_OK) {
        fprintf(stderr,
                "wdt-sink-sqlite: --once-idle wants whole seconds from 1 to 86400, "
                "not '%s'\n",
                idle);
        return WDTS_EXIT_USAGE;
    }

    struct wdts_cfg *cfg = NULL;
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    struct wdts_cfg_opts copts = {
        .file = config, .envp = environ, .overrides = sets, .overrides_cnt = nsets};
    if (wdts_cfg_load(&copts, &cfg, &errs) != WDTS_OK) {
        fputs(wdts_buf_str(&errs), stderr);
        wdts_buf_deinit(&errs);
        return WDTS_EXIT_CONFIG;
    }
    wdts_buf_deinit(&errs);
    wdts_log_set_prog("wdt-sink-sqlite");
    wdts_cfg_apply_logging(cfg);

    int rc = WDTS_EXIT_CONFIG;
    char *topics_copy = wdts_xstrdup(topics_arg ? topics_arg : cfg->topic_records);
    const char *topics[MAX_TOPICS];
    size_t ntopics = 0;
    if (db == NULL)
        db = cfg->sink_db;
    if (db == NULL || *db == '\0') {
        fprintf(stderr, "wdt-sink-sqlite: no database: pass --db PATH (or set WDT_SINK_DB)\n");
        goto out;
    }
    int has_bootstrap = 0;
    for (size_t i = 0; i < cfg->kafka_cnt; i++)
        has_bootstrap |= strcmp(cfg->kafka[i].key, "bootstrap.servers") == 0;
    if (!has_bootstrap) {
        fprintf(stderr, "wdt-sink-sqlite: kafka.bootstrap.servers is not set: set "
                        "WDT_KAFKA_BOOTSTRAP_SERVERS=host:port or --set "
                        "kafka.bootstrap.servers=host:port\n");
        goto out;
    }
    /* Split the comma-separated list in place (no strtok: empty items are errors). */
    for (char *p = topics_copy; p != NULL;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p == '\0' || ntopics == MAX_TOPICS) {
            fprintf(stderr, "wdt-sink-sqlite: --topics wants 1-%d comma-separated names\n",
                    MAX_TOPICS);
            rc = WDTS_EXIT_USAGE;
            goto out;
        }
        topics[ntopics++] = p;
        p = comma ? comma + 1 : NULL;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sink_opts opts = {
        .db_path = db,
        .group = group ? group : cfg->sink_group,
        .topics = topics,
        .ntopics = ntopics,
        .kafka = cfg->kafka,
        .kafka_cnt = cfg->kafka_cnt,
        .catalog_path = cfg->catalog_path,
        .once_idle_s = (int)once_idle,
        .batch_max = cfg->sink_batch_max,
        .batch_ms = (int)cfg->sink_batch_time_ms,
        .http_listen = http,
        .stop = &stop_flag,
    };
    rc = sink_run(&opts);
out:
    free(topics_copy);
    wdts_cfg_destroy(cfg);
    return rc;
}
