/* http: civetweb request/response glue with InfluxDB's headers and errors. */
#include "http.h"

#include <civetweb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "json.h"
#include "server.h"
#include "tsv_log.h"
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

/* Reads once, riding out civetweb's per-wait timeout (which is the header
 * timeout: civetweb has one knob for both) until the body has been idle for
 * --http-body-idle-timeout. civetweb reports that timeout as 0 with body
 * bytes still due, and a closed connection as -1. */
static int read_with_idle_timeout(tsv_http_req *req, void *buf, size_t len, int *timed_out)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    *timed_out = 0;
    for (;;) {
        int n = mg_read(req->conn, buf, len);
        if (n != 0)
            return n;
        int more_due = req->content_length < 0 ? !req->body_done
                                               : req->bytes_in < (uint64_t)req->content_length;
        if (!more_due)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= req->server->cfg.body_idle_timeout_s ||
            atomic_load(&req->server->stopping)) {
            *timed_out = 1;
            return 0;
        }
        if (req->content_length < 0)
            return 0; /* chunked: civetweb's 0 means the end (see body_read) */
    }
}

int tsv_http_query_nth(const tsv_http_req *req, const char *name, size_t n, char *out,
                       size_t outlen)
{
    if (!req->query || !*req->query)
        return 0;
    int k = mg_get_var2(req->query, strlen(req->query), name, out, outlen, n);
    if (k == -1)
        return 0;
    if (k < 0)
        return -1;
    return 1;
}

int tsv_http_continue(tsv_http_req *req, tsv_error *err)
{
    if (!req->expect_continue || req->continue_sent)
        return 0;
    /* civetweb never sends the interim reply for a request handler; the
     * client holds the body back until it arrives (curl: for one second). */
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    req->continue_sent = 1;
    if (mg_write(req->conn, cont, sizeof cont - 1) != (int)(sizeof cont - 1))
        return tsv_error_set(err, TSV_EINVALID, "client connection closed before its body");
    return 0;
}

static ssize_t body_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    tsv_http_body_reader *br = (tsv_http_body_reader *)r;
    tsv_http_req *req = br->req;
    if (br->eof)
        return 0;
    /* A declared length over the limit is refused before reading any of it. */
    if (br->limit && req->content_length > 0 && (uint64_t)req->content_length > br->limit)
        return tsv_error_set(err, TSV_ETOOLARGE,
                             "request body of %lld bytes exceeds the limit of %llu bytes",
                             req->content_length, (unsigned long long)br->limit);
    if (tsv_http_continue(req, err) != 0)
        return -1;
    if (len > (size_t)1 << 30)
        len = (size_t)1 << 30;
    int timed_out;
    int n = read_with_idle_timeout(req, buf, len, &timed_out);
    if (timed_out)
        return tsv_error_set(
            err, TSV_ETIMEOUT, "request body idle for %d s: cut off after %llu bytes",
            req->server->cfg.body_idle_timeout_s, (unsigned long long)req->bytes_in);
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
    int rc = 0;
    for (;;) {
        ssize_t n = tsv_read(r, chunk, sizeof chunk, err);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        if (buf->len + (size_t)n > max) {
            rc = tsv_error_set(err, TSV_ETOOLARGE, "request body exceeds %zu bytes", max);
            break;
        }
        if ((rc = tsv_buf_append(buf, chunk, (size_t)n, err)) != 0)
            break;
    }
    if (rc != 0)
        tsv_buf_free(buf);
    return rc;
}

/* Responses are composed here, head and (small) body in one buffer and one
 * write: civetweb's mg_response_header_* API writes each header line
 * separately, and refuses to work at all once anything was written, which
 * the interim "100 Continue" is. */

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Writes everything, riding out civetweb's per-write timeout (the header
 * timeout) while the client reads nothing, up to --http-body-idle-timeout.
 * civetweb returns what it sent before a timeout, or -1 when it sent
 * nothing, which is also its answer for a closed connection: a -1 that came
 * back well before the timeout is taken as the connection being gone. */
static int write_all(tsv_http_req *req, const void *buf, size_t len)
{
    const tsv_config *cfg = &req->server->cfg;
    const char *p = buf;
    double idle_since = mono_s();
    while (len > 0) {
        size_t want = len > (1u << 30) ? (1u << 30) : len;
        double t0 = mono_s();
        int n = mg_write(req->conn, p, want);
        double t1 = mono_s();
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            idle_since = t1;
            continue;
        }
        if (n < 0 && t1 - t0 < cfg->read_header_timeout_s * 0.9)
            return -1;
        if (t1 - idle_since >= cfg->body_idle_timeout_s || atomic_load(&req->server->stopping))
            return -1;
    }
    return 0;
}

/* Chunk framing done here rather than by mg_send_chunk, so that a write
 * civetweb gives up on half-way can be resumed without breaking it. */
static int send_chunk(tsv_http_req *req, const void *buf, size_t len)
{
    char head[24];
    int hl = snprintf(head, sizeof head, "%zx\r\n", len);
    if (write_all(req, head, (size_t)hl) != 0)
        return -1;
    if (len && write_all(req, buf, len) != 0)
        return -1;
    return write_all(req, "\r\n", 2);
}

enum {
    ONE_WRITE_MAX = 64 * 1024
};

static int head_line(tsv_buf *b, const char *name, const char *value)
{
    return tsv_buf_append(b, name, strlen(name), NULL) || tsv_buf_append(b, ": ", 2, NULL) ||
                   tsv_buf_append(b, value, strlen(value), NULL) ||
                   tsv_buf_append(b, "\r\n", 2, NULL)
               ? -1
               : 0;
}

/* Whether the connection stays open after this reply. Not when the request
 * body was not read to its end: the rest of it is neither read (it may be
 * gigabytes, or never come: a client waiting for "100 Continue" does not send
 * it) nor ever parsed as the next request. Otherwise as civetweb decides
 * (HTTP/1.1 or "Connection: keep-alive", and no "Connection: close"). */
static int keeps_alive(tsv_http_req *req, int streaming)
{
    int has_body = req->content_length > 0 ||
                   (req->content_length < 0 && tsv_http_header(req, "Transfer-Encoding"));
    if (streaming || (has_body && !req->body_done))
        return 0;
    const char *c = tsv_http_header(req, "Connection");
    if (c && strcasestr(c, "close"))
        return 0;
    if (c && strcasestr(c, "keep-alive"))
        return 1;
    return req->http_version && strcmp(req->http_version, "1.1") == 0;
}

/* Sends status line, headers every response carries (X-Influxdb-*, Date,
 * Connection, Retry-After when set), the given ones and the body.
 * content_length < 0 announces a chunked body (sent by the caller). */
static int send_response(tsv_http_req *req, int status, const char *content_type,
                         const char *const *extra, long long content_length, const void *body,
                         size_t len)
{
    if (req->status)
        return -1; /* one response per request */
    req->status = status;
    int alive = keeps_alive(req, content_length < 0);
    if (!alive)
        mg_disable_connection_keep_alive(req->conn); /* civetweb ignores our header */
    tsv_buf b = {0};
    char line[160], date[64], num[32];
    snprintf(line, sizeof line, "HTTP/%s %d %s\r\n",
             req->http_version && strcmp(req->http_version, "1.0") == 0 ? "1.0" : "1.1", status,
             mg_get_response_code_text(req->conn, status));
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    int rc = tsv_buf_append(&b, line, strlen(line), NULL);
    rc |= head_line(&b, "X-Influxdb-Build", "OSS");
    rc |= head_line(&b, "X-Influxdb-Version", tsv_influx_compat_version());
    for (const char *const *h = extra; h && h[0]; h += 2)
        rc |= head_line(&b, h[0], h[1]);
    if (content_type)
        rc |= head_line(&b, "Content-Type", content_type);
    if (content_length < 0) {
        rc |= head_line(&b, "Transfer-Encoding", "chunked");
    } else if (status != 204 && status != 304) {
        snprintf(num, sizeof num, "%lld", content_length);
        rc |= head_line(&b, "Content-Length", num);
    }
    if (req->retry_after_s > 0) {
        snprintf(num, sizeof num, "%d", req->retry_after_s);
        rc |= head_line(&b, "Retry-After", num);
    }
    rc |= head_line(&b, "Date", date);
    rc |= head_line(&b, "Connection", alive ? "keep-alive" : "close");
    rc |= tsv_buf_append(&b, "\r\n", 2, NULL);
    int with_body = len && status != 204 && status != 304 && strcmp(req->method, "HEAD") != 0;
    if (rc == 0 && with_body && len <= ONE_WRITE_MAX) {
        rc = tsv_buf_append(&b, body, len, NULL);
        with_body = 0;
        req->bytes_out += len;
    }
    if (rc == 0 && write_all(req, b.data, b.len) != 0)
        rc = -1;
    tsv_buf_free(&b);
    if (rc == 0 && with_body) {
        if (write_all(req, body, len) != 0)
            return -1;
        req->bytes_out += len;
    }
    return rc ? -1 : 0;
}

int tsv_http_reply(tsv_http_req *req, int status, const char *content_type, const void *body,
                   size_t len)
{
    return send_response(req, status, content_type, NULL, (long long)len, body, len);
}

int tsv_http_reply_with(tsv_http_req *req, int status, const char *content_type,
                        const char *const *extra_headers, const void *body, size_t len)
{
    return send_response(req, status, content_type, extra_headers, (long long)len, body, len);
}

int tsv_http_reply_json(tsv_http_req *req, int status, const tsv_buf *json)
{
    return tsv_http_reply(req, status, "application/json; charset=utf-8",
                          json->data ? (const void *)json->data : "", json->len);
}

int tsv_http_reply_result(tsv_http_req *req, int status, int rc, tsv_buf *buf, const tsv_error *err)
{
    rc = rc == 0 ? tsv_http_reply_json(req, status, buf) : tsv_http_reply_error(req, err);
    tsv_buf_free(buf);
    return rc;
}

int tsv_http_reply_empty(tsv_http_req *req, int status)
{
    return tsv_http_reply(req, status, NULL, "", 0);
}

void tsv_http_list_begin(tsv_json_writer *w, tsv_buf *buf, const char *self, const char *key)
{
    tsv_jw_init(w, buf, NULL);
    tsv_jw_object_begin(w);
    tsv_jw_key(w, "links");
    tsv_jw_object_begin(w);
    tsv_jw_field_string(w, "self", self);
    tsv_jw_object_end(w);
    tsv_jw_key(w, key);
    tsv_jw_array_begin(w);
}

int tsv_http_list_end(tsv_http_req *req, int rc, tsv_json_writer *w, tsv_buf *buf,
                      const tsv_error *err)
{
    if (rc != 0) {
        tsv_buf_free(buf);
        return tsv_http_reply_error(req, err);
    }
    tsv_jw_array_end(w);
    tsv_jw_object_end(w);
    return tsv_http_reply_jw(req, 200, w, buf);
}

int tsv_http_error_body(tsv_buf *body, const char *code, const char *message)
{
    tsv_json_writer w;
    tsv_jw_init(&w, body, NULL);
    tsv_jw_object_begin(&w);
    tsv_jw_field_string(&w, "code", code);
    tsv_jw_field_string(&w, "message", message);
    tsv_jw_object_end(&w);
    return tsv_jw_finish(&w, NULL);
}

int tsv_http_reply_error(tsv_http_req *req, const tsv_error *err)
{
    return tsv_http_reply_error_status(req, 0, err);
}

int tsv_http_reply_error_status(tsv_http_req *req, int status_override, const tsv_error *err)
{
    tsv_code code = err && err->code != TSV_OK ? err->code : TSV_EINTERNAL;
    const char *message = err && err->message[0] ? err->message : "An internal error has occurred";
    /* Replies never carry server paths; the log keeps the full detail. */
    char pub[TSV_ERROR_MSG_MAX];
    if (tsv_error_public_message(message, req->server->cfg.data_dir, pub, sizeof pub)) {
        TSV_WARN("msg=\"error detail\" method=%s path=\"%s\" code=\"%s\" detail=\"%s\"",
                 req->method, req->path, tsv_code_string(code), message);
        message = pub;
    }
    if (req->streaming) {
        /* Too late for a status: make the failure visible as a broken stream. */
        tsv_http_stream_abort(req);
        return -1;
    }
    if (req->status)
        return -1;
    tsv_buf buf = {0};
    int status = status_override ? status_override : tsv_code_http_status(code);
    int rc;
    if (tsv_http_error_body(&buf, tsv_code_string(code), message) != 0) {
        static const char fallback[] =
            "{\"code\":\"internal error\",\"message\":\"out of memory\"}";
        const char *h[] = {"X-Platform-Error-Code", "internal error", NULL};
        rc = send_response(req, 500, "application/json; charset=utf-8", h, sizeof fallback - 1,
                           fallback, sizeof fallback - 1);
    } else {
        const char *h[] = {"X-Platform-Error-Code", tsv_code_string(code), NULL};
        rc = send_response(req, status, "application/json; charset=utf-8", h, (long long)buf.len,
                           buf.data, buf.len);
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
    if (len == 0)
        return 0; /* an empty chunk would end the body */
    if (send_chunk(s->req, buf, len) != 0)
        return tsv_error_set(err, TSV_EINTERNAL, "client connection closed during response");
    s->req->bytes_out += len;
    return 0;
}

static void stream_free(tsv_writer *w) { (void)w; }

tsv_writer *tsv_http_stream_begin(tsv_http_req *req, int status, const char *content_type,
                                  const char *const *extra_headers)
{
    if (req->status)
        return NULL;
    /* A stream that fails half-way must end the connection; announcing
     * Connection: close up front keeps every client's view consistent (and
     * send_response tells civetweb, which otherwise would wait for a next
     * request on the connection while the client waits for the rest of the
     * body, until the idle timeout). */
    if (send_response(req, status, content_type, extra_headers, -1, NULL, 0) != 0)
        return NULL;
    req->streaming = 1;
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
    if (send_chunk(req, "", 0) != 0)
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

#define JSON_BODY_MAX (1024 * 1024)

int tsv_http_read_json(tsv_http_req *req, tsv_json_doc **doc, tsv_error *err)
{
    tsv_buf body = {0};
    if (tsv_http_read_body(req, &body, JSON_BODY_MAX, err) != 0)
        return -1;
    int rc = tsv_json_parse(doc, body.data ? (const char *)body.data : "", body.len, err);
    tsv_buf_free(&body);
    if (rc != 0)
        return tsv_error_wrap(err, "failed to unmarshal json");
    if (tsv_json_root(*doc)->type != TSV_JSON_OBJECT) {
        tsv_json_free(*doc);
        return tsv_error_set(err, TSV_EINVALID, "failed to unmarshal json: expected an object");
    }
    return 0;
}

int tsv_http_reply_jw(tsv_http_req *req, int status, tsv_json_writer *w, tsv_buf *buf)
{
    tsv_error err;
    int rc;
    if (tsv_jw_finish(w, &err) != 0)
        rc = tsv_http_reply_error(req, &err);
    else
        rc = tsv_http_reply_json(req, status, buf);
    tsv_buf_free(buf);
    return rc;
}
