/*
 * export_lp: influx_inspect-compatible line-protocol export (export_lp.h).
 */
#include "export_lp.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_grow.h"
#include "engine.h"
#include "json.h"
#include "tsm.h"
#include "tsm_file.h"
#include "tsm_values.h"
#include "tsv_time.h"

#define OUT_BUF (256u << 10)

/* --- output buffer -------------------------------------------------------- */

typedef struct outbuf {
    tsv_writer *w;
    uint8_t *buf;
    size_t len;
    uint64_t total;
} outbuf;

static int ob_flush(outbuf *o, tsv_error *err)
{
    if (o->len == 0)
        return 0;
    int rc = tsv_write(o->w, o->buf, o->len, err);
    o->total += o->len;
    o->len = 0;
    return rc;
}

static int ob_put(outbuf *o, const void *p, size_t n, tsv_error *err)
{
    if (o->len + n > OUT_BUF) {
        if (ob_flush(o, err) != 0)
            return -1;
        if (n > OUT_BUF) {
            o->total += n;
            return tsv_write(o->w, p, n, err);
        }
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    return 0;
}

static int ob_str(outbuf *o, const char *s, tsv_error *err) { return ob_put(o, s, strlen(s), err); }

/* --- Go formatting --------------------------------------------------------- */

size_t export_lp__format_float(double v, char *out)
{
    if (isnan(v))
        return (size_t)sprintf(out, "NaN");
    if (isinf(v))
        return (size_t)sprintf(out, v > 0 ? "+Inf" : "-Inf");
    char *o = out;
    if (signbit(v)) {
        *o++ = '-';
        v = -v;
    }
    if (v == 0) {
        *o++ = '0';
        *o = '\0';
        return (size_t)(o - out);
    }
    /* Shortest decimal that reads back as v (what Go's 'g', -1 picks). */
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* tmp = "d[.ddd]e[+-]XX": digits and the decimal point position. */
    char digs[20];
    int nd = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digs[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digs[nd - 1] == '0')
        nd--;
    int dp = exp10 + 1;
    int exp = dp - 1;
    if (exp < -4 || exp >= 6) {
        /* %e with nd-1 fraction digits, exponent at least two digits. */
        *o++ = digs[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, digs + 1, (size_t)(nd - 1));
            o += nd - 1;
        }
        *o++ = 'e';
        *o++ = exp < 0 ? '-' : '+';
        int e = exp < 0 ? -exp : exp;
        if (e < 10)
            *o++ = '0';
        o += sprintf(o, "%d", e);
        *o = '\0';
        return (size_t)(o - out);
    }
    /* %f with max(nd - dp, 0) fraction digits. */
    if (dp > 0) {
        for (int i = 0; i < dp; i++)
            *o++ = i < nd ? digs[i] : '0';
    } else {
        *o++ = '0';
    }
    int frac = nd - dp > 0 ? nd - dp : 0;
    if (frac > 0) {
        *o++ = '.';
        for (int i = 1; i <= frac; i++) {
            int j = dp + i - 1;
            *o++ = j >= 0 && j < nd ? digs[j] : '0';
        }
    }
    *o = '\0';
    return (size_t)(o - out);
}

static const char *const keywords[] = {
    "all",          "alter",        "analyze",      "any",
    "as",           "asc",          "begin",        "by",
    "cardinality",  "create",       "continuous",   "database",
    "databases",    "default",      "delete",       "desc",
    "destinations", "diagnostics",  "distinct",     "drop",
    "duration",     "end",          "every",        "exact",
    "explain",      "field",        "for",          "from",
    "grant",        "grants",       "group",        "groups",
    "in",           "inf",          "insert",       "into",
    "key",          "keys",         "kill",         "limit",
    "measurement",  "measurements", "name",         "offset",
    "on",           "order",        "password",     "policy",
    "policies",     "privileges",   "queries",      "query",
    "read",         "replication",  "resample",     "retention",
    "revoke",       "select",       "series",       "set",
    "show",         "shard",        "shards",       "slimit",
    "soffset",      "stats",        "subscription", "subscriptions",
    "tag",          "to",           "user",         "users",
    "values",       "where",        "with",         "write",
    "and",          "or",           "true",         "false",
};

static int ident_needs_quotes(const char *s)
{
    if (!*s)
        return 1;
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strcasecmp(s, keywords[i]) == 0)
            return 1;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!letter && (p == s || !(c >= '0' && c <= '9')))
            return 1;
    }
    return 0;
}

void export_lp__quote_ident(const char *s, char *out)
{
    int q = ident_needs_quotes(s);
    char *o = out;
    if (q)
        *o++ = '"';
    for (const char *p = s; *p; p++) {
        if (*p == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (*p == '\\' || *p == '"') {
            *o++ = '\\';
            *o++ = *p;
        } else {
            *o++ = *p;
        }
    }
    if (q)
        *o++ = '"';
    *o = '\0';
}

/* --- keys ------------------------------------------------------------------ */

/* "<series> <escaped field>=" into prefix. */
static int build_prefix(const uint8_t *key, size_t klen, uint8_t *prefix, size_t *plen)
{
    size_t slen = tsm_key_series_len(key, klen);
    const uint8_t *field = slen < klen ? key + slen + 4 : key + klen;
    size_t flen = slen < klen ? klen - slen - 4 : 0;
    size_t o = 0;
    memcpy(prefix, key, slen);
    o = slen;
    prefix[o++] = ' ';
    for (size_t i = 0; i < flen; i++) {
        uint8_t c = field[i];
        if (c == ',' || c == '"' || c == ' ' || c == '=')
            prefix[o++] = '\\';
        prefix[o++] = c;
    }
    prefix[o++] = '=';
    *plen = o;
    return 0;
}

/* --- shards ---------------------------------------------------------------- */

typedef struct shadow {
    int has; /* the file holds the current key */
    int eof;
    size_t blk;  /* entry being looked at */
    int decoded; /* blk's timestamps are in vals */
    size_t pos;
    size_t tomb_first, tomb_count;
    tsm_values vals;
} shadow;

typedef struct shard_files {
    size_t n;
    tsm_file *files;
    char **names;
    shadow *sh;
} shard_files;

static void shard_files_free(shard_files *s)
{
    for (size_t i = 0; i < s->n; i++) {
        tsm_file_close(&s->files[i]);
        free(s->names[i]);
        tsm_values_free(&s->sh[i].vals);
    }
    free(s->files);
    free(s->names);
    free(s->sh);
    memset(s, 0, sizeof *s);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the *.tsm names of dir, sorted. */
static int list_tsm(const char *dir, char ***names, size_t *n, tsv_error *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return tsv_error_set_errno(err, TSV_EINTERNAL, errno, "open %s", dir);
    }
    size_t cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (!tsv_tsm_name_valid(de->d_name))
            continue;
        if (TSV_ARRAY_GROW(*names, *n, cap, err) != 0) {
            rc = -1;
            break;
        }
        if (!((*names)[*n] = strdup(de->d_name))) {
            rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (rc == 0)
        qsort(*names, *n, sizeof **names, name_cmp);
    return rc;
}

/* Opens every TSM file of the shard (and its tombstone) under the shard
 * lock: a restore swapping the directory is seen wholly or not at all. */
static int shard_open(const tsv_export_shard *sh, const tsv_export_options *opt, shard_files *s,
                      tsv_error *err)
{
    memset(s, 0, sizeof *s);
    tsv_shard_lock(sh->id);
    char **names = NULL;
    size_t n = 0;
    int rc = opt->check_shard ? opt->check_shard(opt->check_ctx, sh, err) : 0;
    if (rc == 0)
        rc = list_tsm(sh->dir, &names, &n, err);
    if (rc == 0 && n > 0) {
        s->files = calloc(n, sizeof *s->files);
        s->sh = calloc(n, sizeof *s->sh);
        s->names = names;
        if (!s->files || !s->sh) {
            for (size_t i = 0; i < n; i++)
                free(names[i]);
            free(names);
            free(s->files);
            free(s->sh);
            memset(s, 0, sizeof *s);
            rc = tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        } else {
            s->n = n;
            for (size_t i = 0; i < n; i++)
                s->files[i].fd = -1;
            for (size_t i = 0; rc == 0 && i < n; i++) {
                char path[4096];
                if (snprintf(path, sizeof path, "%s/%s", sh->dir, names[i]) >= (int)sizeof path)
                    rc = tsv_error_set(err, TSV_EINVALID, "path too long");
                else
                    rc = tsm_file_open(&s->files[i], path, TSM_FILE_TOMBSTONE, err);
            }
        }
    } else {
        free(names);
    }
    tsv_shard_unlock(sh->id);
    if (rc != 0)
        shard_files_free(s);
    return rc;
}

/* Positions shadow j on key (key, klen). */
static int shadow_seek(shard_files *s, size_t j, const uint8_t *key, size_t klen, tsv_error *err)
{
    shadow *h = &s->sh[j];
    tsm_file *f = &s->files[j];
    h->has = 0;
    while (!h->eof) {
        if (f->n) {
            int c = tsm_key_cmp(f->key, f->klen, key, klen);
            if (c == 0) {
                h->has = 1;
                break;
            }
            if (c > 0)
                break;
        }
        int r = tsm_file_next_key(f, err);
        if (r < 0)
            return -1;
        if (r == 0) {
            h->eof = 1;
            break;
        }
    }
    h->blk = 0;
    h->decoded = 0;
    h->pos = 0;
    if (h->has)
        tsm_file_key_tombs(f, key, klen, &h->tomb_first, &h->tomb_count);
    return 0;
}

/* 1 if shadow j holds (current key, t) and its tombstone keeps it. */
static int shadow_has(shard_files *s, size_t j, int64_t t, tsv_error *err)
{
    shadow *h = &s->sh[j];
    tsm_file *f = &s->files[j];
    while (h->blk < f->n && f->entries[h->blk].max < t) {
        h->blk++;
        h->decoded = 0;
    }
    if (h->blk >= f->n || f->entries[h->blk].min > t)
        return 0;
    if (!h->decoded) {
        const uint8_t *data;
        size_t len;
        char why[200];
        if (tsm_file_read_block(f, &f->entries[h->blk], &data, &len, err) != 0)
            return -1;
        if (tsm_values_decode_timestamps(data, len, &h->vals, why, sizeof why) != TSM_DEC_OK)
            return tsv_error_set(err, TSV_EINVALID, "%s: block: %s at offset %" PRIu64, f->path,
                                 why, f->entries[h->blk].off);
        h->decoded = 1;
        h->pos = 0;
    }
    while (h->pos < h->vals.n && h->vals.ts[h->pos] < t)
        h->pos++;
    if (h->pos >= h->vals.n || h->vals.ts[h->pos] != t)
        return 0;
    return !(h->tomb_count && tsm_tombs_cover(f->tombs + h->tomb_first, h->tomb_count, t));
}

typedef struct exporter {
    const tsv_export_options *opt;
    outbuf out;
    tsv_export_result res;
    tsm_values vals;
    uint8_t *prefix; /* "<series> <field>=" (escaped field: up to 2x) */
    char *line;
    size_t line_cap;
} exporter;

static int measurement_wanted(const exporter *x, const uint8_t *key, size_t klen)
{
    if (!x->opt->n_measurements)
        return 1;
    char m[65536];
    tsm_key_measurement(key, klen, m, sizeof m);
    for (size_t i = 0; i < x->opt->n_measurements; i++)
        if (strcmp(m, x->opt->measurements[i]) == 0)
            return 1;
    return 0;
}

static int put_value(exporter *x, size_t plen, const tsm_values *v, size_t k, tsv_error *err)
{
    char num[48];
    size_t need = plen + 64;
    if (v->type == TSM_BLOCK_STRING)
        need += 2 * (size_t)v->slen[k];
    if (tsv_array_grow(&x->line, &x->line_cap, need, 1, err) != 0)
        return -1;
    char *o = x->line;
    memcpy(o, x->prefix, plen);
    o += plen;
    switch (v->type) {
    case TSM_BLOCK_FLOAT: {
        double d;
        memcpy(&d, &v->v.u[k], sizeof d);
        o += export_lp__format_float(d, o);
        break;
    }
    case TSM_BLOCK_INTEGER:
        o += sprintf(o, "%" PRId64 "i", (int64_t)v->v.u[k]);
        break;
    case TSM_BLOCK_UNSIGNED:
        o += sprintf(o, "%" PRIu64 "u", v->v.u[k]);
        break;
    case TSM_BLOCK_BOOLEAN:
        o += sprintf(o, "%s", ((const uint8_t *)v->v.u)[k] ? "true" : "false");
        break;
    default: {
        const uint8_t *sv = v->str.buf + v->soff[k];
        *o++ = '"';
        for (uint32_t i = 0; i < v->slen[k]; i++) {
            if (sv[i] == '"' || sv[i] == '\\')
                *o++ = '\\';
            *o++ = (char)sv[i];
        }
        *o++ = '"';
        break;
    }
    }
    (void)num;
    *o++ = ' ';
    o += sprintf(o, "%" PRId64 "\n", v->ts[k]);
    x->res.lines++;
    return ob_put(&x->out, x->line, (size_t)(o - x->line), err);
}

/* Exports file i of the shard (later files act as shadows). */
static int export_file(exporter *x, shard_files *s, size_t i, tsv_error *err)
{
    tsm_file *f = &s->files[i];
    const tsv_export_options *o = x->opt;
    for (size_t j = i; j < s->n; j++) {
        tsm_file_rewind(&s->files[j]);
        s->files[j].klen = 0;
        s->files[j].n = 0;
        s->sh[j].eof = 0;
    }
    x->res.files++;
    x->res.tsm_bytes += f->size;
    for (;;) {
        int r = tsm_file_next_key(f, err);
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        if (o->cancelled && o->cancelled(o->cancel_ctx))
            return tsv_error_set(err, TSV_EUNAVAILABLE, "export cancelled");
        if (!measurement_wanted(x, f->key, f->klen))
            continue;
        size_t tf, tc;
        tsm_file_key_tombs(f, f->key, f->klen, &tf, &tc);
        /* Which later files hold this key too. */
        int any_shadow = 0;
        for (size_t j = i + 1; j < s->n; j++) {
            if (shadow_seek(s, j, f->key, f->klen, err) != 0)
                return -1;
            any_shadow |= s->sh[j].has;
        }
        size_t plen;
        build_prefix(f->key, f->klen, x->prefix, &plen);
        for (size_t b = 0; b < f->n; b++) {
            const tsm_entry *e = &f->entries[b];
            if (e->max < o->start || e->min > o->stop)
                continue;
            const uint8_t *data;
            size_t len;
            char why[240];
            if (tsm_file_read_block(f, e, &data, &len, err) != 0)
                return -1;
            int rc = tsm_values_decode(data, len, f->type, &x->vals, why, sizeof why);
            if (rc == TSM_DEC_NOMEM)
                return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            if (rc != TSM_DEC_OK)
                return tsv_error_set(err, TSV_EINVALID,
                                     "%s: block of key at index offset %" PRIu64
                                     ": %s at offset %" PRIu64,
                                     f->path, f->key_offset, why, e->off);
            for (size_t k = 0; k < x->vals.n; k++) {
                int64_t t = x->vals.ts[k];
                if (t < o->start || t > o->stop)
                    continue;
                if (tc && tsm_tombs_cover(f->tombs + tf, tc, t))
                    continue;
                if (any_shadow) {
                    int dup = 0;
                    for (size_t j = i + 1; j < s->n && !dup; j++) {
                        if (!s->sh[j].has)
                            continue;
                        int h = shadow_has(s, j, t, err);
                        if (h < 0)
                            return -1;
                        dup = h;
                    }
                    if (dup) {
                        x->res.duplicates++;
                        continue;
                    }
                }
                if (put_value(x, plen, &x->vals, k, err) != 0)
                    return -1;
            }
        }
    }
}

static void format_bound(int64_t ns, char *out, size_t outlen)
{
    /* time.Unix(0, ns).Format(time.RFC3339): the fraction is dropped. */
    tsv_format_rfc3339nano(ns, out, outlen);
    char *dot = strchr(out, '.');
    if (dot)
        memmove(dot, dot + strcspn(dot, "Z"), strlen(dot + strcspn(dot, "Z")) + 1);
}

static int rp_has_files(const tsv_export_rp *rp, int *has, tsv_error *err)
{
    *has = 0;
    for (size_t i = 0; i < rp->n_shards && !*has; i++) {
        char **names;
        size_t n;
        if (list_tsm(rp->shards[i].dir, &names, &n, err) != 0)
            return -1;
        for (size_t k = 0; k < n; k++)
            free(names[k]);
        free(names);
        *has = n > 0;
    }
    return 0;
}

typedef struct shard_order {
    char name[24];
    const tsv_export_shard *sh;
} shard_order;

static int shard_order_cmp(const void *a, const void *b)
{
    return strcmp(((const shard_order *)a)->name, ((const shard_order *)b)->name);
}

int tsv_export_lp(const tsv_export_rp *rps, size_t n_rps, const tsv_export_options *opt,
                  tsv_writer *w, tsv_export_result *res, tsv_error *err)
{
    exporter x;
    memset(&x, 0, sizeof x);
    x.opt = opt;
    x.out.w = w;
    x.out.buf = malloc(OUT_BUF);
    x.prefix = malloc(3 * 65536 + 8);
    int *has = calloc(n_rps ? n_rps : 1, sizeof *has);
    int rc = -1;
    if (!x.out.buf || !x.prefix || !has) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto done;
    }
    for (size_t r = 0; r < n_rps; r++)
        if (rp_has_files(&rps[r], &has[r], err) != 0)
            goto done;

    char a[TSV_RFC3339_MAX], b[TSV_RFC3339_MAX], line[1024];
    format_bound(opt->start, a, sizeof a);
    format_bound(opt->stop, b, sizeof b);
    snprintf(line, sizeof line, "# INFLUXDB EXPORT: %s - %s\n# DDL\n", a, b);
    if (ob_str(&x.out, line, err) != 0)
        goto done;
    size_t dblen = strlen(opt->database);
    char *qdb = malloc(2 * dblen + 3);
    if (!qdb) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto done;
    }
    export_lp__quote_ident(opt->database, qdb);
    for (size_t r = 0; r < n_rps; r++) {
        if (!has[r])
            continue;
        char *qrp = malloc(2 * strlen(rps[r].name) + 3);
        if (!qrp) {
            free(qdb);
            tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            goto done;
        }
        export_lp__quote_ident(rps[r].name, qrp);
        int e = ob_str(&x.out, "CREATE DATABASE ", err) || ob_str(&x.out, qdb, err) ||
                ob_str(&x.out, " WITH NAME ", err) || ob_str(&x.out, qrp, err) ||
                ob_str(&x.out, "\n", err);
        free(qrp);
        if (e) {
            free(qdb);
            goto done;
        }
    }
    free(qdb);
    if (ob_str(&x.out, "# DML\n", err) != 0)
        goto done;
    for (size_t r = 0; r < n_rps; r++) {
        if (!has[r])
            continue;
        if (ob_str(&x.out, "# CONTEXT-DATABASE:", err) || ob_str(&x.out, opt->database, err) ||
            ob_str(&x.out, "\n# CONTEXT-RETENTION-POLICY:", err) ||
            ob_str(&x.out, rps[r].name, err) || ob_str(&x.out, "\n# writing tsm data\n", err))
            goto done;
        /* influx_inspect sorts full paths as strings: shard "10" before "9". */
        shard_order *ord = calloc(rps[r].n_shards ? rps[r].n_shards : 1, sizeof *ord);
        if (!ord) {
            tsv_error_set(err, TSV_EINTERNAL, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < rps[r].n_shards; i++) {
            snprintf(ord[i].name, sizeof ord[i].name, "%" PRIu64, rps[r].shards[i].id);
            ord[i].sh = &rps[r].shards[i];
        }
        qsort(ord, rps[r].n_shards, sizeof *ord, shard_order_cmp);
        for (size_t i = 0; i < rps[r].n_shards; i++) {
            shard_files s;
            if (shard_open(ord[i].sh, opt, &s, err) != 0) {
                free(ord);
                goto done;
            }
            int frc = 0;
            for (size_t k = 0; k < s.n && frc == 0; k++)
                frc = export_file(&x, &s, k, err);
            shard_files_free(&s);
            if (frc != 0) {
                free(ord);
                goto done;
            }
        }
        free(ord);
    }
    rc = ob_flush(&x.out, err);
done:
    x.res.bytes_out = x.out.total;
    if (res)
        *res = x.res;
    free(has);
    free(x.out.buf);
    free(x.prefix);
    free(x.line);
    tsm_values_free(&x.vals);
    return rc;
}
