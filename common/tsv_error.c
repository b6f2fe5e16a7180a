/* tsv_error: InfluxDB error codes, their HTTP statuses, and message helpers. */
#include "tsv_error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
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
