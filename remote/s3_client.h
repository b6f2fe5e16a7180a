/*
 * s3_client: a client of S3-compatible object stores (AWS S3, MinIO, Swift's
 * s3api, Ceph RGW) over libcurl, signing with AWS Signature V4
 * (CURLOPT_AWS_SIGV4). Objects go up from a file descriptor and come down to
 * one, streamed through a bounded buffer: memory does not grow with the
 * object.
 *
 * Integrity, both ways:
 *  - every PUT and UploadPart sends Content-MD5 and the payload's SHA-256 as
 *    x-amz-content-sha256 (signed), so the store refuses a body that changed
 *    on the way (400 BadDigest / XAmzContentSHA256Mismatch);
 *  - the SHA-256 of the whole object is stored as metadata
 *    (x-amz-meta-sha256) and checked on every GET while the body streams; an
 *    object without it (written by another client) is checked against a
 *    plain MD5 ETag when it has one. A mismatch fails the GET.
 * Upload reads the file more than once (a hash pass before the body goes):
 * the fd must be a regular file or anything pread(2) works on.
 *
 * Objects at or above multipart_threshold go up as multipart uploads
 * (CreateMultipartUpload, UploadPart per part_size bytes,
 * CompleteMultipartUpload; AbortMultipartUpload when anything fails).
 *
 * Retries: transport failures (connect, reset, timeout, truncated body) and
 * HTTP 5xx, 429 and 408 are retried up to max_attempts in all with
 * exponential backoff and jitter; other 4xx answers never are. A GET that
 * already wrote bytes restarts at the fd's starting offset when the fd can
 * seek, and is not retried otherwise.
 *
 * Errors (tsv_error.h) name the operation, bucket/key, and the HTTP status
 * with the store's XML <Code> and <Message>: "S3 PUT b/k: HTTP 403
 * SignatureDoesNotMatch: The request signature ...". Codes: TSV_ENOTFOUND
 * (404: NoSuchKey, NoSuchBucket), TSV_EFORBIDDEN (403),
 * TSV_EUNAUTHORIZED (401), TSV_ECONFLICT (409), TSV_EINVALID (other 4xx, a
 * bad argument, a malformed answer, a hash mismatch), TSV_ETOOMANY (429 after
 * the retries), TSV_EUNAVAILABLE (unreachable or 5xx after the retries),
 * TSV_EINTERNAL (out of memory, local I/O).
 *
 * Ownership: tsv_s3_new copies every string of the config; free the client
 * with tsv_s3_free. Thread-safety: a client is immutable after tsv_s3_new and
 * every call uses its own curl handle, so calls may run concurrently on one
 * client from several threads.
 */
#ifndef TSV_S3_CLIENT_H
#define TSV_S3_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "tsv_error.h"

typedef struct tsv_s3 tsv_s3;

typedef enum tsv_s3_addressing {
    TSV_S3_PATH_STYLE = 0,   /* http://host:port/bucket/key */
    TSV_S3_VIRTUAL_HOST = 1, /* http://bucket.host:port/key */
} tsv_s3_addressing;

typedef struct tsv_s3_config {
    const char *endpoint;      /* "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000" */
    const char *region;        /* NULL: "us-east-1" */
    const char *access_key;    /* required */
    const char *secret_key;    /* required */
    const char *session_token; /* NULL or temporary credentials' token (x-amz-security-token) */
    tsv_s3_addressing addressing;
    const char *ca_file;          /* NULL: the system's CA store */
    int skip_verify;              /* 1: no TLS peer/host verification (tests only) */
    size_t part_size;             /* 0: 8 MiB; at least 5 MiB (S3's minimum part) */
    uint64_t multipart_threshold; /* 0: part_size; objects this big or bigger go multipart */
    int max_attempts;             /* 0: 5; attempts per request, the first included */
    int backoff_base_ms;          /* 0: 200; first retry waits about this long */
    int backoff_max_ms;           /* 0: 10000; cap of one wait */
    int connect_timeout_ms;       /* 0: 10000 */
    int stall_timeout_s;          /* 0: 60; a transfer with no byte for this long fails */
    int list_max_keys;            /* 0: the store's page size (1000 on S3) */
} tsv_s3_config;

/* What HEAD and GET report. */
typedef struct tsv_s3_object {
    uint64_t size;
    char etag[80];   /* without quotes */
    char sha256[65]; /* x-amz-meta-sha256, "" if the object has none */
    int verified;    /* GET: 1 if the body was checked (SHA-256 or MD5 ETag) */
} tsv_s3_object;

/* One listed object. key is valid during the callback only. */
typedef struct tsv_s3_entry {
    const char *key;
    uint64_t size;
    const char *etag;          /* without quotes */
    const char *last_modified; /* as the store wrote it (ISO 8601) */
} tsv_s3_entry;

/* Called per listed object; a non-zero return stops the listing, which then
 * returns -1 with the callback's err. */
typedef int (*tsv_s3_list_fn)(const tsv_s3_entry *e, void *ud, tsv_error *err);

/* A client for one endpoint and credentials. TSV_EINVALID for a missing or
 * malformed endpoint, missing credentials, a part size under 5 MiB or over
 * 5 GiB. */
int tsv_s3_new(tsv_s3 **out, const tsv_s3_config *cfg, tsv_error *err);
void tsv_s3_free(tsv_s3 *c);

/* PUT Bucket (in cfg->region's location constraint unless us-east-1).
 * TSV_ECONFLICT when it exists (BucketAlreadyOwnedByYou or
 * BucketAlreadyExists). */
int tsv_s3_create_bucket(tsv_s3 *c, const char *bucket, tsv_error *err);

/* Uploads the whole of fd (from offset 0 to its size, read with pread) as
 * bucket/key; single PUT below the threshold, multipart from it on. info
 * (may be NULL) gets the size, ETag and SHA-256. */
int tsv_s3_put_file(tsv_s3 *c, const char *bucket, const char *key, int fd, tsv_s3_object *info,
                    tsv_error *err);

/* Downloads bucket/key into fd from its current offset, checking the content
 * hash. On failure a seekable fd is truncated back to where it started; bytes
 * written to an unseekable one must be discarded by the caller. fd
 * TSV_S3_DISCARD reads and checks the whole body without keeping it (a
 * verify of the stored copy; a retry simply starts over). */
#define TSV_S3_DISCARD (-2)
int tsv_s3_get(tsv_s3 *c, const char *bucket, const char *key, int fd, tsv_s3_object *info,
               tsv_error *err);

/* HEAD: size, ETag, stored SHA-256. TSV_ENOTFOUND if there is no such
 * object. */
int tsv_s3_head(tsv_s3 *c, const char *bucket, const char *key, tsv_s3_object *info,
                tsv_error *err);

/* DELETE; deleting a missing key succeeds (S3 answers 204). */
int tsv_s3_delete(tsv_s3 *c, const char *bucket, const char *key, tsv_error *err);

/* ListObjectsV2 of every key starting with prefix (NULL or "": all), in the
 * store's order, following continuation tokens. */
int tsv_s3_list(tsv_s3 *c, const char *bucket, const char *prefix, tsv_s3_list_fn fn, void *ud,
                tsv_error *err);

/* Credentials as AWS tools find them: AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from the environment, or, when
 * `file` is given (or the variables are unset and AWS_SHARED_CREDENTIALS_FILE
 * or ~/.aws/credentials exists), the INI file's section `profile` (NULL:
 * AWS_PROFILE, else "default") with aws_access_key_id,
 * aws_secret_access_key and aws_session_token. An explicit file wins over
 * the environment. TSV_EINVALID (naming the file, section and key) when
 * nothing complete is found. */
typedef struct tsv_s3_credentials {
    char access_key[256];
    char secret_key[256];
    char session_token[2048]; /* "" if none */
    char source[300];         /* "environment" or the file and section, for logs */
} tsv_s3_credentials;

int tsv_s3_credentials_load(const char *file, const char *profile, tsv_s3_credentials *out,
                            tsv_error *err);

#endif
