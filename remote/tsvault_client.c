/* tsvault_client: libcurl client for tsvault's Files, Jobs and PITR APIs (tsvault_client.h). */
#include "tsvault_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_common.h"

#define BODY_MAX (64u * 1024 * 1024)

struct tsv_client {
    http_common__endpoint ep;
};

int tsv_client_new(tsv_client **out, const char *base_url, const char *token, tsv_error *err)
{
    *out = NULL;
    tsv_client *c = calloc(1, sizeof *c);
    if (!c)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (http_common__endpoint_init(&c->ep, base_url, 1, token, err) != 0) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void tsv_client_free(tsv_client *c)
{
    if (!c)
        return;
    http_common__endpoint_clear(&c->ep);
    free(c);
}

static int transfer_error(CURLcode cc, const char *method, const char *url, tsv_error *err)
{
    tsv_code code = http_common__unreachable(cc) ? TSV_EUNAVAILABLE : TSV_EINTERNAL;
    return tsv_error_set(err, code, "%s %s: %s", method, url, curl_easy_strerror(cc));
}

/* Runs the prepared handle; options common to every request are set here. */
static int perform(tsv_client *c, const char *method, const char *path_query,
                   struct curl_slist *headers, long *status, tsv_buf *out, tsv_error *err)
{
    char *url = http_common__endpoint_url(&c->ep, path_query);
    if (!url)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (out)
        out->len = 0;
    http_common__reply s = {.max = BODY_MAX};
    if (out && !(s.body = tsv_buf_writer_new(out))) {
        free(url);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    http_common__endpoint_setup(&c->ep, url, headers, &s);
    curl_easy_setopt(c->ep.curl, CURLOPT_USERAGENT, "tsvault-client");
    CURLcode cc = curl_easy_perform(c->ep.curl);
    long st = 0;
    curl_easy_getinfo(c->ep.curl, CURLINFO_RESPONSE_CODE, &st);
    if (status)
        *status = st;
    int rc = 0;
    if (s.too_big)
        rc = tsv_error_set(err, TSV_EINTERNAL, "%s %s: reply larger than %u bytes", method, url,
                           BODY_MAX);
    else if (s.write_failed)
        rc = tsv_error_set(err, s.werr.code, "%s %s: %s", method, url, s.werr.message);
    else if (cc == CURLE_ABORTED_BY_CALLBACK)
        rc = tsv_error_set(err, TSV_EINTERNAL, "%s %s: aborted", method, url);
    else if (cc != CURLE_OK)
        rc = transfer_error(cc, method, url, err);
    else if (st < 200 || st >= 300)
        rc = http_common__status_error(st, &s.errbody, err);
    tsv_buf_free(&s.errbody);
    tsv_writer_free(s.body);
    free(url);
    return rc;
}

int tsv_client_call(tsv_client *c, const char *method, const char *path_query, const char *body,
                    long *status, tsv_buf *out, tsv_error *err)
{
    curl_easy_reset(c->ep.curl);
    struct curl_slist *h = curl_slist_append(NULL, c->ep.auth);
    if (h && body)
        h = curl_slist_append(h, "Content-Type: application/json");
    if (!h)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c->ep.curl, CURLOPT_CUSTOMREQUEST, method);
    if (body || strcmp(method, "POST") == 0) {
        curl_easy_setopt(c->ep.curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c->ep.curl, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
    }
    int rc = perform(c, method, path_query, h, status, out, err);
    curl_slist_free_all(h);
    return rc;
}

int tsv_client_param(tsv_client *c, tsv_buf *q, const char *name, const char *value, tsv_error *err)
{
    return http_common__param(c->ep.curl, q, name, value, err);
}

int tsv_client_segment(tsv_client *c, tsv_buf *q, const char *seg, tsv_error *err)
{
    char *e = curl_easy_escape(c->ep.curl, seg, 0);
    if (!e)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    int rc = tsv_buf_append(q, "/", 1, err) || tsv_buf_append(q, e, strlen(e), err);
    curl_free(e);
    return rc ? -1 : 0;
}

/* Base64 of the file's MD5, read in bounded chunks. */
static int file_md5_b64(const char *path, char out[32], tsv_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINVALID, errno, "%s", path);
    enum {
        CHUNK = 256 * 1024
    };
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char *buf = malloc(CHUNK);
    int rc = m && buf && EVP_DigestInit_ex(m, EVP_md5(), NULL) == 1
                 ? 0
                 : tsv_error_set(err, TSV_EINTERNAL, "cannot start MD5");
    while (rc == 0) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read %s", path);
        else if (n == 0)
            break;
        else
            EVP_DigestUpdate(m, buf, (size_t)n);
    }
    unsigned char md[16];
    unsigned int mdlen = 0;
    if (rc == 0 && EVP_DigestFinal_ex(m, md, &mdlen) != 1)
        rc = tsv_error_set(err, TSV_EINTERNAL, "cannot finish MD5");
    if (rc == 0)
        EVP_EncodeBlock((unsigned char *)out, md, 16);
    EVP_MD_CTX_free(m);
    free(buf);
    close(fd);
    return rc;
}

typedef struct progress_ctx {
    tsv_client_progress_fn fn;
    void *ctx;
} progress_ctx;

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    progress_ctx *p = ud;
    return p->fn(p->ctx, (uint64_t)ulnow, (uint64_t)ultotal) ? 1 : 0;
}

int tsv_client_upload(tsv_client *c, const char *path, const char *name, int checksum,
                      tsv_client_progress_fn fn, void *ctx, tsv_buf *out, tsv_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return tsv_error_set_errno(err, TSV_EINVALID, errno, "%s", path);
    if (!S_ISREG(st.st_mode))
        return tsv_error_set(err, TSV_EINVALID, "%s: not a regular file", path);
    if (!name) {
        const char *slash = strrchr(path, '/');
        name = slash ? slash + 1 : path;
    }
    char md5[32] = "";
    if (checksum && file_md5_b64(path, md5, err) != 0)
        return -1;
    curl_easy_reset(c->ep.curl);
    struct curl_slist *h = curl_slist_append(NULL, c->ep.auth);
    char md5h[64];
    snprintf(md5h, sizeof md5h, "Content-MD5: %s", md5);
    if (h && checksum) {
        struct curl_slist *h2 = curl_slist_append(h, md5h);
        if (!h2) {
            curl_slist_free_all(h);
            h = NULL;
        } else {
            h = h2;
        }
    }
    curl_mime *mime = curl_mime_init(c->ep.curl);
    curl_mimepart *part = mime ? curl_mime_addpart(mime) : NULL;
    if (!h || !part || curl_mime_name(part, "file") != CURLE_OK ||
        curl_mime_filedata(part, path) != CURLE_OK || curl_mime_filename(part, name) != CURLE_OK ||
        curl_mime_type(part, "application/octet-stream") != CURLE_OK) {
        curl_mime_free(mime);
        curl_slist_free_all(h);
        return tsv_error_set(err, TSV_EINTERNAL, "cannot prepare the upload");
    }
    curl_easy_setopt(c->ep.curl, CURLOPT_MIMEPOST, mime);
    progress_ctx pc = {fn, ctx};
    if (fn) {
        curl_easy_setopt(c->ep.curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c->ep.curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c->ep.curl, CURLOPT_XFERINFODATA, &pc);
    }
    int rc = perform(c, "POST", "/api/v2/files", h, NULL, out, err);
    curl_mime_free(mime);
    curl_slist_free_all(h);
    return rc;
}
