"""Load every input of the plan, validate the data files against the topology, and hash them.

Each input gets a stable key independent of where the repository is checked out
("topology.yaml", "data/bia.yaml", "runbooks/<file>", "catalogue/<file>", "journals/<file>"),
so the plan's manifest compares equal across clones and temporary copies.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from drctl import REPO_ROOT
from drctl.errors import ConfigError, Problem
from drctl.plan.data import Backups, Bia, Classification, Governance
from drctl.topology import load_topology
from drctl.topology.model import Topology
from drctl.yamlfile import Located, load_yaml, parse_model
from drills.journal import Journal, Status, journal_dir
from drills.model import Runbook

DEFAULT_DATA_DIR = REPO_ROOT / "inventories"
DEFAULT_PLAN_DIR = REPO_ROOT / "runbooks" / "plan"
DEFAULT_RUNBOOKS_DIR = REPO_ROOT / "runbooks"
DEFAULT_CATALOGUE_DIR = REPO_ROOT / "drills" / "catalogue"
DATA_FILES = ("bia.yaml", "governance.yaml", "backups.yaml")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class PlanPaths:
    topology: Path
    data: Path
    journals: Path
    plan: Path
    runbooks: Path = DEFAULT_RUNBOOKS_DIR
    catalogue: Path = DEFAULT_CATALOGUE_DIR

    @classmethod
    def of(
        cls,
        topology: Path | None = None,
        data: Path | None = None,
        journals: Path | None = None,
        plan: Path | None = None,
        runbooks: Path | None = None,
        catalogue: Path | None = None,
    ) -> PlanPaths:
        return cls(
            topology=topology or REPO_ROOT / "inventories" / "topology.yaml",
            data=data or DEFAULT_DATA_DIR,
            journals=journals or journal_dir(),
            plan=plan or DEFAULT_PLAN_DIR,
            runbooks=runbooks or DEFAULT_RUNBOOKS_DIR,
            catalogue=catalogue or DEFAULT_CATALOGUE_DIR,
        )


class CatalogueDrill(BaseModel):
    """The few fields of a drill file the plan shows; the drill engine validates the rest."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    title: str
    kind: str
    target: str = "lab"
    mode: str = "disruptive"
    systems: list[str]


@dataclass(frozen=True)
class Loaded(Generic[T]):
    key: str
    path: Path
    value: T


@dataclass
class Inputs:
    paths: PlanPaths
    topology: Topology
    bia: Bia
    governance: Governance
    backups: Backups
    runbooks: list[Loaded[Runbook]]
    catalogue: list[Loaded[CatalogueDrill]]
    journals: list[Loaded[Journal]]  # completed runs only, oldest first
    hashes: dict[str, str] = field(default_factory=dict)  # key -> SHA-256 of the bytes


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_inputs(paths: PlanPaths) -> Inputs:
    """Everything the plan is rendered from; a ConfigError lists every invalid file's problems."""
    topology = load_topology(paths.topology)
    hashes = {"topology.yaml": sha256_file(paths.topology)}
    docs: dict[str, Located] = {}
    problems: list[Problem] = []
    for name in DATA_FILES:
        try:
            docs[name] = load_yaml(paths.data / name)
        except ConfigError as exc:  # unreadable or malformed: report every file at once
            problems += exc.problems
            continue
        hashes[f"data/{name}"] = sha256_file(paths.data / name)
    if problems:
        raise ConfigError(problems)
    # schema first, then the rules against the topology, for every file that parsed
    bia = _parse(docs["bia.yaml"], Bia, problems)
    gov = _parse(docs["governance.yaml"], Governance, problems)
    backups = _parse(docs["backups.yaml"], Backups, problems)
    if bia is not None:
        problems += check_bia(bia, topology, docs["bia.yaml"])
    if gov is not None:
        problems += check_governance(gov, topology, docs["governance.yaml"])
    if backups is not None:
        problems += check_backups(backups, topology, docs["backups.yaml"])
    if problems or bia is None or gov is None or backups is None:
        raise ConfigError(problems)
    runbooks = _load_dir(paths.runbooks, "runbooks", Runbook)
    catalogue = _load_dir(paths.catalogue, "catalogue", CatalogueDrill)
    journals = load_journals(paths.journals)
    items: list[Loaded[Any]] = [*runbooks, *catalogue, *journals]
    for item in items:
        hashes[item.key] = sha256_file(item.path)
    return Inputs(paths, topology, bia, gov, backups, runbooks, catalogue, journals, hashes)


def _parse(doc: Located, model: type[M], problems: list[Problem]) -> M | None:
    try:
        return parse_model(doc, model)
    except ConfigError as exc:
        problems += exc.problems
        return None


def _load_dir(directory: Path, prefix: str, model: type[M]) -> list[Loaded[M]]:
    """Every *.yaml file of a directory, validated; every invalid file's problems at once."""
    if not directory.is_dir():
        return []
    out: list[Loaded[M]] = []
    problems: list[Problem] = []
    for path in sorted(directory.glob("*.yaml")):
        value = _parse(load_yaml(path), model, problems)
        if value is not None:
            out.append(Loaded(f"{prefix}/{path.name}", path, value))
    if problems:
        raise ConfigError(problems)
    return out


def load_journals(directory: Path) -> list[Loaded[Journal]]:
    """Completed drill journals (a running drill is not evidence yet), oldest first."""
    if not directory.is_dir():
        return []
    out: list[Loaded[Journal]] = []
    for path in sorted(directory.glob("*.json")):
        try:
            journal = Journal.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, ValidationError) as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError.single(path, "", f"not a valid drill journal: {first}") from None
        if journal.status is not Status.RUNNING:
            out.append(Loaded(f"journals/{path.name}", path, journal))
    return sorted(out, key=lambda item: (item.value.started_at, item.key))


def _duplicates(names: list[str], doc: Located, field_of: tuple[str, str]) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for i, name in enumerate(names):
        if name in seen:
            problems.append(doc.problem((field_of[0], i, field_of[1]), f"duplicate {name!r}"))
        seen.add(name)
    return problems


def check_bia(bia: Bia, topo: Topology, doc: Located) -> list[Problem]:
    known = {s.name: s for s in topo.systems}
    tiers = {t.level: t for t in topo.tiers}
    problems = _duplicates([e.system for e in bia.systems], doc, ("systems", "system"))
    classes = {str(c) for c in Classification}
    for i, entry in enumerate(bia.systems):
        if entry.system not in known:
            problems.append(
                doc.problem(("systems", i, "system"), f"unknown system {entry.system!r}")
            )
            continue
        tier = tiers[known[entry.system].tier]
        if tier.name in classes and tier.name != entry.classification:
            problems.append(
                doc.problem(
                    ("systems", i, "classification"),
                    f"{entry.classification} disagrees with the topology: {entry.system} is in "
                    f"tier {tier.level} ({tier.name})",
                )
            )
        hours = [x.after_hours for x in entry.impact]
        if hours != sorted(set(hours)):
            problems.append(
                doc.problem(("systems", i, "impact"), "list impacts by increasing after_hours")
            )
    return problems


def check_backups(backups: Backups, topo: Topology, doc: Located) -> list[Problem]:
    known = {s.name for s in topo.systems}
    sites = {s.name for s in topo.sites}
    problems = _duplicates([b.system for b in backups.systems], doc, ("systems", "system"))
    for i, entry in enumerate(backups.systems):
        if entry.system not in known:
            problems.append(
                doc.problem(("systems", i, "system"), f"unknown system {entry.system!r}")
            )
        for k, repo in enumerate(entry.repositories):
            loc = ("systems", i, "repositories", k)
            if repo.site is not None and repo.site not in sites:
                problems.append(doc.problem((*loc, "site"), f"unknown site {repo.site!r}"))
            if (repo.site is None) == (repo.provider is None):
                problems.append(doc.problem(loc, "name either a site or a provider"))
    return problems


def check_governance(gov: Governance, topo: Topology, doc: Located) -> list[Problem]:
    sites = {s.name for s in topo.sites}
    problems = []
    for name in gov.teams:
        if name not in sites:
            problems.append(doc.problem(("teams", name), f"unknown site {name!r}"))
    for name in gov.facilities:
        if name not in sites:
            problems.append(doc.problem(("facilities", name), f"unknown site {name!r}"))
    for k, note in enumerate(gov.activation.notification):
        loc = ("activation", "notification", k)
        if note.team is not None and note.team not in sites:
            problems.append(doc.problem((*loc, "team"), f"unknown site {note.team!r}"))
        if (note.who is None) == (note.team is None):
            problems.append(doc.problem(loc, "name either who or a site's team"))
    problems += _duplicates(
        [a.id for a in gov.corrective_actions], doc, ("corrective_actions", "id")
    )
    problems += _duplicates([r.id for r in gov.risks], doc, ("risks", "id"))
    problems += _duplicates([w.id for w in gov.waivers], doc, ("waivers", "id"))
    systems = {s.name for s in topo.systems}
    for i, waiver in enumerate(gov.waivers):
        for k, name in enumerate(waiver.systems):
            if name not in systems:
                problems.append(
                    doc.problem(("waivers", i, "systems", k), f"unknown system {name!r}")
                )
        if waiver.expires < waiver.granted:
            problems.append(doc.problem(("waivers", i, "expires"), "expires before it is granted"))
    return problems
