/*
 * byte_pipe: a bounded in-memory pipe between two threads, so that a
 * producer that pushes bytes (an HTTP upload) can feed a consumer that
 * pulls them through a tsv_reader (libarchive, decoders) while both run.
 *
 * The pipe holds at most `slots` chunks of `chunk` bytes; the writer blocks
 * while it is full, the reader while it is empty. tsv_byte_pipe_close_write
 * ends the stream (the reader then sees 0 after the last byte, or the error
 * given to it); tsv_byte_pipe_close_read tells the writer that nobody reads
 * any more: later writes are dropped, never block.
 *
 * Ownership: tsv_byte_pipe_new returns a pipe freed by tsv_byte_pipe_free
 * once both sides are done (the reader returned by tsv_byte_pipe_reader is
 * owned by the pipe: do not free it). Thread-safety: one writer thread and
 * one reader thread. Errors: int 0/-1 with tsv_error; reads as tsv_reader.
 */
#ifndef TSV_BYTE_PIPE_H
#define TSV_BYTE_PIPE_H

#include <stddef.h>

#include "stream.h"
#include "tsv_error.h"

typedef struct tsv_byte_pipe tsv_byte_pipe;

int tsv_byte_pipe_new(tsv_byte_pipe **out, size_t chunk, unsigned slots, tsv_error *err);
void tsv_byte_pipe_free(tsv_byte_pipe *p);

/* Copies data in, blocking while the pipe is full. Never fails once the
 * reader has closed (the bytes are dropped). */
void tsv_byte_pipe_write(tsv_byte_pipe *p, const void *data, size_t len);
/* End of stream; with `failure` the reader gets that error instead of 0. */
void tsv_byte_pipe_close_write(tsv_byte_pipe *p, const tsv_error *failure);
/* The consumer side as a reader (valid until tsv_byte_pipe_free). */
tsv_reader *tsv_byte_pipe_reader(tsv_byte_pipe *p);
void tsv_byte_pipe_close_read(tsv_byte_pipe *p);

#endif
