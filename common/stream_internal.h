/*
 * stream_internal: what the stream modules (stream.c, codec_gzip.c,
 * codec_zstd.c) share and nobody else uses: the buffer size, the decoders'
 * refilled input buffer and sticky error, the encoders' output buffer and
 * sticky error, and the codec constructors behind tsv_decoder_new.
 * Not thread-safe, like the streams themselves.
 */
#ifndef TSV_STREAM_INTERNAL_H
#define TSV_STREAM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "stream.h"
#include "tsv_error.h"

/* Large enough that per-call overhead vanishes against codec work, small
 * enough that thousands of concurrent streams stay cheap. */
#define TSV_STREAM_BUF_SIZE (256u * 1024u)

/* Decoders: an input buffer of TSV_STREAM_BUF_SIZE bytes refilled from the
 * inner reader, and a sticky error (after a failure every read repeats it). */
typedef struct inbuf {
    tsv_reader *inner;
    uint8_t *data;
    size_t len, pos;   /* valid bytes, next unread byte */
    bool eof;          /* inner reader reported end of stream */
    uint64_t consumed; /* bytes handed to the codec so far (for messages) */
} inbuf;

typedef struct decoder_common {
    tsv_reader base;
    inbuf in;
    bool failed;
    tsv_error error; /* the sticky failure */
} decoder_common;

/* Reads more input after compacting. 1: got bytes, 0: end of stream, -1: error. */
int stream__inbuf_fill(inbuf *in, tsv_error *err);
void stream__inbuf_advance(inbuf *in, size_t n);
/* Record d->error as sticky and report it; repeat it. Both return -1. */
ssize_t stream__decoder_fail(decoder_common *d, tsv_error *err);
ssize_t stream__decoder_repeat_failure(decoder_common *d, tsv_error *err);

/* Codec decoders over `inner` (not owned); freed by their free(). */
int stream__gzip_decoder_new(tsv_reader **out, tsv_reader *inner, tsv_error *err);
int stream__zstd_decoder_new(tsv_reader **out, tsv_reader *inner, tsv_error *err);

/* Encoders: an output buffer of TSV_STREAM_BUF_SIZE bytes and a sticky error. */
typedef struct encoder_common {
    tsv_writer base;
    tsv_writer *inner;
    int flags;
    uint8_t *out; /* TSV_STREAM_BUF_SIZE bytes of compressed output */
    bool closed;
    bool failed;
    tsv_error error;
} encoder_common;

int stream__encoder_fail(encoder_common *e, tsv_error *err);
/* Refuses writes after close or after a failure (whose error it repeats). */
int stream__encoder_check_usable(encoder_common *e, tsv_error *err);
/* Writes the first n bytes of e->out to the inner writer. */
int stream__encoder_emit(encoder_common *e, size_t n);
/* After the trailer is out: close the inner writer unless told not to. */
int stream__encoder_finish_inner(encoder_common *e, tsv_error *err);

#endif
