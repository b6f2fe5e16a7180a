/*
 * restore_sql: POST /api/v2/restore/sql on the storage side.
 *
 * restore/sql validates the SQLite file with SQLite itself (header,
 * PRAGMA integrity_check) and renames it over state/influxd.sqlite under the
 * exclusive lock, after hard-linking the old one into the trash.
 */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "fault.h"
#include "fsutil.h"
#include "kv_history.h"
#include "restore.h"
#include "store_internal.h"
#include "trash.h"
#include "tsv_log.h"
#include "upload.h"
#include "vault_history_internal.h"

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
        tsv_error_set(err, TSV_EINVALID, "invalid SQL backup: %s",
                      db ? sqlite3_errmsg(db) : "open failed");
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
    /* The upload becomes an object (the live file is a hard link to it) and
     * a new SQL version; the previous one stays in the vault, soft-deleted.
     * The catalogue commits before the rename: a crash between the two is
     * completed at start-up (the live file is relinked from the vault). */
    vault_sql_install in;
    if (vault__sql_prepare(s, up.path, &in, err) != 0) {
        tsv_upload_discard(&up);
        return -1;
    }
    tsv_store_exclusive_lock(s);
    int rc = vault__sql_commit(&in, err);
    /* Barrier in the KV change log before the rename: the PITR range does
     * not cross a restore/sql (kv_history.h; a failed rename only narrows
     * the range). */
    if (rc == 0)
        rc = tsv_kv_history_mark(s->kv, TSV_KVH_RESTORE_SQL, "restore/sql", NULL, err);
    if (rc == 0) {
        tsv_fault_point("sql-before-rename");
        rc = tsv_rename_durable(up.path, live, err);
        if (rc != 0)
            vault__sql_undo(&in);
    }
    tsv_store_exclusive_unlock(s);
    vault__sql_done(&in);
    if (rc != 0) {
        tsv_upload_discard(&up);
        return -1;
    }
    up.path[0] = '\0';
    TSV_INFO("msg=\"SQL store restored\"");
    return 0;
}
