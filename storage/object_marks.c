/* object_marks: the backend-independent helpers around corrupt marks
 * (object_store.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "object_store.h"
#include "tsv_time.h"

typedef struct load_ctx {
    tsv_objstore *os;
    tsv_objstore_marks *out;
    size_t cap;
} load_ctx;

static int load_fn(void *ctx, const tsv_objstore_mark *m, tsv_error *err)
{
    load_ctx *c = ctx;
    if (TSV_ARRAY_GROW(c->out->v, c->out->n, c->cap, err) != 0)
        return -1;
    tsv_objstore_mark *x = &c->out->v[c->out->n++];
    *x = *m;
    /* The object as it is now: files are recognised by its inode. */
    tsv_objstore_id now;
    tsv_error e;
    if (tsv_objstore_identity(c->os, m->hex, &now, &e) == 0)
        x->seen = now;
    return 0;
}

int tsv_objstore_marks_load(tsv_objstore *os, tsv_objstore_marks *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    load_ctx c = {os, out, 0};
    if (tsv_objstore_corrupt_list(os, load_fn, &c, err) != 0) {
        tsv_objstore_marks_clear(out);
        return -1;
    }
    return 0;
}

const tsv_objstore_mark *tsv_objstore_marks_match(const tsv_objstore_marks *m, uint64_t dev,
                                                  uint64_t ino)
{
    for (size_t i = 0; m && i < m->n; i++)
        if (m->v[i].seen.ino == ino && m->v[i].seen.dev == dev && ino != 0)
            return &m->v[i];
    return NULL;
}

void tsv_objstore_marks_clear(tsv_objstore_marks *m)
{
    if (!m)
        return;
    free(m->v);
    memset(m, 0, sizeof *m);
}

int tsv_objstore_corrupt_error(tsv_error *err, const tsv_objstore_mark *m, const char *what)
{
    char when[64];
    tsv_format_rfc3339nano(m->marked_ns, when, sizeof when);
    return tsv_error_set(err, TSV_EUNPROCESSABLE,
                         "%s: object %s was marked corrupt by verify at %s (%.160s); restore an "
                         "older version or upload a good copy",
                         what, m->hex, when, m->reason[0] ? m->reason : "no reason recorded");
}
