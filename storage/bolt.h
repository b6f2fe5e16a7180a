/*
 * bolt: read, validate and write bbolt (go.etcd.io/bbolt 1.3.6) files.
 *
 * Reader: tsv_bolt_open maps a file read-only and validates ALL of it before
 * returning (docs/formats.md#bolt-validation): size vs page size and high-water mark, both
 * metas (magic, version, FNV-1a checksum, fallback to the other meta as bbolt
 * does), page ids and flags, element bounds, key order within and across
 * pages, branch keys, inline buckets, no page reached twice, freelist
 * consistency, and reachable ∪ free ∪ {0,1} == [0, pgid). A truncated or
 * hostile file yields TSV_EINVALID with a message naming the page, never a
 * crash. tsv_bolt_walk then reports the tree in order.
 * Stricter than bbolt 1.3.6 on purpose; rejected are: a current meta with a
 * zero (unchecked) checksum, empty keys, leaf element flags other than 0/1,
 * branch pages without elements, empty leaves below a branch, a sub-bucket
 * inside an inline bucket, plain values in the root bucket, buckets nested
 * deeper than 64 or B+trees deeper than 40 levels. A file without a stored
 * freelist is accepted (its unreachable pages are free, as bbolt decides).
 * Memory: the read-only mmap of the file plus two bitmaps of one bit per
 * page during tsv_bolt_open; recursion is bounded by the limits above.
 *
 * Writer: tsv_bolt_write turns a tree source into a fresh, valid bbolt file,
 * emitted front to back through an output callback (so it can be an HTTP
 * body): a layout pass, then an emit pass. Memory is bounded by a few page
 * buffers plus the first keys of a bucket's leaves (see tsv_bolt_write),
 * never by value sizes.
 *
 * Errors: int 0/-1 with tsv_error; hostile input is TSV_EINVALID, a missing
 * file TSV_ENOTFOUND, system failures TSV_EINTERNAL. Thread-safety: a
 * tsv_bolt_file may be walked by one thread at a time. Ownership:
 * tsv_bolt_close frees the file; slices passed to visitor callbacks point
 * into the map and are valid until tsv_bolt_close.
 */
#ifndef TSV_BOLT_H
#define TSV_BOLT_H

#include <stddef.h>
#include <stdint.h>

#include "tsv_error.h"

typedef struct tsv_bolt_file tsv_bolt_file;

int tsv_bolt_open(tsv_bolt_file **out, const char *path, tsv_error *err);
void tsv_bolt_close(tsv_bolt_file *f);
uint64_t tsv_bolt_txid(const tsv_bolt_file *f);
uint64_t tsv_bolt_root_sequence(const tsv_bolt_file *f);
/* Page size and high-water mark (pages in use) of the current meta. */
uint64_t tsv_bolt_page_size(const tsv_bolt_file *f);
uint64_t tsv_bolt_high_water(const tsv_bolt_file *f);

/* Pre-order walk, keys in bolt order. For a nested bucket: bucket_begin,
 * then its contents, then bucket_end. Top-level buckets are depth 1.
 * A callback returning -1 stops the walk and its error is returned. */
typedef struct tsv_bolt_visitor {
    int (*bucket_begin)(void *ctx, const uint8_t *name, size_t len, uint64_t sequence,
                        tsv_error *err);
    int (*bucket_end)(void *ctx, tsv_error *err);
    int (*value)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                 tsv_error *err);
} tsv_bolt_visitor;
int tsv_bolt_walk(tsv_bolt_file *f, const tsv_bolt_visitor *v, void *ctx, tsv_error *err);

/* Tree source for the writer: a cursor over a bucket (handle 0 = root).
 * Entries come in strictly increasing key order; the pointers in an entry
 * stay valid until the next cursor_next on that cursor. The writer opens a
 * bucket's cursor more than once (layout and emit passes), so the source must
 * be a stable snapshot (e.g. one LMDB read transaction). */
typedef struct tsv_bolt_entry {
    const uint8_t *key;
    size_t klen;
    int is_bucket;
    const uint8_t *val;
    size_t vlen;
    uint64_t child; /* opaque bucket handle for cursor_open */
    uint64_t sequence;
} tsv_bolt_entry;

typedef struct tsv_bolt_source {
    void *ctx;
    int (*cursor_open)(void *ctx, uint64_t bucket, void **cursor, tsv_error *err);
    int (*cursor_next)(void *cursor, tsv_bolt_entry *e, tsv_error *err); /* 1, 0 end, -1 */
    void (*cursor_close)(void *cursor);
    uint64_t root_sequence;
} tsv_bolt_source;

typedef int (*tsv_bolt_out_fn)(void *octx, const void *buf, size_t len, tsv_error *err);

/* Writes a complete bbolt file (page size 4096, metas as Tx.WriteTo writes
 * them: meta 0 txid 2, meta 1 txid 1, so each sits on page txid % 2 like
 * bbolt's own commits; empty freelist on page 2). Returns the total bytes
 * written in *written (may be NULL); that is always high-water * 4096.
 *
 * Input rules, all checked in the layout pass before the first byte goes to
 * out (else TSV_EINVALID): keys 1..32768 bytes, strictly increasing per
 * bucket; values <= 2^31-2 bytes; the root holds only buckets; buckets nest
 * at most 64 deep. A source that differs between passes gives TSV_EINTERNAL,
 * possibly after part of the file was emitted (discard the output).
 * Memory: three 4 KiB buffers, a copy of the previous key and one 16-byte
 * summary per sub-bucket for each bucket on the current path, and the first
 * keys of the leaves of the bucket being laid out. Callback errors are
 * returned as they are. */
int tsv_bolt_write(const tsv_bolt_source *src, tsv_bolt_out_fn out, void *octx, uint64_t *written,
                   tsv_error *err);

#endif
