#!/usr/bin/env python3
"""Alternates cold builds (`--rebuild`) of two cargo-codegraph binaries on one workspace, so that
the machine's drift hits both alike, and prints the medians of wall time and of peak memory (each
build's own maximum resident set, from `wait4`) and their ratios.

    benches/compare-cold.py OLD_BINARY NEW_BINARY WORKSPACE_DIR [RUNS] [-- EXTRA BUILD ARGS]

For example, with the benchmark corpus copied to /tmp/corpus (and its dependencies fetched):

    benches/compare-cold.py old/cargo-codegraph target/release/cargo-codegraph /tmp/corpus 5 -- --deps

`--stores OLD_STORE,NEW_STORE` (before `--`) builds each side with its own `--store`: one binary
given twice compares two backends, for example the RocksDB backend against the msgpack one (a
binary built with `--features rocksdb`):

    benches/compare-cold.py BINARY BINARY /tmp/corpus 3 --stores msgpack,rocksdb -- --deps
"""
import os
import statistics
import subprocess
import sys
import time

import comparing


def main() -> int:
    args = comparing.parse(__doc__, {"stores": "msgpack,msgpack"})
    if args is None:
        return 2
    binaries, workspace, runs, extra = args.binaries, args.workspace, args.runs, args.extra
    stores = dict(zip(binaries, args.options["stores"].split(",")))
    times = {name: [] for name in binaries}
    peaks = {name: [] for name in binaries}
    # Round 0 warms the caches and is not counted.
    for round_ in range(runs + 1):
        for name, binary in binaries.items():
            store = stores[name]
            command = [binary, "codegraph", "--offline", "-q", "--rebuild", "--store", store,
                       "--db", f"{workspace}/{name}.{store}", *extra]
            started = time.monotonic()
            child = subprocess.Popen(command, cwd=workspace)
            _, status, usage = os.wait4(child.pid, 0)
            elapsed = time.monotonic() - started
            child.returncode = os.waitstatus_to_exitcode(status)
            if child.returncode != 0:
                raise subprocess.CalledProcessError(child.returncode, command)
            if round_ > 0:
                times[name].append(elapsed)
                # Linux gives ru_maxrss in KiB.
                peaks[name].append(usage.ru_maxrss / 1024)
    for name, measured in times.items():
        print(
            f"{name}: median {statistics.median(measured):.3f}s of",
            " ".join(f"{t:.2f}" for t in measured),
            f"; peak median {statistics.median(peaks[name]):.0f} MiB of",
            " ".join(f"{m:.0f}" for m in peaks[name]),
        )
    print(f"new / old: {statistics.median(times['new']) / statistics.median(times['old']):.3f} in time,",
          f"{statistics.median(peaks['new']) / statistics.median(peaks['old']):.3f} in peak memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
