#!/usr/bin/env python3
"""Times `cargo codegraph check` with nothing changed, on the 2.5-million-line corpus and on this
repository, with and without the last check's recorded result.

    benches/check-speed.py [RUNS]          (from the repository's root; default 5 runs)

It copies `benches/corpus-large` (checked with `--deps`) and this repository's committed tree
(`git archive HEAD`, checked without `--deps`) into `target/check-bench/`, adds architecture rules
to each copy's `Cargo.toml` (module and crate cycles, a `forbid`, a `call` and a `derive` rule:
rules that walk every dependency of the graph), and runs one `check` to build the graph. Then,
alternating, for each workspace:

- `recorded`: `check` again, nothing changed: the plan skips the build and the result recorded
  beside the graph (`<graph>.check.json`) is read back;
- `full`: the same with that record removed first, so that the graph is read and every rule walked.

It prints the median, min and max wall time and the median user+system CPU time of each (a
process's CPU time is less disturbed than its wall time by other work on a shared machine). The
last line is one JSON object.
"""
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cargo-codegraph")
BENCH = os.path.join(ROOT, "target", "check-bench")

CORPUS_RULES = """
[package.metadata.codegraph]
deny-cycles = ["modules", "crates"]
forbid = [{ from = "tokio::runtime::**", to = "tokio::net::**", reason = "the runtime knows no sockets" }]
call = [{ to = "std::process::exit", only-from = ["**::main"] }]
derive = [{ in = "sqlparser::ast::**", forbid = ["serde::Serialize"] }]
"""

SELF_RULES = """
[package.metadata.codegraph]
deny-cycles = ["modules", "crates"]
forbid = [{ from = "cargo_codegraph::parse::**", to = "cargo_codegraph::store::**" }]
call = [{ to = "std::process::exit", only-from = ["cargo_codegraph::main"] }]
derive = [{ in = "cargo_codegraph::model::**", forbid = ["serde::Deserialize"] }]
"""


def prepare():
    """The two workspaces, each as (name, manifest, extra flags)."""
    shutil.rmtree(BENCH, ignore_errors=True)
    corpus = os.path.join(BENCH, "corpus-large")
    shutil.copytree(os.path.join(ROOT, "benches", "corpus-large"), corpus, ignore=shutil.ignore_patterns("target"))
    with open(os.path.join(corpus, "Cargo.toml"), "a") as manifest:
        manifest.write(CORPUS_RULES)
    repo = os.path.join(BENCH, "self")
    os.makedirs(repo)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", repo], input=archive, check=True)
    with open(os.path.join(repo, "Cargo.toml")) as manifest:
        text = manifest.read()
    # The rules go in the package's own table: after `[package]`'s keys, before the next table.
    head, rest = text.split("[package]\n", 1)
    keys, _, tail = rest.partition("\n[")
    with open(os.path.join(repo, "Cargo.toml"), "w") as manifest:
        manifest.write(head + "[package]\n" + keys + "\n" + SELF_RULES + "\n[" + tail)
    return [
        ("corpus-large", os.path.join(corpus, "Cargo.toml"), ["--deps"]),
        ("self", os.path.join(repo, "Cargo.toml"), []),
    ]


def check(manifest, flags):
    """One `check`'s wall and CPU seconds (exit 0 or 1: rules may be broken)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [BIN, "codegraph", "check", "--offline", "--manifest-path", manifest, *flags, "--message-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        sys.exit(f"check of {manifest} failed ({done.returncode}):\n{done.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = json.loads(done.stdout.decode().splitlines()[-1])
    return wall, cpu, summary["violations"]


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], check=True, cwd=ROOT)
    workspaces = prepare()
    results = {}
    for name, manifest, flags in workspaces:
        started = time.monotonic()
        _, _, violations = check(manifest, flags)
        print(f"{name}: graph built and checked in {time.monotonic() - started:.1f} s, {violations} violation(s)")
        results[name] = {"recorded": [], "full": []}
    for _ in range(runs):
        for name, manifest, flags in workspaces:
            memo = os.path.join(os.path.dirname(manifest), "target", "codegraph", "graph.msgpack.check.json")
            for mode in ("recorded", "full"):
                if mode == "full":
                    os.remove(memo)
                results[name][mode].append(check(manifest, flags))
    report = []
    for name, modes in results.items():
        for mode, samples in modes.items():
            walls = [wall for wall, _, _ in samples]
            cpus = [cpu for _, cpu, _ in samples]
            row = {
                "workspace": name,
                "mode": mode,
                "median_s": round(statistics.median(walls), 3),
                "min_s": round(min(walls), 3),
                "max_s": round(max(walls), 3),
                "median_cpu_s": round(statistics.median(cpus), 3),
                "violations": samples[0][2],
            }
            report.append(row)
            print(
                f"{name:>12} {mode:>8}: {row['median_s']:.3f} s median ({row['min_s']:.3f}-{row['max_s']:.3f}), "
                f"{row['median_cpu_s']:.3f} s CPU, {row['violations']} violation(s)"
            )
    print(json.dumps({"bench": "check-speed", "runs": runs, "results": report}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
