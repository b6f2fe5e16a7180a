/*
 * be_bytes: big-endian integers in byte arrays (LMDB keys, on-disk and
 * on-wire records), one definition for every module that packs them.
 * Header-only, no state: thread-safe.
 */
#ifndef TSV_BE_BYTES_H
#define TSV_BE_BYTES_H

#include <stdint.h>

static inline void tsv_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t tsv_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static inline void tsv_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint32_t tsv_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
