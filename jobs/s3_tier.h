/*
 * s3_tier: the vault copied to S3-compatible object storage, and a data
 * directory rebuilt from it (docs/storage.md "The S3 tier",
 * docs/operations.md "S3-compatible object storage").
 *
 * Layout under s3://<bucket>/<prefix>/:
 *   objects/<ab>/<sha256>                   every object of the vault (its bytes)
 *   checkpoints/<20-digit ns>/catalog.mdb   compacted catalogue
 *   checkpoints/<20-digit ns>/kv.mdb        compacted live KV (tree, jobs, change log)
 *   checkpoints/<20-digit ns>/manifest.json written last: the checkpoint is complete
 *   lease.json                              which server writes this prefix, until when
 *
 * A background thread (tsv_tier_start) copies every local object not yet
 * copied (the queue is "local objects minus the copied set", so it
 * survives restarts), then, when the KV or the catalogue changed and the
 * checkpoint interval has passed, uploads a checkpoint whose every object
 * is already in S3, and keeps the newest `keep_checkpoints`. Nothing local
 * ever waits for S3: a store that is down, slow or refusing only delays
 * the copy (retried with backoff; lag and errors are metrics).
 *
 * Eviction (evict_after_s): the local copies of objects that are copied and
 * not in use go after that age; the store's fetch hook brings one back
 * from S3 when an operation needs it (restore_data, PITR, KV/SQL history).
 *
 * Garbage: an object leaves S3 once no kept checkpoint lists it and it is
 * gone from local disk (gc_interval_s).
 *
 * Single writer: the server holds lease.json (owner = the data directory's
 * tier identity), renewing it every ttl/3. It does not start while another
 * owner's lease is unexpired, and stops writing if it finds its lease taken.
 *
 * Errors: int 0/-1 with tsv_error. Ownership: tsv_tier_start returns a tier
 * stopped and freed by tsv_tier_stop; the store is borrowed and must
 * outlive it. Thread-safety: start/stop from one thread.
 */
#ifndef TSV_S3_TIER_H
#define TSV_S3_TIER_H

#include <stdint.h>

#include "s3_client.h"
#include "store.h"
#include "tsv_error.h"

typedef struct tsv_tier tsv_tier;

typedef struct tsv_tier_options {
    const char *url;               /* s3://bucket[/prefix] */
    tsv_s3_config s3;              /* endpoint, region, credentials, TLS */
    int concurrency;               /* objects copied at once; 0: 4 */
    int64_t checkpoint_interval_s; /* 0: 60 */
    /* > 0: between checkpoints, what changed in the catalogue, the job
     * records and the KV (and the staged files' and connections' records)
     * is shipped as a log segment at most this often (storage/tier_log.h);
     * a recovery replays the newest checkpoint's segments. 0: no log. */
    int64_t log_interval_s;
    int64_t lease_ttl_s;  /* 0: 60 */
    int keep_checkpoints; /* 0: 3 */
    /* > 0: objects not in use and stored locally longer ago than this are
     * deleted locally once copied, and fetched back when needed; recovery
     * then downloads only what is in use. 0: every object stays local. */
    int64_t evict_after_s;
    /* The connections (connections.h): their catalogue without secrets and
     * their objects are copied too; NULL = none. Borrowed. */
    struct tsv_conns *conns;
    /* The staged files (files_store.h): their records in every checkpoint
     * and their bytes as objects; NULL = none. Borrowed. */
    struct tsv_files *files;
    /* After a checkpoint, at most once per this: objects no kept
     * checkpoint lists and the local GC removed are deleted from S3.
     * 0: 3600. */
    int64_t gc_interval_s;
} tsv_tier_options;

/* Splits s3://bucket/prefix (prefix without leading or trailing '/', may be
 * empty). TSV_EINVALID with the reason. */
int tsv_tier_url_parse(const char *url, char *bucket, size_t bucket_len, char *prefix,
                       size_t prefix_len, tsv_error *err);

/* Checks the store is reachable with these credentials, takes the lease
 * (TSV_ECONFLICT if another server holds it) and starts the thread. */
int tsv_tier_start(tsv_tier **out, tsv_store *store, const char *data_dir,
                   const tsv_tier_options *o, tsv_error *err);
/* Stops the thread after a last copy round (if the store answered the
 * previous one) and releases the lease. NULL is fine. */
void tsv_tier_stop(tsv_tier *t);

/* Verify of the copies in S3 (the verify job, when a tier runs): the newest
 * complete checkpoint's manifest, catalogue and KV (SHA-256 as the manifest
 * says), then every object its catalogue lists, each downloaded whole and
 * checked (body = x-amz-meta-sha256 = its name). A missing or altered
 * object that is still on local disk with the right bytes is uploaded again
 * (repaired); one that is not is a problem a recovery would hit. problem()
 * receives each ("objects/ab/<sha256>", message); progress() may return
 * non-zero to cancel (-1, TSV_EUNAVAILABLE "verify cancelled"). */
typedef struct tsv_tier_verify_summary {
    char checkpoint[32];
    uint64_t objects, bytes, problems, repaired;
    uint64_t segments; /* log segments after the checkpoint read back */
} tsv_tier_verify_summary;
typedef void (*tsv_tier_problem_fn)(void *ctx, const char *what, const char *message);
typedef int (*tsv_tier_progress_fn)(void *ctx, uint64_t objects_done, uint64_t objects_total,
                                    uint64_t bytes_done);
int tsv_tier_verify(tsv_tier *t, tsv_tier_problem_fn problem, tsv_tier_progress_fn progress,
                    void *ctx, tsv_tier_verify_summary *sum, tsv_error *err);

/* Fills an empty data directory (storage/tier.h "recover_target_ok") from
 * the newest complete checkpoint under o->url: downloads the catalogue, the
 * KV and every object a non-purged version lists (checked against its
 * SHA-256), then installs them. Refuses while another server's lease is
 * unexpired. Run before tsv_store_open. */
int tsv_tier_recover(const char *data_dir, const tsv_tier_options *o, tsv_error *err);

#endif
