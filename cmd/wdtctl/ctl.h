/* wdtctl subcommands: each takes the arguments after the program name (argv[0] is the
 * subcommand's own name) and returns the process exit code. */
#ifndef WDTCTL_CTL_H
#define WDTCTL_CTL_H

#include <stddef.h>
#include <stdio.h>

#include "wdts/crypto.h"
#include "wdts/err.h"
#include "wdts/limit.h"
#include "wdts/lock.h"
#include "wdts/wdt_api_answer.h"

struct wdts_redis;
struct wdts_conn;
struct wdts_cfg;
struct wdts_catalog;

/** Exit codes of `wdtctl call` for each error class (0 = ok; 64 = usage). */
#define CTL_EXIT_TRANSIENT 2
#define CTL_EXIT_RATE_LIMITED 3
#define CTL_EXIT_CLOCK 4
#define CTL_EXIT_AUTH 5
#define CTL_EXIT_PERMISSION 6
#define CTL_EXIT_BAD_REQUEST 7

/** @returns the exit code of an answer's class (the table above; 0 for ok, 1 for others). */
int ctl_class_exit(enum wdts_api_class cls);

/**
 * @brief  Warns on stderr that a secret given as the value of opt shows in the process list
 *         (ps, /proc/<pid>/cmdline) and names file_opt, which reads it from a file or stdin;
 *         then overwrites value (the argv string, already copied) to shorten that exposure.
 */
void ctl_warn_secret_arg(const char *sub, const char *opt, const char *file_opt, char *value);

/** What a subcommand sets up before its work (ctl_env.c). Zeroed by ctl_env_init(), freed
 *  by ctl_env_deinit() whatever the init returned. */
struct ctl_env {
    const char *sub;          /* "status", "connection add", …: names every message; borrowed */
    struct wdts_cfg *cfg;     /* owned */
    struct wdts_catalog *cat; /* owned */
    struct wdts_redis *redis; /* owned; NULL until ctl_env_redis() */
    unsigned char key[WDTS_CRYPTO_KEY_LEN]; /* secret.key, once parsed; wiped by deinit */
};

/** ctl_env_init() flags: secret.key is required; secret.key, when set, is parsed. */
#define CTL_ENV_NEED_KEY 1
#define CTL_ENV_READ_KEY 2

/**
 * @brief  Loads the configuration from the environment (and, with CTL_ENV_READ_KEY,
 *         secret.key), then the report catalog.
 * @returns 0, or the exit code after printing why (78 configuration, 1 catalog).
 */
int ctl_env_init(struct ctl_env *env, const char *sub, int flags);

/** Parses secret.key into env->key. @returns 0, or 78 after printing why. */
int ctl_env_key(struct ctl_env *env);

/**
 * @brief  Connects to Redis (redis.*). A failure to connect prints
 *         "wdtctl SUB: FAIL: <reason>HINT".
 * @returns 0, or the exit code after printing why (78 bad settings, 1 unreachable).
 */
int ctl_env_redis(struct ctl_env *env, const char *fail, const char *hint);

/** Exit code of a connection, report or range that does not exist (EX_UNAVAILABLE). */
#define CTL_EXIT_NOTFOUND 69

/**
 * @brief  Loads stored connection id (wdts_conn_load()).
 * @owner  *conn new (wdts_conn_destroy()).
 * @returns 0, or the exit code after printing why (69 no such connection, 1 Redis).
 */
int ctl_conn_load(const struct ctl_env *env, const char *id, struct wdts_conn **conn);

/** Frees what env holds and wipes the key. */
void ctl_env_deinit(struct ctl_env *env);

/**
 * @brief  The report catalog of catalog.path (configuration: WDT_CONFIG_FILE, WDT_CATALOG_PATH),
 *         or the built-in one; for subcommands that need it before anything else.
 * @returns the catalog, or NULL after printing why on stderr with sub's name; *rc is then
 *          the exit code (78 for a bad configuration or catalog file).
 */
struct wdts_catalog *ctl_catalog_load(const char *sub, int *rc);

/** A call slot of the seller's shared budget (wdts/limit.h, keyed by gateway, sid and
 *  appkey): wdtctl's own calls (checks, the plan's probe) spend it like the workers. */
struct ctl_limiter {
    struct wdts_redis *redis;
    const char *sub; /* the subcommand, for messages */
    struct wdts_limit_id id;
    struct wdts_limit_cfg cfg;
    char token[WDTS_LOCK_TOKEN_SIZE];
    long long started_us;
    int held;
};

/** Sets up lim for conn's limits on env's Redis; env and conn (its gateway, sid, appkey)
 *  must outlive lim. */
void ctl_limiter_init(struct ctl_limiter *lim, const struct ctl_env *env,
                      const struct wdts_conn *conn);
/** Waits for a slot (at most about 20 s; a longer wait is an error that says why).
 *  @returns WDTS_OK with the slot held, or WDTS_ERR_AGAIN / Redis's error (errstr). */
wdts_err_t ctl_limiter_admit(void *opaque, char *errstr, size_t errstr_size);
/** Releases the slot held, telling the limiter how the call went. */
void ctl_limiter_done(void *opaque, enum wdts_api_class cls);

/**
 * @brief Prints the first-sync estimate of a connection (no call is made): per enabled,
 *        not blocked report and in all, the windows, the least calls and the time at the
 *        connection's rate. `wdtctl connection add` prints it after storing.
 * @returns 0, or the exit code after printing why.
 */
int ctl_plan_print_for(const struct wdts_cfg *cfg, const struct wdts_catalog *cat,
                       const struct wdts_conn *conn, FILE *out);

/** `wdtctl call`: one API call (or its --dry-run). */
int ctl_call_main(int argc, char **argv);

/** `wdtctl connection add|list|show|remove|check`: connections and their checks. */
int ctl_conn_main(int argc, char **argv);

/** `wdtctl reports`: the report catalog. */
int ctl_reports_main(int argc, char **argv);
/** `wdtctl status`: progress and state of every (connection, report). */
int ctl_status_main(int argc, char **argv);
/** `wdtctl plan`: the first-sync estimate of a connection. */
int ctl_plan_main(int argc, char **argv);
/** `wdtctl resync`: fetch a range of one report again. */
int ctl_resync_main(int argc, char **argv);

#endif
