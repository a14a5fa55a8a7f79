"""The ITIL rules, free of any database: priority from impact x urgency, and each record
kind's status workflow. Everything else asks these tables, so a rule changes in one place."""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["incident", "request", "problem"]
PREFIX: dict[str, str] = {"incident": "INC", "request": "REQ", "problem": "PRB"}
NUMBER = re.compile(r"^(INC|REQ|PRB)\d{7,18}$")

# 1 = high, 3 = low, for both axes; priority 1 (critical) .. 5 (planning).
PRIORITY_MATRIX: dict[tuple[int, int], int] = {
    (impact, urgency): impact + urgency - 1 for impact in (1, 2, 3) for urgency in (1, 2, 3)
}
PRIORITY_NAMES = {1: "critical", 2: "high", 3: "moderate", 4: "low", 5: "planning"}


def priority(impact: int, urgency: int) -> int:
    return PRIORITY_MATRIX[(impact, urgency)]


TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    "incident": {
        "new": frozenset({"assigned", "in_progress", "cancelled"}),
        "assigned": frozenset({"in_progress", "pending", "resolved", "cancelled"}),
        "in_progress": frozenset({"pending", "resolved"}),
        "pending": frozenset({"in_progress", "resolved"}),
        "resolved": frozenset({"closed", "in_progress"}),
        "closed": frozenset(),
        "cancelled": frozenset(),
    },
    "request": {
        "new": frozenset({"approved", "rejected", "cancelled"}),
        "approved": frozenset({"in_progress", "cancelled"}),
        "in_progress": frozenset({"pending", "fulfilled"}),
        "pending": frozenset({"in_progress", "fulfilled"}),
        "fulfilled": frozenset({"closed", "in_progress"}),
        "rejected": frozenset(),
        "closed": frozenset(),
        "cancelled": frozenset(),
    },
    "problem": {
        "new": frozenset({"investigating", "cancelled"}),
        "investigating": frozenset({"known_error", "resolved"}),
        "known_error": frozenset({"investigating", "resolved"}),
        "resolved": frozenset({"closed", "investigating"}),
        "closed": frozenset(),
        "cancelled": frozenset(),
    },
}
STATUSES = sorted({s for workflow in TRANSITIONS.values() for s in workflow})
Status = Literal[
    "new", "assigned", "approved", "in_progress", "investigating", "known_error", "pending",
    "resolved", "fulfilled", "closed", "cancelled", "rejected",
]  # fmt: skip
# Work is done (the resolution clock stops) in these; reopening leaves them.
DONE = frozenset({"resolved", "fulfilled"})
FINAL = frozenset({"closed", "cancelled", "rejected"})
NOT_OPEN = DONE | FINAL
# What a customer may do to their own ticket; everything else is an agent's move.
CUSTOMER_MOVES = frozenset(
    {
        ("new", "cancelled"),
        ("resolved", "closed"),
        ("resolved", "in_progress"),
        ("fulfilled", "closed"),
        ("fulfilled", "in_progress"),
    }
)


def allowed(kind: str, status: str) -> frozenset[str]:
    return TRANSITIONS[kind].get(status, frozenset())


def refusal(kind: str, current: str, wanted: str) -> str | None:
    """Why `current` -> `wanted` is illegal for `kind`, or None when it is legal."""
    workflow = TRANSITIONS[kind]
    if wanted not in workflow:
        return f"status: {wanted!r} is not a status of a {kind} ({', '.join(sorted(workflow))})"
    if wanted in allowed(kind, current):
        return None
    options = ", ".join(sorted(allowed(kind, current))) or "none, it is final"
    return f"status: a {kind} cannot go from {current!r} to {wanted!r} (allowed: {options})"


def is_open(status: str) -> bool:
    return status not in NOT_OPEN
