"""Fixtures of the exporter's tests: a fake estate on loopback (see monitoring_fakes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from monitoring_fakes import ELSEWHERE, PRIMARY, STANDBY, FakeEstate, FakeHttp

from drctl.topology import DEFAULT_PATH, load_topology


@pytest.fixture
def fake_http() -> Iterator[FakeHttp]:
    fake = FakeHttp()
    yield fake
    fake.close()


@pytest.fixture
def estate(fake_http: FakeHttp) -> FakeEstate:
    base = load_topology(DEFAULT_PATH)
    systems = []
    for system in base.systems:
        port = fake_http.listen_everywhere([PRIMARY, STANDBY])
        database = system.database.model_copy(update={"patroni_port": port})
        systems.append(system.model_copy(update={"database": database}))
    topo = base.model_copy(update={"systems": systems})
    addresses = {s.name: ELSEWHERE for s in topo.sites}
    addresses.update({"brindisi": PRIMARY, "valencia": STANDBY})
    stats_port = fake_http.listen(ELSEWHERE)
    return FakeEstate(topo, fake_http, addresses, f"http://{ELSEWHERE}:{stats_port}/stats;csv")
