"""A restore drill against the running lab (issue 9): every document title in ECM and every
ticket title in CRM is overwritten on the primaries (the synchronous replicas copy the damage at
once), and both clusters are restored by pgBackRest to the instant before the damage.

What must hold: every write the probes had acknowledged before the restore target is back, the
damaged tables are exactly as they were (digest), RPO is the gap between the last recovered
transaction and the damage, the clusters are replicated again at their preferred sites, and the
plan shows the figures next to the restore objectives.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from drctl.estate.lab import LabEstate
from drctl.estate.patroni import Cluster
from drctl.plan import PlanPaths, render_plan
from drctl.topology.model import Topology
from drills.engine import Engine, Options, approve_all
from drills.journal import Status, load_journal
from drills.load import RUNBOOK_DIR, load_drill, resolve

pytestmark = pytest.mark.lab


def test_corruption_drill_restores_every_row_acknowledged_before_the_target(
    lab: LabEstate, topology: Topology, tmp_path: Path
) -> None:
    path = resolve("data-corruption")
    drill = load_drill(path, topology, RUNBOOK_DIR)
    options = Options(journal_dir=tmp_path, approve=approve_all, progress=print)
    journal = Engine(topology, lab, path.stem, drill, options).run()

    assert journal.status is Status.SUCCEEDED and journal.result == "passed", journal.reasons
    intact = [v for v in journal.activities if v.name.endswith("as before the damage")]
    assert len(intact) == 2 and all(v.status == "succeeded" for v in intact)
    for name in ("ecm", "crm"):
        r = journal.systems[name]
        assert r.t0 is not None and r.restore_target is not None
        assert r.t0 <= r.restore_target < r.t0 + 0.01  # to the millisecond after the damage
        assert r.writes_acknowledged > 0
        assert r.writes_lost == 0, f"{name}: lost {r.lost_seqs[:10]}"
        # PostgreSQL's own account: the last transaction it replayed committed before the target
        assert r.last_recovered_transaction is not None
        assert r.last_recovered_transaction <= r.restore_target
        assert r.rpo_seconds is not None and 0 <= r.rpo_seconds <= r.objective_rpo_seconds
        assert r.rto_seconds is not None and 0 < r.rto_seconds <= r.objective_rto_seconds
        assert r.restore_seconds is not None and r.restore_seconds < r.rto_seconds
        assert r.objective_rto_seconds == 900  # the restore objectives of backups.yaml
        assert r.primary_after == topology.system(name).placement[0]

    addresses = {s.name: lab.address(s.name) for s in topology.sites}
    for system in topology.systems:
        cluster = Cluster(topology, system, addresses)
        assert cluster.leader_site() == system.placement[0]
        assert cluster.replication_healthy()[0]
    bad = [f"{c.site}/{c.service}" for c in lab.health() if not c.healthy]
    assert not bad, f"unhealthy after the drill: {bad}"

    saved = load_journal(tmp_path / f"{journal.run_id}.json")
    assert saved.systems["ecm"].rpo_seconds == journal.systems["ecm"].rpo_seconds
    plan = render_plan(PlanPaths.of(journals=tmp_path, plan=tmp_path / "plan")).markdown
    restores = plan.split("### Restore from backup", 1)[1].split("###", 1)[0]
    for name in ("ecm", "crm"):
        row = next(line for line in restores.splitlines() if line.startswith(f"| {name} |"))
        assert "| 15 min |" in row and "| met |" in row and f"{journal.run_id}.json" in row


def test_both_data_centres_lost_are_rebuilt_from_the_offsite_copy(
    lab: LabEstate, topology: Topology, tmp_path: Path
) -> None:
    """Every member killed and its data directory gone; rebuilt from repo 2's WAL alone. What
    was not archived yet is lost, within the restore RPO objective."""
    path = resolve("dc-database-loss")
    drill = load_drill(path, topology, RUNBOOK_DIR)
    options = Options(journal_dir=tmp_path, approve=approve_all, progress=print)
    journal = Engine(topology, lab, path.stem, drill, options).run()

    assert journal.status is Status.SUCCEEDED and journal.result == "passed", journal.reasons
    for name in ("ecm", "crm"):
        r = journal.systems[name]
        assert r.restore_target is None  # every archived segment
        assert r.last_recovered_transaction is not None and r.t0 is not None
        assert r.last_recovered_transaction <= r.t0
        assert r.rpo_seconds is not None and r.rpo_seconds <= r.objective_rpo_seconds
        assert r.rto_seconds is not None and 0 < r.rto_seconds <= r.objective_rto_seconds
        assert r.writes_acknowledged > r.writes_lost
        assert r.primary_after == topology.system(name).placement[0]
    restores = [a for a in journal.activities if a.name.startswith("Rebuild ")]
    assert len(restores) == 2 and all("repository 2" in a.name for a in restores)
    bad = [f"{c.site}/{c.service}" for c in lab.health() if not c.healthy]
    assert not bad, f"unhealthy after the drill: {bad}"


def test_a_failed_rebuild_puts_the_old_data_back(
    lab: LabEstate, topology: Topology, tmp_path: Path
) -> None:
    """The rebuild fails (a repository that does not exist): the rollback puts every member's
    data directory back, and the clusters run on it with nothing acknowledged lost."""
    drill_file = tmp_path / "dc-database-loss-bad-repo.yaml"
    doc = yaml.safe_load(resolve("dc-database-loss").read_text(encoding="utf-8"))
    doc["parameters"]["repo"] = 9
    drill_file.write_text(yaml.safe_dump(doc), encoding="utf-8")
    drill = load_drill(drill_file, topology, RUNBOOK_DIR)
    options = Options(journal_dir=tmp_path / "j", approve=approve_all, progress=print)
    journal = Engine(topology, lab, drill_file.stem, drill, options).run()

    assert journal.result == "failed"
    assert any(a.name.startswith("Rebuild ") and a.status == "failed" for a in journal.activities)
    assert journal.pending_rollbacks == []
    for name in ("ecm", "crm"):
        assert journal.systems[name].writes_lost == 0  # the old data, every write in it
    addresses = {s.name: lab.address(s.name) for s in topology.sites}
    for system in topology.systems:
        cluster = Cluster(topology, system, addresses)
        assert cluster.leader_site() == system.placement[0]
        assert cluster.replication_healthy()[0]
    bad = [f"{c.site}/{c.service}" for c in lab.health() if not c.healthy]
    assert not bad, f"unhealthy after the drill: {bad}"
