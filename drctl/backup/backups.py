"""Take and list backups of the estate's clusters: one pgBackRest stanza per cluster."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from drctl.backup.commands import PgBackRest
from drctl.backup.models import Backup, BackupKind, Stanza, parse_info
from drctl.backup.runner import Runner, as_user, checked
from drctl.errors import DrctlError
from drctl.topology.model import Topology

# A full backup of a seeded lab cluster takes seconds; production sizes take hours.
BACKUP_TIMEOUT_SECONDS = 6 * 3600.0
INFO_TIMEOUT_SECONDS = 60.0


def stanzas_of(topology: Topology) -> dict[str, str]:
    """{system: stanza}: a stanza is named after the system's cluster (ecm-db, crm-db)."""
    return {s.name: s.database.cluster for s in topology.systems}


@dataclass(frozen=True)
class RunResult:
    stanza: str
    kind: BackupKind
    backup: Backup
    seconds: float


@dataclass
class Backups:
    """The backups of the clusters named in `stanzas` ({system: stanza})."""

    stanzas: Mapping[str, str]
    pgbackrest: PgBackRest = field(default_factory=PgBackRest)
    run_as: Runner = field(default_factory=as_user)
    clock: Callable[[], float] = time.monotonic

    def stanza_for(self, name: str) -> str:
        """A system (ecm) or a stanza (ecm-db) -> the stanza."""
        if name in self.stanzas:
            return self.stanzas[name]
        if name in self.stanzas.values():
            return name
        known = ", ".join(sorted(self.stanzas)) or "none"
        raise DrctlError(f"no cluster or system named {name!r} (systems: {known})")

    def system_for(self, stanza: str) -> str:
        for system, s in self.stanzas.items():
            if s == stanza:
                return system
        return stanza

    def create_stanza(self, name: str) -> None:
        stanza = self.stanza_for(name)
        checked(self.run_as, self.pgbackrest.stanza_create(stanza), 300, f"stanza-create {stanza}")

    def run(self, name: str, kind: BackupKind | str = BackupKind.FULL) -> RunResult:
        """Take a backup (full, diff or incr) and return it as pgBackRest records it."""
        stanza, kind = self.stanza_for(name), BackupKind(kind)
        before = {b.label for b in self.info(stanza).backup}
        started = self.clock()
        argv = self.pgbackrest.backup(stanza, kind)
        checked(self.run_as, argv, BACKUP_TIMEOUT_SECONDS, f"{kind} backup of {stanza}")
        seconds = self.clock() - started
        new = [b for b in self.info(stanza).backup if b.label not in before]
        if not new:
            raise DrctlError(f"{kind} backup of {stanza} finished but pgBackRest lists no new set")
        return RunResult(stanza, kind, new[-1], seconds)

    def info(self, name: str) -> Stanza:
        stanza = self.stanza_for(name)
        argv = self.pgbackrest.info(stanza)
        out = checked(self.run_as, argv, INFO_TIMEOUT_SECONDS, f"info {stanza}").stdout
        found = [s for s in parse_info(out) if s.name == stanza]
        if not found:
            raise DrctlError(f"pgbackrest info does not know stanza {stanza}")
        return found[0]

    def list(self) -> list[Stanza]:
        """Every configured stanza as pgBackRest sees it (one `info` call)."""
        out = checked(self.run_as, self.pgbackrest.info(), INFO_TIMEOUT_SECONDS, "info").stdout
        by_name = {s.name: s for s in parse_info(out)}
        return [by_name[s] for s in self.stanzas.values() if s in by_name]
