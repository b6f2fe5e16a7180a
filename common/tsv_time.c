/* tsv_time: RFC 3339 formatting (as Go's time.RFC3339Nano) and parsing. */
#include "tsv_time.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_SEC 1000000000LL
#define SECS_PER_DAY 86400LL

/* Days since 1970-01-01 of a proleptic Gregorian date. Works in 400-year
 * eras (146097 days each) counted from March, so the leap day is last. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);                       /* [0, 399] */
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void tsv_format_rfc3339nano(int64_t unix_ns, char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return;
    /* floor division so pre-1970 instants get a positive fraction */
    int64_t secs = unix_ns / NS_PER_SEC;
    int64_t frac = unix_ns % NS_PER_SEC;
    if (frac < 0) {
        frac += NS_PER_SEC;
        secs -= 1;
    }
    int64_t days = secs / SECS_PER_DAY;
    int64_t sod = secs % SECS_PER_DAY;
    if (sod < 0) {
        sod += SECS_PER_DAY;
        days -= 1;
    }
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    char fraction[11] = "";
    if (frac) { /* Go trims trailing zeros: .5, not .500000000 */
        int digits = 9;
        while (frac % 10 == 0) {
            frac /= 10;
            digits--;
        }
        snprintf(fraction, sizeof fraction, ".%0*" PRId64, digits, frac);
    }
    snprintf(out, outlen, "%04" PRId64 "-%02u-%02uT%02u:%02u:%02u%sZ", year, month, day,
             (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60), fraction);
}

static bool parse_digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

static bool is_leap(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int rfc3339_error(const char *s, size_t len, const char *why, tsv_error *err)
{
    int shown = len > 64 ? 64 : (int)len;
    return tsv_error_set(err, TSV_EINVALID, "invalid RFC3339 time \"%.*s%s\": %s", shown,
                         s ? s : "", len > 64 ? "..." : "", why);
}

int tsv_parse_rfc3339(const char *s, size_t len, int64_t *unix_ns, tsv_error *err)
{
    static const unsigned days_in_month[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned year, month, day, hour, min, sec;
    if (!s || len < 20)
        return rfc3339_error(s, s ? len : 0, "too short", err);
    if (!parse_digits(s, 4, &year) || s[4] != '-' || !parse_digits(s + 5, 2, &month) ||
        s[7] != '-' || !parse_digits(s + 8, 2, &day) || s[10] != 'T' ||
        !parse_digits(s + 11, 2, &hour) || s[13] != ':' || !parse_digits(s + 14, 2, &min) ||
        s[16] != ':' || !parse_digits(s + 17, 2, &sec))
        return rfc3339_error(s, len, "want YYYY-MM-DDTHH:MM:SS", err);
    if (month < 1 || month > 12)
        return rfc3339_error(s, len, "month out of range", err);
    unsigned mdays = days_in_month[month - 1] + (month == 2 && is_leap(year));
    if (day < 1 || day > mdays)
        return rfc3339_error(s, len, "day out of range", err);
    if (hour > 23)
        return rfc3339_error(s, len, "hour out of range", err);
    if (min > 59)
        return rfc3339_error(s, len, "minute out of range", err);
    if (sec > 59)
        return rfc3339_error(s, len, "second out of range", err);

    size_t i = 19;
    int64_t frac = 0;
    if (s[i] == '.') {
        i++;
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        size_t digits = i - start;
        if (digits == 0)
            return rfc3339_error(s, len, "empty fraction", err);
        if (digits > 9)
            return rfc3339_error(s, len, "more than 9 fraction digits", err);
        for (size_t k = start; k < i; k++)
            frac = frac * 10 + (s[k] - '0');
        for (size_t k = digits; k < 9; k++)
            frac *= 10;
    }
    int64_t offset = 0;
    if (i < len && s[i] == 'Z') {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        unsigned oh, om;
        if (len - i < 6 || !parse_digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !parse_digits(s + i + 4, 2, &om))
            return rfc3339_error(s, len, "bad time zone offset", err);
        if (oh > 23 || om > 59)
            return rfc3339_error(s, len, "time zone offset out of range", err);
        offset = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return rfc3339_error(s, len, "want Z or a +hh:mm/-hh:mm offset", err);
    }
    if (i != len)
        return rfc3339_error(s, len, "extra text after the time", err);

    int64_t secs =
        days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + min * 60 + sec - offset;
    /* secs * 1e9 alone can overflow for the earliest representable instants
     * (1677-09-21T00:12:43.145224192Z), so borrow a second for the fraction. */
    if (secs < 0 && frac > 0) {
        secs += 1;
        frac -= NS_PER_SEC;
    }
    int64_t ns;
    if (__builtin_mul_overflow(secs, NS_PER_SEC, &ns) || __builtin_add_overflow(ns, frac, &ns))
        return rfc3339_error(s, len, "outside the int64 nanosecond range (1677-2262)", err);
    *unix_ns = ns;
    return 0;
}
