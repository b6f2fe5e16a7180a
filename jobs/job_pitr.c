/* job_pitr: the `pitr` job type (job_pitr.h). */
#include "job_pitr.h"

#include <inttypes.h>
#include <stdio.h>

#include "pitr.h"
#include "tsv_time.h"

typedef struct pitr_ctx {
    const tsv_job_ops *ops;
    void *ctx;
    char *(*final_record)(void *ctx, size_t *len);
} pitr_ctx;

static void pitr_log(void *ctx, const char *level, const char *msg)
{
    pitr_ctx *c = ctx;
    if (c->ops && c->ops->log)
        c->ops->log(c->ctx, level, msg);
}

static char *pitr_final(void *ctx, size_t *len)
{
    pitr_ctx *c = ctx;
    return c->final_record ? c->final_record(c->ctx, len) : NULL;
}

int tsv_job_pitr_run(tsv_store *s, const char *job_id, int64_t target_ns, const char *org_id,
                     const char *bucket_id, const tsv_job_ops *ops, void *ctx,
                     char *(*final_record)(void *ctx, size_t *len), tsv_error *err)
{
    char t[TSV_RFC3339_MAX], msg[256];
    tsv_format_rfc3339nano(target_ns, t, sizeof t);
    if (org_id && org_id[0])
        snprintf(msg, sizeof msg, "point-in-time restore of org %s to %s", org_id, t);
    else if (bucket_id && bucket_id[0])
        snprintf(msg, sizeof msg, "point-in-time restore of bucket %s to %s", bucket_id, t);
    else
        snprintf(msg, sizeof msg, "point-in-time restore of the whole store to %s", t);
    if (ops && ops->log)
        ops->log(ctx, "info", msg);
    pitr_ctx pc = {ops, ctx, final_record};
    tsv_pitr_options opt = {
        .op_id = job_id,
        .org_id = org_id,
        .bucket_id = bucket_id,
        .final_job_record = pitr_final,
        .ctx = &pc,
        .log = pitr_log,
    };
    tsv_pitr_result res;
    if (tsv_pitr_restore(s, target_ns, &opt, &res, err) != 0)
        return -1;
    if (ops && ops->totals)
        ops->totals(ctx, res.bytes, res.shards);
    if (ops && ops->advance)
        ops->advance(ctx, res.bytes, res.shards);
    return 0;
}
