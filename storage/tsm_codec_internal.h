/*
 * tsm_codec_internal: what the TSM block decoders share (tsm_decode.c, the
 * validator; tsm_values.c, the value decoder): the Simple-8b selector
 * tables, the timestamp divisors, big-endian loads and the error helper.
 * Private to storage/.
 * Format: docs/formats.md "TSM files (`tsm1`)".
 */
#ifndef TSV_TSM_CODEC_INTERNAL_H
#define TSV_TSM_CODEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Simple-8b: values per word and bits per value, by selector (the top 4
 * bits); selectors 0 and 1 are runs of 240 and 120 ones. */
extern const uint8_t tsm__s8b_count[16];
extern const uint8_t tsm__s8b_bits[16];

/* 10^0 .. 10^15: the timestamp encodings' divisors (a log10 in 4 bits). */
extern const uint64_t tsm__pow10[16];

static inline uint64_t tsm__be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Formats the reason into why (if given) and returns TSM_DEC_INVALID. */
int tsm__fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
