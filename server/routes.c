/* routes: every endpoint, its method, auth level, handler and what it does
 * with a request body (kind, Content-Encoding, size limit, pre-body check). */
#include "routes.h"

/* A route that reads no body. */
#define NO_BODY TSV_BODY_NONE, 0, 0, NULL

const tsv_route tsv_routes[] = {
    {"GET", "/health", TSV_AUTH_NONE, tsv_handle_health, NO_BODY},
    {"HEAD", "/health", TSV_AUTH_NONE, tsv_handle_health, NO_BODY},
    {"GET", "/ping", TSV_AUTH_NONE, tsv_handle_ping, NO_BODY},
    {"HEAD", "/ping", TSV_AUTH_NONE, tsv_handle_ping, NO_BODY},
    {"GET", "/api/v2/setup", TSV_AUTH_NONE, tsv_handle_setup_get, NO_BODY},
    {"POST", "/api/v2/setup", TSV_AUTH_NONE, tsv_handle_setup_post, TSV_BODY_SMALL, 0, TSV_JSON_BODY_MAX, NULL},
    {"GET", "/api/v2/orgs", TSV_AUTH_TOKEN, tsv_handle_orgs_get, NO_BODY},
    {"POST", "/api/v2/orgs", TSV_AUTH_TOKEN, tsv_handle_orgs_post, TSV_BODY_SMALL, 0, TSV_JSON_BODY_MAX, NULL},
    {"GET", "/api/v2/buckets", TSV_AUTH_TOKEN, tsv_handle_buckets_get, NO_BODY},
    {"POST", "/api/v2/buckets", TSV_AUTH_TOKEN, tsv_handle_buckets_post, TSV_BODY_SMALL, 0, TSV_JSON_BODY_MAX, NULL},
    {"GET", "/api/v2/buckets/{bucketID}", TSV_AUTH_TOKEN, tsv_handle_bucket_get, NO_BODY},
    {"DELETE", "/api/v2/buckets/{bucketID}", TSV_AUTH_TOKEN, tsv_handle_bucket_delete, NO_BODY},
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
    {"GET", "/api/v2/backup/kv", TSV_AUTH_OPERATOR, tsv_handle_backup_kv, NO_BODY},
    {"GET", "/api/v2/backup/metadata", TSV_AUTH_OPERATOR, tsv_handle_backup_metadata, NO_BODY},
    {"GET", "/api/v2/backup/shards/{shardID}", TSV_AUTH_OPERATOR, tsv_handle_backup_shard, NO_BODY},
};

const int tsv_route_count = (int)(sizeof tsv_routes / sizeof tsv_routes[0]);
