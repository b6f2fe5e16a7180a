/*
 * codec_zstd: the zstd decoder (one or more frames) and encoder (frame
 * checksum, optional worker threads). Behind tsv_decoder_new /
 * tsv_zstd_encoder_new (stream.h).
 */
#include "stream_internal.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>

#include <zstd.h>

#include "tsv_log.h"

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
        return stream__decoder_repeat_failure(&d->c, err);
    if (len == 0 || d->done)
        return 0;
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    for (;;) {
        if (in->pos == in->len && !in->eof && stream__inbuf_fill(in, &d->c.error) < 0)
            return stream__decoder_fail(&d->c, err);
        if (in->eof && in->consumed == 0 && in->len == 0) {
            tsv_error_set(&d->c.error, TSV_EINVALID, "empty zstd body");
            return stream__decoder_fail(&d->c, err);
        }
        ZSTD_inBuffer zin = {in->data + in->pos, in->len - in->pos, 0};
        ZSTD_outBuffer zout = {buf, len, 0};
        size_t ret = ZSTD_decompressStream(d->dctx, &zout, &zin);
        stream__inbuf_advance(in, zin.pos);
        if (ZSTD_isError(ret)) {
            tsv_error_set(&d->c.error, TSV_EINVALID, "zstd: %s", ZSTD_getErrorName(ret));
            return stream__decoder_fail(&d->c, err);
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
                return stream__decoder_fail(&d->c, err);
            }
            d->done = true;
            return 0;
        }
        if (zin.pos == 0) { /* input offered, none taken, no output */
            tsv_error_set(&d->c.error, TSV_EINTERNAL, "zstd: decoder made no progress");
            return stream__decoder_fail(&d->c, err);
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

int stream__zstd_decoder_new(tsv_reader **out, tsv_reader *inner, tsv_error *err)
{
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

/* ---------------------------------------------------------------------------
 * zstd encoder
 * ------------------------------------------------------------------------- */

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
        if (stream__encoder_emit(&z->c, zout.pos) != 0)
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
    if (stream__encoder_check_usable(&z->c, err) != 0)
        return -1;
    if (len == 0)
        return 0;
    ZSTD_inBuffer in = {buf, len, 0};
    if (zstd_run(z, &in, ZSTD_e_continue) != 0)
        return stream__encoder_fail(&z->c, err);
    return 0;
}

static int zstd_close(tsv_writer *w, tsv_error *err)
{
    zstd_encoder *z = (zstd_encoder *)w;
    if (z->c.closed && !z->c.failed)
        return 0;
    if (stream__encoder_check_usable(&z->c, err) != 0)
        return -1;
    ZSTD_inBuffer in = {NULL, 0, 0};
    if (zstd_run(z, &in, ZSTD_e_end) != 0)
        return stream__encoder_fail(&z->c, err);
    return stream__encoder_finish_inner(&z->c, err);
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
