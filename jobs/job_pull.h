/*
 * job_pull: a "backup" job: pulls a connection's source into a new snapshot
 * (docs/api.md "Connections API", "Pull jobs").
 *
 * Metadata every time (2.x: KV, SQL, bucket manifests; 1.x: meta.Data),
 * then every selected shard: a shard the previous snapshot holds is first
 * probed with `since` (only files newer than the newest file it had); if
 * the probe shows nothing new the shard keeps its stored version, else the
 * whole shard is downloaded again (so files a compaction removed are not
 * kept). Every file is stored once as an object (deduplicated by content).
 * The snapshot is committed in one catalogue transaction at the end: a
 * pull that fails or is canceled stores no snapshot (its new objects are
 * left to the GC) and the previous snapshot stays the latest.
 *
 * Errors: int 0 done, 1 canceled, -1 failed with tsv_error. Thread-safety:
 * one pull per connection at a time (the jobs' lock key).
 */
#ifndef TSV_JOB_PULL_H
#define TSV_JOB_PULL_H

#include "connections.h"
#include "job_ops.h"

int tsv_job_pull_run(tsv_conns *c, const char *connection, const char *job_id,
                     const tsv_job_ops *ops, void *ctx, tsv_error *err);

#endif
