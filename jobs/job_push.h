/*
 * job_push: a "restore" job whose target is a connection: puts a snapshot
 * (a connection's at targetTime, default its latest) into that server
 * (docs/api.md "Push restores").
 *
 * influxdb2 targets get exactly the calls `influx restore` makes: full (KV,
 * SQL, every shard under its own ID) when target.full is true, else
 * partial per bucket, with target.rename {"old bucket":"new bucket"} and
 * target.newOrgName. influxdb1 targets get the 1.x restore protocol per
 * database, rename {"old db":"new db"}. The clients check the target's
 * answers (remote/influx2_backup.h, remote/influx1_rpc.h).
 *
 * Errors: int 0 done, 1 canceled, -1 failed with tsv_error.
 */
#ifndef TSV_JOB_PUSH_H
#define TSV_JOB_PUSH_H

#include <stdint.h>

#include "connections.h"
#include "job_ops.h"
#include "store.h"

typedef struct tsv_push_spec {
    const char *source;     /* connection name; NULL = this server's own state */
    const char *source_org; /* local source, influxdb1 target: the org seen as a 1.x
                             * server (name or ID; NULL = the first) */
    int64_t target_time;    /* INT64_MAX = the latest snapshot */
    const char *target;     /* connection name */
    int full;               /* influxdb2: a full restore */
    const char *new_org;    /* influxdb2 partial: --new-org */
    const char *const *rename_from, *const *rename_to;
    size_t n_rename;
} tsv_push_spec;

/* local: the store a NULL source means (taken as it is now: metadata in one
 * consistent snapshot, each shard's files hard-linked under its lock, as
 * the backup API does), stored as objects only for the push. */
int tsv_job_push_run(tsv_conns *c, tsv_store *local, const tsv_push_spec *spec,
                     const tsv_job_ops *ops, void *ctx, tsv_error *err);

#endif
