/*
 * stream: bounded-buffer byte streams and compression codecs (the facade of
 * stream.c, codec_gzip.c, codec_zstd.c and readahead.c).
 *
 * A tsv_reader pulls bytes (request bodies, files, decompressors); a
 * tsv_writer pushes bytes (responses, files, compressors). Codecs wrap one
 * in another so data flows through fixed-size buffers whatever its total size.
 *
 * Decoders (pull): identity, gzip (ISA-L isal_inflate; concatenated members
 * accepted as Go's gzip reader does; header, CRC32 and ISIZE verified;
 * truncation before a member's trailer is an error), zstd (one or more
 * frames; a truncated frame is an error). Corrupt or truncated input gives
 * TSV_EINVALID ("failed to decode gzip request body: ..." style messages);
 * errors of the underlying reader pass through unchanged.
 *
 * Encoders (push): gzip via ISA-L (levels 0-3) or zlib (levels 1-9), zstd
 * (levels 1-19, optional worker threads). close() flushes the trailer and
 * closes the wrapped writer unless TSV_STREAM_KEEP_INNER was given.
 *
 * Decoder messages use Go's wording so they read like InfluxDB's own:
 * "gzip: invalid header", "gzip: invalid checksum (...)", "unexpected EOF",
 * "flate: corrupt input before offset N", "empty gzip body", "zstd: <ZSTD
 * error name>", "empty zstd body". Callers add their context with
 * tsv_error_wrap (e.g. "failed to decode gzip request body").
 * A gzip member header may carry FEXTRA/FNAME/FCOMMENT/FHCRC (skipped, the
 * header CRC checked); reserved flag bits are refused. After the last member
 * only end of stream is allowed: anything else is "gzip: invalid header" (or
 * "unexpected EOF" if it is cut short). Decoder memory is bounded: one input
 * buffer plus the codec's window (zstd: up to 128 MiB for frames that ask for
 * it, libzstd's default ZSTD_d_windowLogMax of 27).
 * zstd encoder output carries a frame checksum.
 *
 * Errors: read returns bytes (>0), 0 at end of stream, -1 with *err set.
 * A read of len 0 returns 0 without touching the stream. Once a decoder or
 * encoder has failed it repeats the same error on every later call.
 * write/close return 0 or -1 with *err set. close() is idempotent; after a
 * failure the inner writer is NOT closed (so e.g. a file writer does not
 * commit a broken stream) and the caller frees everything as usual.
 * free() without close() abandons the stream (no trailer is written).
 * Ownership: wrappers do not own their inner stream unless stated; every
 * stream is freed by its free() (NULL-safe). Not thread-safe: one stream,
 * one thread.
 */
#ifndef TSV_STREAM_H
#define TSV_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tsv_error.h"

typedef struct tsv_reader tsv_reader;
struct tsv_reader {
    ssize_t (*read)(tsv_reader *r, void *buf, size_t len, tsv_error *err);
    void (*free)(tsv_reader *r);
};

typedef struct tsv_writer tsv_writer;
struct tsv_writer {
    int (*write)(tsv_writer *w, const void *buf, size_t len, tsv_error *err);
    int (*close)(tsv_writer *w, tsv_error *err); /* flush/finish; may be NULL */
    void (*free)(tsv_writer *w);
};

static inline ssize_t tsv_read(tsv_reader *r, void *buf, size_t len, tsv_error *err)
{
    return r->read(r, buf, len, err);
}
static inline int tsv_write(tsv_writer *w, const void *buf, size_t len, tsv_error *err)
{
    return w->write(w, buf, len, err);
}
int tsv_writer_close(tsv_writer *w, tsv_error *err); /* NULL close = 0 */
void tsv_reader_free(tsv_reader *r);
void tsv_writer_free(tsv_writer *w);

/* Reads until len bytes or end of stream; returns bytes read or -1. */
ssize_t tsv_read_full(tsv_reader *r, void *buf, size_t len, tsv_error *err);

/* Copies src to dst until src ends, through one bounded buffer; does not
 * close dst. *copied (nullable) receives the bytes written, also on error. */
int tsv_copy(tsv_writer *dst, tsv_reader *src, uint64_t *copied, tsv_error *err);

typedef enum tsv_codec {
    TSV_CODEC_IDENTITY = 0,
    TSV_CODEC_GZIP = 1,
    TSV_CODEC_ZSTD = 2,
} tsv_codec;

/* Decoder reading compressed bytes from `inner` (not owned). */
int tsv_decoder_new(tsv_reader **out, tsv_codec codec, tsv_reader *inner, tsv_error *err);

/* gzip encoder options */
typedef enum tsv_gzip_engine {
    TSV_GZIP_ISAL = 0,
    TSV_GZIP_ZLIB = 1
} tsv_gzip_engine;
#define TSV_STREAM_KEEP_INNER 0x1
int tsv_gzip_encoder_new(tsv_writer **out, tsv_writer *inner, tsv_gzip_engine engine, int level,
                         int flags, tsv_error *err);
int tsv_zstd_encoder_new(tsv_writer **out, tsv_writer *inner, int level, int workers, int flags,
                         tsv_error *err);

/* Read-ahead: a thread of its own reads `inner` (not owned; nobody else may
 * use it until this reader is freed) into `nbufs` buffers of `bufsize` bytes
 * while the caller works on earlier ones, so that the work behind `inner`
 * (network reads, inflate, CRC) runs on one core while the caller's (tar
 * parsing, writing, validating) runs on another. Memory: nbufs * bufsize.
 * Bytes come out in order; an error of `inner` is returned after every byte
 * read before it, and then repeated (sticky), as are end of stream.
 * tsv_readahead_borrow is the zero-copy form of read: *p points at the next
 * bytes, valid until the next call on the reader or its free. read and
 * borrow may be mixed. free() stops the thread: it waits for a read of
 * `inner` in progress to return, then joins it. One consumer thread. */
int tsv_readahead_new(tsv_reader **out, tsv_reader *inner, size_t bufsize, unsigned nbufs,
                      tsv_error *err);
ssize_t tsv_readahead_borrow(tsv_reader *r, const void **p, tsv_error *err);

/* Memory and fd helpers. */
tsv_reader *tsv_mem_reader_new(const void *buf, size_t len); /* borrows buf */
/* fd reader/writer: do not close the fd. */
tsv_reader *tsv_fd_reader_new(int fd);
tsv_writer *tsv_fd_writer_new(int fd);
/* Growing in-memory sink (for tests and small bodies). tsv_buf_append grows
 * geometrically and fails with TSV_EINTERNAL on size overflow or allocation
 * failure (b unchanged). Zero-initialise a tsv_buf before first use. The
 * constructors above return NULL only when out of memory. */
typedef struct tsv_buf {
    uint8_t *data;
    size_t len, cap;
} tsv_buf;
int tsv_buf_append(tsv_buf *b, const void *p, size_t n, tsv_error *err);
void tsv_buf_free(tsv_buf *b);
tsv_writer *tsv_buf_writer_new(tsv_buf *b); /* borrows b */

#endif
