/* tsm_trust: the set of validated TSM contents (tsm_trust.h). */
#include "tsm_trust.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "fsutil.h"

/* Lists are small (one line per TSM file of an archive); a bound keeps a
 * damaged file from costing memory. */
#define TRUST_FILE_MAX (64u * 1024 * 1024)

static int hex_ok(const char *s, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int tsv_tsm_trust_add(tsv_tsm_trust *t, const char *hex, tsv_error *err)
{
    if (!hex_ok(hex, strlen(hex)))
        return tsv_error_set(err, TSV_EINVALID, "not a SHA-256 hex digest");
    if (TSV_ARRAY_GROW(t->hex, t->n, t->cap, err) != 0)
        return -1;
    memcpy(t->hex[t->n++], hex, 65);
    t->sealed = 0;
    return 0;
}

static int cmp_hex(const void *a, const void *b) { return memcmp(a, b, 64); }

void tsv_tsm_trust_seal(tsv_tsm_trust *t)
{
    if (t->n > 1) {
        qsort(t->hex, t->n, sizeof *t->hex, cmp_hex);
        size_t k = 1;
        for (size_t i = 1; i < t->n; i++)
            if (memcmp(t->hex[i], t->hex[k - 1], 64) != 0)
                memcpy(t->hex[k++], t->hex[i], 65);
        t->n = k;
    }
    t->sealed = 1;
}

int tsv_tsm_trust_has(const tsv_tsm_trust *t, const char *hex)
{
    if (!t || !t->sealed || t->n == 0 || !hex_ok(hex, strlen(hex)))
        return 0;
    return bsearch(hex, t->hex, t->n, sizeof *t->hex, cmp_hex) != NULL;
}

void tsv_tsm_trust_clear(tsv_tsm_trust *t)
{
    free(t->hex);
    memset(t, 0, sizeof *t);
}

int tsv_tsm_trust_save(const tsv_tsm_trust *t, const char *path, tsv_error *err)
{
    size_t len = t->n * 65;
    char *buf = malloc(len ? len : 1);
    if (!buf)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    for (size_t i = 0; i < t->n; i++) {
        memcpy(buf + i * 65, t->hex[i], 64);
        buf[i * 65 + 64] = '\n';
    }
    int rc = tsv_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

int tsv_tsm_trust_load(tsv_tsm_trust *t, const char *path, tsv_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    if (tsv_read_file(path, TRUST_FILE_MAX, &buf, &len, err) != 0)
        return -1;
    int rc = 0;
    size_t off = 0;
    while (rc == 0 && off < len) {
        const char *nl = memchr(buf + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;
        char h[65];
        if (!hex_ok(buf + off, n)) {
            rc = tsv_error_set(err, TSV_EINVALID, "%s: damaged validation list", path);
            break;
        }
        memcpy(h, buf + off, 64);
        h[64] = '\0';
        rc = tsv_tsm_trust_add(t, h, err);
        off += n + 1;
    }
    free(buf);
    if (rc != 0) {
        tsv_tsm_trust_clear(t);
        return -1;
    }
    tsv_tsm_trust_seal(t);
    return 0;
}
