/*
 * be_writer: a growing buffer for binary records: big-endian integers and
 * length-prefixed strings. Out of memory is sticky (later writes do
 * nothing), so a record is written whole and checked once (`oom`).
 *
 * Ownership: `p` is malloc'd; tsv_bew_free releases it (the struct itself
 * is the caller's, zero-initialised). Thread-safety: one writer. Errors:
 * none per call; check `oom` at the end.
 */
#ifndef TSV_BE_WRITER_H
#define TSV_BE_WRITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct tsv_bew {
    uint8_t *p;
    size_t len, cap;
    int oom;
} tsv_bew;

void tsv_bew_put(tsv_bew *b, const void *p, size_t n);
void tsv_bew_u8(tsv_bew *b, uint8_t v);
void tsv_bew_u32(tsv_bew *b, uint32_t v);
void tsv_bew_u64(tsv_bew *b, uint64_t v);
/* u16 length + bytes (the length's low 16 bits: callers bound their strings). */
void tsv_bew_str16(tsv_bew *b, const char *s);
/* u32 length + bytes. */
void tsv_bew_bytes32(tsv_bew *b, const void *p, size_t n);
void tsv_bew_free(tsv_bew *b);

#endif
