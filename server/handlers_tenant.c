/*
 * handlers_tenant: /api/v2/setup, /api/v2/orgs and /api/v2/buckets, the part
 * of InfluxDB's tenant API that the influx CLI and client libraries need
 * around backup and restore, in InfluxDB's JSON shapes.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "json.h"
#include "router.h"
#include "store.h"
#include "tenant.h"

static const char *opt_str(const tsv_json *obj, const char *key)
{
    const tsv_json *v = tsv_json_get_ci(obj, key);
    return v && v->type == TSV_JSON_STRING ? v->str : NULL;
}

static void write_org(tsv_json_writer *w, const tsv_org *o)
{
    tsv_jw_object_begin(w);
    tsv_jw_key(w, "links");
    tsv_jw_object_begin(w);
    static const char *const sub[] = {"labels", "logs", "members", "owners", "secrets"};
    tsv_jw_field_stringf(w, "buckets", "/api/v2/buckets?org=%s", o->name);
    tsv_jw_field_stringf(w, "dashboards", "/api/v2/dashboards?org=%s", o->name);
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++)
        tsv_jw_field_stringf(w, sub[i], "/api/v2/orgs/%s/%s", o->id, sub[i]);
    tsv_jw_field_stringf(w, "self", "/api/v2/orgs/%s", o->id);
    tsv_jw_field_stringf(w, "tasks", "/api/v2/tasks?org=%s", o->name);
    tsv_jw_object_end(w);
    tsv_jw_field_string(w, "id", o->id);
    tsv_jw_field_string(w, "name", o->name);
    tsv_jw_field_string(w, "description", o->description ? o->description : "");
    tsv_jw_field_string(w, "createdAt", o->created_at);
    tsv_jw_field_string(w, "updatedAt", o->updated_at);
    tsv_jw_object_end(w);
}

static void write_bucket(tsv_json_writer *w, const tsv_bucket *b)
{
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "id", b->id);
    tsv_jw_field_string(w, "orgID", b->org_id);
    tsv_jw_field_string(w, "type", b->type == 1 ? "system" : "user");
    tsv_jw_field_string(w, "name", b->name);
    if (b->description && *b->description) {
        tsv_jw_field_string(w, "description", b->description);
    }
    if (b->rp && *b->rp) {
        tsv_jw_field_string(w, "rp", b->rp);
    }
    tsv_jw_key(w, "retentionRules");
    tsv_jw_array_begin(w);
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "type", "expire");
    tsv_jw_field_i64(w, "everySeconds", b->retention_ns / 1000000000LL);
    tsv_jw_field_i64(w, "shardGroupDurationSeconds", b->shard_group_duration_ns / 1000000000LL);
    tsv_jw_object_end(w);
    tsv_jw_array_end(w);
    tsv_jw_field_string(w, "createdAt", b->created_at);
    tsv_jw_field_string(w, "updatedAt", b->updated_at);
    tsv_jw_key(w, "links");
    tsv_jw_object_begin(w);
    static const char *const sub[] = {"labels", "members", "owners"};
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++)
        tsv_jw_field_stringf(w, sub[i], "/api/v2/buckets/%s/%s", b->id, sub[i]);
    tsv_jw_field_stringf(w, "org", "/api/v2/orgs/%s", b->org_id);
    tsv_jw_field_stringf(w, "self", "/api/v2/buckets/%s", b->id);
    tsv_jw_field_stringf(w, "write", "/api/v2/buckets/%s/write", b->id);
    tsv_jw_object_end(w);
    tsv_jw_key(w, "labels");
    tsv_jw_array_begin(w);
    tsv_jw_array_end(w);
    tsv_jw_object_end(w);
}

/* The end of a handler that fetched an org (o) or a bucket (b): rc 0
 * replies it with status and clears it, else replies *err (untouched). */
static int reply_tenant(tsv_http_req *req, int status, int rc, tsv_org *o, tsv_bucket *b,
                        const tsv_error *err)
{
    if (rc != 0)
        return tsv_http_reply_error(req, err);
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    if (o) {
        write_org(&w, o);
        tsv_org_clear(o);
    } else {
        write_bucket(&w, b);
        tsv_bucket_clear(b);
    }
    return tsv_http_reply_jw(req, status, &w, &buf);
}

/* ---- setup ------------------------------------------------------------- */

int tsv_handle_setup_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    int allowed;
    tsv_error err;
    if (tsv_store_setup_allowed(req->server->store, &allowed, &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_bool(&w, "allowed", allowed);
    tsv_jw_object_end(&w);
    return tsv_http_reply_jw(req, 200, &w, &buf);
}

static int parse_retention(const tsv_json *body, int64_t *out, tsv_error *err)
{
    *out = 0;
    const tsv_json *secs = tsv_json_get_ci(body, "retentionPeriodSeconds");
    const tsv_json *hrs = tsv_json_get_ci(body, "retentionPeriodHrs");
    int64_t v;
    if (secs && secs->type != TSV_JSON_NULL) {
        if (tsv_json_i64(secs, &v, "retentionPeriodSeconds", err) != 0)
            return -1;
        if (v < 0 || v > INT64_MAX / 1000000000LL)
            return tsv_error_set(err, TSV_EINVALID, "retentionPeriodSeconds out of range");
        *out = v * 1000000000LL;
    } else if (hrs && hrs->type != TSV_JSON_NULL) {
        if (tsv_json_i64(hrs, &v, "retentionPeriodHrs", err) != 0)
            return -1;
        if (v < 0 || v > INT64_MAX / 3600000000000LL)
            return tsv_error_set(err, TSV_EINVALID, "retentionPeriodHrs out of range");
        *out = v * 3600000000000LL;
    }
    return 0;
}

int tsv_handle_setup_post(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    tsv_error err;
    tsv_json_doc *doc;
    if (tsv_http_read_json(req, &doc, &err) != 0)
        return tsv_http_reply_error(req, &err);
    const tsv_json *body = tsv_json_root(doc);
    tsv_setup_request sr = {
        .username = opt_str(body, "username"),
        .password = opt_str(body, "password"),
        .org = opt_str(body, "org"),
        .bucket = opt_str(body, "bucket"),
        .token = opt_str(body, "token"),
    };
    int rc;
    if (!sr.username || !*sr.username)
        rc = tsv_error_set(&err, TSV_EUNPROCESSABLE, "username is empty");
    else if (!sr.org || !*sr.org)
        rc = tsv_error_set(&err, TSV_EUNPROCESSABLE, "org name is empty");
    else if (!sr.bucket || !*sr.bucket)
        rc = tsv_error_set(&err, TSV_EUNPROCESSABLE, "bucket name is empty");
    else
        rc = parse_retention(body, &sr.retention_ns, &err);
    tsv_setup_result res;
    if (rc == 0)
        rc = tsv_store_setup(req->server->store, &sr, &res, &err);
    /* sr points into doc: it is freed only once the reply is built. */
    tsv_org org = {0};
    tsv_bucket bucket = {0};
    if (rc == 0)
        rc = tsv_store_org_get(req->server->store, res.org_id, &org, &err);
    if (rc == 0)
        rc = tsv_store_bucket_get(req->server->store, res.bucket_id, &bucket, &err);
    if (rc != 0) {
        tsv_org_clear(&org);
        tsv_json_free(doc);
        return tsv_http_reply_error(req, &err);
    }
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "user");
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "links");
    tsv_jw_object_begin(&w);
    tsv_jw_field_stringf(&w, "self", "/api/v2/users/%s", res.user_id);
    tsv_jw_object_end(&w);
    tsv_jw_field_string(&w, "id", res.user_id);
    tsv_jw_field_string(&w, "name", sr.username);
    tsv_jw_field_string(&w, "status", "active");
    tsv_jw_object_end(&w);
    tsv_jw_key(&w, "org");
    write_org(&w, &org);
    tsv_jw_key(&w, "bucket");
    write_bucket(&w, &bucket);
    tsv_jw_key(&w, "auth");
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "id", res.auth_id);
    tsv_jw_field_string(&w, "token", res.token);
    tsv_jw_field_string(&w, "status", "active");
    tsv_jw_key(&w, "description");
    char desc[300];
    snprintf(desc, sizeof desc, "%s's Token", sr.username);
    tsv_jw_string(&w, desc);
    tsv_jw_field_string(&w, "orgID", res.org_id);
    tsv_jw_field_string(&w, "org", org.name);
    tsv_jw_field_string(&w, "userID", res.user_id);
    tsv_jw_field_string(&w, "user", sr.username);
    tsv_jw_field_string(&w, "createdAt", org.created_at);
    tsv_jw_field_string(&w, "updatedAt", org.created_at);
    tsv_jw_object_end(&w);
    tsv_jw_object_end(&w);
    tsv_org_clear(&org);
    tsv_bucket_clear(&bucket);
    tsv_json_free(doc);
    memset(&res, 0, sizeof res); /* the token */
    return tsv_http_reply_jw(req, 201, &w, &buf);
}

/* ---- orgs -------------------------------------------------------------- */

typedef struct org_list_ctx {
    tsv_json_writer *w;
    const tsv_caller *caller;
    int count;
} org_list_ctx;

static int org_visit(void *ctx, const tsv_org *org, tsv_error *err)
{
    (void)err;
    org_list_ctx *c = ctx;
    if (!tsv_auth_allows(c->caller, TSV_ACTION_READ, "orgs", NULL, org->id))
        return 0; /* tokens only see the organizations they may read */
    write_org(c->w, org);
    c->count++;
    return 0;
}

int tsv_handle_orgs_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    char name[512];
    int has_name = tsv_http_query(req, "org", name, sizeof name);
    if (has_name < 0)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "org parameter too long");
    char id[64];
    int has_id = tsv_http_query(req, "orgID", id, sizeof id);
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_http_list_begin(&w, &buf, "/api/v2/orgs", "orgs");
    org_list_ctx ctx = {.w = &w, .caller = c};
    tsv_error err;
    int rc;
    if (has_id > 0) {
        tsv_org o;
        uint64_t v;
        rc = tsv_id_parse(id, &v, &err);
        if (rc == 0)
            rc = tsv_store_org_get(req->server->store, id, &o, &err);
        if (rc == 0) {
            rc = org_visit(&ctx, &o, &err);
            tsv_org_clear(&o);
        }
    } else {
        rc = tsv_store_orgs_list(req->server->store, has_name > 0 ? name : NULL, org_visit, &ctx,
                                 &err);
    }
    if (rc == 0 && (has_name > 0 || has_id > 0) && ctx.count == 0)
        rc = tsv_error_set(&err, TSV_ENOTFOUND, "organization name \"%s\" not found",
                           has_name > 0 ? name : id);
    return tsv_http_list_end(req, rc, &w, &buf, &err);
}

int tsv_handle_orgs_post(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    tsv_error err;
    if (tsv_auth_require(c, TSV_ACTION_WRITE, "orgs", NULL, NULL, &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_json_doc *doc;
    if (tsv_http_read_json(req, &doc, &err) != 0)
        return tsv_http_reply_error(req, &err);
    const tsv_json *body = tsv_json_root(doc);
    const char *name = opt_str(body, "name");
    const char *desc = opt_str(body, "description");
    tsv_org org;
    int rc = tsv_store_org_create(req->server->store, name ? name : "", desc, &org, &err);
    tsv_json_free(doc);
    return reply_tenant(req, 201, rc, &org, NULL, &err);
}

/* ---- buckets ----------------------------------------------------------- */

typedef struct bucket_list_ctx {
    tsv_json_writer *w;
} bucket_list_ctx;

static int bucket_visit(void *ctx, const tsv_bucket *b, tsv_error *err)
{
    (void)err;
    bucket_list_ctx *c = ctx;
    write_bucket(c->w, b);
    return 0;
}

static int parse_uint_param(tsv_http_req *req, const char *name, uint64_t def, uint64_t max,
                            uint64_t *out, tsv_error *err)
{
    char v[32];
    int has = tsv_http_query(req, name, v, sizeof v);
    *out = def;
    if (has == 0)
        return 0;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (has < 0 || !*v || *end || v[0] == '-' || x > max)
        return tsv_error_set(err, TSV_EINVALID, "invalid %s: %s", name, has < 0 ? "too long" : v);
    *out = x;
    return 0;
}

int tsv_handle_buckets_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    tsv_error err;
    char id[64], org_id[64], org_name[512], name[512];
    tsv_bucket_filter f = {0};
    if (tsv_http_query(req, "id", id, sizeof id) > 0)
        f.id = id;
    if (tsv_http_query(req, "orgID", org_id, sizeof org_id) > 0)
        f.org_id = org_id;
    if (tsv_http_query(req, "org", org_name, sizeof org_name) > 0)
        f.org_name = org_name;
    if (tsv_http_query(req, "name", name, sizeof name) > 0)
        f.name = name;
    if (!c->all)
        f.visible = &c->perms; /* only what the token may read */
    uint64_t limit, offset;
    /* influxd: limit defaults to 20 and may be 1..100. */
    if (parse_uint_param(req, "limit", 20, 100, &limit, &err) != 0 ||
        parse_uint_param(req, "offset", 0, UINT64_MAX, &offset, &err) != 0)
        return tsv_http_reply_error(req, &err);
    if (limit == 0)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "limit must be between 1 and 100");
    if (f.org_id) {
        uint64_t v;
        if (tsv_id_parse(f.org_id, &v, &err) != 0)
            return tsv_http_reply_error(req, &err);
    }
    char self[128];
    snprintf(self, sizeof self,
             "/api/v2/buckets?descending=false&limit=%" PRIu64 "&offset=%" PRIu64, limit, offset);
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_http_list_begin(&w, &buf, self, "buckets");
    bucket_list_ctx ctx = {.w = &w};
    int rc =
        tsv_store_buckets_list(req->server->store, &f, offset, limit, bucket_visit, &ctx, &err);
    return tsv_http_list_end(req, rc, &w, &buf, &err);
}

/* retentionRules: at most one "expire" rule; *set = 1 when the member is
 * present (an empty list means infinite retention). */
static int parse_retention_rules(const tsv_json *body, int *set, int64_t *retention, int64_t *sgd,
                                 tsv_error *err)
{
    *set = 0;
    *retention = *sgd = 0;
    const tsv_json *rules = tsv_json_get_ci(body, "retentionRules");
    if (!rules || rules->type != TSV_JSON_ARRAY)
        return 0;
    *set = 1;
    if (rules->count > 1)
        return tsv_error_set(err, TSV_EINVALID, "expected at most one retention rule");
    for (size_t i = 0; i < rules->count; i++) {
        const tsv_json *r = rules->items[i];
        int64_t every = 0, sg = 0;
        const tsv_json *e = tsv_json_get_ci(r, "everySeconds");
        const tsv_json *s = tsv_json_get_ci(r, "shardGroupDurationSeconds");
        if (e && tsv_json_i64(e, &every, "everySeconds", err) != 0)
            return -1;
        if (s && tsv_json_i64(s, &sg, "shardGroupDurationSeconds", err) != 0)
            return -1;
        if (every < 0 || sg < 0 || every > INT64_MAX / 1000000000LL ||
            sg > INT64_MAX / 1000000000LL)
            return tsv_error_set(err, TSV_EUNPROCESSABLE, "retention rule out of range");
        *retention = every * 1000000000LL;
        *sgd = sg * 1000000000LL;
    }
    return 0;
}

int tsv_handle_buckets_post(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    tsv_error err;
    tsv_json_doc *doc;
    if (tsv_http_read_json(req, &doc, &err) != 0)
        return tsv_http_reply_error(req, &err);
    const tsv_json *body = tsv_json_root(doc);
    const char *org_id = opt_str(body, "orgID");
    const char *name = opt_str(body, "name");
    const char *desc = opt_str(body, "description");
    int64_t retention = 0, sgd = 0;
    int set = 0;
    int rc = parse_retention_rules(body, &set, &retention, &sgd, &err);
    if (rc == 0 && (!org_id || !*org_id))
        rc = tsv_error_set(&err, TSV_EINVALID, "organization id is required (orgID)");
    uint64_t oid;
    char org_hex[17];
    if (rc == 0 && tsv_id_parse(org_id, &oid, &err) != 0)
        rc = -1;
    if (rc == 0) {
        tsv_id_format(oid, org_hex);
        rc = tsv_auth_require(c, TSV_ACTION_WRITE, "buckets", org_hex, NULL, &err);
    }
    tsv_bucket b;
    if (rc == 0)
        rc = tsv_store_bucket_create(req->server->store, org_id, name ? name : "", desc, retention,
                                     sgd, &b, &err);
    tsv_json_free(doc);
    return reply_tenant(req, 201, rc, NULL, &b, &err);
}

/* The bucket named by the {bucketID} path parameter (any case accepted). */
static int load_path_bucket(tsv_http_req *req, const tsv_route_params *p, tsv_bucket *out,
                            tsv_error *err)
{
    uint64_t v;
    if (tsv_id_parse(tsv_route_param(p, "bucketID"), &v, err) != 0)
        return -1;
    char id[17];
    tsv_id_format(v, id);
    return tsv_store_bucket_get(req->server->store, id, out, err);
}

int tsv_handle_bucket_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    tsv_bucket b;
    if (load_path_bucket(req, p, &b, &err) != 0)
        return tsv_http_reply_error(req, &err);
    int rc = tsv_auth_require_read_bucket(c, b.type == 1, b.org_id, b.id, &err);
    if (rc != 0)
        tsv_bucket_clear(&b);
    return reply_tenant(req, 200, rc, NULL, &b, &err);
}

/* The {bucketID} bucket, which the caller must be allowed to write: its id
 * into id and (system not NULL) whether it is a system bucket. */
static int path_bucket_writable(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c,
                                char id[17], int *system, tsv_error *err)
{
    tsv_bucket b;
    if (load_path_bucket(req, p, &b, err) != 0)
        return -1;
    memcpy(id, b.id, sizeof b.id);
    int rc = tsv_auth_require(c, TSV_ACTION_WRITE, "buckets", b.org_id, b.id, err);
    if (system)
        *system = b.type == 1;
    tsv_bucket_clear(&b);
    return rc;
}

int tsv_handle_bucket_delete(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    char id[17];
    int system;
    if (path_bucket_writable(req, p, c, id, &system, &err) != 0)
        return tsv_http_reply_error(req, &err);
    if (system)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "system buckets cannot be deleted");
    if (tsv_store_bucket_delete(req->server->store, id, &err) != 0)
        return tsv_http_reply_error(req, &err);
    return tsv_http_reply_empty(req, 204);
}

int tsv_handle_bucket_patch(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    char id[17];
    if (path_bucket_writable(req, p, c, id, NULL, &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_json_doc *doc;
    if (tsv_http_read_json(req, &doc, &err) != 0)
        return tsv_http_reply_error(req, &err);
    const tsv_json *body = tsv_json_root(doc);
    tsv_bucket_update upd = {.name = opt_str(body, "name"),
                             .description = opt_str(body, "description")};
    int rc = parse_retention_rules(body, &upd.set_retention, &upd.retention_ns, &upd.sgd_ns, &err);
    tsv_bucket b;
    if (rc == 0)
        rc = tsv_store_bucket_update(req->server->store, id, &upd, &b, &err);
    tsv_json_free(doc);
    return reply_tenant(req, 200, rc, NULL, &b, &err);
}

/* The org named by the {orgID} path parameter, lowercase. */
static int path_org_id(const tsv_route_params *p, char id[17], tsv_error *err)
{
    uint64_t v;
    if (tsv_id_parse(tsv_route_param(p, "orgID"), &v, err) != 0)
        return -1;
    tsv_id_format(v, id);
    return 0;
}

int tsv_handle_org_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    char id[17];
    tsv_org o;
    if (path_org_id(p, id, &err) != 0 ||
        tsv_auth_require(c, TSV_ACTION_READ, "orgs", NULL, id, &err) != 0 ||
        tsv_store_org_get(req->server->store, id, &o, &err) != 0)
        return tsv_http_reply_error(req, &err);
    return reply_tenant(req, 200, 0, &o, NULL, &err);
}

int tsv_handle_org_patch(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    char id[17];
    if (path_org_id(p, id, &err) != 0 ||
        tsv_auth_require(c, TSV_ACTION_WRITE, "orgs", NULL, id, &err) != 0)
        return tsv_http_reply_error(req, &err);
    tsv_json_doc *doc;
    if (tsv_http_read_json(req, &doc, &err) != 0)
        return tsv_http_reply_error(req, &err);
    const tsv_json *body = tsv_json_root(doc);
    tsv_org o;
    int rc = tsv_store_org_update(req->server->store, id, opt_str(body, "name"),
                                  opt_str(body, "description"), &o, &err);
    tsv_json_free(doc);
    return reply_tenant(req, 200, rc, &o, NULL, &err);
}

int tsv_handle_org_delete(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    tsv_error err;
    char id[17];
    if (path_org_id(p, id, &err) != 0 ||
        tsv_auth_require(c, TSV_ACTION_WRITE, "orgs", NULL, id, &err) != 0 ||
        tsv_store_org_delete(req->server->store, id, &err) != 0)
        return tsv_http_reply_error(req, &err);
    return tsv_http_reply_empty(req, 204);
}
