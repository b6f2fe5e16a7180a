/*
 * tenant: organizations, buckets and users, stored exactly
 * as InfluxDB 2.x stores them in its KV tree (formats.md D): 16-hex ID keys,
 * JSON values with InfluxDB's field names and order, and the name/token index
 * buckets, so a KV exported from tsvault works in influxd and vice versa.
 *
 * All functions work inside a caller's KV transaction, so a caller can make
 * several changes (e.g. a bucket plus its tsdb meta) commit as one.
 * Authorizations, token lookup and permissions are tenant_auth.h.
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

/* ID helpers (influxdb-2-api.md §2.6): 16 lowercase hex, non-zero. */
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
int tsv_tenant_org_create(tsv_kv_txn *txn, const char *name, const char *description,
                          tsv_org *out, tsv_error *err);
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
typedef int (*tsv_bucket_visit_fn)(void *ctx, const tsv_bucket *b, tsv_error *err);
int tsv_tenant_bucket_foreach(tsv_kv_txn *txn, tsv_bucket_visit_fn fn, void *ctx, tsv_error *err);

/* Users: password may be NULL (no password stored). */
int tsv_tenant_user_create(tsv_kv_txn *txn, const char *name, const char *password,
                           char id_out[17], tsv_error *err);
/* Owner mapping user -> resource (orgs/buckets), with its by-user index. */
int tsv_tenant_urm_create(tsv_kv_txn *txn, const char *user_id, const char *resource_type,
                          const char *resource_id, tsv_error *err);

/* The current time as InfluxDB writes it (RFC 3339 with nanoseconds, UTC). */
void tsv_tenant_now(char out[40]);

#endif
