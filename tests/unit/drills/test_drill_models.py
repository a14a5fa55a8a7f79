"""Drill files and runbooks are validated like the topology: each rule is one change to a real
file of the catalogue, rejected with a ConfigError naming file, line and field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from drctl.errors import ConfigError
from drctl.topology import Topology, load_topology
from drills.load import CATALOGUE_DIR, RUNBOOK_DIR, catalogue, load_drill, load_runbook

DRILL = CATALOGUE_DIR / "site-loss-brindisi.yaml"
RUNBOOK = RUNBOOK_DIR / "site-loss-failover.yaml"


@dataclass(frozen=True)
class Case:
    id: str
    anchor: str  # the edit applies to the first `old` after this text ("" = file start)
    old: str
    new: str
    field: str
    message: str
    at: tuple[str, str] | None = None  # (anchor, text) of the offending line; default: `new`

    def apply(self, text: str) -> tuple[str, int]:
        start = text.index(self.anchor) if self.anchor else 0
        pos = text.index(self.old, start)
        text = text[:pos] + self.new + text[pos + len(self.old) :]
        anchor, mark = self.at or (self.anchor, self.new.strip().splitlines()[0])
        begin = text.index(anchor) if anchor else 0
        return text, text[: text.index(mark, begin)].count("\n") + 1


@pytest.fixture(scope="module")
def topo() -> Topology:
    return load_topology()


def check(exc: ConfigError, path: Path, line: int, c: Case) -> None:
    assert any(
        p.path == path and p.line == line and p.field == c.field and c.message in p.message
        for p in exc.problems
    ), exc.problems
    assert f"{path}:{line}: {c.field}: " in str(exc) if c.field else f"{path}:{line}: " in str(exc)


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_every_catalogue_drill_is_valid(name: str, topo: Topology) -> None:
    load_drill(catalogue()[name], topo)


@pytest.mark.parametrize("path", sorted(RUNBOOK_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_runbook_is_valid(path: Path, topo: Topology) -> None:
    assert load_runbook(path.stem, topo).steps


METHOD = "method:\n"
DRILL_CASES = [
    Case("unknown-key", "", "kind: site-loss\n", "kind: site-loss\nowner: me\n", "owner",
         "unknown key", at=("", "owner: me")),
    Case("missing-field", "", "systems: [ecm, crm]\n", "", "systems",
         "required field is missing", at=("", "title:")),
    Case("wrong-type", "", "frequency_hz: 20", "frequency_hz: fast", "load.frequency_hz",
         "valid number"),
    Case("out-of-range", "", "frequency_hz: 20", "frequency_hz: 5", "load.frequency_hz",
         "greater than or equal to 10"),
    Case("unknown-kind", "", "kind: site-loss", "kind: meteor", "kind", "Input should be"),
    Case("unknown-target", "", "kind: site-loss\n", "kind: site-loss\ntarget: staging\n",
         "target", "'lab'", at=("", "target: staging")),
    Case("unknown-check", "", "check: estate.healthy", "check: estate.vibes",
         "steady-state-hypothesis.probes[0].check", "unknown check 'estate.vibes'"),
    Case("check-argument-missing", "", "{system: ecm}}", "{}}",
         "steady-state-hypothesis.probes[1].args", "check 'app.ready' needs argument(s) system",
         at=("", "ECM answers")),
    Case("unknown-action", METHOD, "action: site.power_off", "action: site.explode",
         "method[0].action", "unknown action 'site.explode'"),
    Case("missing-argument", METHOD, "{action: site.power_off, args: {site: brindisi}}",
         "{action: site.power_off}", "method[0].args", "needs argument(s) site"),
    Case("runbook-not-text", "", "{runbook: site-loss-failover,", "{runbook: 5,",
         "recovery.runbook", "Input should be a valid string or 'automatic'",
         at=("", "recovery:")),
    Case("unknown-system", "", "systems: [ecm, crm]", "systems: [ecm, erp]", "systems[1]",
         "unknown system 'erp'"),
    Case("unknown-site-in-method", METHOD, "args: {site: brindisi}", "args: {site: madrid}",
         "method[0].args.site", "unknown site 'madrid'"),
    Case("unknown-site-parameter", "", "survivor: valencia}", "survivor: lisbon}",
         "parameters.survivor", "unknown site 'lisbon'", at=("", "parameters:")),
    Case("unknown-runbook", "", "runbook: site-loss-failover", "runbook: no-such-book",
         "recovery.runbook", "no runbook 'no-such-book'", at=("", "recovery:")),
    Case("runbook-parameter-missing", "", "{site: brindisi, survivor: valencia}",
         "{site: brindisi}", "parameters", "needs parameter(s) survivor",
         at=("", "parameters:")),
    Case("malformed-yaml", "", "systems: [ecm, crm]", "systems: [ecm, crm", "",
         "malformed YAML", at=("", "parameters:")),
]  # fmt: skip


@pytest.mark.parametrize("c", DRILL_CASES, ids=[c.id for c in DRILL_CASES])
def test_malformed_drill_is_rejected(c: Case, topo: Topology, tmp_path: Path) -> None:
    text, line = c.apply(DRILL.read_text())
    path = tmp_path / DRILL.name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_drill(path, topo)
    check(info.value, path, line, c)


FIRST = "- name: Confirm {site} is fenced"
RELEASE = "- name: Release {system}"
RUNBOOK_CASES = [
    Case("unknown-key", FIRST, "    owner: DR coordinator\n",
         "    owner: DR coordinator\n    colour: red\n", "steps[0].colour", "unknown key",
         at=(FIRST, "colour: red")),
    Case("missing-field", FIRST, "    owner: DR coordinator\n", "", "steps[0].owner",
         "required field is missing", at=("", FIRST)),
    Case("wrong-type", FIRST, "timeout_seconds: 10", "timeout_seconds: soon",
         "steps[0].timeout_seconds", "valid number"),
    Case("unknown-kind", "", "kind: recovery", "kind: rollback", "kind",
         "'recovery' or 'failback'"),
    Case("unknown-action", FIRST, "action: site.confirm_fenced", "action: site.self_destruct",
         "steps[0].action", "unknown action 'site.self_destruct'"),
    Case("extra-argument", FIRST, 'args: {site: "{site}"}', 'args: {site: "{site}", force: 1}',
         "steps[0].args", "does not take argument(s) force"),
    Case("argument-not-scalar", FIRST, 'args: {site: "{site}"}', "args: {site: [a, b]}",
         "steps[0].args.site",
         "Input should be a valid string, a valid integer, a valid number or a valid boolean"),
    Case("manual-and-action", FIRST, "    action: site.confirm_fenced\n",
         "    action: site.confirm_fenced\n    manual: true\n", "steps[0]",
         "a step is either manual (manual: true) or names an action", at=("", FIRST)),
    Case("unknown-placeholder", FIRST, 'args: {site: "{site}"}', 'args: {site: "{place}"}',
         "steps[0].args.site", "unknown parameter(s) place"),
    Case("unknown-site", FIRST, 'args: {site: "{site}"}', "args: {site: madrid}",
         "steps[0].args.site", "unknown site 'madrid'"),
    Case("per-system-missing", RELEASE, "    per_system: true\n", "", "steps[2].per_system",
         "uses {system}: set true", at=("", RELEASE)),
    Case("malformed-yaml", FIRST, "    owner: DR coordinator\n", "  owner: DR coordinator\n",
         "", "malformed YAML", at=(FIRST, "owner:")),
]  # fmt: skip


@pytest.mark.parametrize("c", RUNBOOK_CASES, ids=[c.id for c in RUNBOOK_CASES])
def test_malformed_runbook_is_rejected(c: Case, topo: Topology, tmp_path: Path) -> None:
    text, line = c.apply(RUNBOOK.read_text())
    path = tmp_path / RUNBOOK.name
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_runbook(path.stem, topo, tmp_path)
    check(info.value, path, line, c)


def test_a_drill_naming_a_broken_runbook_says_where(topo: Topology, tmp_path: Path) -> None:
    """The drill's problem points at its recovery.runbook and carries the runbook's own."""
    (tmp_path / "site-loss-failover.yaml").write_text(
        RUNBOOK.read_text().replace("kind: recovery", "kind: rollback")
    )
    (tmp_path / "site-failback.yaml").write_text((RUNBOOK_DIR / "site-failback.yaml").read_text())
    with pytest.raises(ConfigError) as info:
        load_drill(DRILL, topo, tmp_path)
    (problem,) = info.value.problems
    assert problem.field == "recovery.runbook" and problem.path == DRILL
    assert "site-loss-failover.yaml:2: kind:" in problem.message
