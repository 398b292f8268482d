/* wdt-worker: argv → config → logging → signals → wrk_run(). Wiring only; the worker is
 * in worker/. Exit codes: 0 after SIGTERM/SIGINT, 64 bad usage, 78 bad config (every
 * problem listed), 1 fatal. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wdts/cfg.h"
#include "wdts/err.h"
#include "wdts/log.h"
#include "wdts/prog.h"
#include "wrk.h"

extern char **environ;

#ifdef WDTS_WITH_JEMALLOC
/* jemalloc's settings for this process (MALLOC_CONF in the environment overrides them): two
 * arenas instead of four per core, and freed pages given back within a second, which keeps
 * the peak RSS of a busy worker about 5 MiB lower at the same speed (BENCHMARKS.md). */
const char *malloc_conf = "narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0";
#endif

static volatile sig_atomic_t stop_flag;

static void usage(FILE *out)
{
    fputs("usage: wdt-worker [--set key=value]... [--config FILE]\n"
          "       wdt-worker --help | --help-config\n"
          "\n"
          "Consumes jobs from the jobs topic (topic.jobs) in the consumer group kafka.group.id\n"
          "(default wdt-workers), fetches each window from the WDT or Qimen gateway of its\n"
          "connection, produces record envelopes and window markers to topic.records, dead\n"
          "letters to topic.dlq, and advances the watermarks in Redis. Serves /metrics,\n"
          "/healthz and /readyz on http.listen. Stops on SIGTERM or SIGINT within\n"
          "worker.shutdown.timeout.\n"
          "\n"
          "Settings come from defaults < the file $WDT_CONFIG_FILE (or --config) < WDT_*\n"
          "environment variables < --set; secret.key is required (WDT_SECRET_KEY or\n"
          "WDT_SECRET_KEY_FILE). `wdt-worker --help-config` lists every setting.\n",
          out);
}

int main(int argc, char **argv)
{
    wdts_prog_protect("wdt-worker");
    const char *sets[64];
    size_t nsets = 0;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return WDTS_EXIT_OK;
        }
        if (strcmp(argv[i], "--help-config") == 0)
            return wdts_prog_help_config();
        if (strcmp(argv[i], "--set") == 0 && i + 1 < argc && nsets < 64) {
            sets[nsets++] = argv[++i];
            continue;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            file = argv[++i];
            continue;
        }
        fprintf(stderr, "wdt-worker: unknown argument '%s'\n\n", argv[i]);
        usage(stderr);
        return WDTS_EXIT_USAGE;
    }

    static const char *const require[] = {"secret.key", NULL};
    struct wdts_cfg_opts opts = {.file = file,
                                 .envp = environ,
                                 .overrides = sets,
                                 .overrides_cnt = nsets,
                                 .require = require};
    struct wdts_cfg *cfg = wdts_prog_cfg_load(&opts, "wdt-worker");
    if (cfg == NULL)
        return WDTS_EXIT_CONFIG;
    wdts_prog_logging(cfg, "wdt-worker");
    wdts_prog_on_stop(&stop_flag, 1);

    char errstr[1024];
    struct wrk *w = wrk_new(cfg, errstr, sizeof(errstr));
    if (w == NULL) {
        WDTS_LOG(ERROR, "wrk", "cannot start: %s", errstr);
        wdts_cfg_destroy(cfg);
        return WDTS_EXIT_FATAL;
    }
    int rc = wrk_run(w, &stop_flag);
    wrk_destroy(w);
    wdts_cfg_destroy(cfg);
    return rc;
}
