/* routes: every endpoint, its method, auth level and handler. */
#include "routes.h"

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
    {"GET", "/api/v2/buckets/{bucketID}/unusedShards", TSV_AUTH_OPERATOR, tsv_handle_unused_shards},
    {"GET", "/v1/projects/{orgID}/tables/{bucketName}/unusedSegments", TSV_AUTH_OPERATOR,
     tsv_handle_unused_segments},
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
};

const int tsv_route_count = (int)(sizeof tsv_routes / sizeof tsv_routes[0]);
