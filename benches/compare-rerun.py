#!/usr/bin/env python3
"""Alternates incremental reruns of two cargo-codegraph binaries after the same edit, so that the
machine's drift hits both alike, and prints the medians of their wall times and the ratio.

    benches/compare-rerun.py OLD_BINARY NEW_BINARY WORKSPACE_DIR [RUNS] [--file PATH] [-- EXTRA BUILD ARGS]

Each binary first builds the workspace cold into a graph of its own. Then, round by round and
binary by binary, a public function is appended to PATH (relative to the workspace, default
`src/lib.rs`: its crate's interface changes) and the binary reruns; the file is put back and the
binary reruns again. Both reruns of a round are counted, after a first round that is not. The
file is put back whatever happens. For example, the `incremental` benchmark's workspace edit on
the benchmark corpus copied to /tmp/corpus:

    benches/compare-rerun.py old/cargo-codegraph target/release/cargo-codegraph /tmp/corpus 5 -- --deps
"""
import os
import statistics
import subprocess
import sys
import time

import comparing


def main() -> int:
    args = comparing.parse(__doc__, {"file": "src/lib.rs"})
    if args is None:
        return 2
    binaries, workspace, runs, extra = args.binaries, args.workspace, args.runs, args.extra
    path = os.path.join(workspace, args.options["file"])
    with open(path) as file:
        original = file.read()

    def build(name: str, *more: str) -> float:
        command = [binaries[name], "codegraph", "--offline", "-q", "--db", f"{workspace}/rerun-{name}.msgpack",
                   *more, *extra]
        started = time.monotonic()
        subprocess.run(command, cwd=workspace, check=True)
        return time.monotonic() - started

    times = {name: [] for name in binaries}
    try:
        for name in binaries:
            build(name, "--rebuild")
        for round_ in range(runs + 1):
            for name in binaries:
                with open(path, "w") as file:
                    file.write(f"{original}\npub fn compare_rerun_{round_}() -> u32 {{ {round_} }}\n")
                edited_rerun = build(name)
                with open(path, "w") as file:
                    file.write(original)
                restored_rerun = build(name)
                if round_ > 0:
                    times[name] += [edited_rerun, restored_rerun]
    finally:
        with open(path, "w") as file:
            file.write(original)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, binary in binaries.items():
        values = " ".join(f"{value:.3f}" for value in times[name])
        print(f"{name}: {binary}\n  rerun median {medians[name]:.3f} s  ({values})")
    print(f"new / old: {medians['new'] / medians['old']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
