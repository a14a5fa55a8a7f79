"""cgroup v2 operations: a site (or one service) is a cgroup, so powering it off is one write."""

from __future__ import annotations

import time
from pathlib import Path


def pids(cgroup: Path) -> list[int]:
    """Every process in the cgroup and its descendants."""
    if not cgroup.is_dir():
        return []
    out: list[int] = []
    for procs in cgroup.rglob("cgroup.procs"):
        try:
            out += [int(p) for p in procs.read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def kill(cgroup: Path, timeout: float = 10.0) -> int:
    """SIGKILL every process in the cgroup at once (cgroup.kill); returns how many there were."""
    victims = pids(cgroup)
    if not victims:
        return 0
    (cgroup / "cgroup.kill").write_text("1")
    deadline = time.monotonic() + timeout
    while pids(cgroup):
        if time.monotonic() > deadline:
            raise TimeoutError(f"processes survive in {cgroup}: {pids(cgroup)}")
        time.sleep(0.02)
    return len(victims)


def remove_tree(cgroup: Path) -> None:
    """Remove empty cgroups bottom-up (rmdir is how cgroups are deleted)."""
    if not cgroup.is_dir():
        return
    for child in sorted((p for p in cgroup.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        child.rmdir()
    cgroup.rmdir()
