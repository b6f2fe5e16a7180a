/*
 * tsv_time: RFC 3339 times, formatted byte-for-byte as Go formats them and
 * parsed strictly.
 *
 * Errors: tsv_parse_rfc3339 returns 0 or -1 with TSV_EINVALID. Thread-safety:
 * reentrant, no state. No ownership transfer: out buffers are the caller's.
 */
#ifndef TSV_TIME_H
#define TSV_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "tsv_error.h"

/* RFC 3339 with nanoseconds as Go's time.RFC3339Nano formats UTC
 * ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z"): out needs 40 bytes
 * (TSV_RFC3339_MAX); a shorter out gets a truncated, NUL-terminated string.
 * Every int64 (1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z)
 * formats correctly. */
#define TSV_RFC3339_MAX 40
void tsv_format_rfc3339nano(int64_t unix_ns, char *out, size_t outlen);
/* Parses RFC 3339: YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+hh:mm|-hh:mm). Like Go's
 * time.Parse(time.RFC3339, ...) 'T' and 'Z' must be upper case; unlike Go,
 * more than 9 fraction digits are refused rather than truncated. Ranges are
 * checked (day against the month, leap years included; no leap second 60;
 * offset hours < 24). Times outside int64 nanoseconds are TSV_EINVALID. */
int tsv_parse_rfc3339(const char *s, size_t len, int64_t *unix_ns, tsv_error *err);

#endif
