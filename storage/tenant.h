/*
 * tenant: organizations, buckets, users and authorizations, stored exactly
 * as InfluxDB 2.x stores them in its KV tree (docs/formats.md#kv): 16-hex ID keys,
 * JSON values with InfluxDB's field names and order, and the name/token index
 * buckets, so a KV exported from tsvault works in influxd and vice versa.
 *
 * All functions work inside a caller's KV transaction, so a caller can make
 * several changes (e.g. a bucket plus its tsdb meta) commit as one.
 *
 * Errors: int 0/-1 with tsv_error. Lookups report TSV_ENOTFOUND; name clashes
 * TSV_ECONFLICT; bad names TSV_EINVALID. A stored record that does not parse
 * is TSV_EINTERNAL naming the bucket and key.
 * Ownership: record structs own their strings; release with *_clear.
 * Thread-safety: as the transaction (one thread).
 */
#ifndef TSV_TENANT_H
#define TSV_TENANT_H

#include <stddef.h>
#include <stdint.h>

#include "kv.h"
#include "permission.h"
#include "store.h"
#include "tsv_error.h"

#define TSV_ID_HEX_LEN 16

typedef struct tsv_org {
    char id[17];
    char *name;
    char *description;
    char *created_at;
    char *updated_at;
} tsv_org;

typedef struct tsv_bucket {
    char id[17];
    char org_id[17];
    int type; /* 0 user, 1 system */
    char *name;
    char *description;
    char *rp; /* may be NULL (omitted) */
    int64_t retention_ns;
    int64_t shard_group_duration_ns;
    char *created_at;
    char *updated_at;
} tsv_bucket;

void tsv_org_clear(tsv_org *o);
void tsv_bucket_clear(tsv_bucket *b);

/* ID helpers (docs/api.md, "Common request and response rules"): 16 lowercase hex, non-zero. */
int tsv_id_parse(const char *s, uint64_t *out, tsv_error *err);
void tsv_id_format(uint64_t id, char out[17]);
/* Random non-zero ID with bytes 0x5C, 0x2C, 0x20 bumped by one, as
 * InfluxDB's ID generator does. */
uint64_t tsv_id_random(void);

/* Creates the buckets influxd expects to exist (idempotent), and idsv1/id. */
int tsv_tenant_init(tsv_kv_txn *txn, tsv_error *err);
/* 1 if any user or organization exists (onboarding no longer allowed). */
int tsv_tenant_onboarded(tsv_kv_txn *txn, int *out, tsv_error *err);

int tsv_tenant_org_get(tsv_kv_txn *txn, const char *id, tsv_org *out, tsv_error *err);
int tsv_tenant_org_by_name(tsv_kv_txn *txn, const char *name, tsv_org *out, tsv_error *err);
/* Creates the org and its system buckets (_monitoring 7d, _tasks 3d) as influxd does. */
int tsv_tenant_org_create(tsv_kv_txn *txn, const char *name, const char *description, tsv_org *out,
                          tsv_error *err);
typedef int (*tsv_org_visit_fn)(void *ctx, const tsv_org *org, tsv_error *err);
int tsv_tenant_org_foreach(tsv_kv_txn *txn, tsv_org_visit_fn fn, void *ctx, tsv_error *err);

/* Name rules of InfluxDB user buckets (no leading '_', no '"', non-empty). */
int tsv_tenant_bucket_name_check(const char *name, tsv_error *err);
int tsv_tenant_bucket_get(tsv_kv_txn *txn, const char *id, tsv_bucket *out, tsv_error *err);
int tsv_tenant_bucket_by_name(tsv_kv_txn *txn, const char *org_id, const char *name,
                              tsv_bucket *out, tsv_error *err);
/* Creates the tenant record and index entry only (the caller adds the tsdb
 * database in the same transaction). type 1 skips the name rules. The stored
 * shard-group duration is the caller's (normalised) value. */
int tsv_tenant_bucket_create(tsv_kv_txn *txn, const char *org_id, const char *name,
                             const char *description, int type, int64_t retention_ns,
                             int64_t sgd_ns, tsv_bucket *out, tsv_error *err);
int tsv_tenant_bucket_delete(tsv_kv_txn *txn, const char *id, tsv_error *err);
/* Writes back a deleted bucket's record as it was (same ID, name, dates):
 * the org must exist; TSV_ECONFLICT if the ID or the name is taken. */
int tsv_tenant_bucket_restore(tsv_kv_txn *txn, const tsv_bucket *b, tsv_error *err);
typedef int (*tsv_bucket_visit_fn)(void *ctx, const tsv_bucket *b, tsv_error *err);
int tsv_tenant_bucket_foreach(tsv_kv_txn *txn, tsv_bucket_visit_fn fn, void *ctx, tsv_error *err);

/* Updates: NULL arguments leave a field unchanged. A system bucket cannot
 * be renamed (TSV_EINVALID); name clashes are TSV_ECONFLICT. */
int tsv_tenant_org_update(tsv_kv_txn *txn, const char *id, const char *name,
                          const char *description, tsv_org *out, tsv_error *err);
/* Removes the org record and its name index entry only. */
int tsv_tenant_org_delete(tsv_kv_txn *txn, const char *id, tsv_error *err);
int tsv_tenant_bucket_update(tsv_kv_txn *txn, const char *id, const char *name,
                             const char *description, int set_retention, int64_t retention_ns,
                             int64_t sgd_ns, tsv_bucket *out, tsv_error *err);

/* ---- users and user-resource mappings (tenant_user.c) ---------------- */

typedef struct tsv_user {
    char id[17];
    char *name;
    char *oauth_id; /* NULL when absent */
    int active;     /* status "active" */
} tsv_user;
void tsv_user_clear(tsv_user *u);

/* Users: password may be NULL (no password stored); else at least 8 bytes
 * (TSV_EINVALID "passwords must be at least 8 characters long"). */
int tsv_tenant_user_create(tsv_kv_txn *txn, const char *name, const char *password, char id_out[17],
                           tsv_error *err);
int tsv_tenant_user_get(tsv_kv_txn *txn, const char *id, tsv_user *out, tsv_error *err);
int tsv_tenant_user_by_name(tsv_kv_txn *txn, const char *name, tsv_user *out, tsv_error *err);
/* name / status (active|inactive) may be NULL (unchanged). */
int tsv_tenant_user_update(tsv_kv_txn *txn, const char *id, const char *name, const char *status,
                           tsv_user *out, tsv_error *err);
/* Removes the user, its name index entry, password and mappings. */
int tsv_tenant_user_delete(tsv_kv_txn *txn, const char *id, tsv_error *err);
int tsv_tenant_user_set_password(tsv_kv_txn *txn, const char *id, const char *password,
                                 tsv_error *err);
typedef int (*tsv_user_visit_fn)(void *ctx, const tsv_user *u, tsv_error *err);
int tsv_tenant_user_foreach(tsv_kv_txn *txn, tsv_user_visit_fn fn, void *ctx, tsv_error *err);

typedef struct tsv_urm {
    char user_id[17];
    char resource_id[17];
    char user_type[8];      /* "owner" | "member" */
    char resource_type[32]; /* "orgs", "buckets", ... */
} tsv_urm;

/* Mapping user -> resource with its by-user index. user_type "owner" or
 * "member"; an existing mapping of the pair is replaced. */
int tsv_tenant_urm_create(tsv_kv_txn *txn, const char *user_id, const char *user_type,
                          const char *resource_type, const char *resource_id, tsv_error *err);
int tsv_tenant_urm_delete(tsv_kv_txn *txn, const char *resource_id, const char *user_id,
                          tsv_error *err);
/* Mappings of one resource (resource_id) or one user (user_id); either may
 * be NULL. */
typedef int (*tsv_urm_visit_fn)(void *ctx, const tsv_urm *m, tsv_error *err);
int tsv_tenant_urm_foreach(tsv_kv_txn *txn, const char *resource_id, const char *user_id,
                           tsv_urm_visit_fn fn, void *ctx, tsv_error *err);

/* ---- authorizations, tokens, passwords (tenant_auth.c) ----------------- */

typedef struct tsv_authorization {
    char id[17];
    char org_id[17];
    char user_id[17]; /* "" when absent */
    int active;
    int hashed; /* only a hashed token is stored */
    char *description;
    char *created_at;
    char *updated_at;
    tsv_perm_set perms;
} tsv_authorization;
void tsv_authorization_clear(tsv_authorization *a);

/* Creates an authorization with a new CSPRNG token (64 random bytes,
 * URL-safe base64 with padding: 88 chars, as influxd makes them). The token
 * is stored raw, or only as a SHA-256 PHC hash when the KV holds hashed
 * tokens only (as influxd 2.8+ does with hashing on). token_out gets the raw
 * token (shown once); out (may be NULL) the record. active: status. */
int tsv_tenant_auth_create(tsv_kv_txn *txn, const char *org_id, const char *user_id,
                           const char *description, int active, const tsv_perm_set *perms,
                           char token_out[89], tsv_authorization *out, tsv_error *err);
/* Creates an authorization holding the full operator permission set. */
int tsv_tenant_auth_create_operator(tsv_kv_txn *txn, const char *user_id, const char *org_id,
                                    const char *description, char token_out[89],
                                    char auth_id_out[17], tsv_error *err);
int tsv_tenant_auth_get(tsv_kv_txn *txn, const char *id, tsv_authorization *out, tsv_error *err);
/* status / description may be NULL (unchanged); every other stored field is
 * kept as it is. */
int tsv_tenant_auth_update(tsv_kv_txn *txn, const char *id, const char *status,
                           const char *description, tsv_authorization *out, tsv_error *err);
/* Removes the record and its raw or hashed index entry. */
int tsv_tenant_auth_delete(tsv_kv_txn *txn, const char *id, tsv_error *err);
typedef int (*tsv_auth_visit_fn)(void *ctx, const tsv_authorization *a, tsv_error *err);
int tsv_tenant_auth_foreach(tsv_kv_txn *txn, tsv_auth_visit_fn fn, void *ctx, tsv_error *err);
/* The authorization ID of a raw token (TSV_ENOTFOUND). */
int tsv_tenant_auth_id_for_token(tsv_kv_txn *txn, const char *token, size_t len, char id[17],
                                 tsv_error *err);
/* Replaces the raw token of authorization auth_id (old_token -> new_token),
 * keeping the token index in step. TSV_ECONFLICT if new_token is in use. */
int tsv_tenant_auth_set_token(tsv_kv_txn *txn, const char *auth_id, const char *old_token,
                              const char *new_token, tsv_error *err);
/* Resolves a raw token (raw index or hashed index), comparing in constant
 * time. out->perms is owned by the caller (tsv_token_info_clear). */
int tsv_tenant_token_lookup(tsv_kv_txn *txn, const char *token, size_t len, tsv_token_info *out,
                            tsv_error *err);
/* The first active authorization (ascending ID) that passes the operator
 * check. *found = 0 if none. token_out gets its raw token, or "" when only a
 * hashed form is stored. */
int tsv_tenant_find_operator(tsv_kv_txn *txn, int *found, char *token_out, size_t token_len,
                             tsv_error *err);
/* bcrypt (cost 10, $2b$) of a password, as influxd stores it. */
int tsv_tenant_password_hash(const char *password, char *out, size_t outlen, tsv_error *err);
/* 0 if the password matches the stored hash, else -1 (TSV_EFORBIDDEN). */
int tsv_tenant_password_check(const char *hash, const char *password, tsv_error *err);

/* The current time as InfluxDB writes it (RFC 3339 with nanoseconds, UTC). */
void tsv_tenant_now(char out[40]);

#endif
