/*
 * tsm_values: decodes the timestamps and values of one TSM block
 * (docs/formats.md#tsm-block) into arrays, for readers that need the data itself (export).
 *
 * Every block is first validated completely by tsm_decode_block (CRC is the
 * caller's job), so these decoders only run on well-formed input and produce
 * exactly what InfluxDB's tsm1 decoders produce: the same wrapping uint64 /
 * int64 arithmetic for timestamps and integers, raw IEEE-754 bits for floats.
 *
 * Memory: the arrays grow to the largest block decoded (at most
 * TSV_TSM_MAX_BLOCK_VALUES values); string values point into `str`, the
 * decompressed string section. Ownership: the caller owns a tsm_values and
 * releases it with tsm_values_free. Thread-safety: one caller at a time.
 * Errors: TSM_DEC_INVALID with a reason in `why`, TSM_DEC_NOMEM.
 */
#ifndef TSV_TSM_VALUES_H
#define TSV_TSM_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include "tsm_decode.h"

typedef struct tsm_values {
    unsigned type; /* TSM_BLOCK_* */
    size_t n;
    size_t cap;
    int64_t *ts;
    union {
        double *f;
        int64_t *i;
        uint64_t *u;
        uint8_t *b;
    } v;
    /* strings: value k is str.buf[soff[k] .. soff[k] + slen[k]) */
    uint32_t *soff, *slen;
    tsm_scratch str;
    tsm_scratch check; /* the validator's scratch */
} tsm_values;

void tsm_values_free(tsm_values *vals);

/* Validates (tsm_decode_block) and decodes the block data after the CRC. */
int tsm_values_decode(const uint8_t *data, size_t len, unsigned want_type, tsm_values *out,
                      char *why, size_t whylen);

/* Decodes only the timestamps of a validated-or-not block (the timestamp
 * section is checked by tsm_decode_timestamps first). out->n is the count. */
int tsm_values_decode_timestamps(const uint8_t *data, size_t len, tsm_values *out, char *why,
                                 size_t whylen);

/* Number of timestamps in a block, from its timestamp section only (RLE and
 * raw: from the header/length; packed: from the simple8b selectors), without
 * decoding any value. `avail` bytes of the block data (after the CRC) are at
 * `data`: enough when it covers the timestamp section. Returns TSM_DEC_SHORT
 * with *need set when more bytes are needed. */
int tsm_values_count(const uint8_t *data, size_t avail, uint64_t *count, size_t *need);

#endif
