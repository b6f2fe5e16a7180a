/* verify: read everything back and report problems (verify.h). */
#include "verify.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "array_grow.h"
#include "bolt.h"
#include "engine.h"
#include "fsutil.h"
#include "kv.h"
#include "kv_import.h"
#include "meta_store.h"
#include "store_internal.h"
#include "tombstone.h"
#include "tsm.h"
#include "verify_internal.h"

typedef struct vshard {
    char db[17 + 240];
    char rp[256];
    uint64_t id;
    int listed; /* in the meta */
} vshard;

typedef struct verifier {
    tsv_store *s;
    const tsv_verify_options *o;
    tsv_verify_summary *sum;
    tsv_verify_progress prog;
    struct timespec t0;
    vshard *shards;
    size_t n, cap;
    int cancelled;
} verifier;

static double elapsed(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* " at offset N" at the end of a message, else -1. */
static int64_t offset_of(const char *msg)
{
    const char *p = NULL, *q = msg;
    while ((q = strstr(q, " at offset ")) != NULL) {
        p = q;
        q++;
    }
    if (!p)
        return -1;
    return strtoll(p + 11, NULL, 10);
}

static int problem(verifier *v, const char *db, const char *rp, uint64_t shard, const char *file,
                   int64_t off, const char *msg, tsv_error *err)
{
    v->sum->problems++;
    v->prog.problems++;
    tsv_verify_problem p = {
        .bucket_id = db ? db : "",
        .rp = rp ? rp : "",
        .shard_id = shard,
        .file = file ? file : "",
        .offset = off,
        .message = msg,
    };
    return v->o->on_problem ? v->o->on_problem(v->o->ctx, &p, err) : 0;
}

static int add_shard(verifier *v, const char *db, const char *rp, uint64_t id, int listed)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->shards[i].id == id && strcmp(v->shards[i].db, db) == 0 &&
            strcmp(v->shards[i].rp, rp) == 0) {
            v->shards[i].listed |= listed;
            return 0;
        }
    if (TSV_ARRAY_GROW(v->shards, v->n, v->cap, NULL) != 0)
        return -1;
    vshard *x = &v->shards[v->n++];
    snprintf(x->db, sizeof x->db, "%s", db);
    snprintf(x->rp, sizeof x->rp, "%s", rp);
    x->id = id;
    x->listed = listed;
    return 0;
}

/* --- shared with verify_vault.c (verify_internal.h) ------------------------ */

static int cancel_check(verifier *v);
static void throttle(verifier *v);

int verify__problem(verifier *v, const char *db, const char *rp, uint64_t shard, const char *file,
                    int64_t off, const char *msg, tsv_error *err)
{
    return problem(v, db, rp, shard, file, off, msg, err);
}

void verify__add_totals(verifier *v, uint64_t files, uint64_t bytes)
{
    v->prog.files_total += files;
    v->prog.bytes_total += bytes;
}

int verify__file_done(verifier *v, uint64_t bytes, const char *current)
{
    v->sum->bytes += bytes;
    v->prog.bytes_done += bytes;
    v->prog.files_done++;
    v->prog.current = current;
    cancel_check(v);
    throttle(v);
    v->prog.current = NULL;
    return v->cancelled;
}

int verify__cancelled(const verifier *v) { return v->cancelled; }

/* --- 1. the KV ------------------------------------------------------------- */

typedef struct fd_out {
    int fd;
} fd_out;

static int write_fd(void *octx, const void *buf, size_t len, tsv_error *err)
{
    fd_out *o = octx;
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t k = write(o->fd, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "write temporary bolt file");
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

static int verify_kv(verifier *v, Meta__Data **meta, tsv_error *err)
{
    tsv_store *s = v->s;
    char kvfile[PATH_MAX + 16];
    snprintf(kvfile, sizeof kvfile, "state/kv/data.mdb");
    if (!s->kv)
        return problem(v, NULL, NULL, 0, kvfile, offset_of(s->kv_open_error.message),
                       s->kv_open_error.message, err);
    v->sum->kv_checked = 1;
    tsv_error e;
    tsv_store_shared_lock(s);
    int rc = tsv_kv_check(s->kv, &e);
    tsv_store_shared_unlock(s);
    if (rc != 0)
        return problem(v, NULL, NULL, 0, kvfile, offset_of(e.message), e.message, err);

    /* The bolt export must pass the validation an uploaded bolt file gets. */
    const char *tmpdir = s->opt.read_only ? getenv("TMPDIR") : s->tmp_dir;
    char path[PATH_MAX];
    if (tsv_path_join(path, sizeof path, err, "%s/tsv-verify-XXXXXX.bolt",
                      tmpdir && *tmpdir ? tmpdir : "/tmp") != 0)
        return -1;
    int fd = mkstemps(path, 5);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "create %s", path);
    fd_out out = {.fd = fd};
    tsv_store_shared_lock(s);
    tsv_kv_txn *txn = NULL;
    rc = tsv_kv_begin(s->kv, 0, &txn, &e);
    if (rc == 0)
        rc = tsv_kv_export_bolt(txn, write_fd, &out, NULL, &e);
    if (rc == 0)
        rc = tsv_meta_load(txn, meta, NULL, &e) == 0 ? 0 : 1;
    tsv_kv_abort(txn);
    tsv_store_shared_unlock(s);
    close(fd);
    int prc = 0;
    if (rc == 1) {
        char msg[TSV_ERROR_MSG_MAX + 64];
        snprintf(msg, sizeof msg, "tsdb meta (v1_tsm1_metadata/meta.db): %s", e.message);
        prc = problem(v, NULL, NULL, 0, kvfile, -1, msg, err);
        *meta = NULL;
        rc = 0;
        /* The bolt file was still written: validate it below. */
    } else if (rc != 0) {
        prc = problem(v, NULL, NULL, 0, kvfile, -1, e.message, err);
    }
    if (prc == 0 && rc == 0) {
        tsv_bolt_file *bf = NULL;
        if (tsv_bolt_open(&bf, path, &e) != 0) {
            char msg[TSV_ERROR_MSG_MAX + 64];
            snprintf(msg, sizeof msg, "bbolt export of the KV store fails validation: %s",
                     e.message);
            prc = problem(v, NULL, NULL, 0, kvfile, -1, msg, err);
        }
        tsv_bolt_close(bf);
    }
    unlink(path);
    return prc;
}

/* --- 2./3. shard files ------------------------------------------------------- */

static int cancel_check(verifier *v)
{
    if (v->o->on_progress && v->o->on_progress(v->o->ctx, &v->prog) != 0)
        v->cancelled = 1;
    return v->cancelled;
}

static void throttle(verifier *v)
{
    uint64_t rate = v->o->max_bytes_per_sec;
    if (!rate)
        return;
    for (;;) {
        double want = (double)v->prog.bytes_done / (double)rate, have = elapsed(&v->t0);
        if (have >= want || v->cancelled)
            return;
        double d = want - have > 0.1 ? 0.1 : want - have;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(d * 1e9)};
        nanosleep(&ts, NULL);
        cancel_check(v);
    }
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int verify_shard(verifier *v, const vshard *sh, tsv_error *err)
{
    char dir[PATH_MAX], rel[PATH_MAX];
    if (tsv_path_join(dir, sizeof dir, err, "%s/engine/data/%s/%s/%" PRIu64, v->s->state_dir,
                      sh->db, sh->rp, sh->id) != 0 ||
        tsv_path_join(rel, sizeof rel, err, "state/engine/data/%s/%s/%" PRIu64, sh->db, sh->rp,
                      sh->id) != 0)
        return -1;
    v->sum->shards++;
    if (!sh->listed)
        return problem(v, sh->db, sh->rp, sh->id, rel, -1,
                       "shard directory not listed in the tsdb meta (orphan)", err);
    tsv_shard_lock(sh->id);
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        tsv_shard_unlock(sh->id);
        char msg[300];
        snprintf(msg, sizeof msg, "shard directory %s: %s", e == ENOENT ? "missing" : "unreadable",
                 strerror(e));
        return problem(v, sh->db, sh->rp, sh->id, rel, -1, msg, err);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!tsv_tsm_name_valid(de->d_name) && !tsv_tombstone_name_valid(de->d_name))
            continue;
        if (TSV_ARRAY_GROW(names, n, cap, NULL) != 0)
            break;
        if ((names[n] = strdup(de->d_name)) != NULL)
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, name_cmp);
    /* Open every file while the shard is locked, so a concurrent restore is
     * seen wholly or not at all; read them afterwards. fds[i] < 0: -errno. */
    int *fds = calloc(n ? n : 1, sizeof *fds);
    for (size_t i = 0; fds && i < n; i++) {
        char p[PATH_MAX + 256];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        fds[i] = open(p, O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0)
            fds[i] = -errno;
    }
    tsv_shard_unlock(sh->id);
    int rc = fds ? 0 : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    for (size_t i = 0; rc == 0 && i < n && !v->cancelled; i++) {
        char frel[PATH_MAX + 256];
        snprintf(frel, sizeof frel, "%s/%s", rel, names[i]);
        int fd = fds[i];
        if (fd < 0) {
            char msg[300];
            snprintf(msg, sizeof msg, "cannot open: %s", strerror(-fd));
            rc = problem(v, sh->db, sh->rp, sh->id, frel, -1, msg, err);
            continue;
        }
        struct stat st;
        fstat(fd, &st);
        tsv_error e;
        int bad;
        if (tsv_tsm_name_valid(names[i])) {
            tsv_tsm_stats ts;
            bad = tsv_tsm_verify_fd_ex(fd, frel, 0, &ts, &e) != 0;
            if (!bad) {
                v->sum->blocks += ts.blocks;
                v->sum->values += ts.values;
            }
            v->sum->tsm_files++;
        } else {
            bad = tsv_tombstone_verify_fd(fd, frel, NULL, &e) != 0;
            v->sum->tombstone_files++;
            /* Its TSM file must exist. */
            char tsm[PATH_MAX + 256];
            size_t bl = strlen(names[i]) - strlen(".tombstone");
            snprintf(tsm, sizeof tsm, "%.*s.tsm", (int)bl, names[i]);
            int found = 0;
            for (size_t k = 0; k < n; k++)
                found |= strcmp(names[k], tsm) == 0;
            if (!found && rc == 0)
                rc = problem(v, sh->db, sh->rp, sh->id, frel, -1, "tombstone without its TSM file",
                             err);
        }
        close(fd);
        fds[i] = -EBADF;
        v->sum->bytes += (uint64_t)st.st_size;
        v->prog.bytes_done += (uint64_t)st.st_size;
        v->prog.files_done++;
        v->prog.current = frel;
        if (bad && rc == 0)
            rc = problem(v, sh->db, sh->rp, sh->id, frel, offset_of(e.message), e.message, err);
        cancel_check(v);
        throttle(v);
        v->prog.current = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (fds && fds[i] >= 0)
            close(fds[i]);
        free(names[i]);
    }
    free(fds);
    free(names);
    return rc;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* Shard directories on disk: engine/data/<db>/<rp>/<id>. */
static int scan_disk(verifier *v, const char *only_db, tsv_error *err)
{
    char root[PATH_MAX];
    if (tsv_path_join(root, sizeof root, err, "%s/engine/data", v->s->state_dir) != 0)
        return -1;
    DIR *d1 = opendir(root);
    if (!d1)
        return errno == ENOENT ? 0
                               : tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", root);
    struct dirent *a;
    int rc = 0;
    while (rc == 0 && (a = readdir(d1)) != NULL) {
        if (a->d_name[0] == '.' || (only_db && strcmp(a->d_name, only_db) != 0))
            continue;
        char p2[PATH_MAX];
        DIR *d2 =
            tsv_path_join(p2, sizeof p2, NULL, "%s/%s", root, a->d_name) == 0 ? opendir(p2) : NULL;
        if (!d2)
            continue;
        struct dirent *b;
        while (rc == 0 && (b = readdir(d2)) != NULL) {
            if (b->d_name[0] == '.')
                continue;
            char p3[PATH_MAX];
            DIR *d3 = tsv_path_join(p3, sizeof p3, NULL, "%s/%s", p2, b->d_name) == 0 ? opendir(p3)
                                                                                      : NULL;
            if (!d3)
                continue;
            struct dirent *c;
            while (rc == 0 && (c = readdir(d3)) != NULL)
                if (all_digits(c->d_name) &&
                    add_shard(v, a->d_name, b->d_name, strtoull(c->d_name, NULL, 10), 0) != 0)
                    rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            closedir(d3);
        }
        closedir(d2);
    }
    closedir(d1);
    return rc;
}

static int shard_cmp(const void *a, const void *b)
{
    const vshard *x = a, *y = b;
    int c = strcmp(x->db, y->db);
    if (c)
        return c;
    if ((c = strcmp(x->rp, y->rp)))
        return c;
    return x->id < y->id ? -1 : x->id > y->id;
}

int tsv_store_verify(tsv_store *s, const tsv_verify_options *opt, tsv_verify_summary *sum,
                     tsv_error *err)
{
    verifier v;
    memset(&v, 0, sizeof v);
    memset(sum, 0, sizeof *sum);
    v.s = s;
    v.o = opt;
    v.sum = sum;
    clock_gettime(CLOCK_MONOTONIC, &v.t0);
    Meta__Data *meta = NULL;
    int rc = 0;
    if (!opt->bucket_id) {
        rc = verify_kv(&v, &meta, err);
    } else if (s->kv) {
        /* One bucket: the meta only (the KV as a whole is not re-checked). */
        tsv_store_shared_lock(s);
        tsv_kv_txn *txn = NULL;
        tsv_error e;
        int r = tsv_kv_begin(s->kv, 0, &txn, &e);
        if (r == 0)
            r = tsv_meta_load(txn, &meta, NULL, &e);
        tsv_kv_abort(txn);
        tsv_store_shared_unlock(s);
        if (r != 0)
            rc = problem(&v, NULL, NULL, 0, "state/kv/data.mdb", -1, e.message, err);
        else if (!tsv_meta_find_database(meta, opt->bucket_id))
            rc = tsv_error_set(err, TSV_ENOTFOUND, "bucket %s not found", opt->bucket_id);
    }
    if (rc == 0 && meta) {
        for (size_t d = 0; rc == 0 && d < meta->n_databases; d++) {
            const Meta__DatabaseInfo *db = meta->databases[d];
            if (opt->bucket_id && strcmp(db->name, opt->bucket_id) != 0)
                continue;
            sum->buckets++;
            for (size_t r = 0; rc == 0 && r < db->n_retentionpolicies; r++) {
                const Meta__RetentionPolicyInfo *rp = db->retentionpolicies[r];
                for (size_t g = 0; rc == 0 && g < rp->n_shardgroups; g++) {
                    const Meta__ShardGroupInfo *sg = rp->shardgroups[g];
                    if (sg->deletedat != 0)
                        continue;
                    for (size_t k = 0; rc == 0 && k < sg->n_shards; k++)
                        if (add_shard(&v, db->name, rp->name, sg->shards[k]->id, 1) != 0)
                            rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
                }
            }
        }
    }
    if (rc == 0)
        rc = scan_disk(&v, opt->bucket_id, err);
    if (rc == 0 && !meta) {
        /* Without a meta every directory found is checked as listed. */
        for (size_t i = 0; i < v.n; i++)
            v.shards[i].listed = 1;
    }
    if (rc == 0) {
        if (v.n) /* qsort of NULL is undefined even for 0 elements */
            qsort(v.shards, v.n, sizeof *v.shards, shard_cmp);
        /* Totals for progress. */
        for (size_t i = 0; i < v.n; i++) {
            char dir[PATH_MAX];
            DIR *d =
                tsv_path_join(dir, sizeof dir, NULL, "%s/engine/data/%s/%s/%" PRIu64, s->state_dir,
                              v.shards[i].db, v.shards[i].rp, v.shards[i].id) == 0
                    ? opendir(dir)
                    : NULL;
            if (!d)
                continue;
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (!tsv_tsm_name_valid(de->d_name) && !tsv_tombstone_name_valid(de->d_name))
                    continue;
                char p[PATH_MAX + 256];
                struct stat st;
                snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
                if (stat(p, &st) == 0) {
                    v.prog.files_total++;
                    v.prog.bytes_total += (uint64_t)st.st_size;
                }
            }
            closedir(d);
        }
        for (size_t i = 0; rc == 0 && i < v.n && !v.cancelled; i++)
            rc = verify_shard(&v, &v.shards[i], err);
    }
    /* 4. the vault: every object against its name, the catalogue's
     * references (verify_vault.c). */
    if (rc == 0 && !v.cancelled && s->vault)
        rc = verify__vault(&v, s, opt->bucket_id, err);
    if (rc == 0 && v.cancelled)
        rc = tsv_error_set(err, TSV_EUNAVAILABLE, "verify cancelled");
    sum->seconds = elapsed(&v.t0);
    tsv_meta_free(meta);
    free(v.shards);
    return rc;
}
