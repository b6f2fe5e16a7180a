/*
 * Unit tests for jobs/connections: tsv_conns_temp_fd, the unlinked temp
 * file pulls and pushes download into and capture through.
 */
#include "harness.h"

#include <sys/stat.h>
#include <unistd.h>

#include "connections.h"

static tsv_conns *open_conns(void)
{
    char dir[PATH_MAX];
    harness_at(dir, "connections");
    tsv_conns_options opt = {.dir = dir};
    tsv_conns *c = NULL;
    OK(tsv_conns_open(&c, &opt, &E));
    return c;
}

static void test_temp_fd_is_unlinked_and_usable(void **state)
{
    (void)state;
    tsv_conns *c = open_conns();
    char path[PATH_MAX], path2[PATH_MAX];
    tsv_error_clear(&E);
    int fd = tsv_conns_temp_fd(c, "meta", path, sizeof path, &E);
    assert_true(fd >= 0);
    /* <tmp dir>/meta-<16 hex>.tmp, gone from the directory already */
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/meta-", tsv_conns_tmp_dir(c));
    assert_int_equal(strncmp(path, want, strlen(want)), 0);
    assert_int_equal(strlen(path), strlen(want) + 16 + 4);
    assert_string_equal(path + strlen(path) - 4, ".tmp");
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    /* the fd alone keeps the file: it reads back what was written */
    assert_int_equal(write(fd, "abc", 3), 3);
    char back[4] = {0};
    assert_int_equal(pread(fd, back, 3, 0), 3);
    assert_string_equal(back, "abc");
    /* two calls, two files */
    int fd2 = tsv_conns_temp_fd(c, "local", path2, sizeof path2, &E);
    assert_true(fd2 >= 0);
    assert_string_not_equal(path, path2);
    assert_non_null(strstr(path2, "/local-"));
    close(fd);
    close(fd2);
    tsv_conns_close(c);
}

static void test_temp_fd_errors(void **state)
{
    (void)state;
    tsv_conns *c = open_conns();
    char small[8];
    FAILS(tsv_conns_temp_fd(c, "meta", small, sizeof small, &E), TSV_EINVALID);
    assert_string_equal(E.message, "temp path too long");
    /* no temp directory: the create fails and names the path */
    char path[PATH_MAX];
    assert_int_equal(harness_rmtree(tsv_conns_tmp_dir(c)), 0);
    FAILS(tsv_conns_temp_fd(c, "meta", path, sizeof path, &E), TSV_EINTERNAL);
    assert_non_null(strstr(E.message, "create "));
    assert_non_null(strstr(E.message, path));
    tsv_conns_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_SCRATCH_TEST(test_temp_fd_is_unlinked_and_usable),
        HARNESS_SCRATCH_TEST(test_temp_fd_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
