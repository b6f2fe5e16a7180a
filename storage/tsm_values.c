/*
 * tsm_values: block decoding into arrays (see tsm_values.h). The bit-level
 * rules are those of the validating decoders in tsm_decode.c; the input has
 * passed them, so bounds are still respected but errors cannot occur past
 * the validation (they are still reported, never assumed away).
 */
#include "tsm_values.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsm.h"
#include "tsm_codec_internal.h"

void tsm_values_free(tsm_values *v)
{
    free(v->ts);
    free(v->v.u);
    free(v->soff);
    free(v->slen);
    tsm_scratch_free(&v->str);
    tsm_scratch_free(&v->check);
    memset(v, 0, sizeof *v);
}

/* All arrays hold at least n entries. */
static int reserve(tsm_values *v, size_t n)
{
    if (n <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : 1024;
    while (cap < n)
        cap *= 2;
    int64_t *ts = realloc(v->ts, cap * sizeof *ts);
    if (ts)
        v->ts = ts;
    uint64_t *u = realloc(v->v.u, cap * sizeof *u);
    if (u)
        v->v.u = u;
    uint32_t *so = realloc(v->soff, cap * sizeof *so);
    if (so)
        v->soff = so;
    uint32_t *sl = realloc(v->slen, cap * sizeof *sl);
    if (sl)
        v->slen = sl;
    if (!ts || !u || !so || !sl)
        return TSM_DEC_NOMEM;
    v->cap = cap;
    return 0;
}

/* Fills v->ts with the timestamps of a section that tsm_decode_timestamps
 * accepted (count known). */
static void timestamps(const uint8_t *p, size_t len, size_t count, int64_t *out)
{
    unsigned enc = p[0] >> 4;
    uint64_t div = tsm__pow10[p[0] & 0xf];
    uint64_t t = tsm__be64(p + 1);
    out[0] = (int64_t)t;
    size_t k = 1;
    if (enc == 0) {
        for (; k < count; k++) {
            t += tsm__be64(p + 1 + 8 * k);
            out[k] = (int64_t)t;
        }
    } else if (enc == 1) {
        for (size_t off = 9; off + 8 <= len && k < count; off += 8) {
            uint64_t w = tsm__be64(p + off);
            unsigned sel = (unsigned)(w >> 60);
            unsigned n = tsm__s8b_count[sel];
            if (sel < 2) {
                for (unsigned j = 0; j < n && k < count; j++) {
                    t += div;
                    out[k++] = (int64_t)t;
                }
            } else {
                unsigned bits = tsm__s8b_bits[sel];
                uint64_t mask = (UINT64_C(1) << bits) - 1;
                for (unsigned j = 0; j < n && k < count; j++) {
                    t += (w & mask) * div;
                    w >>= bits;
                    out[k++] = (int64_t)t;
                }
            }
        }
    } else {
        uint64_t delta;
        int n = tsm_uvarint(p + 9, len - 9, &delta);
        (void)n;
        uint64_t d = delta * div;
        for (; k < count; k++) {
            t += d;
            out[k] = (int64_t)t;
        }
    }
}

static int decode_ts(const uint8_t *data, size_t len, tsm_values *out, const uint8_t **vals,
                     size_t *vlen, char *why, size_t whylen)
{
    if (len < 2)
        return tsm__fail(why, whylen, "block data of %zu bytes is too short", len);
    uint64_t tlen;
    int k = tsm_uvarint(data + 1, len - 1, &tlen);
    if (k <= 0 || tlen > len - 1 - (size_t)k)
        return tsm__fail(why, whylen, "bad timestamp section length");
    const uint8_t *ts = data + 1 + k;
    tsm_block_result r;
    int rc = tsm_decode_timestamps(ts, (size_t)tlen, &r, why, whylen);
    if (rc != TSM_DEC_OK)
        return rc;
    if (reserve(out, (size_t)r.count) != 0)
        return TSM_DEC_NOMEM;
    timestamps(ts, (size_t)tlen, (size_t)r.count, out->ts);
    out->n = (size_t)r.count;
    out->type = data[0];
    if (vals) {
        *vals = ts + tlen;
        *vlen = len - 1 - (size_t)k - (size_t)tlen;
    }
    return TSM_DEC_OK;
}

int tsm_values_decode_timestamps(const uint8_t *data, size_t len, tsm_values *out, char *why,
                                 size_t whylen)
{
    return decode_ts(data, len, out, NULL, NULL, why, whylen);
}

/* Gorilla XOR floats (validated: the end marker comes after n values). */
static void floats(const uint8_t *p, size_t len, size_t n, uint64_t *out)
{
    const uint8_t *bp = p + 1;
    size_t blen = len - 1;
    uint64_t pos = 0;
    /* Bit reader over bp, MSB first; bits past the end read as 0. */
#define PEEK(posv)                                                                                 \
    ({                                                                                             \
        size_t byte_ = (size_t)((posv) >> 3);                                                      \
        unsigned sh_ = (unsigned)((posv)&7);                                                       \
        uint8_t tmp_[9] = {0};                                                                     \
        const uint8_t *src_ = bp + byte_;                                                          \
        if (byte_ + 9 > blen) {                                                                    \
            if (byte_ < blen)                                                                      \
                memcpy(tmp_, bp + byte_, blen - byte_);                                            \
            src_ = tmp_;                                                                           \
        }                                                                                          \
        uint64_t hi_ = tsm__be64(src_);                                                            \
        sh_ ? (hi_ << sh_) | (src_[8] >> (8 - sh_)) : hi_;                                         \
    })
    uint64_t val = PEEK(pos);
    pos = 64;
    if (n == 0)
        return;
    out[0] = val;
    unsigned leading = 0, trailing = 0;
    for (size_t k = 1; k < n; k++) {
        uint64_t w = PEEK(pos);
        if (!(w >> 63)) {
            pos += 1;
            out[k] = val;
            continue;
        }
        unsigned ctrl;
        if ((w >> 62) & 1) {
            unsigned lead = (unsigned)(w >> 57) & 0x1f;
            unsigned sig = (unsigned)(w >> 51) & 0x3f;
            if (sig == 0)
                sig = 64;
            leading = lead;
            trailing = 64 - lead - sig;
            ctrl = 13;
        } else {
            ctrl = 2;
        }
        unsigned sig = 64 - leading - trailing;
        pos += ctrl;
        uint64_t xor = PEEK(pos) >> (64 - sig);
        pos += sig;
        val ^= xor << trailing;
        out[k] = val;
    }
#undef PEEK
}

static inline int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* Integers (and unsigned, same bits): zig-zag deltas, cumulated with
 * wrap-around as Go does; RLE is first + i*delta. */
static void integers(const uint8_t *p, size_t len, size_t n, uint64_t *out)
{
    if (n == 0)
        return;
    if (p[0] == 0x20) {
        uint64_t first = tsm__be64(p + 1), delta;
        tsm_uvarint(p + 9, len - 9, &delta);
        uint64_t f = (uint64_t)unzigzag(first), d = (uint64_t)unzigzag(delta);
        for (size_t k = 0; k < n; k++)
            out[k] = f + (uint64_t)k * d;
        return;
    }
    uint64_t prev = 0;
    if (p[0] == 0x00) {
        for (size_t k = 0; k < n; k++) {
            prev += (uint64_t)unzigzag(tsm__be64(p + 1 + 8 * k));
            out[k] = prev;
        }
        return;
    }
    prev = (uint64_t)unzigzag(tsm__be64(p + 1));
    out[0] = prev;
    size_t k = 1;
    for (size_t off = 9; off + 8 <= len && k < n; off += 8) {
        uint64_t w = tsm__be64(p + off);
        unsigned sel = (unsigned)(w >> 60);
        unsigned cnt = tsm__s8b_count[sel];
        if (sel < 2) {
            for (unsigned j = 0; j < cnt && k < n; j++) {
                prev += (uint64_t)unzigzag(1);
                out[k++] = prev;
            }
        } else {
            unsigned bits = tsm__s8b_bits[sel];
            uint64_t mask = (UINT64_C(1) << bits) - 1;
            for (unsigned j = 0; j < cnt && k < n; j++) {
                prev += (uint64_t)unzigzag(w & mask);
                w >>= bits;
                out[k++] = prev;
            }
        }
    }
}

static void booleans(const uint8_t *p, size_t len, size_t n, uint8_t *out)
{
    uint64_t cnt;
    int k = tsm_uvarint(p + 1, len - 1, &cnt);
    const uint8_t *bits = p + 1 + k;
    for (size_t i = 0; i < n; i++)
        out[i] = (bits[i >> 3] >> (7 - (i & 7))) & 1;
}

static int strings(tsm_values *v, const uint8_t *p, size_t len, size_t n, char *why, size_t whylen)
{
    const uint8_t *data;
    size_t dlen;
    int rc = tsm_snappy_decode(p + 1, len - 1, TSV_TSM_MAX_STRING_BYTES, &v->str, &data, &dlen, why,
                               whylen);
    if (rc != TSM_DEC_OK)
        return rc;
    size_t i = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t slen;
        int h = tsm_uvarint(data + i, dlen - i, &slen);
        if (h <= 0 || slen > dlen - i - (size_t)h)
            return tsm__fail(why, whylen, "string %zu: bad length", k);
        i += (size_t)h;
        v->soff[k] = (uint32_t)i;
        v->slen[k] = (uint32_t)slen;
        i += (size_t)slen;
    }
    return TSM_DEC_OK;
}

int tsm_values_decode(const uint8_t *data, size_t len, unsigned want_type, tsm_values *out,
                      char *why, size_t whylen)
{
    tsm_block_result r;
    int rc = tsm_decode_block(data, len, want_type, &out->check, &r, why, whylen);
    if (rc != TSM_DEC_OK)
        return rc;
    const uint8_t *vals = NULL;
    size_t vlen = 0;
    rc = decode_ts(data, len, out, &vals, &vlen, why, whylen);
    if (rc != TSM_DEC_OK)
        return rc;
    switch (want_type) {
    case TSM_BLOCK_FLOAT:
        floats(vals, vlen, out->n, out->v.u);
        return TSM_DEC_OK;
    case TSM_BLOCK_INTEGER:
    case TSM_BLOCK_UNSIGNED:
        integers(vals, vlen, out->n, out->v.u);
        return TSM_DEC_OK;
    case TSM_BLOCK_BOOLEAN:
        booleans(vals, vlen, out->n, (uint8_t *)out->v.u);
        return TSM_DEC_OK;
    case TSM_BLOCK_STRING:
        return strings(out, vals, vlen, out->n, why, whylen);
    default:
        return tsm__fail(why, whylen, "unknown block type %u", want_type);
    }
}

int tsm_values_count(const uint8_t *data, size_t avail, uint64_t *count, size_t *need)
{
    if (avail < 2) {
        *need = 16;
        return TSM_DEC_SHORT;
    }
    uint64_t tlen;
    int k = tsm_uvarint(data + 1, avail - 1, &tlen);
    if (k == 0) {
        *need = 16;
        return TSM_DEC_SHORT;
    }
    if (k < 0 || tlen == 0 || tlen > TSV_TSM_MAX_BLOCK_BYTES)
        return TSM_DEC_INVALID;
    size_t end = 1 + (size_t)k + (size_t)tlen;
    const uint8_t *ts = data + 1 + k;
    if (avail < 1 + (size_t)k + 1) {
        *need = end;
        return TSM_DEC_SHORT;
    }
    unsigned enc = ts[0] >> 4;
    if (enc == 0) {
        if (tlen < 9)
            return TSM_DEC_INVALID;
        *count = (tlen - 1) / 8;
        return TSM_DEC_OK;
    }
    if (avail < end) {
        *need = end;
        return TSM_DEC_SHORT;
    }
    if (enc == 1) {
        if (tlen < 9)
            return TSM_DEC_INVALID;
        uint64_t c = 1;
        for (size_t off = 9; off + 8 <= tlen; off += 8)
            c += tsm__s8b_count[ts[off] >> 4];
        *count = c;
        return TSM_DEC_OK;
    }
    if (enc == 2) {
        uint64_t delta, c;
        if (tlen < 10)
            return TSM_DEC_INVALID;
        int a = tsm_uvarint(ts + 9, (size_t)tlen - 9, &delta);
        if (a <= 0)
            return TSM_DEC_INVALID;
        int b = tsm_uvarint(ts + 9 + a, (size_t)tlen - 9 - (size_t)a, &c);
        if (b <= 0)
            return TSM_DEC_INVALID;
        *count = c;
        return TSM_DEC_OK;
    }
    return TSM_DEC_INVALID;
}
