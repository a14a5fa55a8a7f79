"""The plan's manifest, `manifest.json` next to plan.md: what the plan was rendered from.

It records the SHA-256 of every input, a digest of every section, per-system topology
fingerprints and the drill used as evidence, the site platforms, the team members and the change
log. The next render and `drctl plan check` compare against it: that is how the version is
bumped, what changed is named, and the "new mission-critical system / new platform /
organisational change" update triggers are detected.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from drctl.errors import ConfigError
from drctl.plan.data import Governance
from drctl.topology.model import Topology

MANIFEST_NAME = "manifest.json"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DrillRef(Model):
    """The drill journal a system's evidence comes from, and the system as it was drilled."""

    journal: str  # input key, e.g. journals/2026-11-20-site-loss.json
    run_id: str
    fingerprint: str  # the system's topology fingerprint when it was drilled
    assumed: bool = False  # the drilled topology is unknown; the render-time one was assumed


class SystemState(Model):
    fingerprint: str
    drill: DrillRef | None = None


class Change(Model):
    version: int
    date: str
    inputs_added: list[str] = []
    inputs_changed: list[str] = []
    inputs_removed: list[str] = []
    sections: list[str] = []
    reasons: list[str] = []


class Manifest(Model):
    format: int = 1
    version: int
    as_of: str
    topology_sha256: str
    inputs: dict[str, str]
    sections: dict[str, str]
    systems: dict[str, SystemState]
    mission_critical: list[str]
    platform: dict[str, list[str]]
    teams: dict[str, list[dict[str, str]]]
    changelog: list[Change]


def dump_manifest(manifest: Manifest) -> str:
    """Stable text: sorted keys, one value per line (diffs of the plan's history stay small)."""
    data = manifest.model_dump(mode="json")
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def read_manifest(plan_dir: Path) -> Manifest | None:
    """The manifest of the plan in plan_dir; None when there is none yet."""
    path = plan_dir / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        return Manifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError.single(path, "", f"unreadable plan manifest: {first}") from None


def _digest(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def system_fingerprints(topo: Topology) -> dict[str, str]:
    """Per system: a hash of what a drill of it depends on (its entry, tier, and the sites it
    is placed at, minus their teams); a change here invalidates the last drill's evidence."""
    out = {}
    for system in topo.systems:
        sites = [
            topo.site(name).model_dump(mode="json", exclude={"team", "location"})
            for name in system.placement
        ]
        tier = topo.tier(system.tier).model_dump(mode="json")
        out[system.name] = _digest([system.model_dump(mode="json"), tier, sites])
    return out


def platform_snapshot(topo: Topology) -> dict[str, list[str]]:
    """Per site: the servers and storage platforms it runs (site services, database members)."""
    out: dict[str, list[str]] = {}
    for site in topo.sites:
        items = [f"service:{s}" for s in site.services]
        items += [f"database:{s.database.cluster}" for s in topo.systems_at(site.name)]
        items += [f"app:{s.name}" for s in topo.systems_at(site.name) if s.app is not None]
        out[site.name] = sorted(items)
    return out


def team_snapshot(gov: Governance) -> dict[str, list[dict[str, str]]]:
    out = {}
    for site, team in sorted(gov.teams.items()):
        rows = []
        for m in team.members:
            row = {"role": m.role, "name": m.name, "email": m.email, "phone": m.phone}
            if m.alternate is not None:
                row |= {
                    "alternate": m.alternate.name,
                    "alternate_email": m.alternate.email,
                    "alternate_phone": m.alternate.phone,
                }
            rows.append(row)
        out[site] = rows
    c = gov.coordinator
    coordinator = {"role": c.role, "name": c.name, "email": c.email, "phone": c.phone}
    if c.alternate is not None:
        coordinator |= {"alternate": c.alternate.name, "alternate_email": c.alternate.email}
    out["(coordinator)"] = [coordinator]
    return out
