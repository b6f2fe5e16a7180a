/* tombstone_write: range tombstones for every key of a TSM file (tombstone_write.h). */
#include "tombstone_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fsutil.h"

#define TOMB_V3 0x00001503u
#define TOMB_V4 0x00001504u
#define OUT_CHUNK (64 * 1024)

typedef struct gz_out {
    int fd;
    const char *path;
    z_stream z;
    unsigned char buf[OUT_CHUNK];
} gz_out;

static int gz_write(gz_out *g, const void *p, size_t n, int flush, tsv_error *err)
{
    g->z.next_in = (unsigned char *)p;
    g->z.avail_in = (uInt)n;
    do {
        g->z.next_out = g->buf;
        g->z.avail_out = sizeof g->buf;
        int r = deflate(&g->z, flush);
        if (r == Z_STREAM_ERROR)
            return tsv_error_set(err, TSV_EINTERNAL, "deflate failed");
        size_t have = sizeof g->buf - g->z.avail_out;
        if (have && tsv_write_all(g->fd, g->buf, have, g->path, err) != 0)
            return -1;
    } while (g->z.avail_out == 0 || (flush == Z_FINISH && g->z.avail_in > 0));
    return 0;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static int read_exact(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n ? 0 : -1; }

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int tsv_tombstone_write_ranges(const char *tsm_path, tsv_reader *old, const tsv_time_range *ranges,
                               size_t n_ranges, const char *out_path, uint64_t *records,
                               tsv_error *err)
{
    *records = 0;
    FILE *f = fopen(tsm_path, "rbe");
    if (!f)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", tsm_path);
    unsigned char *key = malloc(65536);
    gz_out *g = calloc(1, sizeof *g);
    int fd = -1, zinit = 0, rc = -1;
    if (!key || !g) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    struct stat st;
    unsigned char foot[8];
    if (fstat(fileno(f), &st) != 0 || st.st_size < 13 || fseeko(f, st.st_size - 8, SEEK_SET) != 0 ||
        read_exact(f, foot, 8) != 0) {
        tsv_error_set(err, TSV_EINTERNAL, "%s: cannot read the TSM footer", tsm_path);
        goto out;
    }
    uint64_t index_start = be(foot, 8), index_end = (uint64_t)st.st_size - 8;
    if (index_start < 5 || index_start >= index_end ||
        fseeko(f, (off_t)index_start, SEEK_SET) != 0) {
        tsv_error_set(err, TSV_EINTERNAL, "%s: bad TSM index offset", tsm_path);
        goto out;
    }
    fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", out_path);
        goto out;
    }
    /* The previous tombstone, byte for byte, or a fresh v4 header. */
    unsigned char hdr[4];
    if (old) {
        ssize_t n = tsv_read_full(old, hdr, 4, err);
        if (n < 0)
            goto out;
        uint32_t ver = n == 4 ? (uint32_t)be(hdr, 4) : 0;
        if (ver != TOMB_V3 && ver != TOMB_V4) {
            tsv_error_set(err, TSV_EUNPROCESSABLE,
                          "the shard has a tombstone in the v1 or v2 format (written by InfluxDB "
                          "before 1.5), to which a range delete cannot be added");
            goto out;
        }
        if (tsv_write_all(fd, hdr, 4, out_path, err) != 0)
            goto out;
        for (;;) {
            n = tsv_read(old, g->buf, sizeof g->buf, err);
            if (n < 0)
                goto out;
            if (n == 0)
                break;
            if (tsv_write_all(fd, g->buf, (size_t)n, out_path, err) != 0)
                goto out;
        }
    } else {
        put_be32(hdr, TOMB_V4);
        if (tsv_write_all(fd, hdr, 4, out_path, err) != 0)
            goto out;
    }
    g->fd = fd;
    g->path = out_path;
    if (deflateInit2(&g->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        tsv_error_set(err, TSV_EINTERNAL, "deflateInit failed");
        goto out;
    }
    zinit = 1;
    uint64_t pos = index_start;
    while (pos < index_end) {
        unsigned char h[2], th[3], ent[28];
        if (read_exact(f, h, 2) != 0)
            goto bad;
        size_t klen = (size_t)be(h, 2);
        if (read_exact(f, key, klen) != 0 || read_exact(f, th, 3) != 0)
            goto bad;
        unsigned count = (unsigned)be(th + 1, 2);
        pos += 2 + klen + 3 + 28ull * count;
        if (pos > index_end)
            goto bad;
        /* Which ranges touch this key's data. */
        unsigned char hit[64] = {0};
        int any = 0;
        for (unsigned e = 0; e < count; e++) {
            if (read_exact(f, ent, 28) != 0)
                goto bad;
            int64_t mn = (int64_t)be(ent, 8), mx = (int64_t)be(ent + 8, 8);
            for (size_t r = 0; r < n_ranges && r < 64; r++)
                if (mn <= ranges[r].max && ranges[r].min <= mx) {
                    hit[r] = 1;
                    any = 1;
                }
        }
        if (!any)
            continue;
        for (size_t r = 0; r < n_ranges && r < 64; r++) {
            if (!hit[r])
                continue;
            unsigned char rec[4];
            unsigned char t[16];
            put_be32(rec, (uint32_t)klen);
            put_be64(t, (uint64_t)ranges[r].min);
            put_be64(t + 8, (uint64_t)ranges[r].max);
            if (gz_write(g, rec, 4, Z_NO_FLUSH, err) != 0 ||
                gz_write(g, key, klen, Z_NO_FLUSH, err) != 0 ||
                gz_write(g, t, 16, Z_NO_FLUSH, err) != 0)
                goto out;
            (*records)++;
        }
    }
    if (*records == 0) {
        rc = 0;
        goto out;
    }
    if (gz_write(g, NULL, 0, Z_FINISH, err) != 0 || tsv_fsync_fd(fd, out_path, err) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "close %s", out_path);
        goto out;
    }
    fd = -1;
    rc = 0;
    goto done;
bad:
    tsv_error_set(err, TSV_EINTERNAL, "%s: the TSM index cannot be read", tsm_path);
out:
    if (fd >= 0) {
        close(fd);
        unlink(out_path);
    }
done:
    if (zinit)
        deflateEnd(&g->z);
    free(g);
    free(key);
    fclose(f);
    return rc;
}
