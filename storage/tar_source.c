/* tar_source: objects put together as a ustar stream (tar_objects.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tar_objects.h"

#define BLOCK 512

typedef struct tar_source {
    tsv_reader r;
    tsv_objstore *os;
    tsv_tar_entry *v;
    size_t n, i;
    int phase;              /* 0 header, 1 data, 2 padding, 3 end blocks, 4 done */
    uint8_t hdr[4 * BLOCK]; /* [PAX header + record +] the entry's header */
    size_t hdr_len, hdr_off;
    tsv_reader *obj;
    uint64_t left, pad, end_left;
} tar_source;

static void put_octal(uint8_t *p, size_t n, uint64_t v)
{
    /* n-1 octal digits and a NUL, as Go writes them */
    p[n - 1] = 0;
    for (size_t i = n - 1; i-- > 0;) {
        p[i] = (uint8_t)('0' + (v & 7));
        v >>= 3;
    }
}

static void finish_header(uint8_t *h)
{
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memset(h + 148, ' ', 8);
    uint64_t sum = 0;
    for (size_t i = 0; i < BLOCK; i++)
        sum += h[i];
    put_octal(h + 148, 7, sum);
    h[155] = ' ';
}

static void put_size(uint8_t *h, uint64_t size)
{
    if (size < 077777777777ULL) {
        put_octal(h + 124, 12, size);
        return;
    }
    for (int i = 11; i >= 1; i--) { /* base-256 */
        h[124 + i] = (uint8_t)(size & 0xff);
        size >>= 8;
    }
    h[124] = 0x80;
}

/* The entry's header; a name ustar cannot hold (even split into prefix and
 * name) goes in a PAX record before it, as Go's archive/tar does. */
static int make_header(tar_source *s, const tsv_tar_entry *e, tsv_error *err)
{
    memset(s->hdr, 0, sizeof s->hdr);
    uint8_t *h = s->hdr;
    size_t len = strlen(e->name);
    const char *cut = NULL;
    if (len > 100)
        for (const char *p = e->name + len - 1; p > e->name; p--)
            if (*p == '/' && (size_t)(p - e->name) <= 155 &&
                len - (size_t)(p - e->name) - 1 <= 100) {
                cut = p;
                break;
            }
    s->hdr_len = BLOCK;
    if (len > 100 && !cut) {
        /* "<n> path=<name>\n", where n counts its own digits */
        size_t body = strlen(" path=\n") + len, n = body + 1;
        while (n != body + (size_t)snprintf(NULL, 0, "%zu", n))
            n = body + (size_t)snprintf(NULL, 0, "%zu", n);
        if (n > 2 * BLOCK)
            return tsv_error_set(err, TSV_EINVALID, "tar entry name too long: %.300s", e->name);
        snprintf((char *)h, 16, "PaxHeaders/x");
        put_octal(h + 100, 8, 0644);
        put_octal(h + 108, 8, 0);
        put_octal(h + 116, 8, 0);
        put_octal(h + 124, 12, n);
        put_octal(h + 136, 12, e->mtime > 0 ? (uint64_t)e->mtime : 0);
        h[156] = 'x';
        finish_header(h);
        char *rec = (char *)h + BLOCK;
        int w = snprintf(rec, 2 * BLOCK + 1, "%zu path=%s\n", n, e->name);
        if (w < 0 || (size_t)w != n)
            return tsv_error_set(err, TSV_EINTERNAL, "PAX record length");
        size_t rec_blocks = (n + BLOCK - 1) / BLOCK;
        h += BLOCK + rec_blocks * BLOCK;
        s->hdr_len = 2 * BLOCK + rec_blocks * BLOCK;
        memcpy(h, e->name + len - 99, 99); /* a hint; readers use the PAX path */
    } else if (cut) {
        memcpy(h + 345, e->name, (size_t)(cut - e->name));
        memcpy(h, cut + 1, len - (size_t)(cut - e->name) - 1);
    } else {
        memcpy(h, e->name, len);
    }
    put_octal(h + 100, 8, 0644);
    put_octal(h + 108, 8, 0);
    put_octal(h + 116, 8, 0);
    put_size(h, e->size);
    put_octal(h + 136, 12, e->mtime > 0 ? (uint64_t)e->mtime : 0);
    h[156] = '0';
    finish_header(h);
    return 0;
}

/* Writes the zeros still *left (an entry's padding, the closing blocks) that
 * fit in room bytes at out; returns how many. */
static size_t put_zeros(uint8_t *out, size_t room, uint64_t *left)
{
    size_t n = *left < room ? (size_t)*left : room;
    memset(out, 0, n);
    *left -= n;
    return n;
}

static ssize_t source_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    tar_source *s = (tar_source *)r;
    uint8_t *out = buf;
    size_t done = 0;
    while (done < len && s->phase != 4) {
        switch (s->phase) {
        case 0: {
            if (s->i == s->n) {
                s->phase = 3;
                s->end_left = 2 * BLOCK;
                break;
            }
            if (s->hdr_off == 0) {
                const tsv_tar_entry *e = &s->v[s->i];
                if (make_header(s, e, err) != 0 ||
                    tsv_objstore_get(s->os, e->hex, &s->obj, err) != 0)
                    return -1;
                s->left = e->size;
                s->pad = (BLOCK - e->size % BLOCK) % BLOCK;
            }
            size_t n = s->hdr_len - s->hdr_off;
            if (n > len - done)
                n = len - done;
            memcpy(out + done, s->hdr + s->hdr_off, n);
            done += n;
            s->hdr_off += n;
            if (s->hdr_off == s->hdr_len) {
                s->hdr_off = 0;
                s->phase = 1;
            }
            break;
        }
        case 1: {
            if (s->left == 0) {
                /* the object must end where the catalogue says */
                uint8_t extra;
                ssize_t x = tsv_read(s->obj, &extra, 1, err);
                if (x < 0)
                    return -1;
                if (x > 0)
                    return tsv_error_set(err, TSV_EINTERNAL,
                                         "object %s is longer than the %" PRIu64
                                         " bytes the catalogue records",
                                         s->v[s->i].hex, s->v[s->i].size);
                tsv_reader_free(s->obj);
                s->obj = NULL;
                s->phase = 2;
                break;
            }
            size_t want = len - done;
            if (want > s->left)
                want = (size_t)s->left;
            ssize_t n = tsv_read(s->obj, out + done, want, err);
            if (n < 0)
                return -1;
            if (n == 0)
                return tsv_error_set(err, TSV_EINTERNAL,
                                     "object %s is shorter than the %" PRIu64
                                     " bytes the catalogue records",
                                     s->v[s->i].hex, s->v[s->i].size);
            done += (size_t)n;
            s->left -= (uint64_t)n;
            break;
        }
        case 2:
            done += put_zeros(out + done, len - done, &s->pad);
            if (s->pad == 0) {
                s->i++;
                s->phase = 0;
            }
            break;
        case 3:
            done += put_zeros(out + done, len - done, &s->end_left);
            if (s->end_left == 0)
                s->phase = 4;
            break;
        }
    }
    return (ssize_t)done;
}

static void source_free(tsv_reader *r)
{
    tar_source *s = (tar_source *)r;
    tsv_reader_free(s->obj);
    free(s->v);
    free(s);
}

int tsv_tar_source_new(tsv_reader **out, tsv_objstore *os, const tsv_tar_entry *entries,
                       size_t count, tsv_error *err)
{
    tar_source *s = calloc(1, sizeof *s);
    if (!s || !(s->v = malloc((count ? count : 1) * sizeof *s->v))) {
        free(s);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    if (count)
        memcpy(s->v, entries, count * sizeof *s->v);
    s->n = count;
    s->os = os;
    s->r.read = source_read;
    s->r.free = source_free;
    *out = &s->r;
    return 0;
}
