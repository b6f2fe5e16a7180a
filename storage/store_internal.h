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

#include "store.h"

struct tsv_kv;

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
};

/* Opens/closes what lives in state/ (KV environment, meta). */
int tsv_store_open_state(tsv_store *s, tsv_error *err);
void tsv_store_close_state(tsv_store *s);

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

static inline void tsv_store_shared_lock(tsv_store *s) { pthread_rwlock_rdlock(&s->swap_lock); }
static inline void tsv_store_shared_unlock(tsv_store *s) { pthread_rwlock_unlock(&s->swap_lock); }
static inline void tsv_store_exclusive_lock(tsv_store *s) { pthread_rwlock_wrlock(&s->swap_lock); }
static inline void tsv_store_exclusive_unlock(tsv_store *s) { pthread_rwlock_unlock(&s->swap_lock); }

#endif
