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
