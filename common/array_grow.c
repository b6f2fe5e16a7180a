/* array_grow: doubling heap arrays (array_grow.h). */
#include "array_grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int tsv_array_grow(void *arrp, size_t *cap, size_t need, size_t elem, tsv_error *err)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need && ncap <= SIZE_MAX / 2)
        ncap *= 2;
    if (ncap < need || ncap > SIZE_MAX / elem)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    /* The pointer is read and written as bytes: arrp is a T **, not a void **. */
    void *old;
    memcpy(&old, arrp, sizeof old);
    void *p = realloc(old, ncap * elem);
    if (!p)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    memcpy(arrp, &p, sizeof p);
    *cap = ncap;
    return 0;
}
