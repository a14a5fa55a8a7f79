"""Drills against the running lab (issue 4): measured RTO/RPO, failback whatever happens."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from test_monitoring_lab import prometheus_url, wait_for_alert

from drctl.estate.lab import LabEstate
from drctl.estate.patroni import Cluster
from drctl.topology.model import Topology
from drills.engine import DrillLock, Engine, Options, approve_all
from drills.journal import Journal, Phase, Status, load_journal
from drills.load import RUNBOOK_DIR, load_drill, resolve

pytestmark = pytest.mark.lab
DRCTL = [sys.executable, "-m", "drctl"]


def _run(topology: Topology, lab: LabEstate, name: str, tmp: Path, **kw: object) -> Journal:
    path = kw.pop("path", None) or resolve(name)
    assert isinstance(path, Path)
    drill = load_drill(path, topology, kw.get("runbook_dir", RUNBOOK_DIR))  # type: ignore[arg-type]
    kw.setdefault("approve", approve_all)
    options = Options(journal_dir=tmp, progress=print, **kw)  # type: ignore[arg-type]
    return Engine(topology, lab, path.stem, drill, options).run()


def _assert_steady(topology: Topology, lab: LabEstate) -> None:
    bad = [f"{c.site}/{c.service}" for c in lab.health() if not c.healthy]
    assert not bad, f"unhealthy after the drill: {bad}"
    addresses = {s.name: lab.address(s.name) for s in topology.sites}
    for system in topology.systems:
        cluster = Cluster(topology, system, addresses)
        assert cluster.leader_site() == system.placement[0]
        assert cluster.replication_healthy()[0]


def test_site_loss_meets_objectives_loses_nothing_and_fires_the_site_down_alert(
    lab: LabEstate, topology: Topology, tmp_path: Path
) -> None:
    """Also monitoring during a drill (issue 6): the site-down alert fires in Prometheus while
    Brindisi is lost and clears after failback. The coordinator's "declare a disaster" step
    waits for that alert, as a real coordinator would act on it."""
    prometheus = prometheus_url(topology)
    wait_for_alert(prometheus, "DrctlSiteDown", "inactive", timeout=30)
    fired: list[float] = []

    def coordinator(step: str, instructions: str) -> bool:
        if "Declare" in step:
            fired.append(
                wait_for_alert(
                    prometheus, "DrctlSiteDown", "firing", labels={"site": "brindisi"}, timeout=30
                )
            )
        return True

    journal = _run(topology, lab, "site-loss-brindisi", tmp_path, approve=coordinator)
    assert fired, "the declare step never ran"
    print(f"DrctlSiteDown fired {fired[0]:.1f} s after the declare step began")
    assert journal.result == "passed", journal.reasons
    for result in journal.systems.values():
        assert result.rto_seconds is not None
        assert 0 < result.rto_seconds < result.objective_rto_seconds
        assert result.writes_acknowledged > 100  # the writer really ran through the outage
        assert result.writes_lost == 0
        assert result.split_brain_observations == 0
        assert result.primary_before == "brindisi" and result.primary_after == "valencia"
        assert result.detection is not None and result.t0 is not None
        assert result.t0 <= result.detection <= (result.t1 or 0)
        assert result.probe_resolution_seconds is not None
        assert result.probe_resolution_seconds <= 0.1  # ≥ 10 Hz
    assert journal.systems["ecm"].documents_checked > 0
    assert journal.systems["ecm"].documents_mismatched == 0
    assert (tmp_path / f"{journal.run_id}.html").exists()
    assert load_journal(tmp_path / f"{journal.run_id}.json").result == "passed"
    _assert_steady(topology, lab)
    wait_for_alert(prometheus, "DrctlSiteDown", "inactive", timeout=30)


def test_partition_is_taken_over_without_split_brain(
    lab: LabEstate, topology: Topology, tmp_path: Path
) -> None:
    journal = _run(topology, lab, "partition-brindisi", tmp_path)
    assert journal.result == "passed", journal.reasons
    for result in journal.systems.values():
        assert result.writes_lost == 0  # checked after failback too: the old primary rejoined
        assert result.split_brain_observations == 0
    _assert_steady(topology, lab)


def test_a_failing_recovery_step_still_ends_healthy(
    lab: LabEstate, topology: Topology, tmp_path: Path
) -> None:
    runbooks = tmp_path / "runbooks"
    shutil.copytree(RUNBOOK_DIR, runbooks, ignore=shutil.ignore_patterns("plan"))
    book = yaml.safe_load((runbooks / "site-loss-failover.yaml").read_text())
    book["steps"].insert(
        0,
        {
            "name": "A step that fails at {survivor}",
            "owner": "DR coordinator",
            "action": "command",
            "args": {"site": "{survivor}", "run": "exit 3"},
        },
    )
    (runbooks / "site-loss-failover.yaml").write_text(yaml.safe_dump(book))
    journal = _run(topology, lab, "site-loss-brindisi", tmp_path / "j", runbook_dir=runbooks)
    assert journal.result == "failed"
    assert any("exited 3" in (a.error or "") for a in journal.activities)
    assert journal.pending_rollbacks == []
    assert any(a.phase is Phase.FAILBACK for a in journal.activities)
    _assert_steady(topology, lab)


def test_killed_engine_is_recovered_from_its_journal(
    lab: LabEstate, topology: Topology, tmp_path: Path
) -> None:
    env = {**os.environ, "DRCTL_JOURNAL_DIR": str(tmp_path)}
    engine = subprocess.Popen(
        [*DRCTL, "drill", "run", "site-loss-brindisi", "--yes"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    journal = None
    while time.monotonic() < deadline:
        files = list(tmp_path.glob("*.json"))
        if files:
            try:
                journal = load_journal(files[0])
            except ValueError:
                journal = None
            if journal is not None and journal.phase is Phase.RECOVERY:
                break
        time.sleep(0.05)
    assert journal is not None and journal.phase is Phase.RECOVERY, "drill never reached recovery"
    engine.send_signal(signal.SIGKILL)
    engine.wait(timeout=10)
    assert lab.is_fenced("brindisi")  # the engine died with the site down

    out = subprocess.run(
        [*DRCTL, "drill", "recover"], env=env, capture_output=True, text=True, timeout=400
    )
    assert out.returncode == 0, out.stderr
    recovered = load_journal(next(tmp_path.glob("*.json")))
    assert recovered.status is Status.RECOVERED
    assert recovered.pending_rollbacks == []
    assert any(a.kind == "rollback" for a in recovered.activities)
    _assert_steady(topology, lab)


def test_a_second_drill_is_refused_while_one_runs(lab: LabEstate, tmp_path: Path) -> None:
    lock = DrillLock(Path(os.environ.get("DRCTL_STATE_DIR", "/var/lib/drctl")))
    lock.acquire("test holding the drill lock")
    try:
        env = {**os.environ, "DRCTL_JOURNAL_DIR": str(tmp_path)}
        out = subprocess.run(
            [*DRCTL, "drill", "run", "leader-crash-ecm", "--yes"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        lock.release()
    assert out.returncode == 1
    assert "already running" in out.stderr and "test holding the drill lock" in out.stderr
    assert "Traceback" not in out.stderr
    assert not list(tmp_path.glob("*.json"))  # nothing started


@pytest.mark.parametrize(
    "name",
    ["leader-crash-ecm", "switchover-valencia", "wan-latency-valencia", "hub-isolation-geneva"],
)
def test_catalogue_drill_passes_and_leaves_the_lab_steady(
    lab: LabEstate, topology: Topology, tmp_path: Path, name: str
) -> None:
    journal = _run(topology, lab, name, tmp_path)
    assert journal.result == "passed", journal.reasons
    drill = load_drill(resolve(name), topology)
    for result in journal.systems.values():
        assert result.writes_lost == 0
        assert result.split_brain_observations == 0
        assert result.rto_seconds is not None and result.rto_seconds < result.objective_rto_seconds
        moved = result.primary_after != result.primary_before
        assert moved == drill.expect_failover
    if name == "switchover-valencia":
        # CRM's outage starts with its own switchover, after ECM's is done (DESIGN §6)
        ecm_step, crm_step = (
            a for a in journal.activities if a.phase is Phase.FAULT and a.kind == "action"
        )
        assert journal.systems["ecm"].t0 == pytest.approx(ecm_step.start, abs=0.05)
        assert journal.systems["crm"].t0 == pytest.approx(crm_step.start, abs=0.05)
        assert ecm_step.end is not None and crm_step.start >= ecm_step.end
    _assert_steady(topology, lab)


@pytest.mark.parametrize(
    "phase", [Phase.PROBES, Phase.FAULT, Phase.VERIFY, Phase.FAILBACK, Phase.STEADY_STATE]
)
def test_engine_killed_at_each_phase_is_recovered(
    lab: LabEstate, topology: Topology, tmp_path: Path, phase: Phase
) -> None:
    """SIGKILL the engine as it enters `phase`; `drill recover` restores a healthy lab and the
    journal says what happened (issue 10's crash safety; recovery phase: the test above)."""
    env = {**os.environ, "DRCTL_JOURNAL_DIR": str(tmp_path)}
    engine = subprocess.Popen(
        [*DRCTL, "drill", "run", "leader-crash-ecm", "--yes"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    seen = None
    while time.monotonic() < deadline and engine.poll() is None:
        files = list(tmp_path.glob("*.json"))
        if files:
            try:
                seen = load_journal(files[0]).phase
            except ValueError:
                seen = None
            if seen is phase:
                break
        time.sleep(0.02)
    assert seen is phase and engine.poll() is None, f"engine never reached {phase} (saw {seen})"
    engine.send_signal(signal.SIGKILL)
    engine.wait(timeout=10)

    out = subprocess.run(
        [*DRCTL, "drill", "recover"], env=env, capture_output=True, text=True, timeout=400
    )
    assert out.returncode == 0, out.stderr
    recovered = load_journal(next(tmp_path.glob("*.json")))
    assert recovered.status is Status.RECOVERED
    assert recovered.pending_rollbacks == []
    assert any("recovered by drctl drill recover" in r for r in recovered.reasons)
    _assert_steady(topology, lab)
