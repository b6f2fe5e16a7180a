/*
 * influx2_internal: what the files of the InfluxDB 2.x backup/restore client
 * share (influx2_backup.c: client, transfers, fetches, probe;
 * influx2_restore.c: restores; influx2_parse.c: the multipart reader; shard tars are checked by storage/tar_stream.h).
 * Private to remote/; unit tests include it.
 *
 * Errors: tsv_error.h. Thread-safety: one thread per client (and per parser
 * state). Ownership: see each function.
 */
#ifndef TSV_INFLUX2_INTERNAL_H
#define TSV_INFLUX2_INTERNAL_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "http_common.h"
#include "influx2_backup.h"
#include "stream.h"
#include "tsv_error.h"

struct tsv_influx2 {
    CURL *curl;
    CURLM *multi; /* one transfer at a time; keeps the connection alive between calls */
    char *base;   /* "http(s)://host:port" without trailing slash */
    char *token;  /* current token (a full restore may switch it) */
    http_common__tls tls;
    int timeout_ms; /* connect and stall timeout */
    int token_switched;
};

/* ---- transfers (influx2_backup.c) --------------------------------------- */

typedef struct influx2_req {
    const char *method;       /* "GET" or "POST" */
    const char *path;         /* path and query, starting with '/' */
    int accept_gzip;          /* send Accept-Encoding: gzip; the body is NOT decoded */
    const char *content_type; /* of the request body, or NULL */
    tsv_reader *body;         /* streamed request body (chunked), or NULL */
    int gzip_body;            /* compress body on the fly, Content-Encoding: gzip */
    const char *json;         /* small request body (NUL-terminated), or NULL */
} influx2_req;

typedef struct influx2_xfer influx2_xfer;

/* Starts the request and waits for the response headers. A 2xx answer: 0,
 * *out holds the transfer; read the body through influx2__body, then
 * influx2__close. Anything else: -1 (*out NULL), *status (nullable) the
 * HTTP status or 0 when none arrived, err says what failed ("GET /path:
 * server answered 401: unauthorized access", "cannot reach http://h:p: ...",
 * "TLS with https://h:p failed: ..."). */
int influx2__open(tsv_influx2 *c, const influx2_req *req, influx2_xfer **out, long *status,
                  tsv_error *err);
/* The response body (already de-chunked, NOT decompressed). Owned by x. A
 * transfer that breaks off is an error of this reader (TSV_EINVALID for a
 * body cut short, TSV_EUNAVAILABLE for a stall). */
tsv_reader *influx2__body(influx2_xfer *x);
const char *influx2__content_type(const influx2_xfer *x);     /* "" if none */
const char *influx2__content_encoding(const influx2_xfer *x); /* "" if none */
uint64_t influx2__received(const influx2_xfer *x);            /* body bytes on the wire */
uint64_t influx2__sent(const influx2_xfer *x);                /* request body bytes sent */
/* Aborts the transfer if it is still running and frees x (NULL is a no-op). */
void influx2__close(influx2_xfer *x);

/* open + collect a 2xx body of at most max bytes into out (NULL = discard)
 * + close. *sent (nullable) is increased by the request body bytes sent. */
int influx2__call(tsv_influx2 *c, const influx2_req *req, tsv_buf *out, size_t max, long *status,
                  uint64_t *sent, tsv_error *err);

/* Replaces the client's token (if it appears) in err's message by "<token>". */
void influx2__scrub(const tsv_influx2 *c, tsv_error *err);

/* ---- the /backup/metadata multipart body (influx2_parse.c) -------------- */

typedef struct influx2_parts {
    tsv_writer *kv_w, *sql_w; /* NULL: discard */
    tsv_buf *buckets;         /* the "buckets" part (required non-NULL) */
    size_t buckets_max;       /* bound on it */
    int have_kv, have_sql, have_buckets;
    uint64_t kv_bytes, sql_bytes;
} influx2_parts;

/* Extracts the boundary of a multipart Content-Type into out (NUL-terminated;
 * at most 70 characters as RFC 2046 allows). TSV_EINVALID otherwise. */
int influx2__boundary(const char *content_type, char out[72], tsv_error *err);

/* Reads a multipart body (already decompressed) whose Content-Type is
 * content_type and dispatches its parts by Content-Disposition name: "kv" ->
 * kv_w, "sql" -> sql_w, "buckets" -> buckets (at most buckets_max bytes,
 * then TSV_ETOOLARGE); any other name, a repeated part, a missing kv or
 * buckets part, a buckets part that is not a JSON array, a wrong boundary
 * and a body that ends before the closing boundary are TSV_EINVALID with a
 * message naming the part and the offset. Errors of `body` and of the
 * writers pass through. Writers are written, never closed. Memory: one
 * 64 KiB window plus the buckets part. */
int influx2__parse_metadata(tsv_reader *body, const char *content_type, influx2_parts *p,
                            tsv_error *err);

#endif
