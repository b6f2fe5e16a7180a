/* influx2_backup: the InfluxDB 2.x backup client (influx2_backup.h): the client,
 * its transfers (libcurl multi interface, so response bodies are pulled through
 * a bounded window), the connection probe and the two backup downloads. */
#include "influx2_backup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_common.h"
#include "influx2_internal.h"
#include "json.h"
#include "tar_stream.h"
#include "tsv_time.h"

#define DEFAULT_TIMEOUT_MS 30000
#define XFER_HIWAT (64 * 1024) /* response bytes buffered before the transfer pauses */
#define UP_CHUNK (64 * 1024)   /* request body read per step */
#define JSON_REPLY_MAX (16u * 1024 * 1024)

int tsv_influx2_new(tsv_influx2 **out, const char *base_url, const char *token, tsv_error *err)
{
    *out = NULL;
    if (!base_url || !*base_url)
        return tsv_error_set(err, TSV_EINVALID, "no server URL");
    http_common__global_init();
    tsv_influx2 *c = calloc(1, sizeof *c);
    if (!c)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    c->base = http_common__base_url(base_url, 1);
    c->token = strdup(token ? token : "");
    c->curl = curl_easy_init();
    c->multi = curl_multi_init();
    if (!c->base || !c->token || !c->curl || !c->multi) {
        tsv_influx2_free(c);
        return tsv_error_set(err, TSV_EINTERNAL, "cannot initialise libcurl");
    }
    *out = c;
    return 0;
}

void tsv_influx2_free(tsv_influx2 *c)
{
    if (!c)
        return;
    if (c->multi)
        curl_multi_cleanup(c->multi);
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->base);
    if (c->token) {
        memset(c->token, 0, strlen(c->token));
        free(c->token);
    }
    http_common__tls_clear(&c->tls);
    free(c);
}

int tsv_influx2_set_tls(tsv_influx2 *c, const char *ca_file, int skip_verify, tsv_error *err)
{
    return http_common__tls_set(&c->tls, ca_file, skip_verify, err);
}

void tsv_influx2_set_timeout(tsv_influx2 *c, int timeout_ms)
{
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
}

int tsv_influx2_token_switched(const tsv_influx2 *c) { return c->token_switched; }

void influx2__scrub(const tsv_influx2 *c, tsv_error *err)
{
    if (!err || !c->token || strlen(c->token) < 4)
        return;
    size_t tl = strlen(c->token), from = 0;
    char *hit;
    while ((hit = strstr(err->message + from, c->token)) != NULL) {
        char out[TSV_ERROR_MSG_MAX];
        size_t pos = (size_t)(hit - err->message);
        snprintf(out, sizeof out, "%.*s<token>%s", (int)pos, err->message, hit + tl);
        memcpy(err->message, out, sizeof out);
        from = pos + 7; /* past "<token>" */
        if (from >= strlen(err->message))
            break;
    }
}

/* ---------------------------------------------------------------------------
 * Transfers
 * ------------------------------------------------------------------------- */

struct influx2_xfer {
    tsv_reader reader; /* the response body */
    tsv_influx2 *c;
    const influx2_req *req;
    struct curl_slist *hdrs;
    char *url;
    char errbuf[CURL_ERROR_SIZE];
    int added, done, paused, headers_done, oom;
    CURLcode result;
    long status;
    char ctype[256], cenc[64];
    tsv_buf in; /* response body window */
    size_t in_pos;
    tsv_buf errbody;
    uint64_t received;
    /* request body */
    tsv_writer *gz, *gzsink;
    tsv_buf up; /* bytes ready to send */
    size_t up_pos;
    uint8_t *up_chunk;
    int up_eof, up_failed;
    tsv_error up_err;
    uint64_t sent;
};

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    influx2_xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        x->ctype[0] = x->cenc[0] = '\0';
        x->headers_done = 0;
        const char *sp = memchr(p, ' ', len);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    } else if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        if (x->status >= 200)
            x->headers_done = 1;
    } else {
        http_common__header_value(p, len, "Content-Type", 0, x->ctype, sizeof x->ctype);
        http_common__header_value(p, len, "Content-Encoding", 0, x->cenc, sizeof x->cenc);
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    influx2_xfer *x = ud;
    size_t len = size * n;
    x->headers_done = 1;
    if (x->status < 200 || x->status >= 300) {
        http_common__collect_error(&x->errbody, p, len);
        return len;
    }
    if (x->in.len - x->in_pos >= XFER_HIWAT) {
        x->paused = 1;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (x->in_pos == x->in.len) {
        x->in.len = x->in_pos = 0;
    } else if (x->in_pos > 0) {
        memmove(x->in.data, x->in.data + x->in_pos, x->in.len - x->in_pos);
        x->in.len -= x->in_pos;
        x->in_pos = 0;
    }
    if (tsv_buf_append(&x->in, p, len, NULL) != 0) {
        x->oom = 1;
        return 0;
    }
    x->received += len;
    return len;
}

/* Request body: the caller's reader, gzip-compressed on the fly if asked. */
static size_t on_upload(char *dst, size_t size, size_t n, void *ud)
{
    influx2_xfer *x = ud;
    size_t cap = size * n;
    while (x->up_pos == x->up.len && !x->up_eof) {
        x->up.len = x->up_pos = 0;
        ssize_t got = tsv_read(x->req->body, x->up_chunk, UP_CHUNK, &x->up_err);
        int rc = 0;
        if (got < 0) {
            rc = -1;
        } else if (x->gz) {
            rc = got == 0 ? tsv_writer_close(x->gz, &x->up_err)
                          : tsv_write(x->gz, x->up_chunk, (size_t)got, &x->up_err);
        } else if (got > 0) {
            rc = tsv_buf_append(&x->up, x->up_chunk, (size_t)got, &x->up_err);
        }
        if (rc != 0) {
            x->up_failed = 1;
            return CURL_READFUNC_ABORT;
        }
        if (got == 0)
            x->up_eof = 1;
    }
    size_t k = x->up.len - x->up_pos;
    if (k > cap)
        k = cap;
    memcpy(dst, x->up.data + x->up_pos, k);
    x->up_pos += k;
    x->sent += k;
    return k;
}

static void check_done(influx2_xfer *x)
{
    CURLMsg *m;
    int q = 0;
    while ((m = curl_multi_info_read(x->c->multi, &q)) != NULL) {
        if (m->msg == CURLMSG_DONE && m->easy_handle == x->c->curl) {
            x->done = 1;
            x->result = m->data.result;
        }
    }
}

/* One step of the transfer: unpause a drained transfer, run libcurl, and
 * wait for the socket when nothing moved. */
static int pump(influx2_xfer *x, tsv_error *err)
{
    if (x->paused) {
        x->paused = 0;
        CURLcode pc = curl_easy_pause(x->c->curl, CURLPAUSE_CONT);
        if (pc != CURLE_OK) {
            x->done = 1;
            x->result = pc;
        }
        return 0;
    }
    uint64_t before = x->received;
    size_t err_before = x->errbody.len;
    int had_headers = x->headers_done, running = 0;
    CURLMcode mc = curl_multi_perform(x->c->multi, &running);
    if (mc != CURLM_OK)
        return tsv_error_set(err, TSV_EINTERNAL, "libcurl: %s", curl_multi_strerror(mc));
    check_done(x);
    if (!x->done && !x->paused && x->received == before && x->headers_done == had_headers &&
        x->errbody.len == err_before) {
        mc = curl_multi_poll(x->c->multi, NULL, 0, 1000, NULL);
        if (mc != CURLM_OK)
            return tsv_error_set(err, TSV_EINTERNAL, "libcurl: %s", curl_multi_strerror(mc));
    }
    return 0;
}

/* The error of a transfer that ended with a libcurl failure. */
static int xfer_error(influx2_xfer *x, tsv_error *err)
{
    const char *m = x->req->method, *path = x->req->path;
    if (x->up_failed) {
        if (err)
            *err = x->up_err;
        return tsv_error_wrap(err, "%s %s: reading the request body", m, path);
    }
    if (x->oom)
        return tsv_error_set(err, TSV_EINTERNAL, "%s %s: out of memory", m, path);
    const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result);
    if (x->result == CURLE_OPERATION_TIMEDOUT)
        return tsv_error_set(
            err, TSV_EUNAVAILABLE, "%s %s: %s timed out after %d ms without progress: %s", m, path,
            x->c->base, x->c->timeout_ms ? x->c->timeout_ms : DEFAULT_TIMEOUT_MS, detail);
    if (http_common__tls_failure(x->result))
        return tsv_error_set(err, TSV_EUNAVAILABLE, "TLS with %s failed: %s", x->c->base, detail);
    if (!x->headers_done && http_common__unreachable(x->result))
        return tsv_error_set(err, TSV_EUNAVAILABLE, "cannot reach %s: %s", x->c->base, detail);
    if (x->headers_done && (x->result == CURLE_PARTIAL_FILE || x->result == CURLE_RECV_ERROR ||
                            x->result == CURLE_GOT_NOTHING || x->result == CURLE_HTTP2_STREAM ||
                            x->result == CURLE_BAD_CONTENT_ENCODING))
        return tsv_error_set(err, TSV_EINVALID,
                             "%s %s: the response body is truncated: the transfer broke off after "
                             "%" PRIu64 " bytes: %s",
                             m, path, x->received, detail);
    return tsv_error_set(err, TSV_EINTERNAL, "%s %s: %s", m, path, detail);
}

static ssize_t xfer_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    influx2_xfer *x = (influx2_xfer *)r;
    if (len == 0)
        return 0;
    while (x->in_pos == x->in.len) {
        if (x->done) {
            if (x->result != CURLE_OK)
                return xfer_error(x, err);
            return 0;
        }
        if (pump(x, err) != 0)
            return -1;
    }
    size_t k = x->in.len - x->in_pos;
    if (k > len)
        k = len;
    memcpy(buf, x->in.data + x->in_pos, k);
    x->in_pos += k;
    return (ssize_t)k;
}

static void xfer_free_reader(tsv_reader *r) { (void)r; /* owned by the xfer */ }

void influx2__close(influx2_xfer *x)
{
    if (!x)
        return;
    if (x->added)
        curl_multi_remove_handle(x->c->multi, x->c->curl);
    curl_slist_free_all(x->hdrs);
    free(x->url);
    tsv_buf_free(&x->in);
    tsv_buf_free(&x->errbody);
    tsv_writer_free(x->gz);
    tsv_writer_free(x->gzsink);
    tsv_buf_free(&x->up);
    free(x->up_chunk);
    free(x);
}

static int add_header(influx2_xfer *x, const char *h)
{
    struct curl_slist *n = curl_slist_append(x->hdrs, h);
    if (!n)
        return -1;
    x->hdrs = n;
    return 0;
}

int influx2__open(tsv_influx2 *c, const influx2_req *req, influx2_xfer **out, long *status,
                  tsv_error *err)
{
    *out = NULL;
    if (status)
        *status = 0;
    int rc = -1;
    char *auth = NULL;
    influx2_xfer *x = calloc(1, sizeof *x);
    if (!x)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    x->reader.read = xfer_read;
    x->reader.free = xfer_free_reader;
    x->c = c;
    x->req = req;
    size_t ul = strlen(c->base) + strlen(req->path) + 1;
    size_t al = strlen(c->token) + 32;
    x->url = malloc(ul);
    auth = malloc(al);
    if (!x->url || !auth) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    snprintf(x->url, ul, "%s%s", c->base, req->path);
    snprintf(auth, al, "Authorization: Token %s", c->token);
    int hrc = (*c->token ? add_header(x, auth) : 0) || add_header(x, "Accept: application/json");
    if (hrc == 0 && req->accept_gzip)
        hrc = add_header(x, "Accept-Encoding: gzip");
    if (hrc == 0 && req->content_type) {
        char ct[160];
        snprintf(ct, sizeof ct, "Content-Type: %s", req->content_type);
        hrc = add_header(x, ct);
    }
    if (hrc == 0 && req->body)
        hrc = add_header(x, "Transfer-Encoding: chunked") ||
              (req->gzip_body ? add_header(x, "Content-Encoding: gzip") : 0);
    if (hrc == 0 && (req->body || req->json))
        hrc = add_header(x, "Expect:"); /* as Go's client: no 100-continue round trip */
    if (hrc != 0) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    if (req->body) {
        if (!(x->up_chunk = malloc(UP_CHUNK))) {
            tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            goto out;
        }
        if (req->gzip_body) {
            if (!(x->gzsink = tsv_buf_writer_new(&x->up))) {
                tsv_error_set(err, TSV_EINTERNAL, "out of memory");
                goto out;
            }
            if (tsv_gzip_encoder_new(&x->gz, x->gzsink, TSV_GZIP_ISAL, 1, 0, err) != 0)
                goto out;
        }
    }

    CURL *h = c->curl;
    curl_easy_reset(h);
    long tmo = c->timeout_ms ? c->timeout_ms : DEFAULT_TIMEOUT_MS;
    curl_easy_setopt(h, CURLOPT_URL, x->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "tsvault-influx2");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, tmo);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (tmo + 999) / 1000);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    http_common__tls_apply(&c->tls, h);
    if (req->body) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
    } else if (req->json) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->json);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(req->json));
    } else if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    CURLMcode mc = curl_multi_add_handle(c->multi, h);
    if (mc != CURLM_OK) {
        tsv_error_set(err, TSV_EINTERNAL, "libcurl: %s", curl_multi_strerror(mc));
        goto out;
    }
    x->added = 1;
    while (!x->headers_done && !x->done)
        if (pump(x, err) != 0)
            goto out;
    if (!x->headers_done) {
        if (x->result == CURLE_OK)
            x->result = CURLE_GOT_NOTHING;
        xfer_error(x, err);
        goto out;
    }
    if (status)
        *status = x->status;
    if (x->status < 200 || x->status >= 300) {
        /* Collect the (bounded) error body, then report it. */
        while (!x->done)
            if (pump(x, err) != 0)
                goto out;
        http_common__status_error(x->status, &x->errbody, err);
        tsv_error_wrap(err, "%s %s", req->method, req->path);
        goto out;
    }
    *out = x;
    x = NULL;
    rc = 0;
out:
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    influx2__close(x);
    if (rc != 0)
        influx2__scrub(c, err);
    return rc;
}

tsv_reader *influx2__body(influx2_xfer *x) { return &x->reader; }
const char *influx2__content_type(const influx2_xfer *x) { return x->ctype; }
const char *influx2__content_encoding(const influx2_xfer *x) { return x->cenc; }
uint64_t influx2__received(const influx2_xfer *x) { return x->received; }
uint64_t influx2__sent(const influx2_xfer *x) { return x->sent; }

int influx2__call(tsv_influx2 *c, const influx2_req *req, tsv_buf *out, size_t max, long *status,
                  uint64_t *sent, tsv_error *err)
{
    influx2_xfer *x = NULL;
    int rc = influx2__open(c, req, &x, status, err);
    uint8_t chunk[16384];
    while (rc == 0) {
        ssize_t n = tsv_read(influx2__body(x), chunk, sizeof chunk, err);
        if (n < 0) {
            rc = -1;
        } else if (n == 0) {
            break;
        } else if (out) {
            if (out->len + (size_t)n > max)
                rc = tsv_error_set(err, TSV_ETOOLARGE, "%s %s: reply larger than %zu bytes",
                                   req->method, req->path, max);
            else
                rc = tsv_buf_append(out, chunk, (size_t)n, err);
        }
    }
    if (x && sent)
        *sent += influx2__sent(x);
    influx2__close(x);
    if (rc != 0)
        influx2__scrub(c, err);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Probe
 * ------------------------------------------------------------------------- */

int tsv_influx2_probe(tsv_influx2 *c, char *summary, size_t len, tsv_error *err)
{
    if (summary && len)
        summary[0] = '\0';
    int rc = -1;
    tsv_buf body = {0};
    tsv_json_doc *doc = NULL;
    influx2_xfer *x = NULL;
    long st = 0;
    char version[64] = "", server[160] = "";

    influx2_req health = {.method = "GET", .path = "/health"};
    if (influx2__call(c, &health, &body, JSON_REPLY_MAX, &st, NULL, err) != 0) {
        if (st != 0 && st != 503)
            tsv_error_wrap(err, "%s does not look like an InfluxDB 2.x server", c->base);
        goto out;
    }
    tsv_error jerr;
    if (tsv_json_parse(&doc, body.data ? (const char *)body.data : "", body.len, &jerr) != 0) {
        tsv_error_set(err, TSV_EINVALID,
                      "%s does not look like an InfluxDB 2.x server: GET /health answered no "
                      "JSON (%s)",
                      c->base, jerr.message);
        goto out;
    }
    const tsv_json *root = tsv_json_root(doc);
    const tsv_json *v = tsv_json_get(root, "version");
    const tsv_json *s = tsv_json_get(root, "status");
    if (!v || v->type != TSV_JSON_STRING) {
        tsv_error_set(err, TSV_EINVALID,
                      "%s does not look like an InfluxDB 2.x server: GET /health has no version",
                      c->base);
        goto out;
    }
    /* "v2.7.4" (influxd) or "2.7.11": kept without the "v". */
    snprintf(version, sizeof version, "%s", v->str[0] == 'v' ? v->str + 1 : v->str);
    if ((s && s->type == TSV_JSON_STRING && strcmp(s->str, "pass") != 0)) {
        const tsv_json *m = tsv_json_get(root, "message");
        tsv_error_set(err, TSV_EUNAVAILABLE, "InfluxDB v%s at %s is not healthy: %s", version,
                      c->base, m && m->type == TSV_JSON_STRING ? m->str : "status fail");
        goto out;
    }
    const tsv_json *srv = tsv_json_get(root, "server");
    const tsv_json *srvv = tsv_json_get(root, "serverVersion");
    if (srv && srv->type == TSV_JSON_STRING && strcmp(srv->str, "influxdb") != 0)
        snprintf(server, sizeof server, " (%.60s%s%.40s)", srv->str,
                 srvv && srvv->type == TSV_JSON_STRING ? " " : "",
                 srvv && srvv->type == TSV_JSON_STRING ? srvv->str : "");
    unsigned major = 0, minor = 0;
    if (sscanf(version, "%u.%u", &major, &minor) != 2)
        major = 2, minor = 99; /* not semver: the CLI treats it as new */
    if (major < 2) {
        tsv_error_set(err, TSV_EINVALID,
                      "%s is InfluxDB v%s: 1.x does not serve the 2.x backup/restore API", c->base,
                      version);
        goto out;
    }
    if (major == 2 && minor == 0) {
        tsv_error_set(err, TSV_ENOTIMPL,
                      "%s is InfluxDB v%s: 2.0.x has only the legacy backup API (not supported)",
                      c->base, version);
        goto out;
    }
    tsv_json_free(doc);
    doc = NULL;

    /* Is the token accepted at all? Any valid token may list orgs. */
    body.len = 0;
    influx2_req orgs = {.method = "GET", .path = "/api/v2/orgs"};
    if (influx2__call(c, &orgs, NULL, 0, &st, NULL, err) != 0) {
        if (st == 401) {
            char msg[TSV_ERROR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", err->message);
            tsv_error_set(err, TSV_EUNAUTHORIZED, "InfluxDB v%s at %s rejected the token: %s",
                          version, c->base, msg);
        } else if (st == 403)
            tsv_error_wrap(err, "the token's user is inactive");
        goto out;
    }
    /* Is it an operator token? Start a metadata backup and stop at the status. */
    influx2_req meta = {.method = "GET", .path = "/api/v2/backup/metadata", .accept_gzip = 1};
    if (influx2__open(c, &meta, &x, &st, err) != 0) {
        if (st == 401 || st == 403) {
            char msg[TSV_ERROR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", err->message);
            tsv_error_set(err, TSV_EFORBIDDEN,
                          "the token is valid but is not an operator token (the backup API "
                          "needs one): %s",
                          msg);
        }
        goto out;
    }
    if (summary && len)
        snprintf(summary, len, "InfluxDB v%s%s, operator token ok", version, server);
    rc = 0;
out:
    influx2__close(x);
    tsv_json_free(doc);
    tsv_buf_free(&body);
    if (rc != 0)
        influx2__scrub(c, err);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Backup downloads
 * ------------------------------------------------------------------------- */

/* Messages of the gzip decoder (stream.h), as opposed to transfer errors. */
/* Prefixes "what" unless the transfer's own message already starts with it. */
static void wrap_once(tsv_error *err, const char *what)
{
    if (err && strncmp(err->message, what, strlen(what)) != 0)
        tsv_error_wrap(err, "%s", what);
}

static int gzip_error(const tsv_error *err)
{
    if (!err || err->code != TSV_EINVALID)
        return 0;
    static const char *const pre[] = {"gzip", "flate", "unexpected EOF", "empty gzip"};
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
        if (strncmp(err->message, pre[i], strlen(pre[i])) == 0)
            return 1;
    return 0;
}

/* The decoded body of a backup download: gzip or identity, nothing else. */
static int body_decoder(influx2_xfer *x, tsv_reader **dec, tsv_reader **body, const char *what,
                        tsv_error *err)
{
    *dec = NULL;
    *body = influx2__body(x);
    const char *enc = influx2__content_encoding(x);
    if (!*enc || strcasecmp(enc, "identity") == 0)
        return 0;
    if (strcasecmp(enc, "gzip") != 0)
        return tsv_error_set(err, TSV_EINVALID,
                             "%s: the server sent Content-Encoding \"%.40s\" (only gzip was "
                             "asked for)",
                             what, enc);
    if (tsv_decoder_new(dec, TSV_CODEC_GZIP, *body, err) != 0)
        return -1;
    *body = *dec;
    return 0;
}

int tsv_influx2_fetch_metadata(tsv_influx2 *c, tsv_writer *kv_w, tsv_writer *sql_w,
                               tsv_buf *buckets_json, uint64_t *bytes, tsv_error *err)
{
    if (bytes)
        *bytes = 0;
    if (!buckets_json)
        return tsv_error_set(err, TSV_EINVALID, "no buffer for the bucket manifests");
    static const char what[] = "GET /api/v2/backup/metadata";
    influx2_req req = {.method = "GET", .path = "/api/v2/backup/metadata", .accept_gzip = 1};
    influx2_xfer *x = NULL;
    tsv_reader *dec = NULL, *body = NULL;
    int rc = -1;
    if (influx2__open(c, &req, &x, NULL, err) != 0)
        goto out;
    if (body_decoder(x, &dec, &body, what, err) != 0)
        goto out;
    influx2_parts parts = {.kv_w = kv_w,
                           .sql_w = sql_w,
                           .buckets = buckets_json,
                           .buckets_max = TSV_INFLUX2_BUCKETS_MAX};
    if (influx2__parse_metadata(body, influx2__content_type(x), &parts, err) != 0) {
        if (dec && gzip_error(err))
            tsv_error_wrap(err, "bad gzip body");
        wrap_once(err, what);
        goto out;
    }
    rc = 0;
out:
    if (bytes && x)
        *bytes = influx2__received(x);
    tsv_reader_free(dec);
    influx2__close(x);
    if (rc != 0)
        influx2__scrub(c, err);
    return rc;
}

int tsv_influx2_fetch_shard(tsv_influx2 *c, uint64_t shard_id, int64_t since_ns, tsv_writer *w,
                            uint64_t *bytes, tsv_error *err)
{
    if (bytes)
        *bytes = 0;
    char path[128], what[160];
    int n = snprintf(path, sizeof path, "/api/v2/backup/shards/%" PRIu64, shard_id);
    if (since_ns != INT64_MIN) {
        char t[TSV_RFC3339_MAX];
        tsv_format_rfc3339nano(since_ns, t, sizeof t);
        snprintf(path + n, sizeof path - (size_t)n, "?since=%s", t);
    }
    snprintf(what, sizeof what, "GET %s", path);
    influx2_req req = {.method = "GET", .path = path, .accept_gzip = 1};
    influx2_xfer *x = NULL;
    tsv_reader *dec = NULL, *body = NULL;
    uint8_t *buf = NULL;
    long st = 0;
    int rc = -1;
    tsv_writer *check = NULL;
    if (tsv_tar_check_writer_new(&check, w, err) != 0)
        return -1;
    if (influx2__open(c, &req, &x, &st, err) != 0) {
        if (st == 404)
            tsv_error_wrap(err, "shard %" PRIu64 " not found (removed on the server)", shard_id);
        goto out;
    }
    if (body_decoder(x, &dec, &body, what, err) != 0)
        goto out;
    if (!(buf = malloc(UP_CHUNK))) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    for (;;) {
        ssize_t got = tsv_read(body, buf, UP_CHUNK, err);
        if (got < 0) {
            if (dec && gzip_error(err))
                tsv_error_wrap(err, "bad gzip body");
            wrap_once(err, what);
            goto out;
        }
        if (got == 0)
            break;
        if (tsv_write(check, buf, (size_t)got, err) != 0) {
            if (err && err->code == TSV_EINVALID)
                tsv_error_wrap(err, "%s: shard %" PRIu64, what, shard_id);
            goto out;
        }
    }
    if (tsv_tar_check_finish(check, NULL, err) != 0) {
        tsv_error_wrap(err, "%s: shard %" PRIu64, what, shard_id);
        goto out;
    }
    rc = 0;
out:
    if (bytes && x)
        *bytes = influx2__received(x);
    free(buf);
    tsv_writer_free(check);
    tsv_reader_free(dec);
    influx2__close(x);
    if (rc != 0)
        influx2__scrub(c, err);
    return rc;
}
