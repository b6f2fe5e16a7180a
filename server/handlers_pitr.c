/*
 * handlers_pitr: point-in-time recovery (docs/api.md "Point-in-time
 * recovery"): the restorable range and the restore job, under /api/v2/pitr
 * (InfluxDB's {"code","message"} errors) and under the a9s seed's paths
 * /v1/instances/{id}/pitr (the seed's {"error","description"} errors; the
 * only instance is "local"). HTTP concerns only: storage/pitr.h computes the
 * range, jobs/jobs.h runs the restore as a job of type "pitr".
 */
#include <civetweb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "connections.h"
#include "jobs.h"
#include "json.h"
#include "pitr.h"
#include "pitr_preview.h"
#include "router.h"
#include "store_users.h"
#include "tsv_time.h"

#define PITR_BODY_MAX (64 * 1024)

/* RFC 3339 UTC with milliseconds, as the seed writes times. */
static void fmt_ms(int64_t ns, char *out, size_t len)
{
    time_t sec = (time_t)(ns / 1000000000LL);
    int ms = (int)((ns % 1000000000LL) / 1000000LL);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03dZ", base, ms);
}

static const char *seed_word(tsv_code code, int status)
{
    if (status == 409)
        return "Conflict";
    switch (code) {
    case TSV_EINVALID:
    case TSV_EEMPTY:
        return "BadRequest";
    case TSV_EUNAUTHORIZED:
        return "Unauthorized";
    case TSV_EFORBIDDEN:
        return "Forbidden";
    case TSV_ENOTFOUND:
        return "NotFound";
    case TSV_ETOOLARGE:
        return "RequestTooLarge";
    case TSV_EUNAVAILABLE:
    case TSV_ENOSPACE:
        return "ServiceUnavailable";
    default:
        return "InternalServerError";
    }
}

static int status_of(const tsv_error *err)
{
    return err->code == TSV_ECONFLICT ? 409 : tsv_code_http_status(err->code);
}

/* The seed's error shape. */
static int seed_error(tsv_http_req *req, const tsv_error *err)
{
    int status = status_of(err);
    tsv_buf b = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &b, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "error", seed_word(err->code, status));
    tsv_jw_field_string(&w, "description", err->message);
    tsv_jw_object_end(&w);
    return tsv_http_reply_jw(req, status, &w, &b);
}

static int api_error(tsv_http_req *req, const tsv_error *err)
{
    return tsv_http_reply_error_status(req, status_of(err), err);
}

/* instance "local": this server's own history; any other: a connection's
 * retained snapshots (first to last). */
static int range_reply(tsv_http_req *req, const char *instance, int seed)
{
    tsv_error err;
    tsv_pitr_range r;
    int rc;
    if (!instance || strcmp(instance, "local") == 0) {
        rc = tsv_pitr_range_get(req->server->store, &r, &err);
    } else {
        rc = tsv_conns_range(req->server->conns, instance, &r.start_ns, &r.end_ns, &err);
        if (rc == 0 && r.start_ns == 0)
            rc = tsv_error_set(&err, TSV_ENOTFOUND,
                               "connection \"%.64s\" has no snapshot yet: run a backup job",
                               instance);
    }
    if (rc != 0)
        return seed ? seed_error(req, &err) : api_error(req, &err);
    char a[40], b[40];
    fmt_ms(r.start_ns, a, sizeof a);
    fmt_ms(r.end_ns, b, sizeof b);
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "start_time", a);
    tsv_jw_field_string(&w, "end_time", b);
    tsv_jw_object_end(&w);
    return tsv_http_reply_jw(req, 200, &w, &buf);
}

static int restore_post(tsv_http_req *req, const tsv_caller *c, int seed)
{
    tsv_error err;
    tsv_buf body = {0};
    tsv_job_user u;
    if (tsv_http_job_request(req, c, PITR_BODY_MAX, &body, &u, &err) != 0)
        return seed ? seed_error(req, &err) : api_error(req, &err);
    tsv_buf out = {0};
    char id[64];
    int rc = tsv_jobs_pitr_create(req->server->jobs, body.data ? (const char *)body.data : "",
                                  body.len, &u, &out, id, sizeof id, &err);
    tsv_buf_free(&body);
    if (rc != 0) {
        tsv_buf_free(&out);
        return seed ? seed_error(req, &err) : api_error(req, &err);
    }
    rc = tsv_http_reply_json(req, 202, &out);
    tsv_buf_free(&out);
    return rc;
}

static int status_get(tsv_http_req *req, const char *id, int seed)
{
    tsv_error err;
    tsv_buf out = {0};
    if (tsv_jobs_pitr_status(req->server->jobs, id, &out, &err) != 0) {
        tsv_buf_free(&out);
        return seed ? seed_error(req, &err) : api_error(req, &err);
    }
    int rc = tsv_http_reply_json(req, 200, &out);
    tsv_buf_free(&out);
    return rc;
}

/* Seed paths: authenticated here so that 401/403/404 use the seed's shape. */
static int seed_gate(tsv_http_req *req, const tsv_route_params *p, tsv_caller *caller,
                     int connections_too)
{
    tsv_error err;
    memset(caller, 0, sizeof *caller);
    if (tsv_authenticate(req, TSV_AUTH_OPERATOR, caller, &err) != 0) {
        seed_error(req, &err);
        return -1;
    }
    const char *id = tsv_route_param(p, "id");
    int conn = id && strcmp(id, "local") != 0 && tsv_conns_exists(req->server->conns, id);
    if (conn && !connections_too) {
        tsv_error_set(&err, TSV_EINVALID,
                      "instance \"%.64s\" is a connection: restore one of its snapshots with a "
                      "job {\"type\":\"restore\",\"source\":{\"type\":\"connection\","
                      "\"connectionName\":\"%.64s\",\"targetTime\":\"...\"},\"target\":{\"type\":"
                      "\"connection\",...}}",
                      id, id);
        seed_error(req, &err);
        return -1;
    }
    if (!id || (strcmp(id, "local") != 0 && !conn)) {
        tsv_error_set(&err, TSV_ENOTFOUND,
                      "instance \"%.100s\" not found: instances are \"local\" and the "
                      "connections' names",
                      id ? id : "");
        seed_error(req, &err);
        return -1;
    }
    return 0;
}

int tsv_handle_pitr_range(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p, (void)c;
    return range_reply(req, "local", 0);
}

int tsv_handle_pitr_restore_post(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    return restore_post(req, c, 0);
}

int tsv_handle_pitr_restore_get(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    return status_get(req, tsv_route_param(p, "jobId"), 0);
}

int tsv_handle_seed_pitr_range(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)c;
    tsv_caller caller;
    int rc = seed_gate(req, p, &caller, 1) != 0 ? 0 : range_reply(req, tsv_route_param(p, "id"), 1);
    tsv_caller_clear(&caller);
    return rc;
}

int tsv_handle_seed_pitr_restore_post(tsv_http_req *req, const tsv_route_params *p,
                                      const tsv_caller *c)
{
    (void)c;
    tsv_caller caller;
    int rc = seed_gate(req, p, &caller, 0) != 0 ? 0 : restore_post(req, &caller, 1);
    tsv_caller_clear(&caller);
    return rc;
}

int tsv_handle_seed_pitr_restore_get(tsv_http_req *req, const tsv_route_params *p,
                                     const tsv_caller *c)
{
    (void)c;
    tsv_caller caller;
    int rc =
        seed_gate(req, p, &caller, 0) != 0 ? 0 : status_get(req, tsv_route_param(p, "jobId"), 1);
    tsv_caller_clear(&caller);
    return rc;
}

static void jw_version(tsv_json_writer *w, const char *key, uint64_t v)
{
    tsv_jw_key(w, key);
    if (v)
        tsv_jw_u64(w, v);
    else
        tsv_jw_null(w);
}

/* GET /api/v2/pitr/preview?target_time=T: what a restore to T would change
 * (storage/pitr_preview.h), the console's "see what would change". */
int tsv_handle_pitr_preview(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p, (void)c;
    tsv_error err;
    char when[64];
    int64_t target;
    int q = tsv_http_query(req, "target_time", when, sizeof when);
    if (q <= 0 || !when[0])
        return tsv_http_reply_error_code(req, TSV_EINVALID,
                                         "target_time is required (RFC 3339, e.g. "
                                         "2026-12-05T14:50:00Z)");
    if (tsv_parse_rfc3339(when, strlen(when), &target, &err) != 0)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "target_time \"%s\": %s", when,
                                         err.message);
    tsv_pitr_preview pv;
    if (tsv_pitr_preview_get(req->server->store, target, &pv, &err) != 0)
        return api_error(req, &err);
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_time(&w, "target_time", pv.target_ns);
    tsv_jw_field_time(&w, "now", pv.now_ns);
    const char *names[4] = {"kvThen", "kvNow", "sqlThen", "sqlNow"};
    uint64_t vals[4] = {pv.kv_then, pv.kv_now, pv.sql_then, pv.sql_now};
    for (int i = 0; i < 4; i++)
        jw_version(&w, names[i], vals[i]);
    tsv_jw_field_u64(&w, "shardsUnchanged", pv.shards_unchanged);
    tsv_jw_key(&w, "buckets");
    tsv_jw_array_begin(&w);
    for (size_t i = 0; i < pv.n_buckets; i++) {
        const tsv_pitr_bucket_change *b = &pv.buckets[i];
        tsv_jw_object_begin(&w);
        tsv_jw_field_string(&w, "bucketID", b->bucket_id);
        tsv_jw_field_string(&w, "bucketName", b->bucket_name);
        tsv_jw_field_string(&w, "change", tsv_pitr_change_name(b->kind));
        const char *k[5] = {"shardsThen", "shardsNow", "shardsAdded", "shardsRemoved",
                            "shardsChanged"};
        size_t v[5] = {b->shards_then, b->shards_now, b->shards_added, b->shards_removed,
                       b->shards_changed};
        for (int j = 0; j < 5; j++) {
            tsv_jw_field_u64(&w, k[j], v[j]);
        }
        tsv_jw_object_end(&w);
    }
    tsv_jw_array_end(&w);
    tsv_jw_key(&w, "shards");
    tsv_jw_array_begin(&w);
    for (size_t i = 0; i < pv.n_shards; i++) {
        const tsv_pitr_shard_change *s = &pv.shards[i];
        tsv_jw_object_begin(&w);
        tsv_jw_field_string(&w, "change", tsv_pitr_change_name(s->kind));
        tsv_jw_field_string(&w, "bucketID", s->bucket_id);
        tsv_jw_field_string(&w, "bucketName", s->bucket_name);
        tsv_jw_field_u64(&w, "shardID", s->shard_id);
        tsv_jw_field_string(&w, "retentionPolicy", s->rp);
        tsv_jw_field_time(&w, "start", s->start_ns);
        tsv_jw_field_time(&w, "end", s->end_ns);
        jw_version(&w, "versionThen", s->version_then);
        jw_version(&w, "versionNow", s->version_now);
        tsv_jw_field_u64(&w, "sizeThen", s->bytes_then);
        tsv_jw_field_u64(&w, "sizeNow", s->bytes_now);
        tsv_jw_object_end(&w);
    }
    tsv_jw_array_end(&w);
    tsv_jw_object_end(&w);
    tsv_pitr_preview_clear(&pv);
    return tsv_http_reply_jw(req, 200, &w, &buf);
}
