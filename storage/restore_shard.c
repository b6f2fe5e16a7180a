/*
 * restore_shard: restore/shards/{id} on the storage side: finds the shard's
 * directory and installs the uploaded tar into it (shard_install.c).
 */
#include <inttypes.h>
#include <limits.h>

#include "engine.h"
#include "restore.h"
#include "shard_install.h"
#include "store_internal.h"
#include "trash.h"
#include "tsv_log.h"

int tsv_store_restore_shard(tsv_store *s, uint64_t shard_id, tsv_reader *tar, tsv_error *err)
{
    tsv_store_shared_lock(s);
    char path[PATH_MAX];
    int rc = tsv_store_locate_shard(s, shard_id, path, sizeof path, NULL, 0, err);
    if (rc == 0) {
        tsv_shard_install_stats st;
        tsv_shard_lock(shard_id);
        rc = tsv_shard_install_from_tar(path, s->trash_dir, shard_id, tar, &st, err);
        tsv_shard_unlock(shard_id);
        tsv_error perr;
        if (rc == 0 && tsv_trash_purge(s->trash_dir, s->opt.trash_retention_s, &perr) != 0)
            TSV_WARN("msg=\"trash purge failed\" error=\"%s\"", perr.message);
        if (rc == 0)
            TSV_INFO("msg=\"shard restored\" shard=%" PRIu64 " files=%" PRIu64 " bytes=%" PRIu64
                     " kept=%" PRIu64 " skipped=%" PRIu64,
                     shard_id, st.files, st.bytes, st.kept, st.skipped);
    }
    tsv_store_shared_unlock(s);
    return rc;
}
