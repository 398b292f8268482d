/* Program start-up, the steps every main() takes in the same order and with the same
 * messages: protect the process before a secret is read, print --help-config, load the
 * configuration (every problem listed), set up logging, and turn SIGTERM/SIGINT into a
 * stop flag. It parses no arguments and starts nothing: each program does that itself. */
#ifndef WDTS_PROG_H
#define WDTS_PROG_H

#include <signal.h>

struct wdts_cfg;
struct wdts_cfg_opts;

/**
 * @brief  wdts_secret_protect_process(), first thing in main(); a failure is only warned
 *         about on stderr ("PROG: warning: …"), as defence in depth.
 * @owner  prog borrowed.
 */
void wdts_prog_protect(const char *prog);

/** Prints every setting (wdts_cfg_help()) on stdout for `--help-config`. @returns WDTS_EXIT_OK. */
int wdts_prog_help_config(void);

/**
 * @brief  wdts_cfg_load(), printing every problem on stderr under "WHO: invalid
 *         configuration:" (who NULL: the problems alone).
 * @owner  opts, who borrowed. Returns a new cfg (wdts_cfg_destroy()).
 * @returns the configuration, or NULL after printing why (exit with WDTS_EXIT_CONFIG).
 */
struct wdts_cfg *wdts_prog_cfg_load(const struct wdts_cfg_opts *opts, const char *who);

/** Names the program in every log line and sets up logging from cfg (log.*); call it
 *  before other threads start. @owner cfg borrowed; prog borrowed, must outlive the process. */
void wdts_prog_logging(const struct wdts_cfg *cfg, const char *prog);

/**
 * @brief  SIGTERM and SIGINT set *stop to 1 (the handler does nothing else); with
 *         ignore_sigpipe, a write to a closed socket returns EPIPE instead of killing.
 * @owner  stop must outlive the process (a static flag of main's file).
 */
void wdts_prog_on_stop(volatile sig_atomic_t *stop, int ignore_sigpipe);

#endif
