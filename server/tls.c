/* tls: HTTPS settings and certificate reload for civetweb's SSL_CTX (tls.h). */
#include "tls.h"

#include <dlfcn.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tls_cert.h"
#include "tsv_log.h"

/* influxd's --tls-strict-ciphers (docs/operations.md): ECDHE key exchange
 * with an AEAD cipher only. TLS 1.3 suites are all AEAD and, as in Go, are
 * not restricted. */
#define STRICT_CIPHERS                                                                             \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct tsv_tls {
    tsv_tls_options opt;
    pthread_mutex_t mu;
    tsv_tls_cert *cur; /* guarded by mu; replaced whole by tsv_tls_reload */
};

int tsv_tls_open(tsv_tls **out, const tsv_tls_options *opt, tsv_error *err)
{
    *out = NULL;
    if (!opt->cert_file || !opt->key_file)
        return tsv_error_set(err, TSV_EINVALID, "HTTPS needs both --tls-cert and --tls-key");
    if (opt->min_version < 10 || opt->min_version > 13)
        return tsv_error_set(err, TSV_EINVALID, "unsupported TLS version 1.%d",
                             opt->min_version - 10);
    tsv_tls *t = calloc(1, sizeof *t);
    if (!t)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    t->opt = *opt;
    if (tsv_tls_cert_load(&t->cur, opt->cert_file, opt->key_file, (int64_t)time(NULL), err) != 0) {
        free(t);
        return -1;
    }
    pthread_mutex_init(&t->mu, NULL);
    *out = t;
    return 0;
}

void tsv_tls_free(tsv_tls *t)
{
    if (!t)
        return;
    tsv_tls_cert_free(t->cur);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* Runs in every full handshake, before OpenSSL picks the certificate: the
 * connection takes its own references to the pair current now, so a reload
 * can drop the old pair while connections still use it. */
static int cert_cb(SSL *ssl, void *arg)
{
    tsv_tls *t = arg;
    pthread_mutex_lock(&t->mu);
    int ok = SSL_use_cert_and_key(ssl, t->cur->leaf, t->cur->key, t->cur->chain, 1);
    pthread_mutex_unlock(&t->mu);
    return ok == 1 ? 1 : 0;
}

static int proto_of(int min_version)
{
    switch (min_version) {
    case 10:
        return TLS1_VERSION;
    case 11:
        return TLS1_1_VERSION;
    case 13:
        return TLS1_3_VERSION;
    default:
        return TLS1_2_VERSION;
    }
}

int tsv_tls_setup_ctx(tsv_tls *t, void *ssl_ctx, tsv_error *err)
{
    SSL_CTX *ctx = ssl_ctx;
    char why[256];
    ERR_clear_error();
    /* civetweb disables versions through options (its ssl_protocol_version);
     * the minimum here is the only rule. */
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2 |
                                   SSL_OP_NO_TLSv1_3);
    if (SSL_CTX_set_min_proto_version(ctx, proto_of(t->opt.min_version)) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, 0) != 1) {
        ERR_error_string_n(ERR_get_error(), why, sizeof why);
        return tsv_error_set(err, TSV_EINTERNAL, "cannot set the TLS versions: %s", why);
    }
    if (t->opt.min_version < 12) {
        /* OpenSSL 3 refuses TLS 1.0/1.1 (their handshake signs with SHA-1)
         * above security level 0: asking for them must really allow them. */
        SSL_CTX_set_security_level(ctx, 0);
        TSV_WARN("msg=\"TLS minimum version 1.%d is discouraged; use 1.2 or 1.3\"",
                 t->opt.min_version - 10);
    }
    if (t->opt.strict_ciphers && t->opt.min_version < 13 &&
        SSL_CTX_set_cipher_list(ctx, STRICT_CIPHERS) != 1) {
        ERR_error_string_n(ERR_get_error(), why, sizeof why);
        return tsv_error_set(err, TSV_EINTERNAL, "cannot set the strict TLS ciphers: %s", why);
    }
    /* As influxd (PreferServerCipherSuites): the server's order wins. */
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_cert_cb(ctx, cert_cb, t);
    /* Also the context's own pair, for any path that looks there first. */
    pthread_mutex_lock(&t->mu);
    int ok = SSL_CTX_use_cert_and_key(ctx, t->cur->leaf, t->cur->key, t->cur->chain, 1);
    pthread_mutex_unlock(&t->mu);
    if (ok != 1) {
        ERR_error_string_n(ERR_get_error(), why, sizeof why);
        return tsv_error_set(err, TSV_EINVALID,
                             "TLS certificate %.200s / key %.200s not usable: %s", t->opt.cert_file,
                             t->opt.key_file, why);
    }
    ERR_clear_error();
    TSV_INFO("msg=\"TLS configured\" min_version=1.%d strict_ciphers=%s", t->opt.min_version - 10,
             t->opt.strict_ciphers ? (t->opt.min_version < 13 ? "true" : "true (TLS 1.3: n/a)")
                                   : "false");
    return 0;
}

static void log_pair(tsv_log_level level, const char *msg, const tsv_tls_options *o,
                     const tsv_tls_cert *c)
{
    long days = (long)((c->not_after_unix - (int64_t)time(NULL)) / 86400);
    tsv_log(level,
            "msg=\"%s\" cert_file=\"%s\" key_file=\"%s\" subject=\"%s\" issuer=\"%s\" "
            "not_before=%s not_after=%s expires_in_days=%ld key=%s sha256=%s",
            msg, o->cert_file, o->key_file, c->subject, c->issuer, c->not_before, c->not_after,
            days, c->key_desc, c->sha256);
    if (days < 30)
        TSV_WARN("msg=\"TLS certificate expires soon: replace the files and send SIGHUP\" "
                 "subject=\"%s\" not_after=%s",
                 c->subject, c->not_after);
}

void tsv_tls_log_in_use(tsv_tls *t, const char *msg)
{
    pthread_mutex_lock(&t->mu);
    log_pair(TSV_LOG_INFO, msg, &t->opt, t->cur);
    pthread_mutex_unlock(&t->mu);
}

int tsv_tls_reload(tsv_tls *t, tsv_error *err)
{
    tsv_tls_cert *next = NULL;
    if (tsv_tls_cert_load(&next, t->opt.cert_file, t->opt.key_file, (int64_t)time(NULL), err) !=
        0) {
        tsv_log(TSV_LOG_ERROR,
                "msg=\"TLS reload failed; the certificate in use stays\" error=\"%s\"",
                err ? err->message : "");
        tsv_tls_log_in_use(t, "TLS certificate in use");
        return -1;
    }
    pthread_mutex_lock(&t->mu);
    tsv_tls_cert *old = t->cur;
    t->cur = next;
    log_pair(TSV_LOG_INFO, "TLS certificate reloaded; new connections use it", &t->opt, next);
    pthread_mutex_unlock(&t->mu);
    /* Connections that took the old pair hold their own references. */
    tsv_tls_cert_free(old);
    return 0;
}

int tsv_tls_preload_compat(tsv_error *err)
{
    static void *handle; /* kept for the life of the process */
    if (handle)
        return 0;
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (!slash || (size_t)(slash - path) + sizeof "/libtsv_ssl_compat.so" > sizeof path)
        return 0;
    strcpy(slash, "/libtsv_ssl_compat.so");
    if (access(path, F_OK) != 0)
        return 0;
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle)
        return tsv_error_set(err, TSV_EINTERNAL, "cannot load %s: %s", path, dlerror());
    return 0;
}
