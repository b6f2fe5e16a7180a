/*
 * tsm_decode: validating decoders for TSM block data (docs/formats.md#tsm-block).
 *
 * Everything here counts and checks without storing values: InfluxDB
 * decodes whatever it is given and silently stops at the shorter of the
 * timestamp and value streams, so a restore must prove up front that every
 * block decodes completely and consistently. Where Go's decoder is lenient
 * (trailing bytes, a bool count larger than its bits, a value count that
 * differs from the timestamp count) we are strict, because Go's writer never
 * produces such blocks and accepting them would let damage through.
 */
#include "tsm_decode.h"

#include <inttypes.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "tsm.h"
#include "tsm_codec_internal.h"

int tsm__fail(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return TSM_DEC_INVALID;
}

void tsm_scratch_free(tsm_scratch *s)
{
    free(s->buf);
    s->buf = NULL;
    s->cap = 0;
}

/* Grows the scratch to at least `need` bytes (need <= the caller's cap). */
static int scratch_reserve(tsm_scratch *s, size_t need)
{
    return tsv_array_grow(&s->buf, &s->cap, need, 1, NULL) == 0 ? 0 : TSM_DEC_NOMEM;
}

int tsm_uvarint(const uint8_t *p, size_t len, uint64_t *out)
{
    uint64_t x = 0;
    unsigned shift = 0;
    for (size_t i = 0; i < len; i++) {
        if (i == 10)
            return -1;
        uint8_t b = p[i];
        if (b < 0x80) {
            if (i == 9 && b > 1)
                return -1;
            *out = x | (uint64_t)b << shift;
            return (int)i + 1;
        }
        x |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    }
    return 0;
}

/* --- simple8b (B.6) ------------------------------------------------------ */

const uint8_t tsm__s8b_count[16] = {240, 120, 60, 30, 20, 15, 12, 10, 8, 7, 6, 5, 4, 3, 2, 1};
const uint8_t tsm__s8b_bits[16] = {0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 30, 60};

const uint64_t tsm__pow10[16] = {
    1ull,
    10ull,
    100ull,
    1000ull,
    10000ull,
    100000ull,
    1000000ull,
    10000000ull,
    100000000ull,
    1000000000ull,
    10000000000ull,
    100000000000ull,
    1000000000000ull,
    10000000000000ull,
    100000000000000ull,
    1000000000000000ull,
};

/* --- timestamps (B.7) ---------------------------------------------------- */

/* Timestamps are computed exactly as Go computes them (uint64 arithmetic,
 * wrapping) and then compared as int64, so "strictly increasing" means
 * "strictly increasing as InfluxDB will read them". */
static inline int ts_less(uint64_t a, uint64_t b) { return (int64_t)a < (int64_t)b; }

int tsm_decode_timestamps(const uint8_t *p, size_t len, tsm_block_result *out, char *why,
                          size_t whylen)
{
    if (len == 0)
        return tsm__fail(why, whylen, "empty timestamp section");
    unsigned enc = p[0] >> 4;
    uint64_t div = tsm__pow10[p[0] & 0xf];
    uint64_t t, count;

    switch (enc) {
    case 0: { /* raw: first value, then deltas, u64 BE each */
        if (len < 9 || (len - 1) % 8 != 0)
            return tsm__fail(why, whylen, "raw timestamps: section length %zu is not 1 + 8*n", len);
        count = (len - 1) / 8;
        if (count > TSV_TSM_MAX_BLOCK_VALUES)
            return tsm__fail(why, whylen, "%" PRIu64 " timestamps exceed the limit of %u", count,
                             TSV_TSM_MAX_BLOCK_VALUES);
        t = tsm__be64(p + 1);
        out->first = (int64_t)t;
        for (uint64_t i = 1; i < count; i++) {
            uint64_t next = t + tsm__be64(p + 1 + 8 * i);
            if (!ts_less(t, next))
                return tsm__fail(why, whylen,
                                 "timestamps not strictly increasing at value %" PRIu64, i);
            t = next;
        }
        break;
    }
    case 1: { /* packed: first value, then simple8b words of delta/div */
        if (len < 9 || (len - 9) % 8 != 0)
            return tsm__fail(why, whylen, "packed timestamps: section length %zu is not 9 + 8*n",
                             len);
        t = tsm__be64(p + 1);
        out->first = (int64_t)t;
        count = 1;
        for (size_t off = 9; off < len; off += 8) {
            uint64_t w = tsm__be64(p + off);
            unsigned sel = (unsigned)(w >> 60);
            unsigned n = tsm__s8b_count[sel];
            if (count + n > TSV_TSM_MAX_BLOCK_VALUES)
                return tsm__fail(why, whylen, "more than %u timestamps", TSV_TSM_MAX_BLOCK_VALUES);
            if (sel < 2) {
                /* Selectors 0 and 1 mean n copies of the value 1. */
                for (unsigned j = 0; j < n; j++) {
                    uint64_t next = t + div;
                    if (!ts_less(t, next))
                        return tsm__fail(why, whylen,
                                         "timestamps not strictly increasing at value %" PRIu64,
                                         count + j);
                    t = next;
                }
            } else {
                unsigned bits = tsm__s8b_bits[sel];
                uint64_t mask = (UINT64_C(1) << bits) - 1;
                for (unsigned j = 0; j < n; j++) {
                    uint64_t next = t + (w & mask) * div;
                    w >>= bits;
                    if (!ts_less(t, next))
                        return tsm__fail(why, whylen,
                                         "timestamps not strictly increasing at value %" PRIu64,
                                         count + j);
                    t = next;
                }
            }
            count += n;
        }
        break;
    }
    case 2: { /* RLE: first value, uvarint delta/div, uvarint total count */
        if (len < 9)
            return tsm__fail(why, whylen, "RLE timestamps: section of %zu bytes is too short", len);
        uint64_t first = tsm__be64(p + 1), delta;
        size_t i = 9;
        int k = tsm_uvarint(p + i, len - i, &delta);
        if (k <= 0)
            return tsm__fail(why, whylen, "RLE timestamps: bad delta varint");
        i += (size_t)k;
        k = tsm_uvarint(p + i, len - i, &count);
        if (k <= 0)
            return tsm__fail(why, whylen, "RLE timestamps: bad count varint");
        i += (size_t)k;
        if (i != len)
            return tsm__fail(why, whylen, "RLE timestamps: %zu trailing bytes", len - i);
        if (count == 0)
            return tsm__fail(why, whylen, "RLE timestamps: count is 0");
        if (count > TSV_TSM_MAX_BLOCK_VALUES)
            return tsm__fail(why, whylen, "%" PRIu64 " timestamps exceed the limit of %u", count,
                             TSV_TSM_MAX_BLOCK_VALUES);
        out->first = (int64_t)first;
        t = first;
        if (count > 1) {
            /* Go reads t_i = first + i*delta with int64 wrap-around, so the
             * run is increasing iff delta > 0 and the last value does not
             * overflow. */
            int64_t d = (int64_t)(delta * div), span, last;
            if (d <= 0)
                return tsm__fail(why, whylen, "RLE timestamps: delta %" PRId64 " is not positive",
                                 d);
            if (__builtin_mul_overflow((int64_t)(count - 1), d, &span) ||
                __builtin_add_overflow((int64_t)first, span, &last))
                return tsm__fail(why, whylen, "RLE timestamps overflow int64");
            t = (uint64_t)last;
        }
        break;
    }
    default:
        return tsm__fail(why, whylen, "unknown timestamp encoding 0x%02x", p[0]);
    }
    out->count = count;
    out->last = (int64_t)t;
    return TSM_DEC_OK;
}

/* --- float (Gorilla XOR, B.8) ------------------------------------------- */

#define FLOAT_END_MARKER UINT64_C(0x7FF8000000000001)

/* The 64 bits of p[0..len) starting at bit pos (MSB first), MSB-aligned;
 * bits past the end read as 0. Callers check availability first, so the
 * padding is never used as data. Plain values, not a struct behind a
 * pointer, so the decoder's state stays in registers. */
static inline uint64_t peek64(const uint8_t *p, size_t len, uint64_t pos)
{
    size_t byte = (size_t)(pos >> 3);
    unsigned sh = (unsigned)(pos & 7);
    uint64_t hi;
    unsigned lo;
    if (byte + 9 <= len) {
        hi = tsm__be64(p + byte);
        lo = p[byte + 8];
    } else {
        uint8_t tmp[9] = {0};
        if (byte < len)
            memcpy(tmp, p + byte, len - byte);
        hi = tsm__be64(tmp);
        lo = tmp[8];
    }
    return sh ? (hi << sh) | (lo >> (8 - sh)) : hi;
}

/* Counts a float section of exactly len bytes; or, with `prefix` set, of
 * unknown length within p[0..len): then the section ends at its end marker's
 * byte, *used gets its length, and running out of bytes is TSM_DEC_SHORT.
 * Every bit read lies before the end marker's last bit, so with len set to
 * *used the strict mode makes exactly the same decisions. */
#define FLOAT_SHORT(...) (prefix ? TSM_DEC_SHORT : tsm__fail(why, whylen, __VA_ARGS__))
static int count_floats_ex(const uint8_t *p, size_t len, uint64_t want, int prefix,
                           uint64_t *count_out, size_t *used, char *why, size_t whylen)
{
    if (len == 0) {
        if (prefix)
            return TSM_DEC_SHORT;
        *count_out = 0;
        return TSM_DEC_OK;
    }
    if (p[0] != 0x10)
        return tsm__fail(why, whylen, "unknown float encoding 0x%02x", p[0]);
    const uint8_t *bp = p + 1;
    const size_t blen = len - 1;
    const uint64_t bits = (uint64_t)blen * 8;
    uint64_t pos = 0;
    if (bits < 64)
        return FLOAT_SHORT("float stream shorter than its first value");
    uint64_t val = peek64(bp, blen, 0);
    pos = 64;
    uint64_t count = 0;
    if (val != FLOAT_END_MARKER) {
        count = 1;
        unsigned leading = 0, trailing = 0;
        for (;;) {
            uint64_t left = bits - pos;
            if (left == 0)
                return FLOAT_SHORT(
                    "float stream ends without its end marker after %" PRIu64 " values", count);
            uint64_t w = peek64(bp, blen, pos);
            if (!(w >> 63)) { /* 0: same value as before */
                pos += 1;
                if (++count > want)
                    break;
                continue;
            }
            if (left < 2)
                return FLOAT_SHORT("float stream truncated");
            unsigned ctrl;
            if ((w >> 62) & 1) { /* 11: new leading/significant window */
                if (left < 13)
                    return FLOAT_SHORT("float stream truncated");
                unsigned lead = (unsigned)(w >> 57) & 0x1f;
                unsigned sig = (unsigned)(w >> 51) & 0x3f;
                if (sig == 0)
                    sig = 64; /* the encoder writes 64 as 0 */
                if (lead + sig > 64)
                    return tsm__fail(why, whylen,
                                     "float window of %u leading + %u significant bits", lead, sig);
                leading = lead;
                trailing = 64 - lead - sig;
                ctrl = 13;
            } else { /* 10: reuse the previous window */
                ctrl = 2;
            }
            unsigned sig = 64 - leading - trailing; /* 1..64 */
            if (left - ctrl < sig)
                return FLOAT_SHORT("float stream truncated");
            /* The value bits usually follow within the 64 already peeked. */
            uint64_t xor ;
            if (ctrl + sig <= 64) {
                xor = (w << ctrl) >> (64 - sig);
                pos += ctrl;
            } else {
                pos += ctrl;
                xor = peek64(bp, blen, pos) >> (64 - sig);
            }
            pos += sig;
            uint64_t next = val ^ (xor << trailing);
            if (next == FLOAT_END_MARKER)
                break;
            val = next;
            if (++count > want)
                break;
        }
    }
    uint64_t used_bytes = (pos + 7) / 8;
    if (count <= want && !prefix) {
        /* The encoder pads the end marker to a byte, nothing more. */
        if (used_bytes != blen)
            return tsm__fail(why, whylen, "%" PRIu64 " bytes after the float end marker",
                             (uint64_t)blen - used_bytes);
    }
    if (used)
        *used = 1 + (size_t)used_bytes;
    *count_out = count;
    return TSM_DEC_OK;
}
#undef FLOAT_SHORT

static int count_floats(const uint8_t *p, size_t len, uint64_t want, uint64_t *count_out, char *why,
                        size_t whylen)
{
    return count_floats_ex(p, len, want, 0, count_out, NULL, why, whylen);
}

/* --- integer / unsigned (B.8) -------------------------------------------- */

static int count_integers(const uint8_t *p, size_t len, uint64_t want, uint64_t *count_out,
                          char *why, size_t whylen)
{
    if (len == 0) {
        *count_out = 0;
        return TSM_DEC_OK;
    }
    switch (p[0]) {
    case 0x00: /* uncompressed zig-zag deltas */
        if ((len - 1) % 8 != 0)
            return tsm__fail(why, whylen, "raw integers: section length %zu is not 1 + 8*n", len);
        *count_out = (len - 1) / 8;
        return TSM_DEC_OK;
    case 0x10: { /* first value raw, then simple8b words */
        if (len < 9 || (len - 9) % 8 != 0)
            return tsm__fail(why, whylen, "packed integers: section length %zu is not 9 + 8*n",
                             len);
        uint64_t count = 1;
        for (size_t off = 9; off < len && count <= want; off += 8)
            count += tsm__s8b_count[p[off] >> 4];
        *count_out = count;
        return TSM_DEC_OK;
    }
    case 0x20: { /* RLE: first, uvarint delta, uvarint repeat count */
        if (len < 9)
            return tsm__fail(why, whylen, "RLE integers: section of %zu bytes is too short", len);
        uint64_t delta, repeat;
        size_t i = 9;
        int k = tsm_uvarint(p + i, len - i, &delta);
        if (k <= 0)
            return tsm__fail(why, whylen, "RLE integers: bad delta varint");
        i += (size_t)k;
        k = tsm_uvarint(p + i, len - i, &repeat);
        if (k <= 0)
            return tsm__fail(why, whylen, "RLE integers: bad repeat varint");
        i += (size_t)k;
        if (i != len)
            return tsm__fail(why, whylen, "RLE integers: %zu trailing bytes", len - i);
        /* Unlike timestamp RLE, the varint is the number of repeats after the
         * first value. Saturate instead of wrapping on the +1. */
        *count_out = repeat == UINT64_MAX ? UINT64_MAX : repeat + 1;
        return TSM_DEC_OK;
    }
    default:
        return tsm__fail(why, whylen, "unknown integer encoding 0x%02x", p[0]);
    }
}

/* --- boolean (B.8) ------------------------------------------------------- */

static int count_booleans(const uint8_t *p, size_t len, uint64_t *count_out, char *why,
                          size_t whylen)
{
    if (len == 0) {
        *count_out = 0;
        return TSM_DEC_OK;
    }
    if (p[0] != 0x10)
        return tsm__fail(why, whylen, "unknown boolean encoding 0x%02x", p[0]);
    uint64_t n;
    int k = tsm_uvarint(p + 1, len - 1, &n);
    if (k <= 0)
        return tsm__fail(why, whylen, "booleans: bad count varint");
    uint64_t have = len - 1 - (size_t)k;
    /* (n + 7) / 8 without overflow */
    uint64_t need = n / 8 + (n % 8 != 0);
    if (have != need)
        return tsm__fail(why, whylen,
                         "booleans: %" PRIu64 " values need %" PRIu64
                         " bytes, section has %" PRIu64,
                         n, need, have);
    *count_out = n;
    return TSM_DEC_OK;
}

/* --- string (snappy, docs/formats.md#tsm-strings) ------------------------ */

/* The decoding itself is libsnappy's (docs/architecture.md: it beat our own
 * decoder on real string blocks). The checks around it keep a hostile block
 * from costing memory: the announced length is bounded before anything is
 * allocated. snappy_uncompress checks every element against the input and
 * the exact-size output and refuses corrupt data, so a separate
 * snappy_validate_compressed_buffer pass would only add a second decode. */
int tsm_snappy_decode(const uint8_t *src, size_t len, size_t max_len, tsm_scratch *scratch,
                      const uint8_t **out, size_t *out_len, char *why, size_t whylen)
{
    uint64_t dlen;
    size_t ulen;
    int k = tsm_uvarint(src, len, &dlen);
    /* libsnappy reads the header as a varint32 of at most 5 bytes; Go and
     * tsm_uvarint accept longer encodings, so both must agree. */
    if (k <= 0 || dlen > 0xffffffffu ||
        snappy_uncompressed_length((const char *)src, len, &ulen) != SNAPPY_OK || ulen != dlen)
        return tsm__fail(why, whylen, "snappy: bad length header");
    if (dlen > max_len)
        return tsm__fail(why, whylen, "snappy: decoded length %" PRIu64 " exceeds the limit of %zu",
                         dlen, max_len);
    /* No element expands more than 64/3 times (a 3-byte copy of 64 bytes), so
     * a larger claim is corrupt; checking it first keeps a tiny hostile block
     * from making us allocate the full limit. */
    if (dlen / 22 > len)
        return tsm__fail(why, whylen, "snappy: decoded length %" PRIu64 " impossible for %zu bytes",
                         dlen, len);
    if (scratch_reserve(scratch, (size_t)dlen + 1) != 0) /* + 1: never a zero-size buffer */
        return TSM_DEC_NOMEM;
    size_t got = (size_t)dlen;
    if (snappy_uncompress((const char *)src, len, (char *)scratch->buf, &got) != SNAPPY_OK ||
        got != dlen)
        return tsm__fail(why, whylen, "snappy: corrupt block (%zu bytes, %" PRIu64 " announced)",
                         len, dlen);
    *out = scratch->buf;
    *out_len = got;
    return TSM_DEC_OK;
}

static int count_strings(const uint8_t *p, size_t len, uint64_t want, tsm_scratch *scratch,
                         uint64_t *count_out, char *why, size_t whylen)
{
    if (len == 0) {
        *count_out = 0;
        return TSM_DEC_OK;
    }
    if (p[0] != 0x10)
        return tsm__fail(why, whylen, "unknown string encoding 0x%02x", p[0]);
    const uint8_t *data;
    size_t dlen;
    int rc = tsm_snappy_decode(p + 1, len - 1, TSV_TSM_MAX_STRING_BYTES, scratch, &data, &dlen, why,
                               whylen);
    if (rc != TSM_DEC_OK)
        return rc;
    uint64_t count = 0;
    size_t i = 0;
    while (i < dlen && count <= want) {
        uint64_t slen = data[i];
        if (slen < 0x80) { /* the common one-byte length */
            i++;
        } else {
            int k = tsm_uvarint(data + i, dlen - i, &slen);
            if (k <= 0)
                return tsm__fail(why, whylen, "string %" PRIu64 ": bad length varint", count);
            i += (size_t)k;
        }
        if (slen > dlen - i)
            return tsm__fail(why, whylen,
                             "string %" PRIu64 ": length %" PRIu64 " overruns the block", count,
                             slen);
        i += (size_t)slen;
        count++;
    }
    *count_out = count;
    return TSM_DEC_OK;
}

/* --- block (B.2) --------------------------------------------------------- */

/* Decodes and counts a value section of exactly vlen bytes against the
 * timestamps' count in out. */
static int check_values(unsigned type, const uint8_t *vals, size_t vlen, tsm_scratch *scratch,
                        const tsm_block_result *out, char *why, size_t whylen)
{
    char inner[200];
    int rc;
    uint64_t n = 0;
    switch (type) {
    case TSM_BLOCK_FLOAT:
        rc = count_floats(vals, vlen, out->count, &n, inner, sizeof inner);
        break;
    case TSM_BLOCK_INTEGER:
    case TSM_BLOCK_UNSIGNED:
        rc = count_integers(vals, vlen, out->count, &n, inner, sizeof inner);
        break;
    case TSM_BLOCK_BOOLEAN:
        rc = count_booleans(vals, vlen, &n, inner, sizeof inner);
        break;
    case TSM_BLOCK_STRING:
        rc = count_strings(vals, vlen, out->count, scratch, &n, inner, sizeof inner);
        break;
    default:
        return tsm__fail(why, whylen, "unknown block type %u", type);
    }
    if (rc == TSM_DEC_NOMEM)
        return rc;
    if (rc != TSM_DEC_OK)
        return tsm__fail(why, whylen, "%s", inner);
    if (n != out->count) {
        /* Counting stops early once it passes the timestamp count. */
        if (n > out->count)
            return tsm__fail(why, whylen, "more values than the %" PRIu64 " timestamps",
                             out->count);
        return tsm__fail(why, whylen, "%" PRIu64 " values but %" PRIu64 " timestamps", n,
                         out->count);
    }
    return TSM_DEC_OK;
}

int tsm_decode_block(const uint8_t *data, size_t len, unsigned want_type, tsm_scratch *scratch,
                     tsm_block_result *out, char *why, size_t whylen)
{
    if (len < 2)
        return tsm__fail(why, whylen, "block data of %zu bytes is too short", len);
    if (data[0] != want_type)
        return tsm__fail(why, whylen, "block type %u but the index says %u", data[0], want_type);
    uint64_t tlen;
    int k = tsm_uvarint(data + 1, len - 1, &tlen);
    if (k <= 0)
        return tsm__fail(why, whylen, "bad timestamp-length varint");
    size_t rest = len - 1 - (size_t)k;
    if (tlen > rest)
        return tsm__fail(why, whylen,
                         "timestamp section of %" PRIu64 " bytes overruns the block (%zu)", tlen,
                         rest);
    const uint8_t *ts = data + 1 + k;
    const uint8_t *vals = ts + tlen;
    size_t vlen = rest - (size_t)tlen;

    char inner[200];
    int rc = tsm_decode_timestamps(ts, (size_t)tlen, out, inner, sizeof inner);
    if (rc != TSM_DEC_OK)
        return tsm__fail(why, whylen, "%s", inner);
    return check_values(want_type, vals, vlen, scratch, out, why, whylen);
}

/* --- blocks of unknown length ------------------------------------------- */

/* uvarint at p[0..avail): > 0 its length, TSM_DEC_SHORT if avail ends in it,
 * TSM_DEC_INVALID if it overflows. */
static int prefix_uvarint(const uint8_t *p, size_t avail, uint64_t *v)
{
    int k = tsm_uvarint(p, avail, v);
    if (k == 0)
        return TSM_DEC_SHORT;
    return k < 0 ? TSM_DEC_INVALID : k;
}

/* Where a value section that starts at p ends, for the sections whose
 * length is not found while counting (all but floats). Only has to be exact
 * for valid sections: the caller then checks the section strictly with this
 * length, so anything else is refused there. */
static int measure_values(unsigned type, const uint8_t *p, size_t avail, uint64_t n, size_t *len)
{
    if (avail == 0)
        return TSM_DEC_SHORT;
    uint64_t need;
    int k, k2;
    uint64_t a, b;
    switch (type) {
    case TSM_BLOCK_INTEGER:
    case TSM_BLOCK_UNSIGNED:
        switch (p[0]) {
        case 0x00: /* raw: one u64 per value */
            need = 1 + 8 * n;
            break;
        case 0x10: { /* first value, then simple8b words up to n values */
            if (avail < 9)
                return TSM_DEC_SHORT;
            uint64_t count = 1;
            size_t off = 9;
            while (count < n) {
                if (avail - off < 8)
                    return TSM_DEC_SHORT;
                count += tsm__s8b_count[p[off] >> 4];
                off += 8;
            }
            need = off;
            break;
        }
        case 0x20: /* RLE: first value, uvarint delta, uvarint repeat */
            if (avail < 9)
                return TSM_DEC_SHORT;
            if ((k = prefix_uvarint(p + 9, avail - 9, &a)) < 0)
                return k;
            if ((k2 = prefix_uvarint(p + 9 + k, avail - 9 - (size_t)k, &b)) < 0)
                return k2;
            need = 9 + (uint64_t)k + (uint64_t)k2;
            break;
        default:
            return TSM_DEC_INVALID;
        }
        break;
    case TSM_BLOCK_BOOLEAN:
        if (p[0] != 0x10)
            return TSM_DEC_INVALID;
        if ((k = prefix_uvarint(p + 1, avail - 1, &a)) < 0)
            return k;
        need = 1 + (uint64_t)k + a / 8 + (a % 8 != 0);
        break;
    case TSM_BLOCK_STRING: {
        /* 0x10, then a snappy block: uvarint decoded length, then elements
         * until that much output is described. */
        if (p[0] != 0x10)
            return TSM_DEC_INVALID;
        const uint8_t *src = p + 1;
        size_t slen = avail - 1;
        uint64_t dlen, d = 0;
        if ((k = prefix_uvarint(src, slen, &dlen)) < 0)
            return k;
        if (dlen > TSV_TSM_MAX_STRING_BYTES)
            return TSM_DEC_INVALID;
        size_t s = (size_t)k;
        while (d < dlen) {
            if (s >= slen)
                return TSM_DEC_SHORT;
            uint8_t tag = src[s];
            uint64_t length;
            size_t hdr;
            switch (tag & 3) {
            case 0: {
                size_t x = tag >> 2;
                hdr = 1;
                if (x >= 60) {
                    size_t extra = x - 59;
                    if (slen - s < 1 + extra)
                        return TSM_DEC_SHORT;
                    x = 0;
                    for (size_t i = 0; i < extra; i++)
                        x |= (size_t)src[s + 1 + i] << (8 * i);
                    hdr = 1 + extra;
                }
                length = (uint64_t)x + 1;
                if (length > dlen - d)
                    return TSM_DEC_INVALID;
                if (slen - s - hdr < length)
                    return TSM_DEC_SHORT;
                s += hdr + (size_t)length;
                d += length;
                continue;
            }
            case 1:
                hdr = 2;
                length = 4 + ((tag >> 2) & 7);
                break;
            case 2:
                hdr = 3;
                length = 1 + (uint64_t)(tag >> 2);
                break;
            default:
                hdr = 5;
                length = 1 + (uint64_t)(tag >> 2);
                break;
            }
            if (slen - s < hdr)
                return TSM_DEC_SHORT;
            if (length > dlen - d)
                return TSM_DEC_INVALID;
            s += hdr;
            d += length;
        }
        need = 1 + (uint64_t)s;
        break;
    }
    default:
        return TSM_DEC_INVALID;
    }
    if (need > TSV_TSM_MAX_BLOCK_BYTES)
        return TSM_DEC_INVALID;
    if (avail < need)
        return TSM_DEC_SHORT;
    *len = (size_t)need;
    return TSM_DEC_OK;
}

int tsm_decode_block_prefix(const uint8_t *data, size_t avail, tsm_scratch *scratch,
                            tsm_block_result *out, size_t *used, char *why, size_t whylen)
{
    if (avail < 2)
        return TSM_DEC_SHORT;
    unsigned type = data[0];
    if (type > TSM_BLOCK_UNSIGNED)
        return tsm__fail(why, whylen, "unknown block type %u", type);
    uint64_t tlen;
    int k = prefix_uvarint(data + 1, avail - 1, &tlen);
    if (k == TSM_DEC_SHORT)
        return TSM_DEC_SHORT;
    if (k < 0)
        return tsm__fail(why, whylen, "bad timestamp-length varint");
    if (tlen > TSV_TSM_MAX_BLOCK_BYTES)
        return tsm__fail(why, whylen, "timestamp section of %" PRIu64 " bytes", tlen);
    size_t head = 1 + (size_t)k + (size_t)tlen;
    if (avail < head)
        return TSM_DEC_SHORT;
    int rc = tsm_decode_timestamps(data + 1 + k, (size_t)tlen, out, why, whylen);
    if (rc != TSM_DEC_OK)
        return rc;
    const uint8_t *vals = data + head;
    size_t vavail = avail - head, vlen;
    if (type == TSM_BLOCK_FLOAT) {
        /* Counting finds the end: one pass. */
        uint64_t n = 0;
        rc = count_floats_ex(vals, vavail, out->count, 1, &n, &vlen, why, whylen);
        if (rc != TSM_DEC_OK)
            return rc;
        if (n != out->count)
            return tsm__fail(why, whylen, "%" PRIu64 " values but %" PRIu64 " timestamps", n,
                             out->count);
        *used = head + vlen;
        return TSM_DEC_OK;
    }
    rc = measure_values(type, vals, vavail, out->count, &vlen);
    if (rc == TSM_DEC_INVALID)
        return tsm__fail(why, whylen, "bad value section");
    if (rc != TSM_DEC_OK)
        return rc;
    *used = head + vlen;
    /* Now a section of known length: the strict check decides. */
    return check_values(type, vals, vlen, scratch, out, why, whylen);
}

/* --- UTF-8 (Go's utf8.Valid rules) --------------------------------------- */

int tsm_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0; /* no overlong forms */
            else if (c == 0xed)
                hi = 0x9f; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f; /* <= U+10FFFF */
        } else {
            return 0;
        }
        if (len - i - 1 < n)
            return 0;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return 0;
        for (size_t j = 2; j <= n; j++)
            if ((p[i + j] & 0xc0) != 0x80)
                return 0;
        i += n + 1;
    }
    return 1;
}
