"""Load and validate drill files and the runbooks they name, against the topology.

Everything is checked before a drill runs: the file's shape (pydantic, with file/line/field),
then references (systems, sites, runbooks, runbook parameters) against the topology.
"""

from __future__ import annotations

import string
from pathlib import Path

from drctl import REPO_ROOT
from drctl.errors import ConfigError, Problem
from drctl.topology.model import Topology
from drctl.yamlfile import Located, load_yaml, parse_model
from drills.model import Drill, Runbook, Scalar

CATALOGUE_DIR = REPO_ROOT / "drills" / "catalogue"
RUNBOOK_DIR = REPO_ROOT / "runbooks"
SITE_ARGS = ("site", "survivor")


def catalogue(directory: Path = CATALOGUE_DIR) -> dict[str, Path]:
    """Drill id (file stem) -> path."""
    return {p.stem: p for p in sorted(directory.glob("*.yaml"))}


def resolve(drill: str, directory: Path = CATALOGUE_DIR) -> Path:
    path = Path(drill)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    known = catalogue(directory)
    if drill not in known:
        raise ConfigError.single(
            directory, "drill", f"no drill {drill!r}; known: {', '.join(known) or 'none'}"
        )
    return known[drill]


def load_runbook(name: str, topo: Topology, directory: Path = RUNBOOK_DIR) -> Runbook:
    path = directory / f"{name}.yaml"
    if not path.exists():
        raise ConfigError.single(path, "runbook", f"no runbook {name!r} in {directory}")
    doc = load_yaml(path)
    book = parse_model(doc, Runbook)
    problems: list[Problem] = []
    allowed = {*book.parameters, "system"}
    for i, step in enumerate(book.steps):
        for field, text in (("name", step.name), ("instructions", step.instructions)):
            problems += _placeholders(doc, ("steps", i, field), text, allowed)
        for key, value in step.args.items():
            if isinstance(value, str):
                problems += _placeholders(doc, ("steps", i, "args", key), value, allowed)
                if "{" not in value:
                    problems += _reference(doc, ("steps", i, "args", key), key, value, topo)
        if step.per_system is False and "{system}" in step.name:
            problems.append(doc.problem(("steps", i, "per_system"), "uses {system}: set true"))
    if problems:
        raise ConfigError(problems)
    return book


def _placeholders(
    doc: Located, loc: tuple[str | int, ...], text: str, allowed: set[str]
) -> list[Problem]:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f}
    except ValueError as exc:
        return [doc.problem(loc, f"bad placeholder: {exc}")]
    unknown = names - allowed
    if unknown:
        return [doc.problem(loc, f"unknown parameter(s) {', '.join(sorted(unknown))}")]
    return []


def _reference(
    doc: Located, loc: tuple[str | int, ...], key: str, value: Scalar, topo: Topology
) -> list[Problem]:
    if key in SITE_ARGS and value not in {s.name for s in topo.sites}:
        return [doc.problem(loc, f"unknown site {value!r}")]
    if key == "system" and value not in {s.name for s in topo.systems}:
        return [doc.problem(loc, f"unknown system {value!r}")]
    return []


def load_drill(path: Path, topo: Topology, runbooks: Path = RUNBOOK_DIR) -> Drill:
    """A validated drill; raises ConfigError naming file, line and field of every problem."""
    doc = load_yaml(path)
    drill = parse_model(doc, Drill)
    problems: list[Problem] = []
    known_systems = {s.name for s in topo.systems}
    for i, system in enumerate(drill.systems):
        if system not in known_systems:
            problems.append(doc.problem(("systems", i), f"unknown system {system!r}"))
    for section, actions in (("method", drill.method), ("rollbacks", drill.rollbacks)):
        for i, action in enumerate(actions):
            for key, value in action.args.items():
                problems += _reference(doc, (section, i, "args", key), key, value, topo)
    for i, probe in enumerate([*drill.steady_state.probes, *drill.verification]):
        section = (
            "steady-state-hypothesis" if i < len(drill.steady_state.probes) else "verification"
        )
        index = i if i < len(drill.steady_state.probes) else i - len(drill.steady_state.probes)
        base: tuple[str | int, ...] = (
            (section, "probes", index) if section != "verification" else (section, index)
        )
        for key, value in probe.args.items():
            problems += _reference(doc, (*base, "args", key), key, value, topo)
    for key, value in drill.parameters.items():
        problems += _reference(doc, ("parameters", key), key, value, topo)
    for section, name in (
        ("recovery", drill.recovery.runbook),
        ("failback", drill.failback.runbook),
    ):
        if name is None or name == "automatic":
            continue
        try:
            book = load_runbook(name, topo, runbooks)
        except ConfigError as exc:
            problems.append(doc.problem((section, "runbook"), str(exc).replace("\n", "; ")))
            continue
        missing = set(book.parameters) - set(drill.parameters)
        if missing:
            problems.append(
                doc.problem(
                    ("parameters",),
                    f"runbook {name!r} needs parameter(s) {', '.join(sorted(missing))}",
                )
            )
    if problems:
        raise ConfigError(problems)
    return drill
