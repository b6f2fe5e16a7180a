/*
 * influx1_rpc: a client of InfluxDB 1.x's backup service (the "snapshotter"
 * on influxd's port 8088, docs/api.md "InfluxDB 1.x backup protocol"), the
 * protocol `influxd backup -portable` and `influxd restore -portable` speak.
 * It talks to a real influxd 1.x or to tsvault's own listener
 * (server/rpc_snapshotter.c, the server side of the same wire format).
 *
 * Plain TCP, one connection per request as influxd backup does: byte 0x03,
 * a request-type byte, a JSON Request line (and for a restore the payload).
 *
 *   fetch_meta      type 1: u64 BE magic 0x59590101, u64 length, meta.Data,
 *                   u64 length, node JSON (read and ignored). The magic is
 *                   checked, the lengths bounded (64 MiB meta, 1 MiB node
 *                   JSON) and the meta.Data decoded (storage/meta.h) before
 *                   it is returned.
 *   fetch_shard     type 0: the shard's tar to the end of the connection,
 *                   streamed into the caller's writer through a 64 KiB
 *                   buffer and checked on the way (storage/tar_stream.h:
 *                   every header checksum, the closing zero blocks).
 *   restore_database  type 6 (UploadSize bytes of meta.Data after the JSON
 *                   line; answer: magic, n, n x (old, new) shard IDs), then
 *                   type 7 per pair (u64 BE new ID, the tar with entries
 *                   renamed "<newdb>/<rp>/<newID>/<file>"; influxd silently
 *                   skips entries outside the shard's own path), then the
 *                   target's metastore is fetched again until it shows the
 *                   database with every new shard (or the timeout passes).
 *
 * Timeouts: timeout_ms bounds the connect and every single read or write
 * (SO_RCVTIMEO/SO_SNDTIMEO), not a whole transfer. Name resolution is the
 * system resolver's (getaddrinfo, its own timeouts).
 *
 * Known limit of the peer: influxd 1.x reads a restore's metadata with one
 * read() after the JSON line; the client sends line and metadata in one
 * write, which is enough on loopback and LANs for metastores of a few
 * hundred KiB (`influxd restore` has the same limit).
 *
 * Errors: int 0/-1 with tsv_error, the host named in every message.
 *   TSV_EUNAVAILABLE  resolve/connect failures, timeouts, a peer that
 *                     resets the connection ("connect to 127.0.0.1:8088:
 *                     Connection refused", "timed out after 5 s waiting for
 *                     the metastore from h:p");
 *   TSV_EINVALID      protocol violations (bad magic, lengths beyond the
 *                     limits, a connection closed early, a meta.Data that
 *                     does not decode, "shard 3 from h:p: source sent a
 *                     truncated tar: ..."), bad arguments;
 *   TSV_ENOTFOUND     restore: backup_db / backup_rp not in the meta;
 *   TSV_ECONFLICT     restore: the target refused the metadata (influxd's
 *                     "DB metadata not changed": the database exists);
 *   TSV_EINTERNAL     restore: the target does not show the restored
 *                     database and shards afterwards.
 *   Errors of the caller's writer / open_shard pass through (wrapped with
 *   the shard ID).
 * Ownership: tsv_influx1_client_free; *meta of fetch_meta is malloc'd
 * (free()); restore borrows everything in the request.
 * Thread-safety: a client is immutable after tsv_influx1_client_new, so
 * requests may run concurrently on one client (each has its own socket).
 */
#ifndef TSV_INFLUX1_RPC_H
#define TSV_INFLUX1_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

typedef struct tsv_influx1_client tsv_influx1_client;

/* host: "h:p", "[v6]:p" (a bare "h" means port 8088). timeout_ms > 0. */
int tsv_influx1_client_new(tsv_influx1_client **out, const char *host, int timeout_ms,
                           tsv_error *err);
void tsv_influx1_client_free(tsv_influx1_client *c);
/* The host as given to _new (for messages). */
const char *tsv_influx1_client_host(const tsv_influx1_client *c);

/* Type 1: *meta = malloc'd meta.Data bytes (decodes as one). */
int tsv_influx1_fetch_meta(tsv_influx1_client *c, uint8_t **meta, size_t *len, tsv_error *err);

/* Type 0: the shard's tar into w (not closed). since_ns: INT64_MIN = every
 * file, else only files modified strictly after it (sent as RFC3339Nano
 * "Since"; such a tar may have no entry). *bytes (nullable) = bytes received,
 * also on error. db/rp may be NULL (influxd only logs them). */
int tsv_influx1_fetch_shard(tsv_influx1_client *c, const char *db, const char *rp,
                            uint64_t shard_id, int64_t since_ns, tsv_writer *w, uint64_t *bytes,
                            tsv_error *err);

typedef struct tsv_influx1_shard_pair {
    uint64_t old_id, new_id;
} tsv_influx1_shard_pair;
/* open_shard: the tar of an OLD shard ID (closed with close_shard when not
 * NULL). TSV_ENOTFOUND = the backup has no tar for that shard: an empty tar
 * is sent, so the shard exists empty on the target (as influxd restore does
 * for a shard with no archive; tsvault's listener needs every shard of the
 * map before it commits). */
typedef int (*tsv_influx1_open_shard_fn)(void *ctx, uint64_t old_id, tsv_reader **tar,
                                         tsv_error *err);
typedef void (*tsv_influx1_close_shard_fn)(void *ctx, tsv_reader *tar);
typedef struct tsv_influx1_restore_request {
    const uint8_t *meta; /* meta.Data holding the database */
    size_t meta_len;
    const char *backup_db, *restore_db; /* backup_db required; restore_db NULL/"" = same */
    const char *backup_rp, *restore_rp; /* NULL/"" = every RP; restore_rp renames backup_rp */
    tsv_influx1_open_shard_fn open_shard;
    tsv_influx1_close_shard_fn close_shard; /* may be NULL */
    void *ctx;
    /* Optional: the ID map the target chose (malloc'd, free()) and its size. */
    tsv_influx1_shard_pair **pairs_out;
    size_t *n_pairs_out;
} tsv_influx1_restore_request;
/* Restores one database as `influxd restore -portable -db D -newdb N [-rp R
 * -newrp M]`. *bytes_sent (nullable) = tar bytes sent, also on error. A
 * failure after the metadata was accepted leaves whatever the target made
 * of it (influxd keeps a partial database; tsvault drops the whole restore
 * after its --rpc-timeout). */
int tsv_influx1_restore_database(tsv_influx1_client *c, const tsv_influx1_restore_request *req,
                                 uint64_t *bytes_sent, tsv_error *err);

/* connect + metastore fetch + decode; summary e.g. "2 databases (db1, db2),
 * 5 shards". */
int tsv_influx1_probe(tsv_influx1_client *c, char *summary, size_t len, tsv_error *err);

#endif
