/*
 * tls_cert: a TLS certificate (leaf + chain) and its private key read from
 * PEM files and checked before anything is served with them: both files are
 * readable regular files, the certificate file holds at least one
 * certificate, the key is not encrypted and matches the leaf, and the leaf is
 * inside its validity period. Also a printable description of the leaf
 * (subject, issuer, validity, key, SHA-256 fingerprint) for the log.
 *
 * A single PEM holding the certificate and the key may be given as both
 * files (each read takes the blocks it needs and skips the others).
 * Each file is read whole into a bounded buffer (TSV_TLS_PEM_MAX).
 *
 * Ownership: tsv_tls_cert_load returns a pair the caller frees with
 * tsv_tls_cert_free. The OpenSSL objects are reference-counted: a user that
 * keeps one beyond the pair's life takes its own reference.
 * Thread-safety: a loaded pair is never modified; share it read-only.
 * Errors: -1 and TSV_EINVALID with a message that names the file and says
 * what is wrong (missing, unreadable, not PEM, encrypted, mismatched,
 * expired, not yet valid).
 */
#ifndef TSV_TLS_CERT_H
#define TSV_TLS_CERT_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "tsv_error.h"

#define TSV_TLS_PEM_MAX (1024 * 1024) /* largest certificate or key file read */

typedef struct tsv_tls_cert {
    X509 *leaf;
    STACK_OF(X509) * chain; /* intermediates after the leaf, possibly empty; never NULL */
    EVP_PKEY *key;
    char subject[256]; /* RFC 2253, quotes replaced so it fits a log value */
    char issuer[256];
    char not_before[32]; /* RFC 3339, UTC */
    char not_after[32];
    int64_t not_after_unix;
    char key_desc[32]; /* e.g. "RSA-2048", "EC-256" */
    char sha256[96];   /* leaf fingerprint, colon-separated hex */
} tsv_tls_cert;

/* Loads and checks cert_file + key_file; `now` is the Unix time the validity
 * is checked against (time(NULL) in the server). */
int tsv_tls_cert_load(tsv_tls_cert **out, const char *cert_file, const char *key_file, int64_t now,
                      tsv_error *err);
void tsv_tls_cert_free(tsv_tls_cert *c);

#endif
