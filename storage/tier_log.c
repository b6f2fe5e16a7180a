/* tier_log: segments of the log between checkpoints (format: tier_log.h). */
#include "tier_log.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "be_bytes.h"
#include "catalog.h"
#include "fsutil.h"
#include "kv.h"
#include "kv_history.h"
#include "lmdb_changelog.h"
#include "store_internal.h"
#include "vault.h"

#define MAGIC "TSVLOG01"
#define POS_LEN (8 + 8 + 12)
#define HEADER_LEN (8 + 8 + POS_LEN + POS_LEN + 8 + 20)
/* One record is one LMDB value and its key: a shipped segment claiming more
 * is refused before anything is allocated. */
#define RECORD_MAX ((uint32_t)1 << 30)
#define IO_BUF (64 * 1024)

static void pos_put(uint8_t *p, const tsv_tier_logpos *pos)
{
    tsv_put_be64(p, pos->catalog_seq);
    tsv_put_be64(p + 8, pos->jobs_seq);
    memcpy(p + 16, pos->kv_key, 12);
}
static void pos_get(const uint8_t *p, tsv_tier_logpos *pos, uint64_t gen)
{
    pos->catalog_seq = tsv_get_be64(p);
    pos->jobs_seq = tsv_get_be64(p + 8);
    memcpy(pos->kv_key, p + 16, 12);
    pos->gen = gen;
}

static int same_pos(const tsv_tier_logpos *a, const tsv_tier_logpos *b)
{
    return a->catalog_seq == b->catalog_seq && a->jobs_seq == b->jobs_seq &&
           memcmp(a->kv_key, b->kv_key, 12) == 0 && a->gen == b->gen;
}

void tsv_tier_logpos_format(const tsv_tier_logpos *p, char out[64])
{
    int n = snprintf(out, 64, "%" PRIu64 ".%" PRIu64 ".", p->catalog_seq, p->jobs_seq);
    for (int i = 0; i < 12 && n + 2 < 64; i++)
        n += snprintf(out + n, 64 - (size_t)n, "%02x", p->kv_key[i]);
}

int tsv_tier_logpos_parse(const char *s, size_t len, tsv_tier_logpos *p)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char hex[25];
    int used = 0;
    if (sscanf(buf, "%" SCNu64 ".%" SCNu64 ".%24[0-9a-f]%n", &p->catalog_seq, &p->jobs_seq, hex,
               &used) != 3 ||
        (size_t)used != len || strlen(hex) != 24)
        return -1;
    for (int i = 0; i < 12; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        p->kv_key[i] = (uint8_t)v;
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct writer {
    int fd;
    EVP_MD_CTX *md;
    uint8_t buf[IO_BUF];
    size_t used;
    uint64_t records;
    tsv_tier_logpos to;
    tsv_tier_object_fn obj_fn;
    void *obj_ctx;
} writer;

static int w_flush(writer *w, tsv_error *err)
{
    size_t off = 0;
    while (off < w->used) {
        ssize_t n = write(w->fd, w->buf + off, w->used - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return tsv_error_set_errno(err, errno == ENOSPC ? TSV_ENOSPACE : TSV_EINTERNAL, errno,
                                       "write a log segment");
        off += (size_t)n;
    }
    w->used = 0;
    return 0;
}

static int w_bytes(writer *w, const void *p, size_t n, tsv_error *err)
{
    const uint8_t *b = p;
    while (n) {
        if (w->used == sizeof w->buf && w_flush(w, err) != 0)
            return -1;
        size_t m = sizeof w->buf - w->used < n ? sizeof w->buf - w->used : n;
        memcpy(w->buf + w->used, b, m);
        w->used += m;
        b += m;
        n -= m;
    }
    return 0;
}

static int w_record(writer *w, uint8_t type, const void *a, size_t alen, const void *b, size_t blen,
                    tsv_error *err)
{
    if (alen + blen > RECORD_MAX)
        return tsv_error_set(err, TSV_EINVALID, "a log record of %zu bytes is too large",
                             alen + blen);
    uint8_t h[5] = {type, (uint8_t)((alen + blen) >> 24), (uint8_t)((alen + blen) >> 16),
                    (uint8_t)((alen + blen) >> 8), (uint8_t)(alen + blen)};
    if (w_bytes(w, h, 5, err) != 0 || w_bytes(w, a, alen, err) != 0 ||
        (blen && w_bytes(w, b, blen, err) != 0))
        return -1;
    w->records++;
    return 0;
}

/* A shipped changelog record: its stored value, rebuilt. */
static int w_changelog(writer *w, uint8_t type, const tsv_changelog_rec *r, tsv_error *err)
{
    uint8_t h[4] = {r->tag, (uint8_t)r->deleted, (uint8_t)(r->klen >> 8), (uint8_t)r->klen};
    uint8_t l[4] = {(uint8_t)(r->vlen >> 24), (uint8_t)(r->vlen >> 16), (uint8_t)(r->vlen >> 8),
                    (uint8_t)r->vlen};
    size_t total = 4 + r->klen + 4 + r->vlen;
    if (total > RECORD_MAX)
        return tsv_error_set(err, TSV_EINVALID, "a log record of %zu bytes is too large", total);
    uint8_t th[5] = {type, (uint8_t)(total >> 24), (uint8_t)(total >> 16), (uint8_t)(total >> 8),
                     (uint8_t)total};
    if (w_bytes(w, th, 5, err) != 0 || w_bytes(w, h, 4, err) != 0 ||
        w_bytes(w, r->key, r->klen, err) != 0 || w_bytes(w, l, 4, err) != 0 ||
        (r->vlen && w_bytes(w, r->val, r->vlen, err) != 0))
        return -1;
    w->records++;
    return 0;
}

static int version_objects(const tsv_changelog_rec *r, tsv_tier_object_fn fn, void *ctx,
                           tsv_error *err)
{
    if (r->deleted || !fn)
        return 0;
    tsv_version v = {0};
    int is_version = 0;
    if (tsv_catalog_record_version(r->key, r->klen, r->val, r->vlen, &v, &is_version, err) != 0)
        return -1;
    int rc = 0;
    if (is_version && v.state != TSV_VERSION_PURGED)
        for (size_t i = 0; rc == 0 && i < v.n_files; i++)
            rc = fn(ctx, v.files[i].object, v.files[i].size, err);
    tsv_version_clear(&v);
    return rc;
}

static int cat_rec(void *ctx, const tsv_changelog_rec *r, tsv_error *err)
{
    writer *w = ctx;
    if (w_changelog(w, 'c', r, err) != 0 || version_objects(r, w->obj_fn, w->obj_ctx, err) != 0)
        return -1;
    w->to.catalog_seq = r->seq;
    return 0;
}

static int job_rec(void *ctx, const tsv_changelog_rec *r, tsv_error *err)
{
    writer *w = ctx;
    if (w_changelog(w, 'j', r, err) != 0)
        return -1;
    w->to.jobs_seq = r->seq;
    return 0;
}

static int kv_rec(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                  tsv_error *err)
{
    writer *w = ctx;
    if (w_record(w, 'k', key, klen, val, vlen, err) != 0)
        return -1;
    memcpy(w->to.kv_key, key, 12);
    return 0;
}

static int kv_key_zero(const uint8_t *k)
{
    for (int i = 0; i < 12; i++)
        if (k[i])
            return 0;
    return 1;
}

/* Under the exclusive lock: every record after `from`, in one read
 * transaction of each database. */
static int write_records(tsv_store *s, const tsv_tier_logpos *from, writer *w, tsv_error *err)
{
    tsv_catalog_txn *ct;
    tsv_kv_txn *kt;
    if (tsv_store_read_views(s, &ct, &kt, err) != 0)
        return -1;
    int rc = 0;
    if (tsv_catalog_changes_foreach(ct, from->catalog_seq, UINT64_MAX, cat_rec, w, err) != 0 ||
        tsv_kv_changes_foreach(kt, from->jobs_seq, UINT64_MAX, job_rec, w, err) != 0 ||
        tsv_kv_history_foreach_after(kt, kv_key_zero(from->kv_key) ? NULL : from->kv_key, kv_rec, w,
                                     err) != 0)
        rc = -1;
    tsv_catalog_abort(ct);
    tsv_kv_abort(kt);
    return rc;
}

int tsv_tier_log_write(tsv_store *s, const tsv_tier_logpos *from, const char *checkpoint,
                       uint64_t n, const char *extra, int fd, tsv_tier_logpos *to,
                       uint64_t *records, tsv_tier_object_fn obj_fn, void *ctx, tsv_error *err)
{
    if (!s->vault || !s->kv)
        return tsv_error_set(err, TSV_EINVALID, "the store has no vault (read-only)");
    if (strlen(checkpoint) != 20)
        return tsv_error_set(err, TSV_EINTERNAL, "bad checkpoint name \"%s\"", checkpoint);
    writer *w = calloc(1, sizeof *w);
    if (!w)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    w->fd = fd;
    w->to = *from;
    w->obj_fn = obj_fn;
    w->obj_ctx = ctx;
    w->md = EVP_MD_CTX_new();
    int rc = -1;
    if (!w->md) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    /* The header is written last (positions are known at the end): room
     * for it first; the digest is taken over the file read back. */
    uint8_t hdr[HEADER_LEN] = {0};
    if (w_bytes(w, hdr, sizeof hdr, err) != 0)
        goto out;
    if (extra && w_record(w, 'x', extra, strlen(extra), NULL, 0, err) != 0)
        goto out;
    uint64_t before = w->records;
    tsv_store_exclusive_lock(s);
    if (s->generation != from->gen)
        rc = tsv_error_set(err, TSV_ECONFLICT,
                           "the state generation changed (%016" PRIx64 " -> %016" PRIx64
                           "): a checkpoint is needed",
                           from->gen, s->generation);
    else
        rc = write_records(s, from, w, err);
    tsv_store_exclusive_unlock(s);
    if (rc != 0)
        goto out;
    rc = -1;
    *records = w->records - before;
    *to = w->to;
    if (w_flush(w, err) != 0)
        goto out;
    /* Header in place, then the digest of the whole file, read back. */
    memcpy(hdr, MAGIC, 8);
    tsv_put_be64(hdr + 8, from->gen);
    pos_put(hdr + 16, from);
    pos_put(hdr + 16 + POS_LEN, to);
    tsv_put_be64(hdr + 16 + 2 * POS_LEN, n);
    memcpy(hdr + 24 + 2 * POS_LEN, checkpoint, 20);
    if (pwrite(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "write a log segment's header");
        goto out;
    }
    if (EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
        tsv_error_set(err, TSV_EINTERNAL, "SHA-256 init failed");
        goto out;
    }
    off_t off = 0;
    for (;;) {
        ssize_t got = pread(fd, w->buf, sizeof w->buf, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read a log segment back");
            goto out;
        }
        if (got == 0)
            break;
        EVP_DigestUpdate(w->md, w->buf, (size_t)got);
        off += got;
    }
    uint8_t z[5 + 32] = {'z', 0, 0, 0, 32};
    unsigned dl = 0;
    if (EVP_DigestFinal_ex(w->md, z + 5, &dl) != 1 || dl != 32) {
        tsv_error_set(err, TSV_EINTERNAL, "SHA-256 final failed");
        goto out;
    }
    if (pwrite(fd, z, sizeof z, off) != (ssize_t)sizeof z) {
        tsv_error_set_errno(err, TSV_EINTERNAL, errno, "write a log segment's digest");
        goto out;
    }
    rc = 0;
out:
    EVP_MD_CTX_free(w->md);
    free(w);
    return rc;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct reader {
    int fd;
    off_t off, end; /* end: where the 'z' record starts */
} reader;

static int read_at(int fd, void *p, size_t n, off_t off, tsv_error *err)
{
    uint8_t *b = p;
    while (n) {
        ssize_t got = pread(fd, b, n, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "read a log segment");
        if (got == 0)
            return tsv_error_set(err, TSV_EINVALID, "log segment truncated");
        b += got;
        n -= (size_t)got;
        off += got;
    }
    return 0;
}

/* Checks the trailing digest and the header; *r is then ready for records. */
static int open_segment(int fd, tsv_tier_log_info *info, reader *r, tsv_error *err)
{
    memset(info, 0, sizeof *info);
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "size of a log segment");
    if (size < HEADER_LEN + 37)
        return tsv_error_set(err, TSV_EINVALID, "log segment too short (%lld bytes)",
                             (long long)size);
    uint8_t z[37], buf[IO_BUF], md[32];
    if (read_at(fd, z, sizeof z, size - 37, err) != 0)
        return -1;
    if (z[0] != 'z' || tsv_get_be32(z + 1) != 32)
        return tsv_error_set(err, TSV_EINVALID, "log segment has no digest record");
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c);
        return tsv_error_set(err, TSV_EINTERNAL, "SHA-256 init failed");
    }
    for (off_t off = 0; off < size - 37;) {
        size_t want = size - 37 - off < (off_t)sizeof buf ? (size_t)(size - 37 - off) : sizeof buf;
        if (read_at(fd, buf, want, off, err) != 0) {
            EVP_MD_CTX_free(c);
            return -1;
        }
        EVP_DigestUpdate(c, buf, want);
        off += (off_t)want;
    }
    unsigned dl = 0;
    int ok = EVP_DigestFinal_ex(c, md, &dl) == 1 && dl == 32;
    EVP_MD_CTX_free(c);
    if (!ok || memcmp(md, z + 5, 32) != 0)
        return tsv_error_set(err, TSV_EINVALID, "log segment damaged (SHA-256 mismatch)");
    uint8_t h[HEADER_LEN];
    if (read_at(fd, h, sizeof h, 0, err) != 0)
        return -1;
    if (memcmp(h, MAGIC, 8) != 0)
        return tsv_error_set(err, TSV_EINVALID, "not a log segment (magic)");
    info->gen = tsv_get_be64(h + 8);
    pos_get(h + 16, &info->from, info->gen);
    pos_get(h + 16 + POS_LEN, &info->to, info->gen);
    info->n = tsv_get_be64(h + 16 + 2 * POS_LEN);
    memcpy(info->checkpoint, h + 24 + 2 * POS_LEN, 20);
    info->checkpoint[20] = '\0';
    for (int i = 0; i < 20; i++)
        if (info->checkpoint[i] < '0' || info->checkpoint[i] > '9')
            return tsv_error_set(err, TSV_EINVALID, "log segment names a bad checkpoint");
    r->fd = fd;
    r->off = HEADER_LEN;
    r->end = size - 37;
    return 0;
}

/* The next record: *type 0 at the end. *p (malloc'd) is freed by the
 * caller. */
static int next_record(reader *r, uint8_t *type, uint8_t **p, size_t *len, tsv_error *err)
{
    *p = NULL;
    *type = 0;
    if (r->off == r->end)
        return 0;
    uint8_t h[5];
    if (r->end - r->off < 5 || read_at(r->fd, h, 5, r->off, err) != 0)
        return tsv_error_set(err, TSV_EINVALID, "log segment record truncated");
    uint32_t n = tsv_get_be32(h + 1);
    if (n > RECORD_MAX || (off_t)n > r->end - r->off - 5)
        return tsv_error_set(err, TSV_EINVALID, "log segment record length %" PRIu32 " is bad", n);
    *p = malloc(n ? n : 1);
    if (!*p)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (read_at(r->fd, *p, n, r->off + 5, err) != 0) {
        free(*p);
        *p = NULL;
        return -1;
    }
    r->off += 5 + (off_t)n;
    *type = h[0];
    *len = n;
    return 0;
}

int tsv_tier_log_read_info(int fd, tsv_tier_log_info *info, tsv_error *err)
{
    reader r;
    if (open_segment(fd, info, &r, err) != 0)
        return -1;
    for (;;) {
        uint8_t type, *p;
        size_t len;
        if (next_record(&r, &type, &p, &len, err) != 0) {
            free(info->extra);
            info->extra = NULL;
            return -1;
        }
        if (type == 0)
            return 0;
        if (type == 'x' && !info->extra) {
            info->extra = malloc(len + 1);
            if (info->extra) {
                memcpy(info->extra, p, len);
                info->extra[len] = '\0';
            }
        } else if (type != 'c' && type != 'j' && type != 'k' && type != 'x') {
            free(p);
            free(info->extra);
            info->extra = NULL;
            return tsv_error_set(err, TSV_EINVALID, "log segment record of unknown type 0x%02x",
                                 type);
        } else {
            info->records++;
        }
        free(p);
    }
}

int tsv_tier_log_objects(int fd, tsv_tier_object_fn fn, void *ctx, tsv_error *err)
{
    tsv_tier_log_info info;
    reader r;
    if (open_segment(fd, &info, &r, err) != 0)
        return -1;
    for (;;) {
        uint8_t type, *p;
        size_t len;
        if (next_record(&r, &type, &p, &len, err) != 0)
            return -1;
        if (type == 0)
            return 0;
        int rc = 0;
        tsv_changelog_rec rec;
        if (type == 'c') {
            if (tsv_changelog_parse(p, len, &rec) != 0)
                rc = tsv_error_set(err, TSV_EINVALID, "log segment: bad catalogue record");
            else
                rc = version_objects(&rec, fn, ctx, err);
        }
        free(p);
        if (rc != 0)
            return -1;
    }
}

struct tsv_tier_log_replay {
    tsv_catalog *catalog;
    tsv_kv *kv;
};

int tsv_tier_log_replay_begin(const char *scratch, tsv_tier_log_replay **out, tsv_error *err)
{
    char cat[PATH_MAX], kvdir[PATH_MAX];
    if (tsv_path_join(cat, sizeof cat, err, "%s/catalog", scratch) != 0 ||
        tsv_path_join(kvdir, sizeof kvdir, err, "%s/kv", scratch) != 0)
        return -1;
    tsv_tier_log_replay *r = calloc(1, sizeof *r);
    if (!r)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (tsv_catalog_open(&r->catalog, cat, err) != 0 || tsv_kv_open(&r->kv, kvdir, 0, err) != 0) {
        tsv_tier_log_replay_end(r);
        return -1;
    }
    *out = r;
    return 0;
}

void tsv_tier_log_replay_end(tsv_tier_log_replay *r)
{
    if (!r)
        return;
    tsv_kv_close(r->kv);
    tsv_catalog_close(r->catalog);
    free(r);
}

int tsv_tier_log_apply(tsv_tier_log_replay *rp, int fd, tsv_tier_logpos *at, tsv_error *err)
{
    tsv_tier_log_info info;
    reader r;
    if (open_segment(fd, &info, &r, err) != 0)
        return -1;
    if (!same_pos(&info.from, at))
        return tsv_error_set(err, TSV_EINVALID,
                             "log segment %" PRIu64 " does not follow the position reached "
                             "(a segment is missing or from another checkpoint)",
                             info.n);
    tsv_catalog_txn *ct = NULL;
    tsv_kv_txn *kt = NULL;
    int rc = -1;
    if (tsv_catalog_begin(rp->catalog, 1, &ct, err) != 0 || tsv_kv_begin(rp->kv, 1, &kt, err) != 0)
        goto out;
    for (;;) {
        uint8_t type, *p;
        size_t len;
        if (next_record(&r, &type, &p, &len, err) != 0)
            goto out;
        if (type == 0)
            break;
        tsv_changelog_rec rec;
        int bad = 0, failed = 0;
        switch (type) {
        case 'c':
            bad = tsv_changelog_parse(p, len, &rec) != 0 || rec.tag != 'c';
            failed = !bad && tsv_catalog_change_apply(ct, &rec, err) != 0;
            break;
        case 'j':
            bad = tsv_changelog_parse(p, len, &rec) != 0;
            failed = !bad && tsv_kv_change_apply(kt, &rec, err) != 0;
            break;
        case 'k':
            bad = len < 12;
            failed = !bad && tsv_kv_history_replay(kt, p, 12, p + 12, len - 12, err) != 0;
            break;
        case 'x':
            break;
        default:
            bad = 1;
        }
        free(p);
        if (bad)
            tsv_error_set(err, TSV_EINVALID,
                          "log segment %" PRIu64 ": malformed record (type 0x%02x)", info.n, type);
        if (bad || failed)
            goto out;
    }
    if (tsv_catalog_commit(ct, err) != 0) {
        ct = NULL;
        goto out;
    }
    ct = NULL;
    rc = tsv_kv_commit(kt, err);
    kt = NULL;
    if (rc == 0)
        *at = info.to;
out:
    tsv_catalog_abort(ct);
    tsv_kv_abort(kt);
    return rc;
}
