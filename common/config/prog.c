/* Program start-up shared by every main() (wdts/prog.h). Only what each program did the
 * same way: its arguments, its checks and what it starts stay in its own main.c. */
#include "wdts/prog.h"

#include <stdio.h>
#include <string.h>

#include "wdts/cfg.h"
#include "wdts/err.h"
#include "wdts/log.h"
#include "wdts/secret.h"
#include "wdts/str.h"

void wdts_prog_protect(const char *prog)
{
    char es[256];
    /* before any secret is read: no core dump, no ptrace by others */
    if (wdts_secret_protect_process(es, sizeof(es)) != WDTS_OK)
        fprintf(stderr, "%s: warning: %s\n", prog, es);
}

int wdts_prog_help_config(void)
{
    struct wdts_buf b;
    wdts_buf_init(&b);
    wdts_cfg_help(&b);
    fputs(wdts_buf_str(&b), stdout);
    wdts_buf_deinit(&b);
    return WDTS_EXIT_OK;
}

struct wdts_cfg *wdts_prog_cfg_load(const struct wdts_cfg_opts *opts, const char *who)
{
    struct wdts_cfg *cfg = NULL;
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    if (wdts_cfg_load(opts, &cfg, &errs) != WDTS_OK) {
        if (who)
            fprintf(stderr, "%s: invalid configuration:\n", who);
        fputs(wdts_buf_str(&errs), stderr);
        cfg = NULL;
    }
    wdts_buf_deinit(&errs);
    return cfg;
}

void wdts_prog_logging(const struct wdts_cfg *cfg, const char *prog)
{
    wdts_log_set_prog(prog);
    wdts_cfg_apply_logging(cfg);
}

/* The one flag the handler sets: a signal handler only sets a sig_atomic_t. */
static volatile sig_atomic_t *stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    *stop_flag = 1;
}

void wdts_prog_on_stop(volatile sig_atomic_t *stop, int ignore_sigpipe)
{
    struct sigaction sa;
    stop_flag = stop;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (ignore_sigpipe)
        signal(SIGPIPE, SIG_IGN);
}
