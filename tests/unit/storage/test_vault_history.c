/*
 * Unit tests for the vault's history (storage/vault_history.h, the event log
 * of storage/catalog.h, storage/vault_trash.c): which version was in use at
 * a time T (also after a version was put back in use), SQL versions recorded
 * by restore/sql (content-addressed, deduplicated, the live file a hard link
 * to the object), restoring an SQL version, KV versions of a fresh data
 * directory, and an old trash/ SQL entry migrated into the vault once.
 */
#include "harness.h"
#include "store_fixture.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "restore.h"
#include "store.h"
#include "stream.h"
#include "vault_history.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void put(tsv_catalog *c, const tsv_slot_key *k, uint64_t version, tsv_version_state st)
{
    tsv_catalog_txn *t;
    OK(tsv_catalog_begin(c, 1, &t, &E));
    tsv_version v;
    memset(&v, 0, sizeof v);
    v.slot = *k;
    v.version = version;
    v.state = st;
    OK(tsv_catalog_put(t, &v, &E));
    OK(tsv_catalog_commit(t, &E));
}

static uint64_t at(tsv_catalog *c, const tsv_slot_key *k, int64_t when)
{
    tsv_catalog_txn *t;
    uint64_t v = 99;
    OK(tsv_catalog_begin(c, 0, &t, &E));
    OK(tsv_catalog_in_use_at(t, k, when, &v, &E));
    tsv_catalog_abort(t);
    return v;
}

typedef struct seen {
    int n;
    uint64_t version;
    char bucket[17];
} seen;

static int seen_fn(void *ctx, const tsv_slot_key *slot, uint64_t version, tsv_error *err)
{
    (void)err;
    seen *s = ctx;
    s->n++;
    s->version = version;
    snprintf(s->bucket, sizeof s->bucket, "%s", slot->bucket);
    return 0;
}

static void test_events(void **state)
{
    (void)state;
    char dir[256];
    assert_int_equal(harness_tmpdir(dir, sizeof dir, "events"), 0);
    tsv_catalog *c;
    OK(tsv_catalog_open(&c, dir, &E));
    tsv_slot_key k = {"0123456789abcdef", "autogen", 100, 200};
    int64_t t0 = now_ns();
    put(c, &k, 1, TSV_VERSION_IN_USE);
    int64_t t1 = now_ns();
    put(c, &k, 1, TSV_VERSION_SOFT_DELETED); /* replaced by v2 */
    put(c, &k, 2, TSV_VERSION_IN_USE);
    int64_t t2 = now_ns();
    put(c, &k, 2, TSV_VERSION_SOFT_DELETED); /* restore_data puts v1 back */
    put(c, &k, 1, TSV_VERSION_IN_USE);
    int64_t t3 = now_ns();
    put(c, &k, 1, TSV_VERSION_IN_USE); /* same state: no new event */
    assert_int_equal(at(c, &k, t0 - 1), 0);
    assert_int_equal(at(c, &k, t1), 1);
    assert_int_equal(at(c, &k, t2), 2);
    assert_int_equal(at(c, &k, t3), 1);

    /* An undone version (tsv_catalog_del) never was. */
    put(c, &k, 3, TSV_VERSION_IN_USE);
    tsv_catalog_txn *t;
    OK(tsv_catalog_begin(c, 1, &t, &E));
    OK(tsv_catalog_del(t, &k, 3, &E));
    OK(tsv_catalog_commit(t, &E));
    assert_int_equal(at(c, &k, now_ns()), 1);

    /* Every slot at a time, also after a reopen. */
    tsv_slot_key k2 = {"fedcba9876543210", "autogen", 0, 10};
    put(c, &k2, 1, TSV_VERSION_IN_USE);
    tsv_catalog_close(c);
    OK(tsv_catalog_open(&c, dir, &E));
    seen s = {0};
    OK(tsv_catalog_begin(c, 0, &t, &E));
    OK(tsv_catalog_foreach_in_use_at(t, NULL, t2, seen_fn, &s, &E));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.version, 2);
    memset(&s, 0, sizeof s);
    OK(tsv_catalog_foreach_in_use_at(t, NULL, now_ns(), seen_fn, &s, &E));
    assert_int_equal(s.n, 2);
    assert_string_equal(s.bucket, "fedcba9876543210");
    memset(&s, 0, sizeof s);
    OK(tsv_catalog_foreach_in_use_at(t, "0123456789abcdef", now_ns(), seen_fn, &s, &E));
    assert_int_equal(s.n, 1);
    assert_int_equal(s.version, 1);
    tsv_catalog_abort(t);
    tsv_catalog_close(c);
    harness_rmtree(dir);
}

/* A small valid SQLite file holding one row with `value`. */
static void make_sqlite(const char *path, int value)
{
    unlink(path);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE TABLE t(x); INSERT INTO t VALUES(%d);", value);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static int sqlite_value(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int v = -1;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT x FROM t", -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

typedef struct vlist {
    tsv_history_version v[8];
    int n;
} vlist;

static int collect(void *ctx, const tsv_history_version *v, tsv_error *err)
{
    (void)err;
    vlist *l = ctx;
    if (l->n < 8)
        l->v[l->n++] = *v;
    return 0;
}

static ino_t inode(const char *p)
{
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_ino;
}

static void test_sql_and_kv_versions(void **state)
{
    (void)state;
    char dir[256], f1[300], f2[300], live[300], obj[400];
    assert_int_equal(harness_tmpdir(dir, sizeof dir, "history"), 0);
    snprintf(f1, sizeof f1, "%s/one.sqlite", dir);
    snprintf(f2, sizeof f2, "%s/two.sqlite", dir);
    snprintf(live, sizeof live, "%s/data/state/influxd.sqlite", dir);
    make_sqlite(f1, 1);
    make_sqlite(f2, 2);
    char data[300];
    snprintf(data, sizeof data, "%s/data", dir);
    tsv_store *s;
    store_fixture_open(data, &s);

    /* A fresh data directory: its KV is version 1, in use; no SQL yet. */
    vlist kv = {0}, sql = {0};
    OK(tsv_vault_history_list(s, TSV_HISTORY_KV, collect, &kv, &E));
    assert_int_equal(kv.n, 1);
    assert_int_equal(kv.v[0].state, TSV_VERSION_IN_USE);
    assert_int_equal(strlen(kv.v[0].object), 64);
    OK(tsv_vault_history_list(s, TSV_HISTORY_SQL, collect, &sql, &E));
    assert_int_equal(sql.n, 0);

    int64_t before = now_ns();
    store_fixture_restore_sql(s, f1, NULL);
    int64_t mid = now_ns();
    store_fixture_restore_sql(s, f2, NULL);
    int64_t after = now_ns();
    OK(tsv_vault_history_list(s, TSV_HISTORY_SQL, collect, &sql, &E));
    assert_int_equal(sql.n, 2);
    assert_int_equal(sql.v[0].state, TSV_VERSION_SOFT_DELETED);
    assert_string_equal(sql.v[0].replaced_by, "sql-restore");
    assert_int_equal(sql.v[0].replaced_ns, sql.v[1].installed_ns);
    assert_int_equal(sql.v[1].state, TSV_VERSION_IN_USE);
    assert_int_equal(sqlite_value(live), 2);
    /* The live file is the object (one inode, read-only). */
    snprintf(obj, sizeof obj, "%s/objects/%.2s/%s", data, sql.v[1].object, sql.v[1].object);
    assert_int_equal(inode(live), inode(obj));

    tsv_history_version h;
    int found = 1;
    OK(tsv_vault_history_at(s, TSV_HISTORY_SQL, before, &h, &found, &E));
    assert_int_equal(found, 0);
    OK(tsv_vault_history_at(s, TSV_HISTORY_SQL, mid, &h, &found, &E));
    assert_int_equal(found, 1);
    assert_int_equal(h.version, 1);
    OK(tsv_vault_history_at(s, TSV_HISTORY_SQL, after, &h, &found, &E));
    assert_int_equal(h.version, 2);

    /* Version 1 back: a new version 3 with the same object. */
    OK(tsv_vault_restore_sql_version(s, 1, &E));
    assert_int_equal(sqlite_value(live), 1);
    sql.n = 0;
    OK(tsv_vault_history_list(s, TSV_HISTORY_SQL, collect, &sql, &E));
    assert_int_equal(sql.n, 3);
    assert_string_equal(sql.v[2].object, sql.v[0].object);
    assert_int_equal(sql.v[2].state, TSV_VERSION_IN_USE);
    FAILS(tsv_vault_restore_sql_version(s, 9, &E), TSV_ENOTFOUND);
    tsv_store_close(s);

    /* Restart keeps every version; the KV generation did not change. */
    store_fixture_open(data, &s);
    sql.n = 0;
    kv.n = 0;
    OK(tsv_vault_history_list(s, TSV_HISTORY_SQL, collect, &sql, &E));
    OK(tsv_vault_history_list(s, TSV_HISTORY_KV, collect, &kv, &E));
    assert_int_equal(sql.n, 3);
    assert_int_equal(kv.n, 1);
    tsv_store_close(s);

    /* An old trash entry (restore/sql's previous file before the vault):
     * migrated at start-up into a soft-deleted SQL version, once. */
    char tdir[400], tfile[500];
    snprintf(tdir, sizeof tdir, "%s/trash/20240102T030405Z-sql-restore-previous-0000abcd", data);
    OK(tsv_mkdir_p(tdir, &E));
    snprintf(tfile, sizeof tfile, "%s/influxd.sqlite", tdir);
    make_sqlite(tfile, 7);
    store_fixture_open(data, &s);
    assert_false(tsv_path_exists(tdir));
    sql.n = 0;
    OK(tsv_vault_history_list(s, TSV_HISTORY_SQL, collect, &sql, &E));
    assert_int_equal(sql.n, 4);
    assert_int_equal(sql.v[3].state, TSV_VERSION_SOFT_DELETED);
    assert_string_equal(sql.v[3].replaced_by, "trash:sql-restore-previous");
    assert_int_equal(sql.v[3].replaced_ns, 1704164645LL * 1000000000LL);
    OK(tsv_vault_restore_sql_version(s, 4, &E));
    assert_int_equal(sqlite_value(live), 7);
    tsv_store_close(s);
    harness_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_sql_and_kv_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
