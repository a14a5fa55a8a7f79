"""One root for every error drctl reports to a user.

`ConfigError` is raised before anything runs; it names the file, line and field of each problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class DrctlError(Exception):
    """An error reported to the user as a message, never as a traceback."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file."""

    path: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ConfigError(DrctlError):
    """An input file is invalid; carries every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (str(p.path), p.line or 0, p.field))
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, path: Path, field: str, message: str, line: int | None = None) -> ConfigError:
        return cls([Problem(path, line, field, message)])


class EstateError(DrctlError):
    """An action on the estate (lab or production) failed."""
