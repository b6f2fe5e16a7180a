/*
 * Unit tests for storage/tier (the data directory's side of the S3 tier):
 * the copied set and the pending objects (oldest first), the tier identity,
 * opening a local object, what counts as a change, checkpoints and the
 * objects a checkpoint's catalogue needs, which directories may be recovered
 * into, and a recovery installed from a checkpoint into a second, empty data
 * directory that then opens with the same shard files, SQL file and KV.
 * The content is real: an onboarded store, a bucket restored from a
 * manifest, shard 1 of the InfluxDB 1.6 fixture and a small SQLite file.
 */
#include "harness.h"
#include "store_fixture.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "engine.h"
#include "object_store.h"
#include "restore.h"
#include "store.h"
#include "store_internal.h"
#include "stream.h"
#include "tenant.h"
#include "tier.h"
#include "vault.h"

/* ---- helpers ------------------------------------------------------------ */

static tsv_objstore *objects_of(tsv_store *s) { return s->vault->objects; }

/* A set of object names (hex) with sizes. */
typedef struct objset {
    tsv_tier_object v[64];
    size_t n;
    int dup; /* a name came twice */
} objset;

static int objset_add(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    (void)err;
    objset *o = ctx;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->v[i].hex, hex) == 0)
            o->dup = 1;
    assert_true(o->n < 64);
    assert_int_equal(strlen(hex), 64);
    snprintf(o->v[o->n].hex, sizeof o->v[o->n].hex, "%s", hex);
    o->v[o->n].size = size;
    o->n++;
    return 0;
}

static int objset_has(const objset *o, const char *hex)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->v[i].hex, hex) == 0)
            return 1;
    return 0;
}

/* Same names (and sizes) in any order. */
static void assert_same_set(const objset *a, const objset *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        size_t j = 0;
        while (j < b->n && strcmp(a->v[i].hex, b->v[j].hex) != 0)
            j++;
        if (j == b->n)
            fail_msg("object %s missing", a->v[i].hex);
        assert_int_equal(a->v[i].size, b->v[j].size);
    }
}

static void local_objects(tsv_store *s, objset *o)
{
    memset(o, 0, sizeof *o);
    OK(tsv_objstore_list(objects_of(s), objset_add, o, &E));
    assert_int_equal(o->dup, 0);
}

/* Stores `text` as an object whose file has the mtime `sec` (s since the
 * epoch); its name into hex. */
static void put_object_at(tsv_store *s, const char *text, time_t sec, char *hex)
{
    harness_str_reader r = harness_reader_of(text);
    uint64_t size;
    int created;
    OK(tsv_objstore_put(objects_of(s), &r.base, NULL, hex, &size, &created, &E));
    assert_int_equal(created, 1);
    char p[PATH_MAX];
    harness_path(p, s->vault->objects_dir, "%.2s/%s", hex, hex);
    struct timespec ts[2] = {{sec, 0}, {sec, 0}};
    assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static void assert_file_equal(const char *a, const char *b)
{
    size_t na, nb;
    uint8_t *pa = harness_read_bytes(a, &na), *pb = harness_read_bytes(b, &nb);
    if (na != nb || memcmp(pa, pb, na) != 0)
        fail_msg("%s and %s differ (%zu and %zu bytes)", a, b, na, nb);
    free(pa);
    free(pb);
}

static int count_orgs(void *ctx, const tsv_org *org, tsv_error *err)
{
    (void)org;
    (void)err;
    (*(int *)ctx)++;
    return 0;
}

static int orgs(tsv_store *s)
{
    int n = 0;
    OK(tsv_store_orgs_list(s, NULL, count_orgs, &n, &E));
    return n;
}

/* What make_content put in. */
typedef struct content {
    char bucket_id[17];
    uint64_t shard_id;
    char shard_dir[PATH_MAX]; /* relative to the data directory */
} content;

/* Onboarding, a bucket restored from a manifest with one shard, that shard
 * restored from the fixture's shard 1, and an SQL store. */
static void make_content(tsv_store *s, const char *scratch, content *out)
{
    tsv_setup_request req = {.username = "admin", .org = "org", .bucket = "first"};
    tsv_setup_result res;
    OK(tsv_store_setup(s, &req, &res, &E));

    char json[1024];
    snprintf(json, sizeof json,
             "{\"organizationID\":\"%s\",\"organizationName\":\"org\","
             "\"bucketID\":\"0a1b2c3d4e5f6071\",\"bucketName\":\"restored\","
             "\"defaultRetentionPolicy\":\"autogen\",\"retentionPolicies\":[{\"name\":"
             "\"autogen\",\"replicaN\":1,\"duration\":0,\"shardGroupDuration\":"
             "604800000000000,\"shardGroups\":[{\"id\":1,\"startTime\":"
             "\"2024-01-01T00:00:00Z\",\"endTime\":\"2024-01-08T00:00:00Z\",\"shards\":[{"
             "\"id\":1,\"shardOwners\":[]}]}],\"subscriptions\":[]}]}",
             res.org_id);
    tsv_bucket_restore_result br = {0};
    OK(tsv_store_restore_bucket_manifest(s, json, strlen(json), &br, &E));
    assert_int_equal(br.count, 1);
    snprintf(out->bucket_id, sizeof out->bucket_id, "%s", br.bucket_id);
    out->shard_id = br.mappings[0].new_id;
    tsv_bucket_restore_result_clear(&br);
    snprintf(out->shard_dir, sizeof out->shard_dir, "state/engine/data/%s/autogen/%" PRIu64,
             out->bucket_id, out->shard_id);

    char tar[PATH_MAX];
    harness_path(tar, scratch, "s1.tar");
    harness_gunzip_to(SHARD1_TAR, tar);
    size_t len;
    uint8_t *bytes = harness_read_bytes(tar, &len);
    tsv_reader *r = tsv_mem_reader_new(bytes, len);
    OK(tsv_store_restore_shard(s, out->shard_id, r, &E));
    tsv_reader_free(r);
    free(bytes);

    char sql[PATH_MAX];
    harness_path(sql, scratch, "one.sqlite");
    store_fixture_restore_sql(s, sql, "CREATE TABLE t(x); INSERT INTO t VALUES(42);");
}

/* ---- copied set, pending, identity, local objects ------------------------ */

static void test_pending_and_copied(void **state)
{
    (void)state;
    char data[PATH_MAX];
    tsv_store *s = store_fixture_open_at(data, "data");
    tsv_tier_state *ts;
    OK(tsv_tier_state_open(&ts, data, &E));
    assert_true(harness_exists("data/tier/data.mdb"));

    /* A fresh store already has its KV as an object: pending, nothing copied. */
    objset before;
    local_objects(s, &before);
    assert_true(before.n >= 1);
    tsv_tier_object *p;
    size_t n;
    OK(tsv_tier_pending(s, ts, &p, &n, &E));
    assert_int_equal(n, before.n);
    free(p);

    /* Three objects, stored in an order that is neither their age nor
     * their names' order; all older than the store's own. */
    char one[TSV_OBJECT_HEX], two[TSV_OBJECT_HEX], three[TSV_OBJECT_HEX];
    put_object_at(s, "one", 1600000200, one);
    put_object_at(s, "two!", 1600000300, two);
    put_object_at(s, "three", 1600000100, three);
    OK(tsv_tier_pending(s, ts, &p, &n, &E));
    assert_int_equal(n, before.n + 3);
    assert_string_equal(p[0].hex, three);
    assert_int_equal(p[0].size, 5);
    assert_int_equal(p[0].mtime_ns, 1600000100LL * 1000000000LL);
    assert_string_equal(p[1].hex, one);
    assert_int_equal(p[1].size, 3);
    assert_string_equal(p[2].hex, two);
    assert_int_equal(p[2].size, 4);
    assert_int_equal(p[2].mtime_ns, 1600000300LL * 1000000000LL);
    for (size_t i = 1; i < n; i++)
        assert_true(p[i - 1].mtime_ns <= p[i].mtime_ns);
    for (size_t i = 3; i < n; i++)
        assert_true(objset_has(&before, p[i].hex));

    /* Copied ones leave the queue, and stay out of it across a reopen. */
    int copied = -1;
    OK(tsv_tier_is_copied(ts, one, &copied, &E));
    assert_int_equal(copied, 0);
    OK(tsv_tier_mark_copied(ts, p, 2, &E)); /* three, one */
    OK(tsv_tier_mark_copied(ts, p, 0, &E));
    free(p);
    OK(tsv_tier_is_copied(ts, one, &copied, &E));
    assert_int_equal(copied, 1);
    OK(tsv_tier_is_copied(ts, three, &copied, &E));
    assert_int_equal(copied, 1);
    OK(tsv_tier_is_copied(ts, two, &copied, &E));
    assert_int_equal(copied, 0);
    OK(tsv_tier_pending(s, ts, &p, &n, &E));
    assert_int_equal(n, before.n + 1);
    assert_string_equal(p[0].hex, two);
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(p[i].hex, one);
        assert_string_not_equal(p[i].hex, three);
    }

    /* The identity: 32 lowercase hex digits, the same after a reopen. */
    char id[33];
    snprintf(id, sizeof id, "%s", tsv_tier_state_id(ts));
    assert_int_equal(strlen(id), 32);
    assert_int_equal(strspn(id, "0123456789abcdef"), 32);
    tsv_tier_state_close(ts);
    OK(tsv_tier_state_open(&ts, data, &E));
    assert_string_equal(tsv_tier_state_id(ts), id);
    OK(tsv_tier_is_copied(ts, one, &copied, &E));
    assert_int_equal(copied, 1);
    /* Everything copied: nothing pending (an empty list, not an error). */
    OK(tsv_tier_mark_copied(ts, p, n, &E));
    free(p);
    OK(tsv_tier_pending(s, ts, &p, &n, &E));
    assert_int_equal(n, 0);
    free(p);
    /* Forgotten (deleted from the remote store): pending again. */
    OK(tsv_tier_forget(ts, one, &E));
    OK(tsv_tier_forget(ts, one, &E)); /* twice: not an error */
    OK(tsv_tier_is_copied(ts, one, &copied, &E));
    assert_int_equal(copied, 0);
    OK(tsv_tier_pending(s, ts, &p, &n, &E));
    assert_int_equal(n, 1);
    assert_string_equal(p[0].hex, one);
    OK(tsv_tier_mark_copied(ts, p, n, &E));
    free(p);
    /* An object collected by the GC is simply no longer pending; a copied
     * mark of an object that is gone does no harm. */
    OK(tsv_objstore_delete(objects_of(s), two, &E));
    OK(tsv_tier_pending(s, ts, &p, &n, &E));
    assert_int_equal(n, 0);
    free(p);
    tsv_tier_state_close(ts);

    /* Another data directory gets another identity. */
    char other[PATH_MAX];
    harness_at(other, "other");
    OK(tsv_tier_state_open(&ts, other, &E));
    assert_string_not_equal(tsv_tier_state_id(ts), id);
    tsv_tier_state_close(ts);

    /* tsv_store_object_open: the bytes, the size; missing and bad names. */
    int fd = -1;
    uint64_t size = 0;
    OK(tsv_store_object_open(s, one, &fd, &size, &E));
    assert_int_equal(size, 3);
    char buf[8] = {0};
    assert_int_equal(read(fd, buf, sizeof buf), 3);
    assert_string_equal(buf, "one");
    assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
    close(fd);
    OK(tsv_store_object_open(s, three, &fd, NULL, &E));
    close(fd);
    FAILS(tsv_store_object_open(s, two, &fd, &size, &E), TSV_ENOTFOUND);
    assert_non_null(strstr(E.message, "is not in the local store"));
    FAILS(tsv_store_object_open(s, "../../etc/passwd", &fd, &size, &E), TSV_EINVALID);
    assert_non_null(strstr(E.message, "invalid object name \"../../etc/passwd\""));
    char upper[TSV_OBJECT_HEX];
    snprintf(upper, sizeof upper, "%s", one);
    for (char *c = upper; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    FAILS(tsv_store_object_open(s, upper, &fd, &size, &E), TSV_EINVALID);
    FAILS(tsv_store_object_open(s, "abc", &fd, &size, &E), TSV_EINVALID);
    tsv_store_close(s);
}

/* ---- changes and checkpoints --------------------------------------------- */

static int changes_equal(const tsv_tier_change *a, const tsv_tier_change *b)
{
    return a->kv_txn == b->kv_txn && a->catalog_txn == b->catalog_txn && a->gen == b->gen;
}

static void test_change_and_checkpoint(void **state)
{
    (void)state;
    char data[PATH_MAX];
    tsv_store *s = store_fixture_open_at(data, "data");
    content ct;
    make_content(s, harness_scratch, &ct);

    tsv_tier_change a, b, c;
    tsv_tier_change_now(s, &a);
    assert_int_not_equal(a.gen, 0);
    assert_int_not_equal(a.kv_txn, 0);
    assert_int_not_equal(a.catalog_txn, 0);
    /* Reads change nothing. */
    assert_int_equal(orgs(s), 1);
    tsv_tier_change_now(s, &b);
    assert_true(changes_equal(&a, &b));
    /* A KV write does. */
    tsv_org org;
    OK(tsv_store_org_create(s, "second", NULL, &org, &E));
    tsv_org_clear(&org);
    tsv_tier_change_now(s, &b);
    assert_true(b.kv_txn > a.kv_txn);
    assert_int_equal(b.gen, a.gen);
    assert_false(changes_equal(&a, &b));

    /* A checkpoint: both files, covering the state now. */
    char ckpt[PATH_MAX];
    harness_at(ckpt, "ckpt");
    OK(tsv_tier_checkpoint(s, ckpt, NULL, &c, &E));
    assert_true(changes_equal(&b, &c));
    assert_true(harness_exists("ckpt/catalog/data.mdb"));
    assert_true(harness_exists("ckpt/kv/data.mdb"));
    /* Into an existing checkpoint: refused, not overwritten. */
    tsv_error_clear(&E);
    assert_int_equal(tsv_tier_checkpoint(s, ckpt, NULL, &c, &E), -1);

    /* Its catalogue needs exactly the local objects (all are in use or
     * kept), each reported once. */
    objset need = {0}, local;
    char cat[PATH_MAX];
    harness_at(cat, "ckpt/catalog");
    OK(tsv_tier_catalog_objects(cat, 0, objset_add, &need, &E));
    assert_int_equal(need.dup, 0);
    local_objects(s, &local);
    assert_same_set(&need, &local);
    /* Shard files, the SQL file and the KV: at least four objects. */
    assert_true(need.n >= 4);
    char tsm[PATH_MAX], hex[TSV_OBJECT_HEX];
    uint64_t size;
    harness_path(tsm, data, "%s/%s", ct.shard_dir, TSM1);
    OK(tsv_sha256_file(tsm, hex, &size, &E));
    assert_true(objset_has(&need, hex));
    tsv_store_close(s);

    /* A catalogue that is not there is an error, not an empty one (and
     * none is created). */
    char nowhere[PATH_MAX];
    harness_at(nowhere, "nowhere/catalog");
    objset none = {0};
    FAILS(tsv_tier_catalog_objects(nowhere, 0, objset_add, &none, &E), TSV_ENOTFOUND);
    assert_non_null(strstr(E.message, "no catalogue at"));
    assert_int_equal(none.n, 0);
    assert_false(harness_exists("nowhere/catalog/data.mdb"));
}

/* A catalogue made by hand: purged versions need nothing, an object listed
 * by several versions or files is reported once, a callback's failure
 * stops the walk. */
#define OBJ_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define OBJ_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define OBJ_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define OBJ_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

static void put_version(tsv_catalog_txn *t, uint64_t version, tsv_version_state st,
                        const char *obj1, const char *obj2)
{
    tsv_version v;
    memset(&v, 0, sizeof v);
    snprintf(v.slot.bucket, sizeof v.slot.bucket, "0123456789abcdef");
    snprintf(v.slot.rp, sizeof v.slot.rp, "autogen");
    v.slot.start_ns = 0;
    v.slot.end_ns = 10;
    v.version = version;
    v.state = st;
    v.shard_id = 7;
    OK(tsv_version_add_file(&v, TSM1, obj1, 11, &E));
    if (obj2)
        OK(tsv_version_add_file(&v, TSM2, obj2, 22, &E));
    OK(tsv_catalog_put(t, &v, &E));
    tsv_version_clear(&v);
}

static int fail_on_second(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    (void)hex;
    (void)size;
    if (++*(int *)ctx == 2)
        return tsv_error_set(err, TSV_ENOSPACE, "stop here");
    return 0;
}

static void test_catalog_objects(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    harness_at(dir, "catalog");
    tsv_catalog *c;
    tsv_catalog_txn *t;
    OK(tsv_catalog_open(&c, dir, &E));
    OK(tsv_catalog_begin(c, 1, &t, &E));
    put_version(t, 1, TSV_VERSION_SOFT_DELETED, OBJ_B, OBJ_A);
    put_version(t, 2, TSV_VERSION_IN_USE, OBJ_A, OBJ_A);
    put_version(t, 3, TSV_VERSION_PURGED, OBJ_D, OBJ_C);
    put_version(t, 4, TSV_VERSION_PURGED, OBJ_A, NULL);
    OK(tsv_catalog_commit(t, &E));
    tsv_catalog_close(c);
    objset got = {0};
    OK(tsv_tier_catalog_objects(dir, 0, objset_add, &got, &E));
    assert_int_equal(got.dup, 0);
    assert_int_equal(got.n, 2);
    /* In name order. */
    assert_string_equal(got.v[0].hex, OBJ_A);
    assert_string_equal(got.v[1].hex, OBJ_B);
    assert_int_equal(got.v[1].size, 11);
    /* In use only (a lazy recovery): version 2's object, once. */
    objset in_use = {0};
    OK(tsv_tier_catalog_objects(dir, 1, objset_add, &in_use, &E));
    assert_int_equal(in_use.n, 1);
    assert_string_equal(in_use.v[0].hex, OBJ_A);
    int calls = 0;
    FAILS(tsv_tier_catalog_objects(dir, 0, fail_on_second, &calls, &E), TSV_ENOSPACE);
    assert_int_equal(calls, 2);
    /* An empty catalogue needs nothing. */
    char empty[PATH_MAX];
    harness_at(empty, "empty");
    OK(tsv_catalog_open(&c, empty, &E));
    tsv_catalog_close(c);
    memset(&got, 0, sizeof got);
    OK(tsv_tier_catalog_objects(empty, 0, objset_add, &got, &E));
    assert_int_equal(got.n, 0);
}

/* ---- recovery -------------------------------------------------------------- */

/* Fails unless tsv_tier_recover_target_ok says want of the directory rel
 * of the scratch directory. */
static void target_ok(const char *rel, int want)
{
    char d[PATH_MAX];
    harness_at(d, "%s", rel);
    int got = tsv_tier_recover_target_ok(d);
    if (got != want)
        fail_msg("recover_target_ok(%s) = %d, want %d", rel, got, want);
}

static void test_recover_target_ok(void **state)
{
    (void)state;
    target_ok("absent", 1);
    harness_put("empty/.keep", "");
    target_ok("empty", 1);
    /* Objects and a tier state alone (a recovery still downloading). */
    harness_put("objs/objects/ab/x", "");
    harness_put("objs/tier/data.mdb", "");
    target_ok("objs", 1);
    harness_put("live/state/.tsv-gen", "0000000000000001\n");
    target_ok("live", 0);
    harness_put("cat/catalog/data.mdb", "");
    target_ok("cat", 0);
    /* An interrupted recovery may run again... */
    harness_put("cat/tier/recovering", "0000000000000001\n");
    target_ok("cat", 1);
    /* ...but not once state/ is in place. */
    harness_put("live/tier/recovering", "0000000000000001\n");
    target_ok("live", 0);
}

/* Copies object `hex` from another data directory's objects (a download). */
typedef struct copy_ctx {
    const char *src_objects;
    const char *hex;
} copy_ctx;

static int copy_fill(void *ctx, int fd, tsv_error *err)
{
    (void)err;
    copy_ctx *c = ctx;
    char p[PATH_MAX];
    harness_path(p, c->src_objects, "%.2s/%s", c->hex, c->hex);
    size_t len;
    uint8_t *b = harness_read_bytes(p, &len);
    assert_int_equal(write(fd, b, len), (ssize_t)len);
    free(b);
    return 0;
}

/* A download that breaks off after some bytes. */
static int failing_fill(void *ctx, int fd, tsv_error *err)
{
    (void)ctx;
    assert_int_equal(write(fd, "part", 4), 4);
    return tsv_error_set(err, TSV_EUNAVAILABLE, "connection reset");
}

/* "Downloads" into data_dir/objects every object of need but `skip`
 * (NULL: none), through tsv_tier_fetch_object as the recovery does. */
static void fetch_objects(const char *data_dir, const char *src_objects, const objset *need,
                          const char *skip)
{
    char objdir[PATH_MAX], scratch[PATH_MAX];
    harness_path(objdir, data_dir, "objects");
    tsv_objstore *os;
    OK(tsv_objstore_open_local(&os, objdir, &E));
    OK(tsv_tier_scratch_create(data_dir, "recover", scratch, sizeof scratch, &E));
    for (size_t i = 0; i < need->n; i++) {
        if (skip && strcmp(need->v[i].hex, skip) == 0)
            continue;
        copy_ctx c = {src_objects, need->v[i].hex};
        OK(tsv_tier_fetch_object(os, scratch, need->v[i].hex, copy_fill, &c, &E));
    }
    /* A failed download adopts nothing and leaves no file behind. */
    FAILS(tsv_tier_fetch_object(os, scratch, OBJ_A, failing_fill, NULL, &E), TSV_EUNAVAILABLE);
    int exists = 1;
    OK(tsv_objstore_exists(os, OBJ_A, &exists, NULL, &E));
    assert_int_equal(exists, 0);
    FAILS(tsv_tier_fetch_object(os, scratch, "../x", failing_fill, NULL, &E), TSV_EINVALID);
    /* Nothing left behind in the scratch directory. */
    assert_int_equal(harness_count_entries(scratch), 0);
    tsv_tier_scratch_remove(scratch);
    assert_false(tsv_path_exists(scratch));
    tsv_objstore_close(os);
}

static void test_recover_install(void **state)
{
    (void)state;
    char a[PATH_MAX], b[PATH_MAX], c2[PATH_MAX], a_objects[PATH_MAX];
    harness_at(a, "a");
    harness_at(b, "b");
    harness_at(c2, "c");
    harness_path(a_objects, a, "objects");
    tsv_store *s;
    store_fixture_open(a, &s);
    content ct;
    make_content(s, harness_scratch, &ct);
    tsv_tier_change ch, ch2;
    char ckpt[PATH_MAX], ckpt2[PATH_MAX];
    OK(tsv_tier_scratch_create(a, "checkpoint", ckpt, sizeof ckpt, &E));
    OK(tsv_tier_checkpoint(s, ckpt, NULL, &ch, &E));
    int a_orgs = orgs(s);
    tsv_store_close(s);

    objset need = {0};
    char cat[PATH_MAX];
    harness_path(cat, ckpt, "catalog");
    OK(tsv_tier_catalog_objects(cat, 0, objset_add, &need, &E));

    /* One object missing: the install fails, leaves no state/ but the mark
     * of a recovery to run again, and may then be run again. */
    char tsm[PATH_MAX], hex[TSV_OBJECT_HEX];
    uint64_t size;
    harness_path(tsm, a, "%s/%s", ct.shard_dir, TSM2);
    OK(tsv_sha256_file(tsm, hex, &size, &E));
    fetch_objects(b, a_objects, &need, hex);
    FAILS(tsv_tier_recover_install(b, ckpt, ch.gen, &E), TSV_ENOTFOUND);
    assert_non_null(strstr(E.message, hex));
    assert_true(harness_exists("b/tier/recovering"));
    assert_false(harness_exists("b/state"));
    assert_true(harness_exists("b/catalog/data.mdb"));
    assert_int_equal(tsv_tier_recover_target_ok(b), 1);
    {
        /* No staging directory is left either. */
        DIR *d = opendir(b);
        assert_non_null(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (strncmp(e->d_name, "state", 5) == 0)
                fail_msg("left behind: %s", e->d_name);
        closedir(d);
    }
    /* The catalogue was moved out of the first checkpoint: take another. */
    store_fixture_open(a, &s);
    OK(tsv_tier_scratch_create(a, "checkpoint", ckpt2, sizeof ckpt2, &E));
    OK(tsv_tier_checkpoint(s, ckpt2, NULL, &ch2, &E));
    tsv_store_close(s);
    assert_int_equal(ch2.gen, ch.gen);
    fetch_objects(b, a_objects, &need, NULL);
    OK(tsv_tier_recover_install(b, ckpt2, ch2.gen, &E));
    assert_false(harness_exists("b/tier/recovering"));
    assert_false(tsv_path_exists(cat)); /* moved, not copied */

    /* The generation marker, the shard files (links to the objects, with
     * the same bytes as a's) and their marker, the SQL file. */
    char st[PATH_MAX];
    harness_path(st, b, "state");
    uint64_t gen = 0;
    OK(tsv_gen_marker_read(st, &gen, &E));
    assert_int_equal(gen, ch.gen);
    const char *files[] = {TSM1, TSM2};
    for (size_t i = 0; i < 2; i++) {
        char pa[PATH_MAX], pb[PATH_MAX];
        harness_path(pa, a, "%s/%s", ct.shard_dir, files[i]);
        harness_path(pb, b, "%s/%s", ct.shard_dir, files[i]);
        assert_file_equal(pa, pb);
        OK(tsv_sha256_file(pb, hex, &size, &E));
        char obj[PATH_MAX];
        harness_path(obj, b, "objects/%.2s/%s", hex, hex);
        struct stat s1, s2;
        assert_int_equal(stat(pb, &s1), 0);
        assert_int_equal(stat(obj, &s2), 0);
        assert_int_equal(s1.st_ino, s2.st_ino);
    }
    char sa[PATH_MAX], sb[PATH_MAX];
    harness_path(sa, a, "%s", ct.shard_dir);
    harness_path(sb, b, "%s", ct.shard_dir);
    uint64_t ga = 0, gb = 1;
    OK(tsv_gen_marker_read(sa, &ga, &E));
    OK(tsv_gen_marker_read(sb, &gb, &E));
    assert_int_equal(ga, gb);
    harness_path(sa, a, "state/influxd.sqlite");
    harness_path(sb, b, "state/influxd.sqlite");
    assert_file_equal(sa, sb);

    /* It opens, with a's KV (orgs) and the same generation. */
    store_fixture_open(b, &s);
    assert_int_equal(orgs(s), a_orgs);
    tsv_tier_change now;
    tsv_tier_change_now(s, &now);
    assert_int_equal(now.gen, ch.gen);
    tsv_store_close(s);
    /* ...and still has its shard files after the start-up reconciliation. */
    harness_path(sb, b, "%s/%s", ct.shard_dir, TSM1);
    assert_true(tsv_path_exists(sb));

    /* A directory with state/: refused, untouched. */
    char ckpt3[PATH_MAX];
    store_fixture_open(a, &s);
    OK(tsv_tier_scratch_create(a, "checkpoint", ckpt3, sizeof ckpt3, &E));
    OK(tsv_tier_checkpoint(s, ckpt3, NULL, &ch, &E));
    tsv_store_close(s);
    FAILS(tsv_tier_recover_install(b, ckpt3, ch.gen, &E), TSV_ECONFLICT);
    assert_non_null(strstr(E.message, "recovery only fills an empty one"));
    assert_false(harness_exists("b/tier/recovering"));
    harness_path(cat, ckpt3, "catalog/data.mdb");
    assert_true(tsv_path_exists(cat));

    /* Over an interrupted recovery's catalogue (catalog/ + the mark). */
    harness_put("c/catalog/junk", "from a crashed attempt");
    harness_put("c/tier/recovering", "0000000000000001\n");
    fetch_objects(c2, a_objects, &need, NULL);
    OK(tsv_tier_recover_install(c2, ckpt3, ch.gen, &E));
    assert_false(harness_exists("c/catalog/junk"));
    assert_false(harness_exists("c/tier/recovering"));
    store_fixture_open(c2, &s);
    assert_int_equal(orgs(s), a_orgs);
    tsv_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HARNESS_SCRATCH_TEST(test_pending_and_copied),
        HARNESS_SCRATCH_TEST(test_change_and_checkpoint),
        HARNESS_SCRATCH_TEST(test_catalog_objects),
        HARNESS_SCRATCH_TEST(test_recover_target_ok),
        HARNESS_SCRATCH_TEST(test_recover_install),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
