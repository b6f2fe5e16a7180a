/* be_writer: binary records with a sticky out-of-memory flag. */
#include "be_writer.h"

#include <stdlib.h>
#include <string.h>

void tsv_bew_put(tsv_bew *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 512;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

void tsv_bew_u8(tsv_bew *b, uint8_t v) { tsv_bew_put(b, &v, 1); }

void tsv_bew_u32(tsv_bew *b, uint32_t v)
{
    uint8_t t[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    tsv_bew_put(b, t, 4);
}

void tsv_bew_u64(tsv_bew *b, uint64_t v)
{
    uint8_t t[8];
    for (int i = 7; i >= 0; i--, v >>= 8)
        t[i] = (uint8_t)v;
    tsv_bew_put(b, t, 8);
}

void tsv_bew_str16(tsv_bew *b, const char *s)
{
    size_t n = strlen(s);
    uint8_t t[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    tsv_bew_put(b, t, 2);
    tsv_bew_put(b, s, n);
}

void tsv_bew_bytes32(tsv_bew *b, const void *p, size_t n)
{
    tsv_bew_u32(b, (uint32_t)n);
    tsv_bew_put(b, p, n);
}

void tsv_bew_free(tsv_bew *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
