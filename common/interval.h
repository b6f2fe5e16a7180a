/*
 * interval: ISO 8601 time intervals "<start>/<end>" as the Polaris jobs API
 * takes them ("2022-07-01/2022-08-01"), for delete_data / restore_data.
 *
 * Each bound is either a date "YYYY-MM-DD" (midnight UTC) or an RFC 3339
 * date-time "YYYY-MM-DDTHH:MM:SS[.f](Z|±hh:mm)". The interval is half-open
 * [start, end) in Unix nanoseconds, as Polaris and Druid read it.
 * Refused with TSV_EINVALID and a message naming the problem: a missing
 * '/', an empty or malformed bound, an unbounded one (".." or empty side),
 * a duration bound ("P1M": not supported), start >= end (reversed or
 * empty interval).
 *
 * Thread-safety: reentrant. No allocation.
 */
#ifndef TSV_INTERVAL_H
#define TSV_INTERVAL_H

#include <stddef.h>
#include <stdint.h>

#include "tsv_error.h"

typedef struct tsv_interval {
    int64_t start_ns; /* inclusive */
    int64_t end_ns;   /* exclusive */
} tsv_interval;

/* Max length of a formatted interval (two RFC 3339 times and '/'). */
#define TSV_INTERVAL_MAX 82

int tsv_interval_parse(const char *text, size_t len, tsv_interval *out, tsv_error *err);
/* "<start>/<end>" in RFC 3339 nano UTC. out needs TSV_INTERVAL_MAX bytes. */
void tsv_interval_format(const tsv_interval *iv, char *out, size_t outlen);

#endif
