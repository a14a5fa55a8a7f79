"""RTO of the brindisi site-loss drill: 10 runs with the fenced takeover, then 3 with Patroni
alone at its default timings (ttl 30, loop_wait 10), for the ratio (issue 4's goal: median
≤ 5 s and ≥ 6x faster). Needs a running lab; the lab's own timings are restored afterwards."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import urllib.request
from pathlib import Path

from drctl.estate.lab import LabEstate
from drctl.topology import load_topology
from drills.engine import Engine, Options, approve_all
from drills.load import load_drill, resolve

RUNS = int(os.environ.get("DRCTL_BENCH_DRILLS", "10"))
DEFAULT_RUNS = int(os.environ.get("DRCTL_BENCH_DEFAULT_DRILLS", "3"))
PATRONI_DEFAULTS = {"ttl": 30, "loop_wait": 10, "retry_timeout": 10}


def _patch_config(url: str, values: dict[str, int], auth: dict[str, str]) -> None:
    req = urllib.request.Request(
        f"{url}/config", json.dumps(values).encode(), method="PATCH",
        headers={"Content-Type": "application/json", **auth},
    )  # fmt: skip
    urllib.request.urlopen(req, timeout=5).close()


def _run(drill_name: str, runs: int, journals: Path) -> list[tuple[float, int]]:
    topo = load_topology()
    estate = LabEstate(topo)
    path = resolve(drill_name)
    drill = load_drill(path, topo)
    out = []
    for i in range(runs):
        journal = Engine(
            topo, estate, path.stem, drill, Options(journal_dir=journals, approve=approve_all)
        ).run()
        rtos = [r.rto_seconds for r in journal.systems.values() if r.rto_seconds is not None]
        lost = sum(r.writes_lost for r in journal.systems.values())
        rto = max(rtos) if rtos else float("nan")
        print(f"  {drill_name} #{i + 1}: RTO {rto:.2f} s, writes lost {lost}, {journal.result}")
        out.append((rto, lost))
    return out


def _summary(label: str, results: list[tuple[float, int]]) -> float:
    rtos = sorted(r for r, _ in results)
    p95 = rtos[min(len(rtos) - 1, round(0.95 * (len(rtos) - 1)))]
    median = statistics.median(rtos)
    lost = sum(n for _, n in results)
    print(f"{label:<34} runs {len(rtos):>2}  median {median:6.2f} s  p95 {p95:6.2f} s  "
          f"max {rtos[-1]:6.2f} s  writes lost {lost}")  # fmt: skip
    return median


def main() -> None:
    topo = load_topology()
    estate = LabEstate(topo)
    if not all(c.healthy for c in estate.health()):
        print("lab not running or unhealthy: skipped (run `drctl lab up`)")
        return
    journals = Path(tempfile.mkdtemp(prefix="drctl-bench-journals-"))
    fenced = _run("site-loss-brindisi", RUNS, journals)
    urls = [
        f"http://{estate.address(s.placement[0])}:{s.database.patroni_port}" for s in topo.systems
    ]
    lab_timings = [
        {
            k: json.load(urllib.request.urlopen(f"{u}/config", timeout=5))[k]
            for k in PATRONI_DEFAULTS
        }
        for u in urls
    ]
    auth = next(iter(estate.clusters().values())).auth_headers()
    try:
        for url in urls:
            _patch_config(url, PATRONI_DEFAULTS, auth)
        baseline = _run("site-loss-brindisi-automatic", DEFAULT_RUNS, journals)
    finally:
        for url, timings in zip(urls, lab_timings, strict=True):
            _patch_config(url, timings, auth)
    print()
    a = _summary("fenced takeover (lab timings)", fenced)
    b = _summary("Patroni defaults (ttl 30, loop 10)", baseline)
    print(f"ratio: fenced takeover is {b / a:.1f}x faster (goal ≥ 6x, median ≤ 5 s)")
    print(f"journals: {journals}")
