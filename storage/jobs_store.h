/*
 * jobs_store: job records in the KV environment's "jobs" database (kv.h,
 * auxiliary databases), keyed by job ID. The records are opaque to storage
 * (the jobs/ layer writes JSON); storage only keeps them durable and carries
 * them across a restore/kv generation swap (tsv_store_jobs_carry, called by
 * restore_kv.c).
 *
 * Errors: int 0/-1 with tsv_error (TSV_ENOTFOUND for a missing record).
 * Thread-safety: all functions take the store's shared lock; callable from
 * any thread. Ownership: records passed to fn are valid only during the call.
 */
#ifndef TSV_JOBS_STORE_H
#define TSV_JOBS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "tsv_error.h"

struct tsv_kv;

int tsv_store_job_put(tsv_store *s, const char *id, const void *rec, size_t len, tsv_error *err);
int tsv_store_job_delete(tsv_store *s, const char *id, tsv_error *err);
typedef int (*tsv_store_job_fn)(void *ctx, const char *id, const uint8_t *rec, size_t len,
                                tsv_error *err);
int tsv_store_jobs_load(tsv_store *s, tsv_store_job_fn fn, void *ctx, tsv_error *err);

/* Copies every job record of `from` into `to` (same keys overwrite). The
 * caller holds the store's exclusive lock (restore/kv, just before the
 * generation swap), so no record can change in between. */
int tsv_store_jobs_carry(struct tsv_kv *from, struct tsv_kv *to, tsv_error *err);

#endif
