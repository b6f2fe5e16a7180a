/* tsm_filter: TSM files cut to a time range (1.x shard export). */
#include "tsm_filter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

#define BUF (256 * 1024)
#define ENTRY 28 /* min i64, max i64, offset u64, size u32 */

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Sequential reads of [pos, end) of a file through one buffer. */
typedef struct rd {
    int fd;
    const char *path;
    uint64_t pos, end;
    uint8_t *buf;
    size_t have, off;
} rd;

static int rd_get(rd *r, void *out, size_t n, tsv_error *err)
{
    uint8_t *o = out;
    while (n > 0) {
        if (r->off == r->have) {
            if (r->pos >= r->end)
                return tsv_error_set(err, TSV_EINVALID, "%s: TSM index is truncated", r->path);
            size_t want = r->end - r->pos < BUF ? (size_t)(r->end - r->pos) : BUF;
            ssize_t got = pread(r->fd, r->buf, want, (off_t)r->pos);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                return tsv_error_set_errno(err, TSV_EINTERNAL, got < 0 ? errno : EIO, "read %s",
                                           r->path);
            r->pos += (uint64_t)got;
            r->have = (size_t)got;
            r->off = 0;
        }
        size_t k = r->have - r->off < n ? r->have - r->off : n;
        memcpy(o, r->buf + r->off, k);
        r->off += k;
        o += k;
        n -= k;
    }
    return 0;
}

static int rd_done(const rd *r) { return r->off == r->have && r->pos >= r->end; }

/* Opens src and checks header and footer; *index_off, *index_end. */
static int open_tsm(const char *path, int *fd, uint64_t *index_off, uint64_t *index_end,
                    tsv_error *err)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    struct stat st;
    uint8_t h[8];
    if (fstat(*fd, &st) != 0 || st.st_size < 5 + 8 || pread(*fd, h, 5, 0) != 5 ||
        memcmp(h, "\x16\xd1\x16\xd1\x01", 5) != 0) {
        close(*fd);
        return tsv_error_set(err, TSV_EINVALID, "%s: not a TSM file", path);
    }
    if (pread(*fd, h, 8, st.st_size - 8) != 8) {
        close(*fd);
        return tsv_error_set(err, TSV_EINVALID, "%s: cannot read the footer", path);
    }
    *index_off = be64(h);
    *index_end = (uint64_t)st.st_size - 8;
    if (*index_off < 5 || *index_off > *index_end) {
        close(*fd);
        return tsv_error_set(err, TSV_EINVALID, "%s: bad index offset", path);
    }
    return 0;
}

typedef struct key_hdr {
    uint8_t key[65536];
    uint16_t klen;
    uint8_t type;
    uint16_t count;
} key_hdr;

static int read_key(rd *r, key_hdr *k, tsv_error *err)
{
    uint8_t b[3];
    if (rd_get(r, b, 2, err) != 0)
        return -1;
    k->klen = (uint16_t)(b[0] << 8 | b[1]);
    if (rd_get(r, k->key, k->klen, err) != 0 || rd_get(r, b, 3, err) != 0)
        return -1;
    k->type = b[0];
    k->count = (uint16_t)(b[1] << 8 | b[2]);
    if (k->count == 0)
        return tsv_error_set(err, TSV_EINVALID, "%s: index key without entries", r->path);
    return 0;
}

int tsv_tsm_time_range(const char *path, int64_t *min, int64_t *max, tsv_error *err)
{
    int fd;
    uint64_t ioff, iend;
    if (open_tsm(path, &fd, &ioff, &iend, err) != 0)
        return -1;
    rd r = {.fd = fd, .path = path, .pos = ioff, .end = iend, .buf = malloc(BUF)};
    key_hdr *k = malloc(sizeof *k);
    int rc = r.buf && k ? 0 : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    while (rc == 0 && !rd_done(&r)) {
        rc = read_key(&r, k, err);
        for (uint32_t i = 0; rc == 0 && i < k->count; i++) {
            uint8_t e[ENTRY];
            if ((rc = rd_get(&r, e, ENTRY, err)) != 0)
                break;
            int64_t a = (int64_t)be64(e), b = (int64_t)be64(e + 8);
            if (a < lo)
                lo = a;
            if (b > hi)
                hi = b;
        }
    }
    if (rc == 0 && lo > hi)
        rc = tsv_error_set(err, TSV_EINVALID, "%s: empty TSM index", path);
    free(k);
    free(r.buf);
    close(fd);
    if (rc == 0) {
        *min = lo;
        *max = hi;
    }
    return rc;
}

static int copy_range(int in, uint64_t off, uint64_t len, int out, uint8_t *buf, const char *path,
                      tsv_error *err)
{
    while (len > 0) {
        size_t want = len < BUF ? (size_t)len : BUF;
        ssize_t got = pread(in, buf, want, (off_t)off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return tsv_error_set_errno(err, TSV_EINTERNAL, got < 0 ? errno : EIO, "read %s", path);
        if (tsv_write_all(out, buf, (size_t)got, path, err) != 0)
            return -1;
        off += (uint64_t)got;
        len -= (uint64_t)got;
    }
    return 0;
}

int tsv_tsm_filter_range(const char *src, const char *dst, int64_t start, int64_t end,
                         uint64_t *blocks, tsv_error *err)
{
    *blocks = 0;
    int in;
    uint64_t ioff, iend;
    if (open_tsm(src, &in, &ioff, &iend, err) != 0)
        return -1;
    char idx_path[4096];
    int out = -1, idx = -1, rc = 0;
    rd r = {.fd = in, .path = src, .pos = ioff, .end = iend, .buf = malloc(BUF)};
    uint8_t *cbuf = malloc(BUF);
    key_hdr *k = malloc(sizeof *k);
    uint8_t *entries = malloc((size_t)65535 * ENTRY);
    if (!r.buf || !cbuf || !k || !entries)
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (rc == 0 && tsv_path_join(idx_path, sizeof idx_path, err, "%s.index", dst) != 0)
        rc = -1;
    if (rc == 0 && (out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", dst);
    if (rc == 0) {
        /* The new index is collected in an unlinked temp file: bounded memory. */
        idx = open(idx_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (idx < 0)
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", idx_path);
        else
            unlink(idx_path);
    }
    uint64_t pos = 5;
    if (rc == 0)
        rc = tsv_write_all(out, "\x16\xd1\x16\xd1\x01", 5, dst, err);
    while (rc == 0 && !rd_done(&r)) {
        if ((rc = read_key(&r, k, err)) != 0)
            break;
        uint32_t kept = 0;
        for (uint32_t i = 0; rc == 0 && i < k->count; i++) {
            uint8_t *e = entries + (size_t)kept * ENTRY;
            if ((rc = rd_get(&r, e, ENTRY, err)) != 0)
                break;
            int64_t mn = (int64_t)be64(e), mx = (int64_t)be64(e + 8);
            uint64_t off = be64(e + 16);
            uint32_t size = (uint32_t)(e[24] << 24 | e[25] << 16 | e[26] << 8 | e[27]);
            if (off < 5 || size < 5 || off > ioff || size > ioff - off) {
                rc = tsv_error_set(err, TSV_EINVALID, "%s: index entry points outside the blocks",
                                   src);
                break;
            }
            if (mn > end || mx < start)
                continue;
            if ((rc = copy_range(in, off, size, out, cbuf, dst, err)) != 0)
                break;
            put64(e + 16, pos);
            pos += size;
            kept++;
        }
        if (rc == 0 && kept > 0) {
            uint8_t h[3] = {(uint8_t)(k->klen >> 8), (uint8_t)k->klen, k->type};
            uint8_t c[2] = {(uint8_t)(kept >> 8), (uint8_t)kept};
            if (tsv_write_all(idx, h, 2, idx_path, err) != 0 ||
                tsv_write_all(idx, k->key, k->klen, idx_path, err) != 0 ||
                tsv_write_all(idx, h + 2, 1, idx_path, err) != 0 ||
                tsv_write_all(idx, c, 2, idx_path, err) != 0 ||
                tsv_write_all(idx, entries, (size_t)kept * ENTRY, idx_path, err) != 0)
                rc = -1;
            *blocks += kept;
        }
    }
    if (rc == 0 && *blocks > 0) {
        off_t ilen = lseek(idx, 0, SEEK_CUR);
        uint8_t f[8];
        put64(f, pos);
        if (ilen < 0 || copy_range(idx, 0, (uint64_t)ilen, out, cbuf, dst, err) != 0 ||
            tsv_write_all(out, f, 8, dst, err) != 0 || tsv_fsync_fd(out, dst, err) != 0)
            rc = -1;
    }
    if (idx >= 0)
        close(idx);
    if (out >= 0)
        close(out);
    if (out >= 0 && (rc != 0 || *blocks == 0))
        unlink(dst);
    close(in);
    free(r.buf);
    free(cbuf);
    free(k);
    free(entries);
    return rc;
}
