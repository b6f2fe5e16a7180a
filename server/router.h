/*
 * router: the table of every endpoint tsvault serves, route matching and
 * dispatch, and the handler prototypes, grouped by the file that implements
 * them.
 *
 * Patterns are "/"-separated segments; "{name}" captures one non-empty
 * segment (at most TSV_ROUTE_MAX_PARAMS, 255 bytes each).
 * Thread-safety: the table is constant; dispatch is reentrant.
 */
#ifndef TSV_ROUTER_H
#define TSV_ROUTER_H

#include "server.h"

/* What a route does with a request body (see body_gate.h). */
typedef enum tsv_body_kind {
    TSV_BODY_NONE = 0, /* none expected: one that comes is not read */
    TSV_BODY_SMALL,    /* read whole into memory (JSON, manifests), up to body_max */
    TSV_BODY_UPLOAD,   /* streamed upload: holds one of --max-concurrent-uploads */
} tsv_body_kind;

/* Checks what can be checked before the body is read (parameters, that the
 * target exists); 0 or -1 with err. Runs after authentication. */
typedef int (*tsv_precheck_fn)(tsv_http_req *req, const tsv_route_params *params,
                               const tsv_caller *caller, tsv_error *err);

typedef struct tsv_route {
    const char *method;
    const char *pattern; /* segments; "{name}" captures one segment */
    tsv_auth_level auth;
    tsv_handler_fn handler;
    tsv_body_kind body;
    int encoded;              /* the body may carry Content-Encoding gzip or zstd */
    uint64_t body_max;        /* largest declared body (0: --max-body-size) */
    tsv_precheck_fn precheck; /* NULL: nothing beyond the generic checks */
} tsv_route;

extern const tsv_route tsv_routes[];
extern const int tsv_route_count;

/* The route for `method` and `path` (already normalised), its path
 * parameters in *params. NULL when none matches; then allow holds the
 * methods the path does have ("GET, POST"; "" for an unknown path: 404).
 * allow may be NULL when allow_len is 0. */
const tsv_route *tsv_router_find(const char *method, const char *path, tsv_route_params *params,
                                 char *allow, size_t allow_len);

/* Routes one request (path already normalised): authenticates and runs the
 * matching handler, or replies 405 with an Allow header for a known path
 * with another method, or 404 "path not found". Always leaves a response
 * sent (req->status set). */
void tsv_router_dispatch(tsv_http_req *req);

/* handlers_ui.c: the web console's embedded files (public) */
int tsv_handle_ui_index(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_ui_file(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_system.c */
int tsv_handle_health(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_ping(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* metrics_http.c: GET /metrics; the dispatcher's per-request record; the
 * start time and zero-valued families (called once by tsv_server_start). */
int tsv_handle_metrics(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
void tsv_server_metrics_request(const tsv_http_req *req, double seconds);
void tsv_server_metrics_init(void);

/* handlers_tenant.c */
#define TSV_JSON_BODY_MAX (1024 * 1024)
int tsv_handle_setup_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_setup_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_orgs_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_orgs_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_buckets_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_buckets_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_bucket_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_bucket_delete(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_bucket_patch(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_org_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_org_patch(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_org_delete(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_authorizations.c */
int tsv_handle_auths_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_auths_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_auth_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_auth_patch(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_auth_delete(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_users.c */
int tsv_handle_users_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_users_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_user_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_user_patch(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_user_delete(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_user_password(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_me_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_me_password(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_org_members_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_org_members_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_org_owners_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_org_owners_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_org_member_delete(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_vault.c */
int tsv_handle_unused_shards(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_unused_segments(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_history.c */
int tsv_handle_history_list(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_history_restore(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_restore.c */
int tsv_handle_restore_kv(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_restore_sql(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_restore_bucket_metadata(tsv_http_req *, const tsv_route_params *,
                                       const tsv_caller *);
int tsv_handle_restore_bucket_id(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_restore_shard(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_parse_shard_id(const char *s, uint64_t *out, tsv_error *err);
int tsv_precheck_restore_shard(tsv_http_req *, const tsv_route_params *, const tsv_caller *,
                               tsv_error *);
int tsv_precheck_restore_bucket_id(tsv_http_req *, const tsv_route_params *, const tsv_caller *,
                                   tsv_error *);
#define TSV_MANIFEST_MAX (64 * 1024 * 1024)

/* handlers_backup.c */
int tsv_handle_backup_kv(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_backup_metadata(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_backup_shard(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_export.c */
int tsv_handle_export(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_bucket_stats(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_verify(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_files.c */
int tsv_handle_files_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_files_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_file_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_file_delete(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_connections.c */
int tsv_handle_connections_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_connections_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_connection_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_connection_put(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_connection_patch(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_connection_delete(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_connection_test(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_connection_snapshots(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_jobs.c */
struct tsv_job_user;
/* Who the jobs, PITR and connections record as acting: the caller's user
 * (its name from the store) and org; "operator" for the bootstrap token. */
void tsv_http_job_user(tsv_http_req *req, const tsv_caller *c, struct tsv_job_user *u);
/* The start of a jobs, PITR or connections write: reads the body (at most
 * max bytes, tsv_http_read_body: freed on failure), then *u as above. */
int tsv_http_job_request(tsv_http_req *req, const tsv_caller *c, size_t max, tsv_buf *body,
                         struct tsv_job_user *u, tsv_error *err);
int tsv_handle_jobs_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_jobs_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_job_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_job_update(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_job_logs(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_job_metrics(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_pitr.c (the /v1/instances routes authenticate themselves, for
 * the seed's error shape) */
int tsv_handle_pitr_range(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_pitr_preview(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_pitr_restore_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_pitr_restore_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_seed_pitr_range(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_seed_pitr_restore_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_seed_pitr_restore_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

#endif
