/*
 * tar_stream: tar archives checked and rewritten while they stream, in
 * bounded memory (for the 1.x snapshotter client, remote/influx1_rpc.h).
 *
 * Check writer: a tsv_writer that passes every byte on to `inner` and walks
 * the 512-byte blocks as it goes: each header's checksum (unsigned or signed
 * sum, as Go's archive/tar accepts), its size (octal or base-256), the data
 * blocks it announces, and the end of the archive (two zero blocks; only
 * zero bytes may follow them, as GNU tar's record padding). pax ('x', 'g')
 * and GNU long-name ('L', 'K') headers are walked like any entry.
 * tsv_tar_check_finish then says whether the stream was a complete tar.
 * libarchive does the reading everywhere else, but it accepts an archive
 * that stops at an entry boundary without the closing blocks (on purpose,
 * for old writers), so it cannot tell a cut stream from a whole one.
 * Messages start "truncated tar: ..." (the stream ended early) or "invalid
 * tar: ..." (bytes that are not a tar), TSV_EINVALID; errors of `inner`
 * pass through unchanged. The first failure is sticky.
 *
 * Rewrite: tsv_tar_rewrite reads a tar (libarchive) and writes a tar (pax
 * restricted: ustar for short names, as influxd's) with every regular file
 * renamed by `fn`, data copied through one bounded buffer. Directory entries
 * are dropped; links, devices and other special entries are refused
 * (TSV_EINVALID). `fn` returns 1 with the new name in out, 0 to drop the
 * entry, -1 with err set to stop. A failed rewrite never writes the closing
 * zero blocks, so the receiver sees a truncated tar, not a short whole one.
 *
 * Ownership: the check writer does not own `inner` (NULL = check only, the
 * bytes go nowhere); free it with tsv_writer_free. Thread-safety: one stream, one thread; no shared state.
 */
#ifndef TSV_TAR_STREAM_H
#define TSV_TAR_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

int tsv_tar_check_writer_new(tsv_writer **out, tsv_writer *inner, tsv_error *err);
/* 0 if the bytes written so far are one complete tar; *entries (nullable)
 * = the entries seen (pax/GNU extension headers not counted). */
int tsv_tar_check_finish(tsv_writer *w, uint64_t *entries, tsv_error *err);

typedef int (*tsv_tar_rename_fn)(void *ctx, const char *name, char *out, size_t outlen,
                                 tsv_error *err);
/* *entries (nullable) = files written. */
int tsv_tar_rewrite(tsv_reader *in, tsv_writer *out, tsv_tar_rename_fn fn, void *ctx,
                    uint64_t *entries, tsv_error *err);

#endif
