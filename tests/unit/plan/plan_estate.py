"""A temporary copy of the plan's inputs (topology, data, runbooks, catalogue, journals, plan),
so a test can change one thing, check, render and check again without touching the repository.

Time is fixed (NOW) so the 90-day drill period and the waivers' expiry are tested exactly.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drctl.plan import PlanPaths, assess, render_plan, write_plan
from drctl.plan.check import Assessment
from drctl.plan.render import Rendered
from drills.journal import Journal, Status, SystemResult

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # inside waiver W-2026-01 (until 2027-02-15)
# Every copied data file's `updated:` is set to this, so the plan's render time (the newest input)
# is the same whatever date the repository's inventories carry.
UPDATED = "2026-11-25"


@dataclass
class Estate:
    root: Path
    paths: PlanPaths

    @property
    def data(self) -> Path:
        return self.paths.data

    def file(self, name: str) -> Path:
        """topology.yaml, a data file (bia.yaml, ...), or a path relative to the copy."""
        if name == "topology.yaml":
            return self.paths.topology
        if (self.data / name).exists():
            return self.data / name
        return self.root / name

    def edit(self, name: str, old: str, new: str, count: int = 1) -> None:
        path = self.file(name)
        text = path.read_text(encoding="utf-8")
        assert text.count(old) >= count, f"{old!r} not found {count} time(s) in {name}"
        path.write_text(text.replace(old, new, count), encoding="utf-8")

    def append(self, name: str, text: str) -> None:
        path = self.file(name)
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")

    def render(self) -> Rendered:
        rendered = render_plan(self.paths)
        write_plan(rendered, self.paths.plan, pdf=False)
        return rendered

    def assess(self, now: datetime = NOW) -> Assessment:
        return assess(self.paths, now)

    def failing(self, now: datetime = NOW) -> list[str]:
        return self.assess(now).failing()

    def fired(self, now: datetime = NOW) -> set[str]:
        return {name for name, reasons in self.assess(now).fired.items() if reasons}

    def topology_sha(self) -> str:
        return hashlib.sha256(self.paths.topology.read_bytes()).hexdigest()

    def journal(
        self,
        run_id: str,
        started: datetime,
        *,
        rto: dict[str, float] | None = None,
        rpo: dict[str, float] | None = None,
        lost: int = 0,
        passed: bool = True,
        topology_sha: str | None = None,
    ) -> Path:
        """A completed site-loss drill journal of ecm and crm (RTO 12 s, RPO 0 by default)."""
        rto = {"ecm": 12.0, "crm": 14.5} | (rto or {})
        rpo = {"ecm": 0.0, "crm": 0.0} | (rpo or {})
        t0 = started.timestamp() + 30
        systems = {
            name: SystemResult(
                system=name,
                objective_rto_seconds=60,
                objective_rpo_seconds=0,
                t0=t0,
                t1=t0 + rto[name],
                rto_seconds=rto[name],
                rpo_seconds=rpo[name],
                writes_acknowledged=5000,
                writes_lost=lost if name == "ecm" else 0,
                primary_before="brindisi",
                primary_after="valencia",
                probe_resolution_seconds=0.05,
            )
            for name in ("ecm", "crm")
        }
        journal = Journal(
            drctl_version="0.1.0",
            run_id=run_id,
            drill_id="site-loss-brindisi",
            drill={"title": "Loss of the primary data centre", "kind": "site-loss"},
            target="lab",
            mode="disruptive",
            platform={"system": "Linux"},
            topology_sha256=topology_sha or self.topology_sha(),
            started_at=started.timestamp(),
            ended_at=started.timestamp() + 300,
            status=Status.SUCCEEDED if passed else Status.FAILED,
            systems=systems,
            result="passed" if passed else "failed",
            reasons=[] if passed else ["ecm: RTO above its objective"],
        )
        path = self.paths.journals / f"{run_id}.json"
        journal.save(path)
        return path


def copy_estate(root: Path) -> Estate:
    (root / "inventories").mkdir(parents=True)
    for name in ("topology.yaml", "bia.yaml", "governance.yaml", "backups.yaml"):
        text = (REPO / "inventories" / name).read_text(encoding="utf-8")
        text = re.sub(r"(?m)^(\s*updated:) \d{4}-\d{2}-\d{2}$", rf"\1 {UPDATED}", text)
        (root / "inventories" / name).write_text(text, encoding="utf-8")
    shutil.copytree(REPO / "runbooks", root / "runbooks", ignore=shutil.ignore_patterns("plan"))
    catalogue = REPO / "drills" / "catalogue"
    if catalogue.is_dir():
        shutil.copytree(catalogue, root / "catalogue")
    else:  # git keeps no empty directory
        (root / "catalogue").mkdir()
    (root / "journals").mkdir()
    paths = PlanPaths(
        topology=root / "inventories" / "topology.yaml",
        data=root / "inventories",
        journals=root / "journals",
        plan=root / "runbooks" / "plan",
        runbooks=root / "runbooks",
        catalogue=root / "catalogue",
    )
    return Estate(root, paths)


@pytest.fixture
def estate(tmp_path: Path) -> Estate:
    """A copy of the committed inputs, without a plan yet."""
    return copy_estate(tmp_path / "estate")


@pytest.fixture
def rendered(estate: Estate) -> Estate:
    """A copy of the committed inputs with a plan rendered from them: the check passes."""
    estate.render()
    assert estate.failing() == []
    return estate
