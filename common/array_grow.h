/*
 * array_grow: room for one more element in a heap array that doubles as it
 * fills, the one growth rule of every list the code collects (records,
 * versions, shards, file names).
 *
 * Errors: tsv_error.h (TSV_EINTERNAL "out of memory", also when the size
 * would overflow). Thread-safety: none needed; it touches only its arguments.
 * Ownership: the array stays the caller's (free() it); on failure it is left
 * as it was, so the caller's cleanup frees what was collected.
 */
#ifndef TSV_ARRAY_GROW_H
#define TSV_ARRAY_GROW_H

#include <stddef.h>

#include "tsv_error.h"

/* arrp: the address of the array pointer (a T **, NULL array allowed with
 * *cap 0). Makes *cap at least need, doubling from 16, each element elem
 * bytes. 0, or -1 with err. */
int tsv_array_grow(void *arrp, size_t *cap, size_t need, size_t elem, tsv_error *err);

/* Room for arr[n] in an array of capacity cap (lvalues, updated). */
#define TSV_ARRAY_GROW(arr, n, cap, err) tsv_array_grow(&(arr), &(cap), (n) + 1, sizeof *(arr), err)

#endif
