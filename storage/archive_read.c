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

int tsv_archive_open(tsv_archive **out, const char *path, tsv_error *err)
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
    archive_read_support_format_zip(a->ar);
    a->member.base.read = member_read;
    a->member.base.free = member_free;
    a->member.a = a;
    if (archive_read_open_filename(a->ar, path, BLOCK) != ARCHIVE_OK) {
        tsv_error_set(err, TSV_EINVALID, "not an archive: %s",
                      archive_error_string(a->ar) ? archive_error_string(a->ar) : "unreadable");
        tsv_archive_close(a);
        return -1;
    }
    *out = a;
    return 0;
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
    for (;;) {
        a->entry_open = 0;
        struct archive_entry *ae;
        int rc = archive_read_next_header(a->ar, &ae);
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
        a->entry_open = 1;
        return 1;
    }
}

tsv_reader *tsv_archive_member(tsv_archive *a) { return &a->member.base; }

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
