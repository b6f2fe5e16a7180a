/* archive_read: staged archives member by member (libarchive). */
#include "archive_read.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK (1024 * 1024)

typedef struct member_reader {
    tsv_reader base;
    struct tsv_archive *a;
} member_reader;

struct tsv_archive {
    struct archive *ar;
    member_reader member;
    int entry_open;
    char name[256];
    /* tsv_archive_open_reader: the source and its read buffer */
    tsv_reader *src;
    uint8_t *buf;
    int src_failed;
    tsv_error src_err;
    int64_t prev_end; /* tsv_archive_prev_end */
};

const char *tsv_compression_name(tsv_compression c)
{
    switch (c) {
    case TSV_COMPRESSION_GZ:
        return "gz";
    case TSV_COMPRESSION_ZST:
        return "zst";
    default:
        return "none";
    }
}

int tsv_compression_sniff(const char *path, tsv_compression *out, tsv_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    uint8_t m[4] = {0};
    ssize_t n = pread(fd, m, sizeof m, 0);
    close(fd);
    *out = TSV_COMPRESSION_NONE;
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
        *out = TSV_COMPRESSION_GZ;
    else if (n == 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
        *out = TSV_COMPRESSION_ZST;
    return 0;
}

static ssize_t member_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    member_reader *m = (member_reader *)r;
    if (!m->a->entry_open)
        return 0;
    la_ssize_t n = archive_read_data(m->a->ar, buf, len);
    if (n < 0)
        return tsv_error_set(err, TSV_EINVALID, "archive is corrupt in %s: %s", m->a->name,
                             archive_error_string(m->a->ar) ? archive_error_string(m->a->ar)
                                                            : "read error");
    return n;
}

static void member_free(tsv_reader *r) { (void)r; }

static int archive_new(tsv_archive **out, int with_zip, tsv_error *err)
{
    *out = NULL;
    tsv_archive *a = calloc(1, sizeof *a);
    if (!a)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    a->ar = archive_read_new();
    if (!a->ar) {
        free(a);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    archive_read_support_filter_gzip(a->ar);
    archive_read_support_filter_zstd(a->ar);
    archive_read_support_format_tar(a->ar);
    archive_read_support_format_gnutar(a->ar);
    if (with_zip)
        archive_read_support_format_zip(a->ar);
    a->member.base.read = member_read;
    a->member.base.free = member_free;
    a->member.a = a;
    *out = a;
    return 0;
}

int tsv_archive_open(tsv_archive **out, const char *path, tsv_error *err)
{
    tsv_archive *a;
    if (archive_new(&a, 1, err) != 0)
        return -1;
    if (archive_read_open_filename(a->ar, path, BLOCK) != ARCHIVE_OK) {
        tsv_error_set(err, TSV_EINVALID, "not an archive: %s",
                      archive_error_string(a->ar) ? archive_error_string(a->ar) : "unreadable");
        tsv_archive_close(a);
        return -1;
    }
    *out = a;
    return 0;
}

static la_ssize_t source_read(struct archive *ar, void *ctx, const void **out)
{
    tsv_archive *a = ctx;
    ssize_t n = tsv_read(a->src, a->buf, BLOCK, &a->src_err);
    if (n < 0) {
        a->src_failed = 1;
        archive_set_error(ar, EIO, "%s", a->src_err.message);
        return -1;
    }
    *out = a->buf;
    return n;
}

int tsv_archive_open_reader(tsv_archive **out, tsv_reader *src, tsv_error *err)
{
    tsv_archive *a;
    if (archive_new(&a, 0, err) != 0)
        return -1;
    a->src = src;
    if (!(a->buf = malloc(BLOCK))) {
        tsv_archive_close(a);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    if (archive_read_open2(a->ar, a, NULL, source_read, NULL, NULL) != ARCHIVE_OK) {
        if (a->src_failed && err)
            *err = a->src_err;
        else
            tsv_error_set(err, TSV_EINVALID, "not an archive: %s",
                          archive_error_string(a->ar) ? archive_error_string(a->ar) : "unreadable");
        tsv_archive_close(a);
        return -1;
    }
    *out = a;
    return 0;
}

tsv_compression tsv_archive_compression(tsv_archive *a)
{
    switch (archive_filter_code(a->ar, 0)) {
    case ARCHIVE_FILTER_GZIP:
        return TSV_COMPRESSION_GZ;
    case ARCHIVE_FILTER_ZSTD:
        return TSV_COMPRESSION_ZST;
    default:
        return TSV_COMPRESSION_NONE;
    }
}

static int path_safe(const char *p)
{
    if (p[0] == '/')
        return 0;
    const char *s = p;
    while (*s) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return 0;
        s += n;
        if (*s == '/')
            s++;
    }
    return 1;
}

int tsv_archive_next(tsv_archive *a, tsv_archive_entry *e, tsv_error *err)
{
    int first = 1;
    for (;;) {
        a->entry_open = 0;
        struct archive_entry *ae;
        int rc = archive_read_next_header(a->ar, &ae);
        if (first) {
            /* Where this header (or the end-of-archive blocks) starts is
             * where the previous member's padded data ends. */
            la_int64_t pos = archive_read_header_position(a->ar);
            a->prev_end = pos >= 0 ? (int64_t)pos : -1;
            first = 0;
        }
        if (rc == ARCHIVE_EOF)
            return 0;
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
            return tsv_error_set(err, TSV_EINVALID, "archive is corrupt: %s",
                                 archive_error_string(a->ar) ? archive_error_string(a->ar)
                                                             : "bad header");
        const char *p = archive_entry_pathname(ae);
        if (!p)
            return tsv_error_set(err, TSV_EINVALID, "archive member without a name");
        if (!path_safe(p))
            return tsv_error_set(err, TSV_EINVALID,
                                 "archive member \"%.200s\": absolute or \"..\" paths are refused",
                                 p);
        mode_t t = archive_entry_filetype(ae);
        if (t == AE_IFDIR)
            continue;
        if (t != AE_IFREG || archive_entry_hardlink(ae) || archive_entry_symlink(ae))
            return tsv_error_set(err, TSV_EINVALID,
                                 "archive member \"%.200s\" is not a regular file", p);
        const char *slash = strrchr(p, '/');
        const char *base = slash ? slash + 1 : p;
        if (!*base || strlen(base) >= sizeof a->name)
            return tsv_error_set(err, TSV_EINVALID, "archive member \"%.200s\": bad name", p);
        strcpy(a->name, base);
        e->path = p;
        e->name = a->name;
        e->size = archive_entry_size_is_set(ae) ? (uint64_t)archive_entry_size(ae) : 0;
        e->sparse = archive_entry_sparse_count(ae) > 0 || !archive_entry_size_is_set(ae);
        a->entry_open = 1;
        return 1;
    }
}

tsv_reader *tsv_archive_member(tsv_archive *a) { return &a->member.base; }

int64_t tsv_archive_prev_end(tsv_archive *a)
{
    if (archive_filter_code(a->ar, 0) != ARCHIVE_FILTER_NONE ||
        (archive_format(a->ar) & ARCHIVE_FORMAT_BASE_MASK) != ARCHIVE_FORMAT_TAR)
        return -1;
    return a->prev_end;
}

uint64_t tsv_archive_position(tsv_archive *a)
{
    la_int64_t n = archive_filter_bytes(a->ar, -1);
    return n > 0 ? (uint64_t)n : 0;
}

void tsv_archive_close(tsv_archive *a)
{
    if (!a)
        return;
    if (a->ar)
        archive_read_free(a->ar);
    free(a->buf);
    free(a);
}

int tsv_archive_read_member(tsv_archive *a, const tsv_archive_entry *e, size_t max, char **out,
                            size_t *len, tsv_error *err)
{
    *out = NULL;
    *len = 0;
    if (e->size > max)
        return tsv_error_set(err, TSV_EINVALID, "%s: larger than %zu bytes", e->name, max);
    tsv_buf b = {0};
    char chunk[65536];
    for (;;) {
        ssize_t n = tsv_read(&a->member.base, chunk, sizeof chunk, err);
        if (n < 0) {
            tsv_buf_free(&b);
            return -1;
        }
        if (n == 0)
            break;
        if (b.len + (size_t)n > max) {
            tsv_buf_free(&b);
            return tsv_error_set(err, TSV_EINVALID, "%s: larger than %zu bytes", e->name, max);
        }
        if (tsv_buf_append(&b, chunk, (size_t)n, err) != 0) {
            tsv_buf_free(&b);
            return -1;
        }
    }
    if (tsv_buf_append(&b, "", 1, err) != 0) {
        tsv_buf_free(&b);
        return -1;
    }
    *out = (char *)b.data;
    *len = b.len - 1;
    return 0;
}
