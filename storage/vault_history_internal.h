/*
 * vault_history_internal: the store's hooks into KV/SQL versions
 * (vault_history.c), for restore_kv.c, restore_sql.c and store_state.c only.
 * Errors: int 0/-1 with tsv_error. Callers hold the locks said per function.
 */
#ifndef TSV_VAULT_HISTORY_INTERNAL_H
#define TSV_VAULT_HISTORY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "store.h"

struct tsv_kv;

/* bbolt export of `kv` streamed into a new object (SHA-256 computed on the
 * way, fsynced, then adopted). The caller holds the GC lock shared until the
 * catalogue lists the object, or accepts that it may be collected. */
int vault__kv_export_object(tsv_store *s, struct tsv_kv *kv, char hex[65], uint64_t *size,
                            tsv_error *err);
/* Same for the (closed) KV environment in directory kvdir. */
int vault__kv_export_dir(tsv_store *s, const char *kvdir, char hex[65], uint64_t *size,
                         tsv_error *err);

/* "kv-restore:kv<N>" when the in-use KV version (N) is not the live
 * generation (restore/kv swapped it): the reason given to the shard versions
 * that generation held; "" otherwise. */
int vault__kv_replace_label(tsv_store *s, char *label, size_t len, tsv_error *err);

/* After the shard reconciliation (store_state.c): records the live KV
 * generation and the live SQL file as the in-use versions (see
 * vault_history.h). Exclusive lock or start-up. */
int vault__reconcile_history(tsv_store *s, tsv_error *err);

/* restore/kv, after the swap: old_state (the previous generation, no longer
 * served) has its KV exported as the replaced version's final content, then
 * the directory is removed (its files are objects). -1: the caller moves it
 * to the trash instead. */
int vault__kv_replaced(tsv_store *s, const char *old_state, tsv_error *err);

/* restore/sql: prepare (hash the validated upload, adopt it as an object;
 * takes the GC lock shared), commit (under the exclusive lock: new version in
 * use, previous soft-deleted "sql-restore"), undo (the rename failed), done
 * (always: releases the GC lock). */
typedef struct vault_sql_install {
    tsv_store *s;
    char hex[65];
    uint64_t size;
    int gc_held;
    tsv_version prev;
    int had_prev;
    uint64_t new_version;
} vault_sql_install;
int vault__sql_prepare(tsv_store *s, const char *path, vault_sql_install *in, tsv_error *err);
int vault__sql_commit(vault_sql_install *in, tsv_error *err);
void vault__sql_undo(vault_sql_install *in);
void vault__sql_done(vault_sql_install *in);

/* Start-up: every trash/ entry becomes soft-deleted versions, once and
 * crash-safely (vault_trash.c). Never fails the start-up: an entry that
 * cannot be migrated is logged and left. */
int vault__migrate_trash(tsv_store *s, tsv_error *err);

#endif
