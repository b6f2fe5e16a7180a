/* tsm_trust + shard_install's trust option: a TSM file is skipped only when
 * its bytes hash to a digest that passed validation; anything else is
 * validated completely (a damaged file is refused even with a trust set). */
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "harness.h"
#include "shard_install.h"
#include "stream.h"
#include "tsm_trust.h"

static const char A[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char B[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void test_set_and_file(void **state)
{
    (void)state;
    tsv_tsm_trust t = {0};
    OK(tsv_tsm_trust_add(&t, A, &E));
    OK(tsv_tsm_trust_add(&t, B, &E));
    OK(tsv_tsm_trust_add(&t, A, &E));
    FAILS(tsv_tsm_trust_add(&t, "ABCD", &E), TSV_EINVALID);
    assert_int_equal(tsv_tsm_trust_has(&t, A), 0); /* not sealed yet */
    tsv_tsm_trust_seal(&t);
    assert_int_equal(t.n, 2);
    assert_int_equal(tsv_tsm_trust_has(&t, A), 1);
    assert_int_equal(tsv_tsm_trust_has(&t, B), 1);
    char c[65];
    memcpy(c, B, 65);
    c[63] = '0';
    assert_int_equal(tsv_tsm_trust_has(&t, c), 0);
    assert_int_equal(tsv_tsm_trust_has(NULL, A), 0);

    char path[PATH_MAX];
    harness_at(path, "list");
    OK(tsv_tsm_trust_save(&t, path, &E));
    tsv_tsm_trust u = {0};
    OK(tsv_tsm_trust_load(&u, path, &E));
    assert_int_equal(u.n, 2);
    assert_int_equal(tsv_tsm_trust_has(&u, A), 1);
    tsv_tsm_trust_clear(&u);
    harness_write_bytes(path, "zz\n", 3);
    FAILS(tsv_tsm_trust_load(&u, path, &E), TSV_EINVALID);
    assert_int_equal(u.n, 0);
    unlink(path);
    FAILS(tsv_tsm_trust_load(&u, path, &E), TSV_ENOTFOUND);
    tsv_tsm_trust_clear(&t);
}

static int install(const char *tar, const char *shard, const tsv_shard_install_opts *o,
                   tsv_shard_install_stats *st)
{
    char trash[PATH_MAX];
    harness_at(trash, "trash");
    tsv_error e;
    if (tsv_mkdir_p(trash, &e) != 0)
        fail_msg("%s", e.message);
    int fd = open(tar, O_RDONLY);
    assert_true(fd >= 0);
    tsv_reader *r = tsv_fd_reader_new(fd);
    tsv_error_clear(&E);
    int rc = tsv_shard_install_from_tar_opts(shard, trash, 1, r, o, st, &E);
    tsv_reader_free(r);
    close(fd);
    return rc;
}

/* A one-entry ustar archive of `data` named `name`. */
static void write_tar(const char *path, const char *name, const uint8_t *data, size_t len)
{
    uint8_t h[512];
    harness_tar_header(h, name, len, '0', 0);
    size_t padded = (len + 511) / 512 * 512;
    size_t total = 512 + padded + 1024;
    uint8_t *buf = calloc(1, total);
    assert_non_null(buf);
    memcpy(buf, h, 512);
    memcpy(buf + 512, data, len);
    harness_write_bytes(path, buf, total);
    free(buf);
}

static void test_install_trust(void **state)
{
    (void)state;
    char tar[PATH_MAX], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], bad[PATH_MAX];
    harness_at(tar, "s1.tar");
    harness_at(a, "a");
    harness_at(b, "b");
    harness_at(c, "c");
    harness_at(bad, "bad.tar");
    harness_gunzip_to(TSV_TESTDATA "/influxdb-1.6-portable/backup/20261121T112622Z.s1.tar.gz", tar);

    /* 1. A validation (scratch) collects the digests of both TSM files. */
    tsv_tsm_trust validated = {0};
    tsv_shard_install_opts o = {.validated = &validated, .scratch = 1};
    tsv_shard_install_stats st;
    OK(install(tar, a, &o, &st));
    assert_int_equal(st.files, 2);
    assert_int_equal(st.trusted, 0);
    assert_int_equal(validated.n, 2);
    tsv_tsm_trust_seal(&validated);

    /* 2. An install with that set validates neither again. */
    tsv_shard_install_opts t = {.trust = &validated};
    OK(install(tar, b, &t, &st));
    assert_int_equal(st.files, 2);
    assert_int_equal(st.trusted, 2);

    /* 3. A flipped byte: another digest, so validated, and refused. */
    char tsm[PATH_MAX + 32];
    snprintf(tsm, sizeof tsm, "%s/000000001-000000001.tsm", a);
    size_t len;
    uint8_t *data = harness_read_bytes(tsm, &len);
    assert_true(len > 200);
    data[100] ^= 0xff;
    write_tar(bad, "000000001-000000001.tsm", data, len);
    FAILS(install(bad, c, &t, &st), TSV_EINVALID);
    assert_non_null(strstr(E.message, "000000001-000000001.tsm"));
    /* The same bytes unflipped are trusted. */
    data[100] ^= 0xff;
    write_tar(bad, "000000001-000000001.tsm", data, len);
    OK(install(bad, c, &t, &st));
    assert_int_equal(st.trusted, 1);
    free(data);
    tsv_tsm_trust_clear(&validated);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_SCRATCH_TEST(test_set_and_file),
        HARNESS_SCRATCH_TEST(test_install_trust),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
