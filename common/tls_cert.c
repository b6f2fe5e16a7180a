/* tls_cert: certificate + key from PEM files, checked (tls_cert.h). */
#include "tls_cert.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHAIN 16

/* Reads a whole PEM file (bounded) so that every failure can say which
 * file and why in plain words before OpenSSL sees it. */
static int read_pem_file(const char *what, const char *path, char **out, size_t *len,
                         tsv_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return tsv_error_set(err, TSV_EINVALID, "TLS %s file %.300s: cannot open: %s", what, path,
                             strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tsv_error_set(err, TSV_EINVALID, "TLS %s file %.300s: not a regular file", what,
                             path);
    }
    if (st.st_size > TSV_TLS_PEM_MAX) {
        close(fd);
        return tsv_error_set(err, TSV_EINVALID, "TLS %s file %.300s: %lld bytes, larger than %d",
                             what, path, (long long)st.st_size, TSV_TLS_PEM_MAX);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return tsv_error_set(err, TSV_EINVALID, "TLS %s file %.300s: cannot read: %s", what,
                                 path, strerror(e));
        }
        if (n == 0)
            break; /* shrank while we read: parse what is there */
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

/* The first OpenSSL error as text (for messages), clearing the queue. */
static const char *ossl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, buf, len);
    else
        snprintf(buf, len, "unknown error");
    ERR_clear_error();
    return buf;
}

/* Copies s into out with characters a log value cannot hold replaced. */
static void sanitize(char *out, size_t outlen, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < outlen; i++)
        out[i] = (s[i] == '"' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '\'' : s[i];
    out[i] = '\0';
}

static void name_string(X509_NAME *name, char *out, size_t outlen)
{
    out[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
        char tmp[256];
        int n = BIO_read(b, tmp, (int)sizeof tmp - 1);
        tmp[n > 0 ? n : 0] = '\0';
        sanitize(out, outlen, tmp);
    }
    BIO_free(b);
}

static int asn1_time_unix(const ASN1_TIME *t, int64_t *unix_out, char *rfc3339, size_t len)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    *unix_out = (int64_t)timegm(&tm);
    strftime(rfc3339, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return 0;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1; /* never prompt on the terminal: a server has no one to ask */
}

void tsv_tls_cert_free(tsv_tls_cert *c)
{
    if (!c)
        return;
    X509_free(c->leaf);
    if (c->chain)
        sk_X509_pop_free(c->chain, X509_free);
    EVP_PKEY_free(c->key);
    free(c);
}

static int load_certs(tsv_tls_cert *c, const char *path, tsv_error *err)
{
    char *pem = NULL;
    size_t len = 0;
    if (read_pem_file("certificate", path, &pem, &len, err) != 0)
        return -1;
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    if (!b) {
        free(pem);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    char why[256];
    int rc = 0;
    ERR_clear_error();
    c->leaf = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
    if (!c->leaf) {
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
            rc = tsv_error_set(err, TSV_EINVALID,
                               "TLS certificate file %.300s: no PEM certificate in it (expected "
                               "'-----BEGIN CERTIFICATE-----')",
                               path);
        else
            rc = tsv_error_set(err, TSV_EINVALID,
                               "TLS certificate file %.300s: damaged certificate: %s", path,
                               ossl_reason(why, sizeof why));
    }
    for (int n = 0; rc == 0; n++) {
        X509 *x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
        if (!x) {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                ERR_clear_error(); /* the end of the file */
            else
                rc = tsv_error_set(err, TSV_EINVALID,
                                   "TLS certificate file %.300s: certificate %d of the chain is "
                                   "damaged: %s",
                                   path, n + 2, ossl_reason(why, sizeof why));
            break;
        }
        if (n >= MAX_CHAIN || !sk_X509_push(c->chain, x)) {
            X509_free(x);
            rc = tsv_error_set(err, TSV_EINVALID,
                               "TLS certificate file %.300s: more than %d chain certificates", path,
                               MAX_CHAIN);
        }
    }
    BIO_free(b);
    OPENSSL_cleanse(pem, len);
    free(pem);
    return rc;
}

static int load_key(tsv_tls_cert *c, const char *path, tsv_error *err)
{
    char *pem = NULL;
    size_t len = 0;
    if (read_pem_file("key", path, &pem, &len, err) != 0)
        return -1;
    int rc = 0;
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    if (!b) {
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    } else {
        ERR_clear_error();
        c->key = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
        if (!c->key) {
            char why[256];
            if (strstr(pem, "ENCRYPTED"))
                rc = tsv_error_set(
                    err, TSV_EINVALID,
                    "TLS key file %.300s: the key is encrypted; give an unencrypted "
                    "key (openssl pkey -in KEY -out NEWKEY), readable by tsvault only",
                    path);
            else if (!strstr(pem, "PRIVATE KEY-----"))
                rc = tsv_error_set(err, TSV_EINVALID,
                                   "TLS key file %.300s: no PEM private key in it (expected "
                                   "'-----BEGIN PRIVATE KEY-----')",
                                   path);
            else
                rc = tsv_error_set(err, TSV_EINVALID, "TLS key file %.300s: damaged key: %s", path,
                                   ossl_reason(why, sizeof why));
            ERR_clear_error();
        }
        BIO_free(b);
    }
    OPENSSL_cleanse(pem, len); /* the key's bytes do not outlive the parse */
    free(pem);
    return rc;
}

static void describe(tsv_tls_cert *c)
{
    name_string(X509_get_subject_name(c->leaf), c->subject, sizeof c->subject);
    name_string(X509_get_issuer_name(c->leaf), c->issuer, sizeof c->issuer);
    const char *type = "key";
    switch (EVP_PKEY_get_base_id(c->key)) {
    case EVP_PKEY_RSA:
        type = "RSA";
        break;
    case EVP_PKEY_EC:
        type = "EC";
        break;
    case EVP_PKEY_ED25519:
        type = "Ed25519";
        break;
    case EVP_PKEY_ED448:
        type = "Ed448";
        break;
    default:
        break;
    }
    snprintf(c->key_desc, sizeof c->key_desc, "%s-%d", type, EVP_PKEY_get_bits(c->key));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    c->sha256[0] = '\0';
    if (X509_digest(c->leaf, EVP_sha256(), md, &mdlen) == 1) {
        size_t o = 0;
        for (unsigned int i = 0; i < mdlen && o + 4 <= sizeof c->sha256; i++)
            o += (size_t)snprintf(c->sha256 + o, sizeof c->sha256 - o, i ? ":%02X" : "%02X", md[i]);
    }
}

int tsv_tls_cert_load(tsv_tls_cert **out, const char *cert_file, const char *key_file, int64_t now,
                      tsv_error *err)
{
    *out = NULL;
    tsv_tls_cert *c = calloc(1, sizeof *c);
    if (!c || !(c->chain = sk_X509_new_null())) {
        free(c);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    if (load_certs(c, cert_file, err) != 0 || load_key(c, key_file, err) != 0) {
        tsv_tls_cert_free(c);
        return -1;
    }
    char why[256];
    ERR_clear_error();
    if (X509_check_private_key(c->leaf, c->key) != 1) {
        tsv_error_set(err, TSV_EINVALID,
                      "TLS key file %.200s does not match the certificate in %.200s (%s)", key_file,
                      cert_file, ossl_reason(why, sizeof why));
        tsv_tls_cert_free(c);
        return -1;
    }
    int64_t nb = 0;
    if (asn1_time_unix(X509_get0_notBefore(c->leaf), &nb, c->not_before, sizeof c->not_before) !=
            0 ||
        asn1_time_unix(X509_get0_notAfter(c->leaf), &c->not_after_unix, c->not_after,
                       sizeof c->not_after) != 0) {
        tsv_error_set(err, TSV_EINVALID, "TLS certificate file %.300s: unreadable validity dates",
                      cert_file);
        tsv_tls_cert_free(c);
        return -1;
    }
    describe(c);
    /* Clients refuse a certificate outside its validity period; say so now
     * rather than through every client's handshake error. */
    if (now > c->not_after_unix) {
        tsv_error_set(err, TSV_EINVALID,
                      "TLS certificate file %.300s: the certificate (%.100s) "
                      "expired at %s",
                      cert_file, c->subject, c->not_after);
        tsv_tls_cert_free(c);
        return -1;
    }
    if (now < nb) {
        tsv_error_set(err, TSV_EINVALID,
                      "TLS certificate file %.300s: the certificate (%.100s) "
                      "is not valid before %s",
                      cert_file, c->subject, c->not_before);
        tsv_tls_cert_free(c);
        return -1;
    }
    *out = c;
    return 0;
}
