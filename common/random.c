/* random: random numbers from the kernel's CSPRNG (getrandom(2)). */
#include "random.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/types.h>

uint64_t tsv_random_u64(void)
{
    uint64_t v = 0;
    size_t got = 0;
    while (got < sizeof v) {
        ssize_t n = getrandom((char *)&v + got, sizeof v - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            abort(); /* no entropy source: nothing safe to fall back to */
        }
        got += (size_t)n;
    }
    return v;
}
