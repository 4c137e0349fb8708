#!/usr/bin/env python3
"""Times `cargo codegraph export` at module level on the 2.5-million-line corpus, and how long the
HTML view of this repository's module graph takes to open and lay out in headless Chromium.

    benches/export-speed.py [RUNS]          (from the repository's root; default 5 runs)

It builds the release binary's graph of `benches/corpus-large` once with `--deps` (into
`target/export-bench/corpus-large.msgpack`, reused while the build finds it up to date), then
alternates `export --format dot --level module` and `export --format html` (both with
`--max-nodes 0`: the corpus has more modules than the default limit) and prints the median, min
and max wall time of each, and the output sizes. Then, when `cargo xtask tools` has installed
playwright-core and Chromium, it exports this repository's own module graph as HTML and opens it
RUNS times through `tests/html/drive.cjs`, printing the median time from the start of navigation
to the page's ready marker (`window.codegraph.ready`). The last line is one JSON object.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cargo-codegraph")


def run(args, **kwargs):
    return subprocess.run([BIN, *args], check=True, **kwargs)


def timed(args, out):
    started = time.monotonic()
    run([*args, "-o", out], stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def summary(values):
    return {"median_s": round(statistics.median(values), 3), "min_s": round(min(values), 3), "max_s": round(max(values), 3)}


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    subprocess.run(["cargo", "build", "--release", "--locked", "-q"], check=True, cwd=ROOT)
    bench = os.path.join(ROOT, "target", "export-bench")
    os.makedirs(bench, exist_ok=True)
    db = os.path.join(bench, "corpus-large.msgpack")
    manifest = os.path.join(ROOT, "benches", "corpus-large", "Cargo.toml")
    started = time.monotonic()
    run(["codegraph", "--manifest-path", manifest, "--deps", "-q", "--db", db])
    print(f"graph of corpus-large: {time.monotonic() - started:.1f} s (0 when up to date)", file=sys.stderr)
    formats = {"dot": ["--format", "dot", "--level", "module"], "html": ["--format", "html"]}
    times = {name: [] for name in formats}
    sizes = {}
    for round_ in range(runs + 1):
        for name, flags in formats.items():
            out = os.path.join(bench, f"corpus-large.{name}")
            seconds = timed(["export", "--db", db, "--max-nodes", "0", *flags], out)
            sizes[name] = os.path.getsize(out)
            if round_ > 0:  # round 0 warms the page cache
                times[name].append(seconds)
    result = {"bench": "export", "corpus": "corpus-large", "runs": runs}
    for name in formats:
        result[name] = {**summary(times[name]), "bytes": sizes[name]}
        print(f"export {name:<4} {result[name]}", file=sys.stderr)

    node = shutil.which("node")
    playwright = os.path.join(ROOT, "target", "tools", "node", "node_modules", "playwright-core")
    chromium = shutil.which("chromium")
    if node and chromium and os.path.isdir(playwright):
        own = os.path.join(bench, "self.msgpack")
        run(["codegraph", "--manifest-path", os.path.join(ROOT, "Cargo.toml"), "-q", "--db", own])
        page = os.path.join(bench, "self.html")
        run(["export", "--db", own, "--format", "html", "-o", page])
        ready = []
        with tempfile.TemporaryDirectory() as shots:
            plan = os.path.join(shots, "plan.json")
            with open(plan, "w") as f:
                json.dump({"search": "cargo_codegraph::export::view", "expand": "cargo_codegraph::export",
                           "filter": "calls", "screenshots": shots, "name": "bench"}, f)
            for _ in range(runs):
                out = subprocess.run([node, os.path.join(ROOT, "tests", "html", "drive.cjs"), playwright, chromium, page, plan],
                                     check=True, capture_output=True, text=True)
                ready.append(json.loads(out.stdout)["readyMs"] / 1000)
        result["self_html_ready"] = {**summary(ready), "bytes": os.path.getsize(page)}
        print(f"this repository's page, navigation start to ready: {result['self_html_ready']}", file=sys.stderr)
    else:
        print("no node, chromium or playwright-core (`cargo xtask tools` installs them): page timing skipped", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
