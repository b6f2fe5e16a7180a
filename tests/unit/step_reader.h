/*
 * step_reader: a tsv_reader over borrowed memory that hands out at most
 * `step` bytes a read, so parsers meet their input split at every place.
 * Shared by the unit tests (harness.h) and the fuzz harnesses, hence free
 * of cmocka. Kept on the stack (its free does nothing): pass &r.base.
 */
#ifndef TSV_TEST_STEP_READER_H
#define TSV_TEST_STEP_READER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "stream.h"

typedef struct step_reader {
    tsv_reader base;
    const uint8_t *p;
    size_t len, pos, step;
} step_reader;

static inline ssize_t step_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    (void)err;
    step_reader *s = (step_reader *)r;
    size_t k = s->len - s->pos;
    if (k > len)
        k = len;
    if (k > s->step)
        k = s->step;
    if (k)
        memcpy(buf, s->p + s->pos, k);
    s->pos += k;
    return (ssize_t)k;
}

static inline void step_free(tsv_reader *r) { (void)r; }

/* The len bytes at p, step (at least 1) bytes a read at most. */
static inline step_reader step_reader_of(const void *p, size_t len, size_t step)
{
    step_reader s = {{step_read, step_free}, p, len, 0, step};
    return s;
}

#endif
