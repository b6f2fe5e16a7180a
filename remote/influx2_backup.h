/*
 * influx2_backup: a libcurl client of InfluxDB 2.x's backup and restore HTTP
 * API (docs/architecture.md#remote-influxdb-2x-backup-client). It pulls
 * backups (GET /api/v2/backup/metadata, /backup/shards/{id}) and pushes
 * restores with exactly the calls `influx restore` makes (full: restore/kv,
 * restore/sql, restore/shards under the original IDs; partial: orgs by name,
 * restore/bucketMetadata, restore/shards under the mapped IDs). Any server
 * of that API works: InfluxDB OSS 2.1+ and tsvault itself.
 *
 * Requests carry "Authorization: Token T", "Accept: application/json" and,
 * like the CLI, request bodies are chunked and gzip-compressed
 * (Content-Encoding: gzip); backup downloads ask for gzip and are
 * decompressed here (CRC and length verified). Bodies are streamed through
 * bounded buffers (a 64 KiB window per stage): memory does not grow with a
 * shard's or a KV's size. Only the bucket manifests are held in memory
 * (bounded, TSV_INFLUX2_BUCKETS_MAX).
 *
 * Verify, don't trust: InfluxDB answers 200 on some failures and writes
 * errors into started streams (upstream B2, B6, B14 in the reference notes),
 * so every body is checked (multipart framing and required parts, gzip
 * trailer, tar header checksums and end-of-archive marker, restore answers:
 * token key, bucket names, complete shard mapping) and every restored bucket
 * is looked up afterwards (GET /api/v2/buckets?id=).
 *
 * Errors (tsv_error.h), by code:
 *   TSV_EUNAVAILABLE   server unreachable (connect, DNS, timeout, stall) or
 *                      TLS failure (message starts "TLS with ..."), or 503
 *   TSV_EUNAUTHORIZED  401: token rejected
 *   TSV_EFORBIDDEN     403, or a valid token that is not an operator token
 *   TSV_ENOTFOUND      404 (a shard removed), a bucket not in the manifests
 *   TSV_EINVALID       a malformed answer (truncated body, bad gzip, bad
 *                      multipart, incomplete tar), a bad request argument
 *   TSV_ECONFLICT      409/422: e.g. the bucket already exists on the target
 *   TSV_ETOOLARGE      413, or manifests above TSV_INFLUX2_BUCKETS_MAX
 *   TSV_EINTERNAL      other statuses, a target whose answers do not add up
 *                      (bucket missing after restore, shard not mapped)
 * Messages name the request ("POST /api/v2/restore/shards/12: ...") and the
 * server's own message; they never contain the token.
 *
 * Ownership: tsv_influx2_new / tsv_influx2_free; writers and readers passed
 * in stay the caller's (written/read, never closed or freed, except as
 * stated for close_shard). Thread-safety: one thread per client; distinct
 * clients are independent. Callbacks and writers run on the calling thread.
 */
#ifndef TSV_INFLUX2_BACKUP_H
#define TSV_INFLUX2_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

/* Bound on the "buckets" part of /backup/metadata. */
#define TSV_INFLUX2_BUCKETS_MAX (64u * 1024 * 1024)

typedef struct tsv_influx2 tsv_influx2;

/* base_url: "http(s)://host:port" (no scheme means http://; a trailing slash
 * is dropped). token: the operator token (copied; NULL = none). */
int tsv_influx2_new(tsv_influx2 **out, const char *base_url, const char *token, tsv_error *err);
void tsv_influx2_free(tsv_influx2 *c);

/* TLS of https:// servers: ca_file (PEM bundle, copied) trusted instead of
 * the system store (NULL = system store); skip_verify accepts any certificate
 * and host name, as influx --skip-verify. */
int tsv_influx2_set_tls(tsv_influx2 *c, const char *ca_file, int skip_verify, tsv_error *err);
/* Connect timeout, and how long a transfer may stall (no byte moving) before
 * it fails with TSV_EUNAVAILABLE, in ms; 0 = default 30 s. */
void tsv_influx2_set_timeout(tsv_influx2 *c, int timeout_ms);

/* Connection test: GET /health (must be InfluxDB 2.1 or later: 1.x and 2.0
 * do not serve this API), GET /api/v2/orgs (is the token accepted at all?),
 * then starts GET /api/v2/backup/metadata and stops after the status line
 * (is it an operator token?). summary gets e.g. "InfluxDB v2.7.11, operator
 * token ok" ("InfluxDB v2.7.11 (tsvault 0.1.0), ..." for a tsvault).
 * Errors: unreachable/TLS TSV_EUNAVAILABLE, token rejected
 * TSV_EUNAUTHORIZED, not an operator token TSV_EFORBIDDEN, not a usable
 * InfluxDB (no /health JSON, 1.x) TSV_EINVALID, 2.0.x TSV_ENOTIMPL. */
int tsv_influx2_probe(tsv_influx2 *c, char *summary, size_t len, tsv_error *err);

/* GET /api/v2/backup/metadata: the "kv" part (bbolt file) into kv_w, the
 * "sql" part (SQLite file) into sql_w (NULL writer = discard; a missing sql
 * part is fine: older servers), the "buckets" part (JSON array of bucket
 * manifests) appended to buckets_json (checked to be a JSON array). A
 * truncated body, bad gzip, a missing kv or buckets part, an unknown part, a
 * bad boundary: TSV_EINVALID with a precise message. *bytes (nullable) =
 * body bytes received from the network (compressed). */
int tsv_influx2_fetch_metadata(tsv_influx2 *c, tsv_writer *kv_w, tsv_writer *sql_w,
                               tsv_buf *buckets_json, uint64_t *bytes, tsv_error *err);

/* GET /api/v2/backup/shards/{id}, with ?since=<RFC3339Nano UTC> when
 * since_ns != INT64_MIN (only files modified strictly after it: an unchanged
 * shard gives an empty tar of two zero blocks). The tar (decompressed) is
 * streamed into w and checked complete: header checksums, entry sizes, the
 * two zero blocks at the end; otherwise TSV_EINVALID (w has then received a
 * partial tar: discard it). 404: TSV_ENOTFOUND "shard N not found (removed
 * on the server)". *bytes (nullable) = bytes received from the network. */
int tsv_influx2_fetch_shard(tsv_influx2 *c, uint64_t shard_id, int64_t since_ns, tsv_writer *w,
                            uint64_t *bytes, tsv_error *err);

/* Restores. open_shard gives the tar of a SOURCE shard ID (entries named as
 * the backup API writes them); the client reads it to its end and hands it
 * to close_shard (NULL close_shard: tsv_reader_free). open_shard failing with
 * TSV_ENOTFOUND skips that shard (it was removed during the backup, as the
 * CLI leaves it out); any other failure aborts the restore. */
typedef int (*tsv_influx2_open_shard_fn)(void *ctx, uint64_t shard_id, tsv_reader **tar,
                                         tsv_error *err);
typedef void (*tsv_influx2_close_shard_fn)(void *ctx, tsv_reader *tar);

typedef struct tsv_influx2_restore_request {
    int full;             /* 1: --full: kv, sql, then every shard under its own ID */
    tsv_reader *kv, *sql; /* full only; sql may be NULL */
    const char *buckets_json;
    size_t buckets_len; /* the manifests, as fetched */
    /* partial only: NULL = every bucket of the manifests (but system buckets "_...") */
    const char *bucket_name, *org_name;         /* select by bucket name and/or org name */
    const char *new_bucket_name, *new_org_name; /* renames, as --new-bucket/--new-org */
    tsv_influx2_open_shard_fn open_shard;
    tsv_influx2_close_shard_fn close_shard;
    void *ctx;
} tsv_influx2_restore_request;

/* Full (req->full): POST restore/kv (switches the client to the token it
 * returns, as the CLI does: tsv_influx2_token_switched then says 1),
 * restore/sql when sql != NULL, restore/shards/{id} for every shard of every
 * non-deleted shard group of every bucket (system buckets included), then
 * checks every bucket exists under its ID and name.
 * Partial: for every selected bucket (system buckets skipped): org looked up
 * by name (GET /api/v2/orgs?org=), created if missing (POST /api/v2/orgs);
 * POST restore/bucketMetadata with the org and renames applied; the mapping
 * must cover every shard of the non-deleted groups (else TSV_EINTERNAL
 * before any upload); shards uploaded to their new IDs; the new bucket must
 * then exist with its name in its org. A bucket that exists already:
 * TSV_ECONFLICT. The CLI's argument rules apply: a full restore takes no
 * selection or rename (TSV_EINVALID), new_bucket_name needs bucket_name,
 * new_org_name needs org_name; a selection that matches nothing is
 * TSV_ENOTFOUND. Nothing is rolled back on failure (as the CLI).
 * *bytes_sent (nullable) = request body bytes sent (compressed). */
int tsv_influx2_restore(tsv_influx2 *c, const tsv_influx2_restore_request *req,
                        uint64_t *bytes_sent, tsv_error *err);

/* 1 after a full restore made the client switch to the token restore/kv
 * returned (every later call uses it), else 0. */
int tsv_influx2_token_switched(const tsv_influx2 *c);

#endif
