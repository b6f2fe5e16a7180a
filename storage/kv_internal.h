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

#include "kv.h"

/* Records that the bolt source over txn is unusable, with error *e. */
void tsv_kv_source_mark_failed(tsv_kv_txn *txn, const tsv_error *e);
/* 0 if the source over txn is usable, else -1 with the recorded error. */
int tsv_kv_source_check(tsv_kv_txn *txn, tsv_error *err);

#endif
