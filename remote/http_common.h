/*
 * http_common: the libcurl pieces the remote/ clients share (private to
 * remote/, not in the facade): one-time libcurl initialisation, base URLs,
 * HTTP status -> tsv_code, InfluxDB {"code","message"} error bodies, which
 * transfer failures mean "server unreachable", query parameters.
 *
 * Errors: tsv_error.h. Thread-safety: http_common__global_init may be called
 * from any thread (pthread_once); the rest is reentrant. Ownership: see each
 * function.
 */
#ifndef TSV_HTTP_COMMON_H
#define TSV_HTTP_COMMON_H

#include <curl/curl.h>

#include "stream.h"
#include "tsv_error.h"

/* Bound on collected error bodies (the rest is dropped). */
#define HTTP_COMMON_ERRBODY_MAX 65536

/* curl_global_init, once per process. */
void http_common__global_init(void);

/* base_url without trailing slashes, "http://" prepended when add_scheme and
 * the URL has no scheme; malloc'ed (free it), NULL when out of memory. */
char *http_common__base_url(const char *base_url, int add_scheme);

/* A client's TLS choice, kept for every request: the CA file (NULL =
 * libcurl's default store) and whether peer and host go unverified.
 * Zero-initialise it; http_common__tls_clear frees it. */
typedef struct http_common__tls {
    char *ca_file;
    int skip_verify;
} http_common__tls;

/* Replaces the choice (ca_file copied, NULL allowed). 0, or -1 with
 * TSV_EINTERNAL "out of memory" and the old choice kept. */
int http_common__tls_set(http_common__tls *t, const char *ca_file, int skip_verify, tsv_error *err);
/* Sets the choice on a handle (after curl_easy_reset or on a fresh one). */
void http_common__tls_apply(const http_common__tls *t, CURL *curl);
void http_common__tls_clear(http_common__tls *t);

/* What a request-reply client keeps between calls: one easy handle (its
 * connection is reused), the base URL and its "Authorization: Token T" line. */
typedef struct http_common__endpoint {
    CURL *curl;
    char *base;
    char *auth;
} http_common__endpoint;

/* base_url as http_common__base_url; token NULL = empty. 0, or -1 with
 * TSV_EINTERNAL and ep cleared. http_common__endpoint_clear frees it. */
int http_common__endpoint_init(http_common__endpoint *ep, const char *base_url, int add_scheme,
                               const char *token, tsv_error *err);
void http_common__endpoint_clear(http_common__endpoint *ep);

/* base + path_query, malloc'ed (free it); NULL when out of memory. */
char *http_common__endpoint_url(const http_common__endpoint *ep, const char *path_query);

/* Where a reply's body goes as it arrives: a 2xx body to `body` (NULL drops
 * it), at most `max` bytes of it (0 = no bound); any other body, bounded, to
 * errbody for the error message. Zero it, set curl/body/max, and
 * tsv_buf_free(&errbody) when done. */
typedef struct http_common__reply {
    CURL *curl;
    tsv_writer *body;
    size_t max;
    size_t got;
    long status;
    int too_big;      /* the 2xx body passed max: the transfer was stopped */
    int write_failed; /* body's writer failed (werr): the transfer was stopped */
    tsv_error werr;
    tsv_buf errbody;
} http_common__reply;

/* The options every request of ep sets after curl_easy_reset or on a fresh
 * handle: URL, headers, any content encoding, the reply's body into reply
 * (http_common__reply above), no signals, a 30 s connect timeout. */
void http_common__endpoint_setup(const http_common__endpoint *ep, const char *url,
                                 struct curl_slist *headers, http_common__reply *reply);

/* Keeps the first HTTP_COMMON_ERRBODY_MAX bytes of a non-2xx reply's body. */
void http_common__collect_error(tsv_buf *errbody, const char *p, size_t n);

/* 400 EINVALID, 401 EUNAUTHORIZED, 403 EFORBIDDEN, 404 ENOTFOUND, 409 and
 * 422 ECONFLICT (InfluxDB's "conflict" is 422), 413 ETOOLARGE, 503
 * EUNAVAILABLE, anything else EINTERNAL. */
tsv_code http_common__status_code(long status);

/* The server's "message" from an InfluxDB error body, or NULL (no JSON, no
 * message). The string is copied into out (len bytes, truncated). */
const char *http_common__error_message(const tsv_buf *body, char *out, size_t len);

/* Sets err for a non-2xx answer: the code from the status, the message
 * "server answered <status>: <message or the first 300 bytes>". Returns -1. */
int http_common__status_error(long status, const tsv_buf *body, tsv_error *err);

/* 1 when a failed transfer means the server could not be reached at all
 * (connect, DNS, proxy, timeout, malformed URL, unknown scheme). */
int http_common__unreachable(CURLcode cc);

/* 1 when a failed transfer is a TLS failure (handshake, certificate, CA file). */
int http_common__tls_failure(CURLcode cc);

/* Appends "?name=value" or "&name=value" (whichever fits q), value
 * URL-escaped; a NULL value appends nothing. */
int http_common__param(CURL *curl, tsv_buf *q, const char *name, const char *value, tsv_error *err);

/* One libcurl header line (p, len): if it is `name:` (any case), its value
 * trimmed (and, with unquote, without surrounding double quotes) into out;
 * otherwise out is left as it is. */
void http_common__header_value(const char *p, size_t len, const char *name, int unquote, char *out,
                               size_t outlen);

#endif
