"""`drctl drill history`: RTO/RPO per system over time against objectives; open actions."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from journal_factory import DAY, EPOCH, Spec, SystemSpec, make_journal
from rich.console import Console

from drills.history import (
    history_chart,
    history_table,
    open_actions,
    sparkline,
    summarise,
    write_history_svg,
)
from drills.journal import CorrectiveAction, Journal

SVG = "{http://www.w3.org/2000/svg}"
# (days after EPOCH, ecm RTO, crm RTO); crm did not recover in the third run
RUNS = [(0, 40.0, 200.0), (30, 75.0, 120.0), (60, 12.0, None), (90, 8.4, 90.0)]


def _journals() -> list[Journal]:
    out = [
        make_journal(
            Spec(
                drill_id=f"drill-{i}",
                started_at=EPOCH + day * DAY,
                systems=[
                    SystemSpec(name="ecm", rto=ecm),
                    SystemSpec(name="crm", rto=crm, objective_rto=300, objective_rpo=30),
                ],
            )
        )
        for i, (day, ecm, crm) in enumerate(RUNS)
    ]
    return [out[2], out[0], out[3], out[1]]  # as a directory listing might give them


def test_rows_are_per_run_per_system_oldest_first() -> None:
    rows = summarise(_journals())
    assert [(r.date, r.system) for r in rows] == [
        ("2026-03-02", "crm"),
        ("2026-03-02", "ecm"),
        ("2026-04-01", "crm"),
        ("2026-04-01", "ecm"),
        ("2026-05-01", "crm"),
        ("2026-05-01", "ecm"),
        ("2026-05-31", "crm"),
        ("2026-05-31", "ecm"),
    ]
    ecm = [r for r in rows if r.system == "ecm"]
    assert [r.rto_seconds for r in ecm] == [40.0, 75.0, 12.0, 8.4]
    assert [r.met for r in ecm] == [True, False, True, True]
    assert [r.drill for r in ecm] == ["drill-0", "drill-1", "drill-2", "drill-3"]
    assert {(r.objective_rto_seconds, r.objective_rpo_seconds) for r in ecm} == {(60.0, 0.0)}
    crm = [r for r in rows if r.system == "crm"]
    assert crm[2].rto_seconds is None and not crm[2].met and crm[2].result == "failed"
    assert summarise([]) == []


def test_history_table() -> None:
    table = history_table(summarise(_journals()))
    assert table.row_count == 8
    console = Console(width=140, record=True, color_system=None)
    console.print(table)
    lines = console.export_text().splitlines()
    assert any("2026-04-01" in x and "ecm" in x and "75.00" in x and "missed" in x for x in lines)
    assert any("2026-05-01" in x and "crm" in x and "—" in x for x in lines)


def test_terminal_chart_bars_against_the_objective_line() -> None:
    chart = history_chart(summarise(_journals()), "ecm", width=40)
    head, *runs, trend = chart.splitlines()
    assert head == "ecm: RTO per drill (s); │ objective 60 s"
    assert [line.split()[0] for line in runs] == [
        "2026-03-02",
        "2026-04-01",
        "2026-05-01",
        "2026-05-31",
    ]
    # scale: 75 s * 1.1 fills 40 cells; the objective at 60 s is column 29 of the bar
    bar_start = len("2026-03-02 drill-0 ")
    columns = {line.index("│", bar_start) - bar_start for line in runs}
    assert columns == {round(60 * 40 / 82.5)}
    assert runs[1].endswith("75.00 missed") and runs[0].endswith("40.00 met")
    bars = [line[bar_start : bar_start + 40].replace("│", " ").rstrip() for line in runs]
    assert len(bars[1]) > len(bars[0]) > len(bars[2]) > len(bars[3])  # longer is slower
    assert trend.split()[-1] == sparkline([40.0, 75.0, 12.0, 8.4], 82.5)


def test_terminal_chart_shows_a_run_without_recovery_and_an_unknown_system() -> None:
    rows = summarise(_journals())
    chart = history_chart(rows, "crm")
    assert "✗ no recovery" in chart and "missed" in chart
    assert chart.splitlines()[-1].endswith("✗▃")
    assert history_chart(rows, "hr") == "hr: no drill on record"


def test_sparkline() -> None:
    assert sparkline([0, 50, 100, None], 100) == "▁▅█✗"


def test_history_svg(tmp_path: Path) -> None:
    rows = summarise(_journals())
    path = write_history_svg(rows, tmp_path / "history.svg")
    svg = ET.parse(path).getroot()
    assert svg.tag == f"{SVG}svg"
    circles = list(svg.iter(f"{SVG}circle"))
    assert len(circles) == 7  # one per measured run; crm's unrecovered run is a cross
    assert [c.get("class") for c in circles].count("missed") == 1
    objectives = [e for e in svg.iter(f"{SVG}line") if e.get("class") == "objective"]
    assert len(objectives) == 2
    texts = {e.text for e in svg.iter(f"{SVG}text")}
    assert {"objective 60 s", "objective 300 s", "crm: RTO (s)", "ecm: RTO (s)"} <= texts
    assert path.read_text() == write_history_svg(rows, tmp_path / "again.svg").read_text()
    empty = ET.parse(write_history_svg([], tmp_path / "empty.svg")).getroot()
    assert "No drill on record." in {e.text for e in empty.iter(f"{SVG}text")}


def _action(id: str, due: str, status: str = "open", owner: str = "ops") -> CorrectiveAction:
    return CorrectiveAction(id=id, description=id, owner=owner, due=due, status=status)


def test_open_actions_latest_state_by_id() -> None:
    first = make_journal(
        Spec(
            started_at=EPOCH,
            corrective=[_action("CA-1", "2026-05-01"), _action("CA-2", "2026-04-01")],
        )
    )
    second = make_journal(
        Spec(
            started_at=EPOCH + 30 * DAY,
            corrective=[
                _action("CA-1", "2026-05-01", status="done"),
                _action("CA-2", "2026-06-01", owner="dba"),
                _action("CA-3", "2026-04-15"),
            ],
        )
    )
    for journals in ([first, second], [second, first]):  # order of the listing does not matter
        actions = open_actions(journals)
        assert [(a.id, a.due, a.owner) for a in actions] == [
            ("CA-3", "2026-04-15", "ops"),
            ("CA-2", "2026-06-01", "dba"),
        ]
    assert open_actions([]) == []
