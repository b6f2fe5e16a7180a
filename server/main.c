/*
 * tsvault: an InfluxDB 2.x compatible backup/restore server.
 *
 * main parses the configuration, opens the data directory, starts the HTTP
 * server and waits for SIGINT/SIGTERM; then it stops accepting requests, lets
 * in-flight ones finish (bounded by --shutdown-timeout), closes the storage
 * and exits 0. SIGHUP re-reads the TLS certificate and key.
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "connections.h"
#include "files_store.h"
#include "jobs.h"
#include "rpc.h"
#include "s3_tier.h"
#include "server.h"
#include "store.h"
#include "tsv_log.h"
#include "version.h"

/* The 1.x RPC address names a loopback host (what the docs advise with TLS). */
static int loopback_address(const char *a)
{
    return strncmp(a, "127.", 4) == 0 || strncmp(a, "[::1]", 5) == 0 ||
           strncmp(a, "localhost:", 10) == 0;
}

/* The S3 tier's options from the configuration; credentials are looked up
 * here, so a missing key fails the start with a clear message. */
static int tier_options(const tsv_config *cfg, tsv_tier_options *o, tsv_s3_credentials *cred,
                        char *endpoint, size_t endpoint_len, tsv_error *err)
{
    memset(o, 0, sizeof *o);
    if (tsv_s3_credentials_load(cfg->s3_credentials_file, NULL, cred, err) != 0)
        return -1;
    const char *region = cfg->s3_region;
    if (!region)
        region = getenv("AWS_REGION");
    if (!region || !*region)
        region = "us-east-1";
    if (cfg->s3_endpoint)
        snprintf(endpoint, endpoint_len, "%s", cfg->s3_endpoint);
    else
        snprintf(endpoint, endpoint_len, "https://s3.%s.amazonaws.com", region);
    o->url = cfg->object_store;
    o->s3.endpoint = endpoint;
    o->s3.region = region;
    o->s3.access_key = cred->access_key;
    o->s3.secret_key = cred->secret_key;
    o->s3.session_token = cred->session_token[0] ? cred->session_token : NULL;
    o->s3.addressing = cfg->s3_path_style ? TSV_S3_PATH_STYLE : TSV_S3_VIRTUAL_HOST;
    o->s3.ca_file = cfg->s3_ca_file;
    o->s3.skip_verify = cfg->s3_insecure;
    o->concurrency = cfg->s3_concurrency;
    o->checkpoint_interval_s = cfg->s3_checkpoint_interval_s;
    o->log_interval_s = cfg->s3_log_interval_s;
    o->lease_ttl_s = cfg->s3_lease_ttl_s;
    o->keep_checkpoints = cfg->s3_keep_checkpoints;
    o->evict_after_s = cfg->s3_evict_after_s;
    o->gc_interval_s = cfg->purge_interval_s; /* with the local purge and GC */
    /* Objects below 512 MiB go up in one PUT, bigger ones in 64 MiB parts:
     * on Swift every part costs the store a segment object and a container
     * update (docs/benchmarks.md "S3"); a failed PUT re-sends at most 512
     * MiB. */
    o->s3.part_size = (size_t)64 << 20;
    o->s3.multipart_threshold = (uint64_t)512 << 20;
    TSV_INFO("msg=\"object store configured\" url=\"%s\" endpoint=\"%s\" region=%s "
             "credentials=\"%s\"",
             o->url, endpoint, region, cred->source);
    return 0;
}

int main(int argc, char **argv)
{
    /* Request buffers of 256 KiB and more (read-ahead slots, decoder and
     * validator buffers) are mmapped and given back when freed. glibc would
     * otherwise raise this threshold after the first such free and keep the
     * freed buffers in the arena of whichever worker thread served the
     * request, so RSS would creep up to (worker threads x one request's
     * buffers) and stay there. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    /* Offline and client subcommands (cli.h). */
    if (argc > 1 && strcmp(argv[1], "export") == 0)
        return tsv_cli_export(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "stats") == 0)
        return tsv_cli_stats(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "verify") == 0)
        return tsv_cli_verify(argc - 1, argv + 1);
    if (argc > 1 && (strcmp(argv[1], "upload") == 0 || strcmp(argv[1], "files") == 0 ||
                     strcmp(argv[1], "jobs") == 0 || strcmp(argv[1], "pitr") == 0))
        return tsv_cli_client(argc - 1, argv + 1);
    tsv_config cfg;
    tsv_error err;
    int rc = tsv_config_parse(&cfg, argc, argv, stdout, &err);
    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "tsvault: %s\n", err.message);
        return 2;
    }
    tsv_log_set_level(cfg.log_level);

    /* Signals are taken synchronously by this thread; every other thread
     * (civetweb's included) inherits the blocked mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    tsv_store_options sopt = {
        .data_dir = cfg.data_dir,
        .trash_retention_s = cfg.trash_retention_s,
        .soft_delete_retention_s = cfg.soft_delete_retention_s,
        .vault_quota_bytes = cfg.vault_quota_bytes,
        .purge_interval_s = cfg.purge_interval_s,
    };
    /* One cleanup block for a failed start and for the shutdown alike. */
    rc = 1;
    tsv_store *store = NULL;
    tsv_files *files = NULL;
    tsv_conns *conns = NULL;
    tsv_jobs *jobs = NULL;
    tsv_server *srv = NULL;
    tsv_rpc *rpc = NULL;
    tsv_tier *tier = NULL;
    tsv_tier_options topt;
    tsv_s3_credentials cred;
    char s3_endpoint[1024];
    if (cfg.object_store &&
        tier_options(&cfg, &topt, &cred, s3_endpoint, sizeof s3_endpoint, &err) != 0) {
        TSV_ERROR("msg=\"cannot configure the object store\" error=\"%s\"", err.message);
        goto out;
    }
    if (cfg.recover_from && tsv_tier_recover(cfg.data_dir, &topt, &err) != 0) {
        TSV_ERROR("msg=\"cannot recover from the object store\" error=\"%s\"", err.message);
        goto out;
    }
    if (tsv_store_open(&store, &sopt, &err) != 0) {
        TSV_ERROR("msg=\"cannot open data directory\" dir=\"%s\" error=\"%s\"", cfg.data_dir,
                  err.message);
        goto out;
    }
    tsv_files_options fopt = {
        .data_dir = cfg.data_dir,
        .max_file_size = cfg.files_max_size,
        .quota = cfg.files_quota,
    };
    if (tsv_files_open(&files, &fopt, &err) != 0) {
        TSV_ERROR("msg=\"cannot open the staging area\" error=\"%s\"", err.message);
        goto out;
    }
    char conns_dir[4096];
    snprintf(conns_dir, sizeof conns_dir, "%s/connections", cfg.data_dir);
    tsv_conns_options copt = {.dir = conns_dir,
                              .grace_ns = cfg.soft_delete_retention_s * 1000000000LL,
                              .collect_ns = cfg.purge_interval_s * 1000000000LL};
    if (tsv_conns_open(&conns, &copt, &err) != 0) {
        TSV_ERROR("msg=\"cannot open the connections\" error=\"%s\"", err.message);
        goto out;
    }
    topt.conns = conns;
    topt.files = files;
    if (cfg.object_store && tsv_tier_start(&tier, store, cfg.data_dir, &topt, &err) != 0) {
        TSV_ERROR("msg=\"cannot start copying to the object store\" error=\"%s\"", err.message);
        goto out;
    }
    tsv_jobs_options jopt = {.workers = cfg.job_workers,
                             .retention_s = cfg.job_retention_s,
                             .conns = conns,
                             .tier = tier};
    if (tsv_jobs_open(&jobs, store, files, &jopt, &err) != 0 ||
        tsv_conns_start_schedule(conns, jobs, &err) != 0) {
        TSV_ERROR("msg=\"cannot open the jobs\" error=\"%s\"", err.message);
        goto out;
    }
    tsv_server_services svc = {.store = store, .files = files, .jobs = jobs, .conns = conns};
    if (tsv_server_start(&srv, &cfg, &svc, &err) != 0) {
        TSV_ERROR("msg=\"cannot start HTTP server\" error=\"%s\"", err.message);
        goto out;
    }
    if (cfg.rpc_bind_address[0] && tsv_rpc_start(&rpc, &cfg, store, &err) != 0) {
        TSV_ERROR("msg=\"cannot start the 1.x RPC service\" error=\"%s\"", err.message);
        tsv_server_stop(srv);
        goto out;
    }
    if (cfg.tls_cert && rpc && !loopback_address(cfg.rpc_bind_address))
        TSV_WARN("msg=\"the 1.x RPC service has no TLS (InfluxDB's protocol has none): keep it on "
                 "loopback or tunnel it\" rpc_bind=%s",
                 cfg.rpc_bind_address);
    TSV_INFO("msg=listening version=%s api_version=%s commit=%s bind=%s scheme=%s port=%d "
             "data_dir=\"%s\" workers=%d",
             tsv_version(), tsv_influx_compat_version(), tsv_git_commit(), cfg.http_bind_address,
             srv->tls ? "https" : "http", srv->port, cfg.data_dir, cfg.worker_threads);

    int sig = 0;
    for (;;) {
        if (sigwait(&stop_signals, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
        if (tsv_server_reload_tls(srv, &err) != 0 && !srv->tls)
            TSV_INFO("msg=\"SIGHUP: nothing to reload\" detail=\"%s\"", err.message);
    }
    TSV_INFO("msg=\"shutting down\" signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    tsv_rpc_stop(rpc);
    if (tsv_server_stop(srv) != 0) {
        /* Requests are still running inside the store: closing it under them
         * would be unsafe, and every write is crash-safe, so just leave. */
        TSV_WARN("msg=\"exiting with requests still running\"");
        _exit(1);
    }
    rc = 0;
out:
    tsv_server_free(srv);
    /* Running jobs stop at their next file boundary and are rolled back. */
    if (conns)
        tsv_conns_stop_schedule(conns); /* a no-op when it never started */
    tsv_jobs_close(jobs);
    /* After the jobs (the last copy round sees their final state), before
     * the connections it copies too. */
    tsv_tier_stop(tier);
    tsv_conns_close(conns);
    tsv_files_close(files);
    tsv_store_close(store);
    if (rc == 0)
        TSV_INFO("msg=stopped");
    return rc;
}
