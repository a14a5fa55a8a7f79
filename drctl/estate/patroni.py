"""Talk to a system's Patroni cluster (REST API) and its leader lock in etcd (v3 JSON API).

Works the same for the lab and production: only addresses differ, and they come from the estate.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from drctl.errors import EstateError
from drctl.topology.model import SiteService, System, Topology

NAMESPACE = "/drctl/"
# how long a write to etcd is retried over its members (an election after a site loss)
ETCD_WRITE_SECONDS = 15.0


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def http_json(url: str, payload: dict[str, Any] | None = None, timeout: float = 2.0) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()
        if exc.code >= 500 or not body:
            raise
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


@dataclass(frozen=True)
class Member:
    name: str
    site: str
    role: str  # leader | sync_standby | replica | ...
    state: str
    lag: int | None


class Cluster:
    """One system's Patroni cluster, reached at `addresses` (site -> address)."""

    def __init__(
        self,
        topo: Topology,
        system: System,
        addresses: dict[str, str],
        rest_auth: tuple[str, str] | None = None,
    ) -> None:
        self.topo = topo
        self.system = system
        self.addresses = addresses
        self.rest_auth = rest_auth  # Patroni REST credentials for unsafe methods (switchover)

    def auth_headers(self) -> dict[str, str]:
        if self.rest_auth is None:
            return {}
        user, password = self.rest_auth
        return {"Authorization": "Basic " + _b64(f"{user}:{password}")}

    def member_name(self, site: str) -> str:
        return f"{self.system.database.cluster}-{site}"

    def rest(self, site: str) -> str:
        return f"http://{self.addresses[site]}:{self.system.database.patroni_port}"

    def members(self) -> list[Member]:
        """Cluster view from the first member that answers."""
        last: Exception | None = None
        for site in self.system.placement:
            try:
                info = http_json(f"{self.rest(site)}/cluster", timeout=1.0)
            except (OSError, ValueError) as exc:
                last = exc
                continue
            out = []
            for m in info.get("members", []):
                site_name = m["name"].removeprefix(f"{self.system.database.cluster}-")
                lag = m.get("lag")
                out.append(
                    Member(
                        m["name"],
                        site_name,
                        m.get("role", "?"),
                        m.get("state", "?"),
                        lag if isinstance(lag, int) else None,
                    )
                )
            return out
        raise EstateError(f"no Patroni member of {self.system.database.cluster} answers: {last}")

    def leader_site(self) -> str | None:
        """Who holds the leader lock, by a linearizable read from etcd's quorum.

        Not from a Patroni member's `/cluster`: a partitioned member answers from its own stale
        etcd view and would still name itself leader. Every etcd member is asked at once; one
        cut off from the quorum cannot serve the read, so the first answer is the quorum's.
        """
        key = _b64(f"{NAMESPACE}{self.system.database.cluster}/leader")
        endpoints = self.etcd_endpoints()
        pool = ThreadPoolExecutor(max_workers=len(endpoints))
        futures = [pool.submit(http_json, f"{e}/v3/kv/range", {"key": key}, 1.5) for e in endpoints]
        try:
            for future in as_completed(futures, timeout=2.0):
                try:
                    resp = future.result()
                except (OSError, ValueError):
                    continue
                if not isinstance(resp, dict) or "header" not in resp:
                    continue
                kvs = resp.get("kvs") or []
                if not kvs:
                    return None
                holder = base64.b64decode(kvs[0]["value"]).decode()
                return holder.removeprefix(f"{self.system.database.cluster}-")
        except TimeoutError:
            pass
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return None

    def writable_sites(self) -> list[str]:
        """Sites whose member says it is a running primary: more than one is split brain."""
        out = []
        for site in self.system.placement:
            try:
                with urllib.request.urlopen(f"{self.rest(site)}/primary", timeout=0.5) as r:
                    if r.status == 200:
                        out.append(site)
            except (OSError, ValueError):
                continue
        return out

    def replication_healthy(self, max_lag_bytes: int = 1 << 20) -> tuple[bool, str]:
        try:
            members = self.members()
        except EstateError as exc:
            return False, str(exc)
        leaders = [m for m in members if m.role == "leader" and m.state == "running"]
        want = "sync_standby" if self.system.replication == "synchronous" else "replica"
        standbys = [
            m
            for m in members
            if m.role in (want, "sync_standby") and m.state in ("streaming", "running")
        ]
        if len(leaders) != 1:
            return False, f"{len(leaders)} running leader(s)"
        if len(standbys) < len(self.system.placement) - 1:
            return False, f"{len(standbys)} {want}(s) streaming"
        lagging = [m.name for m in standbys if m.lag is None or m.lag > max_lag_bytes]
        if lagging:
            return False, f"lagging: {', '.join(lagging)}"
        return True, f"leader {leaders[0].site}, {len(standbys)} {want}(s) streaming"

    def etcd_endpoints(self) -> list[str]:
        port = self.topo.ports.etcd_client
        return [
            f"http://{self.addresses[s.name]}:{port}"
            for s in self.topo.sites_with(SiteService.ETCD)
        ]

    def clear_leader_lock(self, held_by_site: str, timeout: float = ETCD_WRITE_SECONDS) -> bool:
        """Delete the leader key, but only if the fenced member still holds it (a txn in etcd).
        False when it does not (a retry after a write whose answer was lost says so too).

        Never call this unless the member is fenced: that is how split brain starts.
        """
        key = f"{NAMESPACE}{self.system.database.cluster}/leader"
        txn = {
            "compare": [
                {
                    "key": _b64(key),
                    "result": "EQUAL",
                    "target": "VALUE",
                    "value": _b64(self.member_name(held_by_site)),
                }
            ],
            "success": [{"request_delete_range": {"key": _b64(key)}}],
        }
        return bool(self._etcd("/v3/kv/txn", txn, timeout).get("succeeded", False))

    def forget(self, timeout: float = ETCD_WRITE_SECONDS) -> int:
        """Delete every key of the cluster in etcd (`patronictl remove`): only with every member
        stopped, before a restore. The member started next takes the cluster over from its
        data directory. Returns the number of keys deleted."""
        prefix = f"{NAMESPACE}{self.system.database.cluster}/"
        # range_end = the prefix with its last byte + 1: every key under the prefix
        request = {"key": _b64(prefix), "range_end": _b64(prefix[:-1] + chr(ord(prefix[-1]) + 1))}
        return int(self._etcd("/v3/kv/deleterange", request, timeout).get("deleted", 0))

    def _etcd(self, path: str, request: dict[str, Any], timeout: float) -> Any:
        """POST to the first etcd member that answers, passing over the members again until
        `timeout`: losing a site can take etcd's raft leader with it, and the survivors take an
        election timeout (1 s in the lab) or more under load to elect another, during which
        every write waits."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while True:
            for endpoint in self.etcd_endpoints():
                left = deadline - time.monotonic()
                try:
                    return http_json(f"{endpoint}{path}", request, timeout=min(2.0, max(left, 0.2)))
                except (OSError, ValueError) as exc:
                    last = exc
            if time.monotonic() >= deadline:
                raise EstateError(f"no etcd member answers within {timeout:g} s: {last}")
            time.sleep(0.2)

    def wait_leader(self, site: str | None, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader_site()
            if leader is not None and (site is None or leader == site):
                try:
                    if http_json(f"{self.rest(leader)}/patroni", timeout=1.0).get("role") in (
                        "primary",
                        "master",
                    ):
                        return leader
                except (OSError, ValueError):
                    pass
            time.sleep(0.1)
        where = f" at {site}" if site else ""
        raise EstateError(f"{self.system.database.cluster}: no leader{where} after {timeout:g} s")

    def wait_replication(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        detail = ""
        while time.monotonic() < deadline:
            ok, detail = self.replication_healthy()
            if ok:
                return detail
            time.sleep(0.25)
        raise EstateError(f"{self.system.database.cluster}: replication not healthy: {detail}")

    def switchover(self, to_site: str, timeout: float) -> str:
        # a moment without an answer (an etcd election as a site rejoins) is not "no leader"
        leader = self.wait_leader(None, timeout)
        if leader == to_site:
            return f"{self.system.database.cluster}: leader already at {to_site}"
        # Synchronous mode refuses a switchover until the candidate is the sync standby.
        self.wait_replication(timeout)
        payload = {"leader": self.member_name(leader), "candidate": self.member_name(to_site)}
        deadline = time.monotonic() + timeout
        while True:
            req = urllib.request.Request(
                f"{self.rest(leader)}/switchover",
                json.dumps(payload).encode(),
                method="POST",
                headers={"Content-Type": "application/json", **self.auth_headers()},
            )
            try:
                with urllib.request.urlopen(req, timeout=timeout):
                    break
            except urllib.error.HTTPError as exc:
                if time.monotonic() > deadline:
                    raise EstateError(f"switchover refused: {exc.read().decode()[:200]}") from None
                time.sleep(0.5)
        self.wait_leader(to_site, timeout)
        return f"{self.system.database.cluster}: switched over from {leader} to {to_site}"
