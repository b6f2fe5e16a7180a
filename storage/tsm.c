/*
 * tsm: whole-file validation of TSM files (docs/formats.md#tsm-validation) and the TSM /
 * tombstone file-name rules (docs/formats.md#tsm-files). Block data is checked by tsm_decode.c,
 * tombstones by tombstone.c.
 *
 * Reading strategy: the footer and header are read with pread; the index is
 * streamed front to back through a fixed buffer; blocks are read through a
 * second buffer that only moves forwards. That works because we require the
 * blocks to tile the data region in index order (B.5 item 9, see tsm.h), so
 * the n-th index entry's block is always the next bytes of the data region.
 * Memory is therefore two buffers (the block one grows to the largest block,
 * at most TSV_TSM_MAX_BLOCK_BYTES), two 64 KiB key buffers and the string
 * scratch, regardless of file size.
 *
 * Streamed files (tsv_tsm_stream): blocks are checked as they arrive, found
 * by decoding (tsm_decode_block_prefix), and summarised as a SHA-256 over
 * 29-byte records (offset, size, type, first, last; big-endian). The index
 * pass then hashes the same record for each entry instead of reading its
 * block, and compares the digests where the stream stopped. Equal digests
 * mean every entry names exactly a block the stream checked, with the same
 * type and time range, which is what the plain pass would have checked.
 */
#include "tsm.h"

#include <errno.h>
#include <inttypes.h>
#include <isa-l/crc.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array_grow.h"
#include "metrics.h"
#include "tombstone.h"
#include "tsm_decode.h"

#define TSM_MAGIC 0x16D116D1u
#define TSM_VERSION 1
#define TSM_HEADER_SIZE 5
#define TSM_FOOTER_SIZE 8
#define TSM_ENTRY_SIZE 28
#define TSM_MAX_KEY 65535
#define TSM_CRC_SIZE 4
/* Smallest block: CRC + type byte + one varint byte (Go's DecodeBlock
 * panics on anything shorter). */
#define TSM_MIN_BLOCK (TSM_CRC_SIZE + 2)

#define INDEX_BUF_SIZE (256u << 10) /* holds any key record header */
#define DATA_BUF_SIZE (1u << 20)    /* grows up to the largest block */

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* --- forward-only buffered reader over one region of the file ------------ */

typedef struct seqreader {
    int fd;
    uint8_t *buf;
    size_t cap, max_cap;
    size_t start, end; /* valid bytes are buf[start, end) */
    uint64_t pos;      /* file offset of buf[start] */
    uint64_t limit;    /* end of the region (exclusive) */
} seqreader;

enum {
    SR_OK = 0,
    SR_SHORT = 1,
    SR_IOERR = -1,
    SR_NOMEM = -2,
    SR_EOF = -3
};

static int sr_init(seqreader *r, int fd, uint64_t from, uint64_t limit, size_t cap, size_t max_cap)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->pos = from;
    r->limit = limit;
    r->max_cap = max_cap;
    /* Small files get small buffers. */
    if (limit - from < cap)
        cap = (size_t)(limit - from);
    if (cap == 0)
        cap = 1;
    r->buf = malloc(cap);
    if (!r->buf)
        return SR_NOMEM;
    r->cap = cap;
    return SR_OK;
}

static void sr_free(seqreader *r)
{
    free(r->buf);
    r->buf = NULL;
}

/* n bytes at off: SR_OK, SR_IOERR (errno set) or SR_EOF (the file is
 * shorter). */
static int pread_full(int fd, uint8_t *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return SR_IOERR;
        }
        if (k == 0)
            return SR_EOF;
        got += (size_t)k;
    }
    return SR_OK;
}

/* Makes n bytes at the current position available in *out. Returns SR_SHORT
 * if the region holds fewer than n bytes, SR_IOERR (errno set) / SR_EOF (the
 * file shrank under us) / SR_NOMEM on failure. */
static int sr_need(seqreader *r, size_t n, const uint8_t **out)
{
    if (r->end - r->start >= n) {
        *out = r->buf + r->start;
        return SR_OK;
    }
    if (r->limit - r->pos < n)
        return SR_SHORT;
    size_t have = r->end - r->start;
    if (r->start) {
        memmove(r->buf, r->buf + r->start, have);
        r->start = 0;
        r->end = have;
    }
    if (n > r->cap) {
        size_t cap = r->cap * 2 > n ? r->cap * 2 : n;
        if (cap > r->max_cap)
            cap = r->max_cap > n ? r->max_cap : n;
        uint8_t *p = realloc(r->buf, cap);
        if (!p)
            return SR_NOMEM;
        r->buf = p;
        r->cap = cap;
    }
    /* Fill as much of the buffer as the region allows, to keep syscalls few. */
    size_t fill = r->cap;
    if (r->limit - r->pos < fill)
        fill = (size_t)(r->limit - r->pos);
    if (r->end < fill) {
        int rc = pread_full(r->fd, r->buf + r->end, fill - r->end, r->pos + r->end);
        if (rc != SR_OK)
            return rc;
        r->end = fill;
    }
    *out = r->buf;
    return SR_OK;
}

static void sr_skip(seqreader *r, size_t n)
{
    r->start += n;
    r->pos += n;
}

/* --- messages ------------------------------------------------------------ */

/* Quotes a key for a message: printable ASCII kept, the rest as \xNN, long
 * keys cut with "..." so the message keeps its tail. */
static void quote_key(char *out, size_t outlen, const uint8_t *k, size_t n)
{
    static const size_t max_shown = 96;
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < outlen; i++) {
        if (i == max_shown) {
            o += (size_t)snprintf(out + o, outlen - o, "...");
            break;
        }
        uint8_t c = k[i];
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, outlen - o, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    }
    out[o < outlen ? o : outlen - 1] = '\0';
}

static int io_error(tsv_error *err, const char *name, int rc, const char *what, uint64_t off)
{
    if (rc == SR_NOMEM)
        return tsv_error_set(err, TSV_EINTERNAL, "%s: out of memory reading %s", name, what);
    if (rc == SR_EOF)
        return tsv_error_set(err, TSV_EINTERNAL,
                             "%s: file ended early reading %s at offset %" PRIu64
                             " (changed while being verified?)",
                             name, what, off);
    return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "%s: read %s at offset %" PRIu64, name,
                               what, off);
}

/* --- block records (streamed verification) ------------------------------- */

#define REC_SIZE 29
#define REC_BATCH 128

typedef struct rec_hash {
    EVP_MD_CTX *md;
    uint8_t buf[REC_SIZE * REC_BATCH];
    size_t n;
    uint64_t count;
} rec_hash;

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static int rh_init(rec_hash *h)
{
    memset(h, 0, sizeof *h);
    h->md = EVP_MD_CTX_new();
    return h->md && EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

static void rh_free(rec_hash *h)
{
    EVP_MD_CTX_free(h->md);
    h->md = NULL;
}

static int rh_flush(rec_hash *h)
{
    int ok = h->n == 0 || EVP_DigestUpdate(h->md, h->buf, h->n * REC_SIZE) == 1;
    h->n = 0;
    return ok ? 0 : -1;
}

static int rh_add(rec_hash *h, uint64_t off, uint32_t size, unsigned type, int64_t first,
                  int64_t last)
{
    uint8_t *r = h->buf + h->n * REC_SIZE;
    put_be(r, off, 8);
    put_be(r + 8, size, 4);
    r[12] = (uint8_t)type;
    put_be(r + 13, (uint64_t)first, 8);
    put_be(r + 21, (uint64_t)last, 8);
    h->count++;
    return ++h->n == REC_BATCH ? rh_flush(h) : 0;
}

static int rh_final(rec_hash *h, uint8_t out[32])
{
    unsigned len = 0;
    if (rh_flush(h) != 0 || EVP_DigestFinal_ex(h->md, out, &len) != 1 || len != 32)
        return -1;
    return 0;
}

/* --- the stream ---------------------------------------------------------- */

enum {
    ST_HEADER,
    ST_BLOCKS,
    ST_STOPPED
};

struct tsv_tsm_stream {
    int state;
    uint8_t hdr[TSM_HEADER_SIZE];
    size_t hdr_len;
    uint64_t verified; /* the checked blocks are [5, verified) */
    uint8_t *carry;    /* the start of a block that did not end in what was fed */
    size_t carry_len, carry_cap;
    rec_hash rh;
    int final;
    uint8_t digest[32];
    uint64_t values;
    tsm_scratch scratch;
};

int tsv_tsm_stream_new(tsv_tsm_stream **out, tsv_error *err)
{
    tsv_tsm_stream *s = calloc(1, sizeof *s);
    if (!s || rh_init(&s->rh) != 0) {
        if (s)
            rh_free(&s->rh);
        free(s);
        *out = NULL;
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    *out = s;
    return 0;
}

void tsv_tsm_stream_free(tsv_tsm_stream *s)
{
    if (!s)
        return;
    rh_free(&s->rh);
    free(s->carry);
    tsm_scratch_free(&s->scratch);
    free(s);
}

static void stream_stop(tsv_tsm_stream *s)
{
    s->state = ST_STOPPED;
    free(s->carry);
    s->carry = NULL;
    s->carry_len = s->carry_cap = 0;
    tsm_scratch_free(&s->scratch);
}

/* Checks the block at the start of p[0..n): its size once checked and
 * recorded, 0 if it does not end within n bytes, -1 if it is no block. */
static ssize_t stream_block(tsv_tsm_stream *s, const uint8_t *p, size_t n)
{
    if (n < TSM_CRC_SIZE + 2)
        return 0;
    tsm_block_result res;
    size_t used;
    char why[64];
    int rc = tsm_decode_block_prefix(p + TSM_CRC_SIZE, n - TSM_CRC_SIZE, &s->scratch, &res, &used,
                                     why, sizeof why);
    if (rc == TSM_DEC_SHORT)
        return 0;
    if (rc != TSM_DEC_OK || used > TSV_TSM_MAX_BLOCK_BYTES - TSM_CRC_SIZE)
        return -1;
    if (be32(p) != crc32_gzip_refl(0, p + TSM_CRC_SIZE, used))
        return -1;
    size_t size = TSM_CRC_SIZE + used;
    if (rh_add(&s->rh, s->verified, (uint32_t)size, p[TSM_CRC_SIZE], res.first, res.last) != 0)
        return -1;
    s->values += res.count;
    s->verified += size;
    return (ssize_t)size;
}

static int carry_append(tsv_tsm_stream *s, const uint8_t *p, size_t n)
{
    if (s->carry_len + n > TSV_TSM_MAX_BLOCK_BYTES)
        return -1; /* no valid block is this long */
    if (tsv_array_grow(&s->carry, &s->carry_cap, s->carry_len + n, 1, NULL) != 0)
        return -1;
    memcpy(s->carry + s->carry_len, p, n);
    s->carry_len += n;
    return 0;
}

void tsv_tsm_stream_feed(tsv_tsm_stream *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (s->state == ST_HEADER) {
        size_t k = TSM_HEADER_SIZE - s->hdr_len < len ? TSM_HEADER_SIZE - s->hdr_len : len;
        memcpy(s->hdr + s->hdr_len, p, k);
        s->hdr_len += k;
        p += k;
        len -= k;
        if (s->hdr_len < TSM_HEADER_SIZE)
            return;
        if (be32(s->hdr) != TSM_MAGIC || s->hdr[4] != TSM_VERSION) {
            stream_stop(s);
            return;
        }
        s->state = ST_BLOCKS;
        s->verified = TSM_HEADER_SIZE;
    }
    while (len > 0 && s->state == ST_BLOCKS) {
        if (s->carry_len == 0) {
            ssize_t r = stream_block(s, p, len);
            if (r > 0) {
                p += r;
                len -= (size_t)r;
            } else if (r < 0 || carry_append(s, p, len) != 0) {
                stream_stop(s);
            } else {
                len = 0;
            }
            continue;
        }
        /* Complete the pending block: add bytes (at least doubling what is
         * held, so a long block costs few retries) and try again. */
        size_t take = s->carry_len < 16384 ? 16384 : s->carry_len;
        if (take > len)
            take = len;
        if (carry_append(s, p, take) != 0) {
            stream_stop(s);
            break;
        }
        ssize_t r = stream_block(s, s->carry, s->carry_len);
        if (r < 0) {
            stream_stop(s);
        } else if (r == 0) {
            p += take;
            len -= take;
        } else {
            /* The block ended inside the bytes just added (what was held
             * before did not make a block); the rest of them follow it. */
            size_t rest = s->carry_len - (size_t)r;
            s->carry_len = 0;
            p += take - rest;
            len -= take - rest;
        }
    }
}

/* The digest of everything the stream checked; 0 if it checked blocks. */
static int stream_finish(tsv_tsm_stream *s)
{
    if (!s->final) {
        if (rh_final(&s->rh, s->digest) != 0)
            return -1;
        s->final = 1;
    }
    return s->state == ST_HEADER || s->verified <= TSM_HEADER_SIZE ? -1 : 0;
}

/* --- the verifier -------------------------------------------------------- */

typedef struct verifier {
    int fd;
    const char *name;
    unsigned flags;
    tsv_error *err;
    uint64_t size, index_start;
    seqreader index, data;
    uint8_t *key, *prev_key; /* TSM_MAX_KEY bytes each */
    size_t key_len, prev_key_len;
    int have_prev;
    tsm_scratch scratch;
    tsv_tsm_stats stats;
    /* streamed verification: blocks in [5, pre_end) were checked by the stream */
    const struct tsv_tsm_stream *stream;
    uint64_t pre_end;
    int pre_done; /* the digests were compared and matched */
    int mismatch; /* the index disagrees with what the stream saw */
    struct rec_hash *rh;
} verifier;

static int bytes_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static int key_error(verifier *v, const char *what, uint64_t off)
{
    char q[400];
    quote_key(q, sizeof q, v->key, v->key_len);
    return tsv_error_set(v->err, TSV_EINVALID, "%s: key \"%s\": %s at offset %" PRIu64, v->name, q,
                         what, off);
}

static int block_error(verifier *v, unsigned block, const char *what, uint64_t off)
{
    char q[400];
    quote_key(q, sizeof q, v->key, v->key_len);
    return tsv_error_set(v->err, TSV_EINVALID, "%s: block %u of key \"%s\": %s at offset %" PRIu64,
                         v->name, block, q, what, off);
}

static void add_time_stats(verifier *v, int64_t min_time, int64_t max_time)
{
    v->stats.blocks++;
    if (v->stats.blocks == 1 || min_time < v->stats.min_time)
        v->stats.min_time = min_time;
    if (v->stats.blocks == 1 || max_time > v->stats.max_time)
        v->stats.max_time = max_time;
}

static int stream_mismatch(verifier *v)
{
    v->mismatch = 1;
    return tsv_error_set(v->err, TSV_EINVALID, "%s: index differs from the streamed blocks",
                         v->name);
}

/* An entry whose block the stream checked: record it instead of reading it;
 * where the stream stopped, the records must be the stream's. The data
 * reader holds nothing yet, so moving its position is enough. */
static int streamed_entry(verifier *v, unsigned type, uint64_t off, uint32_t size, int64_t min_time,
                          int64_t max_time)
{
    if (size > v->pre_end - off || rh_add(v->rh, off, size, type, min_time, max_time) != 0)
        return stream_mismatch(v);
    v->data.pos += size;
    add_time_stats(v, min_time, max_time);
    if (v->data.pos == v->pre_end) {
        uint8_t d[32];
        if (rh_final(v->rh, d) != 0 || v->rh->count != v->stream->rh.count ||
            memcmp(d, v->stream->digest, sizeof d) != 0)
            return stream_mismatch(v);
        v->stats.values += v->stream->values;
        v->pre_done = 1;
    }
    return 0;
}

/* Checks one index entry and the block it points to. `entry_off` is the
 * entry's own file offset (for messages). */
static int verify_entry(verifier *v, unsigned type, unsigned e, const uint8_t *ent,
                        uint64_t entry_off, int64_t *prev_max)
{
    char what[320];
    int64_t min_time = (int64_t)be64(ent);
    int64_t max_time = (int64_t)be64(ent + 8);
    uint64_t off = be64(ent + 16);
    uint32_t size = be32(ent + 24);

    if (min_time > max_time) {
        snprintf(what, sizeof what, "index entry MinTime %" PRId64 " > MaxTime %" PRId64, min_time,
                 max_time);
        return block_error(v, e, what, entry_off);
    }
    /* A key's blocks are sorted by time and never overlap: the cache
     * snapshot writes sorted, de-duplicated values and compactions merge
     * overlapping blocks, and readers binary-search the entries. Overlap
     * would also make InfluxDB return duplicate points. */
    if (e > 0 && min_time <= *prev_max) {
        snprintf(what, sizeof what,
                 "index entries not sorted by time or overlapping (MinTime %" PRId64
                 " <= previous MaxTime %" PRId64 ")",
                 min_time, *prev_max);
        return block_error(v, e, what, entry_off);
    }
    *prev_max = max_time;
    if (size < TSM_MIN_BLOCK) {
        snprintf(what, sizeof what, "index entry size %" PRIu32 " < %d", size, TSM_MIN_BLOCK);
        return block_error(v, e, what, entry_off);
    }
    if (off < TSM_HEADER_SIZE || off > v->index_start || size > v->index_start - off) {
        snprintf(what, sizeof what,
                 "index entry [%" PRIu64 ", +%" PRIu32 ") is outside the data region [5, %" PRIu64
                 ")",
                 off, size, v->index_start);
        return block_error(v, e, what, entry_off);
    }
    if (size > TSV_TSM_MAX_BLOCK_BYTES) {
        snprintf(what, sizeof what, "block of %" PRIu32 " bytes exceeds the limit of %u", size,
                 TSV_TSM_MAX_BLOCK_BYTES);
        return block_error(v, e, what, entry_off);
    }
    /* B.5 item 9: blocks tile the data region in index order. */
    if (off != v->data.pos) {
        snprintf(what, sizeof what,
                 "block at %" PRIu64 " but the previous block ends at %" PRIu64
                 " (blocks must tile the data region in index order)",
                 off, v->data.pos);
        return block_error(v, e, what, entry_off);
    }
    if (off < v->pre_end)
        return streamed_entry(v, type, off, size, min_time, max_time);

    const uint8_t *blk;
    int rc = sr_need(&v->data, size, &blk);
    if (rc != SR_OK)
        return io_error(v->err, v->name, rc, "block", off);

    uint32_t stored = be32(blk);
    uint32_t computed = crc32_gzip_refl(0, blk + TSM_CRC_SIZE, size - TSM_CRC_SIZE);
    if (stored != computed) {
        snprintf(what, sizeof what,
                 "CRC32 mismatch (stored 0x%08" PRIx32 ", computed 0x%08" PRIx32 ")", stored,
                 computed);
        return block_error(v, e, what, off);
    }

    tsm_block_result res;
    char why[240];
    rc = tsm_decode_block(blk + TSM_CRC_SIZE, size - TSM_CRC_SIZE, type, &v->scratch, &res, why,
                          sizeof why);
    if (rc == TSM_DEC_NOMEM)
        return tsv_error_set(v->err, TSV_EINTERNAL, "%s: out of memory decoding a block", v->name);
    if (rc != TSM_DEC_OK)
        return block_error(v, e, why, off);
    if (res.first != min_time || res.last != max_time) {
        snprintf(what, sizeof what,
                 "decoded time range [%" PRId64 ", %" PRId64 "] != index [%" PRId64 ", %" PRId64
                 "]",
                 res.first, res.last, min_time, max_time);
        return block_error(v, e, what, off);
    }
    sr_skip(&v->data, size);

    v->stats.values += res.count;
    add_time_stats(v, min_time, max_time);
    return 0;
}

/* Parses one key record of the index (B.3) and verifies its blocks. */
static int verify_key(verifier *v)
{
    const uint8_t *p;
    uint64_t rec_off = v->index.pos;
    int rc = sr_need(&v->index, 2, &p);
    if (rc == SR_SHORT)
        return tsv_error_set(v->err, TSV_EINVALID,
                             "%s: index truncated in a key length at offset %" PRIu64, v->name,
                             rec_off);
    if (rc != SR_OK)
        return io_error(v->err, v->name, rc, "index", rec_off);
    size_t klen = be16(p);
    rc = sr_need(&v->index, 2 + klen + 3, &p);
    if (rc == SR_SHORT)
        return tsv_error_set(v->err, TSV_EINVALID,
                             "%s: index truncated in a key of %zu bytes at offset %" PRIu64,
                             v->name, klen, rec_off);
    if (rc != SR_OK)
        return io_error(v->err, v->name, rc, "index", rec_off);

    /* Keep the key: the index buffer may move while we read its entries. */
    uint8_t *t = v->prev_key;
    v->prev_key = v->key;
    v->prev_key_len = v->key_len;
    v->key = t;
    memcpy(v->key, p + 2, klen);
    v->key_len = klen;
    unsigned type = p[2 + klen];
    unsigned count = be16(p + 2 + klen + 1);
    sr_skip(&v->index, 2 + klen + 3);

    if (v->have_prev && bytes_compare(v->prev_key, v->prev_key_len, v->key, v->key_len) >= 0)
        return key_error(v, "keys not strictly ascending", rec_off);
    v->have_prev = 1;
    if ((v->flags & TSV_TSM_VERIFY_UTF8_KEYS) && !tsm_utf8_valid(v->key, v->key_len))
        return key_error(v, "key is not valid UTF-8", rec_off);
    if (type > TSM_BLOCK_UNSIGNED) {
        char what[64];
        snprintf(what, sizeof what, "unknown block type %u in the index", type);
        return key_error(v, what, rec_off);
    }
    if (count == 0)
        return key_error(v, "index entry count is 0", rec_off);

    int64_t prev_max = 0;
    for (unsigned e = 0; e < count; e++) {
        uint64_t entry_off = v->index.pos;
        rc = sr_need(&v->index, TSM_ENTRY_SIZE, &p);
        if (rc == SR_SHORT) {
            char what[96];
            snprintf(what, sizeof what, "index truncated in entry %u of %u", e, count);
            return key_error(v, what, entry_off);
        }
        if (rc != SR_OK)
            return io_error(v->err, v->name, rc, "index", entry_off);
        uint8_t ent[TSM_ENTRY_SIZE];
        memcpy(ent, p, sizeof ent);
        sr_skip(&v->index, TSM_ENTRY_SIZE);
        if (verify_entry(v, type, e, ent, entry_off, &prev_max) != 0)
            return -1;
    }
    v->stats.keys++;
    return 0;
}

static int verify_file(verifier *v)
{
    struct stat st;
    if (fstat(v->fd, &st) != 0)
        return tsv_error_set_errno(v->err, TSV_EINTERNAL, errno, "%s: fstat", v->name);
    if (!S_ISREG(st.st_mode))
        return tsv_error_set(v->err, TSV_EINVALID, "%s: not a regular file", v->name);
    v->size = (uint64_t)st.st_size;
    if (v->size < TSM_HEADER_SIZE + TSM_FOOTER_SIZE)
        return tsv_error_set(v->err, TSV_EINVALID,
                             "%s: file of %" PRIu64 " bytes is too small for a TSM file", v->name,
                             v->size);

    uint8_t hdr[TSM_HEADER_SIZE], foot[TSM_FOOTER_SIZE];
    int rc = pread_full(v->fd, hdr, sizeof hdr, 0);
    if (rc != SR_OK)
        return io_error(v->err, v->name, rc, "header", 0);
    if (be32(hdr) != TSM_MAGIC)
        return tsv_error_set(v->err, TSV_EINVALID,
                             "%s: bad magic 0x%08" PRIx32 " (want 0x16d116d1) at offset 0", v->name,
                             be32(hdr));
    if (hdr[4] != TSM_VERSION)
        return tsv_error_set(v->err, TSV_EINVALID, "%s: unsupported TSM version %u at offset 4",
                             v->name, hdr[4]);
    uint64_t foot_off = v->size - TSM_FOOTER_SIZE;
    rc = pread_full(v->fd, foot, sizeof foot, foot_off);
    if (rc != SR_OK)
        return io_error(v->err, v->name, rc, "footer", foot_off);
    v->index_start = be64(foot);
    /* An index needs at least one key record, so it cannot be empty. */
    if (v->index_start < TSM_HEADER_SIZE || v->index_start >= foot_off)
        return tsv_error_set(v->err, TSV_EINVALID,
                             "%s: index offset %" PRIu64 " outside [5, %" PRIu64
                             ") at offset %" PRIu64,
                             v->name, v->index_start, foot_off, foot_off);

    rc = sr_init(&v->index, v->fd, v->index_start, foot_off, INDEX_BUF_SIZE, INDEX_BUF_SIZE);
    if (rc == SR_OK)
        rc = sr_init(&v->data, v->fd, TSM_HEADER_SIZE, v->index_start, DATA_BUF_SIZE,
                     TSV_TSM_MAX_BLOCK_BYTES);
    v->key = malloc(TSM_MAX_KEY);
    v->prev_key = malloc(TSM_MAX_KEY);
    if (rc != SR_OK || !v->key || !v->prev_key)
        return tsv_error_set(v->err, TSV_EINTERNAL, "%s: out of memory", v->name);

    /* The index must parse exactly up to the footer. */
    while (v->index.pos < foot_off)
        if (verify_key(v) != 0)
            return -1;

    if (v->data.pos != v->index_start)
        return tsv_error_set(v->err, TSV_EINVALID,
                             "%s: %" PRIu64 " bytes between the last block and the index at "
                             "offset %" PRIu64 " (blocks must tile the data region)",
                             v->name, v->index_start - v->data.pos, v->data.pos);
    return 0;
}

/* Metrics: every TSM file checked block by block, by result, and its bytes. */
static int count_validated(int fd, int rc)
{
    struct stat st;
    tsv_metrics_count("tsvault_validated_tsm_files_total",
                      "TSM files checked block by block (CRC and full decode), by result.",
                      "result", rc == 0 ? "valid" : "invalid", NULL, NULL, 1);
    if (fstat(fd, &st) == 0 && st.st_size > 0)
        tsv_metrics_count("tsvault_validated_bytes_total",
                          "Bytes of TSM files checked block by block, by result.", "result",
                          rc == 0 ? "valid" : "invalid", NULL, NULL, (uint64_t)st.st_size);
    return rc;
}

static int verify_fd_ex(int fd, const char *name, unsigned flags, tsv_tsm_stats *stats,
                        tsv_error *err)
{
    verifier v;
    memset(&v, 0, sizeof v);
    v.fd = fd;
    v.name = name ? name : "tsm";
    v.flags = flags;
    v.err = err;
    int rc = verify_file(&v);
    sr_free(&v.index);
    sr_free(&v.data);
    free(v.key);
    free(v.prev_key);
    tsm_scratch_free(&v.scratch);
    if (rc == 0 && stats)
        *stats = v.stats;
    return rc;
}

int tsv_tsm_verify_fd_ex(int fd, const char *name, unsigned flags, tsv_tsm_stats *stats,
                         tsv_error *err)
{
    return count_validated(fd, verify_fd_ex(fd, name, flags, stats, err));
}

int tsv_tsm_verify_fd(int fd, const char *name, tsv_tsm_stats *stats, tsv_error *err)
{
    return tsv_tsm_verify_fd_ex(fd, name, 0, stats, err);
}

int tsv_tsm_verify_fd_streamed(int fd, const char *name, unsigned flags, tsv_tsm_stream *s,
                               tsv_tsm_stats *stats, tsv_error *err)
{
    rec_hash rh;
    memset(&rh, 0, sizeof rh);
    if (!s || stream_finish(s) != 0 || rh_init(&rh) != 0) {
        rh_free(&rh);
        return tsv_tsm_verify_fd_ex(fd, name, flags, stats, err);
    }
    verifier v;
    memset(&v, 0, sizeof v);
    v.fd = fd;
    v.name = name ? name : "tsm";
    v.flags = flags;
    tsv_error scratch_err;
    v.err = &scratch_err;
    v.stream = s;
    v.pre_end = s->verified;
    v.rh = &rh;
    int rc = verify_file(&v);
    if (rc == 0 && !v.pre_done)
        rc = -1; /* the stream went past the index: it saw other bytes */
    sr_free(&v.index);
    sr_free(&v.data);
    free(v.key);
    free(v.prev_key);
    tsm_scratch_free(&v.scratch);
    rh_free(&rh);
    if (rc != 0)
        /* Whatever went wrong, the plain pass says what and where. */
        return tsv_tsm_verify_fd_ex(fd, name, flags, stats, err);
    v.stats.streamed_blocks = rh.count;
    if (stats)
        *stats = v.stats;
    return count_validated(fd, 0);
}

uint64_t tsv_tsm_stream_checked(const tsv_tsm_stream *s)
{
    return s && s->verified > TSM_HEADER_SIZE ? s->verified : 0;
}

/* --- file names (B.10) --------------------------------------------------- */

/* Go's strconv.ParseUint(s, 10, 32): one or more decimal digits, value fits
 * uint32 (leading zeros allowed, no sign). */
static int parse_u32(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return 0;
    }
    return 1;
}

static int gen_seq_name_valid(const char *base, const char *ext)
{
    if (!base)
        return 0;
    const char *dot = strchr(base, '.');
    if (!dot || strcmp(dot, ext) != 0)
        return 0;
    const char *dash = memchr(base, '-', (size_t)(dot - base));
    if (!dash)
        return 0;
    return parse_u32(base, (size_t)(dash - base)) && parse_u32(dash + 1, (size_t)(dot - dash - 1));
}

int tsv_tsm_name_valid(const char *base) { return gen_seq_name_valid(base, ".tsm"); }

int tsv_tombstone_name_valid(const char *base) { return gen_seq_name_valid(base, ".tombstone"); }
