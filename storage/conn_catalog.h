/*
 * conn_catalog: the connections (remote InfluxDB servers tsvault pulls
 * backups from and pushes restores to) and their snapshots, in one SQLite
 * database, <data-dir>/connections/catalog.db (docs/storage.md
 * "Connections and snapshots").
 *
 * A connection is a name, a type ("influxdb2" or "influxdb1"), its
 * non-secret settings as a JSON object (url, host, orgID, buckets,
 * databases, tls, schedule, keep, description: checked by the caller) and
 * its sealed secrets (secret_box.h), plus who/when created and changed it.
 *
 * A snapshot is one pull: the moment, the metadata objects (2.x: kv, sql,
 * bucket manifests; 1.x: meta.Data) and a list of shard versions. A shard
 * version is a shard's file list (name, object, size, mtime); a shard that
 * did not change since the previous pull keeps its version, so an unchanged
 * shard costs one row per snapshot. Snapshots are written in one
 * transaction (tsv_conn_snapshot_commit): a pull that fails before it
 * leaves no snapshot, and its objects are orphans for the GC.
 *
 * Ownership: open/close; records and snapshots are caller-owned structs
 * released with their *_clear. Thread-safety: every function is
 * thread-safe (one connection to SQLite behind a mutex). Errors: int 0/-1
 * with tsv_error: unknown name/snapshot TSV_ENOTFOUND, create of an
 * existing name TSV_ECONFLICT, SQLite failures TSV_EINTERNAL.
 */
#ifndef TSV_CONN_CATALOG_H
#define TSV_CONN_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "tsv_error.h"

#define TSV_CONN_NAME_MAX 64
#define TSV_HEX_LEN 65

typedef struct tsv_conn_catalog tsv_conn_catalog;

int tsv_conn_catalog_open(tsv_conn_catalog **out, const char *dir, tsv_error *err);
void tsv_conn_catalog_close(tsv_conn_catalog *c);

typedef struct tsv_conn_record {
    char name[TSV_CONN_NAME_MAX + 1];
    char type[16];
    char *spec_json;  /* malloc'd JSON object text */
    uint8_t *secrets; /* malloc'd sealed secrets; NULL = none */
    size_t secrets_len;
    char submitted_by[384], modified_by[384];
    int64_t submitted_on, modified_on; /* unix ns */
    int64_t last_run;                  /* unix ns of the last scheduled pull; 0 = never */
} tsv_conn_record;
void tsv_conn_record_clear(tsv_conn_record *r);

/* create: 1 = the name must be new (TSV_ECONFLICT), 0 = must exist
 * (TSV_ENOTFOUND); last_run is kept on update. */
int tsv_conn_catalog_put(tsv_conn_catalog *c, const tsv_conn_record *r, int create, tsv_error *err);
int tsv_conn_catalog_get(tsv_conn_catalog *c, const char *name, tsv_conn_record *out,
                         tsv_error *err);
typedef int (*tsv_conn_fn)(void *ctx, const tsv_conn_record *r, tsv_error *err);
int tsv_conn_catalog_list(tsv_conn_catalog *c, tsv_conn_fn fn, void *ctx, tsv_error *err);
/* Deletes the connection; its snapshots are soft-deleted at `now` (the
 * vault's grace period then applies). */
int tsv_conn_catalog_delete(tsv_conn_catalog *c, const char *name, int64_t now, tsv_error *err);
int tsv_conn_catalog_set_last_run(tsv_conn_catalog *c, const char *name, int64_t t, tsv_error *err);

/* ---- snapshots ---------------------------------------------------------- */

typedef struct tsv_snap_file {
    char name[256];
    char hex[TSV_HEX_LEN];
    uint64_t size;
    int64_t mtime; /* unix seconds, as the source's tar said */
} tsv_snap_file;

typedef struct tsv_snap_shard {
    uint64_t id;
    char db[256]; /* 2.x: bucket ID (16 hex); 1.x: database */
    char rp[256];
    int64_t version; /* catalogue row; 0 = new (commit creates it) */
    int changed;     /* downloaded by this pull */
    tsv_snap_file *files;
    size_t n_files;
} tsv_snap_shard;

typedef struct tsv_snapshot {
    int64_t id;
    char connection[TSV_CONN_NAME_MAX + 1];
    char kind[16]; /* "influxdb2" | "influxdb1" */
    int64_t time;  /* unix ns: when the pull began (the moment it shows) */
    int64_t finished;
    int64_t deleted; /* 0 = retained */
    char job_id[40];
    uint64_t bytes_pulled, bytes_new;
    uint32_t shards_total, shards_changed;
    char kv_hex[TSV_HEX_LEN], sql_hex[TSV_HEX_LEN], buckets_hex[TSV_HEX_LEN]; /* 2.x */
    char meta_hex[TSV_HEX_LEN];                                               /* 1.x */
    tsv_snap_shard *shards; /* only when loaded with shards */
    size_t n_shards;
} tsv_snapshot;
void tsv_snapshot_clear(tsv_snapshot *s);

/* Stores s (id, version of new shards are filled in). */
int tsv_conn_snapshot_commit(tsv_conn_catalog *c, tsv_snapshot *s, tsv_error *err);
typedef int (*tsv_snapshot_fn)(void *ctx, const tsv_snapshot *s, tsv_error *err);
/* Oldest first, without shards. with_deleted: also soft-deleted ones. */
int tsv_conn_snapshots_list(tsv_conn_catalog *c, const char *name, int with_deleted,
                            tsv_snapshot_fn fn, void *ctx, tsv_error *err);
/* The newest retained snapshot at or before `at` (INT64_MAX = the latest),
 * with its shards and files. TSV_ENOTFOUND when there is none. */
int tsv_conn_snapshot_at(tsv_conn_catalog *c, const char *name, int64_t at, tsv_snapshot *out,
                         tsv_error *err);
int tsv_conn_snapshot_delete(tsv_conn_catalog *c, int64_t id, int64_t now, tsv_error *err);
/* Removes snapshots soft-deleted before `cutoff`, shard versions no snapshot
 * uses, and connections' orphan rows. *purged (may be NULL) = snapshots. */
int tsv_conn_snapshots_purge(tsv_conn_catalog *c, int64_t cutoff, uint64_t *purged, tsv_error *err);
/* Calls fn for every object any stored snapshot (deleted or not) uses. */
typedef int (*tsv_conn_hex_fn)(void *ctx, const char *hex, tsv_error *err);
/* A consistent copy of the whole catalogue into a new file `path`
 * (VACUUM INTO), without secrets: every sealed secret is removed from the
 * copy (secure_delete, so no freed page keeps it). For the S3 tier's
 * checkpoints: connections come back without their tokens. */
int tsv_conn_catalog_export(tsv_conn_catalog *c, const char *path, tsv_error *err);
/* Rows changed since the catalogue was opened: moves on every write. */
uint64_t tsv_conn_catalog_changes(tsv_conn_catalog *c);

int tsv_conn_catalog_objects(tsv_conn_catalog *c, tsv_conn_hex_fn fn, void *ctx, tsv_error *err);

#endif
