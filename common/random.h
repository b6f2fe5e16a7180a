/*
 * random: unpredictable numbers (IDs, generation markers, temp-file names)
 * from the kernel's CSPRNG, getrandom(2).
 *
 * Errors: none reported; with no entropy source at all the process aborts,
 * since nothing safe can stand in. Thread-safety: thread-safe, no state.
 */
#ifndef TSV_RANDOM_H
#define TSV_RANDOM_H

#include <stdint.h>

/* Random 64-bit value from getrandom(2). */
uint64_t tsv_random_u64(void);

#endif
