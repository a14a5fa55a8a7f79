"""Typed models of `pgbackrest info --output=json` (format 5, pgBackRest 2.x).

pgBackRest adds fields between releases; unknown fields are ignored (`extra="ignore"`) so a
newer pgBackRest on a host does not break `drctl backup list`, while every field we read is
typed and required.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from drctl.errors import DrctlError


class BackupKind(StrEnum):
    FULL = "full"
    DIFF = "diff"
    INCR = "incr"


class _Info(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Timestamps(_Info):
    start: int
    stop: int


class WalRange(_Info):
    start: str | None = None
    stop: str | None = None


class RepoSize(_Info):
    delta: int
    size: int


class BackupSize(_Info):
    delta: int
    size: int
    repository: RepoSize


class BackupDatabase(_Info):
    id: int
    repo_key: int = Field(default=1, alias="repo-key")


class Backup(_Info):
    label: str
    type: BackupKind
    timestamp: Timestamps
    archive: WalRange
    error: bool = False  # pgBackRest found page checksum errors in the source cluster
    prior: str | None = None
    reference: list[str] | None = None
    info: BackupSize
    database: BackupDatabase

    @property
    def started_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp.start, UTC)

    @property
    def stopped_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp.stop, UTC)

    @property
    def duration_seconds(self) -> int:
        return self.timestamp.stop - self.timestamp.start

    @property
    def repo_key(self) -> int:
        return self.database.repo_key


class ArchiveRange(_Info):
    id: str  # "<pg version>-<db id>", e.g. "15-1"
    min: str | None = None
    max: str | None = None


class Status(_Info):
    code: int
    message: str


class RepoStatus(_Info):
    key: int
    cipher: str
    status: Status


class Stanza(_Info):
    name: str
    status: Status
    cipher: str = "none"
    backup: list[Backup] = []
    archive: list[ArchiveRange] = []
    repo: list[RepoStatus] = []

    @property
    def ok(self) -> bool:
        return self.status.code == 0

    @property
    def successful(self) -> list[Backup]:
        """Backups without page checksum errors, oldest first (pgBackRest's order)."""
        return sorted((b for b in self.backup if not b.error), key=lambda b: b.timestamp.stop)

    @property
    def latest(self) -> Backup | None:
        ok = self.successful
        return ok[-1] if ok else None

    @property
    def last_wal(self) -> str | None:
        """The newest WAL segment archived in any repository."""
        segs = [a.max for a in self.archive if a.max]
        return max(segs) if segs else None  # timeline, then position: both only grow


class InfoError(DrctlError):
    """`pgbackrest info` answered something that is not its documented JSON."""


_STANZAS = TypeAdapter(list[Stanza])


def parse_info(text: str) -> list[Stanza]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InfoError(f"pgbackrest info: not JSON ({exc})") from exc
    if not isinstance(doc, list):
        raise InfoError("pgbackrest info: expected a JSON list of stanzas")
    try:
        return _STANZAS.validate_python(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InfoError(f"pgbackrest info: {where}: {first['msg']}") from exc
