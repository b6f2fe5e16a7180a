/* shard_install: validated, atomic installation of a shard archive. */
#include "shard_install.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array_grow.h"
#include "engine.h"
#include "fault.h"
#include "fsutil.h"
#include "random.h"
#include "tombstone.h"
#include "trash.h"
#include "tsm.h"
#include "tsm_trust.h"
#include "tsv_log.h"
#include "vault.h"

/* The body is read ahead on a second thread (readahead slots of
 * READ_CHUNK): decoding the request (inflate, CRC) runs on one core while
 * this thread parses the tar, writes and validates on another. libarchive
 * borrows the slots directly (no copy). */
#define READ_CHUNK (1024 * 1024)
#define READ_SLOTS 4
/* Writeback of each file is started every WRITEBACK_CHUNK bytes, so the
 * final fsync finds little left to write and dirty memory stays bounded. */
#define WRITEBACK_CHUNK (8 * 1024 * 1024)
#define MAX_ENTRIES 100000

typedef struct tar_source {
    tsv_reader *in; /* a readahead reader */
    tsv_error err;  /* the reader's own error, kept so it is reported as is */
    int failed;
    uint64_t total;
} tar_source;

static la_ssize_t tar_read_cb(struct archive *a, void *ctx, const void **out)
{
    tar_source *src = ctx;
    ssize_t n = tsv_readahead_borrow(src->in, out, &src->err);
    if (n < 0) {
        src->failed = 1;
        archive_set_error(a, EIO, "%s", src->err.message);
        return -1;
    }
    src->total += (uint64_t)n;
    return n;
}

typedef struct name_list {
    char **names;
    char (*hex)[65]; /* SHA-256 of each file, computed while it was written */
    size_t count, cap;
} name_list;

static int name_list_has(const name_list *l, const char *n)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->names[i], n) == 0)
            return 1;
    return 0;
}

static int name_list_add(name_list *l, const char *n, tsv_error *err)
{
    /* names grows first against a copy of cap: cap only moves once both hold count + 1. */
    size_t ncap = l->cap;
    if (tsv_array_grow(&l->names, &ncap, l->count + 1, sizeof *l->names, err) != 0 ||
        TSV_ARRAY_GROW(l->hex, l->count, l->cap, err) != 0)
        return -1;
    if (!(l->names[l->count] = strdup(n)))
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    l->hex[l->count][0] = '\0';
    l->count++;
    return 0;
}

static void name_list_free(name_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->names[i]);
    free(l->names);
    free(l->hex);
    memset(l, 0, sizeof *l);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Checks an entry path: relative, no "..", no empty base name. */
static int check_entry_path(const char *path, const char **base, tsv_error *err)
{
    if (!path || !*path)
        return tsv_error_set(err, TSV_EINVALID, "invalid shard archive: entry without a name");
    if (path[0] == '/')
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid shard archive: absolute path \"%s\" refused", path);
    const char *p = path;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return tsv_error_set(err, TSV_EINVALID,
                                 "invalid shard archive: path \"%s\" escapes with \"..\"", path);
        if (!slash)
            break;
        p = slash + 1;
    }
    const char *b = strrchr(path, '/');
    *base = b ? b + 1 : path;
    return 0;
}

static int write_zeros(int fd, int64_t n, const char *path, EVP_MD_CTX *md, tsv_error *err)
{
    static const uint8_t zeros[64 * 1024];
    while (n > 0) {
        size_t z = n < (int64_t)sizeof zeros ? (size_t)n : sizeof zeros;
        EVP_DigestUpdate(md, zeros, z);
        if (tsv_write_all(fd, zeros, z, path, err) != 0)
            return -1;
        n -= (int64_t)z;
    }
    return 0;
}

/* Streams one entry's data into staging/<base>, fsynced. The data comes
 * straight out of libarchive's read-ahead (archive_read_data_block, no copy);
 * holes of a sparse entry are written as zeros, as archive_read_data does.
 * A TSM file's bytes also go through `ts` (NULL otherwise), which checks its
 * blocks as they pass. Every byte also goes through SHA-256 (`md`, already
 * initialised): the file's object name in the vault, without a second read. */
static int extract_entry(struct archive *a, const char *staging, const char *base, int64_t size,
                         int sparse, tsv_tsm_stream *ts, EVP_MD_CTX *md, int writeback, int durable,
                         tsv_error *err)
{
    char path[PATH_MAX];
    if (tsv_path_join(path, sizeof path, err, "%s/%s", staging, base) != 0)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", path);
    int64_t written = 0, flushed = 0;
    for (;;) {
        const void *buf;
        size_t n;
        la_int64_t off;
        int r = archive_read_data_block(a, &buf, &n, &off);
        if (r == ARCHIVE_EOF) {
            /* A sparse entry may end in a hole. */
            if (sparse && written < size && write_zeros(fd, size - written, path, md, err) != 0) {
                close(fd);
                return -1;
            }
            if (sparse && written < size)
                written = size;
            break;
        }
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            close(fd);
            return tsv_error_set(err, TSV_EINVALID, "invalid shard archive: entry %s: %s", base,
                                 archive_error_string(a) ? archive_error_string(a) : "read error");
        }
        if (off < written || off > size || (int64_t)n > size - off) {
            close(fd);
            return tsv_error_set(err, TSV_EINVALID,
                                 "invalid shard archive: entry %s: data beyond its size", base);
        }
        if (off > written) {
            if (write_zeros(fd, off - written, path, md, err) != 0) {
                close(fd);
                return -1;
            }
            written = off;
        }
        if (ts)
            tsv_tsm_stream_feed(ts, buf, n);
        EVP_DigestUpdate(md, buf, n);
        if (tsv_fault_check("shard-write", err) != 0 ||
            (n && tsv_write_all(fd, buf, n, path, err) != 0)) {
            close(fd);
            return -1;
        }
        written += (int64_t)n;
        if (writeback && written - flushed >= WRITEBACK_CHUNK) {
            /* Only a hint: the fsync below is what makes the data durable. */
            (void)sync_file_range(fd, flushed, written - flushed, SYNC_FILE_RANGE_WRITE);
            flushed = written;
        }
    }
    if (written != size) {
        close(fd);
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid shard archive: entry %s truncated (%" PRId64 " of %" PRId64
                             " bytes)",
                             base, written, size);
    }
    if (writeback && !durable && written > flushed)
        (void)sync_file_range(fd, flushed, written - flushed, SYNC_FILE_RANGE_WRITE);
    if (durable && tsv_fsync_fd(fd, path, err) != 0) {
        close(fd);
        return -1;
    }
    if (close(fd) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "close %s", path);
    return 0;
}

/* Validates staging/<base> completely; a TSM file's blocks that `ts` checked
 * while it was written are not read again (tsm.h). */
static int validate_file(const char *staging, const char *base, tsv_tsm_stream *ts, tsv_error *err)
{
    char path[PATH_MAX];
    if (tsv_path_join(path, sizeof path, err, "%s/%s", staging, base) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    int rc;
    if (has_suffix(base, ".tsm"))
        rc = tsv_tsm_verify_fd_streamed(fd, base, 0, ts, NULL, err);
    else
        rc = tsv_tombstone_verify_fd(fd, base, NULL, err);
    close(fd);
    return rc;
}

/* Hard-links the shard's current TSM/tombstone files that the upload does
 * not replace into the staging directory. */
static int carry_over(const char *shard_dir, const char *staging, const name_list *uploaded,
                      uint64_t *kept, tsv_error *err)
{
    DIR *d = opendir(shard_dir);
    if (!d)
        return errno == ENOENT
                   ? 0
                   : tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", shard_dir);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        int tsm = tsv_tsm_name_valid(n), tomb = tsv_tombstone_name_valid(n);
        if (!tsm && !tomb)
            continue;
        if (name_list_has(uploaded, n))
            continue;
        if (tomb) {
            /* A tombstone belongs to its TSM file: if that file is replaced
             * by the upload, the old deletions must not apply to new data. */
            char tsm_name[NAME_MAX + 1];
            size_t stem = strlen(n) - strlen(".tombstone");
            if (stem + 4 < sizeof tsm_name) {
                memcpy(tsm_name, n, stem);
                memcpy(tsm_name + stem, ".tsm", 5);
                if (name_list_has(uploaded, tsm_name))
                    continue;
            }
        }
        char from[PATH_MAX], to[PATH_MAX];
        if (tsv_path_join(from, sizeof from, err, "%s/%s", shard_dir, n) != 0 ||
            tsv_path_join(to, sizeof to, err, "%s/%s", staging, n) != 0) {
            rc = -1;
            break;
        }
        if (link(from, to) != 0) {
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "link %s", from);
            break;
        }
        (*kept)++;
    }
    closedir(d);
    return rc;
}

/* Writes staging/.tsv-files: one "<sha256> <name>" line per file installed
 * from the archive (a kept upload's list, read by tsv_shard_install_from_dir). */
static int64_t stat_mtime_ns(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
}

static int write_list(const char *staging, const name_list *names, int durable, tsv_error *err)
{
    char path[PATH_MAX];
    if (tsv_path_join(path, sizeof path, err, "%s/%s", staging, TSV_SHARD_LIST_FILE) != 0)
        return -1;
    FILE *fp = fopen(path, "wxe");
    if (!fp)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", path);
    int rc = 0;
    for (size_t i = 0; i < names->count && rc == 0; i++) {
        char file[PATH_MAX];
        struct stat sb;
        if (tsv_path_join(file, sizeof file, err, "%s/%s", staging, names->names[i]) != 0)
            rc = -1;
        else if (stat(file, &sb) != 0)
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "stat %s", file);
        else
            fprintf(fp, "%s %" PRIu64 " %" PRId64 " %" PRIu64 " %s\n", names->hex[i],
                    (uint64_t)sb.st_size, stat_mtime_ns(&sb), (uint64_t)sb.st_ino, names->names[i]);
    }
    if (rc != 0) {
        fclose(fp);
        return -1;
    }
    rc = fflush(fp) == 0 && (!durable || fsync(fileno(fp)) == 0)
             ? 0
             : tsv_error_set_errno(err, TSV_EINTERNAL, errno, "write %s", path);
    if (fclose(fp) != 0 && rc == 0)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "close %s", path);
    return rc;
}

/* The common end of an install: staging holds the new files (names);
 * carries the shard's other files over, marks and syncs staging, lets the
 * hook record the version, exchanges it with shard_dir and disposes of the
 * old content. On success staging[0] is cleared (nothing left to remove).
 * With no names it does nothing: the shard stays exactly as it is. */
static int install_staging(const char *shard_dir, const char *parent, char *staging, uint64_t gen,
                           const char *trash_dir, uint64_t shard_id, const name_list *names,
                           const tsv_shard_install_opts *opts, tsv_shard_install_stats *st,
                           tsv_error *err)
{
    if (names->count == 0)
        return 0;
    const tsv_shard_install_hook *hook = opts->hook;
    int durable = !opts->scratch && !opts->defer_sync;
    if (opts->list && write_list(staging, names, durable, err) != 0)
        return -1;
    if (carry_over(shard_dir, staging, names, &st->kept, err) != 0)
        return -1;
    if ((durable ? tsv_gen_marker_write(staging, gen, err)
                 : tsv_gen_marker_write_unsynced(staging, gen, err)) != 0 ||
        (durable && tsv_fsync_dir(staging, err) != 0))
        return -1;
    if (!tsv_path_exists(shard_dir)) {
        if (mkdir(shard_dir, 0755) != 0 && errno != EEXIST) {
            tsv_error_set_errno(err, TSV_EINTERNAL, errno, "mkdir %s", shard_dir);
            return -1;
        }
    }
    tsv_fault_point("shard-before-exchange");
    if (hook && hook->before_exchange(hook->ctx, staging, gen, (const char *const *)names->names,
                                      (const char(*)[65])names->hex, names->count, err) != 0)
        return -1;
    if (tsv_rename_exchange(staging, shard_dir, err) != 0) {
        if (hook)
            hook->exchange_failed(hook->ctx);
        return -1;
    }
    tsv_fault_point("shard-after-exchange");
    /* The swap is done; from here on the staging path holds the OLD data,
     * which must go to the trash whatever happens next, never be deleted. */
    int rc = durable ? tsv_fsync_dir(parent, err) : 0;
    tsv_error terr;
    char reason[64];
    snprintf(reason, sizeof reason, "shard-%" PRIu64 "-replaced", shard_id);
    if (hook) {
        /* The previous files are objects of the version the hook
         * soft-deleted: nothing to keep here. */
        tsv_vault_drop_tree(staging, trash_dir);
    } else if (tsv_dir_has_data(staging) == 1) {
        if (tsv_trash_move(trash_dir, staging, reason, &terr) != 0)
            TSV_WARN("msg=\"could not move previous shard files aside\" path=\"%s\" error=\"%s\"",
                     staging, terr.message);
    } else if (tsv_remove_tree(staging, &terr) != 0) {
        TSV_WARN("msg=\"could not remove\" path=\"%s\" error=\"%s\"", staging, terr.message);
    }
    staging[0] = '\0';
    return rc;
}

/* What is left of a staging directory after a failed install goes. */
static void drop_staging(const char *staging)
{
    tsv_error err;
    if (staging[0] && tsv_remove_tree(staging, &err) != 0)
        TSV_WARN("msg=\"could not remove staging\" path=\"%s\" error=\"%s\"", staging, err.message);
}

int tsv_shard_install_from_tar(const char *shard_dir, const char *trash_dir, uint64_t shard_id,
                               tsv_reader *tar, tsv_shard_install_stats *stats, tsv_error *err)
{
    static const tsv_shard_install_opts lenient = {0};
    return tsv_shard_install_from_tar_opts(shard_dir, trash_dir, shard_id, tar, &lenient, stats,
                                           err);
}

int tsv_shard_install_from_tar_opts(const char *shard_dir, const char *trash_dir, uint64_t shard_id,
                                    tsv_reader *tar, const tsv_shard_install_opts *opts,
                                    tsv_shard_install_stats *stats, tsv_error *err)
{
    tsv_shard_install_stats st;
    memset(&st, 0, sizeof st);
    uint64_t gen;
    do
        gen = tsv_random_u64();
    while (gen == 0);
    char staging[PATH_MAX], parent[PATH_MAX];
    if (tsv_staging_create(shard_dir, gen, staging, parent, err) != 0)
        return -1;

    int rc = -1;
    name_list names = {0};
    tar_source src = {0};
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    /* Each file is validated as soon as it is written, while its blocks are
     * fresh; the first failure is reported only after the body was read to
     * its end, so stream and tar errors still come first. */
    int invalid = 0;
    tsv_error verr;
    struct archive *a = archive_read_new();
    if (!a || !md) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    if (tsv_readahead_new(&src.in, tar, READ_CHUNK, READ_SLOTS, err) != 0)
        goto out;
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    archive_read_support_filter_none(a);
    if (archive_read_open2(a, &src, NULL, tar_read_cb, NULL, NULL) != ARCHIVE_OK) {
        if (src.failed) {
            if (err)
                *err = src.err;
        } else if (src.total == 0) {
            tsv_error_set(err, TSV_EINVALID, "invalid shard archive: empty request body");
        } else {
            tsv_error_set(err, TSV_EINVALID, "invalid shard archive: %s",
                          archive_error_string(a) ? archive_error_string(a) : "not a tar archive");
        }
        goto out;
    }
    for (;;) {
        struct archive_entry *entry;
        int r = archive_read_next_header(a, &entry);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            if (src.failed) {
                if (err)
                    *err = src.err;
            } else {
                tsv_error_set(err, TSV_EINVALID, "invalid shard archive: %s",
                              archive_error_string(a) ? archive_error_string(a) : "corrupt tar");
            }
            goto out;
        }
        if (st.files + st.skipped >= MAX_ENTRIES) {
            tsv_error_set(err, TSV_EINVALID, "invalid shard archive: more than %d entries",
                          MAX_ENTRIES);
            goto out;
        }
        const char *path = archive_entry_pathname(entry);
        const char *base = NULL; /* set by check_entry_path; gcc -O2 cannot see it */
        if (check_entry_path(path, &base, err) != 0)
            goto out;
        mode_t type = archive_entry_filetype(entry);
        if (archive_entry_hardlink(entry)) {
            tsv_error_set(err, TSV_EINVALID,
                          "invalid shard archive: hard link entry \"%s\" refused", path);
            goto out;
        }
        if (type == AE_IFDIR && !opts->strict) {
            st.skipped++;
            continue;
        }
        if (opts->prefix) {
            size_t pl = strlen(opts->prefix);
            if (strncmp(path, opts->prefix, pl) != 0 || path[pl] != '/' ||
                strchr(path + pl + 1, '/')) {
                tsv_error_set(err, TSV_EINVALID,
                              "invalid shard archive: entry \"%s\" is not in %s/", path,
                              opts->prefix);
                goto out;
            }
        }
        if (type == AE_IFDIR) {
            tsv_error_set(err, TSV_EINVALID,
                          "invalid shard archive: directory entry \"%s\" refused", path);
            goto out;
        }
        if (type != AE_IFREG) {
            tsv_error_set(err, TSV_EINVALID,
                          "invalid shard archive: \"%s\" is not a regular file (%s) and is refused",
                          path, type == AE_IFLNK ? "symbolic link" : "device or special file");
            goto out;
        }
        if (!tsv_tsm_name_valid(base) && !tsv_tombstone_name_valid(base) && opts->strict) {
            tsv_error_set(err, TSV_EINVALID,
                          "invalid shard archive: \"%s\" is not a TSM or tombstone file", path);
            goto out;
        }
        if (!tsv_tsm_name_valid(base) && !tsv_tombstone_name_valid(base)) {
            TSV_WARN("msg=\"skipping shard archive entry\" shard=%" PRIu64 " entry=\"%s\"",
                     shard_id, path);
            st.skipped++;
            continue;
        }
        if (name_list_has(&names, base)) {
            tsv_error_set(err, TSV_EINVALID, "invalid shard archive: file %s appears twice", base);
            goto out;
        }
        if (name_list_add(&names, base, err) != 0)
            goto out;
        int64_t size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : -1;
        if (size < 0) {
            tsv_error_set(err, TSV_EINVALID, "invalid shard archive: entry %s has no size", path);
            goto out;
        }
        int sparse = archive_entry_sparse_count(entry) > 0;
        int is_tsm = has_suffix(base, ".tsm");
        tsv_tsm_stream *ts = NULL;
        /* With a trust set the check waits for the file's hash: a trusted
         * file is not checked at all, another is checked from the disk. */
        if (!invalid && !sparse && is_tsm && !opts->trust && tsv_tsm_stream_new(&ts, err) != 0)
            goto out;
        if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
            tsv_tsm_stream_free(ts);
            tsv_error_set(err, TSV_EINTERNAL, "SHA-256 init failed");
            goto out;
        }
        if (extract_entry(a, staging, base, size, sparse, ts, md, !opts->scratch,
                          !opts->scratch && !opts->defer_sync, err) != 0) {
            tsv_tsm_stream_free(ts);
            if (src.failed && err)
                *err = src.err;
            goto out;
        }
        {
            static const char digits[] = "0123456789abcdef";
            unsigned char d[32];
            EVP_DigestFinal_ex(md, d, NULL);
            char *h = names.hex[names.count - 1];
            for (int i = 0; i < 32; i++) {
                h[2 * i] = digits[d[i] >> 4];
                h[2 * i + 1] = digits[d[i] & 15];
            }
            h[64] = '\0';
        }
        const char *hex = names.hex[names.count - 1];
        if (!invalid && is_tsm && tsv_tsm_trust_has(opts->trust, hex))
            st.trusted++;
        else if (!invalid && validate_file(staging, base, ts, &verr) != 0)
            invalid = 1;
        else if (!invalid && is_tsm && opts->validated &&
                 tsv_tsm_trust_add(opts->validated, hex, err) != 0) {
            tsv_tsm_stream_free(ts);
            goto out;
        }
        tsv_tsm_stream_free(ts);
        st.files++;
        st.bytes += (uint64_t)size;
    }
    if (src.failed) {
        if (err)
            *err = src.err;
        goto out;
    }
    /* Drain the body: trailing bytes after the tar's end blocks must still be
     * read so that a truncated or corrupt compressed body is noticed. */
    for (;;) {
        const void *p;
        ssize_t n = tsv_readahead_borrow(src.in, &p, err);
        if (n < 0)
            goto out;
        if (n == 0)
            break;
    }
    if (invalid) {
        if (err)
            *err = verr;
        goto out;
    }
    rc = install_staging(shard_dir, parent, staging, gen, trash_dir, shard_id, &names, opts, &st,
                         err);
out:
    EVP_MD_CTX_free(md);
    if (a)
        archive_read_free(a);
    tsv_reader_free(src.in);
    name_list_free(&names);
    drop_staging(staging);
    if (stats)
        *stats = st;
    return rc;
}

/* Reads path in bounded chunks: its SHA-256 must still be `hex`. */
static int check_kept_file(const char *path, const char *hex, EVP_MD_CTX *md, uint8_t *buf,
                           size_t buflen, tsv_error *err)
{
    int fd;
    if (tsv_open_read(path, &fd, NULL, err) != 0)
        return -1;
    int rc = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
                 ? 0
                 : tsv_error_set(err, TSV_EINTERNAL, "SHA-256 init failed");
    for (;;) {
        ssize_t n = rc == 0 ? read(fd, buf, buflen) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read %s", path);
        if (n <= 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)n);
    }
    close(fd);
    if (rc != 0)
        return -1;
    static const char digits[] = "0123456789abcdef";
    unsigned char d[32];
    char got[65];
    EVP_DigestFinal_ex(md, d, NULL);
    for (int i = 0; i < 32; i++) {
        got[2 * i] = digits[d[i] >> 4];
        got[2 * i + 1] = digits[d[i] & 15];
    }
    got[64] = '\0';
    if (strcmp(got, hex) != 0)
        return tsv_error_set(err, TSV_EINVALID,
                             "%s changed since it was validated (SHA-256 %s, expected %s)", path,
                             got, hex);
    return 0;
}

int tsv_shard_install_from_dir(const char *shard_dir, const char *trash_dir, uint64_t shard_id,
                               const char *src_dir, const tsv_shard_install_opts *opts,
                               tsv_shard_install_stats *stats, tsv_error *err)
{
    tsv_shard_install_stats st;
    memset(&st, 0, sizeof st);
    if (stats)
        *stats = st;
    char list[PATH_MAX], staging[PATH_MAX], parent[PATH_MAX];
    if (tsv_path_join(list, sizeof list, err, "%s/%s", src_dir, TSV_SHARD_LIST_FILE) != 0 ||
        tsv_path_join(parent, sizeof parent, err, "%s", shard_dir) != 0)
        return -1;
    char *slash = strrchr(parent, '/');
    if (!slash)
        return tsv_error_set(err, TSV_EINTERNAL, "bad shard path %s", shard_dir);
    *slash = '\0';
    FILE *fp = fopen(list, "re");
    if (!fp)
        return tsv_error_set_errno(err, errno == ENOENT ? TSV_ENOTFOUND : TSV_EINTERNAL, errno,
                                   "open %s", list);
    uint64_t gen;
    do
        gen = tsv_random_u64();
    while (gen == 0);
    int rc = -1;
    name_list names = {0};
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t *buf = malloc(READ_CHUNK);
    staging[0] = '\0';
    if (!md || !buf) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    if (tsv_mkdir_p(parent, err) != 0 ||
        tsv_path_join(staging, sizeof staging, err, "%s.staging-%016" PRIx64, shard_dir, gen) != 0)
        goto out;
    if (mkdir(staging, 0755) != 0) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "mkdir %s", staging);
        staging[0] = '\0';
        goto out;
    }
    char line[PATH_MAX];
    while (fgets(line, sizeof line, fp)) {
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[--len] = '\0';
        /* "<sha256> <size> <mtime ns> <inode> <name>" */
        char hex[65], name[256];
        uint64_t size, ino;
        int64_t mtime;
        int used = 0;
        if (len < 66 || line[64] != ' ' || strspn(line, "0123456789abcdef") != 64 ||
            sscanf(line, "%64s %" SCNu64 " %" SCNd64 " %" SCNu64 " %255s%n", hex, &size, &mtime,
                   &ino, name, &used) != 5 ||
            (size_t)used != len || (!tsv_tsm_name_valid(name) && !tsv_tombstone_name_valid(name)) ||
            name_list_has(&names, name)) {
            tsv_error_set(err, TSV_EINVALID, "%s: bad line \"%.80s\"", list, line);
            goto out;
        }
        char from[PATH_MAX], to[PATH_MAX];
        struct stat sb;
        if (tsv_path_join(from, sizeof from, err, "%s/%s", src_dir, name) != 0 ||
            tsv_path_join(to, sizeof to, err, "%s/%s", staging, name) != 0)
            goto out;
        if (link(from, to) != 0) {
            tsv_error_set_errno(err, errno == ENOENT ? TSV_ENOTFOUND : TSV_EINTERNAL, errno,
                                "link %s", from);
            goto out;
        }
        if (stat(to, &sb) != 0) {
            tsv_error_set_errno(err, TSV_EINTERNAL, errno, "stat %s", to);
            goto out;
        }
        /* The same inode, size and modification time as when it was
         * validated: not written since (git's and rsync's quick check; a
         * chmod, as an object store's adopt does, changes none of them).
         * Otherwise its bytes are checked against the SHA-256, through the
         * new link, so that what is installed is what was read. */
        int same = (uint64_t)sb.st_ino == ino && (uint64_t)sb.st_size == size &&
                   stat_mtime_ns(&sb) == mtime;
        if ((!same && check_kept_file(to, hex, md, buf, READ_CHUNK, err) != 0) ||
            name_list_add(&names, name, err) != 0)
            goto out;
        memcpy(names.hex[names.count - 1], hex, 65);
        st.files++;
        st.trusted += has_suffix(name, ".tsm");
        st.bytes += (uint64_t)sb.st_size;
    }
    if (ferror(fp)) {
        tsv_error_set(err, TSV_EINTERNAL, "read %s", list);
        goto out;
    }
    rc = install_staging(shard_dir, parent, staging, gen, trash_dir, shard_id, &names, opts, &st,
                         err);
out:
    fclose(fp);
    free(buf);
    EVP_MD_CTX_free(md);
    name_list_free(&names);
    drop_staging(staging);
    if (stats)
        *stats = st;
    return rc;
}
