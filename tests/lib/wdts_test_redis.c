/* The Redis fixture (see wdts_test_redis.h). */
#include "wdts_test_redis.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/crypto.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts_test.h"

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


struct wdts_redis *wdts_test_redis_connect(const char *url, const char *prefix, char *es,
                                           size_t es_size)
{
    struct wdts_redis_params params;
    wdts_redis_params_init(&params);
    if (url == NULL)
        url = wdts_test_require_env("WDT_TEST_REDIS_URL");
    if (wdts_redis_params_from_url(&params, url, es, es_size) != WDTS_OK)
        return NULL;
    if (prefix)
        wdts_strlcpy(params.prefix, prefix, sizeof(params.prefix));
    return wdts_redis_new(&params, es, es_size);
}

/* The group's handles (wdts_test_redis_group()). */
static struct wdts_redis_params *group_params;
static struct wdts_redis **group_redis;

void wdts_test_redis_group(struct wdts_redis_params *params, struct wdts_redis **redis)
{
    wdts_test_redis_params(params);
    group_params = params;
    group_redis = redis;
}

int wdts_test_redis_group_setup(void **state)
{
    (void)state;
    char e[256] = "";
    *group_redis = wdts_redis_new(group_params, e, sizeof(e));
    if (*group_redis == NULL) {
        fprintf(stderr, "connect: %s\n", e);
        return -1;
    }
    return 0;
}

int wdts_test_redis_group_teardown(void **state)
{
    (void)state;
    wdts_redis_destroy(*group_redis);
    *group_redis = NULL;
    return 0;
}

int wdts_test_store_env(const char *name, char *prefix, size_t prefix_size)
{
    const char *url = wdts_test_require_env("WDT_TEST_REDIS_URL");
    unsigned char key[WDTS_CRYPTO_KEY_LEN];
    char hex[2 * WDTS_CRYPTO_KEY_LEN + 1];
    snprintf(prefix, prefix_size, "%s%s:", wdts_test_prefix(), name);
    if (wdts_crypto_random(key, sizeof(key)) != WDTS_OK)
        return -1;
    wdts_hex_lower(key, sizeof(key), hex);
    setenv("WDT_REDIS_URL", url, 1);
    setenv("WDT_REDIS_PREFIX", prefix, 1);
    setenv("WDT_SECRET_KEY", hex, 1);
    return 0;
}
