#!/usr/bin/env python3
"""The remote backend's speed against the msgpack backend's, side by side in one run (the machine
is shared and noisy: compare the ratios). Needs a cargo-codegraph built with the `server` feature
and the optimised in-process server of `examples/memory_server.rs`:

    cargo build --release --features server --example memory_server
    benches/remote.py [WORKSPACE_DIR] [RUNS] [-- EXTRA BUILD ARGS]

WORKSPACE_DIR defaults to benches/corpus with `--deps`. For each of RUNS rounds (default 3, after
one warm-up round), on a fresh server: a cold msgpack build, a cold build pushed to the server, a
one-file edit and the incremental update pushed after it, then the edit undone. Then `query
callers` of tokio::task::spawn::spawn (CODEGRAPH_BENCH_QUERY names another) through `--db grpc://` on the
server's graph, and the same query on the msgpack graph.
Prints medians and the ratios the issue sets targets for: cold remote / cold msgpack <= 2,
incremental remote / cold remote <= 0.10, query callers through gRPC <= 100 ms.
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.path.join(ROOT, "target", "release", "cargo-codegraph")
SERVER = os.path.join(ROOT, "target", "release", "examples", "memory_server")
# `CODEGRAPH_BENCH_SERVER=PATH` runs the real `indradb-server` at PATH (`PATH -a ADDR memory`)
# instead, e.g. the one `cargo xtask tools --features server` installs in target/tools/cargo/bin.
REAL_SERVER = os.environ.get("CODEGRAPH_BENCH_SERVER")
# The function whose callers are asked for: one with callers all over its crate
# (`CODEGRAPH_BENCH_QUERY` picks another, for a workspace without tokio).
QUERIED = os.environ.get("CODEGRAPH_BENCH_QUERY", "tokio::task::spawn::spawn")


def timed(command, cwd, env, ok=(0,)):
    """Wall seconds of `command`, which must exit with a code in `ok`."""
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.monotonic() - started
    if done.returncode not in ok:
        sys.exit(f"{' '.join(command)} exited with {done.returncode}:\n{done.stderr.decode()[-4000:]}")
    return elapsed


# A build exits with 3 when some files could not be indexed (the corpus's windows-sys declares
# modules for other targets): the graph is built and saved all the same.
BUILT = (0, 3)


def wait_for(port):
    """Until something listens on the loopback `port` (10 s at most)."""
    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit(f"the server did not listen on port {port}")


def edit_target(workspace):
    """The first source file of the workspace's own package: the one-file edit."""
    for base, _, files in os.walk(os.path.join(workspace, "src")):
        for name in sorted(files):
            if name.endswith(".rs"):
                return os.path.join(base, name)
    raise SystemExit(f"no .rs file under {workspace}/src")


def main() -> int:
    args = sys.argv[1:]
    extra = ["--deps"]
    if "--" in args:
        extra = args[args.index("--") + 1 :]
        args = args[: args.index("--")]
    workspace = os.path.abspath(args[0]) if args else os.path.join(HERE, "corpus")
    runs = int(args[1]) if len(args) > 1 else 3
    for path in (BIN, REAL_SERVER or SERVER):
        if not os.path.exists(path):
            print(__doc__, file=sys.stderr)
            return 2
    edited = edit_target(workspace)
    original = open(edited).read()
    times = {"msgpack cold": [], "remote cold": [], "remote incremental": [], "query grpc": [], "query msgpack": []}
    tmp = tempfile.mkdtemp()
    local = os.path.join(tmp, "graph.msgpack")
    target = os.path.join(tmp, "target")
    # The caches of this run (the metadata cache, the build caches named after each server) stay
    # out of the workspace's own target folder.
    env = dict(os.environ, CARGO_TARGET_DIR=target)
    try:
        for round_ in range(runs + 1):
            if REAL_SERVER:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", 0))
                    port = probe.getsockname()[1]
                server = subprocess.Popen([REAL_SERVER, "-a", f"127.0.0.1:{port}", "memory"], stdout=subprocess.DEVNULL)
                address = f"grpc://127.0.0.1:{port}"
                wait_for(port)
            else:
                server = subprocess.Popen([SERVER, "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
                address = server.stdout.readline().strip()
            try:
                base = [BIN, "codegraph", "build", "--offline", "-q", *extra]
                t_msgpack = timed([*base, "--rebuild", "--db", local], workspace, env, BUILT)
                t_remote = timed([*base, "--rebuild", "--db", address], workspace, env, BUILT)
                with open(edited, "a") as f:
                    f.write("\npub fn codegraph_bench_edit() {}\n")
                t_incremental = timed([*base, "--db", address], workspace, env, BUILT)
                # The msgpack graph brought up to date too (not timed), so that both answer alike.
                timed([*base, "--db", local], workspace, env, BUILT)
                query = [BIN, "codegraph", "query", "callers", QUERIED, "--no-update"]
                t_query_grpc = timed([*query, "--db", address], workspace, env)
                t_query_msgpack = timed([*query, "--db", local], workspace, env)
            finally:
                with open(edited, "w") as f:
                    f.write(original)
                server.kill()
                server.wait()
            if round_ == 0:
                continue
            for name, value in zip(times, (t_msgpack, t_remote, t_incremental, t_query_grpc, t_query_msgpack)):
                times[name].append(value)
            print(f"round {round_}: " + ", ".join(f"{n} {v:.2f} s" for n, v in zip(times, (t_msgpack, t_remote, t_incremental, t_query_grpc, t_query_msgpack))), flush=True)
    finally:
        subprocess.run(["rm", "-rf", tmp])
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, value in median.items():
        print(f"{name:>20}: median {value:.3f} s over {runs} runs")
    print(f"remote cold / msgpack cold: {median['remote cold'] / median['msgpack cold']:.2f} (target <= 2)")
    print(f"remote incremental / remote cold: {median['remote incremental'] / median['remote cold']:.3f} (target <= 0.10)")
    print(f"query callers through grpc: {median['query grpc'] * 1000:.0f} ms (target <= 100 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
