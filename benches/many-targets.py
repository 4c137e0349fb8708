#!/usr/bin/env python3
"""Generates a package with many small test targets over one library, for the per-target cost.

    benches/many-targets.py DIR [TARGETS] [MODULES]     (default 500 test targets, 100 modules)

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


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = sys.argv[1]
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
