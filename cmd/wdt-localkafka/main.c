/* wdt-localkafka: the local Kafka for development and tests. It runs librdkafka's
 * mock cluster (librdkafka 2.0.2, rdkafka_mock.h) in its own process, creates the
 * topics it is told to, publishes the bootstrap list, takes control commands from a
 * FIFO and stops on SIGTERM/SIGINT. It is not a real broker: see deploy/local/KAFKA.md
 * for what the mock cannot do (retention, persistence, admin API, fixed ports). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "wdts/err.h"
#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/str.h"

#define LK_MAX_BROKERS 32
#define LK_MAX_PARTITIONS 10000
#define LK_MAX_TOPIC_LEN 249
#define LK_LINE_MAX 1024

static const char usage_text[] =
    "usage: wdt-localkafka [--brokers N] [--topic NAME:PARTITIONS[:RF]]...\n"
    "                      [--bootstrap-file PATH] [--control PATH] [--debug CONTEXTS] [--help]\n"
    "\n"
    "Runs a local Kafka (librdkafka's mock cluster) on 127.0.0.1 until SIGTERM or SIGINT.\n"
    "\n"
    "  --brokers N                  number of brokers, ids 1..N (default 3, at most 32)\n"
    "  --topic NAME:PARTITIONS[:RF] create a topic (repeatable); RF (1..N) is checked but the\n"
    "                               mock ignores it: replicas are always min(3, N) brokers\n"
    "  --bootstrap-file PATH        write the bootstrap list to PATH (atomically; removed on exit)\n"
    "  --control PATH               create a FIFO at PATH and read commands from it, one per line:\n"
    "                                 create TOPIC PARTITIONS [RF]   create a topic\n"
    "                                 down BROKER_ID|all             refuse connections\n"
    "                                 up BROKER_ID|all               accept connections again\n"
    "                                 rtt BROKER_ID|all MS           add MS ms of round-trip time\n"
    "                                 leader TOPIC PARTITION BROKER_ID  move a partition's leader\n"
    "                                 error REQUEST ERROR [COUNT]    the next COUNT (1) requests\n"
    "                                   of that type fail, e.g. error OffsetCommit\n"
    "                                   REBALANCE_IN_PROGRESS (cluster-wide: every client)\n"
    "                                 clear REQUEST                  drop errors not yet used\n"
    "                               e.g. echo 'down 2' > PATH; each answer is logged on stdout\n"
    "  --debug CONTEXTS             librdkafka debug contexts (e.g. broker,protocol or all)\n"
    "  --help                       print this text\n"
    "\n"
    "The bootstrap list is printed on stdout as a line of its own, then a 'ready' log line;\n"
    "log lines go to stdout too. Exit status: 0 after SIGTERM/SIGINT, 64 bad usage, 1 failure.\n"
    "\n"
    "Limits of the mock (librdkafka 2.0.2), so design tests around them:\n"
    "  - each partition keeps only about 5 MB (or 100,000 batches); older data is pruned\n"
    "    silently and a lagging consumer jumps ahead (OFFSET_OUT_OF_RANGE): use many partitions\n"
    "  - memory only: topics, data, groups and committed offsets vanish when it exits\n"
    "  - brokers listen on random ports: read the address from --bootstrap-file\n"
    "  - no admin API (CreateTopics, DescribeGroups, ...): create topics here; topics that\n"
    "    clients auto-create get 4 partitions\n"
    "  - the first consumer-group join takes at least 3 s; use session.timeout.ms >= 4000\n"
    "  - a broker set down keeps leading its partitions (no failover): use 'leader'\n"
    "  - transactions only go through the motions; no offsets-for-times; PLAINTEXT only\n";

/** One topic this process created; partition counts let 'leader' check its input. */
struct lk_topic {
    char *name;
    int partitions;
    int rf;
};

struct lk {
    int brokers;
    struct lk_topic *topics;
    size_t ntopics;
    const char *bootfile;
    const char *ctlpath;
    const char *debug;
    int ctl_created;   /* 1 when this process made the FIFO (so it removes it) */
    int ctl_fd;        /* -1 without --control */
    char line[LK_LINE_MAX];
    size_t line_len;
    int line_too_long; /* discarding an overlong line up to its newline */
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
};

static void lk_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void lk_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("wdt-localkafka: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nrun 'wdt-localkafka --help' for usage\n", stderr);
    exit(WDTS_EXIT_USAGE);
}

/** Kafka topic names: 1..249 of [A-Za-z0-9._-], not "." or "..". */
static int lk_topic_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > LK_MAX_TOPIC_LEN || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static struct lk_topic *lk_topic_find(struct lk *lk, const char *name)
{
    for (size_t i = 0; i < lk->ntopics; i++)
        if (strcmp(lk->topics[i].name, name) == 0)
            return &lk->topics[i];
    return NULL;
}

static void lk_topic_add(struct lk *lk, const char *name, int partitions, int rf)
{
    lk->topics = wdts_xrealloc(lk->topics, (lk->ntopics + 1) * sizeof(*lk->topics));
    lk->topics[lk->ntopics].name = wdts_xstrdup(name);
    lk->topics[lk->ntopics].partitions = partitions;
    lk->topics[lk->ntopics].rf = rf;
    lk->ntopics++;
}

static int lk_default_rf(int brokers)
{
    return brokers < 3 ? brokers : 3;
}

/* The 2.0.2 mock ignores the replication factor it is given: every partition gets
 * replicas on brokers 1..min(3, N). Said in each answer so nobody relies on RF. */
static const char *lk_rf_note(const struct lk *lk)
{
    return lk->brokers >= 3 ? "the mock always places 3 replicas, on brokers 1-3"
                            : "the mock always places one replica per broker";
}

/* Checks a topic spec's parts; on failure writes the reason into errstr. rf_s may be NULL. */
static int lk_topic_check(const struct lk *lk, const char *name, const char *parts_s,
                          const char *rf_s, int *parts, int *rf, char *errstr, size_t errstr_size)
{
    long long v;
    if (!lk_topic_name_ok(name)) {
        snprintf(errstr, errstr_size,
                 "bad topic name '%s': use 1 to %d characters of a-z A-Z 0-9 . _ -", name,
                 LK_MAX_TOPIC_LEN);
        return -1;
    }
    if (wdts_parse_int(parts_s, 1, LK_MAX_PARTITIONS, &v) != WDTS_OK) {
        snprintf(errstr, errstr_size, "bad partition count '%s' for topic %s: use 1 to %d",
                 parts_s, name, LK_MAX_PARTITIONS);
        return -1;
    }
    *parts = (int)v;
    *rf = lk_default_rf(lk->brokers);
    if (rf_s) {
        if (wdts_parse_int(rf_s, 1, lk->brokers, &v) != WDTS_OK) {
            snprintf(errstr, errstr_size,
                     "bad replication factor '%s' for topic %s: use 1 to %d (the broker count)",
                     rf_s, name, lk->brokers);
            return -1;
        }
        *rf = (int)v;
    }
    return 0;
}

/* --topic NAME:PARTITIONS[:RF]; checked once the broker count is known. */
static void lk_parse_topic_arg(struct lk *lk, const char *arg)
{
    char errstr[512];
    char *copy = wdts_xstrdup(arg);
    char *c1 = strchr(copy, ':');
    if (c1 == NULL) {
        free(copy);
        lk_usage_error("--topic '%s': expected NAME:PARTITIONS[:RF], e.g. wdt.jobs:12", arg);
    }
    *c1 = '\0';
    char *c2 = strchr(c1 + 1, ':');
    if (c2)
        *c2 = '\0';
    int parts = 0, rf = 0;
    if (lk_topic_check(lk, copy, c1 + 1, c2 ? c2 + 1 : NULL, &parts, &rf, errstr,
                       sizeof(errstr)) != 0) {
        free(copy);
        lk_usage_error("--topic '%s': %s", arg, errstr);
    }
    if (lk_topic_find(lk, copy)) {
        free(copy);
        lk_usage_error("--topic '%s': topic given twice", arg);
    }
    lk_topic_add(lk, copy, parts, rf);
    free(copy);
}

static void lk_parse_args(struct lk *lk, int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"bootstrap-file", required_argument, NULL, 'f'},
        {"control", required_argument, NULL, 'c'},
        {"debug", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char **topic_args = wdts_xcalloc((size_t)argc + 1, sizeof(*topic_args));
    size_t ntopic_args = 0;
    long long v;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (wdts_parse_int(optarg, 1, LK_MAX_BROKERS, &v) != WDTS_OK)
                lk_usage_error("--brokers '%s': expected a number from 1 to %d", optarg,
                               LK_MAX_BROKERS);
            lk->brokers = (int)v;
            break;
        case 't':
            topic_args[ntopic_args++] = optarg;
            break;
        case 'f':
            if (!*optarg)
                lk_usage_error("--bootstrap-file: the path is empty");
            lk->bootfile = optarg;
            break;
        case 'c':
            if (!*optarg)
                lk_usage_error("--control: the path is empty");
            lk->ctlpath = optarg;
            break;
        case 'd':
            lk->debug = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            exit(WDTS_EXIT_OK);
        case ':':
            lk_usage_error("%s needs a value", argv[optind - 1]);
        default:
            lk_usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        lk_usage_error("unexpected argument '%s' (options only)", argv[optind]);
    /* Topics are checked after --brokers, wherever it appears, because RF depends on it. */
    for (size_t i = 0; i < ntopic_args; i++)
        lk_parse_topic_arg(lk, topic_args[i]);
    free(topic_args);
}

/* librdkafka's log lines (from its own threads) into our log; WDTS_LOG is thread-safe. */
static void lk_rd_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* Our anchor handle has no bootstrap.servers on purpose; its warning only confuses. */
    if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "bootstrap.servers"))
        return;
    if (level <= LOG_ERR)
        WDTS_LOG(ERROR, "kafka", "librdkafka %s: %s", fac, buf);
    else if (level == LOG_WARNING)
        WDTS_LOG(WARN, "kafka", "librdkafka %s: %s", fac, buf);
    else if (level <= LOG_INFO)
        WDTS_LOG(INFO, "kafka", "librdkafka %s: %s", fac, buf);
    else
        WDTS_LOG(DEBUG, "kafka", "librdkafka %s: %s", fac, buf);
}

/* Writes the bootstrap list to a temp file next to path, then renames it over path,
 * so a reader that sees the file non-empty always sees the whole list. */
static int lk_write_bootfile(const char *path, const char *boot)
{
    char *tmp = wdts_xasprintf("%s.tmp.%d", path, (int)getpid());
    int rc = -1;
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        WDTS_LOG(ERROR, "kafka",
                 "cannot write the bootstrap file %s: %s (check that its directory exists and "
                 "is writable, or choose another --bootstrap-file)",
                 tmp, strerror(errno));
        goto out;
    }
    int werr = fprintf(f, "%s\n", boot) < 0;
    if (fclose(f) != 0 || werr) {
        WDTS_LOG(ERROR, "kafka", "cannot write the bootstrap file %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        WDTS_LOG(ERROR, "kafka", "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    return rc;
}

/* Creates the FIFO if it is absent and opens it O_RDWR|O_NONBLOCK: holding a write end
 * ourselves means poll() never reports a hang-up when a writer goes away, and reads
 * never block the signal handling. */
static int lk_open_control(struct lk *lk)
{
    struct stat st;
    if (lstat(lk->ctlpath, &st) == 0) {
        if (!S_ISFIFO(st.st_mode)) {
            WDTS_LOG(ERROR, "kafka",
                     "--control %s exists and is not a FIFO: remove it or choose another path",
                     lk->ctlpath);
            return -1;
        }
    } else if (errno == ENOENT) {
        if (mkfifo(lk->ctlpath, 0600) != 0) {
            WDTS_LOG(ERROR, "kafka", "cannot create the control FIFO %s: %s", lk->ctlpath,
                     strerror(errno));
            return -1;
        }
        lk->ctl_created = 1;
    } else {
        WDTS_LOG(ERROR, "kafka", "cannot use --control %s: %s", lk->ctlpath, strerror(errno));
        return -1;
    }
    lk->ctl_fd = open(lk->ctlpath, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (lk->ctl_fd < 0) {
        WDTS_LOG(ERROR, "kafka", "cannot open the control FIFO %s: %s", lk->ctlpath,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* A broker id argument: 1..N, or "all" (-1: every broker). */
static int lk_parse_broker(const struct lk *lk, const char *s, int32_t *id, char *errstr,
                           size_t errstr_size)
{
    long long v;
    if (strcmp(s, "all") == 0) {
        *id = -1;
        return 0;
    }
    if (wdts_parse_int(s, 1, lk->brokers, &v) != WDTS_OK) {
        snprintf(errstr, errstr_size, "bad broker id '%s': use 1 to %d or 'all'", s, lk->brokers);
        return -1;
    }
    *id = (int32_t)v;
    return 0;
}

/* Request types the mock handles (Kafka protocol ApiKey numbers), for 'error'. */
static const struct {
    const char *name;
    int16_t key;
} lk_api_keys[] = {
    {"Produce", 0},         {"Fetch", 1},          {"ListOffsets", 2},   {"Metadata", 3},
    {"OffsetCommit", 8},    {"OffsetFetch", 9},    {"FindCoordinator", 10},
    {"JoinGroup", 11},      {"Heartbeat", 12},     {"LeaveGroup", 13},   {"SyncGroup", 14},
    {"ApiVersions", 18},    {"InitProducerId", 22}, {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25}, {"EndTxn", 26},        {"TxnOffsetCommit", 28},
};

static int lk_parse_api_key(const char *s, int16_t *key)
{
    long long v;
    for (size_t i = 0; i < sizeof(lk_api_keys) / sizeof(lk_api_keys[0]); i++)
        if (strcasecmp(s, lk_api_keys[i].name) == 0) {
            *key = lk_api_keys[i].key;
            return 0;
        }
    if (wdts_parse_int(s, 0, 100, &v) != WDTS_OK)
        return -1;
    *key = (int16_t)v;
    return 0;
}

/* An error by librdkafka name (REBALANCE_IN_PROGRESS, _TRANSPORT) or number. */
static int lk_parse_kafka_err(const char *s, rd_kafka_resp_err_t *err)
{
    const struct rd_kafka_err_desc *descs;
    size_t n;
    long long v;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++)
        if (descs[i].name && strcasecmp(s, descs[i].name) == 0) {
            *err = descs[i].code;
            return 0;
        }
    if (wdts_parse_int(s, -200, 200, &v) != WDTS_OK || v == 0)
        return -1;
    *err = (rd_kafka_resp_err_t)v;
    return 0;
}

#define LK_MAX_WORDS 5
#define LK_MAX_INJECT 100

/* create TOPIC PARTITIONS [RF] */
static void lk_cmd_create(struct lk *lk, const char *cmd, char **w, int n)
{
    (void)cmd;
    char errstr[512];
    rd_kafka_resp_err_t err;
    int parts, rf;
    if (n < 3 || n > 4) {
        WDTS_LOG(WARN, "kafka", "create: error: usage: create TOPIC PARTITIONS [RF]");
        return;
    }
    if (lk_topic_check(lk, w[1], w[2], n == 4 ? w[3] : NULL, &parts, &rf, errstr,
                       sizeof(errstr)) != 0) {
        WDTS_LOG(WARN, "kafka", "create %s: error: %s", w[1], errstr);
        return;
    }
    if (lk_topic_find(lk, w[1])) {
        WDTS_LOG(WARN, "kafka", "create %s: error: the topic already exists", w[1]);
        return;
    }
    err = rd_kafka_mock_topic_create(lk->mc, w[1], parts, rf);
    if (err) {
        WDTS_LOG(WARN, "kafka", "create %s: error: %s", w[1], rd_kafka_err2str(err));
        return;
    }
    lk_topic_add(lk, w[1], parts, rf);
    WDTS_LOG(INFO, "kafka", "create %s: ok, %d partitions (replication factor %d asked; %s)",
             w[1], parts, rf, lk_rf_note(lk));
}

/* down|up BROKER_ID|all */
static void lk_cmd_up_down(struct lk *lk, const char *cmd, char **w, int n)
{
    char errstr[512];
    rd_kafka_resp_err_t err;
    int32_t id;
    int down = cmd[0] == 'd';
    if (n != 2) {
        WDTS_LOG(WARN, "kafka", "%s: error: usage: %s BROKER_ID|all", cmd, cmd);
        return;
    }
    if (lk_parse_broker(lk, w[1], &id, errstr, sizeof(errstr)) != 0) {
        WDTS_LOG(WARN, "kafka", "%s: error: %s", cmd, errstr);
        return;
    }
    err = down ? rd_kafka_mock_broker_set_down(lk->mc, id)
               : rd_kafka_mock_broker_set_up(lk->mc, id);
    if (err) {
        WDTS_LOG(WARN, "kafka", "%s %s: error: %s", cmd, w[1], rd_kafka_err2str(err));
        return;
    }
    WDTS_LOG(INFO, "kafka", "%s %s: ok, %s %s", cmd, w[1],
             id < 0 ? "every broker" : "the broker",
             down ? "refuses connections (its partitions keep it as leader)"
                  : "accepts connections");
}

/* rtt BROKER_ID|all MS */
static void lk_cmd_rtt(struct lk *lk, const char *cmd, char **w, int n)
{
    (void)cmd;
    char errstr[512];
    rd_kafka_resp_err_t err;
    int32_t id;
    long long v;
    if (n != 3) {
        WDTS_LOG(WARN, "kafka", "rtt: error: usage: rtt BROKER_ID|all MS");
        return;
    }
    if (lk_parse_broker(lk, w[1], &id, errstr, sizeof(errstr)) != 0) {
        WDTS_LOG(WARN, "kafka", "rtt: error: %s", errstr);
        return;
    }
    if (wdts_parse_int(w[2], 0, 600000, &v) != WDTS_OK) {
        WDTS_LOG(WARN, "kafka", "rtt: error: bad delay '%s': use 0 to 600000 ms", w[2]);
        return;
    }
    err = rd_kafka_mock_broker_set_rtt(lk->mc, id, (int)v);
    if (err) {
        WDTS_LOG(WARN, "kafka", "rtt %s: error: %s", w[1], rd_kafka_err2str(err));
        return;
    }
    WDTS_LOG(INFO, "kafka", "rtt %s %lld: ok", w[1], v);
}

/* leader TOPIC PARTITION BROKER_ID */
static void lk_cmd_leader(struct lk *lk, const char *cmd, char **w, int n)
{
    (void)cmd;
    char errstr[512];
    rd_kafka_resp_err_t err;
    int32_t id;
    long long v;
    if (n != 4) {
        WDTS_LOG(WARN, "kafka", "leader: error: usage: leader TOPIC PARTITION BROKER_ID");
        return;
    }
    /* The mock would auto-create an unknown topic here, so only ours are allowed. */
    struct lk_topic *t = lk_topic_find(lk, w[1]);
    if (t == NULL) {
        WDTS_LOG(WARN, "kafka",
                 "leader %s: error: unknown topic; only topics made with --topic or "
                 "'create' can be changed",
                 w[1]);
        return;
    }
    if (wdts_parse_int(w[2], 0, t->partitions - 1, &v) != WDTS_OK) {
        WDTS_LOG(WARN, "kafka", "leader %s: error: bad partition '%s': use 0 to %d", w[1],
                 w[2], t->partitions - 1);
        return;
    }
    if (lk_parse_broker(lk, w[3], &id, errstr, sizeof(errstr)) != 0 || id < 0) {
        WDTS_LOG(WARN, "kafka", "leader %s: error: bad broker id '%s': use 1 to %d", w[1],
                 w[3], lk->brokers);
        return;
    }
    err = rd_kafka_mock_partition_set_leader(lk->mc, w[1], (int32_t)v, id);
    if (err) {
        WDTS_LOG(WARN, "kafka", "leader %s %lld: error: %s", w[1], v, rd_kafka_err2str(err));
        return;
    }
    WDTS_LOG(INFO, "kafka", "leader %s %lld %d: ok", w[1], v, (int)id);
}

/* error REQUEST ERROR [COUNT] | clear REQUEST */
static void lk_cmd_error_clear(struct lk *lk, const char *cmd, char **w, int n)
{
    int16_t api;
    int inject = cmd[0] == 'e';
    rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    long long cnt = 1;
    if ((inject && (n < 3 || n > 4)) || (!inject && n != 2)) {
        WDTS_LOG(WARN, "kafka", "%s: error: usage: %s", cmd,
                 inject ? "error REQUEST ERROR [COUNT]" : "clear REQUEST");
        return;
    }
    if (lk_parse_api_key(w[1], &api) != 0) {
        WDTS_LOG(WARN, "kafka",
                 "%s: error: unknown request type '%s': use a name (Produce, Fetch, "
                 "OffsetCommit, JoinGroup, Heartbeat, SyncGroup, ...) or its ApiKey number",
                 cmd, w[1]);
        return;
    }
    if (!inject) {
        rd_kafka_mock_clear_request_errors(lk->mc, api);
        WDTS_LOG(INFO, "kafka", "clear %s: ok", w[1]);
        return;
    }
    if (lk_parse_kafka_err(w[2], &kerr) != 0) {
        WDTS_LOG(WARN, "kafka",
                 "error: error: unknown error '%s': use a librdkafka error name without "
                 "RD_KAFKA_RESP_ERR_ (REBALANCE_IN_PROGRESS, _TRANSPORT) or its number",
                 w[2]);
        return;
    }
    if (n == 4 && wdts_parse_int(w[3], 1, LK_MAX_INJECT, &cnt) != WDTS_OK) {
        WDTS_LOG(WARN, "kafka", "error: error: bad count '%s': use 1 to %d", w[3],
                 LK_MAX_INJECT);
        return;
    }
    rd_kafka_resp_err_t errs[LK_MAX_INJECT];
    for (long long i = 0; i < cnt; i++)
        errs[i] = kerr;
    rd_kafka_mock_push_request_errors_array(lk->mc, api, (size_t)cnt, errs);
    WDTS_LOG(INFO, "kafka", "error %s %s %lld: ok, the next %lld %s requests fail with %s",
             w[1], w[2], cnt, cnt, w[1], rd_kafka_err2name(kerr));
}

/* Runs one control line and logs its answer ("CMD: ok ..." or "CMD: error: ..."). */
static void lk_command(struct lk *lk, char *line)
{
    static const struct {
        const char *name;
        void (*run)(struct lk *lk, const char *cmd, char **w, int n);
    } cmds[] = {
        {"create", lk_cmd_create}, {"down", lk_cmd_up_down},  {"up", lk_cmd_up_down},
        {"rtt", lk_cmd_rtt},       {"leader", lk_cmd_leader}, {"error", lk_cmd_error_clear},
        {"clear", lk_cmd_error_clear},
    };
    char *w[LK_MAX_WORDS + 1];
    int n = 0;
    char *save = NULL;
    char *tok;

    for (tok = strtok_r(line, " \t\r", &save); tok && n <= LK_MAX_WORDS;
         tok = strtok_r(NULL, " \t\r", &save))
        w[n++] = tok;
    if (n == 0 || w[0][0] == '#')
        return;
    const char *cmd = w[0];
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(cmd, cmds[i].name) == 0) {
            cmds[i].run(lk, cmd, w, n);
            return;
        }
    }
    WDTS_LOG(WARN, "kafka",
             "unknown command '%s': use create TOPIC PARTITIONS [RF] | down ID | up ID | "
             "rtt ID MS | leader TOPIC PARTITION ID | error REQUEST ERROR [COUNT] | "
             "clear REQUEST",
             cmd);
}

/* Reads what is available on the FIFO and runs every complete line. */
static void lk_read_control(struct lk *lk)
{
    char chunk[4096];
    for (;;) {
        ssize_t r = read(lk->ctl_fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return; /* EAGAIN: drained (we hold a writer, so no EOF) */
        for (ssize_t i = 0; i < r; i++) {
            char ch = chunk[i];
            if (ch == '\n') {
                if (lk->line_too_long) {
                    WDTS_LOG(WARN, "kafka", "control line longer than %d bytes ignored",
                             LK_LINE_MAX - 1);
                } else {
                    lk->line[lk->line_len] = '\0';
                    lk_command(lk, lk->line);
                }
                lk->line_len = 0;
                lk->line_too_long = 0;
            } else if (lk->line_len + 1 >= sizeof(lk->line)) {
                lk->line_too_long = 1;
            } else if (!lk->line_too_long) {
                lk->line[lk->line_len++] = ch;
            }
        }
    }
}

/* SIGTERM and SIGINT, blocked before any librdkafka thread exists so every thread
 * inherits the mask and the signals are only ever taken from the returned signalfd.
 * @returns the signalfd, or -1 after logging why. */
static int lk_signals(void)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) {
        WDTS_LOG(ERROR, "kafka", "sigprocmask: %s", strerror(errno));
        return -1;
    }
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        WDTS_LOG(ERROR, "kafka", "signalfd: %s", strerror(errno));
    return sfd;
}

/* The mock cluster and the topics of --topic. @returns WDTS_EXIT_OK, or the exit code
 * after saying why. */
static int lk_start(struct lk *lk)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, lk_rd_log);
    if (lk->debug &&
        rd_kafka_conf_set(conf, "debug", lk->debug, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "wdt-localkafka: --debug '%s': %s\n", lk->debug, errstr);
        return WDTS_EXIT_USAGE;
    }
    /* The handle only anchors the cluster (it never produces); it takes conf. */
    lk->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (lk->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        WDTS_LOG(ERROR, "kafka", "cannot create the librdkafka handle: %s", errstr);
        return WDTS_EXIT_FATAL;
    }
    lk->mc = rd_kafka_mock_cluster_new(lk->rk, lk->brokers);
    if (lk->mc == NULL) {
        WDTS_LOG(ERROR, "kafka", "cannot start the mock cluster of %d brokers", lk->brokers);
        return WDTS_EXIT_FATAL;
    }
    for (size_t i = 0; i < lk->ntopics; i++) {
        struct lk_topic *t = &lk->topics[i];
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(lk->mc, t->name, t->partitions, t->rf);
        if (err) {
            WDTS_LOG(ERROR, "kafka", "cannot create topic %s: %s", t->name,
                     rd_kafka_err2str(err));
            return WDTS_EXIT_FATAL;
        }
    }
    return WDTS_EXIT_OK;
}

/* Serves the control FIFO until SIGTERM or SIGINT. @returns the exit code. */
static int lk_serve(struct lk *lk, int sfd)
{
    for (;;) {
        struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {lk->ctl_fd, POLLIN, 0}};
        int r = poll(pfd, lk->ctl_fd >= 0 ? 2 : 1, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            WDTS_LOG(ERROR, "kafka", "poll: %s", strerror(errno));
            return WDTS_EXIT_FATAL;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                WDTS_LOG(INFO, "kafka", "%s: stopping",
                         si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
                return WDTS_EXIT_OK;
            }
        }
        if (lk->ctl_fd >= 0 && (pfd[1].revents & POLLIN))
            lk_read_control(lk);
    }
}

int main(int argc, char **argv)
{
    struct lk lk = {.brokers = 3, .ctl_fd = -1};
    int rc = WDTS_EXIT_FATAL;
    int sfd = -1;

    lk_parse_args(&lk, argc, argv);
    wdts_log_set_prog("wdt-localkafka");
    wdts_log_setup(WDTS_LOGLVL_INFO, WDTS_LOGFMT_TEXT, lk.debug ? "kafka" : NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);

    if ((sfd = lk_signals()) < 0 || (lk.ctlpath && lk_open_control(&lk) != 0) ||
        (rc = lk_start(&lk)) != WDTS_EXIT_OK)
        goto out; /* rc: 1, or 64 for a bad --debug */
    rc = WDTS_EXIT_FATAL;
    const char *boot = rd_kafka_mock_cluster_bootstraps(lk.mc);
    if (lk.bootfile && lk_write_bootfile(lk.bootfile, boot) != 0)
        goto out;
    printf("%s\n", boot);
    WDTS_LOG(INFO, "kafka", "ready: %d brokers at %s, %zu topics created%s%s", lk.brokers, boot,
             lk.ntopics, lk.ctlpath ? ", control FIFO " : "", lk.ctlpath ? lk.ctlpath : "");
    for (size_t i = 0; i < lk.ntopics; i++)
        WDTS_LOG(INFO, "kafka", "topic %s: %d partitions (replication factor %d asked; %s)",
                 lk.topics[i].name, lk.topics[i].partitions, lk.topics[i].rf, lk_rf_note(&lk));
    rc = lk_serve(&lk, sfd);
out:
    if (lk.mc)
        rd_kafka_mock_cluster_destroy(lk.mc);
    if (lk.rk)
        rd_kafka_destroy(lk.rk);
    if (lk.bootfile && lk.mc)
        unlink(lk.bootfile); /* the address dies with us; never leave a stale one */
    if (lk.ctl_fd >= 0)
        close(lk.ctl_fd);
    if (lk.ctl_created)
        unlink(lk.ctlpath);
    if (sfd >= 0)
        close(sfd);
    for (size_t i = 0; i < lk.ntopics; i++)
        free(lk.topics[i].name);
    free(lk.topics);
    if (rc == WDTS_EXIT_OK)
        WDTS_LOG(INFO, "kafka", "stopped");
    return rc;
}
