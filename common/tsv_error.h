/*
 * tsv_error: the one error convention of tsvault.
 *
 * Every fallible function returns int: 0 on success, -1 on failure, and fills
 * the caller's `tsv_error *err` (which may be NULL when the caller does not
 * care). The error carries an InfluxDB error code (the "code" string of
 * InfluxDB's JSON error body), the HTTP status that code maps to, and a
 * human-readable message. Functions that can "not find" something report
 * TSV_ENOTFOUND so callers can branch on it without parsing messages.
 *
 * Ownership: tsv_error is a plain value type (fixed-size message buffer); it
 * owns no heap memory and never needs freeing.
 * Thread-safety: a tsv_error belongs to the thread that passed it in.
 */
#ifndef TSV_ERROR_H
#define TSV_ERROR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum tsv_code {
    TSV_OK = 0,
    TSV_EINTERNAL,      /* "internal error"        500 */
    TSV_EINVALID,       /* "invalid"               400 */
    TSV_EEMPTY,         /* "empty value"           400 */
    TSV_ENOTFOUND,      /* "not found"             404 */
    TSV_ECONFLICT,      /* "conflict"              422 (InfluxDB's choice) */
    TSV_EUNPROCESSABLE, /* "unprocessable entity"  422 */
    TSV_EUNAUTHORIZED,  /* "unauthorized"          401 */
    TSV_EFORBIDDEN,     /* "forbidden"             403 */
    TSV_EMETHOD,        /* "method not allowed"    405 */
    TSV_ETOOLARGE,      /* "request too large"     413 */
    TSV_EUNAVAILABLE,   /* "unavailable"           503 */
    TSV_ENOTIMPL,       /* "not implemented"       501 */
    TSV_ETOOMANY,       /* "too many requests"     429 */
    TSV_ENOSPACE,       /* "unavailable"           507 (disk full) */
    TSV_EUNSUPPORTED,   /* "unsupported media type" 415 */
    TSV_EEXPECTATION,   /* "expectation failed"    417 (unknown Expect value) */
    TSV_ETIMEOUT,       /* "request timeout"       408 (client stalled) */
    TSV_ECODE_COUNT
} tsv_code;

#define TSV_ERROR_MSG_MAX 512

typedef struct tsv_error {
    tsv_code code;
    char message[TSV_ERROR_MSG_MAX];
} tsv_error;

/* Sets *err (if non-NULL) and returns -1, so callers can write
 * `return tsv_error_set(err, TSV_EINVALID, "bad id %s", s);` */
int tsv_error_set(tsv_error *err, tsv_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int tsv_error_vset(tsv_error *err, tsv_code code, const char *fmt, va_list ap);

/* Like tsv_error_set, appending ": strerror(errnum)". ENOSPC and EDQUOT map
 * to TSV_ENOSPACE whatever `code` says, so disk-full always reports 507. */
int tsv_error_set_errno(tsv_error *err, tsv_code code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefixes the existing message with "<prefix>: " (keeps the code). Returns -1. */
int tsv_error_wrap(tsv_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void tsv_error_clear(tsv_error *err);

/* The message as a client may see it. Messages keep the full detail for the
 * log (paths in the server's data directory, staging names); replies must
 * not reveal them. Every path that starts with `root` (the data directory,
 * as the server formats its paths) is rewritten: one under engine/data/
 * becomes "bucket <id>, shard <id>[, file <name>]" (names as inside a backup
 * archive), any other its last component. Paths the client sent (archive
 * member names) are left alone. Returns 1 if something was rewritten, 0 if
 * out is the message unchanged. */
int tsv_error_public_message(const char *message, const char *root, char *out, size_t outlen);

/* The InfluxDB "code" string and the HTTP status for a code. */
const char *tsv_code_string(tsv_code code);
int tsv_code_http_status(tsv_code code);

#endif
