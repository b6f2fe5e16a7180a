/* router: the route table (every endpoint, its method, auth level and
 * handler), route matching and dispatch to the handler. */
#include "router.h"

#include <civetweb.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "tsv_log.h"

const tsv_route tsv_routes[] = {
    {"GET", "/health", TSV_AUTH_NONE, tsv_handle_health},
    {"HEAD", "/health", TSV_AUTH_NONE, tsv_handle_health},
    {"GET", "/ping", TSV_AUTH_NONE, tsv_handle_ping},
    {"HEAD", "/ping", TSV_AUTH_NONE, tsv_handle_ping},
    {"GET", "/api/v2/setup", TSV_AUTH_NONE, tsv_handle_setup_get},
    {"POST", "/api/v2/setup", TSV_AUTH_NONE, tsv_handle_setup_post},
    {"GET", "/api/v2/orgs", TSV_AUTH_TOKEN, tsv_handle_orgs_get},
    {"POST", "/api/v2/orgs", TSV_AUTH_TOKEN, tsv_handle_orgs_post},
    {"GET", "/api/v2/buckets", TSV_AUTH_TOKEN, tsv_handle_buckets_get},
    {"POST", "/api/v2/buckets", TSV_AUTH_TOKEN, tsv_handle_buckets_post},
    {"GET", "/api/v2/buckets/{bucketID}", TSV_AUTH_TOKEN, tsv_handle_bucket_get},
    {"DELETE", "/api/v2/buckets/{bucketID}", TSV_AUTH_TOKEN, tsv_handle_bucket_delete},
    {"POST", "/api/v2/restore/kv", TSV_AUTH_OPERATOR, tsv_handle_restore_kv},
    {"POST", "/api/v2/restore/sql", TSV_AUTH_OPERATOR, tsv_handle_restore_sql},
    {"POST", "/api/v2/restore/bucketMetadata", TSV_AUTH_OPERATOR, tsv_handle_restore_bucket_metadata},
    {"POST", "/api/v2/restore/bucket-metadata", TSV_AUTH_OPERATOR, tsv_handle_restore_bucket_metadata},
    {"POST", "/api/v2/restore/bucket/{bucketID}", TSV_AUTH_OPERATOR, tsv_handle_restore_bucket_id},
    {"POST", "/api/v2/restore/buckets/{bucketID}", TSV_AUTH_OPERATOR, tsv_handle_restore_bucket_id},
    {"POST", "/api/v2/restore/shards/{shardID}", TSV_AUTH_OPERATOR, tsv_handle_restore_shard},
    {"GET", "/api/v2/backup/kv", TSV_AUTH_OPERATOR, tsv_handle_backup_kv},
    {"GET", "/api/v2/backup/metadata", TSV_AUTH_OPERATOR, tsv_handle_backup_metadata},
    {"GET", "/api/v2/backup/shards/{shardID}", TSV_AUTH_OPERATOR, tsv_handle_backup_shard},
    {"POST", "/api/v2/files", TSV_AUTH_OPERATOR, tsv_handle_files_post},
    {"GET", "/api/v2/files", TSV_AUTH_OPERATOR, tsv_handle_files_get},
    {"GET", "/api/v2/files/{name}", TSV_AUTH_OPERATOR, tsv_handle_file_get},
    {"DELETE", "/api/v2/files/{name}", TSV_AUTH_OPERATOR, tsv_handle_file_delete},
    {"POST", "/api/v2/jobs", TSV_AUTH_OPERATOR, tsv_handle_jobs_post},
    {"GET", "/api/v2/jobs", TSV_AUTH_OPERATOR, tsv_handle_jobs_get},
    {"GET", "/api/v2/jobs/{jobId}", TSV_AUTH_OPERATOR, tsv_handle_job_get},
    {"PATCH", "/api/v2/jobs/{jobId}", TSV_AUTH_OPERATOR, tsv_handle_job_update},
    {"PUT", "/api/v2/jobs/{jobId}", TSV_AUTH_OPERATOR, tsv_handle_job_update},
    {"GET", "/api/v2/jobs/{jobId}/logs", TSV_AUTH_OPERATOR, tsv_handle_job_logs},
    {"GET", "/api/v2/jobs/{jobId}/metrics", TSV_AUTH_OPERATOR, tsv_handle_job_metrics},
    {"POST", "/v1/files", TSV_AUTH_OPERATOR, tsv_handle_files_post},
    {"GET", "/v1/files", TSV_AUTH_OPERATOR, tsv_handle_files_get},
    {"GET", "/v1/files/{name}", TSV_AUTH_OPERATOR, tsv_handle_file_get},
    {"DELETE", "/v1/files/{name}", TSV_AUTH_OPERATOR, tsv_handle_file_delete},
    {"POST", "/v1/jobs", TSV_AUTH_OPERATOR, tsv_handle_jobs_post},
    {"GET", "/v1/jobs", TSV_AUTH_OPERATOR, tsv_handle_jobs_get},
    {"GET", "/v1/jobs/{jobId}", TSV_AUTH_OPERATOR, tsv_handle_job_get},
    {"PATCH", "/v1/jobs/{jobId}", TSV_AUTH_OPERATOR, tsv_handle_job_update},
    {"PUT", "/v1/jobs/{jobId}", TSV_AUTH_OPERATOR, tsv_handle_job_update},
    {"GET", "/v1/jobs/{jobId}/logs", TSV_AUTH_OPERATOR, tsv_handle_job_logs},
    {"GET", "/v1/jobs/{jobId}/metrics", TSV_AUTH_OPERATOR, tsv_handle_job_metrics},
};

const int tsv_route_count = (int)(sizeof tsv_routes / sizeof tsv_routes[0]);

const char *tsv_route_param(const tsv_route_params *p, const char *name)
{
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->names[i], name) == 0)
            return p->values[i];
    return NULL;
}

/* Matches `path` against a pattern of "/"-separated segments. */
static int route_match(const char *pattern, const char *path, tsv_route_params *params)
{
    params->count = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *pe = strchr(p, '/');
        size_t plen = pe ? (size_t)(pe - p) : strlen(p);
        const char *se = strchr(s, '/');
        size_t slen = se ? (size_t)(se - s) : strlen(s);
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || slen >= sizeof params->values[0] ||
                params->count >= TSV_ROUTE_MAX_PARAMS)
                return 0;
            params->names[params->count] = p; /* points into the pattern; compared below */
            memcpy(params->values[params->count], s, slen);
            params->values[params->count][slen] = '\0';
            params->count++;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
    }
    return *p == '\0' && *s == '\0';
}

/* route_match stores names as pointers into patterns ("{id}/..."); turn them
 * into plain names in a per-request buffer. */
static void finish_param_names(tsv_route_params *params, char names[][64])
{
    for (int i = 0; i < params->count; i++) {
        const char *n = params->names[i] + 1;
        const char *end = strchr(n, '}');
        size_t len = end ? (size_t)(end - n) : strlen(n);
        if (len > 63)
            len = 63;
        memcpy(names[i], n, len);
        names[i][len] = '\0';
        params->names[i] = names[i];
    }
}

void tsv_router_dispatch(tsv_http_req *req)
{
    const tsv_route *hit = NULL;
    tsv_route_params params;
    char allow[256] = "";
    int path_known = 0;
    for (int i = 0; i < tsv_route_count; i++) {
        tsv_route_params tmp;
        if (!route_match(tsv_routes[i].pattern, req->path, &tmp))
            continue;
        path_known = 1;
        if (strcmp(tsv_routes[i].method, req->method) == 0) {
            hit = &tsv_routes[i];
            params = tmp;
            break;
        }
        if (!strstr(allow, tsv_routes[i].method)) {
            size_t n = strlen(allow);
            snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "",
                     tsv_routes[i].method);
        }
    }
    if (hit) {
        char names[TSV_ROUTE_MAX_PARAMS][64];
        finish_param_names(&params, names);
        tsv_caller caller;
        memset(&caller, 0, sizeof caller);
        tsv_error err;
        if (tsv_authenticate(req, hit->auth, &caller, &err) != 0)
            tsv_http_reply_error(req, &err);
        else
            hit->handler(req, &params, &caller);
        if (!req->status) {
            TSV_ERROR("handler for %s %s sent no response", req->method, req->path);
            tsv_http_reply_error_code(req, TSV_EINTERNAL, "handler sent no response");
        }
    } else if (path_known) {
        mg_response_header_start(req->conn, 405);
        tsv_error err;
        tsv_error_set(&err, TSV_EMETHOD, "allow: %s", allow);
        /* reply_error sends the headers; Allow must go out with them, so
         * build the reply by hand here. */
        req->status = 0;
        tsv_buf body = {0};
        tsv_json_writer w;
        tsv_jw_init(&w, &body, NULL);
        tsv_jw_object_begin(&w);
        tsv_jw_key(&w, "code");
        tsv_jw_string(&w, "method not allowed");
        tsv_jw_key(&w, "message");
        tsv_jw_string(&w, err.message);
        tsv_jw_object_end(&w);
        if (tsv_jw_finish(&w, NULL) == 0) {
            char cl[32];
            snprintf(cl, sizeof cl, "%zu", body.len);
            mg_response_header_add(req->conn, "Allow", allow, -1);
            mg_response_header_add(req->conn, "X-Influxdb-Build", "OSS", -1);
            mg_response_header_add(req->conn, "X-Influxdb-Version", TSV_INFLUX_COMPAT_VERSION, -1);
            mg_response_header_add(req->conn, "X-Platform-Error-Code", "method not allowed", -1);
            mg_response_header_add(req->conn, "Content-Type", "application/json; charset=utf-8", -1);
            mg_response_header_add(req->conn, "Content-Length", cl, -1);
            if (req->content_length != 0)
                mg_response_header_add(req->conn, "Connection", "close", -1);
            if (mg_response_header_send(req->conn) >= 0 && mg_write(req->conn, body.data, body.len) > 0)
                req->bytes_out = body.len;
        }
        req->status = 405;
        tsv_buf_free(&body);
    } else {
        tsv_http_reply_error_code(req, TSV_ENOTFOUND, "path not found");
    }
}
