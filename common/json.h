/*
 * json: a small JSON parser (DOM in one arena) and a streaming-friendly writer.
 *
 * Parser: RFC 8259, UTF-8 validated, nesting depth capped (64), numbers kept
 * as their source text so uint64/int64 values are read exactly
 * (tsv_json_u64/i64 refuse fractions, exponents and overflow). Object member
 * lookup can be exact or ASCII case-insensitive (Go's encoding/json matches
 * keys case-insensitively, and InfluxDB clients rely on Go's behaviour).
 * Duplicate keys: lookup returns the last one, as Go does.
 * Errors: TSV_EINVALID with a message like "invalid character 'x' at offset 12".
 *
 * Writer: appends to a tsv_buf with correct escaping (", \, control chars as
 * \u00XX, and <, >, & as \u003c etc. like Go's json.Marshal), commas handled.
 *
 * Ownership: tsv_json_parse returns a document; tsv_json_free frees it and
 * every node/string in it. Nodes are read-only. Thread-safety: none needed.
 */
#ifndef TSV_JSON_H
#define TSV_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

typedef enum tsv_json_type {
    TSV_JSON_NULL,
    TSV_JSON_BOOL,
    TSV_JSON_NUMBER,
    TSV_JSON_STRING,
    TSV_JSON_ARRAY,
    TSV_JSON_OBJECT,
} tsv_json_type;

typedef struct tsv_json tsv_json;
struct tsv_json {
    tsv_json_type type;
    const char *str;   /* STRING: decoded UTF-8 (NUL-terminated, may contain NULs: use len);
                          NUMBER: the literal text */
    size_t len;
    int boolean;
    size_t count;      /* ARRAY/OBJECT: number of items */
    tsv_json **items;  /* ARRAY: elements; OBJECT: values */
    const char **keys; /* OBJECT: member names (NUL-terminated) */
    size_t *key_lens;
};

typedef struct tsv_json_doc tsv_json_doc;

int tsv_json_parse(tsv_json_doc **out, const char *text, size_t len, tsv_error *err);
const tsv_json *tsv_json_root(const tsv_json_doc *doc);
void tsv_json_free(tsv_json_doc *doc);

/* Object member lookup; NULL if absent or obj is not an object. */
const tsv_json *tsv_json_get(const tsv_json *obj, const char *key);
const tsv_json *tsv_json_get_ci(const tsv_json *obj, const char *key);

/* Typed accessors: 0 ok, -1 with TSV_EINVALID naming `what` on wrong type/range. */
int tsv_json_u64(const tsv_json *v, uint64_t *out, const char *what, tsv_error *err);
int tsv_json_i64(const tsv_json *v, int64_t *out, const char *what, tsv_error *err);

/* Writer */
typedef struct tsv_json_writer {
    tsv_buf *buf;
    int need_comma[64];
    int depth;
    const char *indent; /* NULL = compact; "\t" = Go's MarshalIndent("", "\t") style */
    int failed;         /* sticky allocation failure */
} tsv_json_writer;

void tsv_jw_init(tsv_json_writer *w, tsv_buf *buf, const char *indent);
void tsv_jw_object_begin(tsv_json_writer *w);
void tsv_jw_object_end(tsv_json_writer *w);
void tsv_jw_array_begin(tsv_json_writer *w);
void tsv_jw_array_end(tsv_json_writer *w);
void tsv_jw_key(tsv_json_writer *w, const char *key);
void tsv_jw_string(tsv_json_writer *w, const char *s);
void tsv_jw_string_n(tsv_json_writer *w, const char *s, size_t n);
void tsv_jw_u64(tsv_json_writer *w, uint64_t v);
void tsv_jw_i64(tsv_json_writer *w, int64_t v);
void tsv_jw_bool(tsv_json_writer *w, int v);
void tsv_jw_null(tsv_json_writer *w);
void tsv_jw_raw(tsv_json_writer *w, const char *json); /* pre-encoded value */
/* 0 if every write succeeded, else -1 with TSV_EINTERNAL. */
int tsv_jw_finish(tsv_json_writer *w, tsv_error *err);

/* RFC 3339 with nanoseconds as Go's time.RFC3339Nano formats UTC
 * ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z"): out needs 40 bytes. */
void tsv_format_rfc3339nano(int64_t unix_ns, char *out, size_t outlen);
/* Parses RFC 3339 (Z or +hh:mm offset, optional fraction up to 9 digits). */
int tsv_parse_rfc3339(const char *s, size_t len, int64_t *unix_ns, tsv_error *err);

#endif
