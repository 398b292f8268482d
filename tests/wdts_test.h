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

/** Path of a built program: WDTS_BIN_DIR "/" name (static buffer). */
const char *wdts_test_bin(const char *name);

#endif
