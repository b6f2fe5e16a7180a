/* kv_stage: bbolt file -> new KV environment nothing serves yet (kv_stage.h). */
#include "kv_stage.h"

#include <errno.h>
#include <sys/stat.h>
#include <time.h>

#include "bolt.h"
#include "fsutil.h"
#include "kv_import.h"
#include "tsv_log.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tsv_kv_stage_bolt(const char *bolt_path, const char *kvdir, tsv_kv **out, tsv_error *err)
{
    *out = NULL;
    double t0 = now_s();
    tsv_bolt_file *bolt = NULL;
    if (tsv_bolt_open(&bolt, bolt_path, err) != 0)
        return -1;
    double t1 = now_s();
    if (mkdir(kvdir, 0700) != 0) {
        int e = errno;
        tsv_bolt_close(bolt);
        return tsv_error_set_errno(err, e == ENOSPC ? TSV_ENOSPACE : TSV_EINTERNAL, e, "mkdir %s",
                                   kvdir);
    }
    tsv_kv *kv = NULL;
    int rc = tsv_kv_open(&kv, kvdir, 0, err);
    /* Nothing serves this environment and it is discarded unless complete,
     * so per-commit fsyncs buy nothing: one sync at the end. */
    if (rc == 0)
        rc = tsv_kv_set_durable(kv, 0, err);
    if (rc == 0)
        rc = tsv_kv_import_bolt(kv, bolt, err);
    uint64_t pages = tsv_bolt_high_water(bolt);
    tsv_bolt_close(bolt);
    double t2 = now_s();
    if (rc == 0)
        rc = tsv_kv_set_durable(kv, 1, err);
    if (rc == 0)
        rc = tsv_kv_sync(kv, err);
    double t3 = now_s();
    if (rc != 0) {
        tsv_kv_close(kv);
        tsv_error rerr;
        if (tsv_remove_tree(kvdir, &rerr) != 0)
            TSV_WARN("msg=\"could not remove staged KV\" path=\"%s\" error=\"%s\"", kvdir,
                     rerr.message);
        return -1;
    }
    TSV_INFO("msg=\"KV staged from bolt file\" bolt_pages=%llu validate_s=%.3f import_s=%.3f "
             "sync_s=%.3f",
             (unsigned long long)pages, t1 - t0, t2 - t1, t3 - t2);
    *out = kv;
    return 0;
}
