/*
 * harness: what the cmocka unit tests share: error-checking assertions on
 * one test-wide tsv_error, a temporary directory per test (group), and
 * whole-file helpers. Include after <cmocka.h>'s prerequisites; it includes
 * cmocka itself. Single-threaded use of E (worker threads keep their own).
 */
#ifndef TSV_TEST_HARNESS_H
#define TSV_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "fsutil.h"
#include "tsv_error.h"

/* The main thread's error for OK/FAILS. */
static tsv_error E __attribute__((unused));

/* Fails the test with the tsv_error message when a call returns non-zero. */
#define OK(call)                                                                                   \
    do {                                                                                           \
        tsv_error_clear(&E);                                                                       \
        if ((call) != 0)                                                                           \
            fail_msg("%s failed: %s", #call, E.message);                                          \
    } while (0)

/* Asserts a call fails with the given code. */
#define FAILS(call, want)                                                                          \
    do {                                                                                           \
        tsv_error_clear(&E);                                                                       \
        int rc_ = (call);                                                                          \
        if (rc_ != -1 || E.code != (want))                                                         \
            fail_msg("%s: rc %d code %d (want -1, %d): %s", #call, rc_, (int)E.code, (int)(want),  \
                     E.message);                                                                   \
    } while (0)

/* Makes a fresh directory "$TMPDIR/tsv-<tag>-XXXXXX" (TMPDIR defaults to
 * /tmp) into out. 0 or -1 (errno set). */
static inline int harness_tmpdir(char *out, size_t len, const char *tag)
{
    const char *base = getenv("TMPDIR");
    snprintf(out, len, "%s/tsv-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    return mkdtemp(out) ? 0 : -1;
}

/* rm -rf dir; reports a failure on stderr. 0 or -1. */
static inline int harness_rmtree(const char *dir)
{
    tsv_error err = {0};
    if (tsv_remove_tree(dir, &err) != 0) {
        fprintf(stderr, "cleanup: %s\n", err.message);
        return -1;
    }
    return 0;
}

/* The whole file (up to 1 GiB), malloc'd (caller frees); fails the test if
 * it cannot be read. */
static inline uint8_t *harness_read_bytes(const char *path, size_t *len)
{
    char *buf;
    tsv_error err;
    if (tsv_read_file(path, 1u << 30, &buf, len, &err) != 0)
        fail_msg("read %s: %s", path, err.message);
    return (uint8_t *)buf;
}

static inline void harness_write_bytes(const char *path, const void *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (len)
        assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Decompresses the gzip file gz into the file out. */
static inline void harness_gunzip_to(const char *gz, const char *out)
{
    gzFile in = gzopen(gz, "rb");
    assert_non_null(in);
    FILE *fp = fopen(out, "wb");
    assert_non_null(fp);
    char buf[8192];
    int n;
    while ((n = gzread(in, buf, sizeof buf)) > 0)
        assert_int_equal(fwrite(buf, 1, (size_t)n, fp), (size_t)n);
    assert_int_equal(n, 0);
    assert_int_equal(gzclose(in), Z_OK);
    assert_int_equal(fclose(fp), 0);
}

#endif
