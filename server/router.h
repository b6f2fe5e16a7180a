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

typedef struct tsv_route {
    const char *method;
    const char *pattern; /* segments; "{name}" captures one segment */
    tsv_auth_level auth;
    tsv_handler_fn handler;
} tsv_route;

extern const tsv_route tsv_routes[];
extern const int tsv_route_count;

/* Routes one request (path already normalised): authenticates and runs the
 * matching handler, or replies 405 with an Allow header for a known path
 * with another method, or 404 "path not found". Always leaves a response
 * sent (req->status set). */
void tsv_router_dispatch(tsv_http_req *req);

/* handlers_system.c */
int tsv_handle_health(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_ping(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_tenant.c */
int tsv_handle_setup_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_setup_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_orgs_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_orgs_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_buckets_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_buckets_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_bucket_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_bucket_delete(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_restore.c */
int tsv_handle_restore_kv(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_restore_sql(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_restore_bucket_metadata(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_restore_bucket_id(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_restore_shard(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_parse_shard_id(const char *s, uint64_t *out, tsv_error *err);

/* handlers_backup.c */
int tsv_handle_backup_kv(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_backup_metadata(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_backup_shard(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_files.c */
int tsv_handle_files_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_files_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_file_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_file_delete(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_jobs.c */
int tsv_handle_jobs_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_jobs_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_job_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_job_update(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_job_logs(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_job_metrics(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_files.c */
int tsv_handle_files_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_files_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_file_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_file_delete(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

/* handlers_jobs.c */
int tsv_handle_jobs_post(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_jobs_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_job_get(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_job_update(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_job_logs(tsv_http_req *, const tsv_route_params *, const tsv_caller *);
int tsv_handle_job_metrics(tsv_http_req *, const tsv_route_params *, const tsv_caller *);

#endif
