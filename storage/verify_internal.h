/*
 * verify_internal: what verify.c shares with verify_vault.c (internal to
 * storage/). The verifier reports problems, accounts progress (which may
 * cancel) and bounds the read rate; verify_vault.c adds the checks of the
 * vault's objects and catalogue.
 */
#ifndef TSV_VERIFY_INTERNAL_H
#define TSV_VERIFY_INTERNAL_H

#include <stdint.h>

#include "store.h"
#include "tsv_error.h"

struct verifier;

/* Reports one problem (counted; the options' on_problem is called). */
int verify__problem(struct verifier *v, const char *db, const char *rp, uint64_t shard,
                    const char *file, int64_t off, const char *msg, tsv_error *err);
/* Adds to the progress totals (before the files are read). */
void verify__add_totals(struct verifier *v, uint64_t files, uint64_t bytes);
/* After a file was read: progress, cancel check, rate bound. Returns 1 if
 * verify was cancelled. */
int verify__file_done(struct verifier *v, uint64_t bytes, const char *current);
/* 1 once cancelled. */
int verify__cancelled(const struct verifier *v);

/* The vault's objects and catalogue (verify_vault.c): bucket_id NULL =
 * everything (orphan objects included), else the versions of one bucket
 * and the objects they list. */
int verify__vault(struct verifier *v, tsv_store *s, const char *bucket_id, tsv_error *err);

#endif
