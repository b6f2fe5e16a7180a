/*
 * files_store: the staging area for uploaded archives (Files API), in
 * <data-dir>/files/ (docs/storage.md "Staged files"):
 *   files/data/<name>        the file as uploaded
 *   files/meta/<name>.json   its record (id, size, format, digests, ...)
 *   files/tmp/               uploads being received and validation scratch
 *                            (emptied at open)
 *   files/validated/<name>   SHA-256 of every TSM file the upload validated
 *                            (tsm_trust.h), so its restore need not again
 * An upload streams into tmp/ (bounded buffer, MD5 and SHA-256 computed on
 * the way), is validated (archive_detect.h), then renamed into data/ with
 * RENAME_NOREPLACE (so two uploads of one name cannot both win) and its
 * record written atomically. A file without a record (a crash in between) is
 * removed at open; a record without its file is ignored and removed.
 *
 * Names: 1..255 bytes, no '/', '\\', control characters or "..", not
 * starting with '.'; anything else is TSV_EINVALID.
 *
 * Errors: int 0/-1 with tsv_error: TSV_EINVALID (bad name, bad content,
 * digest mismatch), TSV_ECONFLICT (name taken), TSV_ETOOLARGE (over the size
 * limit or the quota), TSV_ENOTFOUND, TSV_ENOSPACE.
 * Ownership: tsv_files_open returns a handle freed by tsv_files_close; an
 * upload is ended by exactly one of commit or abort.
 * Thread-safety: the handle is thread-safe; one upload belongs to one thread.
 */
#ifndef TSV_FILES_STORE_H
#define TSV_FILES_STORE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "archive_detect.h"
#include "tsv_error.h"

typedef struct tsv_files tsv_files;

typedef struct tsv_file_info {
    char id[37];
    char name[256];
    uint64_t size;
    tsv_data_format format;
    tsv_compression compression;
    char md5[33];    /* upper-case hex */
    char sha256[65]; /* lower-case hex */
    char user_id[64];
    int64_t uploaded_ns;
} tsv_file_info;

typedef struct tsv_files_options {
    const char *data_dir;
    uint64_t max_file_size; /* per upload; 0 = unlimited */
    uint64_t quota;         /* total staged bytes; 0 = what the file system has */
} tsv_files_options;

int tsv_files_open(tsv_files **out, const tsv_files_options *opt, tsv_error *err);
void tsv_files_close(tsv_files *f);

int tsv_files_name_check(const char *name, tsv_error *err);

typedef struct tsv_files_upload tsv_files_upload;
/* Checks the name (and that it is free), creates the temp file. */
int tsv_files_upload_begin(tsv_files *f, const char *name, tsv_files_upload **out, tsv_error *err);
int tsv_files_upload_write(tsv_files_upload *u, const void *data, size_t len, tsv_error *err);
/* expected_md5: 16 raw bytes or NULL. Validates, installs, fills info. The
 * upload is freed whatever the result; on failure nothing is kept. */
int tsv_files_upload_commit(tsv_files_upload *u, const uint8_t *expected_md5, const char *user_id,
                            tsv_file_info *info, tsv_error *err);
/* The same for a file staged before and kept elsewhere (a recovery from an
 * object store): validated like any upload, its content must have rec's
 * digests (TSV_EINVALID), and its record keeps rec's id, user and upload
 * time. */
int tsv_files_upload_commit_record(tsv_files_upload *u, const tsv_file_info *rec,
                                   tsv_file_info *info, tsv_error *err);
void tsv_files_upload_abort(tsv_files_upload *u);
uint64_t tsv_files_upload_size(const tsv_files_upload *u);

int tsv_files_get(tsv_files *f, const char *name, tsv_file_info *out, tsv_error *err);
typedef int (*tsv_files_fn)(void *ctx, const tsv_file_info *info, tsv_error *err);
/* In name order. */
int tsv_files_list(tsv_files *f, tsv_files_fn fn, void *ctx, tsv_error *err);
int tsv_files_delete(tsv_files *f, const char *name, tsv_error *err);
struct tsv_tsm_trust;
/* The TSM contents the upload of `name` validated (tsm_trust.h), for its
 * restore to skip a second validation. TSV_ENOTFOUND if there is no list
 * (then validate everything). *out is released with tsv_tsm_trust_clear. */
int tsv_files_validated(tsv_files *f, const char *name, struct tsv_tsm_trust *out, tsv_error *err);
/* 1 and the directory in out if the upload of `name` kept the shard archive
 * member `member` validated and extracted (upload_check.h), for
 * tsv_store_restore_shard_from_dir; 0 otherwise. */
int tsv_files_kept_shard(tsv_files *f, const char *name, const char *member, char *out,
                         size_t outlen);
/* Path of a staged file's data (for reading by restore jobs). */
int tsv_files_path(tsv_files *f, const char *name, char *out, size_t outlen, tsv_error *err);

typedef struct tsv_files_space {
    uint64_t allocated, used, remaining;
} tsv_files_space;
int tsv_files_space_get(tsv_files *f, tsv_files_space *out, tsv_error *err);

#endif
