"""pgBackRest command lines, built by pure functions (tested without pgBackRest).

Every command names its configuration file explicitly: the lab keeps one per site under the
lab state directory, production uses pgBackRest's default /etc/pgbackrest/pgbackrest.conf.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from drctl.backup.models import BackupKind

DEFAULT_BIN = Path("/usr/bin/pgbackrest")
DEFAULT_CONFIG = Path("/etc/pgbackrest/pgbackrest.conf")


@dataclass(frozen=True)
class PgBackRest:
    """Where pgBackRest and its configuration are; builds argv lists."""

    config: Path = DEFAULT_CONFIG
    bin: Path = DEFAULT_BIN

    def _base(self, stanza: str | None, command: str) -> list[str]:
        argv = [str(self.bin), f"--config={self.config}"]
        if stanza is not None:
            argv.append(f"--stanza={stanza}")
        argv.append(command)
        return argv

    def info(self, stanza: str | None = None) -> list[str]:
        return [*self._base(stanza, "info"), "--output=json"]

    def stanza_create(self, stanza: str) -> list[str]:
        return self._base(stanza, "stanza-create")

    def check(self, stanza: str) -> list[str]:
        """Checks the configuration and that WAL archiving reaches every repository."""
        return self._base(stanza, "check")

    def backup(self, stanza: str, kind: BackupKind, repo: int | None = None) -> list[str]:
        argv = [*self._base(stanza, "backup"), f"--type={kind}"]
        if repo is not None:
            argv.append(f"--repo={repo}")
        return argv

    def repo_verify(self, stanza: str) -> list[str]:
        """pgBackRest's own check of every file's checksum in the repository (no restore).
        Its findings are INFO log lines, and it exits 0 even when it finds damage."""
        return [*self._base(stanza, "verify"), "--log-level-console=info"]

    def restore_scratch(self, stanza: str, label: str, data_dir: Path, scratch: Path) -> list[str]:
        """Restore one backup into a scratch directory just far enough to be consistent, then
        promote. Nothing may point back at the estate: tablespaces land in the scratch
        directory, archiving is off, and a failed file is not retried (a damaged file would
        otherwise be read again after 15 s)."""
        return [
            *self._base(stanza, "restore"),
            f"--set={label}",
            f"--pg1-path={data_dir}",
            f"--tablespace-map-all={scratch / 'tablespaces'}",
            "--type=immediate",
            "--target-action=promote",
            "--archive-mode=off",
            "--job-retry=0",
            "--log-level-console=warn",
        ]


def restore_to(
    cluster_data_dir: Path,
    target_time: datetime,
    *,
    stanza: str,
    pgbackrest: PgBackRest | None = None,
    delta: bool = True,
    repo: int | None = None,
) -> list[str]:
    """The point-in-time restore of `stanza` into `cluster_data_dir`, replaying WAL up to and
    excluding `target_time`, then promoting: the corruption drill's recovery (restore to just
    before t0). `target_time` must be timezone-aware: PostgreSQL reads a bare time in its own
    time zone, which is how a restore lands an hour off. `--delta` reuses matching files of a
    stopped cluster instead of copying everything again."""
    if target_time.tzinfo is None or target_time.utcoffset() is None:
        raise ValueError("target_time must be timezone-aware")
    pgbr = pgbackrest or PgBackRest()
    argv = [
        *pgbr._base(stanza, "restore"),
        f"--pg1-path={cluster_data_dir}",
        "--type=time",
        f"--target={target_time.isoformat(sep=' ', timespec='microseconds')}",
        "--target-exclusive",
        "--target-action=promote",
    ]
    if delta:
        argv.append("--delta")
    if repo is not None:
        argv.append(f"--repo={repo}")
    return argv
