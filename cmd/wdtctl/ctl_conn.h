/* What the `wdtctl connection` subcommands share (ctl_conn*.c): the usage error, the flags
 * of list/show/remove/check, and the table a check prints row by row. */
#ifndef WDTCTL_CTL_CONN_H
#define WDTCTL_CTL_CONN_H

#include "wdts/conn.h"
#include "wdts/conn_probe.h"

/** Prints "wdtctl connection SUB: <message>" and the --help hint. @returns 64. */
int ctl_conn_usage_error(const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** The flags of list, show, remove and check; borrowed from argv. */
struct ctl_conn_args {
    const char *id, *tenant;
    int json;
};

/** Parses the few flags of list/show/remove/check. allowed: "itj" letters of the flags
 *  this subcommand takes. @returns 0, -1 after --help, or the exit code. */
int ctl_conn_parse_args(const char *sub, const char *usage, const char *allowed, int argc,
                        char **argv, struct ctl_conn_args *a);

struct ctl_env;

/**
 * @brief  Runs the checks of conn (wdts_conn_probe_run()) within the seller's call budget,
 *         printing the table (report, method, ok or blocked with reason and fix) a row at a
 *         time as the checks answer.
 * @param  before the stored connection (check: a row says what was blocked before), or NULL.
 * @owner  all borrowed; probe filled as by wdts_conn_probe_run().
 */
wdts_err_t ctl_conn_probe(const struct ctl_env *env, const struct wdts_conn *conn,
                          const struct wdts_conn *before, const struct wdts_api_creds *creds,
                          struct wdts_conn_probe *probe, char *errstr, size_t errstr_size);

/** `wdtctl connection list`, `show`, `remove` (ctl_conn.c). */
int ctl_conn_list(int argc, char **argv);
int ctl_conn_show(int argc, char **argv);
int ctl_conn_remove(int argc, char **argv);
/** `wdtctl connection add`. */
int ctl_conn_add(int argc, char **argv);
/** `wdtctl connection check`. */
int ctl_conn_check(int argc, char **argv);

#endif
