"""Small formatting helpers shared by the sections."""

from __future__ import annotations

from drctl.plan.data import Contact


def duration(seconds: float | None) -> str:
    """60 → "60 s", 5400 → "1.5 h", 259200 → "3 d"; exact figures stay readable."""
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:g} s"
    if seconds < 7200:
        return f"{seconds / 60:.4g} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.4g} h"
    return f"{seconds / 86400:.4g} d"


def hours(value: float) -> str:
    return f"{value:g} h"


def contact(c: Contact | None) -> str:
    return "—" if c is None else f"{c.name}, {c.email}, {c.phone}"


def yes(flag: bool) -> str:
    return "yes" if flag else "no"
