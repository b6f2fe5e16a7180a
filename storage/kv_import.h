/*
 * kv_import: copies a validated bbolt file into a KV environment exactly
 * (every bucket, empty ones too, key, value and sequence), and exports a KV
 * environment as a bbolt stream.
 *
 * The import is for an environment nothing serves yet (restores build one in
 * a staging generation: use tsv_kv_stage_bolt, kv_stage.h, which owns that
 * whole sequence). It first walks the file once to refuse anything the KV
 * cannot hold (keys over TSV_KV_MAX_KEY bytes, values over
 * TSV_KV_MAX_VALUE): such a file changes nothing. It then commits in batches
 * of about TSV_KV_IMPORT_BATCH bytes of records, because LMDB keeps a write
 * transaction's dirty pages in the heap until it commits (a single
 * transaction made memory grow with the KV: docs/storage.md). So a failure
 * during the copy itself (disk or map full, I/O error) leaves the batches
 * committed so far: the caller discards the environment.
 * Memory: bounded by the batch size, whatever the file's size.
 * Errors: int 0/-1 with tsv_error (TSV_EINVALID for keys the KV cannot hold,
 * TSV_ETOOLARGE for values it cannot hold, TSV_ENOSPACE when the map or disk
 * is full). Thread-safety: one import per environment; the calling thread
 * must not hold a write transaction on kv.
 */
#ifndef TSV_KV_IMPORT_H
#define TSV_KV_IMPORT_H

#include "bolt.h"
#include "kv.h"

/* Bytes of keys and values per import transaction: small enough that the
 * dirty pages stay in the CPU caches (faster than 1 and 4 MiB, measured in
 * docs/storage.md), large enough that commits are a small cost. */
#define TSV_KV_IMPORT_BATCH ((size_t)256 << 10)

int tsv_kv_import_bolt(tsv_kv *kv, tsv_bolt_file *bolt, tsv_error *err);
/* Streams the tree seen by txn as a bbolt file (two passes over txn). */
int tsv_kv_export_bolt(tsv_kv_txn *txn, tsv_bolt_out_fn out, void *octx, uint64_t *written,
                       tsv_error *err);

#endif
