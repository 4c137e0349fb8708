#!/usr/bin/env python3
"""cargo-codegraph against its peers and its floor, whole processes side by side.

    benches/peers.py [RUNS]        (default 3 timed rounds, after one warm-up round)
    benches/peers.py --reruns ROUNDS [--case TEXT] BINARY...   (tokio's reruns only, binaries
                                                               alternated)

Measures, alternated round by round so that the machine's drift hits every tool alike, the wall
time and the peak memory (`/usr/bin/time -v`'s maximum resident set size) of:

- on tokio's package as published (every test, bench and example target):
  `cargo codegraph --rebuild`, the parse-only floor (`examples/parse_floor.rs`: read and
  `syn::parse_file` exactly the files that build parsed, on all cores), and cargo-modules
  (rust-analyzer; `cargo modules dependencies --lib`);
- on regex-syntax's package: `cargo codegraph --lib --rebuild`, the floor of the same files, and
  rustdoc's JSON (`RUSTC_BOOTSTRAP=1 cargo rustdoc --lib -- -Z unstable-options --output-format
  json`, in a fresh target folder each time; regex-syntax has no dependencies, so that is rustdoc
  alone, plus cargo's own start).

Then, on tokio's package, what reruns cost against a cold build (whole processes, alternated,
medians): nothing changed, a comment added to one file of the library, a statement added to a
function body of that file (every line below it moves), a line added at the top of a library file
whose macro calls make impls beside written ones, a public function added to the library (every
test target depends on it), and a line added at the top of the library's `src/lib.rs` (every
`mod` declaration moves). `--reruns` measures only those, for each binary given, the binaries
alternated round by round; with `--case TEXT`, only the cases whose name holds TEXT (and the cold
build they are a share of), so that more rounds of one case fit in the same time.

It installs what it needs when missing: GNU time (Debian's `time`, as root) and cargo-modules
(`cargo install cargo-modules@0.27.0 --locked --root target/tools`, several minutes; 0.28 needs a newer Rust). The packages come
from the benchmark corpus (`benches/corpus`, fetched with `cargo fetch --locked`), copied to a
temporary folder and made workspaces of their own. Prints a table, the load average at the start
and the end of the timed runs (figures taken while something else ran are not comparable), and,
last, one JSON line.
"""
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "target", "tools")


def run(command, **kwargs):
    return subprocess.run(command, check=True, **kwargs)


def gnu_time():
    if not os.path.exists("/usr/bin/time"):
        if os.geteuid() != 0:
            sys.exit("GNU time is missing: `sudo apt-get install time`")
        run(["apt-get", "install", "-y", "-qq", "time"], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return "/usr/bin/time"


def cargo_modules():
    found = shutil.which("cargo-modules") or os.path.join(TOOLS, "bin", "cargo-modules")
    if not os.path.exists(found):
        print("installing cargo-modules into target/tools (several minutes)", file=sys.stderr)
        run(["cargo", "install", "cargo-modules@0.27.0", "--locked", "--root", TOOLS])
        found = os.path.join(TOOLS, "bin", "cargo-modules")
    return found


def package_dirs(names):
    """The corpus's copies of these packages, by name."""
    corpus = os.path.join(ROOT, "benches", "corpus")
    run(["cargo", "fetch", "--locked", "--manifest-path", os.path.join(corpus, "Cargo.toml")], stdout=subprocess.DEVNULL)
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--offline", "--manifest-path", os.path.join(corpus, "Cargo.toml")],
            check=True,
            capture_output=True,
        ).stdout
    )
    return {p["name"]: os.path.dirname(p["manifest_path"]) for p in metadata["packages"] if p["name"] in names}


def workspace_copy(source, into):
    """The package at `source` as a workspace of its own, its dependencies resolved."""
    shutil.copytree(source, into)
    with open(os.path.join(into, "Cargo.toml"), "a") as manifest:
        manifest.write("\n[workspace]\n")
    run(["cargo", "metadata", "--format-version", "1"], cwd=into, stdout=subprocess.DEVNULL)
    return into


def measure(command, cwd, env=None):
    """Wall seconds and peak MiB of one process tree."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        # Not `os.times().elapsed`, which counts in clock ticks (10 ms here: 1.5 points of a
        # 17 ms rerun against a 0.7 s build).
        started = time.monotonic()
        run([gnu_time(), "-v", "-o", report.name, *command], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.monotonic() - started
        peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", report.read()).group(1))
    return wall, peak_kib / 1024


def load():
    """The one-minute load average: figures taken while something else ran (a build, a test run)
    are not comparable with others, and this says so after the fact."""
    return round(os.getloadavg()[0], 2)


def report_load(start, end):
    """The timed runs keep the cores busy themselves: a load beyond them was something else."""
    cores = os.cpu_count() or 1
    busy = f" (this machine has {cores} cores: something else ran)" if max(start, end) > cores + 0.5 else ""
    print(f"load average (1 min) at the start of the timed runs {start}, at the end {end}{busy}")


def reruns(codegraph, tokio, scratch, runs, only=None):
    """Medians of cold builds and of reruns after edits of tokio's library, and their ratios;
    with `only`, of the cases whose name holds it (and of cold builds)."""
    db = f"{scratch}/tokio-reruns.msgpack"
    build = [codegraph, "codegraph", "--offline", "-q", "--db", db]
    edited = os.path.join(tokio, "src", "sync", "notify.rs")
    lib = os.path.join(tokio, "src", "lib.rs")
    # A file whose macro calls (`cfg_not_rt! { impl Handle ... }`) make an impl beside a written
    # one: a line added at its top moves them.
    above = os.path.join(tokio, "src", "runtime", "time", "handle.rs")
    originals = {path: open(path).read() for path in (edited, lib, above)}

    def restore():
        for path, text in originals.items():
            with open(path, "w") as file:
                file.write(text)
        run(build, cwd=tokio)

    def edit(path, text):
        def apply():
            with open(path, "w") as file:
                file.write(originals[path] + text)
        return apply

    def prepend(path, text):
        def apply():
            with open(path, "w") as file:
                file.write(text + originals[path])
        return apply

    def body_edit():
        # A statement added at the top of the file's first `pub fn` body: every line below moves.
        lines = originals[edited].split("\n")
        at = next(i for i, line in enumerate(lines) if line.startswith("    pub fn ") and line.endswith(") {"))
        with open(edited, "w") as file:
            file.write("\n".join(lines[: at + 1] + ["        let _edited = 1;"] + lines[at + 1 :]))

    cases = {
        "cold": (None, build + ["--rebuild"]),
        "nothing changed": (None, build),
        "comment in a library file": (edit(edited, "\n// an edit\n"), build),
        "body edit in a library file": (body_edit, build),
        "line added above macro calls": (prepend(above, "// an edit\n"), build),
        "line added atop lib.rs (its mods)": (prepend(lib, "// an edit\n"), build),
        "public fn added to the library": (edit(lib, "\npub fn bench_added() {}\n"), build),
    }
    if only:
        names = ", ".join(name for name in cases if name != "cold")
        cases = {name: case for name, case in cases.items() if name == "cold" or only in name}
        if len(cases) == 1:
            sys.exit(f"--case {only!r}: no case's name holds it (cases: {names})")
    samples = {name: [] for name in cases}
    run(build + ["--rebuild"], cwd=tokio)
    for round_ in range(runs + 1):
        for name, (before, command) in cases.items():
            if before:
                before()
            wall, _ = measure(command, tokio)
            if round_ > 0:
                samples[name].append(wall)
            if before:
                restore()
    medians = {name: statistics.median(s) for name, s in samples.items()}
    cold = medians["cold"]
    print(f"\n{'tokio rerun':<32} {'wall s':>8} {'of cold':>8}")
    for name, wall in medians.items():
        print(f"{name:<32} {wall:>8.3f} {100 * wall / cold:>7.1f}%")
    return {name: {"wall_s": round(wall, 3), "of_cold": round(wall / cold, 4)} for name, wall in medians.items()}


def compare_reruns(binaries, rounds, only=None):
    """`--reruns`: tokio's reruns for each binary, the binaries alternated round by round."""
    # The builds run in tokio's folder: a binary named relative to here is found from there too.
    binaries = [os.path.abspath(binary) for binary in binaries]
    scratch = tempfile.mkdtemp(prefix="codegraph-reruns-")
    tokio = workspace_copy(package_dirs({"tokio"})["tokio"], os.path.join(scratch, "tokio"))
    results = {binary: [] for binary in binaries}
    load_start = load()
    for _ in range(rounds):
        for index, binary in enumerate(binaries):
            own = os.path.join(scratch, str(index))
            os.makedirs(own, exist_ok=True)
            results[binary].append(reruns(binary, tokio, own, 2, only))
    print(f"\nmedians of {rounds} rounds (each the median of 2 runs)")
    report_load(load_start, load())
    for binary, rounds_ in results.items():
        for case in rounds_[0]:
            wall = statistics.median(r[case]["wall_s"] for r in rounds_)
            of_cold = statistics.median(r[case]["of_cold"] for r in rounds_)
            print(f"{binary:<40} {case:<32} {wall:>7.3f} s {100 * of_cold:>6.1f}%")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--reruns":
        rounds, rest = int(sys.argv[2]), sys.argv[3:]
        only = None
        if rest[:1] == ["--case"]:
            if len(rest) < 2:
                sys.exit("--case needs the text of a case's name")
            only, rest = rest[1], rest[2:]
        if not rest:
            sys.exit("--reruns needs the binaries to compare")
        return compare_reruns(rest, rounds, only)
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    run(["cargo", "build", "--release", "--locked", "--bin", "cargo-codegraph", "--example", "parse_floor"], cwd=ROOT)
    codegraph = os.path.join(ROOT, "target", "release", "cargo-codegraph")
    floor = os.path.join(ROOT, "target", "release", "examples", "parse_floor")
    modules = cargo_modules()
    dirs = package_dirs({"tokio", "regex-syntax"})
    scratch = tempfile.mkdtemp(prefix="codegraph-peers-")
    tokio = workspace_copy(dirs["tokio"], os.path.join(scratch, "tokio"))
    regex = workspace_copy(dirs["regex-syntax"], os.path.join(scratch, "regex-syntax"))
    lists = {}
    for name, path, extra in [("tokio", tokio, []), ("regex-syntax", regex, ["--lib"])]:
        lists[name] = os.path.join(scratch, f"{name}.list")
        run([floor, "list", os.path.join(path, "Cargo.toml"), lists[name], *extra])
    bootstrap = {**os.environ, "RUSTC_BOOTSTRAP": "1"}

    def rustdoc_json():
        target = tempfile.mkdtemp(prefix="rustdoc-", dir=scratch)
        try:
            return measure(
                ["cargo", "rustdoc", "--lib", "--offline", "--target-dir", target, "--", "-Z", "unstable-options", "--output-format", "json"],
                regex,
                bootstrap,
            )
        finally:
            shutil.rmtree(target, ignore_errors=True)

    cases = {
        ("tokio", "cargo codegraph"): lambda: measure([codegraph, "codegraph", "--offline", "-q", "--rebuild", "--db", f"{scratch}/tokio.msgpack"], tokio),
        ("tokio", "parse-only floor"): lambda: measure([floor, "parse", lists["tokio"]], tokio),
        ("tokio", "cargo-modules"): lambda: measure([modules, "modules", "dependencies", "--lib"], tokio),
        ("regex-syntax", "cargo codegraph --lib"): lambda: measure(
            [codegraph, "codegraph", "--offline", "-q", "--lib", "--rebuild", "--db", f"{scratch}/regex.msgpack"], regex
        ),
        ("regex-syntax", "parse-only floor"): lambda: measure([floor, "parse", lists["regex-syntax"]], regex),
        ("regex-syntax", "rustdoc JSON"): rustdoc_json,
    }
    samples = {key: [] for key in cases}
    load_start = load()
    for round_ in range(runs + 1):
        for key, case in cases.items():
            result = case()
            if round_ > 0:
                samples[key].append(result)
    medians = {key: (statistics.median(w for w, _ in s), statistics.median(m for _, m in s)) for key, s in samples.items()}
    print(f"{'workload':<14} {'tool':<22} {'wall s':>8} {'peak MiB':>9}")
    for (workload, tool), (wall, peak) in medians.items():
        print(f"{workload:<14} {tool:<22} {wall:>8.3f} {peak:>9.0f}")
    ours = medians[("tokio", "cargo codegraph")]
    peer = medians[("tokio", "cargo-modules")]
    floor_tokio = medians[("tokio", "parse-only floor")]
    regex_ours = medians[("regex-syntax", "cargo codegraph --lib")]
    rustdoc = medians[("regex-syntax", "rustdoc JSON")]
    summary = {
        "bench": "peers",
        "runs": runs,
        "tokio_vs_cargo_modules_speed": round(peer[0] / ours[0], 2),
        "tokio_vs_cargo_modules_memory": round(ours[1] / peer[1], 3),
        "tokio_vs_floor": round(ours[0] / floor_tokio[0], 2),
        "regex_syntax_vs_rustdoc_speed": round(rustdoc[0] / regex_ours[0], 2),
        "medians": {f"{w}/{t}": {"wall_s": round(v[0], 3), "peak_mib": round(v[1], 1)} for (w, t), v in medians.items()},
    }
    print(f"\ncargo-modules / cargo codegraph on tokio: {summary['tokio_vs_cargo_modules_speed']}x the time "
          f"(goal >= 10), memory {summary['tokio_vs_cargo_modules_memory']} of it (goal <= 0.25)")
    print(f"rustdoc JSON / cargo codegraph on regex-syntax: {summary['regex_syntax_vs_rustdoc_speed']}x (goal >= 5)")
    print(f"cargo codegraph / floor on tokio: {summary['tokio_vs_floor']}x (goal <= 2)")
    summary["tokio_reruns"] = reruns(codegraph, tokio, scratch, runs)
    summary["load_1min"] = [load_start, load()]
    report_load(*summary["load_1min"])
    print(json.dumps(summary))
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
