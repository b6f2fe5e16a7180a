/*
 * engine: the shard directory tree under state/engine/data, per-shard locks
 * and crash recovery of staged directory swaps (the trash they use is
 * trash.h).
 *
 * A set of files that must change at once (a shard's files, a whole state
 * generation) is built in a staging directory next to its target, marked with
 * a ".tsv-gen" file holding a random generation G, and swapped in with one
 * renameat2(RENAME_EXCHANGE). The staging name carries G too
 * ("<target>.staging-<G>"), so after a crash recovery can tell the two cases
 * apart: if the live target's marker is G the exchange happened and the
 * staging path holds the OLD data (moved to trash); otherwise the staging
 * directory is an unfinished upload (deleted).
 *
 * Errors: int 0/-1 with tsv_error. Thread-safety: all functions are
 * thread-safe; shard locks serialize work on one shard.
 */
#ifndef TSV_ENGINE_H
#define TSV_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "tsv_error.h"

#define TSV_GEN_MARKER ".tsv-gen"

/* <state>/engine/data/<db>/<rp>/<shard id> */
int tsv_shard_path(char *out, size_t outlen, const char *state_dir, const char *db, const char *rp,
                   uint64_t shard_id, tsv_error *err);

/* Per-shard mutual exclusion (restore vs restore, restore vs backup snapshot). */
void tsv_shard_lock(uint64_t shard_id);
void tsv_shard_unlock(uint64_t shard_id);
/* Several shards at once (deadlock-free: stripes taken in one order). */
void tsv_shard_lock_many(const uint64_t *ids, size_t n);
void tsv_shard_unlock_many(const uint64_t *ids, size_t n);

/* 1 if dir holds anything besides the generation marker, 0 if not, -1 if it
 * cannot be opened. */
int tsv_dir_has_data(const char *dir);

/* Writes the generation marker into dir (fsynced). */
int tsv_gen_marker_write(const char *dir, uint64_t gen, tsv_error *err);
/* The same in place and without an fsync: for a staging directory that is
 * not yet visible and that its caller makes durable as a whole
 * (tsv_fsync_tree). An fsync of a small file on ext4 waits for the journal,
 * and with it for every dirty file of the tree. */
int tsv_gen_marker_write_unsynced(const char *dir, uint64_t gen, tsv_error *err);
/* Reads it; *gen = 0 when there is none. */
int tsv_gen_marker_read(const char *dir, uint64_t *gen, tsv_error *err);

/* Creates the empty staging directory "<target>.staging-<G>" (G = gen in
 * hex) next to target, making target's parent first. Its path goes to
 * staging and the parent's to parent (both PATH_MAX bytes). TSV_EINTERNAL
 * if target has no parent or mkdir fails (also when the staging directory
 * exists already). */
int tsv_staging_create(const char *target, uint64_t gen, char *staging, char *parent,
                       tsv_error *err);

/* Resolves leftovers "<name>.staging-<G>" inside parent_dir (see above). */
int tsv_staging_recover(const char *parent_dir, const char *trash_dir, tsv_error *err);

/* Makes sure every shard the meta lists (not deleted) has a directory and
 * moves shard directories the meta does not list to the trash; also runs
 * staging recovery in every rp directory. `shards` is a list of paths
 * relative to engine/data ("<db>/<rp>/<id>"). */
int tsv_engine_reconcile(const char *state_dir, const char *trash_dir, const char *const *shards,
                         size_t count, tsv_error *err);

#endif
