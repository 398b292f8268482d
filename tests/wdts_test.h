/* Helpers shared by the tests (cmocka does the asserting and the reporting).
 * Integration tests get their services from the environment that tests/run.sh
 * sets; without it they exit 77 (skipped), and with WDT_TEST_NO_SKIP=1 a missing
 * service is a failure instead. */
#ifndef WDTS_TEST_H
#define WDTS_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

/** The value of env var name, or exit 77 (skip) / 1 (WDT_TEST_NO_SKIP=1) when unset. */
const char *wdts_test_require_env(const char *name);
/** A prefix unique to this test run ("t<pid>-<random>-"), for keys and topic names. */
const char *wdts_test_prefix(void);

/** The result of running a program to completion. */
struct wdts_test_run {
    int status;      /* exit code, or 128 + signal number */
    char *out;       /* stdout, NUL-terminated; free() it */
    char *err;       /* stderr, NUL-terminated; free() it */
};

/**
 * Runs argv (argv[0] is a path) with optional stdin text, waits at most timeout_s.
 * @returns 0 when it ran; the program's own failure is in run->status.
 */
int wdts_test_run(char *const argv[], const char *stdin_text, int timeout_s,
                  struct wdts_test_run *run);
void wdts_test_run_free(struct wdts_test_run *run);

struct wdts_redis_params;
/**
 * The test Redis from WDT_TEST_REDIS_URL (skip or fail as wdts_test_require_env() when
 * unset), with wdts_test_prefix() as the key prefix; exits 1 on a malformed URL.
 */
void wdts_test_redis_params(struct wdts_redis_params *params);

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
int wdts_test_unused_port(void);

/** A redis-server of a test's own (AOF on, fsync always); it never outlives the test. */
struct wdts_test_redis_server {
    pid_t pid; /* 0 when not running */
    int port;
};

/**
 * Starts redis-server on srv->port with its files in dir, plus extra arguments (a
 * NULL-terminated list, or NULL), and waits until params connects (20 s at most).
 * @returns 0, or -1 with the reason on stderr (the log is dir/redis.log).
 */
int wdts_test_redis_server_start(struct wdts_test_redis_server *srv, const char *dir,
                                 const struct wdts_redis_params *params,
                                 const char *const *extra);
/** Sends sig to the server and reaps it; a no-op when it is not running. */
void wdts_test_redis_server_kill(struct wdts_test_redis_server *srv, int sig);
/** Removes a test's temporary directory tree. */
void wdts_test_rmtree(const char *dir);

/** Path of a built program: WDTS_BIN_DIR "/" name (static buffer). */
const char *wdts_test_bin(const char *name);

#endif
