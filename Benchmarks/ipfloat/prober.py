#!/usr/bin/env python3
"""Probes a service address with TCP connections at a fixed interval, from inside a client namespace, and prints
the outage one float caused: from the start of the first probe that failed to the first probe that succeeded after
it (0 when none failed), and how many probes failed.

    prober.py ADDRESS PORT INTERVAL_MS TIMEOUT_MS READY_FILE GO_FILE [MAX_SECONDS]

Writes READY_FILE after ten probes in a row succeeded; the float starts once GO_FILE exists. Ends after a failure
and five successes following it, one second after GO_FILE with no failure, or MAX_SECONDS (default 90) in all.
"""
import os
import socket
import sys
import time

address, port = sys.argv[1], int(sys.argv[2])
interval, timeout = float(sys.argv[3]) / 1000, float(sys.argv[4]) / 1000
ready_file, go_file = sys.argv[5], sys.argv[6]
max_seconds = float(sys.argv[7]) if len(sys.argv) > 7 else 90.0


def probe():
    s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((address, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


start = time.monotonic()
next_at = start
streak = 0
ready = False
went = None
first_failure = None
recovered = None
failures = 0
after_recovery = 0
while time.monotonic() - start < max_seconds:
    now = time.monotonic()
    if now < next_at:
        time.sleep(next_at - now)
    at = time.monotonic()
    next_at = at + interval
    ok = probe()
    if not ready:
        streak = streak + 1 if ok else 0
        if streak >= 10:
            ready = True
            open(ready_file, "w").close()
        continue
    if went is None:
        if os.path.exists(go_file):
            went = at
        elif ok:
            continue
    if not ok:
        failures += 1
        if first_failure is None:
            first_failure = at
        after_recovery = 0
        recovered = None
        continue
    if first_failure is not None:
        if recovered is None:
            recovered = at
        after_recovery += 1
        if after_recovery >= 5:
            break
    elif went is not None and at - went > 1.0:
        break
if first_failure is not None and recovered is None:
    print("timeout %d" % failures)
else:
    outage = 0.0 if first_failure is None else (recovered - first_failure) * 1000
    print("%.3f %d" % (outage, failures))
