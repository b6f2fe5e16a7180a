/* influx2_restore: full and partial restores into an InfluxDB 2.x server, with
 * the calls `influx restore` makes, and checks of what the target answered
 * (influx2_backup.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "http_common.h"
#include "influx2_internal.h"
#include "json.h"

#define JSON_REPLY_MAX (16u * 1024 * 1024)

/* ---------------------------------------------------------------------------
 * Manifest access
 * ------------------------------------------------------------------------- */

static const char *jstr(const tsv_json *obj, const char *key)
{
    const tsv_json *v = tsv_json_get(obj, key);
    return v && v->type == TSV_JSON_STRING ? v->str : NULL;
}

static int is_id16(const char *s)
{
    if (!s || strlen(s) != 16)
        return 0;
    for (int i = 0; i < 16; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    return 1;
}

/* The shards to restore of one bucket manifest: those of shard groups
 * without deletedAt (a deleted group has no shard on the target: B14). */
typedef struct shard_list {
    uint64_t *ids;
    size_t n, cap;
} shard_list;

static int bucket_shards(const tsv_json *b, const char *bname, shard_list *out, tsv_error *err)
{
    out->n = 0;
    const tsv_json *rps = tsv_json_get(b, "retentionPolicies");
    if (!rps || rps->type != TSV_JSON_ARRAY)
        return tsv_error_set(err, TSV_EINVALID,
                             "bucket manifest \"%s\" has no retentionPolicies array", bname);
    for (size_t i = 0; i < rps->count; i++) {
        const tsv_json *sgs = tsv_json_get(rps->items[i], "shardGroups");
        if (!sgs || sgs->type != TSV_JSON_ARRAY)
            return tsv_error_set(err, TSV_EINVALID,
                                 "bucket manifest \"%s\": retention policy %zu has no shardGroups "
                                 "array",
                                 bname, i);
        for (size_t g = 0; g < sgs->count; g++) {
            const tsv_json *del = tsv_json_get(sgs->items[g], "deletedAt");
            if (del && del->type == TSV_JSON_STRING && del->len > 0)
                continue;
            const tsv_json *sh = tsv_json_get(sgs->items[g], "shards");
            if (!sh || sh->type != TSV_JSON_ARRAY)
                return tsv_error_set(err, TSV_EINVALID,
                                     "bucket manifest \"%s\": a shard group has no shards array",
                                     bname);
            for (size_t k = 0; k < sh->count; k++) {
                uint64_t id;
                if (tsv_json_u64(tsv_json_get(sh->items[k], "id"), &id, "shard.id", err) != 0)
                    return tsv_error_wrap(err, "bucket manifest \"%s\"", bname);
                if (TSV_ARRAY_GROW(out->ids, out->n, out->cap, err) != 0)
                    return -1;
                out->ids[out->n++] = id;
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Uploads
 * ------------------------------------------------------------------------- */

/* POST a streamed, gzip-compressed body; the answer is collected into out. */
static int upload(tsv_influx2 *c, const char *path, tsv_reader *body, tsv_buf *out, uint64_t *sent,
                  tsv_error *err)
{
    influx2_req req = {.method = "POST",
                       .path = path,
                       .content_type = "application/octet-stream",
                       .body = body,
                       .gzip_body = 1};
    return influx2__call(c, &req, out, JSON_REPLY_MAX, NULL, sent, err);
}

/* Uploads source shard src to the target's shard dst. 1: skipped (the
 * source has no such shard any more), 0: uploaded, -1: error. */
static int upload_shard(tsv_influx2 *c, const tsv_influx2_restore_request *req, uint64_t src,
                        uint64_t dst, uint64_t *sent, tsv_error *err)
{
    tsv_reader *tar = NULL;
    if (req->open_shard(req->ctx, src, &tar, err) != 0) {
        if (err && err->code == TSV_ENOTFOUND)
            return 1;
        return tsv_error_wrap(err, "opening the backup of shard %" PRIu64, src);
    }
    char path[96];
    snprintf(path, sizeof path, "/api/v2/restore/shards/%" PRIu64, dst);
    int rc = upload(c, path, tar, NULL, sent, err);
    if (rc != 0 && src != dst)
        tsv_error_wrap(err, "restoring shard %" PRIu64 " as %" PRIu64, src, dst);
    else if (rc != 0)
        tsv_error_wrap(err, "restoring shard %" PRIu64, src);
    if (req->close_shard)
        req->close_shard(req->ctx, tar);
    else
        tsv_reader_free(tar);
    return rc;
}

/* GET /api/v2/buckets?id=: the bucket must exist with this name (and org). */
static int verify_bucket(tsv_influx2 *c, const char *id, const char *name, const char *org_id,
                         const char *when, tsv_error *err)
{
    char path[96];
    snprintf(path, sizeof path, "/api/v2/buckets?id=%s", id);
    influx2_req req = {.method = "GET", .path = path};
    tsv_buf body = {0};
    tsv_json_doc *doc = NULL;
    long st = 0;
    int rc = influx2__call(c, &req, &body, JSON_REPLY_MAX, &st, NULL, err);
    if (rc != 0 && st == 404)
        rc = tsv_error_set(err, TSV_EINTERNAL,
                           "%s, bucket \"%s\" (%s) does not exist on the target", when, name, id);
    else if (rc != 0)
        tsv_error_wrap(err, "%s, checking bucket \"%s\"", when, name);
    if (rc == 0 && tsv_json_parse(&doc, (const char *)body.data, body.len, err) != 0)
        rc = tsv_error_wrap(err, "GET %s: reply is not JSON", path);
    if (rc == 0) {
        const tsv_json *list = tsv_json_get(tsv_json_root(doc), "buckets");
        const tsv_json *hit = NULL;
        for (size_t i = 0; list && list->type == TSV_JSON_ARRAY && i < list->count; i++) {
            const char *bid = jstr(list->items[i], "id");
            if (bid && strcasecmp(bid, id) == 0)
                hit = list->items[i];
        }
        const char *bname = hit ? jstr(hit, "name") : NULL;
        const char *borg = hit ? jstr(hit, "orgID") : NULL;
        if (!hit)
            rc = tsv_error_set(err, TSV_EINTERNAL,
                               "%s, bucket \"%s\" (%s) does not exist on the target", when, name,
                               id);
        else if (!bname || strcmp(bname, name) != 0)
            rc = tsv_error_set(err, TSV_EINTERNAL,
                               "%s, bucket %s is called \"%s\" on the target, not \"%s\"", when, id,
                               bname ? bname : "", name);
        else if (org_id && (!borg || strcasecmp(borg, org_id) != 0))
            rc = tsv_error_set(err, TSV_EINTERNAL,
                               "%s, bucket \"%s\" (%s) is in org %s on the target, not %s", when,
                               name, id, borg ? borg : "?", org_id);
    }
    tsv_json_free(doc);
    tsv_buf_free(&body);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Full restore
 * ------------------------------------------------------------------------- */

static int restore_full(tsv_influx2 *c, const tsv_influx2_restore_request *req,
                        const tsv_json *buckets, uint64_t *sent, tsv_error *err)
{
    int rc = -1;
    tsv_buf body = {0};
    tsv_json_doc *doc = NULL;
    shard_list sl = {0};
    uint64_t skipped = 0;

    /* 1. KV; switch to the token it returns, as the CLI does. */
    if (upload(c, "/api/v2/restore/kv", req->kv, &body, sent, err) != 0)
        goto out;
    if (body.len > 0) {
        tsv_error jerr;
        if (tsv_json_parse(&doc, (const char *)body.data, body.len, &jerr) != 0) {
            tsv_error_set(err, TSV_EINTERNAL,
                          "POST /api/v2/restore/kv: the server answered success with a body that "
                          "is not JSON (%s)",
                          jerr.message);
            goto out;
        }
        const tsv_json *t = tsv_json_get(tsv_json_root(doc), "token");
        if (t && t->type != TSV_JSON_STRING) {
            tsv_error_set(err, TSV_EINTERNAL,
                          "POST /api/v2/restore/kv: \"token\" in the answer is a JSON %s",
                          tsv_json_type_name(t->type));
            goto out;
        }
        if (t && t->len > 0 && strcmp(t->str, c->token) != 0) {
            char *nt = strdup(t->str);
            if (!nt) {
                tsv_error_set(err, TSV_EINTERNAL, "out of memory");
                goto out;
            }
            memset(c->token, 0, strlen(c->token));
            free(c->token);
            c->token = nt;
            c->token_switched = 1;
        }
    }
    /* 2. SQL. */
    if (req->sql && upload(c, "/api/v2/restore/sql", req->sql, NULL, sent, err) != 0)
        goto out;
    /* 3. Every shard under its original ID (the restored KV holds them). */
    for (size_t i = 0; i < buckets->count; i++) {
        const char *name = jstr(buckets->items[i], "bucketName");
        if (bucket_shards(buckets->items[i], name, &sl, err) != 0)
            goto out;
        for (size_t k = 0; k < sl.n; k++) {
            int r = upload_shard(c, req, sl.ids[k], sl.ids[k], sent, err);
            if (r < 0) {
                tsv_error_wrap(err, "bucket \"%s\"", name);
                goto out;
            }
            skipped += (uint64_t)r;
        }
    }
    /* 4. Verify: every bucket of the manifests under its ID and name. */
    for (size_t i = 0; i < buckets->count; i++) {
        const tsv_json *b = buckets->items[i];
        if (verify_bucket(c, jstr(b, "bucketID"), jstr(b, "bucketName"), jstr(b, "organizationID"),
                          "after the full restore", err) != 0)
            goto out;
    }
    (void)skipped;
    rc = 0;
out:
    if (rc != 0 && err && err->code == TSV_EUNAUTHORIZED && !c->token_switched && body.len)
        tsv_error_wrap(err, "the KV restore replaced the target's tokens and returned none "
                            "(hashed tokens?): retry with the restored operator token");
    free(sl.ids);
    tsv_json_free(doc);
    tsv_buf_free(&body);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Partial restore
 * ------------------------------------------------------------------------- */

typedef struct org_cache {
    char name[256];
    char id[17];
} org_cache;

/* GET /api/v2/orgs?org=<name>; POST /api/v2/orgs when it is missing. */
static int resolve_org(tsv_influx2 *c, const char *name, char id[17], tsv_error *err)
{
    int rc = -1;
    tsv_buf q = {0}, body = {0};
    tsv_json_doc *doc = NULL;
    long st = 0;
    id[0] = '\0';
    if (tsv_buf_append(&q, "/api/v2/orgs", 12, err) != 0 ||
        http_common__param(c->curl, &q, "org", name, err) != 0 ||
        tsv_buf_append(&q, "", 1, err) != 0)
        goto out;
    influx2_req get = {.method = "GET", .path = (const char *)q.data};
    int found = 0;
    if (influx2__call(c, &get, &body, JSON_REPLY_MAX, &st, NULL, err) == 0) {
        if (tsv_json_parse(&doc, (const char *)body.data, body.len, err) != 0) {
            tsv_error_wrap(err, "GET /api/v2/orgs?org=: reply is not JSON");
            goto out;
        }
        const tsv_json *orgs = tsv_json_get(tsv_json_root(doc), "orgs");
        if (orgs && orgs->type == TSV_JSON_ARRAY && orgs->count > 0) {
            const char *oid = jstr(orgs->items[0], "id");
            const char *oname = jstr(orgs->items[0], "name");
            if (!is_id16(oid) || !oname || strcmp(oname, name) != 0) {
                tsv_error_set(err, TSV_EINTERNAL,
                              "GET /api/v2/orgs?org=%s answered org \"%s\" (%s), not the one "
                              "asked for",
                              name, oname ? oname : "", oid ? oid : "no id");
                goto out;
            }
            memcpy(id, oid, 17);
            found = 1;
        }
    } else if (st != 404) {
        tsv_error_wrap(err, "looking up org \"%s\"", name);
        goto out;
    }
    if (!found) {
        tsv_json_free(doc);
        doc = NULL;
        body.len = 0;
        tsv_buf jb = {0};
        tsv_json_writer jw;
        tsv_jw_init(&jw, &jb, NULL);
        tsv_jw_object_begin(&jw);
        tsv_jw_field_string(&jw, "name", name);
        tsv_jw_object_end(&jw);
        int jrc = tsv_jw_finish(&jw, err) || tsv_buf_append(&jb, "", 1, err);
        influx2_req post = {.method = "POST",
                            .path = "/api/v2/orgs",
                            .content_type = "application/json",
                            .json = (const char *)jb.data};
        if (jrc == 0)
            jrc = influx2__call(c, &post, &body, JSON_REPLY_MAX, NULL, NULL, err);
        tsv_buf_free(&jb);
        if (jrc != 0) {
            tsv_error_wrap(err, "creating org \"%s\"", name);
            goto out;
        }
        if (tsv_json_parse(&doc, (const char *)body.data, body.len, err) != 0) {
            tsv_error_wrap(err, "POST /api/v2/orgs: reply is not JSON");
            goto out;
        }
        const char *oid = jstr(tsv_json_root(doc), "id");
        if (!is_id16(oid)) {
            tsv_error_set(err, TSV_EINTERNAL,
                          "POST /api/v2/orgs answered success without a valid org id");
            goto out;
        }
        memcpy(id, oid, 17);
    }
    rc = 0;
out:
    tsv_json_free(doc);
    tsv_buf_free(&q);
    tsv_buf_free(&body);
    return rc;
}

/* The manifest with the target org and bucket name, for restore/bucketMetadata. */
static int rewrite_manifest(const tsv_json *b, const char *org_id, const char *org_name,
                            const char *bucket_name, tsv_buf *out, tsv_error *err)
{
    tsv_json_writer jw;
    tsv_jw_init(&jw, out, NULL);
    tsv_jw_object_begin(&jw);
    int seen_org = 0, seen_orgname = 0;
    for (size_t i = 0; i < b->count; i++) {
        const char *k = b->keys[i];
        tsv_jw_key_n(&jw, k, b->key_lens[i]);
        if (strcmp(k, "organizationID") == 0) {
            tsv_jw_string(&jw, org_id);
            seen_org = 1;
        } else if (strcmp(k, "organizationName") == 0) {
            tsv_jw_string(&jw, org_name);
            seen_orgname = 1;
        } else if (strcmp(k, "bucketName") == 0) {
            tsv_jw_string(&jw, bucket_name);
        } else {
            tsv_jw_node(&jw, b->items[i]);
        }
    }
    if (!seen_org) {
        tsv_jw_field_string(&jw, "organizationID", org_id);
    }
    if (!seen_orgname) {
        tsv_jw_field_string(&jw, "organizationName", org_name);
    }
    tsv_jw_object_end(&jw);
    if (tsv_jw_finish(&jw, err) != 0)
        return -1;
    return tsv_buf_append(out, "", 1, err);
}

typedef struct mapping {
    uint64_t old_id, new_id;
} mapping;

static int restore_one(tsv_influx2 *c, const tsv_influx2_restore_request *req, const tsv_json *b,
                       const char *org_id, const char *org_name, const char *bucket_name,
                       uint64_t *sent, tsv_error *err)
{
    int rc = -1;
    tsv_buf body = {0}, reply = {0};
    tsv_json_doc *doc = NULL;
    shard_list sl = {0};
    mapping *map = NULL;
    size_t nmap = 0;
    char new_id[17] = "";
    if (bucket_shards(b, jstr(b, "bucketName"), &sl, err) != 0)
        goto out;
    if (rewrite_manifest(b, org_id, org_name, bucket_name, &body, err) != 0)
        goto out;
    influx2_req post = {.method = "POST",
                        .path = "/api/v2/restore/bucketMetadata",
                        .content_type = "application/json",
                        .json = (const char *)body.data};
    if (influx2__call(c, &post, &reply, JSON_REPLY_MAX, NULL, NULL, err) != 0)
        goto out;
    tsv_error jerr;
    if (tsv_json_parse(&doc, reply.data ? (const char *)reply.data : "", reply.len, &jerr) != 0) {
        tsv_error_set(err, TSV_EINTERNAL,
                      "POST /api/v2/restore/bucketMetadata answered success with a body that is "
                      "not JSON (%s)",
                      jerr.message);
        goto out;
    }
    const tsv_json *root = tsv_json_root(doc);
    const char *rid = jstr(root, "id"), *rname = jstr(root, "name");
    const tsv_json *sm = tsv_json_get(root, "shardMappings");
    if (!is_id16(rid) || !rname || strcmp(rname, bucket_name) != 0 || !sm ||
        (sm->type != TSV_JSON_ARRAY && sm->type != TSV_JSON_NULL)) {
        tsv_error_set(err, TSV_EINTERNAL,
                      "POST /api/v2/restore/bucketMetadata answered success but not with the "
                      "bucket asked for (id %s, name \"%s\", shardMappings %s)",
                      rid ? rid : "missing", rname ? rname : "", sm ? "malformed" : "missing");
        goto out;
    }
    memcpy(new_id, rid, 17);
    if (sm->type == TSV_JSON_ARRAY && sm->count > 0) {
        if (!(map = calloc(sm->count, sizeof *map))) {
            tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < sm->count; i++, nmap++)
            if (tsv_json_u64(tsv_json_get(sm->items[i], "oldId"), &map[i].old_id,
                             "shardMappings.oldId", err) != 0 ||
                tsv_json_u64(tsv_json_get(sm->items[i], "newId"), &map[i].new_id,
                             "shardMappings.newId", err) != 0) {
                tsv_error_wrap(err, "POST /api/v2/restore/bucketMetadata");
                goto out;
            }
    }
    /* The mapping must cover every shard before anything is uploaded. */
    for (size_t k = 0; k < sl.n; k++) {
        size_t j = 0;
        while (j < nmap && map[j].old_id != sl.ids[k])
            j++;
        if (j == nmap) {
            tsv_error_set(err, TSV_EINTERNAL,
                          "the target created bucket \"%s\" (%s) but did not map shard %" PRIu64
                          " (%zu of %zu shards mapped); no shard of this bucket was uploaded",
                          bucket_name, new_id, sl.ids[k], nmap, sl.n);
            goto out;
        }
    }
    for (size_t k = 0; k < sl.n; k++) {
        size_t j = 0;
        while (map[j].old_id != sl.ids[k])
            j++;
        if (upload_shard(c, req, sl.ids[k], map[j].new_id, sent, err) < 0)
            goto out;
    }
    if (verify_bucket(c, new_id, bucket_name, org_id, "after the restore", err) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        tsv_error_wrap(err, "restoring bucket \"%s\" into org \"%s\"", bucket_name, org_name);
    free(map);
    free(sl.ids);
    tsv_json_free(doc);
    tsv_buf_free(&body);
    tsv_buf_free(&reply);
    return rc;
}

static int restore_partial(tsv_influx2 *c, const tsv_influx2_restore_request *req,
                           const tsv_json *buckets, uint64_t *sent, tsv_error *err)
{
    int rc = -1;
    org_cache *orgs = calloc(buckets->count + 1, sizeof *orgs);
    size_t norgs = 0, selected = 0;
    if (!orgs)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    for (size_t i = 0; i < buckets->count; i++) {
        const tsv_json *b = buckets->items[i];
        const char *bname = jstr(b, "bucketName"), *oname = jstr(b, "organizationName");
        if (bname[0] == '_')
            continue; /* system buckets: the target has its own */
        if (req->bucket_name && strcmp(req->bucket_name, bname) != 0)
            continue;
        if (req->org_name && strcmp(req->org_name, oname) != 0)
            continue;
        selected++;
        const char *to_org = req->new_org_name ? req->new_org_name : oname;
        const char *to_bucket = req->new_bucket_name ? req->new_bucket_name : bname;
        size_t o = 0;
        while (o < norgs && strcmp(orgs[o].name, to_org) != 0)
            o++;
        if (o == norgs) {
            snprintf(orgs[o].name, sizeof orgs[o].name, "%s", to_org);
            if (resolve_org(c, to_org, orgs[o].id, err) != 0)
                goto out;
            norgs++;
        }
        if (restore_one(c, req, b, orgs[o].id, to_org, to_bucket, sent, err) != 0)
            goto out;
    }
    if (selected == 0 && (req->bucket_name || req->org_name)) {
        tsv_error_set(err, TSV_ENOTFOUND, "no bucket%s%s%s%s%s in the backup manifests",
                      req->bucket_name ? " \"" : "", req->bucket_name ? req->bucket_name : "",
                      req->bucket_name ? "\"" : "", req->org_name ? " in org " : "",
                      req->org_name ? req->org_name : "");
        goto out;
    }
    rc = 0;
out:
    free(orgs);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Entry point
 * ------------------------------------------------------------------------- */

int tsv_influx2_restore(tsv_influx2 *c, const tsv_influx2_restore_request *req,
                        uint64_t *bytes_sent, tsv_error *err)
{
    uint64_t sent = 0;
    if (bytes_sent)
        *bytes_sent = 0;
    if (!req->buckets_json)
        return tsv_error_set(err, TSV_EINVALID, "no bucket manifests");
    if (!req->open_shard)
        return tsv_error_set(err, TSV_EINVALID, "no open_shard callback");
    if (req->full &&
        (req->bucket_name || req->org_name || req->new_bucket_name || req->new_org_name))
        return tsv_error_set(err, TSV_EINVALID,
                             "a full restore cannot be limited to a single org or bucket");
    if (req->full && !req->kv)
        return tsv_error_set(err, TSV_EINVALID, "a full restore needs the KV snapshot");
    if (!req->full && (req->kv || req->sql))
        return tsv_error_set(err, TSV_EINVALID,
                             "a partial restore does not restore the KV or SQL snapshot");
    if (req->new_bucket_name && !req->bucket_name)
        return tsv_error_set(err, TSV_EINVALID, "a new bucket name needs the bucket to restore");
    if (req->new_org_name && !req->org_name)
        return tsv_error_set(err, TSV_EINVALID, "a new org name needs the org to restore");
    if (req->new_bucket_name && (!*req->new_bucket_name || req->new_bucket_name[0] == '_'))
        return tsv_error_set(err, TSV_EINVALID, "invalid new bucket name \"%s\"",
                             req->new_bucket_name);

    int rc = -1;
    tsv_json_doc *doc = NULL;
    if (tsv_json_parse(&doc, req->buckets_json, req->buckets_len, err) != 0) {
        tsv_error_wrap(err, "bucket manifests");
        goto out;
    }
    const tsv_json *buckets = tsv_json_root(doc);
    if (buckets->type != TSV_JSON_ARRAY) {
        tsv_error_set(err, TSV_EINVALID, "bucket manifests: a JSON %s, not an array",
                      tsv_json_type_name(buckets->type));
        goto out;
    }
    for (size_t i = 0; i < buckets->count; i++) {
        const tsv_json *b = buckets->items[i];
        const char *bname = jstr(b, "bucketName");
        if (b->type != TSV_JSON_OBJECT || !bname || !*bname || !jstr(b, "organizationName") ||
            !is_id16(jstr(b, "bucketID")) || !is_id16(jstr(b, "organizationID"))) {
            tsv_error_set(err, TSV_EINVALID,
                          "bucket manifest %zu lacks bucketName, bucketID, organizationName or "
                          "organizationID",
                          i);
            goto out;
        }
    }
    rc = req->full ? restore_full(c, req, buckets, &sent, err)
                   : restore_partial(c, req, buckets, &sent, err);
out:
    if (bytes_sent)
        *bytes_sent = sent;
    tsv_json_free(doc);
    if (rc != 0)
        influx2__scrub(c, err);
    return rc;
}
