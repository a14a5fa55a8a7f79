"""RTO and RPO from raw probe samples (DESIGN §6). Pure functions: a report can recompute them.

- t1: the first successful sample after t0 from which no sample fails for `stable` seconds.
- detection: the first failed sample at or after t0.
- RPO: acknowledged writes missing from the primary after recovery are lost; RPO seconds is
  t0 minus the client time of the last acknowledged write before the earliest lost one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

Sample = tuple[float, bool]  # (time, ok)


def merged(
    read: Iterable[tuple[float, bool, float]], write: Iterable[tuple[float, int, bool]]
) -> list[Sample]:
    """Reads and writes as one time-ordered availability series: both must succeed."""
    series = [(t, ok) for t, ok, _ in read] + [(t, ok) for t, _, ok in write]
    return sorted(series)


def detection(samples: list[Sample], t0: float) -> float | None:
    return next((t for t, ok in samples if t >= t0 and not ok), None)


def recovery_time(samples: list[Sample], t0: float, stable: float, until: float) -> float | None:
    """t1, or None when service never came back stably before `until` (end of observation)."""
    candidate: float | None = None
    for t, ok in samples:
        if t < t0:
            continue
        if not ok:
            candidate = None
        elif candidate is None:
            candidate = t
        if candidate is not None and t - candidate >= stable:
            return candidate
    if candidate is not None and until - candidate >= stable:
        return candidate
    return None


def resolution(samples: list[Sample]) -> float | None:
    """Median gap between consecutive samples: the precision of t0/t1."""
    gaps = sorted(b[0] - a[0] for a, b in itertools.pairwise(samples))
    return gaps[len(gaps) // 2] if gaps else None


@dataclass(frozen=True)
class Rpo:
    lost: list[int]
    seconds: float


def rpo(acked: dict[int, float], present: set[int], t0: float) -> Rpo:
    lost = sorted(seq for seq in acked if seq not in present)
    if not lost:
        return Rpo([], 0.0)
    earliest = min(acked[s] for s in lost)
    before = [ts for seq, ts in acked.items() if ts < earliest and seq not in lost]
    last_good = max(before) if before else earliest
    return Rpo(lost, max(0.0, t0 - last_good))


def first_failure_free_since(samples: list[Sample]) -> bool:
    """True when every sample succeeded (steady state before the fault)."""
    return all(ok for _, ok in samples)


@dataclass(frozen=True)
class RestoreLosses:
    lost: list[int]  # acknowledged before the restore target, missing: must be empty
    discarded: list[int]  # acknowledged after it, missing: rolled back by the restore
    rpo_seconds: float | None


def restore_losses(
    acked: dict[int, float],
    acked_at: dict[int, float],
    present: set[int],
    t0: float,
    cut: float,
    last_transaction: float | None,
) -> RestoreLosses:
    """After a point-in-time restore to `cut`: a write whose acknowledgement arrived before
    `cut` was committed before it and must be back. RPO = t0 - commit time of the last
    recovered transaction (from PostgreSQL's log), else of the last write that came back."""
    missing = [seq for seq in acked if seq not in present]
    lost = sorted(seq for seq in missing if acked_at.get(seq, acked[seq]) < cut)
    discarded = sorted(set(missing) - set(lost))
    last = last_transaction
    if last is None:
        kept = [ts for seq, ts in acked.items() if seq in present and ts < cut]
        last = max(kept) if kept else None
    rpo_seconds = None if last is None else round(max(0.0, t0 - last), 3)
    return RestoreLosses(lost, discarded, rpo_seconds)
