#!/usr/bin/env python3
"""The graph of each of the hundred most-downloaded crates, with `--deps`.

Not part of `cargo test`: it fetches crates from the registry and takes a while. Run it from the
repository's root:

    nice -n 10 python3 benches/top100.py [--only NAME ...] [--out benches/top100.md]

crates.io's API (its download counts) is not reachable from where this was written, only the
registry index and crate downloads: the list below is pinned by hand from crates.io's "most
downloads" page (all-time, as of 2025), in that order (the first 98; `regex-automata` and
`unicode-xid`, both among the hundred, were added last to make the count 100). Each name is asked for at any version
(`*`); the registry mirror can lag behind crates.io, so whatever it resolves is what is built, and
a crate that does not resolve at all is dropped and listed as such.

Steps: a scratch package depending on all of them is resolved and fetched (`cargo fetch`), so that
every crate and its dependencies are in cargo's registry cache; then each crate's own package is
copied out of the cache (without its dev-dependencies, which a lib's graph never needs and which
the mirror may not have), and `cargo codegraph --deps` builds its graph with the release binary
(online: resolution also wants the optional dependencies the scratch package did not enable). Recorded per crate: exit code, panics (0 allowed), internal errors (exit 101: 0 allowed),
each failed file with its reason, run time, and the graph's size. The table goes to stdout (and
`--out`); the exit code is 1 if any crate panicked or hit an internal error.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP100 = """
syn proc-macro2 quote libc bitflags rand_core cfg-if serde rand itoa getrandom memchr
serde_derive unicode-ident regex-syntax autocfg serde_json ryu hashbrown once_cell base64 log
lazy_static regex smallvec aho-corasick indexmap rand_chacha ppv-lite86 version_check bytes
scopeguard lock_api parking_lot_core parking_lot either thiserror thiserror-impl heck strsim
itertools futures-core pin-project-lite tokio socket2 anyhow clap num-traits mio fastrand
tempfile futures-util futures-task futures-channel futures-sink futures-io futures slab
percent-encoding form_urlencoded url idna unicode-normalization tinyvec http h2 hyper httparse
tracing tracing-core crossbeam-utils crossbeam-epoch crossbeam-deque rustix linux-raw-sys semver
byteorder time chrono digest generic-array typenum block-buffer crypto-common sha2 cc toml winnow
num_cpus memoffset miniz_oxide adler crc32fast flate2 env_logger unicode-width windows-sys errno
regex-automata unicode-xid
""".split()

ROOT = Path(__file__).resolve().parent.parent


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, **kwargs)


def registry_src() -> Path:
    home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    dirs = sorted((home / "registry" / "src").glob("*"))
    if not dirs:
        sys.exit("no registry sources under CARGO_HOME: did `cargo fetch` run?")
    return dirs[0]


def resolve(names, scratch: Path):
    """Resolves a package depending on `names`; drops what the registry cannot resolve."""
    dropped = {}
    names = list(names)
    while True:
        deps = "\n".join(f'{n} = "*"' for n in names)
        (scratch / "Cargo.toml").write_text(
            f'[package]\nname = "top100-scratch"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n{deps}\n'
        )
        (scratch / "src").mkdir(exist_ok=True)
        (scratch / "src" / "lib.rs").write_text("")
        result = run(["cargo", "generate-lockfile", "--manifest-path", str(scratch / "Cargo.toml")])
        if result.returncode == 0:
            return names, dropped
        bad = [n for n in names if re.search(rf"\b{re.escape(n)}\b", result.stderr)]
        if not bad:
            sys.exit(f"cannot resolve the scratch package:\n{result.stderr}")
        culprit = bad[0]
        dropped[culprit] = result.stderr.strip().splitlines()[0]
        names.remove(culprit)


def locked_versions(scratch: Path):
    """Name -> version of each package in the scratch package's lock file (the highest if several)."""
    versions = {}
    text = (scratch / "Cargo.lock").read_text()
    for name, version in re.findall(r'name = "([^"]+)"\nversion = "([^"]+)"', text):
        versions.setdefault(name, []).append(version)
    return versions


HEADER = re.compile(r"^\s*\[\[?([^\]]+)\]\]?\s*$")


def strip_dev_dependencies(manifest: Path):
    """Drops `[dev-dependencies]` tables (and target-specific ones) from a copied manifest, and
    the features that name a dependency that was only a dev-dependency
    (`test = ["syn-test-suite/all-features"]`: cargo refuses a feature naming a dependency that is
    not there; one that is also a normal or build dependency, `dep:serde`, stays)."""
    out, skipping, section, dev_names, kept_names = [], False, "", set(), set()
    for line in manifest.read_text().splitlines():
        header = HEADER.match(line)
        if header:
            section = header.group(1).strip()
            skipping = "dev-dependencies" in section
            named = re.search(r"(dev-dependencies|dependencies)\.([A-Za-z0-9_-]+)$", section)
            if named:
                (dev_names if named.group(1) == "dev-dependencies" else kept_names).add(named.group(2))
            if not skipping:
                out.append(line)
            continue
        key = re.match(r"\s*([A-Za-z0-9_-]+)\s*=", line)
        if key and section.endswith("dependencies"):
            (dev_names if skipping else kept_names).add(key.group(1))
        if not skipping:
            out.append(line)
    dev_only = dev_names - kept_names
    # Only inside `[features]`: elsewhere a dev-dependency's name is just a string (hashbrown's
    # `[[test]] name = "rayon"`).
    section = ""
    for i, line in enumerate(out):
        header = HEADER.match(line)
        if header:
            section = header.group(1).strip()
            continue
        if section == "features":
            for name in dev_only:
                line = re.sub(rf'"(dep:)?{re.escape(name)}(\?)?(/[^"]*)?"\s*,?', "", line)
            out[i] = line
    manifest.write_text("\n".join(out) + "\n")


def build_graph(binary: Path, package: Path, work: Path):
    db = work / "graph.msgpack"
    started = time.monotonic()
    result = run(
        # Not `--offline`: resolution wants every optional dependency in the index (and cargo
        # downloads what `cargo metadata` needs that the scratch package did not fetch).
        [str(binary), "codegraph", "build", "--deps", "--manifest-path", str(package / "Cargo.toml"),
         "--db", str(db), "--message-format", "json"],
        cwd=work,
        timeout=1800,
    )
    elapsed = time.monotonic() - started
    summary = {}
    for line in result.stdout.splitlines():
        try:
            summary = json.loads(line)
        except json.JSONDecodeError:
            pass
    # With `--message-format json` a build's diagnostics travel in its summary (stdout); stderr
    # has only what stops a build before there is one (cargo's own errors, a bad manifest).
    failed = [
        f"{d['file']}:{d['line']}: {d['message']}"
        for d in summary.get("diagnostics", [])
        if d.get("severity") == "error"
    ]
    warnings = [
        f"{d['file']}:{d['line']}: {d['message']}"
        for d in summary.get("diagnostics", [])
        if d.get("severity") == "warning"
    ]
    for line in result.stderr.splitlines():
        if line.startswith("error:"):
            failed.append(line[len("error: "):])
        elif line.startswith("  ") and failed and failed[-1].endswith(":"):
            # A message continued on indented lines (cargo's own errors): keep its first line.
            failed[-1] += " " + line.strip()
    return {
        "code": result.returncode,
        "panics": result.stderr.count("panicked"),
        # A panic contained to one file is a diagnostic saying "internal error" (in the summary).
        "internal": result.returncode == 101 or "internal error" in result.stderr
        or any("internal error" in f for f in failed),
        "failed": failed,
        "warnings": warnings,
        "seconds": elapsed,
        "summary": summary,
        "stderr_tail": result.stderr.strip().splitlines()[-3:],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="build only these crates")
    parser.add_argument("--out", help="also write the table to this file")
    parser.add_argument("--log", help="append each crate's result to this file as it is built (JSON lines)")
    parser.add_argument("--binary", help="a cargo-codegraph binary to use (default: build the release one)")
    args = parser.parse_args()
    names = args.only or TOP100

    if args.binary:
        binary = Path(args.binary).resolve()
    else:
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
        binary = ROOT / "target" / "release" / "cargo-codegraph"

    work = Path(tempfile.mkdtemp(prefix="top100-"))
    scratch = work / "scratch"
    scratch.mkdir()
    names, dropped = resolve(names, scratch)
    fetched = run(["cargo", "fetch", "--manifest-path", str(scratch / "Cargo.toml")])
    if fetched.returncode != 0:
        sys.exit(f"cargo fetch failed:\n{fetched.stderr}")
    versions = locked_versions(scratch)
    src = registry_src()

    rows, bad = [], False
    for name in names:
        version = sorted(versions.get(name, []), key=lambda v: [int(x) if x.isdigit() else 0 for x in re.split(r"[.+-]", v)])[-1:]
        if not version:
            dropped[name] = "not in the lock file"
            continue
        version = version[0]
        original = src / f"{name}-{version}"
        copy = work / "crates" / f"{name}-{version}"
        # Only the package's own top-level `target/` and lock file are left out: a pattern would
        # also drop source folders of that name (cc's `src/target/`).
        shutil.copytree(original, copy,
                        ignore=lambda folder, names: [n for n in names if Path(folder) == original
                                                      and n in ("target", "Cargo.lock")])
        strip_dev_dependencies(copy / "Cargo.toml")
        # The scratch package's lock pins the same versions that were fetched.
        shutil.copy(scratch / "Cargo.lock", copy / "Cargo.lock")
        out_dir = work / "graphs" / name
        out_dir.mkdir(parents=True)
        result = build_graph(binary, copy, out_dir)
        bad |= result["panics"] > 0 or result["internal"]
        rows.append((name, version, result))
        s = result["summary"]
        print(f"{name} {version}: exit {result['code']}, {result['seconds']:.1f} s, "
              f"{s.get('items', '?')} items, {s.get('edges', '?')} edges, {len(result['failed'])} errors",
              file=sys.stderr, flush=True)
        if args.log:
            with open(args.log, "a") as log:
                record = {k: v for k, v in result.items() if k != "summary"}
                record.update(name=name, version=version,
                              summary={k: s.get(k) for k in ("packages", "crates", "files_parsed", "files_failed",
                                                             "items", "edges", "modules")})
                log.write(json.dumps(record) + "\n")

    lines = ["| crate | version | exit | time (s) | packages | files | items | edges | warnings | panics | errors (file: reason) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, version, r in rows:
        s = r["summary"]
        failed = "<br>".join(f.replace("|", "\\|") for f in r["failed"]) or ""
        lines.append(f"| {name} | {version} | {r['code']} | {r['seconds']:.1f} | {s.get('packages', '?')} | "
                     f"{s.get('files_parsed', '?')} | {s.get('items', '?')} | {s.get('edges', '?')} | "
                     f"{len(r['warnings'])} | {r['panics']} | {failed} |")
    lines.append("")
    total = sum(r["seconds"] for _, _, r in rows)
    lines.append(f"{len(rows)} crates built in {total:.0f} s; panics: {sum(r['panics'] for _, _, r in rows)}; "
                 f"internal errors: {sum(1 for _, _, r in rows if r['internal'])}; "
                 f"nonzero exits: {sum(1 for _, _, r in rows if r['code'] != 0)}.")
    for name, why in dropped.items():
        lines.append(f"- dropped `{name}`: {why}")
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
