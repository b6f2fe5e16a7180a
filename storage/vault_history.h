/*
 * vault_history: KV and SQL versions in the vault (docs/storage.md "KV and
 * SQL versions"): every generation of the KV store and every SQL file is a
 * catalogued version (content-addressed objects, deduplicated, soft-deleted
 * when replaced, purged after the grace period like shard versions), and the
 * lookup "which version was in force at time T" for point-in-time recovery.
 *
 * Model. The catalogue (catalog.h) keeps the versions of two pseudo-slots,
 * bucket "kv" and bucket "sql" (rp "", interval 0/0). A version is never put
 * back in use once replaced: restoring an older version installs a NEW
 * version with the same content (same object: no extra space). So the
 * versions of a kind cover consecutive, non-overlapping periods
 * [installed_ns, replaced_ns), the next version's installed_ns being exactly
 * the previous one's replaced_ns, and "in force at T" is one range scan.
 *
 * Content:
 *   - KV: `object` is a bbolt export (the file GET /api/v2/backup/kv gives)
 *     of the generation as it was installed (restore/kv: the staged KV; the
 *     first version of a data directory: the KV when it was first seen).
 *     `final_object`, when not "", is the export of the same generation at
 *     the moment it was replaced (what restore/kv replaced, including every
 *     API change made during its life). Changes between the two are not
 *     versions: PITR records them at key level on top of `object`.
 *   - SQL: `object` is the influxd.sqlite file itself (the live
 *     state/influxd.sqlite is a hard link to it). SQL files never change in
 *     place, so final_object is always "".
 * When a KV generation is replaced, the shard versions it held are
 * soft-deleted by "kv-restore:kv<N>" (N = its version), so
 * tsv_vault_restore_kv_version can bring the shards back with it.
 *
 * Ownership: out-structs are plain values (no heap). Readers from
 * tsv_vault_history_open are freed with tsv_reader_free. Results of
 * restore_kv_version are released with tsv_vault_result_clear.
 * Thread-safety: all functions are thread-safe; each takes the locks it needs
 * (the restore functions take the store's exclusive lock for their swap, as
 * restore/kv and restore/sql do). Errors: int 0/-1 with tsv_error;
 * TSV_ENOTFOUND for an unknown version, TSV_EINVALID for a purged one (its
 * content is gone), TSV_ENOSPACE for a full disk.
 */
#ifndef TSV_VAULT_HISTORY_H
#define TSV_VAULT_HISTORY_H

#include <stdint.h>

#include "catalog.h"
#include "store.h"
#include "stream.h"
#include "tsv_error.h"
#include "vault_ops.h"

typedef enum tsv_history_kind {
    TSV_HISTORY_KV = 1,
    TSV_HISTORY_SQL = 2,
} tsv_history_kind;

/* "kv" / "sql" (also the catalogue pseudo-slot's bucket). */
const char *tsv_history_kind_name(tsv_history_kind k);

/* Names of the files of a KV/SQL version in the catalogue record. */
#define TSV_HISTORY_KV_INSTALLED "installed.bolt"
#define TSV_HISTORY_KV_REPLACED "replaced.bolt"
#define TSV_HISTORY_SQL_FILE "influxd.sqlite"

typedef struct tsv_history_version {
    tsv_history_kind kind;
    uint64_t version;        /* 1, 2, ... per kind */
    tsv_version_state state; /* IN_USE, SOFT_DELETED or PURGED */
    int64_t installed_ns;    /* became current (Unix ns) */
    int64_t replaced_ns;     /* stopped being current; 0 while in use */
    char replaced_by[128];   /* operation that replaced it ("kv-restore", ...) */
    int64_t purged_ns;       /* 0 unless purged (content gone) */
    uint64_t gen;            /* KV: generation marker of the state/ it was live in */
    char object[65];         /* content when installed (SHA-256 hex) */
    uint64_t size;
    char final_object[65]; /* KV: content when replaced; "" if not recorded */
    uint64_t final_size;
} tsv_history_version;

/* The version of `kind` in force at t_ns: installed_ns <= t_ns and (in use
 * or t_ns < replaced_ns). *found = 0 when none (t_ns before the first
 * version the vault recorded). A purged version is returned with state
 * PURGED: its content can no longer be read (the PITR range ends there). */
int tsv_vault_history_at(tsv_store *s, tsv_history_kind kind, int64_t t_ns,
                         tsv_history_version *out, int *found, tsv_error *err);

/* Shard slots at t_ns, for PITR: calls fn for every shard slot (of bucket
 * `bucket_id`; NULL: every bucket) that had a version in use at t_ns, with
 * that version's record (its files; state is its state NOW: PURGED means
 * its objects may be gone). Answered from the catalogue's event log
 * (catalog.h tsv_catalog_in_use_at), which keeps every period a version was
 * in use even when restore_data put it back later. v is borrowed for the
 * call; fn returns 0 to go on, >0 to stop, -1 with err. */
typedef int (*tsv_history_shard_fn)(void *ctx, const tsv_version *v, tsv_error *err);
int tsv_vault_shards_at(tsv_store *s, const char *bucket_id, int64_t t_ns, tsv_history_shard_fn fn,
                        void *ctx, tsv_error *err);

/* One version by number (TSV_ENOTFOUND if unknown). */
int tsv_vault_history_get(tsv_store *s, tsv_history_kind kind, uint64_t version,
                          tsv_history_version *out, tsv_error *err);

/* Every version of `kind`, ascending. fn returns 0 to go on, >0 to stop,
 * -1 (with err) for an error; v is borrowed for the call. */
typedef int (*tsv_history_fn)(void *ctx, const tsv_history_version *v, tsv_error *err);
int tsv_vault_history_list(tsv_store *s, tsv_history_kind kind, tsv_history_fn fn, void *ctx,
                           tsv_error *err);

/* The bytes of an object (a version's object or final_object), streamed. */
int tsv_vault_history_open(tsv_store *s, const char *object, tsv_reader **out, tsv_error *err);

/* Makes KV version `version` current again: its content (final_object if
 * recorded and !installed_content, else object) goes through restore/kv's
 * whole path (validation, staging, one exchange of the generation), which
 * records a new KV version with that content and soft-deletes the current
 * one with every shard it held; then the shard versions that version's
 * generation held when it was replaced (soft-deleted "kv-restore:kv<N>") are
 * put back in use, in one catalogue transaction, and their directories
 * rebuilt. *shards (may be NULL) gets one entry per shard of the restored
 * meta (RESTORED, or UNCHANGED with the reason). A purged version is
 * TSV_EINVALID; a content restore/kv refuses keeps its error (nothing
 * changed). */
int tsv_vault_restore_kv_version(tsv_store *s, uint64_t version, int installed_content,
                                 tsv_vault_result *shards, tsv_error *err);

/* Makes SQL version `version` current again, as restore/sql of its content
 * (a new SQL version, the current one soft-deleted). */
int tsv_vault_restore_sql_version(tsv_store *s, uint64_t version, tsv_error *err);

#endif
