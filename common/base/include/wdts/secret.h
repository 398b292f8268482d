/* Keeping secrets out of places they leak to: core dumps, other users' debuggers, the process
 * list. Every program that holds a secret (the appsecrets it decrypts, secret.key, a Kafka or
 * Redis password) calls wdts_secret_protect_process() first thing in main(); wdtctl reads the
 * secrets it is given with wdts_secret_read_file(), never from its command line, and the
 * configuration reads its *_FILE settings with wdts_secret_read(). */
#ifndef WDTS_SECRET_H
#define WDTS_SECRET_H

#include <stddef.h>

#include "wdts/err.h"

/** Largest secret wdts_secret_read_file() accepts, in bytes. */
#define WDTS_SECRET_MAX 4096

/**
 * @brief  Makes the process non-dumpable (prctl PR_SET_DUMPABLE 0: no core dump, and
 *         /proc/<pid>/mem, environ and ptrace only for root) and sets RLIMIT_CORE to 0, so a
 *         crash writes no core file holding a plaintext secret.
 * @returns WDTS_OK, or WDTS_ERR_IO with the failing call in errstr (the caller logs it and goes
 *          on: it is defence in depth, not a reason to stop).
 */
wdts_err_t wdts_secret_protect_process(char *errstr, size_t errstr_size);

/** Flags of wdts_secret_read(). */
#define WDTS_SECRET_STDIN 1         /* the path "-" is standard input */
#define WDTS_SECRET_MAY_BE_EMPTY 2  /* an empty secret is "" rather than an error */

/**
 * @brief  Reads a secret of at most max bytes from the file at path; trailing newlines and
 *         carriage returns are dropped. The file is read unbuffered into one buffer, which is
 *         wiped, so no other copy of the secret is left behind in memory.
 * @owner  returns new memory; release it with wdts_crypto_free_secret(p, strlen(p)).
 * @returns NULL with the reason in errstr: the file cannot be read, holds a NUL byte, is larger
 *          than max, or is empty (unless WDTS_SECRET_MAY_BE_EMPTY).
 */
char *wdts_secret_read(const char *path, size_t max, int flags, char *errstr,
                       size_t errstr_size);

/**
 * @brief  Reads a secret from the file at path, or from standard input when path is "-"
 *         (wdts_secret_read() with WDTS_SECRET_MAX and WDTS_SECRET_STDIN).
 * @owner  returns new memory; release it with wdts_crypto_free_secret(p, strlen(p)).
 * @returns NULL with the reason in errstr: the file cannot be read, holds a NUL byte, is empty
 *          or is larger than WDTS_SECRET_MAX.
 */
char *wdts_secret_read_file(const char *path, char *errstr, size_t errstr_size);

#endif
