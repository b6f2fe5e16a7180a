/*
 * verify: re-reads everything the store holds and reports every problem,
 * changing nothing but one thing: a vault object whose bytes do not hash to
 * its name is marked corrupt (object_store.h), so that nothing serves or
 * installs it (docs/operations.md, "Verify").
 *
 * Checks, in order:
 *  1. the KV store: the LMDB page walk (tsv_kv_check: every reachable page,
 *     bounds and structure), then a bbolt export of the whole tree validated
 *     exactly as an uploaded influxd.bolt is (tsv_bolt_open: page checks,
 *     meta checksums, key order, freelist); the tsdb meta must decode;
 *  2. the shards the meta lists: each directory must exist; every TSM file
 *     passes tsv_tsm_verify_fd_ex (header, footer, index, CRC32 and a full
 *     decode of every block); every tombstone passes tsv_tombstone_verify_fd;
 *     a tombstone whose TSM file is missing is a problem;
 *  3. shard directories under engine/data that the meta does not list;
 *  4. the vault (verify_vault.c): every version that is not purged lists
 *     objects that exist with the recorded sizes (no dangling reference),
 *     at most one version per slot is in use and its files are in the live
 *     shard directory; every object is read and its SHA-256 compared with
 *     its name; a whole verify also reports orphan objects (no version
 *     lists them). A bucket verify checks that bucket's versions and the
 *     objects they list. A mismatching object is marked corrupt; a marked
 *     one that matches again loses its mark.
 * If the KV cannot be read, step 2 walks engine/data instead, so file damage
 * is still found.
 *
 * Rate: max_bytes_per_sec > 0 bounds the average read rate: after each file
 * the verifier sleeps until bytes read / time elapsed is within the bound
 * (a single file is read at full speed).
 * Progress: on_progress is called after each file with running totals and
 * may return non-zero to cancel (TSV_EUNAVAILABLE "verify cancelled").
 * Problems: on_problem receives each one (bucket, rp, shard, file relative
 * to the data directory, offset or -1, message); its error stops verify.
 *
 * Errors: only for failures of verify itself (I/O errors on the data are
 * problems, not errors). Thread-safety: reentrant; uses the store's shared
 * lock for KV reads and shard locks while listing a shard.
 */
#ifndef TSV_VERIFY_H
#define TSV_VERIFY_H

#include <stdint.h>

#include "store.h"
#include "tsv_error.h"

typedef struct tsv_verify_problem {
    const char *bucket_id; /* "" when not about a bucket */
    const char *rp;        /* "" when unknown */
    uint64_t shard_id;     /* 0 when not about a shard */
    const char *file;      /* relative to the data directory; "" for none */
    int64_t offset;        /* byte offset in file, -1 unknown */
    const char *message;
} tsv_verify_problem;

typedef struct tsv_verify_progress {
    uint64_t files_done, files_total;
    uint64_t bytes_done, bytes_total;
    uint64_t problems;
    const char *current; /* file just checked */
} tsv_verify_progress;

typedef struct tsv_verify_options {
    const char *bucket_id;      /* NULL: everything (KV included) */
    uint64_t max_bytes_per_sec; /* 0: unlimited */
    int (*on_problem)(void *ctx, const tsv_verify_problem *p, tsv_error *err);
    int (*on_progress)(void *ctx, const tsv_verify_progress *p);
    void *ctx;
} tsv_verify_options;

typedef struct tsv_verify_summary {
    uint64_t buckets, shards, tsm_files, tombstone_files, blocks, values, bytes, problems;
    int kv_checked;
    double seconds;
} tsv_verify_summary;

int tsv_store_verify(tsv_store *s, const tsv_verify_options *opt, tsv_verify_summary *sum,
                     tsv_error *err);

#endif
