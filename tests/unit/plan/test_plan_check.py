"""`drctl plan check` from the command line, the `staleness()` contract the exporter relies on,
and the committed plan itself (CI runs this: the plan in runbooks/plan/ must be current)."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from plan_estate import NOW, REPO, Estate

from drctl.cli import main
from drctl.plan import TRIGGERS, PlanPaths, assess, render_plan, staleness, write_plan
from drctl.plan.check import NOW_ENV


def cli(estate: Estate, action: str, *extra: str) -> int:
    p = estate.paths
    args = ["plan", action, "--out", str(p.plan), "--topology", str(p.topology)]
    args += ["--data", str(p.data), "--journals", str(p.journals), "--runbooks", str(p.runbooks)]
    return main([*args, "--catalogue", str(p.catalogue), *extra])


def test_committed_plan_is_current() -> None:
    """The committed plan renders from the committed data and no trigger fires now (real clock).

    When this fails, the message names each reason: render the plan again (`drctl plan render`)
    after changing an input, or act on the trigger (run the drill and commit its journal, close
    the corrective action, ...). A waiver in governance.yaml covers new systems until their first
    drill, and only until it expires."""
    paths = PlanPaths.of(journals=REPO / "drills" / "journals")
    result = assess(paths)
    assert result.failing() == [], "\n".join(result.failing())


def test_check_passes_and_reports_waived_triggers(
    rendered: Estate, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(rendered, "check", "--now", "2026-12-01") == 0
    out = capsys.readouterr().out
    assert "waived: drill_overdue: ecm (tier 1)" in out
    assert out.rstrip().endswith("plan is current as of 2026-12-01T00:00:00Z")


def test_check_fails_naming_each_reason(
    rendered: Estate, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(rendered, "check", "--now", "2027-02-16T08:00:00Z") == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == (
        "plan is stale: 4 reason(s) from corrective_action_past_due, drill_overdue"
    )
    assert lines[0].startswith("drill_overdue: ecm (tier 1): no successful drill on record")


def test_ignored_triggers_are_reported_but_do_not_fail(
    rendered: Estate, capsys: pytest.CaptureFixture[str]
) -> None:
    ignore = ["--ignore-trigger", "drill_overdue", "--ignore-trigger", "corrective_action_past_due"]
    assert cli(rendered, "check", "--now", "2027-02-16", *ignore) == 0
    assert "ignored: drill_overdue: ecm" in capsys.readouterr().out


def test_now_from_the_environment(rendered: Estate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NOW_ENV, "2027-02-16")
    assert cli(rendered, "check") == 1
    monkeypatch.setenv(NOW_ENV, "2026-12-01T10:00:00")
    assert cli(rendered, "check") == 0
    monkeypatch.setenv(NOW_ENV, "next tuesday")
    assert cli(rendered, "check") == 1


def test_bad_now_is_a_message(rendered: Estate, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(rendered, "check", "--now", "soon") == 1
    assert capsys.readouterr().err == ("drctl: error: not an ISO date or date-time: 'soon'\n")


def test_render_command(estate: Estate, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(estate, "render", "--no-pdf") == 0
    out = capsys.readouterr().out
    assert out.startswith("plan version 1 as of 2026-11-25T00:00:00Z: sections changed: 1 Policy")
    assert cli(estate, "render", "--no-pdf") == 0
    assert capsys.readouterr().out.startswith("plan unchanged: version 1")
    assert sorted(p.name for p in estate.paths.plan.iterdir()) == [
        "manifest.json",
        "plan.html",
        "plan.md",
    ]


def test_staleness_maps_every_trigger_to_its_reasons(rendered: Estate) -> None:
    p = rendered.paths
    found = staleness(p.topology, p.data, p.journals, p.plan, now=NOW)
    assert set(found) == set(TRIGGERS)
    assert all(reasons == [] for reasons in found.values())
    later = staleness(p.topology, p.data, p.journals, p.plan, now=NOW + timedelta(days=90))
    assert [n for n, r in later.items() if r] == ["drill_overdue", "corrective_action_past_due"]


def test_staleness_accepts_the_directory_holding_plan(rendered: Estate) -> None:
    """The exporter's default plan_dir is runbooks/; the plan lives in runbooks/plan/."""
    p = rendered.paths
    found = staleness(p.topology, p.data, p.journals, p.plan.parent, now=NOW)
    assert found["plan_differs"] == []


def test_generated_estate_renders_and_passes(tmp_path: Path) -> None:
    """The benchmark's generator, small: many sites, tiers, waves and journals."""
    spec = importlib.util.spec_from_file_location(
        "plan_bench", REPO / "benchmarks" / "plan_bench.py"
    )
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    paths = bench.generate(tmp_path, n_systems=60, n_sites=12)
    rendered = render_plan(paths)
    write_plan(rendered, paths.plan, pdf=False)
    assert "| sys-0059 |" in rendered.markdown
    result = assess(paths, datetime(2026, 11, 21, tzinfo=UTC))
    assert result.failing() == []
