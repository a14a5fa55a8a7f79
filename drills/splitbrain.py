"""Split-brain watch: during a drill, may two members of a cluster acknowledge writes at once?

Patroni's `/primary` answering 200 on two members is only a claim (a partitioned old leader
says so until it demotes). The watch then tests each claimant for real: a commit sent straight
to its PostgreSQL. In synchronous mode an isolated primary cannot acknowledge: its commit waits
for the standby until cancelled, and PostgreSQL reports that as a WARNING, not an error, so the
notice is what tells an acknowledged commit from a cancelled wait.
"""

from __future__ import annotations

import threading
import time

import psycopg

from drills.actions import Context

POLL_SECONDS = 0.25
TABLE = "drctl_split_brain_watch"


class SplitBrainWatch:
    def __init__(self, ctx: Context, systems: list[str], password: str) -> None:
        self.ctx = ctx
        self.systems = systems
        self.password = password
        self.observations: dict[str, int] = {s: 0 for s in systems}
        self.claims: dict[str, int] = {s: 0 for s in systems}  # two /primary at once
        self.events: list[tuple[float, str, list[str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="split-brain-watch", daemon=True)

    def _dsn(self, system: str, site: str) -> str:
        db = self.ctx.topology.system(system).database
        return (
            f"host={self.ctx.estate.address(site)} port={db.port} user=postgres "
            f"password={self.password} dbname=postgres connect_timeout=1"
        )

    def commits(self, system: str, site: str) -> bool:
        """True when the member at `site` acknowledges a commit without a cancelled wait."""
        warnings: list[str] = []
        try:
            with psycopg.connect(self._dsn(system, site), autocommit=True) as conn:
                conn.add_notice_handler(lambda d: warnings.append(d.message_primary or ""))
                conn.execute("SET statement_timeout = 1000")
                conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (at timestamptz, site text)")
                conn.execute(f"INSERT INTO {TABLE} VALUES (now(), %s)", (site,))
        except psycopg.Error:
            return False
        return not any("synchronous replication" in w for w in warnings)

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            for system in self.systems:
                claimants = self.ctx.clusters[system].writable_sites()
                if len(claimants) < 2:
                    continue
                self.claims[system] += 1
                writable = [s for s in claimants if self.commits(system, s)]
                if len(writable) >= 2:
                    self.observations[system] += 1
                    self.events.append((time.time(), system, writable))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
