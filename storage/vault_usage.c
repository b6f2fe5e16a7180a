/* vault_usage: the vault's bytes by object store and by version state (vault_usage.h). */
#include "vault_usage.h"

#include <string.h>

#include "catalog.h"
#include "store_internal.h"
#include "vault.h"

static int count_version(void *ctx, const tsv_version *v, tsv_error *err)
{
    (void)err;
    tsv_vault_usage *u = ctx;
    uint64_t b = tsv_version_bytes(v);
    switch (v->state) {
    case TSV_VERSION_IN_USE:
        u->in_use_versions++;
        u->in_use_bytes += b;
        break;
    case TSV_VERSION_SOFT_DELETED:
        u->soft_deleted_versions++;
        u->soft_deleted_bytes += b;
        break;
    case TSV_VERSION_PURGED:
        u->purged_versions++;
        u->purged_bytes += b;
        break;
    }
    return 0;
}

static int count_object(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    (void)hex;
    (void)err;
    tsv_vault_usage *u = ctx;
    u->object_count++;
    u->object_bytes += size;
    return 0;
}

int tsv_store_vault_usage(tsv_store *s, tsv_vault_usage *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    tsv_store_shared_lock(s);
    tsv_vault *v = s->vault;
    int rc = 0;
    if (v) {
        tsv_catalog_txn *t = NULL;
        rc = tsv_catalog_begin(v->catalog, 0, &t, err);
        if (rc == 0 && tsv_catalog_foreach(t, count_version, out, err) < 0)
            rc = -1;
        tsv_catalog_abort(t);
        if (rc == 0) {
            /* Not while a GC deletes objects (the listing would race it). */
            tsv_vault_gc_shared(v);
            rc = tsv_objstore_list(v->objects, count_object, out, err);
            tsv_vault_gc_unlock(v);
        }
    }
    tsv_store_shared_unlock(s);
    return rc;
}
