/* job_ops: see job_ops.h. */
#include "job_ops.h"

#include "vformat.h"

void tsv_job_logf(const tsv_job_ops *ops, void *ctx, const char *level, const char *fmt, ...)
{
    char msg[1024];
    TSV_VFORMAT(msg, fmt);
    ops->log(ctx, level, msg);
}
