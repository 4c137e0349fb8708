#!/usr/bin/env python3
"""Generates a package with many small test targets over one library, for the per-target cost.

    benches/many-targets.py DIR [TARGETS] [MODULES]     (default 500 test targets, 100 modules)
    benches/many-targets.py DIR --measure RUNS BINARY...

The second form measures, in RUNS alternated rounds after a warm-up, the wall time and peak memory
(`/usr/bin/time -v`) of the parse-only floor (`target/release/examples/parse_floor`, built by
`cargo build --release --example parse_floor`) and of `cargo codegraph --offline --rebuild` by
each BINARY (say the release binaries of two commits), and prints medians and each one's ratio
to the floor (issue 12's goal: <= 2).

The library has MODULES modules of ten structs each (an inherent impl, a private helper, a trait
and its impl); each test target `tests/tN.rs` uses one struct and calls two of its methods. Then,
side by side (the floor from `examples/parse_floor.rs`):

    target/release/examples/parse_floor list DIR/Cargo.toml /tmp/many.list
    /usr/bin/time target/release/examples/parse_floor parse /tmp/many.list
    (cd DIR && /usr/bin/time cargo codegraph --offline --rebuild -v)
"""
import os
import subprocess
import sys


def measure(root, runs, binaries):
    import statistics
    import tempfile

    # peers.py's: wall seconds and peak MiB of one process tree, by `/usr/bin/time -v` (it
    # installs GNU time when missing). This script's folder is on `sys.path`.
    from peers import measure as measured

    bench = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    floor = os.path.join(bench, "target", "release", "examples", "parse_floor")
    scratch = tempfile.mkdtemp(prefix="many-targets-")
    files = os.path.join(scratch, "files.list")
    subprocess.run([floor, "list", os.path.join(root, "Cargo.toml"), files], check=True, stdout=subprocess.DEVNULL)

    def timed(command):
        return measured(command, root)

    cases = {"parse-only floor": [floor, "parse", files]}
    for n, binary in enumerate(binaries):
        cases[f"{n}: {binary}"] = [binary, "codegraph", "--offline", "-q", "--rebuild", "--db", os.path.join(scratch, f"{n}.msgpack")]
    samples = {name: [] for name in cases}
    for round_ in range(runs + 1):
        for name, command in cases.items():
            result = timed(command)
            if round_ > 0:
                samples[name].append(result)
    floor_wall = statistics.median(w for w, _ in samples["parse-only floor"])
    print(f"{'command':<60} {'wall s':>8} {'peak MiB':>9} {'/ floor':>8}   (medians of {runs})")
    for name, results in samples.items():
        wall = statistics.median(w for w, _ in results)
        peak = statistics.median(m for _, m in results)
        print(f"{name:<60} {wall:>8.3f} {peak:>9.0f} {wall / floor_wall:>8.2f}")
        print(f"{'':<60} {' '.join(f'{w:.3f}' for w, _ in results)}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    if len(sys.argv) > 3 and sys.argv[2] == "--measure":
        return measure(root, int(sys.argv[3]), [os.path.abspath(b) for b in sys.argv[4:]])
    targets = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    modules = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    os.makedirs(os.path.join(root, "src"), exist_ok=True)
    os.makedirs(os.path.join(root, "tests"), exist_ok=True)
    with open(os.path.join(root, "Cargo.toml"), "w") as manifest:
        manifest.write('[package]\nname = "many"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\n')
    for m in range(modules):
        body = []
        for k in range(10):
            body.append(
                f"pub struct S{k} {{ pub a: u32, b: String }}\n"
                f"impl S{k} {{\n"
                f"    pub fn new(a: u32) -> Self {{ S{k} {{ a, b: String::new() }} }}\n"
                f"    pub fn get(&self) -> u32 {{ self.a + helper{k}(self.a) }}\n"
                f"}}\n"
                f"fn helper{k}(x: u32) -> u32 {{ x * 2 }}\n"
                f"pub trait T{k} {{ fn t(&self) -> u32; }}\n"
                f"impl T{k} for S{k} {{ fn t(&self) -> u32 {{ self.get() }} }}\n"
            )
        with open(os.path.join(root, "src", f"m{m}.rs"), "w") as out:
            out.write("\n".join(body))
    with open(os.path.join(root, "src", "lib.rs"), "w") as out:
        out.write("".join(f"pub mod m{m};\n" for m in range(modules)))
    for t in range(targets):
        with open(os.path.join(root, "tests", f"t{t}.rs"), "w") as out:
            out.write(
                f"use many::m{t % modules}::S{t % 10};\n#[test]\nfn t{t}() {{\n"
                f"    let s = S{t % 10}::new({t});\n    assert_eq!(s.get(), {t} * 3);\n}}\n"
            )
    subprocess.run(["cargo", "generate-lockfile", "--offline", "--manifest-path", os.path.join(root, "Cargo.toml")], check=True)


if __name__ == "__main__":
    main()
