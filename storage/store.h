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

#include "permission.h"
#include "tsv_error.h"

typedef struct tsv_store tsv_store;

typedef struct tsv_store_options {
    const char *data_dir;
    int64_t trash_retention_s; /* <0: never purge */
    size_t kv_map_size;        /* 0: default */
    /* Offline tools (export, verify of a stopped server's directory): takes
     * the lock shared (fails while a server holds it), changes nothing on
     * disk (no recovery, reconciliation, trash purge or tmp cleanup) and
     * only reads. */
    int read_only;
    /* With read_only: open even if the KV store cannot be opened (verify
     * reports that and still checks the shard files). */
    int tolerate_kv_failure;
    int64_t soft_delete_retention_s; /* grace period of soft-deleted versions; <0: forever */
    uint64_t vault_quota_bytes;      /* 0: no quota */
    int64_t purge_interval_s;        /* background purge period; 0: no background task */
} tsv_store_options;

int tsv_store_open(tsv_store **out, const tsv_store_options *opt, tsv_error *err);
void tsv_store_close(tsv_store *s);

/* What a token is and may do. perms is owned by the info: release with
 * tsv_token_info_clear. */
typedef struct tsv_token_info {
    int active;      /* authorization status is "active" */
    int user_active; /* its user (if any) is active */
    int is_operator; /* holds the full operator permission set */
    char auth_id[17];
    char org_id[17];
    char user_id[17];
    char first_missing_permission[96]; /* e.g. "read:authorizations" when !is_operator */
    tsv_perm_set perms;
} tsv_token_info;

void tsv_token_info_clear(tsv_token_info *info);

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
    const char *password; /* may be NULL */
    const char *org;
    const char *bucket;
    int64_t retention_ns; /* 0 = infinite */
    const char *token;    /* operator token to use; NULL = generate one */
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
    const tsv_perm_set *visible; /* NULL = all; else only buckets it may read */
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

/* ---- admin: authorizations, users, members, updates (store_admin.c) ---- */
struct tsv_authorization;
struct tsv_user;
struct tsv_urm;

/* The names influxd shows next to an authorization: its org's and user's,
 * and per permission the name of the resource (buckets, orgs, users with an
 * id) and of its org (with an orgID). NULL when unknown. */
typedef struct tsv_auth_names {
    const char *org;
    const char *user;
    const char *const *perm_name; /* a->perms.count entries */
    const char *const *perm_org;
} tsv_auth_names;

/* Each authorization with its names, in ascending ID order. */
typedef int (*tsv_store_auth_fn)(void *ctx, const struct tsv_authorization *a,
                                 const tsv_auth_names *names, tsv_error *err);
int tsv_store_auths_list(tsv_store *s, tsv_store_auth_fn fn, void *ctx, tsv_error *err);
int tsv_store_auth_get(tsv_store *s, const char *id, struct tsv_authorization *out, tsv_error *err);
/* One authorization (by ID, or by raw token when id is NULL). */
int tsv_store_auth_find(tsv_store *s, const char *id, const char *token, size_t token_len,
                        tsv_store_auth_fn fn, void *ctx, tsv_error *err);
/* Creates an authorization; its org and user must exist (TSV_EINVALID
 * "unable to create token" otherwise, as influxd). token_out: the raw token. */
int tsv_store_auth_create(tsv_store *s, const char *org_id, const char *user_id,
                          const char *description, int active, const tsv_perm_set *perms,
                          char token_out[89], char id_out[17], tsv_error *err);
int tsv_store_auth_update(tsv_store *s, const char *id, const char *status, const char *description,
                          tsv_error *err);
int tsv_store_auth_delete(tsv_store *s, const char *id, tsv_error *err);

typedef int (*tsv_store_user_fn)(void *ctx, const struct tsv_user *u, tsv_error *err);
int tsv_store_users_list(tsv_store *s, tsv_store_user_fn fn, void *ctx, tsv_error *err);
int tsv_store_user_get(tsv_store *s, const char *id, struct tsv_user *out, tsv_error *err);
int tsv_store_user_by_name(tsv_store *s, const char *name, struct tsv_user *out, tsv_error *err);
/* status NULL = active. password NULL = none. */
int tsv_store_user_create(tsv_store *s, const char *name, const char *password, const char *status,
                          struct tsv_user *out, tsv_error *err);
int tsv_store_user_update(tsv_store *s, const char *id, const char *name, const char *status,
                          struct tsv_user *out, tsv_error *err);
int tsv_store_user_delete(tsv_store *s, const char *id, tsv_error *err);
int tsv_store_user_set_password(tsv_store *s, const char *id, const char *password, tsv_error *err);

/* Members/owners of a resource: each mapping of user_type ("member" or
 * "owner") with its user (mappings whose user is gone are skipped). */
typedef int (*tsv_store_member_fn)(void *ctx, const struct tsv_urm *m, const struct tsv_user *u,
                                   tsv_error *err);
int tsv_store_members_list(tsv_store *s, const char *resource_id, const char *user_type,
                           tsv_store_member_fn fn, void *ctx, tsv_error *err);
/* Adds user as member/owner of the resource; TSV_ENOTFOUND "user not found". */
int tsv_store_member_add(tsv_store *s, const char *resource_type, const char *resource_id,
                         const char *user_id, const char *user_type, struct tsv_user *out,
                         tsv_error *err);
int tsv_store_member_remove(tsv_store *s, const char *resource_id, const char *user_id,
                            tsv_error *err);

/* name / description may be NULL (unchanged). */
int tsv_store_org_update(tsv_store *s, const char *id, const char *name, const char *description,
                         struct tsv_org *out, tsv_error *err);
/* Removes the org, its buckets (data moved to the trash, tsdb databases
 * dropped) and the mappings onto it. */
int tsv_store_org_delete(tsv_store *s, const char *id, tsv_error *err);

typedef struct tsv_bucket_update {
    const char *name;        /* NULL: unchanged */
    const char *description; /* NULL: unchanged */
    int set_retention;       /* retention rules given */
    int64_t retention_ns;    /* 0 = infinite */
    int64_t sgd_ns;          /* 0 = derived from the retention */
} tsv_bucket_update;
/* Updates the bucket record and its tsdb retention policy together. */
int tsv_store_bucket_update(tsv_store *s, const char *id, const tsv_bucket_update *upd,
                            struct tsv_bucket *out, tsv_error *err);

#endif
