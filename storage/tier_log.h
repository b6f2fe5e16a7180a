/*
 * tier_log: the log between checkpoints of the S3 tier (docs/storage.md
 * "The log between checkpoints"). A segment is a file holding, in commit
 * order, what changed since a position: the catalogue's change-log records,
 * the job records' change-log records (lmdb_changelog.h) and the KV's
 * history records (kv_history.h, which carry after images). Replayed onto
 * the checkpoint it follows (and the segments before it), it gives the
 * catalogue, job records and KV of the moment it was cut.
 *
 * Format: "TSVLOG01" | generation (8 BE) | from position | to position
 * (each: catalogue seq 8, job seq 8, KV history key 12) | segment number
 * (8 BE) | checkpoint name (20) | records: type (1) | length (4 BE) |
 * payload, where type is 'c' (catalogue change-log value), 'j' (job
 * change-log value), 'k' (KV history key 12 | value) or 'x' (the caller's
 * extra text, at most once) | last, 'z' with the SHA-256 (32) of every byte
 * before it.
 *
 * Errors: int 0/-1 with tsv_error. Thread-safety: tsv_tier_log_write takes
 * the store's exclusive lock itself; the others touch only their files.
 */
#ifndef TSV_TIER_LOG_H
#define TSV_TIER_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "tier.h"

/* Writes into fd (empty, positioned at 0) the segment number n after
 * checkpoint `checkpoint` (20 digits) holding every change after `from`,
 * and `extra` (may be NULL). Holds the store's exclusive lock while it reads
 * (a consistent cut: no operation between its catalogue and KV commits).
 * For every object a non-purged version record of the segment lists, calls
 * obj_fn (what must be in the object store before the segment is).
 * *to gets the positions the segment ends at, *records how many it holds
 * (0: nothing changed). TSV_ECONFLICT if the state generation is no longer
 * from->gen (a restore/kv or PITR swap: a checkpoint is needed). */
int tsv_tier_log_write(tsv_store *s, const tsv_tier_logpos *from, const char *checkpoint,
                       uint64_t n, const char *extra, int fd, tsv_tier_logpos *to,
                       uint64_t *records, tsv_tier_object_fn obj_fn, void *ctx, tsv_error *err);

/* What a segment file says about itself (its header), after its hash was
 * checked: TSV_EINVALID if it is damaged. *extra (malloc'd, NULL if none)
 * is freed by the caller. */
typedef struct tsv_tier_log_info {
    uint64_t gen, n;
    char checkpoint[21];
    tsv_tier_logpos from, to;
    uint64_t records;
    char *extra;
} tsv_tier_log_info;
int tsv_tier_log_read_info(int fd, tsv_tier_log_info *info, tsv_error *err);

/* Replaying segments onto a downloaded checkpoint in scratch
 * (scratch/catalog, scratch/kv), opened once for all of them (opening the
 * KV walks every page). tsv_tier_log_replay_end frees r (NULL is fine). */
typedef struct tsv_tier_log_replay tsv_tier_log_replay;
int tsv_tier_log_replay_begin(const char *scratch, tsv_tier_log_replay **r, tsv_error *err);
void tsv_tier_log_replay_end(tsv_tier_log_replay *r);

/* Replays the segment in fd: it must follow `at` (same generation, its
 * from equal to at, both positions included) or nothing is applied
 * (TSV_EINVALID). On success *at becomes the segment's end position. The
 * catalogue and the KV are each changed in one transaction. */
int tsv_tier_log_apply(tsv_tier_log_replay *r, int fd, tsv_tier_logpos *at, tsv_error *err);

/* Calls fn for every object a non-purged version record of the segment in
 * fd lists (what a recovery from it needs). */
int tsv_tier_log_objects(int fd, tsv_tier_object_fn fn, void *ctx, tsv_error *err);

/* The position's text form in manifests ("<cat>.<jobs>.<24 hex>"). */
void tsv_tier_logpos_format(const tsv_tier_logpos *p, char out[64]);
int tsv_tier_logpos_parse(const char *s, size_t len, tsv_tier_logpos *p);

#endif
