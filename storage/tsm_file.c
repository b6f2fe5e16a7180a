/*
 * tsm_file: read-only access to one TSM file and its tombstone (tsm_file.h).
 */
#include "tsm_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <isa-l/crc.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "array_grow.h"
#include "fsutil.h"
#include "tombstone.h"
#include "tsm.h"

#define TSM_MAGIC 0x16D116D1u
#define HEADER 5
#define FOOTER 8
#define ENTRY 28
#define IBUF 65536

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

int tsm_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

size_t tsm_key_series_len(const uint8_t *k, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if (k[i] == '#' && k[i + 1] == '!' && k[i + 2] == '~' && k[i + 3] == '#')
            return i;
    return n;
}

size_t tsm_key_measurement(const uint8_t *k, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    n = tsm_key_series_len(k, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = k[i];
        if (c == '\\' && i + 1 < n && (k[i + 1] == ',' || k[i + 1] == ' ')) {
            c = k[++i];
        } else if (c == '\\' && i + 1 < n) {
            if (o + 1 < outlen)
                out[o++] = (char)c;
            c = k[++i];
        } else if (c == ',') {
            break;
        }
        if (o + 1 < outlen)
            out[o++] = (char)c;
    }
    out[o] = '\0';
    return o;
}

static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0) {
            errno = EIO;
            return -2;
        }
        got += (size_t)k;
    }
    return 0;
}

static int io_err(tsm_file *f, int rc, const char *what, uint64_t off, tsv_error *err)
{
    if (rc == -2)
        return tsv_error_set(err, TSV_EINVALID, "%s: file ends early reading %s at offset %" PRIu64,
                             f->path, what, off);
    return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "%s: read %s at offset %" PRIu64, f->path,
                               what, off);
}

/* --- tombstones ---------------------------------------------------------- */

typedef struct tomb_loader {
    tsm_file *f;
    tsv_error *err;
    size_t cap;
    uint8_t *keys; /* all keys, appended */
    size_t kcap, klen;
    int v2;
} tomb_loader;

static int tomb_add(tomb_loader *l, const uint8_t *key, size_t klen, int64_t min, int64_t max)
{
    tsm_file *f = l->f;
    if (l->klen + klen > TSM_FILE_MAX_TOMBSTONE_BYTES)
        return tsv_error_set(l->err, TSV_ETOOLARGE,
                             "%s: tombstone holds more than %zu bytes of keys", f->path,
                             TSM_FILE_MAX_TOMBSTONE_BYTES);
    if (TSV_ARRAY_GROW(f->tombs, f->ntombs, l->cap, l->err) != 0)
        return -1;
    if (tsv_array_grow(&l->keys, &l->kcap, l->klen + klen, 1, l->err) != 0)
        return -1;
    memcpy(l->keys + l->klen, key, klen);
    /* Key pointers are fixed up once all keys are loaded (realloc moves). */
    f->tombs[f->ntombs++] = (tsm_tomb){
        .key = (const uint8_t *)(uintptr_t)l->klen, .klen = (uint32_t)klen, .min = min, .max = max};
    l->klen += klen;
    return 0;
}

/* Records: u32 BE key length, key, i64 BE min, i64 BE max. */
typedef struct recstate {
    uint8_t hdr[4];
    size_t have;
    uint8_t *key;
    size_t klen, kcap, kgot;
    uint8_t times[16];
    size_t tgot;
    int state; /* 0 len, 1 key, 2 times */
} recstate;

/* Copies into dst what p holds of the want - *got bytes dst still lacks; returns how many. */
static size_t fill(uint8_t *dst, size_t want, size_t *got, const uint8_t *p, size_t n)
{
    size_t take = want - *got < n ? want - *got : n;
    memcpy(dst + *got, p, take);
    *got += take;
    return take;
}

static int rec_feed(tomb_loader *l, recstate *r, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t take;
        if (r->state == 0) {
            take = fill(r->hdr, 4, &r->have, p, n);
            if (r->have == 4) {
                r->klen = be32(r->hdr);
                if (r->klen > r->kcap) {
                    uint8_t *k = realloc(r->key, r->klen);
                    if (!k)
                        return tsv_error_set(l->err, TSV_EINTERNAL, "out of memory");
                    r->key = k;
                    r->kcap = r->klen;
                }
                r->kgot = 0;
                r->state = 1;
            }
        } else if (r->state == 1) {
            take = fill(r->key, r->klen, &r->kgot, p, n);
            if (r->kgot == r->klen) {
                r->tgot = 0;
                r->state = 2;
            }
        } else {
            take = fill(r->times, 16, &r->tgot, p, n);
            if (r->tgot == 16) {
                if (l->v2) {
                    /* InfluxDB 1.x's v2 reader reads min and max into the
                     * buffer that holds the key, so the key it applies
                     * starts with the bytes of max (see tombstone.c). */
                    size_t m = r->klen < 8 ? r->klen : 8;
                    memcpy(r->key, r->times + 8, m);
                }
                if (tomb_add(l, r->key, r->klen, (int64_t)be64(r->times),
                             (int64_t)be64(r->times + 8)) != 0)
                    return -1;
                r->have = 0;
                r->state = 0;
            }
        }
        p += take;
        n -= take;
    }
    return 0;
}

static int tomb_cmp(const void *a, const void *b)
{
    const tsm_tomb *x = a, *y = b;
    int c = tsm_key_cmp(x->key, x->klen, y->key, y->klen);
    if (c)
        return c;
    return x->min < y->min ? -1 : x->min > y->min;
}

static int load_tombstones(tsm_file *f, const char *tpath, int fd, tsv_error *err)
{
    if (tsv_tombstone_verify_fd(fd, tpath, NULL, err) != 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "fstat %s", tpath);
    tomb_loader l = {.f = f, .err = err};
    recstate r = {0};
    uint8_t *buf = malloc(65536), *out = malloc(65536);
    int rc = -1;
    z_stream z;
    memset(&z, 0, sizeof z);
    int zinit = 0;
    if (!buf || !out) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto done;
    }
    f->tomb_bytes = (uint64_t)st.st_size;
    uint8_t head[4] = {0};
    size_t hlen = st.st_size >= 4 ? 4 : (size_t)st.st_size;
    if (hlen && pread_all(fd, head, hlen, 0) != 0) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read %s", tpath);
        goto done;
    }
    uint32_t magic = hlen == 4 ? be32(head) : 0;
    if (magic == 0x1502u || magic == 0x1503u || magic == 0x1504u) {
        l.v2 = magic == 0x1502u;
        int gz = !l.v2;
        if (gz) {
            if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
                tsv_error_set(err, TSV_EINTERNAL, "inflateInit failed");
                goto done;
            }
            zinit = 1;
        }
        uint64_t off = 4;
        while (off < (uint64_t)st.st_size) {
            size_t want =
                (uint64_t)st.st_size - off < 65536 ? (size_t)((uint64_t)st.st_size - off) : 65536;
            if (pread_all(fd, buf, want, off) != 0) {
                tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read %s", tpath);
                goto done;
            }
            off += want;
            if (!gz) {
                if (rec_feed(&l, &r, buf, want) != 0)
                    goto done;
                continue;
            }
            z.next_in = buf;
            z.avail_in = (uInt)want;
            while (z.avail_in > 0) {
                z.next_out = out;
                z.avail_out = 65536;
                int zr = inflate(&z, Z_NO_FLUSH);
                if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
                    tsv_error_set(err, TSV_EINVALID, "%s: gzip: %s", tpath,
                                  z.msg ? z.msg : "error");
                    goto done;
                }
                if (rec_feed(&l, &r, out, 65536 - z.avail_out) != 0)
                    goto done;
                if (zr == Z_STREAM_END)
                    inflateReset(&z); /* the next member, if any */
                else if (zr == Z_BUF_ERROR && z.avail_out != 0)
                    break;
            }
        }
    } else {
        /* v1: one key per line, the whole time range. */
        uint64_t off = 0;
        size_t lines = 0;
        uint8_t *line = NULL;
        size_t llen = 0, lcap = 0;
        while (off < (uint64_t)st.st_size) {
            size_t want =
                (uint64_t)st.st_size - off < 65536 ? (size_t)((uint64_t)st.st_size - off) : 65536;
            if (pread_all(fd, buf, want, off) != 0) {
                free(line);
                tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read %s", tpath);
                goto done;
            }
            off += want;
            for (size_t i = 0; i < want; i++) {
                if (buf[i] == '\n') {
                    if (llen && tomb_add(&l, line, llen, INT64_MIN, INT64_MAX) != 0) {
                        free(line);
                        goto done;
                    }
                    llen = 0;
                    lines++;
                    continue;
                }
                if (llen == lcap) {
                    lcap = lcap ? lcap * 2 : 256;
                    uint8_t *nl = realloc(line, lcap);
                    if (!nl) {
                        free(line);
                        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
                        goto done;
                    }
                    line = nl;
                }
                line[llen++] = buf[i];
            }
        }
        /* bufio.Scanner drops a trailing "\r" of each line too. */
        if (llen && tomb_add(&l, line, llen, INT64_MIN, INT64_MAX) != 0) {
            free(line);
            goto done;
        }
        free(line);
    }
    for (size_t i = 0; i < f->ntombs; i++)
        f->tombs[i].key = l.keys + (uintptr_t)f->tombs[i].key;
    f->tomb_keys = l.keys;
    l.keys = NULL;
    if (f->ntombs) /* an empty tombstone (a v4 header alone) has no array */
        qsort(f->tombs, f->ntombs, sizeof *f->tombs, tomb_cmp);
    rc = 0;
done:
    if (zinit)
        inflateEnd(&z);
    free(l.keys);
    free(r.key);
    free(buf);
    free(out);
    return rc;
}

void tsm_file_key_tombs(const tsm_file *f, const uint8_t *key, size_t klen, size_t *first,
                        size_t *count)
{
    size_t lo = 0, hi = f->ntombs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tsm_key_cmp(f->tombs[mid].key, f->tombs[mid].klen, key, klen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < f->ntombs && tsm_key_cmp(f->tombs[end].key, f->tombs[end].klen, key, klen) == 0)
        end++;
    *first = lo;
    *count = end - lo;
}

/* --- file ---------------------------------------------------------------- */

int tsm_file_open(tsm_file *f, const char *path, unsigned flags, tsv_error *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (strlen(path) >= sizeof f->path)
        return tsv_error_set(err, TSV_EINVALID, "path too long");
    strcpy(f->path, path);
    if (tsv_open_read(path, &f->fd, NULL, err) != 0)
        return -1;
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "fstat %s", path);
    f->size = (uint64_t)st.st_size;
    if (f->size < HEADER + FOOTER)
        return tsv_error_set(err, TSV_EINVALID, "%s: file of %" PRIu64 " bytes is too small", path,
                             f->size);
    uint8_t h[HEADER], ft[FOOTER];
    int rc;
    if ((rc = pread_all(f->fd, h, HEADER, 0)) != 0)
        return io_err(f, rc, "header", 0, err);
    if (be32(h) != TSM_MAGIC || h[4] != 1)
        return tsv_error_set(err, TSV_EINVALID,
                             "%s: not a TSM file (bad magic or version) at "
                             "offset 0",
                             path);
    if ((rc = pread_all(f->fd, ft, FOOTER, f->size - FOOTER)) != 0)
        return io_err(f, rc, "footer", f->size - FOOTER, err);
    f->index_start = be64(ft);
    if (f->index_start < HEADER || f->index_start >= f->size - FOOTER)
        return tsv_error_set(err, TSV_EINVALID,
                             "%s: index offset %" PRIu64 " out of range at "
                             "offset %" PRIu64,
                             path, f->index_start, f->size - FOOTER);
    f->ibuf = malloc(IBUF);
    f->key = malloc(65536);
    if (!f->ibuf || !f->key)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    f->icap = IBUF;
    tsm_file_rewind(f);

    /* The tombstone: same name, ".tombstone" instead of ".tsm". */
    char tpath[4096 + 16];
    size_t plen = strlen(path);
    if ((flags & TSM_FILE_TOMBSTONE) && plen > 4 && strcmp(path + plen - 4, ".tsm") == 0) {
        snprintf(tpath, sizeof tpath, "%.*s.tombstone", (int)(plen - 4), path);
        int tfd = open(tpath, O_RDONLY | O_CLOEXEC);
        if (tfd >= 0) {
            f->has_tombstone = 1;
            rc = load_tombstones(f, tpath, tfd, err);
            close(tfd);
            if (rc != 0)
                return -1;
        } else if (errno != ENOENT) {
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", tpath);
        }
    }
    return 0;
}

void tsm_file_close(tsm_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->ibuf);
    free(f->key);
    free(f->entries);
    free(f->block);
    free(f->tombs);
    free(f->tomb_keys);
    f->ibuf = f->key = f->block = f->tomb_keys = NULL;
    f->entries = NULL;
    f->tombs = NULL;
}

void tsm_file_rewind(tsm_file *f)
{
    f->istart = f->iend = 0;
    f->ipos = f->index_start;
}

/* Makes n bytes of the index available at f->ibuf + f->istart. */
static int need(tsm_file *f, size_t n, tsv_error *err)
{
    uint64_t limit = f->size - FOOTER;
    if (f->iend - f->istart >= n)
        return 0;
    if (limit - f->ipos < n)
        return tsv_error_set(err, TSV_EINVALID, "%s: index truncated at offset %" PRIu64, f->path,
                             f->ipos);
    size_t have = f->iend - f->istart;
    memmove(f->ibuf, f->ibuf + f->istart, have);
    f->istart = 0;
    f->iend = have;
    if (n > f->icap) {
        uint8_t *b = realloc(f->ibuf, n);
        if (!b)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        f->ibuf = b;
        f->icap = n;
    }
    size_t fill = f->icap;
    if (limit - f->ipos < fill)
        fill = (size_t)(limit - f->ipos);
    if (fill > have) {
        int rc = pread_all(f->fd, f->ibuf + have, fill - have, f->ipos + have);
        if (rc != 0)
            return io_err(f, rc, "index", f->ipos + have, err);
        f->iend = fill;
    }
    return 0;
}

int tsm_file_next_key(tsm_file *f, tsv_error *err)
{
    if (f->ipos >= f->size - FOOTER)
        return 0;
    f->key_offset = f->ipos;
    if (need(f, 2, err) != 0)
        return -1;
    size_t klen = be16(f->ibuf + f->istart);
    if (need(f, 2 + klen + 3, err) != 0)
        return -1;
    const uint8_t *p = f->ibuf + f->istart;
    memcpy(f->key, p + 2, klen);
    f->klen = klen;
    f->type = p[2 + klen];
    size_t count = be16(p + 2 + klen + 1);
    f->istart += 2 + klen + 3;
    f->ipos += 2 + klen + 3;
    if (count == 0 || f->type > 4)
        return tsv_error_set(err, TSV_EINVALID, "%s: bad index record at offset %" PRIu64, f->path,
                             f->key_offset);
    if (count > f->ecap) {
        tsm_entry *e = realloc(f->entries, count * sizeof *e);
        if (!e)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        f->entries = e;
        f->ecap = count;
    }
    for (size_t i = 0; i < count; i++) {
        if (need(f, ENTRY, err) != 0)
            return -1;
        p = f->ibuf + f->istart;
        f->entries[i].min = (int64_t)be64(p);
        f->entries[i].max = (int64_t)be64(p + 8);
        f->entries[i].off = be64(p + 16);
        f->entries[i].size = be32(p + 24);
        f->istart += ENTRY;
        f->ipos += ENTRY;
        const tsm_entry *e = &f->entries[i];
        if (e->size < 6 || e->size > TSV_TSM_MAX_BLOCK_BYTES || e->off < HEADER ||
            e->off > f->index_start || e->size > f->index_start - e->off)
            return tsv_error_set(err, TSV_EINVALID,
                                 "%s: index entry %zu of a key points outside the data region at "
                                 "offset %" PRIu64,
                                 f->path, i, f->ipos - ENTRY);
    }
    f->n = count;
    return 1;
}

static int read_raw(tsm_file *f, uint64_t off, size_t n, tsv_error *err)
{
    if (tsv_array_grow(&f->block, &f->bcap, n, 1, err) != 0)
        return -1;
    int rc = pread_all(f->fd, f->block, n, off);
    return rc ? io_err(f, rc, "block", off, err) : 0;
}

int tsm_file_read_block(tsm_file *f, const tsm_entry *e, const uint8_t **data, size_t *len,
                        tsv_error *err)
{
    if (read_raw(f, e->off, e->size, err) != 0)
        return -1;
    uint32_t stored = be32(f->block);
    uint32_t computed = crc32_gzip_refl(0, f->block + 4, e->size - 4);
    if (stored != computed)
        return tsv_error_set(err, TSV_EINVALID,
                             "%s: block CRC32 mismatch (stored 0x%08" PRIx32
                             ", computed 0x%08" PRIx32 ") at offset %" PRIu64,
                             f->path, stored, computed, e->off);
    *data = f->block + 4;
    *len = e->size - 4;
    return 0;
}

int tsm_file_peek_block(tsm_file *f, const tsm_entry *e, size_t want, const uint8_t **data,
                        size_t *len, tsv_error *err)
{
    size_t n = e->size - 4 < want ? e->size - 4 : want;
    if (read_raw(f, e->off + 4, n, err) != 0)
        return -1;
    *data = f->block;
    *len = n;
    return 0;
}
