/*
 * Unit tests for storage/tier_log (the log between checkpoints of the S3
 * tier) and the change logs under it (storage/lmdb_changelog): a checkpoint
 * of an onboarded store, then a KV write, an SQL restore (a new version and
 * its object in the catalogue) and a job record; the segment written from
 * the checkpoint's position, replayed onto the checkpoint's copy, gives the
 * live KV (entries, buckets, history), the live catalogue and the job
 * record. A segment out of order, damaged or truncated is refused with
 * nothing applied; a generation change needs a checkpoint; a checkpoint
 * trims the change logs it covers.
 */
#include "harness.h"
#include "store_fixture.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include "catalog.h"
#include "kv.h"
#include "kv_history.h"
#include "lmdb_changelog.h"
#include "restore.h"
#include "store.h"
#include "store_internal.h"
#include "stream.h"
#include "tenant.h"
#include "tier.h"
#include "tier_log.h"
#include "vault.h"

typedef struct objs {
    char hex[8][65];
    size_t n;
} objs;

static int objs_add(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    (void)size;
    (void)err;
    objs *o = ctx;
    assert_true(o->n < 8);
    snprintf(o->hex[o->n++], 65, "%s", hex);
    return 0;
}

static int count_change(void *ctx, const tsv_changelog_rec *r, tsv_error *err)
{
    (void)r;
    (void)err;
    (*(int *)ctx)++;
    return 0;
}

static int count_version(void *ctx, const tsv_version *v, tsv_error *err)
{
    (void)err;
    (*(int *)ctx) += 1 + (int)v->state * 100;
    return 0;
}

/* A fingerprint of a catalogue: versions, weighted by state. */
static int catalog_print(tsv_catalog *c)
{
    tsv_catalog_txn *t;
    int n = 0;
    OK(tsv_catalog_begin(c, 0, &t, &E));
    OK(tsv_catalog_foreach(t, count_version, &n, &E));
    tsv_catalog_abort(t);
    return n;
}

static void put_job(tsv_store *s, const char *id, const char *rec)
{
    tsv_kv_txn *t;
    OK(tsv_kv_begin(s->kv, 1, &t, &E));
    OK(tsv_kv_aux_put(t, TSV_KV_AUX_JOBS, id, strlen(id), rec, strlen(rec), &E));
    OK(tsv_kv_commit(t, &E));
}

static int write_segment(tsv_store *s, const tsv_tier_logpos *from, const char *path,
                         tsv_tier_logpos *to, uint64_t *records, objs *o)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    int rc = tsv_tier_log_write(s, from, "00000000000000000001", 1, "{\"x\":1}", fd, to, records,
                                objs_add, o, &E);
    close(fd);
    return rc;
}

static int apply(const char *ckpt, const char *path, tsv_tier_logpos *at)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    tsv_tier_log_replay *r;
    OK(tsv_tier_log_replay_begin(ckpt, &r, &E));
    int rc = tsv_tier_log_apply(r, fd, at, &E);
    tsv_tier_log_replay_end(r);
    close(fd);
    return rc;
}

static void test_segment_replay(void **state)
{
    (void)state;
    char data[PATH_MAX], ckpt[PATH_MAX], seg[PATH_MAX], sql[PATH_MAX];
    harness_at(data, "data");
    harness_at(ckpt, "ckpt");
    harness_at(seg, "seg");
    harness_at(sql, "one.sqlite");
    tsv_store *s;
    store_fixture_open(data, &s);
    tsv_tier_log_enable(s);
    tsv_setup_request req = {.username = "admin", .org = "org", .bucket = "first"};
    tsv_setup_result res;
    OK(tsv_store_setup(s, &req, &res, &E));
    store_fixture_restore_sql(s, sql, "CREATE TABLE t(x);");

    tsv_tier_change ch;
    OK(tsv_tier_checkpoint(s, ckpt, NULL, &ch, &E));
    assert_int_equal(ch.pos.gen, ch.gen);
    assert_true(ch.pos.catalog_seq > 0); /* the SQL version was logged */

    /* Nothing since the checkpoint: an empty segment. */
    tsv_tier_logpos to;
    uint64_t records = 9;
    objs o = {0};
    OK(write_segment(s, &ch.pos, seg, &to, &records, &o));
    assert_int_equal(records, 0);
    assert_int_equal(o.n, 0);

    /* A KV write, a new SQL version (catalogue + object), a job record. */
    tsv_org org;
    OK(tsv_store_org_create(s, "second", NULL, &org, &E));
    tsv_org_clear(&org);
    unlink(sql);
    store_fixture_restore_sql(s, sql, "CREATE TABLE u(y); INSERT INTO u VALUES(7);");
    put_job(s, "job-1", "{\"id\":\"job-1\"}");

    OK(write_segment(s, &ch.pos, seg, &to, &records, &o));
    assert_true(records >= 3);
    assert_true(o.n >= 1); /* the new SQL file's object (and the old one, now soft-deleted) */
    assert_true(to.catalog_seq > ch.pos.catalog_seq);
    assert_true(to.jobs_seq > ch.pos.jobs_seq);
    assert_true(memcmp(to.kv_key, ch.pos.kv_key, 12) > 0);

    /* Its header. */
    int fd = open(seg, O_RDONLY);
    tsv_tier_log_info info;
    OK(tsv_tier_log_read_info(fd, &info, &E));
    close(fd);
    assert_string_equal(info.checkpoint, "00000000000000000001");
    assert_int_equal(info.n, 1);
    assert_int_equal(info.records, records);
    assert_string_equal(info.extra, "{\"x\":1}");
    free(info.extra);

    /* Damaged (one byte) or truncated: refused, nothing applied. */
    char bad[PATH_MAX];
    harness_at(bad, "bad");
    size_t len;
    uint8_t *bytes = harness_read_bytes(seg, &len);
    bytes[len / 2] ^= 1;
    harness_write_bytes(bad, bytes, len);
    tsv_tier_logpos at = ch.pos;
    FAILS(apply(ckpt, bad, &at), TSV_EINVALID);
    assert_non_null(strstr(E.message, "damaged"));
    bytes[len / 2] ^= 1;
    harness_write_bytes(bad, bytes, len - 40);
    FAILS(apply(ckpt, bad, &at), TSV_EINVALID);
    free(bytes);
    assert_memory_equal(&at, &ch.pos, sizeof at);

    /* Not its turn (another start): refused. */
    tsv_tier_logpos other = ch.pos;
    other.catalog_seq++;
    FAILS(apply(ckpt, seg, &other), TSV_EINVALID);
    assert_non_null(strstr(E.message, "does not follow"));

    /* Replayed: the live KV, catalogue and job record. */
    OK(apply(ckpt, seg, &at));
    assert_memory_equal(&at, &to, sizeof at);
    FAILS(apply(ckpt, seg, &at), TSV_EINVALID); /* once only */

    char kvdir[PATH_MAX], catdir[PATH_MAX];
    harness_at(kvdir, "ckpt/kv");
    harness_at(catdir, "ckpt/catalog");
    tsv_kv *kv;
    OK(tsv_kv_open(&kv, kvdir, 0, &E));
    uint64_t e1, b1, e2, b2;
    OK(tsv_kv_stat(kv, &e1, &b1, &E));
    OK(tsv_kv_stat(s->kv, &e2, &b2, &E));
    assert_int_equal(e1, e2);
    assert_int_equal(b1, b2);
    tsv_kv_history_info h1, h2;
    OK(tsv_kv_history_info_get(kv, &h1, &E));
    OK(tsv_kv_history_info_get(s->kv, &h2, &E));
    assert_int_equal(h1.last_ns, h2.last_ns);
    assert_int_equal(h1.records, h2.records);
    tsv_kv_txn *t;
    const uint8_t *val;
    size_t vlen;
    OK(tsv_kv_begin(kv, 0, &t, &E));
    OK(tsv_kv_aux_get(t, TSV_KV_AUX_JOBS, "job-1", 5, &val, &vlen, &E));
    assert_int_equal(vlen, strlen("{\"id\":\"job-1\"}"));
    tsv_kv_abort(t);
    tsv_kv_close(kv);
    tsv_catalog *c;
    OK(tsv_catalog_open(&c, catdir, &E));
    assert_int_equal(catalog_print(c), catalog_print(s->vault->catalog));
    tsv_catalog_close(c);

    /* A second checkpoint trims what the first covers; the log goes on
     * from the second. */
    char ckpt2[PATH_MAX];
    harness_at(ckpt2, "ckpt2");
    tsv_tier_change ch2;
    OK(tsv_tier_checkpoint(s, ckpt2, &ch.pos, &ch2, &E));
    assert_int_equal(ch2.pos.catalog_seq, to.catalog_seq);
    o.n = 0;
    OK(write_segment(s, &ch2.pos, seg, &to, &records, &o));
    assert_int_equal(records, 0);
    {
        tsv_catalog_txn *ct;
        OK(tsv_catalog_begin(s->vault->catalog, 0, &ct, &E));
        /* Trimmed: nothing before the first checkpoint's position is left. */
        int n = 0;
        OK(tsv_catalog_changes_foreach(ct, 0, ch.pos.catalog_seq - 1, count_change, &n, &E));
        tsv_catalog_abort(ct);
        assert_int_equal(n, 0);
    }

    /* Another generation: the log cannot continue, a checkpoint is needed. */
    tsv_tier_logpos gen = ch2.pos;
    gen.gen++;
    FAILS(write_segment(s, &gen, seg, &to, &records, &o), TSV_ECONFLICT);
    tsv_store_close(s);
}

/* The position's text form. */
static void test_logpos_text(void **state)
{
    (void)state;
    tsv_tier_logpos p = {.catalog_seq = 12, .jobs_seq = 3, .kv_key = {1, 2, 3, 0xff}};
    char text[64];
    tsv_tier_logpos_format(&p, text);
    assert_string_equal(text, "12.3.010203ff0000000000000000");
    tsv_tier_logpos q = {0};
    assert_int_equal(tsv_tier_logpos_parse(text, strlen(text), &q), 0);
    assert_memory_equal(q.kv_key, p.kv_key, 12);
    assert_int_equal(q.catalog_seq, 12);
    assert_int_equal(q.jobs_seq, 3);
    const char *bad[] = {"",
                         "1.2",
                         "1.2.0102",
                         "x.2.010203ff0000000000000000",
                         "1.2.010203ff0000000000000000z",
                         "1.2.010203FF0000000000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(tsv_tier_logpos_parse(bad[i], strlen(bad[i]), &q), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_SCRATCH_TEST(test_segment_replay),
        cmocka_unit_test(test_logpos_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
