/*
 * s3_internal: the pure parts of the S3 client (s3_client.h), shared by
 * s3_client.c and s3_xml.c and unit-tested on their own: a small XML scanner
 * for the few documents S3 answers with, the ListObjectsV2 page and error
 * body parsers, URL building for both addressing styles, the retry policy.
 * Private to remote/. Errors: tsv_error.h. Thread-safety: reentrant.
 */
#ifndef TSV_S3_INTERNAL_H
#define TSV_S3_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "s3_client.h"
#include "stream.h"
#include "tsv_error.h"

/* Bounds of what the scanner accepts (S3 documents are shallow). */
#define S3_XML_DEPTH_MAX 16
#define S3_XML_NAME_MAX 128
#define S3_XML_TEXT_MAX (1024 * 1024)

/* Called at every end tag with the element's path from the root
 * ("ListBucketResult/Contents/Key"), its text (entities decoded, CDATA
 * included; NUL-terminated) and leaf = 1 when it had no child element.
 * Non-zero stops the scan, which returns -1 with the callback's err. */
typedef int (*s3_xml_fn)(void *ud, const char *path, const char *text, size_t len, int leaf,
                         tsv_error *err);

/* Scans one XML document: declaration, comments, CDATA, attributes (skipped),
 * the five named entities and numeric references. Refuses (TSV_EINVALID) a
 * DOCTYPE, unknown entities, mismatched or unclosed tags, text outside the
 * root, more than one root, and anything over the bounds above. */
int s3__xml_scan(const char *xml, size_t len, s3_xml_fn fn, void *ud, tsv_error *err);

/* The text of the first element at path, into out (cleared first, NUL-
 * terminated). TSV_ENOTFOUND if there is none, TSV_EINVALID for bad XML. */
int s3__xml_find(const char *xml, size_t len, const char *path, tsv_buf *out, tsv_error *err);

/* An S3 <Error> body's Code and Message into code/msg (truncated, "" when
 * absent). 1 if the body is an <Error> document, else 0. */
int s3__error_body(const char *xml, size_t len, char *code, size_t codelen, char *msg,
                   size_t msglen);

/* One ListObjectsV2 page: fn per <Contents> (Key and Size required), then
 * *truncated and next (the NextContinuationToken, cleared when absent). */
int s3__list_page(const char *xml, size_t len, tsv_s3_list_fn fn, void *ud, int *truncated,
                  tsv_buf *next, tsv_error *err);

/* Appends s URI-encoded as SigV4 wants it: A-Z a-z 0-9 - _ . ~ kept, '/'
 * kept when keep_slash, every other byte %XX (upper-case hex). */
int s3__uri_encode(tsv_buf *out, const char *s, int keep_slash, tsv_error *err);

/* Checks a bucket name: 3-63 of [a-z0-9.-] starting and ending with a
 * letter or digit for virtual-host addressing (it becomes a DNS label);
 * path style also allows A-Z and '_' (older buckets). */
int s3__check_bucket(const char *bucket, tsv_s3_addressing style, tsv_error *err);

/* The request URL into out (cleared first, NUL-terminated): endpoint
 * "scheme://host[:port][/base]", the bucket as a path segment or host label,
 * the key encoded (NULL: none), "?query" (already canonical: sorted, encoded;
 * NULL: none). TSV_EINVALID for an endpoint without http(s):// or host. */
int s3__url(const char *endpoint, tsv_s3_addressing style, const char *bucket, const char *key,
            const char *query, tsv_buf *out, tsv_error *err);

/* Wait before retry number `retry` (1 = the first retry): the exponential
 * step d = min(cap, base * 2^(retry-1)), then "equal jitter": d/2 plus
 * rnd mod (d/2 + 1). */
int s3__backoff_ms(int retry, int base_ms, int cap_ms, uint64_t rnd);

/* 1 for statuses worth retrying: 408, 429, 5xx. */
int s3__retryable_status(long status);

#endif
