/* fault: TSVAULT_FAULT parsing and the actions of an armed point. */
#include "fault.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tsv_log.h"

enum {
    ACT_PAUSE = 1,
    ACT_ENOSPC = 2,
    ACT_SLOW = 3
};

atomic_int tsv_fault_armed_;
/* Written only while disarmed (configure), published by the release store
 * of tsv_fault_armed_. */
static char fault_point[64];
static int fault_action;
static unsigned fault_slow_s = 2;
static atomic_int fault_fired;

int tsv_fault_configure(const char *spec)
{
    atomic_store(&tsv_fault_armed_, 0);
    atomic_store(&fault_fired, 0);
    fault_point[0] = '\0';
    fault_action = 0;
    if (!spec || !*spec)
        return 0;
    const char *colon = strrchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : 0;
    if (!colon || n == 0 || n >= sizeof fault_point)
        return -1;
    if (strcmp(colon + 1, "pause") == 0)
        fault_action = ACT_PAUSE;
    else if (strcmp(colon + 1, "enospc") == 0)
        fault_action = ACT_ENOSPC;
    else if (strncmp(colon + 1, "slow", 4) == 0) {
        /* "slow" = 2 s, "slowN" = N s (1..600) */
        const char *n = colon + 5;
        char *end;
        unsigned long v = *n ? strtoul(n, &end, 10) : 2;
        if ((*n && *end) || v < 1 || v > 600)
            return -1;
        fault_slow_s = (unsigned)v;
        fault_action = ACT_SLOW;
    } else
        return -1;
    memcpy(fault_point, spec, n);
    fault_point[n] = '\0';
    atomic_store_explicit(&tsv_fault_armed_, 1, memory_order_release);
    return 0;
}

/* Read once, before main and before any thread exists. */
__attribute__((constructor)) static void fault_init(void)
{
    const char *spec = getenv("TSVAULT_FAULT");
    if (!spec || !*spec)
        return;
    if (tsv_fault_configure(spec) != 0)
        TSV_WARN("msg=\"ignoring malformed TSVAULT_FAULT (want <point>:pause|enospc|slow[N])\" "
                 "value=\"%s\"",
                 spec);
    else
        TSV_WARN("msg=\"fault injection armed\" point=%s action=%s", fault_point,
                 fault_action == ACT_PAUSE  ? "pause"
                 : fault_action == ACT_SLOW ? "slow"
                                            : "enospc");
}

int tsv_fault_check_slow_(const char *name, tsv_error *err)
{
    if (!atomic_load_explicit(&tsv_fault_armed_, memory_order_acquire) ||
        strcmp(name, fault_point) != 0)
        return 0;
    if (fault_action == ACT_PAUSE) {
        TSV_WARN("msg=\"fault point reached\" point=%s", name);
        /* Hold whatever this thread holds (locks, half-made directories)
         * until the test kills the process. */
        for (;;)
            sleep(3600);
    }
    if (fault_action == ACT_SLOW) {
        TSV_WARN("msg=\"fault point reached\" point=%s action=slow", name);
        sleep(fault_slow_s);
        return 0;
    }
    /* enospc: only where the caller can fail, and only once. */
    if (fault_action == ACT_ENOSPC && err && atomic_exchange(&fault_fired, 1) == 0) {
        TSV_WARN("msg=\"fault point reached\" point=%s action=enospc", name);
        return tsv_error_set_errno(err, TSV_EINTERNAL, ENOSPC, "write (fault injected at %s)",
                                   name);
    }
    return 0;
}
