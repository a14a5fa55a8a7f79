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

import bisect
import functools
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

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


class MemberLag(NamedTuple):  # a tuple: a thousand of them a scrape
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
    """{system: its replicas} for the systems whose cluster (scope) has members under `prefix`
    (which ends with a slash); a system etcd knows no member of is left out (the caller asks
    Patroni's REST API).

    Each cluster's keys are looked up rather than every key visited: a namespace of 1,000
    clusters holds 6,000 keys, most of which (config, initialize, sync, history) say nothing
    of lag. Members are the keys between `<scope>/members/` and `<scope>/members0` ('0' comes
    after '/') in key order."""
    values = dict(kvs)
    keys = sorted(values)  # etcd answers in key order already: then sorting costs one pass
    layout = _dcs_keys(prefix, tuple(s.database.cluster for s in systems))
    out: dict[str, Replicas] = {}
    for system, k in zip(systems, layout, strict=True):
        lo = bisect.bisect_left(keys, k.members_from)
        hi = bisect.bisect_left(keys, k.members_to, lo)
        if lo == hi:
            continue
        status = values.get(k.status) or values.get(k.legacy_optime)
        replicas = _dcs_replicas(
            system, keys[lo:hi], len(k.members_from), values, values.get(k.leader), status
        )
        if replicas is not None:
            out[system.name] = replicas
    return out


class _ScopeKeys(NamedTuple):
    """Where one cluster's keys are: `<prefix><scope>/...`."""

    members_from: bytes
    members_to: bytes
    leader: bytes
    status: bytes
    legacy_optime: bytes


@functools.lru_cache(maxsize=4)
def _dcs_keys(prefix: bytes, scopes: tuple[str, ...]) -> list[_ScopeKeys]:
    """The keys of each scope, worked out once per topology (the exporter asks every scrape)."""
    out = []
    for scope in scopes:
        # `ecm` and `ecm-db` are distinct scopes: the scope ends at its slash
        base = prefix + scope.encode() + b"/"
        out.append(_ScopeKeys(base + b"members/", base + b"members0", base + b"leader",
                              base + b"status", base + b"optime/leader"))  # fmt: skip
    return out


def _dcs_replicas(
    system: System,
    member_keys: Sequence[bytes],
    name_at: int,
    values: Mapping[bytes, bytes],
    leader: bytes | None,
    status: bytes | None,
) -> Replicas | None:
    """Every member but the leader key's holder, by name (as `/cluster` lists them); None when
    none of the keys is a member's (`members/<name>`, the name without a slash)."""
    out: Replicas = []
    members = 0
    leader_lsn: int | None = -1  # -1: not decoded yet (only clusters with a replica need it)
    for key in member_keys:
        name = key[name_at:]
        if not name or b"/" in name:
            continue
        members += 1
        if name == leader:
            continue
        if leader_lsn == -1:
            leader_lsn = _leader_lsn(status)
        member = name.decode("utf-8", "replace")
        if not leader_lsn:
            out.append((MemberLag(member, None, None), None))
            continue
        data = _member_data(values[key])
        lsn = _lsn(data.get("xlog_location"))
        if not lsn:
            out.append((MemberLag(member, None, None), None))
        elif lsn >= leader_lsn:
            out.append((MemberLag(member, 0.0, 0.0), None))
        else:
            lag = MemberLag(member, float(leader_lsn - lsn), None)
            out.append((lag, _status_url(data, system)))
    return out if members else None


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
        lags: list[MemberLag] = []
        out[system.name] = lags
        for lag, url in replicas:
            if url:
                behind.append((system.name, len(lags), url))
            lags.append(lag)
    if behind:
        bodies = fetch([[url] for _, _, url in behind], left())
        now = clock()
        for (system_name, i, _), body in zip(behind, bodies, strict=True):
            got = out[system_name]
            assert isinstance(got, list)
            r = got[i]
            got[i] = MemberLag(r.member, r.lag_bytes, seconds_behind(body, now))
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
