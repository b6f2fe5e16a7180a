/*
 * Unit tests for storage/meta: decoding real meta.db values written by
 * InfluxDB 1.6, 1.8 and 2.x, byte-identical re-encoding, required-field and
 * garbage handling, and the bucket create/drop/restore edits.
 *
 * An independent check: where protoc (protobuf-compiler) is installed, our
 * encoded bytes are decoded by `protoc --decode=meta.Data` and its text must
 * equal what print_text() renders from our tree (protoc also warns on stderr,
 * which would break the equality, about missing required fields).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#include <archive.h>
#include <archive_entry.h>

#include <zlib.h>

#include "bolt.h"
#include "kv.h"
#include "meta.h"
#include "meta_store.h"

#define HOUR TSV_META_NS_PER_HOUR
#define DAY TSV_META_NS_PER_DAY

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                  */
/* ------------------------------------------------------------------------ */

static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* (a) InfluxDB 1.8's meta/meta.db, a raw meta.Data, from inside v1db.zip. */
static uint8_t *load_v18(size_t *len)
{
    struct archive *a = archive_read_new();
    assert_non_null(a);
    assert_int_equal(archive_read_support_format_zip(a), ARCHIVE_OK);
    assert_int_equal(
        archive_read_open_filename(a, TSV_TESTDATA "/influxdb-1.8-datadir/v1db.zip", 65536),
        ARCHIVE_OK);
    struct archive_entry *e;
    uint8_t *buf = NULL;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        if (strcmp(archive_entry_pathname(e), "v1db/meta/meta.db") != 0)
            continue;
        size_t n = (size_t)archive_entry_size(e);
        buf = malloc(n);
        assert_non_null(buf);
        assert_int_equal(archive_read_data(a, buf, n), (la_ssize_t)n);
        *len = n;
        break;
    }
    archive_read_free(a);
    assert_non_null(buf);
    assert_int_equal(*len, 1278);
    return buf;
}

/* (b) The meta.db value inside a 2.x influxd.bolt, found through the bolt
 * reader: top-level bucket "v1_tsm1_metadata", key "meta.db"
 * (docs/formats.md#kv-meta). The walk also collects the keys of "bucketsv1" so the decoded
 * databases can be matched with the file's buckets (docs/formats.md#kv-meta). */
typedef struct meta_find {
    int depth;
    int in_meta, in_buckets;
    uint8_t *value;
    size_t vlen;
    int found;
    char bucket_ids[16][17];
    int n_buckets;
} meta_find;

static int mf_begin(void *ctx, const uint8_t *name, size_t len, uint64_t seq, tsv_error *err)
{
    meta_find *m = ctx;
    m->depth++;
    if (m->depth == 1) {
        m->in_meta = len == strlen(TSV_META_BUCKET) && memcmp(name, TSV_META_BUCKET, len) == 0;
        m->in_buckets = len == 9 && memcmp(name, "bucketsv1", 9) == 0;
    }
    return 0;
}

static int mf_end(void *ctx, tsv_error *err)
{
    meta_find *m = ctx;
    if (m->depth == 1)
        m->in_meta = m->in_buckets = 0;
    m->depth--;
    return 0;
}

static int mf_value(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                    tsv_error *err)
{
    meta_find *m = ctx;
    if (m->depth == 1 && m->in_meta && kl == strlen(TSV_META_KEY) &&
        memcmp(k, TSV_META_KEY, kl) == 0) {
        assert_false(m->found); /* exactly one */
        m->found = 1;
        m->value = malloc(vl ? vl : 1);
        assert_non_null(m->value);
        memcpy(m->value, v, vl);
        m->vlen = vl;
    }
    if (m->depth == 1 && m->in_buckets) {
        assert_int_equal(kl, 16);
        assert_true(m->n_buckets < 16);
        memcpy(m->bucket_ids[m->n_buckets], k, 16);
        m->bucket_ids[m->n_buckets++][16] = '\0';
    }
    return 0;
}

static uint8_t *load_from_bolt(const char *path, size_t *len, meta_find *m)
{
    memset(m, 0, sizeof *m);
    tsv_bolt_file *f = NULL;
    tsv_error err = {0};
    if (tsv_bolt_open(&f, path, &err) != 0)
        fail_msg("open %s: %s", path, err.message);
    static const tsv_bolt_visitor v = {mf_begin, mf_end, mf_value};
    if (tsv_bolt_walk(f, &v, m, &err) != 0)
        fail_msg("walk %s: %s", path, err.message);
    tsv_bolt_close(f);
    assert_int_equal(m->depth, 0);
    if (!m->found)
        fail_msg("%s has no %s/%s", path, TSV_META_BUCKET, TSV_META_KEY);
    *len = m->vlen;
    return m->value;
}

/* The live file: 190 bytes that start 08 00 10 04 18 b2 97 and end
 * 38 00 40 00 48 00 (docs/formats.md#meta-samples). */
static const uint8_t live_head[] = {0x08, 0x00, 0x10, 0x04, 0x18, 0xb2, 0x97};
static const uint8_t live_tail[] = {0x38, 0x00, 0x40, 0x00, 0x48, 0x00};
#define LIVE_LEN 190

static uint8_t *load_live_m(size_t *len, meta_find *m)
{
    uint8_t *out = load_from_bolt(TSV_TESTDATA "/influxdb-2-kv/influxd-2.x-live.bolt", len, m);
    assert_int_equal(*len, LIVE_LEN);
    assert_memory_equal(out, live_head, sizeof live_head);
    assert_memory_equal(out + LIVE_LEN - sizeof live_tail, live_tail, sizeof live_tail);
    return out;
}

static uint8_t *load_live(size_t *len)
{
    meta_find m;
    return load_live_m(len, &m);
}

/* The 2.0 backup file (gzipped in testdata), unpacked to a temporary file. */
static uint8_t *load_backup(size_t *len, meta_find *m)
{
    char path[] = "/tmp/tsv-test-meta-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    gzFile in = gzopen(TSV_TESTDATA "/influxdb-2-kv/influxd-2.0-backup.bolt.gz", "rb");
    assert_non_null(in);
    char buf[8192];
    int n;
    while ((n = gzread(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(fd, buf, (size_t)n), n);
    assert_int_equal(n, 0);
    assert_int_equal(gzclose(in), Z_OK);
    assert_int_equal(close(fd), 0);
    uint8_t *out = load_from_bolt(path, len, m);
    unlink(path);
    return out;
}

/* (c) InfluxDB 1.6's portable .meta: PortableData { bytes Data = 1; ... }. */
static uint8_t *load_portable(size_t *len)
{
    size_t flen;
    uint8_t *file =
        read_whole(TSV_TESTDATA "/influxdb-1.6-portable/backup/20261121T112622Z.meta", &flen);
    /* Tag 0x0a, then a two-byte varint length (236 per the fixture README). */
    assert_true(flen > 3);
    assert_int_equal(file[0], 0x0a);
    size_t n = (size_t)(file[1] & 0x7f) | (size_t)file[2] << 7;
    assert_true(file[1] & 0x80);
    assert_false(file[2] & 0x80);
    assert_int_equal(n, 236);
    assert_true(3 + n <= flen);
    uint8_t *out = malloc(n);
    assert_non_null(out);
    memcpy(out, file + 3, n);
    free(file);
    *len = n;
    return out;
}

static Meta__Data *decode_ok(const uint8_t *buf, size_t len)
{
    Meta__Data *d = NULL;
    tsv_error err = {0};
    int rc = tsv_meta_decode(buf, len, &d, &err);
    if (rc != 0)
        fail_msg("decode: %s", err.message);
    assert_non_null(d);
    return d;
}

static void encode_ok(const Meta__Data *d, uint8_t **out, size_t *len)
{
    tsv_error err = {0};
    if (tsv_meta_encode(d, out, len, &err) != 0)
        fail_msg("encode: %s", err.message);
}

/* d encodes to exactly the `len` bytes of want. */
static void assert_encodes_to(const Meta__Data *d, const uint8_t *want, size_t len)
{
    uint8_t *enc;
    size_t enc_len;
    encode_ok(d, &enc, &enc_len);
    assert_int_equal(enc_len, len);
    assert_memory_equal(enc, want, len);
    free(enc);
}

/* ------------------------------------------------------------------------ */
/* Text rendering in protoc's --decode format (for meta.txt and protoc)      */
/* ------------------------------------------------------------------------ */

static void render_indent(FILE *f, int indent)
{
    for (int i = 0; i < indent; i++)
        fputs("  ", f);
}

static void render_message(FILE *f, const ProtobufCMessage *m, int indent);

static void render_value(FILE *f, const ProtobufCFieldDescriptor *fd, const void *v, int indent)
{
    render_indent(f, indent);
    switch (fd->type) {
    case PROTOBUF_C_TYPE_UINT64:
        fprintf(f, "%s: %llu\n", fd->name, (unsigned long long)*(const uint64_t *)v);
        break;
    case PROTOBUF_C_TYPE_INT64:
        fprintf(f, "%s: %lld\n", fd->name, (long long)*(const int64_t *)v);
        break;
    case PROTOBUF_C_TYPE_UINT32:
        fprintf(f, "%s: %u\n", fd->name, *(const uint32_t *)v);
        break;
    case PROTOBUF_C_TYPE_INT32:
        fprintf(f, "%s: %d\n", fd->name, *(const int32_t *)v);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        fprintf(f, "%s: %s\n", fd->name, *(const protobuf_c_boolean *)v ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_STRING: {
        fprintf(f, "%s: \"", fd->name);
        for (const char *s = *(char *const *)v; *s; s++) {
            if (*s == '"' || *s == '\\' || *s == '\'')
                fputc('\\', f);
            fputc(*s, f);
        }
        fputs("\"\n", f);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        fprintf(f, "%s {\n", fd->name);
        render_message(f, *(ProtobufCMessage *const *)v, indent + 1);
        render_indent(f, indent);
        fputs("}\n", f);
        break;
    default:
        fail_msg("unexpected field type %d", fd->type);
    }
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_INT64:
        return 8;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_INT32:
        return 4;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return sizeof(void *);
    }
}

static void render_message(FILE *f, const ProtobufCMessage *m, int indent)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *raw = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[i];
        const void *member = raw + fd->offset;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(raw + fd->quantifier_offset);
            const char *arr = *(const char *const *)member;
            for (size_t k = 0; k < n; k++)
                render_value(f, fd, arr + k * elem_size(fd->type), indent);
        } else if (fd->label == PROTOBUF_C_LABEL_OPTIONAL) {
            int present = fd->type == PROTOBUF_C_TYPE_STRING || fd->type == PROTOBUF_C_TYPE_MESSAGE
                              ? *(const void *const *)member != NULL
                              : *(const protobuf_c_boolean *)(raw + fd->quantifier_offset);
            if (present)
                render_value(f, fd, member, indent);
        } else {
            render_value(f, fd, member, indent);
        }
    }
}

static char *print_text(const Meta__Data *d)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    assert_non_null(f);
    render_message(f, &d->base, 0);
    fclose(f);
    return text;
}

/* protoc --decode of our encoding must print exactly what our tree says. */
static void crosscheck_with_protoc(const Meta__Data *d)
{
    if (system("command -v protoc >/dev/null 2>&1") != 0) {
        fprintf(stderr, "note: protoc not installed; cross-check skipped\n");
        return;
    }
    uint8_t *buf;
    size_t len;
    encode_ok(d, &buf, &len);
    char path[] = "/tmp/test_meta_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
    free(buf);

    char cmd[1024];
    snprintf(cmd, sizeof cmd, "protoc --decode=meta.Data -I'%s/../proto' meta.proto < '%s' 2>&1",
             TSV_TESTDATA, path);
    int status;
    char *got = harness_popen_read(cmd, &status);
    assert_int_equal(status, 0);
    unlink(path);

    char *want = print_text(d);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

/* ------------------------------------------------------------------------ */
/* Hand-crafted wire bytes                                                   */
/* ------------------------------------------------------------------------ */

typedef struct wbuf {
    uint8_t b[1024];
    size_t n;
} wbuf;

static void put_varint(wbuf *w, uint64_t v)
{
    do {
        assert_true(w->n < sizeof w->b);
        w->b[w->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
}

static void put_u(wbuf *w, unsigned field, uint64_t v)
{
    put_varint(w, (uint64_t)field << 3);
    put_varint(w, v);
}

static void put_bytes(wbuf *w, unsigned field, const void *p, size_t n)
{
    put_varint(w, (uint64_t)field << 3 | 2);
    put_varint(w, n);
    assert_true(w->n + n <= sizeof w->b);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void put_str(wbuf *w, unsigned field, const char *s) { put_bytes(w, field, s, strlen(s)); }

static void put_msg(wbuf *w, unsigned field, const wbuf *m) { put_bytes(w, field, m->b, m->n); }

/* Data's required scalars; `skip` names one field number to leave out. */
static void put_data_head(wbuf *w, unsigned skip)
{
    if (skip != 1)
        put_u(w, 1, 0);
    if (skip != 2)
        put_u(w, 2, 1);
    if (skip != 3)
        put_u(w, 3, 42);
}

static void put_data_tail(wbuf *w)
{
    put_u(w, 7, 0);
    put_u(w, 8, 0);
    put_u(w, 9, 0);
}

/* A Data of the required scalars and the one message m as field `field`
 * (5: a database, 6: a user). */
static void put_data_with(wbuf *w, unsigned field, const wbuf *m)
{
    put_data_head(w, 0);
    put_msg(w, field, m);
    put_data_tail(w);
}

/* ShardGroupInfo; skip names one required field number to leave out. */
static void put_group(wbuf *w, uint64_t id, int64_t start, int64_t end, int64_t deleted,
                      unsigned skip)
{
    if (skip != 1)
        put_u(w, 1, id);
    if (skip != 2)
        put_u(w, 2, (uint64_t)start);
    if (skip != 3)
        put_u(w, 3, (uint64_t)end);
    if (skip != 4)
        put_u(w, 4, (uint64_t)deleted);
}

static void put_shard(wbuf *g, uint64_t id)
{
    wbuf s = {0};
    put_u(&s, 1, id);
    put_msg(g, 5, &s);
}

static void put_rp_head(wbuf *w, const char *name, int64_t dur, int64_t sgd, uint32_t replican)
{
    put_str(w, 1, name);
    put_u(w, 2, (uint64_t)dur);
    put_u(w, 3, (uint64_t)sgd);
    put_u(w, 4, replican);
}

/* DatabaseInfo `name` whose one policy, "autogen" (shard groups of `sgd`,
 * replication 1), is also the default and holds the group `sg` (none when
 * NULL). */
static void put_autogen_db(wbuf *db, const char *name, int64_t sgd, const wbuf *sg)
{
    wbuf rp = {0};
    put_rp_head(&rp, "autogen", 0, sgd, 1);
    if (sg)
        put_msg(&rp, 5, sg);
    put_str(db, 1, name);
    put_str(db, 2, "autogen");
    put_msg(db, 3, &rp);
}

static void expect_invalid(const uint8_t *buf, size_t len, const char *needle)
{
    Meta__Data *d = NULL;
    tsv_error err = {0};
    assert_int_equal(tsv_meta_decode(buf, len, &d, &err), -1);
    assert_null(d);
    assert_int_equal(err.code, TSV_EINVALID);
    if (needle && !strstr(err.message, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err.message, needle);
}

/* ------------------------------------------------------------------------ */
/* Decoding real data                                                        */
/* ------------------------------------------------------------------------ */

static void test_decode_v18(void **state)
{
    size_t len;
    uint8_t *buf = load_v18(&len);
    Meta__Data *d = decode_ok(buf, len);

    assert_int_equal(d->term, 0);
    assert_int_equal(d->index, 35);
    assert_int_equal(d->clusterid, 263362145870741379ULL);
    assert_int_equal(d->maxshardgroupid, 14);
    assert_int_equal(d->maxshardid, 14);
    assert_int_equal(d->n_databases, 4);
    const char *names[] = {"test", "_internal", "mydb", "empty"};
    size_t cqs = 0;
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(d->databases[i]->name, names[i]);
        cqs += d->databases[i]->n_continuousqueries;
    }
    assert_int_equal(cqs, 3);

    const Meta__DatabaseInfo *internal = tsv_meta_find_database(d, "_internal");
    assert_ptr_equal(internal, d->databases[1]);
    assert_string_equal(internal->defaultretentionpolicy, "monitor");
    const Meta__RetentionPolicyInfo *mon = internal->retentionpolicies[0];
    assert_int_equal(mon->duration, 7 * DAY);
    assert_int_equal(mon->shardgroupduration, DAY);
    assert_int_equal(mon->n_shardgroups, 3);
    assert_int_equal(mon->shardgroups[0]->id, 10);
    assert_int_equal(mon->shardgroups[0]->deletedat, 1600418672913048000LL);
    assert_false(mon->shardgroups[0]->has_truncatedat);
    assert_int_equal(mon->shardgroups[1]->deletedat, 0);
    assert_int_equal(mon->shardgroups[0]->shards[0]->n_owners, 0);

    const Meta__DatabaseInfo *mydb = tsv_meta_find_database(d, "mydb");
    assert_int_equal(mydb->n_retentionpolicies, 2);
    assert_string_equal(mydb->retentionpolicies[1]->name, "1week");
    assert_null(tsv_meta_find_database(d, "nope"));

    assert_int_equal(d->n_users, 3);
    const char *users[] = {"reader", "writer", "readerwriter"};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(d->users[i]->name, users[i]);
        assert_false(d->users[i]->admin);
        assert_int_equal(d->users[i]->n_privileges, 1);
        assert_string_equal(d->users[i]->privileges[0]->database, "mydb");
        assert_int_equal(d->users[i]->privileges[0]->privilege, (int)i + 1);
    }

    /* 1.8 (gogo/protobuf) also writes fields in number order. */
    assert_encodes_to(d, buf, len);
    crosscheck_with_protoc(d);
    tsv_meta_free(d);
    free(buf);
}

/* Every bucket of the file has its database, and nothing else is there. */
static void assert_databases_match_buckets(const Meta__Data *d, const meta_find *m)
{
    assert_int_equal(d->n_databases, (size_t)m->n_buckets);
    for (int i = 0; i < m->n_buckets; i++) {
        if (!tsv_meta_find_database(d, m->bucket_ids[i]))
            fail_msg("bucket %s has no tsdb database", m->bucket_ids[i]);
    }
}

/* A 2.x file's header: no nodes, users, shard groups or shards yet, and one
 * database per row of want, each with the one default policy "autogen"
 * (replication 1, no shard groups); with cqs_checked, none has a continuous
 * query either. */
typedef struct autogen_db {
    const char *name;
    int64_t dur, sgd;
} autogen_db;

static void assert_2x_data(const Meta__Data *d, uint64_t index, uint64_t clusterid,
                           const autogen_db *want, size_t n, int cqs_checked)
{
    assert_int_equal(d->term, 0);
    assert_int_equal(d->index, index);
    assert_int_equal(d->clusterid, clusterid);
    assert_int_equal(d->maxnodeid, 0);
    assert_int_equal(d->maxshardgroupid, 0);
    assert_int_equal(d->maxshardid, 0);
    assert_int_equal(d->n_users, 0);
    assert_int_equal(d->n_databases, n);
    for (size_t i = 0; i < n; i++) {
        const Meta__DatabaseInfo *db = d->databases[i];
        assert_string_equal(db->name, want[i].name);
        assert_string_equal(db->defaultretentionpolicy, "autogen");
        assert_int_equal(db->n_retentionpolicies, 1);
        if (cqs_checked)
            assert_int_equal(db->n_continuousqueries, 0);
        assert_string_equal(db->retentionpolicies[0]->name, "autogen");
        assert_int_equal(db->retentionpolicies[0]->duration, want[i].dur);
        assert_int_equal(db->retentionpolicies[0]->shardgroupduration, want[i].sgd);
        assert_int_equal(db->retentionpolicies[0]->replican, 1);
        assert_int_equal(db->retentionpolicies[0]->n_shardgroups, 0);
    }
}

static void test_decode_live_2x(void **state)
{
    size_t len;
    meta_find m;
    uint8_t *buf = load_live_m(&len, &m);
    Meta__Data *d = decode_ok(buf, len);
    assert_databases_match_buckets(d, &m);

    static const autogen_db want[] = {{"a4400ee87566e12a", 3 * DAY, DAY},
                                      {"35227829a87926d7", 7 * DAY, DAY},
                                      {"7451ab8b9b7df592", 0, 7 * DAY}};
    assert_2x_data(d, 4, 3017108697798560690ULL, want, 3, 0);

    assert_encodes_to(d, buf, len);
    tsv_meta_free(d);
    free(buf);
}

/* The 2.0 backup (test.bolt, docs/formats.md#meta-samples): Index 9, 7 databases, one per
 * bucket including the system buckets, no shard groups. */
static void test_decode_backup_20(void **state)
{
    size_t len;
    meta_find m;
    uint8_t *buf = load_backup(&len, &m);
    assert_int_equal(len, 416);
    Meta__Data *d = decode_ok(buf, len);
    assert_databases_match_buckets(d, &m);

    static const autogen_db want[] = {
        {"534dde39adae4482", 3 * DAY, DAY}, {"4d067c2638a5efa2", 7 * DAY, DAY},
        {"d66c5360b5aa91b4", 3 * DAY, DAY}, {"f35d47439742756d", 3 * DAY, DAY},
        {"4972af500e974843", 7 * DAY, DAY}, {"cce01ef3783e3678", 0, HOUR},
        {"5379ef2d1655b0ab", 0, 7 * DAY}};
    assert_2x_data(d, 9, 6222123243796294325ULL, want, 7, 1);

    assert_encodes_to(d, buf, len);
    crosscheck_with_protoc(d);
    tsv_meta_free(d);
    free(buf);
}

static void test_decode_portable_16(void **state)
{
    size_t len;
    uint8_t *buf = load_portable(&len);
    Meta__Data *d = decode_ok(buf, len);

    size_t txt_len;
    char *expected =
        (char *)read_whole(TSV_TESTDATA "/influxdb-1.6-portable/expected/meta.txt", &txt_len);
    char *text = print_text(d);
    assert_string_equal(text, expected);
    free(text);
    free(expected);

    assert_encodes_to(d, buf, len);
    tsv_meta_free(d);
    free(buf);
}

/* ------------------------------------------------------------------------ */
/* Malformed input                                                           */
/* ------------------------------------------------------------------------ */

/* Layer one: protobuf-c 1.4 itself refuses missing required fields. Our own
 * wire scan runs first and names the field, but this pins the library's
 * behaviour down in case the scan is ever bypassed. */
static void test_protobuf_c_rejects_missing_required(void **state)
{
    wbuf w = {0};
    put_data_head(&w, 1);
    put_data_tail(&w);
    assert_null(meta__data__unpack(NULL, w.n, w.b));

    wbuf db = {0}, w2 = {0};
    put_str(&db, 2, "autogen");
    put_data_with(&w2, 5, &db);
    assert_null(meta__data__unpack(NULL, w2.n, w2.b));

    wbuf sg = {0};
    put_group(&sg, 1, 0, 0, 0, 4);
    assert_null(meta__shard_group_info__unpack(NULL, sg.n, sg.b));
}

static void test_missing_required(void **state)
{
    /* Data without Term, and without each of the others. */
    for (unsigned skip = 1; skip <= 3; skip++) {
        wbuf w = {0};
        put_data_head(&w, skip);
        put_data_tail(&w);
        expect_invalid(w.b, w.n, skip == 1 ? "missing required field Data.Term" : "Data.");
    }
    {
        wbuf w = {0};
        put_data_head(&w, 0);
        put_u(&w, 7, 0);
        put_u(&w, 9, 0);
        expect_invalid(w.b, w.n, "missing required field Data.MaxShardGroupID");
    }
    /* DatabaseInfo without Name, nested in Data and bare. */
    {
        wbuf db = {0}, w = {0};
        put_str(&db, 2, "autogen");
        put_data_with(&w, 5, &db);
        expect_invalid(w.b, w.n, "missing required field DatabaseInfo.Name");

        Meta__DatabaseInfo *out = NULL;
        tsv_error err = {0};
        assert_int_equal(tsv_meta_decode_database(db.b, db.n, &out, &err), -1);
        assert_null(out);
        assert_int_equal(err.code, TSV_EINVALID);
        assert_non_null(strstr(err.message, "missing required field DatabaseInfo.Name"));
    }
    /* ShardGroupInfo without DeletedAt, four levels down. */
    {
        wbuf sg = {0}, db = {0}, w = {0};
        put_group(&sg, 1, 0, 0, 0, 4);
        put_shard(&sg, 1);
        put_autogen_db(&db, "0123456789abcdef", 7 * DAY, &sg);
        put_data_with(&w, 5, &db);
        expect_invalid(w.b, w.n, "missing required field ShardGroupInfo.DeletedAt");

        /* The same with DeletedAt present decodes. */
        wbuf sg2 = {0}, db2 = {0}, w2 = {0};
        put_group(&sg2, 1, 0, 0, 0, 0);
        put_shard(&sg2, 1);
        put_autogen_db(&db2, "0123456789abcdef", 7 * DAY, &sg2);
        put_data_with(&w2, 5, &db2);
        Meta__Data *d = decode_ok(w2.b, w2.n);
        tsv_meta_free(d);

        Meta__DatabaseInfo *bare = NULL;
        tsv_error err = {0};
        assert_int_equal(tsv_meta_decode_database(db.b, db.n, &bare, &err), -1);
        assert_non_null(strstr(err.message, "ShardGroupInfo.DeletedAt"));
        assert_int_equal(tsv_meta_decode_database(db2.b, db2.n, &bare, &err), 0);
        assert_int_equal(bare->retentionpolicies[0]->shardgroups[0]->shards[0]->id, 1);
        tsv_meta_free_database(bare);
    }
    /* ShardOwner without NodeID, UserPrivilege without Privilege. */
    {
        wbuf owner = {0}, sh = {0}, sg = {0}, db = {0};
        put_bytes(&owner, 99, "x", 1); /* an unknown field, no NodeID */
        put_u(&sh, 1, 5);
        put_msg(&sh, 3, &owner);
        put_group(&sg, 1, 0, 0, 0, 0);
        put_msg(&sg, 5, &sh);
        put_autogen_db(&db, "d", 7 * DAY, &sg);
        Meta__DatabaseInfo *bare = NULL;
        tsv_error err = {0};
        assert_int_equal(tsv_meta_decode_database(db.b, db.n, &bare, &err), -1);
        assert_non_null(strstr(err.message, "missing required field ShardOwner.NodeID"));

        wbuf priv = {0}, user = {0}, w = {0};
        put_str(&priv, 1, "mydb");
        put_str(&user, 1, "u");
        put_str(&user, 2, "hash");
        put_u(&user, 3, 0);
        put_msg(&user, 4, &priv);
        put_data_with(&w, 6, &user);
        expect_invalid(w.b, w.n, "missing required field UserPrivilege.Privilege");
    }
}

static void test_garbage(void **state)
{
    expect_invalid(NULL, 0, "missing required field Data.Term");
    expect_invalid((const uint8_t *)"hello, world", 12, NULL);
    static const uint8_t overlong[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    expect_invalid(overlong, sizeof overlong, "bad varint");
    static const uint8_t bit64[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0x02};
    expect_invalid(bit64, sizeof bit64, "bad varint");
    static const uint8_t field0[] = {0x00, 0x00};
    expect_invalid(field0, sizeof field0, "invalid field number");
    static const uint8_t group[] = {0x0b, 0x0c};
    expect_invalid(group, sizeof group, "unsupported wire type 3");
    static const uint8_t too_long[] = {0x2a, 0x7f, 0x00};
    expect_invalid(too_long, sizeof too_long, "truncated");

    /* Term sent as fixed64: a known field with the wrong wire type. */
    wbuf w = {0};
    put_varint(&w, 1 << 3 | 1);
    for (int i = 0; i < 8; i++)
        w.b[w.n++] = 0;
    put_data_head(&w, 1);
    put_data_tail(&w);
    expect_invalid(w.b, w.n, "Data.Term has wire type 1");

    /* A NUL inside a string would be cut short by protobuf-c: refuse it. */
    wbuf db = {0}, w2 = {0};
    put_bytes(&db, 1, "ab\0c", 4);
    put_str(&db, 2, "autogen");
    put_data_with(&w2, 5, &db);
    expect_invalid(w2.b, w2.n, "DatabaseInfo.Name contains a NUL byte");

    /* Unknown fields of every wire type are skipped (and kept). */
    wbuf w3 = {0};
    put_data_head(&w3, 0);
    put_u(&w3, 50, 7);
    put_str(&w3, 51, "future");
    put_varint(&w3, 52 << 3 | 5);
    memcpy(w3.b + w3.n, "\1\2\3\4", 4);
    w3.n += 4;
    put_data_tail(&w3);
    Meta__Data *d = decode_ok(w3.b, w3.n);
    uint8_t *enc;
    size_t enc_len;
    encode_ok(d, &enc, &enc_len);
    Meta__Data *again = decode_ok(enc, enc_len);
    assert_int_equal(again->base.n_unknown_fields, 3);
    free(enc);
    tsv_meta_free(again);
    tsv_meta_free(d);

    /* Pseudo-random bytes: an error or (vanishingly rarely) a valid tree. */
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    uint8_t rnd[300];
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(round % 300);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            rnd[i] = (uint8_t)x;
        }
        Meta__Data *r = NULL;
        tsv_error err = {0};
        if (tsv_meta_decode(rnd, n, &r, &err) == 0)
            tsv_meta_free(r);
        else
            assert_int_equal(err.code, TSV_EINVALID);
    }
}

static void test_truncated_and_mutated(void **state)
{
    size_t len;
    uint8_t *buf = load_live(&len);
    /* Every strict prefix lacks at least MaxShardID (field 9, the last two
     * bytes), so none may decode. The copy makes ASan see any overread. */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *prefix = malloc(cut ? cut : 1);
        assert_non_null(prefix);
        memcpy(prefix, buf, cut);
        expect_invalid(prefix, cut, NULL);
        free(prefix);
    }
    /* Every byte replaced by a few values: no crash, any error is EINVALID. */
    static const uint8_t vals[] = {0x00, 0x01, 0x02, 0x07, 0x7f, 0x80, 0xfa, 0xff};
    for (size_t i = 0; i < len; i++) {
        for (size_t v = 0; v < sizeof vals; v++) {
            uint8_t *m = malloc(len);
            assert_non_null(m);
            memcpy(m, buf, len);
            m[i] = vals[v];
            Meta__Data *d = NULL;
            tsv_error err = {0};
            if (tsv_meta_decode(m, len, &d, &err) == 0) {
                uint8_t *enc;
                size_t enc_len;
                encode_ok(d, &enc, &enc_len);
                free(enc);
                tsv_meta_free(d);
            } else {
                assert_int_equal(err.code, TSV_EINVALID);
            }
            free(m);
        }
    }
    free(buf);
}

/* ------------------------------------------------------------------------ */
/* Canonical form and encoding details                                       */
/* ------------------------------------------------------------------------ */

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void test_owner_ids_folded(void **state)
{
    /* A shard with deprecated OwnerIDs [3, 4] and an Owner {9}: Go reads
     * OwnerIDs in preference, and never writes them. */
    wbuf owner = {0}, sh = {0}, sg = {0}, db = {0};
    put_u(&owner, 1, 9);
    put_u(&sh, 1, 5);
    put_u(&sh, 2, 3);
    put_u(&sh, 2, 4);
    put_msg(&sh, 3, &owner);
    put_group(&sg, 1, 0, 0, 0, 0);
    put_u(&sg, 6, 0); /* TruncatedAt 0 on the wire: Go drops it on rewrite */
    put_msg(&sg, 5, &sh);
    put_autogen_db(&db, "d", 7 * DAY, &sg);
    Meta__DatabaseInfo *info = NULL;
    tsv_error err = {0};
    assert_int_equal(tsv_meta_decode_database(db.b, db.n, &info, &err), 0);
    const Meta__ShardGroupInfo *g = info->retentionpolicies[0]->shardgroups[0];
    assert_false(g->has_truncatedat);
    const Meta__ShardInfo *s = g->shards[0];
    assert_int_equal(s->n_ownerids, 0);
    assert_null(s->ownerids);
    assert_int_equal(s->n_owners, 2);
    assert_int_equal(s->owners[0]->nodeid, 3);
    assert_int_equal(s->owners[1]->nodeid, 4);
    tsv_meta_free_database(info);

    /* Packed OwnerIDs (length-delimited) are accepted too. */
    wbuf sh2 = {0}, sg2 = {0}, db2 = {0};
    static const uint8_t packed[] = {0x03, 0x96, 0x01};
    put_u(&sh2, 1, 5);
    put_bytes(&sh2, 2, packed, sizeof packed);
    put_group(&sg2, 1, 0, 0, 0, 0);
    put_msg(&sg2, 5, &sh2);
    put_autogen_db(&db2, "d", 7 * DAY, &sg2);
    assert_int_equal(tsv_meta_decode_database(db2.b, db2.n, &info, &err), 0);
    s = info->retentionpolicies[0]->shardgroups[0]->shards[0];
    assert_int_equal(s->n_owners, 2);
    assert_int_equal(s->owners[0]->nodeid, 3);
    assert_int_equal(s->owners[1]->nodeid, 150);
    tsv_meta_free_database(info);
    /* A packed run that stops mid-varint is refused. */
    static const uint8_t bad_packed[] = {0x03, 0x96};
    wbuf sh3 = {0}, sg3 = {0}, db3 = {0};
    put_u(&sh3, 1, 5);
    put_bytes(&sh3, 2, bad_packed, sizeof bad_packed);
    put_group(&sg3, 1, 0, 0, 0, 0);
    put_msg(&sg3, 5, &sh3);
    put_autogen_db(&db3, "d", 7 * DAY, &sg3);
    info = NULL;
    assert_int_equal(tsv_meta_decode_database(db3.b, db3.n, &info, &err), -1);
    assert_null(info);
    assert_non_null(strstr(err.message, "bad packed field ShardInfo.OwnerIDs"));
}

/* Encode writes the canonical form of a hand-edited tree without changing it. */
static void test_encode_canonicalises(void **state)
{
    size_t len;
    uint8_t *buf = load_v18(&len);
    Meta__Data *d = decode_ok(buf, len);
    Meta__ShardGroupInfo *g = d->databases[0]->retentionpolicies[0]->shardgroups[0];
    Meta__ShardInfo *s = g->shards[0];
    g->has_truncatedat = 1; /* with value 0: Go would not write it */
    s->ownerids = malloc(sizeof *s->ownerids);
    assert_non_null(s->ownerids);
    s->ownerids[0] = 77;
    s->n_ownerids = 1;

    uint8_t *enc;
    size_t enc_len;
    encode_ok(d, &enc, &enc_len);
    assert_true(g->has_truncatedat); /* input untouched */
    assert_int_equal(s->n_ownerids, 1);
    Meta__Data *back = decode_ok(enc, enc_len);
    const Meta__ShardInfo *bs = back->databases[0]->retentionpolicies[0]->shardgroups[0]->shards[0];
    assert_int_equal(bs->n_owners, 1);
    assert_int_equal(bs->owners[0]->nodeid, 77);
    /* Drop the owner again: the bytes are the original ones. */
    tsv_meta_free(back);
    free(enc);
    free(s->ownerids);
    s->ownerids = NULL;
    s->n_ownerids = 0;
    assert_encodes_to(d, buf, len);

    /* A tree with an unset required string is refused, not written. */
    char *name = d->databases[1]->name;
    d->databases[1]->name = NULL;
    tsv_error err = {0};
    assert_int_equal(tsv_meta_encode(d, &enc, &enc_len, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    assert_non_null(strstr(err.message, "DatabaseInfo.Name"));
    Meta__Data *c = NULL;
    assert_int_equal(tsv_meta_clone(d, &c, &err), -1);
    d->databases[1]->name = name;

    tsv_meta_free(d);
    free(buf);
}
#pragma GCC diagnostic pop

static int contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

static void test_encode_negative_and_zero(void **state)
{
    Meta__Data *d;
    tsv_error err = {0};
    assert_int_equal(tsv_meta_new_empty(1, &d, &err), 0);
    assert_int_equal(tsv_meta_create_database(d, "00000000000000aa", 0, 0, &err), 0);
    /* Hand-build a group the module's way: every node its own malloc. */
    Meta__RetentionPolicyInfo *rp = d->databases[0]->retentionpolicies[0];
    Meta__ShardGroupInfo *g = malloc(sizeof *g);
    assert_non_null(g);
    meta__shard_group_info__init(g);
    g->id = 1;
    g->starttime = -1; /* before the epoch */
    g->endtime = 0;
    rp->shardgroups = malloc(sizeof *rp->shardgroups);
    assert_non_null(rp->shardgroups);
    rp->shardgroups[0] = g;
    rp->n_shardgroups = 1;

    uint8_t *enc;
    size_t len;
    encode_ok(d, &enc, &len);
    /* StartTime -1: sign-extended 10-byte varint, as Go writes it. */
    static const uint8_t neg[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_true(contains(enc, len, neg, sizeof neg));
    /* Zero required fields are written: ID 1, StartTime, EndTime 0, DeletedAt 0,
     * and no TruncatedAt (field 6). */
    static const uint8_t group[] = {0x2a, 0x11, 0x08, 0x01, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0x01, 0x18, 0x00, 0x20, 0x00};
    assert_true(contains(enc, len, group, sizeof group));
    Meta__Data *back = decode_ok(enc, len);
    assert_int_equal(back->databases[0]->retentionpolicies[0]->shardgroups[0]->starttime, -1);
    crosscheck_with_protoc(back);
    tsv_meta_free(back);
    free(enc);
    tsv_meta_free(d);
}

/* ------------------------------------------------------------------------ */
/* Lifetime, lookups                                                         */
/* ------------------------------------------------------------------------ */

static void test_new_empty_clone_touch(void **state)
{
    Meta__Data *d;
    tsv_error err = {0};
    assert_int_equal(tsv_meta_new_empty(12345, &d, &err), 0);
    assert_int_equal(d->term, 0);
    assert_int_equal(d->index, 1);
    assert_int_equal(d->clusterid, 12345);
    assert_int_equal(d->n_databases, 0);
    tsv_meta_touch(d);
    assert_int_equal(d->index, 2);
    static const uint8_t want[] = {0x08, 0x00, 0x10, 0x02, 0x18, 0xb9, 0x60,
                                   0x38, 0x00, 0x40, 0x00, 0x48, 0x00};
    assert_encodes_to(d, want, sizeof want);
    tsv_meta_free(d);
    tsv_meta_free(NULL);
    tsv_meta_free_database(NULL);

    size_t blen;
    uint8_t *buf = load_v18(&blen);
    d = decode_ok(buf, blen);
    Meta__Data *c;
    assert_int_equal(tsv_meta_clone(d, &c, &err), 0);
    assert_ptr_not_equal(c->databases[0], d->databases[0]);
    tsv_meta_free(d); /* the clone shares nothing */
    assert_encodes_to(c, buf, blen);
    tsv_meta_free(c);
    free(buf);
}

struct count_ctx {
    size_t shards, deleted, stop_at;
};

static int count_cb(const Meta__DatabaseInfo *db, const Meta__RetentionPolicyInfo *rp,
                    const Meta__ShardGroupInfo *g, const Meta__ShardInfo *s, void *vctx,
                    tsv_error *err)
{
    struct count_ctx *ctx = vctx;
    assert_non_null(db->name);
    assert_non_null(rp->name);
    ctx->shards++;
    ctx->deleted += g->deletedat != 0;
    return ctx->stop_at && ctx->shards == ctx->stop_at ? 7 : 0;
}

static void test_foreach_and_find_shard(void **state)
{
    size_t len;
    uint8_t *buf = load_v18(&len);
    Meta__Data *d = decode_ok(buf, len);
    tsv_error err = {0};

    struct count_ctx all = {0}, live = {0}, stop = {.stop_at = 3};
    assert_int_equal(tsv_meta_foreach_shard(d, 1, count_cb, &all, &err), 0);
    assert_int_equal(all.shards, 12);
    assert_int_equal(all.deleted, 1);
    assert_int_equal(tsv_meta_foreach_shard(d, 0, count_cb, &live, &err), 0);
    assert_int_equal(live.shards, 11);
    assert_int_equal(live.deleted, 0);
    assert_int_equal(tsv_meta_foreach_shard(d, 1, count_cb, &stop, &err), 7);
    assert_int_equal(stop.shards, 3);

    const Meta__DatabaseInfo *db;
    const Meta__RetentionPolicyInfo *rp;
    const Meta__ShardGroupInfo *g;
    assert_int_equal(tsv_meta_find_shard(d, 12, &db, &rp, &g, &err), 0);
    assert_string_equal(db->name, "mydb");
    assert_string_equal(rp->name, "1week");
    assert_int_equal(g->id, 12);
    assert_int_equal(tsv_meta_find_shard(d, 13, NULL, NULL, NULL, &err), 0);
    /* Shard 10 is in a deleted group: no data, so not found. */
    assert_int_equal(tsv_meta_find_shard(d, 10, &db, &rp, &g, &err), -1);
    assert_int_equal(err.code, TSV_ENOTFOUND);
    assert_int_equal(tsv_meta_find_shard(d, 99, NULL, NULL, NULL, &err), -1);
    assert_int_equal(err.code, TSV_ENOTFOUND);
    tsv_meta_free(d);
    free(buf);
}

/* ------------------------------------------------------------------------ */
/* Edits                                                                     */
/* ------------------------------------------------------------------------ */

static void test_normalise(void **state)
{
    static const struct {
        int64_t retention, sgd, want;
    } rows[] = {
        {0, 0, 7 * DAY},
        {180 * DAY, 0, 7 * DAY},
        {180 * DAY - 1, 0, DAY},
        {2 * DAY, 0, DAY},
        {2 * DAY - 1, 0, HOUR},
        {HOUR, 0, HOUR},
        {3 * DAY, 0, DAY},
        {7 * DAY, 0, DAY},
        {0, 1, HOUR},
        {0, HOUR - 1, HOUR},
        {0, -5, HOUR},
        {0, HOUR, HOUR},
        {0, 3 * HOUR, 3 * HOUR},
        {30 * DAY, 30 * DAY, 30 * DAY},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int64_t got = tsv_meta_normalise_shard_group_duration(rows[i].retention, rows[i].sgd);
        if (got != rows[i].want)
            fail_msg("row %zu: (%lld, %lld) -> %lld, want %lld", i, (long long)rows[i].retention,
                     (long long)rows[i].sgd, (long long)got, (long long)rows[i].want);
    }
}

static void test_create_drop(void **state)
{
    /* Recreate the live 2.x sample: a new store, the three system-ish buckets
     * created with shard-group duration 0, one commit each. */
    size_t live_len;
    uint8_t *live = load_live(&live_len);
    Meta__Data *d;
    tsv_error err = {0};
    assert_int_equal(tsv_meta_new_empty(3017108697798560690ULL, &d, &err), 0);
    assert_int_equal(tsv_meta_create_database(d, "a4400ee87566e12a", 3 * DAY, 0, &err), 0);
    tsv_meta_touch(d);
    assert_int_equal(tsv_meta_create_database(d, "35227829a87926d7", 7 * DAY, 0, &err), 0);
    tsv_meta_touch(d);
    assert_int_equal(tsv_meta_create_database(d, "7451ab8b9b7df592", 0, 0, &err), 0);
    tsv_meta_touch(d);
    assert_encodes_to(d, live, live_len);
    free(live);

    assert_int_equal(tsv_meta_create_database(d, "7451ab8b9b7df592", 0, 0, &err), -1);
    assert_int_equal(err.code, TSV_ECONFLICT);
    const char *bad_ids[] = {"",
                             "7451ab8b9b7df59",
                             "7451ab8b9b7df5921",
                             "7451AB8B9B7DF592",
                             "0000000000000000",
                             "../../../etc/pa",
                             "7451ab8b9b7df59g"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        assert_int_equal(tsv_meta_create_database(d, bad_ids[i], 0, 0, &err), -1);
        assert_int_equal(err.code, TSV_EINVALID);
    }
    assert_int_equal(
        tsv_meta_create_database(d, "1111111111111111", 30 * 60 * 1000000000LL, 0, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    assert_string_equal(err.message, "retention policy duration must be at least 1h0m0s");
    assert_int_equal(tsv_meta_create_database(d, "1111111111111111", -HOUR, 0, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    assert_int_equal(tsv_meta_create_database(d, "1111111111111111", DAY, 7 * DAY, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    assert_non_null(strstr(err.message, "greater than the shard duration"));
    assert_int_equal(d->n_databases, 3);

    assert_int_equal(tsv_meta_create_database(d, "1111111111111111", HOUR, 5, &err), 0);
    const Meta__DatabaseInfo *db = tsv_meta_find_database(d, "1111111111111111");
    assert_non_null(db);
    assert_int_equal(db->retentionpolicies[0]->shardgroupduration, HOUR);

    Meta__DatabaseInfo *removed = NULL;
    assert_int_equal(tsv_meta_drop_database(d, "35227829a87926d7", &removed, &err), 0);
    assert_string_equal(removed->name, "35227829a87926d7");
    tsv_meta_free_database(removed);
    assert_int_equal(d->n_databases, 3);
    assert_string_equal(d->databases[0]->name, "a4400ee87566e12a");
    assert_string_equal(d->databases[1]->name, "7451ab8b9b7df592");
    assert_string_equal(d->databases[2]->name, "1111111111111111");
    assert_int_equal(tsv_meta_drop_database(d, "35227829a87926d7", NULL, &err), -1);
    assert_int_equal(err.code, TSV_ENOTFOUND);
    assert_int_equal(tsv_meta_drop_database(d, "1111111111111111", NULL, &err), 0);
    assert_int_equal(d->n_databases, 2);
    tsv_meta_free(d);

    /* Dropping a database also drops user privileges on it (1.8 sample). */
    size_t blen;
    uint8_t *buf = load_v18(&blen);
    d = decode_ok(buf, blen);
    assert_int_equal(tsv_meta_drop_database(d, "mydb", NULL, &err), 0);
    assert_int_equal(d->n_databases, 3);
    for (size_t u = 0; u < d->n_users; u++)
        assert_int_equal(d->users[u]->n_privileges, 0);
    crosscheck_with_protoc(d);
    tsv_meta_free(d);
    free(buf);
}

#define RESTORE_DB "0123456789abcdef"

/* The v1.8 store (MaxShardGroupID 14, MaxShardID 14) plus an empty bucket. */
static Meta__Data *restore_target(void)
{
    size_t len;
    uint8_t *buf = load_v18(&len);
    Meta__Data *d = decode_ok(buf, len);
    free(buf);
    tsv_error err = {0};
    assert_int_equal(tsv_meta_create_database(d, RESTORE_DB, 0, 0, &err), 0);
    return d;
}

static Meta__DatabaseInfo *decode_db(const wbuf *w)
{
    Meta__DatabaseInfo *db = NULL;
    tsv_error err = {0};
    if (tsv_meta_decode_database(w->b, w->n, &db, &err) != 0)
        fail_msg("decode_database: %s", err.message);
    return db;
}

static void test_restore_bucket(void **state)
{
    /* RP "myrp" (sgd 0, ReplicaN 0) with three groups in request order:
     *   old group 3 [100,200): shards 5 (owner 1) and 6
     *   old group 4 [200,300), deleted: shard 7
     *   old group 9 [300,400), TruncatedAt 350: shard 8 (OwnerIDs [2]) */
    wbuf g1 = {0}, g2 = {0}, g3 = {0}, rp = {0}, cq = {0}, db = {0};
    wbuf s5 = {0}, owner = {0}, s8 = {0};
    put_u(&owner, 1, 1);
    put_u(&s5, 1, 5);
    put_msg(&s5, 3, &owner);
    put_group(&g1, 3, 100, 200, 0, 0);
    put_msg(&g1, 5, &s5);
    put_shard(&g1, 6);
    put_group(&g2, 4, 200, 300, 999, 0);
    put_shard(&g2, 7);
    put_u(&s8, 1, 8);
    put_u(&s8, 2, 2);
    put_group(&g3, 9, 300, 400, 0, 0);
    put_msg(&g3, 5, &s8);
    put_u(&g3, 6, 350);
    put_rp_head(&rp, "myrp", 0, 0, 0);
    put_msg(&rp, 5, &g1);
    put_msg(&rp, 5, &g2);
    put_msg(&rp, 5, &g3);
    put_str(&cq, 1, "cq1");
    put_str(&cq, 2, "CREATE CONTINUOUS QUERY cq1 ON x BEGIN SELECT 1 END");
    put_str(&db, 1, "oldbucket00000aa");
    put_str(&db, 2, "myrp");
    put_msg(&db, 3, &rp);
    put_msg(&db, 4, &cq);
    Meta__DatabaseInfo *up = decode_db(&db);

    Meta__Data *d = restore_target();
    uint64_t index = d->index;
    tsv_meta_shard_map *map = NULL;
    size_t n = 0;
    const Meta__DatabaseInfo *restored = NULL;
    tsv_error err = {0};
    if (tsv_meta_restore_bucket(d, RESTORE_DB, up, &map, &n, &restored, &err) != 0)
        fail_msg("restore: %s", err.message);
    tsv_meta_free_database(up); /* the tree holds copies */

    assert_int_equal(n, 4);
    static const tsv_meta_shard_map want[] = {{5, 15, 0}, {6, 16, 0}, {7, 17, 1}, {8, 18, 0}};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(map[i].old_id, want[i].old_id);
        assert_int_equal(map[i].new_id, want[i].new_id);
        assert_int_equal(map[i].deleted, want[i].deleted);
    }
    free(map);
    assert_int_equal(d->maxshardgroupid, 17);
    assert_int_equal(d->maxshardid, 18);
    assert_int_equal(d->index, index); /* the caller touches on commit */

    assert_ptr_equal(restored, tsv_meta_find_database(d, RESTORE_DB));
    assert_string_equal(restored->name, RESTORE_DB);
    assert_string_equal(restored->defaultretentionpolicy, "myrp"); /* B8 fixed */
    assert_int_equal(restored->n_retentionpolicies, 1);
    const Meta__RetentionPolicyInfo *r = restored->retentionpolicies[0];
    assert_string_equal(r->name, "myrp");
    assert_int_equal(r->duration, 0);
    assert_int_equal(r->shardgroupduration, 7 * DAY);
    assert_int_equal(r->replican, 1);
    assert_int_equal(r->n_shardgroups, 3);
    assert_int_equal(r->shardgroups[0]->id, 15);
    assert_int_equal(r->shardgroups[0]->starttime, 100);
    assert_int_equal(r->shardgroups[1]->id, 16);
    assert_int_equal(r->shardgroups[1]->deletedat, 999);
    assert_int_equal(r->shardgroups[2]->id, 17);
    assert_true(r->shardgroups[2]->has_truncatedat);
    assert_int_equal(r->shardgroups[2]->truncatedat, 350);
    assert_int_equal(r->shardgroups[0]->shards[0]->n_owners, 0);
    assert_int_equal(r->shardgroups[2]->shards[0]->n_owners, 0);
    assert_int_equal(restored->n_continuousqueries, 1);
    assert_string_equal(restored->continuousqueries[0]->name, "cq1");

    const Meta__DatabaseInfo *fdb;
    const Meta__RetentionPolicyInfo *frp;
    const Meta__ShardGroupInfo *fg;
    assert_int_equal(tsv_meta_find_shard(d, 18, &fdb, &frp, &fg, &err), 0);
    assert_ptr_equal(fdb, restored);
    assert_string_equal(frp->name, "myrp");
    assert_int_equal(fg->id, 17);
    assert_int_equal(tsv_meta_find_shard(d, 17, NULL, NULL, NULL, &err), -1); /* deleted */
    assert_int_equal(err.code, TSV_ENOTFOUND);

    /* A second restore continues the numbering. */
    Meta__DatabaseInfo *up2 = decode_db(&db);
    assert_int_equal(tsv_meta_restore_bucket(d, RESTORE_DB, up2, &map, &n, NULL, &err), 0);
    assert_int_equal(map[0].new_id, 19);
    assert_int_equal(d->maxshardid, 22);
    assert_int_equal(d->maxshardgroupid, 20);
    free(map);
    tsv_meta_free_database(up2);

    /* The result encodes, decodes and protoc agrees. */
    uint8_t *enc;
    size_t len;
    encode_ok(d, &enc, &len);
    Meta__Data *back = decode_ok(enc, len);
    assert_string_equal(tsv_meta_find_database(back, RESTORE_DB)->defaultretentionpolicy, "myrp");
    tsv_meta_free(back);
    free(enc);
    crosscheck_with_protoc(d);

    /* Restoring a database onto itself: `uploaded` aliases the tree. */
    const Meta__DatabaseInfo *test_db = tsv_meta_find_database(d, "test");
    assert_int_equal(tsv_meta_restore_bucket(d, "test", test_db, &map, &n, &restored, &err), 0);
    assert_int_equal(n, 5);
    assert_int_equal(map[0].old_id, 1);
    assert_int_equal(map[0].new_id, 23);
    assert_int_equal(restored->retentionpolicies[0]->shardgroups[4]->shards[0]->id, 27);
    assert_int_equal(restored->n_continuousqueries, 2);
    free(map);

    /* An RP with no shard groups yields an empty (non-NULL) map. */
    wbuf db0 = {0};
    put_autogen_db(&db0, "x", 0, NULL);
    Meta__DatabaseInfo *up0 = decode_db(&db0);
    assert_int_equal(tsv_meta_restore_bucket(d, "mydb", up0, &map, &n, &restored, &err), 0);
    assert_int_equal(n, 0);
    assert_non_null(map);
    assert_int_equal(restored->n_retentionpolicies, 1);
    assert_int_equal(restored->n_continuousqueries, 0);
    free(map);
    tsv_meta_free_database(up0);
    tsv_meta_free(d);
}

/* Restores that must fail leave the tree byte-for-byte unchanged. */
static void expect_restore_fails(const Meta__DatabaseInfo *up, const char *db_name, tsv_code code,
                                 const char *needle)
{
    Meta__Data *d = restore_target();
    uint8_t *before, *after;
    size_t before_len, after_len;
    encode_ok(d, &before, &before_len);
    tsv_meta_shard_map *map = (tsv_meta_shard_map *)(uintptr_t)1; /* must stay untouched */
    size_t n = 12345;
    tsv_error err = {0};
    assert_int_equal(tsv_meta_restore_bucket(d, db_name, up, &map, &n, NULL, &err), -1);
    assert_int_equal(err.code, code);
    if (needle && !strstr(err.message, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err.message, needle);
    assert_ptr_equal(map, (tsv_meta_shard_map *)(uintptr_t)1);
    assert_int_equal(n, 12345);
    encode_ok(d, &after, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    free(before);
    free(after);
    tsv_meta_free(d);
}

static void restore_fails_with_rps(const char *const *names, size_t n_rps, int64_t dur,
                                   const char *needle)
{
    wbuf db = {0};
    put_str(&db, 1, "x");
    put_str(&db, 2, "autogen");
    for (size_t i = 0; i < n_rps; i++) {
        wbuf rp = {0}, g = {0};
        put_group(&g, 1, 0, 10, 0, 0);
        put_shard(&g, 100 + i);
        put_rp_head(&rp, names[i], dur, 0, 1);
        put_msg(&rp, 5, &g);
        put_msg(&db, 3, &rp);
    }
    Meta__DatabaseInfo *up = decode_db(&db);
    expect_restore_fails(up, RESTORE_DB, TSV_EINVALID, needle);
    tsv_meta_free_database(up);
}

static void test_restore_rejects(void **state)
{
    static const char *const two[] = {"autogen", "other"};
    restore_fails_with_rps(two, 0, 0,
                           "bucket must have 1 retention policy; attempting to restore 0 retention "
                           "policies");
    restore_fails_with_rps(two, 2, 0,
                           "bucket must have 1 retention policy; attempting to restore 2 retention "
                           "policies");

    char long_name[257];
    memset(long_name, 'x', 256);
    long_name[256] = 0;
    const char *bad_names[] = {"", ".", "..", "a/b", "/", long_name};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        restore_fails_with_rps(&bad_names[i], 1, 0, "invalid retention policy name");
    long_name[255] = 0; /* 255 bytes is fine */
    {
        wbuf rp = {0}, db = {0};
        put_rp_head(&rp, long_name, 0, 0, 1);
        put_str(&db, 1, "x");
        put_str(&db, 2, "x");
        put_msg(&db, 3, &rp);
        Meta__DatabaseInfo *up = decode_db(&db);
        Meta__Data *d = restore_target();
        tsv_meta_shard_map *map;
        size_t n;
        tsv_error err = {0};
        assert_int_equal(tsv_meta_restore_bucket(d, RESTORE_DB, up, &map, &n, NULL, &err), 0);
        free(map);
        tsv_meta_free(d);
        tsv_meta_free_database(up);
    }

    static const char *const one[] = {"autogen"};
    restore_fails_with_rps(one, 1, 30 * 60 * 1000000000LL,
                           "retention policy duration must be at least 1h0m0s");
    restore_fails_with_rps(one, 1, -DAY, "retention policy duration must be at least 1h0m0s");

    /* Unknown database. */
    {
        wbuf db = {0};
        put_autogen_db(&db, "x", 0, NULL);
        Meta__DatabaseInfo *up = decode_db(&db);
        expect_restore_fails(up, "ffffffffffffffff", TSV_ENOTFOUND,
                             "bucket dbi for \"ffffffffffffffff\" not found during restore");
        tsv_meta_free_database(up);
    }
    /* A group that ends before it starts. */
    {
        wbuf g = {0}, db = {0};
        put_group(&g, 1, 200, 100, 0, 0);
        put_shard(&g, 1);
        put_autogen_db(&db, "x", 0, &g);
        Meta__DatabaseInfo *up = decode_db(&db);
        expect_restore_fails(up, RESTORE_DB, TSV_EINVALID, "ends before it starts");
        tsv_meta_free_database(up);
    }
    /* Duplicate old shard IDs: within a group, across groups, and with a
     * deleted group; each time the last group is the valid-looking one. */
    static const struct {
        uint64_t a, b, c;
        int64_t deleted_b;
    } dups[] = {{1, 1, 2, 0}, {1, 2, 1, 0}, {3, 4, 4, 0}, {1, 2, 2, 5}};
    for (size_t i = 0; i < sizeof dups / sizeof dups[0]; i++) {
        wbuf g1 = {0}, g2 = {0}, rp = {0}, db = {0};
        put_group(&g1, 1, 0, 10, 0, 0);
        put_shard(&g1, dups[i].a);
        put_shard(&g1, dups[i].b);
        put_group(&g2, 2, 10, 20, dups[i].deleted_b, 0);
        put_shard(&g2, dups[i].c);
        put_rp_head(&rp, "autogen", 0, 0, 1);
        put_msg(&rp, 5, &g1);
        put_msg(&rp, 5, &g2);
        put_str(&db, 1, "x");
        put_str(&db, 2, "autogen");
        put_msg(&db, 3, &rp);
        Meta__DatabaseInfo *up = decode_db(&db);
        expect_restore_fails(up, RESTORE_DB, TSV_EINVALID, "appears more than once");
        tsv_meta_free_database(up);
    }
    /* A hand-built upload with an unset required string. */
    {
        Meta__DatabaseInfo up = META__DATABASE_INFO__INIT;
        Meta__RetentionPolicyInfo rp = META__RETENTION_POLICY_INFO__INIT;
        Meta__RetentionPolicyInfo *rps[] = {&rp};
        up.name = "x";
        up.defaultretentionpolicy = "autogen";
        up.retentionpolicies = rps;
        up.n_retentionpolicies = 1;
        expect_restore_fails(&up, RESTORE_DB, TSV_EINVALID, "RetentionPolicyInfo.Name");
    }
}

/* Shard paths become directories (engine/data/<db>/<rp>/<id>) that are
 * created, backed up and moved to the trash: a name from an uploaded KV must
 * not lead outside that tree. */
static void test_shard_paths_refuse_escapes(void **state)
{
    size_t len;
    uint8_t *buf = load_v18(&len);
    Meta__Data *d = decode_ok(buf, len);
    free(buf);
    char **paths = NULL;
    size_t n = 0;
    tsv_error err = {0};
    assert_int_equal(tsv_meta_shard_paths(d, &paths, &n, &err), 0);
    assert_int_equal(n, 11);
    for (size_t i = 0; i < n; i++)
        assert_null(strstr(paths[i], ".."));
    tsv_meta_shard_paths_free(paths, n);

    /* The first database with a live shard, and its first RP with shards. */
    Meta__DatabaseInfo *db = NULL;
    Meta__RetentionPolicyInfo *rp = NULL;
    for (size_t i = 0; i < d->n_databases && !rp; i++)
        for (size_t j = 0; j < d->databases[i]->n_retentionpolicies && !rp; j++)
            if (d->databases[i]->retentionpolicies[j]->n_shardgroups > 0) {
                db = d->databases[i];
                rp = db->retentionpolicies[j];
            }
    assert_non_null(rp);
    static const char *const bad[] = {"..", ".", "", "../../escape", "a/b", "/abs"};
    for (int which = 0; which < 2; which++) {
        char **field = which == 0 ? &db->name : &rp->name;
        char *saved = *field;
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            *field = strdup(bad[i]);
            assert_non_null(*field);
            paths = NULL;
            n = 0;
            tsv_error_clear(&err);
            if (tsv_meta_shard_paths(d, &paths, &n, &err) != -1 || err.code != TSV_EINVALID)
                fail_msg("%s name \"%s\" accepted as a shard path component",
                         which == 0 ? "database" : "retention policy", bad[i]);
            assert_null(paths);
            free(*field);
        }
        *field = saved;
    }
    tsv_meta_free(d);
}

/* ------------------------------------------------------------------------ */
/* meta_store: meta.db inside the KV tree                                    */
/* ------------------------------------------------------------------------ */

/* Leaves 0xff bytes where the next call's locals will live, so a read of an
 * uninitialised local is seen as such, not hidden by a lucky zero. */
static __attribute__((noinline)) void dirty_stack(void)
{
    volatile uint8_t junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 0xff;
}

static int load_dirty(tsv_kv_txn *t, Meta__Data **out, int *present, tsv_error *err)
{
    dirty_stack();
    return tsv_meta_load(t, out, present, err);
}

static void test_meta_store(void **state)
{
    char dir[] = "/tmp/tsv-test-metastore-XXXXXX";
    assert_non_null(mkdtemp(dir));
    tsv_kv *kv = NULL;
    tsv_error err = {0};
    assert_int_equal(tsv_kv_open(&kv, dir, 0, &err), 0);
    tsv_kv_txn *t;
    assert_int_equal(tsv_kv_begin(kv, 1, &t, &err), 0);

    /* No bucket, then an empty bucket: absent, a new empty meta. */
    Meta__Data *d = NULL;
    int present = -1;
    assert_int_equal(load_dirty(t, &d, &present, &err), 0);
    assert_int_equal(present, 0);
    assert_int_equal(d->index, 1);
    assert_int_equal(d->n_databases, 0);
    tsv_meta_free(d);
    uint64_t b;
    assert_int_equal(tsv_kv_bucket_create(t, TSV_KV_ROOT, TSV_META_BUCKET, strlen(TSV_META_BUCKET),
                                          0, 0, &b, &err),
                     0);
    present = -1;
    assert_int_equal(load_dirty(t, &d, &present, &err), 0);
    assert_int_equal(present, 0);
    tsv_meta_free(d);

    /* A zero-length value reads as absent, as in influxd's KV
     * (docs/formats.md#kv-rules); it is not an error. */
    assert_int_equal(tsv_kv_put(t, b, TSV_META_KEY, strlen(TSV_META_KEY), "", 0, &err), 0);
    present = -1;
    d = NULL;
    tsv_error_clear(&err);
    if (load_dirty(t, &d, &present, &err) != 0)
        fail_msg("zero-length meta.db: code %d: %s", (int)err.code, err.message);
    assert_int_equal(present, 0);
    assert_non_null(d);
    tsv_meta_free(d);

    /* Garbage is refused, naming the location. */
    assert_int_equal(tsv_kv_put(t, b, TSV_META_KEY, strlen(TSV_META_KEY), "\xff\xff", 2, &err), 0);
    d = NULL;
    assert_int_equal(load_dirty(t, &d, &present, &err), -1);
    assert_int_equal(err.code, TSV_EINVALID);
    assert_non_null(strstr(err.message, TSV_META_BUCKET "/" TSV_META_KEY));
    assert_null(d);

    /* The live file's value loads as itself; save bumps Index and the bytes
     * are what encode gives. */
    size_t len;
    uint8_t *live = load_live(&len);
    assert_int_equal(tsv_kv_put(t, b, TSV_META_KEY, strlen(TSV_META_KEY), live, len, &err), 0);
    assert_int_equal(load_dirty(t, &d, &present, &err), 0);
    assert_int_equal(present, 1);
    assert_int_equal(d->index, 4);
    assert_int_equal(d->n_databases, 3);
    assert_int_equal(tsv_meta_save(t, d, &err), 0);
    assert_int_equal(d->index, 5);
    uint8_t *enc;
    size_t enc_len;
    encode_ok(d, &enc, &enc_len);
    tsv_meta_free(d);
    const uint8_t *v;
    size_t vlen;
    assert_int_equal(tsv_kv_get(t, b, TSV_META_KEY, strlen(TSV_META_KEY), &v, &vlen, &err), 0);
    assert_int_equal(vlen, enc_len);
    assert_memory_equal(v, enc, vlen);
    free(enc);
    free(live);

    tsv_kv_abort(t);
    tsv_kv_close(kv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_v18),
        cmocka_unit_test(test_decode_live_2x),
        cmocka_unit_test(test_decode_backup_20),
        cmocka_unit_test(test_decode_portable_16),
        cmocka_unit_test(test_protobuf_c_rejects_missing_required),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_truncated_and_mutated),
        cmocka_unit_test(test_owner_ids_folded),
        cmocka_unit_test(test_encode_canonicalises),
        cmocka_unit_test(test_encode_negative_and_zero),
        cmocka_unit_test(test_new_empty_clone_touch),
        cmocka_unit_test(test_foreach_and_find_shard),
        cmocka_unit_test(test_normalise),
        cmocka_unit_test(test_create_drop),
        cmocka_unit_test(test_restore_bucket),
        cmocka_unit_test(test_restore_rejects),
        cmocka_unit_test(test_meta_store),
        cmocka_unit_test(test_shard_paths_refuse_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
