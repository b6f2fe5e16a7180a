/*
 * snappy_strings: decodes every string block of the TSM files given on the
 * command line many times, with tsvault's string-block decoder
 * (tsm_snappy_decode, storage/tsm_decode.h) and with Debian's libsnappy
 * straight through its C API, in the same run, alternating, and prints one
 * Markdown table row per decoder (median of the runs). Run by
 * tests/bench/snappy.sh; results in docs/benchmarks.md.
 *
 * usage: tsv_bench_snappy RUNS MIN_SECONDS FILE.tsm...
 * Each run decodes all blocks repeatedly for at least MIN_SECONDS (whole
 * passes), so small inputs are measured over many passes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tsm.h"
#include "tsm_decode.h"

typedef struct {
    const uint8_t *p; /* the snappy buffer (after the 0x10 encoding byte) */
    size_t n;
} sblock;

static sblock *blocks;
static size_t nblocks, capblocks;

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "snappy_strings: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Collects the value sections of the string blocks of one TSM file (the file
 * stays mapped for the whole run). Files are trusted to be valid here: the
 * bench only reads what tsvault's validator or influxd wrote. */
static void collect(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 13)
        die("cannot read %s", path);
    size_t size = (size_t)st.st_size;
    const uint8_t *f = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f == MAP_FAILED)
        die("cannot map %s", path);
    size_t i = (size_t)be(f + size - 8, 8);
    while (i < size - 8) {
        size_t klen = (size_t)be(f + i, 2);
        uint8_t type = f[i + 2 + klen];
        size_t count = (size_t)be(f + i + 3 + klen, 2);
        const uint8_t *e = f + i + 5 + klen;
        for (size_t k = 0; k < count && type == TSM_BLOCK_STRING; k++, e += 28) {
            const uint8_t *d = f + be(e + 16, 8) + 4; /* after the CRC */
            size_t len = (size_t)be(e + 24, 4) - 4;
            uint64_t tlen;
            int h = tsm_uvarint(d + 1, len - 1, &tlen);
            size_t v = 1 + (size_t)h + (size_t)tlen; /* value section */
            if (h <= 0 || v >= len || d[v] != 0x10)
                die("unexpected string block in %s", path);
            if (nblocks == capblocks) {
                capblocks = capblocks ? 2 * capblocks : 1024;
                blocks = realloc(blocks, capblocks * sizeof *blocks);
                if (!blocks)
                    die("out of memory%s", "");
            }
            blocks[nblocks++] = (sblock){d + v + 1, len - v - 1};
        }
        i += 5 + klen + 28 * count;
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static tsm_scratch scratch;
static char *libbuf;
static size_t libcap;

static void libbuf_reserve(size_t n)
{
    if (n <= libcap)
        return;
    libcap = n;
    if (!(libbuf = realloc(libbuf, libcap)))
        die("out of memory%s", "");
}

/* One pass over every block; returns the decoded bytes. */
static uint64_t pass_tsvault(void)
{
    uint64_t out = 0;
    char why[128];
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *d;
        size_t dl;
        if (tsm_snappy_decode(blocks[b].p, blocks[b].n, TSV_TSM_MAX_STRING_BYTES, &scratch, &d, &dl,
                              why, sizeof why) != TSM_DEC_OK)
            die("tsvault decoder refused a block: %s", why);
        out += dl;
    }
    return out;
}

/* libsnappy as tsvault would call it without its own checks around it:
 * length, then uncompress (which itself refuses corrupt input). */
static uint64_t pass_libsnappy(int validate)
{
    uint64_t out = 0;
    for (size_t b = 0; b < nblocks; b++) {
        const char *in = (const char *)blocks[b].p;
        size_t dl;
        if (snappy_uncompressed_length(in, blocks[b].n, &dl) != SNAPPY_OK)
            die("libsnappy: bad length%s", "");
        if (validate && snappy_validate_compressed_buffer(in, blocks[b].n) != SNAPPY_OK)
            die("libsnappy: invalid buffer%s", "");
        libbuf_reserve(dl ? dl : 1);
        size_t got = libcap;
        if (snappy_uncompress(in, blocks[b].n, libbuf, &got) != SNAPPY_OK || got != dl)
            die("libsnappy: uncompress failed%s", "");
        out += got;
    }
    return out;
}

static uint64_t run_one(int which)
{
    return which == 0 ? pass_tsvault() : pass_libsnappy(which == 2);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4)
        die("usage: tsv_bench_snappy RUNS MIN_SECONDS FILE.tsm...%s", "");
    int runs = atoi(argv[1]);
    double min_s = atof(argv[2]);
    if (runs < 1 || runs > 1000 || !(min_s > 0))
        die("bad RUNS or MIN_SECONDS%s", "");
    for (int i = 3; i < argc; i++)
        collect(argv[i]);
    if (nblocks == 0)
        die("no string blocks in the files given%s", "");

    uint64_t in = 0;
    for (size_t b = 0; b < nblocks; b++)
        in += blocks[b].n;

    /* Same output from both decoders, block by block. */
    char why[128];
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *d;
        size_t dl, got;
        if (tsm_snappy_decode(blocks[b].p, blocks[b].n, TSV_TSM_MAX_STRING_BYTES, &scratch, &d, &dl,
                              why, sizeof why) != TSM_DEC_OK)
            die("tsvault decoder refused a block: %s", why);
        libbuf_reserve(dl ? dl : 1);
        got = libcap;
        if (snappy_uncompress((const char *)blocks[b].p, blocks[b].n, libbuf, &got) != SNAPPY_OK ||
            got != dl || memcmp(d, libbuf, dl) != 0)
            die("the decoders disagree%s", "");
        if (b > 64)
            break; /* enough to catch a systematic difference */
    }

    static const char *const names[3] = {
        "tsvault `tsm_snappy_decode`",
        "libsnappy: `snappy_uncompressed_length` + `snappy_uncompress`",
        "libsnappy: the same + `snappy_validate_compressed_buffer`",
    };
    double *ns[3];
    uint64_t out = 0;
    for (int w = 0; w < 3; w++)
        if (!(ns[w] = calloc((size_t)runs, sizeof(double))))
            die("out of memory%s", "");
    for (int r = 0; r < runs; r++) {
        for (int w = 0; w < 3; w++) { /* alternating, so drift hits all three */
            uint64_t passes = 0;
            double t0 = now(), t;
            do {
                out = run_one(w);
                passes++;
            } while ((t = now() - t0) < min_s);
            ns[w][r] = t * 1e9 / (double)(passes * nblocks);
        }
    }
    printf("string blocks: %zu, snappy input %" PRIu64 " B, decoded %" PRIu64
           " B (ratio %.1f), runs %d x >= %.1f s each\n\n",
           nblocks, in, out, (double)out / (double)in, runs, min_s);
    printf("| decoder | ns per block (median) | decoded MB/s | speed vs tsvault |\n");
    printf("| --- | --- | --- | --- |\n");
    double base = 0;
    for (int w = 0; w < 3; w++) {
        qsort(ns[w], (size_t)runs, sizeof(double), cmp);
        double med = ns[w][runs / 2];
        if (w == 0)
            base = med;
        printf("| %s | %.0f | %.0f | %.2fx |\n", names[w], med,
               (double)out / (double)nblocks / med * 1e3, base / med);
        free(ns[w]);
    }
    tsm_scratch_free(&scratch);
    free(libbuf);
    free(blocks);
    return 0;
}
