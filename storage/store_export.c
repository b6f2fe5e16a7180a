/* store_export: line-protocol export of one bucket of the store (export_lp.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bucket_layout.h"
#include "export_lp.h"
#include "store_internal.h"
#include "vault.h"

struct tsv_export_plan {
    tsv_store *store;
    tsv_bucket_layout *layout;
    char *database;
    tsv_export_options opt;
};

void tsv_export_plan_free(tsv_export_plan *p)
{
    if (!p)
        return;
    tsv_bucket_layout_free(p->layout);
    free(p->database);
    free(p);
}

/* Files verify marked corrupt are not exported. */
static int check_shard(void *ctx, const tsv_export_shard *sh, tsv_error *err)
{
    tsv_export_plan *p = ctx;
    char what[512];
    snprintf(what, sizeof what, "export of bucket %s, shard %" PRIu64, p->layout->bucket_id,
             sh->id);
    return tsv_vault_check_dir(p->store->vault, sh->dir, what, err);
}

int tsv_store_export_prepare(tsv_store *s, const tsv_export_request *req, tsv_export_plan **out,
                             tsv_error *err)
{
    *out = NULL;
    if (req->start > req->stop)
        return tsv_error_set(err, TSV_EINVALID, "start must not be after stop");
    char id[17];
    const char *bucket_id = req->bucket_id;
    if (!bucket_id) {
        if (!req->bucket || !req->org)
            return tsv_error_set(err, TSV_EINVALID, "bucketID, or bucket and org, must be given");
        if (tsv_store_bucket_find(s, req->org, req->bucket, id, err) != 0)
            return -1;
        bucket_id = id;
    }
    tsv_export_plan *p = calloc(1, sizeof *p);
    if (!p)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (tsv_store_bucket_layout(s, bucket_id, req->rp, &p->layout, err) != 0) {
        free(p);
        return -1;
    }
    const char *name = p->layout->bucket_name;
    if (req->database)
        p->database = strdup(req->database);
    else
        p->database = strndup(name, strcspn(name, "/"));
    if (!p->database) {
        tsv_export_plan_free(p);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    p->opt = (tsv_export_options){
        .database = p->database,
        .start = req->start,
        .stop = req->stop,
        .measurements = req->measurements,
        .n_measurements = req->n_measurements,
        .cancelled = req->cancelled,
        .cancel_ctx = req->cancel_ctx,
        .check_shard = check_shard,
        .check_ctx = p,
    };
    p->store = s;
    /* Before the first byte of the reply: every shard's files. */
    for (size_t r = 0; r < p->layout->n_rps; r++)
        for (size_t i = 0; i < p->layout->rps[r].n_shards; i++) {
            tsv_export_shard sh = {p->layout->rps[r].shards[i].id, p->layout->rps[r].shards[i].dir};
            if (check_shard(p, &sh, err) != 0) {
                tsv_export_plan_free(p);
                return -1;
            }
        }
    *out = p;
    return 0;
}

const char *tsv_export_plan_bucket_id(const tsv_export_plan *p) { return p->layout->bucket_id; }

const char *tsv_export_plan_org_id(const tsv_export_plan *p) { return p->layout->org_id; }

int tsv_export_plan_run(tsv_export_plan *p, tsv_writer *w, tsv_export_result *res, tsv_error *err)
{
    const tsv_bucket_layout *l = p->layout;
    tsv_export_rp *rps = calloc(l->n_rps ? l->n_rps : 1, sizeof *rps);
    size_t total = 0;
    for (size_t r = 0; r < l->n_rps; r++)
        total += l->rps[r].n_shards;
    tsv_export_shard *sh = calloc(total ? total : 1, sizeof *sh);
    if (!rps || !sh) {
        free(rps);
        free(sh);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    size_t k = 0;
    for (size_t r = 0; r < l->n_rps; r++) {
        rps[r].name = l->rps[r].name;
        rps[r].shards = sh + k;
        rps[r].n_shards = l->rps[r].n_shards;
        for (size_t i = 0; i < l->rps[r].n_shards; i++, k++) {
            sh[k].id = l->rps[r].shards[i].id;
            sh[k].dir = l->rps[r].shards[i].dir;
        }
    }
    int rc = tsv_export_lp(rps, l->n_rps, &p->opt, w, res, err);
    free(rps);
    free(sh);
    return rc;
}
