/*
 * kv: InfluxDB's bolt bucket/key/value tree, kept in LMDB.
 *
 * Model (same as bbolt): a root bucket holding named buckets; a bucket holds
 * keys in bytewise (memcmp, shorter-prefix-first) order, where each key is
 * either a value or a nested bucket; every bucket has a 64-bit sequence.
 * Buckets are addressed by an opaque 64-bit handle (TSV_KV_ROOT = the root).
 *
 * LMDB layout (one environment, three named databases):
 *   "entries": key = bucket handle (8 bytes BE) || user key
 *              val = 1 tag byte: 0x00 then the value bytes
 *                                0x01 then child bucket handle (8 bytes BE)
 *   "buckets": key = bucket handle (8B BE) -> parent handle (8B) || sequence (8B)
 *   "info":    "next_bucket" -> next free handle (8B BE); "format" -> "tsvault-kv-1"
 * so each bucket's entries are contiguous and in bolt order.
 * Limit: a user key is at most TSV_KV_MAX_KEY bytes (LMDB's 511-byte key
 * limit minus the 8-byte prefix); longer keys are refused with TSV_EINVALID.
 *
 * Transactions: many concurrent readers, one writer (LMDB semantics). Every
 * change happens inside a write transaction that commits whole or not at all.
 * A transaction belongs to one thread (MDB_NOTLS is set, so a thread may hold
 * a read transaction while another thread writes).
 *
 * Errors: int 0 / -1 with tsv_error; "no such key/bucket" is TSV_ENOTFOUND.
 * Ownership: tsv_kv_open returns an environment the caller frees with
 * tsv_kv_close. Slices returned by get/cursor point into LMDB's map and are
 * valid until the transaction ends or the next write in it.
 */
#ifndef TSV_KV_H
#define TSV_KV_H

#include <stddef.h>
#include <stdint.h>

#include "tsv_error.h"

#define TSV_KV_ROOT ((uint64_t)0)
#define TSV_KV_MAX_KEY 503

typedef struct tsv_kv tsv_kv;
typedef struct tsv_kv_txn tsv_kv_txn;
typedef struct tsv_kv_cursor tsv_kv_cursor;

typedef struct tsv_kv_entry {
    const uint8_t *key;
    size_t klen;
    int is_bucket;        /* 1: nested bucket (child/sequence set), 0: value */
    const uint8_t *val;   /* value bytes when !is_bucket */
    size_t vlen;
    uint64_t child;       /* bucket handle when is_bucket */
    uint64_t sequence;    /* that bucket's sequence when is_bucket */
} tsv_kv_entry;

/* Opens (creating if needed) the environment in directory `dir`.
 * map_size is the LMDB map size in bytes (0 = default 8 GiB, sparse).
 * Refuses a directory whose "info/format" is not ours (TSV_EINTERNAL). */
int tsv_kv_open(tsv_kv **out, const char *dir, size_t map_size, tsv_error *err);
void tsv_kv_close(tsv_kv *kv);
/* Flushes to disk (mdb_env_sync force). */
int tsv_kv_sync(tsv_kv *kv, tsv_error *err);

int tsv_kv_begin(tsv_kv *kv, int write, tsv_kv_txn **out, tsv_error *err);
int tsv_kv_commit(tsv_kv_txn *txn, tsv_error *err); /* frees txn, even on failure */
void tsv_kv_abort(tsv_kv_txn *txn);                  /* frees txn; NULL is fine */

/* Buckets. name must be 1..TSV_KV_MAX_KEY bytes. */
int tsv_kv_bucket(tsv_kv_txn *txn, uint64_t parent, const void *name, size_t len,
                  uint64_t *out, tsv_error *err); /* TSV_ENOTFOUND if absent or a value */
int tsv_kv_bucket_create(tsv_kv_txn *txn, uint64_t parent, const void *name, size_t len,
                         uint64_t sequence, int exist_ok, uint64_t *out, tsv_error *err);
/* Deletes a bucket and everything below it. */
int tsv_kv_bucket_delete(tsv_kv_txn *txn, uint64_t parent, const void *name, size_t len,
                         tsv_error *err);
int tsv_kv_sequence(tsv_kv_txn *txn, uint64_t bucket, uint64_t *out, tsv_error *err);
int tsv_kv_set_sequence(tsv_kv_txn *txn, uint64_t bucket, uint64_t seq, tsv_error *err);

/* Values. get: TSV_ENOTFOUND if absent or if the key is a bucket. put refuses
 * to overwrite a bucket (TSV_ECONFLICT). del of a missing key is not an error. */
int tsv_kv_get(tsv_kv_txn *txn, uint64_t bucket, const void *key, size_t klen,
               const uint8_t **val, size_t *vlen, tsv_error *err);
int tsv_kv_put(tsv_kv_txn *txn, uint64_t bucket, const void *key, size_t klen,
               const void *val, size_t vlen, tsv_error *err);
int tsv_kv_del(tsv_kv_txn *txn, uint64_t bucket, const void *key, size_t klen, tsv_error *err);

/* Cursor over one bucket in key order. seek positions at the first key >=
 * (key,klen) (klen 0 = first). next returns 1 with *e filled, 0 at the end,
 * -1 on error. Do not write to the txn while a cursor is open on it. */
int tsv_kv_cursor_open(tsv_kv_txn *txn, uint64_t bucket, tsv_kv_cursor **out, tsv_error *err);
int tsv_kv_cursor_seek(tsv_kv_cursor *c, const void *key, size_t klen, tsv_error *err);
int tsv_kv_cursor_next(tsv_kv_cursor *c, tsv_kv_entry *e, tsv_error *err);
void tsv_kv_cursor_close(tsv_kv_cursor *c);

/* Root bucket sequence (bolt keeps one in its meta page). */
int tsv_kv_root_sequence(tsv_kv_txn *txn, uint64_t *out, tsv_error *err);

#endif
