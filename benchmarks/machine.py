"""A fixed pure-Python workload, timed, printed beside the benchmarks' figures.

Machines of the same kind differ: the exporter's scrape measured 99 ms on one and 32 ms on
another with the same code (docs/monitoring.md). Figures taken on different days compare only
through a reference measured on the same machine at the same time.
"""

from __future__ import annotations

import json
import time

_MEMBERS = [
    {"name": f"member-{i}", "lag": i * 4096, "tags": {"nofailover": False}} for i in range(100)
]
_DOC = json.dumps({"members": _MEMBERS})


def _work() -> int:
    n = 0
    for _ in range(300):
        doc = json.loads(_DOC)
        lines = [f'drctl_lag{{member="{m["name"]}"}} {m["lag"]!r}' for m in doc["members"]]
        n += len("\n".join(sorted(lines)))
    return n


def reference_ms(repeats: int = 5) -> float:
    """Best of `repeats` runs of a fixed workload (JSON decoding, formatting, sorting), in ms."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        _work()
        best = min(best, (time.perf_counter() - started) * 1000)
    return best


def describe() -> str:
    return f"this machine: reference workload {reference_ms():.1f} ms (benchmarks/machine.py)"


if __name__ == "__main__":
    print(describe())
