/*
 * tls: HTTPS on the HTTP listener, with influxd's TLS flags
 * (--tls-cert, --tls-key, --tls-min-version, --tls-strict-ciphers; see
 * docs/operations.md) and a certificate that can be replaced while the
 * server runs.
 *
 * civetweb (built with OpenSSL) creates the SSL_CTX and hands it to
 * tsv_tls_setup_ctx from its init_ssl callback; the versions, ciphers and
 * options are set there. The certificate is not fixed in the SSL_CTX: each
 * handshake takes the pair that is current at that moment (OpenSSL's
 * certificate callback), so tsv_tls_reload gives new connections the new
 * certificate while established connections keep theirs.
 *
 * Ownership: tsv_tls_open returns a tsv_tls freed with tsv_tls_free after
 * civetweb has stopped (the SSL_CTX is civetweb's; it frees it in mg_stop).
 * Thread-safety: handshakes on civetweb's workers, tsv_tls_reload and
 * tsv_tls_log_in_use may run at the same time (a mutex guards the current
 * pair). tsv_tls_setup_ctx runs once, from mg_start.
 * Errors: -1 with err; certificate problems are TSV_EINVALID and name the file
 * (tls_cert.h), so a bad file stops start-up with a clear message.
 */
#ifndef TSV_TLS_H
#define TSV_TLS_H

#include "tsv_error.h"

typedef struct tsv_tls tsv_tls;

typedef struct tsv_tls_options {
    const char *cert_file; /* PEM: leaf, then its chain */
    const char *key_file;  /* PEM, unencrypted */
    int min_version;       /* 10, 11, 12 or 13 for TLS 1.0 .. 1.3 */
    int strict_ciphers;    /* influxd's strict list for TLS <= 1.2 */
} tsv_tls_options;

/* Loads and checks the certificate and key (nothing listens yet). */
int tsv_tls_open(tsv_tls **out, const tsv_tls_options *opt, tsv_error *err);
/* Configures civetweb's SSL_CTX (an SSL_CTX *). */
int tsv_tls_setup_ctx(tsv_tls *t, void *ssl_ctx, tsv_error *err);
/* Re-reads both files; on success new handshakes use them, on failure the
 * pair in use stays and err says why. Logs the pair in use either way. */
int tsv_tls_reload(tsv_tls *t, tsv_error *err);
/* Logs the certificate in use (subject, issuer, expiry, fingerprint) with msg. */
void tsv_tls_log_in_use(tsv_tls *t, const char *msg);
void tsv_tls_free(tsv_tls *t);

/* Loads libtsv_ssl_compat.so from the directory of the running executable
 * (server/compat/ssl_compat.c: OpenSSL 3 for Debian's civetweb, which asks
 * for an OpenSSL 1.1 function). Once per process, before civetweb's TLS
 * initialisation. A missing file is not an error (civetweb may not need
 * it); a file that fails to load is. */
int tsv_tls_preload_compat(tsv_error *err);

#endif
