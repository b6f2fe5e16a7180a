/*
 * kv_import: copies a validated bbolt file into a KV environment exactly
 * (every bucket, empty ones too, key, value and sequence), in one write
 * transaction, and exports a KV environment as a bbolt stream.
 * Errors: int 0/-1 with tsv_error (TSV_EINVALID for keys the KV cannot hold).
 */
#ifndef TSV_KV_IMPORT_H
#define TSV_KV_IMPORT_H

#include "bolt.h"
#include "kv.h"

int tsv_kv_import_bolt(tsv_kv *kv, tsv_bolt_file *bolt, tsv_error *err);
/* Streams the tree seen by txn as a bbolt file (two passes over txn). */
int tsv_kv_export_bolt(tsv_kv_txn *txn, tsv_bolt_out_fn out, void *octx, uint64_t *written,
                       tsv_error *err);

#endif
