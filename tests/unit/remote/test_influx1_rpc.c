/* Unit tests of remote/influx1_rpc.c (and storage/tar_stream.c) against a fake
 * 1.x snapshotter running in a thread: protocol violations, timeouts, refused
 * connections, tar checks and the restore's entry renaming. */
#include "harness.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "influx1_rpc.h"
#include "meta.h"
#include "stream.h"
#include "tar_stream.h"
#include "v1_meta.h"

#define FIX TSV_TESTDATA "/influxdb-1.6-portable/backup/20261121T112622Z"
#define MAX_CONN 64

/* ---- fake server -------------------------------------------------------------- */

typedef struct fake fake;
/* Serves connection number i on fd (closed by the caller). */
typedef void (*script_fn)(fake *f, int i, int fd);

struct fake {
    int lfd, port;
    pthread_t th;
    script_fn script;
    /* scenario data */
    const uint8_t *reply;
    size_t reply_len;
    const uint8_t *reply2; /* type 1 answers after the first connection */
    size_t reply2_len;
    /* captured */
    char line[MAX_CONN][2048];
    int type[MAX_CONN];
    tsv_buf body[MAX_CONN]; /* type 6 payload / type 7 tar */
    uint64_t shard[MAX_CONN];
    int served;
};

static void write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k <= 0)
            return;
        b += k;
        n -= (size_t)k;
    }
}

static int read_n(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t k = recv(fd, b, n, 0);
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The mux and type bytes, then the JSON line for types 0-6, the ID for 7. */
static int read_request(fake *f, int i, int fd)
{
    uint8_t h[2];
    if (read_n(fd, h, 2) != 0 || h[0] != 0x03)
        return -1;
    f->type[i] = h[1];
    if (h[1] == 7) {
        uint8_t id[8];
        if (read_n(fd, id, 8) != 0)
            return -1;
        for (int k = 0; k < 8; k++)
            f->shard[i] = f->shard[i] << 8 | id[k];
        return 0;
    }
    size_t n = 0;
    while (n + 1 < sizeof f->line[i]) {
        if (read_n(fd, f->line[i] + n, 1) != 0)
            return -1;
        if (f->line[i][n++] == '\n')
            break;
    }
    f->line[i][n] = '\0';
    return 0;
}

static void drain_into(int fd, tsv_buf *b)
{
    uint8_t buf[4096];
    ssize_t k;
    while ((k = recv(fd, buf, sizeof buf, 0)) > 0)
        tsv_buf_append(b, buf, (size_t)k, NULL);
}

static void *fake_main(void *arg)
{
    fake *f = arg;
    for (int i = 0; i < MAX_CONN; i++) {
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0)
            break;
        struct timeval tv = {.tv_sec = 10};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        f->script(f, i, fd);
        f->served = i + 1;
        close(fd);
    }
    return NULL;
}

static void fake_free(fake *f)
{
    for (int i = 0; i < MAX_CONN; i++)
        tsv_buf_free(&f->body[i]);
}

/* f must be zeroed or used before (what it captured then is freed). */
static void fake_start(fake *f, script_fn script)
{
    fake_free(f);
    memset(f, 0, sizeof *f);
    f->script = script;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->lfd, 16), 0);
    socklen_t sl = sizeof a;
    getsockname(f->lfd, (struct sockaddr *)&a, &sl);
    f->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

/* fake_start, with reply (borrowed) as what the script answers first. */
static void fake_start_reply(fake *f, script_fn script, const tsv_buf *reply)
{
    fake_start(f, script);
    f->reply = reply->data;
    f->reply_len = reply->len;
}

static void fake_stop(fake *f)
{
    shutdown(f->lfd, SHUT_RDWR); /* wakes accept() */
    pthread_join(f->th, NULL);
    close(f->lfd);
}

static tsv_influx1_client *client_for(const fake *f, int timeout_ms)
{
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", f->port);
    tsv_influx1_client *c;
    OK(tsv_influx1_client_new(&c, host, timeout_ms, &E));
    return c;
}

/* Replies f->reply to the first request, f->reply2 (if set) to the others. */
static void script_reply(fake *f, int i, int fd)
{
    if (read_request(f, i, fd) != 0)
        return;
    if (i > 0 && f->reply2)
        write_all(fd, f->reply2, f->reply2_len);
    else
        write_all(fd, f->reply, f->reply_len);
}

/* Reads the request, answers nothing, waits for the client to give up. */
static void script_silent(fake *f, int i, int fd)
{
    if (read_request(f, i, fd) == 0) {
        tsv_buf b = {0};
        drain_into(fd, &b);
        tsv_buf_free(&b);
    }
}

/* ---- helpers -------------------------------------------------------------------- */

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint8_t *fixture_meta(size_t *len)
{
    size_t flen;
    uint8_t *file = harness_read_bytes(FIX ".meta", &flen);
    const uint8_t *data;
    OK(tsv_v1_portable_unwrap(file, flen, &data, len, NULL, &E));
    uint8_t *copy = malloc(*len);
    memcpy(copy, data, *len);
    free(file);
    return copy;
}

/* magic, length, meta, 5, "null\n" as influxd answers a type 1 request. */
static void meta_reply(tsv_buf *out, const uint8_t *meta, size_t len, uint64_t magic)
{
    uint8_t h[16], t[8];
    put_u64(h, magic);
    put_u64(h + 8, len);
    put_u64(t, 5);
    out->len = 0;
    OK(tsv_buf_append(out, h, 16, &E));
    OK(tsv_buf_append(out, meta, len, &E));
    OK(tsv_buf_append(out, t, 8, &E));
    OK(tsv_buf_append(out, "null\n", 5, &E));
}

/* A tar of the fixture's shard N (gunzipped). */
static uint8_t *fixture_tar(int shard, size_t *len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, FIX ".s%d.tar.gz", shard);
    size_t glen;
    uint8_t *gz = harness_read_bytes(path, &glen);
    tsv_reader *mem = tsv_mem_reader_new(gz, glen), *dec;
    OK(tsv_decoder_new(&dec, TSV_CODEC_GZIP, mem, &E));
    tsv_buf out = {0};
    tsv_writer *w = tsv_buf_writer_new(&out);
    OK(tsv_copy(w, dec, NULL, &E));
    tsv_writer_free(w);
    tsv_reader_free(dec);
    tsv_reader_free(mem);
    free(gz);
    *len = out.len;
    return out.data;
}

/* "name size\n" of every entry of an in-memory tar. */
static void tar_listing(const uint8_t *tar, size_t len, tsv_buf *out)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    archive_read_support_format_empty(a);
    assert_int_equal(archive_read_open_memory(a, tar, len), ARCHIVE_OK);
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        char line[512];
        int n = snprintf(line, sizeof line, "%s %" PRId64 "\n", archive_entry_pathname(e),
                         (int64_t)archive_entry_size(e));
        OK(tsv_buf_append(out, line, (size_t)n, &E));
    }
    archive_read_free(a);
    OK(tsv_buf_append(out, "", 1, &E));
}

static void assert_msg(const char *want)
{
    if (!strstr(E.message, want))
        fail_msg("message \"%s\" lacks \"%s\"", E.message, want);
}

/* ---- metastore ------------------------------------------------------------------ */

/* The fixture's metastore (into *meta, *mlen; the caller frees it) served
 * by f as influxd answers, with `magic` (the reply in *reply); a client for
 * f. */
static tsv_influx1_client *meta_server(fake *f, tsv_buf *reply, uint64_t magic, uint8_t **meta,
                                       size_t *mlen)
{
    *meta = fixture_meta(mlen);
    meta_reply(reply, *meta, *mlen, magic);
    fake_start_reply(f, script_reply, reply);
    return client_for(f, 5000);
}

static void test_meta_ok_and_probe(void **state)
{
    (void)state;
    size_t mlen;
    uint8_t *meta;
    tsv_buf reply = {0};
    fake f = {0};
    tsv_influx1_client *c = meta_server(&f, &reply, 0x59590101, &meta, &mlen);
    uint8_t *got;
    size_t len;
    OK(tsv_influx1_fetch_meta(c, &got, &len, &E));
    assert_int_equal(len, mlen);
    assert_memory_equal(got, meta, mlen);
    free(got);
    char sum[256];
    OK(tsv_influx1_probe(c, sum, sizeof sum, &E));
    assert_string_equal(sum, "1 database (fixture), 5 shards");
    tsv_influx1_client_free(c);
    fake_stop(&f);
    /* the request line is influxd backup's, byte for byte (wire capture of
     * `influxd backup -portable`, reference influxdb-1.md section 2) */
    assert_int_equal(f.type[0], 1);
    assert_string_equal(f.line[0], "{\"Type\":1,\"BackupDatabase\":\"\",\"RestoreDatabase\":\"\","
                                   "\"BackupRetentionPolicy\":\"\",\"RestoreRetentionPolicy\":\"\","
                                   "\"ShardID\":0,\"Since\":\"0001-01-01T00:00:00Z\","
                                   "\"ExportStart\":\"0001-01-01T00:00:00Z\","
                                   "\"ExportEnd\":\"0001-01-01T00:00:00Z\",\"UploadSize\":0}\n");
    tsv_buf_free(&reply);
    free(meta);
}

/* A server that answers the metastore request with the first len bytes of
 * reply makes fetch_meta fail with TSV_EINVALID, a message holding msg (and
 * msg2 unless NULL) and no metastore. */
static void meta_fails(const uint8_t *reply, size_t len, const char *msg, const char *msg2)
{
    fake f = {0};
    fake_start(&f, script_reply);
    f.reply = reply;
    f.reply_len = len;
    tsv_influx1_client *c = client_for(&f, 5000);
    uint8_t *got;
    size_t got_len;
    FAILS(tsv_influx1_fetch_meta(c, &got, &got_len, &E), TSV_EINVALID);
    assert_msg(msg);
    if (msg2)
        assert_msg(msg2);
    assert_null(got);
    tsv_influx1_client_free(c);
    fake_stop(&f);
}

static void test_meta_bad_magic(void **state)
{
    (void)state;
    size_t mlen;
    uint8_t *meta = fixture_meta(&mlen);
    tsv_buf reply = {0};
    meta_reply(&reply, meta, mlen, 0x1234);
    meta_fails(reply.data, reply.len, "bad magic 0x0000000000001234 from 127.0.0.1:", NULL);
    tsv_buf_free(&reply);
    free(meta);
}

static void test_meta_too_long_and_truncated(void **state)
{
    (void)state;
    size_t mlen;
    uint8_t *meta = fixture_meta(&mlen);
    uint8_t h[16];
    put_u64(h, 0x59590101);
    put_u64(h + 8, UINT64_C(1) << 40);
    meta_fails(h, sizeof h, "meta length 1099511627776 from 127.0.0.1:", "exceeds the limit");

    /* announced 236 bytes, 100 sent, then the connection closes */
    tsv_buf reply = {0};
    meta_reply(&reply, meta, mlen, 0x59590101);
    meta_fails(reply.data, 16 + 100,
               "closed the connection after 100 of 236 bytes of the metastore", NULL);

    /* whole length, but the bytes are not a meta.Data */
    memset(reply.data + 16, 0xff, mlen);
    meta_fails(reply.data, reply.len, "does not decode", NULL);
    tsv_buf_free(&reply);
    free(meta);
}

static void test_timeout_silent_server(void **state)
{
    (void)state;
    fake f = {0};
    fake_start(&f, script_silent);
    tsv_influx1_client *c = client_for(&f, 300);
    uint8_t *got;
    size_t len;
    FAILS(tsv_influx1_fetch_meta(c, &got, &len, &E), TSV_EUNAVAILABLE);
    char want[128];
    snprintf(want, sizeof want,
             "timed out after 300 ms waiting for the metastore from 127.0.0.1:%d", f.port);
    assert_string_equal(E.message, want);
    tsv_buf sink = {0};
    tsv_writer *w = tsv_buf_writer_new(&sink);
    FAILS(tsv_influx1_fetch_shard(c, "db", "rp", 3, INT64_MIN, w, NULL, &E), TSV_EUNAVAILABLE);
    assert_msg("timed out after 300 ms waiting for shard 3 from");
    tsv_writer_free(w);
    tsv_buf_free(&sink);
    tsv_influx1_client_free(c);
    fake_stop(&f);
}

static void test_connect_refused_and_bad_hosts(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t sl = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &sl);
    close(s); /* nobody listens there now */
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", ntohs(a.sin_port));
    tsv_influx1_client *c;
    OK(tsv_influx1_client_new(&c, host, 1000, &E));
    char sum[64];
    FAILS(tsv_influx1_probe(c, sum, sizeof sum, &E), TSV_EUNAVAILABLE);
    char want[128];
    snprintf(want, sizeof want, "connect to %s: Connection refused", host);
    assert_string_equal(E.message, want);
    tsv_influx1_client_free(c);

    OK(tsv_influx1_client_new(&c, "no-such-host.invalid:8088", 1000, &E));
    FAILS(tsv_influx1_probe(c, sum, sizeof sum, &E), TSV_EUNAVAILABLE);
    assert_msg("resolve no-such-host.invalid:8088: ");
    tsv_influx1_client_free(c);

    OK(tsv_influx1_client_new(&c, "[::1]:8088", 1000, &E));
    assert_string_equal(tsv_influx1_client_host(c), "[::1]:8088");
    tsv_influx1_client_free(c);
    OK(tsv_influx1_client_new(&c, "localhost", 1000, &E));
    tsv_influx1_client_free(c);
    FAILS(tsv_influx1_client_new(&c, "::1:8088", 1000, &E), TSV_EINVALID);
    FAILS(tsv_influx1_client_new(&c, "h:99999", 1000, &E), TSV_EINVALID);
    FAILS(tsv_influx1_client_new(&c, "[::1", 1000, &E), TSV_EINVALID);
    FAILS(tsv_influx1_client_new(&c, "h:1", 0, &E), TSV_EINVALID);
}

/* ---- shards -------------------------------------------------------------------- */

static void test_shard_ok_since_and_bad_tars(void **state)
{
    (void)state;
    size_t tlen;
    uint8_t *tar = fixture_tar(1, &tlen);
    fake f = {0};
    fake_start(&f, script_reply);
    f.reply = tar;
    f.reply_len = tlen;
    tsv_influx1_client *c = client_for(&f, 5000);
    tsv_buf got = {0};
    tsv_writer *w = tsv_buf_writer_new(&got);
    uint64_t bytes = 0;
    int64_t since = INT64_C(1704067200500000000); /* 2024-01-01T00:00:00.5Z */
    OK(tsv_influx1_fetch_shard(c, "fixture", "autogen", 1, since, w, &bytes, &E));
    assert_int_equal(bytes, tlen);
    assert_int_equal(got.len, tlen);
    assert_memory_equal(got.data, tar, tlen);
    tsv_writer_free(w);
    tsv_influx1_client_free(c);
    fake_stop(&f);
    assert_int_equal(f.type[0], 0);
    assert_non_null(strstr(f.line[0], "\"BackupDatabase\":\"fixture\",\"RestoreDatabase\":\"\","
                                      "\"BackupRetentionPolicy\":\"autogen\""));
    assert_non_null(strstr(f.line[0], "\"ShardID\":1,\"Since\":\"2024-01-01T00:00:00.5Z\","));

    struct {
        size_t len; /* of the tar sent */
        int garble; /* offset of a flipped byte, -1 none */
        const char *want;
    } cases[] = {
        {tlen - 1024, -1, "source sent a truncated tar: no closing zero blocks after 2 entries"},
        {tlen - 512, -1, "source sent a truncated tar: only one of the two closing"},
        {700, -1, "source sent a truncated tar: the stream ends inside entry 1 (\"fixture/"},
        {300, -1, "source sent a truncated tar: the stream ends inside a header block"},
        {tlen, 10, "source sent an invalid tar: header checksum mismatch at offset 0"},
        {0, -1, "source sent nothing"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t *bad = malloc(tlen);
        memcpy(bad, tar, tlen);
        if (cases[k].garble >= 0)
            bad[cases[k].garble] ^= 0x5a;
        fake_start(&f, script_reply);
        f.reply = bad;
        f.reply_len = cases[k].len;
        c = client_for(&f, 5000);
        got.len = 0;
        w = tsv_buf_writer_new(&got);
        FAILS(tsv_influx1_fetch_shard(c, NULL, NULL, 7, INT64_MIN, w, &bytes, &E), TSV_EINVALID);
        assert_msg(cases[k].want);
        assert_msg("shard 7 from 127.0.0.1:");
        assert_int_equal(bytes, cases[k].len);
        tsv_writer_free(w);
        tsv_influx1_client_free(c);
        fake_stop(&f);
        free(bad);
    }
    tsv_buf_free(&got);
    free(tar);
}

/* The check writer alone: an empty tar, GNU padding, data after the end. */
static void test_tar_check(void **state)
{
    (void)state;
    uint8_t z[10240] = {0};
    tsv_writer *w;
    uint64_t n;
    OK(tsv_tar_check_writer_new(&w, NULL, &E));
    OK(tsv_write(w, z, 1024, &E));
    OK(tsv_tar_check_finish(w, &n, &E));
    assert_int_equal(n, 0);
    OK(tsv_write(w, z, sizeof z - 1024, &E)); /* record padding */
    OK(tsv_tar_check_finish(w, &n, &E));
    z[5000] = 1;
    FAILS(tsv_write(w, z, sizeof z, &E), TSV_EINVALID);
    assert_msg("data after the end of the archive");
    FAILS(tsv_tar_check_finish(w, &n, &E), TSV_EINVALID);
    tsv_writer_free(w);
}

/* ---- restore -------------------------------------------------------------------- */

/* conn 0: type 6 -> the ID map; then type 7 uploads; then type 1 -> reply2. */
static void script_restore(fake *f, int i, int fd)
{
    if (read_request(f, i, fd) != 0)
        return;
    if (f->type[i] == 6) {
        const char *us = strstr(f->line[i], "\"UploadSize\":");
        size_t n = us ? strtoull(us + 13, NULL, 10) : 0;
        tsv_buf_append(&f->body[i], "", 0, NULL);
        uint8_t *m = malloc(n ? n : 1);
        if (read_n(fd, m, n) == 0)
            tsv_buf_append(&f->body[i], m, n, NULL);
        free(m);
        write_all(fd, f->reply, f->reply_len);
    } else if (f->type[i] == 7) {
        drain_into(fd, &f->body[i]);
    } else if (f->type[i] == 1) {
        write_all(fd, f->reply2, f->reply2_len);
    }
}

typedef struct opener {
    int missing; /* old shard ID answered TSV_ENOTFOUND */
    int opened, closed;
    uint8_t *bufs[8];
} opener;

static int open_fixture(void *ctx, uint64_t old_id, tsv_reader **tar, tsv_error *err)
{
    opener *o = ctx;
    if ((int)old_id == o->missing || old_id < 1 || old_id > 5)
        return tsv_error_set(err, TSV_ENOTFOUND, "no shard %" PRIu64, old_id);
    size_t len;
    o->bufs[old_id] = fixture_tar((int)old_id, &len);
    *tar = tsv_mem_reader_new(o->bufs[old_id], len);
    o->opened++;
    return 0;
}

static void close_fixture(void *ctx, tsv_reader *tar)
{
    opener *o = ctx;
    tsv_reader_free(tar);
    o->closed++;
}

/* The fixture meta with database "fixture" renamed and shards 1..5 -> 11..15. */
static void target_meta(const uint8_t *meta, size_t len, const char *name, tsv_buf *reply)
{
    Meta__Data *md;
    OK(tsv_meta_decode(meta, len, &md, &E));
    Meta__DatabaseInfo *d = md->databases[0];
    free(d->name);
    d->name = strdup(name);
    for (size_t r = 0; r < d->n_retentionpolicies; r++)
        for (size_t g = 0; g < d->retentionpolicies[r]->n_shardgroups; g++) {
            Meta__ShardGroupInfo *sg = d->retentionpolicies[r]->shardgroups[g];
            for (size_t s = 0; s < sg->n_shards; s++)
                sg->shards[s]->id += 10;
        }
    uint8_t *out;
    size_t olen;
    OK(tsv_meta_encode(md, &out, &olen, &E));
    meta_reply(reply, out, olen, 0x59590101);
    free(out);
    tsv_meta_free(md);
}

static void id_map(tsv_buf *out, int n)
{
    uint8_t h[16];
    put_u64(h, 0x59590101);
    put_u64(h + 8, (uint64_t)n);
    out->len = 0;
    OK(tsv_buf_append(out, h, 16, &E));
    for (int k = 5; k > 5 - n; k--) { /* any order, as influxd's Go map */
        put_u64(h, (uint64_t)k);
        put_u64(h + 8, (uint64_t)k + 10);
        OK(tsv_buf_append(out, h, 16, &E));
    }
}

/* What the restore tests share (their cmocka state): the fixture's
 * metadata, the ID map and the target's metastore the fake answers with, the
 * fake and the shard opener. */
typedef struct restore_rig {
    uint8_t *meta;
    size_t mlen;
    tsv_buf map, after;
    fake f;
    opener o;
} restore_rig;

static int restore_setup(void **state)
{
    restore_rig *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->meta = fixture_meta(&r->mlen);
    *state = r;
    return 0;
}

static int restore_teardown(void **state)
{
    restore_rig *r = *state;
    for (int k = 1; k <= 5; k++)
        free(r->o.bufs[k]);
    tsv_buf_free(&r->map);
    tsv_buf_free(&r->after);
    fake_free(&r->f);
    free(r->meta);
    free(r);
    return 0;
}

/* Starts r->f answering a restore with an ID map of `pairs` pairs, then
 * (unless target is NULL) with the target's metastore, where the database
 * is named target; a client for it. */
static tsv_influx1_client *restore_server(restore_rig *r, int pairs, const char *target,
                                          int timeout_ms)
{
    id_map(&r->map, pairs);
    if (target)
        target_meta(r->meta, r->mlen, target, &r->after);
    fake_start_reply(&r->f, script_restore, &r->map);
    if (target) {
        r->f.reply2 = r->after.data;
        r->f.reply2_len = r->after.len;
    }
    return client_for(&r->f, timeout_ms);
}

/* A request to restore the fixture's database "fixture" with r's opener. */
static tsv_influx1_restore_request restore_request(restore_rig *r)
{
    return (tsv_influx1_restore_request){.meta = r->meta,
                                         .meta_len = r->mlen,
                                         .backup_db = "fixture",
                                         .open_shard = open_fixture,
                                         .close_shard = close_fixture,
                                         .ctx = &r->o};
}

static void test_restore_renames_entries(void **state)
{
    restore_rig *r = *state;
    fake *f = &r->f;
    opener *o = &r->o;
    o->missing = 5;
    tsv_influx1_client *c = restore_server(r, 5, "renamed", 5000);
    tsv_influx1_shard_pair *pairs = NULL;
    size_t npairs = 0;
    tsv_influx1_restore_request req = restore_request(r);
    req.restore_db = "renamed";
    req.pairs_out = &pairs;
    req.n_pairs_out = &npairs;
    uint64_t sent = 0;
    OK(tsv_influx1_restore_database(c, &req, &sent, &E));
    tsv_influx1_client_free(c);
    fake_stop(f);
    assert_int_equal(npairs, 5);
    assert_int_equal(pairs[0].old_id, 5);
    assert_int_equal(pairs[0].new_id, 15);
    free(pairs);
    assert_int_equal(o->opened, 4);
    assert_int_equal(o->closed, 4);
    /* conn 0: the metadata as sent */
    assert_int_equal(f->type[0], 6);
    assert_non_null(strstr(f->line[0],
                           "{\"Type\":6,\"BackupDatabase\":\"fixture\",\"RestoreDatabase\":"
                           "\"renamed\",\"BackupRetentionPolicy\":\"\""));
    assert_int_equal(f->body[0].len, r->mlen);
    assert_memory_equal(f->body[0].data, r->meta, r->mlen);
    /* conns 1-5: one upload per pair, entries renamed, data unchanged */
    uint64_t total = 0;
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(f->type[i], 7);
        uint64_t id = f->shard[i], old = id - 10;
        total += f->body[i].len;
        tsv_buf want = {0}, got = {0};
        tar_listing(f->body[i].data, f->body[i].len, &got);
        if (old == 5) { /* no tar in the "backup": an empty one */
            assert_int_equal(f->body[i].len, 1024);
            assert_string_equal((char *)got.data, "");
            tsv_buf_free(&got);
            continue;
        }
        size_t tlen;
        uint8_t *orig = fixture_tar((int)old, &tlen);
        tar_listing(orig, tlen, &want);
        /* fixture/<rp>/<old>/<file> -> renamed/<rp>/<new>/<file> */
        char from[32], to[32];
        snprintf(from, sizeof from, "/%" PRIu64 "/", old);
        snprintf(to, sizeof to, "/%" PRIu64 "/", id);
        char expect[4096] = "";
        for (char *line = strtok((char *)want.data, "\n"); line; line = strtok(NULL, "\n")) {
            char *slash = strstr(line, from);
            assert_non_null(slash);
            char rp[64];
            snprintf(rp, sizeof rp, "%.*s", (int)(slash - line - 8), line + 8);
            snprintf(expect + strlen(expect), sizeof expect - strlen(expect), "renamed/%s%s%s\n",
                     rp, to, slash + strlen(from));
        }
        assert_string_equal((char *)got.data, expect);
        assert_true(strstr(expect, old <= 3 ? "renamed/autogen/" : "renamed/daily/") == expect);
        /* the data bytes are the same: same tar length, ustar headers */
        assert_int_equal(f->body[i].len, tlen);
        tsv_buf_free(&want);
        tsv_buf_free(&got);
        free(orig);
    }
    assert_int_equal(sent, total);
    assert_int_equal(f->type[6], 1); /* the check afterwards */
}

static void test_restore_refused_and_unconfirmed(void **state)
{
    restore_rig *r = *state;
    fake *f = &r->f;
    tsv_influx1_client *c = restore_server(r, 0, NULL, 5000);
    tsv_influx1_restore_request req = restore_request(r);
    req.backup_rp = "daily";
    req.restore_rp = "day2";
    FAILS(tsv_influx1_restore_database(c, &req, NULL, &E), TSV_ECONFLICT);
    assert_msg("refused the metadata of database \"fixture\" (restored as \"fixture\")");
    tsv_influx1_client_free(c);
    fake_stop(f);
    assert_non_null(strstr(f->line[0], "\"BackupRetentionPolicy\":\"daily\","
                                       "\"RestoreRetentionPolicy\":\"day2\""));

    /* a pair for a shard of another RP than the one restored */
    c = restore_server(r, 3, NULL, 5000);
    FAILS(tsv_influx1_restore_database(c, &req, NULL, &E), TSV_EINVALID);
    assert_msg("bad shard ID pair (3 -> 13): not a shard of the restored database");
    tsv_influx1_client_free(c);
    fake_stop(f);

    /* uploads accepted, but the target's metastore never shows the database */
    c = restore_server(r, 2, "other", 200);
    FAILS(tsv_influx1_restore_database(c, &req, NULL, &E), TSV_EINTERNAL);
    assert_msg("not confirmed: database \"fixture\" does not exist there");
    tsv_influx1_client_free(c);
    fake_stop(f);
    assert_int_equal(f->type[1], 7);
    tsv_buf names = {0};
    tar_listing(f->body[1].data, f->body[1].len, &names);
    assert_true(strncmp((char *)names.data, "fixture/day2/15/", 16) == 0);
    tsv_buf_free(&names);

    req.backup_db = "nope";
    c = client_for(f, 200);
    FAILS(tsv_influx1_restore_database(c, &req, NULL, &E), TSV_ENOTFOUND);
    tsv_influx1_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meta_ok_and_probe),
        cmocka_unit_test(test_meta_bad_magic),
        cmocka_unit_test(test_meta_too_long_and_truncated),
        cmocka_unit_test(test_timeout_silent_server),
        cmocka_unit_test(test_connect_refused_and_bad_hosts),
        cmocka_unit_test(test_shard_ok_since_and_bad_tars),
        cmocka_unit_test(test_tar_check),
        cmocka_unit_test_setup_teardown(test_restore_renames_entries, restore_setup,
                                        restore_teardown),
        cmocka_unit_test_setup_teardown(test_restore_refused_and_unconfirmed, restore_setup,
                                        restore_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
