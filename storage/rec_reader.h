/*
 * rec_reader: bounds-checked reading of the binary records that
 * common/be_writer.h writes (big-endian integers), for the catalogue's
 * version records (catalog.c) and the deleted-bucket settings
 * (vault_bucket.c). A read past the end makes the reader `bad` (sticky) and
 * yields NULL or 0, so a decoder checks once, at its end. Private to
 * storage/; no allocation, no errors of its own. One reader per thread.
 */
#ifndef TSV_REC_READER_H
#define TSV_REC_READER_H

#include <stddef.h>
#include <stdint.h>

typedef struct tsv_rec_reader {
    const uint8_t *p;
    size_t len, off;
    int bad;
} tsv_rec_reader;

/* The next n bytes (NULL, and bad set, when fewer are left). */
static inline const uint8_t *tsv_rec_take(tsv_rec_reader *r, size_t n)
{
    if (r->bad || r->len - r->off < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static inline uint32_t tsv_rec_u32(tsv_rec_reader *r)
{
    const uint8_t *p = tsv_rec_take(r, 4);
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

static inline uint64_t tsv_rec_u64(tsv_rec_reader *r)
{
    const uint8_t *p = tsv_rec_take(r, 8);
    uint64_t v = 0;
    for (int i = 0; p && i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

#endif
