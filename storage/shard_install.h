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
 * renameat2(RENAME_EXCHANGE). Without a hook the previous directory goes to
 * the trash; with one (the vault, store_vault.c), the hook records the new
 * version right before the exchange and the previous files, which are
 * objects of the version it soft-deleted, are dropped.
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
    uint64_t files;   /* files installed from the archive */
    uint64_t bytes;   /* their total size */
    uint64_t skipped; /* entries skipped (directories, other names) */
    uint64_t kept;    /* existing files carried over */
    uint64_t trusted; /* TSM files not validated again (opts.trust) */
} tsv_shard_install_stats;

/* Called once the staging directory is complete, marked with `gen` and
 * fsynced, right before the exchange: names/hex are the uploaded files and
 * their SHA-256 (computed while they were written). -1 aborts the install
 * (the shard is unchanged). If the exchange then fails, exchange_failed
 * undoes what before_exchange recorded. */
typedef struct tsv_shard_install_hook {
    int (*before_exchange)(void *ctx, const char *staging, uint64_t gen, const char *const *names,
                           const char (*hex)[65], size_t n, tsv_error *err);
    void (*exchange_failed)(void *ctx);
    void *ctx;
} tsv_shard_install_hook;

int tsv_shard_install_from_tar(const char *shard_dir, const char *trash_dir, uint64_t shard_id,
                               tsv_reader *tar, tsv_shard_install_stats *stats, tsv_error *err);

/* Stricter rules for callers that know exactly what the archive must hold
 * (the 1.x restore): with strict, directory entries and entries that are not
 * TSM or tombstone files are refused instead of skipped; with prefix, every
 * entry must be named "<prefix>/<file>" (influxd silently ignores the
 * others, leaving an empty shard). */
struct tsv_tsm_trust;
/* trust (tsm_trust.h): TSM files whose SHA-256 (computed while they are
 * written) is in the set were validated before (a staged upload) and are
 * not validated again; any other TSM file is validated completely after
 * it is written. validated: every TSM file that passed is added to it (the
 * upload's validation builds the set this way). scratch: the install is a
 * validation whose result is thrown away: no fsyncs. */
typedef struct tsv_shard_install_opts {
    int strict;
    const char *prefix;                 /* NULL = any directory part */
    const tsv_shard_install_hook *hook; /* NULL = none (the vault's: store_vault.c) */
    const struct tsv_tsm_trust *trust;  /* NULL = validate everything */
    struct tsv_tsm_trust *validated;    /* NULL = not collected */
    int scratch;
    /* Also write TSV_SHARD_LIST_FILE (the files and their SHA-256) into the
     * shard directory: an upload's validated shard kept for later
     * (tsv_shard_install_from_dir). */
    int list;
    /* Start the write-back of every file as it is written but fsync
     * nothing (files, directories): the caller makes the tree durable
     * (tsv_fsync_tree) before it relies on it. For an upload's kept shards,
     * whose record is written only once the whole upload has arrived: no
     * fsync then stalls the check while the body is still coming. */
    int defer_sync;
} tsv_shard_install_opts;
int tsv_shard_install_from_tar_opts(const char *shard_dir, const char *trash_dir, uint64_t shard_id,
                                    tsv_reader *tar, const tsv_shard_install_opts *opts,
                                    tsv_shard_install_stats *stats, tsv_error *err);

#define TSV_SHARD_LIST_FILE ".tsv-files"

/* Installs the files a kept, validated shard directory lists (src_dir with
 * TSV_SHARD_LIST_FILE, written by an install with opts.list: a line
 * "<sha256> <size> <mtime ns> <inode> <name>" per file) into shard_dir, as
 * if they came in a tar: hard links instead of copies. A file with the
 * listed inode, size and mtime has not been written since it was validated
 * (a quick check, as git's index and rsync do); any other is read and its
 * SHA-256 compared: a file changed since it was validated is TSV_EINVALID,
 * a missing one (or the list) TSV_ENOTFOUND, the shard unchanged in both
 * cases. Of opts, only hook and scratch apply. Same locking and errors as
 * tsv_shard_install_from_tar_opts. */
int tsv_shard_install_from_dir(const char *shard_dir, const char *trash_dir, uint64_t shard_id,
                               const char *src_dir, const tsv_shard_install_opts *opts,
                               tsv_shard_install_stats *stats, tsv_error *err);

#endif
