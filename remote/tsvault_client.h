/*
 * tsvault_client: the libcurl client behind the `tsvault` client commands
 * (upload, files, jobs, pitr; server/cli_client.c) for a running tsvault's
 * Files, Jobs and PITR APIs (docs/api.md).
 *
 * Every call is synchronous and sends "Authorization: Token T". A 2xx
 * answer's body is collected into the caller's buffer (small JSON only: at
 * most 64 MiB); anything else becomes a tsv_error whose code says what
 * happened, so that callers can map it to an exit code:
 *   TSV_EUNAVAILABLE  the server could not be reached (connect, DNS,
 *                     timeout) or answered 503
 *   TSV_EUNAUTHORIZED / TSV_EFORBIDDEN   401 / 403
 *   TSV_ENOTFOUND     404
 *   TSV_EINVALID, TSV_ECONFLICT, TSV_ETOOLARGE   400 / 409 or 422 / 413
 *   TSV_EINTERNAL     other statuses, a transfer cut off, local failures
 * with the server's {"code","message"} message when it sent one.
 *
 * Ownership: tsv_client_free. Thread-safety: one thread per client.
 */
#ifndef TSV_TSVAULT_CLIENT_H
#define TSV_TSVAULT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

typedef struct tsv_client tsv_client;

/* base_url: "http://host:port" (a missing scheme means http://). */
int tsv_client_new(tsv_client **out, const char *base_url, const char *token, tsv_error *err);
void tsv_client_free(tsv_client *c);

/* method: GET, POST, PATCH, PUT, DELETE; path_query starts with '/';
 * body (JSON, may be NULL) is sent with Content-Type application/json.
 * *status (may be NULL) gets the HTTP status (0 if none arrived). */
int tsv_client_call(tsv_client *c, const char *method, const char *path_query, const char *body,
                    long *status, tsv_buf *out, tsv_error *err);

/* "?a=1" / "&b=2": appends name=value, URL-escaped, to q (NULL value: nothing). */
int tsv_client_param(tsv_client *c, tsv_buf *q, const char *name, const char *value,
                     tsv_error *err);
/* A path segment, URL-escaped, appended to q. */
int tsv_client_segment(tsv_client *c, tsv_buf *q, const char *seg, tsv_error *err);

/* Upload progress: bytes of the request body sent so far and its total (0
 * while unknown). Return non-zero to abort the upload. */
typedef int (*tsv_client_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* POST /api/v2/files: the file at `path` as the multipart part "file" named
 * `name` (the base name of path when NULL). With `checksum`, the file's MD5
 * is computed first (one read) and sent as Content-MD5, so the server
 * refuses a file that arrived different. The file is streamed (libcurl
 * reads it in bounded chunks). */
int tsv_client_upload(tsv_client *c, const char *path, const char *name, int checksum,
                      tsv_client_progress_fn fn, void *ctx, tsv_buf *out, tsv_error *err);

#endif
