"""Where the exporter reads the truth, each behind a small injectable function.

The defaults talk to the estate (TCP connects, HTTP GETs) or read local files; tests and the
benchmark pass fakes. Every function is called afresh on each scrape: nothing is cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from drills.journal import Journal, list_journals

log = logging.getLogger(__name__)

HostPort = tuple[str, int]
# Given endpoints and a timeout in seconds, return the ones that accepted a TCP connection.
Prober = Callable[[Collection[HostPort], float], set[HostPort]]
# GET a URL with a timeout in seconds and return the body; raise on any failure or non-2xx.
Fetch = Callable[[str, float], str]
JournalSource = Callable[[], Iterable[Journal]]
# {system: epoch seconds of the last successful backup}
BackupSource = Callable[[], Mapping[str, float]]
# {trigger: [reasons]}; an empty list means the trigger does not fire
PlanSource = Callable[[], Mapping[str, Sequence[str]]]

DEFAULT_BACKUP_STATUS = Path("/var/lib/drctl/backup-status.json")
MAX_CONCURRENT_CONNECTS = 256


def tcp_prober(endpoints: Collection[HostPort], timeout: float) -> set[HostPort]:
    """Connect to every endpoint at once; whatever has not answered within `timeout` is down."""
    if not endpoints:
        return set()
    return asyncio.run(_probe_all(list(endpoints), timeout))


async def _probe_all(endpoints: list[HostPort], timeout: float) -> set[HostPort]:
    limit = asyncio.Semaphore(MAX_CONCURRENT_CONNECTS)

    async def one(hp: HostPort) -> bool:
        async with limit:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(*hp), timeout)
            except (OSError, TimeoutError):
                return False
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):  # it answered; that is enough
                await asyncio.wait_for(writer.wait_closed(), timeout)
            return True

    results = await asyncio.gather(*(one(hp) for hp in endpoints))
    return {hp for hp, ok in zip(endpoints, results, strict=True) if ok}


def http_fetch(url: str, timeout: float) -> str:
    # trust_env=False: a proxy from the environment must never sit between us and the lab.
    response = httpx.get(url, timeout=timeout, trust_env=False)
    response.raise_for_status()
    return response.text


def journal_source(directory: Path | None = None) -> JournalSource:
    """Drill journals from a directory (default: $DRCTL_JOURNAL_DIR or drills/journals)."""

    def read() -> list[Journal]:
        return [journal for _, journal in list_journals(directory)]

    return read


def backup_status_file(path: Path = DEFAULT_BACKUP_STATUS) -> BackupSource:
    """Last successful backup per system, from the JSON status file the backup engine writes.

    Accepted shapes: {"ecm": 1700000000.0, ...} or
    {"ecm": {"last_success_timestamp_seconds": 1700000000.0, ...}, ...}, optionally wrapped in
    {"systems": {...}}. A missing file means no backup has been recorded yet.
    """

    def read() -> dict[str, float]:
        if not path.exists():
            return {}
        doc = json.loads(path.read_text(encoding="utf-8"))
        return parse_backup_status(doc)

    return read


def parse_backup_status(doc: Any) -> dict[str, float]:
    if isinstance(doc, dict) and isinstance(doc.get("systems"), dict):
        doc = doc["systems"]
    if not isinstance(doc, dict):
        raise ValueError("backup status must be a JSON object keyed by system")
    out: dict[str, float] = {}
    for system, value in doc.items():
        if isinstance(value, dict):
            value = value.get("last_success_timestamp_seconds", value.get("last_success"))
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[str(system)] = float(value)
    return out


def plan_staleness(
    topology_path: Path, data_dir: Path, journals_dir: Path, plan_dir: Path
) -> PlanSource | None:
    """`drctl.plan.check.staleness` bound to its paths, or None while that module is absent."""
    try:
        module = importlib.import_module("drctl.plan.check")
        staleness: Callable[..., Mapping[str, Sequence[str]]] = module.staleness
    except (ImportError, AttributeError):
        log.info("drctl.plan.check.staleness is not available; drctl_plan_stale is not exported")
        return None

    def read() -> Mapping[str, Sequence[str]]:
        return staleness(topology_path, data_dir, journals_dir, plan_dir)

    return read
