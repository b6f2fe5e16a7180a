/*
 * vault_usage: how many bytes the vault holds, for the metrics
 * (docs/operations.md "Metrics"): the object store's files, and the bytes
 * the catalogue's versions list by state. A version's bytes are the sizes of
 * the files it lists, so versions sharing an object each count it: the
 * by-state figures can add up to more than the objects take.
 *
 * Cost: one read transaction over the whole catalogue and one listing of the
 * object directory per call (meant for a scrape every few seconds at most).
 * Errors: int 0/-1 with tsv_error. Thread-safety: thread-safe (takes the
 * store's shared lock and the vault's GC lock shared). A read-only store
 * without a vault reports zeros.
 */
#ifndef TSV_VAULT_USAGE_H
#define TSV_VAULT_USAGE_H

#include <stdint.h>

#include "store.h"
#include "tsv_error.h"

typedef struct tsv_vault_usage {
    uint64_t object_count, object_bytes; /* files in objects/ */
    uint64_t in_use_versions, in_use_bytes;
    uint64_t soft_deleted_versions, soft_deleted_bytes;
    uint64_t purged_versions, purged_bytes; /* bytes the purged versions had listed */
} tsv_vault_usage;

int tsv_store_vault_usage(tsv_store *s, tsv_vault_usage *out, tsv_error *err);

#endif
