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
 * Handles are allocated from "next_bucket" and never reused, so a handle of
 * a deleted bucket can never address another bucket's entries. The root is a
 * bucket record too (handle 0, its own parent), which holds the root sequence.
 * As in bolt, the root holds only buckets: a value put into TSV_KV_ROOT is
 * refused with TSV_EINVALID.
 *
 * Transactions: many concurrent readers, one writer (LMDB semantics). Every
 * change happens inside a write transaction that commits whole or not at all.
 * A transaction belongs to one thread (MDB_NOTLS is set, so a thread may hold
 * a read transaction while another thread writes, and read transactions may
 * run on worker threads). A WRITE transaction must be begun, committed or
 * aborted on the same thread (LMDB's writer lock is a mutex owned by that
 * thread); a thread that already holds a write transaction must not begin a
 * second one (it would wait for itself forever). If a write operation fails
 * after it started changing the database (disk/map full, corruption), the
 * transaction is poisoned: later commit fails and nothing is applied. Errors
 * found before any change (TSV_EINVALID, TSV_ENOTFOUND, TSV_ECONFLICT) leave
 * the transaction usable.
 * The tsv_kv handle itself is thread-safe (open/close excepted). A process
 * must open a directory only once at a time (LMDB's locks are per process);
 * a second tsv_kv_open of the same directory fails with TSV_ECONFLICT.
 *
 * Errors: int 0 / -1 with tsv_error; "no such key/bucket" is TSV_ENOTFOUND.
 * A key of the wrong kind (a value where a bucket is wanted, or the reverse)
 * is TSV_ECONFLICT for writes and TSV_ENOTFOUND for lookups. Out-of-range
 * key/name lengths are TSV_EINVALID. LMDB's MDB_MAP_FULL is TSV_ENOSPACE
 * (507); a damaged environment (MDB_INVALID, MDB_CORRUPTED, ...) is
 * TSV_EINTERNAL with a message saying the KV store is corrupt; it is never
 * re-created over existing data.
 * Ownership: tsv_kv_open returns an environment the caller frees with
 * tsv_kv_close (after every transaction has ended). Slices returned by
 * get/cursor point into LMDB's map and are valid until the transaction ends
 * or the next write in it.
 */
#ifndef TSV_KV_H
#define TSV_KV_H

#include <stddef.h>
#include <stdint.h>

#include "bolt.h"
#include "tsv_error.h"

#define TSV_KV_ROOT ((uint64_t)0)
#define TSV_KV_MAX_KEY 503
/* Largest value in bytes (the stored record adds a 1-byte tag). Larger
 * values are refused with TSV_ETOOLARGE. */
#define TSV_KV_MAX_VALUE ((size_t)0x7ffffffe)
#define TSV_KV_DEFAULT_MAP_SIZE ((size_t)8 << 30)
#define TSV_KV_FORMAT "tsvault-kv-1"

typedef struct tsv_kv tsv_kv;
typedef struct tsv_kv_txn tsv_kv_txn;
typedef struct tsv_kv_cursor tsv_kv_cursor;

typedef struct tsv_kv_entry {
    const uint8_t *key;
    size_t klen;
    int is_bucket;      /* 1: nested bucket (child/sequence set), 0: value */
    const uint8_t *val; /* value bytes when !is_bucket */
    size_t vlen;
    uint64_t child;    /* bucket handle when is_bucket */
    uint64_t sequence; /* that bucket's sequence when is_bucket */
} tsv_kv_entry;

/* Opens (creating if needed) the environment in directory `dir`.
 * map_size is the LMDB map size in bytes (0 = default 8 GiB, sparse).
 * An environment with nothing stored (no data.mdb, or an empty main
 * database) is initialized with the format marker and the root bucket.
 * Refuses a directory whose "info/format" is missing or not ours, a
 * data.mdb LMDB reports as invalid/corrupt, and a data.mdb that is empty or
 * truncated (a page reachable from its current meta lies past its end:
 * checked with pread before LMDB maps it, as LMDB would die of SIGBUS), all
 * TSV_EINTERNAL with a message naming the store; nothing is written to it.
 * The check reads every reachable page once (the KV holds metadata: small). */
int tsv_kv_open(tsv_kv **out, const char *dir, size_t map_size, tsv_error *err);
void tsv_kv_close(tsv_kv *kv);
/* Re-runs the open-time page walk (every page reachable from the current
 * meta, read with pread, structure and bounds checked) on an open store,
 * inside a read transaction so the pages walked cannot be reused meanwhile.
 * TSV_EINTERNAL "KV store ... is corrupt: ..." when it finds damage. */
int tsv_kv_check(tsv_kv *kv, tsv_error *err);
/* Flushes to disk (mdb_env_sync force). */
int tsv_kv_sync(tsv_kv *kv, tsv_error *err);
/* durable 0: commits no longer fsync (LMDB's MDB_NOSYNC), so a system crash
 * may lose or tear them. Only for an environment nothing serves yet (a
 * staging copy that is discarded unless it completes); set it back to 1 and
 * call tsv_kv_sync before the environment goes live. Not while a write
 * transaction is open. */
int tsv_kv_set_durable(tsv_kv *kv, int durable, tsv_error *err);

/* Write operations in a read transaction fail with TSV_EINTERNAL. */
int tsv_kv_begin(tsv_kv *kv, int write, tsv_kv_txn **out, tsv_error *err);
int tsv_kv_commit(tsv_kv_txn *txn, tsv_error *err); /* frees txn, even on failure */
void tsv_kv_abort(tsv_kv_txn *txn);                 /* frees txn; NULL is fine */

/* Buckets. name must be 1..TSV_KV_MAX_KEY bytes. */
int tsv_kv_bucket(tsv_kv_txn *txn, uint64_t parent, const void *name, size_t len, uint64_t *out,
                  tsv_error *err); /* TSV_ENOTFOUND if absent or a value */
/* Creates bucket `name` in `parent` with the given sequence. If it already
 * exists: exist_ok returns its handle (its sequence is left unchanged),
 * otherwise TSV_ECONFLICT. A value under that key is always TSV_ECONFLICT.
 * A missing parent is TSV_ENOTFOUND. */
int tsv_kv_bucket_create(tsv_kv_txn *txn, uint64_t parent, const void *name, size_t len,
                         uint64_t sequence, int exist_ok, uint64_t *out, tsv_error *err);
/* Deletes a bucket and everything below it (no orphan entries or bucket
 * records remain). TSV_ENOTFOUND if absent, TSV_ECONFLICT if it is a value. */
int tsv_kv_bucket_delete(tsv_kv_txn *txn, uint64_t parent, const void *name, size_t len,
                         tsv_error *err);
int tsv_kv_sequence(tsv_kv_txn *txn, uint64_t bucket, uint64_t *out, tsv_error *err);
int tsv_kv_set_sequence(tsv_kv_txn *txn, uint64_t bucket, uint64_t seq, tsv_error *err);

/* Values. get: TSV_ENOTFOUND if absent or if the key is a bucket. put refuses
 * to overwrite a bucket (TSV_ECONFLICT). del of a missing key is not an error;
 * del of a bucket key is TSV_ECONFLICT (use tsv_kv_bucket_delete). put/del
 * into a bucket that does not exist is TSV_ENOTFOUND. */
int tsv_kv_get(tsv_kv_txn *txn, uint64_t bucket, const void *key, size_t klen, const uint8_t **val,
               size_t *vlen, tsv_error *err);
int tsv_kv_put(tsv_kv_txn *txn, uint64_t bucket, const void *key, size_t klen, const void *val,
               size_t vlen, tsv_error *err);
int tsv_kv_del(tsv_kv_txn *txn, uint64_t bucket, const void *key, size_t klen, tsv_error *err);

/* Cursor over one bucket in key order. seek positions at the first key >=
 * (key,klen) (klen 0 = first). next returns 1 with *e filled, 0 at the end,
 * -1 on error. Do not write to the txn while a cursor is open on it.
 * cursor_open of a missing bucket is TSV_ENOTFOUND. A cursor may be closed
 * after its transaction ended (it was detached then). */
int tsv_kv_cursor_open(tsv_kv_txn *txn, uint64_t bucket, tsv_kv_cursor **out, tsv_error *err);
int tsv_kv_cursor_seek(tsv_kv_cursor *c, const void *key, size_t klen, tsv_error *err);
int tsv_kv_cursor_next(tsv_kv_cursor *c, tsv_kv_entry *e, tsv_error *err);
void tsv_kv_cursor_close(tsv_kv_cursor *c);

/* Walks one bucket in key order with a cursor and calls fn for every entry
 * (values and nested buckets alike) whose key starts with (prefix,plen);
 * prefix NULL / plen 0 is the whole bucket. The walk stops at the first key
 * that no longer starts with the prefix. fn returns 0 to go on, 1 to stop
 * (not an error), -1 on error with err set. Returns 0 when the walk ran to
 * the end, 1 when fn stopped it, -1 on error: fn's (err as fn set it), a
 * cursor error, or the TSV_ENOTFOUND of a missing bucket (fn not called);
 * plen > TSV_KV_MAX_KEY is TSV_EINVALID. The cursor is closed on every path.
 * Ownership: *e is valid only during the call of fn; the key/val slices it
 * points to, until txn ends (as cursor slices). fn must not write to txn (a
 * cursor is open on it); it may read. Thread-safety: as txn's. */
typedef int (*tsv_kv_visit_fn)(void *ctx, const tsv_kv_entry *e, tsv_error *err);
int tsv_kv_walk(tsv_kv_txn *txn, uint64_t bucket, const void *prefix, size_t plen,
                tsv_kv_visit_fn fn, void *ctx, tsv_error *err);

/* Root bucket sequence (bolt keeps one in its meta page). */
int tsv_kv_root_sequence(tsv_kv_txn *txn, uint64_t *out, tsv_error *err);

/* Consistent hot copy: writes a compacted copy of the current committed state
 * to dstdir/data.mdb (dstdir is created if needed; an existing data.mdb there
 * is an error, never overwritten), then fsyncs the file and the directory.
 * Writers are not blocked. The copy opens with tsv_kv_open. On failure the
 * partial file is removed. */
int tsv_kv_copy_compact(tsv_kv *kv, const char *dstdir, tsv_error *err);

/* The ID of the last committed write transaction: it changes exactly when
 * something was written (a cheap "anything new?" for the S3 tier). */
uint64_t tsv_kv_last_txn(tsv_kv *kv);

/* Counts in the committed state: *entries = keys in all buckets (values and
 * nested-bucket keys), *buckets = buckets excluding the root. Either out
 * pointer may be NULL. */
int tsv_kv_stat(tsv_kv *kv, uint64_t *entries, uint64_t *buckets, tsv_error *err);

/* Fills *src so the bolt writer can stream the tree of `txn` (use a read
 * transaction: the writer opens cursors twice and needs a stable snapshot).
 * src->ctx is txn; cursors are tsv_kv cursors; src->root_sequence is the
 * root's sequence. The source is valid while txn is. If the root sequence
 * cannot be read, the error is logged and every cursor_open through the
 * source fails with it, so the writer cannot emit a wrong file. */
void tsv_kv_bolt_source_init(tsv_bolt_source *src, tsv_kv_txn *txn);

/* ---- auxiliary databases -----------------------------------------------------
 * Plain key -> value databases in the same environment, beside the bolt tree
 * (never part of it: backup/kv does not export them, restore/kv carries them
 * over with tsv_kv_aux_carry). Keys are 1..511 bytes. get/put/del follow the
 * rules above (get of a missing key is TSV_ENOTFOUND; del of one is fine).
 * each calls fn for every record in key order; fn returning -1 stops it. */
typedef enum tsv_kv_aux {
    TSV_KV_AUX_JOBS = 0, /* job records (jobs/, storage/jobs_store.c) */
    TSV_KV_AUX_HISTORY,  /* the change log of the bolt tree (kv_history.h) */
    TSV_KV_AUX_CHANGES,  /* the S3 tier's log of job record writes (below) */
    TSV_KV_AUX_COUNT
} tsv_kv_aux;
typedef int (*tsv_kv_aux_fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                             size_t vlen, tsv_error *err);
int tsv_kv_aux_get(tsv_kv_txn *txn, tsv_kv_aux which, const void *key, size_t klen,
                   const uint8_t **val, size_t *vlen, tsv_error *err);
int tsv_kv_aux_put(tsv_kv_txn *txn, tsv_kv_aux which, const void *key, size_t klen, const void *val,
                   size_t vlen, tsv_error *err);
int tsv_kv_aux_del(tsv_kv_txn *txn, tsv_kv_aux which, const void *key, size_t klen, tsv_error *err);
int tsv_kv_aux_each(tsv_kv_txn *txn, tsv_kv_aux which, tsv_kv_aux_fn fn, void *ctx, tsv_error *err);
/* Copies every record of `which` from one environment into the same database
 * of another, in one write transaction of `to` (read from a read transaction
 * of `from`). before_commit (NULL = none) may add to that transaction; its
 * failure, like any other, aborts it and leaves `to` as it was. */
typedef int (*tsv_kv_txn_fn)(void *ctx, tsv_kv_txn *txn, tsv_error *err);
int tsv_kv_aux_carry(tsv_kv *from, tsv_kv *to, tsv_kv_aux which, tsv_kv_txn_fn before_commit,
                     void *ctx, tsv_error *err);

/* Change log (storage/kv_history.h): while on, every write to the bolt
 * tree through this handle logs its before/after images in the same
 * transaction. Off by default (staging copies); the store turns it on for
 * the live generation. Not while a write transaction is open. */
void tsv_kv_set_history(tsv_kv *kv, int on);
int tsv_kv_history_enabled(const tsv_kv *kv);

/* The S3 tier's change log of the job records (docs/storage.md "The log
 * between checkpoints"): while on, every put/del of TSV_KV_AUX_JOBS is also
 * appended to TSV_KV_AUX_CHANGES in the same transaction (storage/
 * lmdb_changelog.h, tag 'j'). Off by default. */
void tsv_kv_set_changelog(tsv_kv *kv, int on);
struct tsv_changelog_rec;
int tsv_kv_changes_last(tsv_kv_txn *txn, uint64_t *seq, tsv_error *err);
int tsv_kv_changes_foreach(tsv_kv_txn *txn, uint64_t after, uint64_t upto,
                           int (*fn)(void *ctx, const struct tsv_changelog_rec *r, tsv_error *err),
                           void *ctx, tsv_error *err);
/* Deletes the log records before `before` (the last one stays). */
int tsv_kv_changes_trim(tsv_kv_txn *txn, uint64_t before, tsv_error *err);
/* Applies a shipped job record change (tag 'j') to TSV_KV_AUX_JOBS. */
int tsv_kv_change_apply(tsv_kv_txn *txn, const struct tsv_changelog_rec *r, tsv_error *err);

#endif
