/*
 * tar_objects: tar streams to and from the object store (object_store.h),
 * for connection snapshots: a pulled shard's tar is taken apart into one
 * object per file while it arrives, and a stored shard is put back together
 * as a tar when it is pushed to a server.
 *
 * The sink is a tsv_writer: bytes arrive in any chunking; each regular
 * file's bytes go to a temp file under tmp_dir (same file system as the
 * objects) while their SHA-256 is computed, then the file is fsynced and
 * adopted as an object (a hard link; existing content is deduplicated).
 * Memory is bounded (one header, one PAX record of at most 64 KiB). ustar,
 * PAX ("path", "size") and GNU long names are understood; directories are
 * skipped; links, devices and FIFOs are refused. tsv_tar_sink_finish fails
 * with TSV_EINVALID "truncated tar" unless the end-of-archive blocks came.
 *
 * The source is a tsv_reader producing a ustar stream (sizes past 8 GiB in
 * base-256, as Go's archive/tar reads them) of given entries, reading each
 * object as it goes.
 *
 * Ownership: *_new / *_free; entries belong to the sink. Thread-safety: one
 * thread per sink/source. Errors: int 0/-1 with tsv_error (TSV_EINVALID for
 * a malformed tar, naming the entry and offset).
 */
#ifndef TSV_TAR_OBJECTS_H
#define TSV_TAR_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "object_store.h"
#include "stream.h"
#include "tsv_error.h"

typedef struct tsv_tar_entry {
    char name[512]; /* the entry's path in the tar */
    char hex[TSV_OBJECT_HEX];
    uint64_t size;
    int64_t mtime; /* unix seconds */
    int created;   /* the object was new */
} tsv_tar_entry;

typedef struct tsv_tar_sink tsv_tar_sink;
int tsv_tar_sink_new(tsv_tar_sink **out, tsv_objstore *os, const char *tmp_dir, tsv_error *err);
/* The writer to give the downloader; borrowed, valid until the sink is freed. */
tsv_writer *tsv_tar_sink_writer(tsv_tar_sink *t);
int tsv_tar_sink_finish(tsv_tar_sink *t, tsv_error *err);
const tsv_tar_entry *tsv_tar_sink_entries(const tsv_tar_sink *t, size_t *count);
uint64_t tsv_tar_sink_new_bytes(const tsv_tar_sink *t); /* bytes of objects it created */
void tsv_tar_sink_free(tsv_tar_sink *t);

/* Empties (or creates) the directory the sinks write their temp files in:
 * at start-up, files left by an interrupted pull are garbage. */
int tsv_tar_tmp_dir_reset(const char *dir, tsv_error *err);

/* entries: name, hex, size, mtime used (copied). */
int tsv_tar_source_new(tsv_reader **out, tsv_objstore *os, const tsv_tar_entry *entries,
                       size_t count, tsv_error *err);

#endif
