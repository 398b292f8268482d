/* The core of the test library (see wdts_test.h). */
#include "wdts_test.h"

#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wdts/mem.h"
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

void wdts_test_expect_run(const struct wdts_test_run *run, int status, const char *out_has,
                          const char *err_has)
{
    if (run->status != status || (out_has && strstr(run->out, out_has) == NULL) ||
        (err_has && strstr(run->err, err_has) == NULL))
        fail_msg("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stdout with: %s\nwant stderr "
                 "with: %s",
                 run->status, status, run->out, run->err, out_has ? out_has : "-",
                 err_has ? err_has : "-");
}

int wdts_test_run_bin(const char *name, const char *const *args, const char *stdin_text,
                      int timeout_s, struct wdts_test_run *run)
{
    char *argv[64];
    size_t n = 0;
    argv[n++] = wdts_xstrdup(wdts_test_bin(name));
    for (size_t i = 0; args && args[i] && n < 63; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    int rc = wdts_test_run(argv, stdin_text, timeout_s, run);
    free(argv[0]);
    assert_int_equal(rc, 0);
    return run->status;
}

struct json_t *wdts_test_run_json(const char *name, const char *const *args, int timeout_s)
{
    struct wdts_test_run run;
    if (wdts_test_run_bin(name, args, NULL, timeout_s, &run) != 0)
        fail_msg("%s: exit %d\n%s%s", name, run.status, run.out, run.err);
    json_error_t jerr;
    json_t *j = json_loads(run.out, 0, &jerr);
    if (j == NULL)
        fail_msg("%s: stdout is not JSON: %s\n%s", name, jerr.text, run.out);
    wdts_test_run_free(&run);
    return j;
}

void wdts_test_sleep_ms(long long ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int wdts_test_wait_exit(pid_t pid, int timeout_s)
{
    int64_t until = wdts_time_mono_ms() + (int64_t)timeout_s * 1000;
    int st;
    while (wdts_time_mono_ms() < until) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(50 * 1000);
    }
    return -1;
}

int wdts_test_stop_child(pid_t pid, int sig, int timeout_ms, int64_t *took_ms)
{
    int64_t t0 = wdts_time_mono_ms();
    int st = 0;
    kill(pid, sig);
    while (wdts_time_mono_ms() - t0 <= timeout_ms) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            if (took_ms)
                *took_ms = wdts_time_mono_ms() - t0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(10 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* Child processes a failing test must not leave behind: killed at exit (cmocka's fail
 * returns from the test function, so the normal stop calls are skipped). */
static pid_t tracked[32];
static size_t ntracked;

static void kill_tracked(void)
{
    for (size_t i = 0; i < ntracked; i++) {
        pid_t pid = tracked[i];
        /* only a child of ours that is still running: waitpid() answers 0 for it, and -1
         * for a number reaped already (perhaps reused by another process by now) */
        if (pid > 0 && waitpid(pid, NULL, WNOHANG) == 0 && kill(pid, SIGKILL) == 0)
            waitpid(pid, NULL, 0);
    }
}

void wdts_test_track_child(pid_t pid)
{
    if (ntracked == 0)
        atexit(kill_tracked);
    if (ntracked < sizeof(tracked) / sizeof(tracked[0]))
        tracked[ntracked++] = pid;
}

char *wdts_test_slurp(const char *path)
{
    struct wdts_buf b;
    char chunk[4096];
    wdts_buf_init(&b);
    wdts_buf_append_str(&b, "");
    FILE *fp = fopen(path, "r");
    if (fp) {
        size_t k;
        while ((k = fread(chunk, 1, sizeof(chunk), fp)) > 0)
            wdts_buf_append(&b, chunk, k);
        fclose(fp);
    }
    return wdts_buf_steal(&b);
}

int wdts_test_file_has(const char *path, const char *text)
{
    char *s = wdts_test_slurp(path);
    int found = strstr(s, text) != NULL;
    free(s);
    return found;
}

int wdts_test_wait_file_has(const char *path, const char *text, int timeout_s)
{
    int64_t until = wdts_time_mono_ms() + (int64_t)timeout_s * 1000;
    while (wdts_time_mono_ms() < until) {
        if (wdts_test_file_has(path, text))
            return 1;
        usleep(100 * 1000);
    }
    return 0;
}

void wdts_test_dump_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    if (f == NULL)
        return;
    fprintf(stderr, "---- %s\n", path);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fclose(f);
}

const char *wdts_test_write_file(const char *dir, const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The port of one "/readyz on port N" line, or -1. */
static int port_in(const char *line)
{
    static const char mark[] = "/readyz on port ";
    const char *p = strstr(line, mark);
    char num[16];
    long long v;
    if (p == NULL)
        return -1;
    p += strlen(mark);
    size_t n = strspn(p, "0123456789");
    if (n == 0 || n >= sizeof(num))
        return -1;
    memcpy(num, p, n);
    num[n] = '\0';
    return wdts_parse_int(num, 1, 65535, &v) == WDTS_OK ? (int)v : -1;
}

int wdts_test_logged_port(const char *log, int timeout_ms)
{
    int64_t until = wdts_time_mono_ms() + timeout_ms;
    for (;;) {
        FILE *f = fopen(log, "r");
        char line[4096];
        int port = -1;
        while (f && port < 0 && fgets(line, sizeof(line), f))
            port = port_in(line);
        if (f)
            fclose(f);
        if (port > 0 || wdts_time_mono_ms() >= until)
            return port;
        usleep(100000);
    }
}
