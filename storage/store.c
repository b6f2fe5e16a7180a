/* store: the data directory, its lock, layout and generation. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "catalog.h"
#include "engine.h"
#include "fsutil.h"
#include "random.h"
#include "store_internal.h"
#include "tsv_log.h"
#include "vault.h"

/* The live state's generation is its swap marker (engine.h), so recovery of
 * an interrupted state swap works like that of a shard swap. */
static int ensure_generation(tsv_store *s, tsv_error *err)
{
    if (tsv_gen_marker_read(s->state_dir, &s->generation, err) != 0)
        return -1;
    if (s->generation != 0)
        return 0;
    do
        s->generation = tsv_random_u64();
    while (s->generation == 0);
    return tsv_gen_marker_write(s->state_dir, s->generation, err);
}

int tsv_store_open(tsv_store **out, const tsv_store_options *opt, tsv_error *err)
{
    tsv_store *s = calloc(1, sizeof *s);
    if (!s)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    s->lock_fd = -1;
    s->opt = *opt;
    /* Prefer writers: a KV or SQL swap must not starve behind a steady
     * stream of shared users (no code path takes the lock recursively). */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->swap_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (tsv_path_join(s->data_dir, sizeof s->data_dir, err, "%s", opt->data_dir) != 0 ||
        tsv_path_join(s->state_dir, sizeof s->state_dir, err, "%s/state", opt->data_dir) != 0 ||
        tsv_path_join(s->tmp_dir, sizeof s->tmp_dir, err, "%s/tmp", opt->data_dir) != 0 ||
        tsv_path_join(s->trash_dir, sizeof s->trash_dir, err, "%s/trash", opt->data_dir) != 0)
        goto fail;
    if (!opt->read_only && tsv_mkdir_p(s->data_dir, err) != 0)
        goto fail;

    char lock_path[PATH_MAX];
    if (tsv_path_join(lock_path, sizeof lock_path, err, "%s/LOCK", s->data_dir) != 0)
        goto fail;
    s->lock_fd = opt->read_only ? open(lock_path, O_RDONLY | O_CLOEXEC)
                                : open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", lock_path);
        goto fail;
    }
    if (flock(s->lock_fd, (opt->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno,
                            "data directory %s is in use by another tsvault (lock %s)", s->data_dir,
                            lock_path);
        goto fail;
    }
    if (opt->read_only) {
        if (tsv_store_open_state_read_only(s, err) != 0)
            goto fail;
        *out = s;
        return 0;
    }
    if (tsv_mkdir_p(s->tmp_dir, err) != 0 || tsv_mkdir_p(s->trash_dir, err) != 0)
        goto fail;
    /* Resolve an interrupted whole-state swap (restore/kv) before anything
     * looks at state/, then drop unfinished uploads. */
    if (tsv_staging_recover(s->data_dir, s->trash_dir, err) != 0 ||
        tsv_remove_tree(s->tmp_dir, err) != 0 || tsv_mkdir_p(s->tmp_dir, err) != 0 ||
        tsv_mkdir_p(s->state_dir, err) != 0)
        goto fail;
    if (ensure_generation(s, err) != 0)
        goto fail;
    if (tsv_vault_open(&s->vault, s->data_dir, opt->soft_delete_retention_s, opt->vault_quota_bytes,
                       err) != 0)
        goto fail;
    if (tsv_store_open_state(s, err) != 0)
        goto fail;
    if (tsv_vault_start_purge_task(s->vault, opt->purge_interval_s, err) != 0)
        goto fail;
    TSV_INFO("msg=\"data directory open\" dir=\"%s\" generation=%016llx", s->data_dir,
             (unsigned long long)s->generation);
    *out = s;
    return 0;
fail:
    tsv_store_close(s);
    return -1;
}

void tsv_store_close(tsv_store *s)
{
    if (!s)
        return;
    tsv_store_close_state(s);
    tsv_vault_close(s->vault);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    pthread_rwlock_destroy(&s->swap_lock);
    free(s);
}

int tsv_store_txn_begin(tsv_store *s, int write, tsv_kv_txn **txn, tsv_error *err)
{
    tsv_store_shared_lock(s);
    if (tsv_kv_begin(s->kv, write, txn, err) != 0) {
        tsv_store_shared_unlock(s);
        return -1;
    }
    return 0;
}

int tsv_store_txn_end(tsv_store *s, tsv_kv_txn *txn, int rc, int write, tsv_error *err)
{
    if (rc == 0 && write)
        rc = tsv_kv_commit(txn, err);
    else
        tsv_kv_abort(txn);
    tsv_store_shared_unlock(s);
    return rc;
}

int tsv_store_read_views(tsv_store *s, tsv_catalog_txn **ct, tsv_kv_txn **kt, tsv_error *err)
{
    *ct = NULL;
    *kt = NULL;
    if (tsv_catalog_begin(s->vault->catalog, 0, ct, err) != 0)
        return -1;
    if (tsv_kv_begin(s->kv, 0, kt, err) != 0) {
        tsv_catalog_abort(*ct);
        *ct = NULL;
        return -1;
    }
    return 0;
}
