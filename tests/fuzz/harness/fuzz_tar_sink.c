/*
 * fuzz_tar_sink: a pulled shard's tar taken apart into objects
 * (storage/tar_sink.c), fed in chunks whose size the first byte picks.
 * Properties: a tar the sink accepts gives entries whose objects exist with
 * the recorded sizes; put back together by the tar source and taken apart
 * again it gives the same entries; the temp directory is empty afterwards,
 * whether the tar was accepted or not.
 */
#include "fuzz_util.h"
#include "object_store.h"
#include "stream.h"
#include "tar_objects.h"

static tsv_objstore *os;
static char tmp[600];

static int take_apart(const uint8_t *data, size_t size, size_t chunk, tsv_tar_sink **out)
{
    tsv_error err;
    FUZZ_CHECK(tsv_tar_sink_new(out, os, tmp, &err) == 0);
    tsv_writer *w = tsv_tar_sink_writer(*out);
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (tsv_write(w, data + off, n, &err) != 0)
            return -1;
    }
    return tsv_tar_sink_finish(*out, &err);
}

static int tmp_empty(void)
{
    DIR *d = opendir(tmp);
    FUZZ_CHECK(d != NULL);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!os) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/objects", fuzz_scratch());
        snprintf(tmp, sizeof tmp, "%s/tmp", fuzz_scratch());
        tsv_error err;
        FUZZ_CHECK(tsv_objstore_open_local(&os, dir, &err) == 0);
    }
    static const size_t chunks[8] = {1, 3, 511, 512, 513, 4096, 65536, 1 << 20};
    size_t chunk = chunks[data[0] & 7];
    tsv_tar_sink *s = NULL;
    int rc = take_apart(data + 1, size - 1, chunk, &s);
    if (rc == 0) {
        size_t n;
        const tsv_tar_entry *e = tsv_tar_sink_entries(s, &n);
        for (size_t i = 0; i < n; i++) {
            int exists = 0;
            uint64_t sz = 0;
            tsv_error err;
            FUZZ_CHECK(tsv_objstore_exists(os, e[i].hex, &exists, &sz, &err) == 0);
            FUZZ_CHECK(exists && sz == e[i].size);
        }
        /* round trip through the tar source */
        tsv_reader *r = NULL;
        tsv_error err;
        FUZZ_CHECK(tsv_tar_source_new(&r, os, e, n, &err) == 0 || err.code == TSV_EINVALID);
        if (r) {
            uint8_t *buf = NULL;
            size_t len = 0, cap = 0;
            ssize_t got;
            for (;;) {
                if (len + 65536 > cap) {
                    cap = cap ? cap * 2 : 1 << 17;
                    buf = realloc(buf, cap);
                    FUZZ_CHECK(buf != NULL);
                }
                got = tsv_read(r, buf + len, 65536, &err);
                if (got <= 0)
                    break;
                len += (size_t)got;
            }
            tsv_reader_free(r);
            /* names the source cannot write (too long) fail cleanly */
            if (got == 0) {
                tsv_tar_sink *s2 = NULL;
                FUZZ_CHECK(take_apart(buf, len, 4096, &s2) == 0);
                size_t n2;
                const tsv_tar_entry *e2 = tsv_tar_sink_entries(s2, &n2);
                FUZZ_CHECK(n2 == n);
                for (size_t i = 0; i < n; i++) {
                    FUZZ_CHECK(strcmp(e[i].name, e2[i].name) == 0);
                    FUZZ_CHECK(strcmp(e[i].hex, e2[i].hex) == 0);
                    FUZZ_CHECK(e[i].size == e2[i].size);
                }
                tsv_tar_sink_free(s2);
            } else {
                FUZZ_CHECK(err.code == TSV_EINVALID);
            }
            free(buf);
        }
    }
    tsv_tar_sink_free(s);
    FUZZ_CHECK(tmp_empty());
    return 0;
}
