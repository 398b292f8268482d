/* Process hardening and secret files (see secret.h). */
#include "wdts/secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

char *wdts_secret_read(const char *path, size_t max, int flags, char *errstr,
                       size_t errstr_size)
{
    int from_stdin = (flags & WDTS_SECRET_STDIN) && strcmp(path, "-") == 0;
    const char *name = from_stdin ? "standard input" : path;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (f == NULL) {
        snprintf(errstr, errstr_size, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    /* one buffer, never grown, so no copy of the secret is left in freed memory */
    char *buf = wdts_xmalloc(max + 1);
    char *s = NULL;
    /* unbuffered, so no copy of the secret stays in stdio's buffer */
    setvbuf(f, NULL, _IONBF, 0);
    size_t n = fread(buf, 1, max + 1, f);
    size_t filled = n; /* the bytes that may hold the secret, wiped at the end */
    int failed = ferror(f);
    if (!from_stdin)
        fclose(f);
    if (failed) {
        snprintf(errstr, errstr_size, "cannot read %s: read error", name);
        goto out;
    }
    if (n > max) {
        snprintf(errstr, errstr_size,
                 "%s is larger than a secret can be (%zu bytes); is it the right file?", name,
                 max);
        goto out;
    }
    if (memchr(buf, '\0', n) != NULL) {
        snprintf(errstr, errstr_size, "%s contains a NUL byte; is it the right file?", name);
        goto out;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == 0 && !(flags & WDTS_SECRET_MAY_BE_EMPTY)) {
        snprintf(errstr, errstr_size, "%s is empty: it should hold the secret", name);
        goto out;
    }
    s = wdts_xstrndup(buf, n);
out:
    wdts_crypto_wipe(buf, filled);
    free(buf);
    return s;
}

char *wdts_secret_read_file(const char *path, char *errstr, size_t errstr_size)
{
    return wdts_secret_read(path, WDTS_SECRET_MAX, WDTS_SECRET_STDIN, errstr, errstr_size);
}
