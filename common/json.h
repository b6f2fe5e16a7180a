/*
 * json: a small JSON parser (DOM in one arena) and a streaming-friendly writer.
 *
 * Parser: RFC 8259, UTF-8 validated, nesting depth capped (64), numbers kept
 * as their source text so uint64/int64 values are read exactly
 * (tsv_json_u64/i64 refuse fractions, exponents and overflow). Object member
 * lookup can be exact or ASCII case-insensitive (Go's encoding/json matches
 * keys case-insensitively, and InfluxDB clients rely on Go's behaviour).
 * Duplicate keys: lookup returns the last one, as Go does (for _ci: the last
 * key that matches ignoring ASCII case, which is the one Go would keep).
 * Strictness: no trailing commas, comments, leading zeros, NaN/Infinity or
 * single quotes; whitespace only after the root value. Unlike Go (which
 * substitutes U+FFFD) invalid UTF-8 and unpaired \uD800-\uDFFF escapes are
 * errors: tsvault only ever stores what it can give back byte-exactly.
 * The caller caps the input size; the parser allocates O(input) memory.
 * Errors: TSV_EINVALID with Go's wording plus the byte offset, e.g.
 * "invalid character 'x' looking for beginning of value at offset 12",
 * "unexpected end of JSON input at offset 40", "exceeded max depth 64 at
 * offset 64", "invalid UTF-8 in string literal at offset 7".
 *
 * Writer: appends to a tsv_buf producing exactly what Go's json.Marshal writes
 * for the same values (Go < 1.22; 1.22 also writes \b and \f as two-char
 * escapes): ", \ escaped; \n \r \t, other control chars as \u00xx;
 * <, >, & as \u003c \u003e \u0026; U+2028/U+2029 as \u2028/\u2029; each
 * invalid UTF-8 byte as \ufffd. Commas handled. With indent "\t" the layout
 * is json.MarshalIndent(v, "", "\t"): "{\n\t\"k\": v\n}", empty containers
 * as {} and [], no trailing newline. Misuse (value in an object without a key,
 * key outside an object, unbalanced end, nesting beyond 64) and allocation
 * failure set the sticky `failed`; tsv_jw_finish reports it.
 *
 * Ownership: tsv_json_parse returns a document; tsv_json_free frees it and
 * every node/string in it. Nodes are read-only. Thread-safety: a finished
 * document may be read from several threads; a writer belongs to one thread.
 * Error convention: tsv_error.h (0 / -1 with *err filled).
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
    const char *str; /* STRING: decoded UTF-8 (NUL-terminated, may contain NULs: use len);
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

/* Typed accessors: 0 ok, -1 with TSV_EINVALID naming `what` on wrong type/range,
 * e.g. "json: cannot unmarshal number 1.5 into rp.duration of type int64".
 * A NULL v (absent member) and JSON null are errors too. `what` may be NULL. */
int tsv_json_u64(const tsv_json *v, uint64_t *out, const char *what, tsv_error *err);
int tsv_json_i64(const tsv_json *v, int64_t *out, const char *what, tsv_error *err);
/* STRING only: *s (NUL-terminated, may contain NULs) and *len, owned by the doc. */
int tsv_json_string(const tsv_json *v, const char **s, size_t *len, const char *what,
                    tsv_error *err);
int tsv_json_bool(const tsv_json *v, int *out, const char *what, tsv_error *err);
/* "null", "bool", "number", "string", "array", "object" (Go's names). */
const char *tsv_json_type_name(tsv_json_type t);

/* Writer */
typedef struct tsv_json_writer {
    tsv_buf *buf;
    int need_comma[64];
    int depth;
    const char *indent;     /* NULL = compact; "\t" = Go's MarshalIndent("", "\t") style */
    int failed;             /* sticky allocation failure or misuse */
    int after_key;          /* a key was written; its value comes next */
    uint64_t object_levels; /* bit d set: the container at depth d is an object */
} tsv_json_writer;

void tsv_jw_init(tsv_json_writer *w, tsv_buf *buf, const char *indent);
void tsv_jw_object_begin(tsv_json_writer *w);
void tsv_jw_object_end(tsv_json_writer *w);
void tsv_jw_array_begin(tsv_json_writer *w);
void tsv_jw_array_end(tsv_json_writer *w);
void tsv_jw_key(tsv_json_writer *w, const char *key);
void tsv_jw_key_n(tsv_json_writer *w, const char *key, size_t n);  /* may hold NULs */
void tsv_jw_string(tsv_json_writer *w, const char *s);             /* NULL writes null */
void tsv_jw_string_n(tsv_json_writer *w, const char *s, size_t n); /* NULL writes null */
void tsv_jw_u64(tsv_json_writer *w, uint64_t v);
void tsv_jw_i64(tsv_json_writer *w, int64_t v);
void tsv_jw_bool(tsv_json_writer *w, int v);
void tsv_jw_null(tsv_json_writer *w);
/* A key and its value in one call: what most replies are made of. */
void tsv_jw_field_string(tsv_json_writer *w, const char *key, const char *s); /* NULL: null */
/* The string value formatted printf-style (up to 1023 bytes; longer is cut). */
void tsv_jw_field_stringf(tsv_json_writer *w, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tsv_jw_field_u64(tsv_json_writer *w, const char *key, uint64_t v);
void tsv_jw_field_i64(tsv_json_writer *w, const char *key, int64_t v);
void tsv_jw_field_bool(tsv_json_writer *w, const char *key, int v);
/* ns since the epoch as an RFC 3339 string with nanoseconds (tsv_time.h). */
void tsv_jw_field_time(tsv_json_writer *w, const char *key, int64_t ns);
/* Pre-encoded value, copied verbatim (not re-indented). */
void tsv_jw_raw(tsv_json_writer *w, const char *json);
/* Writes a parsed node (and everything below it) back out unchanged. */
void tsv_jw_node(tsv_json_writer *w, const tsv_json *v);
/* 0 if every write succeeded, else -1 with TSV_EINTERNAL. */
int tsv_jw_finish(tsv_json_writer *w, tsv_error *err);

#endif
