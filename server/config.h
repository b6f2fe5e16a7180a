/*
 * config: server settings from command-line flags, TSVAULT_* environment
 * variables and defaults (flag beats environment beats default).
 *
 * Ownership: tsv_config holds pointers into argv/environ or static strings;
 * nothing to free. Not thread-safe to parse; read-only afterwards.
 * Errors: tsv_config_parse returns 0, 1 when --help/--version was printed,
 * or -1 with a message in err (TSV_EINVALID).
 */
#ifndef TSV_CONFIG_H
#define TSV_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tsv_error.h"
#include "tsv_log.h"

typedef struct tsv_config {
    char http_bind_address[256]; /* civetweb listening_ports form, e.g. "127.0.0.1:8086" */
    const char *data_dir;
    tsv_log_level log_level;
    const char *operator_token; /* bootstrap token; NULL = none */
    int worker_threads;
    uint64_t max_body_size;          /* bytes; 0 = unlimited */
    int max_header_size;             /* bytes of request line + headers */
    int shutdown_timeout_s;          /* how long in-flight requests may finish */
    int64_t trash_retention_s;       /* how long moved-aside data is kept */
    int read_header_timeout_s;       /* request line + headers must arrive within this */
    int idle_timeout_s;              /* keep-alive: wait this long for the next request */
    int body_idle_timeout_s;         /* a request body silent this long is cut off */
    int max_uploads;                 /* concurrent upload requests (restores); more get 503 */
    int64_t soft_delete_retention_s; /* grace period of soft-deleted versions */
    uint64_t vault_quota_bytes;      /* 0 = none */
    int64_t purge_interval_s;        /* background purge period */
    uint64_t files_max_size;         /* largest staged file; 0 = unlimited */
    uint64_t files_quota;            /* staging area quota; 0 = the file system */
    int job_workers;                 /* Jobs API worker pool */
    int64_t job_retention_s;         /* how long finished jobs are kept */
    char rpc_bind_address[256];      /* 1.x snapshotter service host:port; "" = off */
    char rpc_org[256];               /* org of the 1.x names (name or ID); "" = first */
    char rpc_allowed_hosts[1024];    /* comma-separated IPs/CIDRs; "" = any peer */
    int rpc_timeout_s;               /* idle 1.x peer / pending restore */
    const char *tls_cert;            /* PEM certificate (+ chain) file; NULL = plain HTTP */
    const char *tls_key;             /* PEM private key file; set exactly when tls_cert is */
    int tls_min_version;             /* lowest TLS 1.x accepted: 10, 11, 12 or 13 */
    int tls_strict_ciphers;          /* influxd's --tls-strict-ciphers (docs/operations.md) */
    int metrics_auth;                /* GET /metrics needs a read-all (backup) token */
    /* S3 tier (jobs/s3_tier.h); object_store "" = off */
    const char *object_store;        /* s3://bucket/prefix */
    const char *recover_from;        /* s3://bucket/prefix: fill an empty data dir first */
    const char *s3_endpoint;         /* NULL: AWS's regional endpoint */
    const char *s3_region;           /* NULL: AWS_REGION, else us-east-1 */
    int s3_path_style;               /* 1: http://host/bucket/key */
    const char *s3_credentials_file; /* NULL: AWS_* variables, ~/.aws/credentials */
    const char *s3_ca_file;          /* NULL: the system's CA store */
    int s3_insecure;                 /* no TLS verification (tests only) */
    int s3_concurrency;              /* objects copied at once */
    int64_t s3_checkpoint_interval_s;
    int64_t s3_log_interval_s; /* 0: no log between checkpoints */
    int64_t s3_lease_ttl_s;
    int s3_keep_checkpoints;
    int64_t s3_evict_after_s; /* 0: never evict local copies */
} tsv_config;

void tsv_config_defaults(tsv_config *cfg);
int tsv_config_parse(tsv_config *cfg, int argc, char **argv, FILE *help_out, tsv_error *err);
void tsv_config_usage(FILE *out);
/* Parses "10MiB", "512k", "1g", "1048576" into bytes. */
int tsv_parse_size(const char *s, uint64_t *out);
/* Parses Go-style durations "168h", "30m", "10s", "1h30m" into seconds. */
int tsv_parse_duration_s(const char *s, int64_t *out);

#endif
