/*
 * catalog: the vault's catalogue of versions (docs/storage.md "Catalogue").
 *
 * For each shard slot (bucket ID, retention policy, shard group interval
 * [start, end)) the catalogue records its versions: a version number
 * increasing per slot (from 1), the files (name, object, size), when it
 * became current, and its state. KV and SQL generations are versions of
 * the pseudo-slots bucket "kv" / "sql" (rp "", interval 0/0).
 *
 * States: IN_USE (at most one per slot: what the live directory holds),
 * SOFT_DELETED (restorable until its purge is due), PURGED (its files no
 * longer kept; the record stays as history). The catalogue is authoritative:
 * a live shard directory is rebuilt from it after a crash (vault.h).
 *
 * Storage: its own LMDB environment <data-dir>/catalog/ with one named
 * database "catalog", NOT the KV store's environment: the KV environment is
 * itself a version (restore/kv swaps it whole), and the bolt export must stay
 * exactly influxd's tree. Keys sort by slot then version, so a slot's
 * versions are one range scan; values are a compact binary record
 * (catalog.c). Every commit fsyncs (LMDB default durability).
 *
 * Transactions: LMDB's: many readers, one writer; a write transaction must
 * end on the thread that began it. Errors: int 0/-1 with tsv_error;
 * TSV_ENOTFOUND for a missing version; MDB_MAP_FULL is TSV_ENOSPACE.
 * Ownership: versions returned by get/iterate are owned by the caller
 * (tsv_version_clear); the callback's version is borrowed for the call.
 */
#ifndef TSV_CATALOG_H
#define TSV_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "tsv_error.h"

#define TSV_CATALOG_SLOT_KV "kv"
#define TSV_CATALOG_SLOT_SQL "sql"

typedef enum tsv_version_state {
    TSV_VERSION_IN_USE = 1,
    TSV_VERSION_SOFT_DELETED = 2,
    TSV_VERSION_PURGED = 3,
} tsv_version_state;

const char *tsv_version_state_name(tsv_version_state s); /* "pending", "in_use", ... */

typedef struct tsv_slot_key {
    char bucket[17]; /* 16 hex digits, or "kv" / "sql" */
    char rp[256];
    int64_t start_ns, end_ns;
} tsv_slot_key;

typedef struct tsv_catalog_file {
    char name[64];   /* base name in the shard directory ("000000001-000000001.tsm") */
    char object[65]; /* SHA-256 hex */
    uint64_t size;
} tsv_catalog_file;

typedef struct tsv_version {
    tsv_slot_key slot;
    uint64_t version;
    uint64_t shard_id; /* shard ID when it was in use (0 for kv/sql) */
    uint64_t gen;      /* generation marker of the directory holding it */
    tsv_version_state state;
    int64_t created_ns;   /* became current */
    int64_t deleted_ns;   /* soft-deleted at (0 if not) */
    char deleted_by[128]; /* operation that soft-deleted it */
    int64_t purged_ns;
    uint64_t derived_from; /* delete_data: the version this one tombstones (0: none) */
    char org_id[17];
    char bucket_name[256];
    tsv_catalog_file *files; /* malloc'd */
    size_t n_files;
    size_t cap_files; /* allocated length of files (array_grow.h) */
} tsv_version;

void tsv_version_clear(tsv_version *v);
uint64_t tsv_version_bytes(const tsv_version *v);
/* Appends a file (copies name/object). */
int tsv_version_add_file(tsv_version *v, const char *name, const char *object, uint64_t size,
                         tsv_error *err);

typedef struct tsv_catalog tsv_catalog;
typedef struct tsv_catalog_txn tsv_catalog_txn;

int tsv_catalog_open(tsv_catalog **out, const char *dir, tsv_error *err);
void tsv_catalog_close(tsv_catalog *c);

/* Consistent hot copy (compacted) of the whole catalogue into
 * dstdir/data.mdb (created; an existing file is an error), fsynced. Writers
 * are not blocked. */
int tsv_catalog_copy_compact(tsv_catalog *c, const char *dstdir, tsv_error *err);
/* The ID of the last committed write transaction (changes on every write). */
uint64_t tsv_catalog_last_txn(tsv_catalog *c);

int tsv_catalog_begin(tsv_catalog *c, int write, tsv_catalog_txn **out, tsv_error *err);
int tsv_catalog_commit(tsv_catalog_txn *t, tsv_error *err); /* frees t, even on failure */
void tsv_catalog_abort(tsv_catalog_txn *t);                 /* NULL is fine */

/* Insert or replace the record of (v->slot, v->version). */
int tsv_catalog_put(tsv_catalog_txn *t, const tsv_version *v, tsv_error *err);
int tsv_catalog_get(tsv_catalog_txn *t, const tsv_slot_key *slot, uint64_t version,
                    tsv_version *out, tsv_error *err);
int tsv_catalog_del(tsv_catalog_txn *t, const tsv_slot_key *slot, uint64_t version, tsv_error *err);
/* 1 + the highest version recorded for the slot (1 for a new slot). */
int tsv_catalog_next_version(tsv_catalog_txn *t, const tsv_slot_key *slot, uint64_t *out,
                             tsv_error *err);

/* Return 0 to go on, >0 to stop (returned), -1 with err on error. The
 * version is borrowed: copy what you keep. Do not write in the callback. */
typedef int (*tsv_catalog_fn)(void *ctx, const tsv_version *v, tsv_error *err);
/* Versions of one slot, ascending. */
int tsv_catalog_slot_foreach(tsv_catalog_txn *t, const tsv_slot_key *slot, tsv_catalog_fn fn,
                             void *ctx, tsv_error *err);
/* Versions of every slot of a bucket (by rp, interval, version). */
int tsv_catalog_bucket_foreach(tsv_catalog_txn *t, const char *bucket, tsv_catalog_fn fn, void *ctx,
                               tsv_error *err);
/* Every version. */
int tsv_catalog_foreach(tsv_catalog_txn *t, tsv_catalog_fn fn, void *ctx, tsv_error *err);

/* History (the event log: every new version and every change of state is
 * recorded with the wall-clock time of its commit, additively, beside the
 * version records). The version of `slot` that was in use at t_ns, 0 if
 * none. Versions put back in use later (restore_data) keep their earlier
 * periods: this is the answer for any past moment, unlike the records'
 * created/deleted fields which hold the latest change. */
int tsv_catalog_in_use_at(tsv_catalog_txn *t, const tsv_slot_key *slot, int64_t t_ns,
                          uint64_t *version, tsv_error *err);
/* Every slot (of `bucket`; NULL: all, kv and sql pseudo-slots included) that
 * had a version in use at t_ns, by slot order. fn returns 0 to go on. */
typedef int (*tsv_catalog_at_fn)(void *ctx, const tsv_slot_key *slot, uint64_t version,
                                 tsv_error *err);
int tsv_catalog_foreach_in_use_at(tsv_catalog_txn *t, const char *bucket, int64_t t_ns,
                                  tsv_catalog_at_fn fn, void *ctx, tsv_error *err);

/* Small named settings ("trash-migrated", ...). get: TSV_ENOTFOUND if absent. */
int tsv_catalog_meta_get(tsv_catalog_txn *t, const char *key, char *val, size_t vallen,
                         tsv_error *err);
int tsv_catalog_meta_put(tsv_catalog_txn *t, const char *key, const char *val, tsv_error *err);

/* Binary settings (e.g. "deleted-bucket:<id>"): get mallocs *val (caller
 * frees); del of a missing key is fine. */
int tsv_catalog_meta_get_bin(tsv_catalog_txn *t, const char *key, uint8_t **val, size_t *len,
                             tsv_error *err);
int tsv_catalog_meta_put_bin(tsv_catalog_txn *t, const char *key, const void *val, size_t len,
                             tsv_error *err);
int tsv_catalog_meta_del(tsv_catalog_txn *t, const char *key, tsv_error *err);

/* Copies a version (deep; *dst is overwritten). */
int tsv_version_copy(tsv_version *dst, const tsv_version *src, tsv_error *err);
/* A growable list of deep-copied versions. Starts zeroed ({0}); the owner
 * releases it with tsv_version_list_clear. Not thread-safe. */
typedef struct tsv_version_list {
    tsv_version *v;
    size_t n, cap;
} tsv_version_list;

/* Appends a deep copy of v. On error (out of memory) the list is unchanged. */
int tsv_version_list_add(tsv_version_list *l, const tsv_version *v, tsv_error *err);
/* Clears every version, frees the array and zeroes the list. */
void tsv_version_list_clear(tsv_version_list *l);
/* tsv_catalog_fn callbacks for a tsv_version_list passed as ctx: every
 * version, or only the in-use ones. */
int tsv_version_list_collect(void *list, const tsv_version *v, tsv_error *err);
int tsv_version_list_collect_in_use(void *list, const tsv_version *v, tsv_error *err);

/* Puts a copy of v as soft-deleted at now_ns by the operation `by` (v
 * itself is unchanged). */
int tsv_catalog_put_soft_deleted(tsv_catalog_txn *t, const tsv_version *v, int64_t now_ns,
                                 const char *by, tsv_error *err);

/* ---- the change log of the S3 tier (docs/storage.md "The log between
 * checkpoints"): off by default; while on, every write of the catalogue is
 * also appended to its "changes" database in the same transaction
 * (lmdb_changelog.h, tag 'c'). */
struct tsv_changelog_rec;
void tsv_catalog_set_changelog(tsv_catalog *c, int on);
int tsv_catalog_changes_last(tsv_catalog_txn *t, uint64_t *seq, tsv_error *err);
int tsv_catalog_changes_foreach(tsv_catalog_txn *t, uint64_t after, uint64_t upto,
                                int (*fn)(void *ctx, const struct tsv_changelog_rec *r,
                                          tsv_error *err),
                                void *ctx, tsv_error *err);
/* Deletes the log records before `before` (the last one stays). */
int tsv_catalog_changes_trim(tsv_catalog_txn *t, uint64_t before, tsv_error *err);
/* Applies a shipped record to the catalogue (not logged). */
int tsv_catalog_change_apply(tsv_catalog_txn *t, const struct tsv_changelog_rec *r, tsv_error *err);
/* *is_version: the raw record is a version record, then decoded into *v
 * (cleared by the caller with tsv_version_clear). */
int tsv_catalog_record_version(const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                               tsv_version *v, int *is_version, tsv_error *err);

#endif
