/*
 * handlers_export: reading a bucket back out (docs/api.md):
 *   GET  /api/v2/export                     line protocol (influx_inspect format)
 *   GET  /api/v2/buckets/{bucketID}/stats   statistics from the TSM indexes
 *   POST /api/v2/verify                     re-read everything, report problems
 * Export and verify stream their bodies (response.h): an error before the
 * first byte gets a JSON error, one after it aborts the connection. A client
 * that goes away makes the next write fail, which ends the work on this
 * thread; so does a server shutdown (checked between keys/files).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "config.h"
#include "export_lp.h"
#include "json.h"
#include "response.h"
#include "router.h"
#include "store.h"
#include "tenant.h"
#include "tsm_stats.h"
#include "tsv_log.h"
#include "tsv_time.h"
#include "verify.h"

#define MAX_MEASUREMENTS 256

static int stopping(void *ctx)
{
    tsv_server *srv = ctx;
    return atomic_load(&srv->stopping);
}

/* A query parameter that must fit in buf; -1 after replying 400. */
static int query(tsv_http_req *req, const char *name, char *buf, size_t len, int *present)
{
    int rc = tsv_http_query(req, name, buf, len);
    if (rc < 0) {
        tsv_http_reply_error_code(req, TSV_EINVALID, "%s is too long", name);
        return -1;
    }
    *present = rc == 1;
    return 0;
}

static int parse_time(tsv_http_req *req, const char *name, int64_t *out)
{
    char v[128];
    int has;
    if (query(req, name, v, sizeof v, &has) != 0)
        return -1;
    if (!has)
        return 0;
    tsv_error err;
    if (tsv_parse_rfc3339(v, strlen(v), out, &err) != 0) {
        tsv_http_reply_error_code(req, TSV_EINVALID, "invalid %s \"%s\": %s", name, v, err.message);
        return -1;
    }
    return 0;
}

int tsv_handle_export(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    char bucket_id[64], org[256], bucket[256], rp[256], db[256];
    int has_id, has_org, has_bucket, has_rp, has_db;
    if (query(req, "bucketID", bucket_id, sizeof bucket_id, &has_id) != 0 ||
        query(req, "org", org, sizeof org, &has_org) != 0 ||
        query(req, "bucket", bucket, sizeof bucket, &has_bucket) != 0 ||
        query(req, "rp", rp, sizeof rp, &has_rp) != 0 ||
        query(req, "db", db, sizeof db, &has_db) != 0)
        return 0;
    tsv_error err;
    uint64_t idv;
    if (has_id && tsv_id_parse(bucket_id, &idv, &err) != 0)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "invalid bucketID: %s", err.message);
    if (!has_id && !(has_bucket && has_org))
        return tsv_http_reply_error_code(req, TSV_EINVALID,
                                         "bucketID, or bucket and org, must be given");
    int64_t start = INT64_MIN, stop = INT64_MAX;
    if (parse_time(req, "start", &start) != 0 || parse_time(req, "stop", &stop) != 0)
        return 0;
    if (start > stop)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "start must not be after stop");
    char *meas[MAX_MEASUREMENTS];
    size_t n_meas = 0;
    int rc = 0;
    for (;;) {
        char m[1024];
        int r = tsv_http_query_nth(req, "measurement", n_meas, m, sizeof m);
        if (r == 0)
            break;
        if (r < 0 || n_meas == MAX_MEASUREMENTS) {
            rc = tsv_http_reply_error_code(req, TSV_EINVALID,
                                           r < 0 ? "measurement is too long"
                                                 : "too many measurement parameters");
            goto out;
        }
        if (!(meas[n_meas] = strdup(m))) {
            rc = tsv_http_reply_error_code(req, TSV_EINTERNAL, "out of memory");
            goto out;
        }
        n_meas++;
    }
    tsv_export_request er = {
        .bucket_id = has_id ? bucket_id : NULL,
        .org = has_org ? org : NULL,
        .bucket = has_bucket ? bucket : NULL,
        .rp = has_rp ? rp : NULL,
        .database = has_db ? db : NULL,
        .start = start,
        .stop = stop,
        .measurements = (const char *const *)meas,
        .n_measurements = n_meas,
        .cancelled = stopping,
        .cancel_ctx = req->server,
    };
    tsv_export_plan *plan = NULL;
    if (tsv_store_export_prepare(req->server->store, &er, &plan, &err) != 0) {
        rc = tsv_http_reply_error(req, &err);
        goto out;
    }
    if (tsv_auth_require(c, TSV_ACTION_READ, "buckets", tsv_export_plan_org_id(plan),
                         tsv_export_plan_bucket_id(plan), &err) != 0) {
        tsv_export_plan_free(plan);
        rc = tsv_http_reply_error(req, &err);
        goto out;
    }
    tsv_encoding_choice ec;
    tsv_response_stream rs;
    if (tsv_response_choose_encoding(req, 1, &ec, &err) != 0 ||
        tsv_response_open(req, &rs, "text/plain; charset=utf-8", &ec, &err) != 0) {
        tsv_export_plan_free(plan);
        rc = tsv_http_reply_error(req, &err);
        goto out;
    }
    tsv_export_result res = {0};
    int erc = tsv_export_plan_run(plan, rs.out, &res, &err);
    TSV_INFO("msg=export bucket=%s files=%" PRIu64 " tsm_bytes=%" PRIu64 " lines=%" PRIu64
             " duplicates=%" PRIu64 " ok=%d",
             tsv_export_plan_bucket_id(plan), res.files, res.tsm_bytes, res.lines, res.duplicates,
             erc == 0);
    tsv_export_plan_free(plan);
    tsv_response_close(req, &rs, erc, &err);
out:
    for (size_t i = 0; i < n_meas; i++)
        free(meas[i]);
    return rc;
}

int tsv_handle_bucket_stats(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    const char *id = tsv_route_param(p, "bucketID");
    tsv_error err;
    uint64_t idv;
    if (tsv_id_parse(id, &idv, &err) != 0)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "invalid bucketID: %s", err.message);
    tsv_bucket b = {0};
    if (tsv_store_bucket_get(req->server->store, id, &b, &err) != 0)
        return tsv_http_reply_error(req, &err);
    int denied = tsv_auth_require(c, TSV_ACTION_READ, "buckets", b.org_id, b.id, &err) != 0;
    tsv_bucket_clear(&b);
    if (denied)
        return tsv_http_reply_error(req, &err);
    tsv_buf out = {0};
    int rc;
    if (tsv_store_bucket_stats_json(req->server->store, id, &out, &err) != 0)
        rc = tsv_http_reply_error(req, &err);
    else
        rc = tsv_http_reply_json(req, 200, &out);
    tsv_buf_free(&out);
    return rc;
}

/* --- verify ------------------------------------------------------------- */

typedef struct verify_stream {
    tsv_http_req *req;
    tsv_writer *out;
    int failed;
    tsv_error err;
} verify_stream;

/* A line of the report is one object {"type":type,...}: line_begin starts it,
 * the caller adds its fields, write_json_line ends and sends it. */
static void line_begin(tsv_json_writer *w, tsv_buf *buf, const char *type)
{
    tsv_jw_init(w, buf, NULL);
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "type", type);
}

static int write_json_line(verify_stream *vs, tsv_json_writer *w, tsv_buf *buf)
{
    tsv_error e;
    tsv_jw_object_end(w);
    if (tsv_jw_finish(w, &e) != 0 || tsv_buf_append(buf, "\n", 1, &e) != 0 ||
        tsv_write(vs->out, buf->data, buf->len, &e) != 0) {
        if (!vs->failed)
            vs->err = e;
        vs->failed = 1;
    }
    tsv_buf_free(buf);
    return vs->failed ? -1 : 0;
}

static int on_problem(void *ctx, const tsv_verify_problem *p, tsv_error *err)
{
    verify_stream *vs = ctx;
    tsv_buf buf = {0};
    tsv_json_writer w;
    line_begin(&w, &buf, "problem");
    tsv_jw_field_string(&w, "bucketID", p->bucket_id);
    tsv_jw_field_string(&w, "rp", p->rp);
    tsv_jw_field_u64(&w, "shardID", p->shard_id);
    tsv_jw_field_string(&w, "file", p->file);
    tsv_jw_field_i64(&w, "offset", p->offset);
    tsv_jw_field_string(&w, "message", p->message);
    if (write_json_line(vs, &w, &buf) != 0) {
        if (err)
            *err = vs->err;
        return -1;
    }
    return 0;
}

static int on_progress(void *ctx, const tsv_verify_progress *p)
{
    verify_stream *vs = ctx;
    if (atomic_load(&vs->req->server->stopping))
        return 1;
    tsv_buf buf = {0};
    tsv_json_writer w;
    line_begin(&w, &buf, "progress");
    tsv_jw_field_u64(&w, "filesDone", p->files_done);
    tsv_jw_field_u64(&w, "filesTotal", p->files_total);
    tsv_jw_field_u64(&w, "bytesDone", p->bytes_done);
    tsv_jw_field_u64(&w, "bytesTotal", p->bytes_total);
    tsv_jw_field_u64(&w, "problems", p->problems);
    /* A client that went away makes this write fail: stop the work. */
    return write_json_line(vs, &w, &buf) != 0;
}

int tsv_handle_verify(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    char bucket_id[64], rate[64];
    int has_id, has_rate;
    if (query(req, "bucketID", bucket_id, sizeof bucket_id, &has_id) != 0 ||
        query(req, "maxBytesPerSecond", rate, sizeof rate, &has_rate) != 0)
        return 0;
    tsv_error err;
    uint64_t idv, max_rate = 0;
    if (has_id && tsv_id_parse(bucket_id, &idv, &err) != 0)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "invalid bucketID: %s", err.message);
    if (has_rate && tsv_parse_size(rate, &max_rate) != 0)
        return tsv_http_reply_error_code(req, TSV_EINVALID, "invalid maxBytesPerSecond \"%s\"",
                                         rate);
    if (has_id) {
        tsv_bucket b = {0};
        if (tsv_store_bucket_get(req->server->store, bucket_id, &b, &err) != 0)
            return tsv_http_reply_error(req, &err);
        tsv_bucket_clear(&b);
    }
    tsv_encoding_choice ec;
    tsv_response_stream rs;
    if (tsv_response_choose_encoding(req, 1, &ec, &err) != 0 ||
        tsv_response_open(req, &rs, "application/x-ndjson", &ec, &err) != 0)
        return tsv_http_reply_error(req, &err);
    verify_stream vs = {.req = req, .out = rs.out};
    tsv_verify_options o = {
        .bucket_id = has_id ? bucket_id : NULL,
        .max_bytes_per_sec = max_rate,
        .on_problem = on_problem,
        .on_progress = on_progress,
        .ctx = &vs,
    };
    tsv_verify_summary sum;
    int rc = tsv_store_verify(req->server->store, &o, &sum, &err);
    if (vs.failed)
        err = vs.err, rc = -1;
    if (rc == 0) {
        tsv_buf buf = {0};
        tsv_json_writer w;
        line_begin(&w, &buf, "summary");
        tsv_jw_field_bool(&w, "ok", sum.problems == 0);
        tsv_jw_field_u64(&w, "problems", sum.problems);
        tsv_jw_field_bool(&w, "kvChecked", sum.kv_checked);
        tsv_jw_field_u64(&w, "buckets", sum.buckets);
        tsv_jw_field_u64(&w, "shards", sum.shards);
        tsv_jw_field_u64(&w, "tsmFiles", sum.tsm_files);
        tsv_jw_field_u64(&w, "tombstoneFiles", sum.tombstone_files);
        tsv_jw_field_u64(&w, "blocks", sum.blocks);
        tsv_jw_field_u64(&w, "values", sum.values);
        tsv_jw_field_u64(&w, "bytes", sum.bytes);
        char secs[32];
        snprintf(secs, sizeof secs, "%.3f", sum.seconds);
        tsv_jw_key(&w, "seconds");
        tsv_jw_raw(&w, secs);
        rc = write_json_line(&vs, &w, &buf);
        if (rc != 0)
            err = vs.err;
    }
    TSV_INFO("msg=verify problems=%" PRIu64 " files=%" PRIu64 " bytes=%" PRIu64 " ok=%d",
             sum.problems, sum.tsm_files + sum.tombstone_files, sum.bytes, rc == 0);
    tsv_response_close(req, &rs, rc, &err);
    return 0;
}
