"""Replication lag of one Patroni cluster, read from its REST API.

`GET /cluster` on any member gives every member's role, state and lag in bytes. A replica
that is not caught up also gets a lag in seconds: the reading clock's now minus the commit
time of the last transaction it replayed (`GET /patroni` on that replica, xlog.replayed_timestamp).
A replica with zero bytes of lag is caught up: its lag is 0 s whatever that timestamp says,
since on a quiet database the last replayed commit may be hours old.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drctl.topology.model import System, Topology
from monitoring.sources import Fetch

LEADER_ROLES = frozenset({"leader", "standby_leader", "primary", "master"})


@dataclass(frozen=True)
class MemberLag:
    member: str
    lag_bytes: float | None  # None when Patroni reports "unknown"
    lag_seconds: float | None  # None when it cannot be computed


def cluster_urls(topo: Topology, system: System) -> list[str]:
    """`/cluster` at each placement site, the preferred primary first."""
    urls = []
    for site_name in system.placement:
        addr = topo.site(site_name).lab_address
        urls.append(f"http://{addr}:{system.database.patroni_port}/cluster")
    return urls


def read_cluster(urls: list[str], fetch: Fetch, timeout: float) -> dict[str, Any]:
    """The first answer, in order: every member serves the whole cluster's view."""
    errors = []
    for url in urls:
        try:
            doc = json.loads(fetch(url, timeout))
        except Exception as exc:  # one unreachable member is normal in a drill
            errors.append(f"{url}: {exc}")
            continue
        if isinstance(doc, dict) and isinstance(doc.get("members"), list):
            return doc
        errors.append(f"{url}: no members[] in the answer")
    raise ConnectionError("; ".join(errors) or "no Patroni URL")


def replication_lag(
    cluster: dict[str, Any],
    fetch: Fetch,
    timeout: float,
    clock: Callable[[], float],
    patroni_port: int,
) -> list[MemberLag]:
    out = []
    for member in cluster["members"]:
        if not isinstance(member, dict) or member.get("role") in LEADER_ROLES:
            continue
        name = str(member.get("name", "?"))
        lag = member.get("lag")
        if not isinstance(lag, int | float) or isinstance(lag, bool):
            out.append(MemberLag(name, None, None))
            continue
        if lag <= 0:
            out.append(MemberLag(name, 0.0, 0.0))
            continue
        url = member.get("api_url") or f"http://{member.get('host')}:{patroni_port}/patroni"
        out.append(MemberLag(name, float(lag), _seconds_behind(str(url), fetch, timeout, clock)))
    return out


def _seconds_behind(
    url: str, fetch: Fetch, timeout: float, clock: Callable[[], float]
) -> float | None:
    try:
        doc = json.loads(fetch(url, timeout))
        replayed = doc["xlog"]["replayed_timestamp"]
    except Exception:  # bytes of lag are still reported
        return None
    if not replayed:
        return None  # nothing replayed since the replica started
    try:
        when = datetime.fromisoformat(str(replayed)).timestamp()
    except ValueError:
        return None
    return max(0.0, clock() - when)
