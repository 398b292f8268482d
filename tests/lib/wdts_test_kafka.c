/* The Kafka fixture (see wdts_test_kafka.h). */
#include "wdts_test_kafka.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/kafka.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts_test.h"

/* Writes one line (with its newline) to a local Kafka's control FIFO. */
static void control_line(const char *ctl, const char *line)
{
    int fd = open(ctl, O_WRONLY | O_NONBLOCK);
    assert_true(fd >= 0);
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);
    assert_int_equal(write(fd, buf, (size_t)n), n);
    close(fd);
}

void wdts_test_kafka_create_topic(const char *ctl, const char *topic, int parts)
{
    char line[240];
    snprintf(line, sizeof(line), "create %s %d", topic, parts);
    control_line(ctl, line);
}

struct wdts_kafka_producer *wdts_test_kafka_producer(const char *brokers, const char *linger_ms)
{
    char es[512];
    struct wdts_param pp[] = {{"bootstrap.servers", brokers}, {"linger.ms", linger_ms}};
    struct wdts_kafka_producer *prod =
        wdts_kafka_producer_new(pp, linger_ms ? 2 : 1, NULL, NULL, es, sizeof(es));
    if (prod == NULL)
        fprintf(stderr, "producer: %s\n", es);
    assert_non_null(prod);
    return prod;
}

int64_t wdts_test_kafka_committed_sum(const char *brokers, const char *group, const char *topic,
                                      int parts)
{
    char es[512];
    struct wdts_param cp[] = {{"bootstrap.servers", brokers}, {"group.id", group}};
    struct wdts_kafka_consumer *cons = wdts_kafka_consumer_new(cp, 2, NULL, NULL, es, sizeof(es));
    assert_non_null(cons);
    struct wdts_kafka_tp tps[64];
    assert_true(parts <= 64);
    for (int p = 0; p < parts; p++)
        tps[p] = (struct wdts_kafka_tp){.topic = topic, .partition = p, .offset = 0};
    assert_int_equal(wdts_kafka_consumer_committed(cons, tps, (size_t)parts, 15000), WDTS_OK);
    int64_t sum = 0;
    for (int p = 0; p < parts; p++)
        if (tps[p].offset >= 0)
            sum += tps[p].offset;
    wdts_kafka_consumer_close(cons);
    wdts_kafka_consumer_destroy(cons);
    return sum;
}

int wdts_test_kafka_partitions(const char *brokers, const char *topic)
{
    char es[512];
    struct wdts_param cp[] = {{"bootstrap.servers", brokers}, {"group.id", "sink-test-meta"}};
    struct wdts_kafka_consumer *cons = wdts_kafka_consumer_new(cp, 2, NULL, NULL, es, sizeof(es));
    assert_non_null(cons);
    int n = 0;
    assert_int_equal(wdts_kafka_consumer_partition_count(cons, topic, &n, 15000), WDTS_OK);
    wdts_kafka_consumer_close(cons);
    wdts_kafka_consumer_destroy(cons);
    return n;
}

int wdts_test_own_kafka_start(struct wdts_test_own_kafka *k, int brokers, const char *topic_spec)
{
    memset(k, 0, sizeof(*k));
    snprintf(k->dir, sizeof(k->dir), "/tmp/wdts-own-kafka.XXXXXX");
    if (mkdtemp(k->dir) == NULL)
        return -1;
    char boot_path[160], nbrokers[16];
    snprintf(boot_path, sizeof(boot_path), "%s/boot", k->dir);
    snprintf(k->ctl, sizeof(k->ctl), "%s/ctl", k->dir);
    snprintf(k->log, sizeof(k->log), "%s/log", k->dir);
    snprintf(nbrokers, sizeof(nbrokers), "%d", brokers);
    char *bin = wdts_xstrdup(wdts_test_bin("wdt-localkafka"));
    k->pid = fork();
    if (k->pid < 0) {
        free(bin);
        return -1;
    }
    if (k->pid == 0) {
        int fd = open(k->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        char *argv[] = {bin,       "--brokers", nbrokers, "--topic", (char *)topic_spec,
                        "--bootstrap-file", boot_path, "--control", k->ctl, NULL};
        execv(bin, argv);
        _exit(127);
    }
    for (int i = 0; i < 400; i++) {
        char *b = wdts_test_slurp(boot_path);
        b[strcspn(b, "\n")] = '\0';
        wdts_strlcpy(k->boot, b, sizeof(k->boot));
        free(b);
        if (k->boot[0]) {
            free(bin);
            return 0;
        }
        if (waitpid(k->pid, NULL, WNOHANG) == k->pid) {
            k->pid = 0;
            fprintf(stderr, "wdt-localkafka (%s) exited at start\n", bin);
            free(bin);
            return -1;
        }
        usleep(50 * 1000);
    }
    fprintf(stderr, "wdt-localkafka wrote no bootstrap file in 20 s\n");
    free(bin);
    return -1;
}

void wdts_test_own_kafka_control(struct wdts_test_own_kafka *k, const char *line,
                                 const char *answer)
{
    control_line(k->ctl, line);
    if (!wdts_test_wait_file_has(k->log, answer, 10))
        fail_msg("no answer '%s' to '%s'", answer, line);
}

int wdts_test_own_kafka_stop(struct wdts_test_own_kafka *k)
{
    int rc = -1;
    if (k->pid > 0) {
        rc = wdts_test_stop_child(k->pid, SIGTERM, 20000, NULL);
        k->pid = 0;
    }
    char path[160];
    snprintf(path, sizeof(path), "%s/boot", k->dir);
    unlink(path);
    unlink(k->ctl);
    unlink(k->log);
    rmdir(k->dir);
    return rc;
}
