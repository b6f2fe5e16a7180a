/*
 * upload: receiving a request body into a private temp file under
 * <data-dir>/tmp (same file system as the live data, so a later rename is
 * atomic). Bounded buffer; ENOSPC becomes TSV_ENOSPACE (507).
 * Ownership: the caller unlinks the file (tsv_upload_discard).
 */
#ifndef TSV_UPLOAD_H
#define TSV_UPLOAD_H

#include <limits.h>
#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

typedef struct tsv_upload {
    char path[PATH_MAX];
    uint64_t size;
} tsv_upload;

/* Streams `in` to <tmp_dir>/upload-<random><suffix>, fsyncs it. */
int tsv_upload_receive(const char *tmp_dir, const char *suffix, tsv_reader *in, tsv_upload *out,
                       tsv_error *err);
/* The same without the fsync, for an upload that is only read and then
 * discarded (restore/kv copies the bolt file into an environment it syncs
 * itself): the kernel usually never writes the file at all. */
int tsv_upload_receive_scratch(const char *tmp_dir, const char *suffix, tsv_reader *in,
                               tsv_upload *out, tsv_error *err);
void tsv_upload_discard(tsv_upload *u);

#endif
