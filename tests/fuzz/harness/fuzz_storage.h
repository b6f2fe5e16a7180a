/*
 * fuzz_storage: what the harnesses that run on the storage layer share (on
 * top of fuzz_util.h): a real store in the scratch directory, and the
 * validation a Files API upload gets, run on bytes written to a file.
 */
#ifndef TSV_FUZZ_STORAGE_H
#define TSV_FUZZ_STORAGE_H

#include "archive_detect.h"
#include "fuzz_util.h"
#include "store.h"
#include "tsm_trust.h"

/* Opens a store in <scratch>/data (its path goes to dir) with nothing
 * expiring on its own; aborts on an error. */
static inline tsv_store *fuzz_store_open(char *dir, size_t dirlen)
{
    snprintf(dir, dirlen, "%s/data", fuzz_scratch());
    mkdir(dir, 0700);
    tsv_store_options opt = {.data_dir = dir,
                             .trash_retention_s = -1,
                             .kv_map_size = (size_t)256 << 20,
                             .soft_delete_retention_s = -1};
    tsv_store *s = NULL;
    tsv_error err;
    if (tsv_store_open(&s, &opt, &err) != 0) {
        fprintf(stderr, "store: %s\n", err.message);
        abort();
    }
    return s;
}

/* Writes data to <scratch>/staged (its path goes to path) and runs
 * tsv_archive_inspect_ex on it with the fresh scratch directory
 * <scratch>/check; returns its result. */
static inline int fuzz_inspect_staged(const uint8_t *data, size_t size, char *path, size_t pathlen,
                                      char *scratch, size_t scratchlen, tsv_data_format *format,
                                      tsv_compression *compression, tsv_tsm_trust *trust,
                                      tsv_error *err)
{
    fuzz_write_file("staged", data, size, path, pathlen);
    snprintf(scratch, scratchlen, "%s/check", fuzz_scratch());
    FUZZ_CHECK(mkdir(scratch, 0755) == 0);
    return tsv_archive_inspect_ex(path, scratch, format, compression, trust, err);
}

#endif
