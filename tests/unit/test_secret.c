/* wdts_secret_protect_process() (in a child, so the test runner stays dumpable) and
 * wdts_secret_read_file(): files, standard input, size and emptiness. */
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

static void test_read_file(void **state)
{
    (void)state;
    char es[256];
    char *p = write_tmp("sec:salt\r\n\n", 11);
    char *s = wdts_secret_read_file(p, es, sizeof(es));
    assert_non_null(s);
    assert_string_equal(s, "sec:salt");
    wdts_crypto_free_secret(s, strlen(s));
    unlink(p);
    free(p);

    p = write_tmp("\n", 1);
    assert_null(wdts_secret_read_file(p, es, sizeof(es)));
    assert_non_null(strstr(es, "is empty"));
    unlink(p);
    free(p);

    char *big = calloc(1, WDTS_SECRET_MAX + 2);
    memset(big, 'a', WDTS_SECRET_MAX + 1);
    p = write_tmp(big, WDTS_SECRET_MAX + 1);
    assert_null(wdts_secret_read_file(p, es, sizeof(es)));
    assert_non_null(strstr(es, "larger than a secret can be"));
    unlink(p);
    free(p);
    free(big);

    assert_null(wdts_secret_read_file("/nonexistent/secret", es, sizeof(es)));
    assert_non_null(strstr(es, "cannot read /nonexistent/secret"));
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
        cmocka_unit_test(test_read_stdin_in_a_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
