/*
 * response: streamed responses shared by the handlers that send large
 * bodies (backup, export, verify).
 *
 * A "lazy" writer sends the status and headers only with the first body
 * byte: an error found before that still gets its proper status and JSON
 * body; an error after it aborts the connection so the client sees a broken
 * transfer, never a clean 200 with a truncated body (docs/influxdb-compat.md#b6).
 *
 * Compression: zstd when Accept-Encoding lists zstd; else gzip when it lists
 * gzip (q > 0), at the level Gzip-Compression-Level asks for: default = ISA-L
 * level 3, speedy = ISA-L level 1, full = zlib level 9, none = no gzip.
 * Thread-safety: one request, one thread.
 */
#ifndef TSV_RESPONSE_H
#define TSV_RESPONSE_H

#include "http.h"
#include "stream.h"

typedef struct lazy_stream {
    tsv_writer base;
    tsv_http_req *req;
    const char *content_type;
    const char *headers[8];
    tsv_writer *inner;
} lazy_stream;

typedef enum {
    ENC_IDENTITY,
    ENC_GZIP,
    ENC_ZSTD
} response_encoding;

typedef struct tsv_encoding_choice {
    response_encoding enc;
    tsv_gzip_engine engine;
    int level;
    int negotiated; /* the reply depends on Accept-Encoding: send Vary */
} tsv_encoding_choice;

typedef struct tsv_response_stream {
    lazy_stream lazy;
    tsv_writer *encoder;
    tsv_writer *out; /* where the body goes: encoder or lazy */
} tsv_response_stream;

/* TSV_EINVALID for a bad Gzip-Compression-Level. allow_compression 0: the
 * body is never compressed (headers ignored). */
int tsv_response_choose_encoding(tsv_http_req *req, int allow_compression, tsv_encoding_choice *c,
                                 tsv_error *err);
int tsv_response_open(tsv_http_req *req, tsv_response_stream *rs, const char *content_type,
                      const tsv_encoding_choice *c, tsv_error *err);
/* Finishes (rc == 0) or fails the response: before the first body byte an
 * error reply, after it an aborted connection. Returns rc or the close error. */
int tsv_response_close(tsv_http_req *req, tsv_response_stream *rs, int rc, tsv_error *err);

#endif
