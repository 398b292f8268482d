/* The coordination state across Redis restarts, on a redis-server of this test's own
 * (free port, temp dir, AOF with fsync always). After a SIGKILL and a restart on the
 * same data, the watermark, waiting windows, window lock, cooldown and lease are all
 * still there and the scripts (lost from the cache) run again after one reconnect.
 * After a restart that lost the data, nothing is guessed: the watermark reports
 * "uninit", while new fencing tokens and lease epochs are still above the old ones. */
#include "wdts_test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/lease.h"
#include "wdts/limit.h"
#include "wdts/lock.h"
#include "wdts/redis.h"
#include "wdts/time.h"
#include "wdts/watermark.h"

static struct {
    pid_t pid;
    int port;
    char dir[2][256]; /* [0] the data that survives, [1] an empty one (data lost) */
} srv;
static struct wdts_redis_params params;
static char es[512];

static int unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        perror("unused_port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts redis-server on srv.port with its data in dir; waits until it answers. */
static int server_start(const char *dir)
{
    char port[16], log[300];
    snprintf(port, sizeof(port), "%d", srv.port);
    snprintf(log, sizeof(log), "%s/redis.log", dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir",
               dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--logfile",
               log, "--daemonize", "no", (char *)NULL);
        fprintf(stderr, "exec redis-server: %s (install the redis-server package)\n",
                strerror(errno));
        _exit(127);
    }
    srv.pid = pid;
    char e[256] = "";
    int64_t deadline = wdts_time_mono_ms() + 20000;
    while (wdts_time_mono_ms() < deadline) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            srv.pid = 0;
            fprintf(stderr, "redis-server exited at startup (status %d); see %s\n", st, log);
            return -1;
        }
        struct wdts_redis *redis = wdts_redis_new(&params, e, sizeof(e));
        if (redis) {
            wdts_redis_destroy(redis);
            return 0;
        }
        usleep(20000);
    }
    fprintf(stderr, "redis-server did not answer within 20 s: %s\n", e);
    return -1;
}

static void server_kill(int sig)
{
    if (srv.pid > 0) {
        kill(srv.pid, sig);
        waitpid(srv.pid, NULL, 0);
        srv.pid = 0;
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* After a restart the old socket is dead: the first call fails, reconnect heals it. */
static void reconnect(struct wdts_redis *redis)
{
    (void)wdts_redis_commandl(redis, NULL, "PING", NULL);
    if (wdts_redis_reconnect(redis) != WDTS_OK)
        fail_msg("reconnect: %s", redis->errstr);
}

static void test_state_across_restarts(void **state)
{
    (void)state;
    struct wdts_redis *redis = wdts_redis_new(&params, es, sizeof(es));
    assert_non_null(redis);
    struct wdts_wm_id id = {"conn-r", "trades"};
    struct wdts_wm_state st;
    struct wdts_wm_result r;
    struct wdts_lock_grant g;
    struct wdts_limit_cfg cfg;
    struct wdts_limit_id lid = {"wdt", "sid-r", "key-r"};
    struct wdts_limit_start ls;
    struct wdts_limit_finish lf;
    struct wdts_lease_state lease;
    wdts_limit_cfg_init(&cfg);
    cfg.cooldown_base_ms = 60000;

    /* before: a watermark at 60 with [120, 180) waiting, a held lock on [60, 120), a
     * cooldown and a scheduler lease */
    assert_int_equal(wdts_wm_init(redis, &id, 0, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(wdts_lock_acquire(redis, &id, 0, 60, "w0", 60000, &g, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_wm_complete(redis, &id, 0, 60, g.fence, 0, &r, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_lock_acquire(redis, &id, 120, 180, "w2", 60000, &g, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_wm_complete(redis, &id, 120, 180, g.fence, 0, &r, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(r.status, WDTS_WM_PENDING);
    struct wdts_lock_grant a;
    assert_int_equal(wdts_lock_acquire(redis, &id, 60, 120, "holder-a", 60000, &a, es,
                                       sizeof(es)),
                     WDTS_OK);
    assert_int_equal(a.acquired, 1);
    assert_int_equal(wdts_limit_try_start(redis, &lid, &cfg, "call-1", &ls, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(ls.go, 1);
    assert_int_equal(wdts_limit_finish(redis, &lid, &cfg, "call-1", ls.now_us,
                                       WDTS_LIMIT_OUTCOME_LIMITED, &lf, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(lf.cooldown_ms, 60000);
    assert_int_equal(wdts_lease_acquire(redis, "scheduler", "sched-1", "lease-1", 60000, &lease,
                                        es, sizeof(es)),
                     WDTS_OK);
    long long epoch1 = lease.epoch;

    /* the server is killed and comes back on the same data */
    server_kill(SIGKILL);
    assert_int_equal(server_start(srv.dir[0]), 0);
    reconnect(redis);

    assert_int_equal(wdts_wm_get(redis, &id, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.initialized, 1);
    assert_int_equal(st.wm, 60);
    assert_int_equal(st.pending, 1);
    /* the lock is still A's: a redelivered copy does not get it */
    assert_int_equal(wdts_lock_acquire(redis, &id, 60, 120, "holder-b", 60000, &g, es,
                                       sizeof(es)),
                     WDTS_OK);
    assert_int_equal(g.acquired, 0);
    /* A finishes: the watermark jumps over the waiting window */
    assert_int_equal(wdts_wm_complete(redis, &id, 60, 120, a.fence, 0, &r, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(r.status, WDTS_WM_ADVANCED);
    assert_int_equal(r.wm, 180);
    /* the cooldown holds every pod back still */
    assert_int_equal(wdts_limit_try_start(redis, &lid, &cfg, "call-2", &ls, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(ls.go, 0);
    assert_int_equal(ls.reason, WDTS_LIMIT_COOLDOWN);
    assert_true(ls.wait_ms > 30000 && ls.wait_ms <= 60000);
    /* the scheduler lease is still held */
    assert_int_equal(wdts_lease_acquire(redis, "scheduler", "sched-2", "lease-2", 60000, &lease,
                                        es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(lease.held, 0);
    assert_string_equal(lease.holder, "sched-1");

    /* the server comes back with its data lost */
    server_kill(SIGKILL);
    assert_int_equal(server_start(srv.dir[1]), 0);
    reconnect(redis);
    assert_int_equal(wdts_wm_get(redis, &id, &st, es, sizeof(es)), WDTS_OK);
    assert_int_equal(st.initialized, 0);
    /* a completion is refused rather than restarting the watermark somewhere */
    assert_int_equal(wdts_wm_complete(redis, &id, 180, 240, a.fence, 0, &r, es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(r.status, WDTS_WM_UNINIT);
    /* tokens issued now are above every token issued before */
    assert_int_equal(wdts_lock_acquire(redis, &id, 60, 120, "holder-b", 60000, &g, es,
                                       sizeof(es)),
                     WDTS_OK);
    assert_int_equal(g.acquired, 1);
    assert_true(g.fence > a.fence);
    assert_int_equal(wdts_lease_acquire(redis, "scheduler", "sched-2", "lease-2", 60000, &lease,
                                        es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(lease.held, 1);
    assert_true(lease.epoch > epoch1);
    wdts_redis_destroy(redis);
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        snprintf(srv.dir[i], sizeof(srv.dir[i]), "/tmp/wdts-0805-XXXXXX");
        if (mkdtemp(srv.dir[i]) == NULL) {
            perror("mkdtemp");
            return -1;
        }
    }
    srv.port = unused_port();
    wdts_redis_params_init(&params);
    params.port = srv.port;
    wdts_strlcpy(params.prefix, wdts_test_prefix(), sizeof(params.prefix));
    return server_start(srv.dir[0]);
}

static int teardown(void **state)
{
    (void)state;
    server_kill(SIGTERM);
    for (int i = 0; i < 2; i++)
        if (srv.dir[i][0])
            nftw(srv.dir[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

int main(void)
{
    /* Runs under tests/run.sh like the other Redis tests, which also provides redis-server. */
    (void)wdts_test_require_env("WDT_TEST_REDIS_URL");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_across_restarts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
