/*
 * restore_kv: POST /api/v2/restore/kv and /restore/sql on the storage side.
 *
 * restore/kv never changes anything before the upload is known good (fixes
 * upstream B5): the bolt file is received into tmp/, validated completely,
 * imported into a brand-new LMDB environment inside a new state generation
 * (state.staging-<G>/) that also holds empty directories for every shard of
 * the restored meta and a hard link to the current SQL file; the operator
 * token and the meta are checked there. Only then, under the store's
 * exclusive lock, one renameat2(RENAME_EXCHANGE) swaps the generations. The
 * previous generation (KV and all shard data) goes to the trash, intact.
 *
 * restore/sql validates the SQLite file with SQLite itself (header,
 * PRAGMA integrity_check) and renames it over state/influxd.sqlite under the
 * exclusive lock, after hard-linking the old one into the trash.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bolt.h"
#include "engine.h"
#include "fault.h"
#include "fsutil.h"
#include "jobs_store.h"
#include "kv_import.h"
#include "meta_store.h"
#include "restore.h"
#include "store_internal.h"
#include "tenant.h"
#include "tsv_log.h"
#include "upload.h"

/* Builds <staging>/kv from the upload and checks it; fills token. */
static int build_kv(const char *staging, const char *bolt_path, char *token, size_t token_len,
                    char ***shards, size_t *nshards, tsv_error *err)
{
    tsv_bolt_file *bolt = NULL;
    if (tsv_bolt_open(&bolt, bolt_path, err) != 0)
        return -1;
    char kvdir[PATH_MAX];
    tsv_kv *kv = NULL;
    int rc = tsv_path_join(kvdir, sizeof kvdir, err, "%s/kv", staging);
    if (rc == 0)
        rc = tsv_mkdir_p(kvdir, err);
    if (rc == 0)
        rc = tsv_kv_open(&kv, kvdir, 0, err);
    if (rc == 0)
        rc = tsv_kv_import_bolt(kv, bolt, err);
    tsv_bolt_close(bolt);
    if (rc != 0) {
        tsv_kv_close(kv);
        return -1;
    }
    tsv_kv_txn *txn;
    if (tsv_kv_begin(kv, 1, &txn, err) != 0) {
        tsv_kv_close(kv);
        return -1;
    }
    int found = 0, present = 0;
    Meta__Data *meta = NULL;
    rc = tsv_tenant_find_operator(txn, &found, token, token_len, err);
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
    tsv_kv_close(kv);
    return rc;
}

int tsv_store_restore_kv(tsv_store *s, tsv_reader *body, char *token, size_t token_len,
                         tsv_error *err)
{
    tsv_upload up = {0};
    if (tsv_upload_receive(s->tmp_dir, ".bolt", body, &up, err) != 0)
        return -1;
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
    tsv_fault_point("kv-before-exchange");
    tsv_store_close_state(s);
    /* staging_holds_old: after the exchange the staging path holds the
     * previous generation, which is only ever moved to the trash. */
    int staging_holds_old = 0;
    rc = tsv_rename_exchange(staging, s->state_dir, err);
    if (rc == 0) {
        staging_holds_old = 1;
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
                staging_holds_old = 0;
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
    tsv_store_exclusive_unlock(s);
    tsv_error terr;
    if (staging_holds_old) {
        if (rc == 0)
            TSV_INFO("msg=\"KV restored\" generation=%016" PRIx64 " shards=%zu", gen, nshards);
        if (tsv_trash_move(s->trash_dir, staging, "kv-restore-previous-state", &terr) != 0)
            TSV_WARN("msg=\"could not move previous state aside\" path=\"%s\" error=\"%s\"", staging,
                     terr.message);
    } else if (tsv_remove_tree(staging, &terr) != 0) {
        TSV_WARN("msg=\"could not remove\" path=\"%s\" error=\"%s\"", staging, terr.message);
    }
    return rc;
}

/* Opens the file with SQLite and asks it whether it is sound. */
int tsv_sqlite_validate(const char *path, tsv_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    char header[16] = {0};
    size_t n = fread(header, 1, sizeof header, f);
    fclose(f);
    if (n != sizeof header || memcmp(header, "SQLite format 3", 16) != 0)
        return tsv_error_set(err, TSV_EINVALID, "invalid SQL backup: not an SQLite 3 database");
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc != SQLITE_OK) {
        tsv_error_set(err, TSV_EINVALID, "invalid SQL backup: %s", db ? sqlite3_errmsg(db) : "open failed");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
    int ok = 0;
    char first[256] = "";
    if (rc == SQLITE_OK) {
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            if (!first[0] && t)
                snprintf(first, sizeof first, "%s", (const char *)t);
        }
        ok = step == SQLITE_DONE && strcmp(first, "ok") == 0;
        if (step != SQLITE_DONE && !first[0])
            snprintf(first, sizeof first, "%s", sqlite3_errmsg(db));
    } else {
        snprintf(first, sizeof first, "%s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (!ok)
        return tsv_error_set(err, TSV_EINVALID, "invalid SQL backup: integrity check failed: %s",
                             first);
    return 0;
}

int tsv_store_restore_sql(tsv_store *s, tsv_reader *body, tsv_error *err)
{
    tsv_upload up = {0};
    if (tsv_upload_receive(s->tmp_dir, ".sqlite", body, &up, err) != 0)
        return -1;
    if (tsv_sqlite_validate(up.path, err) != 0) {
        tsv_upload_discard(&up);
        return -1;
    }
    char live[PATH_MAX];
    if (tsv_path_join(live, sizeof live, err, "%s/influxd.sqlite", s->state_dir) != 0) {
        tsv_upload_discard(&up);
        return -1;
    }
    tsv_store_exclusive_lock(s);
    /* The previous file is linked into the trash before the rename replaces
     * it, so a crash at any point leaves it either live or in the trash. */
    int rc = tsv_trash_link(s->trash_dir, live, "sql-restore-previous", err);
    if (rc == 0)
        rc = tsv_rename_durable(up.path, live, err);
    tsv_store_exclusive_unlock(s);
    if (rc != 0) {
        tsv_upload_discard(&up);
        return -1;
    }
    up.path[0] = '\0';
    tsv_error perr;
    if (tsv_trash_purge(s->trash_dir, s->opt.trash_retention_s, &perr) != 0)
        TSV_WARN("msg=\"trash purge failed\" error=\"%s\"", perr.message);
    TSV_INFO("msg=\"SQL store restored\"");
    return 0;
}
