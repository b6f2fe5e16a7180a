/* router: the route table (every endpoint, its method, auth level, handler
 * and what it does with a request body: kind, Content-Encoding, size limit,
 * pre-body check), route matching and dispatch to the handler. */
#include "router.h"

#include <civetweb.h>
#include <stdio.h>
#include <string.h>

#include "body_gate.h"
#include "tsv_log.h"

/* A route that reads no body. */
#define NO_BODY TSV_BODY_NONE, 0, 0, NULL
/* A route that reads a JSON request body, up to TSV_JSON_BODY_MAX. */
#define JSON_BODY TSV_BODY_SMALL, 0, TSV_JSON_BODY_MAX, NULL

// clang-format off
/* The Files, Jobs and Connections APIs stand under /api/v2 and, in the
 * seeds' shape, under /v1: one list of routes serves both prefixes. */
#define FILES_ROUTES(prefix) \
    {"POST", prefix "/files", TSV_AUTH_OPERATOR, tsv_handle_files_post, TSV_BODY_UPLOAD, 0, 0, NULL}, \
    {"GET", prefix "/files", TSV_AUTH_OPERATOR, tsv_handle_files_get, NO_BODY}, \
    {"GET", prefix "/files/{name}", TSV_AUTH_OPERATOR, tsv_handle_file_get, NO_BODY}, \
    {"DELETE", prefix "/files/{name}", TSV_AUTH_OPERATOR, tsv_handle_file_delete, NO_BODY},
#define JOBS_ROUTES(prefix) \
    {"POST", prefix "/jobs", TSV_AUTH_OPERATOR, tsv_handle_jobs_post, JSON_BODY}, \
    {"GET", prefix "/jobs", TSV_AUTH_OPERATOR, tsv_handle_jobs_get, NO_BODY}, \
    {"GET", prefix "/jobs/{jobId}", TSV_AUTH_OPERATOR, tsv_handle_job_get, NO_BODY}, \
    {"PATCH", prefix "/jobs/{jobId}", TSV_AUTH_OPERATOR, tsv_handle_job_update, JSON_BODY}, \
    {"PUT", prefix "/jobs/{jobId}", TSV_AUTH_OPERATOR, tsv_handle_job_update, JSON_BODY}, \
    {"GET", prefix "/jobs/{jobId}/logs", TSV_AUTH_OPERATOR, tsv_handle_job_logs, NO_BODY}, \
    {"GET", prefix "/jobs/{jobId}/metrics", TSV_AUTH_OPERATOR, tsv_handle_job_metrics, NO_BODY},
#define CONNECTION_ROUTES(prefix) \
    {"POST", prefix "/connections", TSV_AUTH_OPERATOR, tsv_handle_connections_post, JSON_BODY}, \
    {"GET", prefix "/connections", TSV_AUTH_OPERATOR, tsv_handle_connections_get, NO_BODY}, \
    {"GET", prefix "/connections/{name}", TSV_AUTH_OPERATOR, tsv_handle_connection_get, NO_BODY}, \
    {"PUT", prefix "/connections/{name}", TSV_AUTH_OPERATOR, tsv_handle_connection_put, JSON_BODY}, \
    {"PATCH", prefix "/connections/{name}", TSV_AUTH_OPERATOR, tsv_handle_connection_patch, JSON_BODY}, \
    {"DELETE", prefix "/connections/{name}", TSV_AUTH_OPERATOR, tsv_handle_connection_delete, NO_BODY}, \
    {"POST", prefix "/connections/{name}/test", TSV_AUTH_OPERATOR, tsv_handle_connection_test, NO_BODY}, \
    {"GET", prefix "/connections/{name}/snapshots", TSV_AUTH_OPERATOR, tsv_handle_connection_snapshots, NO_BODY},

/* One line a route, wider than the column limit so the table reads as one. */
const tsv_route tsv_routes[] = {
    {"GET", "/health", TSV_AUTH_NONE, tsv_handle_health, NO_BODY},
    {"HEAD", "/health", TSV_AUTH_NONE, tsv_handle_health, NO_BODY},
    {"GET", "/ping", TSV_AUTH_NONE, tsv_handle_ping, NO_BODY},
    /* --metrics-auth makes the handler authenticate (metrics_http.c). */
    {"GET", "/metrics", TSV_AUTH_NONE, tsv_handle_metrics, NO_BODY},
    {"HEAD", "/ping", TSV_AUTH_NONE, tsv_handle_ping, NO_BODY},
    /* The web console: static files, public (the API calls carry the token). */
    {"GET", "/", TSV_AUTH_NONE, tsv_handle_ui_index, NO_BODY},
    {"GET", "/ui", TSV_AUTH_NONE, tsv_handle_ui_index, NO_BODY},
    {"GET", "/ui/{file}", TSV_AUTH_NONE, tsv_handle_ui_file, NO_BODY},
    {"GET", "/api/v2/setup", TSV_AUTH_NONE, tsv_handle_setup_get, NO_BODY},
    {"POST", "/api/v2/setup", TSV_AUTH_NONE, tsv_handle_setup_post, JSON_BODY},
    {"GET", "/api/v2/orgs", TSV_AUTH_TOKEN, tsv_handle_orgs_get, NO_BODY},
    {"POST", "/api/v2/orgs", TSV_AUTH_TOKEN, tsv_handle_orgs_post, JSON_BODY},
    {"GET", "/api/v2/buckets", TSV_AUTH_TOKEN, tsv_handle_buckets_get, NO_BODY},
    {"POST", "/api/v2/buckets", TSV_AUTH_TOKEN, tsv_handle_buckets_post, JSON_BODY},
    {"GET", "/api/v2/buckets/{bucketID}", TSV_AUTH_TOKEN, tsv_handle_bucket_get, NO_BODY},
    {"DELETE", "/api/v2/buckets/{bucketID}", TSV_AUTH_TOKEN, tsv_handle_bucket_delete, NO_BODY},
    {"PATCH", "/api/v2/buckets/{bucketID}", TSV_AUTH_TOKEN, tsv_handle_bucket_patch, JSON_BODY},
    {"GET", "/api/v2/orgs/{orgID}", TSV_AUTH_TOKEN, tsv_handle_org_get, NO_BODY},
    {"PATCH", "/api/v2/orgs/{orgID}", TSV_AUTH_TOKEN, tsv_handle_org_patch, JSON_BODY},
    {"DELETE", "/api/v2/orgs/{orgID}", TSV_AUTH_TOKEN, tsv_handle_org_delete, NO_BODY},
    {"GET", "/api/v2/orgs/{orgID}/members", TSV_AUTH_TOKEN, tsv_handle_org_members_get, NO_BODY},
    {"POST", "/api/v2/orgs/{orgID}/members", TSV_AUTH_TOKEN, tsv_handle_org_members_post, JSON_BODY},
    {"DELETE", "/api/v2/orgs/{orgID}/members/{userID}", TSV_AUTH_TOKEN, tsv_handle_org_member_delete, NO_BODY},
    {"GET", "/api/v2/orgs/{orgID}/owners", TSV_AUTH_TOKEN, tsv_handle_org_owners_get, NO_BODY},
    {"POST", "/api/v2/orgs/{orgID}/owners", TSV_AUTH_TOKEN, tsv_handle_org_owners_post, JSON_BODY},
    {"DELETE", "/api/v2/orgs/{orgID}/owners/{userID}", TSV_AUTH_TOKEN, tsv_handle_org_member_delete, NO_BODY},
    {"GET", "/api/v2/authorizations", TSV_AUTH_TOKEN, tsv_handle_auths_get, NO_BODY},
    {"POST", "/api/v2/authorizations", TSV_AUTH_TOKEN, tsv_handle_auths_post, JSON_BODY},
    {"GET", "/api/v2/authorizations/{authID}", TSV_AUTH_TOKEN, tsv_handle_auth_get, NO_BODY},
    {"PATCH", "/api/v2/authorizations/{authID}", TSV_AUTH_TOKEN, tsv_handle_auth_patch, JSON_BODY},
    {"DELETE", "/api/v2/authorizations/{authID}", TSV_AUTH_TOKEN, tsv_handle_auth_delete, NO_BODY},
    {"GET", "/api/v2/users", TSV_AUTH_TOKEN, tsv_handle_users_get, NO_BODY},
    {"POST", "/api/v2/users", TSV_AUTH_TOKEN, tsv_handle_users_post, JSON_BODY},
    {"GET", "/api/v2/users/{userID}", TSV_AUTH_TOKEN, tsv_handle_user_get, NO_BODY},
    {"PATCH", "/api/v2/users/{userID}", TSV_AUTH_TOKEN, tsv_handle_user_patch, JSON_BODY},
    {"DELETE", "/api/v2/users/{userID}", TSV_AUTH_TOKEN, tsv_handle_user_delete, NO_BODY},
    {"POST", "/api/v2/users/{userID}/password", TSV_AUTH_TOKEN, tsv_handle_user_password, JSON_BODY},
    {"PUT", "/api/v2/users/{userID}/password", TSV_AUTH_TOKEN, tsv_handle_user_password, JSON_BODY},
    {"GET", "/api/v2/me", TSV_AUTH_TOKEN, tsv_handle_me_get, NO_BODY},
    {"PUT", "/api/v2/me/password", TSV_AUTH_TOKEN, tsv_handle_me_password, JSON_BODY},
    {"POST", "/api/v2/restore/kv", TSV_AUTH_OPERATOR, tsv_handle_restore_kv, TSV_BODY_UPLOAD, 1, 0, NULL},
    {"POST", "/api/v2/restore/sql", TSV_AUTH_OPERATOR, tsv_handle_restore_sql, TSV_BODY_UPLOAD, 1, 0, NULL},
    {"POST", "/api/v2/restore/bucketMetadata", TSV_AUTH_OPERATOR, tsv_handle_restore_bucket_metadata,
     TSV_BODY_SMALL, 1, TSV_MANIFEST_MAX, NULL},
    {"POST", "/api/v2/restore/bucket-metadata", TSV_AUTH_OPERATOR, tsv_handle_restore_bucket_metadata,
     TSV_BODY_SMALL, 1, TSV_MANIFEST_MAX, NULL},
    {"POST", "/api/v2/restore/bucket/{bucketID}", TSV_AUTH_OPERATOR, tsv_handle_restore_bucket_id,
     TSV_BODY_SMALL, 1, TSV_MANIFEST_MAX, tsv_precheck_restore_bucket_id},
    {"POST", "/api/v2/restore/buckets/{bucketID}", TSV_AUTH_OPERATOR, tsv_handle_restore_bucket_id,
     TSV_BODY_SMALL, 1, TSV_MANIFEST_MAX, tsv_precheck_restore_bucket_id},
    {"POST", "/api/v2/restore/shards/{shardID}", TSV_AUTH_OPERATOR, tsv_handle_restore_shard,
     TSV_BODY_UPLOAD, 1, 0, tsv_precheck_restore_shard},
    {"GET", "/api/v2/backup/kv", TSV_AUTH_BACKUP, tsv_handle_backup_kv, NO_BODY},
    {"GET", "/api/v2/backup/metadata", TSV_AUTH_BACKUP, tsv_handle_backup_metadata, NO_BODY},
    {"GET", "/api/v2/backup/shards/{shardID}", TSV_AUTH_BACKUP, tsv_handle_backup_shard, NO_BODY},
    {"GET", "/api/v2/export", TSV_AUTH_TOKEN, tsv_handle_export, NO_BODY},
    {"GET", "/api/v2/buckets/{bucketID}/stats", TSV_AUTH_TOKEN, tsv_handle_bucket_stats, NO_BODY},
    {"POST", "/api/v2/verify", TSV_AUTH_OPERATOR, tsv_handle_verify, JSON_BODY},
    {"GET", "/api/v2/buckets/{bucketID}/unusedShards", TSV_AUTH_OPERATOR, tsv_handle_unused_shards, NO_BODY},
    {"GET", "/v1/projects/{orgID}/tables/{bucketName}/unusedSegments", TSV_AUTH_OPERATOR,
     tsv_handle_unused_segments, NO_BODY},
    {"GET", "/api/v2/vault/{kind}/versions", TSV_AUTH_OPERATOR, tsv_handle_history_list, NO_BODY},
    {"POST", "/api/v2/vault/{kind}/versions/{version}/restore", TSV_AUTH_OPERATOR,
     tsv_handle_history_restore, NO_BODY},
    FILES_ROUTES("/api/v2")
    CONNECTION_ROUTES("/api/v2")
    CONNECTION_ROUTES("/v1")
    JOBS_ROUTES("/api/v2")
    FILES_ROUTES("/v1")
    JOBS_ROUTES("/v1")
    {"GET", "/api/v2/pitr", TSV_AUTH_OPERATOR, tsv_handle_pitr_range, NO_BODY},
    {"GET", "/api/v2/pitr/preview", TSV_AUTH_OPERATOR, tsv_handle_pitr_preview, NO_BODY},
    {"POST", "/api/v2/pitr/restore", TSV_AUTH_OPERATOR, tsv_handle_pitr_restore_post, JSON_BODY},
    {"GET", "/api/v2/pitr/restore/{jobId}", TSV_AUTH_OPERATOR, tsv_handle_pitr_restore_get, NO_BODY},
    {"GET", "/v1/instances/{id}/pitr", TSV_AUTH_NONE, tsv_handle_seed_pitr_range, NO_BODY},
    {"POST", "/v1/instances/{id}/pitr/restore", TSV_AUTH_NONE, tsv_handle_seed_pitr_restore_post, JSON_BODY},
    {"GET", "/v1/instances/{id}/pitr/restore/{jobId}", TSV_AUTH_NONE, tsv_handle_seed_pitr_restore_get, NO_BODY},
};
// clang-format on

const int tsv_route_count = (int)(sizeof tsv_routes / sizeof tsv_routes[0]);

const char *tsv_route_param(const tsv_route_params *p, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < p->count; i++)
        if (strncmp(p->names[i], name, len) == 0 && p->names[i][len] == '}')
            return p->values[i];
    return NULL;
}

/* Matches `path` against a pattern of "/"-separated segments. */
static int router__match(const char *pattern, const char *path, tsv_route_params *params)
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
            /* The name stays in the constant pattern: "id}/..." */
            params->names[params->count] = p + 1;
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

const tsv_route *tsv_router_find(const char *method, const char *path, tsv_route_params *params,
                                 char *allow, size_t allow_len)
{
    if (allow_len)
        allow[0] = '\0';
    for (int i = 0; i < tsv_route_count; i++) {
        tsv_route_params tmp;
        if (!router__match(tsv_routes[i].pattern, path, &tmp))
            continue;
        if (strcmp(tsv_routes[i].method, method) == 0) {
            *params = tmp;
            return &tsv_routes[i];
        }
        if (allow_len && !strstr(allow, tsv_routes[i].method)) {
            size_t n = strlen(allow);
            snprintf(allow + n, allow_len - n, "%s%s", n ? ", " : "", tsv_routes[i].method);
        }
    }
    return NULL;
}

void tsv_router_dispatch(tsv_http_req *req)
{
    tsv_route_params params;
    char allow[256];
    const tsv_route *hit = tsv_router_find(req->method, req->path, &params, allow, sizeof allow);
    if (hit) {
        req->route = hit->pattern;
        tsv_caller caller;
        memset(&caller, 0, sizeof caller);
        tsv_error err;
        /* Everything that can fail without the body fails before the
         * client sends it (Expect: 100-continue; body_gate.h). */
        if (tsv_authenticate(req, hit->auth, &caller, &err) != 0) {
            tsv_http_reply_error(req, &err);
        } else if (tsv_body_gate_open(req, hit, &params, &caller) == 0) {
            hit->handler(req, &params, &caller);
            tsv_body_gate_close(req);
        }
        tsv_caller_clear(&caller);
        if (!req->status) {
            TSV_ERROR("handler for %s %s sent no response", req->method, req->path);
            tsv_http_reply_error_code(req, TSV_EINTERNAL, "handler sent no response");
        }
    } else if (allow[0]) {
        tsv_error err;
        tsv_error_set(&err, TSV_EMETHOD, "allow: %s", allow);
        /* reply_error cannot add Allow; build the same shape here. */
        tsv_buf body = {0};
        if (tsv_http_error_body(&body, "method not allowed", err.message) == 0) {
            const char *h[] = {"Allow", allow, "X-Platform-Error-Code", "method not allowed", NULL};
            tsv_http_reply_with(req, 405, "application/json; charset=utf-8", h, body.data,
                                body.len);
        } else {
            tsv_http_reply_error(req, &err);
        }
        tsv_buf_free(&body);
    } else {
        tsv_http_reply_error_code(req, TSV_ENOTFOUND, "path not found");
    }
}
