/*
 * archive_read: reading a staged archive (tar, tar.gz, tar.zst or zip of a
 * backup directory) member by member, streamed through libarchive with a
 * bounded buffer, for upload validation (archive_detect.c) and restore jobs.
 *
 * Members are named by their base name (an archive of a directory may or may
 * not carry the directory's name or "./" in front). Directory entries are
 * skipped; symlinks, hard links, devices, absolute paths and ".." components
 * are refused with TSV_EINVALID naming the member. A damaged archive (bad
 * gzip/zstd stream, truncated tar) is TSV_EINVALID "archive is corrupt: ...".
 *
 * Ownership: tsv_archive_open returns an archive freed by tsv_archive_close;
 * the entry strings and the member reader live until the next
 * tsv_archive_next or the close. Thread-safety: one archive, one thread.
 */
#ifndef TSV_ARCHIVE_READ_H
#define TSV_ARCHIVE_READ_H

#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

typedef struct tsv_archive tsv_archive;

typedef struct tsv_archive_entry {
    const char *path; /* as stored */
    const char *name; /* base name */
    uint64_t size;    /* as the archive states it */
    int sparse;       /* data not stored as `size` contiguous bytes */
} tsv_archive_entry;

/* Outer compression of the file, from its first bytes. */
typedef enum tsv_compression {
    TSV_COMPRESSION_NONE = 0,
    TSV_COMPRESSION_GZ = 1,
    TSV_COMPRESSION_ZST = 2,
} tsv_compression;
const char *tsv_compression_name(tsv_compression c); /* "none", "gz", "zst" */
int tsv_compression_sniff(const char *path, tsv_compression *out, tsv_error *err);

/* Opens path as tar or zip (gzip/zstd outer compression). TSV_EINVALID
 * "not an archive" when libarchive recognises no format. */
int tsv_archive_open(tsv_archive **out, const char *path, tsv_error *err);
/* The same over a stream (an upload as it arrives): tar, tar.gz or
 * tar.zst only (a zip's directory is at its end). `src` is not owned and
 * must outlive the archive; its errors come back unchanged. */
int tsv_archive_open_reader(tsv_archive **out, tsv_reader *src, tsv_error *err);
/* The outer compression libarchive found (after open). */
tsv_compression tsv_archive_compression(tsv_archive *a);
/* 1 = entry filled, 0 = end of archive, -1 = error. */
int tsv_archive_next(tsv_archive *a, tsv_archive_entry *e, tsv_error *err);
/* The current member's bytes (valid until the next tsv_archive_next). */
tsv_reader *tsv_archive_member(tsv_archive *a);
/* For an uncompressed tar, after tsv_archive_next: the file offset where
 * the previous member's data, padded to 512 bytes, ended (the header just
 * read, or the end-of-archive blocks, starts there). So that member's data
 * starts at prev_end - round_up(size, 512). -1 for anything else. */
int64_t tsv_archive_prev_end(tsv_archive *a);
/* Total compressed bytes consumed so far (for progress). */
uint64_t tsv_archive_position(tsv_archive *a);
void tsv_archive_close(tsv_archive *a);

/* Reads the current member whole into a malloc'd NUL-terminated buffer,
 * refusing members over max bytes (TSV_EINVALID naming it). */
int tsv_archive_read_member(tsv_archive *a, const tsv_archive_entry *e, size_t max, char **out,
                            size_t *len, tsv_error *err);

#endif
