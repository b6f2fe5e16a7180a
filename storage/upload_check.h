/*
 * upload_check: validates a backup archive while it is being uploaded, and
 * keeps what it extracted, so that a staged upload costs about one restore
 * and its restore job only links files (docs/storage.md "Staged files").
 *
 * The upload's bytes are fed in as they arrive (tsv_upload_check_feed); a
 * thread reads them through a bounded pipe as a tar (plain, gzip or zstd),
 * reads the manifests, runs every shard archive member (`*.tar.gz`,
 * `*.tar`) through the shard restore's complete validation into
 * keep_dir/<member>/ (listed in TSV_SHARD_LIST_FILE; written without
 * fsyncs, their write-back started), and copies KV/SQL members
 * (`*.bolt[.gz]`, `*.sqlite[.gz]`) to keep_dir/<member>.
 * tsv_upload_check_finish then builds the backup plan from the members,
 * checks the KV/SQL copies and makes keep_dir durable (one fsync pass over
 * the tree instead of a stall per member while the body arrives).
 *
 * The result is used only when it covers the whole plan and everything
 * passed: finish returns 1. Anything else (a zip, a single shard/bolt/
 * SQLite file, an invalid member, a member the plan needs that was not
 * kept) returns 0, and the caller validates the stored file as before
 * (tsv_archive_inspect_ex), which also gives the authoritative error. So
 * this module never decides that an upload is bad, only that it is good.
 *
 * Ownership: the check is freed by tsv_upload_check_free (which stops and
 * joins the thread if finish was not called); keep_dir is the caller's.
 * Thread-safety: feed/finish/free from one thread. Errors: int with
 * tsv_error (finish: -1 only for internal failures).
 */
#ifndef TSV_UPLOAD_CHECK_H
#define TSV_UPLOAD_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "archive_detect.h"
#include "tsm_trust.h"
#include "tsv_error.h"

typedef struct tsv_upload_check tsv_upload_check;

/* keep_dir: an existing empty directory on the data file system. */
int tsv_upload_check_start(tsv_upload_check **out, const char *keep_dir, tsv_error *err);
void tsv_upload_check_feed(tsv_upload_check *c, const void *data, size_t len);
/* Ends the input and waits. 1: valid and kept; *format, *compression and
 * *validated (the SHA-256 of every TSM file checked; initialised here) are
 * filled. 0: not decided here (see above). */
int tsv_upload_check_finish(tsv_upload_check *c, tsv_data_format *format,
                            tsv_compression *compression, tsv_tsm_trust *validated, tsv_error *err);
/* After finish returned 1, for an uncompressed tar upload: where the data
 * of each shard member the restore will take from its kept files lies in the
 * upload (offset, length), with the first and last TSV_UPLOAD_EDGE bytes read
 * there, so that the caller can check the place before it releases those
 * bytes (tsv_files: the member is then stored once, as its kept files).
 * Owned by the check; 0 ranges for anything else. */
#define TSV_UPLOAD_EDGE 64
typedef struct tsv_upload_range {
    uint64_t offset, length;
    uint8_t head[TSV_UPLOAD_EDGE], tail[TSV_UPLOAD_EDGE];
} tsv_upload_range;
size_t tsv_upload_check_ranges(const tsv_upload_check *c, const tsv_upload_range **out);
void tsv_upload_check_free(tsv_upload_check *c);

#endif
