/* `wdtctl connection`: the usage and the dispatch to its subcommands (ctl_conn*.c). */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_conn.h"
#include "wdts/err.h"

static const char usage_main[] =
    "usage: wdtctl connection <add|list|show|remove|check> [options]\n"
    "       wdtctl connection <subcommand> --help\n"
    "\n"
    "Connections are the authorised WDT apps of tenants, stored in Redis with their secrets\n"
    "encrypted under secret.key (WDT_SECRET_KEY or WDT_SECRET_KEY_FILE).\n"
    "\n"
    "  add     check credentials and report permissions with real calls, then store\n"
    "  list    the stored connections (no secrets)\n"
    "  show    one connection and the state of each report (no secrets)\n"
    "  remove  delete a connection and all its state\n"
    "  check   re-check credentials and permissions; unblock what works again\n"
    "\n"
    "Config (environment): WDT_REDIS_URL, WDT_REDIS_PREFIX, WDT_SECRET_KEY[_FILE],\n"
    "WDT_QIMEN_APP_KEY / WDT_QIMEN_APP_SECRET[_FILE] for platform-provided Qimen apps.\n"
    "Exit codes: 0 ok, 1 failure, 2 gateway unreachable, 3 rate limited, 4 clock skew,\n"
    "5 credentials refused, 6 no report permitted, 7 not a WDT gateway, 64 bad command line,\n"
    "78 bad config.\n";

int ctl_conn_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } subs[] = {
        {"add", ctl_conn_add},       {"list", ctl_conn_list},   {"show", ctl_conn_show},
        {"remove", ctl_conn_remove}, {"check", ctl_conn_check},
    };
    if (argc < 2) {
        fputs(usage_main, stderr);
        return WDTS_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_main, stdout);
        return WDTS_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "wdtctl connection: unknown subcommand '%s'\n\n", argv[1]);
    fputs(usage_main, stderr);
    return WDTS_EXIT_USAGE;
}
