/*
 * bolt_format: byte-level constants and helpers of the bbolt 1.3.6 file
 * format (docs/formats.md#bolt), shared by bolt_read.c and bolt_write.c.
 * Internal to storage/; not part of the bolt.h interface.
 *
 * bbolt overlays host structs on the file, so files from x86-64/arm64 are
 * little-endian; we read and write LE explicitly with byte loads, which are
 * also safe at any alignment (inline pages inside values are unaligned).
 *
 * Thread-safety: pure functions. Errors: none (helpers cannot fail).
 */
#ifndef TSV_BOLT_FORMAT_H
#define TSV_BOLT_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BOLT_MAGIC 0xED0CDAEDu
#define BOLT_VERSION 2u
#define BOLT_MIN_PAGE_SIZE 512u
/* What bbolt assumes when meta 0 is unusable (the OS page size on Linux). */
#define BOLT_DEFAULT_PAGE_SIZE 4096u
#define BOLT_NO_FREELIST UINT64_MAX

#define BOLT_PAGE_HEADER_SIZE 16u
#define BOLT_ELEMENT_SIZE 16u /* branch and leaf elements are both 16 bytes */
#define BOLT_BUCKET_HEADER_SIZE 16u
#define BOLT_META_CHECKED_SIZE 56u /* checksum covers magic .. txid */

/* Page header field offsets. */
#define BOLT_PH_ID 0
#define BOLT_PH_FLAGS 8
#define BOLT_PH_COUNT 10
#define BOLT_PH_OVERFLOW 12

/* Meta field offsets, relative to the meta struct (page offset 16). */
#define BOLT_M_MAGIC 0
#define BOLT_M_VERSION 4
#define BOLT_M_PAGE_SIZE 8
#define BOLT_M_FLAGS 12
#define BOLT_M_ROOT 16
#define BOLT_M_SEQUENCE 24
#define BOLT_M_FREELIST 32
#define BOLT_M_PGID 40
#define BOLT_M_TXID 48
#define BOLT_M_CHECKSUM 56

#define BOLT_PAGE_BRANCH 0x01u
#define BOLT_PAGE_LEAF 0x02u
#define BOLT_PAGE_META 0x04u
#define BOLT_PAGE_FREELIST 0x10u

#define BOLT_LEAF_BUCKET 0x01u /* leaf element flag: value is a bucket header */

/* Freelist count escape: count field 0xFFFF means "first u64 is the count". */
#define BOLT_FREELIST_COUNT_ESCAPE 0xFFFFu

#define BOLT_MAX_KEY 32768u
#define BOLT_MAX_VALUE 0x7FFFFFFEu
/* bbolt panics at >= 0xFFFF elements in a page. */
#define BOLT_MAX_ELEMENTS 65534u
/* Nesting limit for buckets (root = 0, top level = 1), and for B+tree levels
 * inside one bucket. Real trees have branch fan-out >= 2, so 40 levels would
 * need more than 2^39 pages; deeper chains are hostile and would only cost
 * stack. */
#define BOLT_MAX_BUCKET_DEPTH 64u
#define BOLT_MAX_TREE_DEPTH 40u

static inline uint16_t bolt_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t bolt_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t bolt_le64(const uint8_t *p)
{
    return (uint64_t)bolt_le32(p) | (uint64_t)bolt_le32(p + 4) << 32;
}

static inline void bolt_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void bolt_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void bolt_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* FNV-1a 64-bit, the meta checksum. */
static inline uint64_t bolt_fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* bolt key order: bytewise, a proper prefix sorts first. <0, 0, >0. */
static inline int bolt_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

#endif
