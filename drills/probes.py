"""Live probes through the front door, as users reach the systems (DESIGN §6).

Per system: a reader and a writer at `frequency_hz`; the writer commits sequence-numbered rows
and records which were acknowledged, so RPO is counted in acknowledged writes, not guessed.
For ECM a document prober stores random content and remembers its SHA-256.
Each request gives up after a fraction of a second: a probe that hangs would blur t0 and t1.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

REQUEST_TIMEOUT = 0.5


@dataclass
class ProbeTarget:
    system: str
    base_url: str  # the front door, e.g. http://127.10.0.1:8080
    token: str
    documents: bool = False


@dataclass
class SystemSamples:
    read: list[tuple[float, bool, float]] = field(default_factory=list)  # (t, ok, ms)
    write: list[tuple[float, int, bool]] = field(default_factory=list)  # (t, seq, acked)
    acked: dict[int, float] = field(default_factory=dict)  # seq -> client time
    documents: dict[int, str] = field(default_factory=dict)  # seq -> sha256 acknowledged
    # when each acknowledgement arrived: a restore to t0 must keep every write acked before t0
    acked_at: dict[int, float] = field(default_factory=dict)
    documents_at: dict[int, float] = field(default_factory=dict)


class Prober:
    """Runs every system's probes in background threads until `stop()`."""

    def __init__(self, run_id: str, targets: list[ProbeTarget], frequency_hz: float) -> None:
        self.run_id = run_id
        self.targets = targets
        self.period = 1.0 / frequency_hz
        self.samples = {t.system: SystemSamples() for t in targets}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _client(self, target: ProbeTarget) -> httpx.Client:
        return httpx.Client(
            base_url=target.base_url,
            headers={"Authorization": f"Bearer {target.token}"},
            timeout=REQUEST_TIMEOUT,
            # a fresh connection per request: a pooled one to a dead backend would hang
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def _loop(self, period: float, work: Any) -> None:
        """Start `work` every `period` even while earlier requests hang: a request stuck on a
        dead backend must not hide that the next one would already succeed."""
        next_at = time.monotonic()
        with ThreadPoolExecutor(max_workers=int(REQUEST_TIMEOUT / period) + 2) as pool:
            while not self._stop.is_set():
                pool.submit(work)
                next_at += period
                delay = next_at - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    next_at = time.monotonic()  # every worker busy: don't burst

    def _reader(self, target: ProbeTarget) -> None:
        out = self.samples[target.system].read
        with self._client(target) as client:

            def once() -> None:
                start = time.time()
                try:
                    ok = client.get("/api/probe/read").status_code == 200
                except httpx.HTTPError:
                    ok = False
                with self._lock:
                    out.append((start, ok, (time.time() - start) * 1000))
                    out.sort()  # concurrent requests finish out of order

            self._loop(self.period, once)

    def _writer(self, target: ProbeTarget) -> None:
        samples = self.samples[target.system]
        seq = 0
        with self._client(target) as client:

            def once() -> None:
                nonlocal seq
                with self._lock:
                    seq += 1
                    mine = seq
                start = time.time()
                body = {"drill": self.run_id, "seq": mine, "client_ts": start}
                try:
                    acked = client.post("/api/probe/writes", json=body).status_code == 201
                except httpx.HTTPError:
                    acked = False
                done = time.time()
                with self._lock:
                    samples.write.append((start, mine, acked))
                    if acked:
                        samples.acked[mine] = start
                        samples.acked_at[mine] = done

            self._loop(self.period, once)

    def _documents(self, target: ProbeTarget) -> None:
        samples = self.samples[target.system]
        seq = 0
        with self._client(target) as client:

            def once() -> None:
                nonlocal seq
                with self._lock:
                    seq += 1
                    mine = seq
                content = os.urandom(24).hex()
                body = {"drill": self.run_id, "seq": mine, "content": content}
                try:
                    resp = client.post("/api/probe/documents", json=body)
                except httpx.HTTPError:
                    return
                if resp.status_code == 201:
                    done = time.time()
                    with self._lock:
                        samples.documents[mine] = hashlib.sha256(content.encode()).hexdigest()
                        samples.documents_at[mine] = done

            self._loop(max(self.period * 5, 0.25), once)

    def start(self) -> None:
        for target in self.targets:
            jobs: list[Any] = [self._reader, self._writer]
            if target.documents:
                jobs.append(self._documents)
            for job in jobs:
                thread = threading.Thread(
                    target=job, args=(target,), name=f"probe-{target.system}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2 * REQUEST_TIMEOUT + 1)

    def snapshot(self, system: str) -> SystemSamples:
        with self._lock:
            s = self.samples[system]
            return SystemSamples(
                list(s.read),
                list(s.write),
                dict(s.acked),
                dict(s.documents),
                dict(s.acked_at),
                dict(s.documents_at),
            )


def present_seqs(target: ProbeTarget, run_id: str, timeout: float = 5.0) -> set[int]:
    """Sequence numbers the current primary holds for this drill (through the front door)."""
    with httpx.Client(
        base_url=target.base_url,
        headers={"Authorization": f"Bearer {target.token}"},
        timeout=timeout,
    ) as client:
        resp = client.get(f"/api/probe/writes/{run_id}")
        resp.raise_for_status()
        return {int(s) for s in resp.json()["seqs"]}


def stored_documents(target: ProbeTarget, run_id: str, timeout: float = 5.0) -> dict[int, str]:
    """seq -> SHA-256 of the content the primary returns now (re-hashed by the app)."""
    with httpx.Client(
        base_url=target.base_url,
        headers={"Authorization": f"Bearer {target.token}"},
        timeout=timeout,
    ) as client:
        resp = client.get(f"/api/probe/documents/{run_id}")
        resp.raise_for_status()
        return {int(d["seq"]): str(d["sha256"]) for d in resp.json()}
