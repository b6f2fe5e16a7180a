/*
 * influx_client: an HTTP client (libcurl) for a running tsvault (or an
 * InfluxDB 2.x where the endpoint exists), used by the command-line tools'
 * --host mode.
 *
 * Every call is synchronous. Response bodies of successful calls are
 * streamed (export, verify) or collected (small JSON). A non-2xx answer is
 * turned into a tsv_error with the server's {"code","message"} (HTTP 404 ->
 * TSV_ENOTFOUND, 400 -> TSV_EINVALID, 401/403, else TSV_EINTERNAL); a
 * transfer that breaks off (the server aborts a failed stream) is
 * TSV_EINTERNAL "transfer ... incomplete". The token is sent as
 * "Authorization: Token T". Bodies arrive gzip-compressed when the server
 * offers it and are decompressed by libcurl.
 *
 * https:// URLs are verified by default (certificate chain against the
 * system's CA store, and the host name); tsv_influx_client_set_tls trusts a
 * given CA file instead, or skips verification (self-signed test setups).
 *
 * Ownership: tsv_influx_client_free. Thread-safety: one thread per client.
 */
#ifndef TSV_INFLUX_CLIENT_H
#define TSV_INFLUX_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

typedef struct tsv_influx_client tsv_influx_client;

int tsv_influx_client_new(tsv_influx_client **out, const char *base_url, const char *token,
                          tsv_error *err);
void tsv_influx_client_free(tsv_influx_client *c);

/* TLS verification of https:// servers. ca_file: PEM bundle trusted instead
 * of the system store (NULL = the system store; the string is copied).
 * skip_verify: accept any certificate and host name (influx CLI's
 * --skip-verify); the transfer is still encrypted but not authenticated. */
int tsv_influx_client_set_tls(tsv_influx_client *c, const char *ca_file, int skip_verify,
                              tsv_error *err);

/* GET /api/v2/export: strings are passed as given (NULL = absent). */
typedef struct tsv_remote_export_request {
    const char *bucket_id, *org, *bucket, *rp, *database, *start, *stop;
    const char *const *measurements;
    size_t n_measurements;
} tsv_remote_export_request;
int tsv_influx_client_export(tsv_influx_client *c, const tsv_remote_export_request *req,
                             tsv_writer *w, tsv_error *err);

/* GET /api/v2/buckets/{id}/stats (the ID is looked up by org + bucket name
 * through GET /api/v2/buckets when bucket_id is NULL). */
int tsv_influx_client_bucket_stats(tsv_influx_client *c, const char *bucket_id, const char *org,
                                   const char *bucket, tsv_buf *out, tsv_error *err);

/* POST /api/v2/verify?<query>: streams the report into w. */
int tsv_influx_client_verify(tsv_influx_client *c, const char *query, tsv_writer *w,
                             tsv_error *err);

#endif
