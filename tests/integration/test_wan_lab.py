"""WAN latency against the running lab: a site's inter-site TCP goes through a delaying proxy."""

from __future__ import annotations

import statistics

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


def test_latency_slows_inter_site_tcp_and_goes_away(lab: LabEstate) -> None:
    etcd = f"http://{lab.address('valencia')}:2379/health"
    before = _round_trips_ms(lab, "brindisi", etcd)
    try:
        lab.add_latency("valencia", DELAY_MS)
        lab.add_latency("valencia", DELAY_MS)  # idempotent
        assert lab.latency("valencia") == DELAY_MS
        slow = _round_trips_ms(lab, "brindisi", etcd)
        # both ways: valencia's own clients are slowed towards the other sites too
        back = _round_trips_ms(lab, "valencia", f"http://{lab.address('brindisi')}:2379/health")
    finally:
        lab.remove_latency("valencia")
    after = _round_trips_ms(lab, "brindisi", etcd)
    print(f"round trips ms: before {before}, with {DELAY_MS} ms {slow}, back {back}, after {after}")

    assert min(slow) >= 2 * DELAY_MS
    assert statistics.median(slow) < 2 * DELAY_MS + 50
    assert min(back) >= 2 * DELAY_MS
    assert statistics.median(after) < 20
    assert lab.latency("valencia") is None
    assert not [r for r in firewall.leftovers() if firewall.WAN_CHAIN in r]
    assert not (lab.paths.cgroup_root / "wan-valencia").exists()
    assert "valencia" not in wan.active(lab.paths)
    lab.remove_latency("valencia")  # idempotent too
    bad = [f"{c.site}/{c.service}" for c in lab.wait_healthy(timeout=60) if not c.healthy]
    assert not bad
