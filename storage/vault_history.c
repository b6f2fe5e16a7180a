/* vault_history: KV and SQL versions (vault_history.h, docs/storage.md). */
#include "vault_history.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "fsutil.h"
#include "kv.h"
#include "kv_import.h"
#include "random.h"
#include "restore.h"
#include "store_internal.h"
#include "store_vault.h"
#include "trash.h"
#include "tsv_log.h"
#include "vault.h"
#include "vault_history_internal.h"

const char *tsv_history_kind_name(tsv_history_kind k)
{
    return k == TSV_HISTORY_SQL ? TSV_CATALOG_SLOT_SQL : TSV_CATALOG_SLOT_KV;
}

static void kind_slot(tsv_history_kind k, tsv_slot_key *slot)
{
    memset(slot, 0, sizeof *slot);
    snprintf(slot->bucket, sizeof slot->bucket, "%s", tsv_history_kind_name(k));
}

static const tsv_catalog_file *vfile(const tsv_version *v, const char *name)
{
    for (size_t i = 0; i < v->n_files; i++)
        if (strcmp(v->files[i].name, name) == 0)
            return &v->files[i];
    return NULL;
}

static void to_history(tsv_history_kind k, const tsv_version *v, tsv_history_version *h)
{
    memset(h, 0, sizeof *h);
    h->kind = k;
    h->version = v->version;
    h->state = v->state;
    h->installed_ns = v->created_ns;
    h->replaced_ns = v->state == TSV_VERSION_IN_USE ? 0 : v->deleted_ns;
    snprintf(h->replaced_by, sizeof h->replaced_by, "%s", v->deleted_by);
    h->purged_ns = v->purged_ns;
    h->gen = v->gen;
    const tsv_catalog_file *f =
        vfile(v, k == TSV_HISTORY_SQL ? TSV_HISTORY_SQL_FILE : TSV_HISTORY_KV_INSTALLED);
    if (f) {
        memcpy(h->object, f->object, sizeof h->object);
        h->size = f->size;
    }
    if (k == TSV_HISTORY_KV && (f = vfile(v, TSV_HISTORY_KV_REPLACED)) != NULL) {
        memcpy(h->final_object, f->object, sizeof h->final_object);
        h->final_size = f->size;
    }
}

/* ---- lookups ---------------------------------------------------------------- */

typedef struct at_ctx {
    tsv_history_kind kind;
    int64_t t;
    tsv_history_version *out;
    int found;
} at_ctx;

static int at_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    (void)err;
    at_ctx *c = ctx;
    if (v->created_ns > c->t)
        return 0;
    if (v->state != TSV_VERSION_IN_USE && v->deleted_ns <= c->t)
        return 0;
    /* Periods do not overlap; should two claim t, the later install wins. */
    if (!c->found || v->created_ns >= c->out->installed_ns)
        to_history(c->kind, v, c->out);
    c->found = 1;
    return 0;
}

int tsv_vault_history_at(tsv_store *s, tsv_history_kind kind, int64_t t_ns,
                         tsv_history_version *out, int *found, tsv_error *err)
{
    tsv_slot_key slot;
    kind_slot(kind, &slot);
    memset(out, 0, sizeof *out);
    at_ctx c = {kind, t_ns, out, 0};
    tsv_catalog_txn *t;
    if (tsv_catalog_begin(s->vault->catalog, 0, &t, err) != 0)
        return -1;
    int rc = tsv_catalog_slot_foreach(t, &slot, at_fn, &c, err) < 0 ? -1 : 0;
    tsv_catalog_abort(t);
    *found = rc == 0 && c.found;
    return rc;
}

typedef struct shards_at_ctx {
    tsv_catalog_txn *t;
    tsv_history_shard_fn fn;
    void *ctx;
} shards_at_ctx;

static int shards_at_fn(void *ctx, const tsv_slot_key *slot, uint64_t version, tsv_error *err)
{
    shards_at_ctx *c = ctx;
    if (strlen(slot->bucket) != 16) /* the kv / sql pseudo-slots */
        return 0;
    tsv_version v;
    if (tsv_catalog_get(c->t, slot, version, &v, err) != 0)
        return -1;
    int rc = c->fn(c->ctx, &v, err);
    tsv_version_clear(&v);
    return rc;
}

int tsv_vault_shards_at(tsv_store *s, const char *bucket_id, int64_t t_ns, tsv_history_shard_fn fn,
                        void *ctx, tsv_error *err)
{
    tsv_catalog_txn *t;
    if (tsv_catalog_begin(s->vault->catalog, 0, &t, err) != 0)
        return -1;
    shards_at_ctx c = {t, fn, ctx};
    int rc = tsv_catalog_foreach_in_use_at(t, bucket_id, t_ns, shards_at_fn, &c, err);
    tsv_catalog_abort(t);
    return rc < 0 ? -1 : 0;
}

int tsv_vault_history_get(tsv_store *s, tsv_history_kind kind, uint64_t version,
                          tsv_history_version *out, tsv_error *err)
{
    tsv_slot_key slot;
    kind_slot(kind, &slot);
    tsv_catalog_txn *t;
    if (tsv_catalog_begin(s->vault->catalog, 0, &t, err) != 0)
        return -1;
    tsv_version v;
    tsv_error e;
    int rc = tsv_catalog_get(t, &slot, version, &v, &e);
    tsv_catalog_abort(t);
    if (rc != 0) {
        if (e.code == TSV_ENOTFOUND)
            return tsv_error_set(err, TSV_ENOTFOUND, "%s version %" PRIu64 " not found",
                                 tsv_history_kind_name(kind), version);
        return err ? (*err = e, -1) : -1;
    }
    to_history(kind, &v, out);
    tsv_version_clear(&v);
    return 0;
}

typedef struct list_ctx {
    tsv_history_kind kind;
    tsv_history_fn fn;
    void *ctx;
} list_ctx;

static int list_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    list_ctx *c = ctx;
    tsv_history_version h;
    to_history(c->kind, v, &h);
    return c->fn(c->ctx, &h, err);
}

int tsv_vault_history_list(tsv_store *s, tsv_history_kind kind, tsv_history_fn fn, void *ctx,
                           tsv_error *err)
{
    tsv_slot_key slot;
    kind_slot(kind, &slot);
    tsv_catalog_txn *t;
    if (tsv_catalog_begin(s->vault->catalog, 0, &t, err) != 0)
        return -1;
    list_ctx c = {kind, fn, ctx};
    int rc = tsv_catalog_slot_foreach(t, &slot, list_fn, &c, err) < 0 ? -1 : 0;
    tsv_catalog_abort(t);
    return rc;
}

int tsv_vault_history_open(tsv_store *s, const char *object, tsv_reader **out, tsv_error *err)
{
    if (!tsv_object_hex_valid(object))
        return tsv_error_set(err, TSV_EINVALID, "not an object name: \"%s\"", object);
    tsv_objstore_mark m;
    int marked = 0;
    if (tsv_objstore_is_corrupt(s->vault->objects, object, &m, &marked, err) != 0)
        return -1;
    if (marked)
        return tsv_objstore_corrupt_error(err, &m, "vault version content");
    return tsv_objstore_get(s->vault->objects, object, out, err);
}

/* ---- KV export into an object --------------------------------------------- */

typedef struct hash_file {
    int fd;
    const char *path;
    EVP_MD_CTX *md;
    uint8_t *buf;
    size_t len;
    uint64_t total;
} hash_file;

#define EXPORT_BUF ((size_t)1 << 20)

static int hash_flush(hash_file *h, tsv_error *err)
{
    if (h->len == 0)
        return 0;
    int rc = tsv_write_all(h->fd, h->buf, h->len, h->path, err);
    h->len = 0;
    return rc;
}

static int hash_out(void *octx, const void *buf, size_t len, tsv_error *err)
{
    hash_file *h = octx;
    EVP_DigestUpdate(h->md, buf, len);
    h->total += len;
    const uint8_t *p = buf;
    while (len > 0) {
        size_t n = EXPORT_BUF - h->len < len ? EXPORT_BUF - h->len : len;
        memcpy(h->buf + h->len, p, n);
        h->len += n;
        p += n;
        len -= n;
        if (h->len == EXPORT_BUF && hash_flush(h, err) != 0)
            return -1;
    }
    return 0;
}

int vault__kv_export_object(tsv_store *s, tsv_kv *kv, char hex[65], uint64_t *size, tsv_error *err)
{
    char path[PATH_MAX];
    if (tsv_path_join(path, sizeof path, err, "%s/kvexport-%016" PRIx64 ".bolt", s->tmp_dir,
                      tsv_random_u64()) != 0)
        return -1;
    hash_file h = {.fd = -1, .path = path};
    h.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (h.fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", path);
    h.md = EVP_MD_CTX_new();
    h.buf = malloc(EXPORT_BUF);
    int rc = -1;
    if (!h.md || !h.buf || EVP_DigestInit_ex(h.md, EVP_sha256(), NULL) != 1) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    tsv_kv_txn *txn;
    if (tsv_kv_begin(kv, 0, &txn, err) != 0)
        goto out;
    uint64_t written = 0;
    int r = tsv_kv_export_bolt(txn, hash_out, &h, &written, err);
    tsv_kv_abort(txn);
    if (r != 0 || hash_flush(&h, err) != 0 || tsv_fsync_fd(h.fd, path, err) != 0)
        goto out;
    unsigned char d[32];
    EVP_DigestFinal_ex(h.md, d, NULL);
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = '\0';
    if (tsv_objstore_adopt(s->vault->objects, path, hex, NULL, err) != 0)
        goto out;
    *size = h.total;
    rc = 0;
out:
    close(h.fd);
    unlink(path);
    EVP_MD_CTX_free(h.md);
    free(h.buf);
    return rc;
}

int vault__kv_export_dir(tsv_store *s, const char *kvdir, char hex[65], uint64_t *size,
                         tsv_error *err)
{
    tsv_kv *kv = NULL;
    if (tsv_kv_open(&kv, kvdir, 0, err) != 0)
        return tsv_error_wrap(err, "KV store in %s", kvdir);
    int rc = vault__kv_export_object(s, kv, hex, size, err);
    tsv_kv_close(kv);
    return rc;
}

/* ---- start-up / swap reconciliation --------------------------------------- */

/* The in-use version of the kind's slot (*slot), read in a transaction of
 * its own. The caller clears *cur when *found. */
static int read_in_use(tsv_vault *vault, tsv_history_kind kind, tsv_slot_key *slot,
                       tsv_version *cur, int *found, tsv_error *err)
{
    kind_slot(kind, slot);
    tsv_catalog_txn *t;
    if (tsv_catalog_begin(vault->catalog, 0, &t, err) != 0)
        return -1;
    int rc = tsv_vault_in_use(t, slot, cur, found, err);
    tsv_catalog_abort(t);
    return rc;
}

int vault__kv_replace_label(tsv_store *s, char *label, size_t len, tsv_error *err)
{
    label[0] = '\0';
    tsv_slot_key slot;
    tsv_version cur;
    int found = 0;
    if (read_in_use(s->vault, TSV_HISTORY_KV, &slot, &cur, &found, err) != 0)
        return -1;
    if (found && cur.gen != s->generation)
        snprintf(label, len, "kv-restore:kv%" PRIu64, cur.version);
    tsv_version_clear(&cur);
    return 0;
}

/* The live KV generation is the in-use KV version: if the catalogue's in-use
 * version is another generation (restore/kv swapped it, or the vault sees
 * this data directory for the first time), the old one is soft-deleted and
 * the live one recorded, in one transaction. */
static int reconcile_kv(tsv_store *s, tsv_error *err)
{
    tsv_vault *vault = s->vault;
    tsv_slot_key slot;
    tsv_catalog_txn *t;
    tsv_version cur, nv;
    memset(&nv, 0, sizeof nv);
    int found = 0;
    if (read_in_use(vault, TSV_HISTORY_KV, &slot, &cur, &found, err) != 0)
        return -1;
    if (found && cur.gen == s->generation) {
        tsv_version_clear(&cur);
        return 0;
    }
    tsv_vault_gc_shared(vault);
    char hex[65] = "";
    uint64_t size = 0;
    int have = 0;
    if (s->pending_kv_object[0]) {
        /* restore/kv exported the staged KV before the swap. */
        int ex = 0;
        tsv_error e;
        if (tsv_objstore_exists(vault->objects, s->pending_kv_object, &ex, NULL, &e) == 0 && ex) {
            memcpy(hex, s->pending_kv_object, sizeof hex);
            size = s->pending_kv_size;
            have = 1;
        }
    }
    int rc = -1;
    t = NULL;
    if (!have && vault__kv_export_object(s, s->kv, hex, &size, err) != 0)
        goto out;
    if (tsv_catalog_begin(vault->catalog, 1, &t, err) != 0)
        goto out;
    int64_t now = tsv_vault_now_ns();
    nv.slot = slot;
    nv.state = TSV_VERSION_IN_USE;
    nv.gen = s->generation;
    nv.created_ns = now;
    if (tsv_catalog_next_version(t, &slot, &nv.version, err) != 0 ||
        tsv_version_add_file(&nv, TSV_HISTORY_KV_INSTALLED, hex, size, err) != 0 ||
        tsv_catalog_put(t, &nv, err) != 0)
        goto out;
    if (found) {
        cur.state = TSV_VERSION_SOFT_DELETED;
        cur.deleted_ns = now;
        snprintf(cur.deleted_by, sizeof cur.deleted_by, "%s",
                 s->pending_kv_object[0] ? "kv-restore" : "kv-replaced");
        if (tsv_catalog_put(t, &cur, err) != 0)
            goto out;
    }
    rc = tsv_catalog_commit(t, err);
    t = NULL;
    if (rc == 0)
        TSV_INFO("msg=\"KV version recorded\" version=%" PRIu64 " replaced=%" PRIu64
                 " generation=%016" PRIx64 " bytes=%" PRIu64,
                 nv.version, found ? cur.version : 0, s->generation, size);
out:
    tsv_catalog_abort(t);
    tsv_vault_gc_unlock(vault);
    tsv_version_clear(&cur);
    tsv_version_clear(&nv);
    return rc;
}

static int same_inode(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino &&
           sa.st_dev == sb.st_dev;
}

/* Makes `live` the object `hex` (hard link, atomic rename, fsync). */
static int link_live(tsv_store *s, const char *hex, const char *live, tsv_error *err)
{
    char tmp[PATH_MAX];
    if (tsv_path_join(tmp, sizeof tmp, err, "%s.vault-%08" PRIx64, live,
                      tsv_random_u64() & 0xffffffffu) != 0)
        return -1;
    if (tsv_objstore_link(s->vault->objects, hex, tmp, err) != 0)
        return -1;
    if (tsv_rename_durable(tmp, live, err) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The live SQL file is the in-use SQL version's object (catalogue
 * authoritative, like shard directories): a file not yet in the vault is
 * adopted as a new version; a live file that is not the in-use object (a
 * crash between restore/sql's commit and its rename) is replaced by it. */
static int reconcile_sql(tsv_store *s, tsv_error *err)
{
    tsv_vault *vault = s->vault;
    char live[PATH_MAX], obj[PATH_MAX];
    if (tsv_path_join(live, sizeof live, err, "%s/influxd.sqlite", s->state_dir) != 0)
        return -1;
    tsv_slot_key slot;
    tsv_catalog_txn *t;
    tsv_version cur, nv;
    memset(&nv, 0, sizeof nv);
    int found = 0;
    if (read_in_use(vault, TSV_HISTORY_SQL, &slot, &cur, &found, err) != 0)
        return -1;
    int rc = -1;
    int live_exists = tsv_path_exists(live);
    if (found) {
        const tsv_catalog_file *f = vfile(&cur, TSV_HISTORY_SQL_FILE);
        rc = 0;
        if (f &&
            tsv_path_join(obj, sizeof obj, err, "%s/%.2s/%s", vault->objects_dir, f->object,
                          f->object) == 0 &&
            !same_inode(live, obj)) {
            TSV_WARN("msg=\"live SQL file is not its in-use version: relinking it from the "
                     "vault\" version=%" PRIu64,
                     cur.version);
            rc = link_live(s, f->object, live, err);
        }
        tsv_version_clear(&cur);
        return rc;
    }
    if (!live_exists)
        return 0;
    tsv_vault_gc_shared(vault);
    rc = -1;
    t = NULL;
    char hex[65];
    uint64_t size;
    if (tsv_sha256_file(live, hex, &size, err) != 0 ||
        tsv_objstore_adopt(vault->objects, live, hex, NULL, err) != 0 ||
        tsv_catalog_begin(vault->catalog, 1, &t, err) != 0)
        goto out;
    nv.slot = slot;
    nv.state = TSV_VERSION_IN_USE;
    nv.created_ns = tsv_vault_now_ns();
    if (tsv_catalog_next_version(t, &slot, &nv.version, err) != 0 ||
        tsv_version_add_file(&nv, TSV_HISTORY_SQL_FILE, hex, size, err) != 0 ||
        tsv_catalog_put(t, &nv, err) != 0)
        goto out;
    rc = tsv_catalog_commit(t, err);
    t = NULL;
    if (rc == 0)
        TSV_INFO("msg=\"SQL file adopted into the vault\" version=%" PRIu64 " bytes=%" PRIu64,
                 nv.version, size);
out:
    tsv_catalog_abort(t);
    tsv_vault_gc_unlock(vault);
    tsv_version_clear(&nv);
    return rc;
}

int vault__reconcile_history(tsv_store *s, tsv_error *err)
{
    if (reconcile_kv(s, err) != 0)
        return tsv_error_wrap(err, "KV version");
    if (reconcile_sql(s, err) != 0)
        return tsv_error_wrap(err, "SQL version");
    return 0;
}

/* ---- restore/kv: the replaced generation ---------------------------------- */

typedef struct by_gen_ctx {
    uint64_t gen;
    tsv_version *out;
    int found;
} by_gen_ctx;

static int by_gen_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    by_gen_ctx *c = ctx;
    if (v->gen != c->gen || v->state == TSV_VERSION_IN_USE)
        return 0;
    if (c->found)
        tsv_version_clear(c->out);
    c->found = 1;
    return tsv_version_copy(c->out, v, err);
}

int vault__kv_replaced(tsv_store *s, const char *old_state, tsv_error *err)
{
    tsv_vault *vault = s->vault;
    uint64_t gen = 0;
    char kvdir[PATH_MAX];
    if (tsv_gen_marker_read(old_state, &gen, err) != 0 ||
        tsv_path_join(kvdir, sizeof kvdir, err, "%s/kv", old_state) != 0)
        return -1;
    tsv_slot_key slot;
    kind_slot(TSV_HISTORY_KV, &slot);
    char hex[65];
    uint64_t size;
    tsv_version v;
    memset(&v, 0, sizeof v);
    tsv_catalog_txn *t = NULL;
    int rc = -1;
    tsv_vault_gc_shared(vault);
    if (vault__kv_export_dir(s, kvdir, hex, &size, err) != 0 ||
        tsv_catalog_begin(vault->catalog, 1, &t, err) != 0)
        goto out;
    by_gen_ctx c = {gen, &v, 0};
    if (tsv_catalog_slot_foreach(t, &slot, by_gen_fn, &c, err) < 0)
        goto out;
    if (!c.found) {
        tsv_error_set(err, TSV_ENOTFOUND, "no replaced KV version of generation %016" PRIx64, gen);
        goto out;
    }
    if (!vfile(&v, TSV_HISTORY_KV_REPLACED) &&
        (tsv_version_add_file(&v, TSV_HISTORY_KV_REPLACED, hex, size, err) != 0 ||
         tsv_catalog_put(t, &v, err) != 0))
        goto out;
    rc = tsv_catalog_commit(t, err);
    t = NULL;
out:
    tsv_catalog_abort(t);
    tsv_vault_gc_unlock(vault);
    tsv_version_clear(&v);
    if (rc != 0)
        return -1;
    /* Everything of the old generation is in the vault now: its KV as an
     * object, its shard files and SQL file are objects (hard links). */
    tsv_error e;
    if (tsv_remove_tree(kvdir, &e) != 0)
        TSV_WARN("msg=\"could not remove\" path=\"%s\" error=\"%s\"", kvdir, e.message);
    tsv_vault_drop_tree(old_state, s->trash_dir);
    return 0;
}

/* ---- restore/sql ------------------------------------------------------------ */

int vault__sql_prepare(tsv_store *s, const char *path, vault_sql_install *in, tsv_error *err)
{
    memset(in, 0, sizeof *in);
    in->s = s;
    tsv_vault_gc_shared(s->vault);
    in->gc_held = 1;
    if (tsv_sha256_file(path, in->hex, &in->size, err) != 0 ||
        tsv_objstore_adopt(s->vault->objects, path, in->hex, NULL, err) != 0) {
        vault__sql_done(in);
        return -1;
    }
    return 0;
}

int vault__sql_commit(vault_sql_install *in, tsv_error *err)
{
    tsv_store *s = in->s;
    tsv_slot_key slot;
    kind_slot(TSV_HISTORY_SQL, &slot);
    tsv_catalog_txn *t;
    tsv_version nv;
    memset(&nv, 0, sizeof nv);
    if (tsv_catalog_begin(s->vault->catalog, 1, &t, err) != 0)
        return -1;
    int rc = -1;
    if (tsv_vault_in_use(t, &slot, &in->prev, &in->had_prev, err) != 0)
        goto out;
    int64_t now = tsv_vault_now_ns();
    nv.slot = slot;
    nv.state = TSV_VERSION_IN_USE;
    nv.created_ns = now;
    if (tsv_catalog_next_version(t, &slot, &nv.version, err) != 0 ||
        tsv_version_add_file(&nv, TSV_HISTORY_SQL_FILE, in->hex, in->size, err) != 0 ||
        tsv_catalog_put(t, &nv, err) != 0)
        goto out;
    if (in->had_prev && tsv_catalog_put_soft_deleted(t, &in->prev, now, "sql-restore", err) != 0)
        goto out;
    rc = tsv_catalog_commit(t, err);
    t = NULL;
    if (rc == 0)
        in->new_version = nv.version;
out:
    tsv_catalog_abort(t);
    tsv_version_clear(&nv);
    return rc;
}

void vault__sql_undo(vault_sql_install *in)
{
    if (!in->new_version)
        return;
    tsv_slot_key slot;
    kind_slot(TSV_HISTORY_SQL, &slot);
    tsv_catalog_txn *t;
    tsv_error e;
    int rc = tsv_catalog_begin(in->s->vault->catalog, 1, &t, &e);
    if (rc == 0) {
        rc = tsv_catalog_del(t, &slot, in->new_version, &e);
        if (rc == 0 && in->had_prev)
            rc = tsv_catalog_put(t, &in->prev, &e);
        if (rc == 0)
            rc = tsv_catalog_commit(t, &e);
        else
            tsv_catalog_abort(t);
    }
    if (rc != 0)
        TSV_WARN("msg=\"could not undo the SQL version of a failed restore/sql; the next start-up "
                 "relinks the live file from the vault\" error=\"%s\"",
                 e.message);
    in->new_version = 0;
}

void vault__sql_done(vault_sql_install *in)
{
    if (in->gc_held)
        tsv_vault_gc_unlock(in->s->vault);
    in->gc_held = 0;
    tsv_version_clear(&in->prev);
}

/* ---- restoring a KV or SQL version ---------------------------------------- */

int tsv_vault_restore_sql_version(tsv_store *s, uint64_t version, tsv_error *err)
{
    tsv_history_version h;
    if (tsv_vault_history_get(s, TSV_HISTORY_SQL, version, &h, err) != 0)
        return -1;
    if (h.state == TSV_VERSION_PURGED || !h.object[0])
        return tsv_error_set(err, TSV_EINVALID, "SQL version %" PRIu64 " was purged", version);
    tsv_reader *r;
    if (tsv_vault_history_open(s, h.object, &r, err) != 0)
        return -1;
    int rc = tsv_store_restore_sql(s, r, err);
    tsv_reader_free(r);
    if (rc == 0)
        TSV_INFO("msg=\"SQL version restored\" version=%" PRIu64, version);
    return rc;
}

typedef struct label_ctx {
    const char *label;
    tsv_version best;
    int found;
    int in_use;
    uint64_t in_use_version;
} label_ctx;

static int label_fn(void *ctx, const tsv_version *v, tsv_error *err)
{
    label_ctx *c = ctx;
    if (v->state == TSV_VERSION_IN_USE) {
        c->in_use = 1;
        c->in_use_version = v->version;
        return 0;
    }
    if (v->state != TSV_VERSION_SOFT_DELETED || strcmp(v->deleted_by, c->label) != 0)
        return 0;
    if (c->found)
        tsv_version_clear(&c->best);
    c->found = 1;
    return tsv_version_copy(&c->best, v, err);
}

int tsv_vault_restore_kv_version(tsv_store *s, uint64_t version, int installed_content,
                                 tsv_vault_result *shards, tsv_error *err)
{
    tsv_vault_result local;
    memset(&local, 0, sizeof local);
    if (!shards)
        shards = &local;
    memset(shards, 0, sizeof *shards);
    tsv_history_version h;
    if (tsv_vault_history_get(s, TSV_HISTORY_KV, version, &h, err) != 0)
        return -1;
    if (h.state == TSV_VERSION_PURGED)
        return tsv_error_set(err, TSV_EINVALID, "KV version %" PRIu64 " was purged", version);
    const char *obj = !installed_content && h.final_object[0] ? h.final_object : h.object;
    if (!obj[0])
        return tsv_error_set(err, TSV_EINVALID, "KV version %" PRIu64 " has no content", version);
    tsv_reader *r;
    if (tsv_vault_history_open(s, obj, &r, err) != 0)
        return -1;
    char token[512];
    int rc = tsv_store_restore_kv(s, r, token, sizeof token, err);
    tsv_reader_free(r);
    if (rc != 0)
        return -1;
    TSV_INFO("msg=\"KV version restored\" version=%" PRIu64 " content=%s", version,
             obj == h.final_object ? "replaced" : "installed");

    /* The shards that generation held when it was replaced. */
    char label[64];
    snprintf(label, sizeof label, "kv-restore:kv%" PRIu64, version);
    tsv_store_shared_lock(s);
    tsv_live_shard *live = NULL;
    size_t n = 0;
    rc = tsv_store_live_shards(s, NULL, &live, &n, NULL, err);
    tsv_version *to = rc == 0 ? calloc(n ? n : 1, sizeof *to) : NULL;
    uint64_t *ids = rc == 0 ? calloc(n ? n : 1, sizeof *ids) : NULL;
    int *change = rc == 0 ? calloc(n ? n : 1, sizeof *change) : NULL;
    if (rc == 0 && (!to || !ids || !change))
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++)
        ids[i] = live[i].shard_id;
    int locked = 0;
    if (rc == 0) {
        tsv_shard_lock_many(ids, n);
        locked = 1;
    }
    tsv_catalog_txn *t = NULL;
    if (rc == 0)
        rc = tsv_catalog_begin(s->vault->catalog, 1, &t, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        tsv_vault_shard_result sr;
        memset(&sr, 0, sizeof sr);
        sr.shard_id = live[i].shard_id;
        snprintf(sr.rp, sizeof sr.rp, "%s", live[i].slot.rp);
        sr.start_ns = live[i].slot.start_ns;
        sr.end_ns = live[i].slot.end_ns;
        label_ctx lc;
        memset(&lc, 0, sizeof lc);
        lc.label = label;
        if (tsv_catalog_slot_foreach(t, &live[i].slot, label_fn, &lc, err) < 0) {
            if (lc.found)
                tsv_version_clear(&lc.best);
            rc = -1;
            break;
        }
        if (lc.in_use) {
            sr.outcome = TSV_VAULT_UNCHANGED;
            sr.from_version = sr.to_version = lc.in_use_version;
            snprintf(sr.reason, sizeof sr.reason, "version %" PRIu64 " is in use",
                     lc.in_use_version);
        } else if (!lc.found) {
            sr.outcome = TSV_VAULT_UNCHANGED;
            snprintf(sr.reason, sizeof sr.reason, "no version held by KV version %" PRIu64,
                     version);
        } else {
            lc.best.state = TSV_VERSION_IN_USE;
            lc.best.deleted_ns = 0;
            lc.best.deleted_by[0] = '\0';
            lc.best.shard_id = live[i].shard_id;
            lc.best.gen = tsv_vault_new_gen();
            rc = tsv_catalog_put(t, &lc.best, err);
            sr.outcome = TSV_VAULT_RESTORED;
            sr.to_version = lc.best.version;
            to[i] = lc.best;
            change[i] = 1;
            lc.found = 0;
        }
        if (lc.found)
            tsv_version_clear(&lc.best);
        if (rc == 0)
            rc = tsv_vault_result_add(shards, &sr, err);
    }
    if (rc == 0) {
        rc = tsv_catalog_commit(t, err);
        t = NULL;
    }
    tsv_catalog_abort(t);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!change[i])
            continue;
        tsv_error e;
        if (tsv_vault_materialize(s->vault, live[i].dir, &to[i], to[i].gen, s->trash_dir, &e) !=
            0) {
            /* Committed: the next start-up rebuilds it from the catalogue. */
            TSV_WARN("msg=\"could not rebuild a shard directory now\" dir=\"%s\" error=\"%s\"",
                     live[i].dir, e.message);
        } else {
            shards->files += to[i].n_files;
        }
    }
    if (locked)
        tsv_shard_unlock_many(ids, n);
    for (size_t i = 0; to && i < n; i++)
        if (change[i])
            tsv_version_clear(&to[i]);
    free(to);
    free(ids);
    free(change);
    free(live);
    tsv_store_shared_unlock(s);
    shards->total = n;
    if (shards == &local)
        tsv_vault_result_clear(&local);
    return rc;
}
