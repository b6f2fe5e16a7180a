/* archive_detect: dataFormat of a staged file, its validation, restore plans. */
#include "archive_detect.h"
#include "archive_members.h"
#include "array_grow.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bolt.h"
#include "fsutil.h"
#include "import_1x.h"
#include "random.h"
#include "restore.h"
#include "shard_install.h"
#include "tombstone.h"
#include "tsm.h"
#include "tsm_trust.h"
#include "tsv_log.h"

#define CHUNK (1024 * 1024)

const char *tsv_data_format_name(tsv_data_format f)
{
    switch (f) {
    case TSV_FORMAT_INFLUX_BACKUP:
        return "influx-backup";
    case TSV_FORMAT_INFLUXDB1_PORTABLE:
        return "influxdb1-portable";
    case TSV_FORMAT_SHARD:
        return "shard";
    case TSV_FORMAT_BOLT:
        return "bolt";
    case TSV_FORMAT_SQLITE:
        return "sqlite";
    default:
        return "unknown";
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- the member list of pass 1 ------------------------------------------- */

void archive_members__free(archive_members *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].name);
        free(m->v[i].text);
    }
    free(m->v);
    memset(m, 0, sizeof *m);
}

archive_member *archive_members__find(const archive_members *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].name, name) == 0)
            return &m->v[i];
    return NULL;
}

int archive_members__add(archive_members *m, const char *name, uint64_t size, archive_member **out,
                         tsv_error *err)
{
    *out = NULL;
    if (archive_members__find(m, name))
        return tsv_error_set(err, TSV_EINVALID, "archive holds two files named \"%s\"", name);
    if (TSV_ARRAY_GROW(m->v, m->n, m->cap, err) != 0)
        return -1;
    archive_member *x = &m->v[m->n];
    memset(x, 0, sizeof *x);
    if (!(x->name = strdup(name)))
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    x->size = size;
    m->n++;
    if (!tsv_tsm_name_valid(name) && !tsv_tombstone_name_valid(name))
        m->shard_like = 0;
    *out = x;
    return 0;
}

int archive_members__is_text(const char *name)
{
    return ends_with(name, ".manifest") || ends_with(name, ".meta");
}

static int read_members(const char *path, archive_members *m, tsv_error *err)
{
    tsv_archive *a;
    if (tsv_archive_open(&a, path, err) != 0)
        return -1;
    m->shard_like = 1;
    int rc;
    tsv_archive_entry e;
    while ((rc = tsv_archive_next(a, &e, err)) == 1) {
        archive_member *x;
        if (archive_members__add(m, e.name, e.size, &x, err) != 0 ||
            (archive_members__is_text(e.name) &&
             tsv_archive_read_member(a, &e, ARCHIVE_TEXT_MAX, &x->text, &x->text_len, err) != 0)) {
            rc = -1;
            break;
        }
    }
    tsv_archive_close(a);
    if (rc == 0 && m->n == 0)
        m->shard_like = 0;
    return rc;
}

/* ---- plans ---------------------------------------------------------------- */

void tsv_backup_plan_clear(tsv_backup_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_docs; i++)
        tsv_json_free(p->docs[i]);
    free(p->docs);
    free(p->kv_file);
    free(p->sql_file);
    free(p->buckets);
    tsv_meta_free(p->meta1);
    for (size_t i = 0; i < p->n_shards; i++) {
        free(p->shards[i].file);
        free(p->shards[i].db);
        free(p->shards[i].rp);
    }
    free(p->shards);
    memset(p, 0, sizeof *p);
}

static int add_shard(tsv_backup_plan *p, uint64_t id, const char *file, size_t flen, int gzip,
                     uint64_t size, size_t bucket, const char *db, const char *rp, tsv_error *err)
{
    if (TSV_ARRAY_GROW(p->shards, p->n_shards, p->cap_shards, err) != 0)
        return -1;
    tsv_plan_shard *s = &p->shards[p->n_shards];
    memset(s, 0, sizeof *s);
    s->id = id;
    s->file = strndup(file, flen);
    s->gzip = gzip;
    s->size = size;
    s->bucket = bucket;
    s->db = db ? strdup(db) : NULL;
    s->rp = rp ? strdup(rp) : NULL;
    p->n_shards++;
    if (!s->file || (db && !s->db) || (rp && !s->rp))
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    p->shard_bytes += size;
    return 0;
}

/* {"fileName","size","compression"} of a v2 manifest, checked against the
 * member list. */
static int file_ref(const tsv_json *o, const archive_members *m, const char *what,
                    const char **name, size_t *nlen, int *gzip, uint64_t *size, tsv_error *err)
{
    if (!o || o->type != TSV_JSON_OBJECT)
        return tsv_error_set(err, TSV_EINVALID, "manifest: %s is missing", what);
    uint64_t sz = 0, comp = 0;
    if (tsv_json_string(tsv_json_get(o, "fileName"), name, nlen, "fileName", err) != 0 ||
        tsv_json_u64(tsv_json_get(o, "size"), &sz, "size", err) != 0)
        return tsv_error_wrap(err, "manifest: %s", what);
    const tsv_json *c = tsv_json_get(o, "compression");
    if (c && tsv_json_u64(c, &comp, "compression", err) != 0)
        return tsv_error_wrap(err, "manifest: %s", what);
    if (comp > 1)
        return tsv_error_set(err, TSV_EINVALID, "manifest: %s: unknown compression %" PRIu64, what,
                             comp);
    if (strlen(*name) != *nlen || strchr(*name, '/'))
        return tsv_error_set(err, TSV_EINVALID, "manifest: %s: bad fileName", what);
    const archive_member *x = archive_members__find(m, *name);
    if (!x)
        return tsv_error_set(err, TSV_EINVALID, "%s: listed in the manifest but not in the archive",
                             *name);
    if (x->size != sz)
        return tsv_error_set(err, TSV_EINVALID,
                             "%s: %" PRIu64 " bytes in the archive, the manifest says %" PRIu64,
                             *name, x->size, sz);
    *gzip = comp == 1;
    *size = sz;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp((*(const archive_member *const *)a)->name,
                  (*(const archive_member *const *)b)->name);
}

static int plan_v2(tsv_backup_plan *p, archive_member **mans, size_t nm, const archive_members *m,
                   tsv_error *err)
{
    p->format = TSV_FORMAT_INFLUX_BACKUP;
    qsort(mans, nm, sizeof *mans, cmp_names);
    p->docs = calloc(nm, sizeof *p->docs);
    if (!p->docs)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    const tsv_json *last = NULL;
    size_t total_buckets = 0;
    for (size_t i = 0; i < nm; i++) {
        if (tsv_json_parse(&p->docs[i], mans[i]->text, mans[i]->text_len, err) != 0)
            return tsv_error_wrap(err, "%s", mans[i]->name);
        p->n_docs++;
        const tsv_json *root = tsv_json_root(p->docs[i]);
        uint64_t ver = 0;
        if (root->type != TSV_JSON_OBJECT ||
            tsv_json_u64(tsv_json_get(root, "manifestVersion"), &ver, "manifestVersion", err) != 0)
            return tsv_error_set(err, TSV_EINVALID, "%s: not an influx backup manifest",
                                 mans[i]->name);
        if (ver != 2)
            return tsv_error_set(err, TSV_EINVALID, "%s: unsupported manifestVersion %" PRIu64,
                                 mans[i]->name, ver);
        const tsv_json *b = tsv_json_get(root, "buckets");
        if (b && b->type != TSV_JSON_ARRAY)
            return tsv_error_set(err, TSV_EINVALID, "%s: buckets is not an array", mans[i]->name);
        total_buckets += b ? b->count : 0;
        last = root;
    }
    const char *name;
    size_t nlen;
    uint64_t size;
    if (file_ref(tsv_json_get(last, "kv"), m, "kv", &name, &nlen, &p->kv_gzip, &size, err) != 0)
        return -1;
    p->kv_file = strndup(name, nlen);
    const tsv_json *sql = tsv_json_get(last, "sql");
    if (sql && sql->type != TSV_JSON_NULL) {
        if (file_ref(sql, m, "sql", &name, &nlen, &p->sql_gzip, &size, err) != 0)
            return -1;
        p->sql_file = strndup(name, nlen);
    }
    p->buckets = calloc(total_buckets ? total_buckets : 1, sizeof *p->buckets);
    if (!p->kv_file || !p->buckets)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    /* Buckets de-duplicated by org/bucket name, the latest manifest wins (as
     * the influx CLI merges them). */
    for (size_t i = 0; i < p->n_docs; i++) {
        const tsv_json *b = tsv_json_get(tsv_json_root(p->docs[i]), "buckets");
        for (size_t j = 0; b && j < b->count; j++) {
            const tsv_json *bk = b->items[j];
            const char *on, *bn;
            size_t ol, bl;
            if (bk->type != TSV_JSON_OBJECT ||
                tsv_json_string(tsv_json_get(bk, "organizationName"), &on, &ol, "organizationName",
                                err) != 0 ||
                tsv_json_string(tsv_json_get(bk, "bucketName"), &bn, &bl, "bucketName", err) != 0)
                return tsv_error_set(err, TSV_EINVALID,
                                     "%s: bucket %zu lacks organizationName/bucketName",
                                     mans[i]->name, j);
            size_t k;
            for (k = 0; k < p->n_buckets; k++) {
                const char *on2 = tsv_json_get(p->buckets[k], "organizationName")->str;
                const char *bn2 = tsv_json_get(p->buckets[k], "bucketName")->str;
                if (strcmp(on, on2) == 0 && strcmp(bn, bn2) == 0)
                    break;
            }
            p->buckets[k] = bk;
            if (k == p->n_buckets)
                p->n_buckets++;
        }
    }
    for (size_t k = 0; k < p->n_buckets; k++) {
        const tsv_json *rps = tsv_json_get(p->buckets[k], "retentionPolicies");
        for (size_t r = 0; rps && rps->type == TSV_JSON_ARRAY && r < rps->count; r++) {
            const tsv_json *groups = tsv_json_get(rps->items[r], "shardGroups");
            for (size_t g = 0; groups && groups->type == TSV_JSON_ARRAY && g < groups->count; g++) {
                const tsv_json *shards = tsv_json_get(groups->items[g], "shards");
                for (size_t s = 0; shards && shards->type == TSV_JSON_ARRAY && s < shards->count;
                     s++) {
                    const tsv_json *sh = shards->items[s];
                    uint64_t id;
                    int gz;
                    if (tsv_json_u64(tsv_json_get(sh, "id"), &id, "shard id", err) != 0)
                        return tsv_error_wrap(err, "manifest");
                    char what[64];
                    snprintf(what, sizeof what, "shard %" PRIu64, id);
                    if (file_ref(sh, m, what, &name, &nlen, &gz, &size, err) != 0 ||
                        add_shard(p, id, name, nlen, gz, size, k, NULL, NULL, err) != 0)
                        return -1;
                }
            }
        }
    }
    return 0;
}

static int plan_1x(tsv_backup_plan *p, archive_member *man, const archive_members *m,
                   tsv_error *err)
{
    p->format = TSV_FORMAT_INFLUXDB1_PORTABLE;
    p->docs = calloc(1, sizeof *p->docs);
    if (!p->docs)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (tsv_json_parse(&p->docs[0], man->text, man->text_len, err) != 0)
        return tsv_error_wrap(err, "%s", man->name);
    p->n_docs = 1;
    const tsv_json *root = tsv_json_root(p->docs[0]);
    const tsv_json *meta = tsv_json_get(root, "meta");
    const tsv_json *files = tsv_json_get(root, "files");
    const char *mname;
    size_t mlen;
    if (!meta || meta->type != TSV_JSON_OBJECT ||
        tsv_json_string(tsv_json_get(meta, "fileName"), &mname, &mlen, "meta.fileName", err) != 0)
        return tsv_error_set(err, TSV_EINVALID, "%s: meta.fileName missing", man->name);
    if (!files || files->type != TSV_JSON_ARRAY)
        return tsv_error_set(err, TSV_EINVALID, "%s: files is not an array", man->name);
    const archive_member *mm = archive_members__find(m, mname);
    if (!mm || !mm->text)
        return tsv_error_set(err, TSV_EINVALID, "%s: listed in the manifest but not in the archive",
                             mname);
    if (tsv_portable_meta_decode((const uint8_t *)mm->text, mm->text_len, &p->meta1, err) != 0)
        return tsv_error_wrap(err, "%s", mname);
    for (size_t i = 0; i < files->count; i++) {
        const tsv_json *f = files->items[i];
        const char *fn, *db, *rp;
        size_t fl, dl, rl;
        uint64_t id;
        if (f->type != TSV_JSON_OBJECT ||
            tsv_json_string(tsv_json_get(f, "fileName"), &fn, &fl, "fileName", err) != 0 ||
            tsv_json_string(tsv_json_get(f, "database"), &db, &dl, "database", err) != 0 ||
            tsv_json_string(tsv_json_get(f, "policy"), &rp, &rl, "policy", err) != 0 ||
            tsv_json_u64(tsv_json_get(f, "shardID"), &id, "shardID", err) != 0)
            return tsv_error_wrap(err, "%s: files[%zu]", man->name, i);
        const archive_member *x = archive_members__find(m, fn);
        if (!x)
            return tsv_error_set(err, TSV_EINVALID,
                                 "%s: listed in the manifest but not in the archive", fn);
        const Meta__DatabaseInfo *d;
        const Meta__RetentionPolicyInfo *r;
        tsv_error e;
        if (tsv_meta_find_shard(p->meta1, id, &d, &r, NULL, &e) != 0 || strcmp(d->name, db) != 0 ||
            strcmp(r->name, rp) != 0)
            return tsv_error_set(err, TSV_EINVALID,
                                 "%s: shard %" PRIu64 " of %s/%s is not in the backup's metadata",
                                 fn, id, db, rp);
        /* influxd always writes the shard archives gzipped. */
        if (add_shard(p, id, fn, fl, 1, x->size, 0, db, rp, err) != 0)
            return -1;
    }
    return 0;
}

int archive_members__plan(archive_members *m, tsv_backup_plan *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    archive_member **mans = calloc(m->n ? m->n : 1, sizeof *mans);
    size_t nm = 0;
    int v2 = 0, v1 = 0, rc = 0;
    for (size_t i = 0; mans && i < m->n; i++) {
        if (!ends_with(m->v[i].name, ".manifest"))
            continue;
        mans[nm++] = &m->v[i];
        /* Kind by content: 1.x manifests have "meta" and "files". */
        if (m->v[i].text && strstr(m->v[i].text, "\"manifestVersion\""))
            v2++;
        else
            v1++;
    }
    if (!mans)
        rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    else if (nm == 0)
        out->format = m->shard_like ? TSV_FORMAT_SHARD : TSV_FORMAT_UNKNOWN;
    else if (v2 && v1)
        rc = tsv_error_set(err, TSV_EINVALID,
                           "archive mixes influx backup and InfluxDB 1.x manifests");
    else if (v2)
        rc = plan_v2(out, mans, nm, m, err);
    else if (nm > 1)
        rc = tsv_error_set(err, TSV_EINVALID,
                           "archive holds %zu InfluxDB 1.x manifests; one backup per file", nm);
    else
        rc = plan_1x(out, mans[0], m, err);
    free(mans);
    if (rc != 0)
        tsv_backup_plan_clear(out);
    return rc;
}

int tsv_backup_plan_scan(const char *path, tsv_backup_plan *out, tsv_error *err)
{
    memset(out, 0, sizeof *out);
    archive_members m = {0};
    int rc = read_members(path, &m, err);
    if (rc == 0)
        rc = archive_members__plan(&m, out, err);
    archive_members__free(&m);
    return rc;
}

/* ---- validation ------------------------------------------------------------ */

static int validate_shard(const char *scratch, uint64_t id, tsv_reader *r, tsv_tsm_trust *validated,
                          tsv_error *err)
{
    char dir[PATH_MAX], trash[PATH_MAX];
    if (tsv_path_join(dir, sizeof dir, err, "%s/shard", scratch) != 0 ||
        tsv_path_join(trash, sizeof trash, err, "%s/trash", scratch) != 0 ||
        tsv_mkdir_p(dir, err) != 0 || tsv_mkdir_p(trash, err) != 0)
        return -1;
    tsv_shard_install_stats st;
    /* Thrown away afterwards: no fsyncs. */
    tsv_shard_install_opts o = {.validated = validated, .scratch = 1};
    int rc = tsv_shard_install_from_tar_opts(dir, trash, id, r, &o, &st, err);
    tsv_error e;
    tsv_remove_tree(dir, &e);
    tsv_remove_tree(trash, &e);
    return rc;
}

/* One member through its decoder into the check for its kind. */
int archive_detect__check_stream(const char *scratch, archive_check_kind kind, uint64_t id,
                                 tsv_reader *raw, tsv_codec codec, tsv_tsm_trust *validated,
                                 tsv_error *err)
{
    tsv_reader *dec = NULL;
    if (codec != TSV_CODEC_IDENTITY && tsv_decoder_new(&dec, codec, raw, err) != 0)
        return -1;
    tsv_reader *r = dec ? dec : raw;
    int rc;
    if (kind == CHECK_SHARD) {
        rc = validate_shard(scratch, id, r, validated, err);
    } else {
        char path[PATH_MAX];
        rc = tsv_path_join(path, sizeof path, err, "%s/check-%016" PRIx64, scratch,
                           tsv_random_u64());
        if (rc == 0)
            rc = tsv_copy_to_new_file(r, path, 0, err);
        if (rc == 0) {
            if (kind == CHECK_BOLT) {
                tsv_bolt_file *b = NULL;
                rc = tsv_bolt_open(&b, path, err);
                tsv_bolt_close(b);
            } else {
                rc = tsv_sqlite_validate(path, err);
            }
            unlink(path);
        }
    }
    tsv_reader_free(dec);
    return rc;
}

static int validate_plan(const char *path, const char *scratch, const tsv_backup_plan *p,
                         tsv_tsm_trust *validated, tsv_error *err)
{
    tsv_archive *a;
    if (tsv_archive_open(&a, path, err) != 0)
        return -1;
    tsv_archive_entry e;
    int rc;
    while ((rc = tsv_archive_next(a, &e, err)) == 1) {
        tsv_reader *r = tsv_archive_member(a);
        if (p->kv_file && strcmp(e.name, p->kv_file) == 0) {
            rc = archive_detect__check_stream(scratch, CHECK_BOLT, 0, r,
                                              p->kv_gzip ? TSV_CODEC_GZIP : TSV_CODEC_IDENTITY,
                                              NULL, err);
        } else if (p->sql_file && strcmp(e.name, p->sql_file) == 0) {
            rc = archive_detect__check_stream(scratch, CHECK_SQLITE, 0, r,
                                              p->sql_gzip ? TSV_CODEC_GZIP : TSV_CODEC_IDENTITY,
                                              NULL, err);
        } else {
            rc = 0;
            for (size_t i = 0; i < p->n_shards; i++)
                if (strcmp(e.name, p->shards[i].file) == 0) {
                    rc = archive_detect__check_stream(
                        scratch, CHECK_SHARD, p->shards[i].id, r,
                        p->shards[i].gzip ? TSV_CODEC_GZIP : TSV_CODEC_IDENTITY, validated, err);
                    break;
                }
        }
        if (rc != 0) {
            tsv_error_wrap(err, "%s", e.name);
            break;
        }
    }
    tsv_archive_close(a);
    return rc;
}

/* Reads the first decoded bytes of the file. */
static int peek_decoded(const char *path, tsv_compression comp, uint8_t *buf, size_t len,
                        size_t *got, tsv_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    tsv_reader *raw = tsv_fd_reader_new(fd), *dec = NULL;
    int rc = raw ? 0 : tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    if (rc == 0 && comp != TSV_COMPRESSION_NONE)
        rc = tsv_decoder_new(&dec, comp == TSV_COMPRESSION_GZ ? TSV_CODEC_GZIP : TSV_CODEC_ZSTD,
                             raw, err);
    *got = 0;
    if (rc == 0) {
        ssize_t n = tsv_read_full(dec ? dec : raw, buf, len, err);
        if (n < 0) {
            /* Too short or damaged to say: decided later. */
            n = 0;
        }
        *got = (size_t)n;
    }
    tsv_reader_free(dec);
    tsv_reader_free(raw);
    close(fd);
    return rc;
}

/* Whole-file check through its decoder (bolt, sqlite, shard, or just the
 * compressed stream for unknown content). */
static int check_file(const char *path, const char *scratch, tsv_compression comp,
                      int kind /* -1: only decode */, tsv_tsm_trust *validated, tsv_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", path);
    tsv_reader *raw = tsv_fd_reader_new(fd);
    if (!raw) {
        close(fd);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    tsv_codec codec = comp == TSV_COMPRESSION_GZ    ? TSV_CODEC_GZIP
                      : comp == TSV_COMPRESSION_ZST ? TSV_CODEC_ZSTD
                                                    : TSV_CODEC_IDENTITY;
    int rc;
    if (kind >= 0) {
        rc = archive_detect__check_stream(scratch, (archive_check_kind)kind, 0, raw, codec,
                                          validated, err);
    } else {
        tsv_reader *dec = NULL;
        rc = tsv_decoder_new(&dec, codec, raw, err);
        uint8_t *buf = rc == 0 ? malloc(CHUNK) : NULL;
        if (rc == 0 && !buf)
            rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        while (rc == 0) {
            ssize_t n = tsv_read(dec, buf, CHUNK, err);
            if (n < 0)
                rc = -1;
            else if (n == 0)
                break;
        }
        free(buf);
        tsv_reader_free(dec);
        if (rc != 0)
            tsv_error_set(err, TSV_EINVALID, "corrupt %s stream: %s", tsv_compression_name(comp),
                          err ? err->message : "");
    }
    tsv_reader_free(raw);
    close(fd);
    return rc;
}

int tsv_archive_inspect(const char *path, const char *scratch_dir, tsv_data_format *format,
                        tsv_compression *compression, tsv_error *err)
{
    return tsv_archive_inspect_ex(path, scratch_dir, format, compression, NULL, err);
}

int tsv_archive_inspect_ex(const char *path, const char *scratch_dir, tsv_data_format *format,
                           tsv_compression *compression, tsv_tsm_trust *validated, tsv_error *err)
{
    *format = TSV_FORMAT_UNKNOWN;
    if (tsv_compression_sniff(path, compression, err) != 0)
        return -1;
    uint8_t head[64];
    size_t got = 0;
    if (peek_decoded(path, *compression, head, sizeof head, &got, err) != 0)
        return -1;
    if (got >= 16 && memcmp(head, "SQLite format 3", 16) == 0) {
        *format = TSV_FORMAT_SQLITE;
        return check_file(path, scratch_dir, *compression, CHECK_SQLITE, NULL, err);
    }
    /* bolt: page header (16 bytes), then the meta page's magic 0xED0CDAED. */
    if (got >= 24 && head[16] == 0xed && head[17] == 0xda && head[18] == 0x0c && head[19] == 0xed) {
        *format = TSV_FORMAT_BOLT;
        return check_file(path, scratch_dir, *compression, CHECK_BOLT, NULL, err);
    }
    tsv_backup_plan plan;
    tsv_error serr;
    if (tsv_backup_plan_scan(path, &plan, &serr) != 0) {
        if (strncmp(serr.message, "not an archive", 14) != 0) {
            if (err)
                *err = serr;
            return -1;
        }
        /* Not a tar or zip: unknown content, but a damaged compressed
         * stream is still refused. */
        if (*compression != TSV_COMPRESSION_NONE)
            return check_file(path, scratch_dir, *compression, -1, NULL, err);
        return 0;
    }
    *format = plan.format;
    int rc = 0;
    if (plan.format == TSV_FORMAT_SHARD)
        rc = check_file(path, scratch_dir, *compression, CHECK_SHARD, validated, err);
    else if (plan.format != TSV_FORMAT_UNKNOWN)
        rc = validate_plan(path, scratch_dir, &plan, validated, err);
    tsv_backup_plan_clear(&plan);
    return rc;
}
