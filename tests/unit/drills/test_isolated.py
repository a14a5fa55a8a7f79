"""Isolated mode's pure parts: the bubble's firewall rules, the copy's configuration, and the
arithmetic that judges a copy (its age, its row counts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drctl.topology import load_topology
from drills.engine import DrillRefused, mode_supported
from drills.isolated import (
    BUBBLE_TAG,
    DROPPED_FILES,
    app_dsn,
    bubble_rules,
    copy_age,
    count_verdict,
    parse_lsn,
    standalone_conf,
)
from drills.load import CATALOGUE_DIR, load_drill
from drills.model import Mode, Target

BUBBLE = "127.10.99.1"
ESTATE = ["127.10.1.1", "127.10.2.1"]


def test_every_rule_is_a_tagged_drop() -> None:
    for rule in bubble_rules(BUBBLE, "drctl/bubble", ESTATE):
        assert rule[-2:] == ["-j", "DROP"]
        assert rule[rule.index("--comment") :][:2] == ["--comment", BUBBLE_TAG]


def test_the_bubble_opens_no_connection_but_to_itself() -> None:
    rules = bubble_rules(BUBBLE, "drctl/bubble", ESTATE)
    catch_all = " ".join(rules[0])
    assert catch_all.startswith("-m cgroup --path drctl/bubble -m conntrack --ctstate NEW")
    assert f"! -d {BUBBLE} " in catch_all


@pytest.mark.parametrize("site", ESTATE)
def test_each_site_is_cut_off_both_ways(site: str) -> None:
    rules = [" ".join(r) for r in bubble_rules(BUBBLE, "drctl/bubble", ESTATE)]
    assert any(f"--ctorigdst {BUBBLE} --ctrepldst {site} " in r for r in rules)  # site -> bubble
    assert any(f"--ctorigdst {site} --ctrepldst {BUBBLE} " in r for r in rules)  # bubble -> site
    assert any(f"--path drctl/bubble -d {site} " in r for r in rules)


def test_the_copy_is_a_standalone_primary_on_the_bubble_address() -> None:
    conf = standalone_conf(BUBBLE, 5433, Path("/x/run"), "crm-db-bubble")
    assert f"listen_addresses = '{BUBBLE}'" in conf
    assert "port = 5433" in conf
    assert "unix_socket_directories = '/x/run'" in conf
    assert "primary_conninfo" not in conf and "include" not in conf
    assert {"standby.signal", "recovery.signal", "postgresql.base.conf"} <= set(DROPPED_FILES)


def test_the_app_reaches_the_copy_only() -> None:
    dsn = app_dsn("ecm", BUBBLE, 5432, "pw")
    assert f"host={BUBBLE} port=5432 dbname=ecm user=ecm password=pw" in dsn


@pytest.mark.parametrize(
    ("text", "value"),
    [("0/0", 0), ("0/120413D8", 0x120413D8), ("1B/10", (0x1B << 32) | 0x10)],
)
def test_lsn(text: str, value: int) -> None:
    assert parse_lsn(text) == value


@pytest.mark.parametrize(
    ("primary", "replay", "lag", "age"),
    [
        (100, 100, 0.0042, 0.0),  # caught up: the last measured lag is history, not age
        (100, 120, None, 0.0),  # the feedback crossed the sample
        (120, 100, 0.0042, 0.004),  # behind: the measured replay lag, in ms
        (120, 100, None, 0.0),  # behind with no lag measured yet
    ],
)
def test_copy_age(primary: int, replay: int, lag: float | None, age: float) -> None:
    assert copy_age(primary, replay, lag) == age


@pytest.mark.parametrize(
    ("bubble", "before", "after", "ok"),
    [
        (5, 5, 5, True),
        (6, 5, 7, True),  # rows replicated during the copy: the copy holds some of them
        (5, 5, 7, True),
        (7, 7, 5, True),  # rows deleted during the copy
        (4, 5, 7, False),  # fewer rows than the secondary had before the copy began
        (8, 5, 7, False),  # rows the secondary never had
    ],
)
def test_row_counts(bubble: int, before: int, after: int, ok: bool) -> None:
    passed, line = count_verdict("tickets", bubble, before, after)
    assert passed is ok
    assert line.startswith(f"tickets: {bubble} in the bubble, ")


def test_the_catalogue_drill_loads_in_isolated_mode() -> None:
    drill = load_drill(CATALOGUE_DIR / "isolated-test.yaml", load_topology())
    assert drill.mode is Mode.ISOLATED and drill.kind == "isolated-test"
    assert drill.systems == ["ecm", "crm"] and drill.method == []
    mode_supported(drill)  # the lab: accepted
    with pytest.raises(DrillRefused, match="lab only"):
        mode_supported(drill.model_copy(update={"target": Target.PRODUCTION}))
