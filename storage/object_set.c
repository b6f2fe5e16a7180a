/* object_set: a sorted set of object IDs for mark and sweep; see
 * object_store.h. */
#include "object_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"

int tsv_objset_add(tsv_objset *s, const char *hex, tsv_error *err)
{
    if (TSV_ARRAY_GROW(s->v, s->n, s->cap, err) != 0)
        return -1;
    snprintf(s->v[s->n++], TSV_OBJECT_HEX, "%s", hex);
    return 0;
}

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

void tsv_objset_sort(tsv_objset *s)
{
    if (s->n > 1)
        qsort(s->v, s->n, sizeof *s->v, cmp_id);
}

int tsv_objset_has(const tsv_objset *s, const char *hex)
{
    char key[TSV_OBJECT_HEX];
    /* The key is cut as the stored IDs are, so a longer string compares alike. */
    snprintf(key, sizeof key, "%s", hex);
    return s->n && bsearch(key, s->v, s->n, sizeof *s->v, cmp_id) != NULL;
}

void tsv_objset_clear(tsv_objset *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}
