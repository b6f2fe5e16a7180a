/*
 * fuzz_util: what every harness in tests/fuzz shares: a per-process scratch
 * directory (removed at exit), input as a file or an in-memory fd, and the
 * property check that turns a violated round trip into a crash libFuzzer
 * saves. Header-only so each harness stays one translation unit.
 */
#ifndef TSV_FUZZ_UTIL_H
#define TSV_FUZZ_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsv_log.h"

/* A property violation is a finding: abort so libFuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char fuzz_scratch_dir[256];

static inline int fuzz_rm_rf_at(int at, const char *name);

/* Removes every entry of the directory open as fd (taking fd over). */
static inline int fuzz_remove_entries(int fd)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        fuzz_rm_rf_at(dirfd(d), e->d_name);
    }
    closedir(d);
    return 0;
}

static inline int fuzz_rm_rf_at(int at, const char *name)
{
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0)
        return unlinkat(at, name, 0);
    if (fuzz_remove_entries(fd) != 0)
        return -1;
    return unlinkat(at, name, AT_REMOVEDIR);
}

/* Removes everything below path (keeps path itself). */
static inline void fuzz_empty_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd >= 0)
        fuzz_remove_entries(fd);
}

static inline void fuzz_scratch_cleanup(void)
{
    if (fuzz_scratch_dir[0]) {
        fuzz_empty_dir(fuzz_scratch_dir);
        rmdir(fuzz_scratch_dir);
    }
}

/* The process's scratch directory, created on first use under $TMPDIR (a
 * tmpfs such as /dev/shm keeps the disk out of the loop). */
static inline const char *fuzz_scratch(void)
{
    if (!fuzz_scratch_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_scratch_dir, sizeof fuzz_scratch_dir, "%s/tsv-fuzz-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fuzz_scratch_dir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(fuzz_scratch_cleanup);
        /* Parsers log warnings about hostile input: noise at fuzzing speed. */
        tsv_log_set_level(TSV_LOG_ERROR);
    }
    return fuzz_scratch_dir;
}

/* Writes all of data to fd; aborts on an error. */
static inline void fuzz_write_all(int fd, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n <= 0) {
            perror("write");
            abort();
        }
        off += (size_t)n;
    }
}

/* Writes data to <scratch>/<name> (replacing it); the path goes to out. */
static inline void fuzz_write_file(const char *name, const uint8_t *data, size_t len, char *out,
                                   size_t outlen)
{
    snprintf(out, outlen, "%s/%s", fuzz_scratch(), name);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(out);
        abort();
    }
    fuzz_write_all(fd, data, len);
    close(fd);
}

/* An anonymous in-memory file holding data, for the fd-based validators. */
static inline int fuzz_memfd(const uint8_t *data, size_t len)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0) {
        perror("memfd_create");
        abort();
    }
    fuzz_write_all(fd, data, len);
    return fd;
}

#endif
