"""The drctl collector against faked sources: Patroni and HAProxy over HTTP on loopback,
journals, backups and the plan as functions. Each test reads like a state of the estate."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from monitoring_fakes import PRIMARY, STANDBY, FakeEstate, cluster_doc
from prometheus_client import CollectorRegistry

from drctl.backup import parse_info, status_document, write_status
from drills.journal import Journal, Status, SystemResult
from monitoring import collector as collector_module
from monitoring.collector import DrctlCollector, last_finished
from monitoring.config import ExporterConfig
from monitoring.exporter import build_registry
from monitoring.sources import HostPort, backup_status_file, journal_source

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()


def everyone_answers(endpoints: Collection[HostPort], timeout: float) -> set[HostPort]:
    return set(endpoints)


class Scrape:
    """One scrape's samples, looked up like CollectorRegistry.get_sample_value (which would
    scrape again on every call)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.samples = [s for family in registry.collect() for s in family.samples]

    def get_sample_value(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        for sample in self.samples:
            if sample.name == name and sample.labels == (labels or {}):
                return float(sample.value)
        return None


def scrape(
    estate: FakeEstate,
    *,
    prober: Callable[[Collection[HostPort], float], set[HostPort]] = everyone_answers,
    journals: Iterable[Journal] = (),
    backups: dict[str, float] | None = None,
    plan: dict[str, list[str]] | None = None,
    **config: Any,
) -> Scrape:
    settings = {
        "site_addresses": estate.addresses,
        "haproxy_stats_url": estate.stats_url,
        **config,
    }
    c = DrctlCollector(
        estate.topo,
        prober=prober,
        journals=lambda: list(journals),
        backups=lambda: backups or {},
        plan=lambda: plan or {},
        clock=lambda: NOW,
        config=ExporterConfig(**settings),
    )
    return Scrape(build_registry(c))


def healthy(estate: FakeEstate) -> None:
    for system in ("ecm", "crm"):
        estate.cluster(system)
    estate.front_door("haproxy-stats-primary.csv")


# --- replication ----------------------------------------------------------------------------


def test_a_healthy_cluster_reports_its_replica_caught_up(estate: FakeEstate) -> None:
    healthy(estate)
    registry = scrape(estate)
    for system in ("ecm", "crm"):
        member = {"system": system, "member": f"{system}-db-valencia"}
        assert registry.get_sample_value("drctl_replication_lag_bytes", member) == 0
        assert registry.get_sample_value("drctl_replication_lag_seconds", member) == 0
        # the leader is not a replica
        leader = {"system": system, "member": f"{system}-db-brindisi"}
        assert registry.get_sample_value("drctl_replication_lag_bytes", leader) is None
    assert registry.get_sample_value("drctl_source_up", {"source": "patroni"}) == 1
    # the preferred primary answered: the standby's API was not asked
    port = estate.patroni_port("ecm")
    assert estate.http.hits[(STANDBY, port, "/cluster")] == 0


def test_a_lagging_replica_reports_bytes_and_seconds_behind(estate: FakeEstate) -> None:
    healthy(estate)
    port = estate.patroni_port("ecm")
    estate.cluster("ecm", members=cluster_doc("ecm", port, replica_lag=4096))
    replayed = datetime.fromtimestamp(NOW - 7.5, UTC).isoformat(sep=" ")
    estate.replica_status("ecm", replayed)
    registry = scrape(estate)
    member = {"system": "ecm", "member": "ecm-db-valencia"}
    assert registry.get_sample_value("drctl_replication_lag_bytes", member) == 4096
    assert registry.get_sample_value("drctl_replication_lag_seconds", member) == 7.5


def test_a_replica_that_replayed_nothing_yet_has_bytes_but_no_seconds(estate: FakeEstate) -> None:
    healthy(estate)
    port = estate.patroni_port("ecm")
    estate.cluster("ecm", members=cluster_doc("ecm", port, replica_lag=4096))
    estate.replica_status("ecm", None)
    registry = scrape(estate)
    member = {"system": "ecm", "member": "ecm-db-valencia"}
    assert registry.get_sample_value("drctl_replication_lag_bytes", member) == 4096
    assert registry.get_sample_value("drctl_replication_lag_seconds", member) is None


def test_an_unknown_lag_is_not_reported_as_a_number(estate: FakeEstate) -> None:
    healthy(estate)
    port = estate.patroni_port("crm")
    estate.cluster("crm", members=cluster_doc("crm", port, replica_lag="unknown"))
    registry = scrape(estate)
    member = {"system": "crm", "member": "crm-db-valencia"}
    assert registry.get_sample_value("drctl_replication_lag_bytes", member) is None
    assert registry.get_sample_value("drctl_source_up", {"source": "patroni"}) == 1


def test_with_the_preferred_primary_down_the_standby_site_answers(estate: FakeEstate) -> None:
    healthy(estate)
    estate.http.stop(PRIMARY, estate.patroni_port("ecm"))  # brindisi's Patroni is gone
    estate.cluster("ecm", at=STANDBY)
    registry = scrape(estate)
    member = {"system": "ecm", "member": "ecm-db-valencia"}
    assert registry.get_sample_value("drctl_replication_lag_bytes", member) == 0
    assert registry.get_sample_value("drctl_source_up", {"source": "patroni"}) == 1


def test_a_cluster_nobody_answers_for_drops_only_its_own_lag(estate: FakeEstate) -> None:
    healthy(estate)
    estate.http.stop_port(estate.patroni_port("ecm"))
    registry = scrape(estate)
    assert registry.get_sample_value("drctl_source_up", {"source": "patroni"}) == 0
    ecm = {"system": "ecm", "member": "ecm-db-valencia"}
    crm = {"system": "crm", "member": "crm-db-valencia"}
    assert registry.get_sample_value("drctl_replication_lag_bytes", ecm) is None
    assert registry.get_sample_value("drctl_replication_lag_bytes", crm) == 0
    assert registry.get_sample_value("drctl_source_up", {"source": "front_door"}) == 1


def test_a_patroni_that_hangs_cannot_hold_the_scrape_past_its_budget(estate: FakeEstate) -> None:
    healthy(estate)
    estate.cluster("ecm", delay=3)
    estate.cluster("ecm", at=STANDBY, delay=3)
    started = time.monotonic()
    registry = scrape(estate, http_timeout_seconds=0.5, scrape_budget_seconds=1.0)
    assert time.monotonic() - started < 1.5
    assert registry.get_sample_value("drctl_source_up", {"source": "patroni"}) == 0
    crm = {"system": "crm", "member": "crm-db-valencia"}
    assert registry.get_sample_value("drctl_replication_lag_bytes", crm) == 0


# --- the front door ---------------------------------------------------------------------------

FRONT_DOOR_CASES = [
    # fixture, {(system, site): active}
    ("haproxy-stats-primary.csv", {("ecm", "brindisi"): 1, ("ecm", "valencia"): 0,
                                   ("crm", "brindisi"): 1, ("crm", "valencia"): 0}),
    ("haproxy-stats-failover.csv", {("ecm", "brindisi"): 0, ("ecm", "valencia"): 1,
                                    ("crm", "brindisi"): 0, ("crm", "valencia"): 1}),
    # every server down: nobody is served
    ("haproxy-stats-lab.csv", {("ecm", "brindisi"): 0, ("ecm", "valencia"): 0,
                               ("crm", "brindisi"): 0, ("crm", "valencia"): 0}),
    # backends and servers named freely, matched by address and app port
    ("haproxy-stats-by-address.csv", {("ecm", "brindisi"): 0, ("ecm", "valencia"): 1,
                                      ("crm", "brindisi"): 1, ("crm", "valencia"): 0}),
]  # fmt: skip


@pytest.mark.parametrize(("fixture", "expected"), FRONT_DOOR_CASES)
def test_the_front_door_reports_where_it_sends_users(
    estate: FakeEstate, fixture: str, expected: dict[tuple[str, str], int]
) -> None:
    healthy(estate)
    estate.front_door(fixture)
    registry = scrape(estate)
    got = {
        key: registry.get_sample_value(
            "drctl_front_door_backend_active", {"system": key[0], "site": key[1]}
        )
        for key in expected
    }
    assert got == expected


def test_an_unreachable_front_door_fails_its_source_only(estate: FakeEstate) -> None:
    healthy(estate)
    registry = scrape(estate, haproxy_stats_url="http://127.0.0.3:1/stats;csv")
    assert registry.get_sample_value("drctl_source_up", {"source": "front_door"}) == 0
    labels = {"system": "ecm", "site": "brindisi"}
    assert registry.get_sample_value("drctl_front_door_backend_active", labels) is None
    assert registry.get_sample_value("drctl_source_up", {"source": "patroni"}) == 1


# --- sites ------------------------------------------------------------------------------------


def _answering(addresses: set[str]) -> Callable[[Collection[HostPort], float], set[HostPort]]:
    def prober(endpoints: Collection[HostPort], timeout: float) -> set[HostPort]:
        return {hp for hp in endpoints if hp[0] in addresses}

    return prober


def test_a_powered_off_site_is_down_and_the_others_up(estate: FakeEstate) -> None:
    healthy(estate)
    registry = scrape(estate, prober=_answering({STANDBY, "127.0.0.3"}))
    assert registry.get_sample_value("drctl_site_up", {"site": "brindisi"}) == 0
    assert registry.get_sample_value("drctl_site_endpoints_answering", {"site": "brindisi"}) == 0
    for site in ("valencia", "newyork", "frontdoor", "geneva"):
        assert registry.get_sample_value("drctl_site_up", {"site": site}) == 1


def test_one_service_killed_leaves_its_site_up(estate: FakeEstate) -> None:
    healthy(estate)
    killed = (PRIMARY, estate.topo.ports.node_exporter)

    def prober(endpoints: Collection[HostPort], timeout: float) -> set[HostPort]:
        return set(endpoints) - {killed}

    registry = scrape(estate, prober=prober)
    assert registry.get_sample_value("drctl_site_up", {"site": "brindisi"}) == 1
    total = registry.get_sample_value("drctl_site_endpoints", {"site": "brindisi"})
    answering = registry.get_sample_value("drctl_site_endpoints_answering", {"site": "brindisi"})
    assert total is not None and answering == total - 1
    # ... unless every endpoint must answer
    strict = scrape(estate, prober=prober, require_all_endpoints=True)
    assert strict.get_sample_value("drctl_site_up", {"site": "brindisi"}) == 0


def test_a_site_is_probed_at_its_own_services_first_and_at_most_so_many(
    estate: FakeEstate,
) -> None:
    probed: list[HostPort] = []

    def prober(endpoints: Collection[HostPort], timeout: float) -> set[HostPort]:
        probed.extend(endpoints)
        return set()

    healthy(estate)
    scrape(estate, prober=prober, max_probes_per_site=2)
    at_brindisi = {hp for hp in probed if hp[0] == PRIMARY}
    ports = estate.topo.ports
    assert at_brindisi == {(PRIMARY, ports.etcd_client), (PRIMARY, ports.etcd_peer)}


def test_a_prober_that_fails_drops_the_site_metrics_only(estate: FakeEstate) -> None:
    def broken(endpoints: Collection[HostPort], timeout: float) -> set[HostPort]:
        raise OSError("too many open files")

    healthy(estate)
    registry = scrape(estate, prober=broken)
    assert registry.get_sample_value("drctl_source_up", {"source": "probes"}) == 0
    assert registry.get_sample_value("drctl_site_up", {"site": "brindisi"}) is None
    assert registry.get_sample_value("drctl_objective_rto_seconds", {"system": "ecm"}) == 60


# --- the topology, drills, backups, the plan --------------------------------------------------


def test_objectives_tiers_periods_and_placement_come_from_the_topology(estate: FakeEstate) -> None:
    healthy(estate)
    registry = scrape(estate)
    for system in estate.topo.systems:
        labels = {"system": system.name}
        assert registry.get_sample_value("drctl_objective_rto_seconds", labels) == 60
        assert registry.get_sample_value("drctl_objective_rpo_seconds", labels) == 0
        assert registry.get_sample_value("drctl_system_tier", labels) == 1
        assert registry.get_sample_value("drctl_drill_period_seconds", labels) == 90 * 86400
        for rank, site in enumerate(system.placement):
            rank_labels = {"system": system.name, "site": site}
            assert registry.get_sample_value("drctl_system_placement_rank", rank_labels) == rank


def journal(
    drill: str,
    started: float,
    status: Status = Status.SUCCEEDED,
    result: str | None = "passed",
    **figures: tuple[float, float, int],
) -> Journal:
    return Journal(
        drctl_version="0.1.0",
        run_id=f"{drill}-{started:.0f}",
        drill_id=drill,
        drill={"systems": list(figures)},
        target="lab",
        mode="disruptive",
        platform={},
        topology_sha256="0" * 64,
        started_at=started,
        status=status,
        result=result,
        systems={
            name: SystemResult(
                system=name,
                objective_rto_seconds=60,
                objective_rpo_seconds=0,
                rto_seconds=rto,
                rpo_seconds=rpo,
                writes_lost=lost,
            )
            for name, (rto, rpo, lost) in figures.items()
        },
    )


def test_each_drill_reports_its_last_finished_run(estate: FakeEstate) -> None:
    healthy(estate)
    journals = [
        journal("site-loss", NOW - 9000, Status.FAILED, "failed", ecm=(95.0, 1.5, 3)),
        journal("site-loss", NOW - 5000, ecm=(21.5, 0.0, 0), crm=(24.0, 0.0, 0)),
        journal("site-loss", NOW - 10, Status.RUNNING, None),  # no figures yet
        journal("leader-crash", NOW - 7000, crm=(12.0, 0.0, 0)),
    ]
    registry = scrape(estate, journals=journals)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(f"drctl_{name}", labels)

    assert value("drill_rto_seconds", drill="site-loss", system="ecm") == 21.5
    assert value("drill_rpo_seconds", drill="site-loss", system="crm") == 0
    assert value("drill_writes_lost", drill="site-loss", system="ecm") == 0
    assert value("drill_rto_seconds", drill="leader-crash", system="crm") == 12
    assert value("drill_system_info", drill="site-loss", system="crm") == 1
    assert value("drill_system_info", drill="leader-crash", system="ecm") is None
    run = value("drill_last_run_timestamp_seconds", drill="site-loss", result="passed")
    assert run == NOW - 5000
    assert value("drill_last_run_timestamp_seconds", drill="site-loss", result="failed") is None


def test_last_finished_ignores_running_journals() -> None:
    runs = [journal("a", 10), journal("a", 30, Status.RUNNING, None), journal("a", 20)]
    assert last_finished(runs)["a"].started_at == 20


def test_backups_and_plan_staleness(estate: FakeEstate) -> None:
    healthy(estate)
    plan = {"drill-overdue": ["ecm: last drill 120 days ago"], "review-overdue": []}
    registry = scrape(estate, backups={"ecm": NOW - 3600}, plan=plan)
    ecm = {"system": "ecm"}
    assert registry.get_sample_value("drctl_backup_last_success_timestamp_seconds", ecm) == (
        NOW - 3600
    )
    assert registry.get_sample_value("drctl_plan_stale", {"trigger": "drill-overdue"}) == 1
    assert registry.get_sample_value("drctl_plan_stale", {"trigger": "review-overdue"}) == 0


def test_the_wal_archive_lag_is_exported_where_the_backup_status_measured_it(
    estate: FakeEstate, tmp_path: Path
) -> None:
    # the status file as the backup engine writes it: ecm's archive lag measured, crm's not
    info = (Path(__file__).parents[1] / "backup" / "fixtures" / "info-ecm-db.json").read_text()
    ecm_db = parse_info(info)[0]
    crm_db = ecm_db.model_copy(update={"name": "crm-db"})
    path = tmp_path / "backup-status.json"
    doc = status_document([ecm_db, crm_db], {"ecm-db": "ecm", "crm-db": "crm"}, {"ecm-db": 42.5})
    write_status(path, doc)
    healthy(estate)
    c = DrctlCollector(
        estate.topo,
        prober=everyone_answers,
        journals=list,
        backups=backup_status_file(path),
        plan=dict,
        config=ExporterConfig(site_addresses=estate.addresses, haproxy_stats_url=estate.stats_url),
    )
    registry = Scrape(build_registry(c))
    lag = "drctl_backup_wal_archive_lag_seconds"
    assert registry.get_sample_value(lag, {"system": "ecm"}) == 42.5
    assert registry.get_sample_value(lag, {"system": "crm"}) is None  # not measured: no sample
    last = float(ecm_db.backup[-1].timestamp.stop)
    for system in ("ecm", "crm"):
        assert (
            registry.get_sample_value(
                "drctl_backup_last_success_timestamp_seconds", {"system": system}
            )
            == last
        )
    assert registry.get_sample_value("drctl_source_up", {"source": "backups"}) == 1


def test_an_injected_backup_source_has_no_wal_archive_lag(estate: FakeEstate) -> None:
    healthy(estate)
    registry = scrape(estate, backups={"ecm": NOW - 3600})
    assert (
        registry.get_sample_value("drctl_backup_wal_archive_lag_seconds", {"system": "ecm"}) is None
    )


def test_a_failing_source_drops_its_own_metrics_and_not_the_scrape(estate: FakeEstate) -> None:
    healthy(estate)

    def unreadable() -> list[Journal]:
        raise ValueError("journal is not JSON")

    c = DrctlCollector(
        estate.topo,
        prober=everyone_answers,
        journals=unreadable,
        backups=lambda: {},
        plan=lambda: {},
        config=ExporterConfig(site_addresses=estate.addresses, haproxy_stats_url=estate.stats_url),
    )
    registry = Scrape(build_registry(c))
    assert registry.get_sample_value("drctl_source_up", {"source": "journals"}) == 0
    assert registry.get_sample_value("drctl_source_up", {"source": "backups"}) == 1
    assert registry.get_sample_value("drctl_site_up", {"site": "valencia"}) == 1


def test_registering_does_not_scrape_the_estate(estate: FakeEstate) -> None:
    def must_not_probe(endpoints: Collection[HostPort], timeout: float) -> set[HostPort]:
        raise AssertionError("probed at registration")

    c = DrctlCollector(estate.topo, prober=must_not_probe, plan=lambda: {})
    build_registry(c)  # auto_describe would collect(); describe() must say nothing
    assert list(c.describe()) == []


def test_the_default_plan_source_reads_the_configured_paths(
    estate: FakeEstate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The collector builds its default plan source from self.config: it must exist by then.
    seen: list[tuple[Path, ...]] = []

    def staleness(*paths: Path) -> None:
        seen.append(paths)

    monkeypatch.setattr(collector_module, "plan_staleness", staleness)
    config = ExporterConfig(topology_path=tmp_path / "t.yaml", plan_dir=tmp_path / "plan")
    DrctlCollector(estate.topo, config=config)
    assert seen and seen[0][0] == tmp_path / "t.yaml" and seen[0][-1] == tmp_path / "plan"


def test_scrape_reports_its_own_duration(estate: FakeEstate) -> None:
    healthy(estate)
    registry = scrape(estate)
    duration = registry.get_sample_value("drctl_scrape_duration_seconds")
    assert duration is not None and 0 < duration < 2


# --- families reused while their input is unchanged --------------------------------------------


def replace(path: Path, doc: dict[str, float]) -> None:
    """As the backup engine writes its status: a new file renamed over the old one."""
    new = path.with_suffix(".new")
    new.write_text(json.dumps(doc))
    new.replace(path)


def test_one_collector_sees_journals_and_backups_change_between_scrapes(
    estate: FakeEstate, tmp_path: Path
) -> None:
    """The drill and backup families are rebuilt when a journal or the status file changes
    (written, rewritten, removed), and the same families are handed out while nothing did."""
    journals, status = tmp_path / "journals", tmp_path / "backup-status.json"
    journals.mkdir()
    healthy(estate)
    c = DrctlCollector(
        estate.topo,
        prober=everyone_answers,
        journals=journal_source(journals),
        backups=backup_status_file(status),
        plan=dict,
        config=ExporterConfig(site_addresses=estate.addresses, haproxy_stats_url=estate.stats_url),
    )
    registry = build_registry(c)
    ecm = {"drill": "site-loss", "system": "ecm"}

    def now() -> tuple[float | None, float | None]:
        got = Scrape(registry)
        return (
            got.get_sample_value("drctl_drill_rto_seconds", ecm),
            got.get_sample_value("drctl_backup_last_success_timestamp_seconds", {"system": "ecm"}),
        )

    assert now() == (None, None)
    journal("site-loss", NOW - 5000, ecm=(21.5, 0.0, 0)).save(journals / "a.json")
    replace(status, {"ecm": NOW - 3600})
    assert now() == (21.5, NOW - 3600)
    assert c._drills() is c._drills()  # unchanged input: the same families
    assert c._backups() is c._backups()
    journal("site-loss", NOW - 100, ecm=(19.0, 0.0, 0)).save(journals / "b.json")
    assert now() == (19.0, NOW - 3600)
    (journals / "b.json").unlink()
    replace(status, {"ecm": NOW - 60})
    assert now() == (21.5, NOW - 60)
