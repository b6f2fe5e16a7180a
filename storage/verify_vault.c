/*
 * verify_vault: verify's checks of the vault (verify.h, step 4):
 *  - the catalogue: at most one version in use per slot; every version
 *    that is not purged lists objects that exist with the recorded size
 *    (a missing object or a size mismatch is a dangling reference); an
 *    in-use shard version's files are in its live shard directory with
 *    the recorded sizes;
 *  - every object (a whole verify) or every object the bucket's versions
 *    list (a bucket verify) is read and its SHA-256 compared with its name;
 *  - a whole verify also reports orphan objects (listed by no version that
 *    is not purged). Objects are stored before the catalogue commit that
 *    lists them, so a candidate is confirmed under the GC lock held
 *    exclusively (no operation is between its store and its commit then),
 *    against a fresh read of the catalogue.
 * Problems name the bucket, rp, shard, the file (objects/ab/<hex> or the
 * live file) and what is wrong. The only change: an object whose bytes do
 * not hash to its name is marked corrupt (object_store.h), so that backups,
 * restores and exports refuse it; a marked object that hashes right again
 * loses its mark.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "array_grow.h"
#include "catalog.h"
#include "engine.h"
#include "fsutil.h"
#include "interval.h"
#include "object_store.h"
#include "store_internal.h"
#include "tsv_time.h"
#include "vault.h"
#include "verify_internal.h"

#define HASH_CHUNK (1024 * 1024)

/* A sorted set of object names with the size the catalogue records. */
typedef struct ref {
    char hex[65];
    uint64_t size;
} ref;

typedef struct refs {
    ref *v;
    size_t n, cap;
} refs;

static int refs_add(refs *r, const char *hex, uint64_t size)
{
    if (TSV_ARRAY_GROW(r->v, r->n, r->cap, NULL) != 0)
        return -1;
    snprintf(r->v[r->n].hex, sizeof r->v[r->n].hex, "%s", hex);
    r->v[r->n].size = size;
    r->n++;
    return 0;
}

static int cmp_ref(const void *a, const void *b)
{
    return strcmp(((const ref *)a)->hex, ((const ref *)b)->hex);
}

static void refs_seal(refs *r)
{
    if (r->n > 1)
        qsort(r->v, r->n, sizeof *r->v, cmp_ref);
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (k == 0 || strcmp(r->v[i].hex, r->v[k - 1].hex) != 0)
            r->v[k++] = r->v[i];
    r->n = k;
}

static const ref *refs_find(const refs *r, const char *hex)
{
    ref key;
    snprintf(key.hex, sizeof key.hex, "%s", hex);
    return r->n ? bsearch(&key, r->v, r->n, sizeof *r->v, cmp_ref) : NULL;
}

/* ---- the catalogue -------------------------------------------------------------- */

typedef struct cat_ctx {
    struct verifier *v;
    tsv_store *s;
    refs *all;
    /* the previous version's slot, to count in-use versions per slot */
    tsv_slot_key slot;
    int have_slot;
    uint64_t in_use_version;
    uint64_t versions;
} cat_ctx;

static int same_slot(const tsv_slot_key *a, const tsv_slot_key *b)
{
    return strcmp(a->bucket, b->bucket) == 0 && strcmp(a->rp, b->rp) == 0 &&
           a->start_ns == b->start_ns && a->end_ns == b->end_ns;
}

static void where(const tsv_version *ver, char *out, size_t n)
{
    char iv[TSV_INTERVAL_MAX];
    tsv_interval in = {ver->slot.start_ns, ver->slot.end_ns};
    if (ver->slot.end_ns > ver->slot.start_ns)
        tsv_interval_format(&in, iv, sizeof iv);
    else
        snprintf(iv, sizeof iv, "-");
    snprintf(out, n, "catalogue: version %" PRIu64 " (%s) of slot %s/%s %s", ver->version,
             tsv_version_state_name(ver->state), ver->slot.bucket, ver->slot.rp, iv);
}

/* Collects the references; problems are reported after the read
 * transaction (on_problem may be slow). */
typedef struct cat_problem {
    char bucket[17], rp[256];
    uint64_t shard;
    char file[PATH_MAX];
    char msg[1024];
} cat_problem;

typedef struct cat_problems {
    cat_problem *v;
    size_t n, cap;
} cat_problems;

static void note(cat_problems *p, const tsv_version *ver, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void note(cat_problems *p, const tsv_version *ver, const char *file, const char *fmt, ...)
{
    if (TSV_ARRAY_GROW(p->v, p->n, p->cap, NULL) != 0)
        return;
    cat_problem *x = &p->v[p->n++];
    memset(x, 0, sizeof *x);
    int shard_slot = strcmp(ver->slot.bucket, TSV_CATALOG_SLOT_KV) != 0 &&
                     strcmp(ver->slot.bucket, TSV_CATALOG_SLOT_SQL) != 0;
    snprintf(x->bucket, sizeof x->bucket, "%s", shard_slot ? ver->slot.bucket : "");
    snprintf(x->rp, sizeof x->rp, "%s", ver->slot.rp);
    x->shard = ver->shard_id;
    snprintf(x->file, sizeof x->file, "%s", file);
    char w[600];
    where(ver, w, sizeof w);
    int k = snprintf(x->msg, sizeof x->msg, "%s: ", w);
    va_list ap;
    va_start(ap, fmt);
    if (k > 0 && (size_t)k < sizeof x->msg)
        vsnprintf(x->msg + k, sizeof x->msg - (size_t)k, fmt, ap);
    va_end(ap);
}

typedef struct walk_ctx {
    cat_ctx *c;
    cat_problems *probs;
    tsv_objstore *os;
    tsv_version_list live; /* in-use shard versions, checked against their directories */
} walk_ctx;

static int version_fn(void *ctx, const tsv_version *ver, tsv_error *err)
{
    walk_ctx *w = ctx;
    cat_ctx *c = w->c;
    (void)err;
    c->versions++;
    if (!c->have_slot || !same_slot(&c->slot, &ver->slot)) {
        c->slot = ver->slot;
        c->have_slot = 1;
        c->in_use_version = 0;
    }
    if (ver->state == TSV_VERSION_PURGED)
        return 0;
    if (ver->state == TSV_VERSION_IN_USE) {
        if (c->in_use_version)
            note(w->probs, ver, "catalog/data.mdb",
                 "a second version in use in the slot (version %" PRIu64 " is too)",
                 c->in_use_version);
        c->in_use_version = ver->version;
    }
    int shard_slot = strcmp(ver->slot.bucket, TSV_CATALOG_SLOT_KV) != 0 &&
                     strcmp(ver->slot.bucket, TSV_CATALOG_SLOT_SQL) != 0;
    if (shard_slot && ver->state == TSV_VERSION_IN_USE && ver->shard_id) {
        if (tsv_version_list_add(&w->live, ver, err) != 0)
            return -1;
    }
    for (size_t i = 0; i < ver->n_files; i++) {
        const tsv_catalog_file *f = &ver->files[i];
        char obj[128];
        snprintf(obj, sizeof obj, "objects/%.2s/%s", f->object, f->object);
        if (!tsv_object_hex_valid(f->object)) {
            note(w->probs, ver, "catalog/data.mdb", "file %s: \"%.64s\" is not an object name",
                 f->name, f->object);
            continue;
        }
        if (c->all && refs_add(c->all, f->object, f->size) != 0)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        int exists = 0;
        uint64_t size = 0;
        tsv_error e;
        if (tsv_objstore_exists(w->os, f->object, &exists, &size, &e) != 0)
            note(w->probs, ver, obj, "file %s: object unreadable: %s", f->name, e.message);
        else if (!exists)
            note(w->probs, ver, obj, "file %s: object %s is missing (dangling reference)", f->name,
                 f->object);
        else if (size != f->size)
            note(w->probs, ver, obj,
                 "file %s: object %s has %" PRIu64 " bytes, the catalogue records %" PRIu64,
                 f->name, f->object, size, f->size);
    }
    return 0;
}

/* An in-use version against its live shard directory, under the shard lock
 * (every change of a slot holds it from its catalogue commit to its
 * directory exchange), re-read from the catalogue: a version replaced since
 * the first read is not reported. */
static void check_live(tsv_store *s, const tsv_version *ver, cat_problems *probs)
{
    tsv_vault *vault = s->vault;
    char dir[PATH_MAX];
    if (tsv_path_join(dir, sizeof dir, NULL, "%s/engine/data/%s/%s/%" PRIu64, s->state_dir,
                      ver->slot.bucket, ver->slot.rp, ver->shard_id) != 0)
        return;
    tsv_shard_lock(ver->shard_id);
    tsv_catalog_txn *t;
    tsv_version cur;
    int found = 0;
    tsv_error e;
    memset(&cur, 0, sizeof cur);
    if (tsv_catalog_begin(vault->catalog, 0, &t, &e) == 0) {
        if (tsv_vault_in_use(t, &ver->slot, &cur, &found, &e) != 0)
            found = 0;
        tsv_catalog_abort(t);
    }
    if (found && cur.version == ver->version && cur.shard_id == ver->shard_id) {
        for (size_t i = 0; i < cur.n_files; i++) {
            const tsv_catalog_file *f = &cur.files[i];
            char lf[PATH_MAX + 80], rel[PATH_MAX + 80];
            struct stat st;
            snprintf(lf, sizeof lf, "%s/%s", dir, f->name);
            snprintf(rel, sizeof rel, "state/engine/data/%s/%s/%" PRIu64 "/%s", ver->slot.bucket,
                     ver->slot.rp, ver->shard_id, f->name);
            if (stat(lf, &st) != 0)
                note(probs, &cur, rel, "in-use file %s is not in the live shard directory (%s)",
                     f->name, strerror(errno));
            else if ((uint64_t)st.st_size != f->size)
                note(probs, &cur, rel,
                     "live file %s has %" PRIu64 " bytes, its version records %" PRIu64, f->name,
                     (uint64_t)st.st_size, f->size);
        }
    }
    tsv_shard_unlock(ver->shard_id);
    tsv_version_clear(&cur);
}

/* Reads the catalogue (one bucket or all) into `all` (may be NULL) and
 * reports its problems. */
static int check_catalogue(struct verifier *v, tsv_store *s, const char *bucket_id, refs *all,
                           uint64_t *versions, tsv_error *err)
{
    tsv_vault *vault = s->vault;
    cat_ctx c;
    memset(&c, 0, sizeof c);
    c.v = v;
    c.s = s;
    c.all = all;
    cat_problems probs = {0};
    walk_ctx w = {.c = &c, .probs = &probs, .os = vault->objects};
    tsv_catalog_txn *t;
    tsv_store_shared_lock(s);
    if (tsv_catalog_begin(vault->catalog, 0, &t, err) != 0) {
        tsv_store_shared_unlock(s);
        return -1;
    }
    int rc = bucket_id ? tsv_catalog_bucket_foreach(t, bucket_id, version_fn, &w, err)
                       : tsv_catalog_foreach(t, version_fn, &w, err);
    tsv_catalog_abort(t);
    rc = rc < 0 ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < w.live.n; i++)
        check_live(s, &w.live.v[i], &probs);
    tsv_store_shared_unlock(s);
    tsv_version_list_clear(&w.live);
    for (size_t i = 0; rc == 0 && i < probs.n; i++)
        rc = verify__problem(v, probs.v[i].bucket, probs.v[i].rp, probs.v[i].shard, probs.v[i].file,
                             -1, probs.v[i].msg, err);
    free(probs.v);
    *versions = c.versions;
    return rc;
}

/* ---- objects ---------------------------------------------------------------------- */

typedef struct obj_list {
    refs r;
    int oom;
} obj_list;

static int list_fn(void *ctx, const char *hex, uint64_t size, tsv_error *err)
{
    (void)err;
    obj_list *l = ctx;
    if (refs_add(&l->r, hex, size) != 0) {
        l->oom = 1;
        return 1;
    }
    return 0;
}

/* SHA-256 of an object's bytes as the backend returns them. */
static int hash_object(tsv_objstore *os, const char *hex, char got[65], uint64_t *size,
                       uint8_t *buf, tsv_error *err)
{
    tsv_reader *r;
    if (tsv_objstore_get(os, hex, &r, err) != 0)
        return -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
                 ? 0
                 : tsv_error_set(err, TSV_EINTERNAL, "SHA-256 init failed");
    *size = 0;
    while (rc == 0) {
        ssize_t n = tsv_read(r, buf, HASH_CHUNK, err);
        if (n < 0)
            rc = -1;
        else if (n == 0)
            break;
        else {
            EVP_DigestUpdate(md, buf, (size_t)n);
            *size += (uint64_t)n;
        }
    }
    if (rc == 0) {
        static const char digits[] = "0123456789abcdef";
        unsigned char d[32];
        EVP_DigestFinal_ex(md, d, NULL);
        for (int i = 0; i < 32; i++) {
            got[2 * i] = digits[d[i] >> 4];
            got[2 * i + 1] = digits[d[i] & 15];
        }
        got[64] = '\0';
    }
    EVP_MD_CTX_free(md);
    tsv_reader_free(r);
    return rc;
}

/* An object whose bytes do not hash to its name: reported and marked
 * corrupt (object_store.h), so that nothing serves or installs it. */
static int report_corrupt(struct verifier *v, tsv_objstore *os, const char *hex, const char *file,
                          uint64_t size, const char *got, const tsv_objstore_id *seen,
                          tsv_error *err)
{
    char reason[200], msg[1024], when[64];
    snprintf(reason, sizeof reason, "its %" PRIu64 " bytes hash to SHA-256 %s", size, got);
    tsv_objstore_mark m;
    int was = 0, marked = 0;
    tsv_error e;
    const char *how;
    if (tsv_objstore_is_corrupt(os, hex, &m, &was, &e) != 0) {
        snprintf(msg, sizeof msg, "object content does not match its name: %s; not marked: %.400s",
                 reason, e.message);
        return verify__problem(v, "", "", 0, file, -1, msg, err);
    }
    if (was) {
        tsv_format_rfc3339nano(m.marked_ns, when, sizeof when);
        snprintf(msg, sizeof msg,
                 "object content does not match its name: %s; marked corrupt since %s", reason,
                 when);
        return verify__problem(v, "", "", 0, file, -1, msg, err);
    }
    if (!seen)
        how = "not marked: its identity could not be read";
    else if (tsv_objstore_mark_corrupt(os, hex, reason, seen, &marked, &e) != 0)
        how = e.message;
    else if (!marked)
        how = "not marked: it changed while it was read (verify again)";
    else
        how = "marked corrupt: backups, restores and exports that need it fail until a good "
              "copy is uploaded";
    snprintf(msg, sizeof msg, "object content does not match its name: %s; %.500s", reason, how);
    return verify__problem(v, "", "", 0, file, -1, msg, err);
}

typedef struct still_ctx {
    const char *hex;
    int found;
} still_ctx;

static int still_fn(void *ctx, const tsv_version *ver, tsv_error *err)
{
    (void)err;
    still_ctx *c = ctx;
    if (ver->state == TSV_VERSION_PURGED)
        return 0;
    for (size_t i = 0; i < ver->n_files; i++)
        if (strcmp(ver->files[i].object, c->hex) == 0) {
            c->found = 1;
            return 1;
        }
    return 0;
}

/* Orphan candidates, confirmed with the GC lock held exclusively. */
static int confirm_orphans(struct verifier *v, tsv_store *s, refs *cand, tsv_error *err)
{
    if (cand->n == 0)
        return 0;
    tsv_vault *vault = s->vault;
    pthread_rwlock_wrlock(&vault->gc_lock);
    tsv_catalog_txn *t;
    int rc = tsv_catalog_begin(vault->catalog, 0, &t, err);
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < cand->n; i++) {
        still_ctx c = {cand->v[i].hex, 0};
        int exists = 0;
        tsv_error e;
        if (tsv_catalog_foreach(t, still_fn, &c, err) < 0) {
            rc = -1;
            break;
        }
        /* (the GC may have removed it meanwhile: then it is no problem) */
        if (!c.found &&
            tsv_objstore_exists(vault->objects, cand->v[i].hex, &exists, NULL, &e) == 0 && exists)
            cand->v[k++] = cand->v[i];
    }
    if (rc == 0)
        tsv_catalog_abort(t);
    pthread_rwlock_unlock(&vault->gc_lock);
    cand->n = rc == 0 ? k : 0;
    for (size_t i = 0; rc == 0 && i < cand->n; i++) {
        char file[128];
        snprintf(file, sizeof file, "objects/%.2s/%s", cand->v[i].hex, cand->v[i].hex);
        rc = verify__problem(v, "", "", 0, file, -1,
                             "orphan object: no version lists it (the next garbage collection "
                             "removes it)",
                             err);
    }
    return rc;
}

int verify__vault(struct verifier *v, tsv_store *s, const char *bucket_id, tsv_error *err)
{
    tsv_vault *vault = s->vault;
    refs referenced = {0};
    obj_list objs = {{0}, 0};
    refs orphans = {0};
    uint8_t *buf = malloc(HASH_CHUNK);
    uint64_t versions = 0;
    int rc = buf ? 0 : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (rc == 0)
        rc = check_catalogue(v, s, bucket_id, &referenced, &versions, err);
    if (rc == 0) {
        refs_seal(&referenced);
        if (bucket_id) {
            /* Only what the bucket's versions list. */
            for (size_t i = 0; i < referenced.n; i++) {
                int exists = 0;
                uint64_t size = 0;
                tsv_error e;
                if (tsv_objstore_exists(vault->objects, referenced.v[i].hex, &exists, &size, &e) ==
                        0 &&
                    exists && refs_add(&objs.r, referenced.v[i].hex, size) != 0)
                    objs.oom = 1;
            }
        } else if (tsv_objstore_list(vault->objects, list_fn, &objs, err) < 0) {
            rc = -1;
        }
        if (rc == 0 && objs.oom)
            rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    if (rc == 0) {
        refs_seal(&objs.r);
        uint64_t bytes = 0;
        for (size_t i = 0; i < objs.r.n; i++)
            bytes += objs.r.v[i].size;
        verify__add_totals(v, objs.r.n, bytes);
    }
    for (size_t i = 0; rc == 0 && i < objs.r.n && !verify__cancelled(v); i++) {
        const ref *o = &objs.r.v[i];
        char file[128], got[65] = "";
        snprintf(file, sizeof file, "objects/%.2s/%s", o->hex, o->hex);
        uint64_t size = 0;
        tsv_error e;
        /* What is read, to mark exactly that (not a copy repaired meanwhile). */
        tsv_objstore_id seen;
        int have_id = tsv_objstore_identity(vault->objects, o->hex, &seen, &e) == 0;
        if (!have_id && e.code == TSV_ENOTFOUND) {
            /* Removed by the GC since the listing: not a problem. */
        } else if (hash_object(vault->objects, o->hex, got, &size, buf, &e) != 0) {
            if (e.code != TSV_ENOTFOUND)
                rc = verify__problem(v, "", "", 0, file, -1, e.message, err);
        } else if (strcmp(got, o->hex) != 0) {
            rc = report_corrupt(v, vault->objects, o->hex, file, size, got, have_id ? &seen : NULL,
                                err);
        } else {
            /* Good bytes (repaired outside tsvault, or a repair that crashed
             * after its fsync): an old mark no longer applies. */
            tsv_objstore_mark m;
            int marked = 0;
            if (tsv_objstore_is_corrupt(vault->objects, o->hex, &m, &marked, &e) == 0 && marked &&
                tsv_objstore_clear_corrupt(vault->objects, o->hex, &e) != 0)
                rc = verify__problem(v, "", "", 0, file, -1, e.message, err);
        }
        if (rc == 0 && !bucket_id && !refs_find(&referenced, o->hex) &&
            refs_add(&orphans, o->hex, o->size) != 0)
            rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        if (rc == 0)
            verify__file_done(v, size, file);
    }
    if (rc == 0 && !verify__cancelled(v) && !bucket_id)
        rc = confirm_orphans(v, s, &orphans, err);
    free(buf);
    free(referenced.v);
    free(objs.r.v);
    free(orphans.v);
    (void)versions;
    return rc;
}
