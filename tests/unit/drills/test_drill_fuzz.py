"""Property: however a drill or runbook file is mangled, loading it either succeeds or raises a
ConfigError whose every problem names the file, a line and a field; never another exception.
And `drctl drill run` on a malformed file exits 1 with a message, before touching the estate.

The approach is the topology's (tests/unit/topology/test_topology_mutations.py): random
structural changes to the real files, plus character-level damage, with values that are
plausible somewhere in a drill so mutations reach the deeper rules."""

from __future__ import annotations

import contextlib
import copy
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import drctl.cli.drill
from drctl.cli import main
from drctl.errors import ConfigError
from drctl.topology import DEFAULT_PATH, load_topology
from drctl.topology.model import Topology
from drills.load import CATALOGUE_DIR, RUNBOOK_DIR, load_drill, load_runbook

Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TOPOLOGY = load_topology(DEFAULT_PATH)
DRILLS = sorted(CATALOGUE_DIR.glob("*.yaml"))
RUNBOOKS = sorted(RUNBOOK_DIR.glob("*.yaml"))
# Problems without a field are about the file as a whole: its syntax or its top level.
WHOLE_FILE = ("malformed YAML", "expected a mapping", "not UTF-8", "cannot read")

NEAR_MISSES = st.sampled_from(
    [
        "brindisi",
        "valencia",
        "geneva",
        "nowhere",
        "ecm",
        "crm",
        "site.power_off",
        "db.promote",
        "estate.healthy",
        "no.such.action",
        "automatic",
        "site-loss-failover",
        "missing-runbook",
        "{site}",
        "{nope}",
        "{",
        "lab",
        "production",
        "dry-run",
        "",
        0,
        -1,
        5,
        1e309,
        True,
    ]
)
VALUES = st.one_of(
    NEAR_MISSES,
    st.none(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.lists(NEAR_MISSES, max_size=3),
    st.dictionaries(st.sampled_from(["site", "system", "check", "action", "x"]), NEAR_MISSES),
)
KEYS = st.one_of(
    st.sampled_from(
        ["site", "system", "args", "action", "check", "runbook", "steps", "probes", "x"]
    ),
    st.text(min_size=1, max_size=12),
    st.integers(),
    st.booleans(),
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    else:
        return []
    out = []
    for key, child in children:
        out += [(*prefix, key), *paths(child, (*prefix, key))]
    return out


def mutate(data: Any, source: st.DataObject) -> Any:
    """One random change: delete, rename, retype or duplicate a node."""
    draw = source.draw
    *parent_path, last = draw(st.sampled_from(paths(data)))
    parent = data
    for part in parent_path:
        parent = parent[part]
    op = draw(st.sampled_from(["delete", "rename", "retype", "duplicate"]))
    if op == "delete":
        del parent[last]
    elif op == "rename" and isinstance(parent, dict):
        parent[draw(KEYS)] = parent.pop(last)
    elif op == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    else:
        parent[last] = draw(VALUES)
    return data


def mangle_structure(original: Path, out: Path, data: st.DataObject) -> None:
    mangled = yaml.safe_load(original.read_text())
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        if not paths(mangled):
            break
        mangled = mutate(mangled, data)
    out.write_text(yaml.dump(mangled, Dumper=Dumper, allow_unicode=True, sort_keys=False))


def mangle_text(original: Path, out: Path, data: st.DataObject) -> None:
    """Character- and line-level damage: broken syntax, duplicate keys, bad indentation."""
    lines = original.read_text().splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["drop-line", "copy-line", "edit-char", "insert"]))
        if op == "drop-line" and len(lines) > 1:
            del lines[i]
        elif op == "copy-line":
            lines.insert(i, lines[i])
        else:
            line = lines[i]
            j = data.draw(st.integers(0, len(line)))
            new = data.draw(
                st.sampled_from(list("[]{}:,-&*!|>'\"#%@`\t ?x1")) | st.text(max_size=2)
            )
            cut = 1 if op == "edit-char" else 0
            lines[i] = line[:j] + new + line[j + cut :]
    out.write_text("".join(lines))


def check_problems(exc: ConfigError, path: Path) -> None:
    """Every problem names this file, a line inside it (the node exists: it was parsed) and a
    field, unless it is about the file as a whole."""
    assert exc.problems, "a ConfigError without problems"
    n_lines = max(1, len(path.read_text(encoding="utf-8", errors="replace").splitlines()))
    for p in exc.problems:
        assert p.path == path, str(p)
        assert p.message.strip(), str(p)
        assert "Traceback" not in p.message, str(p)
        if not p.field:
            assert p.message.startswith(WHOLE_FILE), f"no field named: {p}"
        if not p.message.startswith(("cannot read", "not UTF-8")):
            assert p.line is not None and 1 <= p.line <= n_lines + 1, str(p)


def check_drill(path: Path, runbooks: Path = RUNBOOK_DIR) -> bool:
    """True when the drill loads; any exception but a ConfigError escapes and fails."""
    try:
        load_drill(path, TOPOLOGY, runbooks)
    except ConfigError as exc:
        check_problems(exc, path)
        return False
    return True


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("drill-fuzz")


@pytest.fixture(scope="module")
def runbook_copy(scratch: Path) -> Path:
    """The real runbooks in a directory of their own, so one can be mangled at a time."""
    directory = scratch / "runbooks"
    directory.mkdir()
    for book in RUNBOOKS:
        shutil.copy(book, directory / book.name)
    return directory


@PROPERTY
@given(st.sampled_from(DRILLS), st.data())
def test_mangled_drill_structure_never_crashes(
    scratch: Path, original: Path, data: st.DataObject
) -> None:
    path = scratch / original.name
    mangle_structure(original, path, data)
    check_drill(path)


@PROPERTY
@given(st.sampled_from(DRILLS), st.data())
def test_mangled_drill_text_never_crashes(
    scratch: Path, original: Path, data: st.DataObject
) -> None:
    path = scratch / original.name
    mangle_text(original, path, data)
    check_drill(path)


@PROPERTY
@given(st.sampled_from(RUNBOOKS), st.booleans(), st.data())
def test_mangled_runbook_never_crashes(
    runbook_copy: Path, original: Path, text_level: bool, data: st.DataObject
) -> None:
    path = runbook_copy / original.name
    try:
        (mangle_text if text_level else mangle_structure)(original, path, data)
        try:
            load_runbook(original.stem, TOPOLOGY, runbook_copy)
        except ConfigError as exc:
            check_problems(exc, path)
            # A drill naming the broken runbook reports it on its own recovery/failback line.
            for drill in DRILLS:
                check_drill(drill, runbook_copy)
    finally:
        shutil.copy(original, path)


class EstateTouched(Exception):
    """Raised if the CLI reaches for the estate: a malformed drill must never get there."""


@pytest.fixture(scope="module")
def offline_cli(scratch: Path) -> Iterator[None]:
    """The CLI with the state and journal directories in a scratch area and no estate."""

    def no_estate(topo: Topology, target: str) -> Any:
        raise EstateTouched(target)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DRCTL_STATE_DIR", str(scratch / "state"))
        mp.setenv("DRCTL_JOURNAL_DIR", str(scratch / "journals"))
        mp.setattr(drctl.cli.drill, "_estate", no_estate)
        yield


@PROPERTY
@given(st.sampled_from(DRILLS), st.booleans(), st.data())
def test_drill_run_refuses_a_malformed_file_before_the_estate(
    offline_cli: None, scratch: Path, original: Path, text_level: bool, data: st.DataObject
) -> None:
    path = scratch / f"cli-{original.name}"
    (mangle_text if text_level else mangle_structure)(original, path, data)
    assume(not check_drill(path))  # a mutation that is still a valid drill would run
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["drill", "run", str(path), "--yes"])
    assert code == 1
    assert "Traceback" not in err.getvalue() + out.getvalue()
    assert err.getvalue().startswith(f"drctl: error: {path}"), err.getvalue()
    assert not (scratch / "journals").exists() or not any((scratch / "journals").iterdir())


def test_the_unmangled_files_load(scratch: Path) -> None:
    """The harness itself: the round trip through yaml.dump keeps every file valid."""
    for drill in DRILLS:
        path = scratch / f"roundtrip-{drill.name}"
        path.write_text(yaml.dump(yaml.safe_load(drill.read_text()), Dumper=Dumper))
        assert check_drill(path), drill
    for book in RUNBOOKS:
        load_runbook(book.stem, TOPOLOGY)
