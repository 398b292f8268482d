/* Commit errors during a rebalance are retryable: with an own wdt-localkafka (error
 * injection is cluster-wide, so not on the shared one), OffsetCommit is made to fail
 * with REBALANCE_IN_PROGRESS and ILLEGAL_GENERATION; the wrapper must answer
 * WDTS_ERR_AGAIN, and retrying after polling must commit every stored offset. Also:
 * an injected retriable Produce error is absorbed by the idempotent producer. */
#include "wdts_test.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/kafka.h"
#include "wdts/time.h"

#define TOPIC "retry.test"
#define PARTS 3
#define MSGS 30

static char dir[] = "/tmp/wdts-0103.XXXXXX";
static char boot[4096];
static pid_t kafka_pid = -1;

static char boot_path[256], ctl_path[256], log_path[256];

/* Reads a whole small file into buf (NUL-terminated); returns its length or -1. */
static ssize_t read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return n;
}

static int start_kafka(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(boot_path, sizeof(boot_path), "%s/boot", dir);
    snprintf(ctl_path, sizeof(ctl_path), "%s/ctl", dir);
    snprintf(log_path, sizeof(log_path), "%s/log", dir);
    const char *bin = wdts_test_bin("wdt-localkafka");
    kafka_pid = fork();
    if (kafka_pid < 0)
        return -1;
    if (kafka_pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        char *argv[] = {(char *)bin, "--brokers", "3", "--topic", TOPIC ":3",
                        "--bootstrap-file", boot_path, "--control", ctl_path, NULL};
        execv(bin, argv);
        _exit(127);
    }
    for (int i = 0; i < 400; i++) {
        if (read_file(boot_path, boot, sizeof(boot)) > 0) {
            boot[strcspn(boot, "\n")] = '\0';
            return 0;
        }
        if (waitpid(kafka_pid, NULL, WNOHANG) == kafka_pid) {
            kafka_pid = -1;
            fprintf(stderr, "wdt-localkafka (%s) exited at start\n", bin);
            return -1;
        }
        usleep(50000);
    }
    fprintf(stderr, "wdt-localkafka wrote no bootstrap file in 20 s\n");
    return -1;
}

static int stop_kafka(void **state)
{
    (void)state;
    int rc = 0;
    if (kafka_pid > 0) {
        int st = 0;
        kill(kafka_pid, SIGTERM);
        int64_t deadline = wdts_time_mono_ms() + 10000;
        while (waitpid(kafka_pid, &st, WNOHANG) == 0) {
            if (wdts_time_mono_ms() > deadline) {
                kill(kafka_pid, SIGKILL);
                waitpid(kafka_pid, &st, 0);
                break;
            }
            usleep(20000);
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "wdt-localkafka did not exit 0 on SIGTERM\n");
            rc = -1;
        }
        kafka_pid = -1;
    }
    unlink(log_path);
    rmdir(dir);
    return rc;
}

/* Sends one control line and waits until the log shows the answer text. */
static void control(const char *line, const char *answer)
{
    int fd = open(ctl_path, O_WRONLY | O_NONBLOCK);
    assert_true(fd >= 0);
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "%s\n", line);
    assert_int_equal(write(fd, buf, (size_t)n), n);
    close(fd);
    static char logbuf[1 << 16];
    for (int i = 0; i < 200; i++) {
        if (read_file(log_path, logbuf, sizeof(logbuf)) > 0 && strstr(logbuf, answer))
            return;
        usleep(25000);
    }
    fail_msg("no answer '%s' to control line '%s'", answer, line);
}

static void test_commit_again_then_ok(void **state)
{
    (void)state;
    char es[512];
    struct wdts_param pp[] = {{"bootstrap.servers", boot}};
    struct wdts_kafka_producer *prod = wdts_kafka_producer_new(pp, 1, NULL, NULL, es, sizeof(es));
    assert_non_null(prod);
    for (int i = 0; i < MSGS; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        struct wdts_kafka_out m = {.topic = TOPIC,
                                   .partition = WDTS_KAFKA_PARTITION_ANY,
                                   .key = key,
                                   .key_len = strlen(key),
                                   .value = key,
                                   .value_len = strlen(key)};
        assert_int_equal(wdts_kafka_produce(prod, &m), WDTS_OK);
    }
    assert_int_equal(wdts_kafka_producer_flush(prod, 30000), WDTS_OK);

    /* Two NOT_LEADER answers to Produce: librdkafka retries, the report is still good. */
    control("error Produce NOT_LEADER_FOR_PARTITION 2", "error Produce NOT_LEADER_FOR_PARTITION 2: ok");
    struct wdts_kafka_out m = {.topic = TOPIC, .partition = 0, .value = "x", .value_len = 1};
    assert_int_equal(wdts_kafka_produce_sync(prod, &m, 30000, NULL, NULL), WDTS_OK);
    wdts_kafka_producer_destroy(prod);
    const int total = MSGS + 1;

    struct wdts_param cp[] = {{"bootstrap.servers", boot}, {"group.id", "retry-group"}};
    struct wdts_kafka_consumer *cons = wdts_kafka_consumer_new(cp, 2, NULL, NULL, es, sizeof(es));
    assert_non_null(cons);
    const char *topics[] = {TOPIC};
    assert_int_equal(wdts_kafka_consumer_subscribe(cons, topics, 1), WDTS_OK);
    int got = 0;
    int64_t deadline = wdts_time_mono_ms() + 60000;
    while (got < total && wdts_time_mono_ms() < deadline) {
        struct wdts_kafka_msg *msg = NULL;
        if (wdts_kafka_consumer_poll(cons, 200, &msg) != WDTS_OK || msg == NULL)
            continue;
        got++;
        assert_int_equal(wdts_kafka_consumer_store_msg(cons, msg), WDTS_OK);
        wdts_kafka_msg_destroy(msg);
    }
    assert_int_equal(got, total);

    /* First the stored offsets, then explicit ones (the high watermarks). Nothing new
     * would be sent for stored offsets already committed, so the second round uses
     * the explicit form, which is always sent. */
    static const char *const errs[] = {"REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION"};
    struct wdts_kafka_tp tps[PARTS];
    for (int p = 0; p < PARTS; p++) {
        int64_t lo, hi;
        assert_int_equal(wdts_kafka_consumer_watermarks(cons, TOPIC, p, &lo, &hi, 10000), WDTS_OK);
        tps[p] = (struct wdts_kafka_tp){.topic = TOPIC, .partition = p, .offset = hi};
    }
    for (int e = 0; e < 2; e++) {
        char line[128], answer[128];
        const struct wdts_kafka_tp *list = e == 0 ? NULL : tps;
        size_t nlist = e == 0 ? 0 : PARTS;
        snprintf(line, sizeof(line), "error OffsetCommit %s", errs[e]);
        snprintf(answer, sizeof(answer), "error OffsetCommit %s 1: ok", errs[e]);
        control(line, answer);
        wdts_err_t err = wdts_kafka_consumer_commit(cons, list, nlist);
        fprintf(stderr, "%s commit with %s injected: %s: %s\n", e == 0 ? "stored" : "explicit",
                errs[e], wdts_err2str(err), wdts_kafka_consumer_errstr(cons));
        assert_int_equal(err, WDTS_ERR_AGAIN);
        assert_true(wdts_err_is_retriable(err));
        assert_non_null(strstr(wdts_kafka_consumer_errstr(cons), "rebalance"));
        int tries = 0;
        deadline = wdts_time_mono_ms() + 60000;
        while (err == WDTS_ERR_AGAIN && wdts_time_mono_ms() < deadline) {
            struct wdts_kafka_msg *msg = NULL;
            wdts_kafka_consumer_poll(cons, 200, &msg);
            assert_null(msg); /* everything was read */
            err = wdts_kafka_consumer_commit(cons, list, nlist);
            tries++;
        }
        fprintf(stderr, "  then %s after %d more tries\n", wdts_err2str(err), tries);
        assert_int_equal(err, WDTS_OK);
    }

    /* Every message is committed: lag 0 on every partition, offsets sum to total. */
    struct wdts_kafka_lag lag[PARTS];
    size_t n = 0;
    assert_int_equal(wdts_kafka_consumer_lag(cons, TOPIC, lag, PARTS, &n, 10000), WDTS_OK);
    assert_int_equal(n, PARTS);
    int64_t sum = 0;
    for (int p = 0; p < PARTS; p++) {
        assert_int_equal(lag[p].lag, 0);
        assert_int_equal(lag[p].committed, lag[p].high);
        sum += lag[p].committed;
    }
    assert_int_equal(sum, total);
    assert_int_equal(wdts_kafka_consumer_close(cons), WDTS_OK);
    wdts_kafka_consumer_destroy(cons);
}

int main(void)
{
    /* Needs no shared service, but runs with the others so the same switch applies. */
    wdts_test_require_env("WDT_TEST_KAFKA_BROKERS");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_again_then_ok),
    };
    return cmocka_run_group_tests(tests, start_kafka, stop_kafka);
}
