/*
 * tombstone: validation of the tombstone files that go with TSM files, before
 * they are installed in a shard (docs/formats.md#tombstones).
 *
 * tsv_tombstone_verify_fd walks v1 (text), v2 (raw records), v3 (one gzip
 * stream; like Go's reader we also accept further concatenated members) and
 * v4 (zero or more concatenated gzip members) tombstones and checks every
 * record is complete (u32 key length, key, i64 min, i64 max, min <= max),
 * every gzip member is complete (CRC and length trailer) and nothing else
 * follows. This is stricter than Go, which silently accepts many truncated
 * tombstones (see tombstone.c).
 *
 * Errors: TSV_EINVALID with "<name>: <what is wrong> at offset N";
 * I/O failures TSV_EINTERNAL (TSV_ENOSPACE never happens: read-only).
 * Thread-safety: reentrant. No ownership transfer.
 */
#ifndef TSV_TOMBSTONE_H
#define TSV_TOMBSTONE_H

#include <stdint.h>

#include "tsv_error.h"

/* Longest key a tombstone record may hold; a bound so a hostile file cannot
 * make the validator allocate without limit (TSV_EINVALID beyond it). */
#define TSV_TOMBSTONE_MAX_KEY (1u << 20)

/* *entries (may be NULL) receives the number of deletions recorded: records
 * for v2-v4, non-empty lines for v1. Filled only on success. */
int tsv_tombstone_verify_fd(int fd, const char *name, uint64_t *entries, tsv_error *err);

/* File name rule: "<gen>-<seq>.tombstone" with gen and seq decimal uint32
 * (docs/formats.md#tsm-files). Returns 1 if valid. (tsm.c, which shares the rule) */
int tsv_tombstone_name_valid(const char *base);

#endif
