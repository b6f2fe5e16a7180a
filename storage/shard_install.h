/*
 * shard_install: installs the TSM and tombstone files of a shard archive
 * into one shard directory, all at once or not at all.
 *
 * The tar is read as a stream (libarchive over a tsv_reader, bounded
 * buffers). Entry rules: regular files named "*.tsm" / "*.tombstone" (by
 * base name, valid generation-sequence form) are taken; directory entries
 * and other names are skipped with a warning; absolute paths, ".."
 * components, symlinks, hard links and devices are refused (TSV_EINVALID),
 * as are two entries with the same base name. Every file is validated
 * completely (tsm.h) before anything is installed.
 *
 * Install: the new files plus hard links to the shard's existing TSM and
 * tombstone files (minus those replaced; a replaced TSM's old tombstone goes
 * with it) form a staging directory that replaces the shard directory in one
 * renameat2(RENAME_EXCHANGE). The previous directory goes to the trash.
 *
 * The caller holds the store's shared lock and tsv_shard_lock(shard_id).
 * Errors: TSV_EINVALID for bad archives/files, TSV_ENOSPACE when the disk is
 * full, reader errors as they come; on any error the shard is unchanged.
 */
#ifndef TSV_SHARD_INSTALL_H
#define TSV_SHARD_INSTALL_H

#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

typedef struct tsv_shard_install_stats {
    uint64_t files;        /* files installed from the archive */
    uint64_t bytes;        /* their total size */
    uint64_t skipped;      /* entries skipped (directories, other names) */
    uint64_t kept;         /* existing files carried over */
} tsv_shard_install_stats;

int tsv_shard_install_from_tar(const char *shard_dir, const char *trash_dir, uint64_t shard_id,
                               tsv_reader *tar, tsv_shard_install_stats *stats, tsv_error *err);

/* Stricter rules for callers that know exactly what the archive must hold
 * (the 1.x restore): with strict, directory entries and entries that are not
 * TSM or tombstone files are refused instead of skipped; with prefix, every
 * entry must be named "<prefix>/<file>" (influxd silently ignores the
 * others, leaving an empty shard). */
typedef struct tsv_shard_install_opts {
    int strict;
    const char *prefix; /* NULL = any directory part */
} tsv_shard_install_opts;
int tsv_shard_install_from_tar_opts(const char *shard_dir, const char *trash_dir,
                                    uint64_t shard_id, tsv_reader *tar,
                                    const tsv_shard_install_opts *opts,
                                    tsv_shard_install_stats *stats, tsv_error *err);

#endif
