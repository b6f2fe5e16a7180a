/* jobs_store: job records in the KV's "jobs" database. */
#include "jobs_store.h"

#include <string.h>

#include "kv.h"
#include "store_internal.h"

int tsv_store_job_put(tsv_store *s, const char *id, const void *rec, size_t len, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int rc = tsv_kv_aux_put(txn, TSV_KV_AUX_JOBS, id, strlen(id), rec, len, err);
    return tsv_store_txn_end(s, txn, rc, 1, err);
}

int tsv_store_job_delete(tsv_store *s, const char *id, tsv_error *err)
{
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 1, &txn, err) != 0)
        return -1;
    int rc = tsv_kv_aux_del(txn, TSV_KV_AUX_JOBS, id, strlen(id), err);
    return tsv_store_txn_end(s, txn, rc, 1, err);
}

typedef struct load_ctx {
    tsv_store_job_fn fn;
    void *ctx;
} load_ctx;

static int load_one(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                    tsv_error *err)
{
    load_ctx *lc = ctx;
    char id[64];
    if (klen >= sizeof id)
        return 0; /* not a job ID we wrote */
    memcpy(id, key, klen);
    id[klen] = '\0';
    return lc->fn(lc->ctx, id, val, vlen, err);
}

int tsv_store_jobs_load(tsv_store *s, tsv_store_job_fn fn, void *ctx, tsv_error *err)
{
    load_ctx lc = {fn, ctx};
    tsv_kv_txn *txn;
    if (tsv_store_txn_begin(s, 0, &txn, err) != 0)
        return -1;
    int rc = tsv_kv_aux_each(txn, TSV_KV_AUX_JOBS, load_one, &lc, err);
    return tsv_store_txn_end(s, txn, rc, 0, err);
}

int tsv_store_jobs_carry(struct tsv_kv *from, struct tsv_kv *to, tsv_error *err)
{
    if (tsv_kv_aux_carry(from, to, TSV_KV_AUX_JOBS, NULL, NULL, err) != 0)
        return -1;
    return tsv_kv_sync(to, err);
}
