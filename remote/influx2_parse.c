/* influx2_parse: the /backup/metadata multipart reader and the shard tar check
 * (influx2_internal.h). Pure byte work: no network, unit-tested directly. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "influx2_internal.h"
#include "json.h"

/* ---------------------------------------------------------------------------
 * Content-Type boundary
 * ------------------------------------------------------------------------- */

int influx2__boundary(const char *ct, char out[72], tsv_error *err)
{
    out[0] = '\0';
    if (!ct || !*ct)
        return tsv_error_set(err, TSV_EINVALID,
                             "the reply has no Content-Type (a multipart/mixed body was expected)");
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, "multipart/", 10) != 0)
        return tsv_error_set(err, TSV_EINVALID,
                             "Content-Type \"%.100s\" is not multipart (bad boundary)", ct);
    const char *p = strchr(ct, ';');
    while (p) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "boundary=", 9) == 0) {
            p += 9;
            size_t n = 0;
            if (*p == '"') {
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && p[1])
                        p++;
                    if (n >= 71)
                        break;
                    out[n++] = *p++;
                }
                if (*p != '"')
                    n = 0;
            } else {
                while (*p && *p != ';' && *p != ' ' && *p != '\t' && n < 71)
                    out[n++] = *p++;
                if (*p && *p != ';' && *p != ' ' && *p != '\t')
                    n = 0; /* longer than 70 */
            }
            out[n] = '\0';
            if (n == 0 || n > 70)
                return tsv_error_set(err, TSV_EINVALID,
                                     "Content-Type \"%.100s\" has an invalid multipart boundary "
                                     "(1 to 70 characters)",
                                     ct);
            return 0;
        }
        p = strchr(p, ';');
    }
    return tsv_error_set(err, TSV_EINVALID, "Content-Type \"%.100s\" has no multipart boundary",
                         ct);
}

/* ---------------------------------------------------------------------------
 * Multipart body
 * ------------------------------------------------------------------------- */

#define MP_WINDOW (64 * 1024)
#define MP_HEADERS_MAX 16384

typedef struct mp {
    tsv_reader *r;
    uint8_t *buf;
    size_t start, end; /* unread bytes: buf[start, end) */
    uint64_t base;     /* body offset of buf[0] */
    int eof;
} mp;

/* Compacts and reads more. 1: got bytes, 0: end of body, -1: error. */
static int mp_fill(mp *m, tsv_error *err)
{
    if (m->eof)
        return 0;
    if (m->start > 0) {
        memmove(m->buf, m->buf + m->start, m->end - m->start);
        m->base += m->start;
        m->end -= m->start;
        m->start = 0;
    }
    if (m->end == MP_WINDOW)
        return 1; /* full: the caller consumes first */
    ssize_t n = tsv_read(m->r, m->buf + m->end, MP_WINDOW - m->end, err);
    if (n < 0)
        return -1;
    if (n == 0) {
        m->eof = 1;
        return 0;
    }
    m->end += (size_t)n;
    return 1;
}

/* Makes at least `want` bytes available; 0 ok, 1 body ended first, -1 error. */
static int mp_need(mp *m, size_t want, tsv_error *err)
{
    while (m->end - m->start < want) {
        int f = mp_fill(m, err);
        if (f < 0)
            return -1;
        if (f == 0)
            return 1;
    }
    return 0;
}

static uint64_t mp_off(const mp *m) { return m->base + m->start; }

/* The name parameter of a Content-Disposition value, into out. */
static int disposition_name(const char *v, char *out, size_t outlen)
{
    const char *p = strchr(v, ';');
    while (p) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "name=", 5) == 0) {
            p += 5;
            size_t n = 0;
            if (*p == '"') {
                p++;
                while (*p && *p != '"' && n + 1 < outlen) {
                    if (*p == '\\' && p[1])
                        p++;
                    out[n++] = *p++;
                }
                if (*p != '"')
                    return -1;
            } else {
                while (*p && *p != ';' && *p != ' ' && n + 1 < outlen)
                    out[n++] = *p++;
            }
            out[n] = '\0';
            return 0;
        }
        p = strchr(p, ';');
    }
    return -1;
}

/* Reads the part headers up to the empty line; finds the part's name. */
static int mp_headers(mp *m, char *name, size_t namelen, tsv_error *err)
{
    uint64_t at = mp_off(m);
    size_t total = 0;
    int have_disposition = 0;
    name[0] = '\0';
    for (;;) {
        /* one line */
        uint8_t *nl = NULL;
        for (;;) {
            nl = memchr(m->buf + m->start, '\n', m->end - m->start);
            if (nl)
                break;
            if (m->end - m->start > MP_HEADERS_MAX)
                return tsv_error_set(err, TSV_EINVALID,
                                     "multipart part headers at offset %llu are longer than %d "
                                     "bytes",
                                     (unsigned long long)at, MP_HEADERS_MAX);
            int f = mp_fill(m, err);
            if (f < 0)
                return -1;
            if (f == 0)
                return tsv_error_set(err, TSV_EINVALID,
                                     "multipart body is truncated: it ends inside the part "
                                     "headers at offset %llu",
                                     (unsigned long long)mp_off(m));
        }
        size_t len = (size_t)(nl - (m->buf + m->start));
        char *line = (char *)m->buf + m->start;
        size_t l = len;
        if (l > 0 && line[l - 1] == '\r')
            l--;
        total += len + 1;
        if (total > MP_HEADERS_MAX)
            return tsv_error_set(err, TSV_EINVALID,
                                 "multipart part headers at offset %llu are longer than %d bytes",
                                 (unsigned long long)at, MP_HEADERS_MAX);
        if (l == 0) {
            m->start += len + 1;
            break;
        }
        char h[1024];
        snprintf(h, sizeof h, "%.*s", (int)(l < sizeof h ? l : sizeof h - 1), line);
        m->start += len + 1;
        if (strncasecmp(h, "Content-Disposition:", 20) == 0) {
            have_disposition = 1;
            if (disposition_name(h + 20, name, namelen) != 0)
                return tsv_error_set(
                    err, TSV_EINVALID,
                    "multipart part at offset %llu: Content-Disposition \"%.200s\" "
                    "has no name",
                    (unsigned long long)at, h + 20);
        }
    }
    if (!have_disposition)
        return tsv_error_set(err, TSV_EINVALID,
                             "multipart part at offset %llu has no Content-Disposition",
                             (unsigned long long)at);
    return 0;
}

typedef struct part_sink {
    influx2_parts *p;
    int which; /* 0 kv, 1 sql, 2 buckets */
} part_sink;

static int part_emit(part_sink *s, const uint8_t *d, size_t n, tsv_error *err)
{
    if (n == 0)
        return 0;
    influx2_parts *p = s->p;
    if (s->which == 0) {
        p->kv_bytes += n;
        return p->kv_w ? tsv_write(p->kv_w, d, n, err) : 0;
    }
    if (s->which == 1) {
        p->sql_bytes += n;
        return p->sql_w ? tsv_write(p->sql_w, d, n, err) : 0;
    }
    if (p->buckets->len + n > p->buckets_max)
        return tsv_error_set(err, TSV_ETOOLARGE,
                             "the \"buckets\" part (bucket manifests) is larger than %zu bytes",
                             p->buckets_max);
    return tsv_buf_append(p->buckets, d, n, err);
}

static const char *const part_names[] = {"kv", "sql", "buckets"};

/* Streams the part body up to the delimiter "\r\n--B" (consumed). */
static int mp_body(mp *m, const char *delim, size_t dlen, part_sink *s, tsv_error *err)
{
    uint64_t at = mp_off(m);
    for (;;) {
        size_t avail = m->end - m->start;
        uint8_t *hit = avail >= dlen ? memmem(m->buf + m->start, avail, delim, dlen) : NULL;
        if (hit) {
            size_t n = (size_t)(hit - (m->buf + m->start)), after = n + dlen;
            if (avail < after + 2 && !m->eof) {
                /* Need the two bytes after it to tell a boundary from data. */
                if (part_emit(s, m->buf + m->start, n, err) != 0)
                    return -1;
                m->start += n;
                if (mp_fill(m, err) < 0)
                    return -1;
                continue;
            }
            /* As Go's reader: a boundary is followed by blanks, CR, LF or "--". */
            int boundary = 1;
            if (avail > after) {
                uint8_t c = m->buf[m->start + after];
                boundary = c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
                           (c == '-' && avail > after + 1 && m->buf[m->start + after + 1] == '-');
            }
            if (!boundary)
                n++; /* data that merely looks like a delimiter: go on after its first byte */
            if (part_emit(s, m->buf + m->start, n, err) != 0)
                return -1;
            m->start += boundary ? after : n;
            if (boundary)
                return 0;
            continue;
        }
        /* Everything but a possible delimiter prefix at the end is part data. */
        if (avail >= dlen) {
            size_t n = avail - (dlen - 1);
            if (part_emit(s, m->buf + m->start, n, err) != 0)
                return -1;
            m->start += n;
        }
        int f = mp_fill(m, err);
        if (f < 0)
            return -1;
        if (f == 0)
            return tsv_error_set(err, TSV_EINVALID,
                                 "multipart body is truncated: part \"%s\" (from offset %llu) "
                                 "ends at offset %llu without a closing boundary",
                                 part_names[s->which], (unsigned long long)at,
                                 (unsigned long long)(m->base + m->end));
    }
}

/* After a boundary: "--" ends the body, else optional blanks and CRLF.
 * 1: final boundary, 0: a part follows, -1 error. */
static int mp_after_boundary(mp *m, tsv_error *err)
{
    int r = mp_need(m, 2, err);
    if (r < 0)
        return -1;
    if (r == 0 && m->buf[m->start] == '-' && m->buf[m->start + 1] == '-') {
        m->start += 2;
        return 1;
    }
    for (;;) {
        r = mp_need(m, 1, err);
        if (r < 0)
            return -1;
        if (r > 0)
            break;
        uint8_t ch = m->buf[m->start];
        if (ch == ' ' || ch == '\t') {
            m->start++;
            continue;
        }
        if (ch == '\n') {
            m->start++;
            return 0;
        }
        if (ch == '\r') {
            r = mp_need(m, 2, err);
            if (r < 0)
                return -1;
            if (r > 0)
                break;
            if (m->buf[m->start + 1] == '\n') {
                m->start += 2;
                return 0;
            }
        }
        return tsv_error_set(err, TSV_EINVALID,
                             "multipart body: unexpected bytes after a boundary at offset %llu",
                             (unsigned long long)mp_off(m));
    }
    return tsv_error_set(err, TSV_EINVALID,
                         "multipart body is truncated: it ends after a boundary at offset %llu "
                         "(no closing boundary)",
                         (unsigned long long)mp_off(m));
}

int influx2__parse_metadata(tsv_reader *body, const char *content_type, influx2_parts *p,
                            tsv_error *err)
{
    char boundary[72];
    if (influx2__boundary(content_type, boundary, err) != 0)
        return -1;
    p->have_kv = p->have_sql = p->have_buckets = 0;
    p->kv_bytes = p->sql_bytes = 0;
    int rc = -1;
    mp m = {.r = body};
    char delim[80];
    int dlen = snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    tsv_json_doc *doc = NULL;
    if (!(m.buf = malloc(MP_WINDOW))) {
        tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        goto out;
    }
    /* The body opens with "--B" (the first boundary has no leading CRLF). */
    int r = mp_need(&m, (size_t)dlen - 2, err);
    if (r < 0)
        goto out;
    if (r > 0 && m.end == 0) {
        tsv_error_set(err, TSV_EINVALID, "multipart body is empty");
        goto out;
    }
    if (r > 0 || memcmp(m.buf, delim + 2, (size_t)dlen - 2) != 0) {
        tsv_error_set(err, TSV_EINVALID,
                      "multipart body does not start with the boundary \"%s\" announced in "
                      "Content-Type (bad boundary)",
                      boundary);
        goto out;
    }
    m.start = (size_t)dlen - 2;
    for (;;) {
        int fin = mp_after_boundary(&m, err);
        if (fin < 0)
            goto out;
        if (fin == 1)
            break; /* Go's reader ignores an epilogue: so do we */
        uint64_t at = mp_off(&m);
        char name[128];
        if (mp_headers(&m, name, sizeof name, err) != 0)
            goto out;
        part_sink s = {.p = p, .which = -1};
        for (int i = 0; i < 3; i++)
            if (strcmp(name, part_names[i]) == 0)
                s.which = i;
        if (s.which < 0) {
            tsv_error_set(err, TSV_EINVALID,
                          "multipart body: unexpected part \"%.100s\" at offset %llu (only kv, "
                          "sql and buckets are known)",
                          name, (unsigned long long)at);
            goto out;
        }
        int *have = s.which == 0 ? &p->have_kv : s.which == 1 ? &p->have_sql : &p->have_buckets;
        if (*have) {
            tsv_error_set(err, TSV_EINVALID, "multipart body: part \"%s\" appears twice", name);
            goto out;
        }
        *have = 1;
        if (mp_body(&m, delim, (size_t)dlen, &s, err) != 0)
            goto out;
    }
    if (!p->have_kv || !p->have_buckets) {
        tsv_error_set(err, TSV_EINVALID, "multipart body has no \"%s\" part%s",
                      !p->have_kv ? "kv" : "buckets",
                      !p->have_kv ? " (the KV snapshot)" : " (the bucket manifests)");
        goto out;
    }
    tsv_error jerr;
    if (tsv_json_parse(&doc, p->buckets->data ? (const char *)p->buckets->data : "",
                       p->buckets->len, &jerr) != 0) {
        tsv_error_set(err, TSV_EINVALID, "the \"buckets\" part is not JSON: %s", jerr.message);
        goto out;
    }
    if (tsv_json_root(doc)->type != TSV_JSON_ARRAY) {
        tsv_error_set(err, TSV_EINVALID, "the \"buckets\" part is a JSON %s, not an array",
                      tsv_json_type_name(tsv_json_root(doc)->type));
        goto out;
    }
    rc = 0;
out:
    tsv_json_free(doc);
    free(m.buf);
    return rc;
}
