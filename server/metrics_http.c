/*
 * metrics_http: the HTTP side of the metrics (docs/operations.md
 * "Metrics"): per-request counters and latency histograms recorded by the
 * dispatcher, restore/backup counts by route, and GET /metrics, which
 * refreshes the gauges read from the services (vault usage, jobs, staged
 * files, the process) and renders the registry (common/metrics.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "files_store.h"
#include "jobs.h"
#include "metrics.h"
#include "proc_stats.h"
#include "router.h"
#include "tsv_log.h"
#include "vault_usage.h"
#include "version.h"

static const char *const method_route[] = {"method", "route", NULL};
static const char *const method_route_status[] = {"method", "route", "status", NULL};
static const char *const type_status[] = {"type", "status", NULL};

#define REQUESTS_HELP "HTTP requests by method, route pattern and status."
#define DURATION_HELP                                                                              \
    "Time from the request head to the end of the response, by method and route pattern."
#define REQ_BYTES_HELP "Request body bytes received, by method and route pattern."
#define RESP_BYTES_HELP "Response body bytes sent, by method and route pattern."
#define JOBS_HELP "Jobs held (within --job-retention), by type and executionStatus."

/* "kv", "shard", ... for the restore and backup routes, else NULL. */
static const char *route_kind(const char *route, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(route, prefix, n) != 0)
        return NULL;
    const char *k = route + n;
    if (strcmp(k, "kv") == 0)
        return "kv";
    if (strcmp(k, "sql") == 0)
        return "sql";
    if (strcmp(k, "metadata") == 0)
        return "metadata";
    if (strcmp(k, "bucketMetadata") == 0 || strcmp(k, "bucket-metadata") == 0)
        return "bucket_metadata";
    if (strncmp(k, "bucket/", 7) == 0 || strncmp(k, "buckets/", 8) == 0)
        return "bucket";
    if (strncmp(k, "shards/", 7) == 0)
        return "shard";
    return NULL;
}

void tsv_server_metrics_request(const tsv_http_req *req, double seconds)
{
    const char *route = req->route ? req->route : "unmatched";
    char status[8];
    snprintf(status, sizeof status, "%d", req->status ? req->status : 500);
    const char *v3[] = {req->method, route, status};
    tsv_metric_add(tsv_metrics_family(TSV_METRIC_COUNTER, "tsvault_http_requests_total",
                                      REQUESTS_HELP, method_route_status, NULL, 0),
                   v3, 1);
    const char *v2[] = {req->method, route};
    tsv_metric_observe(tsv_metrics_family(TSV_METRIC_HISTOGRAM,
                                          "tsvault_http_request_duration_seconds", DURATION_HELP,
                                          method_route, tsv_metrics_latency_buckets,
                                          tsv_metrics_latency_n),
                       v2, seconds);
    tsv_metric_add(tsv_metrics_family(TSV_METRIC_COUNTER, "tsvault_http_request_bytes_total",
                                      REQ_BYTES_HELP, method_route, NULL, 0),
                   v2, req->bytes_in);
    tsv_metric_add(tsv_metrics_family(TSV_METRIC_COUNTER, "tsvault_http_response_bytes_total",
                                      RESP_BYTES_HELP, method_route, NULL, 0),
                   v2, req->bytes_out);
    int ok = req->status >= 200 && req->status < 300 && !req->aborted;
    const char *kind;
    if ((kind = route_kind(route, "/api/v2/restore/")) != NULL)
        tsv_metrics_count(TSV_METRIC_RESTORES, TSV_METRIC_RESTORES_HELP, "kind", kind, "result",
                          ok ? "success" : "failure", 1);
    else if ((kind = route_kind(route, "/api/v2/backup/")) != NULL)
        tsv_metrics_count("tsvault_backups_total",
                          "Backup requests by kind (kv, metadata, shard) and result (success, "
                          "failure; a stream cut off half-way is a failure).",
                          "kind", kind, "result", ok ? "success" : "failure", 1);
}

static void gauge(const char *name, const char *help, double v)
{
    tsv_metric_set(tsv_metrics_family(TSV_METRIC_GAUGE, name, help, NULL, NULL, 0), NULL, v);
}

static void gauge1(const char *name, const char *help, const char *label, const char *value,
                   double v)
{
    const char *names[] = {label, NULL};
    const char *values[] = {value};
    tsv_metric_set(tsv_metrics_family(TSV_METRIC_GAUGE, name, help, names, NULL, 0), values, v);
}

static void job_count(void *ctx, const char *type, const char *status, uint64_t n)
{
    (void)ctx;
    const char *values[] = {type, status};
    tsv_metric_set(
        tsv_metrics_family(TSV_METRIC_GAUGE, "tsvault_jobs", JOBS_HELP, type_status, NULL, 0),
        values, (double)n);
}

static int file_count(void *ctx, const tsv_file_info *info, tsv_error *err)
{
    (void)info;
    (void)err;
    (*(uint64_t *)ctx)++;
    return 0;
}

static time_t started_at;

void tsv_server_metrics_init(void)
{
    started_at = time(NULL);
    /* Families listed from the first scrape on, even before their first sample. */
    tsv_metrics_family(TSV_METRIC_COUNTER, "tsvault_http_requests_total", REQUESTS_HELP,
                       method_route_status, NULL, 0);
    tsv_metrics_family(TSV_METRIC_HISTOGRAM, "tsvault_http_request_duration_seconds", DURATION_HELP,
                       method_route, tsv_metrics_latency_buckets, tsv_metrics_latency_n);
    tsv_metrics_family(TSV_METRIC_COUNTER, "tsvault_http_request_bytes_total", REQ_BYTES_HELP,
                       method_route, NULL, 0);
    tsv_metrics_family(TSV_METRIC_COUNTER, "tsvault_http_response_bytes_total", RESP_BYTES_HELP,
                       method_route, NULL, 0);
    tsv_metrics_family(TSV_METRIC_GAUGE, "tsvault_jobs", JOBS_HELP, type_status, NULL, 0);
    /* Families a fresh server has not counted yet still show, at 0. */
    static const char *const results[] = {"success", "failure"};
    for (int i = 0; i < 2; i++) {
        tsv_metrics_count("tsvault_vault_gc_runs_total",
                          "Garbage collections of the vault's objects, by result.", "result",
                          results[i], NULL, NULL, 0);
        tsv_metrics_count(TSV_METRIC_RESTORES, TSV_METRIC_RESTORES_HELP, "kind", "shard", "result",
                          results[i], 0);
        tsv_metrics_count("tsvault_backups_total",
                          "Backup requests by kind (kv, metadata, shard) and result (success, "
                          "failure; a stream cut off half-way is a failure).",
                          "kind", "shard", "result", results[i], 0);
    }
    tsv_metrics_count("tsvault_validated_bytes_total",
                      "Bytes of TSM files checked block by block, by result.", "result", "valid",
                      NULL, NULL, 0);
    tsv_metrics_count("tsvault_validated_tsm_files_total",
                      "TSM files checked block by block (CRC and full decode), by result.",
                      "result", "valid", NULL, NULL, 0);
}

static void refresh_gauges(tsv_server *srv)
{
    tsv_error err;
    gauge1("tsvault_build_info", "Always 1; the labels name the build.", "version", tsv_version(),
           1);
    gauge("tsvault_http_requests_in_flight", "HTTP requests being handled.",
          (double)atomic_load(&srv->inflight));
    gauge("tsvault_uploads_active",
          "Upload requests (restores) running, out of --max-concurrent-uploads.",
          (double)atomic_load(&srv->uploads));
    gauge("tsvault_uploads_max", "--max-concurrent-uploads.", (double)srv->cfg.max_uploads);

    tsv_vault_usage u;
    if (srv->store && tsv_store_vault_usage(srv->store, &u, &err) == 0) {
        gauge("tsvault_vault_objects", "Files in the vault's object store.",
              (double)u.object_count);
        gauge("tsvault_vault_object_bytes",
              "Bytes of the files in the vault's object store (what the vault takes on disk).",
              (double)u.object_bytes);
        static const char *vh = "Catalogued shard versions, by state.";
        static const char *bh = "Bytes the catalogued versions list, by state (a file shared "
                                "by versions counts for each; purged: what they had listed).";
        gauge1("tsvault_vault_versions", vh, "state", "in_use", (double)u.in_use_versions);
        gauge1("tsvault_vault_versions", vh, "state", "soft_deleted",
               (double)u.soft_deleted_versions);
        gauge1("tsvault_vault_versions", vh, "state", "purged", (double)u.purged_versions);
        gauge1("tsvault_vault_version_bytes", bh, "state", "in_use", (double)u.in_use_bytes);
        gauge1("tsvault_vault_version_bytes", bh, "state", "soft_deleted",
               (double)u.soft_deleted_bytes);
        gauge1("tsvault_vault_version_bytes", bh, "state", "purged", (double)u.purged_bytes);
    } else if (srv->store) {
        TSV_WARN("msg=\"metrics: vault usage unavailable\" error=\"%s\"", err.message);
    }
    if (srv->jobs)
        tsv_jobs_counts(srv->jobs, job_count, NULL);
    tsv_files_space sp;
    uint64_t nfiles = 0;
    if (srv->files && tsv_files_space_get(srv->files, &sp, &err) == 0 &&
        tsv_files_list(srv->files, file_count, &nfiles, &err) == 0) {
        gauge("tsvault_files_staged", "Files in the Files API staging area.", (double)nfiles);
        gauge("tsvault_files_staged_bytes", "Bytes of the staged files.", (double)sp.used);
    }
    tsv_proc_stats ps;
    if (tsv_proc_stats_get(&ps, &err) == 0) {
        gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
              (double)ps.rss_bytes);
        gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
              (double)ps.virtual_bytes);
        gauge("process_open_fds", "Number of open file descriptors.", (double)ps.open_fds);
        gauge("process_max_fds", "Maximum number of open file descriptors.", (double)ps.max_fds);
        gauge("process_threads", "Threads of the process.", (double)ps.threads);
    } else {
        TSV_WARN("msg=\"metrics: process figures unavailable\" error=\"%s\"", err.message);
    }
    gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
          (double)started_at);
}

int tsv_handle_metrics(tsv_http_req *req, const tsv_route_params *p, const tsv_caller *c)
{
    (void)p;
    (void)c;
    tsv_error err;
    if (req->server->cfg.metrics_auth) {
        /* --metrics-auth: a token with read access to everything (the
         * backup level) may read the metrics. */
        tsv_caller caller;
        memset(&caller, 0, sizeof caller);
        int rc = tsv_authenticate(req, TSV_AUTH_BACKUP, &caller, &err);
        tsv_caller_clear(&caller);
        if (rc != 0)
            return tsv_http_reply_error(req, &err);
    }
    refresh_gauges(req->server);
    tsv_buf out = {0};
    int rc = tsv_metrics_render(&out, &err);
    rc = rc == 0 ? tsv_http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                                  out.data ? (const void *)out.data : "", out.len)
                 : tsv_http_reply_error(req, &err);
    tsv_buf_free(&out);
    return rc;
}
