#!/usr/bin/env python3
"""Seeds the fuzz targets' corpora from real files (see README.md, "Seeds").

    fuzz/make-corpus.py [--binary PATH]        (run from anywhere; writes fuzz/corpus/)

`pipeline`: 2,000 `.rs` files of 200 B to 32 KiB picked at random (seed 17) from the packages of
`benches/corpus/Cargo.lock` as cargo's registry holds them (`cargo fetch` there first), plus every
`.rs` file under 64 KiB of `tests/fixtures`, each named by its SHA-1.

`readers`: what real builds leave, each file behind its selector byte: the fixtures `workspace`,
`calls`, `expansion` and `query` built with `--offline --db X.msgpack` by a release binary (built
when `--binary` is not given), then one file of `workspace` edited and built again for a delta log;
`\\x00` + each image; `\\x01` + the image's length (2 bytes, little-endian) + the image + the delta;
`\\x02` + each unit's output and files blob; `\\x03` + each `state.msgpack`; `\\x04` + each unit's
scopes blob (blobs cut from the packs at the offsets the state gives).
"""
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile

FUZZ = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(FUZZ)


def registry_sources():
    """The source folders of benches/corpus/Cargo.lock's registry packages."""
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    names = set()
    name = None
    with open(os.path.join(ROOT, "benches/corpus/Cargo.lock")) as lock:
        for line in lock:
            if line.startswith("name = "):
                name = line.split('"')[1]
            elif line.startswith("version = ") and name:
                version = line.split('"')[1]
                names.add(f"{name}-{version}")
    folders = []
    src = os.path.join(home, "registry/src")
    for index in sorted(os.listdir(src)):
        for package in sorted(os.listdir(os.path.join(src, index))):
            if package in names:
                folders.append(os.path.join(src, index, package))
    return folders


def put(folder, content):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(content).hexdigest()), "wb") as out:
        out.write(content)


def pipeline(corpus):
    files = []
    for folder in registry_sources():
        for dirpath, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(dirpath, name)
                if name.endswith(".rs") and 200 <= os.path.getsize(path) <= 32 * 1024:
                    files.append(path)
    files.sort()
    random.Random(17).shuffle(files)
    for path in files[:2000]:
        with open(path, "rb") as source:
            put(corpus, source.read())
    for dirpath, _, names in os.walk(os.path.join(ROOT, "tests/fixtures")):
        if "/target" in dirpath:
            continue
        for name in names:
            path = os.path.join(dirpath, name)
            if name.endswith(".rs") and os.path.getsize(path) < 64 * 1024:
                with open(path, "rb") as source:
                    put(corpus, source.read())


def msgpack_state(path):
    """The blobs a state names: (kind, pack, offset, len) with kind 'out', 'defs' or 'files'."""
    # `pip install msgpack` (PyPI's msgpack) when missing.
    import msgpack  # noqa: PLC0415

    with open(path, "rb") as state_file:
        state = msgpack.unpackb(state_file.read(), strict_map_key=False)
    # CacheState: [version, fingerprint, db_stamp, generation, units]; UnitEntry: [fingerprint,
    # summary, output, defs, files]; Blob: [pack, offset, len, hash].
    for entry in state[4].values():
        for kind, blob in (("out", entry[2]), ("defs", entry[3]), ("files", entry[4])):
            if blob is not None:
                yield kind, blob[0], blob[1], blob[2]


def readers(corpus, binary):
    with tempfile.TemporaryDirectory() as scratch:
        for fixture in ["workspace", "calls", "expansion", "query"]:
            copy = os.path.join(scratch, fixture)
            shutil.copytree(os.path.join(ROOT, "tests/fixtures", fixture), copy, ignore=shutil.ignore_patterns("target"))
            db = os.path.join(scratch, f"{fixture}.msgpack")
            build = [binary, "codegraph", "--offline", "--db", db]
            subprocess.run(build, cwd=copy, check=True, capture_output=True)
            with open(db, "rb") as image:
                put(corpus, b"\x00" + image.read())
            if fixture == "workspace":
                lib = next(
                    os.path.join(d, n) for d, _, ns in sorted(os.walk(copy)) for n in sorted(ns) if n == "lib.rs"
                )
                with open(lib, "a") as source:
                    source.write("\npub fn fuzz_seed_added() {}\n")
                subprocess.run(build, cwd=copy, check=True, capture_output=True)
                if not os.path.exists(db + ".delta"):
                    sys.exit(f"the rerun of {fixture} wrote no delta log")
                with open(db, "rb") as image, open(db + ".delta", "rb") as delta:
                    image = image.read()
                    put(corpus, b"\x01" + len(image).to_bytes(2, "little") + image + delta.read())
            cache = db + ".cache"
            state_path = os.path.join(cache, "state.msgpack")
            with open(state_path, "rb") as state:
                put(corpus, b"\x03" + state.read())
            for kind, pack, offset, length in msgpack_state(state_path):
                with open(os.path.join(cache, f"pack-{pack}"), "rb") as packed:
                    packed.seek(offset)
                    blob = packed.read(length)
                put(corpus, (b"\x04" if kind == "defs" else b"\x02") + blob)


def main():
    binary = None
    if "--binary" in sys.argv:
        binary = os.path.abspath(sys.argv[sys.argv.index("--binary") + 1])
    else:
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "cargo-codegraph"], cwd=ROOT, check=True)
        binary = os.path.join(ROOT, "target/release/cargo-codegraph")
    pipeline(os.path.join(FUZZ, "corpus/pipeline"))
    readers(os.path.join(FUZZ, "corpus/readers"), binary)
    for target in ["pipeline", "readers"]:
        print(target, len(os.listdir(os.path.join(FUZZ, "corpus", target))), "files")


if __name__ == "__main__":
    main()
