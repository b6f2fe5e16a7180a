/*
 * handlers_vault: the vault's read endpoints (docs/api.md "Vault"):
 *   GET /api/v2/buckets/{bucketID}/unusedShards
 *   GET /v1/projects/{orgID}/tables/{bucketName}/unusedSegments  (Polaris path)
 * Both return the same body: the bucket's soft-deleted shard versions,
 * ordered by interval then version.
 */
#include <stdint.h>
#include <string.h>

#include "http.h"
#include "json.h"
#include "router.h"
#include "store_vault.h"
#include "tenant.h"
#include "tsv_time.h"

typedef struct list_ctx {
    tsv_json_writer *w;
    int header_done;
} list_ctx;

static void write_time(tsv_json_writer *w, const char *key, int64_t ns)
{
    if (ns == INT64_MAX) {
        tsv_jw_key(w, key);
        tsv_jw_null(w);
        return;
    }
    tsv_jw_field_time(w, key, ns);
}

static int header(list_ctx *c, const tsv_version *v, const char *bucket_id, const char *org_id,
                  const char *name)
{
    if (c->header_done)
        return 0;
    c->header_done = 1;
    tsv_jw_object_begin(c->w);
    tsv_jw_field_string(c->w, "bucketID", v ? v->slot.bucket : bucket_id);
    tsv_jw_field_string(c->w, "bucketName", v ? v->bucket_name : name);
    tsv_jw_field_string(c->w, "orgID", v ? v->org_id : org_id);
    tsv_jw_key(c->w, "unusedShards");
    tsv_jw_array_begin(c->w);
    return 0;
}

static int write_one(void *ctx, const tsv_unused_shard *u, tsv_error *err)
{
    (void)err;
    list_ctx *c = ctx;
    const tsv_version *v = u->v;
    header(c, v, NULL, NULL, NULL);
    tsv_json_writer *w = c->w;
    tsv_jw_object_begin(w);
    tsv_jw_field_u64(w, "shardID", v->shard_id);
    tsv_jw_field_string(w, "retentionPolicy", v->slot.rp);
    write_time(w, "start", v->slot.start_ns);
    write_time(w, "end", v->slot.end_ns);
    tsv_jw_field_u64(w, "version", v->version);
    tsv_jw_field_u64(w, "size", tsv_version_bytes(v));
    tsv_jw_key(w, "files");
    tsv_jw_array_begin(w);
    for (size_t i = 0; i < v->n_files; i++) {
        tsv_jw_object_begin(w);
        tsv_jw_field_string(w, "name", v->files[i].name);
        tsv_jw_field_string(w, "object", v->files[i].object);
        tsv_jw_field_u64(w, "size", v->files[i].size);
        tsv_jw_object_end(w);
    }
    tsv_jw_array_end(w);
    write_time(w, "inUseSince", v->created_ns);
    write_time(w, "softDeletedAt", v->deleted_ns);
    tsv_jw_field_string(w, "softDeletedBy", v->deleted_by);
    write_time(w, "purgeDueAt", u->purge_due_ns);
    tsv_jw_object_end(w);
    return 0;
}

static int reply_list(tsv_http_req *req, const char *bucket_id, const char *org_id,
                      const char *name)
{
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    list_ctx c = {&w, 0};
    tsv_error err;
    char live_org[17] = "", live_name[256] = "";
    if (bucket_id) {
        tsv_bucket b;
        memset(&b, 0, sizeof b);
        tsv_error e;
        if (tsv_store_bucket_get(req->server->store, bucket_id, &b, &e) == 0) {
            memcpy(live_org, b.org_id, sizeof live_org);
            if (b.name && strlen(b.name) < sizeof live_name)
                strcpy(live_name, b.name);
        }
        tsv_bucket_clear(&b);
    }
    int rc =
        tsv_store_unused_shards(req->server->store, bucket_id, org_id, name, write_one, &c, &err);
    /* A bucket without soft-deleted versions: the header from what we know. */
    if (rc == 0)
        header(&c, NULL, bucket_id ? bucket_id : "", org_id ? org_id : live_org,
               name ? name : live_name);
    return tsv_http_list_end(req, rc, &w, &buf, &err);
}

int tsv_handle_unused_shards(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    uint64_t v;
    tsv_error err;
    if (tsv_id_parse(tsv_route_param(p, "bucketID"), &v, &err) != 0)
        return tsv_http_reply_error(req, &err);
    char id[17];
    tsv_id_format(v, id);
    return reply_list(req, id, NULL, NULL);
}

int tsv_handle_unused_segments(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    uint64_t v;
    tsv_error err;
    if (tsv_id_parse(tsv_route_param(p, "orgID"), &v, &err) != 0)
        return tsv_http_reply_error(req, &err);
    char org[17];
    tsv_id_format(v, org);
    const char *name = tsv_route_param(p, "bucketName");
    if (!name || !*name)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "table name is required");
    return reply_list(req, NULL, org, name);
}
