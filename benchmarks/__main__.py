"""Run every benchmark module (benchmarks/*_bench.py), or those named on the command line."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from benchmarks.machine import describe


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(p.stem for p in here.glob("*_bench.py"))
    print(describe(), flush=True)
    failed = 0
    for name in names:
        module = importlib.import_module(f"benchmarks.{name.removesuffix('.py')}")
        print(f"\n== {name} ==", flush=True)
        started = time.perf_counter()
        try:
            module.main()
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed += 1
            print(f"{name}: FAILED: {exc!r}", file=sys.stderr)
        print(f"({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
