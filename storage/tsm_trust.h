/*
 * tsm_trust: a set of TSM file contents (by SHA-256) that have passed the
 * complete TSM validation (tsm.h: header, index, every block's CRC and a
 * full decode). A staged archive is validated once, on upload; the restore
 * job that installs it later skips the second validation of every TSM file
 * whose bytes hash to a member of the upload's set (docs/storage.md "Staged
 * files"). Keyed by content, the set stays safe whatever happens to the
 * staged file in between: a file whose bytes changed has another hash and
 * is validated again.
 *
 * On disk (files/validated/<name>): one lowercase hex SHA-256 per line,
 * written atomically (fsutil.h); a missing or damaged list only means no
 * trust (everything is validated again).
 *
 * Ownership: a set is zero-initialised by the caller and released with
 * tsv_tsm_trust_clear. Thread-safety: a set is read-only (and so shareable)
 * once sealed; adding is single-threaded.
 * Errors: int 0/-1 with tsv_error (TSV_ENOTFOUND: no list on disk).
 */
#ifndef TSV_TSM_TRUST_H
#define TSV_TSM_TRUST_H

#include <stddef.h>

#include "tsv_error.h"

typedef struct tsv_tsm_trust {
    char (*hex)[65];
    size_t n, cap;
    int sealed; /* sorted, duplicates removed: lookups use bsearch */
} tsv_tsm_trust;

int tsv_tsm_trust_add(tsv_tsm_trust *t, const char *hex, tsv_error *err);
/* Sorts the set; required before tsv_tsm_trust_has. */
void tsv_tsm_trust_seal(tsv_tsm_trust *t);
/* 1 if hex is in the sealed set (NULL set: 0). */
int tsv_tsm_trust_has(const tsv_tsm_trust *t, const char *hex);
void tsv_tsm_trust_clear(tsv_tsm_trust *t);

int tsv_tsm_trust_save(const tsv_tsm_trust *t, const char *path, tsv_error *err);
/* Loads and seals. A line that is not 64 lowercase hex digits: TSV_EINVALID. */
int tsv_tsm_trust_load(tsv_tsm_trust *t, const char *path, tsv_error *err);

#endif
