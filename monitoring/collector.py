"""The drctl collector: every metric of DESIGN §8, read from the truth on each scrape.

Nothing read from the estate is kept between scrapes: the collector holds the topology
(configuration, not state) and what derives from it alone (the objectives' metric families, the
endpoints to probe). Families built from inputs that seldom change (the drill journals, the
backup status) are kept with the input they came from and reused while a fresh read of that
input gives the same (`_Reuse`). The slow sources (TCP probes, Patroni, HAProxy, files) are read
concurrently with short timeouts (Patroni's within `scrape_budget_seconds`), and a source that
fails drops its own metrics and sets drctl_source_up{source} to 0 rather than failing the
scrape.
"""

from __future__ import annotations

import logging
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from drctl.topology.endpoints import endpoints
from drctl.topology.model import SiteService, Topology
from drills.journal import Journal, Status, journal_dir
from monitoring import etcd, haproxy, patroni
from monitoring.config import ExporterConfig
from monitoring.exposition import FrozenFamily, GaugeLines
from monitoring.sources import (
    BackupSource,
    BackupStatusFile,
    FetchFirst,
    HostPort,
    JournalSource,
    PlanSource,
    Prober,
    WalLagSource,
    backup_status_file,
    fetch_one,
    http_fetch_first,
    journal_source,
    plan_staleness,
    tcp_prober,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
DAY = 86400.0
SOURCES = ("probes", "patroni", "front_door", "journals", "backups", "plan")
# Services of the site itself, probed before the systems' endpoints placed there.
SITE_WIDE = frozenset(
    {"etcd", "etcd-peer", "node-exporter", "prometheus", "drctl-exporter", "hub-cache"}
)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeLines:
    return GaugeLines(f"drctl_{name}", doc, labels)


class DrctlCollector(Collector):
    def __init__(
        self,
        topo: Topology,
        *,
        prober: Prober = tcp_prober,
        fetch: FetchFirst = http_fetch_first,
        journals: JournalSource | None = None,
        backups: BackupSource | None = None,
        plan: PlanSource | None = None,
        clock: Callable[[], float] = time.time,
        config: ExporterConfig | None = None,
        kv_range: patroni.KvRange = etcd.range_prefix,
        wal_lags: WalLagSource | None = None,
    ) -> None:
        self.topo = topo
        self.config = config or ExporterConfig()
        self.prober = prober
        self.fetch = fetch
        self.journals = journals or journal_source()
        self.backups = backups or backup_status_file()
        # None: the status file's WAL archive lags when the backups come from one, else none
        if wal_lags is None:
            file = self.backups if isinstance(self.backups, BackupStatusFile) else None
            wal_lags = file.wal_archive_lags if file is not None else dict
        self.wal_lags = wal_lags
        # None: drctl.plan.check.staleness if it is installed, else no drctl_plan_stale
        self.plan = plan if plan is not None else self._default_plan()
        self.clock = clock
        # derived from the topology once: configuration, not scrape state
        self._addresses = {s.name: str(s.lab_address) for s in topo.sites}
        self._addresses.update(self.config.site_addresses or {})
        self._site_endpoints = self._probe_plan(topo)
        self._dcs = self._patroni_dcs(topo, kv_range)
        self._front_door_map = haproxy.FrontDoorMap(topo)
        # the same on every scrape: built once, and their text written once (monitoring.exposition)
        self._static = [FrozenFamily(f) for f in self._topology_metrics()]
        # journal_source hands back the same Journal objects while their files are unchanged
        self._drill_families = _Reuse[list[Journal]](
            lambda a, b: len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))
        )
        self._backup_families = _Reuse[tuple[Mapping[str, float], Mapping[str, float]]](operator.eq)

    def _probe_plan(self, topo: Topology) -> dict[str, list[HostPort]]:
        """The endpoints probed per site: its own services first, then its systems' endpoints.

        A site is up when any of them answers, so a sample of `max_probes_per_site` says as
        much as all of them and keeps a scrape of a large estate short; the "all must answer"
        rule needs every one."""
        site_eps: dict[str, list[HostPort]] = {s.name: [] for s in topo.sites}
        for ep in sorted(endpoints(topo), key=lambda ep: ep.service not in SITE_WIDE):
            hp = (self._addresses[ep.site], ep.port)
            if hp not in site_eps[ep.site]:
                site_eps[ep.site].append(hp)
        if self.config.require_all_endpoints:
            return site_eps
        return {site: eps[: self.config.max_probes_per_site] for site, eps in site_eps.items()}

    def _patroni_dcs(self, topo: Topology, kv_range: patroni.KvRange) -> patroni.Dcs:
        """Where Patroni's state is read first: the etcd members, in order."""
        c = self.config
        members = c.etcd_endpoints
        if members is None:
            port = topo.ports.etcd_client
            members = [(self._addresses[s.name], port) for s in topo.sites_with(SiteService.ETCD)]
        return patroni.Dcs(list(members), c.etcd_namespace, kv_range, c.etcd_timeout_seconds)

    def _default_plan(self) -> PlanSource | None:
        c = self.config
        return plan_staleness(c.topology_path, c.plan_data_dir, journal_dir(), c.plan_dir)

    def describe(self) -> Iterable[Metric]:
        return []  # registering must not scrape the estate

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        source_up = _gauge("source_up", "1 if the source was read on this scrape", ["source"])
        with ThreadPoolExecutor(max_workers=self.config.max_workers) as pool:
            # first: etcd then spends its ~20 ms on the answer while the other sources run
            lag_job = pool.submit(self._lags)
            jobs: dict[str, Future[list[Metric]]] = {
                "probes": pool.submit(self._sites),
                "front_door": pool.submit(self._front_door),
                "journals": pool.submit(self._drills),
                "backups": pool.submit(self._backups),
            }
            if self.plan is not None:
                jobs["plan"] = pool.submit(self._plan)
            yield from self._static
            yield from self._collect_lag(lag_job, source_up)
            for source, job in jobs.items():
                try:
                    families = job.result()
                except Exception as exc:  # one source must not fail the scrape
                    log.warning("source %s failed: %s", source, exc)
                    source_up.add_metric([source], 0)
                    continue
                source_up.add_metric([source], 1)
                yield from families
        yield source_up
        duration = _gauge("scrape_duration_seconds", "time this scrape took", [])
        duration.add_metric([], time.perf_counter() - started)
        yield duration

    # --- from the topology --------------------------------------------------------------
    def _topology_metrics(self) -> list[Metric]:
        rto = _gauge("objective_rto_seconds", "recovery time objective", ["system"])
        rpo = _gauge("objective_rpo_seconds", "recovery point objective", ["system"])
        tier = _gauge("system_tier", "the system's tier (1 is the most critical)", ["system"])
        period = _gauge(
            "drill_period_seconds", "a drill must cover the system this often", ["system"]
        )
        rank = _gauge(
            "system_placement_rank",
            "0 at the system's preferred primary site, 1.. at its standby sites",
            ["system", "site"],
        )
        for system in self.topo.systems:
            rto.add_metric([system.name], system.objectives.rto_seconds)
            rpo.add_metric([system.name], system.objectives.rpo_seconds)
            tier.add_metric([system.name], system.tier)
            period.add_metric([system.name], self.topo.tier(system.tier).drill_every_days * DAY)
            for i, site in enumerate(system.placement):
                rank.add_metric([system.name, site], i)
        return [rto, rpo, tier, period, rank]

    # --- sites ----------------------------------------------------------------------------
    def _sites(self) -> list[Metric]:
        everything = {hp for eps in self._site_endpoints.values() for hp in eps}
        answered = self.prober(everything, self.config.probe_timeout_seconds)
        up = _gauge("site_up", "1 if the site's services answer on TCP", ["site"])
        total = _gauge("site_endpoints", "TCP endpoints probed at the site", ["site"])
        ok = _gauge("site_endpoints_answering", "of those, how many answered", ["site"])
        for site, eps in self._site_endpoints.items():
            n = sum(1 for hp in eps if hp in answered)
            need_all = self.config.require_all_endpoints
            is_up = bool(eps) and (n == len(eps) if need_all else n > 0)
            up.add_metric([site], 1 if is_up else 0)
            total.add_metric([site], len(eps))
            ok.add_metric([site], n)
        return [up, total, ok]

    # --- replication ------------------------------------------------------------------------
    def _lags(self) -> dict[str, list[patroni.MemberLag] | Exception]:
        return patroni.read_lags(
            self.topo,
            self._addresses,
            self.fetch,
            self.config.http_timeout_seconds,
            self.clock,
            budget_seconds=self.config.scrape_budget_seconds,
            dcs=self._dcs,
        )

    def _collect_lag(
        self,
        job: Future[dict[str, list[patroni.MemberLag] | Exception]],
        source_up: GaugeLines,
    ) -> list[Metric]:
        labels = ["system", "member"]
        secs = _gauge("replication_lag_seconds", "how far the replica's replay is behind", labels)
        nbytes = _gauge("replication_lag_bytes", "WAL bytes the replica is behind", labels)
        try:
            lags = job.result()
        except Exception as exc:
            log.warning("source patroni failed: %s", exc)
            source_up.add_metric(["patroni"], 0)
            return [secs, nbytes]
        failed = {system: m for system, m in lags.items() if isinstance(m, Exception)}
        if failed:
            first = next(iter(failed))
            log.warning(
                "Patroni unreadable for %d system(s): %s: %s%s",
                len(failed),
                first,
                failed[first],
                ", ..." if len(failed) > 1 else "",
            )
        for system, members in lags.items():
            if isinstance(members, Exception):
                continue
            for m in members:
                if m.lag_bytes is not None:
                    nbytes.add_metric([system, m.member], m.lag_bytes)
                if m.lag_seconds is not None:
                    secs.add_metric([system, m.member], m.lag_seconds)
        source_up.add_metric(["patroni"], 0 if failed else 1)
        return [secs, nbytes]

    # --- front door -------------------------------------------------------------------------
    def _front_door(self) -> list[Metric]:
        url = self.config.stats_url(self.topo)
        text = fetch_one(self.fetch, url, self.config.http_timeout_seconds)
        active = self._front_door_map.active(haproxy.parse_stats_csv(text))
        fam = _gauge(
            "front_door_backend_active",
            "1 for the site the front door currently routes the system to",
            ["system", "site"],
        )
        for (system, site), value in sorted(active.items()):
            fam.add_metric([system, site], value)
        return [fam]

    # --- drills -------------------------------------------------------------------------------
    def _drills(self) -> list[Metric]:
        journals = list(self.journals())
        return self._drill_families.get(journals, lambda: self._drill_metrics(journals))

    def _drill_metrics(self, journals: list[Journal]) -> list[Metric]:
        last = last_finished(journals)
        ds = ["drill", "system"]
        rto = _gauge("drill_rto_seconds", "RTO measured by the drill's last run", ds)
        rpo = _gauge("drill_rpo_seconds", "RPO measured by the drill's last run", ds)
        lost = _gauge("drill_writes_lost", "acknowledged writes lost in the last run", ds)
        # what the run was measured against: the system's failover objectives, or for a
        # restore drill the restore objectives of inventories/backups.yaml
        rto_goal = _gauge("drill_objective_rto_seconds", "RTO objective of the last run", ds)
        rpo_goal = _gauge("drill_objective_rpo_seconds", "RPO objective of the last run", ds)
        covers = _gauge("drill_system_info", "the systems the drill's last run covered", ds)
        when = _gauge(
            "drill_last_run_timestamp_seconds",
            "start of the drill's last finished run, labelled with its result",
            ["drill", "result"],
        )
        for drill_id, journal in sorted(last.items()):
            when.add_metric([drill_id, journal.result or str(journal.status)], journal.started_at)
            systems = set(journal.systems) | set(_drill_systems(journal.drill))
            for system in sorted(systems):
                covers.add_metric([drill_id, system], 1)
            for system, res in sorted(journal.systems.items()):
                if res.rto_seconds is not None:
                    rto.add_metric([drill_id, system], res.rto_seconds)
                if res.rpo_seconds is not None:
                    rpo.add_metric([drill_id, system], res.rpo_seconds)
                lost.add_metric([drill_id, system], res.writes_lost)
                rto_goal.add_metric([drill_id, system], res.objective_rto_seconds)
                rpo_goal.add_metric([drill_id, system], res.objective_rpo_seconds)
        return [rto, rpo, lost, rto_goal, rpo_goal, covers, when]

    # --- backups and the plan -------------------------------------------------------------------
    def _backups(self) -> list[Metric]:
        read = (self.backups(), self.wal_lags())
        return self._backup_families.get(read, lambda: self._backup_metrics(*read))

    def _backup_metrics(
        self, backups: Mapping[str, float], wal_lags: Mapping[str, float]
    ) -> list[Metric]:
        fam = _gauge(
            "backup_last_success_timestamp_seconds",
            "end of the system's last successful backup",
            ["system"],
        )
        for system, epoch in sorted(backups.items()):
            fam.add_metric([system], epoch)
        wal = _gauge(
            "backup_wal_archive_lag_seconds",
            "how far the system's WAL archive is behind, where measured",
            ["system"],
        )
        for system, seconds in sorted(wal_lags.items()):
            wal.add_metric([system], seconds)
        return [fam, wal]

    def _plan(self) -> list[Metric]:
        assert self.plan is not None
        fam = _gauge("plan_stale", "1 if the staleness trigger fires for the plan", ["trigger"])
        for trigger, reasons in sorted(self.plan().items()):
            fam.add_metric([trigger], 1 if reasons else 0)
        return [fam]


class _Reuse(Generic[T]):
    """The families built from an input, reused while the next read of that input is the
    same (by `same`); their text is then written once too (FrozenFamily). The input itself is
    read on every scrape: only the building is saved, which for a year of drills or a thousand
    systems' backups is several milliseconds of each scrape."""

    def __init__(self, same: Callable[[T, T], bool]) -> None:
        self.same = same
        self.last: tuple[T, list[Metric]] | None = None

    def get(self, read: T, build: Callable[[], list[Metric]]) -> list[Metric]:
        last = self.last  # one read: two scrapes at once may both build, and either is kept
        if last is not None and self.same(last[0], read):
            return last[1]
        families: list[Metric] = [FrozenFamily(f) for f in build()]
        self.last = (read, families)
        return families


def last_finished(journals: Iterable[Journal]) -> dict[str, Journal]:
    """The last finished journal per drill id (a running drill has no figures yet)."""
    last: dict[str, Journal] = {}
    for journal in journals:
        if journal.status is Status.RUNNING:
            continue
        prev = last.get(journal.drill_id)
        if prev is None or journal.started_at >= prev.started_at:
            last[journal.drill_id] = journal
    return last


def _drill_systems(drill: dict[str, Any]) -> list[str]:
    systems = drill.get("systems", [])
    return [str(s) for s in systems] if isinstance(systems, list) else []
