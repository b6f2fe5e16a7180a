/* conn_catalog: see conn_catalog.h. */
#include "conn_catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array_grow.h"
#include "fsutil.h"

struct tsv_conn_catalog {
    sqlite3 *db;
    pthread_mutex_t mu;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS connections("
    " name TEXT PRIMARY KEY, type TEXT NOT NULL, spec TEXT NOT NULL, secrets BLOB,"
    " submitted_by TEXT NOT NULL, submitted_on INTEGER NOT NULL,"
    " modified_by TEXT NOT NULL, modified_on INTEGER NOT NULL,"
    " last_run INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS snapshots("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, connection TEXT NOT NULL, kind TEXT NOT NULL,"
    " time INTEGER NOT NULL, finished INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,"
    " job_id TEXT NOT NULL, bytes_pulled INTEGER NOT NULL, bytes_new INTEGER NOT NULL,"
    " shards_total INTEGER NOT NULL, shards_changed INTEGER NOT NULL,"
    " kv TEXT NOT NULL, sql TEXT NOT NULL, buckets TEXT NOT NULL, meta TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS snapshots_by_time ON snapshots(connection, time);"
    "CREATE TABLE IF NOT EXISTS shard_versions("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, connection TEXT NOT NULL, shard_id INTEGER NOT NULL,"
    " db TEXT NOT NULL, rp TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS version_files("
    " version INTEGER NOT NULL REFERENCES shard_versions(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL, hex TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL,"
    " PRIMARY KEY(version, name));"
    "CREATE TABLE IF NOT EXISTS snapshot_shards("
    " snapshot INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,"
    " version INTEGER NOT NULL REFERENCES shard_versions(id),"
    " changed INTEGER NOT NULL, PRIMARY KEY(snapshot, version));"
    "CREATE INDEX IF NOT EXISTS snapshot_shards_by_version ON snapshot_shards(version);";

static int db_error(tsv_conn_catalog *c, tsv_error *err, const char *what)
{
    return tsv_error_set(err, TSV_EINTERNAL, "connections catalogue: %s: %s", what,
                         sqlite3_errmsg(c->db));
}

/* Every statement is prepared the same way: a failure is reported as "prepare". */
static int prepare(tsv_conn_catalog *c, const char *sql, sqlite3_stmt **st, tsv_error *err)
{
    return sqlite3_prepare_v2(c->db, sql, -1, st, NULL) == SQLITE_OK ? 0
                                                                     : db_error(c, err, "prepare");
}

/* Runs a statement that returns no rows to its end; `what` names it in the error. */
static int step_done(tsv_conn_catalog *c, sqlite3_stmt *st, const char *what, tsv_error *err)
{
    return sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(c, err, what);
}

/* step_done for an INSERT; *rowid is the new row's id. */
static int insert_row(tsv_conn_catalog *c, sqlite3_stmt *st, const char *what, int64_t *rowid,
                      tsv_error *err)
{
    if (step_done(c, st, what, err) != 0)
        return -1;
    *rowid = sqlite3_last_insert_rowid(c->db);
    return 0;
}

/* Ends a row loop and finalizes st: a loop whose last step was not
 * SQLITE_DONE failed (`what` names it), unless rc already holds an error. */
static int rows_end(tsv_conn_catalog *c, sqlite3_stmt *st, int rc, int last_step, const char *what,
                    tsv_error *err)
{
    if (rc == 0 && last_step != SQLITE_DONE)
        rc = db_error(c, err, what);
    sqlite3_finalize(st);
    return rc;
}

int tsv_conn_catalog_open(tsv_conn_catalog **out, const char *dir, tsv_error *err)
{
    char path[4096];
    if (tsv_mkdir_p(dir, err) != 0 ||
        tsv_path_join(path, sizeof path, err, "%s/catalog.db", dir) != 0)
        return -1;
    tsv_conn_catalog *c = calloc(1, sizeof *c);
    if (!c)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    char *msg = NULL;
    if (sqlite3_open_v2(path, &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(c->db, 10000) != SQLITE_OK ||
        sqlite3_exec(c->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        tsv_error_set(err, TSV_EINTERNAL, "open %s: %s", path,
                      msg     ? msg
                      : c->db ? sqlite3_errmsg(c->db)
                              : "out of memory");
        sqlite3_free(msg);
        tsv_conn_catalog_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

void tsv_conn_catalog_close(tsv_conn_catalog *c)
{
    if (!c)
        return;
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void tsv_conn_record_clear(tsv_conn_record *r)
{
    if (!r)
        return;
    free(r->spec_json);
    if (r->secrets)
        memset(r->secrets, 0, r->secrets_len);
    free(r->secrets);
    memset(r, 0, sizeof *r);
}

void tsv_snapshot_clear(tsv_snapshot *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_shards; i++)
        free(s->shards[i].files);
    free(s->shards);
    memset(s, 0, sizeof *s);
}

static void copy_text(char *dst, size_t len, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, len, "%s", t ? (const char *)t : "");
}

/* ---- connections --------------------------------------------------------------------- */

int tsv_conn_catalog_put(tsv_conn_catalog *c, const tsv_conn_record *r, int create, tsv_error *err)
{
    const char *sql =
        create ? "INSERT INTO connections(name,type,spec,secrets,submitted_by,submitted_on,"
                 "modified_by,modified_on) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)"
               : "UPDATE connections SET type=?2, spec=?3, secrets=?4, submitted_by=?5,"
                 " submitted_on=?6, modified_by=?7, modified_on=?8 WHERE name=?1";
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (prepare(c, sql, &st, err) != 0)
        goto out;
    sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->spec_json ? r->spec_json : "{}", -1, SQLITE_STATIC);
    if (r->secrets)
        sqlite3_bind_blob(st, 4, r->secrets, (int)r->secrets_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_text(st, 5, r->submitted_by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, r->submitted_on);
    sqlite3_bind_text(st, 7, r->modified_by, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, r->modified_on);
    int s = sqlite3_step(st);
    if (s == SQLITE_CONSTRAINT)
        tsv_error_set(err, TSV_ECONFLICT, "connection \"%s\" already exists", r->name);
    else if (s != SQLITE_DONE)
        db_error(c, err, "write connection");
    else if (!create && sqlite3_changes(c->db) == 0)
        tsv_error_set(err, TSV_ENOTFOUND, "connection \"%s\" not found", r->name);
    else
        rc = 0;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static int row_to_record(sqlite3_stmt *st, tsv_conn_record *r, tsv_error *err)
{
    memset(r, 0, sizeof *r);
    copy_text(r->name, sizeof r->name, st, 0);
    copy_text(r->type, sizeof r->type, st, 1);
    const unsigned char *spec = sqlite3_column_text(st, 2);
    r->spec_json = strdup(spec ? (const char *)spec : "{}");
    int n = sqlite3_column_bytes(st, 3);
    const void *sec = sqlite3_column_blob(st, 3);
    if (sec && n > 0) {
        r->secrets = malloc((size_t)n);
        if (r->secrets) {
            memcpy(r->secrets, sec, (size_t)n);
            r->secrets_len = (size_t)n;
        }
    }
    copy_text(r->submitted_by, sizeof r->submitted_by, st, 4);
    r->submitted_on = sqlite3_column_int64(st, 5);
    copy_text(r->modified_by, sizeof r->modified_by, st, 6);
    r->modified_on = sqlite3_column_int64(st, 7);
    r->last_run = sqlite3_column_int64(st, 8);
    if (!r->spec_json || (sec && n > 0 && !r->secrets)) {
        tsv_conn_record_clear(r);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    return 0;
}

#define CONN_COLUMNS                                                                               \
    "name,type,spec,secrets,submitted_by,submitted_on,modified_by,modified_on,last_run"

int tsv_conn_catalog_get(tsv_conn_catalog *c, const char *name, tsv_conn_record *out,
                         tsv_error *err)
{
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (prepare(c, "SELECT " CONN_COLUMNS " FROM connections WHERE name=?1", &st, err) != 0)
        goto out;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW)
        rc = row_to_record(st, out, err);
    else if (s == SQLITE_DONE)
        tsv_error_set(err, TSV_ENOTFOUND, "connection \"%.64s\" not found", name);
    else
        db_error(c, err, "read connection");
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Rows are read into memory first so that fn runs without the lock (it may
 * call back into the catalogue). */
int tsv_conn_catalog_list(tsv_conn_catalog *c, tsv_conn_fn fn, void *ctx, tsv_error *err)
{
    tsv_conn_record *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, s = SQLITE_DONE;
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *st = NULL;
    if (prepare(c, "SELECT " CONN_COLUMNS " FROM connections ORDER BY name", &st, err) != 0)
        rc = -1;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        if (TSV_ARRAY_GROW(v, n, cap, err) != 0) {
            rc = -1;
            break;
        }
        if (row_to_record(st, &v[n], err) != 0)
            rc = -1;
        else
            n++;
    }
    rc = rows_end(c, st, rc, s, "list connections", err);
    pthread_mutex_unlock(&c->mu);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (fn(ctx, &v[i], err) != 0)
            rc = -1;
    for (size_t i = 0; i < n; i++)
        tsv_conn_record_clear(&v[i]);
    free(v);
    return rc;
}

static int exec_locked(tsv_conn_catalog *c, const char *sql, tsv_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        tsv_error_set(err, TSV_EINTERNAL, "connections catalogue: %s", msg ? msg : "exec");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Ends the transaction begun under c->mu: COMMIT if rc is 0, else (or if
 * the commit fails) ROLLBACK; unlocks c->mu and returns the outcome. */
static int tx_end(tsv_conn_catalog *c, int rc, tsv_error *err)
{
    if (rc == 0)
        rc = exec_locked(c, "COMMIT", err);
    if (rc != 0)
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int tsv_conn_catalog_delete(tsv_conn_catalog *c, const char *name, int64_t now, tsv_error *err)
{
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *a = NULL, *b = NULL;
    int rc = exec_locked(c, "BEGIN IMMEDIATE", err);
    if (rc == 0 && (prepare(c, "DELETE FROM connections WHERE name=?1", &a, err) != 0 ||
                    prepare(c, "UPDATE snapshots SET deleted=?2 WHERE connection=?1 AND deleted=0",
                            &b, err) != 0))
        rc = -1;
    if (rc == 0) {
        sqlite3_bind_text(a, 1, name, -1, SQLITE_STATIC);
        rc = step_done(c, a, "delete connection", err);
        if (rc == 0 && sqlite3_changes(c->db) == 0)
            rc = tsv_error_set(err, TSV_ENOTFOUND, "connection \"%.64s\" not found", name);
    }
    if (rc == 0) {
        sqlite3_bind_text(b, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(b, 2, now);
        rc = step_done(c, b, "soft-delete snapshots", err);
    }
    sqlite3_finalize(a);
    sqlite3_finalize(b);
    return tx_end(c, rc, err);
}

int tsv_conn_catalog_set_last_run(tsv_conn_catalog *c, const char *name, int64_t t, tsv_error *err)
{
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(c, "UPDATE connections SET last_run=?2 WHERE name=?1", &st, err);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, t);
        rc = step_done(c, st, "set last run", err);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* ---- snapshots ----------------------------------------------------------------------- */

static int insert_version(tsv_conn_catalog *c, const char *conn, tsv_snap_shard *sh, tsv_error *err)
{
    sqlite3_stmt *v = NULL, *f = NULL;
    int rc = 0;
    if (prepare(c, "INSERT INTO shard_versions(connection,shard_id,db,rp) VALUES(?1,?2,?3,?4)", &v,
                err) != 0 ||
        prepare(c, "INSERT INTO version_files(version,name,hex,size,mtime) VALUES(?1,?2,?3,?4,?5)",
                &f, err) != 0)
        rc = -1;
    if (rc == 0) {
        sqlite3_bind_text(v, 1, conn, -1, SQLITE_STATIC);
        sqlite3_bind_int64(v, 2, (sqlite3_int64)sh->id);
        sqlite3_bind_text(v, 3, sh->db, -1, SQLITE_STATIC);
        sqlite3_bind_text(v, 4, sh->rp, -1, SQLITE_STATIC);
        rc = insert_row(c, v, "insert shard version", &sh->version, err);
    }
    for (size_t i = 0; rc == 0 && i < sh->n_files; i++) {
        const tsv_snap_file *x = &sh->files[i];
        sqlite3_reset(f);
        sqlite3_bind_int64(f, 1, sh->version);
        sqlite3_bind_text(f, 2, x->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(f, 3, x->hex, -1, SQLITE_STATIC);
        sqlite3_bind_int64(f, 4, (sqlite3_int64)x->size);
        sqlite3_bind_int64(f, 5, x->mtime);
        rc = step_done(c, f, "insert shard file", err);
    }
    sqlite3_finalize(v);
    sqlite3_finalize(f);
    return rc;
}

int tsv_conn_snapshot_commit(tsv_conn_catalog *c, tsv_snapshot *s, tsv_error *err)
{
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *st = NULL, *link = NULL;
    int rc = exec_locked(c, "BEGIN IMMEDIATE", err);
    for (size_t i = 0; rc == 0 && i < s->n_shards; i++)
        if (s->shards[i].version == 0)
            rc = insert_version(c, s->connection, &s->shards[i], err);
    if (rc == 0 && (prepare(c,
                            "INSERT INTO snapshots(connection,kind,time,finished,job_id,"
                            "bytes_pulled,bytes_new,shards_total,shards_changed,kv,sql,buckets,"
                            "meta) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
                            &st, err) != 0 ||
                    prepare(c,
                            "INSERT INTO snapshot_shards(snapshot,version,changed)"
                            " VALUES(?1,?2,?3)",
                            &link, err) != 0))
        rc = -1;
    if (rc == 0) {
        sqlite3_bind_text(st, 1, s->connection, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, s->kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, s->time);
        sqlite3_bind_int64(st, 4, s->finished);
        sqlite3_bind_text(st, 5, s->job_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)s->bytes_pulled);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)s->bytes_new);
        sqlite3_bind_int64(st, 8, s->shards_total);
        sqlite3_bind_int64(st, 9, s->shards_changed);
        sqlite3_bind_text(st, 10, s->kv_hex, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, s->sql_hex, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, s->buckets_hex, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 13, s->meta_hex, -1, SQLITE_STATIC);
        rc = insert_row(c, st, "insert snapshot", &s->id, err);
    }
    for (size_t i = 0; rc == 0 && i < s->n_shards; i++) {
        sqlite3_reset(link);
        sqlite3_bind_int64(link, 1, s->id);
        sqlite3_bind_int64(link, 2, s->shards[i].version);
        sqlite3_bind_int(link, 3, s->shards[i].changed);
        rc = step_done(c, link, "link shard version", err);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(link);
    rc = tx_end(c, rc, err);
    /* Rolled back: the versions this commit created do not exist. */
    if (rc != 0)
        for (size_t i = 0; i < s->n_shards; i++)
            if (s->shards[i].changed)
                s->shards[i].version = 0;
    return rc;
}

#define SNAP_COLUMNS                                                                               \
    "id,connection,kind,time,finished,deleted,job_id,bytes_pulled,bytes_new,shards_total,"         \
    "shards_changed,kv,sql,buckets,meta"

static void row_to_snapshot(sqlite3_stmt *st, tsv_snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->id = sqlite3_column_int64(st, 0);
    copy_text(s->connection, sizeof s->connection, st, 1);
    copy_text(s->kind, sizeof s->kind, st, 2);
    s->time = sqlite3_column_int64(st, 3);
    s->finished = sqlite3_column_int64(st, 4);
    s->deleted = sqlite3_column_int64(st, 5);
    copy_text(s->job_id, sizeof s->job_id, st, 6);
    s->bytes_pulled = (uint64_t)sqlite3_column_int64(st, 7);
    s->bytes_new = (uint64_t)sqlite3_column_int64(st, 8);
    s->shards_total = (uint32_t)sqlite3_column_int64(st, 9);
    s->shards_changed = (uint32_t)sqlite3_column_int64(st, 10);
    copy_text(s->kv_hex, sizeof s->kv_hex, st, 11);
    copy_text(s->sql_hex, sizeof s->sql_hex, st, 12);
    copy_text(s->buckets_hex, sizeof s->buckets_hex, st, 13);
    copy_text(s->meta_hex, sizeof s->meta_hex, st, 14);
}

int tsv_conn_snapshots_list(tsv_conn_catalog *c, const char *name, int with_deleted,
                            tsv_snapshot_fn fn, void *ctx, tsv_error *err)
{
    tsv_snapshot *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, s = SQLITE_DONE;
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *st = NULL;
    if (prepare(c,
                "SELECT " SNAP_COLUMNS " FROM snapshots WHERE connection=?1"
                " AND (?2 OR deleted=0) ORDER BY time, id",
                &st, err) != 0)
        rc = -1;
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, with_deleted != 0);
    }
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        if (TSV_ARRAY_GROW(v, n, cap, err) != 0) {
            rc = -1;
            break;
        }
        row_to_snapshot(st, &v[n++]);
    }
    rc = rows_end(c, st, rc, s, "list snapshots", err);
    pthread_mutex_unlock(&c->mu);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (fn(ctx, &v[i], err) != 0)
            rc = -1;
    free(v);
    return rc;
}

static int load_shards(tsv_conn_catalog *c, tsv_snapshot *s, tsv_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, r;
    if (prepare(c,
                "SELECT v.id, v.shard_id, v.db, v.rp, ss.changed, f.name, f.hex,"
                " f.size, f.mtime FROM snapshot_shards ss"
                " JOIN shard_versions v ON v.id = ss.version"
                " LEFT JOIN version_files f ON f.version = v.id"
                " WHERE ss.snapshot=?1 ORDER BY v.shard_id, v.id, f.name",
                &st, err) != 0)
        return -1;
    sqlite3_bind_int64(st, 1, s->id);
    size_t cap = 0, fcap = 0;
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t vid = sqlite3_column_int64(st, 0);
        tsv_snap_shard *sh = s->n_shards ? &s->shards[s->n_shards - 1] : NULL;
        if (!sh || sh->version != vid) {
            if (TSV_ARRAY_GROW(s->shards, s->n_shards, cap, err) != 0) {
                rc = -1;
                break;
            }
            sh = &s->shards[s->n_shards++];
            memset(sh, 0, sizeof *sh);
            fcap = 0;
            sh->version = vid;
            sh->id = (uint64_t)sqlite3_column_int64(st, 1);
            copy_text(sh->db, sizeof sh->db, st, 2);
            copy_text(sh->rp, sizeof sh->rp, st, 3);
            sh->changed = sqlite3_column_int(st, 4);
        }
        if (sqlite3_column_type(st, 5) == SQLITE_NULL)
            continue; /* an empty shard */
        if (TSV_ARRAY_GROW(sh->files, sh->n_files, fcap, err) != 0) {
            rc = -1;
            break;
        }
        tsv_snap_file *f = &sh->files[sh->n_files++];
        copy_text(f->name, sizeof f->name, st, 5);
        copy_text(f->hex, sizeof f->hex, st, 6);
        f->size = (uint64_t)sqlite3_column_int64(st, 7);
        f->mtime = sqlite3_column_int64(st, 8);
    }
    return rows_end(c, st, rc, r, "read snapshot shards", err);
}

int tsv_conn_snapshot_at(tsv_conn_catalog *c, const char *name, int64_t at, tsv_snapshot *out,
                         tsv_error *err)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(c,
                     "SELECT " SNAP_COLUMNS " FROM snapshots WHERE connection=?1"
                     " AND deleted=0 AND time<=?2 ORDER BY time DESC, id DESC LIMIT 1",
                     &st, err);
    if (rc == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, at);
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW)
            row_to_snapshot(st, out);
        else if (s == SQLITE_DONE)
            rc = tsv_error_set(err, TSV_ENOTFOUND,
                               at == INT64_MAX ? "connection \"%.64s\" has no snapshot yet"
                                               : "connection \"%.64s\" has no snapshot at or "
                                                 "before the target time",
                               name);
        else
            rc = db_error(c, err, "read snapshot");
    }
    sqlite3_finalize(st);
    if (rc == 0)
        rc = load_shards(c, out, err);
    pthread_mutex_unlock(&c->mu);
    if (rc != 0)
        tsv_snapshot_clear(out);
    return rc;
}

int tsv_conn_snapshot_delete(tsv_conn_catalog *c, int64_t id, int64_t now, tsv_error *err)
{
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *st = NULL;
    int rc = prepare(c, "UPDATE snapshots SET deleted=?2 WHERE id=?1 AND deleted=0", &st, err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now);
        rc = step_done(c, st, "delete snapshot", err);
        if (rc == 0 && sqlite3_changes(c->db) == 0)
            rc = tsv_error_set(err, TSV_ENOTFOUND, "snapshot %lld not found", (long long)id);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int tsv_conn_snapshots_purge(tsv_conn_catalog *c, int64_t cutoff, uint64_t *purged, tsv_error *err)
{
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *st = NULL;
    int rc = exec_locked(c, "BEGIN IMMEDIATE", err);
    if (rc == 0)
        rc = prepare(c, "DELETE FROM snapshots WHERE deleted<>0 AND deleted<?1", &st, err);
    if (rc == 0) {
        sqlite3_bind_int64(st, 1, cutoff);
        rc = step_done(c, st, "purge snapshots", err);
        if (rc == 0 && purged)
            *purged = (uint64_t)sqlite3_changes(c->db);
    }
    sqlite3_finalize(st);
    if (rc == 0)
        rc = exec_locked(c,
                         "DELETE FROM shard_versions WHERE id NOT IN"
                         " (SELECT version FROM snapshot_shards)",
                         err);
    return tx_end(c, rc, err);
}

int tsv_conn_catalog_objects(tsv_conn_catalog *c, tsv_conn_hex_fn fn, void *ctx, tsv_error *err)
{
    pthread_mutex_lock(&c->mu);
    sqlite3_stmt *st = NULL;
    int rc = 0, s = SQLITE_DONE;
    if (prepare(c,
                "SELECT hex FROM version_files UNION SELECT kv FROM snapshots"
                " UNION SELECT sql FROM snapshots UNION SELECT buckets FROM snapshots"
                " UNION SELECT meta FROM snapshots",
                &st, err) != 0)
        rc = -1;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *h = sqlite3_column_text(st, 0);
        if (h && *h && fn(ctx, (const char *)h, err) != 0)
            rc = -1;
    }
    rc = rows_end(c, st, rc, s, "list objects", err);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int tsv_conn_catalog_export(tsv_conn_catalog *c, const char *path, tsv_error *err)
{
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    if (sqlite3_prepare_v2(c->db, "VACUUM INTO ?1", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_DONE)
        rc = tsv_error_set(err, TSV_EINTERNAL, "copy of the connections catalogue to %s: %s", path,
                           sqlite3_errmsg(c->db));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&c->mu);
    if (rc != 0)
        return -1;
    sqlite3 *db = NULL;
    char *msg = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(db,
                     "PRAGMA secure_delete=ON; PRAGMA journal_mode=DELETE;"
                     " UPDATE connections SET secrets=NULL; VACUUM;",
                     NULL, NULL, &msg) != SQLITE_OK)
        rc = tsv_error_set(err, TSV_EINTERNAL, "strip secrets from %s: %s", path,
                           msg  ? msg
                           : db ? sqlite3_errmsg(db)
                                : "out of memory");
    sqlite3_free(msg);
    if (db && sqlite3_close(db) != SQLITE_OK && rc == 0)
        rc = tsv_error_set(err, TSV_EINTERNAL, "close %s", path);
    if (rc == 0) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
        rc = tsv_fsync_fd(fd, path, err);
        close(fd);
    }
    return rc;
}

uint64_t tsv_conn_catalog_changes(tsv_conn_catalog *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t n = (uint64_t)sqlite3_total_changes64(c->db);
    pthread_mutex_unlock(&c->mu);
    return n;
}
