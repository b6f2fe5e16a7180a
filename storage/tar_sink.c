/* tar_sink: a tar stream taken apart into objects (tar_objects.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array_grow.h"
#include "fsutil.h"
#include "random.h"
#include "tar_objects.h"

#define BLOCK 512
#define PAX_MAX (64 * 1024)

enum {
    S_HEADER,
    S_DATA,
    S_PAD,
    S_PAX,
    S_LONGNAME,
    S_END,
    S_DONE
};

struct tsv_tar_sink {
    tsv_writer w;
    tsv_objstore *os;
    char tmp_dir[PATH_MAX];
    int state;
    uint8_t hdr[BLOCK];
    size_t hdr_fill;
    uint64_t left, pad;
    uint64_t offset; /* bytes consumed, for messages */
    /* the entry being received */
    int fd;
    char tmp[PATH_MAX];
    EVP_MD_CTX *md;
    tsv_tar_entry cur;
    int skip; /* a directory's (empty) data, or a global PAX header */
    /* PAX / GNU long name record, and what it says about the next entry */
    char *rec;
    size_t rec_len;
    char next_name[512];
    int has_next_name;
    uint64_t next_size;
    int has_next_size;
    tsv_tar_entry *v;
    size_t n, cap;
    uint64_t new_bytes;
    int failed;
};

static uint64_t octal(const uint8_t *p, size_t n, int *bad)
{
    if (n && (p[0] & 0x80)) { /* base-256 */
        uint64_t v = p[0] & 0x7f;
        for (size_t i = 1; i < n; i++) {
            if (v >> 56)
                *bad = 1;
            v = (v << 8) | p[i];
        }
        return v;
    }
    uint64_t v = 0;
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == 0))
        i++;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
        v = v * 8 + (uint64_t)(p[i] - '0');
    for (; i < n; i++)
        if (p[i] != ' ' && p[i] != 0)
            *bad = 1;
    return v;
}

static int all_zero(const uint8_t *p)
{
    for (size_t i = 0; i < BLOCK; i++)
        if (p[i])
            return 0;
    return 1;
}

static int bad_tar(tsv_tar_sink *t, tsv_error *err, const char *what)
{
    t->failed = 1;
    return tsv_error_set(err, TSV_EINVALID, "malformed tar at byte %" PRIu64 ": %s", t->offset,
                         what);
}

static int begin_file(tsv_tar_sink *t, tsv_error *err)
{
    if (tsv_path_join(t->tmp, sizeof t->tmp, err, "%s/pull-%016llx.tmp", t->tmp_dir,
                      (unsigned long long)tsv_random_u64()) != 0)
        return -1;
    t->fd = open(t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (t->fd < 0)
        return tsv_error_set_errno(err, errno == ENOSPC ? TSV_ENOSPACE : TSV_EINTERNAL, errno,
                                   "create %s", t->tmp);
    if (EVP_DigestInit_ex(t->md, EVP_sha256(), NULL) != 1)
        return tsv_error_set(err, TSV_EINTERNAL, "sha256 init");
    return 0;
}

static void drop_file(tsv_tar_sink *t)
{
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
        unlink(t->tmp);
    }
}

static int end_file(tsv_tar_sink *t, tsv_error *err)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_DigestFinal_ex(t->md, md, &mdlen) != 1)
        return tsv_error_set(err, TSV_EINTERNAL, "sha256 final");
    for (unsigned i = 0; i < 32; i++)
        snprintf(t->cur.hex + 2 * i, 3, "%02x", md[i]);
    int rc = tsv_fsync_fd(t->fd, t->tmp, err);
    close(t->fd);
    t->fd = -1;
    if (rc == 0)
        rc = tsv_objstore_adopt(t->os, t->tmp, t->cur.hex, &t->cur.created, err);
    unlink(t->tmp);
    if (rc != 0)
        return -1;
    if (t->cur.created)
        t->new_bytes += t->cur.size;
    if (TSV_ARRAY_GROW(t->v, t->n, t->cap, err) != 0)
        return -1;
    t->v[t->n++] = t->cur;
    return 0;
}

/* PAX records "<len> key=value\n": only path and size matter here. */
static int parse_pax(tsv_tar_sink *t, tsv_error *err)
{
    size_t i = 0;
    while (i < t->rec_len) {
        char *end = NULL;
        unsigned long len = strtoul(t->rec + i, &end, 10);
        if (!end || *end != ' ' || len == 0 || len > t->rec_len - i)
            return bad_tar(t, err, "bad PAX record");
        char *kv = end + 1, *stop = t->rec + i + len - 1; /* the '\n' */
        char *eq = memchr(kv, '=', (size_t)(stop - kv));
        if (!eq || *stop != '\n')
            return bad_tar(t, err, "bad PAX record");
        size_t klen = (size_t)(eq - kv), vlen = (size_t)(stop - eq - 1);
        if (klen == 4 && memcmp(kv, "path", 4) == 0) {
            if (vlen >= sizeof t->next_name)
                return bad_tar(t, err, "PAX path too long");
            memcpy(t->next_name, eq + 1, vlen);
            t->next_name[vlen] = 0;
            t->has_next_name = 1;
        } else if (klen == 4 && memcmp(kv, "size", 4) == 0) {
            char tmp[32];
            if (vlen == 0 || vlen >= sizeof tmp)
                return bad_tar(t, err, "bad PAX size");
            memcpy(tmp, eq + 1, vlen);
            tmp[vlen] = 0;
            char *e = NULL;
            t->next_size = strtoull(tmp, &e, 10);
            if (!e || *e)
                return bad_tar(t, err, "bad PAX size");
            t->has_next_size = 1;
        }
        i += len;
    }
    return 0;
}

static int on_header(tsv_tar_sink *t, tsv_error *err)
{
    const uint8_t *h = t->hdr;
    if (all_zero(h)) {
        t->state = S_END;
        return 0;
    }
    int bad = 0;
    uint64_t sum = octal(h + 148, 8, &bad), calc = 0;
    for (size_t i = 0; i < BLOCK; i++)
        calc += (i >= 148 && i < 156) ? ' ' : h[i];
    if (bad || sum != calc)
        return bad_tar(t, err, "header checksum mismatch (not a tar, or corrupted)");
    uint64_t size = octal(h + 124, 12, &bad);
    int64_t mtime = (int64_t)octal(h + 136, 12, &bad);
    if (bad)
        return bad_tar(t, err, "bad number in header");
    char type = (char)h[156];
    memset(&t->cur, 0, sizeof t->cur);
    if (t->has_next_name) {
        snprintf(t->cur.name, sizeof t->cur.name, "%s", t->next_name);
    } else {
        char name[101], prefix[156];
        memcpy(name, h, 100);
        name[100] = 0;
        memcpy(prefix, h + 345, 155);
        prefix[155] = 0;
        int ustar = memcmp(h + 257, "ustar", 5) == 0;
        if (ustar && prefix[0])
            snprintf(t->cur.name, sizeof t->cur.name, "%s/%s", prefix, name);
        else
            snprintf(t->cur.name, sizeof t->cur.name, "%s", name);
    }
    if (t->has_next_size)
        size = t->next_size;
    t->has_next_name = t->has_next_size = 0;
    t->cur.size = size;
    t->cur.mtime = mtime;
    t->left = size;
    t->pad = (BLOCK - size % BLOCK) % BLOCK;
    t->skip = 0;
    switch (type) {
    case '0':
    case '\0':
    case '7':
        if (!t->cur.name[0])
            return bad_tar(t, err, "entry without a name");
        if (begin_file(t, err) != 0)
            return -1;
        t->state = S_DATA;
        break;
    case '5':
        t->skip = 1;
        t->state = S_DATA;
        break;
    case 'x':
    case 'g':
    case 'L':
        if (size > PAX_MAX)
            return bad_tar(t, err, "extended header larger than 64 KiB");
        free(t->rec);
        t->rec = malloc(size + 1);
        if (!t->rec)
            return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
        t->rec_len = 0;
        t->skip = type == 'g';
        t->state = type == 'L' ? S_LONGNAME : S_PAX;
        break;
    default: {
        char msg[700];
        snprintf(msg, sizeof msg,
                 "entry \"%.500s\" is of type '%c' (link, device or FIFO): only regular files "
                 "are accepted",
                 t->cur.name, type);
        return bad_tar(t, err, msg);
    }
    }
    if (t->left == 0 && t->state != S_DATA)
        t->state = S_HEADER; /* an empty record */
    if (t->state == S_DATA && t->left == 0) {
        if (!t->skip && end_file(t, err) != 0)
            return -1;
        t->state = t->pad ? S_PAD : S_HEADER;
    }
    return 0;
}

static int record_done(tsv_tar_sink *t, tsv_error *err)
{
    t->rec[t->rec_len] = 0;
    if (t->state == S_LONGNAME) {
        size_t l = strnlen(t->rec, t->rec_len);
        if (l >= sizeof t->next_name)
            return bad_tar(t, err, "long name too long");
        memcpy(t->next_name, t->rec, l);
        t->next_name[l] = 0;
        t->has_next_name = 1;
    } else if (!t->skip && parse_pax(t, err) != 0) {
        return -1;
    }
    return 0;
}

static int sink_write(tsv_writer *w, const void *buf, size_t len, tsv_error *err)
{
    tsv_tar_sink *t = (tsv_tar_sink *)w;
    const uint8_t *p = buf;
    if (t->failed)
        return tsv_error_set(err, TSV_EINVALID, "tar stream already failed");
    while (len > 0) {
        size_t n;
        switch (t->state) {
        case S_HEADER:
        case S_END:
            n = BLOCK - t->hdr_fill;
            if (n > len)
                n = len;
            memcpy(t->hdr + t->hdr_fill, p, n);
            t->hdr_fill += n;
            if (t->hdr_fill == BLOCK) {
                t->hdr_fill = 0;
                if (t->state == S_END) {
                    if (!all_zero(t->hdr))
                        return bad_tar(t, err, "data after a zero block");
                    t->state = S_DONE;
                } else if (on_header(t, err) != 0) {
                    t->failed = 1;
                    return -1;
                }
            }
            break;
        case S_DATA:
        case S_PAX:
        case S_LONGNAME:
            n = t->left < len ? (size_t)t->left : len;
            if (t->state != S_DATA) {
                memcpy(t->rec + t->rec_len, p, n);
                t->rec_len += n;
            } else if (!t->skip) {
                if (tsv_write_all(t->fd, p, n, t->tmp, err) != 0 ||
                    EVP_DigestUpdate(t->md, p, n) != 1) {
                    t->failed = 1;
                    return -1;
                }
            }
            t->left -= n;
            if (t->left == 0) {
                int rc = 0;
                if (t->state == S_DATA && !t->skip)
                    rc = end_file(t, err);
                else if (t->state != S_DATA)
                    rc = record_done(t, err);
                if (rc != 0) {
                    t->failed = 1;
                    return -1;
                }
                t->state = t->pad ? S_PAD : S_HEADER;
            }
            break;
        case S_PAD:
            n = t->pad < len ? (size_t)t->pad : len;
            t->pad -= n;
            if (t->pad == 0)
                t->state = S_HEADER;
            break;
        default: /* S_DONE: only zero padding may follow */
            n = len;
            for (size_t i = 0; i < n; i++)
                if (p[i])
                    return bad_tar(t, err, "data after the end of the archive");
            break;
        }
        p += n;
        len -= n;
        t->offset += n;
    }
    return 0;
}

int tsv_tar_sink_new(tsv_tar_sink **out, tsv_objstore *os, const char *tmp_dir, tsv_error *err)
{
    tsv_tar_sink *t = calloc(1, sizeof *t);
    if (!t)
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    t->w.write = sink_write;
    t->os = os;
    t->fd = -1;
    snprintf(t->tmp_dir, sizeof t->tmp_dir, "%s", tmp_dir);
    if (!(t->md = EVP_MD_CTX_new())) {
        free(t);
        return tsv_error_set(err, TSV_EINTERNAL, "out of memory");
    }
    if (tsv_mkdir_p(tmp_dir, err) != 0) {
        tsv_tar_sink_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

tsv_writer *tsv_tar_sink_writer(tsv_tar_sink *t) { return &t->w; }

int tsv_tar_sink_finish(tsv_tar_sink *t, tsv_error *err)
{
    if (t->failed)
        return tsv_error_set(err, TSV_EINVALID, "tar stream failed");
    /* An empty body (0 bytes) is an empty tar; a body that stops anywhere
     * else but after the end-of-archive blocks was cut off. */
    if (t->offset == 0 || t->state == S_DONE)
        return 0;
    return tsv_error_set(err, TSV_EINVALID,
                         "truncated tar: the stream ended after %" PRIu64
                         " bytes without the end-of-archive blocks",
                         t->offset);
}

int tsv_tar_tmp_dir_reset(const char *dir, tsv_error *err)
{
    if (tsv_path_exists(dir) && tsv_remove_tree(dir, err) != 0)
        return -1;
    return tsv_mkdir_p(dir, err);
}

const tsv_tar_entry *tsv_tar_sink_entries(const tsv_tar_sink *t, size_t *count)
{
    *count = t->n;
    return t->v;
}

uint64_t tsv_tar_sink_new_bytes(const tsv_tar_sink *t) { return t->new_bytes; }

void tsv_tar_sink_free(tsv_tar_sink *t)
{
    if (!t)
        return;
    drop_file(t);
    EVP_MD_CTX_free(t->md);
    free(t->rec);
    free(t->v);
    free(t);
}
