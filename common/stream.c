/*
 * stream: readers, writers, the identity codec and the plumbing the gzip
 * (codec_gzip.c) and zstd (codec_zstd.c) codecs share; the read-ahead reader
 * is readahead.c.
 *
 * Every codec works through fixed buffers (TSV_STREAM_BUF_SIZE) so memory use
 * does not depend on how large a body is.
 */
#include "stream_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void plain_free(tsv_reader *r) { free(r); }

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

static void plain_writer_free(tsv_writer *w) { free(w); }

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
 * Shared decoder plumbing: an input buffer refilled from the inner reader and
 * a sticky error (after a failure every read repeats it).
 * ------------------------------------------------------------------------- */

/* Reads more input after compacting. 1: got bytes, 0: end of stream, -1: error. */
int stream__inbuf_fill(inbuf *in, tsv_error *err)
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

void stream__inbuf_advance(inbuf *in, size_t n)
{
    in->pos += n;
    in->consumed += n;
}

ssize_t stream__decoder_fail(decoder_common *d, tsv_error *err)
{
    d->failed = true;
    if (err)
        *err = d->error;
    return -1;
}

ssize_t stream__decoder_repeat_failure(decoder_common *d, tsv_error *err)
{
    if (err)
        *err = d->error;
    return -1;
}

/* ---------------------------------------------------------------------------
 * Shared encoder plumbing
 * ------------------------------------------------------------------------- */

int stream__encoder_fail(encoder_common *e, tsv_error *err)
{
    e->failed = true;
    if (err)
        *err = e->error;
    return -1;
}

/* Refuses writes after close or after a failure (whose error it repeats). */
int stream__encoder_check_usable(encoder_common *e, tsv_error *err)
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

int stream__encoder_emit(encoder_common *e, size_t n)
{
    if (n == 0)
        return 0;
    return tsv_write(e->inner, e->out, n, &e->error);
}

/* After the trailer is out: close the inner writer unless told not to. */
int stream__encoder_finish_inner(encoder_common *e, tsv_error *err)
{
    e->closed = true;
    if (e->flags & TSV_STREAM_KEEP_INNER)
        return 0;
    if (tsv_writer_close(e->inner, &e->error) != 0)
        return stream__encoder_fail(e, err);
    return 0;
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
    case TSV_CODEC_GZIP:
        return stream__gzip_decoder_new(out, inner, err);
    case TSV_CODEC_ZSTD:
        return stream__zstd_decoder_new(out, inner, err);
    }
    return tsv_error_set(err, TSV_EINVALID, "unknown codec %d", (int)codec);
}
