"""WAN latency against the running lab: a site's inter-site TCP goes through a delaying proxy."""

from __future__ import annotations

import logging
import statistics
import subprocess

import pytest

from drctl.estate.lab import LabEstate
from drctl.lab import firewall, wan

pytestmark = pytest.mark.lab

DELAY_MS = 50


def _round_trips_ms(lab: LabEstate, site: str, url: str, n: int = 5) -> list[float]:
    """Connect + request + response times of `n` fresh connections made from inside `site`."""
    out = lab.run_command(
        site,
        f"for i in $(seq {n}); do "
        f"curl -fsS -o /dev/null --max-time 10 -w '%{{time_total}}\\n' {url} || exit 1; done",
    )
    return [float(line) * 1000 for line in out.split()]


def _round_trips_ms_here(url: str, n: int = 5) -> list[float]:
    """The same from this process, outside every site (the observer)."""
    curl = ["curl", "-fsS", "-o", "/dev/null", "--max-time", "10", "-w", "%{time_total}", url]
    runs = [subprocess.run(curl, capture_output=True, text=True, check=True) for _ in range(n)]
    return [float(run.stdout) * 1000 for run in runs]


def test_latency_slows_inter_site_tcp_and_goes_away(
    lab: LabEstate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=wan.__name__)
    valencia, brindisi = lab.address("valencia"), lab.address("brindisi")
    health = f"http://{valencia}:2379/health"
    version = f"http://{valencia}:2379/version"  # answered locally: one network round trip
    before = _round_trips_ms(lab, "brindisi", health)
    try:
        lab.add_latency("valencia", DELAY_MS)
        lab.add_latency("valencia", DELAY_MS)  # idempotent
        assert lab.latency("valencia") == DELAY_MS
        slow = _round_trips_ms(lab, "brindisi", health)
        slow_version = _round_trips_ms(lab, "brindisi", version)
        # valencia's own clients are slowed towards the other sites too
        back = _round_trips_ms(lab, "valencia", f"http://{brindisi}:2379/version")
        # the observer (drctl, outside every site) is not
        observer = _round_trips_ms_here(version)
    finally:
        lab.remove_latency("valencia")
    after = _round_trips_ms(lab, "brindisi", health)
    print(
        f"\nround trips, ms: /health before {before}; with {DELAY_MS} ms: /health {slow}, "
        f"/version {slow_version}, valencia->brindisi {back}, observer {observer}; "
        f"after: /health {after}\n{caplog.text}"
    )

    # /health is a quorum read: valencia's etcd also waits for its (now slow) peers
    assert min(slow) >= 2 * DELAY_MS
    for one_round_trip in (slow_version, back):
        assert min(one_round_trip) >= 2 * DELAY_MS
        assert statistics.median(one_round_trip) < 2 * DELAY_MS + 50
    assert statistics.median(observer) < 20
    assert "could not be reset" not in caplog.text  # ss -K worked
    assert statistics.median(after) < 20
    assert lab.latency("valencia") is None
    assert not [r for r in firewall.leftovers() if firewall.WAN_CHAIN in r]
    assert not (lab.paths.cgroup_root / "wan-valencia").exists()
    assert "valencia" not in wan.active(lab.paths)
    lab.remove_latency("valencia")  # idempotent too
    bad = [f"{c.site}/{c.service}" for c in lab.wait_healthy(timeout=60) if not c.healthy]
    assert not bad
