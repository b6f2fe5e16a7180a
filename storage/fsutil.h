/*
 * fsutil: careful file-system primitives for crash-safe writes.
 *
 * The rule everywhere in tsvault: write to a temp name in the same directory,
 * fsync the file, rename (or renameat2 RENAME_EXCHANGE for directories),
 * fsync the directory. These helpers do one step each and report errors with
 * errno text; ENOSPC/EDQUOT become TSV_ENOSPACE (507).
 *
 * Errors: int 0/-1 with tsv_error. Thread-safety: reentrant.
 */
#ifndef TSV_FSUTIL_H
#define TSV_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "stream.h"
#include "tsv_error.h"

struct stat;

/* fsync a file descriptor / a directory path. */
int tsv_fsync_fd(int fd, const char *what, tsv_error *err);
int tsv_fsync_dir(const char *path, tsv_error *err);
/* mkdir -p with mode 0755; fsyncs each parent it created a child in. */
int tsv_mkdir_p(const char *path, tsv_error *err);
/* Atomic exchange of two paths on one file system (renameat2 EXCHANGE). */
int tsv_rename_exchange(const char *a, const char *b, tsv_error *err);
/* rename + fsync of the destination's directory (and the source's if different). */
int tsv_rename_durable(const char *from, const char *to, tsv_error *err);
/* Writes all of buf to fd (retries on EINTR and short writes). */
int tsv_write_all(int fd, const void *buf, size_t len, const char *what, tsv_error *err);
/* Copies everything r yields into a new file at path (created exclusively,
 * mode 0600, 1 MiB at a time), fsynced if `durable`; on failure the file is
 * removed. */
int tsv_copy_to_new_file(tsv_reader *r, const char *path, int durable, tsv_error *err);
/* Writes a small file atomically: tmp in same dir, fsync, rename, fsync dir. */
int tsv_write_file_atomic(const char *path, const void *buf, size_t len, tsv_error *err);
/* Opens path read-only (close-on-exec) into *fd, the one open of the readers
 * that report a missing file as TSV_ENOTFOUND ("open <path>"); with st, also
 * fstats it ("stat <path>", fd closed on failure). The caller closes *fd. */
int tsv_open_read(const char *path, int *fd, struct stat *st, tsv_error *err);
/* Reads a whole small file (<= max bytes) into a malloc'd NUL-terminated buffer. */
int tsv_read_file(const char *path, size_t max, char **out, size_t *len, tsv_error *err);
/* rm -rf; missing path is not an error. */
int tsv_remove_tree(const char *path, tsv_error *err);
/* Hard-links every regular file of the tree src into dst (created, with
 * subdirectories, as needed; each directory fsynced), keeping names: a
 * copy of a directory made of links, no data copied. Anything but regular
 * files and directories is refused (TSV_EINTERNAL); so is a tree deeper than
 * 8 levels. *files / *bytes (may be NULL) are incremented. */
int tsv_link_tree(const char *src, const char *dst, uint64_t *files, uint64_t *bytes,
                  tsv_error *err);
/* fsyncs every regular file and directory of the tree dir, dir last: the
 * durability of files written without an fsync each (write-back already
 * started), before anything relies on them. Same depth limit as
 * tsv_link_tree; other file types are passed over. */
int tsv_fsync_tree(const char *dir, tsv_error *err);
/* 1 if path exists (any type), 0 if not. */
int tsv_path_exists(const char *path);
/* snprintf into a fixed buffer; TSV_EINTERNAL if it would truncate. */
int tsv_path_join(char *out, size_t outlen, tsv_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
