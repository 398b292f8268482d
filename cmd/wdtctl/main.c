/* wdtctl: the admin command line. main() only dispatches to a subcommand; each
 * subcommand lives in its own ctl_*.c file. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "wdts/err.h"
#include "wdts/prog.h"

struct ctl_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct ctl_cmd cmds[] = {
    {"call", ctl_call_main, "one WDT or Qimen API call (or --dry-run), to debug credentials"},
    {"connection", ctl_conn_main, "add, list, show, remove and check connections"},
    {"reports", ctl_reports_main, "the report catalog"},
    {"status", ctl_status_main, "watermark, lag, windows and state per connection and report"},
    {"plan", ctl_plan_main, "first-sync estimate: windows, calls and time at the rate limit"},
    {"resync", ctl_resync_main, "fetch a time range of one report again"},
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *out)
{
    fprintf(out, "usage: wdtctl <command> [options]   (wdtctl <command> --help for details)\n\n"
                 "commands:\n");
    for (size_t i = 0; i < N_CMDS; i++)
        fprintf(out, "  %-12s %s\n", cmds[i].name, cmds[i].summary);
}

int main(int argc, char **argv)
{
    wdts_prog_protect("wdtctl");
    if (argc < 2) {
        usage(stderr);
        return WDTS_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return WDTS_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("wdtctl %s\n", WDTS_VERSION);
        return WDTS_EXIT_OK;
    }
    for (size_t i = 0; i < N_CMDS; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "wdtctl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return WDTS_EXIT_USAGE;
}
