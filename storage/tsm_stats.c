/* tsm_stats: bucket statistics from TSM indexes (tsm_stats.h). */
#include "tsm_stats.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "array_grow.h"
#include "bucket_layout.h"
#include "engine.h"
#include "json.h"
#include "tombstone.h"
#include "tsm.h"
#include "tsm_decode.h"
#include "tsm_file.h"
#include "tsm_values.h"
#include "tsv_time.h"

static const char *const type_names[5] = {"float", "integer", "boolean", "string", "unsigned"};

/* --- sorted name sets ------------------------------------------------------ */

typedef struct name_set {
    char **v;
    size_t n, cap;
} name_set;

static int set_add(name_set *s, const char *name, size_t len)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(s->v[mid], name, len);
        if (c == 0 && s->v[mid][len] != '\0')
            c = 1;
        if (c == 0)
            return 0;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (TSV_ARRAY_GROW(s->v, s->n, s->cap, NULL) != 0)
        return -1;
    char *d = strndup(name, len);
    if (!d)
        return -1;
    memmove(s->v + lo + 1, s->v + lo, (s->n - lo) * sizeof *s->v);
    s->v[lo] = d;
    s->n++;
    return 0;
}

static void set_free(name_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* --- accumulators ---------------------------------------------------------- */

typedef struct acc {
    uint64_t files, tsm_bytes, tomb_files, tomb_bytes, keys, series, blocks, values;
    int64_t min, max;
    int has_time;
    name_set meas, fields[5];
    uint8_t *last_series, *last_key;
    size_t last_series_len, last_key_len;
    int have_last;
} acc;

static void acc_free(acc *a)
{
    set_free(&a->meas);
    for (int t = 0; t < 5; t++)
        set_free(&a->fields[t]);
    free(a->last_series);
    free(a->last_key);
}

typedef struct shard_info {
    const tsv_layout_shard *ls;
    const char *rp;
    acc a;
    char state[TSV_ERROR_MSG_MAX + 16];
    char version[17];
    int missing;
} shard_info;

typedef struct cursor {
    tsm_file f;
    size_t shard;
    int open;
} cursor;

/* --- version digest -------------------------------------------------------- */

typedef struct file_ref {
    char *path;
    char *name;
    size_t shard;
    struct stat st;
    int is_tomb;
} file_ref;

static int ref_cmp(const void *a, const void *b)
{
    const file_ref *x = a, *y = b;
    if (x->shard != y->shard)
        return x->shard < y->shard ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void hex16(const uint8_t *d, char out[17])
{
    for (int i = 0; i < 8; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
    out[16] = '\0';
}

static void digest_refs(const file_ref *refs, size_t n, size_t shard, char out[17])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t d[32];
    unsigned dl = 0;
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (size_t i = 0; i < n; i++) {
        if (shard != SIZE_MAX && refs[i].shard != shard)
            continue;
        char line[512];
        int k = snprintf(line, sizeof line, "%zu/%s %lld %lld.%09ld %llu\n", refs[i].shard,
                         refs[i].name, (long long)refs[i].st.st_size,
                         (long long)refs[i].st.st_mtim.tv_sec, refs[i].st.st_mtim.tv_nsec,
                         (unsigned long long)refs[i].st.st_ino);
        EVP_DigestUpdate(md, line, (size_t)k);
    }
    EVP_DigestFinal_ex(md, d, &dl);
    EVP_MD_CTX_free(md);
    hex16(d, out);
}

static void refs_free(file_ref *refs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(refs[i].path);
        free(refs[i].name);
    }
    free(refs);
}

/* Lists the TSM and tombstone files of every shard. */
static int collect(shard_info *sh, size_t nsh, file_ref **out, size_t *nout, tsv_error *err)
{
    file_ref *refs = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < nsh; i++) {
        tsv_shard_lock(sh[i].ls->id);
        DIR *d = opendir(sh[i].ls->dir);
        if (!d) {
            int e = errno;
            tsv_shard_unlock(sh[i].ls->id);
            if (e == ENOENT) {
                sh[i].missing = 1;
                continue;
            }
            refs_free(refs, n);
            return tsv_error_set_errno(err, TSV_EINTERNAL, e, "open %s", sh[i].ls->dir);
        }
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            int tsm = tsv_tsm_name_valid(de->d_name);
            int tomb = !tsm && tsv_tombstone_name_valid(de->d_name);
            if (!tsm && !tomb)
                continue;
            if (TSV_ARRAY_GROW(refs, n, cap, NULL) != 0)
                break;
            file_ref *r = &refs[n];
            memset(r, 0, sizeof *r);
            r->shard = i;
            r->is_tomb = tomb;
            r->name = strdup(de->d_name);
            size_t pl = strlen(sh[i].ls->dir) + strlen(de->d_name) + 2;
            r->path = malloc(pl);
            if (!r->name || !r->path) {
                free(r->name);
                free(r->path);
                break;
            }
            snprintf(r->path, pl, "%s/%s", sh[i].ls->dir, de->d_name);
            if (stat(r->path, &r->st) != 0) {
                free(r->name);
                free(r->path);
                continue; /* vanished between readdir and stat */
            }
            n++;
        }
        closedir(d);
        tsv_shard_unlock(sh[i].ls->id);
    }
    if (n) /* refs is NULL for a bucket without shards: qsort(NULL, 0) is UB */
        qsort(refs, n, sizeof *refs, ref_cmp);
    *out = refs;
    *nout = n;
    return 0;
}

/* --- the merge --------------------------------------------------------------- */

static int cur_less(const cursor *a, const cursor *b)
{
    int c = tsm_key_cmp(a->f.key, a->f.klen, b->f.key, b->f.klen);
    if (c)
        return c < 0;
    return a->shard < b->shard;
}

static void heap_down(cursor **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && cur_less(h[l], h[m]))
            m = l;
        if (r < n && cur_less(h[r], h[m]))
            m = r;
        if (m == i)
            return;
        cursor *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int keep_copy(uint8_t **dst, size_t *dlen, const uint8_t *src, size_t n)
{
    uint8_t *p = realloc(*dst, n ? n : 1);
    if (!p)
        return -1;
    memcpy(p, src, n);
    *dst = p;
    *dlen = n;
    return 0;
}

/* Accounts one key of one file into a (shard or bucket). */
static int account_key(acc *a, const tsm_file *f, uint64_t values, tsv_error *err)
{
    const uint8_t *k = f->key;
    size_t klen = f->klen, slen = tsm_key_series_len(k, klen);
    int new_key = !a->have_last || tsm_key_cmp(a->last_key, a->last_key_len, k, klen) != 0;
    int new_series = !a->have_last || tsm_key_cmp(a->last_series, a->last_series_len, k, slen) != 0;
    if (new_key) {
        a->keys++;
        if (keep_copy(&a->last_key, &a->last_key_len, k, klen) != 0)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    if (new_series) {
        a->series++;
        if (keep_copy(&a->last_series, &a->last_series_len, k, slen) != 0)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        char m[65536];
        size_t ml = tsm_key_measurement(k, klen, m, sizeof m);
        if (set_add(&a->meas, m, ml) != 0)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    a->have_last = 1;
    if (new_key && f->type < 5) {
        /* "<measurement>\0<field>" per type */
        char *buf = malloc(2 * 65536 + 2);
        if (!buf)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        size_t ml = tsm_key_measurement(k, klen, buf, 65536);
        buf[ml] = '\x1f';
        size_t fl = slen < klen ? klen - slen - 4 : 0;
        memcpy(buf + ml + 1, k + slen + (fl ? 4 : 0), fl);
        int rc = set_add(&a->fields[f->type], buf, ml + 1 + fl);
        free(buf);
        if (rc != 0)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    a->blocks += f->n;
    a->values += values;
    for (size_t i = 0; i < f->n; i++) {
        if (!a->has_time || f->entries[i].min < a->min)
            a->min = f->entries[i].min;
        if (!a->has_time || f->entries[i].max > a->max)
            a->max = f->entries[i].max;
        a->has_time = 1;
    }
    return 0;
}

static int count_values(tsm_file *f, uint64_t *out, tsv_error *err)
{
    uint64_t total = 0;
    for (size_t i = 0; i < f->n; i++) {
        const uint8_t *d;
        size_t len, want = 64;
        for (int tries = 0;; tries++) {
            if (tsm_file_peek_block(f, &f->entries[i], want, &d, &len, err) != 0)
                return -1;
            uint64_t c;
            size_t need = 0;
            int rc = tsm_values_count(d, len, &c, &need);
            if (rc == TSM_DEC_OK) {
                total += c;
                break;
            }
            if (rc == TSM_DEC_SHORT && need > len && len == want && tries < 3) {
                want = need;
                continue;
            }
            return tsv_error_set(err, TSV_EINVALID,
                                 "%s: bad timestamp section in the block at "
                                 "offset %" PRIu64,
                                 f->path, f->entries[i].off);
        }
    }
    *out = total;
    return 0;
}

static void write_acc(tsv_json_writer *w, const acc *a)
{
    tsv_jw_key(w, "minTime");
    if (a->has_time) {
        char t[TSV_RFC3339_MAX];
        tsv_format_rfc3339nano(a->min, t, sizeof t);
        tsv_jw_string(w, t);
    } else {
        tsv_jw_null(w);
    }
    tsv_jw_key(w, "maxTime");
    if (a->has_time) {
        char t[TSV_RFC3339_MAX];
        tsv_format_rfc3339nano(a->max, t, sizeof t);
        tsv_jw_string(w, t);
    } else {
        tsv_jw_null(w);
    }
    tsv_jw_field_u64(w, "measurementCount", a->meas.n);
    tsv_jw_field_u64(w, "seriesCount", a->series);
    tsv_jw_field_u64(w, "keyCount", a->keys);
    tsv_jw_key(w, "fieldCountByType");
    tsv_jw_object_begin(w);
    for (int t = 0; t < 5; t++) {
        tsv_jw_field_u64(w, type_names[t], a->fields[t].n);
    }
    tsv_jw_object_end(w);
    tsv_jw_field_u64(w, "valueCount", a->values);
    tsv_jw_field_u64(w, "blockCount", a->blocks);
    tsv_jw_field_u64(w, "fileCount", a->files);
    tsv_jw_field_u64(w, "tsmBytes", a->tsm_bytes);
    tsv_jw_field_u64(w, "tombstoneFileCount", a->tomb_files);
    tsv_jw_field_u64(w, "tombstoneBytes", a->tomb_bytes);
    tsv_jw_key(w, "bytesPerValue");
    if (a->values) {
        char num[64];
        snprintf(num, sizeof num, "%.3f", (double)a->tsm_bytes / (double)a->values);
        tsv_jw_raw(w, num);
    } else {
        tsv_jw_null(w);
    }
}

/* --- cache ------------------------------------------------------------------ */

#define CACHE_SLOTS 32
static struct {
    char bucket[17];
    char version[17];
    char *json;
    size_t len;
    uint64_t used;
} cache[CACHE_SLOTS];
static uint64_t cache_clock;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int cache_get(const char *bucket, const char *version, tsv_buf *out, tsv_error *err)
{
    int hit = 0, rc = 0;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (cache[i].json && strcmp(cache[i].bucket, bucket) == 0 &&
            strcmp(cache[i].version, version) == 0) {
            rc = tsv_buf_append(out, cache[i].json, cache[i].len, err);
            cache[i].used = ++cache_clock;
            hit = 1;
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return rc != 0 ? -1 : hit;
}

static void cache_put(const char *bucket, const char *version, const void *json, size_t len)
{
    char *copy = malloc(len);
    if (!copy)
        return;
    memcpy(copy, json, len);
    pthread_mutex_lock(&cache_lock);
    int slot = 0;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (cache[i].json && strcmp(cache[i].bucket, bucket) == 0) {
            slot = i;
            break;
        }
        if (cache[i].used < cache[slot].used)
            slot = i;
    }
    free(cache[slot].json);
    snprintf(cache[slot].bucket, sizeof cache[slot].bucket, "%s", bucket);
    snprintf(cache[slot].version, sizeof cache[slot].version, "%s", version);
    cache[slot].json = copy;
    cache[slot].len = len;
    cache[slot].used = ++cache_clock;
    pthread_mutex_unlock(&cache_lock);
}

/* --- the computation --------------------------------------------------------- */

static int compute(const tsv_bucket_layout *l, shard_info *sh, size_t nsh, const file_ref *refs,
                   size_t nrefs, acc *total, tsv_error *err)
{
    size_t ntsm = 0;
    for (size_t i = 0; i < nrefs; i++)
        ntsm += !refs[i].is_tomb;
    cursor *cur = calloc(ntsm ? ntsm : 1, sizeof *cur);
    cursor **heap = calloc(ntsm ? ntsm : 1, sizeof *heap);
    if (!cur || !heap) {
        free(cur);
        free(heap);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    (void)l;
    size_t nheap = 0, c = 0;
    int rc = 0;
    for (size_t i = 0; i < nrefs; i++) {
        acc *a = &sh[refs[i].shard].a;
        if (refs[i].is_tomb) {
            a->tomb_files++;
            a->tomb_bytes += (uint64_t)refs[i].st.st_size;
            total->tomb_files++;
            total->tomb_bytes += (uint64_t)refs[i].st.st_size;
            continue;
        }
        cursor *k = &cur[c++];
        k->shard = refs[i].shard;
        k->f.fd = -1;
        tsv_error e;
        /* Statistics only read the index: the tombstone is not loaded. */
        if (tsm_file_open(&k->f, refs[i].path, 0, &e) != 0) {
            tsm_file_close(&k->f);
            if (e.code != TSV_ENOTFOUND) /* else: removed since it was listed */
                snprintf(sh[k->shard].state, sizeof sh[k->shard].state, "error: %s", e.message);
            continue;
        }
        k->open = 1;
        a->files++;
        a->tsm_bytes += k->f.size;
        total->files++;
        total->tsm_bytes += k->f.size;
        int r = tsm_file_next_key(&k->f, &e);
        if (r < 0)
            snprintf(sh[k->shard].state, sizeof sh[k->shard].state, "error: %s", e.message);
        if (r == 1)
            heap[nheap++] = k;
    }
    for (size_t i = nheap; i-- > 0;)
        heap_down(heap, nheap, i);
    while (rc == 0 && nheap > 0) {
        cursor *k = heap[0];
        uint64_t values = 0;
        tsv_error e;
        if (count_values(&k->f, &values, &e) != 0) {
            snprintf(sh[k->shard].state, sizeof sh[k->shard].state, "error: %s", e.message);
            values = 0;
        }
        if (account_key(&sh[k->shard].a, &k->f, values, err) != 0 ||
            account_key(total, &k->f, values, err) != 0) {
            rc = -1;
            break;
        }
        int r = tsm_file_next_key(&k->f, &e);
        if (r < 0)
            snprintf(sh[k->shard].state, sizeof sh[k->shard].state, "error: %s", e.message);
        if (r == 1) {
            heap_down(heap, nheap, 0);
        } else {
            heap[0] = heap[--nheap];
            heap_down(heap, nheap, 0);
        }
    }
    for (size_t i = 0; i < c; i++)
        tsm_file_close(&cur[i].f);
    free(cur);
    free(heap);
    return rc;
}

int tsv_store_bucket_stats_json(tsv_store *s, const char *bucket_id, tsv_buf *out, tsv_error *err)
{
    tsv_bucket_layout *l;
    if (tsv_store_bucket_layout(s, bucket_id, NULL, &l, err) != 0)
        return -1;
    size_t nsh = 0;
    for (size_t r = 0; r < l->n_rps; r++)
        nsh += l->rps[r].n_shards;
    shard_info *sh = calloc(nsh ? nsh : 1, sizeof *sh);
    if (!sh) {
        tsv_bucket_layout_free(l);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    size_t k = 0;
    for (size_t r = 0; r < l->n_rps; r++)
        for (size_t i = 0; i < l->rps[r].n_shards; i++, k++) {
            sh[k].ls = &l->rps[r].shards[i];
            sh[k].rp = l->rps[r].name;
        }
    file_ref *refs = NULL;
    size_t nrefs = 0;
    acc total;
    memset(&total, 0, sizeof total);
    int rc = collect(sh, nsh, &refs, &nrefs, err);
    char version[17];
    if (rc == 0) {
        /* The bucket's version covers its shard list too. */
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        uint8_t d[32];
        unsigned dl = 0;
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        for (size_t i = 0; i < nsh; i++) {
            digest_refs(refs, nrefs, i, sh[i].version);
            char line[128];
            int n = snprintf(line, sizeof line, "%s/%" PRIu64 " %s\n", sh[i].rp, sh[i].ls->id,
                             sh[i].missing ? "missing" : sh[i].version);
            EVP_DigestUpdate(md, line, (size_t)n);
        }
        EVP_DigestFinal_ex(md, d, &dl);
        EVP_MD_CTX_free(md);
        hex16(d, version);
        int hit = cache_get(l->bucket_id, version, out, err);
        if (hit != 0) {
            rc = hit < 0 ? -1 : 0;
            goto done;
        }
        rc = compute(l, sh, nsh, refs, nrefs, &total, err);
    }
    if (rc == 0) {
        tsv_buf doc = {0};
        tsv_json_writer w;
        tsv_jw_init(&w, &doc, NULL);
        tsv_jw_object_begin(&w);
        tsv_jw_field_string(&w, "bucketID", l->bucket_id);
        tsv_jw_field_string(&w, "name", l->bucket_name);
        tsv_jw_field_string(&w, "orgID", l->org_id);
        tsv_jw_field_string(&w, "version", version);
        tsv_jw_field_u64(&w, "shardCount", nsh);
        write_acc(&w, &total);
        tsv_jw_key(&w, "shards");
        tsv_jw_array_begin(&w);
        for (size_t i = 0; i < nsh; i++) {
            tsv_jw_object_begin(&w);
            tsv_jw_field_u64(&w, "id", sh[i].ls->id);
            tsv_jw_field_string(&w, "retentionPolicy", sh[i].rp);
            tsv_jw_field_u64(&w, "shardGroupID", sh[i].ls->group_id);
            char t[TSV_RFC3339_MAX];
            tsv_jw_key(&w, "startTime");
            tsv_format_rfc3339nano(sh[i].ls->start, t, sizeof t);
            tsv_jw_string(&w, t);
            tsv_jw_key(&w, "endTime");
            tsv_format_rfc3339nano(sh[i].ls->end, t, sizeof t);
            tsv_jw_string(&w, t);
            tsv_jw_field_string(&w, "version", sh[i].version);
            tsv_jw_key(&w, "state");
            tsv_jw_string(&w, sh[i].missing    ? "missing"
                              : sh[i].state[0] ? sh[i].state
                              : sh[i].a.files  ? "ok"
                                               : "empty");
            write_acc(&w, &sh[i].a);
            tsv_jw_object_end(&w);
        }
        tsv_jw_array_end(&w);
        tsv_jw_object_end(&w);
        rc = tsv_jw_finish(&w, err);
        if (rc == 0)
            rc = tsv_buf_append(&doc, "\n", 1, err);
        if (rc == 0) {
            /* A shard in error is not cached: the next call retries it. */
            int errors = 0;
            for (size_t i = 0; i < nsh; i++)
                errors |= sh[i].state[0] != 0;
            if (!errors)
                cache_put(l->bucket_id, version, doc.data, doc.len);
            rc = tsv_buf_append(out, doc.data, doc.len, err);
        }
        tsv_buf_free(&doc);
    }
done:
    for (size_t i = 0; i < nsh; i++)
        acc_free(&sh[i].a);
    acc_free(&total);
    free(sh);
    refs_free(refs, nrefs);
    tsv_bucket_layout_free(l);
    return rc;
}
