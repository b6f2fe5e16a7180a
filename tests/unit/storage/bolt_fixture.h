/*
 * bolt_fixture: what test_bolt and test_kv_bolt share (include after
 * harness.h and bolt_model.h): a temporary directory holding the two real
 * InfluxDB bolt files, a growing string, the canonical dump of
 * tests/tools/boltcheck ("B <path> <seq>" / "K <path> <hexkey> <hexval>")
 * built from a model or from our reader's walk, the comparison of two dumps,
 * the Go checker, a model as a tsv_bolt_source and a FILE sink for the
 * writers.
 */
#ifndef TSV_TEST_BOLT_FIXTURE_H
#define TSV_TEST_BOLT_FIXTURE_H

#include "bolt.h"
#include "bolt_model.h"
#include "harness.h"

#include <sys/stat.h>

/* The page size of the files the writers produce. */
#define BOLT_PAGE 4096u

/* The group's directory and, in it or in testdata, the two real files. */
static char bolt_tmpdir[256];
static char bolt_live[512];
static char bolt_backup[512];

/* cmocka group setup/teardown for bolt_tmpdir, bolt_live and bolt_backup. */
static inline int bolt_fixture_setup(void **state)
{
    (void)state;
    if (harness_tmpdir(bolt_tmpdir, sizeof bolt_tmpdir, program_invocation_short_name) != 0)
        return -1;
    harness_real_bolts(bolt_tmpdir, bolt_live, sizeof bolt_live, bolt_backup, sizeof bolt_backup);
    return 0;
}

static inline int bolt_fixture_teardown(void **state)
{
    (void)state;
    return harness_rmtree_unless_kept(bolt_tmpdir);
}

/* ---- a growing NUL-terminated string: zero-initialise, sb_free ---------- */

typedef harness_buf sbuf;

static inline void sb_add(sbuf *s, const void *buf, size_t len)
{
    harness_buf_add(s, buf, len);
    harness_buf_add(s, "", 1);
    s->n--; /* the NUL stays behind the string */
}

static inline void sb_str(sbuf *s, const char *str) { sb_add(s, str, strlen(str)); }

static inline void sb_hex(sbuf *s, const uint8_t *b, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        char two[2] = {digits[b[i] >> 4], digits[b[i] & 15]};
        sb_add(s, two, 2);
    }
}

static inline void sb_u64(sbuf *s, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    sb_str(s, num);
}

static inline void sb_free(sbuf *s)
{
    free(s->p);
    *s = (sbuf){0};
}

/* ---- dump lines, given the current bucket path (hex names joined by "/") */

static inline void line_bucket(sbuf *out, const sbuf *path, uint64_t seq)
{
    sb_str(out, "B ");
    sb_add(out, path->p, path->n); /* path->p is NULL while empty */
    sb_str(out, " ");
    sb_u64(out, seq);
    sb_str(out, "\n");
}

static inline void line_value(sbuf *out, const sbuf *path, const uint8_t *k, size_t kl,
                              const uint8_t *v, size_t vl)
{
    sb_str(out, "K ");
    sb_add(out, path->p, path->n); /* path->p is NULL while empty */
    sb_str(out, " ");
    sb_hex(out, k, kl);
    sb_str(out, " ");
    sb_hex(out, v, vl);
    sb_str(out, "\n");
}

/* Appends a bucket name to path; returns what path_pop restores. */
static inline size_t path_push(sbuf *path, const uint8_t *name, size_t len)
{
    size_t saved = path->n;
    if (path->n)
        sb_str(path, "/");
    sb_hex(path, name, len);
    return saved;
}

static inline void path_pop(sbuf *path, size_t saved)
{
    path->n = saved;
    if (path->p)
        path->p[saved] = '\0';
}

/* Fails the test where two dumps first differ. */
static inline void assert_dump_equal(const char *what, const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return;
    size_t i = 0, line = 1;
    while (a[i] && a[i] == b[i]) {
        if (a[i] == '\n')
            line++;
        i++;
    }
    fail_msg("%s: dumps differ at line %zu (byte %zu): [%.100s] vs [%.100s]", what, line, i, a + i,
             b + i);
}

/* ---- dumps of a model and of a bolt file (our reader) -------------------- */

static inline void model_dump_rec(const mem_bucket *b, sbuf *out, sbuf *path)
{
    for (size_t i = 0; i < b->n; i++) {
        const mem_entry *e = &b->v[i];
        if (e->is_bucket) {
            size_t saved = path_push(path, e->key, e->klen);
            line_bucket(out, path, e->child->sequence);
            model_dump_rec(e->child, out, path);
            path_pop(path, saved);
        } else {
            line_value(out, path, e->key, e->klen, e->val, e->vlen);
        }
    }
}

/* The model's dump, malloc'd (caller frees). */
static inline char *model_dump(const mem_bucket *root)
{
    sbuf out = {0}, path = {0};
    sb_str(&out, "");
    model_dump_rec(root, &out, &path);
    sb_free(&path);
    return (char *)out.p;
}

typedef struct walk_dump {
    sbuf out, path;
    size_t saved[80];
    int depth;
} walk_dump;

static inline int wd_begin(void *ctx, const uint8_t *name, size_t len, uint64_t seq, tsv_error *err)
{
    (void)err;
    walk_dump *d = ctx;
    assert_true(d->depth < 80);
    d->saved[d->depth++] = path_push(&d->path, name, len);
    line_bucket(&d->out, &d->path, seq);
    return 0;
}

static inline int wd_end(void *ctx, tsv_error *err)
{
    (void)err;
    walk_dump *d = ctx;
    assert_true(d->depth > 0);
    path_pop(&d->path, d->saved[--d->depth]);
    return 0;
}

static inline int wd_value(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                           tsv_error *err)
{
    (void)err;
    walk_dump *d = ctx;
    line_value(&d->out, &d->path, k, kl, v, vl);
    return 0;
}

/* Our reader's dump of an open file, malloc'd (caller frees). */
static inline char *walk_dump_of(tsv_bolt_file *f)
{
    static const tsv_bolt_visitor v = {wd_begin, wd_end, wd_value};
    walk_dump d = {0};
    sb_str(&d.out, "");
    tsv_error err = {0};
    if (tsv_bolt_walk(f, &v, &d, &err) != 0)
        fail_msg("walk: %s", err.message);
    assert_int_equal(d.depth, 0);
    sb_free(&d.path);
    return (char *)d.out.p;
}

static inline tsv_bolt_file *bolt_open_ok(const char *path)
{
    tsv_bolt_file *f = NULL;
    tsv_error err = {0};
    if (tsv_bolt_open(&f, path, &err) != 0)
        fail_msg("open %s: %s", path, err.message);
    return f;
}

/* Our reader's dump of the file at path; *root_seq (if not NULL) gets its
 * root sequence. */
static inline char *bolt_file_dump(const char *path, uint64_t *root_seq)
{
    tsv_bolt_file *f = bolt_open_ok(path);
    char *d = walk_dump_of(f);
    if (root_seq)
        *root_seq = tsv_bolt_root_sequence(f);
    tsv_bolt_close(f);
    return d;
}

/* ---- the independent checker (tests/tools/boltcheck) --------------------- */

/* bbolt's dump of path (after tx.Check(); with rw, then a StrictMode commit
 * on it); fails unless it exits 0 with nothing on stderr (the checker
 * reports every problem there). NULL when the check may be skipped. */
static inline char *go_dump(const char *path, int rw)
{
    const char *tool = harness_boltcheck_path();
    if (!tool)
        return NULL;
    assert_null(strchr(tool, '\''));
    assert_null(strchr(path, '\''));
    char errpath[600], cmd[1600];
    snprintf(errpath, sizeof errpath, "%s.boltcheck-stderr", path);
    snprintf(cmd, sizeof cmd, "'%s' %s'%s' 2>'%s'", tool, rw ? "-rw " : "", path, errpath);
    int status;
    char *out = harness_popen_read(cmd, &status);
    size_t elen = 0;
    uint8_t *errtext = harness_read_bytes(errpath, &elen);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || elen != 0)
        fail_msg("boltcheck%s %s: status 0x%x, stderr: %.*s", rw ? " -rw" : "", path, status,
                 (int)(elen > 800 ? 800 : elen), (const char *)errtext);
    free(errtext);
    unlink(errpath);
    return out;
}

/* ---- a model as a tsv_bolt_source, and a FILE as the writers' output ----- */

/* handle = mem_bucket pointer, 0 = root. mutate, if set: from its
 * mutate_from-th cursor_open on, that bucket's values read one byte shorter
 * (a source that is not a stable snapshot). */
typedef struct mem_source {
    mem_bucket *root;
    mem_bucket *mutate;
    int mutate_from;
} mem_source;

typedef struct mem_cursor {
    mem_bucket *b;
    size_t i;
    int shrink;
} mem_cursor;

static inline int mem_open(void *ctx, uint64_t bucket, void **cursor, tsv_error *err)
{
    mem_source *ms = ctx;
    mem_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return tsv_error_set(err, TSV_EINTERNAL, "oom");
    c->b = bucket ? (mem_bucket *)(uintptr_t)bucket : ms->root;
    c->b->opens++;
    c->shrink = c->b == ms->mutate && c->b->opens >= ms->mutate_from;
    *cursor = c;
    return 0;
}

static inline int mem_next(void *cursor, tsv_bolt_entry *e, tsv_error *err)
{
    (void)err;
    mem_cursor *c = cursor;
    if (c->i == c->b->n)
        return 0;
    const mem_entry *m = &c->b->v[c->i++];
    *e = (tsv_bolt_entry){.key = m->key, .klen = m->klen, .is_bucket = m->is_bucket};
    if (m->is_bucket) {
        e->child = (uint64_t)(uintptr_t)m->child;
        e->sequence = m->child->sequence;
    } else {
        e->val = m->val;
        e->vlen = m->vlen;
        if (c->shrink && e->vlen)
            e->vlen--;
    }
    return 1;
}

static inline void mem_close(void *cursor) { free(cursor); }

static inline tsv_bolt_source mem_source_of(mem_source *ms, uint64_t root_sequence)
{
    return (tsv_bolt_source){
        .ctx = ms,
        .cursor_open = mem_open,
        .cursor_next = mem_next,
        .cursor_close = mem_close,
        .root_sequence = root_sequence,
    };
}

/* tsv_bolt_write / tsv_kv_export_bolt output into the FILE octx. */
static inline int out_file(void *octx, const void *buf, size_t len, tsv_error *err)
{
    if (fwrite(buf, 1, len, (FILE *)octx) != len)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "fwrite");
    return 0;
}

/* ---- parts of the generated trees ------------------------------------------- */

/* Puts vlen random bytes (from the test's own generator) under key. */
typedef void (*mb_random_fn)(mem_bucket *b, const void *key, size_t klen, size_t vlen);

/* A bucket with the binary name "\0bin\xff" in root, holding 10-byte values
 * under 1- and 2-byte keys made of 0x00, 0xff, 0x7f and 0x80. */
static inline mem_bucket *gen_binary_bucket(mem_bucket *root, mb_random_fn put_random)
{
    mem_bucket *bin = mb_sub(root,
                             "\x00"
                             "bin\xff",
                             5, 0);
    const uint8_t bk[][3] = {{0}, {0, 0}, {0, 0xff}, {0xff}, {0xff, 0xff}, {0x7f}, {0x80, 0}};
    const size_t bl[] = {1, 2, 2, 1, 2, 1, 2};
    for (size_t i = 0; i < 7; i++)
        put_random(bin, bk[i], bl[i], 10);
    return bin;
}

/* n top-level buckets "tb0000"... (sequence i), enough of them for the root
 * to need branch pages; every 50th holds a random 3000-byte value, the
 * others their name. */
static inline void gen_top_buckets(mem_bucket *root, int n, mb_random_fn put_random)
{
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "tb%04d", i);
        mem_bucket *tb = mb_sub(root, key, strlen(key), (uint64_t)i);
        if (i % 50 == 0)
            put_random(tb, "v", 1, 3000);
        else
            mb_puts(tb, "v", key);
    }
}

/* Writes root to path through mem_source; on success the file holds
 * exactly the bytes the writer reports, whole pages. */
static inline int write_tree(const char *path, mem_bucket *root, tsv_error *err)
{
    mem_source ms = {.root = root};
    tsv_bolt_source src = mem_source_of(&ms, root->sequence);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    uint64_t written = 0;
    int rc = tsv_bolt_write(&src, out_file, fp, &written, err);
    assert_int_equal(fclose(fp), 0);
    if (rc == 0) {
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal((uint64_t)st.st_size, written);
        assert_int_equal(written % BOLT_PAGE, 0);
    }
    return rc;
}

static inline void write_tree_ok(const char *path, mem_bucket *root)
{
    tsv_error err = {0};
    if (write_tree(path, root, &err) != 0)
        fail_msg("write %s: %s", path, err.message);
}

#endif
