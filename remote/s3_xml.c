/* s3_xml: the XML S3 answers with, read by a small strict scanner
 * (s3_internal.h): ListObjectsV2 pages, <Error> bodies, single values. The
 * documents are small, flat and machine-written; a full parser would bring a
 * dependency for four tags. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_internal.h"

typedef struct xml_scan {
    const char *p, *end;
    char path[S3_XML_DEPTH_MAX * (S3_XML_NAME_MAX + 1) + 1];
    size_t plen[S3_XML_DEPTH_MAX + 1]; /* path length at each depth */
    int child[S3_XML_DEPTH_MAX + 1];   /* the element at that depth had a child */
    int depth, roots;
    tsv_buf text;
} xml_scan;

static int bad(tsv_error *err, const char *what)
{
    return tsv_error_set(err, TSV_EINVALID, "malformed XML from the store: %s", what);
}

static const char *find(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);
    for (; p + n <= end; p++)
        if (memcmp(p, s, n) == 0)
            return p;
    return NULL;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
static int is_name(char c) { return !is_space(c) && c != '>' && c != '/' && c != '<' && c != '='; }

static int text_add(xml_scan *s, const void *p, size_t n, tsv_error *err)
{
    if (s->text.len + n > S3_XML_TEXT_MAX)
        return bad(err, "element text too long");
    return tsv_buf_append(&s->text, p, n, err);
}

static int utf8_add(xml_scan *s, unsigned long cp, tsv_error *err)
{
    unsigned char u[4];
    size_t n;
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return bad(err, "character reference out of range");
    if (cp < 0x80) {
        u[0] = (unsigned char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6)), u[1] = (unsigned char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12)),
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | (cp >> 18)),
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return text_add(s, u, n, err);
}

/* s->p at '&'. */
static int entity(xml_scan *s, tsv_error *err)
{
    const char *semi =
        memchr(s->p, ';', (size_t)(s->end - s->p) < 12 ? (size_t)(s->end - s->p) : 12);
    if (!semi)
        return bad(err, "unterminated entity");
    const char *name = s->p + 1;
    size_t n = (size_t)(semi - name);
    static const struct {
        const char *name;
        char c;
    } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    s->p = semi + 1;
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strlen(named[i].name) == n && memcmp(name, named[i].name, n) == 0)
            return text_add(s, &named[i].c, 1, err);
    if (n >= 2 && name[0] == '#') {
        int hex = name[1] == 'x';
        const char *d = name + 1 + hex;
        if (d == semi)
            return bad(err, "empty character reference");
        unsigned long cp = 0;
        for (; d < semi; d++) {
            int v;
            if (*d >= '0' && *d <= '9')
                v = *d - '0';
            else if (hex && *d >= 'a' && *d <= 'f')
                v = *d - 'a' + 10;
            else if (hex && *d >= 'A' && *d <= 'F')
                v = *d - 'A' + 10;
            else
                return bad(err, "bad character reference");
            cp = cp * (hex ? 16 : 10) + (unsigned long)v;
            if (cp > 0x10FFFF)
                return bad(err, "character reference out of range");
        }
        return utf8_add(s, cp, err);
    }
    return bad(err, "unknown entity");
}

static int start_tag(xml_scan *s, tsv_error *err)
{
    const char *name = ++s->p;
    while (s->p < s->end && is_name(*s->p))
        s->p++;
    size_t n = (size_t)(s->p - name);
    if (n == 0)
        return bad(err, "empty tag name");
    if (n > S3_XML_NAME_MAX)
        return bad(err, "tag name too long");
    /* attributes: skipped, quotes honoured */
    char q = 0;
    while (s->p < s->end && (q || (*s->p != '>'))) {
        if (q && *s->p == q)
            q = 0;
        else if (!q && (*s->p == '"' || *s->p == '\''))
            q = *s->p;
        else if (!q && *s->p == '<')
            return bad(err, "'<' inside a tag");
        s->p++;
    }
    if (s->p >= s->end)
        return bad(err, "unterminated tag");
    int empty = s->p[-1] == '/';
    s->p++;
    if (s->depth == 0 && s->roots++ > 0)
        return bad(err, "more than one root element");
    if (s->depth >= S3_XML_DEPTH_MAX)
        return bad(err, "nested too deep");
    s->child[s->depth] = 1;
    size_t at = s->plen[s->depth];
    if (s->depth > 0)
        s->path[at++] = '/';
    memcpy(s->path + at, name, n);
    s->path[at + n] = '\0';
    s->depth++;
    s->plen[s->depth] = at + n;
    s->child[s->depth] = 0;
    s->text.len = 0;
    return empty ? 1 : 0;
}

static int end_element(xml_scan *s, s3_xml_fn fn, void *ud, tsv_error *err)
{
    if (text_add(s, "", 1, err) != 0)
        return -1;
    s->text.len--;
    int rc =
        fn ? fn(ud, s->path, (const char *)s->text.data, s->text.len, !s->child[s->depth], err) : 0;
    s->depth--;
    s->path[s->plen[s->depth]] = '\0';
    s->text.len = 0;
    return rc ? -1 : 0;
}

static int end_tag(xml_scan *s, s3_xml_fn fn, void *ud, tsv_error *err)
{
    const char *name = s->p + 2;
    const char *gt = memchr(name, '>', (size_t)(s->end - name));
    if (!gt)
        return bad(err, "unterminated end tag");
    size_t n = (size_t)(gt - name);
    while (n && is_space(name[n - 1]))
        n--;
    if (s->depth == 0)
        return bad(err, "end tag without a start");
    size_t from = s->depth > 1 ? s->plen[s->depth - 1] + 1 : 0;
    size_t have = s->plen[s->depth] - from;
    if (have != n || memcmp(s->path + from, name, n) != 0)
        return bad(err, "mismatched end tag");
    s->p = gt + 1;
    return end_element(s, fn, ud, err);
}

int s3__xml_scan(const char *xml, size_t len, s3_xml_fn fn, void *ud, tsv_error *err)
{
    xml_scan *s = calloc(1, sizeof *s);
    if (!s)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    s->p = xml;
    s->end = xml + len;
    int rc = -1;
    /* a UTF-8 byte-order mark is allowed before the document */
    if (len >= 3 && memcmp(xml, "\xEF\xBB\xBF", 3) == 0)
        s->p += 3;
    while (s->p < s->end) {
        size_t left = (size_t)(s->end - s->p);
        if (*s->p == '<') {
            if (left >= 2 && s->p[1] == '?') {
                const char *e = find(s->p, s->end, "?>");
                if (!e) {
                    bad(err, "unterminated declaration");
                    goto out;
                }
                s->p = e + 2;
            } else if (left >= 4 && memcmp(s->p, "<!--", 4) == 0) {
                const char *e = find(s->p + 4, s->end, "-->");
                if (!e) {
                    bad(err, "unterminated comment");
                    goto out;
                }
                s->p = e + 3;
            } else if (left >= 9 && memcmp(s->p, "<![CDATA[", 9) == 0) {
                const char *e = find(s->p + 9, s->end, "]]>");
                if (!e) {
                    bad(err, "unterminated CDATA");
                    goto out;
                }
                if (s->depth == 0) {
                    bad(err, "CDATA outside the root element");
                    goto out;
                }
                if (text_add(s, s->p + 9, (size_t)(e - s->p - 9), err) != 0)
                    goto out;
                s->p = e + 3;
            } else if (left >= 2 && s->p[1] == '!') {
                bad(err, "DOCTYPE not accepted");
                goto out;
            } else if (left >= 2 && s->p[1] == '/') {
                if (end_tag(s, fn, ud, err) != 0)
                    goto out;
            } else {
                int r = start_tag(s, err);
                if (r < 0 || (r == 1 && end_element(s, fn, ud, err) != 0))
                    goto out;
            }
        } else if (*s->p == '&') {
            if (s->depth == 0) {
                bad(err, "text outside the root element");
                goto out;
            }
            if (entity(s, err) != 0)
                goto out;
        } else {
            if (s->depth == 0) {
                if (!is_space(*s->p)) {
                    bad(err, "text outside the root element");
                    goto out;
                }
            } else if (*s->p == '\0') {
                bad(err, "NUL byte");
                goto out;
            } else if (text_add(s, s->p, 1, err) != 0) {
                goto out;
            }
            s->p++;
        }
    }
    if (s->depth != 0 || s->roots == 0) {
        bad(err, s->roots ? "document ends inside an element" : "no root element");
        goto out;
    }
    rc = 0;
out:
    tsv_buf_free(&s->text);
    free(s);
    return rc;
}

/* ---- single values ------------------------------------------------------- */

typedef struct find_ctx {
    const char *path;
    tsv_buf *out;
    int found;
} find_ctx;

static int find_cb(void *ud, const char *path, const char *text, size_t len, int leaf,
                   tsv_error *err)
{
    find_ctx *f = ud;
    (void)leaf;
    if (f->found || strcmp(path, f->path) != 0)
        return 0;
    f->found = 1;
    return tsv_buf_append(f->out, text, len + 1, err) ? -1 : 0;
}

int s3__xml_find(const char *xml, size_t len, const char *path, tsv_buf *out, tsv_error *err)
{
    out->len = 0;
    find_ctx f = {path, out, 0};
    if (s3__xml_scan(xml, len, find_cb, &f, err) != 0)
        return -1;
    if (!f.found)
        return tsv_error_set(err, TSV_ENOTFOUND, "no %s in the store's answer", path);
    out->len--; /* the NUL stays after the text */
    return 0;
}

typedef struct errbody_ctx {
    char *code, *msg;
    size_t codelen, msglen;
    int is_error;
} errbody_ctx;

static int errbody_cb(void *ud, const char *path, const char *text, size_t len, int leaf,
                      tsv_error *err)
{
    errbody_ctx *e = ud;
    (void)leaf, (void)err;
    if (strcmp(path, "Error") == 0)
        e->is_error = 1;
    else if (strcmp(path, "Error/Code") == 0)
        snprintf(e->code, e->codelen, "%.*s", (int)len, text);
    else if (strcmp(path, "Error/Message") == 0)
        snprintf(e->msg, e->msglen, "%.*s", (int)len, text);
    return 0;
}

int s3__error_body(const char *xml, size_t len, char *code, size_t codelen, char *msg,
                   size_t msglen)
{
    if (codelen)
        code[0] = '\0';
    if (msglen)
        msg[0] = '\0';
    if (!xml || !len || !codelen || !msglen)
        return 0;
    errbody_ctx e = {code, msg, codelen, msglen, 0};
    if (s3__xml_scan(xml, len, errbody_cb, &e, NULL) != 0) {
        code[0] = msg[0] = '\0';
        return 0;
    }
    return e.is_error;
}

/* ---- ListObjectsV2 ------------------------------------------------------- */

typedef struct list_ctx {
    tsv_s3_list_fn fn;
    void *ud;
    tsv_buf key, etag, modified;
    uint64_t size;
    int have_key, have_size, truncated, root_ok;
    tsv_buf *next;
} list_ctx;

static int set_text(tsv_buf *b, const char *text, size_t len, tsv_error *err)
{
    b->len = 0;
    return tsv_buf_append(b, text, len, err) || tsv_buf_append(b, "", 1, err) ? -1 : 0;
}

static int list_cb(void *ud, const char *path, const char *text, size_t len, int leaf,
                   tsv_error *err)
{
    list_ctx *l = ud;
    (void)leaf;
    if (strcmp(path, "ListBucketResult") == 0) {
        l->root_ok = 1;
    } else if (strncmp(path, "ListBucketResult/Contents", 25) == 0) {
        const char *f = path + 25;
        if (strcmp(f, "/Key") == 0) {
            if (len == 0 || memchr(text, '\0', len))
                return bad(err, "empty or NUL-bearing key in a listing");
            l->have_key = 1;
            return set_text(&l->key, text, len, err);
        } else if (strcmp(f, "/Size") == 0) {
            char *e = NULL;
            if (len == 0 || len > 20 || text[0] < '0' || text[0] > '9')
                return bad(err, "bad <Size> in a listing");
            unsigned long long v = strtoull(text, &e, 10);
            if (*e)
                return bad(err, "bad <Size> in a listing");
            l->size = v;
            l->have_size = 1;
        } else if (strcmp(f, "/ETag") == 0) {
            if (len >= 2 && text[0] == '"' && text[len - 1] == '"')
                text++, len -= 2;
            return set_text(&l->etag, text, len, err);
        } else if (strcmp(f, "/LastModified") == 0) {
            return set_text(&l->modified, text, len, err);
        } else if (*f == '\0') {
            if (!l->have_key || !l->have_size)
                return bad(err, "<Contents> without <Key> or <Size>");
            tsv_s3_entry e = {(const char *)l->key.data, l->size,
                              l->etag.len ? (const char *)l->etag.data : "",
                              l->modified.len ? (const char *)l->modified.data : ""};
            int rc = l->fn ? l->fn(&e, l->ud, err) : 0;
            l->have_key = l->have_size = 0;
            l->key.len = l->etag.len = l->modified.len = 0;
            return rc ? -1 : 0;
        }
    } else if (strcmp(path, "ListBucketResult/IsTruncated") == 0) {
        if (len == 4 && memcmp(text, "true", 4) == 0)
            l->truncated = 1;
        else if (len == 5 && memcmp(text, "false", 5) == 0)
            l->truncated = 0;
        else
            return bad(err, "bad <IsTruncated>");
    } else if (strcmp(path, "ListBucketResult/NextContinuationToken") == 0) {
        return set_text(l->next, text, len, err);
    }
    return 0;
}

int s3__list_page(const char *xml, size_t len, tsv_s3_list_fn fn, void *ud, int *truncated,
                  tsv_buf *next, tsv_error *err)
{
    list_ctx l = {0};
    l.fn = fn;
    l.ud = ud;
    l.next = next;
    next->len = 0;
    *truncated = 0;
    int rc = s3__xml_scan(xml, len, list_cb, &l, err);
    if (rc == 0 && !l.root_ok)
        rc = bad(err, "not a ListBucketResult");
    if (rc == 0 && l.truncated && next->len <= 1)
        rc = bad(err, "truncated listing without <NextContinuationToken>");
    if (rc == 0 && next->len)
        next->len--; /* keep the NUL after the token */
    if (rc == 0)
        *truncated = l.truncated;
    tsv_buf_free(&l.key);
    tsv_buf_free(&l.etag);
    tsv_buf_free(&l.modified);
    return rc;
}
