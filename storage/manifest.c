/* manifest: BucketMetadataManifest JSON <-> DatabaseInfo. */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenant.h"
#include "tsv_time.h"

static int fail(tsv_error *err, const char *fmt, const char *what)
{
    return tsv_error_set(err, TSV_EINVALID, "failed to unmarshal json: %s%s", fmt,
                         what ? what : "");
}

/* Optional string member: absent/null -> *out NULL. */
static int get_str(const tsv_json *obj, const char *key, char **out, tsv_error *err)
{
    *out = NULL;
    const tsv_json *v = tsv_json_get_ci(obj, key);
    if (!v || v->type == TSV_JSON_NULL)
        return 0;
    if (v->type != TSV_JSON_STRING)
        return fail(err, "json: cannot unmarshal non-string into field ", key);
    if (memchr(v->str, '\0', v->len))
        return fail(err, "NUL byte in field ", key);
    if (!(*out = strndup(v->str, v->len)))
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    return 0;
}

static int get_i64(const tsv_json *obj, const char *key, int64_t *out, tsv_error *err)
{
    *out = 0;
    const tsv_json *v = tsv_json_get_ci(obj, key);
    if (!v || v->type == TSV_JSON_NULL)
        return 0;
    return tsv_json_i64(v, out, key, err) == 0 ? 0
                                               : tsv_error_wrap(err, "failed to unmarshal json");
}

static int get_u64(const tsv_json *obj, const char *key, uint64_t *out, tsv_error *err)
{
    *out = 0;
    const tsv_json *v = tsv_json_get_ci(obj, key);
    if (!v || v->type == TSV_JSON_NULL)
        return 0;
    return tsv_json_u64(v, out, key, err) == 0 ? 0
                                               : tsv_error_wrap(err, "failed to unmarshal json");
}

/* Optional RFC 3339 time member: absent/null -> 0 (Go's zero time). */
static int get_time(const tsv_json *obj, const char *key, int64_t *out, tsv_error *err)
{
    *out = 0;
    const tsv_json *v = tsv_json_get_ci(obj, key);
    if (!v || v->type == TSV_JSON_NULL)
        return 0;
    if (v->type != TSV_JSON_STRING)
        return fail(err, "json: cannot unmarshal non-string into time field ", key);
    if (tsv_parse_rfc3339(v->str, v->len, out, err) != 0)
        return tsv_error_wrap(err, "failed to unmarshal json: %s", key);
    return 0;
}

static const tsv_json *get_array(const tsv_json *obj, const char *key, tsv_error *err, int *bad)
{
    *bad = 0;
    const tsv_json *v = tsv_json_get_ci(obj, key);
    if (!v || v->type == TSV_JSON_NULL)
        return NULL;
    if (v->type != TSV_JSON_ARRAY) {
        *bad = 1;
        fail(err, "json: cannot unmarshal non-array into field ", key);
        return NULL;
    }
    return v;
}

static int get_id(const tsv_json *obj, const char *key, char out[17], tsv_error *err)
{
    out[0] = '\0';
    const tsv_json *v = tsv_json_get_ci(obj, key);
    if (!v || v->type == TSV_JSON_NULL)
        return 0;
    if (v->type != TSV_JSON_STRING)
        return fail(err, "json: cannot unmarshal non-string into ", key);
    char buf[32];
    snprintf(buf, sizeof buf, "%.*s", (int)(v->len < 31 ? v->len : 31), v->str);
    uint64_t id;
    if (v->len != 16 || tsv_id_parse(buf, &id, err) != 0)
        return tsv_error_set(err, TSV_EINVALID, "failed to unmarshal json: %s: %s", key,
                             v->len != 16 ? "id must have a length of 16 bytes" : "invalid ID");
    tsv_id_format(id, out);
    return 0;
}

#define ALLOC_ARRAY(ptr, n)                                                                        \
    ((n) == 0 ? ((ptr) = NULL, 0) : (((ptr) = calloc((n), sizeof *(ptr))) ? 0 : -1))

static int parse_shard(const tsv_json *j, Meta__ShardInfo **out, tsv_error *err)
{
    Meta__ShardInfo *s = malloc(sizeof *s);
    if (!s)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    meta__shard_info__init(s);
    *out = s;
    if (j->type != TSV_JSON_OBJECT)
        return fail(err, "json: shard must be an object", NULL);
    if (get_u64(j, "id", &s->id, err) != 0)
        return -1;
    int bad;
    const tsv_json *owners = get_array(j, "shardOwners", err, &bad);
    if (bad)
        return -1;
    if (owners) {
        if (ALLOC_ARRAY(s->owners, owners->count) != 0)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        for (size_t i = 0; i < owners->count; i++) {
            Meta__ShardOwner *o = malloc(sizeof *o);
            if (!o)
                return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            meta__shard_owner__init(o);
            s->owners[i] = o;
            s->n_owners = i + 1;
            if (owners->items[i]->type != TSV_JSON_OBJECT)
                return fail(err, "json: shard owner must be an object", NULL);
            if (get_u64(owners->items[i], "nodeID", &o->nodeid, err) != 0)
                return -1;
        }
    }
    return 0;
}

static int parse_group(const tsv_json *j, Meta__ShardGroupInfo **out, tsv_error *err)
{
    Meta__ShardGroupInfo *g = malloc(sizeof *g);
    if (!g)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    meta__shard_group_info__init(g);
    *out = g;
    if (j->type != TSV_JSON_OBJECT)
        return fail(err, "json: shard group must be an object", NULL);
    int64_t truncated = 0;
    if (get_u64(j, "id", &g->id, err) != 0 || get_time(j, "startTime", &g->starttime, err) != 0 ||
        get_time(j, "endTime", &g->endtime, err) != 0 ||
        get_time(j, "deletedAt", &g->deletedat, err) != 0 ||
        get_time(j, "truncatedAt", &truncated, err) != 0)
        return -1;
    if (truncated) {
        g->has_truncatedat = 1;
        g->truncatedat = truncated;
    }
    int bad;
    const tsv_json *shards = get_array(j, "shards", err, &bad);
    if (bad)
        return -1;
    if (shards) {
        if (ALLOC_ARRAY(g->shards, shards->count) != 0)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        for (size_t i = 0; i < shards->count; i++) {
            g->n_shards = i + 1;
            if (parse_shard(shards->items[i], &g->shards[i], err) != 0)
                return -1;
        }
    }
    return 0;
}

static int parse_sub(const tsv_json *j, Meta__SubscriptionInfo **out, tsv_error *err)
{
    Meta__SubscriptionInfo *s = malloc(sizeof *s);
    if (!s)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    meta__subscription_info__init(s);
    s->name = s->mode = NULL;
    *out = s;
    if (j->type != TSV_JSON_OBJECT)
        return fail(err, "json: subscription must be an object", NULL);
    if (get_str(j, "name", &s->name, err) != 0 || get_str(j, "mode", &s->mode, err) != 0)
        return -1;
    if ((!s->name && !(s->name = strndup("", 0))) || (!s->mode && !(s->mode = strndup("", 0))))
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    int bad;
    const tsv_json *dest = get_array(j, "destinations", err, &bad);
    if (bad)
        return -1;
    if (dest) {
        if (ALLOC_ARRAY(s->destinations, dest->count) != 0)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        for (size_t i = 0; i < dest->count; i++) {
            const tsv_json *d = dest->items[i];
            if (d->type != TSV_JSON_STRING)
                return fail(err, "json: destination must be a string", NULL);
            if (!(s->destinations[i] = strndup(d->str, d->len)))
                return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            s->n_destinations = i + 1;
        }
    }
    return 0;
}

static int parse_rp(const tsv_json *j, Meta__RetentionPolicyInfo **out, tsv_error *err)
{
    Meta__RetentionPolicyInfo *rp = malloc(sizeof *rp);
    if (!rp)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    meta__retention_policy_info__init(rp);
    rp->name = NULL;
    *out = rp;
    if (j->type != TSV_JSON_OBJECT)
        return fail(err, "json: retention policy must be an object", NULL);
    uint64_t replica = 0;
    if (get_str(j, "name", &rp->name, err) != 0 || get_u64(j, "replicaN", &replica, err) != 0 ||
        get_i64(j, "duration", &rp->duration, err) != 0 ||
        get_i64(j, "shardGroupDuration", &rp->shardgroupduration, err) != 0)
        return -1;
    if (!rp->name && !(rp->name = strndup("", 0)))
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (replica > UINT32_MAX)
        return fail(err, "json: replicaN out of range", NULL);
    rp->replican = (uint32_t)replica;
    int bad;
    const tsv_json *groups = get_array(j, "shardGroups", err, &bad);
    if (bad)
        return -1;
    if (groups) {
        if (ALLOC_ARRAY(rp->shardgroups, groups->count) != 0)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        for (size_t i = 0; i < groups->count; i++) {
            rp->n_shardgroups = i + 1;
            if (parse_group(groups->items[i], &rp->shardgroups[i], err) != 0)
                return -1;
        }
    }
    const tsv_json *subs = get_array(j, "subscriptions", err, &bad);
    if (bad)
        return -1;
    if (subs) {
        if (ALLOC_ARRAY(rp->subscriptions, subs->count) != 0)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        for (size_t i = 0; i < subs->count; i++) {
            rp->n_subscriptions = i + 1;
            if (parse_sub(subs->items[i], &rp->subscriptions[i], err) != 0)
                return -1;
        }
    }
    return 0;
}

int tsv_manifest_parse(const char *json, size_t len, tsv_manifest *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    tsv_json_doc *doc;
    if (tsv_json_parse(&doc, json, len, err) != 0)
        return tsv_error_wrap(err, "failed to unmarshal json");
    const tsv_json *j = tsv_json_root(doc);
    int rc = -1;
    if (j->type != TSV_JSON_OBJECT) {
        fail(err, "json: cannot unmarshal non-object into BucketMetadataManifest", NULL);
        goto done;
    }
    if (get_id(j, "organizationID", out->org_id, err) != 0 ||
        get_id(j, "bucketID", out->bucket_id, err) != 0 ||
        get_str(j, "organizationName", &out->org_name, err) != 0 ||
        get_str(j, "bucketName", &out->bucket_name, err) != 0 ||
        get_str(j, "description", &out->description, err) != 0)
        goto done;
    Meta__DatabaseInfo *db = malloc(sizeof *db);
    if (!db) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto done;
    }
    meta__database_info__init(db);
    db->name = db->defaultretentionpolicy = NULL;
    out->db = db;
    if (get_str(j, "defaultRetentionPolicy", &db->defaultretentionpolicy, err) != 0)
        goto done;
    db->name = strndup(out->bucket_name ? out->bucket_name : "",
                       out->bucket_name ? strlen(out->bucket_name) : 0);
    if (!db->defaultretentionpolicy)
        db->defaultretentionpolicy = strndup("", 0);
    if (!db->name || !db->defaultretentionpolicy) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto done;
    }
    int bad;
    const tsv_json *rps = get_array(j, "retentionPolicies", err, &bad);
    if (bad)
        goto done;
    if (rps) {
        if (ALLOC_ARRAY(db->retentionpolicies, rps->count) != 0) {
            tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < rps->count; i++) {
            db->n_retentionpolicies = i + 1;
            if (parse_rp(rps->items[i], &db->retentionpolicies[i], err) != 0)
                goto done;
        }
    }
    rc = 0;
done:
    tsv_json_free(doc);
    if (rc != 0)
        tsv_manifest_clear(out);
    return rc;
}

void tsv_manifest_clear(tsv_manifest *m)
{
    if (!m)
        return;
    free(m->org_name);
    free(m->bucket_name);
    free(m->description);
    tsv_meta_free_database(m->db);
    memset(m, 0, sizeof *m);
}

static void write_time(tsv_json_writer *w, const char *key, int64_t ns)
{
    char buf[40];
    tsv_format_rfc3339nano(ns, buf, sizeof buf);
    tsv_jw_field_string(w, key, buf);
}

void tsv_manifest_write(tsv_json_writer *w, const char *org_id, const char *org_name,
                        const char *bucket_id, const char *bucket_name, const char *description,
                        const Meta__DatabaseInfo *db)
{
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "organizationID", org_id);
    tsv_jw_field_string(w, "organizationName", org_name);
    tsv_jw_field_string(w, "bucketID", bucket_id);
    tsv_jw_field_string(w, "bucketName", bucket_name);
    if (description && *description) {
        tsv_jw_field_string(w, "description", description);
    }
    tsv_jw_field_string(w, "defaultRetentionPolicy",
                        db->defaultretentionpolicy ? db->defaultretentionpolicy : "");
    tsv_jw_key(w, "retentionPolicies");
    tsv_jw_array_begin(w);
    for (size_t r = 0; r < db->n_retentionpolicies; r++) {
        const Meta__RetentionPolicyInfo *rp = db->retentionpolicies[r];
        tsv_jw_object_begin(w);
        tsv_jw_field_string(w, "name", rp->name);
        tsv_jw_field_u64(w, "replicaN", rp->replican);
        tsv_jw_field_i64(w, "duration", rp->duration);
        tsv_jw_field_i64(w, "shardGroupDuration", rp->shardgroupduration);
        tsv_jw_key(w, "shardGroups");
        tsv_jw_array_begin(w);
        for (size_t g = 0; g < rp->n_shardgroups; g++) {
            const Meta__ShardGroupInfo *sg = rp->shardgroups[g];
            tsv_jw_object_begin(w);
            tsv_jw_field_u64(w, "id", sg->id);
            write_time(w, "startTime", sg->starttime);
            write_time(w, "endTime", sg->endtime);
            if (sg->deletedat)
                write_time(w, "deletedAt", sg->deletedat);
            if (sg->has_truncatedat && sg->truncatedat)
                write_time(w, "truncatedAt", sg->truncatedat);
            tsv_jw_key(w, "shards");
            tsv_jw_array_begin(w);
            for (size_t s = 0; s < sg->n_shards; s++) {
                const Meta__ShardInfo *sh = sg->shards[s];
                tsv_jw_object_begin(w);
                tsv_jw_field_u64(w, "id", sh->id);
                tsv_jw_key(w, "shardOwners");
                tsv_jw_array_begin(w);
                for (size_t o = 0; o < sh->n_owners; o++) {
                    tsv_jw_object_begin(w);
                    tsv_jw_field_u64(w, "nodeID", sh->owners[o]->nodeid);
                    tsv_jw_object_end(w);
                }
                tsv_jw_array_end(w);
                tsv_jw_object_end(w);
            }
            tsv_jw_array_end(w);
            tsv_jw_object_end(w);
        }
        tsv_jw_array_end(w);
        tsv_jw_key(w, "subscriptions");
        tsv_jw_array_begin(w);
        for (size_t s = 0; s < rp->n_subscriptions; s++) {
            const Meta__SubscriptionInfo *sub = rp->subscriptions[s];
            tsv_jw_object_begin(w);
            tsv_jw_field_string(w, "name", sub->name);
            tsv_jw_field_string(w, "mode", sub->mode);
            tsv_jw_key(w, "destinations");
            if (sub->n_destinations == 0) {
                tsv_jw_null(w); /* Go marshals a nil slice as null (B12) */
            } else {
                tsv_jw_array_begin(w);
                for (size_t d = 0; d < sub->n_destinations; d++)
                    tsv_jw_string(w, sub->destinations[d]);
                tsv_jw_array_end(w);
            }
            tsv_jw_object_end(w);
        }
        tsv_jw_array_end(w);
        tsv_jw_object_end(w);
    }
    tsv_jw_array_end(w);
    tsv_jw_object_end(w);
}
