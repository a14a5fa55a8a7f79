"""Property: however the topology is mangled, `drctl topology validate` answers with exit 0 or
a message naming file and line (exit 1), never a traceback; and what it accepts, every consumer
of the topology can use."""

from __future__ import annotations

import contextlib
import copy
import io
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drctl.cli import main
from drctl.lab.inventory import render
from drctl.topology import DEFAULT_PATH, load_topology
from drctl.topology.endpoints import endpoints

Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

ORIGINAL: Any = yaml.safe_load(DEFAULT_PATH.read_text())

# values that are plausible somewhere in the file, so mutations reach the deeper rules
NEAR_MISSES = st.sampled_from(
    [
        "127.10.1.1",
        "10.0.0.1",
        "::1",
        "999.1.1.1",
        "brindisi",
        "geneva",
        "ecm",
        "crm",
        "nowhere",
        "synchronous",
        "primary-edc",
        "etcd",
        "",
        0,
        1,
        2,
        3,
        5432,
        8080,
        2379,
        70000,
        -1,
    ]
)
VALUES = st.one_of(
    NEAR_MISSES,
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.lists(NEAR_MISSES, max_size=3),
    st.dictionaries(st.sampled_from(["name", "port", "level", "x"]), NEAR_MISSES, max_size=2),
)
KEYS = st.one_of(
    st.sampled_from(["name", "port", "tier", "placement", "depends_on", "lab_address", "x"]),
    st.text(min_size=1, max_size=12),
    st.integers(),
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
    candidates = paths(data)
    if not candidates:
        return draw(VALUES)
    *parent_path, last = draw(st.sampled_from(candidates))
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


LOCATED = re.compile(r"^(drctl: error: )?(?P<path>[^:]+):(?P<line>\d+): ")


def validate(path: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["topology", "validate", str(path)])
    return code, err.getvalue()


def check_answer(path: Path) -> None:
    code, err = validate(path)  # any exception but a ConfigError escapes and fails the test
    assert code in (0, 1)
    if code == 1:
        assert "Traceback" not in err
        for line in err.splitlines():
            m = LOCATED.match(line)
            assert m is not None and m["path"] == str(path), err
    else:  # accepted: the consumers of a valid topology must cope
        topo = load_topology(path)
        endpoints(topo)
        topo.recovery_waves()
        render(topo)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mutations") / "topology.yaml"


@PROPERTY
@given(st.data())
def test_mangled_structure_never_crashes(scratch: Path, data: st.DataObject) -> None:
    mangled = copy.deepcopy(ORIGINAL)
    for _ in range(data.draw(st.integers(1, 4))):
        mangled = mutate(mangled, data)
    scratch.write_text(yaml.dump(mangled, Dumper=Dumper, allow_unicode=True))
    check_answer(scratch)


@PROPERTY
@given(st.data())
def test_mangled_text_never_crashes(scratch: Path, data: st.DataObject) -> None:
    """Character- and line-level damage: broken syntax, duplicate keys, bad indentation."""
    lines = DEFAULT_PATH.read_text().splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["drop-line", "copy-line", "edit-char", "insert"]))
        if op == "drop-line":
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
    scratch.write_text("".join(lines))
    check_answer(scratch)


def test_the_unmangled_file_passes(scratch: Path) -> None:
    """The harness itself: the round trip through yaml.dump keeps the topology valid."""
    scratch.write_text(yaml.dump(ORIGINAL, Dumper=Dumper))
    assert validate(scratch)[0] == 0
