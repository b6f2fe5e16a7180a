/* config: flags, TSVAULT_* environment variables and their defaults. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"

#define DEFAULT_DATA_DIR "./tsvault-data"

typedef enum opt_id {
    OPT_BIND,
    OPT_DATA_DIR,
    OPT_LOG_LEVEL,
    OPT_TOKEN,
    OPT_THREADS,
    OPT_MAX_BODY,
    OPT_MAX_HEADER,
    OPT_SHUTDOWN,
    OPT_TRASH,
    OPT_HEADER_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_BODY_IDLE,
    OPT_MAX_UPLOADS,
    OPT_SOFT_DELETE,
    OPT_VAULT_QUOTA,
    OPT_PURGE_INTERVAL,
    OPT_FILES_MAX,
    OPT_FILES_QUOTA,
    OPT_JOB_WORKERS,
    OPT_JOB_RETENTION,
    OPT_RPC_BIND,
    OPT_RPC_ORG,
    OPT_RPC_ALLOW,
    OPT_RPC_TIMEOUT,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_MIN_VERSION,
    OPT_TLS_STRICT,
    OPT_METRICS_AUTH,
    OPT_OBJECT_STORE,
    OPT_RECOVER_FROM,
    OPT_S3_ENDPOINT,
    OPT_S3_REGION,
    OPT_S3_PATH_STYLE,
    OPT_S3_CREDENTIALS,
    OPT_S3_CA,
    OPT_S3_INSECURE,
    OPT_S3_CONCURRENCY,
    OPT_S3_CHECKPOINT,
    OPT_S3_LOG,
    OPT_S3_LEASE_TTL,
    OPT_S3_KEEP,
    OPT_S3_EVICT,
    OPT_COUNT
} opt_id;

/* How apply() reads an option's value: most options are one of a few kinds
 * (a number in a range, a size, a duration, a boolean, a path), so each is a
 * row of the table below rather than a block of its own; K_SPECIAL ones have
 * their own case in apply(). */
typedef enum opt_kind {
    K_SPECIAL,
    K_TEXT,    /* const char *: "" is NULL */
    K_BOOL,    /* int: Go's strconv.ParseBool */
    K_INT,     /* int: decimal, lo..hi */
    K_SIZE,    /* int or uint64_t: tsv_parse_size, lo..hi */
    K_SECONDS, /* int or int64_t: tsv_parse_duration_s, lo..hi */
} opt_kind;

typedef struct opt_rule {
    opt_kind kind;
    size_t off, size; /* the tsv_config field */
    uint64_t lo, hi;
    const char *what, *tail; /* error: "<source>: <what> \"<value>\"<tail>" */
} opt_rule;

#define ANY UINT64_MAX
#define FIELD(f) offsetof(tsv_config, f), sizeof(((tsv_config *)0)->f)
// clang-format off
#define SPECIAL {K_SPECIAL, 0, 0, 0, 0, NULL, NULL}
#define TEXT(f) {K_TEXT, FIELD(f), 0, 0, NULL, NULL}
#define BOOL(f) {K_BOOL, FIELD(f), 0, 1, "expected true or false, got", ""}
#define INT(f, lo, hi, what) {K_INT, FIELD(f), lo, hi, what, ""}
#define SIZE(f, lo, hi, what) {K_SIZE, FIELD(f), lo, hi, what, ""}
#define SECONDS(f, lo, hi, what) SECONDS_NOTE(f, lo, hi, what, "")
#define SECONDS_NOTE(f, lo, hi, what, tail) {K_SECONDS, FIELD(f), lo, hi, what, tail}
// clang-format on

static const struct {
    const char *flag;
    const char *env;
    const char *def;
    const char *help;
    opt_rule rule;
} options[OPT_COUNT] = {
    [OPT_BIND] = {"http-bind-address", "TSVAULT_HTTP_BIND_ADDRESS", ":8086",
                  "address to listen on, host:port or :port (like influxd)", SPECIAL},
    [OPT_DATA_DIR] = {"data-dir", "TSVAULT_DATA_DIR", DEFAULT_DATA_DIR,
                      "directory holding the KV store, SQL file and shard data", SPECIAL},
    [OPT_LOG_LEVEL] = {"log-level", "TSVAULT_LOG_LEVEL", "info", "debug, info, warn or error",
                       SPECIAL},
    [OPT_TOKEN] = {"operator-token", "TSVAULT_OPERATOR_TOKEN", "",
                   "bootstrap operator token, accepted besides the tokens in the KV store",
                   TEXT(operator_token)},
    [OPT_THREADS] = {"worker-threads", "TSVAULT_WORKER_THREADS", "512",
                     "HTTP worker threads: open connections served at once, idle or not",
                     INT(worker_threads, 2, 4096, "worker threads must be 2..4096, got")},
    [OPT_MAX_BODY] = {"max-body-size", "TSVAULT_MAX_BODY_SIZE", "0",
                      "largest request body accepted, e.g. 10GiB; 0 = unlimited (as influxd)",
                      SIZE(max_body_size, 0, ANY, "invalid size")},
    [OPT_MAX_HEADER] = {"max-header-size", "TSVAULT_MAX_HEADER_SIZE", "16384",
                        "largest request line + headers in bytes",
                        SIZE(max_header_size, 1024, 1024 * 1024,
                             "header size must be 1KiB..1MiB, got")},
    [OPT_SHUTDOWN] = {"shutdown-timeout", "TSVAULT_SHUTDOWN_TIMEOUT", "30s",
                      "on SIGINT/SIGTERM, how long in-flight requests may finish",
                      SECONDS(shutdown_timeout_s, 0, 3600, "invalid duration")},
    [OPT_TRASH] = {"trash-retention", "TSVAULT_TRASH_RETENTION", "168h",
                   "how long data moved aside by restores is kept before it is purged",
                   SECONDS(trash_retention_s, 0, ANY, "invalid duration")},
    [OPT_HEADER_TIMEOUT] = {"http-read-header-timeout", "TSVAULT_HTTP_READ_HEADER_TIMEOUT", "10s",
                            "a connection whose request line and headers take longer is closed",
                            SECONDS(read_header_timeout_s, 1, 86400,
                                    "duration must be 1s..24h, got")},
    [OPT_IDLE_TIMEOUT] = {"http-idle-timeout", "TSVAULT_HTTP_IDLE_TIMEOUT", "3m",
                          "how long a keep-alive connection may wait for its next request",
                          SECONDS(idle_timeout_s, 1, 86400, "duration must be 1s..24h, got")},
    [OPT_BODY_IDLE] = {"http-body-idle-timeout", "TSVAULT_HTTP_BODY_IDLE_TIMEOUT", "60s",
                       "a request body (or a response the client stops reading) idle this long "
                       "is cut off",
                       SECONDS(body_idle_timeout_s, 1, 86400, "duration must be 1s..24h, got")},
    [OPT_MAX_UPLOADS] = {"max-concurrent-uploads", "TSVAULT_MAX_CONCURRENT_UPLOADS", "8",
                         "restore uploads handled at once; more get 503 with Retry-After",
                         INT(max_uploads, 1, 4096, "concurrent uploads must be 1..4096, got")},
    [OPT_SOFT_DELETE] = {"soft-delete-retention", "TSVAULT_SOFT_DELETE_RETENTION", "720h",
                         "grace period of soft-deleted versions (replaced or deleted data) "
                         "before they are purged; 30 days by default",
                         SECONDS(soft_delete_retention_s, 0, ANY, "invalid duration")},
    [OPT_VAULT_QUOTA] = {"vault-quota", "TSVAULT_VAULT_QUOTA", "0",
                         "space quota of the vault's catalogued data (e.g. 100GiB; 0 = none): "
                         "above it the oldest soft-deleted versions are purged early",
                         SIZE(vault_quota_bytes, 0, ANY, "invalid size")},
    [OPT_PURGE_INTERVAL] = {"purge-interval", "TSVAULT_PURGE_INTERVAL", "1h",
                            "how often the background task purges soft-deleted versions whose "
                            "grace period is over (also runs at start-up)",
                            SECONDS_NOTE(purge_interval_s, 1, ANY, "invalid duration",
                                         " (at least 1s)")},
    [OPT_FILES_MAX] = {"files-max-size", "TSVAULT_FILES_MAX_SIZE", "64GiB",
                       "largest file one Files API upload may stage; 0 = unlimited",
                       SIZE(files_max_size, 0, ANY, "invalid size")},
    [OPT_FILES_QUOTA] = {"files-quota", "TSVAULT_FILES_QUOTA", "0",
                         "total bytes the Files API staging area may hold; 0 = the file system",
                         SIZE(files_quota, 0, ANY, "invalid size")},
    [OPT_JOB_WORKERS] = {"job-workers", "TSVAULT_JOB_WORKERS", "2",
                         "jobs run at the same time (Jobs API worker pool), 1..64",
                         INT(job_workers, 1, 64, "job workers must be 1..64, got")},
    [OPT_JOB_RETENTION] = {"job-retention", "TSVAULT_JOB_RETENTION", "720h",
                           "how long finished jobs are kept before they are deleted",
                           SECONDS(job_retention_s, 0, ANY, "invalid duration")},
    [OPT_RPC_BIND] = {"rpc-bind-address", "TSVAULT_RPC_BIND_ADDRESS", "127.0.0.1:8088",
                      "InfluxDB 1.x backup/restore (snapshotter) service, host:port; empty = off",
                      SPECIAL},
    [OPT_RPC_ORG] = {"rpc-org", "TSVAULT_RPC_ORG", "",
                     "organization (name or ID) holding the 1.x db/rp buckets; empty = the first",
                     SPECIAL},
    [OPT_RPC_ALLOW] =
        {"rpc-allowed-hosts", "TSVAULT_RPC_ALLOWED_HOSTS", "",
         "peers allowed on the 1.x service, comma-separated IPs or CIDRs; empty = any", SPECIAL},
    [OPT_RPC_TIMEOUT] = {"rpc-timeout", "TSVAULT_RPC_TIMEOUT", "30s",
                         "1.x service: drop a silent peer, and finish a restore idle this long",
                         SECONDS(rpc_timeout_s, 1, 3600, "timeout must be 1s..1h, got")},
    [OPT_TLS_CERT] = {"tls-cert", "TSVAULT_TLS_CERT", "",
                      "PEM certificate (leaf first, then its chain): serve HTTPS instead of HTTP; "
                      "needs --tls-key; re-read on SIGHUP",
                      TEXT(tls_cert)},
    [OPT_TLS_KEY] = {"tls-key", "TSVAULT_TLS_KEY", "",
                     "PEM private key of --tls-cert (unencrypted); re-read on SIGHUP",
                     TEXT(tls_key)},
    [OPT_TLS_MIN_VERSION] = {"tls-min-version", "TSVAULT_TLS_MIN_VERSION", "1.2",
                             "lowest TLS version accepted: 1.0, 1.1, 1.2 or 1.3", SPECIAL},
    [OPT_TLS_STRICT] =
        {"tls-strict-ciphers", "TSVAULT_TLS_STRICT_CIPHERS", "false",
         "TLS 1.2 and below: only ECDHE with AES-GCM or ChaCha20-Poly1305 (as influxd)",
         BOOL(tls_strict_ciphers)},
    [OPT_METRICS_AUTH] = {"metrics-auth", "TSVAULT_METRICS_AUTH", "false",
                          "true: GET /metrics needs a token with read access to everything; "
                          "false: open, as influxd's /metrics",
                          SPECIAL},
    [OPT_OBJECT_STORE] = {"object-store", "TSVAULT_OBJECT_STORE", "",
                          "s3://bucket[/prefix]: copy every vault object and periodic "
                          "checkpoints of the catalogue and KV there; empty = local disk only",
                          SPECIAL},
    [OPT_RECOVER_FROM] = {"recover-from", "TSVAULT_RECOVER_FROM", "",
                          "s3://bucket[/prefix]: rebuild an empty data directory from its newest "
                          "checkpoint before starting (then keeps copying there)",
                          SPECIAL},
    [OPT_S3_ENDPOINT] = {"s3-endpoint", "TSVAULT_S3_ENDPOINT", "",
                         "S3 endpoint URL (MinIO, Ceph RGW, Swift); empty = AWS's "
                         "https://s3.<region>.amazonaws.com",
                         SPECIAL},
    [OPT_S3_REGION] = {"s3-region", "TSVAULT_S3_REGION", "",
                       "S3 signing region; empty = AWS_REGION, else us-east-1", TEXT(s3_region)},
    [OPT_S3_PATH_STYLE] = {"s3-path-style", "TSVAULT_S3_PATH_STYLE", "false",
                           "true: path-style URLs (host/bucket/key, MinIO and Swift); false: "
                           "virtual-host (bucket.host/key, AWS)",
                           BOOL(s3_path_style)},
    [OPT_S3_CREDENTIALS] = {"s3-credentials-file", "TSVAULT_S3_CREDENTIALS_FILE", "",
                            "AWS credentials file (INI, profile AWS_PROFILE or default); empty = "
                            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, then "
                            "~/.aws/credentials",
                            TEXT(s3_credentials_file)},
    [OPT_S3_CA] = {"s3-ca-file", "TSVAULT_S3_CA_FILE", "",
                   "PEM CA bundle to verify the S3 endpoint; empty = the system's",
                   TEXT(s3_ca_file)},
    [OPT_S3_INSECURE] = {"s3-insecure-skip-verify", "TSVAULT_S3_INSECURE_SKIP_VERIFY", "false",
                         "do not verify the S3 endpoint's TLS certificate (tests only)",
                         BOOL(s3_insecure)},
    [OPT_S3_CONCURRENCY] = {"s3-concurrency", "TSVAULT_S3_CONCURRENCY", "4",
                            "objects uploaded (and, recovering, downloaded) at once, 1..64",
                            INT(s3_concurrency, 1, 64, "must be 1..64, got")},
    [OPT_S3_CHECKPOINT] = {"s3-checkpoint-interval", "TSVAULT_S3_CHECKPOINT_INTERVAL", "60s",
                           "at most one checkpoint per interval, and only after a change",
                           SECONDS(s3_checkpoint_interval_s, 1, 86400,
                                   "duration must be 1s..24h, got")},
    [OPT_S3_LOG] = {"s3-log-interval", "TSVAULT_S3_LOG_INTERVAL", "5s",
                    "between checkpoints, the changes of the catalogue, KV and jobs are shipped "
                    "as log segments at most this often (0: no log, checkpoints only)",
                    SECONDS(s3_log_interval_s, 0, 86400, "duration must be 0s..24h, got")},
    [OPT_S3_LEASE_TTL] = {"s3-lease-ttl", "TSVAULT_S3_LEASE_TTL", "60s",
                          "how long this server's claim on the prefix lasts unless renewed "
                          "(every third of it); another server waits this long after a crash",
                          SECONDS(s3_lease_ttl_s, 1, 86400, "duration must be 1s..24h, got")},
    [OPT_S3_KEEP] = {"s3-keep-checkpoints", "TSVAULT_S3_KEEP_CHECKPOINTS", "3",
                     "complete checkpoints kept in the object store, 1..1000",
                     INT(s3_keep_checkpoints, 1, 1000, "must be 1..1000, got")},
    [OPT_S3_EVICT] = {"s3-evict-after", "TSVAULT_S3_EVICT_AFTER", "0",
                      "delete local copies of objects not in use (soft-deleted versions, old "
                      "KV/SQL versions) this long after they were stored, once the object store "
                      "holds them; fetched back when needed; 0 = keep everything local",
                      SPECIAL},
};

/* A flag whose default is "true" or "false" is boolean: "--flag" alone means
 * true, as influxd's boolean flags; an explicit value may follow. */
static int opt_is_bool(int id)
{
    return strcmp(options[id].def, "true") == 0 || strcmp(options[id].def, "false") == 0;
}

void tsv_config_usage(FILE *out)
{
    fprintf(out,
            "tsvault %s - InfluxDB 2.x compatible backup/restore server\n\n"
            "Usage: tsvault [serve] [flags]\n\n"
            "Flags (each also settable by its environment variable; a flag wins):\n",
            tsv_version());
    for (int i = 0; i < OPT_COUNT; i++) {
        fprintf(out, "  --%-20s %s\n  %-22s env %s, default \"%s\"\n", options[i].flag,
                options[i].help, "", options[i].env, options[i].def);
    }
    fprintf(out, "  --%-20s %s\n  --%-20s %s\n", "help", "print this help", "version",
            "print the version");
    fprintf(out,
            "\nOther commands (each with --help): export, stats, verify (offline or against a\n"
            "server), and the client commands upload, files, jobs, pitr.\n");
}

int tsv_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || s[0] == '-')
        return -1;
    uint64_t mult = 1;
    if (*end) {
        char unit = (char)tolower((unsigned char)*end);
        const char *rest = end + 1;
        switch (unit) {
        case 'k':
            mult = 1024ULL;
            break;
        case 'm':
            mult = 1024ULL * 1024;
            break;
        case 'g':
            mult = 1024ULL * 1024 * 1024;
            break;
        case 't':
            mult = 1024ULL * 1024 * 1024 * 1024;
            break;
        case 'b':
            mult = 1;
            rest = end + 1;
            break;
        default:
            return -1;
        }
        if (unit != 'b') {
            if (strcasecmp(rest, "") != 0 && strcasecmp(rest, "b") != 0 &&
                strcasecmp(rest, "ib") != 0)
                return -1;
        } else if (*rest) {
            return -1;
        }
    }
    if (v > UINT64_MAX / mult)
        return -1;
    *out = (uint64_t)v * mult;
    return 0;
}

int tsv_parse_duration_s(const char *s, int64_t *out)
{
    if (!s || !*s)
        return -1;
    int64_t total = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno != 0 || end == p || v < 0)
            return -1;
        int64_t mult;
        if (*end == 'h')
            mult = 3600;
        else if (*end == 'm')
            mult = 60;
        else if (*end == 's')
            mult = 1;
        else if (*end == 'd')
            mult = 86400;
        else
            return -1;
        if (v > (INT64_MAX - total) / mult)
            return -1;
        total += v * mult;
        p = end + 1;
    }
    *out = total;
    return 0;
}

/* Go's strconv.ParseBool, which influxd's flags use. */
static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* Stores v in the int or 64-bit field a rule names. */
static void put_number(tsv_config *cfg, const opt_rule *r, uint64_t v)
{
    char *field = (char *)cfg + r->off;
    if (r->size == sizeof(int)) {
        int i = (int)v;
        memcpy(field, &i, sizeof i);
    } else {
        memcpy(field, &v, sizeof v);
    }
}

/* Reads a value by its rule (not K_SPECIAL) into the rule's field. */
static int apply_rule(tsv_config *cfg, const opt_rule *r, const char *val, const char *source,
                      tsv_error *err)
{
    uint64_t u = 0;
    int ok = 0;
    switch (r->kind) {
    case K_TEXT: {
        const char *v = *val ? val : NULL;
        memcpy((char *)cfg + r->off, &v, sizeof v);
        return 0;
    }
    case K_BOOL: {
        int b = 0;
        ok = parse_bool(val, &b) == 0;
        u = (uint64_t)b;
        break;
    }
    case K_INT: {
        char *end;
        errno = 0;
        long l = strtol(val, &end, 10);
        ok = !errno && !*end && end != val && l >= 0;
        u = (uint64_t)l;
        break;
    }
    case K_SIZE:
        ok = tsv_parse_size(val, &u) == 0;
        break;
    case K_SECONDS: {
        int64_t d = 0;
        ok = tsv_parse_duration_s(val, &d) == 0;
        u = (uint64_t)d;
        break;
    }
    case K_SPECIAL:
        return tsv_error_set(err, TSV_EINTERNAL, "unknown option");
    }
    if (!ok || u < r->lo || u > r->hi)
        return tsv_error_set(err, TSV_EINVALID, "%s: %s \"%s\"%s", source, r->what, val, r->tail);
    put_number(cfg, r, u);
    return 0;
}

static int apply(tsv_config *cfg, opt_id id, const char *val, const char *source, tsv_error *err)
{
    int64_t d;
    switch (id) {
    case OPT_BIND: {
        /* influxd style ":8086" means all interfaces; civetweb wants "8086". */
        const char *v = val[0] == ':' ? val + 1 : val;
        if (!*v || strlen(v) >= sizeof cfg->http_bind_address)
            return tsv_error_set(err, TSV_EINVALID, "%s: invalid bind address \"%s\"", source, val);
        snprintf(cfg->http_bind_address, sizeof cfg->http_bind_address, "%s", v);
        return 0;
    }
    case OPT_DATA_DIR:
        if (!*val)
            return tsv_error_set(err, TSV_EINVALID, "%s: data directory must not be empty", source);
        cfg->data_dir = val;
        return 0;
    case OPT_LOG_LEVEL:
        if (tsv_log_parse_level(val, &cfg->log_level) != 0)
            return tsv_error_set(err, TSV_EINVALID, "%s: unknown log level \"%s\"", source, val);
        return 0;
    case OPT_RPC_BIND:
        if (strlen(val) >= sizeof cfg->rpc_bind_address)
            return tsv_error_set(err, TSV_EINVALID, "%s: invalid bind address \"%s\"", source, val);
        snprintf(cfg->rpc_bind_address, sizeof cfg->rpc_bind_address, "%s", val);
        return 0;
    case OPT_RPC_ORG:
        if (strlen(val) >= sizeof cfg->rpc_org)
            return tsv_error_set(err, TSV_EINVALID, "%s: organization name too long", source);
        snprintf(cfg->rpc_org, sizeof cfg->rpc_org, "%s", val);
        return 0;
    case OPT_RPC_ALLOW:
        if (strlen(val) >= sizeof cfg->rpc_allowed_hosts)
            return tsv_error_set(err, TSV_EINVALID, "%s: list too long", source);
        snprintf(cfg->rpc_allowed_hosts, sizeof cfg->rpc_allowed_hosts, "%s", val);
        return 0;
    case OPT_TLS_MIN_VERSION:
        if (strcmp(val, "1.0") == 0)
            cfg->tls_min_version = 10;
        else if (strcmp(val, "1.1") == 0)
            cfg->tls_min_version = 11;
        else if (strcmp(val, "1.2") == 0)
            cfg->tls_min_version = 12;
        else if (strcmp(val, "1.3") == 0)
            cfg->tls_min_version = 13;
        else
            return tsv_error_set(err, TSV_EINVALID,
                                 "%s: unsupported TLS version \"%s\" (1.0, 1.1, 1.2 or 1.3)",
                                 source, val);
        return 0;
    case OPT_METRICS_AUTH:
        if (strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
            cfg->metrics_auth = 1;
        else if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
            cfg->metrics_auth = 0;
        else
            return tsv_error_set(err, TSV_EINVALID, "%s: must be true or false, got \"%s\"", source,
                                 val);
        return 0;
    case OPT_OBJECT_STORE:
    case OPT_RECOVER_FROM:
        if (*val && strncmp(val, "s3://", 5) != 0)
            return tsv_error_set(err, TSV_EINVALID, "%s: expected s3://bucket[/prefix], got \"%s\"",
                                 source, val);
        *(id == OPT_OBJECT_STORE ? &cfg->object_store : &cfg->recover_from) = *val ? val : NULL;
        return 0;
    case OPT_S3_ENDPOINT:
        if (*val && strncmp(val, "http://", 7) != 0 && strncmp(val, "https://", 8) != 0)
            return tsv_error_set(err, TSV_EINVALID, "%s: expected an http(s):// URL, got \"%s\"",
                                 source, val);
        cfg->s3_endpoint = *val ? val : NULL;
        return 0;
    case OPT_S3_EVICT:
        /* A bare "0" (no unit) is accepted here only. */
        if (strcmp(val, "0") == 0) {
            cfg->s3_evict_after_s = 0;
            return 0;
        }
        if (tsv_parse_duration_s(val, &d) != 0)
            return tsv_error_set(err, TSV_EINVALID, "%s: invalid duration \"%s\"", source, val);
        cfg->s3_evict_after_s = d;
        return 0;
    default:
        if (id < 0 || id >= OPT_COUNT)
            return tsv_error_set(err, TSV_EINTERNAL, "unknown option");
        return apply_rule(cfg, &options[id].rule, val, source, err);
    }
}

void tsv_config_defaults(tsv_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    /* Each default is written once, as the string --help shows; they all
     * parse (test_config checks the result). */
    for (int i = 0; i < OPT_COUNT; i++)
        (void)apply(cfg, (opt_id)i, options[i].def, "default", NULL);
}

/* Two s3:// URLs naming the same prefix (trailing slashes aside). */
static int same_url(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 5 && a[la - 1] == '/')
        la--;
    while (lb > 5 && b[lb - 1] == '/')
        lb--;
    return la == lb && strncmp(a, b, la) == 0;
}

int tsv_config_parse(tsv_config *cfg, int argc, char **argv, FILE *help_out, tsv_error *err)
{
    tsv_config_defaults(cfg);
    /* --help must work even when an environment variable is malformed. */
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0 ||
            strcmp(argv[k], "help") == 0) {
            tsv_config_usage(help_out);
            return 1;
        }
    }
    for (int i = 0; i < OPT_COUNT; i++) {
        const char *v = getenv(options[i].env);
        if (v && apply(cfg, (opt_id)i, v, options[i].env, err) != 0)
            return -1;
    }
    int i = 1;
    if (i < argc && strcmp(argv[i], "serve") == 0)
        i++;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0) {
            tsv_config_usage(help_out);
            return 1;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "version") == 0) {
            fprintf(help_out, "tsvault %s (InfluxDB API %s, commit %s)\n", tsv_version(),
                    tsv_influx_compat_version(), tsv_git_commit());
            return 1;
        }
        if (strncmp(a, "--", 2) != 0)
            return tsv_error_set(err, TSV_EINVALID, "unexpected argument \"%s\" (see --help)", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        int found = -1;
        for (int k = 0; k < OPT_COUNT; k++) {
            if (strlen(options[k].flag) == nlen && strncmp(options[k].flag, name, nlen) == 0)
                found = k;
        }
        if (found < 0)
            return tsv_error_set(err, TSV_EINVALID, "unknown flag \"%.*s\" (see --help)",
                                 (int)nlen + 2, a);
        const char *val;
        if (eq) {
            val = eq + 1;
        } else if (opt_is_bool(found)) {
            /* "--flag" alone is true; "--flag true|false|1|0" is accepted too. */
            const char *next = i + 1 < argc ? argv[i + 1] : NULL;
            if (next && (strcmp(next, "true") == 0 || strcmp(next, "false") == 0 ||
                         strcmp(next, "1") == 0 || strcmp(next, "0") == 0))
                val = argv[++i];
            else
                val = "true";
        } else {
            if (i + 1 >= argc)
                return tsv_error_set(err, TSV_EINVALID, "flag --%s needs a value",
                                     options[found].flag);
            val = argv[++i];
        }
        char src[64];
        snprintf(src, sizeof src, "--%s", options[found].flag);
        if (apply(cfg, (opt_id)found, val, src, err) != 0)
            return -1;
    }
    /* Half a TLS configuration must not quietly serve plain HTTP. */
    if (!cfg->tls_cert != !cfg->tls_key)
        return tsv_error_set(err, TSV_EINVALID, "%s is set but %s is not: HTTPS needs both",
                             cfg->tls_cert ? "--tls-cert" : "--tls-key",
                             cfg->tls_cert ? "--tls-key" : "--tls-cert");
    /* Recovering from one prefix and copying to another would leave the
     * recovered vault's objects behind. */
    if (cfg->recover_from && cfg->object_store && !same_url(cfg->recover_from, cfg->object_store))
        return tsv_error_set(err, TSV_EINVALID,
                             "--recover-from %s and --object-store %s differ: a recovered server "
                             "keeps copying where it recovered from",
                             cfg->recover_from, cfg->object_store);
    if (cfg->recover_from)
        cfg->object_store = cfg->recover_from;
    return 0;
}
