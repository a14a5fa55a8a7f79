"""Load and validate inventories/topology.yaml: schema first (pydantic), then the rules that
span the whole estate. Every problem found is reported at once, each with file, line and field."""

from __future__ import annotations

from collections import Counter
from ipaddress import IPv4Network
from pathlib import Path

from drctl import REPO_ROOT
from drctl.errors import ConfigError, Problem
from drctl.topology.endpoints import endpoints
from drctl.topology.model import SiteRole, Topology
from drctl.yamlfile import Located, load_yaml, parse_model

DEFAULT_PATH = REPO_ROOT / "inventories" / "topology.yaml"
LAB_NETWORK = IPv4Network("127.0.0.0/8")


def load_topology(path: Path | None = None) -> Topology:
    doc = load_yaml(path or DEFAULT_PATH)
    topo = parse_model(doc, Topology)
    problems = check_rules(topo, doc)
    if problems:
        raise ConfigError(problems)
    return topo


def check_rules(topo: Topology, doc: Located) -> list[Problem]:
    problems: list[Problem] = []
    problems += _duplicates(topo, doc)
    problems += _references(topo, doc)
    if not problems:  # the rules below assume every name resolves
        problems += _cycles(topo, doc)
        problems += _placement(topo, doc)
        problems += _endpoints(topo, doc)
    return problems


def _duplicates(topo: Topology, doc: Located) -> list[Problem]:
    problems = []
    for kind, names in (
        ("sites", [s.name for s in topo.sites]),
        ("systems", [s.name for s in topo.systems]),
        ("tiers", [str(t.level) for t in topo.tiers]),
    ):
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                field = "name" if kind != "tiers" else "level"
                problems.append(doc.problem((kind, i, field), f"duplicate {kind[:-1]} {name!r}"))
            seen.add(name)
    addresses: dict[str, str] = {}
    for i, site in enumerate(topo.sites):
        addr = str(site.lab_address)
        if addr in addresses:
            problems.append(
                doc.problem(
                    ("sites", i, "lab_address"),
                    f"address {addr} is already used by site {addresses[addr]!r}",
                )
            )
        addresses.setdefault(addr, site.name)
        if site.lab_address not in LAB_NETWORK:
            problems.append(
                doc.problem(
                    ("sites", i, "lab_address"), f"{addr} is outside {LAB_NETWORK} (the lab)"
                )
            )
    db_clusters = Counter(s.database.cluster for s in topo.systems)
    for j, system in enumerate(topo.systems):
        if db_clusters[system.database.cluster] > 1:
            problems.append(
                doc.problem(
                    ("systems", j, "database", "cluster"),
                    f"database cluster {system.database.cluster!r} is used by more than one system",
                )
            )
    roles = Counter(s.role for s in topo.sites)
    for role in (SiteRole.PRIMARY_EDC, SiteRole.FRONT_DOOR):
        if roles[role] != 1:
            problems.append(doc.problem(("sites",), f"exactly one site must have role {role}"))
    return problems


def _references(topo: Topology, doc: Located) -> list[Problem]:
    problems = []
    sites = {s.name: s for s in topo.sites}
    systems = {s.name for s in topo.systems}
    tiers = {t.level for t in topo.tiers}
    for i, site in enumerate(topo.sites):
        for k, cached in enumerate(site.caches):
            if cached not in systems:
                problems.append(
                    doc.problem(("sites", i, "caches", k), f"unknown system {cached!r}")
                )
    for j, system in enumerate(topo.systems):
        if system.tier not in tiers:
            problems.append(doc.problem(("systems", j, "tier"), f"unknown tier {system.tier}"))
        for k, dep in enumerate(system.depends_on):
            if dep not in systems:
                problems.append(
                    doc.problem(("systems", j, "depends_on", k), f"unknown system {dep!r}")
                )
        for k, site_name in enumerate(system.placement):
            if site_name not in sites:
                problems.append(
                    doc.problem(("systems", j, "placement", k), f"unknown site {site_name!r}")
                )
            elif not sites[site_name].role.is_data_centre:
                problems.append(
                    doc.problem(
                        ("systems", j, "placement", k),
                        f"site {site_name!r} is a {sites[site_name].role}, not a data centre",
                    )
                )
    return problems


def _cycles(topo: Topology, doc: Located) -> list[Problem]:
    deps = {s.name: list(s.depends_on) for s in topo.systems}
    index = {s.name: j for j, s in enumerate(topo.systems)}
    problems = []
    reported: set[str] = set()
    for start in deps:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for dep in deps[node]:
                if dep == start:
                    if start not in reported:
                        cycle = " -> ".join([*path, start])
                        problems.append(
                            doc.problem(
                                ("systems", index[start], "depends_on"),
                                f"dependency cycle: {cycle}",
                            )
                        )
                        reported.update(path)
                elif dep not in path:
                    stack.append((dep, [*path, dep]))
    return problems


def _placement(topo: Topology, doc: Located) -> list[Problem]:
    problems = []
    for j, system in enumerate(topo.systems):
        if len(set(system.placement)) != len(system.placement):
            problems.append(
                doc.problem(("systems", j, "placement"), "a site is listed twice in the placement")
            )
        tier = topo.tier(system.tier)
        if system.replication is not tier.replication:
            problems.append(
                doc.problem(
                    ("systems", j, "replication"),
                    f"tier {tier.level} requires {tier.replication} replication",
                )
            )
        if system.tier == 1 and len(set(system.placement)) < 2:
            problems.append(
                doc.problem(
                    ("systems", j, "placement"),
                    "a tier-1 system needs a placement at a second data centre",
                )
            )
    return problems


def _endpoints(topo: Topology, doc: Located) -> list[Problem]:
    problems = []
    taken: dict[str, str] = {}
    for ep in endpoints(topo):
        key = ep.hostport
        if key in taken and taken[key] != ep.service:
            problems.append(
                doc.problem(
                    ep.loc,
                    f"port {ep.port} on {ep.address} ({ep.site}) is used by both "
                    f"{taken[key]} and {ep.service}",
                )
            )
        taken.setdefault(key, ep.service)
    return problems
