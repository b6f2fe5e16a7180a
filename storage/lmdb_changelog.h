/*
 * lmdb_changelog: a log of raw record changes kept in a database of its own
 * inside the same LMDB environment, written in the SAME transaction as the
 * change (so a change and its log record commit together or not at all).
 * The S3 tier ships these records between checkpoints (docs/storage.md
 * "The log between checkpoints"); the catalogue and the KV's job records
 * use it.
 *
 * Keys: sequence number (8 bytes BE), one more than the last one.
 * Values: tag (1) | deleted (1: 0 put, 1 delete) | key length (2 BE) | key
 *         | value length (4 BE) | value (after image; empty for a delete).
 *
 * Errors: int 0/-1 with tsv_error. Thread-safety: as the transaction given
 * (LMDB: one write transaction at a time per environment).
 */
#ifndef TSV_LMDB_CHANGELOG_H
#define TSV_LMDB_CHANGELOG_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "tsv_error.h"

/* Appends one record (val NULL for a delete). */
int tsv_changelog_append(MDB_txn *txn, MDB_dbi log, uint8_t tag, const MDB_val *key,
                         const MDB_val *val, tsv_error *err);

/* The last sequence number (0: empty log). */
int tsv_changelog_last(MDB_txn *txn, MDB_dbi log, uint64_t *seq, tsv_error *err);

typedef struct tsv_changelog_rec {
    uint64_t seq;
    uint8_t tag;
    int deleted;
    const uint8_t *key, *val; /* valid during the callback only */
    size_t klen, vlen;
} tsv_changelog_rec;

typedef int (*tsv_changelog_fn)(void *ctx, const tsv_changelog_rec *r, tsv_error *err);

/* Calls fn for every record with after < seq <= upto, in order. */
int tsv_changelog_foreach(MDB_txn *txn, MDB_dbi log, uint64_t after, uint64_t upto,
                          tsv_changelog_fn fn, void *ctx, tsv_error *err);

/* Deletes the records with seq < before (the last record always stays, so
 * the numbering never restarts). *deleted (may be NULL) gets how many. */
int tsv_changelog_trim(MDB_txn *txn, MDB_dbi log, uint64_t before, uint64_t *deleted,
                       tsv_error *err);

/* Parses one value (what foreach passes, or a shipped copy). -1 if it is
 * malformed. */
int tsv_changelog_parse(const uint8_t *p, size_t len, tsv_changelog_rec *r);

/* Applies a parsed record to db in txn (not logged). */
int tsv_changelog_apply(MDB_txn *txn, MDB_dbi db, const tsv_changelog_rec *r, tsv_error *err);

#endif
