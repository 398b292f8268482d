/* Fuzz target: the configuration file parser (wdts_cfg_load() with opts.file, as
 * WDT_CONFIG_FILE is read). Any file: no crash; a refused file lists its problems one per
 * line, an accepted one gives a cfg whose dump shows no secret setting's value. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wdts/cfg.h"
#include "wdts/str.h"

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz_cfg: %s:%d: check failed: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                                  \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* The dump's line of a SECRET setting shows no value. */
static void check_secret_hidden(const char *dump, const char *key)
{
    char head[64];
    int n = snprintf(head, sizeof(head), "%s = ", key);
    for (const char *line = dump; *line; line = strchr(line, '\n') + 1) {
        if (strncmp(line, head, (size_t)n) == 0)
            CHECK(strncmp(line + n, "<redacted>  #", 13) == 0 ||
                  strncmp(line + n, "<unset>  #", 10) == 0);
        if (strchr(line, '\n') == NULL)
            break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    /* librdkafka loads plugin libraries named in plugin.library.paths at once: not from
     * fuzzed text */
    if (memmem(data, size, "plugin", 6) != NULL)
        return 0;
    if (fd < 0) {
        fd = memfd_create("wdts-fuzz-cfg", 0);
        CHECK(fd >= 0);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    CHECK(ftruncate(fd, 0) == 0);
    CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size);

    struct wdts_cfg_opts opts;
    memset(&opts, 0, sizeof(opts));
    opts.file = path;
    struct wdts_cfg *cfg = (struct wdts_cfg *)1;
    struct wdts_buf errs;
    wdts_buf_init(&errs);
    wdts_err_t err = wdts_cfg_load(&opts, &cfg, &errs);
    CHECK(err == WDTS_OK || err == WDTS_ERR_CONFIG);
    if (err != WDTS_OK) {
        CHECK(cfg == NULL);
        const char *e = wdts_buf_str(&errs);
        CHECK(errs.len > 0 && e[errs.len - 1] == '\n'); /* every problem, one per line */
        for (const char *line = e; *line; line = strchr(line, '\n') + 1)
            CHECK(*line != '\n');
    } else {
        CHECK(cfg != NULL);
        struct wdts_buf dump;
        wdts_buf_init(&dump);
        wdts_cfg_dump(cfg, &dump);
        const char *d = wdts_buf_str(&dump);
        static const char *const secret_keys[] = {"redis.password", "secret.key",
                                                  "qimen.app.key", "qimen.app.secret",
                                                  "pii.hash.key"};
        for (size_t i = 0; i < sizeof(secret_keys) / sizeof(secret_keys[0]); i++)
            check_secret_hidden(d, secret_keys[i]);
        wdts_buf_deinit(&dump);
        wdts_cfg_destroy(cfg);
    }
    wdts_buf_deinit(&errs);
    return 0;
}
