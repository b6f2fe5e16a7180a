/*
 * v1_restore: restoring InfluxDB 1.x data (a portable backup's meta.Data and
 * shard tars) into db/rp buckets, all at once or not at all.
 *
 * Three steps, as the 1.x restore protocol and a portable archive need them:
 *   begin  decodes and checks the meta.Data, selects what to import
 *          (tsv_v1_import_plan), checks that no target bucket "db/rp" and no
 *          stored DBRP mapping (org, db, rp) exists, and reserves new shard
 *          and shard-group IDs in the live meta (the only change it makes:
 *          Max*ID grow, so no other restore can take them). The old -> new
 *          shard ID map is then known.
 *   stage  receives one shard's tar under its NEW ID: validated completely
 *          (shard_install.h, every block checked) into a private staging
 *          directory under tmp/. Nothing live changes. Entries that are not
 *          TSM or tombstone files, links, devices, absolute or ".." paths
 *          are refused. Staging the same shard twice replaces the first.
 *   commit one KV transaction creates, for every imported db/rp, the bucket
 *          "db/rp" in the org (the RP's durations), its tsdb database whose
 *          RP "autogen" holds the backup's shard groups under the reserved
 *          IDs, and the DBRP mapping; the staged shard directories are
 *          renamed into engine/data/<bucketID>/autogen/ just before the
 *          commit (a crash before it leaves directories the meta does not
 *          list: start-up moves them to the trash). Shards never staged get
 *          empty directories (influxd creates them too).
 * free without commit (or after a failed one) removes the staging: nothing
 * of the restore remains but the gap in the ID sequence.
 *
 * Locking: each call takes the store's shared lock for its own duration.
 * Thread-safety: stage may run concurrently for different shards of one
 * restore; begin/commit/free are not concurrent with anything else on the
 * same restore (the caller serializes them).
 * Ownership: begin returns a restore freed by tsv_v1_restore_free.
 * Errors: int 0/-1 with tsv_error: bad meta/tars TSV_EINVALID, unknown
 * org/db/rp/shard TSV_ENOTFOUND, existing buckets/mappings TSV_ECONFLICT,
 * disk full TSV_ENOSPACE.
 */
#ifndef TSV_V1_RESTORE_H
#define TSV_V1_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "restore.h"
#include "store.h"
#include "stream.h"

typedef struct tsv_v1_restore tsv_v1_restore;

typedef struct tsv_v1_restore_options {
    const char *org;        /* name or ID; NULL/"" = the first organization */
    const char *backup_db;  /* "" or NULL = every database */
    const char *restore_db; /* rename (with backup_db) */
    const char *backup_rp;  /* one RP only (with backup_db) */
    const char *restore_rp; /* rename (with backup_rp) */
} tsv_v1_restore_options;

/* meta: the bytes of a meta.Data (the inner Data of a .meta file, see
 * tsv_v1_portable_unwrap). */
int tsv_store_v1_restore_begin(tsv_store *s, const uint8_t *meta, size_t len,
                               const tsv_v1_restore_options *opt, tsv_v1_restore **out,
                               tsv_error *err);
/* The old -> new shard IDs (shards of deleted groups are not in it). Valid
 * until the restore is freed. */
const tsv_shard_mapping *tsv_v1_restore_map(const tsv_v1_restore *r, size_t *count);
/* 1 if new_id belongs to this restore. */
int tsv_v1_restore_has_shard(const tsv_v1_restore *r, uint64_t new_id);
/* Target "db/rp" of a new shard ID (for entry-name checks and logs); NULL if
 * not in the restore. */
const char *tsv_v1_restore_shard_target(const tsv_v1_restore *r, uint64_t new_id);
int tsv_v1_restore_stage_shard(tsv_v1_restore *r, uint64_t new_id, tsv_reader *tar, tsv_error *err);
/* Shards of the map not staged yet. */
size_t tsv_v1_restore_missing(const tsv_v1_restore *r);
/* Bucket IDs created by a committed restore are logged; 0 or -1. */
int tsv_v1_restore_commit(tsv_v1_restore *r, tsv_error *err);
void tsv_v1_restore_free(tsv_v1_restore *r);

#endif
