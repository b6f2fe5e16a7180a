/*
 * store_internal: the tsv_store struct and helpers shared by the storage
 * modules that implement the store's operations (tenants, restores,
 * backups). Not for the server layer.
 */
#ifndef TSV_STORE_INTERNAL_H
#define TSV_STORE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "kv.h"
#include "store.h"

struct tsv_kv;
struct tsv_vault;

struct tsv_store {
    tsv_store_options opt;
    char data_dir[PATH_MAX];
    char state_dir[PATH_MAX];
    char tmp_dir[PATH_MAX];
    char trash_dir[PATH_MAX];
    int lock_fd;
    uint64_t generation;
    /* Shared for ordinary work, exclusive while the KV or SQL store is
     * swapped (restore/kv, restore/sql). */
    pthread_rwlock_t swap_lock;
    struct tsv_kv *kv;
    /* Read-only stores opened with tolerate_kv_failure: why kv is NULL. */
    tsv_error kv_open_error;
    /* Objects and catalogue: outside state/, they outlive KV generations. */
    struct tsv_vault *vault;
    /* restore/kv -> the vault's reconciliation inside the swap
     * (vault_history.c): the staged KV already exported as an object ("" if
     * not), and the reason given to shard versions the replaced generation
     * held ("" outside a KV swap). Written under the exclusive lock. */
    char pending_kv_object[65];
    uint64_t pending_kv_size;
    char vault_label[64];
    int trash_migrated; /* the start-up trash migration ran (vault_trash.c) */
    int tier_log;       /* change logs on for the S3 tier (tier.h) */
};

/* Opens/closes what lives in state/ (KV environment, meta). */
int tsv_store_open_state(tsv_store *s, tsv_error *err);
void tsv_store_close_state(tsv_store *s);
/* The KV of state/ only, for read-only stores (store_state.c). */
int tsv_store_open_state_read_only(tsv_store *s, tsv_error *err);

/* Replaces the live generation (state/) with the staging directory `staging`
 * (generation `gen`, complete and fsynced): closes the state, exchanges the
 * two directories with renameat2(RENAME_EXCHANGE), reopens, and if the new
 * generation does not open exchanges them back and reopens the old one.
 * The caller holds the exclusive lock. On return *staging_holds_old says
 * whether `staging` now holds the previous generation (the caller moves it
 * to the trash) or still the unused new one (the caller removes it).
 * 0 when the new generation is live; -1 with err otherwise, the old
 * generation then being live again. (store_state.c) */
int tsv_store_swap_generation(tsv_store *s, const char *staging, uint64_t gen,
                              int *staging_holds_old, tsv_error *err);

/* Finds a shard of a non-deleted group in the live meta: its directory and
 * (optional) its "<db>/<rp>/<id>" name. TSV_ENOTFOUND "shard N not found".
 * The caller holds the shared lock. (store_state.c) */
int tsv_store_locate_shard(tsv_store *s, uint64_t shard_id, char *dir, size_t dirlen, char *name,
                           size_t namelen, tsv_error *err);

/* The vault's start-up pass (store_vault.c): every live shard directory
 * made to hold its slot's in-use version (rebuilt from objects when a crash
 * interrupted a change; directories the catalogue does not know yet are
 * adopted as a new version), and in-use versions of shards the meta no
 * longer lists soft-deleted. Runs after tsv_engine_reconcile. */
int tsv_store_vault_reconcile(tsv_store *s, tsv_error *err);

/* One whole store operation's KV transaction under the shared lock:
 * txn_begin takes the lock and begins (read-write when `write`), releasing
 * the lock again if the begin fails; txn_end commits when rc == 0 and
 * `write`, aborts otherwise, releases the lock and returns rc (or -1 with
 * err when the commit fails). (store.c) */
int tsv_store_txn_begin(tsv_store *s, int write, tsv_kv_txn **txn, tsv_error *err);
int tsv_store_txn_end(tsv_store *s, tsv_kv_txn *txn, int rc, int write, tsv_error *err);

/* Read transactions on the vault's catalogue and on the KV, both or
 * neither: one view of each (the S3 tier's log positions and records; under
 * the exclusive lock, the two views are of one moment). The caller aborts
 * both. (store.c) */
struct tsv_catalog_txn;
int tsv_store_read_views(tsv_store *s, struct tsv_catalog_txn **ct, tsv_kv_txn **kt,
                         tsv_error *err);

static inline void tsv_store_shared_lock(tsv_store *s) { pthread_rwlock_rdlock(&s->swap_lock); }
static inline void tsv_store_shared_unlock(tsv_store *s) { pthread_rwlock_unlock(&s->swap_lock); }
static inline void tsv_store_exclusive_lock(tsv_store *s) { pthread_rwlock_wrlock(&s->swap_lock); }
static inline void tsv_store_exclusive_unlock(tsv_store *s)
{
    pthread_rwlock_unlock(&s->swap_lock);
}

#endif
