"""Rendering: deterministic bytes, every section of PLAN.md filled from data, measured figures
with their evidence, versions and the change log."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from plan_estate import NOW, REPO, Estate, copy_estate

from drctl.plan import html as plan_html
from drctl.plan.manifest import read_manifest
from drctl.plan.render import SECTION_TITLES

FILES = ("plan.md", "plan.html", "manifest.json")


def snapshot(plan_dir: Path) -> dict[str, bytes]:
    return {name: (plan_dir / name).read_bytes() for name in FILES}


def test_same_inputs_render_byte_identical_plans(tmp_path: Path) -> None:
    one, two = copy_estate(tmp_path / "one"), copy_estate(tmp_path / "two")
    for estate in (one, two):
        estate.journal("run-1", NOW - timedelta(days=3))
        estate.render()
    assert snapshot(one.paths.plan) == snapshot(two.paths.plan)


def test_rendering_again_changes_nothing(rendered: Estate) -> None:
    before = snapshot(rendered.paths.plan)
    again = rendered.render()
    assert again.change is None
    assert again.manifest.version == 1
    assert snapshot(rendered.paths.plan) == before


def test_render_time_comes_from_the_inputs_not_the_clock(rendered: Estate) -> None:
    manifest = read_manifest(rendered.paths.plan)
    assert manifest is not None
    assert manifest.as_of == "2026-11-25T00:00:00Z"  # governance.yaml's document.updated
    rendered.journal("run-1", NOW - timedelta(days=1))  # ends 2026-11-30T12:05:00Z
    assert rendered.render().manifest.as_of == "2026-11-30T12:05:00Z"


def test_every_section_of_plan_md_is_rendered_in_order(rendered: Estate) -> None:
    text = (rendered.paths.plan / "plan.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings == [f"{n}. {t}" if n != "A" else t for n, t in SECTION_TITLES]
    shared = (REPO.parent / "shared" / "PLAN.md").resolve()
    if shared.is_file():  # the contract this follows, when it is checked out next to the repo
        rows = re.findall(r"^\| (\d+|A) \| ([^|]+) \|", shared.read_text(encoding="utf-8"), re.M)
        assert [(n, t.strip()) for n, t in rows] == SECTION_TITLES


def test_html_has_the_same_sections(rendered: Estate) -> None:
    html = (rendered.paths.plan / "plan.html").read_text(encoding="utf-8")
    ids = re.findall(r'<section id="(s[0-9a]+)">', html)
    assert ids == [f"s{n.lower()}" for n, _ in SECTION_TITLES]
    assert html.startswith("<!DOCTYPE html>")


def test_measured_figures_against_objectives_with_date_and_evidence(rendered: Estate) -> None:
    rendered.journal("run-1", NOW - timedelta(days=40), rto={"ecm": 70.0}, passed=False)
    rendered.journal("run-2", NOW - timedelta(days=2), rto={"ecm": 21.25})
    text = rendered.render().markdown
    link = "[run-2.json](../../journals/run-2.json)"
    assert f"| ecm | 60 s | 21.25 s | met | 0 s | 0 s (0 lost) | met | 2026-11-29 | {link} |" in (
        text
    )
    assert "| ecm | 70 s → 21.25 s | 0 s → 0 s |" in text  # trend, oldest first
    assert "| 1 (mission-critical) | every 90 days | ecm | 2026-11-29 | 2027-02-27 |" in text


def test_change_log_records_each_version(rendered: Estate) -> None:
    rendered.edit("bia.yaml", "wrt_seconds: 3600", "wrt_seconds: 2700")
    v2 = rendered.render()
    rendered.edit("topology.yaml", "distance_km: 1530", "distance_km: 1531")
    v3 = rendered.render()
    assert [c.version for c in v3.manifest.changelog] == [1, 2, 3]
    assert v2.change is not None and v3.change is not None
    assert v2.change.inputs_changed == ["data/bia.yaml"]
    assert v2.change.sections == ["5 Business impact analysis"]
    assert v3.change.inputs_changed == ["topology.yaml"]
    assert "3 Facilities and infrastructure" in v3.change.sections
    # newest first in section 0
    log = v3.markdown.split("### Change log", 1)[1]
    assert log.index("\n| 3 |") < log.index("\n| 2 |") < log.index("\n| 1 |")
    assert "| 2 | 2026-11-25 | changed: data/bia.yaml | 5 Business impact analysis |" in log


def test_waiver_is_shown_in_the_plan(rendered: Estate) -> None:
    text = (rendered.paths.plan / "plan.md").read_text(encoding="utf-8")
    assert "| W-2026-01 | `drill_overdue` | ecm, crm |" in text
    assert "waived: ecm (tier 1): no successful drill on record" in text
    assert "now (waiver W-2026-01 until 2027-02-15)" in text


def test_no_pdf_without_a_converter(rendered: Estate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("drctl.plan.html.shutil.which", lambda name: None)
    plan_dir = rendered.paths.plan
    assert plan_html.write_pdf(plan_dir / "plan.html", plan_dir / "plan.md") is None
    assert not (plan_dir / "plan.pdf").exists()
