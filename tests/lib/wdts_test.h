/* The core of the test library (tests/lib/, cmocka does the asserting and the reporting):
 * services from the environment, this run's prefix, programs run to completion or in the
 * background, and the files they write. Integration tests get their services from the
 * environment that tests/run.sh sets; without it they exit 77 (skipped), and with
 * WDT_TEST_NO_SKIP=1 a missing service is a failure instead. The fixtures are in
 * wdts_test_<fixture>.h beside it (redis, kafka, http, sandbox, worker, sched, sink). */
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
/** Fails the test unless run exited with status and its stdout holds out_has and its
 * stderr err_has (each NULL: anything); the message shows both outputs. */
void wdts_test_expect_run(const struct wdts_test_run *run, int status, const char *out_has,
                          const char *err_has);

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
int wdts_test_unused_port(void);

/** Removes a test's temporary directory tree. */
void wdts_test_rmtree(const char *dir);

/** Path of a built program: $WDTS_BIN_DIR/name, else in the build tree the library was
 * built in (so a plain ctest run from any directory finds it). Static buffer. */
const char *wdts_test_bin(const char *name);

/**
 * Runs the built program name (wdts_test_bin()) with args (NULL-terminated, after the
 * program name) and optional stdin text; fails the test when it cannot run.
 * @returns the program's status (run->status); free run with wdts_test_run_free().
 */
int wdts_test_run_bin(const char *name, const char *const *args, const char *stdin_text,
                      int timeout_s, struct wdts_test_run *run);

/** Sleeps ms milliseconds (through signals). */
void wdts_test_sleep_ms(long long ms);
struct json_t;
/**
 * Runs the built program name with args (as wdts_test_run_bin()); fails the test unless
 * it exits 0 with JSON on stdout. @returns the parsed stdout; @owner new: json_decref().
 */
struct json_t *wdts_test_run_json(const char *name, const char *const *args, int timeout_s);

/** Waits at most timeout_s for the child pid. @returns its status (128+sig), or -1. */
int wdts_test_wait_exit(pid_t pid, int timeout_s);
/** Sends sig to the child pid and waits at most timeout_ms for it (took_ms, when not NULL,
 *  gets how long it took). @returns its status (128+sig), or -1 after killing it (SIGKILL). */
int wdts_test_stop_child(pid_t pid, int sig, int timeout_ms, int64_t *took_ms);
/** Kills pid at exit unless it has been reaped by then (a failed test skips its stops). */
void wdts_test_track_child(pid_t pid);

/** The whole of a file (new; free()), "" when missing. */
char *wdts_test_slurp(const char *path);
/** @returns 1 when a line of the file holds text, else 0 (also when it is missing). */
int wdts_test_file_has(const char *path, const char *text);
/** Waits at most timeout_s for text to appear in the file. @returns 1 when it did. */
int wdts_test_wait_file_has(const char *path, const char *text, int timeout_s);
/** Copies a file (a log) to stderr under a "---- path" line; nothing when missing. */
void wdts_test_dump_file(const char *path);
/** Writes text to dir/name; fails the test when it cannot. @returns the path (static buffer). */
const char *wdts_test_write_file(const char *dir, const char *name, const char *text);
/** The port of a "/readyz on port N" line of a program's log, waiting at most timeout_ms
 * for it. @returns the port, or -1. */
int wdts_test_logged_port(const char *log, int timeout_ms);

#endif
