/* meta_store: meta.Data inside the KV tree, and shard path listing. */
#include "meta_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "fsutil.h"
#include "random.h"

int tsv_meta_load(tsv_kv_txn *txn, Meta__Data **out, int *present, tsv_error *err)
{
    uint64_t b;
    const uint8_t *val = NULL;
    size_t vlen = 0;
    /* Both lookups can succeed with a zero-length value, which reads as
     * absent (as in influxd's KV): e must then say "not found". */
    tsv_error e = {.code = TSV_ENOTFOUND};
    int found =
        tsv_kv_bucket(txn, TSV_KV_ROOT, TSV_META_BUCKET, strlen(TSV_META_BUCKET), &b, &e) == 0 &&
        tsv_kv_get(txn, b, TSV_META_KEY, strlen(TSV_META_KEY), &val, &vlen, &e) == 0 && vlen > 0;
    if (!found && e.code != TSV_ENOTFOUND) {
        if (err)
            *err = e;
        return -1;
    }
    if (present)
        *present = found;
    if (!found)
        return tsv_meta_new_empty(tsv_random_u64() >> 1, out, err);
    if (tsv_meta_decode(val, vlen, out, err) != 0)
        return tsv_error_wrap(err, "corrupt tsdb meta (%s/%s)", TSV_META_BUCKET, TSV_META_KEY);
    return 0;
}

int tsv_meta_save(tsv_kv_txn *txn, Meta__Data *data, tsv_error *err)
{
    tsv_meta_touch(data);
    uint8_t *buf;
    size_t len;
    if (tsv_meta_encode(data, &buf, &len, err) != 0)
        return -1;
    uint64_t b;
    int rc = tsv_kv_bucket_create(txn, TSV_KV_ROOT, TSV_META_BUCKET, strlen(TSV_META_BUCKET), 0, 1,
                                  &b, err);
    if (rc == 0)
        rc = tsv_kv_put(txn, b, TSV_META_KEY, strlen(TSV_META_KEY), buf, len, err);
    free(buf);
    return rc;
}

typedef struct path_list {
    char **paths;
    size_t count, cap;
} path_list;

/* A database or RP name becomes one directory level: it must stay one. */
static int path_component_ok(const char *name)
{
    return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static int add_path(const Meta__DatabaseInfo *db, const Meta__RetentionPolicyInfo *rp,
                    const Meta__ShardGroupInfo *group, const Meta__ShardInfo *shard, void *ctx,
                    tsv_error *err)
{
    (void)group;
    path_list *l = ctx;
    if (!path_component_ok(db->name) || !path_component_ok(rp->name))
        return tsv_error_set(err, TSV_EINVALID,
                             "tsdb meta: shard %" PRIu64 " has an unusable database or retention "
                             "policy name (\"%.64s\"/\"%.64s\"): it must be one directory name",
                             shard->id, db->name ? db->name : "", rp->name ? rp->name : "");
    if (TSV_ARRAY_GROW(l->paths, l->count, l->cap, err) != 0)
        return -1;
    char buf[1024];
    if (tsv_path_join(buf, sizeof buf, err, "%s/%s/%" PRIu64, db->name, rp->name, shard->id) != 0)
        return -1;
    if (!(l->paths[l->count] = strdup(buf)))
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    l->count++;
    return 0;
}

int tsv_meta_shard_paths(const Meta__Data *data, char ***paths, size_t *count, tsv_error *err)
{
    path_list l = {0};
    if (tsv_meta_foreach_shard(data, 0, add_path, &l, err) != 0) {
        tsv_meta_shard_paths_free(l.paths, l.count);
        return -1;
    }
    *paths = l.paths;
    *count = l.count;
    return 0;
}

void tsv_meta_shard_paths_free(char **paths, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(paths[i]);
    free(paths);
}
