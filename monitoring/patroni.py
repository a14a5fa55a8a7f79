"""Replication lag of every Patroni cluster, read from Patroni's REST API.

`GET /cluster` on any member gives every member's role, state and lag in bytes; each
cluster is asked at its preferred primary site first, then at its other sites. A replica that
is not caught up also gets a lag in seconds: the reading clock's now minus the commit time of
the last transaction it replayed (`GET /patroni` on that replica, xlog.replayed_timestamp).
A replica with zero bytes of lag is caught up: its lag is 0 s whatever that timestamp says,
since on a quiet database the last replayed commit may be hours old.

Every cluster is read at once (monitoring.netio), in two rounds: /cluster everywhere, then
/patroni on the replicas that are behind.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drctl.topology.model import System, Topology
from monitoring.sources import FetchFirst

LEADER_ROLES = frozenset({"leader", "standby_leader", "primary", "master"})


@dataclass(frozen=True)
class MemberLag:
    member: str
    lag_bytes: float | None  # None when Patroni reports "unknown"
    lag_seconds: float | None  # None when it cannot be computed


def cluster_urls(system: System, addresses: Mapping[str, str]) -> list[str]:
    """`/cluster` at each placement site, the preferred primary first."""
    port = system.database.patroni_port
    return [f"http://{addresses[site]}:{port}/cluster" for site in system.placement]


def parse_cluster(body: str) -> list[dict[str, Any]]:
    """The members of a `/cluster` answer; ValueError when it is not one."""
    doc = json.loads(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("members"), list):
        raise ValueError("no members[] in Patroni's /cluster answer")
    return [m for m in doc["members"] if isinstance(m, dict)]


def read_lags(
    topo: Topology,
    addresses: Mapping[str, str],
    fetch: FetchFirst,
    timeout: float,
    clock: Callable[[], float],
    *,
    budget_seconds: float | None = None,
) -> dict[str, list[MemberLag] | Exception]:
    """{system: its replicas' lag, or why its cluster could not be read}. The second round
    (lag in seconds) gets what is left of `budget_seconds`, if given, and at least 0.1 s."""
    started = time.monotonic()
    systems = topo.systems
    answers = fetch([cluster_urls(s, addresses) for s in systems], timeout)
    out: dict[str, list[MemberLag] | Exception] = {}
    behind: list[tuple[str, int, str]] = []  # (system, index in out[system], /patroni URL)
    for system, answer in zip(systems, answers, strict=True):
        if isinstance(answer, Exception):
            out[system.name] = answer
            continue
        try:
            members = parse_cluster(answer)
        except ValueError as exc:
            out[system.name] = exc
            continue
        lags: list[MemberLag] = []
        for m in members:
            if m.get("role") in LEADER_ROLES:
                continue
            name = str(m.get("name", "?"))
            lag = m.get("lag")
            if not isinstance(lag, int | float) or isinstance(lag, bool):
                lags.append(MemberLag(name, None, None))
            elif lag <= 0:
                lags.append(MemberLag(name, 0.0, 0.0))
            else:
                port = system.database.patroni_port
                url = m.get("api_url") or f"http://{m.get('host')}:{port}/patroni"
                behind.append((system.name, len(lags), str(url)))
                lags.append(MemberLag(name, float(lag), None))
        out[system.name] = lags
    if behind:
        left = timeout
        if budget_seconds is not None:
            left = max(0.1, min(timeout, budget_seconds - (time.monotonic() - started)))
        bodies = fetch([[url] for _, _, url in behind], left)
        now = clock()
        for (system_name, i, _), body in zip(behind, bodies, strict=True):
            replicas = out[system_name]
            assert isinstance(replicas, list)
            r = replicas[i]
            replicas[i] = MemberLag(r.member, r.lag_bytes, seconds_behind(body, now))
    return out


def seconds_behind(body: str | Exception, now: float) -> float | None:
    """now minus the replica's last replayed commit, from its `/patroni` answer."""
    if isinstance(body, Exception):
        return None  # bytes of lag are still reported
    try:
        replayed = json.loads(body)["xlog"]["replayed_timestamp"]
    except (ValueError, KeyError, TypeError):
        return None
    if not replayed:
        return None  # nothing replayed since the replica started
    try:
        when = datetime.fromisoformat(str(replayed)).timestamp()
    except ValueError:
        return None
    return max(0.0, now - when)
