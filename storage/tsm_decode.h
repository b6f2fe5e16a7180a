/*
 * tsm_decode: decoders for the data of one TSM block (docs/formats.md#tsm-block)
 * and the snappy step of string blocks (libsnappy). Internal to storage/tsm.c; the
 * declarations are here so unit tests can drive the decoders directly.
 *
 * The decoders validate while counting: they never store decoded values
 * (timestamps and numbers are checked on the fly), except string blocks,
 * whose snappy output goes into a caller-owned scratch buffer that is grown
 * as needed up to TSV_TSM_MAX_STRING_BYTES.
 *
 * Errors: these functions do not use tsv_error, because they have no file
 * context; they return TSM_DEC_INVALID with a short reason written to `why`
 * (always NUL-terminated), or TSM_DEC_NOMEM when the scratch buffer could not
 * be grown. The caller wraps the reason with file, key and offset.
 * Thread-safety: reentrant; a scratch buffer belongs to one caller at a time.
 * Ownership: the caller owns the scratch and must tsm_scratch_free it.
 */
#ifndef TSV_TSM_DECODE_H
#define TSV_TSM_DECODE_H

#include <stddef.h>
#include <stdint.h>

enum {
    TSM_DEC_OK = 0,
    TSM_DEC_INVALID = -1,
    TSM_DEC_NOMEM = -2,
    TSM_DEC_SHORT = -3
};

enum {
    TSM_BLOCK_FLOAT = 0,
    TSM_BLOCK_INTEGER = 1,
    TSM_BLOCK_BOOLEAN = 2,
    TSM_BLOCK_STRING = 3,
    TSM_BLOCK_UNSIGNED = 4,
};

typedef struct tsm_scratch {
    uint8_t *buf;
    size_t cap;
} tsm_scratch;

void tsm_scratch_free(tsm_scratch *s);

typedef struct tsm_block_result {
    uint64_t count;      /* number of timestamps == number of values */
    int64_t first, last; /* first and last timestamp */
} tsm_block_result;

/* Validates one block's data (the bytes after the CRC): type byte ==
 * want_type, timestamp section length, timestamps (count >= 1, strictly
 * increasing), values decoded and counted == timestamp count. */
int tsm_decode_block(const uint8_t *data, size_t len, unsigned want_type, tsm_scratch *scratch,
                     tsm_block_result *out, char *why, size_t whylen);

/* The same for a block whose length is not known (a file read as a stream,
 * before its index): data[0..avail) starts with the block's data and may go
 * on past it; the type is data[0] (0-4). A valid block can end in one place
 * only (every section consumed exactly), found while decoding; on success
 * *used is the block data's length and the block is exactly what
 * tsm_decode_block(data, *used, data[0], ...) accepts, with the same result.
 * TSM_DEC_SHORT: the block does not end within avail bytes (more bytes may
 * complete it); the answer never depends on bytes past the block's end.
 * TSM_DEC_INVALID/NOMEM as above (`why` may be less specific). */
int tsm_decode_block_prefix(const uint8_t *data, size_t avail, tsm_scratch *scratch,
                            tsm_block_result *out, size_t *used, char *why, size_t whylen);

/* Timestamp section alone (B.7). */
int tsm_decode_timestamps(const uint8_t *p, size_t len, tsm_block_result *out, char *why,
                          size_t whylen);

/* Snappy block format, decoded by libsnappy: reads the uvarint decoded length
 * (rejecting lengths above `max_len` or impossible for `len` input bytes
 * before allocating), then decodes into scratch. On success *out points into
 * scratch->buf and *out_len is the decoded length. Rejects truncated tags,
 * zero or too-far copy offsets, output overrun and output shorter than
 * announced. Never reads or writes out of bounds. */
int tsm_snappy_decode(const uint8_t *src, size_t len, size_t max_len, tsm_scratch *scratch,
                      const uint8_t **out, size_t *out_len, char *why, size_t whylen);

/* Go's encoding/binary.Uvarint: returns the number of bytes read (> 0), 0 if
 * the buffer ended first, or -1 if the value overflows 64 bits. */
int tsm_uvarint(const uint8_t *p, size_t len, uint64_t *out);

/* Returns 1 if p[0..len) is valid UTF-8 by the rules of Go's utf8.Valid. */
int tsm_utf8_valid(const uint8_t *p, size_t len);

#endif
