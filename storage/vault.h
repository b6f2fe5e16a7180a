/*
 * vault: the object store and the catalogue of one data directory, and the
 * directory mechanics every vault operation shares (docs/storage.md "The
 * vault"). Internal to storage/: the store owns one (store_internal.h).
 *
 * Rule: the catalogue is authoritative, a live shard directory is a
 * materialisation of its slot's in-use version (hard links to objects, plus
 * the .tsv-gen marker = the in-use version's `gen`). Every change is:
 *   1. objects stored (adopt/put), under the GC lock (shared);
 *   2. one catalogue transaction (new states, new `gen`), still under it;
 *   3. the shard directory rebuilt as <dir>.staging-<gen> and exchanged in.
 * A crash before 2 leaves the old state (objects not referenced: the GC
 * removes them); after 2, start-up rebuilds any directory whose marker is
 * not its in-use version's gen (tsv_store_vault_reconcile), so the new state
 * is reached. Objects are only deleted by the GC, which holds the GC lock
 * exclusively and deletes only objects no non-purged version lists.
 *
 * Errors: int 0/-1 with tsv_error. Thread-safety: thread-safe; callers
 * serialise work on one shard with tsv_shard_lock.
 */
#ifndef TSV_VAULT_H
#define TSV_VAULT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "object_store.h"
#include "tsv_error.h"

typedef struct tsv_vault {
    tsv_objstore *objects;
    tsv_catalog *catalog;
    char objects_dir[4096];
    /* Shared from storing objects to committing the versions that list
     * them; exclusive for a garbage collection. */
    pthread_rwlock_t gc_lock;
    int64_t retention_s;  /* soft-deleted versions kept this long */
    uint64_t quota_bytes; /* 0: none; above it the oldest soft-deleted are purged early */
    pthread_mutex_t purge_mu;
    /* background purge task */
    pthread_t purge_thread;
    int purge_running;
    int purge_stop;
    int64_t purge_interval_s;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
} tsv_vault;

int tsv_vault_open(tsv_vault **out, const char *data_dir, int64_t retention_s, uint64_t quota_bytes,
                   tsv_error *err);
void tsv_vault_close(tsv_vault *v);

static inline void tsv_vault_gc_shared(tsv_vault *v) { pthread_rwlock_rdlock(&v->gc_lock); }
static inline void tsv_vault_gc_unlock(tsv_vault *v) { pthread_rwlock_unlock(&v->gc_lock); }

int64_t tsv_vault_now_ns(void);
uint64_t tsv_vault_new_gen(void);

/* The slot's in-use version into *out (found = 0 if none; *out zeroed).
 * Also reports the highest version number recorded (may be NULL). */
int tsv_vault_in_use(tsv_catalog_txn *t, const tsv_slot_key *slot, tsv_version *out, int *found,
                     tsv_error *err);

/* Stores every TSM/tombstone file of `dir` as an object (no copy: hard
 * links; files already stored become links to the object) and lists them in
 * ver->files. Hashes come from `known` (a version whose files, by name, are
 * already objects and linked here: e.g. the previous in-use version) when
 * the file is the same inode as that object, else the file is read.
 * Caller holds the GC lock shared. */
/* `fresh` (may be NULL): names and SHA-256 of files just written into dir
 * (trusted, not read again). */
int tsv_vault_adopt_dir(tsv_vault *v, const char *dir, const tsv_version *known,
                        const char *const *fresh_names, const char (*fresh_hex)[65], size_t n_fresh,
                        tsv_version *ver, tsv_error *err);

/* Makes `shard_dir` hold exactly ver's files (ver NULL: none), marked
 * `gen`: staging directory next to it, one exchange, old content removed
 * (files that are not objects are moved to `trash_dir` instead). */
int tsv_vault_materialize(tsv_vault *v, const char *shard_dir, const tsv_version *ver, uint64_t gen,
                          const char *trash_dir, tsv_error *err);

/* Removes the directory tree at `path` if every file in it is held
 * elsewhere too (an object: link count > 1), else moves it to the trash
 * (data the vault does not hold is never deleted). Errors are logged. */
void tsv_vault_drop_tree(const char *path, const char *trash_dir);

/* Corrupt objects (object_store.h "Corrupt marks"): fail with
 * TSV_EUNPROCESSABLE, "<what>, file <name>: object <hex> was marked corrupt
 * by verify at <time> (...); restore an older version or upload a good
 * copy", when a file of `ver` is a marked object (check_version), or when
 * a TSM/tombstone file in `dir` is one, recognised by its inode (a live
 * shard directory or a snapshot of its hard links; check_dir: the marks
 * are read once, no mark costs one directory read). v NULL (a read-only
 * store): nothing to check. */
int tsv_vault_check_version(tsv_vault *v, const tsv_version *ver, const char *what, tsv_error *err);
int tsv_vault_check_dir(tsv_vault *v, const char *dir, const char *what, tsv_error *err);

typedef struct tsv_vault_purge_stats {
    uint64_t purged_versions; /* grace period over */
    uint64_t quota_versions;  /* purged early for the quota */
    uint64_t objects_deleted;
    uint64_t bytes_deleted;
} tsv_vault_purge_stats;

/* Marks soft-deleted versions whose grace period ended at `now_ns` as
 * purged (and, with a quota, the oldest soft-deleted versions until the
 * objects fit), in one catalogue transaction, then collects garbage. */
int tsv_vault_purge(tsv_vault *v, int64_t now_ns, tsv_vault_purge_stats *st, tsv_error *err);
/* Starts the background task: tsv_vault_purge now and every interval_s
 * (its state is the catalogue, so a restart simply carries on). Stopped by
 * tsv_vault_close. */
int tsv_vault_start_purge_task(tsv_vault *v, int64_t interval_s, tsv_error *err);

/* Deletes every object no non-purged version lists (GC lock exclusive). */
int tsv_vault_gc(tsv_vault *v, tsv_vault_purge_stats *st, tsv_error *err);

#endif
