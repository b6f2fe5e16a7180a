/* http_common: libcurl helpers shared by the remote/ clients (http_common.h). */
#include "http_common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

void http_common__global_init(void) { pthread_once(&curl_once, curl_init_once); }

char *http_common__base_url(const char *base_url, int add_scheme)
{
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    int prefix = add_scheme && !strstr(base_url, "://");
    size_t blen = n + (prefix ? 7 : 0) + 1;
    char *base = malloc(blen);
    if (base)
        snprintf(base, blen, "%s%.*s", prefix ? "http://" : "", (int)n, base_url);
    return base;
}

int http_common__endpoint_init(http_common__endpoint *ep, const char *base_url, int add_scheme,
                               const char *token, tsv_error *err)
{
    http_common__global_init();
    const char *t = token ? token : "";
    size_t alen = strlen(t) + sizeof "Authorization: Token ";
    ep->base = http_common__base_url(base_url, add_scheme);
    ep->auth = malloc(alen);
    ep->curl = curl_easy_init();
    if (!ep->base || !ep->auth || !ep->curl) {
        http_common__endpoint_clear(ep);
        return tsv_error_set(err, TSV_EINTERNAL, "cannot initialise libcurl");
    }
    snprintf(ep->auth, alen, "Authorization: Token %s", t);
    return 0;
}

void http_common__endpoint_clear(http_common__endpoint *ep)
{
    if (ep->curl)
        curl_easy_cleanup(ep->curl);
    free(ep->base);
    free(ep->auth);
    *ep = (http_common__endpoint){0};
}

int http_common__tls_set(http_common__tls *t, const char *ca_file, int skip_verify, tsv_error *err)
{
    char *copy = NULL;
    if (ca_file && !(copy = strdup(ca_file)))
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    free(t->ca_file);
    t->ca_file = copy;
    t->skip_verify = skip_verify ? 1 : 0;
    return 0;
}

void http_common__tls_apply(const http_common__tls *t, CURL *curl)
{
    if (t->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, t->ca_file);
    if (t->skip_verify) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

void http_common__tls_clear(http_common__tls *t)
{
    free(t->ca_file);
    *t = (http_common__tls){0};
}

char *http_common__endpoint_url(const http_common__endpoint *ep, const char *path_query)
{
    size_t ul = strlen(ep->base) + strlen(path_query) + 1;
    char *url = malloc(ul);
    if (url)
        snprintf(url, ul, "%s%s", ep->base, path_query);
    return url;
}

static size_t on_reply(char *p, size_t size, size_t nmemb, void *ud)
{
    http_common__reply *r = ud;
    size_t n = size * nmemb;
    if (r->status == 0)
        curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->status < 200 || r->status >= 300) {
        http_common__collect_error(&r->errbody, p, n);
        return n;
    }
    if (!r->body)
        return n;
    if (r->max && r->got + n > r->max) {
        r->too_big = 1;
        return 0; /* stops the transfer */
    }
    if (tsv_write(r->body, p, n, &r->werr) != 0) {
        r->write_failed = 1;
        return 0;
    }
    r->got += n;
    return n;
}

void http_common__endpoint_setup(const http_common__endpoint *ep, const char *url,
                                 struct curl_slist *headers, http_common__reply *reply)
{
    reply->curl = ep->curl;
    curl_easy_setopt(ep->curl, CURLOPT_URL, url);
    curl_easy_setopt(ep->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(ep->curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(ep->curl, CURLOPT_WRITEFUNCTION, on_reply);
    curl_easy_setopt(ep->curl, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(ep->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(ep->curl, CURLOPT_CONNECTTIMEOUT, 30L);
}

void http_common__collect_error(tsv_buf *errbody, const char *p, size_t n)
{
    if (errbody->len < HTTP_COMMON_ERRBODY_MAX)
        tsv_buf_append(errbody, p, n, NULL);
}

tsv_code http_common__status_code(long status)
{
    switch (status) {
    case 400:
        return TSV_EINVALID;
    case 401:
        return TSV_EUNAUTHORIZED;
    case 403:
        return TSV_EFORBIDDEN;
    case 404:
        return TSV_ENOTFOUND;
    case 409:
    case 422:
        return TSV_ECONFLICT;
    case 413:
        return TSV_ETOOLARGE;
    case 503:
        return TSV_EUNAVAILABLE;
    default:
        return TSV_EINTERNAL;
    }
}

const char *http_common__error_message(const tsv_buf *body, char *out, size_t len)
{
    tsv_json_doc *doc = NULL;
    const char *found = NULL;
    if (len && body->len && tsv_json_parse(&doc, (const char *)body->data, body->len, NULL) == 0) {
        const tsv_json *m = tsv_json_get(tsv_json_root(doc), "message");
        if (m && m->type == TSV_JSON_STRING) {
            snprintf(out, len, "%s", m->str);
            found = out;
        }
    }
    tsv_json_free(doc);
    return found;
}

int http_common__status_error(long status, const tsv_buf *body, tsv_error *err)
{
    tsv_code code = http_common__status_code(status);
    char msg[TSV_ERROR_MSG_MAX];
    if (http_common__error_message(body, msg, sizeof msg))
        return tsv_error_set(err, code, "server answered %ld: %s", status, msg);
    return tsv_error_set(err, code, "server answered %ld: %.*s", status,
                         (int)(body->len > 300 ? 300 : body->len),
                         body->data ? (const char *)body->data : "");
}

int http_common__unreachable(CURLcode cc)
{
    return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
           cc == CURLE_COULDNT_RESOLVE_PROXY || cc == CURLE_OPERATION_TIMEDOUT ||
           cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL;
}

int http_common__tls_failure(CURLcode cc)
{
    return cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_PEER_FAILED_VERIFICATION ||
           cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM ||
           cc == CURLE_SSL_CIPHER || cc == CURLE_SSL_ISSUER_ERROR ||
           cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || cc == CURLE_SSL_INVALIDCERTSTATUS ||
           cc == CURLE_SSL_CRL_BADFILE;
}

int http_common__param(CURL *curl, tsv_buf *q, const char *name, const char *value, tsv_error *err)
{
    if (!value)
        return 0;
    char *e = curl_easy_escape(curl, value, 0);
    if (!e)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    const char *sep = q->len && memchr(q->data, '?', q->len) ? "&" : "?";
    int rc = tsv_buf_append(q, sep, 1, err) || tsv_buf_append(q, name, strlen(name), err) ||
             tsv_buf_append(q, "=", 1, err) || tsv_buf_append(q, e, strlen(e), err);
    curl_free(e);
    return rc ? -1 : 0;
}

void http_common__header_value(const char *p, size_t len, const char *name, int unquote, char *out,
                               size_t outlen)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
        return;
    p += nl + 1;
    len -= nl + 1;
    while (len && (*p == ' ' || *p == '\t'))
        p++, len--;
    while (len && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
        len--;
    if (unquote && len >= 2 && p[0] == '"' && p[len - 1] == '"')
        p++, len -= 2;
    snprintf(out, outlen, "%.*s", (int)len, p);
}
