/*
 * store_state: opening and closing the live generation (state/): the KV
 * environment, the tenant buckets influxd expects, the tsdb meta, and the
 * reconciliation of shard directories with that meta (which is also what
 * completes or rolls back any swap a crash interrupted), and the swap of a
 * whole generation (restore/kv).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "fault.h"
#include "fsutil.h"
#include "kv.h"
#include "kv_history.h"
#include "meta_store.h"
#include "pitr.h"
#include "store_internal.h"
#include "tenant.h"
#include "tenant_auth.h"
#include "trash.h"
#include "tsv_log.h"
#include "vault_history_internal.h"

int tsv_store_open_state(tsv_store *s, tsv_error *err)
{
    char kvdir[PATH_MAX];
    if (tsv_path_join(kvdir, sizeof kvdir, err, "%s/kv", s->state_dir) != 0 ||
        tsv_mkdir_p(kvdir, err) != 0)
        return -1;
    if (tsv_kv_open(&s->kv, kvdir, s->opt.kv_map_size, err) != 0)
        return tsv_error_wrap(err, "refusing to start: cannot open the KV store in %s", kvdir);
    /* Every committed change of the live tree is logged (PITR). */
    if (tsv_kv_history_start(s->kv, err) != 0)
        return tsv_error_wrap(err, "KV change log");
    tsv_kv_set_changelog(s->kv, s->tier_log);

    tsv_kv_txn *txn;
    if (tsv_kv_begin(s->kv, 1, &txn, err) != 0)
        return -1;
    Meta__Data *meta = NULL;
    int present = 0;
    if (tsv_tenant_init(txn, err) != 0 || tsv_meta_load(txn, &meta, &present, err) != 0 ||
        (!present && tsv_meta_save(txn, meta, err) != 0)) {
        tsv_kv_abort(txn);
        tsv_meta_free(meta);
        return tsv_error_wrap(err, "refusing to start: KV store in %s", kvdir);
    }
    if (tsv_kv_commit(txn, err) != 0) {
        tsv_meta_free(meta);
        return -1;
    }
    char **paths = NULL;
    size_t count = 0;
    int rc = tsv_meta_shard_paths(meta, &paths, &count, err);
    tsv_meta_free(meta);
    if (rc == 0)
        rc = tsv_engine_reconcile(s->state_dir, s->trash_dir, (const char *const *)paths, count,
                                  err);
    tsv_meta_shard_paths_free(paths, count);
    if (rc != 0)
        return tsv_error_wrap(err, "shard directories");
    /* A PITR generation's catalogue changes, if the exchange happened. */
    if (tsv_pitr_apply_pending(s, err) != 0)
        return tsv_error_wrap(err, "point-in-time restore");
    /* A new KV generation: the shard versions the previous one held are
     * soft-deleted as part of its replacement (vault_history.h). */
    if (vault__kv_replace_label(s, s->vault_label, sizeof s->vault_label, err) != 0)
        return tsv_error_wrap(err, "vault");
    rc = tsv_store_vault_reconcile(s, err);
    s->vault_label[0] = '\0';
    if (rc != 0 || vault__reconcile_history(s, err) != 0)
        return tsv_error_wrap(err, "vault");
    /* Once per process (at start-up): what trash/ holds becomes versions. */
    if (!s->trash_migrated) {
        s->trash_migrated = 1;
        vault__migrate_trash(s, err);
    }
    if (tsv_trash_purge(s->trash_dir, s->opt.trash_retention_s, err) != 0)
        return -1;
    return 0;
}

int tsv_store_open_state_read_only(tsv_store *s, tsv_error *err)
{
    char kvdir[PATH_MAX];
    if (tsv_path_join(kvdir, sizeof kvdir, err, "%s/kv", s->state_dir) != 0)
        return -1;
    if (access(kvdir, F_OK) != 0)
        return tsv_error_set(err, TSV_ENOTFOUND, "%s is not a tsvault data directory (no %s)",
                             s->data_dir, kvdir);
    if (tsv_kv_open(&s->kv, kvdir, s->opt.kv_map_size, &s->kv_open_error) != 0) {
        s->kv = NULL;
        if (s->opt.tolerate_kv_failure)
            return 0;
        if (err)
            *err = s->kv_open_error;
        return tsv_error_wrap(err, "cannot open the KV store in %s", kvdir);
    }
    return 0;
}

void tsv_store_close_state(tsv_store *s)
{
    if (s->kv) {
        tsv_kv_close(s->kv);
        s->kv = NULL;
    }
}

int tsv_store_swap_generation(tsv_store *s, const char *staging, uint64_t gen,
                              int *staging_holds_old, tsv_error *err)
{
    tsv_fault_point("kv-before-exchange");
    tsv_store_close_state(s);
    *staging_holds_old = 0;
    int rc = tsv_rename_exchange(staging, s->state_dir, err);
    if (rc == 0) {
        *staging_holds_old = 1;
        tsv_fault_point("kv-after-exchange");
        tsv_error ferr;
        if (tsv_fsync_dir(s->data_dir, &ferr) != 0)
            TSV_ERROR("msg=\"fsync after KV swap failed\" error=\"%s\"", ferr.message);
        uint64_t old_gen = s->generation;
        s->generation = gen;
        if (tsv_store_open_state(s, err) != 0) {
            /* The new generation does not open: put the old one back. */
            tsv_error berr;
            TSV_ERROR("msg=\"restored KV did not open; rolling back\" error=\"%s\"", err->message);
            if (tsv_rename_exchange(staging, s->state_dir, &berr) == 0) {
                *staging_holds_old = 0;
                if (tsv_fsync_dir(s->data_dir, &berr) != 0)
                    TSV_ERROR("msg=\"fsync after rollback failed\" error=\"%s\"", berr.message);
                s->generation = old_gen;
                if (tsv_store_open_state(s, &berr) != 0)
                    TSV_ERROR("msg=\"cannot reopen previous state\" error=\"%s\"", berr.message);
            }
            rc = -1;
        }
    } else {
        tsv_error oerr;
        if (tsv_store_open_state(s, &oerr) != 0)
            TSV_ERROR("msg=\"cannot reopen state\" error=\"%s\"", oerr.message);
    }
    return rc;
}

int tsv_store_lookup_token(tsv_store *s, const char *token, size_t len, tsv_token_info *out,
                           tsv_error *err)
{
    tsv_store_shared_lock(s);
    tsv_kv_txn *txn;
    int rc = tsv_kv_begin(s->kv, 0, &txn, err);
    if (rc == 0) {
        rc = tsv_tenant_token_lookup(txn, token, len, out, err);
        tsv_kv_abort(txn);
    }
    tsv_store_shared_unlock(s);
    return rc;
}

int tsv_store_locate_shard(tsv_store *s, uint64_t shard_id, char *dir, size_t dirlen, char *name,
                           size_t namelen, tsv_error *err)
{
    tsv_kv_txn *txn;
    Meta__Data *meta = NULL;
    int rc = tsv_kv_begin(s->kv, 0, &txn, err);
    if (rc == 0) {
        rc = tsv_meta_load(txn, &meta, NULL, err);
        tsv_kv_abort(txn);
    }
    if (rc == 0) {
        const Meta__DatabaseInfo *db;
        const Meta__RetentionPolicyInfo *rp;
        const Meta__ShardGroupInfo *g;
        tsv_error e;
        if (tsv_meta_find_shard(meta, shard_id, &db, &rp, &g, &e) != 0)
            rc = e.code == TSV_ENOTFOUND
                     ? tsv_error_set(err, TSV_ENOTFOUND, "shard %" PRIu64 " not found", shard_id)
                     : (err ? (*err = e, -1) : -1);
        else if (tsv_shard_path(dir, dirlen, s->state_dir, db->name, rp->name, shard_id, err) != 0)
            rc = -1;
        else if (name && tsv_path_join(name, namelen, err, "%s/%s/%" PRIu64, db->name, rp->name,
                                       shard_id) != 0)
            rc = -1;
    }
    tsv_meta_free(meta);
    return rc;
}
