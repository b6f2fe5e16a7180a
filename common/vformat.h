/* vformat: a variadic function's arguments, formatted into a fixed buffer.
 *
 * TSV_VFORMAT(buf, fmt) formats the arguments that follow `fmt` in the
 * enclosing variadic function into the char array `buf`: truncated to fit,
 * always terminated. `fmt` must be that function's last named parameter, and
 * `buf` an array, since its size is taken with sizeof (a pointer does not
 * compile). It allocates nothing and is as thread-safe as vsnprintf. */
#ifndef TSV_VFORMAT_H
#define TSV_VFORMAT_H

#include <stdarg.h>
#include <stdio.h>

#define TSV_VFORMAT(buf, fmt)                                                                      \
    do {                                                                                           \
        _Static_assert(!__builtin_types_compatible_p(__typeof__(buf), __typeof__(&(buf)[0])),      \
                       "TSV_VFORMAT needs an array, not a pointer");                               \
        va_list tsv_vformat_ap_;                                                                   \
        va_start(tsv_vformat_ap_, fmt);                                                            \
        vsnprintf(buf, sizeof(buf), fmt, tsv_vformat_ap_);                                         \
        va_end(tsv_vformat_ap_);                                                                   \
    } while (0)

#endif
