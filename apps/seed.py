"""Loads realistic volume into ECM and CRM (`drctl lab seed` calls `seed`).

Bulk loading with COPY, in batches committed one by one; the seeded rows belong to seeded
staff accounts, so a re-run counts what is there and only tops up to the requested numbers.
Both schemas must be migrated first (the deploy does that).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from apps.seeding.common import quiet
from apps.seeding.crm import seed_crm
from apps.seeding.ecm import seed_ecm


def seed(
    ecm_dsn: str,
    crm_dsn: str,
    documents: int,
    tickets: int,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    """Top ECM up to `documents` documents and CRM up to `tickets` tickets.

    The two databases load in parallel (they are separate clusters in the lab), so
    `progress(stage, done, total)` is called from two threads as batches commit; stages are
    "documents" and "tickets". The first failure is raised once both loaders have stopped.
    """
    report = progress or quiet
    with ThreadPoolExecutor(2, thread_name_prefix="seed") as pool:
        loads = [
            pool.submit(seed_ecm, ecm_dsn, max(0, documents), report),
            pool.submit(seed_crm, crm_dsn, max(0, tickets), report),
        ]
    for load in loads:
        load.result()
