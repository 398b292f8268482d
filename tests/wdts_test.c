/* Test helpers (see wdts_test.h). */
#include "wdts_test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"

const char *wdts_test_require_env(const char *name)
{
    const char *v = getenv(name);
    if (v && *v)
        return v;
    const char *noskip = getenv("WDT_TEST_NO_SKIP");
    if (noskip && strcmp(noskip, "1") == 0) {
        fprintf(stderr, "FAIL: %s is not set (WDT_TEST_NO_SKIP=1: services are required)\n", name);
        exit(1);
    }
    fprintf(stderr, "SKIP: %s is not set; run tests/run.sh to start the services\n", name);
    exit(77);
}

const char *wdts_test_prefix(void)
{
    static char prefix[64];
    if (!prefix[0]) {
        srand((unsigned)(getpid() ^ time(NULL)));
        snprintf(prefix, sizeof(prefix), "t%d-%06x-", (int)getpid(), rand() & 0xffffff);
    }
    return prefix;
}

void wdts_test_redis_params(struct wdts_redis_params *params)
{
    const char *url = wdts_test_require_env("WDT_TEST_REDIS_URL");
    char e[256] = "";
    wdts_redis_params_init(params);
    if (wdts_redis_params_from_url(params, url, e, sizeof(e)) != WDTS_OK) {
        fprintf(stderr, "WDT_TEST_REDIS_URL: %s\n", e);
        exit(1);
    }
    wdts_strlcpy(params->prefix, wdts_test_prefix(), sizeof(params->prefix));
}

int wdts_test_unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        perror("wdts_test_unused_port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

int wdts_test_redis_server_start(struct wdts_test_redis_server *srv, const char *dir,
                                 const struct wdts_redis_params *params,
                                 const char *const *extra)
{
    char port[16], log[512];
    snprintf(port, sizeof(port), "%d", srv->port);
    snprintf(log, sizeof(log), "%s/redis.log", dir);
    const char *argv[40] = {"redis-server", "--port",       port,     "--bind",       "127.0.0.1",
                            "--dir",        dir,            "--save", "",             "--appendonly",
                            "yes",          "--appendfsync", "always", "--logfile",   log,
                            "--daemonize",  "no"};
    size_t n = 17;
    for (size_t i = 0; extra && extra[i] && n < 39; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test, even when it crashes */
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(devnull, 1);
        execvp("redis-server", (char *const *)argv);
        fprintf(stderr, "exec redis-server: %s (install the redis-server package)\n",
                strerror(errno));
        _exit(127);
    }
    srv->pid = pid;
    char es[256] = "";
    int64_t deadline = wdts_time_mono_ms() + 20000;
    while (wdts_time_mono_ms() < deadline) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            srv->pid = 0;
            fprintf(stderr, "redis-server exited at startup (status %d); see %s\n", st, log);
            return -1;
        }
        struct wdts_redis *redis = wdts_redis_new(params, es, sizeof(es));
        if (redis) {
            wdts_redis_destroy(redis);
            return 0;
        }
        usleep(20000);
    }
    fprintf(stderr, "redis-server did not answer within 20 s: %s\n", es);
    return -1;
}

void wdts_test_redis_server_kill(struct wdts_test_redis_server *srv, int sig)
{
    if (srv->pid > 0) {
        kill(srv->pid, sig);
        waitpid(srv->pid, NULL, 0);
        srv->pid = 0;
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void wdts_test_rmtree(const char *dir)
{
    if (dir && dir[0])
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *wdts_test_bin(const char *name)
{
    static char path[1024];
    const char *dir = getenv("WDTS_BIN_DIR");
#ifdef WDTS_BIN_DIR
    if (dir == NULL)
        dir = WDTS_BIN_DIR;
#endif
    if (dir == NULL)
        dir = "build/bin";
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

int wdts_test_run(char *const argv[], const char *stdin_text, int timeout_s,
                  struct wdts_test_run *run)
{
    int in[2], out[2], err[2];
    memset(run, 0, sizeof(*run));
    if (pipe(in) || pipe(out) || pipe(err))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(in[1]);
        close(out[0]);
        close(err[0]);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (stdin_text)
        (void)!write(in[1], stdin_text, strlen(stdin_text));
    close(in[1]);

    struct wdts_buf ob, eb;
    wdts_buf_init(&ob);
    wdts_buf_init(&eb);
    int64_t deadline = wdts_time_mono_ms() + (int64_t)timeout_s * 1000;
    int open_fds = 2;
    struct pollfd pfd[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    while (open_fds > 0) {
        int64_t left = deadline - wdts_time_mono_ms();
        if (left <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        if (poll(pfd, 2, (int)left) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char chunk[4096];
            ssize_t r = read(pfd[i].fd, chunk, sizeof(chunk));
            if (r <= 0) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
                open_fds--;
            } else {
                wdts_buf_append(i == 0 ? &ob : &eb, chunk, (size_t)r);
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (pfd[i].fd >= 0)
            close(pfd[i].fd);
    int st = 0;
    waitpid(pid, &st, 0);
    run->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    run->out = wdts_buf_steal(&ob);
    run->err = wdts_buf_steal(&eb);
    return 0;
}

void wdts_test_run_free(struct wdts_test_run *run)
{
    free(run->out);
    free(run->err);
    run->out = run->err = NULL;
}
