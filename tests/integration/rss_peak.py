#!/usr/bin/env python3
"""Peak anonymous memory of a process while something runs.

Usage: rss_peak.py PID OUT
Samples RssAnon (kB) from /proc/PID/status every 5 ms until it receives
SIGTERM (or the process ends), then writes "<idle kB> <peak kB>" to OUT:
idle is the first sample. OUT.ready appears once the first sample is taken
and SIGTERM is handled: wait for it before starting what is measured. RssAnon leaves out the page cache and file-backed
maps (the mmapped bolt upload, the LMDB map), so it is the memory a design
that buffers data in the heap would show. Used by the KV memory benchmark
(tests/bench/kv.sh) and tests/integration/test_kv_memory.sh.
"""
import signal
import sys
import time

pid, out = sys.argv[1], sys.argv[2]
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)


def sample():
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


idle = sample()
if idle is None:
    sys.exit(f"rss_peak: no process {pid}")
peak = idle
open(out + ".ready", "w").close()
while not stop:
    v = sample()
    if v is None:
        break
    peak = max(peak, v)
    time.sleep(0.005)
with open(out, "w") as f:
    f.write(f"{idle} {peak}\n")
