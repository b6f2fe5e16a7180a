/*
 * tsm_filter: a TSM file cut down to the blocks that overlap a time range,
 * for 1.x shard exports (`influxd backup -start/-end`, docs/api.md).
 *
 * Blocks are copied verbatim (CRC and data) in index order; the new index
 * keeps each key's entries that overlap [start, end] (a block overlaps when
 * min <= end and max >= start, influxd's rule), with new offsets; keys left
 * without blocks are dropped. The layout is the one InfluxDB's TSM writer
 * produces (header, blocks, index, u64 index offset), so the same input gives
 * the same bytes as influxd's export. Memory is bounded: the index is read
 * and written in pieces (the new index goes through a second temp file).
 *
 * tsv_tsm_time_range reads a file's overall min/max from its index.
 * Errors: int 0/-1 with tsv_error; a file that does not parse as TSM is
 * TSV_EINVALID. Thread-safety: reentrant.
 */
#ifndef TSV_TSM_FILTER_H
#define TSV_TSM_FILTER_H

#include <stdint.h>

#include "tsv_error.h"

int tsv_tsm_time_range(const char *path, int64_t *min, int64_t *max, tsv_error *err);
/* Writes dst (created, fsynced); *blocks = blocks kept (0: dst was removed). */
int tsv_tsm_filter_range(const char *src, const char *dst, int64_t start, int64_t end,
                         uint64_t *blocks, tsv_error *err);

#endif
