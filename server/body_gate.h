/*
 * body_gate: everything the dispatcher decides about a request body before
 * any of it is read, so that `Expect: 100-continue` works the same way for
 * every endpoint that takes a body, present and future.
 *
 * A route declares whether it takes a body (and whether that body is an
 * upload counted against --max-concurrent-uploads, whether it may carry a
 * Content-Encoding, its own size limit) and optionally a pre-body check
 * (parameters, "does the target exist"). tsv_body_gate_open runs, in order:
 * Content-Encoding (415), Content-Length against the limit (413), the upload
 * slot (503 + Retry-After), the route's check (400/404/...). Route, method
 * and authentication (404/405/401/403) are checked by the dispatcher before.
 * On failure the error is answered at once and, since the body was not read,
 * the connection is closed after the reply (http.c). On success the client's
 * "100 Continue" is owed and goes out on the first body read (http.c), so a
 * handler's own checks before reading also run before the body is sent.
 *
 * Ownership: nothing allocated; an open gate may hold an upload slot, given
 * back by tsv_body_gate_close (always call it after the handler).
 * Thread-safety: any thread; the upload counter is atomic.
 * Errors: tsv_body_gate_open returns 0 (go on) or -1 (the reply was sent).
 */
#ifndef TSV_BODY_GATE_H
#define TSV_BODY_GATE_H

#include "http.h"
#include "stream.h"
#include "tsv_error.h"

struct tsv_route;
struct tsv_route_params;
struct tsv_caller;

/* Seconds a client refused for lack of an upload slot is told to wait. */
#define TSV_UPLOAD_RETRY_AFTER_S 5

/* The Expect header: none or "100-continue" (case-insensitive) is fine and
 * sets req->expect_continue (ignored for HTTP/1.0, as RFC 9110 says); any
 * other expectation is TSV_EEXPECTATION (417). */
int tsv_body_gate_expect(tsv_http_req *req, const char *http_version, tsv_error *err);

/* The codec the request's Content-Encoding names (only its first value
 * counts, as in influxd): gzip/x-gzip, zstd, identity or none; anything else
 * is TSV_EUNSUPPORTED (415). */
int tsv_http_body_codec(const tsv_http_req *req, tsv_codec *out, tsv_error *err);

int tsv_body_gate_open(tsv_http_req *req, const struct tsv_route *route,
                       const struct tsv_route_params *params, const struct tsv_caller *caller);
void tsv_body_gate_close(tsv_http_req *req);

#endif
