/*
 * kv_internal: hooks shared by kv.c and kv_bolt_source.c only (not public).
 *
 * tsv_kv_bolt_source_init cannot return an error (its signature is fixed by
 * the bolt writer's contract), so a failure to read the root sequence is
 * parked in the transaction and re-raised by every cursor_open through the
 * source. Thread-safety: as the transaction (one thread).
 */
#ifndef TSV_KV_INTERNAL_H
#define TSV_KV_INTERNAL_H

#include <lmdb.h>

#include "kv.h"

/* Change-log state of one write transaction (kv_history.c): the time its
 * records carry (0 until the first change) and the next record number. */
typedef struct tsv_kv_hist_state {
    int64_t ts;
    uint32_t seq;
} tsv_kv_hist_state;

/* Raw access for kv_history.c. which: 'e' entries, 'b' buckets, 'i' info,
 * 'h' the history database. */
MDB_txn *tsv_kv__mdb_txn(tsv_kv_txn *t);
tsv_kv *tsv_kv__env(tsv_kv_txn *t);
int tsv_kv__write(const tsv_kv_txn *t);
tsv_kv_hist_state *tsv_kv__hist(tsv_kv_txn *t);
int tsv_kv__dbi(tsv_kv *kv, char which, MDB_dbi *out);
int tsv_kv__fail(tsv_kv_txn *t, int rc, const char *what, tsv_error *err);
/* Logs the change of raw record (db, key) to after = a1 || a2 (del = 1:
 * removed), reading the before image from the transaction. Called by kv.c
 * before it changes the record. (kv_history.c) */
int tsv_kv_history__log(tsv_kv_txn *t, char db, const MDB_val *key, const void *a1, size_t l1,
                        const void *a2, size_t l2, int del, tsv_error *err);

/* Records that the bolt source over txn is unusable, with error *e. */
void tsv_kv_source_mark_failed(tsv_kv_txn *txn, const tsv_error *e);
/* 0 if the source over txn is usable, else -1 with the recorded error. */
int tsv_kv_source_check(tsv_kv_txn *txn, tsv_error *err);

#endif
