/*
 * tsm: complete validation of TSM files before they are installed in a shard (docs/formats.md#tsm).
 *
 * tsv_tsm_verify checks everything in docs/formats.md#tsm-validation:
 * header magic/version, footer, exact index parse to size-8, keys
 * strictly ascending, entry bounds, MinTime<=MaxTime, a key's entries sorted
 * by time and not overlapping (each MinTime > the previous MaxTime: what Go's
 * writer always produces; overlap would make InfluxDB return duplicates),
 * CRC32 of every block, block type matches the index, timestamps decoded
 * (strictly increasing, first == MinTime, last == MaxTime), values decoded
 * and counted (== timestamp count) for all five types (float Gorilla,
 * int/uint simple8b/RLE/raw, bool, snappy strings), and blocks tiling
 * [5, indexStart). Tiling is checked in index order: the first entry's block
 * must start at 5, each next entry's block right where the previous one
 * ended, and the last one must end at indexStart. Go's writer always lays
 * blocks out in index order (keys ascending, each key's blocks by time), so
 * this is stricter than Go's reader but true of every file InfluxDB writes,
 * and it lets the data region be read strictly sequentially.
 * Each section is also checked to be consumed exactly (no trailing bytes in
 * a timestamp, value or string section; bool byte count == ceil(n/8); the
 * float stream ends in its last byte), because Go's writer never leaves any.
 * Reads with pread through bounded buffers (the index streamed, one block at
 * a time), so memory does not grow with file size.
 *
 * The tombstone files that go with TSM files are tombstone.h.
 *
 * Errors: TSV_EINVALID with "<name>: <what is wrong> at offset N";
 * I/O failures TSV_EINTERNAL (TSV_ENOSPACE never happens: read-only).
 * Thread-safety: reentrant. No ownership transfer.
 */
#ifndef TSV_TSM_H
#define TSV_TSM_H

#include <stddef.h>
#include <stdint.h>

#include "tsv_error.h"

typedef struct tsv_tsm_stats {
    uint64_t keys;
    uint64_t blocks;
    uint64_t values;            /* == timestamps, summed over all blocks */
    int64_t min_time, max_time; /* over all index entries (tombstones not applied) */
    uint64_t streamed_blocks;   /* of blocks, those checked by a stream, not read back */
} tsv_tsm_stats;

/* Limits beyond what the format itself imposes. Go's writer produces blocks
 * of 1,000 (at most 10,000) values and a few KiB; these caps only exist so a
 * hostile file cannot make the validator (or InfluxDB, which allocates one
 * value per timestamp before decoding) allocate without bound. A file that
 * exceeds one is reported as TSV_EINVALID. */
#define TSV_TSM_MAX_BLOCK_BYTES (16u << 20)  /* CRC + block data */
#define TSV_TSM_MAX_BLOCK_VALUES (1u << 20)  /* timestamps per block */
#define TSV_TSM_MAX_STRING_BYTES (64u << 20) /* decompressed string block */

/* Flags for tsv_tsm_verify_fd_ex. */
enum {
    /* Also require every key to be valid UTF-8 (B.5 item 8, what
     * `influxd inspect verify-tsm --check-utf8` checks). Off by default
     * because InfluxDB itself stores and serves non-UTF-8 keys. */
    TSV_TSM_VERIFY_UTF8_KEYS = 1u << 0,
};

/* `name` is used in messages only. stats may be NULL; it is filled only on
 * success. The fd is read with pread only (its file offset is unchanged).
 * Memory use is bounded by the limits above, never by the file size. */
int tsv_tsm_verify_fd(int fd, const char *name, tsv_tsm_stats *stats, tsv_error *err);
int tsv_tsm_verify_fd_ex(int fd, const char *name, unsigned flags, tsv_tsm_stats *stats,
                         tsv_error *err);

/* Streaming validation, for a TSM file being received (e.g. extracted from an
 * upload): fed the file's bytes front to back, the stream checks the header
 * and each block it can delimit by decoding it (TSM_DEC prefix decoding: CRC32
 * and a complete decode, as tsv_tsm_verify does), and keeps a SHA-256 of
 * (offset, size, type, first and last timestamp) of those blocks. It stops
 * quietly at the first bytes that do not make a block (normally the index).
 * Memory: one pending block (at most TSV_TSM_MAX_BLOCK_BYTES) and the string
 * scratch, whatever the file size. feed never fails.
 *
 * tsv_tsm_verify_fd_streamed then validates the complete file exactly as
 * tsv_tsm_verify_fd_ex does, but without reading the blocks the stream
 * checked: each index entry before the stream's stop must describe the
 * stream's block at that offset (compared through the digest). Blocks from
 * the stop on are read and checked from the file as usual. If anything fails
 * (or the stream saw bytes other than the file's), the plain verification
 * runs from scratch, so verdicts, messages and stats are always those of
 * tsv_tsm_verify_fd_ex. `s` may be NULL (plain verification). */
typedef struct tsv_tsm_stream tsv_tsm_stream;
int tsv_tsm_stream_new(tsv_tsm_stream **out, tsv_error *err);
void tsv_tsm_stream_feed(tsv_tsm_stream *s, const void *data, size_t len);
void tsv_tsm_stream_free(tsv_tsm_stream *s);
/* End offset of the blocks the stream has checked (0: none). */
uint64_t tsv_tsm_stream_checked(const tsv_tsm_stream *s);
int tsv_tsm_verify_fd_streamed(int fd, const char *name, unsigned flags, tsv_tsm_stream *s,
                               tsv_tsm_stats *stats, tsv_error *err);

/* File name rule: "<gen>-<seq>.tsm" with gen and seq decimal uint32
 * (docs/formats.md#tsm-files). Returns 1 if valid. */
int tsv_tsm_name_valid(const char *base);

#endif
