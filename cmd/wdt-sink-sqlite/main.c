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
#include "wdts/mem.h"
#include "wdts/prog.h"
#include "wdts/str.h"

extern char **environ;

#define MAX_TOPICS 16
#define MAX_SETS 64

static volatile sig_atomic_t stop_flag;

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

/* The command line, as given: the values are borrowed from argv. */
struct sink_args {
    const char *db, *group, *topics, *config, *http;
    const char *sets[MAX_SETS];
    size_t nsets;
    long long once_idle;
};

/* @returns -1 to go on, or the exit code (after --help, or a usage error printed). */
static int parse_args(int argc, char **argv, struct sink_args *a)
{
    const char *v, *idle = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return WDTS_EXIT_OK;
        }
        if (strcmp(argv[i], "--help-config") == 0)
            return wdts_prog_help_config();
        if ((v = opt_value(argc, argv, &i, "--db")) != NULL)
            a->db = v;
        else if ((v = opt_value(argc, argv, &i, "--group")) != NULL)
            a->group = v;
        else if ((v = opt_value(argc, argv, &i, "--topics")) != NULL)
            a->topics = v;
        else if ((v = opt_value(argc, argv, &i, "--once-idle")) != NULL)
            idle = v;
        else if ((v = opt_value(argc, argv, &i, "--http")) != NULL)
            a->http = v;
        else if ((v = opt_value(argc, argv, &i, "--config")) != NULL)
            a->config = v;
        else if ((v = opt_value(argc, argv, &i, "--set")) != NULL) {
            if (a->nsets == MAX_SETS) {
                fprintf(stderr, "wdt-sink-sqlite: at most %d --set options\n", MAX_SETS);
                return WDTS_EXIT_USAGE;
            }
            a->sets[a->nsets++] = v;
        } else {
            fprintf(stderr, "wdt-sink-sqlite: unknown argument '%s' (see --help)\n", argv[i]);
            return WDTS_EXIT_USAGE;
        }
    }
    if (a->group != NULL && *a->group == '\0') {
        fprintf(stderr, "wdt-sink-sqlite: --group wants a consumer group name, not ''\n");
        return WDTS_EXIT_USAGE;
    }
    if (idle != NULL && wdts_parse_int(idle, 1, 86400, &a->once_idle) != WDTS_OK) {
        fprintf(stderr,
                "wdt-sink-sqlite: --once-idle wants whole seconds from 1 to 86400, "
                "not '%s'\n",
                idle);
        return WDTS_EXIT_USAGE;
    }
    return -1;
}

/* Splits the comma-separated list in place (no strtok: empty items are errors).
 * @returns 0, or the exit code after printing why. */
static int split_topics(char *list, const char **topics, size_t *ntopics)
{
    for (char *p = list; p != NULL;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p == '\0' || *ntopics == MAX_TOPICS) {
            fprintf(stderr, "wdt-sink-sqlite: --topics wants 1-%d comma-separated names\n",
                    MAX_TOPICS);
            return WDTS_EXIT_USAGE;
        }
        topics[(*ntopics)++] = p;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* The database and Kafka settings the sink cannot start without.
 * @returns 0, or the exit code after printing why. */
static int check_settings(const struct wdts_cfg *cfg, const char *db)
{
    if (db == NULL || *db == '\0') {
        fprintf(stderr, "wdt-sink-sqlite: no database: pass --db PATH (or set WDT_SINK_DB)\n");
        return WDTS_EXIT_CONFIG;
    }
    int has_bootstrap = 0;
    for (size_t i = 0; i < cfg->kafka_cnt; i++)
        has_bootstrap |= strcmp(cfg->kafka[i].key, "bootstrap.servers") == 0;
    if (!has_bootstrap) {
        fprintf(stderr, "wdt-sink-sqlite: kafka.bootstrap.servers is not set: set "
                        "WDT_KAFKA_BOOTSTRAP_SERVERS=host:port or --set "
                        "kafka.bootstrap.servers=host:port\n");
        return WDTS_EXIT_CONFIG;
    }
    return 0;
}

int main(int argc, char **argv)
{
    wdts_prog_protect("wdt-sink-sqlite");
    struct sink_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;

    struct wdts_cfg_opts copts = {
        .file = a.config, .envp = environ, .overrides = a.sets, .overrides_cnt = a.nsets};
    struct wdts_cfg *cfg = wdts_prog_cfg_load(&copts, NULL);
    if (cfg == NULL)
        return WDTS_EXIT_CONFIG;
    wdts_prog_logging(cfg, "wdt-sink-sqlite");

    char *topics_copy = wdts_xstrdup(a.topics ? a.topics : cfg->topic_records);
    const char *topics[MAX_TOPICS];
    size_t ntopics = 0;
    const char *db = a.db ? a.db : cfg->sink_db;
    if ((rc = check_settings(cfg, db)) != 0 ||
        (rc = split_topics(topics_copy, topics, &ntopics)) != 0)
        goto out;
    wdts_prog_on_stop(&stop_flag, 1);

    struct sink_opts opts = {
        .db_path = db,
        .group = a.group ? a.group : cfg->sink_group,
        .topics = topics,
        .ntopics = ntopics,
        .kafka = cfg->kafka,
        .kafka_cnt = cfg->kafka_cnt,
        .catalog_path = cfg->catalog_path,
        .once_idle_s = (int)a.once_idle,
        .batch_max = cfg->sink_batch_max,
        .batch_ms = (int)cfg->sink_batch_time_ms,
        .http_listen = a.http,
        .stop = &stop_flag,
    };
    rc = sink_run(&opts);
out:
    free(topics_copy);
    wdts_cfg_destroy(cfg);
    return rc;
}
