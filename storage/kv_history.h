/*
 * kv_history: the change log of the KV's bolt tree, the KV half of
 * point-in-time recovery (docs/storage.md "Continuous history").
 *
 * While a tsv_kv has its history on (tsv_kv_set_history), every write to the
 * bolt tree (put, del, bucket create/delete, sequence) appends, in the SAME
 * LMDB transaction and before the write, one record per raw LMDB record it
 * changes to the auxiliary database "history": the record's database, key,
 * its before image and its after image. A crash can never separate a change
 * from its log record (one commit), and the cost of logging is the size of
 * the change (a bucket delete logs every entry it removes, nothing else).
 *
 * Keys: time (8 bytes BE, ns since the epoch) || sequence in the transaction
 * (4 bytes BE). Every transaction gets a time strictly greater than the last
 * logged one (LMDB serialises writers), so keys are in commit order.
 * Values: kind (1 byte), then
 *   'C' change: db ('e' entries, 'b' buckets, 'i' info) | key length (2 BE)
 *       | key | has before (1) | before length (4 BE) | before | has after (1)
 *       | after length (4 BE) | after
 *   'B' the log begins here (nothing earlier is known)
 *   'R' barrier: a restore/kv replaced the whole tree (not logged key by key)
 *   'S' barrier: a restore/sql replaced the SQL file
 *   'P' a point-in-time restore to the time in the note happened here
 *   each mark followed by a free-text note.
 *
 * Rewind: the state at time T is the current state with every 'C' record
 * whose time is > T undone, newest first (before images written back). A
 * barrier after T makes that impossible (TSV_EINVALID). The undo writes are
 * themselves logged when the handle's history is on, so a rewind can be
 * rewound too (that is what makes a PITR undoable by a later PITR).
 *
 * Errors: int 0/-1 with tsv_error. Thread-safety: as kv.h (the functions
 * that take a tsv_kv open their own transactions; never call them while the
 * calling thread holds a write transaction).
 */
#ifndef TSV_KV_HISTORY_H
#define TSV_KV_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "kv.h"
#include "tsv_error.h"

#define TSV_KVH_CHANGE 'C'
#define TSV_KVH_BEGIN 'B'
#define TSV_KVH_RESTORE_KV 'R'
#define TSV_KVH_RESTORE_SQL 'S'
#define TSV_KVH_PITR 'P'
#define TSV_KVH_KEY_LEN 12

/* Turns the history on for kv and, if its log is empty, writes the 'B'
 * record (now). */
int tsv_kv_history_start(tsv_kv *kv, tsv_error *err);

/* Appends a mark (kind 'B', 'R', 'S' or 'P') with a note, in its own write
 * transaction or in t. *ts_ns (may be NULL) gets the mark's time. */
int tsv_kv_history_mark(tsv_kv *kv, char kind, const char *note, int64_t *ts_ns, tsv_error *err);
int tsv_kv_history_mark_txn(tsv_kv_txn *t, char kind, const char *note, int64_t *ts_ns,
                            tsv_error *err);

typedef struct tsv_kv_history_info {
    int64_t begin_ns;   /* time of the last 'B' mark (0: no log) */
    int64_t barrier_ns; /* time of the last 'R'/'S' mark (0: none) */
    char barrier_kind;  /* 'R', 'S' or 0 */
    int64_t last_ns;    /* time of the last record (0: none) */
    uint64_t records;   /* records after the last barrier (or in all) */
    uint64_t bytes;     /* their size */
} tsv_kv_history_info;

/* Scans the log from its end back to its last 'B' mark. */
int tsv_kv_history_info_get(tsv_kv *kv, tsv_kv_history_info *out, tsv_error *err);

/* Undoes every change logged after target_ns (see above), in write
 * transactions of at most ~1 MiB of records each (meant for a staging copy
 * that nothing serves; memory stays bounded by the batch). *undone (may be
 * NULL) gets the number of records undone. TSV_EINVALID if target_ns is
 * before the log's beginning or a barrier lies after it. */
int tsv_kv_history_rewind(tsv_kv *kv, int64_t target_ns, uint64_t *undone, tsv_error *err);

/* Appends every record of from's log to to's log (restore/kv carries the
 * log into the new generation), then, if kind != 0, a mark of that kind
 * (with a time after every copied record). */
int tsv_kv_history_carry(tsv_kv *from, tsv_kv *to, char kind, const char *note, tsv_error *err);

/* ---- the S3 tier's log (storage/tier_log.c) ---- */

/* The key of the log's last record (*found 0: the log is empty). */
int tsv_kv_history_last_key(tsv_kv_txn *t, uint8_t key[TSV_KVH_KEY_LEN], int *found,
                            tsv_error *err);
typedef int (*tsv_kv_history_fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                                 size_t vlen, tsv_error *err);
/* Calls fn for every record whose key is greater than `after` (12 bytes;
 * NULL: every record), in order. */
int tsv_kv_history_foreach_after(tsv_kv_txn *t, const uint8_t *after, tsv_kv_history_fn fn,
                                 void *ctx, tsv_error *err);
/* Replays one record in a write transaction (history off: the record joins
 * the log as it is, not logged twice): a change record's after image is
 * written. TSV_EINVALID for a malformed record. */
int tsv_kv_history_replay(tsv_kv_txn *t, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen, tsv_error *err);

#endif
