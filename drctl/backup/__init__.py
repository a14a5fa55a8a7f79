"""Backups of the estate's clusters with pgBackRest: take, list, verify by restoring, and the
point-in-time restore command the corruption drill recovers with."""

from drctl.backup.backups import Backups, RunResult, stanzas_of
from drctl.backup.commands import PgBackRest, restore_to
from drctl.backup.models import Backup, BackupKind, Stanza, parse_info
from drctl.backup.status import backup_source, status_document, write_status
from drctl.backup.verify import BackupVerifyError, Check, Verifier, VerifyReport

__all__ = [
    "Backup",
    "BackupKind",
    "BackupVerifyError",
    "Backups",
    "Check",
    "PgBackRest",
    "RunResult",
    "Stanza",
    "Verifier",
    "VerifyReport",
    "backup_source",
    "parse_info",
    "restore_to",
    "stanzas_of",
    "status_document",
    "write_status",
]
