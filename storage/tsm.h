/*
 * tsm: complete validation of TSM files and tombstone files before they are
 * installed in a shard (formats.md part B).
 *
 * tsv_tsm_verify checks everything in the validator checklist of formats.md
 * B.5: header magic/version, footer, exact index parse to size-8, keys
 * strictly ascending, entry bounds, MinTime<=MaxTime and entries sorted,
 * CRC32 of every block, block type matches the index, timestamps decoded
 * (strictly increasing, first == MinTime, last == MaxTime), values decoded
 * and counted (== timestamp count) for all five types (float Gorilla,
 * int/uint simple8b/RLE/raw, bool, snappy strings), and blocks tiling
 * [5, indexStart). Reads with pread through a bounded buffer (one block and
 * one index entry at a time), so memory does not grow with file size.
 *
 * tsv_tombstone_verify walks v1 (text), v2 (raw records), v3 (one gzip
 * stream) and v4 (concatenated gzip members) tombstones and checks every
 * record is complete (u32 key length, key, i64 min, i64 max, min <= max).
 *
 * Errors: TSV_EINVALID with "<name>: <what is wrong> at offset N";
 * I/O failures TSV_EINTERNAL (TSV_ENOSPACE never happens: read-only).
 * Thread-safety: reentrant. No ownership transfer.
 */
#ifndef TSV_TSM_H
#define TSV_TSM_H

#include <stdint.h>

#include "tsv_error.h"

typedef struct tsv_tsm_stats {
    uint64_t keys;
    uint64_t blocks;
    uint64_t values;
    int64_t min_time, max_time;
} tsv_tsm_stats;

/* `name` is used in messages only. stats may be NULL. */
int tsv_tsm_verify_fd(int fd, const char *name, tsv_tsm_stats *stats, tsv_error *err);
int tsv_tombstone_verify_fd(int fd, const char *name, uint64_t *entries, tsv_error *err);

/* File name rules: "<gen>-<seq>.tsm" / ".tombstone" with gen and seq decimal
 * uint32 (formats.md B.10). Returns 1 if valid. */
int tsv_tsm_name_valid(const char *base);
int tsv_tombstone_name_valid(const char *base);

#endif
