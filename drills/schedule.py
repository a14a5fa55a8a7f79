"""Which drills are due: each tier's `drill_every_days` against the journals on record.

A system is covered by a successful drill when a journal names it in `systems`, ended with
status `succeeded` and result `passed` (the same test the plan's "drill overdue" trigger uses),
in `disruptive` or `isolated` mode. It is due once more than its tier's period has passed since
that drill started (exactly one period after is still within it), or when it was never drilled.

Pure: the clock (`now`, epoch seconds) is passed in, so period boundaries are tested exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from drctl.topology.model import System, Topology
from drills.journal import Journal, Status
from drills.model import Drill, Mode

DAY = 86400.0
# Tier 1 systems are mission-critical: the drill that proves them is the loss of their site.
PREFERRED_KIND = {1: "site-loss"}


@dataclass(frozen=True)
class DueItem:
    """A drill to run, and the systems it is due for.

    `drill_id` is None when no drill in the catalogue covers these systems (nothing can run;
    the CLI reports it). `last_run` is the oldest of the systems' last successful drills (None:
    one of them was never drilled), `due_since` when that one fell due (None: due since always)
    and `overdue_days` how many whole days ago that was (0: due today, or never drilled).
    """

    drill_id: str | None
    systems: tuple[str, ...]
    last_run: float | None
    due_since: float | None
    overdue_days: int


def _successful(journal: Journal) -> bool:
    return (
        journal.status is Status.SUCCEEDED
        and journal.result == "passed"
        and journal.mode in (Mode.DISRUPTIVE.value, Mode.ISOLATED.value)
    )


def last_successful(journals: Iterable[Journal], system: str) -> float | None:
    """When the newest successful drill covering `system` started (epoch seconds)."""
    starts = [j.started_at for j in journals if system in j.systems and _successful(j)]
    return max(starts, default=None)


def _choose(
    system: System, drills: Mapping[str, Drill], due: set[str], chosen: set[str]
) -> str | None:
    """The drill to run for `system`: its tier's preferred kind first, then one already chosen
    for another system, then the one covering the most due systems (each choice saves a run),
    then by id so the choice is stable."""
    covering = [(i, d) for i, d in drills.items() if system.name in d.systems]
    if not covering:
        return None
    preferred = PREFERRED_KIND.get(system.tier)

    def key(item: tuple[str, Drill]) -> tuple[bool, bool, int, str]:
        drill_id, drill = item
        return (
            drill.kind != preferred,
            drill_id not in chosen,
            -len(due & set(drill.systems)),
            drill_id,
        )

    return min(covering, key=key)[0]


def due(
    topology: Topology,
    drills: Mapping[str, Drill],
    journals: list[Journal],
    now: float,
) -> list[DueItem]:
    """Drills due at `now`: never-drilled systems first, then the most overdue."""
    last: dict[str, float | None] = {}
    for system in topology.systems:
        every = topology.tier(system.tier).drill_every_days * DAY
        ran = last_successful(journals, system.name)
        if ran is None or now - ran > every:
            last[system.name] = ran
    if not last:
        return []
    groups: dict[str | None, list[str]] = {}
    # most critical first, so lower tiers join the drill chosen for tier 1 where it covers them
    for system in sorted(topology.systems, key=lambda s: (s.tier, s.name)):
        if system.name in last:
            chosen = {d for d in groups if d is not None}
            groups.setdefault(_choose(system, drills, set(last), chosen), []).append(system.name)

    items = []
    for drill_id, names in groups.items():
        runs = [last[n] for n in names]
        oldest = None if None in runs else min(r for r in runs if r is not None)
        if oldest is None:
            items.append(DueItem(drill_id, tuple(sorted(names)), None, None, 0))
            continue
        # the system that fell due first sets the group's date
        due_since = min(
            (last[n] or 0.0) + topology.tier(topology.system(n).tier).drill_every_days * DAY
            for n in names
        )
        overdue = math.floor((now - due_since) / DAY)
        items.append(DueItem(drill_id, tuple(sorted(names)), oldest, due_since, max(overdue, 0)))
    return sorted(
        items,
        key=lambda i: (
            i.due_since is not None,
            -i.overdue_days,
            i.due_since or 0.0,
            i.drill_id or "",
        ),
    )
