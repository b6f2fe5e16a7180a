/*
 * tombstone_write: writes the tombstone that hides time ranges of every key
 * of one TSM file (delete_data on a shard the interval covers in part).
 *
 * Format (docs/storage.md "Tombstones written by delete_data"): a v4
 * tombstone is the 4-byte header 00 00 15 04 followed by one or more
 * concatenated gzip members, each holding records (u32 BE key length, key,
 * i64 BE min, i64 BE max; min/max inclusive, ns). InfluxDB's reader applies
 * every member (tsm1 Tombstoner, v4). So the new tombstone is the previous
 * one's bytes unchanged (or the header if there was none) plus ONE new gzip
 * member with a record per (key, range) for every key of the TSM file whose
 * index entries overlap the range. A previous v3 tombstone (header
 * 00 00 15 03, read by InfluxDB with a multistream gzip reader) is extended
 * the same way. v1 (text) and v2 (raw records) tombstones cannot express a
 * range delete that InfluxDB applies and are refused (TSV_EUNPROCESSABLE).
 *
 * Streams the TSM index through stdio buffers (memory: one key, <= 64 KiB)
 * and the output through zlib. Errors: int 0/-1 with tsv_error; the output
 * file is removed on error. Thread-safety: reentrant.
 */
#ifndef TSV_TOMBSTONE_WRITE_H
#define TSV_TOMBSTONE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

typedef struct tsv_time_range {
    int64_t min, max; /* inclusive */
} tsv_time_range;

/* tsm_path: the TSM file to read keys from. old: the existing tombstone's
 * bytes (NULL: none; read to its end, not freed). out_path: created (must
 * not exist), written and fsynced. *records: records written; when 0 no key
 * of the file has data in any range and out_path is NOT created. */
int tsv_tombstone_write_ranges(const char *tsm_path, tsv_reader *old, const tsv_time_range *ranges,
                               size_t n_ranges, const char *out_path, uint64_t *records,
                               tsv_error *err);

#endif
