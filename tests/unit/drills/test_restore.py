"""Pure parts of restore drills: the target pgBackRest is given, PostgreSQL's account of where
recovery stopped, and which acknowledged writes a point-in-time restore must bring back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drills.measure import restore_losses
from drills.restore import last_transaction, pgbackrest_time

_AT = "2026-12-01 11:45:41.696 UTC [5495] LOG:  "
LOG = (
    "waiting for server to start.... done\n"
    "server started\n"
    f"{_AT}recovery stopping before commit of transaction 1846, time 2026-12-01 11:43:06.43508+00\n"
    f"{_AT}last completed transaction was at log time 2026-12-01 11:43:06.378629+00\n"
    "2026-12-01 11:45:41.797 UTC [5495] LOG:  selected new timeline ID: 3\n"
)


def test_target_is_rounded_up_to_the_millisecond_in_utc() -> None:
    t0 = datetime(2026, 12, 1, 11, 43, 6, 384159, tzinfo=UTC).timestamp()
    assert pgbackrest_time(t0) == "2026-12-01 11:43:06.385+00"
    whole = datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC).timestamp()
    assert pgbackrest_time(whole) == "2026-12-01 23:59:59.000+00"
    assert pgbackrest_time(whole + 0.9999) == "2026-12-02 00:00:00.000+00"


def test_last_recovered_transaction_is_read_from_postgresql_log() -> None:
    expected = datetime(2026, 12, 1, 11, 43, 6, 378629, tzinfo=UTC).timestamp()
    assert last_transaction(LOG) == pytest.approx(expected)


def test_no_transaction_line_means_unknown() -> None:
    assert last_transaction("server started\nselected new timeline ID: 2\n") is None
    assert last_transaction("last completed transaction was at log time garbage here") is None


def test_writes_acknowledged_before_the_target_must_come_back() -> None:
    acked = {1: 10.0, 2: 10.5, 3: 11.0, 4: 11.5}  # request start
    acked_at = {1: 10.1, 2: 10.6, 3: 11.1, 4: 11.6}  # acknowledgement
    # target 11.05: seq 3's request started before it, but its acknowledgement came after
    found = restore_losses(acked, acked_at, {1, 2}, t0=11.05, cut=11.05, last_transaction=10.55)
    assert found.lost == [] and found.discarded == [3, 4]
    assert found.rpo_seconds == pytest.approx(0.5)


def test_a_missing_write_acknowledged_before_the_target_is_lost() -> None:
    acked = {1: 10.0, 2: 10.5, 3: 11.0}
    acked_at = {1: 10.1, 2: 10.6, 3: 11.1}
    found = restore_losses(acked, acked_at, {1, 3}, t0=12.0, cut=12.0, last_transaction=None)
    assert found.lost == [2] and found.discarded == []
    # without PostgreSQL's line, the last write that came back stands for the last transaction
    assert found.rpo_seconds == pytest.approx(1.0)


def test_nothing_recovered_gives_no_rpo() -> None:
    found = restore_losses({1: 5.0}, {1: 5.1}, set(), t0=6.0, cut=6.0, last_transaction=None)
    assert found.lost == [1] and found.rpo_seconds is None
