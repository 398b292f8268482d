/* wdtctl subcommands: each takes the arguments after the program name (argv[0] is the
 * subcommand's own name) and returns the process exit code. */
#ifndef WDTCTL_CTL_H
#define WDTCTL_CTL_H

/** Exit codes of `wdtctl call` for each error class (0 = ok; 64 = usage). */
#define CTL_EXIT_TRANSIENT 2
#define CTL_EXIT_RATE_LIMITED 3
#define CTL_EXIT_CLOCK 4
#define CTL_EXIT_AUTH 5
#define CTL_EXIT_PERMISSION 6
#define CTL_EXIT_BAD_REQUEST 7

/**
 * @brief  Warns on stderr that a secret given as the value of opt shows in the process list
 *         (ps, /proc/<pid>/cmdline) and names file_opt, which reads it from a file or stdin;
 *         then overwrites value (the argv string, already copied) to shorten that exposure.
 */
void ctl_warn_secret_arg(const char *sub, const char *opt, const char *file_opt, char *value);

/**
 * @brief  The report catalog of catalog.path (configuration: WDT_CONFIG_FILE, WDT_CATALOG_PATH),
 *         or the built-in one; for subcommands that need it before anything else.
 * @returns the catalog, or NULL after printing why on stderr with sub's name; *rc is then
 *          the exit code (78 for a bad configuration or catalog file).
 */
struct wdts_catalog *ctl_catalog_load(const char *sub, int *rc);

/** `wdtctl call`: one API call (or its --dry-run). */
int ctl_call_main(int argc, char **argv);

/** `wdtctl connection add|list|show|remove|check`: connections and their checks. */
int ctl_conn_main(int argc, char **argv);

/** `wdtctl reports`: the report catalog. */
int ctl_reports_main(int argc, char **argv);
/** `wdtctl status`: progress and state of every (connection, report). */
int ctl_status_main(int argc, char **argv);
/** `wdtctl resync`: fetch a range of one report again. */
int ctl_resync_main(int argc, char **argv);

#endif
