/* conn_manifest: see conn_manifest.h. */
#include "conn_manifest.h"

#include <stddef.h>

int tsv_manifest_walk(const tsv_json *root, tsv_manifest_fn fn, void *ctx, tsv_error *err)
{
    if (root->type != TSV_JSON_ARRAY)
        return tsv_error_set(err, TSV_EINVALID, "bucket manifests are not a JSON array");
    for (size_t i = 0; i < root->count; i++) {
        const tsv_json *m = root->items[i];
        const tsv_json *bid = tsv_json_get(m, "bucketID"), *bn = tsv_json_get(m, "bucketName"),
                       *oid = tsv_json_get(m, "organizationID"),
                       *rps = tsv_json_get(m, "retentionPolicies");
        if (m->type != TSV_JSON_OBJECT || !bid || bid->type != TSV_JSON_STRING || bid->len != 16 ||
            !bn || bn->type != TSV_JSON_STRING || !oid || oid->type != TSV_JSON_STRING || !rps ||
            rps->type != TSV_JSON_ARRAY)
            return tsv_error_set(err, TSV_EINVALID,
                                 "bucket manifest %zu has no bucketID, bucketName, "
                                 "organizationID or retentionPolicies",
                                 i);
        int r = fn(ctx, m, bid->str, NULL, 0, err);
        if (r < 0)
            return -1;
        if (r == 1)
            continue;
        for (size_t p = 0; p < rps->count; p++) {
            const tsv_json *rpn = tsv_json_get(rps->items[p], "name"),
                           *groups = tsv_json_get(rps->items[p], "shardGroups");
            if (!rpn || rpn->type != TSV_JSON_STRING || !groups || groups->type != TSV_JSON_ARRAY)
                return tsv_error_set(err, TSV_EINVALID,
                                     "a retention policy of bucket %s has no name or shardGroups",
                                     bid->str);
            for (size_t g = 0; g < groups->count; g++) {
                const tsv_json *shards = tsv_json_get(groups->items[g], "shards");
                if (tsv_json_get(groups->items[g], "deletedAt"))
                    continue;
                if (!shards || shards->type != TSV_JSON_ARRAY)
                    return tsv_error_set(err, TSV_EINVALID,
                                         "a shard group of bucket %s has no shards array",
                                         bid->str);
                for (size_t s = 0; s < shards->count; s++) {
                    uint64_t id;
                    const tsv_json *idv = tsv_json_get(shards->items[s], "id");
                    if (!idv || tsv_json_u64(idv, &id, "shard id", NULL) != 0)
                        return tsv_error_set(err, TSV_EINVALID,
                                             "a shard of bucket %s has no numeric id", bid->str);
                    if (fn(ctx, m, bid->str, rpn->str, id, err) != 0)
                        return -1;
                }
            }
        }
    }
    return 0;
}
