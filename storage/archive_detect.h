/*
 * archive_detect: what a staged file is (its dataFormat, from the content,
 * never the name) and whether it is sound, plus the restore plan of a backup
 * archive (docs/storage.md "Staged files"; docs/api.md "Files API").
 *
 * Formats:
 *   influx-backup      tar/tar.gz/tar.zst/zip of an `influx backup` directory:
 *                      <base>.manifest (manifestVersion 2), KV bolt, optional
 *                      SQLite, one shard tar(.gz) per shard
 *   influxdb1-portable the same of an `influxd backup -portable` directory:
 *                      <base>.manifest {"meta","files"}, <base>.meta
 *                      (PortableData wrapping meta.Data), <base>.sN.tar.gz
 *   shard              one shard tar (what restore/shards takes)
 *   bolt, sqlite       a KV or SQL snapshot, possibly gzip/zstd-compressed
 *   unknown            anything else (kept as it is)
 *
 * Validation (tsv_archive_inspect) is complete: manifests parse and agree
 * with the members (every listed file present, v2 sizes equal), the KV is a
 * valid bolt file (bolt_read.c), the SQLite file passes restore/sql's check,
 * and every shard tar passes the shard restore's validation (every TSM block
 * and tombstone; run into a scratch shard directory that is then removed).
 * Errors are TSV_EINVALID naming the member that is wrong.
 *
 * Ownership: tsv_backup_plan_clear frees a plan. Thread-safety: reentrant.
 */
#ifndef TSV_ARCHIVE_DETECT_H
#define TSV_ARCHIVE_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "archive_read.h"
#include "json.h"
#include "meta.h"
#include "tsv_error.h"

typedef enum tsv_data_format {
    TSV_FORMAT_UNKNOWN = 0,
    TSV_FORMAT_INFLUX_BACKUP,
    TSV_FORMAT_INFLUXDB1_PORTABLE,
    TSV_FORMAT_SHARD,
    TSV_FORMAT_BOLT,
    TSV_FORMAT_SQLITE,
} tsv_data_format;
const char *tsv_data_format_name(tsv_data_format f);

typedef struct tsv_plan_shard {
    uint64_t id;   /* shard ID in the backup */
    char *file;    /* member base name */
    int gzip;      /* member is gzip-compressed */
    uint64_t size; /* member size */
    size_t bucket; /* influx-backup: index in plan.buckets */
    char *db, *rp; /* influxdb1-portable: 1.x database and RP */
} tsv_plan_shard;

typedef struct tsv_backup_plan {
    tsv_data_format format;
    /* influx-backup */
    tsv_json_doc **docs; /* the manifests (bucket nodes point into them) */
    size_t n_docs;
    char *kv_file;
    int kv_gzip;
    char *sql_file; /* NULL: no SQL part */
    int sql_gzip;
    const tsv_json **buckets; /* merged bucket entries (latest manifest wins) */
    size_t n_buckets;
    /* influxdb1-portable */
    Meta__Data *meta1;
    /* both */
    tsv_plan_shard *shards;
    size_t n_shards;
    size_t cap_shards; /* allocated length of shards (array_grow.h) */
    uint64_t shard_bytes;
} tsv_backup_plan;

/* Reads the manifests of an archive and checks them against its members.
 * An archive that is neither backup kind gives format UNKNOWN and no error;
 * a backup whose manifest or members are wrong is TSV_EINVALID. */
int tsv_backup_plan_scan(const char *path, tsv_backup_plan *out, tsv_error *err);
void tsv_backup_plan_clear(tsv_backup_plan *p);

/* Detects and validates a whole staged file. scratch_dir: an empty
 * directory on the same file system for the validation's temporary files
 * (left empty). */
int tsv_archive_inspect(const char *path, const char *scratch_dir, tsv_data_format *format,
                        tsv_compression *compression, tsv_error *err);
struct tsv_tsm_trust;
/* The same, adding the SHA-256 of every TSM file that passed to *validated
 * (tsm_trust.h; NULL: not collected), so that a restore of this file need
 * not validate them again. */
int tsv_archive_inspect_ex(const char *path, const char *scratch_dir, tsv_data_format *format,
                           tsv_compression *compression, struct tsv_tsm_trust *validated,
                           tsv_error *err);

#endif
