"""Replication lag of every Patroni cluster: from Patroni's DCS (etcd) in one read, or from
Patroni's REST API where etcd cannot tell.

etcd first: one Range over the namespace returns every cluster's keys (`<ns>/<scope>/leader`,
`status`, `members/<name>`), and the lag in bytes is computed as Patroni's own `GET /cluster`
computes it from the same keys (patroni/utils.py `cluster_as_json`, Patroni 4.1): for every
member but the leader key's holder, the leader's last known WAL position (`status` "optime", or
the legacy `optime/leader`) minus the member's `xlog_location`; 0 when the member is ahead;
unknown when the member reported no position. One deliberate difference: with no leader
position in etcd, Patroni compares with 0 and says 0; here the lag is unknown (no sample),
since "caught up" would be a guess.

`GET /cluster` (any member gives every member's role and lag; the preferred primary site is
asked first) is the fallback: for every cluster when no etcd member answers (quorum lost, etcd
cut off from the exporter, or no etcd configured), and for a cluster etcd has no member of. The
exporter keeps reporting with etcd down, at the old cost (a request per cluster).

A replica that is not caught up also gets a lag in seconds: the reading clock's now minus the
commit time of the last transaction it replayed (`GET /patroni` on that replica,
xlog.replayed_timestamp). A replica with zero bytes of lag is caught up: its lag is 0 s whatever
that timestamp says, since on a quiet database the last replayed commit may be hours old.

Nothing is kept between scrapes: every call reads etcd (or Patroni) afresh.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drctl.estate.patroni import NAMESPACE
from drctl.topology.model import System, Topology
from monitoring import etcd
from monitoring.sources import FetchFirst, HostPort

log = logging.getLogger(__name__)
_decoder = json.JSONDecoder()
_decode_json = _decoder.decode
_scan_json: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]
LEADER_ROLES = frozenset({"leader", "standby_leader", "primary", "master"})
# Given etcd endpoints (in order of preference), a key prefix and a timeout in seconds: the
# (key, value) of every key under the prefix; raises when no endpoint answers.
KvRange = Callable[[Sequence[HostPort], bytes, float], list[tuple[bytes, bytes]]]


@dataclass(frozen=True)
class MemberLag:
    member: str
    lag_bytes: float | None  # None when Patroni reports "unknown"
    lag_seconds: float | None  # None when it cannot be computed


# A cluster's replicas: each one's lag, and its `/patroni` URL when it is behind (None: caught
# up, lag unknown, or no URL known), for the lag in seconds.
Replicas = list[tuple[MemberLag, str | None]]


@dataclass(frozen=True)
class Dcs:
    """Where Patroni keeps its clusters' state: etcd members in order of preference, and
    Patroni's `namespace` (roles/patroni: /drctl/)."""

    endpoints: Sequence[HostPort]
    namespace: str = NAMESPACE
    read: KvRange = etcd.range_prefix
    timeout: float = 0.5

    @property
    def prefix(self) -> bytes:
        """The namespace as Patroni writes it: `/<namespace>/`, slashes collapsed."""
        return re.sub("/+", "/", f"/{self.namespace}/").encode()


# --- etcd -----------------------------------------------------------------------------------


def clusters_from_dcs(
    kvs: Sequence[tuple[bytes, bytes]], prefix: bytes, systems: Sequence[System]
) -> dict[str, Replicas]:
    """{system: its replicas} for the systems whose cluster (scope) has members under `prefix`;
    a system etcd knows no member of is left out (the caller asks Patroni's REST API)."""
    by_scope = {s.database.cluster.encode(): s for s in systems}
    clusters: dict[bytes, _DcsCluster] = {}
    depth = prefix.count(b"/")  # a key's parts: the prefix's, then scope, then its subkey
    for key, value in kvs:
        if not key.startswith(prefix):
            continue
        # `ecm` and `ecm-db` are distinct scopes: the scope ends at the first slash
        parts = key.split(b"/", depth + 2)
        if len(parts) <= depth + 1:
            continue  # a key without a subkey
        cluster = clusters.get(parts[depth])
        if cluster is None:
            system = by_scope.get(parts[depth])
            if system is None:
                continue
            cluster = clusters[parts[depth]] = _DcsCluster(system)
        sub = parts[depth + 1]
        if sub == b"members":
            if len(parts) == depth + 3 and parts[-1] and b"/" not in parts[-1]:
                cluster.members[parts[-1]] = value
        elif len(parts) == depth + 2:
            if sub == b"leader":
                cluster.leader = value
            elif sub == b"status":
                cluster.status = value
        elif sub == b"optime" and parts[-1] == b"leader":
            cluster.legacy_optime = value
    out: dict[str, Replicas] = {}
    for scope, system in by_scope.items():
        cluster = clusters.get(scope)
        if cluster is not None and cluster.members:
            out[system.name] = cluster.replicas()
    return out


class _DcsCluster:
    """One cluster's keys, relative to its scope: leader, status, optime/leader, members/x."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.members: dict[bytes, bytes] = {}
        self.leader: bytes | None = None
        self.status: bytes | None = None
        self.legacy_optime: bytes | None = None

    def replicas(self) -> Replicas:
        """Every member but the leader key's holder, by name (as `/cluster` lists them)."""
        leader_lsn = _leader_lsn(self.status or self.legacy_optime)
        out: Replicas = []
        for name in sorted(self.members):
            if name == self.leader:
                continue
            member = name.decode("utf-8", "replace")
            if not leader_lsn:
                out.append((MemberLag(member, None, None), None))
                continue
            data = _member_data(self.members[name])
            lsn = _lsn(data.get("xlog_location"))
            if not lsn:
                out.append((MemberLag(member, None, None), None))
            elif lsn >= leader_lsn:
                out.append((MemberLag(member, 0.0, 0.0), None))
            else:
                lag = MemberLag(member, float(leader_lsn - lsn), None)
                out.append((lag, _status_url(data, self.system)))
        return out


def _json(value: bytes) -> Any:
    """A key's JSON value; ValueError when it is not JSON (UnicodeDecodeError is one).

    A scrape decodes ~2,000 short values: json's C scanner is called directly, since
    `json.loads` spends more time around the scan (two regex matches for whitespace, the
    encoding guess of bytes) than in it. Anything but one bare JSON value, whitespace around
    it included, goes to the full decoder, which accepts or rejects it as json.loads does."""
    text = value.decode("utf-8")
    try:
        doc, end = _scan_json(text, 0)
        if end == len(text):
            return doc
    except (StopIteration, ValueError):
        pass
    return _decode_json(text)


def _member_data(value: bytes) -> dict[str, Any]:
    """A member key's JSON object; {} for anything else (as Patroni's Member.from_node)."""
    try:
        data = _json(value)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _leader_lsn(value: bytes | None) -> int | None:
    """The leader's last known WAL position: `status` is {"optime": N, ...}; the legacy
    `optime/leader` (and Patroni < 3's status) a bare number. None when unknown."""
    if not value:
        return None
    try:
        doc = _json(value)
    except ValueError:
        return None
    return _lsn(doc.get("optime") if isinstance(doc, dict) else doc)


def _lsn(value: Any) -> int | None:
    """A WAL position as Patroni stores it (an integer, or its decimal string); 0 is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value or None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value) or None
    return None


def _status_url(data: Mapping[str, Any], system: System) -> str | None:
    """The member's `/patroni` URL: its api_url, else its PostgreSQL host at the cluster's
    Patroni port."""
    api_url = data.get("api_url")
    if isinstance(api_url, str) and api_url:
        return api_url
    conn_url = data.get("conn_url")
    if isinstance(conn_url, str) and "://" in conn_url:
        host = conn_url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if host:
            return f"http://{host}:{system.database.patroni_port}/patroni"
    return None


# --- Patroni's REST API -----------------------------------------------------------------------


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


def replicas_from_cluster(members: Sequence[Mapping[str, Any]], system: System) -> Replicas:
    out: Replicas = []
    for m in members:
        if m.get("role") in LEADER_ROLES:
            continue
        name = str(m.get("name", "?"))
        lag = m.get("lag")
        if not isinstance(lag, int | float) or isinstance(lag, bool):
            out.append((MemberLag(name, None, None), None))
        elif lag <= 0:
            out.append((MemberLag(name, 0.0, 0.0), None))
        else:
            port = system.database.patroni_port
            url = m.get("api_url") or f"http://{m.get('host')}:{port}/patroni"
            out.append((MemberLag(name, float(lag), None), str(url)))
    return out


# --- both -------------------------------------------------------------------------------------


def read_lags(
    topo: Topology,
    addresses: Mapping[str, str],
    fetch: FetchFirst,
    timeout: float,
    clock: Callable[[], float],
    *,
    budget_seconds: float | None = None,
    dcs: Dcs | None = None,
) -> dict[str, list[MemberLag] | Exception]:
    """{system: its replicas' lag, or why its cluster could not be read}: from etcd when `dcs`
    is given and answers, else (and for the clusters etcd has no member of) from `/cluster`.
    The rounds after the first get what is left of `budget_seconds`, if given, and at least
    0.1 s each."""
    started = time.monotonic()

    def left() -> float:
        if budget_seconds is None:
            return timeout
        return max(0.1, min(timeout, budget_seconds - (time.monotonic() - started)))

    systems = topo.systems
    found: dict[str, Replicas | Exception] = {}
    if dcs is not None and dcs.endpoints:
        try:
            kvs = dcs.read(dcs.endpoints, dcs.prefix, min(dcs.timeout, timeout))
            found.update(clusters_from_dcs(kvs, dcs.prefix, systems))
        except Exception as exc:  # whatever went wrong, Patroni's REST API can still tell
            log.warning("etcd unreadable, asking Patroni's REST API instead: %s", exc)
        else:
            if len(found) < len(systems):
                log.debug("no member in etcd for %d system(s)", len(systems) - len(found))
    rest = [s for s in systems if s.name not in found]
    if rest:
        answers = fetch([cluster_urls(s, addresses) for s in rest], left())
        for system, answer in zip(rest, answers, strict=True):
            if isinstance(answer, Exception):
                found[system.name] = answer
                continue
            try:
                found[system.name] = replicas_from_cluster(parse_cluster(answer), system)
            except ValueError as exc:
                found[system.name] = exc
    out: dict[str, list[MemberLag] | Exception] = {}
    behind: list[tuple[str, int, str]] = []  # (system, index in out[system], /patroni URL)
    for system in systems:
        replicas = found[system.name]
        if isinstance(replicas, Exception):
            out[system.name] = replicas
            continue
        out[system.name] = [lag for lag, _ in replicas]
        behind += [(system.name, i, url) for i, (_, url) in enumerate(replicas) if url]
    if behind:
        bodies = fetch([[url] for _, _, url in behind], left())
        now = clock()
        for (system_name, i, _), body in zip(behind, bodies, strict=True):
            lags = out[system_name]
            assert isinstance(lags, list)
            r = lags[i]
            lags[i] = MemberLag(r.member, r.lag_bytes, seconds_behind(body, now))
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
