/* wdts_secret_protect_process() (in a child, so the test runner stays dumpable) and
 * wdts_secret_read_file() and wdts_secret_read(): files, standard input, size, NUL bytes and
 * emptiness. */
#include "wdts_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdts/crypto.h"
#include "wdts/secret.h"

static void test_protect_process_in_a_child(void **state)
{
    (void)state;
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char es[256];
        if (wdts_secret_protect_process(es, sizeof(es)) != WDTS_OK)
            _exit(10);
        struct rlimit rl;
        if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
            _exit(11);
        if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
            _exit(12);
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static char *write_tmp(const char *text, size_t len)
{
    char *path = strdup("/tmp/wdts-test-secret.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Reads text from a temporary file: with wdts_secret_read(max, flags), or with
 * wdts_secret_read_file() when max is 0. @returns the secret, or NULL with es set. */
static char *read_text(const char *text, size_t len, size_t max, int flags, char *es,
                       size_t es_size)
{
    char *p = write_tmp(text, len);
    char *s = max ? wdts_secret_read(p, max, flags, es, es_size)
                  : wdts_secret_read_file(p, es, es_size);
    unlink(p);
    free(p);
    return s;
}

static void expect_secret(const char *text, size_t len, size_t max, int flags, const char *want)
{
    char es[256] = "";
    char *s = read_text(text, len, max, flags, es, sizeof(es));
    if (s == NULL)
        fail_msg("refused: %s", es);
    assert_string_equal(s, want);
    wdts_crypto_free_secret(s, strlen(s));
}

static void expect_refused(const char *text, size_t len, size_t max, int flags, const char *why)
{
    char es[256] = "";
    assert_null(read_text(text, len, max, flags, es, sizeof(es)));
    if (strstr(es, why) == NULL)
        fail_msg("want \"%s\" in: %s", why, es);
}

static void test_read_file(void **state)
{
    (void)state;
    expect_secret("sec:salt\r\n\n", 11, 0, 0, "sec:salt");
    expect_refused("\n", 1, 0, 0, "is empty");
    expect_refused("sec\0ret\n", 8, 0, 0, "contains a NUL byte");

    char *big = calloc(1, WDTS_SECRET_MAX + 2);
    memset(big, 'a', WDTS_SECRET_MAX + 1);
    expect_refused(big, WDTS_SECRET_MAX + 1, 0, 0, "larger than a secret can be");
    free(big);

    char es[256];
    assert_null(wdts_secret_read_file("/nonexistent/secret", es, sizeof(es)));
    assert_non_null(strstr(es, "cannot read /nonexistent/secret"));
}

/* The configuration's form: its own size cap, an empty file allowed, "-" only a path. */
static void test_read_with_flags(void **state)
{
    (void)state;
    expect_secret("\r\n", 2, 16, WDTS_SECRET_MAY_BE_EMPTY, "");
    expect_refused("0123456789abcdefX", 17, 16, 0, "larger than a secret can be (16 bytes)");
    expect_secret("0123456789abcdefX", 17, 17, 0, "0123456789abcdefX");

    char es[256];
    assert_null(wdts_secret_read("-", 16, 0, es, sizeof(es)));
    assert_non_null(strstr(es, "cannot read -: "));
}

static void test_read_stdin_in_a_child(void **state)
{
    (void)state;
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char es[256];
        close(pfd[1]);
        dup2(pfd[0], 0);
        char *s = wdts_secret_read_file("-", es, sizeof(es));
        _exit(s != NULL && strcmp(s, "from:stdin") == 0 ? 0 : 1);
    }
    close(pfd[0]);
    assert_int_equal(write(pfd[1], "from:stdin\n", 11), 11);
    close(pfd[1]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protect_process_in_a_child),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_read_with_flags),
        cmocka_unit_test(test_read_stdin_in_a_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
