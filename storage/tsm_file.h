/*
 * tsm_file: a read-only TSM file for readers of the data (export, stats):
 * header and footer checks, the index streamed key by key through a bounded
 * buffer (keys come in the file's sorted order), blocks read with pread and
 * CRC-checked, and the file's tombstone (docs/formats.md#tombstones) loaded so callers
 * can drop deleted values as InfluxDB's TSMReader does.
 *
 * Memory: a 64 KiB index buffer (grown only to hold one key record header),
 * one key's index entries (at most 65535 x 32 bytes), one block buffer (at
 * most TSV_TSM_MAX_BLOCK_BYTES), and the tombstone records (all of them,
 * like InfluxDB: a tombstone file records deletions, not data; capped at
 * TSM_FILE_MAX_TOMBSTONE_BYTES of keys).
 *
 * Errors: int 0/-1 with tsv_error: TSV_EINVALID "<path>: <what> at offset N"
 * for damaged files, TSV_EINTERNAL for I/O. Ownership: tsm_file_close frees
 * everything tsm_file_open allocated. Thread-safety: one thread per file.
 */
#ifndef TSV_TSM_FILE_H
#define TSV_TSM_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "tsv_error.h"

#define TSM_FILE_MAX_TOMBSTONE_BYTES ((size_t)256 << 20)

typedef struct tsm_entry {
    int64_t min, max;
    uint64_t off;
    uint32_t size;
} tsm_entry;

typedef struct tsm_tomb {
    const uint8_t *key;
    uint32_t klen;
    int64_t min, max;
} tsm_tomb;

typedef struct tsm_file {
    int fd;
    char path[4096];
    uint64_t size, index_start;
    /* index iteration */
    uint8_t *ibuf;
    size_t icap, istart, iend;
    uint64_t ipos; /* file offset of ibuf[istart] */
    /* the current key (valid after tsm_file_next_key returned 1) */
    uint8_t *key;
    size_t klen;
    unsigned type;
    tsm_entry *entries;
    size_t n, ecap;
    uint64_t key_offset; /* where its index record starts */
    /* block buffer */
    uint8_t *block;
    size_t bcap;
    /* tombstones, sorted by key then min */
    tsm_tomb *tombs;
    size_t ntombs;
    uint8_t *tomb_keys;
    uint64_t tomb_bytes;
    int has_tombstone;
} tsm_file;

/* Opens path (header, footer); with TSM_FILE_TOMBSTONE also loads
 * "GEN-SEQ.tombstone" next to it if present (validated with
 * tsv_tombstone_verify_fd first). */
#define TSM_FILE_TOMBSTONE 1u
int tsm_file_open(tsm_file *f, const char *path, unsigned flags, tsv_error *err);
void tsm_file_close(tsm_file *f);
/* Restarts the index walk at the first key. */
void tsm_file_rewind(tsm_file *f);
/* Advances to the next key: 1 and f->key/klen/type/entries/n set, 0 at the
 * end of the index, -1 on error. */
int tsm_file_next_key(tsm_file *f, tsv_error *err);
/* Reads the block of entry e, checks its CRC, and returns its data (after
 * the CRC) in *data and *len, valid until the next read. */
int tsm_file_read_block(tsm_file *f, const tsm_entry *e, const uint8_t **data, size_t *len,
                        tsv_error *err);
/* Reads up to `want` bytes of a block's data (after the CRC) without the CRC
 * check: for the timestamp count (stats). */
int tsm_file_peek_block(tsm_file *f, const tsm_entry *e, size_t want, const uint8_t **data,
                        size_t *len, tsv_error *err);

/* Tombstone ranges of a key: [*first, *first + *count) in f->tombs. */
void tsm_file_key_tombs(const tsm_file *f, const uint8_t *key, size_t klen, size_t *first,
                        size_t *count);
/* 1 if time t of that key is deleted by one of those ranges. */
static inline int tsm_tombs_cover(const tsm_tomb *t, size_t count, int64_t ts)
{
    for (size_t i = 0; i < count; i++)
        if (t[i].min <= ts && ts <= t[i].max)
            return 1;
    return 0;
}

/* Length of the series part of a TSM key (before "#!~#"; klen if none). */
size_t tsm_key_series_len(const uint8_t *key, size_t klen);
/* The measurement of a series key, unescaped ("\\," and "\\ " only, as
 * InfluxDB unescapes measurement names), NUL-terminated into out. */
size_t tsm_key_measurement(const uint8_t *key, size_t klen, char *out, size_t outlen);

/* Key comparison in TSM order (bytewise, shorter prefix first). */
int tsm_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

#endif
