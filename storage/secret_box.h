/*
 * secret_box: encryption at rest of small secrets (a connection's token),
 * AES-256-GCM with a key file that never leaves the data directory.
 *
 * The key is 32 random bytes in <dir>/secret.key, mode 0600, created on
 * first use (temp file, fsync, link into place: two servers starting at once
 * agree on one key). A sealed secret is "tsv1" | 12-byte random nonce |
 * ciphertext | 16-byte tag; the tag authenticates the bytes and the label
 * (the connection name) given as additional data, so a sealed value copied
 * to another connection does not open.
 *
 * Ownership: tsv_secret_box_open returns a box freed with
 * tsv_secret_box_free (the key is wiped). seal/open fill caller buffers;
 * *out of open is malloc'd, wiped-and-freed with tsv_secret_wipe_free.
 * Thread-safety: a box is immutable after open; every function is
 * thread-safe. Errors: int 0/-1 with tsv_error; a key file of the wrong
 * size or mode, or a value that fails authentication, is TSV_EINTERNAL
 * naming the file (never the secret).
 */
#ifndef TSV_SECRET_BOX_H
#define TSV_SECRET_BOX_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

typedef struct tsv_secret_box tsv_secret_box;

int tsv_secret_box_open(tsv_secret_box **out, const char *dir, tsv_error *err);
void tsv_secret_box_free(tsv_secret_box *b);

/* Appends the sealed form of plain[0..len) to out. */
int tsv_secret_seal(const tsv_secret_box *b, const char *label, const void *plain, size_t len,
                    tsv_buf *out, tsv_error *err);
/* *plain: malloc'd, NUL-terminated (not counted in *len). */
int tsv_secret_unseal(const tsv_secret_box *b, const char *label, const void *sealed, size_t len,
                      char **plain, size_t *plain_len, tsv_error *err);
void tsv_secret_wipe_free(char *p, size_t len);

#endif
