/* v1_backup: the store as a 1.x server, for 1.x-form backups. */
#include "v1_backup.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

int tsv_store_v1_view(tsv_store *s, const char *org, tsv_v1_view **out, tsv_error *err)
{
    tsv_store_shared_lock(s);
    tsv_kv_txn *txn;
    int rc = tsv_kv_begin(s->kv, 0, &txn, err);
    if (rc == 0) {
        char org_id[17] = "";
        tsv_error e;
        if (tsv_v1_resolve_org(txn, org, org_id, &e) != 0) {
            /* No org yet: an empty server, as influxd with no database. A
             * named org that does not exist is the operator's mistake. */
            if (e.code != TSV_ENOTFOUND || (org && *org))
                rc = err ? (*err = e, -1) : -1;
            org_id[0] = '\0';
        }
        if (rc == 0)
            rc = tsv_v1_view_build(txn, org_id, out, err);
        tsv_kv_abort(txn);
    }
    tsv_store_shared_unlock(s);
    return rc;
}

int tsv_v1_view_encode(const tsv_v1_view *v, uint8_t **out, size_t *len, tsv_error *err)
{
    return tsv_meta_encode(v->meta, out, len, err);
}

int tsv_store_v1_shard_snapshot(tsv_store *s, const tsv_v1_view *v, uint64_t shard_id,
                                int64_t since_ns, tsv_shard_snapshot **out, tsv_error *err)
{
    const tsv_v1_shard_ref *ref = tsv_v1_view_shard(v, shard_id);
    if (!ref)
        return tsv_error_set(err, TSV_ENOTFOUND, "shard %" PRIu64 " not found", shard_id);
    tsv_shard_snapshot *snap = NULL;
    if (tsv_store_shard_snapshot(s, shard_id, since_ns, &snap, err) != 0)
        return -1;
    char prefix[2 * TSV_V1_NAME_MAX + 32];
    snprintf(prefix, sizeof prefix, "%s/%s/%" PRIu64, ref->db, ref->rp, shard_id);
    if (tsv_shard_snapshot_set_prefix(snap, prefix, err) != 0) {
        tsv_shard_snapshot_free(snap);
        return -1;
    }
    *out = snap;
    return 0;
}

int tsv_store_v1_shard_export(tsv_store *s, const tsv_v1_view *v, uint64_t shard_id,
                              int64_t start_ns, int64_t end_ns, tsv_shard_snapshot **out,
                              tsv_error *err)
{
    tsv_shard_snapshot *snap = NULL;
    if (tsv_store_v1_shard_snapshot(s, v, shard_id, INT64_MIN, &snap, err) != 0)
        return -1;
    if (tsv_shard_snapshot_time_filter(snap, start_ns, end_ns, err) != 0) {
        tsv_shard_snapshot_free(snap);
        return -1;
    }
    *out = snap;
    return 0;
}
