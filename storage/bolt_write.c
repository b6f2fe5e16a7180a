/*
 * bolt_write: a fresh, valid bbolt 1.3.6 file from a tree source
 * (docs/formats.md#bolt-write), streamed front to back through a callback.
 *
 * The same traversal runs twice. The layout pass decides every page and
 * counts page ids without output: post-order (a bucket's sub-buckets before
 * its own pages, leaves before the branch levels above them), which yields
 * the root page and the high-water mark that the metas at the front need.
 * The emit pass writes metas and the empty freelist, then repeats the
 * traversal, writing each page the moment it is allocated; allocation order
 * is id order, so the output never seeks back.
 *
 * Within each pass a bucket's cursor is read twice: once to validate keys,
 * lay out its sub-buckets and decide inline-or-not, once to fill its leaves.
 * A fingerprint of the entries catches a source that changes in between.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "array_grow.h"
#include "bolt.h"
#include "bolt_format.h"

#define WRITE_PAGE_SIZE 4096u
/* WriteTo-style metas: meta 0 = N, meta 1 = N-1, with N even so that each
 * meta sits on page txid % 2, where bbolt's own commits would put it. */
#define WRITE_TXID 2u
#define WRITE_FREELIST_PAGE 2u
#define WRITE_FIRST_DATA_PAGE 3u

static const uint8_t zero_page[WRITE_PAGE_SIZE];

/* One node of a B+tree level: the first key of its subtree and its page. */
typedef struct tree_node {
    const uint8_t *key; /* leaf level: owned copy; upper levels share it */
    uint32_t klen;
    uint64_t pgid;
} tree_node;

typedef struct node_list {
    tree_node *v;
    size_t n, cap;
} node_list;

/* How a sub-bucket is stored in its parent's leaf. */
typedef struct child_summary {
    uint64_t root;       /* 0 = inline */
    uint64_t value_size; /* bytes of its bucket value */
} child_summary;

typedef struct writer {
    const tsv_bolt_source *src;
    tsv_bolt_out_fn out;
    void *octx;
    int emitting;        /* 0 = layout pass, 1 = emit pass */
    uint64_t next_pgid;  /* next page id to allocate */
    uint64_t limit_pgid; /* emit pass: the high-water mark the layout found */
    uint64_t written;
    uint8_t *page;    /* page being assembled: header + elements (+ data) */
    uint8_t *data;    /* key/value bytes of the leaf being filled */
    uint8_t *scratch; /* an inline bucket's elements and data */
} writer;

static int source_changed(tsv_error *err)
{
    return tsv_error_set(err, TSV_EINTERNAL,
                         "bolt write: the tree source changed between passes "
                         "(it must be a stable snapshot)");
}

static uint64_t fingerprint_add(uint64_t h, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t fingerprint_entry(uint64_t h, const tsv_bolt_entry *e)
{
    uint8_t meta[17];
    bolt_put64(meta, e->klen);
    bolt_put64(meta + 8, e->is_bucket ? e->sequence : e->vlen);
    meta[16] = e->is_bucket ? 1 : 0;
    h = fingerprint_add(h, meta, sizeof meta);
    return fingerprint_add(h, e->key, e->klen);
}

static int next_entry(void *cursor, const tsv_bolt_source *src, tsv_bolt_entry *e, tsv_error *err)
{
    *e = (tsv_bolt_entry){0};
    int rc = src->cursor_next(cursor, e, err);
    if (rc < 0)
        return -1;
    if (rc > 1)
        return tsv_error_set(err, TSV_EINTERNAL, "bolt write: cursor_next returned %d", rc);
    return rc;
}

static int emit(writer *w, const void *buf, size_t len, tsv_error *err)
{
    if (len == 0)
        return 0;
    if (w->out(w->octx, buf, len, err) != 0)
        return -1;
    w->written += len;
    return 0;
}

static int emit_zeros(writer *w, uint64_t len, tsv_error *err)
{
    while (len > 0) {
        size_t n = len < sizeof zero_page ? (size_t)len : sizeof zero_page;
        if (emit(w, zero_page, n, err) != 0)
            return -1;
        len -= n;
    }
    return 0;
}

/* Allocates 1 + overflow consecutive page ids for a logical page of bytes. */
static int alloc_pages(writer *w, uint64_t bytes, uint64_t *id, uint32_t *overflow, tsv_error *err)
{
    uint64_t n = (bytes + WRITE_PAGE_SIZE - 1) / WRITE_PAGE_SIZE;
    if (n == 0)
        n = 1;
    if (n - 1 > UINT32_MAX)
        return tsv_error_set(err, TSV_EINVALID, "bolt write: a page of %" PRIu64 " bytes", bytes);
    *id = w->next_pgid;
    *overflow = (uint32_t)(n - 1);
    w->next_pgid += n;
    if (w->emitting && w->next_pgid > w->limit_pgid)
        return source_changed(err);
    /* In the emit pass every page is written as allocated, in id order. */
    if (w->emitting && w->written != *id * WRITE_PAGE_SIZE)
        return tsv_error_set(err, TSV_EINTERNAL, "bolt write: page %" PRIu64 " out of order", *id);
    return 0;
}

static void put_page_header(uint8_t *p, uint64_t id, uint16_t flags, uint16_t count,
                            uint32_t overflow)
{
    bolt_put64(p + BOLT_PH_ID, id);
    bolt_put16(p + BOLT_PH_FLAGS, flags);
    bolt_put16(p + BOLT_PH_COUNT, count);
    bolt_put32(p + BOLT_PH_OVERFLOW, overflow);
}

static void put_leaf_element(uint8_t *el, uint32_t flags, uint32_t pos, uint32_t ksize,
                             uint32_t vsize)
{
    bolt_put32(el + 0, flags);
    bolt_put32(el + 4, pos);
    bolt_put32(el + 8, ksize);
    bolt_put32(el + 12, vsize);
}

static int list_push(node_list *l, const uint8_t *key, uint32_t klen, uint64_t pgid, tsv_error *err)
{
    if (TSV_ARRAY_GROW(l->v, l->n, l->cap, NULL) != 0)
        return tsv_error_set(err, TSV_EINTERNAL, "bolt write: out of memory");
    l->v[l->n++] = (tree_node){.key = key, .klen = klen, .pgid = pgid};
    return 0;
}

/* Leaf level lists own their key copies. */
static void list_free_keys(node_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free((void *)l->v[i].key);
}

static int push_first_key(node_list *leaves, const tsv_bolt_entry *e, tsv_error *err)
{
    uint8_t *copy = malloc(e->klen);
    if (!copy)
        return tsv_error_set(err, TSV_EINTERNAL, "bolt write: out of memory");
    memcpy(copy, e->key, e->klen);
    if (list_push(leaves, copy, (uint32_t)e->klen, 0, err) != 0) {
        free(copy);
        return -1;
    }
    return 0;
}

/* Builds the complete value of an inline bucket (bucket header + leaf page)
 * into dst, which has room for expected bytes. */
static int build_inline_value(writer *w, const tsv_bolt_entry *bucket, uint64_t expected,
                              uint8_t *dst, tsv_error *err)
{
    const tsv_bolt_source *src = w->src;
    /* An inline value is at most 16 + P/4 bytes: elements and data each fit
     * in half of the scratch page. */
    uint8_t *elems = w->scratch;
    uint8_t *data = w->scratch + WRITE_PAGE_SIZE / 2;
    uint64_t limit = WRITE_PAGE_SIZE / 2;
    uint64_t count = 0, data_len = 0;
    void *cursor = NULL;
    if (src->cursor_open(src->ctx, bucket->child, &cursor, err) != 0)
        return -1;
    int rc = -1;
    tsv_bolt_entry e;
    int got;
    while ((got = next_entry(cursor, src, &e, err)) > 0) {
        if (e.is_bucket || (count + 1) * BOLT_ELEMENT_SIZE > limit ||
            data_len + e.klen + e.vlen > limit) {
            source_changed(err);
            goto out;
        }
        /* pos is fixed up below, once the element count is known. */
        put_leaf_element(elems + count * BOLT_ELEMENT_SIZE, 0, (uint32_t)data_len, (uint32_t)e.klen,
                         (uint32_t)e.vlen);
        memcpy(data + data_len, e.key, e.klen);
        if (e.vlen)
            memcpy(data + data_len + e.klen, e.val, e.vlen);
        data_len += e.klen + e.vlen;
        count++;
    }
    if (got < 0)
        goto out;
    uint64_t elems_len = count * BOLT_ELEMENT_SIZE;
    if (BOLT_BUCKET_HEADER_SIZE + BOLT_PAGE_HEADER_SIZE + elems_len + data_len != expected) {
        source_changed(err);
        goto out;
    }
    bolt_put64(dst, 0); /* root 0 = inline */
    bolt_put64(dst + 8, bucket->sequence);
    uint8_t *page = dst + BOLT_BUCKET_HEADER_SIZE;
    /* bbolt leaves an inline page's id and overflow zero. */
    put_page_header(page, 0, BOLT_PAGE_LEAF, (uint16_t)count, 0);
    for (uint64_t i = 0; i < count; i++) {
        uint8_t *el = elems + i * BOLT_ELEMENT_SIZE;
        uint64_t el_off = BOLT_PAGE_HEADER_SIZE + i * BOLT_ELEMENT_SIZE;
        uint64_t data_off = BOLT_PAGE_HEADER_SIZE + elems_len + bolt_le32(el + 4);
        bolt_put32(el + 4, (uint32_t)(data_off - el_off));
    }
    memcpy(page + BOLT_PAGE_HEADER_SIZE, elems, elems_len);
    memcpy(page + BOLT_PAGE_HEADER_SIZE + elems_len, data, data_len);
    rc = 0;
out:
    src->cursor_close(cursor);
    return rc;
}

/* The value bytes of a leaf item: a plain value, or a sub-bucket's value
 * (16-byte header for a bucket with pages, built inline page otherwise). */
static int item_value(writer *w, const tsv_bolt_entry *e, const child_summary *sub,
                      uint8_t *dst_if_built, const uint8_t **val, tsv_error *err)
{
    if (!e->is_bucket) {
        *val = e->val;
        return 0;
    }
    if (sub->root != 0) {
        bolt_put64(dst_if_built, sub->root);
        bolt_put64(dst_if_built + 8, e->sequence);
    } else if (build_inline_value(w, e, sub->value_size, dst_if_built, err) != 0) {
        return -1;
    }
    *val = dst_if_built;
    return 0;
}

typedef struct leaf_fill {
    uint32_t count;
    uint64_t size;     /* header + elements + data so far */
    uint64_t data_len; /* bytes in w->data */
} leaf_fill;

static int flush_leaf(writer *w, leaf_fill *lf, node_list *leaves, tsv_error *err)
{
    uint64_t id;
    uint32_t overflow;
    if (alloc_pages(w, lf->size, &id, &overflow, err) != 0)
        return -1;
    leaves->v[leaves->n - 1].pgid = id;
    if (w->emitting) {
        uint64_t elems_len = (uint64_t)lf->count * BOLT_ELEMENT_SIZE;
        put_page_header(w->page, id, BOLT_PAGE_LEAF, (uint16_t)lf->count, overflow);
        for (uint32_t i = 0; i < lf->count; i++) {
            uint8_t *el = w->page + BOLT_PAGE_HEADER_SIZE + (uint64_t)i * BOLT_ELEMENT_SIZE;
            uint64_t el_off = BOLT_PAGE_HEADER_SIZE + (uint64_t)i * BOLT_ELEMENT_SIZE;
            uint64_t data_off = BOLT_PAGE_HEADER_SIZE + elems_len + bolt_le32(el + 4);
            bolt_put32(el + 4, (uint32_t)(data_off - el_off));
        }
        uint8_t *data_at = w->page + BOLT_PAGE_HEADER_SIZE + elems_len;
        memcpy(data_at, w->data, lf->data_len);
        memset(data_at + lf->data_len, 0, WRITE_PAGE_SIZE - lf->size);
        if (emit(w, w->page, WRITE_PAGE_SIZE, err) != 0)
            return -1;
    }
    *lf = (leaf_fill){.size = BOLT_PAGE_HEADER_SIZE};
    return 0;
}

/* An item too big for a shared page gets a leaf of its own with overflow
 * pages; key and value are streamed, never buffered whole. */
static int write_single_item_leaf(writer *w, const tsv_bolt_entry *e, const child_summary *sub,
                                  uint64_t vsize, node_list *leaves, tsv_error *err)
{
    uint64_t bytes = BOLT_PAGE_HEADER_SIZE + BOLT_ELEMENT_SIZE + e->klen + vsize;
    uint64_t id;
    uint32_t overflow;
    if (alloc_pages(w, bytes, &id, &overflow, err) != 0)
        return -1;
    leaves->v[leaves->n - 1].pgid = id;
    if (!w->emitting)
        return 0;
    const uint8_t *val;
    if (item_value(w, e, sub, w->data, &val, err) != 0)
        return -1;
    put_page_header(w->page, id, BOLT_PAGE_LEAF, 1, overflow);
    put_leaf_element(w->page + BOLT_PAGE_HEADER_SIZE, e->is_bucket ? BOLT_LEAF_BUCKET : 0,
                     BOLT_ELEMENT_SIZE, (uint32_t)e->klen, (uint32_t)vsize);
    if (emit(w, w->page, BOLT_PAGE_HEADER_SIZE + BOLT_ELEMENT_SIZE, err) != 0 ||
        emit(w, e->key, e->klen, err) != 0 || emit(w, val, vsize, err) != 0)
        return -1;
    return emit_zeros(w, ((uint64_t)overflow + 1) * WRITE_PAGE_SIZE - bytes, err);
}

/* Second read of a bucket: pack its items greedily into leaves. */
static int build_leaves(writer *w, uint64_t bucket, const child_summary *subs, size_t nsubs,
                        uint64_t fingerprint, node_list *leaves, tsv_error *err)
{
    const tsv_bolt_source *src = w->src;
    void *cursor = NULL;
    if (src->cursor_open(src->ctx, bucket, &cursor, err) != 0)
        return -1;
    int rc = -1;
    leaf_fill lf = {.size = BOLT_PAGE_HEADER_SIZE};
    size_t next_sub = 0;
    uint64_t seen = 0xcbf29ce484222325ull;
    tsv_bolt_entry e;
    int got;
    while ((got = next_entry(cursor, src, &e, err)) > 0) {
        seen = fingerprint_entry(seen, &e);
        const child_summary *sub = NULL;
        if (e.is_bucket) {
            if (next_sub == nsubs) {
                source_changed(err);
                goto out;
            }
            sub = &subs[next_sub++];
        }
        /* Keep lengths sane before any arithmetic, even if the source lies. */
        if (e.klen == 0 || e.klen > BOLT_MAX_KEY || (!e.is_bucket && e.vlen > BOLT_MAX_VALUE)) {
            source_changed(err);
            goto out;
        }
        uint64_t vsize = e.is_bucket ? sub->value_size : e.vlen;
        uint64_t item = BOLT_ELEMENT_SIZE + e.klen + vsize;
        if (lf.count > 0 && (lf.size + item > WRITE_PAGE_SIZE || lf.count == BOLT_MAX_ELEMENTS) &&
            flush_leaf(w, &lf, leaves, err) != 0)
            goto out;
        /* First item of a new leaf: its key goes to the branch level above. */
        if (lf.count == 0 && push_first_key(leaves, &e, err) != 0)
            goto out;
        if (lf.size + item > WRITE_PAGE_SIZE) {
            if (write_single_item_leaf(w, &e, sub, vsize, leaves, err) != 0)
                goto out;
            continue;
        }
        if (w->emitting) {
            uint8_t *el = w->page + BOLT_PAGE_HEADER_SIZE + (uint64_t)lf.count * BOLT_ELEMENT_SIZE;
            uint8_t *dst = w->data + lf.data_len;
            const uint8_t *val;
            memcpy(dst, e.key, e.klen);
            if (item_value(w, &e, sub, dst + e.klen, &val, err) != 0)
                goto out;
            if (vsize && val != dst + e.klen)
                memcpy(dst + e.klen, val, vsize);
            /* pos holds the data offset until flush_leaf knows the count. */
            put_leaf_element(el, e.is_bucket ? BOLT_LEAF_BUCKET : 0, (uint32_t)lf.data_len,
                             (uint32_t)e.klen, (uint32_t)vsize);
        }
        lf.count++;
        lf.size += item;
        lf.data_len += e.klen + vsize;
    }
    if (got < 0)
        goto out;
    if (seen != fingerprint || next_sub != nsubs) {
        source_changed(err);
        goto out;
    }
    if (lf.count > 0 && flush_leaf(w, &lf, leaves, err) != 0)
        goto out;
    if (leaves->n == 0) {
        /* An empty bucket with its own pages (only the root): one empty leaf. */
        if (list_push(leaves, NULL, 0, 0, err) != 0 || flush_leaf(w, &lf, leaves, err) != 0)
            goto out;
    }
    rc = 0;
out:
    src->cursor_close(cursor);
    return rc;
}

static int write_branch_page(writer *w, const tree_node *nodes, size_t count, uint64_t bytes,
                             uint64_t *id_out, tsv_error *err)
{
    uint64_t id;
    uint32_t overflow;
    if (alloc_pages(w, bytes, &id, &overflow, err) != 0)
        return -1;
    *id_out = id;
    if (!w->emitting)
        return 0;
    /* Header and elements fit one page: a page holds > 2 elements only while
     * it stays within the page size. */
    uint64_t elems_len = (uint64_t)count * BOLT_ELEMENT_SIZE;
    put_page_header(w->page, id, BOLT_PAGE_BRANCH, (uint16_t)count, overflow);
    uint64_t key_off = BOLT_PAGE_HEADER_SIZE + elems_len;
    for (size_t i = 0; i < count; i++) {
        uint64_t el_off = BOLT_PAGE_HEADER_SIZE + (uint64_t)i * BOLT_ELEMENT_SIZE;
        uint8_t *el = w->page + el_off;
        bolt_put32(el + 0, (uint32_t)(key_off - el_off));
        bolt_put32(el + 4, nodes[i].klen);
        bolt_put64(el + 8, nodes[i].pgid);
        key_off += nodes[i].klen;
    }
    if (emit(w, w->page, BOLT_PAGE_HEADER_SIZE + elems_len, err) != 0)
        return -1;
    for (size_t i = 0; i < count; i++)
        if (emit(w, nodes[i].key, nodes[i].klen, err) != 0)
            return -1;
    return emit_zeros(w, ((uint64_t)overflow + 1) * WRITE_PAGE_SIZE - bytes, err);
}

/* Branch levels over the leaves until one root remains. A branch page takes
 * at least two children, so every level shrinks and the depth stays
 * logarithmic even with 32 KiB keys. */
static int build_branches(writer *w, const node_list *leaves, uint64_t *root, tsv_error *err)
{
    node_list level = *leaves; /* borrowed; not freed here */
    int owned = 0, rc = -1;
    while (level.n > 1) {
        node_list up = {0};
        size_t i = 0;
        while (i < level.n) {
            uint64_t bytes = BOLT_PAGE_HEADER_SIZE;
            size_t j = i;
            while (j < level.n) {
                uint64_t item = BOLT_ELEMENT_SIZE + level.v[j].klen;
                if (j - i >= 2 && (bytes + item > WRITE_PAGE_SIZE || j - i == BOLT_MAX_ELEMENTS))
                    break;
                bytes += item;
                j++;
            }
            uint64_t id;
            if (write_branch_page(w, &level.v[i], j - i, bytes, &id, err) != 0 ||
                list_push(&up, level.v[i].key, level.v[i].klen, id, err) != 0) {
                free(up.v);
                goto out;
            }
            i = j;
        }
        if (owned)
            free(level.v);
        level = up;
        owned = 1;
    }
    *root = level.v[0].pgid;
    rc = 0;
out:
    if (owned)
        free(level.v);
    return rc;
}

static int write_bucket(writer *w, uint64_t handle, unsigned depth, child_summary *summary,
                        tsv_error *err);

/* First read of a bucket: validate its keys, lay out (or emit) every
 * sub-bucket, and total the inline size. */
static int scan_bucket(writer *w, uint64_t handle, unsigned depth, child_summary **subs,
                       size_t *nsubs, uint64_t *items_size, uint64_t *fingerprint, tsv_error *err)
{
    const tsv_bolt_source *src = w->src;
    size_t cap = 0;
    uint8_t *prev = NULL;
    size_t prev_len = 0;
    void *cursor = NULL;
    int rc = -1;
    *subs = NULL;
    *nsubs = 0;
    *items_size = 0;
    *fingerprint = 0xcbf29ce484222325ull;
    if (src->cursor_open(src->ctx, handle, &cursor, err) != 0)
        return -1;
    prev = malloc(BOLT_MAX_KEY);
    if (!prev) {
        tsv_error_set(err, TSV_EINTERNAL, "bolt write: out of memory");
        goto out;
    }
    tsv_bolt_entry e;
    int got;
    while ((got = next_entry(cursor, src, &e, err)) > 0) {
        if (e.klen == 0 || e.klen > BOLT_MAX_KEY) {
            tsv_error_set(err, TSV_EINVALID, "bolt write: key of %zu bytes (must be 1..%u)", e.klen,
                          BOLT_MAX_KEY);
            goto out;
        }
        if (prev_len && bolt_key_cmp(prev, prev_len, e.key, e.klen) >= 0) {
            tsv_error_set(err, TSV_EINVALID, "bolt write: keys not strictly increasing at depth %u",
                          depth);
            goto out;
        }
        memcpy(prev, e.key, e.klen);
        prev_len = e.klen;
        *fingerprint = fingerprint_entry(*fingerprint, &e);
        uint64_t vsize;
        if (e.is_bucket) {
            if (depth + 1 > BOLT_MAX_BUCKET_DEPTH) {
                tsv_error_set(err, TSV_EINVALID, "bolt write: buckets nested deeper than %u",
                              BOLT_MAX_BUCKET_DEPTH);
                goto out;
            }
            if (TSV_ARRAY_GROW(*subs, *nsubs, cap, NULL) != 0) {
                tsv_error_set(err, TSV_EINTERNAL, "bolt write: out of memory");
                goto out;
            }
            child_summary *cs = &(*subs)[(*nsubs)++];
            if (write_bucket(w, e.child, depth + 1, cs, err) != 0)
                goto out;
            vsize = cs->value_size;
        } else {
            if (depth == 0) {
                tsv_error_set(err, TSV_EINVALID,
                              "bolt write: the root bucket can hold only buckets");
                goto out;
            }
            if (e.vlen > BOLT_MAX_VALUE) {
                tsv_error_set(err, TSV_EINVALID, "bolt write: value of %zu bytes exceeds %u",
                              e.vlen, BOLT_MAX_VALUE);
                goto out;
            }
            vsize = e.vlen;
        }
        *items_size += BOLT_ELEMENT_SIZE + e.klen + vsize;
    }
    if (got < 0)
        goto out;
    rc = 0;
out:
    free(prev);
    src->cursor_close(cursor);
    if (rc != 0) {
        free(*subs);
        *subs = NULL;
    }
    return rc;
}

/* Lays out (or emits) one bucket and everything below it, post-order. */
static int write_bucket(writer *w, uint64_t handle, unsigned depth, child_summary *summary,
                        tsv_error *err)
{
    child_summary *subs;
    size_t nsubs;
    uint64_t items_size, fingerprint;
    if (scan_bucket(w, handle, depth, &subs, &nsubs, &items_size, &fingerprint, err) != 0)
        return -1;
    /* bbolt's inline rule; the root bucket always has its own pages. */
    if (depth > 0 && nsubs == 0 && BOLT_PAGE_HEADER_SIZE + items_size <= WRITE_PAGE_SIZE / 4) {
        *summary = (child_summary){
            .root = 0,
            .value_size = BOLT_BUCKET_HEADER_SIZE + BOLT_PAGE_HEADER_SIZE + items_size,
        };
        free(subs);
        return 0;
    }
    node_list leaves = {0};
    uint64_t root = 0;
    int rc = -1;
    if (build_leaves(w, handle, subs, nsubs, fingerprint, &leaves, err) != 0)
        goto out;
    if (build_branches(w, &leaves, &root, err) != 0)
        goto out;
    *summary = (child_summary){.root = root, .value_size = BOLT_BUCKET_HEADER_SIZE};
    rc = 0;
out:
    list_free_keys(&leaves);
    free(leaves.v);
    free(subs);
    return rc;
}

static int emit_meta(writer *w, uint64_t page_id, uint64_t root, uint64_t pgid, uint64_t txid,
                     tsv_error *err)
{
    uint8_t *p = w->page;
    memset(p, 0, WRITE_PAGE_SIZE);
    put_page_header(p, page_id, BOLT_PAGE_META, 0, 0);
    uint8_t *m = p + BOLT_PAGE_HEADER_SIZE;
    bolt_put32(m + BOLT_M_MAGIC, BOLT_MAGIC);
    bolt_put32(m + BOLT_M_VERSION, BOLT_VERSION);
    bolt_put32(m + BOLT_M_PAGE_SIZE, WRITE_PAGE_SIZE);
    bolt_put32(m + BOLT_M_FLAGS, 0);
    bolt_put64(m + BOLT_M_ROOT, root);
    bolt_put64(m + BOLT_M_SEQUENCE, w->src->root_sequence);
    bolt_put64(m + BOLT_M_FREELIST, WRITE_FREELIST_PAGE);
    bolt_put64(m + BOLT_M_PGID, pgid);
    bolt_put64(m + BOLT_M_TXID, txid);
    bolt_put64(m + BOLT_M_CHECKSUM, bolt_fnv1a64(m, BOLT_META_CHECKED_SIZE));
    return emit(w, p, WRITE_PAGE_SIZE, err);
}

static int emit_empty_freelist(writer *w, tsv_error *err)
{
    memset(w->page, 0, WRITE_PAGE_SIZE);
    put_page_header(w->page, WRITE_FREELIST_PAGE, BOLT_PAGE_FREELIST, 0, 0);
    return emit(w, w->page, WRITE_PAGE_SIZE, err);
}

int tsv_bolt_write(const tsv_bolt_source *src, tsv_bolt_out_fn out, void *octx, uint64_t *written,
                   tsv_error *err)
{
    writer w = {.src = src, .out = out, .octx = octx};
    int rc = -1;
    if (written)
        *written = 0;
    w.page = malloc(WRITE_PAGE_SIZE);
    w.data = malloc(WRITE_PAGE_SIZE);
    w.scratch = malloc(WRITE_PAGE_SIZE);
    if (!w.page || !w.data || !w.scratch) {
        tsv_error_set(err, TSV_EINTERNAL, "bolt write: out of memory");
        goto out;
    }

    child_summary layout, emitted;
    w.next_pgid = WRITE_FIRST_DATA_PAGE;
    if (write_bucket(&w, 0, 0, &layout, err) != 0)
        goto out;
    uint64_t pgid = w.next_pgid;

    w.emitting = 1;
    w.limit_pgid = pgid;
    if (emit_meta(&w, 0, layout.root, pgid, WRITE_TXID, err) != 0 ||
        emit_meta(&w, 1, layout.root, pgid, WRITE_TXID - 1, err) != 0 ||
        emit_empty_freelist(&w, err) != 0)
        goto out;
    w.next_pgid = WRITE_FIRST_DATA_PAGE;
    if (write_bucket(&w, 0, 0, &emitted, err) != 0)
        goto out;
    if (emitted.root != layout.root || w.next_pgid != pgid || w.written != pgid * WRITE_PAGE_SIZE) {
        source_changed(err);
        goto out;
    }
    if (written)
        *written = w.written;
    rc = 0;
out:
    free(w.page);
    free(w.data);
    free(w.scratch);
    return rc;
}
