"""The isolated drill against the running lab: both systems restored from the secondary into a
bubble, measured, verified and destroyed, with the real estate untouched."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from drctl.estate.lab import LabEstate
from drctl.estate.patroni import Cluster
from drctl.lab import firewall
from drctl.topology.model import Topology
from drills.actions import Context, front_door_url
from drills.engine import DrillLock, Engine, Options, approve_all
from drills.isolated import BUBBLE_ADDRESS, BUBBLE_CGROUP, SCRATCH
from drills.journal import Status, load_journal
from drills.load import load_drill, resolve

pytestmark = pytest.mark.lab
DRCTL = [sys.executable, "-m", "drctl"]


def _clusters(topology: Topology, lab: LabEstate) -> dict[str, Cluster]:
    return Context.create(topology, lab).clusters


def _quiet_lab(topology: Topology, lab: LabEstate, timeout: float = 900) -> dict[str, str]:
    """Others run disruptive drills on this lab: wait until none runs and both clusters are
    led from their preferred site and replicated; returns the leaders."""
    deadline = time.monotonic() + timeout
    detail = ""
    while time.monotonic() < deadline:
        clusters = _clusters(topology, lab)
        leaders = {s: c.leader_site() for s, c in clusters.items()}
        preferred = all(leaders[s.name] == s.placement[0] for s in topology.systems)
        replicated = all(c.replication_healthy()[0] for c in clusters.values())
        healthy = all(c.healthy for c in lab.health())
        busy = DrillLock(lab.paths.state).held_elsewhere()
        if preferred and replicated and healthy and not busy:
            return {s: str(leader) for s, leader in leaders.items()}
        detail = f"leaders {leaders}, replicated {replicated}, healthy {healthy}, busy {busy}"
        time.sleep(5)
    pytest.fail(f"the lab did not settle within {timeout:g} s: {detail}")


def _no_bubble_left(lab: LabEstate) -> None:
    assert not [r for r in firewall.leftovers() if firewall.BUBBLE_CHAIN in r]
    assert not (lab.paths.cgroup_root / BUBBLE_CGROUP).exists()
    assert not (lab.paths.state / SCRATCH).exists()
    listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
    assert f"{BUBBLE_ADDRESS}:" not in listening


def test_both_systems_restore_in_the_bubble_and_the_estate_is_untouched(
    lab: LabEstate, topology: Topology, tmp_path: Path
) -> None:
    leaders = _quiet_lab(topology, lab)
    path = resolve("isolated-test")
    drill = load_drill(path, topology)
    options = Options(journal_dir=tmp_path, approve=approve_all, progress=print)
    journal = Engine(topology, lab, path.stem, drill, options).run()

    assert journal.result == "passed", journal.reasons
    assert journal.mode == "isolated"
    for system, result in journal.systems.items():
        # time to ready, from the start of the restore to the first /readyz 200
        assert result.t0 is not None and result.t1 is not None and result.t0 < result.t1
        assert result.rto_seconds is not None
        assert 0 < result.rto_seconds < result.objective_rto_seconds
        assert result.rpo_seconds is not None  # the copy's age
        assert result.primary_before == result.primary_after == leaders[system]
    ready = [a.output for a in journal.activities if a.name.endswith("(/readyz 200)")]
    assert len(ready) == 2
    for figures in ready:
        assert figures["time_to_ready_seconds"] > 0
        assert 0 < figures["restore_seconds"] < figures["time_to_ready_seconds"]
        assert figures["bytes_copied"] > 1_000_000
    assert (tmp_path / f"{journal.run_id}.html").exists()

    # the estate: same leaders, still replicated, and the bubble's write is nowhere in it
    clusters = _clusters(topology, lab)
    for system, cluster in clusters.items():
        assert cluster.leader_site() == leaders[system]
        assert cluster.replication_healthy()[0]
        url = f"{front_door_url(Context.create(topology, lab), system)}"
        token = lab.secret("prober_token")
        resp = httpx.get(
            f"{url}/api/probe/writes/{journal.run_id}-bubble",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert resp.status_code == 200 and resp.json()["seqs"] == []
    _no_bubble_left(lab)


def test_drill_recover_destroys_the_bubble_of_a_killed_engine(
    lab: LabEstate, topology: Topology, tmp_path: Path
) -> None:
    leaders = _quiet_lab(topology, lab)
    env = {**os.environ, "DRCTL_JOURNAL_DIR": str(tmp_path)}
    engine = subprocess.Popen(
        [*DRCTL, "drill", "run", "isolated-test", "--yes"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    started = False
    while time.monotonic() < deadline and not started:
        for path in tmp_path.glob("*.json"):
            with contextlib.suppress(ValueError):
                started = any("start the copy" in a.name for a in load_journal(path).activities)
        time.sleep(0.05)
    assert started, "the drill never started a copy in the bubble"
    engine.send_signal(signal.SIGKILL)
    engine.wait(timeout=10)
    assert [r for r in firewall.leftovers() if firewall.BUBBLE_CHAIN in r]  # left behind

    out = subprocess.run(
        [*DRCTL, "drill", "recover"], env=env, capture_output=True, text=True, timeout=400
    )
    assert out.returncode == 0, out.stderr
    assert "bubble left by an isolated drill" in out.stderr
    recovered = load_journal(next(tmp_path.glob("*.json")))
    assert recovered.status is Status.RECOVERED
    _no_bubble_left(lab)
    clusters = _clusters(topology, lab)
    assert {s: c.leader_site() for s, c in clusters.items()} == leaders
