/*
 * varint: unsigned base-128 varints as protobuf and Go's binary.Uvarint
 * write them (little-endian groups of 7 bits, high bit = more follows).
 *
 * tsv_uvarint_read reads one at b[*pos] (len bytes in b) and advances *pos.
 * Returns 0, -1 when b ends inside it, -2 when it is longer than 64 bits
 * (an 11th byte, or a 10th byte above 1), as Go refuses it.
 * Thread-safety: pure function. No allocation.
 */
#ifndef TSV_VARINT_H
#define TSV_VARINT_H

#include <stddef.h>
#include <stdint.h>

static inline int tsv_uvarint_read(const uint8_t *b, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*pos >= len)
            return -1;
        uint8_t c = b[(*pos)++];
        if (i == 9 && c > 1)
            return -2;
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -2;
}

#endif
