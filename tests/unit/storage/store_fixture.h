/*
 * store_fixture: what the storage unit tests that open a whole data
 * directory share (include after harness.h): the 1.6 fixture's shard 1
 * archive, the TSM file names it and its tests use, and a store opened with
 * an hour of trash and soft-delete retention.
 */
#ifndef TSV_TEST_STORE_FIXTURE_H
#define TSV_TEST_STORE_FIXTURE_H

#include "harness.h"
#include "store.h"

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

#endif
