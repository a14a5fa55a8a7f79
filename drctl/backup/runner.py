"""Running pgBackRest and the PostgreSQL tools as the database's user.

pgBackRest must run as the user that owns the cluster and the repository (archive-push runs
as postgres from PostgreSQL itself; a backup taken as root would leave files postgres cannot
read). When drctl runs as root, commands go through `runuser`.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from drctl.errors import DrctlError


@dataclass(frozen=True)
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 8) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-lines:])


# argv, timeout in seconds -> the finished process; tests pass a fake
Runner = Callable[[Sequence[str], float], Result]


class CommandError(DrctlError):
    def __init__(self, result: Result, what: str) -> None:
        self.result = result
        super().__init__(f"{what} failed (exit {result.returncode}): {result.tail()}")


def as_user(user: str = "postgres") -> Runner:
    """A runner executing as `user`: directly when we are that user, via runuser when root."""
    current = pwd.getpwuid(os.geteuid()).pw_name
    prefix = [] if current == user else ["runuser", "-u", user, "--"]

    def run(argv: Sequence[str], timeout: float) -> Result:
        full = [*prefix, *argv]
        try:
            p = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise DrctlError(f"{argv[0]} did not finish within {timeout:g} s") from exc
        except FileNotFoundError as exc:
            raise DrctlError(f"{full[0]} is not installed") from exc
        return Result(list(argv), p.returncode, p.stdout, p.stderr)

    return run


def checked(run: Runner, argv: Sequence[str], timeout: float, what: str) -> Result:
    result = run(argv, timeout)
    if not result.ok:
        raise CommandError(result, what)
    return result
