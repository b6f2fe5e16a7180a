/*
 * test_export_lp: the line-protocol exporter (storage/export_lp.h) against
 * InfluxDB's own code, through the Go checker tests/tools/tsmcheck:
 *  - float formatting: 60,000 bit patterns (every exponent range, integers,
 *    short decimals, subnormals, specials) against Go's
 *    strconv.FormatFloat(v, 'g', -1, 64) (tsmcheck fmtfloat);
 *  - a whole export of tsm1-written files covering every block type and
 *    encoding (tsmcheck gen's edge keys: raw/packed/RLE timestamps and
 *    integers, unsigned extremes, special floats, empty/quoted/UTF-8
 *    strings, negative and extreme timestamps) against `tsmcheck export`,
 *    with and without time and measurement filters;
 *  - influxql.QuoteIdent rules for the header;
 *  - the value count from timestamp sections alone (tsm_values_count).
 */
#include "harness.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export_lp.h"
#include "tsm_file.h"
#include "tsm_values.h"

static const char *tool(void)
{
    const char *t = getenv("TSV_TSMCHECK");
    return t && access(t, X_OK) == 0 ? t : NULL;
}

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return harness_tmpdir(tmpdir, sizeof tmpdir, "export-test");
}

static int teardown(void **state)
{
    (void)state;
    return harness_rmtree(tmpdir);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_float_format_vs_go(void **state)
{
    (void)state;
    if (!tool())
        skip();
    char in[512], out[512], cmd[1400];
    snprintf(in, sizeof in, "%s/floats.in", tmpdir);
    snprintf(out, sizeof out, "%s/floats.out", tmpdir);
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    enum {
        N = 60000
    };
    uint64_t *bits = malloc(N * sizeof *bits);
    assert_non_null(bits);
    for (int i = 0; i < N; i++) {
        double d;
        switch (i % 6) {
        case 0:
            bits[i] = next();
            break; /* anything */
        case 1:
            d = (double)(int64_t)(next() % 100000000) / 100.0; /* 2 dp */
            memcpy(&bits[i], &d, 8);
            break;
        case 2:
            d = (double)(int64_t)(next() >> (next() % 64)); /* integers */
            memcpy(&bits[i], &d, 8);
            break;
        case 3:
            bits[i] = next() & 0x000fffffffffffffull; /* subnormals */
            break;
        case 4:
            d = ldexp(1.0, (int)(next() % 200) - 100) * (double)(next() % 1000); /* 2^k */
            memcpy(&bits[i], &d, 8);
            break;
        default: { /* decades */
            int e = (int)(next() % 50) - 25;
            d = 1.0;
            for (int k = 0; k < (e < 0 ? -e : e); k++)
                d = e < 0 ? d / 10.0 : d * 10.0;
        }
            if (next() & 1)
                d = -d;
            memcpy(&bits[i], &d, 8);
            break;
        }
        if (i < 8) {
            static const double special[8] = {0.0,  -0.0,     1.0,       1e21,
                                              1e20, 123456.0, 1234567.0, 0.0001};
            memcpy(&bits[i], &special[i], 8);
        }
        fprintf(f, "%016" PRIx64 "\n", bits[i]);
    }
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s' fmtfloat <'%s' >'%s'", tool(), in, out);
    assert_int_equal(system(cmd), 0);
    f = fopen(out, "r");
    assert_non_null(f);
    char want[64], got[64];
    int bad = 0;
    for (int i = 0; i < N; i++) {
        assert_non_null(fgets(want, sizeof want, f));
        want[strcspn(want, "\n")] = '\0';
        double d;
        memcpy(&d, &bits[i], 8);
        export_lp__format_float(d, got);
        if (strcmp(got, want) != 0 && bad++ < 10)
            print_error("bits %016" PRIx64 ": got %s, Go says %s\n", bits[i], got, want);
    }
    fclose(f);
    free(bits);
    assert_int_equal(bad, 0);
}

static void test_quote_ident(void **state)
{
    (void)state;
    char out[64];
    static const char *const cases[][2] = {
        {"fixture", "fixture"},
        {"autogen", "autogen"},
        {"0123abc", "\"0123abc\""},
        {"_x1", "_x1"},
        {"my-db", "\"my-db\""},
        {"select", "\"select\""},
        {"Duration", "\"Duration\""},
        {"true", "\"true\""},
        {"", "\"\""},
        {"a\"b", "\"a\\\"b\""},
        {"h\xc3\xa9", "\"h\xc3\xa9\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        export_lp__quote_ident(cases[i][0], out);
        assert_string_equal(out, cases[i][1]);
    }
}

static void run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("%s: exit %d", cmd, rc);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* Exports db/rp with our exporter and with tsmcheck; both must agree. */
static void compare_export(const char *filter_args, int64_t start, int64_t stop,
                           const char *const *meas, size_t n_meas)
{
    char dir1[600], dir2[600], want[600], cmd[4096];
    snprintf(dir1, sizeof dir1, "%s/data/db/rp/1", tmpdir);
    snprintf(dir2, sizeof dir2, "%s/data/db/rp/10", tmpdir);
    snprintf(want, sizeof want, "%s/want.lp", tmpdir);
    snprintf(cmd, sizeof cmd, "'%s' export -datadir '%s/data' -database db -retention rp %s >'%s'",
             tool(), tmpdir, filter_args, want);
    run(cmd);
    tsv_export_shard shards[2] = {{.id = 1, .dir = dir1}, {.id = 10, .dir = dir2}};
    tsv_export_rp rp = {.name = "rp", .shards = shards, .n_shards = 2};
    tsv_export_options o = {.database = "db",
                            .start = start,
                            .stop = stop,
                            .measurements = meas,
                            .n_measurements = n_meas};
    tsv_buf out = {0};
    tsv_writer *w = tsv_buf_writer_new(&out);
    tsv_export_result res;
    tsv_error err;
    int rc = tsv_export_lp(&rp, 1, &o, w, &res, &err);
    if (rc != 0)
        fail_msg("export: %s", err.message);
    tsv_writer_free(w);
    size_t wl;
    char *wp = slurp(want, &wl);
    if (wl != out.len || memcmp(wp, out.data, wl) != 0) {
        FILE *f = fopen("/tmp/tsv-export-test-got.lp", "wb");
        if (f) {
            fwrite(out.data, 1, out.len, f);
            fclose(f);
        }
        fail_msg("export (%s) differs from tsmcheck (%zu vs %zu bytes; see "
                 "/tmp/tsv-export-test-got.lp and %s)",
                 filter_args, out.len, wl, want);
    }
    assert_int_equal(res.files, 3);
    free(wp);
    tsv_buf_free(&out);
}

static void test_export_vs_tsm1(void **state)
{
    (void)state;
    if (!tool())
        skip();
    char cmd[4096];
    /* Shards 1 and 10: path order is "1/..." before "10/..." ('/' < '0'). */
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%1$s/data/db/rp/1' '%1$s/data/db/rp/10' && "
             "'%2$s' gen -out '%1$s/data/db/rp/1/000000001-000000001.tsm' -series 3 -points 2500 "
             "-block 1000 >/dev/null && "
             "'%2$s' gen -out '%1$s/data/db/rp/1/000000002-000000001.tsm' -edge=false -series 2 "
             "-points 10 -first-series 7 -start 2024-02-01T00:00:00Z >/dev/null && "
             "'%2$s' gen -out '%1$s/data/db/rp/10/000000001-000000001.tsm' -series 1 -points 5 "
             "-start 2023-06-01T00:00:00Z >/dev/null && "
             "'%2$s' tombstone -file '%1$s/data/db/rp/1/000000001-000000001.tsm' "
             "-key 'edge,enc=float#!~#walk' -min 1704067200000000000 -max 1704067200000100000",
             tmpdir, tool());
    run(cmd);
    compare_export("", INT64_MIN, INT64_MAX, NULL, 0);
    compare_export("-start 2024-01-01T00:00:10Z -end 2024-01-05T00:00:00Z", 1704067210000000000,
                   1704412800000000000, NULL, 0);
    const char *m[] = {"edge"};
    compare_export("-measurement edge", INT64_MIN, INT64_MAX, m, 1);
}

static void test_value_count(void **state)
{
    (void)state;
    if (!tool())
        skip();
    char path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/count.tsm", tmpdir);
    snprintf(cmd, sizeof cmd, "'%s' gen -out '%s' -series 2 -points 3000 -block 700 >/dev/null",
             tool(), path);
    run(cmd);
    tsm_file f;
    tsv_error err;
    assert_int_equal(tsm_file_open(&f, path, 0, &err), 0);
    tsm_values vals = {0};
    uint64_t blocks = 0;
    for (;;) {
        int r = tsm_file_next_key(&f, &err);
        assert_true(r >= 0);
        if (r == 0)
            break;
        for (size_t i = 0; i < f.n; i++) {
            const uint8_t *d;
            size_t len;
            char why[200];
            assert_int_equal(tsm_file_read_block(&f, &f.entries[i], &d, &len, &err), 0);
            assert_int_equal(tsm_values_decode(d, len, f.type, &vals, why, sizeof why), TSM_DEC_OK);
            assert_int_equal(vals.ts[0], f.entries[i].min);
            assert_int_equal(vals.ts[vals.n - 1], f.entries[i].max);
            uint64_t c;
            size_t need;
            assert_int_equal(tsm_values_count(d, len, &c, &need), TSM_DEC_OK);
            assert_int_equal(c, vals.n);
            blocks++;
        }
    }
    assert_true(blocks > 30);
    tsm_values_free(&vals);
    tsm_file_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float_format_vs_go),
        cmocka_unit_test(test_quote_ident),
        cmocka_unit_test(test_export_vs_tsm1),
        cmocka_unit_test(test_value_count),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
