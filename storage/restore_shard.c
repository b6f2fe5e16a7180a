/*
 * restore_shard: restore/shards/{id} on the storage side: finds the shard's
 * directory and installs the uploaded tar into it (shard_install.c).
 */
#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "engine.h"
#include "restore.h"
#include "shard_install.h"
#include "store_internal.h"
#include "store_vault.h"
#include "trash.h"
#include "tsv_log.h"

int tsv_store_restore_shard(tsv_store *s, uint64_t shard_id, tsv_reader *tar, tsv_error *err)
{
    return tsv_store_restore_shard_trusted(s, shard_id, tar, NULL, err);
}

/* tar or src_dir: the two sources of tsv_store_restore_shard_*. */
static int restore_shard(tsv_store *s, uint64_t shard_id, tsv_reader *tar, const char *src_dir,
                         const struct tsv_tsm_trust *trust, tsv_error *err)
{
    tsv_store_shared_lock(s);
    char path[PATH_MAX];
    int rc = tsv_store_locate_shard(s, shard_id, path, sizeof path, NULL, 0, err);
    /* The vault records the upload as the slot's new version (store_vault.c). */
    tsv_upload_hook_ctx hctx;
    memset(&hctx, 0, sizeof hctx);
    tsv_shard_install_hook hook;
    if (rc == 0)
        rc = tsv_store_live_shard(s, shard_id, &hctx.shard, err);
    if (rc == 0) {
        hctx.s = s;
        tsv_store_vault_upload_hook(&hctx, &hook);
        tsv_shard_install_opts opts = {.hook = &hook, .trust = trust};
        tsv_shard_install_stats st;
        tsv_shard_lock(shard_id);
        rc = src_dir ? tsv_shard_install_from_dir(path, s->trash_dir, shard_id, src_dir, &opts, &st,
                                                  err)
                     : tsv_shard_install_from_tar_opts(path, s->trash_dir, shard_id, tar, &opts,
                                                       &st, err);
        tsv_version_clear(&hctx.prev);
        tsv_shard_unlock(shard_id);
        tsv_error perr;
        if (rc == 0 && tsv_trash_purge(s->trash_dir, s->opt.trash_retention_s, &perr) != 0)
            TSV_WARN("msg=\"trash purge failed\" error=\"%s\"", perr.message);
        if (rc == 0)
            TSV_INFO("msg=\"shard restored\" shard=%" PRIu64 " files=%" PRIu64 " bytes=%" PRIu64
                     " kept=%" PRIu64 " skipped=%" PRIu64 " validated_before=%" PRIu64,
                     shard_id, st.files, st.bytes, st.kept, st.skipped, st.trusted);
    }
    tsv_store_shared_unlock(s);
    return rc;
}

int tsv_store_restore_shard_trusted(tsv_store *s, uint64_t shard_id, tsv_reader *tar,
                                    const struct tsv_tsm_trust *trust, tsv_error *err)
{
    return restore_shard(s, shard_id, tar, NULL, trust, err);
}

int tsv_store_restore_shard_from_dir(tsv_store *s, uint64_t shard_id, const char *src_dir,
                                     tsv_error *err)
{
    return restore_shard(s, shard_id, NULL, src_dir, NULL, err);
}
