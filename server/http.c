/* http: civetweb request/response glue with InfluxDB's headers and errors. */
#include "http.h"

#include <civetweb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "server.h"
#include "version.h"

const char *tsv_http_header(const tsv_http_req *req, const char *name)
{
    return mg_get_header(req->conn, name);
}

int tsv_http_query(const tsv_http_req *req, const char *name, char *out, size_t outlen)
{
    if (!req->query || !*req->query)
        return 0;
    int n = mg_get_var(req->query, strlen(req->query), name, out, outlen);
    if (n == -1)
        return 0;
    if (n < 0)
        return -1;
    return 1;
}

static ssize_t body_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    tsv_http_body_reader *br = (tsv_http_body_reader *)r;
    tsv_http_req *req = br->req;
    if (br->eof)
        return 0;
    /* A declared length over the limit is refused before reading any of it. */
    if (br->limit && req->content_length > 0 && (uint64_t)req->content_length > br->limit)
        return tsv_error_set(err, TSV_ETOOLARGE, "request body of %lld bytes exceeds the limit of %llu bytes",
                             req->content_length, (unsigned long long)br->limit);
    if (len > (size_t)1 << 30)
        len = (size_t)1 << 30;
    int n = mg_read(req->conn, buf, len);
    if (n < 0) {
        /* civetweb reports a body cut short (client closed early) as an
         * error, not as EOF: say what happened rather than "connection error". */
        if (req->content_length >= 0 && req->bytes_in < (uint64_t)req->content_length)
            return tsv_error_set(err, TSV_EINVALID,
                                 "unexpected EOF: request body truncated after %llu of %lld bytes",
                                 (unsigned long long)req->bytes_in, req->content_length);
        return tsv_error_set(err, TSV_EINVALID,
                             "failed to read request body: broken chunked encoding or connection "
                             "closed");
    }
    if (n == 0) {
        br->eof = 1;
        if (req->content_length >= 0 && req->bytes_in < (uint64_t)req->content_length)
            return tsv_error_set(err, TSV_EINVALID,
                                 "unexpected EOF: request body truncated after %llu of %lld bytes",
                                 (unsigned long long)req->bytes_in, req->content_length);
        req->body_done = 1;
        return 0;
    }
    req->bytes_in += (uint64_t)n;
    if (br->limit && req->bytes_in > br->limit)
        return tsv_error_set(err, TSV_ETOOLARGE, "request body exceeds the limit of %llu bytes",
                             (unsigned long long)br->limit);
    return n;
}

static void body_free(tsv_reader *r) { (void)r; /* lives inside the request */ }

tsv_reader *tsv_http_body(tsv_http_req *req)
{
    req->body.base.read = body_read;
    req->body.base.free = body_free;
    req->body.req = req;
    req->body.limit = req->server->cfg.max_body_size;
    return &req->body.base;
}

int tsv_http_read_body(tsv_http_req *req, tsv_buf *buf, size_t max, tsv_error *err)
{
    tsv_reader *r = tsv_http_body(req);
    uint8_t chunk[16384];
    for (;;) {
        ssize_t n = tsv_read(r, chunk, sizeof chunk, err);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        if (buf->len + (size_t)n > max)
            return tsv_error_set(err, TSV_ETOOLARGE, "request body exceeds %zu bytes", max);
        if (tsv_buf_append(buf, chunk, (size_t)n, err) != 0)
            return -1;
    }
}

/* Headers every response carries, plus Connection: close when the request
 * body was not read to its end (so civetweb does not try to parse the rest
 * of an upload as the next request). */
static void add_common_headers(tsv_http_req *req)
{
    mg_response_header_add(req->conn, "X-Influxdb-Build", "OSS", -1);
    mg_response_header_add(req->conn, "X-Influxdb-Version", tsv_influx_compat_version(), -1);
    int has_body = req->content_length > 0 ||
                   (req->content_length < 0 && tsv_http_header(req, "Transfer-Encoding"));
    if (has_body && !req->body_done)
        mg_response_header_add(req->conn, "Connection", "close", -1);
}

int tsv_http_reply(tsv_http_req *req, int status, const char *content_type, const void *body,
                   size_t len)
{
    if (req->status)
        return -1; /* one response per request */
    req->status = status;
    mg_response_header_start(req->conn, status);
    add_common_headers(req);
    if (content_type)
        mg_response_header_add(req->conn, "Content-Type", content_type, -1);
    char cl[32];
    snprintf(cl, sizeof cl, "%zu", len);
    if (status != 204 && status != 304)
        mg_response_header_add(req->conn, "Content-Length", cl, -1);
    if (mg_response_header_send(req->conn) < 0)
        return -1;
    if (len && status != 204 && strcmp(req->method, "HEAD") != 0) {
        if (mg_write(req->conn, body, len) != (int)len)
            return -1;
        req->bytes_out += len;
    }
    return 0;
}

int tsv_http_reply_json(tsv_http_req *req, int status, const tsv_buf *json)
{
    return tsv_http_reply(req, status, "application/json; charset=utf-8",
                          json->data ? (const void *)json->data : "", json->len);
}

int tsv_http_reply_empty(tsv_http_req *req, int status)
{
    return tsv_http_reply(req, status, NULL, "", 0);
}

int tsv_http_reply_error(tsv_http_req *req, const tsv_error *err)
{
    return tsv_http_reply_error_status(req, 0, err);
}

int tsv_http_reply_error_status(tsv_http_req *req, int status_override, const tsv_error *err)
{
    tsv_code code = err && err->code != TSV_OK ? err->code : TSV_EINTERNAL;
    const char *message = err && err->message[0] ? err->message : "An internal error has occurred";
    if (req->streaming) {
        /* Too late for a status: make the failure visible as a broken stream. */
        tsv_http_stream_abort(req);
        return -1;
    }
    if (req->status)
        return -1;
    tsv_buf buf = {0};
    tsv_json_writer w;
    tsv_jw_init(&w, &buf, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_key(&w, "code");
    tsv_jw_string(&w, tsv_code_string(code));
    tsv_jw_key(&w, "message");
    tsv_jw_string(&w, message);
    tsv_jw_object_end(&w);
    int status = status_override ? status_override : tsv_code_http_status(code);
    int rc;
    if (tsv_jw_finish(&w, NULL) != 0) {
        static const char fallback[] =
            "{\"code\":\"internal error\",\"message\":\"out of memory\"}";
        status = 500;
        code = TSV_EINTERNAL;
        req->status = status;
        mg_response_header_start(req->conn, status);
        add_common_headers(req);
        mg_response_header_add(req->conn, "X-Platform-Error-Code", "internal error", -1);
        mg_response_header_add(req->conn, "Content-Type", "application/json; charset=utf-8", -1);
        mg_response_header_add(req->conn, "Content-Length", "53", -1);
        rc = mg_response_header_send(req->conn) < 0 ? -1 : 0;
        if (rc == 0 && mg_write(req->conn, fallback, sizeof fallback - 1) < 0)
            rc = -1;
    } else {
        req->status = status;
        mg_response_header_start(req->conn, status);
        add_common_headers(req);
        mg_response_header_add(req->conn, "X-Platform-Error-Code", tsv_code_string(code), -1);
        mg_response_header_add(req->conn, "Content-Type", "application/json; charset=utf-8", -1);
        char cl[32];
        snprintf(cl, sizeof cl, "%zu", buf.len);
        mg_response_header_add(req->conn, "Content-Length", cl, -1);
        rc = mg_response_header_send(req->conn) < 0 ? -1 : 0;
        if (rc == 0 && strcmp(req->method, "HEAD") != 0) {
            if (mg_write(req->conn, buf.data, buf.len) != (int)buf.len)
                rc = -1;
            else
                req->bytes_out += buf.len;
        }
    }
    tsv_buf_free(&buf);
    return rc;
}

int tsv_http_reply_error_code(tsv_http_req *req, tsv_code code, const char *fmt, ...)
{
    tsv_error err;
    va_list ap;
    va_start(ap, fmt);
    tsv_error_vset(&err, code, fmt, ap);
    va_end(ap);
    return tsv_http_reply_error(req, &err);
}

static int stream_write(tsv_writer *w, const void *buf, size_t len, tsv_error *err)
{
    tsv_http_stream *s = (tsv_http_stream *)w;
    const char *p = buf;
    while (len > 0) {
        unsigned int n = len > (1u << 30) ? (1u << 30) : (unsigned int)len;
        if (mg_send_chunk(s->req->conn, p, n) < 0)
            return tsv_error_set(err, TSV_EINTERNAL, "client connection closed during response");
        s->req->bytes_out += n;
        p += n;
        len -= n;
    }
    return 0;
}

static void stream_free(tsv_writer *w) { (void)w; }

tsv_writer *tsv_http_stream_begin(tsv_http_req *req, int status, const char *content_type,
                                  const char *const *extra_headers)
{
    if (req->status)
        return NULL;
    req->status = status;
    req->streaming = 1;
    mg_response_header_start(req->conn, status);
    add_common_headers(req);
    if (content_type)
        mg_response_header_add(req->conn, "Content-Type", content_type, -1);
    for (const char *const *h = extra_headers; h && h[0]; h += 2)
        mg_response_header_add(req->conn, h[0], h[1], -1);
    mg_response_header_add(req->conn, "Transfer-Encoding", "chunked", -1);
    /* A stream that fails half-way must end the connection; announcing it up
     * front keeps every client's view consistent. civetweb ignores the
     * header we add, so tell it too: otherwise, after an abort, it waits
     * for a next request on the connection while the client waits for the
     * rest of the body, until keep_alive_timeout_ms. */
    mg_response_header_add(req->conn, "Connection", "close", -1);
    mg_disable_connection_keep_alive(req->conn);
    if (mg_response_header_send(req->conn) < 0)
        return NULL;
    req->stream.base.write = stream_write;
    req->stream.base.close = NULL;
    req->stream.base.free = stream_free;
    req->stream.req = req;
    return &req->stream.base;
}

int tsv_http_stream_end(tsv_http_req *req, tsv_error *err)
{
    if (!req->streaming)
        return 0;
    req->streaming = 0;
    if (mg_send_chunk(req->conn, "", 0) < 0)
        return tsv_error_set(err, TSV_EINTERNAL, "client connection closed during response");
    return 0;
}

void tsv_http_stream_abort(tsv_http_req *req)
{
    /* No terminating chunk: with Connection: close the client sees the
     * transfer end early, never a complete-looking body. */
    req->streaming = 0;
    req->aborted = 1;
}
