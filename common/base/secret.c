/* Process hardening and secret files (see secret.h). */
#include "wdts/secret.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "wdts/crypto.h"
#include "wdts/mem.h"

wdts_err_t wdts_secret_protect_process(char *errstr, size_t errstr_size)
{
    struct rlimit rl = {0, 0};
    if (setrlimit(RLIMIT_CORE, &rl) != 0) {
        snprintf(errstr, errstr_size, "setrlimit(RLIMIT_CORE, 0): %s", strerror(errno));
        return WDTS_ERR_IO;
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        snprintf(errstr, errstr_size, "prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
        return WDTS_ERR_IO;
    }
    return WDTS_OK;
}

char *wdts_secret_read_file(const char *path, char *errstr, size_t errstr_size)
{
    int from_stdin = strcmp(path, "-") == 0;
    const char *name = from_stdin ? "standard input" : path;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (f == NULL) {
        snprintf(errstr, errstr_size, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char buf[WDTS_SECRET_MAX + 1];
    char *s = NULL;
    /* unbuffered, so no copy of the secret stays in stdio's buffer */
    setvbuf(f, NULL, _IONBF, 0);
    size_t n = fread(buf, 1, sizeof(buf), f);
    int failed = ferror(f);
    if (!from_stdin)
        fclose(f);
    if (failed) {
        snprintf(errstr, errstr_size, "cannot read %s: read error", name);
        goto out;
    }
    if (n > WDTS_SECRET_MAX) {
        snprintf(errstr, errstr_size, "%s is larger than a secret can be (%d bytes)", name,
                 WDTS_SECRET_MAX);
        goto out;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == 0) {
        snprintf(errstr, errstr_size, "%s is empty: it should hold the secret", name);
        goto out;
    }
    s = wdts_xstrndup(buf, n);
out:
    wdts_crypto_wipe(buf, sizeof(buf));
    return s;
}
