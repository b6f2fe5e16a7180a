/* restore_check: the checks a restore can make before its upload is read. */
#include <limits.h>

#include "restore.h"
#include "store_internal.h"

int tsv_store_restore_shard_check(tsv_store *s, uint64_t shard_id, tsv_error *err)
{
    char path[PATH_MAX];
    tsv_store_shared_lock(s);
    int rc = tsv_store_locate_shard(s, shard_id, path, sizeof path, NULL, 0, err);
    tsv_store_shared_unlock(s);
    return rc;
}
