/* The Redis fixture: the test Redis of WDT_TEST_REDIS_URL under this run's key prefix, a
 * cmocka group's connection to it, the environment wdtctl reads it from, and a
 * redis-server of a test's own (for restarts and flushes the shared one must not see). */
#ifndef WDTS_TEST_REDIS_H
#define WDTS_TEST_REDIS_H

#include <stddef.h>
#include <sys/types.h>

struct wdts_redis;
struct wdts_redis_params;

/**
 * The test Redis from WDT_TEST_REDIS_URL (skip or fail as wdts_test_require_env() when
 * unset), with wdts_test_prefix() as the key prefix; exits 1 on a malformed URL.
 */
void wdts_test_redis_params(struct wdts_redis_params *params);

/**
 * A connection to url (NULL: WDT_TEST_REDIS_URL) with key prefix prefix (NULL: none).
 * @returns a new handle (wdts_redis_destroy()), or NULL with the reason in es.
 */
struct wdts_redis *wdts_test_redis_connect(const char *url, const char *prefix, char *es,
                                           size_t es_size);

/**
 * A cmocka group on the test Redis: fills *params (wdts_test_redis_params()) now; then
 * wdts_test_redis_group_setup connects *redis and wdts_test_redis_group_teardown closes it
 * (pass them to cmocka_run_group_tests). @owner params, redis: borrowed for the program.
 */
void wdts_test_redis_group(struct wdts_redis_params *params, struct wdts_redis **redis);
int wdts_test_redis_group_setup(void **state);
int wdts_test_redis_group_teardown(void **state);

/**
 * The environment wdtctl and the daemons read their store from: WDT_REDIS_URL (the test
 * Redis), WDT_REDIS_PREFIX "<run prefix><name>:" (copied into prefix) and a random
 * WDT_SECRET_KEY. @returns 0, or -1 when no random key could be made.
 */
int wdts_test_store_env(const char *name, char *prefix, size_t prefix_size);

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

#endif
