/*
 * kv_stage: the KV part of every restore (restore/kv; later the PITR and
 * pull jobs): an uploaded bbolt file on disk becomes a brand-new KV
 * environment in a directory that nothing serves yet (a staging
 * generation), which the caller checks and then swaps in whole or discards.
 *
 * Order: the bolt file is validated completely first (every page, bolt.h),
 * so a bad file creates nothing; the copy then commits in bounded batches
 * with fsyncs deferred (kv_import.h, tsv_kv_set_durable) and ends with one
 * full sync, so the environment returned is durable. Memory is bounded
 * (two bits per bolt page plus one import batch) whatever the KV size: the
 * bolt file and the LMDB map are file-backed mappings, not heap; the
 * measurements and the choice are in docs/storage.md.
 *
 * Errors: int 0/-1 with tsv_error: the bolt reader's TSV_EINVALID for a bad
 * file, the importer's TSV_EINVALID/TSV_ETOOLARGE for keys or values the KV
 * cannot hold, TSV_ENOSPACE when the disk is full, TSV_EINTERNAL if kvdir
 * already exists. On failure kvdir does not exist afterwards.
 * Ownership: on success *out is the open environment; the caller closes it
 * (tsv_kv_close). Thread-safety: any thread; kvdir must be private to the
 * caller.
 */
#ifndef TSV_KV_STAGE_H
#define TSV_KV_STAGE_H

#include "kv.h"

/* Builds a new environment in kvdir (created; its parent must exist) from
 * the bbolt file at bolt_path. */
int tsv_kv_stage_bolt(const char *bolt_path, const char *kvdir, tsv_kv **out, tsv_error *err);

#endif
