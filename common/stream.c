/*
 * stream: readers, writers and the gzip/zstd/identity codecs behind them.
 *
 * Every codec works through fixed buffers (TSV_STREAM_BUF_SIZE) so memory use
 * does not depend on how large a body is. The gzip decoder parses member
 * headers and trailers itself and drives ISA-L in raw-deflate mode: that gives
 * Go's error wording, lets it verify CRC32 and ISIZE itself, and hands the
 * bytes that follow one member to the next. ISA-L's own counters are 32-bit;
 * nothing here depends on them (a > 4 GiB member is covered by an opt-in test).
 */
#include "stream.h"

#include "tsv_log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>
#include <zlib.h>
#include <zstd.h>

/* Large enough that per-call overhead vanishes against codec work, small
 * enough that thousands of concurrent streams stay cheap. */
#define TSV_STREAM_BUF_SIZE (256u * 1024u)

/* ---------------------------------------------------------------------------
 * Generic helpers
 * ------------------------------------------------------------------------- */

int tsv_writer_close(tsv_writer *w, tsv_error *err)
{
    if (!w || !w->close)
        return 0;
    return w->close(w, err);
}

void tsv_reader_free(tsv_reader *r)
{
    if (r && r->free)
        r->free(r);
}

void tsv_writer_free(tsv_writer *w)
{
    if (w && w->free)
        w->free(w);
}

ssize_t tsv_read_full(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    size_t got = 0;
    while (got < len) {
        ssize_t n = tsv_read(r, (uint8_t *)buf + got, len - got, err);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

int tsv_copy(tsv_writer *dst, tsv_reader *src, uint64_t *copied, tsv_error *err)
{
    uint64_t total = 0;
    if (copied)
        *copied = 0;
    uint8_t *buf = malloc(TSV_STREAM_BUF_SIZE);
    if (!buf)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    int rc = 0;
    for (;;) {
        ssize_t n = tsv_read(src, buf, TSV_STREAM_BUF_SIZE, err);
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        if (tsv_write(dst, buf, (size_t)n, err) != 0) {
            rc = -1;
            break;
        }
        total += (uint64_t)n;
    }
    free(buf);
    if (copied)
        *copied = total;
    return rc;
}

int tsv_buf_append(tsv_buf *b, const void *p, size_t n, tsv_error *err)
{
    if (n == 0)
        return 0;
    if (n > SIZE_MAX - b->len)
        return tsv_error_set(err, TSV_EINTERNAL, "buffer size overflow");
    size_t need = b->len + n;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        uint8_t *data = realloc(b->data, cap);
        if (!data)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory (buffer of %zu bytes)", cap);
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len = need;
    return 0;
}

void tsv_buf_free(tsv_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---------------------------------------------------------------------------
 * Memory reader, fd reader/writer, buffer writer
 * ------------------------------------------------------------------------- */

typedef struct mem_reader {
    tsv_reader base;
    const uint8_t *data;
    size_t len, pos;
} mem_reader;

static ssize_t mem_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    mem_reader *m = (mem_reader *)r;
    size_t left = m->len - m->pos;
    if (len > left)
        len = left;
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    if (len)
        memcpy(buf, m->data + m->pos, len);
    m->pos += len;
    return (ssize_t)len;
}

static void plain_free(tsv_reader *r)
{
    free(r);
}

tsv_reader *tsv_mem_reader_new(const void *buf, size_t len)
{
    mem_reader *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->base.read = mem_read;
    m->base.free = plain_free;
    m->data = buf;
    m->len = buf ? len : 0;
    return &m->base;
}

typedef struct fd_reader {
    tsv_reader base;
    int fd;
} fd_reader;

static ssize_t fd_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    fd_reader *f = (fd_reader *)r;
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    for (;;) {
        ssize_t n = read(f->fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read fd %d", f->fd);
    }
}

tsv_reader *tsv_fd_reader_new(int fd)
{
    fd_reader *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->base.read = fd_read;
    f->base.free = plain_free;
    f->fd = fd;
    return &f->base;
}

typedef struct fd_writer {
    tsv_writer base;
    int fd;
} fd_writer;

static int fd_write(tsv_writer *w, const void *buf, size_t len, tsv_error *err)
{
    fd_writer *f = (fd_writer *)w;
    const uint8_t *p = buf;
    while (len > 0) {
        size_t chunk = len > SSIZE_MAX ? SSIZE_MAX : len;
        ssize_t n = write(f->fd, p, chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "write fd %d", f->fd);
        }
        if (n == 0)
            return tsv_error_set(err, TSV_EINTERNAL, "write fd %d: wrote nothing", f->fd);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void plain_writer_free(tsv_writer *w)
{
    free(w);
}

tsv_writer *tsv_fd_writer_new(int fd)
{
    fd_writer *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->base.write = fd_write;
    f->base.close = NULL;
    f->base.free = plain_writer_free;
    f->fd = fd;
    return &f->base;
}

typedef struct buf_writer {
    tsv_writer base;
    tsv_buf *buf;
} buf_writer;

static int buf_write(tsv_writer *w, const void *p, size_t len, tsv_error *err)
{
    return tsv_buf_append(((buf_writer *)w)->buf, p, len, err);
}

tsv_writer *tsv_buf_writer_new(tsv_buf *b)
{
    buf_writer *bw = calloc(1, sizeof *bw);
    if (!bw)
        return NULL;
    bw->base.write = buf_write;
    bw->base.close = NULL;
    bw->base.free = plain_writer_free;
    bw->buf = b;
    return &bw->base;
}

/* ---------------------------------------------------------------------------
 * Read-ahead reader: one producer thread fills a ring of slots from the inner
 * reader; the consumer takes them in order. A slot holds bytes and, in the
 * last one, the end of stream or the inner reader's error.
 * ------------------------------------------------------------------------- */

typedef struct ra_slot {
    uint8_t *data;
    size_t len;
    bool eof, failed;
    tsv_error err;
} ra_slot;

typedef struct readahead {
    tsv_reader base;
    tsv_reader *inner;
    size_t bufsize;
    unsigned n;
    ra_slot *slots;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t filled; /* consumer waits: a slot was filled */
    pthread_cond_t freed;  /* producer waits: a slot was released, or stop */
    unsigned head, tail, count; /* producer fills head, consumer takes tail */
    bool stop;
    /* consumer side */
    ra_slot *cur; /* slot held by the consumer (its bytes are cur->data) */
    size_t pos;   /* bytes of cur already handed out */
    bool finished, failed;
    tsv_error error;
} readahead;

static void *ra_produce(void *arg)
{
    readahead *ra = arg;
    pthread_setname_np(pthread_self(), "tsv-readahead");
    for (;;) {
        pthread_mutex_lock(&ra->mu);
        while (ra->count == ra->n && !ra->stop)
            pthread_cond_wait(&ra->freed, &ra->mu);
        bool stop = ra->stop;
        ra_slot *s = &ra->slots[ra->head];
        pthread_mutex_unlock(&ra->mu);
        if (stop)
            return NULL;
        s->len = 0;
        s->eof = s->failed = false;
        while (s->len < ra->bufsize) {
            ssize_t k = tsv_read(ra->inner, s->data + s->len, ra->bufsize - s->len, &s->err);
            if (k < 0) {
                s->failed = true;
                break;
            }
            if (k == 0) {
                s->eof = true;
                break;
            }
            s->len += (size_t)k;
        }
        pthread_mutex_lock(&ra->mu);
        ra->head = (ra->head + 1) % ra->n;
        ra->count++;
        pthread_cond_signal(&ra->filled);
        pthread_mutex_unlock(&ra->mu);
        if (s->eof || s->failed)
            return NULL;
    }
}

/* Gives the held slot back; its end-of-stream or error becomes the reader's. */
static void ra_release(readahead *ra)
{
    ra_slot *s = ra->cur;
    if (!s)
        return;
    if (s->failed) {
        ra->failed = true;
        ra->error = s->err;
    } else if (s->eof) {
        ra->finished = true;
    }
    ra->cur = NULL;
    ra->pos = 0;
    pthread_mutex_lock(&ra->mu);
    ra->tail = (ra->tail + 1) % ra->n;
    ra->count--;
    pthread_cond_signal(&ra->freed);
    pthread_mutex_unlock(&ra->mu);
}

/* Makes bytes available in ra->cur: >0 bytes, 0 end of stream, -1 error. */
static ssize_t ra_next(readahead *ra, tsv_error *err)
{
    for (;;) {
        if (ra->cur && ra->pos < ra->cur->len)
            return (ssize_t)(ra->cur->len - ra->pos);
        ra_release(ra);
        if (ra->failed) {
            if (err)
                *err = ra->error;
            return -1;
        }
        if (ra->finished)
            return 0;
        pthread_mutex_lock(&ra->mu);
        while (ra->count == 0)
            pthread_cond_wait(&ra->filled, &ra->mu);
        ra->cur = &ra->slots[ra->tail];
        pthread_mutex_unlock(&ra->mu);
        ra->pos = 0;
    }
}

ssize_t tsv_readahead_borrow(tsv_reader *r, const void **p, tsv_error *err)
{
    readahead *ra = (readahead *)r;
    ssize_t n = ra_next(ra, err);
    if (n > 0) {
        *p = ra->cur->data + ra->pos;
        ra->pos = ra->cur->len;
    }
    return n;
}

static ssize_t ra_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    readahead *ra = (readahead *)r;
    if (len == 0)
        return 0;
    ssize_t n = ra_next(ra, err);
    if (n <= 0)
        return n;
    if ((size_t)n > len)
        n = (ssize_t)len;
    memcpy(buf, ra->cur->data + ra->pos, (size_t)n);
    ra->pos += (size_t)n;
    return n;
}

static void ra_free(tsv_reader *r)
{
    readahead *ra = (readahead *)r;
    if (!ra)
        return;
    if (ra->started) {
        pthread_mutex_lock(&ra->mu);
        ra->stop = true;
        pthread_cond_signal(&ra->freed);
        pthread_mutex_unlock(&ra->mu);
        pthread_join(ra->thread, NULL);
    }
    pthread_cond_destroy(&ra->filled);
    pthread_cond_destroy(&ra->freed);
    pthread_mutex_destroy(&ra->mu);
    if (ra->slots)
        for (unsigned i = 0; i < ra->n; i++)
            free(ra->slots[i].data);
    free(ra->slots);
    free(ra);
}

int tsv_readahead_new(tsv_reader **out, tsv_reader *inner, size_t bufsize, unsigned nbufs,
                      tsv_error *err)
{
    *out = NULL;
    if (!inner || bufsize == 0 || nbufs == 0 || bufsize > SSIZE_MAX)
        return tsv_error_set(err, TSV_EINTERNAL, "readahead: bad arguments");
    readahead *ra = calloc(1, sizeof *ra);
    if (!ra)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    ra->base.read = ra_read;
    ra->base.free = ra_free;
    ra->inner = inner;
    ra->bufsize = bufsize;
    ra->n = nbufs;
    pthread_mutex_init(&ra->mu, NULL);
    pthread_cond_init(&ra->filled, NULL);
    pthread_cond_init(&ra->freed, NULL);
    ra->slots = calloc(nbufs, sizeof *ra->slots);
    if (!ra->slots)
        goto oom;
    for (unsigned i = 0; i < nbufs; i++)
        if (!(ra->slots[i].data = malloc(bufsize)))
            goto oom;
    /* The thread takes no signals: they stay with the threads that expect them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&ra->thread, NULL, ra_produce, ra);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        ra_free(&ra->base);
        return tsv_error_set_errno(err, TSV_EINTERNAL, rc, "readahead: start thread");
    }
    ra->started = true;
    *out = &ra->base;
    return 0;
oom:
    ra_free(&ra->base);
    return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
}

/* ---------------------------------------------------------------------------
 * Shared decoder plumbing: an input buffer refilled from the inner reader and
 * a sticky error (after a failure every read repeats it).
 * ------------------------------------------------------------------------- */

typedef struct inbuf {
    tsv_reader *inner;
    uint8_t *data;
    size_t len, pos;   /* valid bytes, next unread byte */
    bool eof;          /* inner reader reported end of stream */
    uint64_t consumed; /* bytes handed to the codec so far (for messages) */
} inbuf;

/* Reads more input after compacting. 1: got bytes, 0: end of stream, -1: error. */
static int inbuf_fill(inbuf *in, tsv_error *err)
{
    if (in->eof)
        return 0;
    if (in->pos > 0) {
        memmove(in->data, in->data + in->pos, in->len - in->pos);
        in->len -= in->pos;
        in->pos = 0;
    }
    if (in->len == TSV_STREAM_BUF_SIZE)
        return 1;
    ssize_t n = tsv_read(in->inner, in->data + in->len, TSV_STREAM_BUF_SIZE - in->len, err);
    if (n < 0)
        return -1;
    if (n == 0) {
        in->eof = true;
        return 0;
    }
    in->len += (size_t)n;
    return 1;
}

static void inbuf_advance(inbuf *in, size_t n)
{
    in->pos += n;
    in->consumed += n;
}

typedef struct decoder_common {
    tsv_reader base;
    inbuf in;
    bool failed;
    tsv_error error; /* the sticky failure */
} decoder_common;

static ssize_t decoder_fail(decoder_common *d, tsv_error *err)
{
    d->failed = true;
    if (err)
        *err = d->error;
    return -1;
}

static ssize_t decoder_repeat_failure(decoder_common *d, tsv_error *err)
{
    if (err)
        *err = d->error;
    return -1;
}

/* ---------------------------------------------------------------------------
 * Identity decoder
 * ------------------------------------------------------------------------- */

typedef struct identity_decoder {
    tsv_reader base;
    tsv_reader *inner;
} identity_decoder;

static ssize_t identity_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    return tsv_read(((identity_decoder *)r)->inner, buf, len, err);
}

/* ---------------------------------------------------------------------------
 * gzip decoder (RFC 1952) on ISA-L raw inflate
 * ------------------------------------------------------------------------- */

#define GZ_ID1 0x1f
#define GZ_ID2 0x8b
#define GZ_CM_DEFLATE 8
#define GZ_FTEXT 0x01
#define GZ_FHCRC 0x02
#define GZ_FEXTRA 0x04
#define GZ_FNAME 0x08
#define GZ_FCOMMENT 0x10
#define GZ_FRESERVED 0xe0

enum gz_phase { GZ_HEADER, GZ_BODY, GZ_TRAILER, GZ_DONE };

typedef struct gzip_decoder {
    decoder_common c;
    enum gz_phase phase;
    uint64_t members;  /* members whose header has been read */
    uint32_t crc;      /* CRC-32 of the current member's output */
    uint64_t isize;    /* bytes output by the current member */
    /* Bytes ISA-L had pulled into its bit buffer beyond the end of the
     * deflate data: the start of the trailer. At most 8. */
    uint8_t carry[8];
    unsigned carry_len, carry_pos;
    struct inflate_state st;
} gzip_decoder;

static int gz_fail(gzip_decoder *d, tsv_code code, const char *msg)
{
    return tsv_error_set(&d->c.error, code, "%s", msg);
}

/* 1 with *b set, 0 at end of input, -1 on an inner error (in d->c.error). */
static int gz_next_byte(gzip_decoder *d, uint8_t *b)
{
    if (d->carry_pos < d->carry_len) {
        *b = d->carry[d->carry_pos++];
        return 1;
    }
    inbuf *in = &d->c.in;
    if (in->pos == in->len) {
        int rc = inbuf_fill(in, &d->c.error);
        if (rc <= 0)
            return rc;
    }
    *b = in->data[in->pos];
    inbuf_advance(in, 1);
    return 1;
}

/* Reads one header byte that must exist (inside a member), feeding the
 * header CRC. 0 or -1 with d->c.error set. */
static int gz_header_byte(gzip_decoder *d, uint8_t *b, uint32_t *hcrc)
{
    int rc = gz_next_byte(d, b);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return gz_fail(d, TSV_EINVALID, "unexpected EOF");
    *hcrc = crc32_gzip_refl(*hcrc, b, 1);
    return 0;
}

/* Skips a NUL-terminated header field (FNAME, FCOMMENT). */
static int gz_skip_cstring(gzip_decoder *d, uint32_t *hcrc)
{
    uint8_t b;
    do {
        if (gz_header_byte(d, &b, hcrc) != 0)
            return -1;
    } while (b != 0);
    return 0;
}

/* Parses a member header. 1: header read (now in BODY), 0: clean end of the
 * stream (only between members), -1: error in d->c.error. */
static int gz_read_header(gzip_decoder *d)
{
    uint32_t hcrc = 0;
    uint8_t b;
    int rc = gz_next_byte(d, &b);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (d->members == 0)
            return gz_fail(d, TSV_EINVALID, "empty gzip body");
        return 0;
    }
    hcrc = crc32_gzip_refl(hcrc, &b, 1);
    if (b != GZ_ID1)
        return gz_fail(d, TSV_EINVALID, "gzip: invalid header");
    if (gz_header_byte(d, &b, &hcrc) != 0)
        return -1;
    if (b != GZ_ID2)
        return gz_fail(d, TSV_EINVALID, "gzip: invalid header");
    if (gz_header_byte(d, &b, &hcrc) != 0)
        return -1;
    if (b != GZ_CM_DEFLATE)
        return gz_fail(d, TSV_EINVALID, "gzip: invalid header");
    uint8_t flags;
    if (gz_header_byte(d, &flags, &hcrc) != 0)
        return -1;
    /* RFC 1952 2.3.1.2: a reserved bit set means fields we cannot parse. */
    if (flags & GZ_FRESERVED)
        return gz_fail(d, TSV_EINVALID, "gzip: invalid header");
    for (int i = 0; i < 6; i++) /* MTIME, XFL, OS */
        if (gz_header_byte(d, &b, &hcrc) != 0)
            return -1;
    if (flags & GZ_FEXTRA) {
        uint8_t lo, hi;
        if (gz_header_byte(d, &lo, &hcrc) != 0 || gz_header_byte(d, &hi, &hcrc) != 0)
            return -1;
        for (unsigned xlen = (unsigned)lo | (unsigned)hi << 8; xlen > 0; xlen--)
            if (gz_header_byte(d, &b, &hcrc) != 0)
                return -1;
    }
    if ((flags & GZ_FNAME) && gz_skip_cstring(d, &hcrc) != 0)
        return -1;
    if ((flags & GZ_FCOMMENT) && gz_skip_cstring(d, &hcrc) != 0)
        return -1;
    if (flags & GZ_FHCRC) {
        uint32_t unused = 0, expect = hcrc & 0xffff;
        uint8_t lo, hi;
        if (gz_header_byte(d, &lo, &unused) != 0 || gz_header_byte(d, &hi, &unused) != 0)
            return -1;
        if (((uint32_t)lo | (uint32_t)hi << 8) != expect)
            return gz_fail(d, TSV_EINVALID, "gzip: invalid header");
    }
    isal_inflate_reset(&d->st);
    d->st.crc_flag = ISAL_DEFLATE;
    d->crc = 0;
    d->isize = 0;
    d->members++;
    d->phase = GZ_BODY;
    return 1;
}

/* At the end of the deflate data ISA-L may hold up to 8 further input bytes
 * in its bit buffer. The deflate stream ends mid-byte; drop the padding bits
 * and keep the whole bytes for the trailer. */
static int gz_take_carry(gzip_decoder *d)
{
    int bits = d->st.read_in_length;
    if (bits < 0 || bits > 64 || d->st.tmp_in_size != 0)
        return gz_fail(d, TSV_EINTERNAL, "gzip: unexpected inflate state at end of member");
    uint64_t v = d->st.read_in;
    int pad = bits % 8;
    if (pad) {
        v >>= pad;
        bits -= pad;
    }
    d->carry_len = (unsigned)bits / 8;
    d->carry_pos = 0;
    for (unsigned i = 0; i < d->carry_len; i++)
        d->carry[i] = (uint8_t)(v >> (8 * i));
    d->st.read_in = 0;
    d->st.read_in_length = 0;
    return 0;
}

/* >0 bytes produced, 0 when the member's deflate data ended (phase is now
 * TRAILER), -1 on error in d->c.error. */
static ssize_t gz_read_body(gzip_decoder *d, uint8_t *buf, uint32_t len)
{
    inbuf *in = &d->c.in;
    for (;;) {
        if (in->pos == in->len && !in->eof && inbuf_fill(in, &d->c.error) < 0)
            return -1;
        uint32_t avail_in = (uint32_t)(in->len - in->pos);
        d->st.next_in = in->data + in->pos;
        d->st.avail_in = avail_in;
        d->st.next_out = buf;
        d->st.avail_out = len;
        int ret = isal_inflate(&d->st);
        size_t consumed = avail_in - d->st.avail_in;
        uint32_t produced = len - d->st.avail_out;
        inbuf_advance(in, consumed);
        if (produced) {
            d->crc = crc32_gzip_refl(d->crc, buf, produced);
            d->isize += produced;
        }
        if (ret < 0)
            return tsv_error_set(&d->c.error, TSV_EINVALID,
                                 "flate: corrupt input before offset %llu",
                                 (unsigned long long)in->consumed);
        if (d->st.block_state == ISAL_BLOCK_FINISH) {
            if (gz_take_carry(d) != 0)
                return -1;
            d->phase = GZ_TRAILER;
            return produced;
        }
        if (produced)
            return produced;
        if (consumed == 0) {
            if (in->eof)
                return gz_fail(d, TSV_EINVALID, "unexpected EOF");
            if (in->pos < in->len) /* input offered, none taken, no output */
                return gz_fail(d, TSV_EINTERNAL, "gzip: inflate made no progress");
        }
    }
}

static int gz_read_trailer(gzip_decoder *d)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++) {
        int rc = gz_next_byte(d, &t[i]);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return gz_fail(d, TSV_EINVALID, "unexpected EOF");
    }
    uint32_t crc = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
                   (uint32_t)t[3] << 24;
    uint32_t isize = (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 |
                     (uint32_t)t[7] << 24;
    if (crc != d->crc)
        return gz_fail(d, TSV_EINVALID, "gzip: invalid checksum (CRC-32 mismatch)");
    if (isize != (uint32_t)d->isize)
        return gz_fail(d, TSV_EINVALID, "gzip: invalid checksum (size mismatch)");
    d->phase = GZ_HEADER;
    return 0;
}

static ssize_t gzip_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    gzip_decoder *d = (gzip_decoder *)r;
    if (d->c.failed)
        return decoder_repeat_failure(&d->c, err);
    if (len == 0)
        return 0;
    uint32_t want = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
    for (;;) {
        switch (d->phase) {
        case GZ_HEADER: {
            int rc = gz_read_header(d);
            if (rc < 0)
                return decoder_fail(&d->c, err);
            if (rc == 0)
                d->phase = GZ_DONE;
            break;
        }
        case GZ_BODY: {
            ssize_t n = gz_read_body(d, buf, want);
            if (n < 0)
                return decoder_fail(&d->c, err);
            if (n > 0)
                return n;
            break;
        }
        case GZ_TRAILER:
            if (gz_read_trailer(d) != 0)
                return decoder_fail(&d->c, err);
            break;
        case GZ_DONE:
            return 0;
        }
    }
}

/* ---------------------------------------------------------------------------
 * zstd decoder
 * ------------------------------------------------------------------------- */

typedef struct zstd_decoder {
    decoder_common c;
    ZSTD_DCtx *dctx;
    bool frame_open; /* last ZSTD_decompressStream left a frame unfinished */
    bool done;
} zstd_decoder;

static ssize_t zstd_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    zstd_decoder *d = (zstd_decoder *)r;
    inbuf *in = &d->c.in;
    if (d->c.failed)
        return decoder_repeat_failure(&d->c, err);
    if (len == 0 || d->done)
        return 0;
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    for (;;) {
        if (in->pos == in->len && !in->eof && inbuf_fill(in, &d->c.error) < 0)
            return decoder_fail(&d->c, err);
        if (in->eof && in->consumed == 0 && in->len == 0) {
            tsv_error_set(&d->c.error, TSV_EINVALID, "empty zstd body");
            return decoder_fail(&d->c, err);
        }
        ZSTD_inBuffer zin = {in->data + in->pos, in->len - in->pos, 0};
        ZSTD_outBuffer zout = {buf, len, 0};
        size_t ret = ZSTD_decompressStream(d->dctx, &zout, &zin);
        inbuf_advance(in, zin.pos);
        if (ZSTD_isError(ret)) {
            tsv_error_set(&d->c.error, TSV_EINVALID, "zstd: %s", ZSTD_getErrorName(ret));
            return decoder_fail(&d->c, err);
        }
        /* 0 means a frame ended and all of its output was flushed. A call
         * that moved nothing only returns a size hint for the next frame. */
        if (zin.pos > 0 || zout.pos > 0)
            d->frame_open = ret != 0;
        if (zout.pos > 0)
            return (ssize_t)zout.pos;
        if (zin.pos == 0 && in->pos == in->len) {
            if (!in->eof)
                continue; /* needs input; refill at the top */
            if (d->frame_open) {
                tsv_error_set(&d->c.error, TSV_EINVALID, "zstd: unexpected EOF (truncated frame)");
                return decoder_fail(&d->c, err);
            }
            d->done = true;
            return 0;
        }
        if (zin.pos == 0) { /* input offered, none taken, no output */
            tsv_error_set(&d->c.error, TSV_EINTERNAL, "zstd: decoder made no progress");
            return decoder_fail(&d->c, err);
        }
    }
}

static void zstd_decoder_free(tsv_reader *r)
{
    zstd_decoder *d = (zstd_decoder *)r;
    ZSTD_freeDCtx(d->dctx);
    free(d->c.in.data);
    free(d);
}

static void gzip_decoder_free(tsv_reader *r)
{
    gzip_decoder *d = (gzip_decoder *)r;
    free(d->c.in.data);
    free(d);
}

int tsv_decoder_new(tsv_reader **out, tsv_codec codec, tsv_reader *inner, tsv_error *err)
{
    *out = NULL;
    if (!inner)
        return tsv_error_set(err, TSV_EINTERNAL, "decoder: no inner reader");
    switch (codec) {
    case TSV_CODEC_IDENTITY: {
        identity_decoder *d = calloc(1, sizeof *d);
        if (!d)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        d->base.read = identity_read;
        d->base.free = plain_free;
        d->inner = inner;
        *out = &d->base;
        return 0;
    }
    case TSV_CODEC_GZIP: {
        gzip_decoder *d = calloc(1, sizeof *d);
        uint8_t *data = malloc(TSV_STREAM_BUF_SIZE);
        if (!d || !data) {
            free(d);
            free(data);
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        }
        d->c.base.read = gzip_read;
        d->c.base.free = gzip_decoder_free;
        d->c.in.inner = inner;
        d->c.in.data = data;
        isal_inflate_init(&d->st);
        d->phase = GZ_HEADER;
        *out = &d->c.base;
        return 0;
    }
    case TSV_CODEC_ZSTD: {
        zstd_decoder *d = calloc(1, sizeof *d);
        uint8_t *data = malloc(TSV_STREAM_BUF_SIZE);
        ZSTD_DCtx *dctx = ZSTD_createDCtx();
        if (!d || !data || !dctx) {
            free(d);
            free(data);
            ZSTD_freeDCtx(dctx);
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        }
        d->c.base.read = zstd_read;
        d->c.base.free = zstd_decoder_free;
        d->c.in.inner = inner;
        d->c.in.data = data;
        d->dctx = dctx;
        *out = &d->c.base;
        return 0;
    }
    }
    return tsv_error_set(err, TSV_EINVALID, "unknown codec %d", (int)codec);
}

/* ---------------------------------------------------------------------------
 * Encoders
 * ------------------------------------------------------------------------- */

typedef struct encoder_common {
    tsv_writer base;
    tsv_writer *inner;
    int flags;
    uint8_t *out; /* TSV_STREAM_BUF_SIZE bytes of compressed output */
    bool closed;
    bool failed;
    tsv_error error;
} encoder_common;

static int encoder_fail(encoder_common *e, tsv_error *err)
{
    e->failed = true;
    if (err)
        *err = e->error;
    return -1;
}

/* Refuses writes after close or after a failure (whose error it repeats). */
static int encoder_check_usable(encoder_common *e, tsv_error *err)
{
    if (e->failed) {
        if (err)
            *err = e->error;
        return -1;
    }
    if (e->closed)
        return tsv_error_set(err, TSV_EINTERNAL, "write to a closed encoder");
    return 0;
}

static int encoder_emit(encoder_common *e, size_t n)
{
    if (n == 0)
        return 0;
    return tsv_write(e->inner, e->out, n, &e->error);
}

/* After the trailer is out: close the inner writer unless told not to. */
static int encoder_finish_inner(encoder_common *e, tsv_error *err)
{
    e->closed = true;
    if (e->flags & TSV_STREAM_KEEP_INNER)
        return 0;
    if (tsv_writer_close(e->inner, &e->error) != 0)
        return encoder_fail(e, err);
    return 0;
}

typedef struct gzip_encoder {
    encoder_common c;
    tsv_gzip_engine engine;
    struct isal_zstream zs;
    uint8_t *level_buf;
    z_stream z;
    bool z_ready;
} gzip_encoder;

static int isal_run(gzip_encoder *g)
{
    /* ISA-L may buffer input internally; keep calling while it consumes
     * input or fills the whole output buffer. */
    do {
        g->zs.next_out = g->c.out;
        g->zs.avail_out = TSV_STREAM_BUF_SIZE;
        int ret = isal_deflate(&g->zs);
        if (ret != COMP_OK)
            return tsv_error_set(&g->c.error, TSV_EINTERNAL, "gzip: isal_deflate failed (%d)", ret);
        if (encoder_emit(&g->c, TSV_STREAM_BUF_SIZE - g->zs.avail_out) != 0)
            return -1;
    } while (g->zs.avail_in > 0 || g->zs.avail_out == 0);
    return 0;
}

static int zlib_run(gzip_encoder *g, int flush)
{
    for (;;) {
        g->z.next_out = g->c.out;
        g->z.avail_out = TSV_STREAM_BUF_SIZE;
        int ret = deflate(&g->z, flush);
        if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
            return tsv_error_set(&g->c.error, TSV_EINTERNAL, "gzip: zlib deflate failed (%d)", ret);
        if (encoder_emit(&g->c, TSV_STREAM_BUF_SIZE - g->z.avail_out) != 0)
            return -1;
        if (flush == Z_FINISH) {
            if (ret == Z_STREAM_END)
                return 0;
        } else if (g->z.avail_in == 0 && g->z.avail_out != 0) {
            return 0;
        }
    }
}

static int gzip_write(tsv_writer *w, const void *buf, size_t len, tsv_error *err)
{
    gzip_encoder *g = (gzip_encoder *)w;
    if (encoder_check_usable(&g->c, err) != 0)
        return -1;
    const uint8_t *p = buf;
    while (len > 0) {
        uint32_t chunk = len > (1u << 30) ? (1u << 30) : (uint32_t)len;
        int rc;
        if (g->engine == TSV_GZIP_ISAL) {
            g->zs.next_in = (uint8_t *)p;
            g->zs.avail_in = chunk;
            g->zs.end_of_stream = 0;
            g->zs.flush = NO_FLUSH;
            rc = isal_run(g);
        } else {
            g->z.next_in = (Bytef *)p;
            g->z.avail_in = chunk;
            rc = zlib_run(g, Z_NO_FLUSH);
        }
        if (rc != 0)
            return encoder_fail(&g->c, err);
        p += chunk;
        len -= chunk;
    }
    return 0;
}

static int gzip_close(tsv_writer *w, tsv_error *err)
{
    gzip_encoder *g = (gzip_encoder *)w;
    if (g->c.closed && !g->c.failed)
        return 0;
    if (encoder_check_usable(&g->c, err) != 0)
        return -1;
    if (g->engine == TSV_GZIP_ISAL) {
        g->zs.next_in = NULL;
        g->zs.avail_in = 0;
        g->zs.end_of_stream = 1;
        g->zs.flush = NO_FLUSH;
        while (g->zs.internal_state.state != ZSTATE_END)
            if (isal_run(g) != 0)
                return encoder_fail(&g->c, err);
    } else {
        g->z.next_in = NULL;
        g->z.avail_in = 0;
        if (zlib_run(g, Z_FINISH) != 0)
            return encoder_fail(&g->c, err);
    }
    return encoder_finish_inner(&g->c, err);
}

static void gzip_encoder_free(tsv_writer *w)
{
    gzip_encoder *g = (gzip_encoder *)w;
    if (!g)
        return;
    if (g->z_ready)
        deflateEnd(&g->z);
    free(g->level_buf);
    free(g->c.out);
    free(g);
}

static size_t isal_level_buf_size(int level)
{
    switch (level) {
    case 1:
        return ISAL_DEF_LVL1_DEFAULT;
    case 2:
        return ISAL_DEF_LVL2_DEFAULT;
    case 3:
        return ISAL_DEF_LVL3_DEFAULT;
    default:
        return 0;
    }
}

int tsv_gzip_encoder_new(tsv_writer **out, tsv_writer *inner, tsv_gzip_engine engine, int level,
                         int flags, tsv_error *err)
{
    *out = NULL;
    if (!inner)
        return tsv_error_set(err, TSV_EINTERNAL, "gzip encoder: no inner writer");
    if (engine == TSV_GZIP_ISAL) {
        if (level < ISAL_DEF_MIN_LEVEL || level > ISAL_DEF_MAX_LEVEL)
            return tsv_error_set(err, TSV_EINVALID, "gzip (ISA-L) level %d out of range 0-3",
                                 level);
    } else if (engine == TSV_GZIP_ZLIB) {
        if (level < 1 || level > 9)
            return tsv_error_set(err, TSV_EINVALID, "gzip (zlib) level %d out of range 1-9",
                                 level);
    } else {
        return tsv_error_set(err, TSV_EINVALID, "unknown gzip engine %d", (int)engine);
    }

    gzip_encoder *g = calloc(1, sizeof *g);
    if (!g)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    g->c.base.write = gzip_write;
    g->c.base.close = gzip_close;
    g->c.base.free = gzip_encoder_free;
    g->c.inner = inner;
    g->c.flags = flags;
    g->engine = engine;
    g->c.out = malloc(TSV_STREAM_BUF_SIZE);
    if (!g->c.out)
        goto oom;
    if (engine == TSV_GZIP_ISAL) {
        isal_deflate_init(&g->zs);
        g->zs.level = (uint32_t)level;
        g->zs.gzip_flag = IGZIP_GZIP;
        size_t lb = isal_level_buf_size(level);
        if (lb) {
            g->level_buf = malloc(lb);
            if (!g->level_buf)
                goto oom;
            g->zs.level_buf = g->level_buf;
            g->zs.level_buf_size = (uint32_t)lb;
        }
    } else {
        /* windowBits 15 + 16 asks zlib for a gzip wrapper. */
        int ret = deflateInit2(&g->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        if (ret != Z_OK) {
            gzip_encoder_free(&g->c.base);
            return tsv_error_set(err, TSV_EINTERNAL, "gzip: deflateInit2 failed (%d)", ret);
        }
        g->z_ready = true;
    }
    *out = &g->c.base;
    return 0;
oom:
    gzip_encoder_free(&g->c.base);
    return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
}

typedef struct zstd_encoder {
    encoder_common c;
    ZSTD_CCtx *cctx;
} zstd_encoder;

static int zstd_run(zstd_encoder *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode)
{
    for (;;) {
        ZSTD_outBuffer zout = {z->c.out, TSV_STREAM_BUF_SIZE, 0};
        size_t ret = ZSTD_compressStream2(z->cctx, &zout, in, mode);
        if (ZSTD_isError(ret))
            return tsv_error_set(&z->c.error, TSV_EINTERNAL, "zstd: %s", ZSTD_getErrorName(ret));
        if (encoder_emit(&z->c, zout.pos) != 0)
            return -1;
        if (mode == ZSTD_e_end) {
            if (ret == 0) /* frame complete and flushed */
                return 0;
        } else if (in->pos == in->size) {
            return 0;
        }
    }
}

static int zstd_write(tsv_writer *w, const void *buf, size_t len, tsv_error *err)
{
    zstd_encoder *z = (zstd_encoder *)w;
    if (encoder_check_usable(&z->c, err) != 0)
        return -1;
    if (len == 0)
        return 0;
    ZSTD_inBuffer in = {buf, len, 0};
    if (zstd_run(z, &in, ZSTD_e_continue) != 0)
        return encoder_fail(&z->c, err);
    return 0;
}

static int zstd_close(tsv_writer *w, tsv_error *err)
{
    zstd_encoder *z = (zstd_encoder *)w;
    if (z->c.closed && !z->c.failed)
        return 0;
    if (encoder_check_usable(&z->c, err) != 0)
        return -1;
    ZSTD_inBuffer in = {NULL, 0, 0};
    if (zstd_run(z, &in, ZSTD_e_end) != 0)
        return encoder_fail(&z->c, err);
    return encoder_finish_inner(&z->c, err);
}

static void zstd_encoder_free(tsv_writer *w)
{
    zstd_encoder *z = (zstd_encoder *)w;
    if (!z)
        return;
    ZSTD_freeCCtx(z->cctx);
    free(z->c.out);
    free(z);
}

int tsv_zstd_encoder_new(tsv_writer **out, tsv_writer *inner, int level, int workers, int flags,
                         tsv_error *err)
{
    *out = NULL;
    if (!inner)
        return tsv_error_set(err, TSV_EINTERNAL, "zstd encoder: no inner writer");
    if (level < 1 || level > 19)
        return tsv_error_set(err, TSV_EINVALID, "zstd level %d out of range 1-19", level);
    if (workers < 0)
        return tsv_error_set(err, TSV_EINVALID, "zstd workers %d must be >= 0", workers);
    zstd_encoder *z = calloc(1, sizeof *z);
    if (!z)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    z->c.base.write = zstd_write;
    z->c.base.close = zstd_close;
    z->c.base.free = zstd_encoder_free;
    z->c.inner = inner;
    z->c.flags = flags;
    z->c.out = malloc(TSV_STREAM_BUF_SIZE);
    z->cctx = ZSTD_createCCtx();
    if (!z->c.out || !z->cctx) {
        zstd_encoder_free(&z->c.base);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    size_t ret = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(ret))
        /* A frame checksum lets the decoder catch corruption zstd's format
         * would otherwise only partly detect. */
        ret = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1);
    if (ZSTD_isError(ret)) {
        zstd_encoder_free(&z->c.base);
        return tsv_error_set(err, TSV_EINTERNAL, "zstd: %s", ZSTD_getErrorName(ret));
    }
    if (workers > 0) {
        /* A libzstd built without threads rejects this; single-threaded
         * output is just as valid, so note it and carry on. */
        ret = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_nbWorkers, workers);
        if (ZSTD_isError(ret))
            TSV_DEBUG("zstd: %d workers unavailable (%s); compressing single-threaded", workers,
                      ZSTD_getErrorName(ret));
    }
    *out = &z->c.base;
    return 0;
}
