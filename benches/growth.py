#!/usr/bin/env python3
"""Issue 13's growth from expansion, measured with whole processes side by side.

    benches/growth.py [RUNS] [--manifest PATH]   (default 5 timed rounds after one warm-up round,
                                                 on the `e2e` corpus, `benches/corpus`)

The `e2e` benchmark measures the same in one process; this measures it with a process for each
build and each floor, so that nothing one leaves behind (memory the allocator gave back to the
system, a warm or cold heap) can reach the next. Each round runs, alternated so that the machine's
drift hits each alike: the parse-only floor of the files a cold `--deps --rebuild` build parses
(`examples/parse_floor.rs`: read and `syn::parse_file` each file on all cores, nothing else), the
floor of the files a `--no-expand` build parses, that `--no-expand` build, and the build. The
growth is (build / its floor) / (`--no-expand` build / its floor), by wall time and by CPU time
(user and system, from GNU time); the issue allows 1.10. Prints each round's growth, the medians
and, last, one JSON line. Installs GNU time when missing (Debian's `time`, as root).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# No `__pycache__` beside the scripts for importing `peers`.
sys.dont_write_bytecode = True
from peers import gnu_time, load, report_load, run  # noqa: E402


def timed(command, cwd):
    """Wall and CPU seconds of one process tree."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        run([gnu_time(), "-f", "%e %U %S", "-o", report.name, *command], cwd=cwd, stdout=subprocess.DEVNULL)
        wall, user, system = (float(field) for field in report.read().split()[-3:])
    return wall, user + system


def main():
    args = sys.argv[1:]
    manifest = os.path.join(ROOT, "benches", "corpus", "Cargo.toml")
    if "--manifest" in args:
        at = args.index("--manifest")
        manifest = os.path.abspath(args[at + 1])
        del args[at : at + 2]
    runs = int(args[0]) if args else 5
    workspace = os.path.dirname(manifest)
    # The committed corpus is used with its own `Cargo.lock`, as the `e2e` benchmark uses it.
    locked = ["--locked"] if manifest == os.path.join(ROOT, "benches", "corpus", "Cargo.toml") else []
    run(["cargo", "fetch", *locked, "--manifest-path", manifest], stdout=subprocess.DEVNULL)
    run(["cargo", "build", "--release", "--locked", "--bin", "cargo-codegraph", "--example", "parse_floor"], cwd=ROOT)
    release = os.path.join(ROOT, "target", "release")
    codegraph = os.path.join(release, "cargo-codegraph")
    floor = os.path.join(release, "examples", "parse_floor")
    with tempfile.TemporaryDirectory(prefix="codegraph-growth-") as scratch:
        lists = {name: os.path.join(scratch, f"{name}.list") for name in ("expanded", "no_expand")}
        run([floor, "list", manifest, lists["expanded"], "--deps"], cwd=workspace)
        run([floor, "list", manifest, lists["no_expand"], "--deps", "--no-expand"], cwd=workspace)
        build = [codegraph, "codegraph", "--offline", "-q", "--deps", "--rebuild", "--manifest-path", manifest]
        build += ["--db", os.path.join(scratch, "graph.msgpack")]
        commands = {
            "floor": [floor, "parse", lists["expanded"]],
            "no_expand_floor": [floor, "parse", lists["no_expand"]],
            "no_expand": [*build, "--no-expand"],
            "e2e": build,
        }
        for command in commands.values():
            timed(command, workspace)
        start = load()
        samples = {name: [] for name in commands}
        for round_ in range(1, runs + 1):
            for name, command in commands.items():
                samples[name].append(timed(command, workspace))
            growth = [
                (samples["e2e"][-1][i] / samples["floor"][-1][i])
                / (samples["no_expand"][-1][i] / samples["no_expand_floor"][-1][i])
                for i in (0, 1)
            ]
            print(f"round {round_}/{runs}: growth {growth[0]:.3f} by wall time, {growth[1]:.3f} by CPU", flush=True)
        end = load()
    medians = {name: [statistics.median(sample[i] for sample in values) for i in (0, 1)] for name, values in samples.items()}
    print(f"\n{'medians of ' + str(runs):<28} {'wall s':>8} {'CPU s':>8}")
    for name, (wall, cpu) in medians.items():
        print(f"  {name:<26} {wall:8.2f} {cpu:8.2f}")
    ratio = {i: medians["e2e"][i] / medians["floor"][i] for i in (0, 1)}
    ratio_no_expand = {i: medians["no_expand"][i] / medians["no_expand_floor"][i] for i in (0, 1)}
    growth = {i: ratio[i] / ratio_no_expand[i] for i in (0, 1)}
    print(f"  e2e / its floor            {ratio[0]:7.2f}x {ratio[1]:7.2f}x")
    print(f"  --no-expand / its floor    {ratio_no_expand[0]:7.2f}x {ratio_no_expand[1]:7.2f}x")
    print(f"  growth from expansion      {growth[0]:8.3f} {growth[1]:8.3f}   (issue 13 allows 1.10)")
    report_load(start, end)
    fields = {"bench": "growth", "runs": runs, "growth": round(growth[0], 3), "growth_cpu": round(growth[1], 3)}
    for name, (wall, cpu) in medians.items():
        fields[f"{name}_s"] = round(wall, 3)
        fields[f"{name}_cpu_s"] = round(cpu, 3)
    print(json.dumps(fields, sort_keys=True))


if __name__ == "__main__":
    main()
