/*
 * bolt_read: open, fully validate and walk a bbolt 1.3.6 file
 * (docs/formats.md#bolt-validation). The file is mmapped read-only; validation uses two bitmaps of
 * one bit per page (reachable, free), nothing else grows with the file.
 *
 * Meta selection mirrors bbolt exactly (magic, version, checksum; higher txid
 * wins, else the other), so we never read a different snapshot than bbolt
 * would. Everything else is stricter than bbolt: any inconsistency in the
 * chosen snapshot is TSV_EINVALID rather than a fallback.
 */
#include "bolt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bolt_format.h"
#include "fsutil.h"
#include "tsv_log.h"
#include "vformat.h"

struct tsv_bolt_file {
    const uint8_t *map;
    size_t size;        /* file size == mapped length */
    uint64_t page_size; /* P */
    uint64_t pgid;      /* high-water mark: pages [0, pgid) are in use */
    uint64_t root;      /* root bucket's root page */
    uint64_t root_sequence;
    uint64_t freelist; /* BOLT_NO_FREELIST when none is stored */
    uint64_t txid;
};

/* One traversal: validation (bitmaps set, visitor NULL) or walk (bitmaps
 * NULL, visitor set). Both share the bounds and depth checks, so even if the
 * file were rewritten in place after validation a walk would stay inside the
 * map and terminate (truncation by another process would still fault: the
 * caller must own the file while it is open). */
typedef struct traversal {
    const tsv_bolt_file *f;
    uint8_t *reachable; /* bit per page, validation only */
    const uint8_t *freed;
    const tsv_bolt_visitor *visitor;
    void *vctx;
} traversal;

/* Per-bucket state: the last key seen, to check order across pages. Keys
 * point into the map, so nothing is copied. */
typedef struct bucket_state {
    const uint8_t *prev_key;
    size_t prev_len;
    unsigned depth; /* 0 = root bucket */
} bucket_state;

/* A logical page: header at base, span bytes addressable (1+overflow pages,
 * or the rest of the value for an inline page). */
typedef struct page_view {
    const uint8_t *base;
    uint64_t span;
    uint64_t id; /* page number; for an inline page, the page holding it */
    int is_inline;
    uint16_t flags;
    uint16_t count;
} page_view;

static int bit_get(const uint8_t *bits, uint64_t i) { return (bits[i / 8] >> (i % 8)) & 1; }

static void bit_set(uint8_t *bits, uint64_t i) { bits[i / 8] |= (uint8_t)(1u << (i % 8)); }

/* Formats "invalid bolt file: page N[ (inline bucket)]: <msg>". */
static int bad_page(tsv_error *err, const page_view *pv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad_page(tsv_error *err, const page_view *pv, const char *fmt, ...)
{
    if (!err)
        return -1;
    char msg[TSV_ERROR_MSG_MAX];
    TSV_VFORMAT(msg, fmt);
    return tsv_error_set(err, TSV_EINVALID, "invalid bolt file: page %" PRIu64 "%s: %s", pv->id,
                         pv->is_inline ? " (inline bucket)" : "", msg);
}

static const uint8_t *page_at(const tsv_bolt_file *f, uint64_t id)
{
    return f->map + id * f->page_size;
}

/* Loads a branch/leaf page of a bucket tree and, when validating, marks its
 * physical pages reachable. */
static int load_tree_page(traversal *t, uint64_t id, page_view *pv, tsv_error *err)
{
    const tsv_bolt_file *f = t->f;
    *pv = (page_view){.id = id};
    if (id < 2)
        return bad_page(err, pv, "bucket tree points at a meta page");
    if (id >= f->pgid)
        return bad_page(err, pv, "beyond the high-water mark %" PRIu64, f->pgid);
    const uint8_t *p = page_at(f, id);
    uint64_t header_id = bolt_le64(p + BOLT_PH_ID);
    uint32_t overflow = bolt_le32(p + BOLT_PH_OVERFLOW);
    if (header_id != id)
        return bad_page(err, pv, "header says page %" PRIu64, header_id);
    /* id < pgid <= size/512 and overflow < 2^32, so this cannot wrap. */
    if (id + overflow >= f->pgid)
        return bad_page(err, pv, "%" PRIu32 " overflow pages run past the high-water mark",
                        overflow);
    pv->base = p;
    pv->span = ((uint64_t)overflow + 1) * f->page_size;
    pv->flags = bolt_le16(p + BOLT_PH_FLAGS);
    pv->count = bolt_le16(p + BOLT_PH_COUNT);
    if (pv->flags != BOLT_PAGE_BRANCH && pv->flags != BOLT_PAGE_LEAF)
        return bad_page(err, pv, "flags 0x%x, expected branch or leaf", pv->flags);
    if (t->reachable) {
        for (uint64_t i = id; i <= id + overflow; i++) {
            if (bit_get(t->reachable, i))
                return tsv_error_set(err, TSV_EINVALID,
                                     "invalid bolt file: page %" PRIu64
                                     ": referenced more than once (via page %" PRIu64 ")",
                                     i, id);
            if (t->freed && bit_get(t->freed, i))
                return tsv_error_set(
                    err, TSV_EINVALID,
                    "invalid bolt file: page %" PRIu64 ": reachable but listed in the freelist", i);
            bit_set(t->reachable, i);
        }
    }
    return 0;
}

/* Element count must fit: header + count elements inside the span. */
static int check_element_array(const page_view *pv, tsv_error *err)
{
    uint64_t need = BOLT_PAGE_HEADER_SIZE + (uint64_t)pv->count * BOLT_ELEMENT_SIZE;
    if (need > pv->span)
        return bad_page(err, pv, "%u elements do not fit in %" PRIu64 " bytes", pv->count,
                        pv->span);
    return 0;
}

typedef struct element {
    uint32_t flags; /* leaf only */
    const uint8_t *key;
    size_t klen;
    const uint8_t *val; /* leaf only */
    size_t vlen;
    uint64_t child; /* branch only */
} element;

static int read_element(const page_view *pv, unsigned i, element *e, tsv_error *err)
{
    uint64_t off = BOLT_PAGE_HEADER_SIZE + (uint64_t)i * BOLT_ELEMENT_SIZE;
    const uint8_t *el = pv->base + off;
    uint32_t pos, ksize, vsize = 0;
    *e = (element){0};
    if (pv->flags == BOLT_PAGE_BRANCH) {
        pos = bolt_le32(el + 0);
        ksize = bolt_le32(el + 4);
        e->child = bolt_le64(el + 8);
    } else {
        e->flags = bolt_le32(el + 0);
        pos = bolt_le32(el + 4);
        ksize = bolt_le32(el + 8);
        vsize = bolt_le32(el + 12);
    }
    if (ksize == 0)
        return bad_page(err, pv, "element %u has an empty key", i);
    if (ksize > BOLT_MAX_KEY)
        return bad_page(err, pv, "element %u key of %" PRIu32 " bytes exceeds %u", i, ksize,
                        BOLT_MAX_KEY);
    /* All terms < 2^33, so the sums cannot wrap in 64 bits. */
    uint64_t key_start = off + pos;
    if (key_start + ksize > pv->span)
        return bad_page(err, pv, "element %u key out of bounds", i);
    if (key_start + ksize + vsize > pv->span)
        return bad_page(err, pv, "element %u value out of bounds", i);
    e->key = pv->base + key_start;
    e->klen = ksize;
    e->val = e->key + ksize;
    e->vlen = vsize;
    return 0;
}

static int walk_tree(traversal *t, bucket_state *bs, uint64_t id, const element *parent,
                     unsigned tree_depth, tsv_error *err);
static int walk_leaf(traversal *t, bucket_state *bs, const page_view *pv, tsv_error *err);

/* A leaf element with the bucket flag: validate the header and descend. */
static int visit_sub_bucket(traversal *t, const bucket_state *parent, const page_view *pv,
                            unsigned i, const element *e, tsv_error *err)
{
    if (e->vlen < BOLT_BUCKET_HEADER_SIZE)
        return bad_page(err, pv, "element %u bucket value of %zu bytes is shorter than %u", i,
                        e->vlen, BOLT_BUCKET_HEADER_SIZE);
    if (parent->depth + 1 > BOLT_MAX_BUCKET_DEPTH)
        return bad_page(err, pv, "element %u buckets nested deeper than %u", i,
                        BOLT_MAX_BUCKET_DEPTH);
    uint64_t root = bolt_le64(e->val);
    uint64_t sequence = bolt_le64(e->val + 8);
    bucket_state child = {.depth = parent->depth + 1};

    if (t->visitor && t->visitor->bucket_begin &&
        t->visitor->bucket_begin(t->vctx, e->key, e->klen, sequence, err) != 0)
        return -1;
    if (root == 0) {
        /* Inline bucket: a leaf page embedded after the bucket header. */
        page_view in = {
            .base = e->val + BOLT_BUCKET_HEADER_SIZE,
            .span = e->vlen - BOLT_BUCKET_HEADER_SIZE,
            .id = pv->id,
            .is_inline = 1,
        };
        if (in.span < BOLT_PAGE_HEADER_SIZE)
            return bad_page(err, pv, "element %u inline bucket value of %zu bytes is too short", i,
                            e->vlen);
        in.flags = bolt_le16(in.base + BOLT_PH_FLAGS);
        in.count = bolt_le16(in.base + BOLT_PH_COUNT);
        if (in.flags != BOLT_PAGE_LEAF)
            return bad_page(err, &in, "element %u: flags 0x%x, expected leaf", i, in.flags);
        if (bolt_le32(in.base + BOLT_PH_OVERFLOW) != 0)
            return bad_page(err, &in, "element %u: inline page has overflow pages", i);
        if (walk_leaf(t, &child, &in, err) != 0)
            return -1;
    } else {
        /* bbolt writes exactly the header for a bucket with its own pages. */
        if (e->vlen != BOLT_BUCKET_HEADER_SIZE)
            return bad_page(err, pv, "element %u bucket value is %zu bytes, expected %u", i,
                            e->vlen, BOLT_BUCKET_HEADER_SIZE);
        if (walk_tree(t, &child, root, NULL, 0, err) != 0)
            return -1;
    }
    if (t->visitor && t->visitor->bucket_end && t->visitor->bucket_end(t->vctx, err) != 0)
        return -1;
    return 0;
}

static int walk_leaf(traversal *t, bucket_state *bs, const page_view *pv, tsv_error *err)
{
    if (check_element_array(pv, err) != 0)
        return -1;
    for (unsigned i = 0; i < pv->count; i++) {
        element e;
        if (read_element(pv, i, &e, err) != 0)
            return -1;
        if (e.flags != 0 && e.flags != BOLT_LEAF_BUCKET)
            return bad_page(err, pv, "element %u has flags 0x%" PRIx32, i, e.flags);
        if (bs->prev_key && bolt_key_cmp(bs->prev_key, bs->prev_len, e.key, e.klen) >= 0)
            return bad_page(err, pv, "element %u key out of order", i);
        bs->prev_key = e.key;
        bs->prev_len = e.klen;
        if (e.flags == BOLT_LEAF_BUCKET) {
            /* bbolt never inlines a bucket that has sub-buckets; Check would
             * not see the pages of such a child. */
            if (pv->is_inline)
                return bad_page(err, pv, "element %u: inline bucket holds a sub-bucket", i);
            if (visit_sub_bucket(t, bs, pv, i, &e, err) != 0)
                return -1;
        } else {
            if (bs->depth == 0)
                return bad_page(err, pv, "element %u: root bucket holds a plain value", i);
            if (e.vlen > BOLT_MAX_VALUE)
                return bad_page(err, pv, "element %u value of %zu bytes is too large", i, e.vlen);
            if (t->visitor && t->visitor->value &&
                t->visitor->value(t->vctx, e.key, e.klen, e.val, e.vlen, err) != 0)
                return -1;
        }
    }
    return 0;
}

/* Walks the subtree at page id. parent is the branch element that led here
 * (NULL for a bucket's root page): its key must equal our first key. */
static int walk_tree(traversal *t, bucket_state *bs, uint64_t id, const element *parent,
                     unsigned tree_depth, tsv_error *err)
{
    page_view pv;
    if (tree_depth >= BOLT_MAX_TREE_DEPTH)
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid bolt file: page %" PRIu64 ": B+tree deeper than %u levels",
                             id, BOLT_MAX_TREE_DEPTH);
    if (load_tree_page(t, id, &pv, err) != 0)
        return -1;
    if (check_element_array(&pv, err) != 0)
        return -1;
    if (pv.count == 0) {
        /* bbolt removes emptied nodes at commit; only a bucket's root leaf
         * may be empty. */
        if (pv.flags == BOLT_PAGE_BRANCH)
            return bad_page(err, &pv, "branch page without elements");
        if (parent)
            return bad_page(err, &pv, "empty leaf below a branch page");
        return 0;
    }
    element first;
    if (read_element(&pv, 0, &first, err) != 0)
        return -1;
    if (parent && bolt_key_cmp(parent->key, parent->klen, first.key, first.klen) != 0)
        return bad_page(err, &pv, "first key differs from the key in its parent branch");

    if (pv.flags == BOLT_PAGE_LEAF)
        return walk_leaf(t, bs, &pv, err);

    const uint8_t *prev = NULL;
    size_t prev_len = 0;
    for (unsigned i = 0; i < pv.count; i++) {
        element e;
        if (read_element(&pv, i, &e, err) != 0)
            return -1;
        if (prev && bolt_key_cmp(prev, prev_len, e.key, e.klen) >= 0)
            return bad_page(err, &pv, "element %u key out of order", i);
        /* Everything already seen in this bucket must sort before the child. */
        if (bs->prev_key && bolt_key_cmp(bs->prev_key, bs->prev_len, e.key, e.klen) >= 0)
            return bad_page(err, &pv, "element %u key out of order with earlier pages", i);
        prev = e.key;
        prev_len = e.klen;
        if (e.child == id)
            return bad_page(err, &pv, "element %u points at its own page", i);
        if (walk_tree(t, bs, e.child, &e, tree_depth + 1, err) != 0)
            return -1;
    }
    return 0;
}

typedef enum meta_state {
    META_INVALID = 0,
    META_VALID,
    META_UNCHECKED
} meta_state;

/* Meta validity exactly as bbolt 1.3.6 decides it: magic, version, and the
 * checksum unless it is 0. META_UNCHECKED (checksum 0) counts as valid for
 * the choice, so we pick the same meta as bbolt, and is then refused. */
static meta_state meta_check(const uint8_t *meta)
{
    if (bolt_le32(meta + BOLT_M_MAGIC) != BOLT_MAGIC)
        return META_INVALID;
    if (bolt_le32(meta + BOLT_M_VERSION) != BOLT_VERSION)
        return META_INVALID;
    uint64_t stored = bolt_le64(meta + BOLT_M_CHECKSUM);
    if (stored == 0)
        return META_UNCHECKED;
    return stored == bolt_fnv1a64(meta, BOLT_META_CHECKED_SIZE) ? META_VALID : META_INVALID;
}

static int page_size_ok(uint64_t p)
{
    return p >= BOLT_MIN_PAGE_SIZE && p <= (1ull << 31) && (p & (p - 1)) == 0;
}

/* Steps 1-3 of A.12: page size, meta choice, high-water mark vs file size. */
static int choose_meta(tsv_bolt_file *f, tsv_error *err)
{
    const uint8_t *meta0 = f->map + BOLT_PAGE_HEADER_SIZE;
    meta_state st0 = meta_check(meta0);
    int ok0 = st0 != META_INVALID;
    uint64_t p = BOLT_DEFAULT_PAGE_SIZE;
    if (ok0) {
        p = bolt_le32(meta0 + BOLT_M_PAGE_SIZE);
        if (!page_size_ok(p))
            return tsv_error_set(err, TSV_EINVALID,
                                 "invalid bolt file: page size %" PRIu64
                                 " is not a power of two >= %u",
                                 p, BOLT_MIN_PAGE_SIZE);
    }
    if (f->size / 2 < p)
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid bolt file: %zu bytes is less than two %" PRIu64 "-byte pages",
                             f->size, p);
    const uint8_t *meta1 = f->map + p + BOLT_PAGE_HEADER_SIZE;
    meta_state st1 = meta_check(meta1);
    int ok1 = st1 != META_INVALID;
    if (!ok0 && !ok1)
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid bolt file: neither meta page is valid "
                             "(bad magic, version or checksum)");
    uint64_t tx0 = bolt_le64(meta0 + BOLT_M_TXID), tx1 = bolt_le64(meta1 + BOLT_M_TXID);
    /* bbolt prefers the higher txid (meta 0 on a tie) and falls back to the
     * other when that one is invalid. */
    int use1 = tx1 > tx0 ? ok1 : !ok0;
    const uint8_t *meta = use1 ? meta1 : meta0;
    uint64_t meta_page = use1 ? 1 : 0;
    if (use1 != (tx1 > tx0))
        TSV_WARN("bolt: meta page %d is invalid; using meta page %" PRIu64, use1 ? 0 : 1,
                 meta_page);

    if ((use1 ? st1 : st0) == META_UNCHECKED)
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid bolt file: page %" PRIu64 ": meta checksum is zero",
                             meta_page);
    const uint8_t *hdr = meta - BOLT_PAGE_HEADER_SIZE;
    if (bolt_le64(hdr + BOLT_PH_ID) != meta_page ||
        bolt_le16(hdr + BOLT_PH_FLAGS) != BOLT_PAGE_META)
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid bolt file: page %" PRIu64 ": bad meta page header",
                             meta_page);
    if (bolt_le32(meta + BOLT_M_PAGE_SIZE) != p)
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid bolt file: meta %" PRIu64 " page size %" PRIu32
                             " differs from %" PRIu64,
                             meta_page, bolt_le32(meta + BOLT_M_PAGE_SIZE), p);
    f->page_size = p;
    f->root = bolt_le64(meta + BOLT_M_ROOT);
    f->root_sequence = bolt_le64(meta + BOLT_M_SEQUENCE);
    f->freelist = bolt_le64(meta + BOLT_M_FREELIST);
    f->pgid = bolt_le64(meta + BOLT_M_PGID);
    f->txid = bolt_le64(meta + BOLT_M_TXID);

    if (f->pgid > f->size / p)
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid bolt file: high-water mark %" PRIu64 " pages needs %" PRIu64
                             "-byte pages beyond the %zu-byte file",
                             f->pgid, p, f->size);
    if (f->root < 2 || f->root >= f->pgid)
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid bolt file: root page %" PRIu64 " outside [2, %" PRIu64 ")",
                             f->root, f->pgid);
    if (f->freelist != BOLT_NO_FREELIST && (f->freelist < 2 || f->freelist >= f->pgid))
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid bolt file: freelist page %" PRIu64 " outside [2, %" PRIu64
                             ")",
                             f->freelist, f->pgid);
    return 0;
}

/* Step 4 of A.12: mark the freelist page reachable and its ids free. */
static int read_freelist(const tsv_bolt_file *f, uint8_t *reachable, uint8_t *freed, tsv_error *err)
{
    uint64_t id = f->freelist;
    page_view pv = {.id = id};
    const uint8_t *p = page_at(f, id);
    uint32_t overflow = bolt_le32(p + BOLT_PH_OVERFLOW);
    if (bolt_le64(p + BOLT_PH_ID) != id)
        return bad_page(err, &pv, "freelist header says page %" PRIu64, bolt_le64(p));
    if (bolt_le16(p + BOLT_PH_FLAGS) != BOLT_PAGE_FREELIST)
        return bad_page(err, &pv, "freelist page has flags 0x%x", bolt_le16(p + BOLT_PH_FLAGS));
    if (id + overflow >= f->pgid)
        return bad_page(err, &pv, "freelist overflow pages run past the high-water mark");
    uint64_t span = ((uint64_t)overflow + 1) * f->page_size;
    for (uint64_t i = id; i <= id + overflow; i++)
        bit_set(reachable, i);

    uint64_t count = bolt_le16(p + BOLT_PH_COUNT);
    uint64_t ids_at = BOLT_PAGE_HEADER_SIZE;
    if (count == BOLT_FREELIST_COUNT_ESCAPE) {
        if (ids_at + 8 > span)
            return bad_page(err, &pv, "freelist count out of bounds");
        count = bolt_le64(p + ids_at);
        ids_at += 8;
    }
    if (count > (span - ids_at) / 8)
        return bad_page(err, &pv, "freelist of %" PRIu64 " ids does not fit its page", count);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t free_id = bolt_le64(p + ids_at + 8 * i);
        if (free_id < 2 || free_id >= f->pgid)
            return bad_page(err, &pv, "freelist lists page %" PRIu64 " outside [2, %" PRIu64 ")",
                            free_id, f->pgid);
        if (free_id >= id && free_id <= id + overflow)
            return bad_page(err, &pv, "freelist lists its own page %" PRIu64, free_id);
        if (bit_get(freed, free_id))
            return bad_page(err, &pv, "freelist lists page %" PRIu64 " twice", free_id);
        bit_set(freed, free_id);
    }
    return 0;
}

static int validate(tsv_bolt_file *f, tsv_error *err)
{
    if (choose_meta(f, err) != 0)
        return -1;
    size_t bitmap_len = (size_t)((f->pgid + 7) / 8);
    uint8_t *reachable = calloc(1, bitmap_len);
    uint8_t *freed = calloc(1, bitmap_len);
    int rc = -1;
    if (!reachable || !freed) {
        tsv_error_set(err, TSV_EINTERNAL, "bolt: out of memory for %zu-byte page bitmaps",
                      bitmap_len);
        goto out;
    }
    bit_set(reachable, 0);
    bit_set(reachable, 1);
    if (f->freelist != BOLT_NO_FREELIST && read_freelist(f, reachable, freed, err) != 0)
        goto out;

    traversal t = {.f = f, .reachable = reachable, .freed = freed};
    bucket_state root = {.depth = 0};
    if (walk_tree(&t, &root, f->root, NULL, 0, err) != 0)
        goto out;

    /* Without a stored freelist bbolt treats every unreachable page as free. */
    if (f->freelist != BOLT_NO_FREELIST) {
        for (uint64_t i = 0; i < f->pgid; i++) {
            if (!bit_get(reachable, i) && !bit_get(freed, i)) {
                tsv_error_set(err, TSV_EINVALID,
                              "invalid bolt file: page %" PRIu64
                              ": neither reachable nor in the freelist",
                              i);
                goto out;
            }
        }
    }
    rc = 0;
out:
    free(reachable);
    free(freed);
    return rc;
}

/* A read-only descriptor: a failed close loses nothing, but say so. */
static void close_read_only(int fd, const char *path)
{
    if (close(fd) != 0)
        TSV_WARN("bolt: close %s: errno %d", path, errno);
}

int tsv_bolt_open(tsv_bolt_file **out, const char *path, tsv_error *err)
{
    *out = NULL;
    int fd;
    struct stat st;
    if (tsv_open_read(path, &fd, &st, err) != 0)
        return -1;
    if (!S_ISREG(st.st_mode)) {
        close_read_only(fd, path);
        return tsv_error_set(err, TSV_EINVALID, "invalid bolt file: %s is not a regular file",
                             path);
    }
    if (st.st_size < (off_t)BOLT_DEFAULT_PAGE_SIZE) {
        close_read_only(fd, path);
        return tsv_error_set(err, TSV_EINVALID,
                             "invalid bolt file: %lld bytes is shorter than one %u-byte page",
                             (long long)st.st_size, BOLT_DEFAULT_PAGE_SIZE);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close_read_only(fd, path);
        return tsv_error_set(err, TSV_EINVALID, "invalid bolt file: too large to map");
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close_read_only(fd, path); /* the mapping stays valid without it */
    if (map == MAP_FAILED)
        return tsv_error_set_errno(err, TSV_EINTERNAL, map_errno, "mmap %s", path);

    tsv_bolt_file *f = calloc(1, sizeof *f);
    if (!f) {
        if (munmap(map, size) != 0)
            TSV_WARN("bolt: munmap %s: errno %d", path, errno);
        return tsv_error_set(err, TSV_EINTERNAL, "bolt: out of memory");
    }
    f->map = map;
    f->size = size;
    if (validate(f, err) != 0) {
        tsv_bolt_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

void tsv_bolt_close(tsv_bolt_file *f)
{
    if (!f)
        return;
    if (munmap((void *)f->map, f->size) != 0)
        TSV_WARN("bolt: munmap: errno %d", errno);
    free(f);
}

uint64_t tsv_bolt_txid(const tsv_bolt_file *f) { return f->txid; }

uint64_t tsv_bolt_root_sequence(const tsv_bolt_file *f) { return f->root_sequence; }

uint64_t tsv_bolt_page_size(const tsv_bolt_file *f) { return f->page_size; }

uint64_t tsv_bolt_high_water(const tsv_bolt_file *f) { return f->pgid; }

int tsv_bolt_walk(tsv_bolt_file *f, const tsv_bolt_visitor *v, void *ctx, tsv_error *err)
{
    traversal t = {.f = f, .visitor = v, .vctx = ctx};
    bucket_state root = {.depth = 0};
    return walk_tree(&t, &root, f->root, NULL, 0, err);
}
