/* s3_client: S3-compatible object storage over libcurl (s3_client.h): the
 * client, URL building, one signed request with its retries, and the
 * operations (PUT single and multipart, GET, HEAD, DELETE, list, bucket). */
#include "s3_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_common.h"
#include "random.h"
#include "s3_internal.h"

#define MIB (1024u * 1024u)
#define PART_MIN (5u * MIB)
#define PART_MAX (5ull * 1024 * MIB)
#define PARTS_MAX 10000
#define HASH_CHUNK (256u * 1024)
#define XML_REPLY_MAX (16u * MIB)
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct tsv_s3 {
    char *endpoint, *region, *access, *secret, *token, *ca_file, *sigv4;
    tsv_s3_addressing style;
    int skip_verify;
    size_t part_size;
    uint64_t threshold;
    int attempts, base_ms, max_ms, connect_ms, stall_s, max_keys;
};

/* ---- pure helpers (s3_internal.h) ---------------------------------------- */

int s3__uri_encode(tsv_buf *out, const char *s, int keep_slash, tsv_error *err)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        if (tsv_buf_append(out, keep ? (const char *)p : e, keep ? 1 : 3, err) != 0)
            return -1;
    }
    return 0;
}

int s3__check_bucket(const char *b, tsv_s3_addressing style, tsv_error *err)
{
    size_t n = b ? strlen(b) : 0;
    if (n < 3 || n > 63)
        return tsv_error_set(err, TSV_EINVALID, "bucket name '%s' must have 3 to 63 characters",
                             b ? b : "");
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                 (style == TSV_S3_PATH_STYLE && ((c >= 'A' && c <= 'Z') || c == '_'));
        if (!ok)
            return tsv_error_set(err, TSV_EINVALID, "bucket name '%s': '%c' is not allowed%s", b, c,
                                 style == TSV_S3_VIRTUAL_HOST ? " (virtual-host addressing)" : "");
    }
    int first = (b[0] >= 'a' && b[0] <= 'z') || (b[0] >= '0' && b[0] <= '9') ||
                (style == TSV_S3_PATH_STYLE && b[0] >= 'A' && b[0] <= 'Z');
    int last = (b[n - 1] >= 'a' && b[n - 1] <= 'z') || (b[n - 1] >= '0' && b[n - 1] <= '9') ||
               (style == TSV_S3_PATH_STYLE && b[n - 1] >= 'A' && b[n - 1] <= 'Z');
    if (!first || !last)
        return tsv_error_set(err, TSV_EINVALID,
                             "bucket name '%s' must start and end with a letter or digit", b);
    return 0;
}

int s3__url(const char *endpoint, tsv_s3_addressing style, const char *bucket, const char *key,
            const char *query, tsv_buf *out, tsv_error *err)
{
    out->len = 0;
    const char *sep = endpoint ? strstr(endpoint, "://") : NULL;
    if (!sep || (strncasecmp(endpoint, "http://", 7) != 0 && strncasecmp(endpoint, "https://", 8)))
        return tsv_error_set(err, TSV_EINVALID,
                             "S3 endpoint '%s' must start with http:// or https://",
                             endpoint ? endpoint : "");
    const char *host = sep + 3;
    size_t hlen = strcspn(host, "/?#");
    if (hlen == 0 || host[hlen] == '?' || host[hlen] == '#' || memchr(host, '@', hlen))
        return tsv_error_set(err, TSV_EINVALID,
                             "S3 endpoint '%s' must be scheme://host[:port][/path]", endpoint);
    const char *base = host + hlen;
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    if (bucket && s3__check_bucket(bucket, style, err) != 0)
        return -1;
    int rc = tsv_buf_append(out, endpoint, (size_t)(host - endpoint), err);
    if (rc == 0 && bucket && style == TSV_S3_VIRTUAL_HOST)
        rc = tsv_buf_append(out, bucket, strlen(bucket), err) || tsv_buf_append(out, ".", 1, err);
    if (rc == 0)
        rc = tsv_buf_append(out, host, hlen, err) || tsv_buf_append(out, base, blen, err) ||
             tsv_buf_append(out, "/", 1, err);
    if (rc == 0 && bucket && style == TSV_S3_PATH_STYLE)
        rc = tsv_buf_append(out, bucket, strlen(bucket), err) ||
             (key && tsv_buf_append(out, "/", 1, err));
    if (rc == 0 && key)
        rc = s3__uri_encode(out, key, 1, err);
    if (rc == 0 && query && *query)
        rc = tsv_buf_append(out, "?", 1, err) || tsv_buf_append(out, query, strlen(query), err);
    if (rc == 0)
        rc = tsv_buf_append(out, "", 1, err);
    if (rc != 0)
        return -1;
    out->len--;
    return 0;
}

int s3__backoff_ms(int retry, int base_ms, int cap_ms, uint64_t rnd)
{
    if (retry < 1)
        retry = 1;
    int64_t d = base_ms > 0 ? base_ms : 1;
    for (int i = 1; i < retry && d < cap_ms; i++)
        d *= 2;
    if (d > cap_ms)
        d = cap_ms;
    int64_t half = d / 2;
    return (int)(d - half + (int64_t)(rnd % (uint64_t)(half + 1)));
}

int s3__retryable_status(long status) { return status == 408 || status == 429 || status >= 500; }

/* ---- the client ---------------------------------------------------------- */

static int dup_opt(char **dst, const char *s)
{
    *dst = NULL;
    return s && !(*dst = strdup(s)) ? -1 : 0;
}

int tsv_s3_new(tsv_s3 **out, const tsv_s3_config *cfg, tsv_error *err)
{
    *out = NULL;
    tsv_buf probe = {0};
    if (!cfg || !cfg->access_key || !*cfg->access_key || !cfg->secret_key || !*cfg->secret_key)
        return tsv_error_set(err, TSV_EINVALID, "S3: an access key and a secret key are required");
    if (s3__url(cfg->endpoint, cfg->addressing, NULL, NULL, NULL, &probe, err) != 0)
        return -1;
    tsv_buf_free(&probe);
    size_t part = cfg->part_size ? cfg->part_size : 8 * MIB;
    if (part < PART_MIN || part > PART_MAX)
        return tsv_error_set(err, TSV_EINVALID, "S3: part size %zu must be between 5 MiB and 5 GiB",
                             part);
    const char *region = cfg->region && *cfg->region ? cfg->region : "us-east-1";
    if (strchr(region, ':') || strlen(region) > 64)
        return tsv_error_set(err, TSV_EINVALID, "S3: bad region '%s'", region);
    http_common__global_init();
    tsv_s3 *c = calloc(1, sizeof *c);
    if (!c)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    size_t sl = strlen(region) + 16;
    int bad =
        dup_opt(&c->endpoint, cfg->endpoint) || dup_opt(&c->region, region) ||
        dup_opt(&c->access, cfg->access_key) || dup_opt(&c->secret, cfg->secret_key) ||
        dup_opt(&c->token, cfg->session_token && *cfg->session_token ? cfg->session_token : NULL) ||
        dup_opt(&c->ca_file, cfg->ca_file) || !(c->sigv4 = malloc(sl));
    if (bad) {
        tsv_s3_free(c);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    /* curl's provider string: "aws:amz:<region>:<service>" */
    snprintf(c->sigv4, sl, "aws:amz:%s:s3", region);
    size_t el = strlen(c->endpoint);
    while (el && c->endpoint[el - 1] == '/')
        c->endpoint[--el] = '\0';
    c->style = cfg->addressing;
    c->skip_verify = cfg->skip_verify ? 1 : 0;
    c->part_size = part;
    c->threshold = cfg->multipart_threshold ? cfg->multipart_threshold : part;
    c->attempts = cfg->max_attempts > 0 ? cfg->max_attempts : 5;
    c->base_ms = cfg->backoff_base_ms > 0 ? cfg->backoff_base_ms : 200;
    c->max_ms = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : 10000;
    if (c->max_ms < c->base_ms)
        c->max_ms = c->base_ms;
    c->connect_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
    c->stall_s = cfg->stall_timeout_s > 0 ? cfg->stall_timeout_s : 60;
    c->max_keys = cfg->list_max_keys > 0 ? cfg->list_max_keys : 0;
    *out = c;
    return 0;
}

static void free_secret(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

void tsv_s3_free(tsv_s3 *c)
{
    if (!c)
        return;
    free(c->endpoint);
    free(c->region);
    free(c->access);
    free_secret(c->secret);
    free_secret(c->token);
    free(c->ca_file);
    free(c->sigv4);
    free(c);
}

/* ---- hashing ------------------------------------------------------------- */

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

typedef struct digests {
    EVP_MD_CTX *sha, *md5;
} digests;

static int digests_init(digests *d, tsv_error *err)
{
    d->sha = EVP_MD_CTX_new();
    d->md5 = EVP_MD_CTX_new();
    if (!d->sha || !d->md5 || EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL) != 1 ||
        EVP_DigestInit_ex(d->md5, EVP_md5(), NULL) != 1)
        return tsv_error_set(err, TSV_EINTERNAL, "cannot initialise SHA-256/MD5");
    return 0;
}

static void digests_update(digests *d, const void *p, size_t n)
{
    EVP_DigestUpdate(d->sha, p, n);
    EVP_DigestUpdate(d->md5, p, n);
}

/* sha_hex: 65 bytes; md5_hex: 33; md5_b64: 25 (each may be NULL). */
static void digests_final(digests *d, char *sha_hex, char *md5_hex, char *md5_b64)
{
    unsigned char s[32], m[16];
    unsigned int n = 0;
    EVP_DigestFinal_ex(d->sha, s, &n);
    EVP_DigestFinal_ex(d->md5, m, &n);
    if (sha_hex)
        to_hex(s, 32, sha_hex);
    if (md5_hex)
        to_hex(m, 16, md5_hex);
    if (md5_b64)
        EVP_EncodeBlock((unsigned char *)md5_b64, m, 16);
}

static void digests_clear(digests *d)
{
    EVP_MD_CTX_free(d->sha);
    EVP_MD_CTX_free(d->md5);
    d->sha = d->md5 = NULL;
}

/* ---- one request, with retries ------------------------------------------- */

typedef struct s3_req {
    const char *op; /* for messages: "PUT", "UploadPart", ... */
    const char *method;
    const char *bucket, *key, *query;
    struct curl_slist *hdrs; /* extra headers (borrowed) */
    const char *payload_sha; /* NULL: the empty body's */
    /* request body: a range of an fd, or memory, or none */
    int up_fd;
    uint64_t up_off, up_len;
    const char *mem;
    size_t mem_len;
    int head;
    /* response body: into an fd (GET, hashed), or memory (small XML), or dropped */
    int out_fd;
    tsv_buf *body;
    /* what came back */
    long status;
    char etag[80], sha256[80];
    uint64_t length; /* Content-Length (HEAD), bytes written (GET) */
    int attempts_made, verified;
} s3_req;

typedef struct xfer {
    s3_req *r;
    uint64_t up_pos;
    size_t mem_pos;
    int in_status; /* status line of the final answer seen */
    tsv_buf errbody;
    digests dg;
    uint64_t written;
    int write_failed;
    tsv_error local; /* a local failure inside a callback */
} xfer;

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', len);
        x->r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        x->r->etag[0] = x->r->sha256[0] = '\0';
        x->r->length = 0;
    } else {
        char cl[32] = "";
        http_common__header_value(p, len, "Content-Length", 1, cl, sizeof cl);
        if (cl[0])
            x->r->length = strtoull(cl, NULL, 10);
        http_common__header_value(p, len, "ETag", 1, x->r->etag, sizeof x->r->etag);
        http_common__header_value(p, len, "x-amz-meta-sha256", 1, x->r->sha256,
                                  sizeof x->r->sha256);
    }
    return len;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    s3_req *r = x->r;
    if (r->status < 200 || r->status >= 300) {
        http_common__collect_error(&x->errbody, p, len);
        return len;
    }
    if (r->out_fd == TSV_S3_DISCARD) { /* checked, not kept */
        digests_update(&x->dg, p, len);
        x->written += len;
        return len;
    }
    if (r->out_fd >= 0) {
        if (write_all(r->out_fd, p, len) != 0) {
            tsv_error_set_errno(&x->local, TSV_EINTERNAL, errno, "writing the download");
            x->write_failed = 1;
            return 0;
        }
        digests_update(&x->dg, p, len);
        x->written += len;
        return len;
    }
    if (r->body) {
        if (r->body->len + len > XML_REPLY_MAX) {
            tsv_error_set(&x->local, TSV_ETOOLARGE, "answer over %u bytes", XML_REPLY_MAX);
            x->write_failed = 1;
            return 0;
        }
        if (tsv_buf_append(r->body, p, len, &x->local) != 0) {
            x->write_failed = 1;
            return 0;
        }
    }
    return len;
}

static size_t on_upload(char *dst, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    s3_req *r = x->r;
    size_t cap = size * n;
    if (r->mem) {
        size_t left = r->mem_len - x->mem_pos;
        size_t k = left < cap ? left : cap;
        memcpy(dst, r->mem + x->mem_pos, k);
        x->mem_pos += k;
        return k;
    }
    uint64_t left = r->up_len - x->up_pos;
    size_t want = left < cap ? (size_t)left : cap;
    if (want == 0)
        return 0;
    ssize_t got;
    do
        got = pread(r->up_fd, dst, want, (off_t)(r->up_off + x->up_pos));
    while (got < 0 && errno == EINTR);
    if (got <= 0) {
        if (got < 0)
            tsv_error_set_errno(&x->local, TSV_EINTERNAL, errno, "reading the upload");
        else
            tsv_error_set(&x->local, TSV_EINVALID, "the file shrank during the upload");
        x->write_failed = 1;
        return CURL_READFUNC_ABORT;
    }
    x->up_pos += (uint64_t)got;
    return (size_t)got;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
    xfer *x = ud;
    if (origin != SEEK_SET || off < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    if (x->r->mem) {
        if ((size_t)off > x->r->mem_len)
            return CURL_SEEKFUNC_FAIL;
        x->mem_pos = (size_t)off;
    } else {
        if ((uint64_t)off > x->r->up_len)
            return CURL_SEEKFUNC_FAIL;
        x->up_pos = (uint64_t)off;
    }
    return CURL_SEEKFUNC_OK;
}

static int retryable_cc(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
           cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR ||
           cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE || cc == CURLE_HTTP2 ||
           cc == CURLE_HTTP2_STREAM;
}

static tsv_code status_code(long status)
{
    if (status == 429)
        return TSV_ETOOMANY;
    if (status >= 500)
        return TSV_EUNAVAILABLE;
    if (status == 400 || status == 405 || status == 411 || status == 412 || status == 416)
        return TSV_EINVALID;
    return http_common__status_code(status);
}

static void where(const s3_req *r, char *out, size_t len)
{
    snprintf(out, len, "%s%s%s", r->bucket ? r->bucket : "", r->key ? "/" : "",
             r->key ? r->key : "");
}

static int set_common(tsv_s3 *c, CURL *h, xfer *x, const char *url, struct curl_slist *hdrs,
                      char *errbuf)
{
    s3_req *r = x->r;
    CURLcode e = CURLE_OK;
#define SET(opt, val)                                                                              \
    if (e == CURLE_OK)                                                                             \
    e = curl_easy_setopt(h, opt, val)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_AWS_SIGV4, c->sigv4);
    SET(CURLOPT_USERNAME, c->access);
    SET(CURLOPT_PASSWORD, c->secret);
    SET(CURLOPT_HTTPHEADER, hdrs);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_ms);
    SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
    SET(CURLOPT_LOW_SPEED_TIME, (long)c->stall_s);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->ca_file)
        SET(CURLOPT_CAINFO, c->ca_file);
    if (c->skip_verify) {
        SET(CURLOPT_SSL_VERIFYPEER, 0L);
        SET(CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (r->head) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "PUT") == 0) {
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_READFUNCTION, on_upload);
        SET(CURLOPT_READDATA, x);
        SET(CURLOPT_SEEKFUNCTION, on_seek);
        SET(CURLOPT_SEEKDATA, x);
        SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)(r->mem ? r->mem_len : r->up_len));
    } else if (strcmp(r->method, "POST") == 0) {
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_READFUNCTION, on_upload);
        SET(CURLOPT_READDATA, x);
        SET(CURLOPT_SEEKFUNCTION, on_seek);
        SET(CURLOPT_SEEKDATA, x);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->mem ? r->mem_len : 0));
    } else if (strcmp(r->method, "GET") != 0) {
        SET(CURLOPT_CUSTOMREQUEST, r->method);
    }
#undef SET
    return e == CURLE_OK ? 0 : -1;
}

/* Runs r until it gets a final answer or the attempts run out. Returns 0
 * with r->status set for any HTTP answer that is not retried (2xx or an
 * error for the caller to report via fail_status), -1 with err set for a
 * transport or local failure or a retryable status after the last attempt. */
static int run(tsv_s3 *c, s3_req *r, tsv_buf *errbody, tsv_error *err)
{
    int rc = -1;
    CURL *h = NULL;
    struct curl_slist *hdrs = NULL;
    tsv_buf url = {0};
    xfer x = {0};
    char errbuf[CURL_ERROR_SIZE];
    char at[1200];
    where(r, at, sizeof at);
    off_t out_start = -1;
    int out_seekable = 0;
    if (r->out_fd >= 0) {
        out_start = lseek(r->out_fd, 0, SEEK_CUR);
        out_seekable = out_start >= 0;
    }
    if (s3__url(c->endpoint, c->style, r->bucket, r->key, r->query, &url, err) != 0)
        goto out;
    /* curl 7.88 signs the headers it is given but does not send
     * x-amz-content-sha256 itself, which S3 requires; it uses ours. */
    char sha_hdr[128], tok_hdr[8192];
    snprintf(sha_hdr, sizeof sha_hdr, "x-amz-content-sha256: %s",
             r->payload_sha ? r->payload_sha : EMPTY_SHA256);
    for (struct curl_slist *s = r->hdrs; s; s = s->next)
        if (!(hdrs = curl_slist_append(hdrs, s->data)))
            goto oom;
    if (!(hdrs = curl_slist_append(hdrs, sha_hdr)))
        goto oom;
    if (c->token) {
        if (strlen(c->token) + 32 > sizeof tok_hdr) {
            tsv_error_set(err, TSV_EINVALID, "S3: session token too long");
            goto out;
        }
        snprintf(tok_hdr, sizeof tok_hdr, "x-amz-security-token: %s", c->token);
        if (!(hdrs = curl_slist_append(hdrs, tok_hdr)))
            goto oom;
    }
    x.r = r;
    for (int attempt = 1;; attempt++) {
        r->attempts_made = attempt;
        r->status = 0;
        x.up_pos = x.mem_pos = 0;
        x.errbody.len = 0;
        x.written = 0;
        x.write_failed = 0;
        tsv_error_clear(&x.local);
        if (r->body)
            r->body->len = 0;
        digests_clear(&x.dg);
        if ((r->out_fd >= 0 || r->out_fd == TSV_S3_DISCARD) && digests_init(&x.dg, err) != 0)
            goto out;
        if (h)
            curl_easy_cleanup(h);
        if (!(h = curl_easy_init()))
            goto oom;
        errbuf[0] = '\0';
        if (set_common(c, h, &x, (const char *)url.data, hdrs, errbuf) != 0) {
            tsv_error_set(err, TSV_EINTERNAL, "S3 %s %s: cannot set up libcurl", r->op, at);
            goto out;
        }
        CURLcode cc = curl_easy_perform(h);
        int retry = 0;
        if (x.write_failed) {
            *err = x.local;
            tsv_error_wrap(err, "S3 %s %s", r->op, at);
            goto out;
        }
        if (cc != CURLE_OK) {
            if (!retryable_cc(cc) || attempt >= c->attempts) {
                tsv_code code =
                    http_common__tls_failure(cc) || retryable_cc(cc) || http_common__unreachable(cc)
                        ? TSV_EUNAVAILABLE
                        : TSV_EINTERNAL;
                tsv_error_set(err, code, "S3 %s %s: %s: %s (%d attempt%s)", r->op, at, c->endpoint,
                              errbuf[0] ? errbuf : curl_easy_strerror(cc), attempt,
                              attempt == 1 ? "" : "s");
                goto out;
            }
            retry = 1;
        } else if (s3__retryable_status(r->status)) {
            if (attempt >= c->attempts) {
                char code[128], msg[300];
                s3__error_body((const char *)x.errbody.data, x.errbody.len, code, sizeof code, msg,
                               sizeof msg);
                tsv_error_set(err, status_code(r->status),
                              "S3 %s %s: HTTP %ld%s%s%s%s (%d attempt%s)", r->op, at, r->status,
                              code[0] ? " " : "", code, msg[0] ? ": " : "", msg, attempt,
                              attempt == 1 ? "" : "s");
                goto out;
            }
            retry = 1;
        }
        if (!retry)
            break;
        if (r->out_fd >= 0 && x.written > 0) {
            if (!out_seekable) {
                tsv_error_set(err, TSV_EUNAVAILABLE,
                              "S3 %s %s: transfer failed after %" PRIu64
                              " bytes and the output cannot be rewound",
                              r->op, at, x.written);
                goto out;
            }
            if (ftruncate(r->out_fd, out_start) != 0 ||
                lseek(r->out_fd, out_start, SEEK_SET) != out_start) {
                tsv_error_set_errno(err, TSV_EINTERNAL, errno, "S3 %s %s: rewinding the output",
                                    r->op, at);
                goto out;
            }
        }
        int ms = s3__backoff_ms(attempt, c->base_ms, c->max_ms, tsv_random_u64());
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    if ((r->out_fd >= 0 || r->out_fd == TSV_S3_DISCARD) && r->status >= 200 && r->status < 300) {
        /* verify the body against what the object says it is */
        char sha[65], md5[33];
        digests_final(&x.dg, sha, md5, NULL);
        const char *want = NULL, *got = NULL, *kind = NULL;
        if (r->sha256[0]) {
            want = r->sha256, got = sha, kind = "SHA-256";
        } else if (strlen(r->etag) == 32 && strspn(r->etag, "0123456789abcdefABCDEF") == 32) {
            want = r->etag, got = md5, kind = "MD5 (ETag)";
        }
        if (want && strcasecmp(want, got) != 0) {
            tsv_error_set(err, TSV_EINVALID,
                          "S3 %s %s: content %s mismatch: the object says %s, received %s "
                          "(%" PRIu64 " bytes); the download is not valid",
                          r->op, at, kind, want, got, x.written);
            if (out_seekable && (ftruncate(r->out_fd, out_start) != 0 ||
                                 lseek(r->out_fd, out_start, SEEK_SET) != out_start))
                tsv_error_wrap(err, "and rewinding the output failed");
            goto out;
        }
        r->verified = want ? 1 : 0;
        r->length = x.written;
    }
    if (errbody) {
        errbody->len = 0;
        if (x.errbody.len && tsv_buf_append(errbody, x.errbody.data, x.errbody.len, err) != 0)
            goto out;
    }
    rc = 0;
    goto out;
oom:
    tsv_error_set(err, TSV_EINTERNAL, "out of memory");
out:
    if (rc != 0 && r->out_fd >= 0 && out_seekable && x.written > 0 && x.write_failed == 0) {
        if (ftruncate(r->out_fd, out_start) == 0)
            (void)lseek(r->out_fd, out_start, SEEK_SET);
    }
    digests_clear(&x.dg);
    tsv_buf_free(&x.errbody);
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    tsv_buf_free(&url);
    return rc;
}

/* Sets err for a final non-2xx answer. */
static int fail_status(const s3_req *r, const tsv_buf *body, tsv_error *err)
{
    char code[128], msg[300], at[1200];
    where(r, at, sizeof at);
    s3__error_body(body ? (const char *)body->data : NULL, body ? body->len : 0, code, sizeof code,
                   msg, sizeof msg);
    if (!code[0] && r->status == 404 && r->head)
        snprintf(code, sizeof code, "%s", "NotFound");
    return tsv_error_set(err, status_code(r->status), "S3 %s %s: HTTP %ld%s%s%s%s", r->op, at,
                         r->status, code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
}

/* run, and a final non-2xx answer is an error too. */
static int run_ok(tsv_s3 *c, s3_req *r, tsv_buf *errbody, tsv_error *err)
{
    if (run(c, r, errbody, err) != 0)
        return -1;
    if (r->status < 200 || r->status >= 300)
        return fail_status(r, errbody, err);
    return 0;
}

/* Tells the caller what it stored or fetched (info may be NULL); etag_len < 0: all of etag. */
static void set_info(tsv_s3_object *info, uint64_t size, const char *etag, int etag_len,
                     const char *sha)
{
    if (!info)
        return;
    memset(info, 0, sizeof *info);
    info->size = size;
    snprintf(info->etag, sizeof info->etag, "%.*s", etag_len, etag);
    snprintf(info->sha256, sizeof info->sha256, "%.64s", sha);
}

static void req_init(s3_req *r, const char *op, const char *method, const char *bucket,
                     const char *key)
{
    memset(r, 0, sizeof *r);
    r->op = op;
    r->method = method;
    r->bucket = bucket;
    r->key = key;
    r->up_fd = -1;
    r->out_fd = -1;
}

static int check_key(const char *op, const char *bucket, const char *key, tsv_error *err)
{
    if (!key || !*key || strlen(key) > 1024)
        return tsv_error_set(err, TSV_EINVALID, "S3 %s %s/%s: a key has 1 to 1024 bytes", op,
                             bucket ? bucket : "", key ? key : "");
    return 0;
}

/* ---- operations ---------------------------------------------------------- */

int tsv_s3_create_bucket(tsv_s3 *c, const char *bucket, tsv_error *err)
{
    s3_req r;
    tsv_buf body = {0}, eb = {0};
    char sha[65];
    int rc = -1;
    req_init(&r, "CreateBucket", "PUT", bucket, NULL);
    if (strcmp(c->region, "us-east-1") != 0) {
        /* other regions want their name in the body */
        const char *a =
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<LocationConstraint>";
        const char *b = "</LocationConstraint></CreateBucketConfiguration>";
        if (tsv_buf_append(&body, a, strlen(a), err) ||
            tsv_buf_append(&body, c->region, strlen(c->region), err) ||
            tsv_buf_append(&body, b, strlen(b), err))
            goto out;
        digests d = {0};
        if (digests_init(&d, err) != 0) {
            digests_clear(&d);
            goto out;
        }
        digests_update(&d, body.data, body.len);
        digests_final(&d, sha, NULL, NULL);
        digests_clear(&d);
        r.payload_sha = sha;
    }
    r.mem = body.len ? (const char *)body.data : "";
    r.mem_len = body.len;
    rc = run_ok(c, &r, &eb, err);
out:
    tsv_buf_free(&body);
    tsv_buf_free(&eb);
    return rc;
}

int tsv_s3_head(tsv_s3 *c, const char *bucket, const char *key, tsv_s3_object *info, tsv_error *err)
{
    if (check_key("HEAD", bucket, key, err) != 0)
        return -1;
    s3_req r;
    req_init(&r, "HEAD", "HEAD", bucket, key);
    r.head = 1;
    tsv_buf eb = {0};
    int rc = run_ok(c, &r, &eb, err);
    tsv_buf_free(&eb);
    if (rc == 0)
        set_info(info, r.length, r.etag, -1, r.sha256);
    return rc;
}

int tsv_s3_delete(tsv_s3 *c, const char *bucket, const char *key, tsv_error *err)
{
    if (check_key("DELETE", bucket, key, err) != 0)
        return -1;
    s3_req r;
    req_init(&r, "DELETE", "DELETE", bucket, key);
    tsv_buf eb = {0};
    int rc = -1;
    if (run(c, &r, &eb, err) != 0)
        goto out;
    char code[64], msg[8];
    s3__error_body((const char *)eb.data, eb.len, code, sizeof code, msg, sizeof msg);
    /* a missing key is what DELETE wants; a missing bucket is an error */
    if ((r.status < 200 || r.status >= 300) &&
        !(r.status == 404 && strcmp(code, "NoSuchKey") == 0)) {
        fail_status(&r, &eb, err);
        goto out;
    }
    rc = 0;
out:
    tsv_buf_free(&eb);
    return rc;
}

int tsv_s3_get(tsv_s3 *c, const char *bucket, const char *key, int fd, tsv_s3_object *info,
               tsv_error *err)
{
    if (check_key("GET", bucket, key, err) != 0)
        return -1;
    if (fd < 0 && fd != TSV_S3_DISCARD)
        return tsv_error_set(err, TSV_EINVALID, "S3 GET %s/%s: no output", bucket, key);
    s3_req r;
    req_init(&r, "GET", "GET", bucket, key);
    r.out_fd = fd;
    tsv_buf eb = {0};
    int rc = run_ok(c, &r, &eb, err);
    tsv_buf_free(&eb);
    if (rc == 0) {
        set_info(info, r.length, r.etag, -1, r.sha256);
        if (info)
            info->verified = r.verified;
    }
    return rc;
}

/* ---- PUT ----------------------------------------------------------------- */

typedef struct part_sum {
    char sha[65], md5_b64[25];
} part_sum;

/* One pass over the file: the object's SHA-256 and MD5, and each part's
 * SHA-256 and MD5 (nparts parts of `part` bytes, the last shorter). */
static int hash_file(int fd, uint64_t size, uint64_t part, size_t nparts, part_sum *parts,
                     char *sha, char *md5_b64, tsv_error *err)
{
    int rc = -1;
    digests all = {0}, one = {0};
    unsigned char *buf = malloc(HASH_CHUNK);
    if (!buf) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    if (digests_init(&all, err) != 0)
        goto out;
    uint64_t off = 0;
    for (size_t i = 0; i < nparts; i++) {
        uint64_t end = off + part < size ? off + part : size;
        digests_clear(&one);
        if (parts && digests_init(&one, err) != 0)
            goto out;
        while (off < end) {
            size_t want = end - off < HASH_CHUNK ? (size_t)(end - off) : HASH_CHUNK;
            ssize_t got = pread(fd, buf, want, (off_t)off);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                tsv_error_set_errno(err, TSV_EINTERNAL, errno, "reading the file to upload");
                goto out;
            }
            if (got == 0) {
                tsv_error_set(err, TSV_EINVALID, "the file to upload shrank while it was read");
                goto out;
            }
            digests_update(&all, buf, (size_t)got);
            if (parts)
                digests_update(&one, buf, (size_t)got);
            off += (uint64_t)got;
        }
        if (parts)
            digests_final(&one, parts[i].sha, NULL, parts[i].md5_b64);
    }
    digests_final(&all, sha, NULL, md5_b64);
    rc = 0;
out:
    digests_clear(&all);
    digests_clear(&one);
    free(buf);
    return rc;
}

static int put_single(tsv_s3 *c, const char *bucket, const char *key, int fd, uint64_t size,
                      tsv_s3_object *info, tsv_error *err)
{
    char sha[65], md5[25], h_md5[64], h_meta[128];
    if (hash_file(fd, size, size ? size : 1, 1, NULL, sha, md5, err) != 0)
        return tsv_error_wrap(err, "S3 PUT %s/%s", bucket, key);
    snprintf(h_md5, sizeof h_md5, "Content-MD5: %s", md5);
    snprintf(h_meta, sizeof h_meta, "x-amz-meta-sha256: %s", sha);
    struct curl_slist *hdrs = NULL, *t;
    int rc = -1;
    tsv_buf eb = {0};
    s3_req r;
    req_init(&r, "PUT", "PUT", bucket, key);
    if (!(t = curl_slist_append(hdrs, h_md5)) || !(hdrs = t) ||
        !(t = curl_slist_append(hdrs, h_meta)) || !(hdrs = t) ||
        !(t = curl_slist_append(hdrs, "Content-Type: application/octet-stream")) || !(hdrs = t)) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    r.hdrs = hdrs;
    r.payload_sha = sha;
    r.up_fd = fd;
    r.up_off = 0;
    r.up_len = size;
    if (run_ok(c, &r, &eb, err) != 0)
        goto out;
    set_info(info, size, r.etag, -1, sha);
    rc = 0;
out:
    curl_slist_free_all(hdrs);
    tsv_buf_free(&eb);
    return rc;
}

static int xml_escape(tsv_buf *b, const char *s, tsv_error *err)
{
    for (; *s; s++) {
        const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : NULL;
        if (tsv_buf_append(b, e ? e : s, e ? strlen(e) : 1, err) != 0)
            return -1;
    }
    return 0;
}

static void abort_upload(tsv_s3 *c, const char *bucket, const char *key, const char *query)
{
    s3_req r;
    req_init(&r, "AbortMultipartUpload", "DELETE", bucket, key);
    r.query = query;
    tsv_error ignored;
    (void)run(c, &r, NULL, &ignored);
}

static int put_multipart(tsv_s3 *c, const char *bucket, const char *key, int fd, uint64_t size,
                         tsv_s3_object *info, tsv_error *err)
{
    uint64_t part = c->part_size;
    /* S3 allows 10000 parts: bigger objects get bigger parts (whole MiB) */
    if ((size + part - 1) / part > PARTS_MAX)
        part = ((size + PARTS_MAX - 1) / PARTS_MAX + MIB - 1) / MIB * MIB;
    size_t nparts = (size_t)((size + part - 1) / part);
    int rc = -1, created = 0;
    part_sum *sums = calloc(nparts, sizeof *sums);
    char(*etags)[80] = calloc(nparts, sizeof *etags);
    struct curl_slist *hdrs = NULL, *t;
    tsv_buf xml = {0}, id = {0}, q = {0}, abortq = {0}, eb = {0}, done = {0};
    char sha[65], h_meta[128], h[128], opname[64];
    s3_req r;
    if (!sums || !etags) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    if (hash_file(fd, size, part, nparts, sums, sha, h, err) != 0) {
        tsv_error_wrap(err, "S3 PUT %s/%s", bucket, key);
        goto out;
    }
    /* CreateMultipartUpload: the whole object's SHA-256 goes in here */
    snprintf(h_meta, sizeof h_meta, "x-amz-meta-sha256: %s", sha);
    if (!(t = curl_slist_append(hdrs, h_meta)) || !(hdrs = t) ||
        !(t = curl_slist_append(hdrs, "Content-Type: application/octet-stream")) || !(hdrs = t)) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    req_init(&r, "CreateMultipartUpload", "POST", bucket, key);
    r.query = "uploads=";
    r.hdrs = hdrs;
    r.mem = "";
    r.body = &xml;
    if (run_ok(c, &r, &eb, err) != 0)
        goto out;
    if (s3__xml_find((const char *)xml.data, xml.len, "InitiateMultipartUploadResult/UploadId", &id,
                     err) != 0) {
        tsv_error_wrap(err, "S3 CreateMultipartUpload %s/%s", bucket, key);
        goto out;
    }
    if (id.len == 0) {
        tsv_error_set(err, TSV_EINVALID, "S3 CreateMultipartUpload %s/%s: empty UploadId", bucket,
                      key);
        goto out;
    }
    created = 1;
    if (tsv_buf_append(&abortq, "uploadId=", 9, err) != 0 ||
        s3__uri_encode(&abortq, (const char *)id.data, 0, err) != 0 ||
        tsv_buf_append(&abortq, "", 1, err) != 0)
        goto out;
    curl_slist_free_all(hdrs);
    hdrs = NULL;
    for (size_t i = 0; i < nparts; i++) {
        uint64_t off = (uint64_t)i * part;
        uint64_t len = off + part < size ? part : size - off;
        q.len = 0;
        snprintf(h, sizeof h, "partNumber=%zu&", i + 1);
        if (tsv_buf_append(&q, h, strlen(h), err) != 0 ||
            tsv_buf_append(&q, abortq.data, abortq.len, err) != 0)
            goto out;
        snprintf(h, sizeof h, "Content-MD5: %s", sums[i].md5_b64);
        if (!(hdrs = curl_slist_append(NULL, h))) {
            tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            goto out;
        }
        snprintf(opname, sizeof opname, "UploadPart %zu of %zu", i + 1, nparts);
        req_init(&r, opname, "PUT", bucket, key);
        r.query = (const char *)q.data;
        r.hdrs = hdrs;
        r.payload_sha = sums[i].sha;
        r.up_fd = fd;
        r.up_off = off;
        r.up_len = len;
        int ok = run_ok(c, &r, &eb, err);
        curl_slist_free_all(hdrs);
        hdrs = NULL;
        if (ok != 0)
            goto out;
        if (!r.etag[0]) {
            tsv_error_set(err, TSV_EINVALID, "S3 %s %s/%s: no ETag in the answer", opname, bucket,
                          key);
            goto out;
        }
        memcpy(etags[i], r.etag, sizeof etags[i]);
    }
    /* CompleteMultipartUpload */
    xml.len = 0;
    const char *head = "<CompleteMultipartUpload>";
    if (tsv_buf_append(&xml, head, strlen(head), err) != 0)
        goto out;
    for (size_t i = 0; i < nparts; i++) {
        snprintf(h, sizeof h, "<Part><PartNumber>%zu</PartNumber><ETag>\"", i + 1);
        if (tsv_buf_append(&xml, h, strlen(h), err) != 0 || xml_escape(&xml, etags[i], err) != 0 ||
            tsv_buf_append(&xml, "\"</ETag></Part>", 15, err) != 0)
            goto out;
    }
    const char *tail = "</CompleteMultipartUpload>";
    if (tsv_buf_append(&xml, tail, strlen(tail), err) != 0)
        goto out;
    char body_sha[65], body_md5[25], h_md5[64];
    digests d = {0};
    if (digests_init(&d, err) != 0) {
        digests_clear(&d);
        goto out;
    }
    digests_update(&d, xml.data, xml.len);
    digests_final(&d, body_sha, NULL, body_md5);
    digests_clear(&d);
    snprintf(h_md5, sizeof h_md5, "Content-MD5: %s", body_md5);
    if (!(t = curl_slist_append(NULL, h_md5)) || !(hdrs = t) ||
        !(t = curl_slist_append(hdrs, "Content-Type: application/xml")) || !(hdrs = t)) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    req_init(&r, "CompleteMultipartUpload", "POST", bucket, key);
    r.query = (const char *)abortq.data;
    r.hdrs = hdrs;
    r.payload_sha = body_sha;
    r.mem = (const char *)xml.data;
    r.mem_len = xml.len;
    r.body = &done;
    if (run_ok(c, &r, &eb, err) != 0)
        goto out;
    /* S3 may answer 200 and put the failure in the body */
    if (s3__error_body((const char *)done.data, done.len, h, sizeof h, h_meta, sizeof h_meta)) {
        tsv_error_set(err, TSV_EUNAVAILABLE, "S3 CompleteMultipartUpload %s/%s: %s: %s", bucket,
                      key, h, h_meta);
        goto out;
    }
    if (s3__xml_find((const char *)done.data, done.len, "CompleteMultipartUploadResult/ETag", &id,
                     err) != 0) {
        tsv_error_wrap(err, "S3 CompleteMultipartUpload %s/%s", bucket, key);
        goto out;
    }
    created = 0;
    const char *e = (const char *)id.data;
    size_t el = id.len;
    if (el >= 2 && e[0] == '"' && e[el - 1] == '"')
        e++, el -= 2;
    set_info(info, size, e, (int)el, sha);
    rc = 0;
out:
    if (created)
        abort_upload(c, bucket, key, (const char *)abortq.data);
    curl_slist_free_all(hdrs);
    free(sums);
    free(etags);
    tsv_buf_free(&xml);
    tsv_buf_free(&id);
    tsv_buf_free(&q);
    tsv_buf_free(&abortq);
    tsv_buf_free(&eb);
    tsv_buf_free(&done);
    return rc;
}

int tsv_s3_put_file(tsv_s3 *c, const char *bucket, const char *key, int fd, tsv_s3_object *info,
                    tsv_error *err)
{
    if (check_key("PUT", bucket, key, err) != 0)
        return -1;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return tsv_error_set_errno(err, TSV_EINVALID, fd < 0 ? EBADF : errno,
                                   "S3 PUT %s/%s: the file to upload", bucket, key);
    if (!S_ISREG(st.st_mode))
        return tsv_error_set(err, TSV_EINVALID, "S3 PUT %s/%s: not a regular file", bucket, key);
    uint64_t size = (uint64_t)st.st_size;
    if (size >= c->threshold && size > 0)
        return put_multipart(c, bucket, key, fd, size, info, err);
    return put_single(c, bucket, key, fd, size, info, err);
}

/* ---- list ---------------------------------------------------------------- */

int tsv_s3_list(tsv_s3 *c, const char *bucket, const char *prefix, tsv_s3_list_fn fn, void *ud,
                tsv_error *err)
{
    int rc = -1, truncated = 1;
    tsv_buf q = {0}, next = {0}, body = {0}, eb = {0};
    char n[32];
    for (int page = 0; truncated; page++) {
        /* parameters in SigV4's canonical (sorted) order, values encoded */
        q.len = 0;
        if (page > 0 && (tsv_buf_append(&q, "continuation-token=", 19, err) != 0 ||
                         s3__uri_encode(&q, (const char *)next.data, 0, err) != 0 ||
                         tsv_buf_append(&q, "&", 1, err) != 0))
            goto out;
        if (tsv_buf_append(&q, "list-type=2", 11, err) != 0)
            goto out;
        if (c->max_keys) {
            snprintf(n, sizeof n, "&max-keys=%d", c->max_keys);
            if (tsv_buf_append(&q, n, strlen(n), err) != 0)
                goto out;
        }
        if (prefix && *prefix &&
            (tsv_buf_append(&q, "&prefix=", 8, err) != 0 ||
             s3__uri_encode(&q, prefix, 0, err) != 0))
            goto out;
        if (tsv_buf_append(&q, "", 1, err) != 0)
            goto out;
        s3_req r;
        req_init(&r, "ListObjectsV2", "GET", bucket, NULL);
        r.query = (const char *)q.data;
        r.body = &body;
        if (run_ok(c, &r, &eb, err) != 0)
            goto out;
        if (s3__list_page((const char *)body.data, body.len, fn, ud, &truncated, &next, err) != 0) {
            tsv_error_wrap(err, "S3 ListObjectsV2 %s page %d", bucket, page + 1);
            goto out;
        }
    }
    rc = 0;
out:
    tsv_buf_free(&q);
    tsv_buf_free(&next);
    tsv_buf_free(&body);
    tsv_buf_free(&eb);
    return rc;
}
