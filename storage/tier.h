/*
 * tier: what copying the vault to an object store (jobs/s3_tier.c) needs
 * from the data directory (docs/storage.md "The S3 tier"):
 *
 *  - the copied set: which objects are known to be in the remote store, in
 *    an LMDB environment of its own, <data-dir>/tier/ (not the catalogue:
 *    its writes would look like catalogue changes, and it is not needed to
 *    recover: after a recovery every object is simply checked again);
 *  - the objects not yet copied (the upload queue: it is derived from the
 *    object store and the copied set, so it survives any restart);
 *  - checkpoints: a consistent pair of compacted copies of the catalogue and
 *    the live KV (taken together under the store's exclusive lock, so no
 *    restore/kv or PITR falls between them) and the state generation;
 *  - recovery: installing a downloaded checkpoint into an empty data
 *    directory whose objects are already in place.
 *
 * Errors: int 0/-1 with tsv_error. Thread-safety: a tsv_tier_state may be
 * used from several threads. Ownership: tsv_tier_state_open returns a state
 * freed by tsv_tier_state_close; arrays returned are freed with free().
 */
#ifndef TSV_TIER_H
#define TSV_TIER_H

#include <stddef.h>
#include <stdint.h>

#include "conn_catalog.h"
#include "object_store.h"
#include "store.h"
#include "tsv_error.h"

typedef struct tsv_tier_state tsv_tier_state;

int tsv_tier_state_open(tsv_tier_state **out, const char *data_dir, tsv_error *err);
void tsv_tier_state_close(tsv_tier_state *ts);

/* This data directory's tier identity (32 hex digits), created once:
 * the owner name of the remote lease. */
const char *tsv_tier_state_id(const tsv_tier_state *ts);

typedef struct tsv_tier_object {
    char hex[65];
    uint64_t size;
    int64_t mtime_ns; /* when the object was stored locally */
} tsv_tier_object;

/* Every local object not in the copied set, oldest first. */
int tsv_tier_pending(tsv_store *s, tsv_tier_state *ts, tsv_tier_object **out, size_t *n,
                     tsv_error *err);
/* Records objects as copied, in one transaction. */
int tsv_tier_mark_copied(tsv_tier_state *ts, const tsv_tier_object *objs, size_t n, tsv_error *err);
int tsv_tier_is_copied(tsv_tier_state *ts, const char *hex, int *copied, tsv_error *err);
/* Removes an object from the copied set (it was deleted from the remote
 * store: if the same bytes are stored again they must be copied again). */
int tsv_tier_forget(tsv_tier_state *ts, const char *hex, tsv_error *err);

/* Opens a local object read-only (TSV_ENOTFOUND if it is not there: the GC
 * collected it). The caller closes *fd. */
int tsv_store_object_open(tsv_store *s, const char *hex, int *fd, uint64_t *size, tsv_error *err);

/* A position in the log between checkpoints (tier_log.h): the last
 * catalogue change-log record, the last job change-log record, the last KV
 * history record (all zero: none), in state generation gen. */
typedef struct tsv_tier_logpos {
    uint64_t catalog_seq, jobs_seq;
    uint8_t kv_key[12];
    uint64_t gen;
} tsv_tier_logpos;

/* What a checkpoint covers; two equal values mean nothing changed. */
typedef struct tsv_tier_change {
    uint64_t kv_txn, catalog_txn, gen;
    tsv_tier_logpos pos; /* where its log starts */
} tsv_tier_change;

void tsv_tier_change_now(tsv_store *s, tsv_tier_change *c);

/* Turns the change logs of the catalogue and of the job records on (the
 * tier's log between checkpoints), for the live KV and every later one. */
void tsv_tier_log_enable(tsv_store *s);

/* Writes dir/catalog/data.mdb and dir/kv/data.mdb (dir is created) under
 * the store's exclusive lock; *c gets what they cover. First, if `trim` is
 * not NULL (the previous complete checkpoint's position), the change logs
 * lose their records up to it (they are in that checkpoint). */
int tsv_tier_checkpoint(tsv_store *s, const char *dir, const tsv_tier_logpos *trim,
                        tsv_tier_change *c, tsv_error *err);

typedef int (*tsv_tier_object_fn)(void *ctx, const char *hex, uint64_t size, tsv_error *err);
/* Calls fn once per distinct object that a non-purged version (in_use_only:
 * an in-use version) of the catalogue in catalog_dir lists (what a recovery
 * from it needs). */
int tsv_tier_catalog_objects(const char *catalog_dir, int in_use_only, tsv_tier_object_fn fn,
                             void *ctx, tsv_error *err);

/* Eviction: deletes the local copy of every object that is in the copied
 * set, stored locally before `before_ns`, and not in use (no live file links
 * it: link count 1; KV/SQL versions not live, soft-deleted shard versions),
 * holding the GC lock exclusively (no operation is between storing objects
 * and committing them). Such an object comes back through the store's fetch
 * hook when an operation needs it. */
int tsv_tier_evict(tsv_store *s, tsv_tier_state *ts, int64_t before_ns, uint64_t *objects,
                   uint64_t *bytes, tsv_error *err);
/* Installs (fn NULL: removes) the fetch hook of the store's objects
 * (object_store.h tsv_objstore_local_set_fetch). */
void tsv_store_set_object_fetch(tsv_store *s, tsv_objstore_fetch_fn fn, void *ctx);

/* Scratch directories for checkpoints and recoveries: <data-dir>/tmp/
 * <kind>-<random> (tmp/ is emptied at start-up, so a crash leaves nothing
 * behind for long). Inside one, `name` is a directory holding one file:
 * "catalog" and "kv" the LMDB file data.mdb, "connections" the SQLite
 * catalog.db (a directory tsv_conn_catalog_open can open), "files" the
 * staged files' records (files.json); any other name, data.mdb. */
int tsv_tier_scratch_create(const char *data_dir, const char *kind, char *out, size_t outlen,
                            tsv_error *err);
void tsv_tier_scratch_remove(const char *scratch);
int tsv_tier_scratch_open(const char *scratch, const char *name, int *fd, tsv_error *err);
/* Renames scratch/from's file to scratch/to's (replacing it). */
int tsv_tier_scratch_move(const char *scratch, const char *from, const char *to, tsv_error *err);
/* Removes scratch/name's file, if any (a part of an unusable download). */
void tsv_tier_scratch_drop(const char *scratch, const char *name);
/* A function that writes a file's content into fd (a download). */
typedef int (*tsv_tier_fill_fn)(void *ctx, int fd, tsv_error *err);
/* Creates (or replaces) scratch/name/data.mdb (0600), fills and fsyncs it. */
int tsv_tier_scratch_fill(const char *scratch, const char *name, tsv_tier_fill_fn fill, void *ctx,
                          tsv_error *err);
/* Fills a temporary file in scratch, fsyncs it and adopts it as object
 * `hex` (the caller has checked the bytes hash to it: fill verifies). */
int tsv_tier_fetch_object(tsv_objstore *os, const char *scratch, const char *hex,
                          tsv_tier_fill_fn fill, void *ctx, tsv_error *err);

/* Writes scratch/connections/catalog.db: the connections catalogue without
 * secrets (conn_catalog.h tsv_conn_catalog_export). */
int tsv_tier_checkpoint_connections(tsv_conn_catalog *cat, const char *scratch, tsv_error *err);
/* Every local object of `os` not in the copied set, appended to *arr
 * (mtime from the object's identity), then *arr sorted oldest first. */
int tsv_tier_pending_add(tsv_objstore *os, tsv_tier_state *ts, tsv_tier_object **arr, size_t *n,
                         tsv_error *err);

/* 1 if data_dir may be recovered into: it does not exist, or holds no
 * state/ and either no catalog/ or the mark of an interrupted recovery
 * (tier/recovering), which may simply be run again. */
int tsv_tier_recover_target_ok(const char *data_dir);

/* Installs a downloaded checkpoint: `from` holds catalog/data.mdb and
 * kv/data.mdb; every object the catalogue lists is already in
 * data_dir/objects. Marks tier/recovering, renames the catalogue into place,
 * builds state/ (KV, generation marker `gen`, the in-use SQL file, every
 * in-use shard version as a directory of hard links with its marker) as
 * state.recover-<r>/, renames it into place and removes the mark: a crash
 * leaves no state/ and the mark (recover again) or everything. If `from`
 * has connections/catalog.db it becomes data_dir/connections/catalog.db
 * (before state/; the connections' objects are already in
 * data_dir/connections/objects). */
int tsv_tier_recover_install(const char *data_dir, const char *from, uint64_t gen, tsv_error *err);

#endif
