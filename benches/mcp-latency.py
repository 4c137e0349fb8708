#!/usr/bin/env python3
"""Latency of repeated queries in a resident `cargo codegraph mcp` server.

    benches/mcp-latency.py BINARY DB [CALLS]      (default 200 calls)

Starts `BINARY codegraph mcp --no-update --db DB` and speaks MCP to it over stdio (JSON-RPC, one
message per line): `initialize`, `notifications/initialized`, then CALLS `tools/call`s, cycling
through `callers`, `callees`, `refs`, `impls` and `find` on functions, traits and names drawn,
with a fixed seed, from the graph itself (`cargo codegraph export` of DB). Each call's time is
from writing the request to reading its response. Prints p50, p95 and max per tool and overall,
and one JSON line. The server's first load of the graph is reported apart (`initialize` waits
for it).
"""
import json
import random
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, db = sys.argv[1], sys.argv[2]
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    export = subprocess.run([binary, "codegraph", "export", "--db", db], check=True, capture_output=True, text=True).stdout
    functions, traits, names = [], [], []
    for line in export.splitlines():
        value = json.loads(line)
        if value.get("type") != "vertex":
            continue
        props = value["props"]
        if value["kind"] == "function" and "path" in props and not props["path"].startswith("<"):
            functions.append(props["path"])
        elif value["kind"] == "trait" and "path" in props:
            traits.append(props["path"])
        if "name" in props and value["kind"] in ("function", "struct", "enum", "trait"):
            names.append(props["name"])
    rng = random.Random(7)
    plan = []
    for index in range(calls):
        tool = ["callers", "callees", "refs", "impls", "find"][index % 5]
        if tool == "impls" and traits:
            arguments = {"target": rng.choice(traits)}
        elif tool == "find":
            arguments = {"pattern": rng.choice(names)}
        else:
            arguments = {"target": rng.choice(functions), **({"depth": 2} if tool != "refs" else {})}
        plan.append((tool, arguments))

    server = subprocess.Popen(
        [binary, "codegraph", "mcp", "--no-update", "--db", db],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )

    def request(id_, method, params):
        server.stdin.write(json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}) + "\n")
        server.stdin.flush()
        while True:
            message = json.loads(server.stdout.readline())
            if message.get("id") == id_:
                return message

    started = time.perf_counter()
    request(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}})
    load_s = time.perf_counter() - started
    server.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")
    server.stdin.flush()
    times = {}
    errors = 0
    for id_, (tool, arguments) in enumerate(plan, start=1):
        started = time.perf_counter()
        response = request(id_, "tools/call", {"name": tool, "arguments": arguments})
        elapsed = time.perf_counter() - started
        times.setdefault(tool, []).append(elapsed)
        if "error" in response:
            errors += 1
    server.stdin.close()
    server.wait(timeout=10)

    def summary(samples):
        ordered = sorted(samples)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
        return {"p50_ms": round(1000 * statistics.median(ordered), 2), "p95_ms": round(1000 * p95, 2), "max_ms": round(1000 * ordered[-1], 2)}

    every = [t for samples in times.values() for t in samples]
    print(f"first load (initialize): {load_s * 1000:.0f} ms; {calls} calls, {errors} protocol errors")
    for tool, samples in sorted(times.items()):
        s = summary(samples)
        print(f"{tool:<8} p50 {s['p50_ms']:>7.2f} ms  p95 {s['p95_ms']:>7.2f} ms  max {s['max_ms']:>7.2f} ms")
    overall = summary(every)
    print(f"{'all':<8} p50 {overall['p50_ms']:>7.2f} ms  p95 {overall['p95_ms']:>7.2f} ms  max {overall['max_ms']:>7.2f} ms")
    print(json.dumps({"bench": "mcp-latency", "calls": calls, "load_ms": round(load_s * 1000, 1), "errors": errors, "all": overall}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
