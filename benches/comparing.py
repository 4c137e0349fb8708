"""The command line that `compare-cold.py` and `compare-rerun.py` share:

    SCRIPT OLD_BINARY NEW_BINARY WORKSPACE_DIR [RUNS] [--OPTION VALUE ...] [-- EXTRA BUILD ARGS]
"""
import os
import sys


class Args:
    def __init__(self, old: str, new: str, workspace: str, runs: int, options: dict, extra: list):
        self.binaries = {"old": old, "new": new}
        self.workspace = workspace
        self.runs = runs
        self.options = options
        self.extra = extra


def parse(doc: str, options: dict) -> "Args | None":
    """Reads `sys.argv` with `options` (name without `--`: default value), or prints `doc` to
    standard error and gives `None` when the positional arguments are missing."""
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        extra = args[args.index("--") + 1 :]
        args = args[: args.index("--")]
    values = dict(options)
    for name in options:
        flag = f"--{name}"
        if flag in args:
            at = args.index(flag)
            values[name] = args[at + 1]
            del args[at : at + 2]
    if len(args) < 3:
        print(doc, file=sys.stderr)
        return None
    # The builds run in the workspace: binaries given relative to here are made absolute.
    old, new, workspace = (os.path.abspath(arg) for arg in args[:3])
    runs = int(args[3]) if len(args) > 3 else 5
    return Args(old, new, workspace, runs, values, extra)
