/* job_ops: see job_ops.h. */
#include "job_ops.h"

#include <stdarg.h>
#include <stdio.h>

void tsv_job_logf(const tsv_job_ops *ops, void *ctx, const char *level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ops->log(ctx, level, msg);
}
