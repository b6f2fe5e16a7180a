/*
 * tar_fixture: tar archives built in memory with libarchive, for the tests
 * that feed tars to the storage layer (shard installs, tar objects), so
 * that the entry-writing loop is written once. Include after harness.h.
 */
#ifndef TSV_TEST_TAR_FIXTURE_H
#define TSV_TEST_TAR_FIXTURE_H

#include <archive.h>
#include <archive_entry.h>
#include <sys/sysmacros.h>

#include "harness.h"

typedef struct tar_entry {
    const char *path;
    mode_t type;             /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR; 0 = hard link */
    const harness_buf *data; /* regular files: NULL = the bytes of `text` */
    const char *text;        /* or the link target */
} tar_entry;

static inline la_ssize_t tar_fixture_write_cb(struct archive *a, void *ctx, const void *buf,
                                              size_t len)
{
    (void)a;
    harness_buf_add(ctx, buf, len);
    return (la_ssize_t)len;
}

/* The archive of the entries, in order, mode 0644: ustar with mtime 0, or
 * (pax) as Go's tar writes it: PAX headers for names past 100 bytes, no
 * padding to a whole block, entry i with mtime 1700000000 + i. Free .p. */
static inline harness_buf tar_fixture_make(const tar_entry *entries, size_t n, int pax)
{
    harness_buf out = {0};
    struct archive *a = archive_write_new();
    if (pax) {
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        assert_int_equal(archive_write_set_bytes_per_block(a, 0), ARCHIVE_OK);
    } else {
        assert_int_equal(archive_write_set_format_ustar(a), ARCHIVE_OK);
    }
    assert_int_equal(archive_write_open(a, &out, NULL, tar_fixture_write_cb, NULL), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        const tar_entry *t = &entries[i];
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, t->path);
        archive_entry_set_perm(e, 0644);
        if (pax)
            archive_entry_set_mtime(e, 1700000000 + (time_t)i, 0);
        const void *bytes = NULL;
        size_t len = 0;
        if (t->type == 0) {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, t->text);
        } else {
            archive_entry_set_filetype(e, t->type);
        }
        if (t->type == AE_IFREG) {
            bytes = t->data ? t->data->p : (const void *)t->text;
            len = t->data ? t->data->n : strlen(t->text);
        } else if (t->type == AE_IFLNK) {
            archive_entry_set_symlink(e, t->text);
        } else if (t->type == AE_IFCHR) {
            archive_entry_set_rdev(e, makedev(1, 3));
        }
        archive_entry_set_size(e, (la_int64_t)len);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (len)
            assert_int_equal(archive_write_data(a, bytes, len), (la_ssize_t)len);
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return out;
}

#endif
