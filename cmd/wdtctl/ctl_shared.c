/* The two helpers of wdtctl's subcommands that no subcommand owns (ctl.h): the exit code
 * of an answer's class, and the warning for a secret given on the command line. They call
 * no subcommand, so the subcommands and main() depend on them and not on each other. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "wdts/err.h"

void ctl_warn_secret_arg(const char *sub, const char *opt, const char *file_opt, char *value)
{
    fprintf(stderr,
            "wdtctl %s: WARNING: %s puts the secret in the process list (ps, /proc/PID/cmdline) "
            "and the shell history, where other users and programs can read it; use %s PATH, "
            "or %s - to read it from standard input. %s will be removed.\n",
            sub, opt, file_opt, file_opt, opt);
    memset(value, 'x', strlen(value));
}

int ctl_class_exit(enum wdts_api_class cls)
{
    switch (cls) {
    case WDTS_API_OK: return WDTS_EXIT_OK;
    case WDTS_API_TRANSIENT: return CTL_EXIT_TRANSIENT;
    case WDTS_API_RATE_LIMITED: return CTL_EXIT_RATE_LIMITED;
    case WDTS_API_CLOCK: return CTL_EXIT_CLOCK;
    case WDTS_API_AUTH: return CTL_EXIT_AUTH;
    case WDTS_API_PERMISSION: return CTL_EXIT_PERMISSION;
    case WDTS_API_BAD_REQUEST: return CTL_EXIT_BAD_REQUEST;
    default: return WDTS_EXIT_FATAL;
    }
}
