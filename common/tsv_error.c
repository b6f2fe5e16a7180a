/* tsv_error: InfluxDB error codes, their HTTP statuses, and message helpers. */
#include "tsv_error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vformat.h"

static const struct {
    const char *name;
    int status;
} code_table[TSV_ECODE_COUNT] = {
    [TSV_OK] = {"", 200},
    [TSV_EINTERNAL] = {"internal error", 500},
    [TSV_EINVALID] = {"invalid", 400},
    [TSV_EEMPTY] = {"empty value", 400},
    [TSV_ENOTFOUND] = {"not found", 404},
    [TSV_ECONFLICT] = {"conflict", 422},
    [TSV_EUNPROCESSABLE] = {"unprocessable entity", 422},
    [TSV_EUNAUTHORIZED] = {"unauthorized", 401},
    [TSV_EFORBIDDEN] = {"forbidden", 403},
    [TSV_EMETHOD] = {"method not allowed", 405},
    [TSV_ETOOLARGE] = {"request too large", 413},
    [TSV_EUNAVAILABLE] = {"unavailable", 503},
    [TSV_ENOTIMPL] = {"not implemented", 501},
    [TSV_ETOOMANY] = {"too many requests", 429},
    /* The influx CLI only decodes codes it knows; "unavailable" is the known
     * code closest to "the server cannot store this right now". */
    [TSV_ENOSPACE] = {"unavailable", 507},
    /* InfluxDB's own code for 415; 417 and 408 have none there. */
    [TSV_EUNSUPPORTED] = {"unsupported media type", 415},
    [TSV_EEXPECTATION] = {"expectation failed", 417},
    [TSV_ETIMEOUT] = {"request timeout", 408},
};

const char *tsv_code_string(tsv_code code)
{
    if ((int)code < 0 || code >= TSV_ECODE_COUNT)
        return "internal error";
    return code_table[code].name;
}

int tsv_code_http_status(tsv_code code)
{
    if ((int)code < 0 || code >= TSV_ECODE_COUNT)
        return 500;
    return code_table[code].status;
}

int tsv_error_vset(tsv_error *err, tsv_code code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
    }
    return -1;
}

int tsv_error_set(tsv_error *err, tsv_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tsv_error_vset(err, code, fmt, ap);
    va_end(ap);
    return -1;
}

int tsv_error_set_errno(tsv_error *err, tsv_code code, int errnum, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    tsv_error_vset(err, code, fmt, ap);
    va_end(ap);
    size_t n = strlen(err->message);
    snprintf(err->message + n, sizeof err->message - n, ": %s", strerror(errnum));
    if (errnum == ENOSPC || errnum == EDQUOT) {
        err->code = TSV_ENOSPACE;
        /* Say plainly what happened; the strerror text alone is terse. */
        n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n,
                 " (insufficient storage; previous data left intact)");
    }
    return -1;
}

int tsv_error_wrap(tsv_error *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[TSV_ERROR_MSG_MAX];
    char old[TSV_ERROR_MSG_MAX];
    TSV_VFORMAT(prefix, fmt);
    memcpy(old, err->message, sizeof old);
    /* Truncation is acceptable here: the message is for humans. */
    size_t n = strlen(prefix);
    if (n > sizeof err->message - 3)
        n = sizeof err->message - 3;
    memcpy(err->message, prefix, n);
    err->message[n++] = ':';
    err->message[n++] = ' ';
    size_t rest = sizeof err->message - n - 1;
    size_t olen = strnlen(old, rest);
    memcpy(err->message + n, old, olen);
    err->message[n + olen] = '\0';
    return -1;
}

void tsv_error_clear(tsv_error *err)
{
    if (err) {
        err->code = TSV_OK;
        err->message[0] = '\0';
    }
}

/* Rewrites one absolute path (p, n) into its public form. */
static void public_path(const char *p, size_t n, char *out, size_t outlen)
{
    static const char marker[] = "/engine/data/";
    const char *m = NULL;
    for (size_t i = 0; i + sizeof marker - 1 <= n; i++)
        if (memcmp(p + i, marker, sizeof marker - 1) == 0)
            m = p + i + sizeof marker - 1;
    if (m) {
        /* <bucket>/<rp>/<shard>[.staging-...|.anything]/<file...> */
        const char *seg[4] = {0};
        size_t len[4] = {0};
        int k = 0;
        const char *end = p + n, *q = m;
        while (q < end && k < 4) {
            const char *slash = memchr(q, '/', (size_t)(end - q));
            size_t l = slash ? (size_t)(slash - q) : (size_t)(end - q);
            seg[k] = q;
            len[k] = l;
            k++;
            q = slash ? slash + 1 : end;
        }
        if (k >= 1) {
            int w = snprintf(out, outlen, "bucket %.*s", (int)len[0], seg[0]);
            if (k >= 3 && w >= 0 && (size_t)w < outlen) {
                size_t sl = strcspn(seg[2], "./");
                if (sl > len[2])
                    sl = len[2];
                w += snprintf(out + w, outlen - (size_t)w, ", shard %.*s", (int)sl, seg[2]);
            }
            if (k >= 4 && w >= 0 && (size_t)w < outlen) {
                /* the file: the last component of the rest */
                const char *f = seg[3], *fe = end;
                for (const char *r = f; r < fe; r++)
                    if (*r == '/')
                        f = r + 1;
                snprintf(out + w, outlen - (size_t)w, ", file %.*s", (int)(fe - f), f);
            }
            return;
        }
    }
    const char *base = p;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '/' && i + 1 < n)
            base = p + i + 1;
    snprintf(out, outlen, "%.*s", (int)(n - (size_t)(base - p)), base);
}

int tsv_error_public_message(const char *message, const char *root, char *out, size_t outlen)
{
    if (!outlen)
        return 0;
    out[0] = '\0';
    size_t o = 0, rlen = root ? strlen(root) : 0;
    while (rlen > 1 && root[rlen - 1] == '/')
        rlen--;
    int changed = 0;
    const char *s = message ? message : "";
    for (size_t i = 0; s[i];) {
        size_t n = 0;
        if (rlen && (i == 0 || strchr(" \t\"'(=", s[i - 1])) && strncmp(s + i, root, rlen) == 0 &&
            s[i + rlen] == '/') {
            /* A path ends at whitespace, a quote, a comma, a parenthesis, or a
             * colon followed by a space or the end (": No space left"). */
            while (s[i + n] && !strchr(" \t\"',)", s[i + n]) &&
                   !(s[i + n] == ':' && (s[i + n + 1] == ' ' || s[i + n + 1] == '\0')))
                n++;
        }
        if (n) {
            char rep[256];
            public_path(s + i, n, rep, sizeof rep);
            int w = snprintf(out + o, outlen - o, "%s", rep);
            if (w < 0 || (size_t)w >= outlen - o) {
                o = outlen - 1;
                break;
            }
            o += (size_t)w;
            i += n;
            changed = 1;
            continue;
        }
        if (o + 1 >= outlen)
            break;
        out[o++] = s[i++];
        out[o] = '\0';
    }
    out[o < outlen ? o : outlen - 1] = '\0';
    return changed;
}
