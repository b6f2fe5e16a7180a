/*
 * http: the thin layer between civetweb and tsvault's handlers.
 *
 * A tsv_http_req wraps one civetweb request: method, path, query, headers,
 * the request body as a tsv_reader (streamed, chunked or not, with the body
 * size limit and truncation detection), and the response helpers. Every
 * response carries X-Influxdb-Build and X-Influxdb-Version; errors use
 * InfluxDB's JSON shape {"code","message"} with X-Platform-Error-Code and the
 * status from the code table (tsv_code_http_status).
 *
 * Ownership: a tsv_http_req lives on the handler thread's stack for one
 * request; readers/writers it hands out belong to it and die with it.
 * Thread-safety: one request, one thread.
 * Errors: int 0/-1 with tsv_error; reply functions return -1 only when the
 * connection failed (nothing more can be sent).
 */
#ifndef TSV_HTTP_H
#define TSV_HTTP_H

#include <stdint.h>

#include "json.h"
#include "stream.h"
#include "tsv_error.h"

struct mg_connection;
struct tsv_server;

typedef struct tsv_http_body_reader {
    tsv_reader base;
    struct tsv_http_req *req;
    uint64_t limit; /* 0 = unlimited */
    int eof;
} tsv_http_body_reader;

typedef struct tsv_http_stream {
    tsv_writer base;
    struct tsv_http_req *req;
} tsv_http_stream;

typedef struct tsv_http_req {
    struct mg_connection *conn;
    struct tsv_server *server;
    const char *method;
    const char *http_version; /* "1.1", "1.0" */
    const char *path;         /* decoded path, trailing slashes stripped */
    const char *route;        /* the matched route's pattern (metrics), NULL if none */
    const char *query;        /* raw query string or "" */
    long long content_length; /* -1 when unknown (chunked) */
    uint64_t bytes_in;        /* request body bytes read so far */
    uint64_t bytes_out;       /* response bytes written (body) */
    int status;               /* response status once sent, else 0 */
    int streaming;            /* a chunked response is in progress */
    int body_done;            /* request body read to its end */
    int aborted;              /* response stream aborted mid-way */
    int expect_continue;      /* client sent Expect: 100-continue and waits for it */
    int continue_sent;        /* the interim "100 Continue" went out */
    int upload_slot;          /* holds one of --max-concurrent-uploads */
    int retry_after_s;        /* > 0: error replies carry Retry-After */
    tsv_http_body_reader body;
    tsv_http_stream stream;
    char path_buf[2048];
} tsv_http_req;

/* Request accessors */
const char *tsv_http_header(const tsv_http_req *req, const char *name);
/* Copies a query parameter's decoded value; returns 1 if present, 0 if
 * absent, -1 if it does not fit. */
int tsv_http_query(const tsv_http_req *req, const char *name, char *out, size_t outlen);
/* The same for the n-th (0-based) occurrence of a repeated parameter. */
int tsv_http_query_nth(const tsv_http_req *req, const char *name, size_t n, char *out,
                       size_t outlen);
/* The request body as a stream (limit from --max-body-size). A body shorter
 * than its Content-Length, or a broken chunked encoding, is TSV_EINVALID;
 * more than the limit is TSV_ETOOLARGE; no byte for --http-body-idle-timeout
 * is TSV_ETIMEOUT. The first read sends "100 Continue" when the client asked
 * for it, so everything a handler checks before reading is checked before
 * the client sends the body. */
tsv_reader *tsv_http_body(tsv_http_req *req);
/* Sends the interim "100 Continue" if the client asked for it and it has
 * not gone out yet. tsv_http_body's reader does this on its first read; a
 * handler that reads the body through civetweb itself
 * (mg_handle_form_request) calls it first. */
int tsv_http_continue(tsv_http_req *req, tsv_error *err);
/* Reads a whole (small) body into buf, refusing more than max bytes; on
 * failure buf is freed. */
int tsv_http_read_body(tsv_http_req *req, tsv_buf *buf, size_t max, tsv_error *err);

/* Reads a small JSON object body (at most 1 MiB) and parses it; the caller
 * frees *doc. Errors: TSV_EINVALID "failed to unmarshal json: ...". */
int tsv_http_read_json(tsv_http_req *req, tsv_json_doc **doc, tsv_error *err);

/* Responses (exactly one per request) */
int tsv_http_reply(tsv_http_req *req, int status, const char *content_type, const void *body,
                   size_t len);
/* extra_headers: NULL-terminated name/value pairs. */
int tsv_http_reply_with(tsv_http_req *req, int status, const char *content_type,
                        const char *const *extra_headers, const void *body, size_t len);
int tsv_http_reply_json(tsv_http_req *req, int status, const tsv_buf *json);
/* The usual end of a handler that built a JSON reply in *buf: rc 0 replies
 * it with `status`, else *err; either way *buf is freed. */
int tsv_http_reply_result(tsv_http_req *req, int status, int rc, tsv_buf *buf,
                          const tsv_error *err);
int tsv_http_reply_empty(tsv_http_req *req, int status);
/* Finishes the writer and sends its JSON with `status`; frees buf. */
int tsv_http_reply_jw(tsv_http_req *req, int status, tsv_json_writer *w, tsv_buf *buf);
/* The InfluxDB list reply {"links":{"self":self},"<key>":[...]}: _begin
 * starts the writer on *buf and leaves it inside the array; _end closes it
 * and replies 200 when rc is 0, else frees *buf and replies *err. _end also
 * ends the other list replies, any object whose last member is the array. */
void tsv_http_list_begin(tsv_json_writer *w, tsv_buf *buf, const char *self, const char *key);
int tsv_http_list_end(tsv_http_req *req, int rc, tsv_json_writer *w, tsv_buf *buf,
                      const tsv_error *err);
/* InfluxDB's error body {"code":code,"message":message} into *body (written
 * once for the handlers' replies, the router's 405 and civetweb's own
 * errors); -1 when it could not be written (the caller frees *body). */
int tsv_http_error_body(tsv_buf *body, const char *code, const char *message);
int tsv_http_reply_error(tsv_http_req *req, const tsv_error *err);
/* The same with an explicit status (0 = from the code), for APIs whose
 * statuses differ from InfluxDB's table (e.g. 409 for a Files API conflict). */
int tsv_http_reply_error_status(tsv_http_req *req, int status, const tsv_error *err);
int tsv_http_reply_error_code(tsv_http_req *req, tsv_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Streaming response: status + headers now, body as chunked writes.
 * extra_headers: NULL-terminated name/value pairs. Close with
 * tsv_http_stream_end; on a mid-stream failure call tsv_http_stream_abort,
 * which closes the connection without the final chunk so the client sees a
 * truncated transfer instead of a clean 200 (fixes docs/influxdb-compat.md#b6). */
tsv_writer *tsv_http_stream_begin(tsv_http_req *req, int status, const char *content_type,
                                  const char *const *extra_headers);
int tsv_http_stream_end(tsv_http_req *req, tsv_error *err);
void tsv_http_stream_abort(tsv_http_req *req);

#endif
