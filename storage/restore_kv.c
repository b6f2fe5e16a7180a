/*
 * restore_kv: POST /api/v2/restore/kv on the storage side.
 *
 * restore/kv never changes anything before the upload is known good (fixes
 * docs/influxdb-compat.md#b5): the bolt file is streamed into tmp/, validated completely and
 * imported (tsv_kv_stage_bolt, in bounded memory) into a brand-new LMDB
 * environment inside a new state generation (state.staging-<G>/) that also
 * holds empty directories for every shard of
 * the restored meta and a hard link to the current SQL file; the operator
 * token and the meta are checked there. Only then, under the store's
 * exclusive lock, the store swaps the generations in one renameat2
 * (RENAME_EXCHANGE) (tsv_store_swap_generation, store_state.c). The
 * previous generation (KV and all shard data) goes to the trash, intact.
 * restore/sql is in restore_sql.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "fsutil.h"
#include "jobs_store.h"
#include "kv.h"
#include "kv_history.h"
#include "kv_stage.h"
#include "meta_store.h"
#include "random.h"
#include "restore.h"
#include "store_internal.h"
#include "tenant.h"
#include "tenant_auth.h"
#include "trash.h"
#include "tsv_log.h"
#include "upload.h"
#include "vault_history_internal.h"

/* Builds <staging>/kv from the upload and checks it; fills token. */
static int build_kv(const char *staging, const char *bolt_path, char *token, size_t token_len,
                    char ***shards, size_t *nshards, tsv_error *err)
{
    char kvdir[PATH_MAX];
    tsv_kv *kv = NULL;
    if (tsv_path_join(kvdir, sizeof kvdir, err, "%s/kv", staging) != 0 ||
        tsv_kv_stage_bolt(bolt_path, kvdir, &kv, err) != 0)
        return -1;
    tsv_kv_txn *txn;
    if (tsv_kv_begin(kv, 1, &txn, err) != 0) {
        tsv_kv_close(kv);
        return -1;
    }
    int found = 0, present = 0;
    Meta__Data *meta = NULL;
    int rc = tsv_tenant_find_operator(txn, &found, token, token_len, err);
    if (rc == 0 && !found)
        rc = tsv_error_set(err, TSV_EUNPROCESSABLE,
                           "invalid backup without an operator token: the KV holds no active "
                           "authorization with the operator permission set; nothing was changed");
    /* The buckets influxd creates at start-up, as influxd's own restore does. */
    if (rc == 0)
        rc = tsv_tenant_init(txn, err);
    if (rc == 0 && tsv_meta_load(txn, &meta, &present, err) != 0) {
        /* A corrupt meta.db in the upload is the client's problem, not ours. */
        if (err)
            err->code = TSV_EUNPROCESSABLE;
        rc = -1;
    }
    if (rc == 0 && !present) {
        TSV_WARN("msg=\"restored KV has no tsdb meta (v1_tsm1_metadata/meta.db); starting with "
                 "no databases\"");
        rc = tsv_meta_save(txn, meta, err);
    }
    if (rc == 0)
        rc = tsv_meta_shard_paths(meta, shards, nshards, err);
    tsv_meta_free(meta);
    if (rc == 0)
        rc = tsv_kv_commit(txn, err);
    else
        tsv_kv_abort(txn);
    if (rc == 0)
        rc = tsv_kv_sync(kv, err);
    tsv_kv_close(kv);
    return rc;
}

static int carry_jobs(tsv_store *s, const char *staging, tsv_error *err)
{
    char kvdir[PATH_MAX];
    tsv_kv *kv = NULL;
    if (!s->kv)
        return 0;
    if (tsv_path_join(kvdir, sizeof kvdir, err, "%s/kv", staging) != 0 ||
        tsv_kv_open(&kv, kvdir, 0, err) != 0)
        return -1;
    int rc = tsv_store_jobs_carry(s->kv, kv, err);
    /* The change log goes on in the new generation after a barrier: it
     * cannot be rewound across this restore (kv_history.h). */
    if (rc == 0)
        rc = tsv_kv_history_carry(s->kv, kv, TSV_KVH_RESTORE_KV, "restore/kv", err);
    if (rc == 0)
        rc = tsv_kv_sync(kv, err);
    tsv_kv_close(kv);
    return rc;
}

int tsv_store_restore_kv(tsv_store *s, tsv_reader *body, char *token, size_t token_len,
                         tsv_error *err)
{
    tsv_upload up = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* A scratch file: what is built from it is synced by tsv_kv_stage_bolt. */
    if (tsv_upload_receive_scratch(s->tmp_dir, ".bolt", body, &up, err) != 0)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t gen;
    do
        gen = tsv_random_u64();
    while (gen == 0);
    char staging[PATH_MAX];
    if (tsv_path_join(staging, sizeof staging, err, "%s/state.staging-%016" PRIx64, s->data_dir,
                      gen) != 0) {
        tsv_upload_discard(&up);
        return -1;
    }
    char **shards = NULL;
    size_t nshards = 0;
    int rc = tsv_mkdir_p(staging, err);
    if (rc == 0)
        rc = build_kv(staging, up.path, token, token_len, &shards, &nshards, err);
    tsv_upload_discard(&up);
    if (rc == 0)
        rc = tsv_engine_reconcile(staging, s->trash_dir, (const char *const *)shards, nshards, err);
    tsv_meta_shard_paths_free(shards, nshards);
    if (rc == 0)
        rc = tsv_gen_marker_write(staging, gen, err);
    /* The new generation's KV as installed, for the vault (vault_history.h):
     * exported here, outside the exclusive lock. */
    char kv_hex[65] = "";
    uint64_t kv_size = 0;
    char kvdir[PATH_MAX];
    if (rc == 0 && (tsv_path_join(kvdir, sizeof kvdir, err, "%s/kv", staging) != 0 ||
                    vault__kv_export_dir(s, kvdir, kv_hex, &kv_size, err) != 0))
        rc = -1;
    if (rc != 0) {
        tsv_error cerr;
        tsv_remove_tree(staging, &cerr);
        return -1;
    }

    tsv_store_exclusive_lock(s);
    /* The SQL store is not part of the KV: carry it into the new generation. */
    char old_sql[PATH_MAX], new_sql[PATH_MAX];
    if (tsv_path_join(old_sql, sizeof old_sql, err, "%s/influxd.sqlite", s->state_dir) == 0 &&
        tsv_path_join(new_sql, sizeof new_sql, err, "%s/influxd.sqlite", staging) == 0 &&
        tsv_path_exists(old_sql) && link(old_sql, new_sql) != 0)
        rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "link %s", old_sql);
    /* Job records live beside the bolt tree, not in it: carry them into the
     * new generation while no job can write one (exclusive lock). */
    if (rc == 0)
        rc = carry_jobs(s, staging, err);
    if (rc == 0)
        rc = tsv_fsync_dir(staging, err);
    if (rc != 0) {
        tsv_store_exclusive_unlock(s);
        tsv_error cerr;
        tsv_remove_tree(staging, &cerr);
        return -1;
    }
    /* staging_holds_old: after the swap the staging path holds the previous
     * generation, which is only ever moved to the trash. */
    int staging_holds_old = 0;
    memcpy(s->pending_kv_object, kv_hex, sizeof kv_hex);
    s->pending_kv_size = kv_size;
    rc = tsv_store_swap_generation(s, staging, gen, &staging_holds_old, err);
    s->pending_kv_object[0] = '\0';
    tsv_store_exclusive_unlock(s);
    tsv_error terr;
    if (staging_holds_old) {
        if (rc == 0)
            TSV_INFO("msg=\"KV restored\" generation=%016" PRIx64
                     " shards=%zu upload_bytes=%" PRIu64 " upload_s=%.3f",
                     gen, nshards, up.size,
                     (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        /* The previous generation becomes a soft-deleted KV version (its
         * final content exported); only if that fails is it moved aside. */
        if (rc == 0 && vault__kv_replaced(s, staging, &terr) == 0) {
        } else if (tsv_trash_move(s->trash_dir, staging, "kv-restore-previous-state", &terr) != 0) {
            TSV_WARN("msg=\"could not move previous state aside\" path=\"%s\" error=\"%s\"",
                     staging, terr.message);
        }
    } else if (tsv_remove_tree(staging, &terr) != 0) {
        TSV_WARN("msg=\"could not remove\" path=\"%s\" error=\"%s\"", staging, terr.message);
    }
    return rc;
}
