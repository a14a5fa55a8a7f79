"""Every validation rule of issue 2, each with one malformed copy of inventories/topology.yaml.

A case is one (or two) textual edits of the real file. `drctl topology validate` must exit 1
with a message naming the file, the line of the offending node and the field path, and no
traceback. Every case runs in-process; one case per rule also runs as a real subprocess.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from drctl.cli import main
from drctl.errors import ConfigError
from drctl.topology import load_topology


@dataclass(frozen=True)
class Edit:
    anchor: str  # the edit applies to the first `old` after this text ("" = file start)
    old: str
    new: str


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    edits: tuple[Edit, ...]
    field: str  # "" when the parser cannot tell (broken YAML syntax)
    message: str
    # the offending line: first `text` after `anchor`, both searched in the edited file;
    # default: the first edit's anchor and the first line of its new text
    at: tuple[str, str] | None = None


def case(
    id: str,
    rule: str,
    anchor: str,
    old: str,
    new: str,
    field: str,
    message: str,
    at: tuple[str, str] | None = None,
) -> Case:
    return Case(id, rule, (Edit(anchor, old, new),), field, message, at)


ECM, CRM = "- name: ecm\n", "- name: crm\n"
VALENCIA = "- name: valencia\n"

CASES = [
    # unknown keys
    case(
        "unknown-top-level-key",
        "unknown key",
        "",
        "organisation:",
        "owner: DPO\norganisation:",
        "owner",
        "unknown key",
    ),
    case(
        "unknown-site-key",
        "unknown key",
        "- name: brindisi\n",
        "    team: Brindisi incident team\n",
        "    team: Brindisi incident team\n    colour: blue\n",
        "sites[1].colour",
        "unknown key",
        at=("- name: brindisi", "colour: blue"),
    ),
    case(
        "unknown-key-in-flow-mapping",
        "unknown key",
        ECM,
        "router_port: 5000}",
        "router_port: 5000, user: admin}",
        "systems[0].database.user",
        "unknown key",
        at=(ECM, "database:"),
    ),
    # wrong types
    case(
        "int-is-text",
        "wrong type",
        VALENCIA,
        "distance_km: 1530",
        "distance_km: far",
        "sites[2].distance_km",
        "valid integer",
    ),
    case(
        "list-is-scalar",
        "wrong type",
        VALENCIA,
        "services: [etcd, haproxy, node-exporter]",
        "services: etcd",
        "sites[2].services",
        "valid list",
    ),
    case(
        "mapping-is-scalar",
        "wrong type",
        CRM,
        "objectives: {rto_seconds: 60, rpo_seconds: 0}",
        "objectives: 60",
        "systems[1].objectives",
        "valid dictionary",
    ),
    case(
        "quoted-number",
        "wrong type",
        CRM,
        "tier: 1",
        'tier: "1"',
        "systems[1].tier",
        "valid integer",
    ),
    case(
        "boolean-for-number",
        "wrong type",
        CRM,
        "objectives: {rto_seconds: 60, rpo_seconds: 0}",
        "objectives: {rto_seconds: 60, rpo_seconds: no}",
        "systems[1].objectives.rpo_seconds",
        "valid number",
    ),
    case(
        "text-for-flag",
        "wrong type",
        VALENCIA,
        "    team: Valencia incident team\n",
        '    team: Valencia incident team\n    outsourced: "yes"\n',
        "sites[2].outsourced",
        "valid boolean",
        at=(VALENCIA, "outsourced:"),
    ),
    case(
        "unknown-enum-value",
        "wrong type",
        VALENCIA,
        "role: secondary-edc",
        "role: tertiary-edc",
        "sites[2].role",
        "'secondary-edc'",
    ),
    case(
        "unknown-service-in-list",
        "wrong type",
        VALENCIA,
        "services: [etcd, haproxy, node-exporter]",
        "services: [etcd, haproxy, memcached]",
        "sites[2].services[2]",
        "Input should be",
    ),
    case(
        "not-an-address",
        "wrong type",
        VALENCIA,
        "lab_address: 127.10.2.1",
        "lab_address: 127.10.2.300",
        "sites[2].lab_address",
        "IPv4",
    ),
    case(
        "port-out-of-range",
        "wrong type",
        CRM,
        "port: 5433",
        "port: 70000",
        "systems[1].database.port",
        "less than or equal to 65535",
        at=(CRM, "database:"),
    ),
    case(
        "name-not-a-name",
        "wrong type",
        "",
        VALENCIA,
        "- name: Valencia\n",
        "sites[2].name",
        "pattern",
    ),
    # missing fields
    case(
        "missing-site-field",
        "missing field",
        VALENCIA,
        "    team: Valencia incident team\n",
        "",
        "sites[2].team",
        "required field is missing",
        at=("", VALENCIA),
    ),
    case(
        "missing-top-level-field",
        "missing field",
        "",
        "organisation: United Nations Secretariat\n",
        "",
        "organisation",
        "required field is missing",
        at=("", "version: 1"),  # the top-level mapping starts here
    ),
    case(
        "missing-nested-field",
        "missing field",
        CRM,
        "objectives: {rto_seconds: 60, rpo_seconds: 0}",
        "objectives: {rto_seconds: 60}",
        "systems[1].objectives.rpo_seconds",
        "required field is missing",
    ),
    case(
        "missing-section",
        "missing field",
        CRM,
        "    database: {cluster: crm-db, port: 5433, patroni_port: 8009, router_port: 5001}\n",
        "",
        "systems[1].database",
        "required field is missing",
        at=("", CRM),
    ),
    # references to unknown sites, systems (and tiers)
    case(
        "placement-unknown-site",
        "unknown reference",
        CRM,
        "placement: [brindisi, valencia]",
        "placement: [brindisi, madrid]",
        "systems[1].placement[1]",
        "unknown site 'madrid'",
    ),
    case(
        "depends-on-unknown-system",
        "unknown reference",
        CRM,
        "depends_on: []",
        "depends_on: [erp]",
        "systems[1].depends_on[0]",
        "unknown system 'erp'",
    ),
    case(
        "hub-caches-unknown-system",
        "unknown reference",
        "- name: vienna\n",
        "caches: [ecm]",
        "caches: [ecm, hr]",
        "sites[5].caches[1]",
        "unknown system 'hr'",
    ),
    case(
        "unknown-tier",
        "unknown reference",
        CRM,
        "tier: 1",
        "tier: 3",
        "systems[1].tier",
        "unknown tier 3",
    ),
    case(
        "placement-not-a-data-centre",
        "unknown reference",
        CRM,
        "placement: [brindisi, valencia]",
        "placement: [brindisi, geneva]",
        "systems[1].placement[1]",
        "not a data centre",
    ),
    # duplicate addresses or ports (and names)
    case(
        "duplicate-address",
        "duplicate",
        VALENCIA,
        "lab_address: 127.10.2.1",
        "lab_address: 127.10.1.1",
        "sites[2].lab_address",
        "already used by site 'brindisi'",
    ),
    case(
        "duplicate-database-port",
        "duplicate",
        CRM,
        "port: 5433",
        "port: 5432",
        "systems[1].database.port",
        "used by both ecm-db and crm-db",
        at=(CRM, "database:"),
    ),
    case(
        "duplicate-standard-port",
        "duplicate",
        "",
        "node_exporter: 9100",
        "node_exporter: 2379",
        "ports.node_exporter",
        "used by both etcd and node-exporter",
    ),
    case(
        "duplicate-app-port",
        "duplicate",
        CRM,
        "app: {port: 8081}",
        "app: {port: 8080}",
        "systems[1].app.port",
        "used by both ecm-app and crm-app",
    ),
    case(
        "duplicate-router-port",
        "duplicate",
        CRM,
        "router_port: 5001",
        "router_port: 5000",
        "systems[1].database.router_port",
        "used by both haproxy-ecm-db and haproxy-crm-db",
        at=(CRM, "database:"),
    ),
    case(
        "duplicate-site-name",
        "duplicate",
        "",
        "- name: vienna\n",
        "- name: geneva\n",
        "sites[5].name",
        "duplicate site 'geneva'",
        at=("Geneva hub team", "- name: geneva"),  # the second one
    ),
    case(
        "duplicate-system-name",
        "duplicate",
        "",
        CRM,
        ECM,
        "systems[1].name",
        "duplicate system 'ecm'",
        at=("title: Enterprise", ECM),
    ),
    # dependency cycles
    case(
        "depends-on-itself",
        "cycle",
        ECM,
        "depends_on: []",
        "depends_on: [ecm]",
        "systems[0].depends_on",
        "dependency cycle: ecm -> ecm",
    ),
    Case(
        "two-system-cycle",
        "cycle",
        (
            Edit(ECM, "depends_on: []", "depends_on: [crm]"),
            Edit(CRM, "depends_on: []", "depends_on: [ecm]"),
        ),
        "systems[0].depends_on",
        "dependency cycle: ecm -> crm -> ecm",
    ),
    # a tier-1 system must be placed at a second data centre
    case(
        "tier-1-at-one-site",
        "tier-1 second data centre",
        ECM,
        "placement: [brindisi, valencia]",
        "placement: [brindisi]",
        "systems[0].placement",
        "a tier-1 system needs a placement at a second data centre",
    ),
    case(
        "tier-1-same-site-twice",
        "tier-1 second data centre",
        ECM,
        "placement: [brindisi, valencia]",
        "placement: [valencia, valencia]",
        "systems[0].placement",
        "a tier-1 system needs a placement at a second data centre",
    ),
    # lab addresses stay on loopback
    case(
        "address-outside-loopback",
        "address outside 127.0.0.0/8",
        "- name: geneva\n",
        "lab_address: 127.10.11.1",
        "lab_address: 10.0.11.1",
        "sites[4].lab_address",
        "10.0.11.1 is outside 127.0.0.0/8",
    ),
    # malformed YAML
    case(
        "unclosed-flow-sequence",
        "malformed YAML",
        VALENCIA,
        "services: [etcd, haproxy, node-exporter]",
        "services: [etcd, haproxy, node-exporter",
        "",
        "malformed YAML",
        at=(VALENCIA, "- name: newyork"),  # where the parser notices
    ),
    case(
        "tab-indentation",
        "malformed YAML",
        VALENCIA,
        "    team: Valencia",
        "\tteam: Valencia",
        "",
        "malformed YAML",
    ),
    case(
        "duplicate-key",
        "malformed YAML",
        VALENCIA,
        "    country: Spain\n",
        "    country: Spain\n    country: Portugal\n",
        "sites[2].country",
        "duplicate key",
        at=(VALENCIA, "country: Portugal"),
    ),
    case(
        "unknown-tag",
        "malformed YAML",
        VALENCIA,
        "distance_km: 1530",
        "distance_km: !km 1530",
        "sites[2].distance_km",
        "malformed YAML",
    ),
    case(
        "python-object-tag",
        "malformed YAML",
        "",
        "organisation: United Nations Secretariat",
        "organisation: !!python/object/apply:os.system [echo pwned]",
        "organisation",
        "malformed YAML",
    ),
    # further rules the validator enforces
    case(
        "replication-below-tier",
        "tier policy",
        CRM,
        "replication: synchronous",
        "replication: asynchronous",
        "systems[1].replication",
        "tier 1 requires synchronous replication",
    ),
    case(
        "two-primary-data-centres",
        "site roles",
        VALENCIA,
        "role: secondary-edc",
        "role: primary-edc",
        "sites",
        "exactly one site must have role primary-edc",
        at=("", "sites:"),
    ),
    case(
        "shared-database-cluster",
        "duplicate",
        CRM,
        "cluster: crm-db",
        "cluster: ecm-db",
        "systems[1].database.cluster",
        "used by more than one system",
        at=(CRM, "database:"),
    ),
]

# the rules issue 2 names; the validator enforces a few more (tier policy, site roles)
ISSUE_RULES = [
    "unknown key",
    "wrong type",
    "missing field",
    "unknown reference",
    "duplicate",
    "cycle",
    "tier-1 second data centre",
    "address outside 127.0.0.0/8",
    "malformed YAML",
]


def apply(text: str, c: Case) -> tuple[str, int]:
    """The edited text and the expected line (1-based) of the offending node."""
    for e in c.edits:
        start = text.index(e.anchor) if e.anchor else 0
        pos = text.index(e.old, start)
        text = text[:pos] + e.new + text[pos + len(e.old) :]
    anchor, mark = c.at or (c.edits[0].anchor, c.edits[0].new.strip().splitlines()[0])
    start = text.index(anchor) if anchor else 0
    line = text[: text.index(mark, start)].count("\n") + 1
    return text, line


def expected(path: Path, line: int, c: Case) -> str:
    return f"{path}:{line}: {c.field}: " if c.field else f"{path}:{line}: "


def test_the_committed_topology_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topology", "validate"]) == 0
    out = capsys.readouterr().out
    assert "topology.yaml: valid (11 sites, 2 systems)" in out


def test_every_rule_has_a_case() -> None:
    assert set(ISSUE_RULES) <= {c.rule for c in CASES}
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_rejected_in_process(
    c: Case,
    topology_text: str,
    write_topology: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    text, line = apply(topology_text, c)
    assert text != topology_text
    path = write_topology(text)

    assert main(["topology", "validate", str(path)]) == 1

    out, err = capsys.readouterr()
    assert "Traceback" not in err and out == ""
    assert err.startswith("drctl: error: ")
    assert any(expected(path, line, c) in p and c.message in p for p in err.splitlines()), err


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_problem_carries_file_line_field(
    c: Case, topology_text: str, write_topology: Callable[[str], Path]
) -> None:
    """The same through the API the other commands use: a ConfigError with structured parts."""
    text, line = apply(topology_text, c)
    path = write_topology(text)
    with pytest.raises(ConfigError) as info:
        load_topology(path)
    assert any(
        p.path == path and p.line == line and p.field == c.field and c.message in p.message
        for p in info.value.problems
    ), info.value.problems


@pytest.fixture(scope="module")
def subprocess_runs(
    topology_text: str, tmp_path_factory: pytest.TempPathFactory, drctl_bin: Path
) -> dict[str, tuple[Path, int, Case, subprocess.CompletedProcess[str]]]:
    """The first case of each of the issue's rules through the installed `drctl`, all started
    at once (a process costs a third of a second; the in-process tests cover every case)."""
    directory = tmp_path_factory.mktemp("subprocess")
    started = {}
    for rule in ISSUE_RULES:
        c = next(c for c in CASES if c.rule == rule)
        text, line = apply(topology_text, c)
        path = directory / f"{c.id}.yaml"
        path.write_text(text, encoding="utf-8")
        proc = subprocess.Popen(
            [str(drctl_bin), "topology", "validate", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started[rule] = (path, line, c, proc)
    runs = {}
    for rule, (path, line, c, proc) in started.items():
        out, err = proc.communicate(timeout=30)
        runs[rule] = (
            path,
            line,
            c,
            subprocess.CompletedProcess(proc.args, proc.returncode, out, err),
        )
    return runs


@pytest.mark.parametrize("rule", ISSUE_RULES)
def test_rejected_by_the_installed_command(
    rule: str,
    subprocess_runs: dict[str, tuple[Path, int, Case, subprocess.CompletedProcess[str]]],
) -> None:
    path, line, c, result = subprocess_runs[rule]
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert any(expected(path, line, c) in p and c.message in p for p in lines), result.stderr


def test_every_problem_is_reported_at_once(
    topology_text: str, write_topology: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text = topology_text.replace("lab_address: 127.10.11.1", "lab_address: 10.0.11.1")
    text = text.replace("caches: [ecm]", "caches: [erp]", 1)
    path = write_topology(text)
    assert main(["topology", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "outside 127.0.0.0/8" in err and "unknown system 'erp'" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "expected a mapping at the top level"),
        (b"- just\n- a list\n", "expected a mapping at the top level"),
        (b"version: 1\n\xff\xfe\n", "not UTF-8 text"),
        (b"a: &a [*a]\n", "an alias refers to itself"),
        (b"? [a, b]\n: 1\n", "a key must be a plain value"),
        (b"[" * 5000 + b"]" * 5000, "malformed YAML"),
        (b"a: 1\n---\nb: 2\n", "malformed YAML"),
        (b"a: &a {x: 1}\nb:\n  <<: *a\n", ":3: b: malformed YAML: merge keys (<<) are not"),
        (b"a: 1\nb: x\x1fy\n", ":2: malformed YAML: unacceptable character #x001f"),
    ],
    ids=[
        "empty",
        "top-level-list",
        "not-utf8",
        "recursive-alias",
        "complex-key",
        "deep",
        "two-docs",
        "merge-key",
        "control-character",
    ],
)
def test_odd_files_are_rejected_without_traceback(
    content: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "topology.yaml"
    path.write_bytes(content)
    assert main(["topology", "validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"drctl: error: {path}" in err and message in err and "Traceback" not in err


@pytest.mark.parametrize("name", ["missing.yaml", "."], ids=["missing", "directory"])
def test_unreadable_path(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    assert main(["topology", "validate", str(path)]) == 1
    assert "cannot read file" in capsys.readouterr().err


def test_a_tier_2_system_may_live_at_one_site(
    topology_text: str, write_topology: Callable[[str], Path]
) -> None:
    """The second-data-centre rule is about tier 1, not every system."""
    crm = topology_text.index(CRM)
    head, tail = topology_text[:crm], topology_text[crm:]
    tail = tail.replace("tier: 1", "tier: 2").replace("synchronous", "asynchronous")
    tail = tail.replace("placement: [brindisi, valencia]", "placement: [valencia]")
    topo = load_topology(write_topology(head + tail))
    assert topo.system("crm").placement == ["valencia"]
