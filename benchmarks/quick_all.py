"""Several benchmarks' `--quick` modes in turn, in one process: the smoke tests' entry point.

Run from the repo root: `.venv/bin/python benchmarks/quick_all.py ascent_speed.py:--skip-vgg
scan_speed.py ...` (a script, then its extra options after colons).

Each script runs as `python benchmarks/<script> --quick <options>` would run it, but all share
one interpreter, so TensorFlow is imported once instead of once per script (3-4 s each on a
2-core machine). Each script's output lies between `=== begin <script>` and `=== end <script>
status <exit status> after <seconds> s`; a script that raises gets status 1 and its traceback
on stderr, and the next script still runs. The environment and sys.argv are restored after
each script. Exits 0 when every script did.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_one(script: str, options: list[str]) -> int:
    """One benchmark's quick mode in this process; its exit status."""
    spec = importlib.util.spec_from_file_location(Path(script).stem, HERE / script)
    if spec is None or spec.loader is None:
        raise ValueError(f"no benchmark script {script!r} in {HERE}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    saved_argv, saved_environ = sys.argv, dict(os.environ)
    # explain_speed's main() reads sys.argv itself: every script gets it as if launched.
    sys.argv = [str(HERE / script), "--quick", *options]
    try:
        spec.loader.exec_module(module)
        return int(module.main() or 0)
    except SystemExit as stopped:  # argparse's errors, a script's own sys.exit
        return stopped.code if isinstance(stopped.code, int) else 1
    except Exception:
        traceback.print_exc()
        return 1
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_environ)


def main(argv: list[str] | None = None) -> int:
    """Run each `script[:option...]` of argv; 0 when all exited 0."""
    items = sys.argv[1:] if argv is None else argv
    if not items:
        print("usage: quick_all.py SCRIPT[:OPTION...] ...", file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE))  # the scripts import bench_common, as run from their folder
    failed = 0
    for item in items:
        script, *options = item.split(":")
        print(f"=== begin {script}", flush=True)
        began = time.perf_counter()
        status = run_one(script, options)
        seconds = time.perf_counter() - began
        print(f"=== end {script} status {status} after {seconds:.1f} s", flush=True)
        failed += status != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
