/*
 * pitr_scope: narrows a point-in-time restore to one org or one bucket
 * (docs/storage.md "Point-in-time recovery of one org or bucket"). Internal
 * to storage/ (pitr.c).
 *
 * Given the KV as it is now (`live`, a staging copy that becomes the new
 * generation) and the KV rewound to the target time (`at_t`, a scratch
 * copy), tsv_pitr_scope_merge writes into `live`, in one transaction, the
 * target time's state of every record the scope owns, and leaves every other
 * record as it is now:
 *   - the scope's IDs: the org or bucket itself; for an org, every bucket,
 *     authorization and DBRP mapping whose JSON has that orgID, now or at T;
 *     for a bucket, every DBRP mapping whose bucketID is the bucket;
 *   - records keyed by an owned ID (organizationsv1, bucketsv1,
 *     authorizationsv1, dbrpv1; userresourcemappingsv1 by its resource ID);
 *   - index entries whose value is an owned ID (organizationindexv1,
 *     bucketindexv1, the authorization and DBRP indexes;
 *     userresourcemappingsbyuserindexv1 by the resource ID it points to);
 *   - in the tsdb meta, the databases named by owned bucket IDs (taken from
 *     T, or dropped if they did not exist then); MaxShardID and
 *     MaxShardGroupID keep the larger value, and a shard or group of T whose
 *     ID is now used by a database outside the scope gets a fresh ID.
 * Users, passwords and everything else are global and stay as they are now.
 * The writes go through `live`'s change log (when its history is on), so a
 * later PITR can undo them.
 *
 * Ownership: the caller owns both handles; *ids (malloc'd) is freed with
 * tsv_pitr_scope_ids_free. Errors: TSV_EINVALID (an ID that is not 16 hex
 * digits), TSV_ENOTFOUND (the org or bucket exists neither now nor at T),
 * others from the KV. Thread-safety: none needed (staging handles).
 */
#ifndef TSV_PITR_SCOPE_H
#define TSV_PITR_SCOPE_H

#include <stddef.h>
#include <stdint.h>

#include "kv.h"
#include "tsv_error.h"

typedef struct tsv_pitr_scope {
    char org_id[17];    /* "" or 16 lowercase hex digits */
    char bucket_id[17]; /* "" or 16 lowercase hex digits; at most one of the two */
} tsv_pitr_scope;

typedef struct tsv_pitr_scope_ids tsv_pitr_scope_ids;

typedef struct tsv_pitr_scope_result {
    uint64_t records_put;     /* records given their value at T */
    uint64_t records_deleted; /* records that did not exist at T */
    size_t databases;         /* tsdb databases taken from T */
    size_t renumbered;        /* shards and groups given a fresh ID */
} tsv_pitr_scope_result;

int tsv_pitr_scope_merge(tsv_kv *live, tsv_kv *at_t, const tsv_pitr_scope *scope,
                         tsv_pitr_scope_ids **ids, tsv_pitr_scope_result *res, tsv_error *err);

/* 1 if db_name (a tsdb database = a bucket ID) is owned by the scope. */
int tsv_pitr_scope_owns(const tsv_pitr_scope_ids *ids, const char *db_name);

void tsv_pitr_scope_ids_free(tsv_pitr_scope_ids *ids); /* NULL is fine */

#endif
