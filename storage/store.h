/*
 * store: the data directory as one object, the only way the server reaches
 * anything on disk.
 *
 * Layout (docs/storage.md has the details and the crash-safety argument):
 *   <data-dir>/LOCK           flock: one server per data directory
 *   <data-dir>/state/         the live generation
 *       .tsv-gen              random 64-bit id of this generation
 *       kv/                   LMDB environment holding the bolt tree
 *       influxd.sqlite        restored SQL store (absent until one is restored)
 *       engine/data/<bucketID>/<rp>/<shardID>/   TSM and tombstone files
 *   <data-dir>/state.staging-<G>/  a new generation being built (restore/kv)
 *   <data-dir>/tmp/           uploads being received (emptied at start-up)
 *   <data-dir>/trash/         data moved aside by restores, kept for the
 *                             trash retention period, then purged
 *
 * Concurrency: a store-wide rwlock. Ordinary operations (token lookups,
 * bucket and shard restores, backups) hold it shared; swapping the whole KV
 * or SQL store holds it exclusive. Within the shared mode, LMDB serializes
 * writers and a per-shard lock serializes restores into the same shard.
 *
 * Errors: int 0/-1 with tsv_error. Ownership: tsv_store_open returns a store
 * freed by tsv_store_close. Thread-safety: all functions are thread-safe.
 */
#ifndef TSV_STORE_H
#define TSV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "tsv_error.h"

typedef struct tsv_store tsv_store;

typedef struct tsv_store_options {
    const char *data_dir;
    int64_t trash_retention_s; /* <0: never purge */
    size_t kv_map_size;        /* 0: default */
    int64_t soft_delete_retention_s; /* grace period of soft-deleted versions; <0: forever */
    uint64_t vault_quota_bytes;      /* 0: no quota */
    int64_t purge_interval_s;        /* background purge period; 0: no background task */
} tsv_store_options;

int tsv_store_open(tsv_store **out, const tsv_store_options *opt, tsv_error *err);
void tsv_store_close(tsv_store *s);

/* What a token may do on one (action, resource type), in InfluxDB's terms
 * (influxdb-2-api.md §2.2): any = unscoped or "instance"; otherwise only
 * within the listed orgs (orgID-scoped) or on the listed resources (id). */
#define TSV_PERM_SCOPES 4
typedef struct tsv_perm_scope {
    int any;
    int n_orgs, n_ids;
    char orgs[TSV_PERM_SCOPES][17];
    char ids[TSV_PERM_SCOPES][17];
} tsv_perm_scope;

typedef struct tsv_token_perms {
    tsv_perm_scope read_orgs, write_orgs, read_buckets, write_buckets;
} tsv_token_perms;

/* 1 if the scope allows the resource (org_id and id may be NULL). */
int tsv_perm_allows(const tsv_perm_scope *p, const char *org_id, const char *id);

typedef struct tsv_token_info {
    int active;       /* authorization status is "active" */
    int user_active;  /* its user (if any) is active */
    int is_operator;  /* holds the full operator permission set */
    char auth_id[17];
    char org_id[17];
    char user_id[17];
    char first_missing_permission[64]; /* e.g. "read:authorizations" when !is_operator */
    tsv_token_perms perms;
} tsv_token_info;

/* Looks a raw token up in the KV store (raw "token" and SHA-512 PHC
 * "hashedToken" forms). TSV_ENOTFOUND if no authorization matches. */
int tsv_store_lookup_token(tsv_store *s, const char *token, size_t len, tsv_token_info *out,
                           tsv_error *err);

/* ---- tenants (store_tenant.c) ----------------------------------------- */
struct tsv_org;
struct tsv_bucket;

/* Onboarding is allowed while no user and no organization exist. */
int tsv_store_setup_allowed(tsv_store *s, int *allowed, tsv_error *err);

typedef struct tsv_setup_request {
    const char *username;
    const char *password;      /* may be NULL */
    const char *org;
    const char *bucket;
    int64_t retention_ns;      /* 0 = infinite */
    const char *token;         /* operator token to use; NULL = generate one */
} tsv_setup_request;

typedef struct tsv_setup_result {
    char user_id[17];
    char org_id[17];
    char bucket_id[17];
    char auth_id[17];
    char token[256];
} tsv_setup_result;

/* Creates user, org (with its system buckets), bucket and operator token in
 * one transaction. TSV_ECONFLICT if onboarding was already done. */
int tsv_store_setup(tsv_store *s, const tsv_setup_request *req, tsv_setup_result *out,
                    tsv_error *err);

typedef int (*tsv_store_org_fn)(void *ctx, const struct tsv_org *org, tsv_error *err);
typedef int (*tsv_store_bucket_fn)(void *ctx, const struct tsv_bucket *b, tsv_error *err);

/* name NULL = all organizations (ascending ID). */
int tsv_store_orgs_list(tsv_store *s, const char *name, tsv_store_org_fn fn, void *ctx,
                        tsv_error *err);
int tsv_store_org_create(tsv_store *s, const char *name, const char *description,
                         struct tsv_org *out, tsv_error *err);
int tsv_store_org_get(tsv_store *s, const char *id, struct tsv_org *out, tsv_error *err);

typedef struct tsv_bucket_filter {
    const char *id;
    const char *org_id;
    const char *org_name;
    const char *name;
    const tsv_perm_scope *visible; /* NULL = all; else only buckets it allows */
} tsv_bucket_filter;

/* Calls fn for the buckets matching the filter, skipping `offset` matches
 * and stopping after `limit` (0 = no limit). */
int tsv_store_buckets_list(tsv_store *s, const tsv_bucket_filter *f, uint64_t offset,
                           uint64_t limit, tsv_store_bucket_fn fn, void *ctx, tsv_error *err);
int tsv_store_bucket_get(tsv_store *s, const char *id, struct tsv_bucket *out, tsv_error *err);
/* Creates the tenant bucket and its tsdb database (RP autogen) together. */
int tsv_store_bucket_create(tsv_store *s, const char *org_id, const char *name,
                            const char *description, int64_t retention_ns, int64_t sgd_ns,
                            struct tsv_bucket *out, tsv_error *err);
/* Removes bucket and tsdb database; its shard directories go to the trash. */
int tsv_store_bucket_delete(tsv_store *s, const char *id, tsv_error *err);

#endif
