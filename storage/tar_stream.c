/* tar_stream: streaming tar check and entry rewrite (tar_stream.h). */
#include "tar_stream.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 512
#define COPY_CHUNK (256 * 1024)

/* ---- check writer ---------------------------------------------------------- */

enum {
    ST_HEADER,
    ST_ZERO1,
    ST_END
};

typedef struct tar_check {
    tsv_writer base;
    tsv_writer *inner;
    uint8_t blk[BLOCK];
    size_t have;      /* bytes of the current header block */
    uint64_t skip;    /* data bytes (padded) left of the current entry */
    uint64_t missing; /* of those, data bytes proper (not padding) */
    int state;
    uint64_t entries, offset, block_at;
    char name[260]; /* last header's name, for messages */
    int failed;
    tsv_error err;
} tar_check;

static int is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Octal field (leading spaces/NULs, digits, then space/NUL to the end). */
static int parse_octal(const uint8_t *p, size_t n, uint64_t *out)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\0'))
        i++;
    uint64_t v = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
        if (v >> 61)
            return -1;
        v = v << 3 | (uint64_t)(p[i] - '0');
    }
    for (; i < n; i++)
        if (p[i] != ' ' && p[i] != '\0')
            return -1;
    *out = v;
    return 0;
}

/* Size field: octal, or base-256 (first byte 0x80) for large values. */
static int parse_size(const uint8_t *p, uint64_t *out)
{
    if (p[0] & 0x80) {
        if (p[0] != 0x80) /* negative or more than 88 bits */
            return -1;
        uint64_t v = 0;
        for (int i = 1; i < 12; i++) {
            if (v >> 55)
                return -1;
            v = v << 8 | p[i];
        }
        *out = v;
        return 0;
    }
    return parse_octal(p, 12, out);
}

static void header_name(const uint8_t *h, char *out, size_t len)
{
    char name[101], prefix[156];
    memcpy(name, h, 100);
    name[100] = '\0';
    memcpy(prefix, h + 345, 155);
    prefix[155] = '\0';
    if (memcmp(h + 257, "ustar", 5) == 0 && prefix[0])
        snprintf(out, len, "%s/%s", prefix, name);
    else
        snprintf(out, len, "%s", name);
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f || *c == '"')
            *c = '?';
}

static int check_header(tar_check *t)
{
    const uint8_t *h = t->blk;
    uint64_t want;
    if (parse_octal(h + 148, 8, &want) != 0)
        return tsv_error_set(&t->err, TSV_EINVALID,
                             "invalid tar: block at offset %" PRIu64
                             " is not a tar header (bad checksum field)",
                             t->block_at);
    uint64_t usum = 0;
    int64_t ssum = 0;
    for (int i = 0; i < BLOCK; i++) {
        uint8_t b = i >= 148 && i < 156 ? ' ' : h[i];
        usum += b;
        ssum += (int8_t)b;
    }
    if (usum != want && (uint64_t)ssum != want)
        return tsv_error_set(&t->err, TSV_EINVALID,
                             "invalid tar: header checksum mismatch at offset %" PRIu64
                             " (stored %" PRIo64 ", computed %" PRIo64 ")",
                             t->block_at, want, usum);
    uint64_t size;
    if (parse_size(h + 124, &size) != 0 || size > (UINT64_C(1) << 60))
        return tsv_error_set(&t->err, TSV_EINVALID,
                             "invalid tar: bad size field in the header at offset %" PRIu64,
                             t->block_at);
    header_name(h, t->name, sizeof t->name);
    char type = (char)h[156];
    /* Go's archive/tar: links, devices, directories and FIFOs carry no data
     * whatever the size says. */
    if (type >= '1' && type <= '6')
        size = 0;
    if (type != 'x' && type != 'g' && type != 'L' && type != 'K')
        t->entries++;
    t->missing = size;
    t->skip = (size + BLOCK - 1) / BLOCK * BLOCK;
    return 0;
}

static int check_write(tsv_writer *w, const void *buf, size_t len, tsv_error *err)
{
    tar_check *t = (tar_check *)w;
    if (t->failed) {
        if (err)
            *err = t->err;
        return -1;
    }
    if (t->inner && tsv_write(t->inner, buf, len, err) != 0)
        return -1; /* the sink's own error, not sticky here */
    const uint8_t *p = buf;
    while (len > 0 && !t->failed) {
        if (t->state == ST_END) {
            if (!is_zero(p, len)) {
                tsv_error_set(&t->err, TSV_EINVALID,
                              "invalid tar: data after the end of the archive (offset %" PRIu64 ")",
                              t->offset);
                t->failed = 1;
                break;
            }
            t->offset += len;
            len = 0;
            break;
        }
        if (t->skip > 0) {
            size_t n = len < t->skip ? len : (size_t)t->skip;
            t->skip -= n;
            t->missing = t->missing > n ? t->missing - n : 0;
            p += n;
            len -= n;
            t->offset += n;
            continue;
        }
        if (t->have == 0)
            t->block_at = t->offset;
        size_t n = BLOCK - t->have < len ? BLOCK - t->have : len;
        memcpy(t->blk + t->have, p, n);
        t->have += n;
        p += n;
        len -= n;
        t->offset += n;
        if (t->have < BLOCK)
            break;
        t->have = 0;
        if (is_zero(t->blk, BLOCK)) {
            t->state = t->state == ST_HEADER ? ST_ZERO1 : ST_END;
        } else if (t->state == ST_ZERO1) {
            tsv_error_set(&t->err, TSV_EINVALID,
                          "invalid tar: a lone zero block before offset %" PRIu64, t->block_at);
            t->failed = 1;
        } else if (check_header(t) != 0) {
            t->failed = 1;
        }
    }
    if (t->failed) {
        if (err)
            *err = t->err;
        return -1;
    }
    return 0;
}

static void check_free(tsv_writer *w) { free(w); }

int tsv_tar_check_writer_new(tsv_writer **out, tsv_writer *inner, tsv_error *err)
{
    tar_check *t = calloc(1, sizeof *t);
    if (!t)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    t->base.write = check_write;
    t->base.free = check_free;
    t->inner = inner;
    *out = &t->base;
    return 0;
}

int tsv_tar_check_finish(tsv_writer *w, uint64_t *entries, tsv_error *err)
{
    tar_check *t = (tar_check *)w;
    if (entries)
        *entries = t->entries;
    if (t->failed) {
        if (err)
            *err = t->err;
        return -1;
    }
    if (t->state == ST_END)
        return 0;
    if (t->offset == 0)
        return tsv_error_set(err, TSV_EINVALID, "truncated tar: no bytes at all");
    if (t->skip > 0)
        return tsv_error_set(err, TSV_EINVALID,
                             "truncated tar: the stream ends inside entry %" PRIu64
                             " (\"%s\", %" PRIu64 " data bytes missing) after %" PRIu64 " bytes",
                             t->entries, t->name, t->missing, t->offset);
    if (t->have > 0)
        return tsv_error_set(err, TSV_EINVALID,
                             "truncated tar: the stream ends inside a header block after %" PRIu64
                             " bytes",
                             t->offset);
    return tsv_error_set(
        err, TSV_EINVALID, "truncated tar: %s after %" PRIu64 " entries (%" PRIu64 " bytes)",
        t->state == ST_ZERO1 ? "only one of the two closing zero blocks" : "no closing zero blocks",
        t->entries, t->offset);
}

/* ---- rewrite ---------------------------------------------------------------- */

typedef struct rw_src {
    tsv_reader *in;
    uint8_t *buf;
    int failed;
    tsv_error err;
} rw_src;

static la_ssize_t rw_read_cb(struct archive *a, void *ctx, const void **out)
{
    rw_src *s = ctx;
    ssize_t n = tsv_read(s->in, s->buf, COPY_CHUNK, &s->err);
    if (n < 0) {
        s->failed = 1;
        archive_set_error(a, EIO, "%s", s->err.message);
        return -1;
    }
    *out = s->buf;
    return n;
}

typedef struct rw_sink {
    tsv_writer *w;
    int failed;
    int cut; /* nothing more may reach w (see tsv_shard_snapshot_write_tar) */
    tsv_error err;
} rw_sink;

static la_ssize_t rw_write_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
    rw_sink *s = ctx;
    if (s->cut) {
        archive_set_error(a, EIO, "stream already failed");
        return -1;
    }
    if (tsv_write(s->w, buf, len, &s->err) != 0) {
        s->failed = 1;
        archive_set_error(a, EIO, "%s", s->err.message);
        return -1;
    }
    return (la_ssize_t)len;
}

/* The error of a failed libarchive call: the stream's own if one failed. */
static int rw_fail(struct archive *a, const rw_src *src, const rw_sink *sink, const char *what,
                   tsv_error *err)
{
    if (src->failed) {
        if (err)
            *err = src->err;
        return -1;
    }
    if (sink->failed) {
        if (err)
            *err = sink->err;
        return -1;
    }
    const char *m = archive_error_string(a);
    return tsv_error_set(err, TSV_EINVALID, "%s: %s", what, m ? m : "corrupt tar");
}

int tsv_tar_rewrite(tsv_reader *in, tsv_writer *out, tsv_tar_rename_fn fn, void *ctx,
                    uint64_t *entries, tsv_error *err)
{
    if (entries)
        *entries = 0;
    int rc = -1;
    rw_src src = {.in = in};
    rw_sink sink = {.w = out};
    uint8_t *data = malloc(COPY_CHUNK);
    src.buf = malloc(COPY_CHUNK);
    struct archive *r = archive_read_new();
    struct archive *w = archive_write_new();
    if (!data || !src.buf || !r || !w) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    archive_read_support_format_tar(r);
    archive_read_support_format_gnutar(r);
    archive_read_support_format_empty(r);
    archive_read_support_filter_none(r);
    if (archive_write_set_format_pax_restricted(w) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(w, 0) != ARCHIVE_OK ||
        archive_write_open2(w, &sink, NULL, rw_write_cb, NULL, NULL) != ARCHIVE_OK) {
        tsv_error_set(err, TSV_EINTERNAL, "tar writer: %s",
                      archive_error_string(w) ? archive_error_string(w) : "cannot open");
        goto out;
    }
    if (archive_read_open2(r, &src, NULL, rw_read_cb, NULL, NULL) != ARCHIVE_OK) {
        rw_fail(r, &src, &sink, "reading the tar", err);
        goto out;
    }
    for (;;) {
        struct archive_entry *e;
        int x = archive_read_next_header(r, &e);
        if (x == ARCHIVE_EOF)
            break;
        if (x != ARCHIVE_OK && x != ARCHIVE_WARN) {
            rw_fail(r, &src, &sink, "reading the tar", err);
            goto out;
        }
        const char *name = archive_entry_pathname(e);
        if (!name)
            name = "";
        mode_t type = archive_entry_filetype(e);
        if (type == AE_IFDIR)
            continue;
        if (type != AE_IFREG || archive_entry_hardlink(e)) {
            tsv_error_set(err, TSV_EINVALID, "tar entry \"%s\" is not a regular file", name);
            goto out;
        }
        char newname[4096];
        int keep = fn(ctx, name, newname, sizeof newname, err);
        if (keep < 0)
            goto out;
        if (keep == 0)
            continue;
        archive_entry_set_pathname(e, newname);
        if (archive_write_header(w, e) != ARCHIVE_OK) {
            rw_fail(w, &src, &sink, "writing the tar", err);
            goto out;
        }
        for (;;) {
            la_ssize_t n = archive_read_data(r, data, COPY_CHUNK);
            if (n < 0) {
                rw_fail(r, &src, &sink, "reading the tar", err);
                goto out;
            }
            if (n == 0)
                break;
            if (archive_write_data(w, data, (size_t)n) != n) {
                rw_fail(w, &src, &sink, "writing the tar", err);
                goto out;
            }
        }
        if (entries)
            (*entries)++;
    }
    if (archive_write_close(w) != ARCHIVE_OK) {
        rw_fail(w, &src, &sink, "writing the tar", err);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        sink.cut = 1; /* archive_write_free would append the closing blocks */
    if (w)
        archive_write_free(w);
    if (r)
        archive_read_free(r);
    free(src.buf);
    free(data);
    return rc;
}
