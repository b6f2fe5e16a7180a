/*
 * object_store: immutable, content-addressed files ("objects"), named by the
 * lowercase hex SHA-256 of their bytes (docs/storage.md "Objects").
 *
 * Every file the vault keeps (TSM, tombstone, the KV and SQL files of a
 * generation) is stored once as an object. Callers never see where or how:
 * they put bytes, get them back as a stream, or ask for an object to appear
 * as a file in a directory (`link`). The local-disk backend
 * (object_store_local.c) keeps objects under <data-dir>/objects/ab/<hex>,
 * mode 0444, and `link` is a hard link (no copy: the shard directory's file
 * and the object are one inode). Another backend (S3) fills the same ops
 * table; `link` then means "download into that path".
 *
 * Durability: put/adopt return only once the object's bytes and its
 * directory entry are durable (fsync). An object is only ever created whole
 * (temp name, fsync, link into place) and never modified; delete is a
 * single unlink. So a crash anywhere leaves every object either absent or
 * complete.
 *
 * Corrupt marks: verify marks an object whose bytes no longer hash to its
 * name (mark_corrupt). The mark is persistent (local: the file
 * <dir>/corrupt/<hex>, written atomically) and makes every path that would
 * serve or install the object refuse it (tsv_objstore_corrupt_error; the
 * checks are the callers': backup, restore_data, PITR, export). A later
 * put/adopt of the same name (bytes verified against it) repairs the
 * object: the local backend rewrites the marked inode in place with the
 * good bytes (every hard link to it, i.e. every live shard file that is
 * this object, is repaired at once), fsyncs it, then removes the mark.
 * Deleting an object removes its mark.
 *
 * Errors: int 0/-1 with tsv_error. A missing object is TSV_ENOTFOUND; a
 * put whose bytes do not hash to the expected name is TSV_EINVALID (nothing
 * stored); a full disk is TSV_ENOSPACE.
 * Thread-safety: all functions are thread-safe. Two puts of the same bytes
 * may race: both succeed, one object results.
 * Ownership: tsv_objstore_open returns a store freed with
 * tsv_objstore_close; a reader from get is freed with tsv_reader_free.
 */
#ifndef TSV_OBJECT_STORE_H
#define TSV_OBJECT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "stream.h"
#include "tsv_error.h"

#define TSV_OBJECT_HEX 65 /* 64 hex digits + NUL */

typedef struct tsv_objstore tsv_objstore;

typedef int (*tsv_objstore_list_fn)(void *ctx, const char *hex, uint64_t size, tsv_error *err);

/* What an object is on its backend (local: the file's device, inode, size
 * and modification time): verify takes it before reading the object and
 * marks it only if it is still the same afterwards. */
typedef struct tsv_objstore_id {
    uint64_t dev, ino, size;
    int64_t mtime_ns;
} tsv_objstore_id;

/* A persistent "verify found this object corrupt". */
typedef struct tsv_objstore_mark {
    char hex[TSV_OBJECT_HEX];
    int64_t marked_ns;    /* when verify marked it */
    tsv_objstore_id seen; /* the object as verify read it */
    char reason[256];     /* what verify found */
} tsv_objstore_mark;

typedef int (*tsv_objstore_mark_fn)(void *ctx, const tsv_objstore_mark *m, tsv_error *err);

typedef struct tsv_objstore_ops {
    /* Streams `in` to the end into a new object. expect_hex NULL: name it by
     * what was read; else the bytes must hash to it (TSV_EINVALID if not).
     * *created (may be NULL) = 1 if the object is new, 0 if it existed. */
    int (*put)(tsv_objstore *os, tsv_reader *in, const char *expect_hex, char hex[TSV_OBJECT_HEX],
               uint64_t *size, int *created, tsv_error *err);
    /* Turns an existing, complete, fsynced file whose SHA-256 is `hex` into
     * that object, without copying when the backend can (local: hard link;
     * the file becomes read-only). The file stays where it is. If the object
     * already exists, `path` is replaced by a link to it (dedup), so that
     * afterwards path and object are the same bytes either way. */
    int (*adopt)(tsv_objstore *os, const char *path, const char *hex, int *created, tsv_error *err);
    int (*get)(tsv_objstore *os, const char *hex, tsv_reader **out, tsv_error *err);
    /* Makes the object appear at `path` (must not exist). Not fsynced:
     * the caller fsyncs the directory once for all links it made. */
    int (*link)(tsv_objstore *os, const char *hex, const char *path, tsv_error *err);
    int (*exists)(tsv_objstore *os, const char *hex, int *exists, uint64_t *size, tsv_error *err);
    /* Removing a missing object is not an error. */
    int (*del)(tsv_objstore *os, const char *hex, tsv_error *err);
    /* Calls fn for every object (any order); fn returning non-zero stops. */
    int (*list)(tsv_objstore *os, tsv_objstore_list_fn fn, void *ctx, tsv_error *err);
    /* The object's identity (TSV_ENOTFOUND if it does not exist). */
    int (*identity)(tsv_objstore *os, const char *hex, tsv_objstore_id *id, tsv_error *err);
    /* Marks the object corrupt, durably, if it is still `seen` (else
     * *marked = 0: it changed since it was read, e.g. a repair). An object
     * already marked keeps its first mark (*marked = 1). */
    int (*mark_corrupt)(tsv_objstore *os, const char *hex, const char *reason,
                        const tsv_objstore_id *seen, int *marked, tsv_error *err);
    /* *marked = 1 and *m filled if the object is marked (m may be NULL). */
    int (*corrupt_get)(tsv_objstore *os, const char *hex, tsv_objstore_mark *m, int *marked,
                       tsv_error *err);
    /* Removes a mark (none: not an error). */
    int (*corrupt_clear)(tsv_objstore *os, const char *hex, tsv_error *err);
    /* Calls fn for every mark; fn returning non-zero stops. */
    int (*corrupt_list)(tsv_objstore *os, tsv_objstore_mark_fn fn, void *ctx, tsv_error *err);
    void (*close)(tsv_objstore *os);
} tsv_objstore_ops;

struct tsv_objstore {
    const tsv_objstore_ops *ops;
};

/* The local-disk backend rooted at `dir` (created if needed). `dir` must be
 * on the same file system as the shard directories (hard links). */
int tsv_objstore_open_local(tsv_objstore **out, const char *dir, tsv_error *err);

/* Opens a local object read-only (TSV_ENOTFOUND if absent; no fetch):
 * for copying it elsewhere. The caller closes *fd. Local backend only. */
int tsv_objstore_local_open(tsv_objstore *os, const char *hex, int *fd, uint64_t *size,
                            tsv_error *err);

/* Objects kept in a remote tier and evicted locally (jobs/s3_tier.h): when
 * get, link or exists of the local backend finds no object, it calls
 * fetch, which brings the object back through adopt/put on `os` and returns
 * 0, or fails (TSV_ENOTFOUND: the tier does not have it either; anything
 * else: the tier could not be reached, and the operation fails with that
 * error). fn NULL removes the hook. Set it before the store is shared or
 * while no operation runs. */
typedef int (*tsv_objstore_fetch_fn)(void *ctx, tsv_objstore *os, const char *hex, tsv_error *err);
void tsv_objstore_local_set_fetch(tsv_objstore *os, tsv_objstore_fetch_fn fn, void *ctx);

static inline int tsv_objstore_put(tsv_objstore *os, tsv_reader *in, const char *expect_hex,
                                   char hex[TSV_OBJECT_HEX], uint64_t *size, int *created,
                                   tsv_error *err)
{
    return os->ops->put(os, in, expect_hex, hex, size, created, err);
}
static inline int tsv_objstore_adopt(tsv_objstore *os, const char *path, const char *hex,
                                     int *created, tsv_error *err)
{
    return os->ops->adopt(os, path, hex, created, err);
}
static inline int tsv_objstore_get(tsv_objstore *os, const char *hex, tsv_reader **out,
                                   tsv_error *err)
{
    return os->ops->get(os, hex, out, err);
}
static inline int tsv_objstore_link(tsv_objstore *os, const char *hex, const char *path,
                                    tsv_error *err)
{
    return os->ops->link(os, hex, path, err);
}
static inline int tsv_objstore_exists(tsv_objstore *os, const char *hex, int *exists,
                                      uint64_t *size, tsv_error *err)
{
    return os->ops->exists(os, hex, exists, size, err);
}
static inline int tsv_objstore_delete(tsv_objstore *os, const char *hex, tsv_error *err)
{
    return os->ops->del(os, hex, err);
}
static inline int tsv_objstore_list(tsv_objstore *os, tsv_objstore_list_fn fn, void *ctx,
                                    tsv_error *err)
{
    return os->ops->list(os, fn, ctx, err);
}
static inline int tsv_objstore_identity(tsv_objstore *os, const char *hex, tsv_objstore_id *id,
                                        tsv_error *err)
{
    return os->ops->identity(os, hex, id, err);
}
static inline int tsv_objstore_mark_corrupt(tsv_objstore *os, const char *hex, const char *reason,
                                            const tsv_objstore_id *seen, int *marked,
                                            tsv_error *err)
{
    return os->ops->mark_corrupt(os, hex, reason, seen, marked, err);
}
static inline int tsv_objstore_is_corrupt(tsv_objstore *os, const char *hex, tsv_objstore_mark *m,
                                          int *marked, tsv_error *err)
{
    return os->ops->corrupt_get(os, hex, m, marked, err);
}
static inline int tsv_objstore_clear_corrupt(tsv_objstore *os, const char *hex, tsv_error *err)
{
    return os->ops->corrupt_clear(os, hex, err);
}
static inline int tsv_objstore_corrupt_list(tsv_objstore *os, tsv_objstore_mark_fn fn, void *ctx,
                                            tsv_error *err)
{
    return os->ops->corrupt_list(os, fn, ctx, err);
}
static inline void tsv_objstore_close(tsv_objstore *os)
{
    if (os)
        os->ops->close(os);
}

/* The marks of a store with the identity each marked object has now (so a
 * file can be recognised as one by its device and inode), loaded once for
 * a batch of checks. Free with tsv_objstore_marks_clear. */
typedef struct tsv_objstore_marks {
    tsv_objstore_mark *v; /* .seen = the object now (or what the mark recorded if it is gone) */
    size_t n;
} tsv_objstore_marks;

int tsv_objstore_marks_load(tsv_objstore *os, tsv_objstore_marks *out, tsv_error *err);
/* The mark of the object that the file (dev, ino) is, or NULL. */
const tsv_objstore_mark *tsv_objstore_marks_match(const tsv_objstore_marks *m, uint64_t dev,
                                                  uint64_t ino);
void tsv_objstore_marks_clear(tsv_objstore_marks *m);

/* A set of object IDs for mark and sweep (object_set.c): add every
 * referenced ID, sort once, then ask whether a stored object is in it.
 * Starts zeroed ({0}); the owner frees it with tsv_objset_clear. Not
 * thread-safe. */
typedef struct tsv_objset {
    char (*v)[TSV_OBJECT_HEX];
    size_t n, cap;
} tsv_objset;

/* Adds hex (copied; at most 64 characters are kept). Duplicates are kept:
 * they cost a slot, not a wrong answer. -1 and err (out of memory) leave the
 * set unchanged. */
int tsv_objset_add(tsv_objset *s, const char *hex, tsv_error *err);
/* Sorts the set; tsv_objset_has answers only after it (and no add since). */
void tsv_objset_sort(tsv_objset *s);
/* 1 if hex is in the sorted set, else 0. */
int tsv_objset_has(const tsv_objset *s, const char *hex);
void tsv_objset_clear(tsv_objset *s);

/* Sets err to TSV_EUNPROCESSABLE: "<what>: object <hex> was marked corrupt
 * by verify at <time> (<reason>); restore an older version or upload a
 * good copy". Returns -1. */
int tsv_objstore_corrupt_error(tsv_error *err, const tsv_objstore_mark *m, const char *what);

/* 1 if s is 64 lowercase hex digits. */
int tsv_object_hex_valid(const char *s);

/* SHA-256 of a whole file, streamed (bounded buffer). */
int tsv_sha256_file(const char *path, char hex[TSV_OBJECT_HEX], uint64_t *size, tsv_error *err);

#endif
