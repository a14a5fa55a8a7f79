"""Application benchmark against a running lab: requests/s and p50/p99 latency for ECM
upload, ECM download (through the front door, and through a hub cache), CRM ticket create
and CRM search through the front door. Addresses come from the topology; the token from the
lab's secrets. Without a lab it says so and returns.

Tunable with DRCTL_BENCH_SECONDS (per scenario, default 5) and DRCTL_BENCH_CONCURRENCY
(client threads, default 8).
"""

from __future__ import annotations

import base64
import itertools
import math
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

Request = Callable[[httpx.Client, int], httpx.Response]
SEARCH_TERMS = ["VPN", "printer", "laptop", "shared drive", "email", "Wi-Fi", "account locked"]


@dataclass(frozen=True)
class Targets:
    ecm: str  # the front door's ECM listener, e.g. http://127.10.0.1:8080
    crm: str
    hub: str  # a hub cache in front of ECM, e.g. http://127.10.11.1:80


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
        return ordered[rank - 1] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<34} {len(self.latencies):>8} {self.errors:>6} {self.rate:>9.1f} "
            f"{self.percentile(50):>8.1f} {self.percentile(99):>8.1f}"
        )


HEADER = f"{'scenario':<34} {'requests':>8} {'errors':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}"


def measure(
    name: str,
    request: Request,
    seconds: float,
    concurrency: int,
    headers: dict[str, str],
    ok: Callable[[httpx.Response], bool] = lambda r: r.is_success,
) -> Result:
    """Run `request` from `concurrency` threads for `seconds`; only successes count as done."""
    result = Result(name, seconds)
    lock = threading.Lock()
    counter = itertools.count()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        with httpx.Client(headers=headers, timeout=10.0) as client:
            while time.monotonic() < deadline:
                n = next(counter)
                started = time.perf_counter()
                try:
                    response = request(client, n)
                    good = ok(response)
                    tag = str(response.headers.get("x-cache-status", "-"))
                except httpx.HTTPError:
                    good, tag = False, "error"
                elapsed = time.perf_counter() - started
                with lock:
                    result.statuses[tag] = result.statuses.get(tag, 0) + 1
                    if good:
                        result.latencies.append(elapsed)
                    else:
                        result.errors += 1

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(worker)
    result.seconds = time.monotonic() - started
    return result


def _document(n: int, rng: random.Random) -> dict[str, object]:
    text = f"Benchmark document {n}. " + " ".join(rng.choice(SEARCH_TERMS) for _ in range(1200))
    return {
        "title": f"Benchmark upload {n} {time.time_ns()}",
        "author": "drctl bench",
        "language": "en",
        "date": "2025-01-01",
        "classification": "ICT",
        "security_level": "public",
        "media_type": "text/plain",
        "filename": f"bench-{n}.txt",
        "content_b64": base64.b64encode(text.encode()).decode(),
    }


def run(targets: Targets, token: str, seconds: float = 5.0, concurrency: int = 8) -> list[Result]:
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(0)
    ids: list[int] = []

    def upload(client: httpx.Client, n: int) -> httpx.Response:
        r = client.post(f"{targets.ecm}/documents", json=_document(n, rng))
        if r.status_code == 201:
            ids.append(int(r.json()["id"]))
        return r

    results = [measure("ECM upload (front door)", upload, seconds, concurrency, headers)]
    if not ids:
        print("no document was uploaded; skipping downloads")
        return results

    def download(base: str) -> Request:
        return lambda c, n: c.get(f"{base}/documents/{ids[n % len(ids)]}/content")

    results.append(
        measure("ECM download (front door)", download(targets.ecm), seconds, concurrency, headers)
    )
    with httpx.Client(headers=headers, timeout=10.0) as warm:  # first requests fill the cache
        for doc_id in ids[:200]:
            warm.get(f"{targets.hub}/documents/{doc_id}/content")
    hub_ids = ids[:200]
    results.append(
        measure(
            "ECM download (hub cache)",
            lambda c, n: c.get(f"{targets.hub}/documents/{hub_ids[n % len(hub_ids)]}/content"),
            seconds,
            concurrency,
            headers,
        )
    )
    email = f"bench.customer.{os.getpid()}@un.org"
    with httpx.Client(headers=headers, timeout=10.0) as setup:
        setup.post(f"{targets.crm}/customers", json={"email": email, "name": "Bench Customer"})

    def create_ticket(client: httpx.Client, n: int) -> httpx.Response:
        body = {
            "title": f"Benchmark: {rng.choice(SEARCH_TERMS)} issue {n}",
            "impact": 3,
            "urgency": 3,
            "customer_email": email,
            "description": "Created by make bench.",
        }
        return client.post(f"{targets.crm}/tickets", json=body)

    results.append(
        measure("CRM ticket create (front door)", create_ticket, seconds, concurrency, headers)
    )
    results.append(
        measure(
            "CRM search (front door)",
            lambda c, n: c.get(
                f"{targets.crm}/tickets/search", params={"q": SEARCH_TERMS[n % len(SEARCH_TERMS)]}
            ),
            seconds,
            concurrency,
            headers,
        )
    )
    return results


def report(results: list[Result]) -> None:
    print(HEADER)
    for result in results:
        print(result.line())
    hub = next((r for r in results if "hub" in r.name), None)
    if hub is not None:
        served = sum(hub.statuses.values()) or 1
        hits = hub.statuses.get("HIT", 0) + hub.statuses.get("STALE", 0)
        print(
            f"hub cache: {hits / served:.0%} of requests served from the cache "
            f"({', '.join(f'{k} {v}' for k, v in sorted(hub.statuses.items()))})"
        )


def _lab() -> tuple[Targets, str] | str:
    """The lab's targets and admin token, or why the benchmark cannot run."""
    from drctl.lab import secrets
    from drctl.lab.paths import LabPaths
    from drctl.topology import DEFAULT_PATH, load_topology

    topo = load_topology(DEFAULT_PATH)
    door = topo.front_door.lab_address
    ecm, crm = topo.system("ecm").app, topo.system("crm").app
    assert ecm is not None and crm is not None
    hub = next(h for h in topo.hubs if "ecm" in h.caches)
    targets = Targets(
        f"http://{door}:{ecm.port}",
        f"http://{door}:{crm.port}",
        f"http://{hub.lab_address}:{topo.ports.hub_cache}",
    )
    for base in (targets.ecm, targets.crm):
        try:
            status = httpx.get(f"{base}/readyz", timeout=1.0).status_code
        except httpx.HTTPError as exc:
            return f"front door {base} unreachable ({type(exc).__name__})"
        if status != 200:
            return f"front door {base}/readyz answered {status}"
    paths = LabPaths.default()
    if not paths.secrets.exists():
        return f"{paths.secrets} not found"
    return targets, secrets.load(paths.secrets)["admin_token"]


def main() -> None:
    lab = _lab()
    if isinstance(lab, str):
        print(f"apps_bench: lab not running: skipped ({lab})")
        return
    targets, token = lab
    seconds = float(os.environ.get("DRCTL_BENCH_SECONDS", "5"))
    concurrency = int(os.environ.get("DRCTL_BENCH_CONCURRENCY", "8"))
    print(
        f"{concurrency} client threads, {seconds:g} s per scenario; ECM {targets.ecm}, "
        f"CRM {targets.crm}, hub {targets.hub}"
    )
    report(run(targets, token, seconds, concurrency))
