/*
 * trash: data moved aside instead of deleted. Every entry is a slot
 * <trash>/<UTC time>-<reason>-<random>/ holding one file or directory, so a
 * purge can tell its age from its name.
 *
 * Errors: int 0/-1 with tsv_error. Thread-safety: all functions are
 * thread-safe (each move gets its own slot). Paths are the caller's.
 */
#ifndef TSV_TRASH_H
#define TSV_TRASH_H

#include <stdint.h>

#include "tsv_error.h"

/* Moves `path` into <trash>/<UTC time>-<reason>-<random>/<basename>, durably.
 * Logs where it went. A missing path is not an error. */
int tsv_trash_move(const char *trash_dir, const char *path, const char *reason, tsv_error *err);
/* Like tsv_trash_move, but hard-links `path` into the trash and leaves it in
 * place: used to keep a file that a rename is about to replace. */
int tsv_trash_link(const char *trash_dir, const char *path, const char *reason, tsv_error *err);
/* Deletes trash entries older than max_age_s (their name starts with the time). */
int tsv_trash_purge(const char *trash_dir, int64_t max_age_s, tsv_error *err);

#endif
