"""The drill's evidence, rendered from the journal alone: HTML with a timeline SVG, JUnit, table."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from journal_factory import Spec, SystemSpec, make_journal
from rich.console import Console

from drills.journal import CorrectiveAction, Journal, Samples
from drills.report import render_html, summary_table, timeline_svg, write_html, write_junit

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def journal() -> Journal:
    return make_journal(
        Spec(
            systems=[
                SystemSpec(name="ecm", rto=12.5),
                SystemSpec(name="crm", rto=75.0, objective_rto=60, objective_rpo=0, lost=3),
            ],
            failed_activity=True,
            corrective=[
                CorrectiveAction(
                    id="CA-7",
                    description="shorten crm <health> check",
                    owner="ops",
                    due="2026-04-01",
                )
            ],
        )
    )


def _svgs(html: str) -> list[ET.Element]:
    out, rest = [], html
    while "<svg" in rest:
        start = rest.index("<svg")
        end = rest.index("</svg>", start) + len("</svg>")
        out.append(ET.fromstring(rest[start:end]))
        rest = rest[end:]
    return out


def test_html_has_the_header_and_the_figures_against_objectives(journal: Journal) -> None:
    html = render_html(journal)
    assert html.startswith("<!DOCTYPE html>")
    for text in (
        "brindisi-site-loss",
        journal.run_id,
        "disruptive",
        "2026-03-02 09:00:00.000Z",
        "crm: objectives missed",  # the reasons
        "12.50 s",  # ecm RTO
        "75.00 s",  # crm RTO
        "≤ 60 s",
        "(seq 48, 49, 50)",  # the lost writes
        "ecm-db-brindisi → ecm-db-valencia",
        "0.050 s",  # probe resolution
        "t0 + 45.00 s",  # crm declaration
    ):
        assert text in html, text
    assert html.count('<span class="missed">missed</span>') >= 3  # crm: RTO, RPO, writes, all


def test_html_lists_activities_and_corrective_actions_escaped(journal: Journal) -> None:
    html = render_html(journal)
    assert "timed out after 30 s waiting for leader at brindisi" in html
    assert "ssh://lab/brindisi" in html
    assert "+15.00 s" in html  # the fault, relative to the start
    assert "CA-7" in html and "shorten crm &lt;health&gt; check" in html
    assert "<health>" not in html


def test_html_is_self_contained_and_deterministic(journal: Journal, tmp_path: Path) -> None:
    path = write_html(journal, tmp_path / "report.html")
    html = path.read_text(encoding="utf-8")
    assert html == render_html(journal) == render_html(journal.model_copy(deep=True))
    assert "<script" not in html and "<link" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html


def test_each_system_has_a_valid_timeline_with_markers_and_phases(journal: Journal) -> None:
    svgs = _svgs(render_html(journal))
    assert len(svgs) == 2  # crm, ecm (sorted)
    for svg in svgs:
        assert svg.tag == f"{SVG}svg"
        markers = {
            e.get("class", "").split()[1]
            for e in svg.iter(f"{SVG}line")
            if "marker" in e.get("class", "")
        }
        assert markers == {"t0", "detection", "declaration", "t1"}
        phases = {
            e.findtext(f"{SVG}title") for e in svg.iter(f"{SVG}rect") if e.get("class") == "phase"
        }
        # preflight ended before the first probe: outside the chart
        assert phases == {"probes", "fault", "recovery", "verify"}
        labels = {e.text for e in svg.iter(f"{SVG}text")}
        assert {"probes", "recovery", "verify", "t0 fault", "reads", "writes"} <= labels
    assert "t1 recovered (RTO 75.00 s)" in {e.text for e in svgs[0].iter(f"{SVG}text")}


def _x(svg: ET.Element, cls: str) -> float:
    line = next(e for e in svg.iter(f"{SVG}line") if e.get("class") == f"marker {cls}")
    return float(line.get("x1", "nan"))


def test_the_outage_is_red_between_t0_and_t1(journal: Journal) -> None:
    svg = ET.fromstring(timeline_svg(journal, "ecm"))
    t0, t1 = _x(svg, "t0"), _x(svg, "t1")
    assert _x(svg, "detection") >= t0 and t0 < _x(svg, "declaration") < t1
    rects = [e for e in svg.iter(f"{SVG}rect") if e.get("class") in ("ok", "failed")]
    failed = [e for e in rects if e.get("class") == "failed"]
    assert len(failed) == 2  # one span in reads, one in writes: runs are merged
    for e in failed:
        start = float(e.get("x", "nan"))
        end = start + float(e.get("width", "nan"))
        assert t0 - 1 <= start <= t0 + 1 and t1 - 1 <= end <= t1 + 1
    assert len([e for e in rects if e.get("class") == "ok"]) == 4  # before and after, twice


def test_lost_writes_are_marked(journal: Journal) -> None:
    svg = ET.fromstring(timeline_svg(journal, "crm"))
    assert len([e for e in svg.iter(f"{SVG}path") if e.get("class") == "lost"]) == 3
    svg = ET.fromstring(timeline_svg(journal, "ecm"))
    assert not [e for e in svg.iter(f"{SVG}path") if e.get("class") == "lost"]


def test_a_long_silence_is_left_blank(journal: Journal) -> None:
    samples = journal.samples["ecm"]
    t0 = journal.systems["ecm"].t0 or 0
    reads = [s for s in samples.read if not (t0 < s[0] < t0 + 10)]  # no answer at all for 10 s
    j = journal.model_copy(update={"samples": {"ecm": Samples(read=reads, write=[])}})
    svg = ET.fromstring(timeline_svg(j, "ecm"))
    spans = [e for e in svg.iter(f"{SVG}rect") if e.get("class") in ("ok", "failed")]
    ends = sorted(
        (float(e.get("x", 0)), float(e.get("x", 0)) + float(e.get("width", 0))) for e in spans
    )
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(ends)]
    assert max(gaps) > 50  # ~10 s of a ~85 s chart, 880 px wide


def test_a_system_without_samples_says_so(journal: Journal) -> None:
    j = journal.model_copy(update={"samples": {}})
    j.systems["ecm"] = j.systems["ecm"].model_copy(
        update={"t0": None, "t1": None, "detection": None, "declaration": None}
    )
    assert timeline_svg(j, "ecm") == "<p>No probe samples recorded for ecm.</p>"
    assert "No probe samples recorded for ecm." in render_html(j)


def _junit(journal: Journal, tmp_path: Path) -> ET.Element:
    path = write_junit(journal, tmp_path / "junit.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    return suite


def test_junit_fails_missed_objectives_and_failed_activities(
    journal: Journal, tmp_path: Path
) -> None:
    suite = _junit(journal, tmp_path)
    cases = {(c.get("classname"), c.get("name")): c for c in suite.findall("testcase")}
    failures = {k: f for k, c in cases.items() if (f := c.find("failure")) is not None}
    prefix = "drill.brindisi-site-loss"
    assert set(failures) == {
        (f"{prefix}.crm", "rto"),
        (f"{prefix}.crm", "rpo"),
        (f"{prefix}.crm", "writes-lost"),
        (f"{prefix}.activities", "failback: step switchover to brindisi"),
        (prefix, "result"),
    }
    assert len(cases) == 2 * 4 + 1 + 1
    assert suite.get("tests") == "10" and suite.get("failures") == "5"
    assert failures[(f"{prefix}.crm", "rto")].get("message") == "RTO 75.00 s > objective 60 s"
    assert "3 acknowledged write(s) lost (seq 48, 49, 50)" in (
        failures[(f"{prefix}.crm", "writes-lost")].get("message") or ""
    )
    assert "timed out" in (
        failures[(f"{prefix}.activities", "failback: step switchover to brindisi")].text or ""
    )


def test_junit_split_brain_no_recovery_and_documents(tmp_path: Path) -> None:
    j = make_journal(
        Spec(systems=[SystemSpec(name="ecm", rto=None, split_brain=2, documents_mismatched=1)])
    )
    suite = _junit(j, tmp_path)
    msgs = {c.get("name"): c.find("failure") for c in suite.findall("testcase")}
    assert msgs["rto"] is not None and msgs["rto"].get("message") == "no recovery observed (no t1)"
    assert msgs["split-brain"] is not None
    assert msgs["split-brain"].get("message") == "2 split-brain observation(s)"
    assert msgs["writes-lost"] is not None
    assert "1 document(s) failed the SHA-256 check" in (msgs["writes-lost"].get("message") or "")


def test_junit_of_a_passed_drill_has_no_failures(tmp_path: Path) -> None:
    suite = _junit(make_journal(Spec()), tmp_path)
    assert suite.get("failures") == "0" and suite.get("tests") == "5"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["result"] == "passed" and props["mode"] == "disruptive"


def test_async_writes_lost_within_the_rpo_do_not_fail(tmp_path: Path) -> None:
    j = make_journal(Spec(systems=[SystemSpec(name="crm", objective_rpo=30, lost=2)]))
    assert j.systems["crm"].rpo_seconds == pytest.approx(0.6)
    suite = _junit(j, tmp_path)
    assert suite.get("failures") == "0"


def test_summary_table(journal: Journal) -> None:
    table = summary_table(journal)
    assert table.row_count == 2
    console = Console(width=120, record=True, color_system=None)
    console.print(table)
    text = console.export_text()
    assert [c.header for c in table.columns] == [
        "system", "RTO s", "objective", "RPO s", "objective", "writes lost", "result",
    ]  # fmt: skip
    crm = next(line for line in text.splitlines() if " crm " in line)
    assert "75.00" in crm and "60" in crm and "missed" in crm and " 3 " in crm
    ecm = next(line for line in text.splitlines() if " ecm " in line)
    assert "12.50" in ecm and "met" in ecm
