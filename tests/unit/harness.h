/*
 * harness: what the cmocka unit tests share: error-checking assertions on
 * one test-wide tsv_error, a temporary directory per test (group), paths and
 * files inside it, whole-file helpers, a growing byte buffer and a look into
 * the trash. It includes cmocka and its prerequisites itself.
 * Single-threaded use of E (worker threads keep their own).
 */
#ifndef TSV_TEST_HARNESS_H
#define TSV_TEST_HARNESS_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "fsutil.h"
#include "step_reader.h"
#include "stream.h"
#include "tsv_error.h"

/* The main thread's error for OK/FAILS. */
static tsv_error E __attribute__((unused));

/* Fails the test with the tsv_error message when a call returns non-zero. */
#define OK(call)                                                                                   \
    do {                                                                                           \
        tsv_error_clear(&E);                                                                       \
        if ((call) != 0)                                                                           \
            fail_msg("%s failed: %s", #call, E.message);                                           \
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

/* out (PATH_MAX bytes) = dir + "/" + the formatted relative path; fails the
 * test when it does not fit. */
static inline void harness_path(char *out, const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void harness_path(char *out, const char *dir, const char *fmt, ...)
{
    int n = snprintf(out, PATH_MAX, "%s/", dir);
    assert_true(n > 0 && n < PATH_MAX);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(out + n, PATH_MAX - (size_t)n, fmt, ap);
    va_end(ap);
    assert_true(m >= 0 && m < PATH_MAX - n);
}

/* Writes the string content to path (atomically), creating the parent
 * directories. */
static inline void harness_put_file(const char *path, const char *content)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    assert_non_null(slash);
    *slash = '\0';
    tsv_error err;
    if (tsv_mkdir_p(dir, &err) != 0 ||
        tsv_write_file_atomic(path, content, strlen(content), &err) != 0)
        fail_msg("write %s: %s", path, err.message);
}

/* A scratch directory per test: pass harness_scratch_setup/_teardown as a
 * test's cmocka setup/teardown; harness_scratch is its path, and the
 * harness_at/put/exists/count helpers take paths relative to it. */
static char harness_scratch[PATH_MAX] __attribute__((unused));

static inline int harness_scratch_setup(void **state)
{
    (void)state;
    assert_int_equal(
        harness_tmpdir(harness_scratch, sizeof harness_scratch, program_invocation_short_name), 0);
    return 0;
}

static inline int harness_scratch_teardown(void **state)
{
    (void)state;
    assert_int_equal(harness_rmtree(harness_scratch), 0);
    return 0;
}

/* A CMUnitTest of f with a scratch directory of its own. */
#define HARNESS_SCRATCH_TEST(f)                                                                    \
    cmocka_unit_test_setup_teardown(f, harness_scratch_setup, harness_scratch_teardown)

/* out (PATH_MAX bytes) = harness_scratch + "/" + the formatted path. */
#define harness_at(out, ...) harness_path((out), harness_scratch, __VA_ARGS__)

static inline void harness_put(const char *rel, const char *content)
{
    char p[PATH_MAX];
    harness_at(p, "%s", rel);
    harness_put_file(p, content);
}

static inline int harness_exists(const char *rel)
{
    char p[PATH_MAX];
    harness_at(p, "%s", rel);
    return tsv_path_exists(p);
}

/* Entries of dir other than "." and ".."; -1 when it cannot be opened. */
static inline int harness_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* harness_count_entries of a directory below harness_scratch. */
static inline int harness_count(const char *rel)
{
    char p[PATH_MAX];
    harness_at(p, "%s", rel);
    return harness_count_entries(p);
}

/* The name of the only entry of dir besides "." and ".." into out; fails
 * the test when there are none or several. */
static inline void harness_only_entry(const char *dir, char *out, size_t len)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("open %s", dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(out, len, "%s", e->d_name);
        n++;
    }
    closedir(d);
    if (n != 1)
        fail_msg("%s holds %d entries, not one", dir, n);
}

/* 1 when a slot of trash_dir (storage/trash.h) holds the file rel, with
 * content when that is not NULL. */
static inline int harness_trash_has(const char *trash_dir, const char *rel, const char *content)
{
    DIR *d = opendir(trash_dir);
    if (!d)
        return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char f[PATH_MAX + 300];
        int n = snprintf(f, sizeof f, "%s/%s/%s", trash_dir, e->d_name, rel);
        assert_true(n > 0 && (size_t)n < sizeof f);
        char *text;
        tsv_error err;
        if (tsv_read_file(f, 1u << 20, &text, NULL, &err) == 0) {
            found = !content || strcmp(text, content) == 0;
            free(text);
        }
    }
    closedir(d);
    return found;
}

/* xorshift64*: the next number of the sequence *state (not 0) holds;
 * deterministic across runs, for generated test data. */
static inline uint64_t harness_rng(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ull;
}

/* A growing byte buffer for building inputs; zero-initialise, free(b.p). */
typedef struct harness_buf {
    uint8_t *p;
    size_t n, cap;
} harness_buf;

static inline void harness_buf_add(harness_buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
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

/* A ustar header (mode 0644, owner 0) for an entry of the given name,
 * size, type ('0' a file, '5' a directory, ...) and mtime, with its
 * checksum. */
static inline void harness_tar_header(uint8_t h[512], const char *name, size_t size, char type,
                                      unsigned mtime)
{
    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    snprintf((char *)h + 100, 8, "%07o", 0644);
    snprintf((char *)h + 108, 8, "%07o", 0);
    snprintf((char *)h + 116, 8, "%07o", 0);
    snprintf((char *)h + 124, 12, "%011zo", size);
    snprintf((char *)h + 136, 12, "%011o", mtime);
    h[156] = (uint8_t)type;
    memcpy(h + 257, "ustar\00000", 8);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

/* Runs the shell command cmd and returns all it writes to stdout,
 * NUL-terminated and malloc'd (caller frees), with its wait status in
 * *status. */
static inline char *harness_popen_read(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    harness_buf out = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        harness_buf_add(&out, chunk, n);
    harness_buf_add(&out, "", 1);
    *status = pclose(p);
    return (char *)out.p;
}

/* The independent bbolt checker (tests/tools/boltcheck) named by
 * $TSV_BOLTCHECK, or NULL when it may be skipped (TSV_ALLOW_NO_GO=1); fails
 * the test when it is missing otherwise. */
static inline const char *harness_boltcheck_path(void)
{
    const char *p = getenv("TSV_BOLTCHECK");
    if (p && *p && access(p, X_OK) == 0)
        return p;
    const char *allow = getenv("TSV_ALLOW_NO_GO");
    if (allow && strcmp(allow, "1") == 0)
        return NULL;
    fail_msg("TSV_BOLTCHECK (%s) is not an executable; build tests/tools "
             "(or set TSV_ALLOW_NO_GO=1 to skip the independent check)",
             p ? p : "unset");
    return NULL;
}

/* The two real InfluxDB 2 bolt files of testdata: the live one where it
 * lies, and the 2.0 backup gunzipped into dir/backup.bolt. */
static inline void harness_real_bolts(const char *dir, char *live, size_t live_len, char *backup,
                                      size_t backup_len)
{
    snprintf(live, live_len, "%s/influxdb-2-kv/influxd-2.x-live.bolt", TSV_TESTDATA);
    snprintf(backup, backup_len, "%s/backup.bolt", dir);
    char gz[512];
    snprintf(gz, sizeof gz, "%s/influxdb-2-kv/influxd-2.0-backup.bolt.gz", TSV_TESTDATA);
    harness_gunzip_to(gz, backup);
}

/* rm -rf dir unless $TSV_KEEP_TMP is set (to look at what a test left). */
static inline int harness_rmtree_unless_kept(const char *dir)
{
    tsv_error err;
    if (getenv("TSV_KEEP_TMP"))
        return 0;
    return tsv_remove_tree(dir, &err);
}

/* A tsv_reader over a borrowed string, kept on the stack (free does
 * nothing): pass &r.base. */
typedef step_reader harness_str_reader;

static inline harness_str_reader harness_reader_of(const char *s)
{
    return step_reader_of(s, strlen(s), SIZE_MAX);
}

#endif
