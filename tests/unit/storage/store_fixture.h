/*
 * store_fixture: what the storage unit tests that open a whole data
 * directory share (include after harness.h): the 1.6 fixture's shard 1
 * archive, the TSM file names it and its tests use, a store opened with
 * an hour of trash and soft-delete retention, and restore/sql of a file.
 */
#ifndef TSV_TEST_STORE_FIXTURE_H
#define TSV_TEST_STORE_FIXTURE_H

#include <sqlite3.h>

#include "harness.h"
#include "restore.h"
#include "store.h"
#include "stream.h"

#ifndef TSV_TESTDATA
#error "TSV_TESTDATA must be defined by the build"
#endif
#define SHARD1_TAR TSV_TESTDATA "/influxdb-1.6-portable/backup/20261121T112622Z.s1.tar.gz"
#define TSM1 "000000001-000000001.tsm"
#define TSM2 "000000002-000000001.tsm"

static inline void store_fixture_open(const char *dir, tsv_store **s)
{
    tsv_store_options opt = {
        .data_dir = dir,
        .trash_retention_s = 3600,
        .soft_delete_retention_s = 3600,
    };
    OK(tsv_store_open(s, &opt, &E));
}

/* store_fixture_open of the directory rel of harness_scratch, whose path
 * goes to dir (PATH_MAX bytes). */
static inline tsv_store *store_fixture_open_at(char *dir, const char *rel)
{
    harness_at(dir, "%s", rel);
    tsv_store *s;
    store_fixture_open(dir, &s);
    return s;
}

/* restore/sql of the SQLite file at path; when sql is not NULL, it is run
 * in that file first (creating it if need be). */
static inline void store_fixture_restore_sql(tsv_store *s, const char *path, const char *sql)
{
    if (sql) {
        sqlite3 *db;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_close(db), SQLITE_OK);
    }
    size_t len;
    uint8_t *bytes = harness_read_bytes(path, &len);
    tsv_reader *r = tsv_mem_reader_new(bytes, len);
    OK(tsv_store_restore_sql(s, r, &E));
    tsv_reader_free(r);
    free(bytes);
}

#endif
