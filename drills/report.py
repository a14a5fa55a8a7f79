"""Evidence derived from a drill journal alone: an HTML report, JUnit XML for CI, a rich table.

`drctl drill report JOURNAL` re-renders all three from the JSON, so nothing here reads the
estate, the clock or the network. The HTML page is self-contained (inline CSS and SVG, no
scripts) and byte-identical for the same journal: systems are sorted, numbers have fixed
precision, and nothing depends on the time it was rendered.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from rich.table import Table

from drills.journal import Activity, Journal, SystemResult

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #1b1f23; line-height: 1.45; }
h1 { border-bottom: 3px solid #0a5ea8; padding-bottom: .3rem; }
h2 { border-bottom: 1px solid #ccd; margin-top: 2rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.met, .passed, .succeeded { color: #17772f; font-weight: 600; }
.missed, .failed, .interrupted { color: #b3261e; font-weight: 600; }
.badge { padding: .1rem .5rem; border-radius: .3rem; border: 1px solid currentColor; }
svg { max-width: 100%; height: auto; border: 1px solid #ccd; }
""".strip()

NONE = "—"


def _num(value: float | None, unit: str = "", precision: int = 2) -> str:
    return NONE if value is None else f"{value:.{precision}f}{unit}"


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return NONE
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def _after_t0(r: SystemResult, moment: float | None) -> str:
    if moment is None or r.t0 is None:
        return NONE
    return f"t0 + {moment - r.t0:.2f} s"


def _verdict(ok: bool) -> str:
    return '<span class="met">met</span>' if ok else '<span class="missed">missed</span>'


def _table(head: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """Cells are HTML already (escaped by the caller)."""
    numeric = numeric or set()
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _objectives_table(r: SystemResult) -> str:
    no_loss = r.objective_rpo_seconds == 0
    lost = ", ".join(str(s) for s in r.lost_seqs[:20]) + (" …" if len(r.lost_seqs) > 20 else "")
    rows = [
        ["RTO", _num(r.rto_seconds, " s"), f"≤ {r.objective_rto_seconds:g} s", _verdict(r.rto_met)],
        ["RPO", _num(r.rpo_seconds, " s"), f"≤ {r.objective_rpo_seconds:g} s", _verdict(r.rpo_met)],
        ["writes acknowledged", str(r.writes_acknowledged), "", ""],
        [
            "writes lost",
            str(r.writes_lost) + (f" (seq {escape(lost)})" if lost else ""),
            "0" if no_loss else "within RPO",
            _verdict(r.writes_lost == 0) if no_loss else "",
        ],
        ["documents checked", str(r.documents_checked), "", ""],
        [
            "documents mismatched (SHA-256)",
            str(r.documents_mismatched),
            "0",
            _verdict(r.documents_mismatched == 0),
        ],
        [
            "split-brain observations",
            str(r.split_brain_observations),
            "0",
            _verdict(r.split_brain_observations == 0),
        ],
        [
            "primary before → after",
            f"{escape(r.primary_before or NONE)} → {escape(r.primary_after or NONE)}",
            "",
            "",
        ],
        ["probe resolution", _num(r.probe_resolution_seconds, " s", 3), "", ""],
        ["fault injected (t0)", _iso(r.t0), "", ""],
        ["detection (first failed probe)", _after_t0(r, r.detection), "", ""],
        ["declaration (recovery decided)", _after_t0(r, r.declaration), "", ""],
        ["recovered (t1)", _after_t0(r, r.t1), "", ""],
        ["<strong>all objectives</strong>", "", "", _verdict(r.met)],
    ]
    return _table(["measure", "value", "objective", "result"], rows, numeric={1})


def _duration(a: Activity) -> str:
    return NONE if a.end is None else f"{a.end - a.start:.2f} s"


def _activities(journal: Journal) -> str:
    rows = [
        [
            escape(a.phase.value),
            escape(a.kind),
            escape(a.name),
            f"+{a.start - journal.started_at:.2f} s",
            _duration(a),
            f'<span class="{escape(a.status)}">{escape(a.status)}</span>',
            escape(a.error or ""),
            escape(a.remote or ""),
        ]
        for a in journal.activities
    ]
    head = ["phase", "kind", "name", "start", "duration", "status", "error", "remote"]
    return _table(head, rows, numeric={3, 4}) if rows else "<p>No activity recorded.</p>"


def _corrective(journal: Journal) -> str:
    rows = [
        [escape(a.id), escape(a.description), escape(a.owner), escape(a.due), escape(a.status)]
        for a in journal.corrective_actions
    ]
    if not rows:
        return "<p>None recorded.</p>"
    return _table(["id", "action", "owner", "due", "status"], rows)


# --- timeline (inline SVG) -------------------------------------------------------------------

W, H, LEFT, RIGHT = 960, 244, 64, 16
PLOT_TOP, PLOT_BOTTOM = 58, 176
STRIPS = {"reads": (90, 118), "writes": (128, 156)}
MARKER_ROWS = (12, 25, 38, 51)  # label baselines above the plot
PHASE_ROWS = (PLOT_TOP + 11, PLOT_TOP + 24)
CHAR_W = 6.5  # a generous average glyph width at font-size 11, to keep labels apart
OK, FAILED, LOST = "#2e9e4f", "#d93025", "#5b2a86"
PHASE_FILL = ("#e6eefa", "#f6efdf", "#e8f4ea", "#f4e7f1", "#eceff1")
MARKERS = (  # field, label, colour, dash
    ("t0", "t0 fault", "#b3261e", ""),
    ("detection", "detection", "#c77700", "4 3"),
    ("declaration", "declaration", "#6a3fb5", "4 3"),
    ("t1", "t1 recovered", "#17772f", ""),
)
TICK_STEPS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def _f(v: float) -> str:
    return f"{v:.1f}"


def _step(times: list[float], hint: float | None) -> float:
    if hint:
        return hint
    gaps = sorted(b - a for a, b in itertools.pairwise(times) if b > a)
    return gaps[len(gaps) // 2] if gaps else 0.1


class _Rows:
    """Greedy label placement: each label takes the first row where it overlaps no other
    (RTOs under a second put t0, detection, declaration and t1 within a few pixels)."""

    def __init__(self, count: int) -> None:
        self.taken: list[list[tuple[float, float]]] = [[] for _ in range(count)]

    def place(self, x0: float, x1: float) -> int | None:
        for i, spans in enumerate(self.taken):
            if all(x1 + 4 <= a or x0 >= b + 4 for a, b in spans):
                spans.append((x0, x1))
                return i
        return None


def _runs(points: list[tuple[float, bool]], step: float) -> list[tuple[float, float, bool]]:
    """Consecutive samples of one state merged into (start, end, ok) spans. A sample holds until
    the next one, at most 3 intervals: a longer silence is left blank (no probe answered)."""
    runs: list[tuple[float, float, bool]] = []
    pts = sorted(points)
    for i, (t, ok) in enumerate(pts):
        nxt = pts[i + 1][0] if i + 1 < len(pts) else t + step
        end = min(nxt, t + 3 * step)
        if runs and runs[-1][2] == ok and runs[-1][1] >= t - 1e-9:
            runs[-1] = (runs[-1][0], end, ok)
        else:
            runs.append((t, end, ok))
    return runs


def timeline_svg(journal: Journal, system: str) -> str:
    """Probe success over time for one system: read and write strips, phases as bands, t0,
    detection, declaration and t1 as vertical lines. Seconds on the axis are relative to t0."""
    r = journal.systems[system]
    samples = journal.samples.get(system)
    reads = [(t, ok) for t, ok, _ in samples.read] if samples else []
    writes = [(t, ok) for t, _, ok in samples.write] if samples else []
    marks: dict[str, float] = {}
    for field, *_ in MARKERS:
        moment: float | None = getattr(r, field)
        if moment is not None:
            marks[field] = moment
    times = [t for t, _ in reads + writes] + list(marks.values())
    if not times:
        return f"<p>No probe samples recorded for {escape(system)}.</p>"
    lo, hi = min(times), max(times)
    hi = max(hi, lo + 1.0)
    origin = r.t0 if r.t0 is not None else lo
    scale = (W - LEFT - RIGHT) / (hi - lo)

    def x(t: float) -> float:
        return LEFT + (min(max(t, lo), hi) - lo) * scale

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" '
        f'height="{H}" role="img" font-family="sans-serif" font-size="11" '
        f'aria-label="probe timeline for {escape(system)}">',
        f"<title>{escape(system)}: probe success over time</title>",
    ]
    phases = sorted(journal.phases.items(), key=lambda kv: (kv[1][0], kv[0]))
    bands: list[tuple[str, float, float]] = []
    for i, (name, (start, end)) in enumerate(phases):
        stop = hi if end is None else end
        if stop <= lo or start >= hi:  # no overlap with the samples shown
            continue
        x0, x1 = x(start), x(stop)
        bands.append((name, x0, x1))
        out.append(
            f'<rect class="phase" x="{_f(x0)}" y="{PLOT_TOP}" width="{_f(max(x1 - x0, 0.5))}" '
            f'height="{PLOT_BOTTOM - PLOT_TOP}" fill="{PHASE_FILL[i % len(PHASE_FILL)]}">'
            f"<title>{escape(name)}</title></rect>"
        )
    # names after all bands (none covered), widest band first; a name may run past a narrow
    # band, never over another name nor off the chart; with no room it stays in the tooltip
    phase_rows = _Rows(len(PHASE_ROWS))
    for name, x0, _x1 in sorted(bands, key=lambda b: (-(b[2] - b[1]), b[1])):
        lx = min(x0 + 3, W - RIGHT - CHAR_W * len(name))
        row = phase_rows.place(lx, lx + CHAR_W * len(name))
        if row is not None:
            out.append(
                f'<text x="{_f(lx)}" y="{PHASE_ROWS[row]}" fill="#556">{escape(name)}</text>'
            )
    for label, points, hint in (
        ("reads", reads, r.probe_resolution_seconds),
        ("writes", writes, None),
    ):
        top, bottom = STRIPS[label]
        out.append(
            f'<text x="{LEFT - 6}" y="{(top + bottom) // 2 + 4}" text-anchor="end">{label}</text>'
        )
        step = _step([t for t, _ in sorted(points)], hint)
        for start, end, ok in _runs(points, step):
            out.append(
                f'<rect class="{"ok" if ok else "failed"}" x="{_f(x(start))}" y="{top}" '
                f'width="{_f(max(x(end) - x(start), 0.5))}" height="{bottom - top}" '
                f'fill="{OK if ok else FAILED}"/>'
            )
    lost = set(r.lost_seqs)
    top, _ = STRIPS["writes"]
    for t, seq, _ok in samples.write if samples else []:
        if seq in lost:
            out.append(
                f'<path class="lost" d="M{_f(x(t))} {top - 1}v-6" stroke="{LOST}">'
                f"<title>write {seq} acknowledged, then lost</title></path>"
            )
    out.append(
        f'<line x1="{LEFT}" y1="{PLOT_BOTTOM}" x2="{W - RIGHT}" y2="{PLOT_BOTTOM}" stroke="#333"/>'
    )
    step = next((s for s in TICK_STEPS if (hi - lo) / s <= 12), TICK_STEPS[-1])
    tick = -((origin - lo) // step) * step  # first multiple of step at or after lo, from t0
    while origin + tick <= hi + 1e-9:
        tx = x(origin + tick)
        out.append(
            f'<line x1="{_f(tx)}" y1="{PLOT_BOTTOM}" x2="{_f(tx)}" y2="{PLOT_BOTTOM + 4}" '
            f'stroke="#333"/><text x="{_f(tx)}" y="{PLOT_BOTTOM + 16}" '
            f'text-anchor="middle">{round(tick, 3) + 0:g}</text>'
        )
        tick += step
    axis = "seconds after t0" if r.t0 is not None else "seconds"
    out.append(
        f'<text x="{(LEFT + W - RIGHT) // 2}" y="{PLOT_BOTTOM + 32}" text-anchor="middle">'
        f"{axis}</text>"
    )
    marker_rows = _Rows(len(MARKER_ROWS))
    for field, label, colour, dash in MARKERS:
        if field not in marks:
            continue
        mx = x(marks[field])
        text = label
        if field == "t1" and r.rto_seconds is not None:
            text += f" (RTO {r.rto_seconds:.2f} s)"
        width = CHAR_W * len(text)
        right = mx + 3 + width <= W - RIGHT  # the label reads to the right of its line if it fits
        x0 = mx + 3 if right else mx - 3 - width
        row = marker_rows.place(x0, x0 + width)
        y = MARKER_ROWS[-1 if row is None else row]  # crowded: overlap rather than hide
        dasharray = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line class="marker {field}" x1="{_f(mx)}" y1="{y + 3}" x2="{_f(mx)}" '
            f'y2="{PLOT_BOTTOM}" stroke="{colour}" stroke-width="1.5"{dasharray}>'
            f"<title>{escape(text)}</title></line>"
            f'<text x="{_f(mx + 3 if right else mx - 3)}" y="{y}" '
            f'text-anchor="{"start" if right else "end"}" fill="{colour}">{escape(text)}</text>'
        )
    legend = ((OK, "probe succeeded / write acknowledged"), (FAILED, "failed"), (LOST, "lost"))
    lx = LEFT
    for colour, text in legend:
        out.append(
            f'<rect x="{lx}" y="{H - 14}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{H - 5}">{text}</text>'
        )
        lx += 14 + 7 * len(text) + 16
    out.append("</svg>")
    return "\n".join(out)


def render_html(journal: Journal) -> str:
    title = str(journal.drill.get("title") or journal.drill_id)
    result = journal.result or "undecided"
    reasons = "".join(f"<li>{escape(r)}</li>" for r in journal.reasons)
    header = _table(
        ["drill", "run", "target", "mode", "started", "ended", "status", "result"],
        [
            [
                f"{escape(title)} (<code>{escape(journal.drill_id)}</code>)",
                escape(journal.run_id),
                escape(journal.target),
                escape(journal.mode),
                _iso(journal.started_at),
                _iso(journal.ended_at),
                f'<span class="{journal.status.value}">{journal.status.value}</span>',
                f'<span class="badge {escape(result)}">{escape(result)}</span>',
            ]
        ],
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Drill {escape(journal.drill_id)} {escape(journal.run_id)}</title>",
        f"<style>\n{STYLE}\n</style></head><body>",
        f"<h1>Drill report: {escape(title)}</h1>",
        header,
        f"<ul>{reasons}</ul>" if reasons else "",
        "<p>RTO = t1 &minus; t0; t1 is the first successful probe through the front door "
        "after which none fails for the stable period. RPO = t0 &minus; the last acknowledged "
        "write before the earliest lost one (0 when none is lost). DESIGN §6.</p>",
    ]
    for name in sorted(journal.systems):
        r = journal.systems[name]
        parts += [
            f"<h2>{escape(name)}: {_verdict(r.met)}</h2>",
            _objectives_table(r),
            timeline_svg(journal, name),
        ]
    parts += [
        "<h2>Activities</h2>",
        _activities(journal),
        "<h2>Corrective actions</h2>",
        _corrective(journal),
        f"<p><small>drctl {escape(journal.drctl_version)} · topology sha256 "
        f"<code>{escape(journal.topology_sha256[:12])}</code></small></p>",
        "</body></html>",
        "",
    ]
    return "\n".join(p for p in parts if p)


def write_html(journal: Journal, path: Path) -> Path:
    path.write_text(render_html(journal), encoding="utf-8")
    return path


# --- JUnit ---------------------------------------------------------------------------------


def _case(suite: ET.Element, classname: str, name: str, failure: str | None) -> None:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
    if failure is not None:
        ET.SubElement(case, "failure", message=failure, type="objective").text = failure


def _system_cases(suite: ET.Element, cls: str, r: SystemResult) -> None:
    if r.rto_seconds is None:
        rto = "no recovery observed (no t1)"
    else:
        rto = f"RTO {r.rto_seconds:.2f} s > objective {r.objective_rto_seconds:g} s"
    _case(suite, cls, "rto", None if r.rto_met else rto)
    if r.rpo_seconds is None:
        rpo = "RPO not measured"
    else:
        rpo = (
            f"RPO {r.rpo_seconds:.2f} s, {r.writes_lost} writes lost, "
            f"objective {r.objective_rpo_seconds:g} s"
        )
    _case(suite, cls, "rpo", None if r.rpo_met else rpo)
    _case(
        suite,
        cls,
        "split-brain",
        None
        if r.split_brain_observations == 0
        else f"{r.split_brain_observations} split-brain observation(s)",
    )
    problems = []
    if r.writes_lost and r.objective_rpo_seconds == 0:
        seqs = ", ".join(str(s) for s in r.lost_seqs[:10])
        problems.append(f"{r.writes_lost} acknowledged write(s) lost (seq {seqs})")
    if r.documents_mismatched:
        problems.append(f"{r.documents_mismatched} document(s) failed the SHA-256 check")
    _case(suite, cls, "writes-lost", "; ".join(problems) or None)


def render_junit(journal: Journal) -> str:
    suite = ET.Element("testsuite", name=f"drill.{journal.drill_id}", timestamp=journal.started_iso)
    props = ET.SubElement(suite, "properties")
    for key in ("run_id", "target", "mode", "status", "result"):
        value = getattr(journal, key)
        ET.SubElement(props, "property", name=key, value=str(value or ""))
    prefix = f"drill.{journal.drill_id}"
    for name in sorted(journal.systems):
        _system_cases(suite, f"{prefix}.{name}", journal.systems[name])
    for a in journal.activities:
        if a.status == "failed":
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{prefix}.activities",
                name=f"{a.phase.value}: {a.kind} {a.name}",
                time=f"{(a.end or a.start) - a.start:.3f}",
            )
            msg = a.error or "failed"
            ET.SubElement(case, "failure", message=msg, type="activity").text = msg
    verdict = None if journal.result == "passed" else "; ".join(journal.reasons) or "not passed"
    _case(suite, f"{prefix}", "result", verdict)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    end = journal.ended_at if journal.ended_at is not None else journal.started_at
    suite.set("time", f"{end - journal.started_at:.3f}")
    root = ET.Element("testsuites", name="drctl drills")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(journal: Journal, path: Path) -> Path:
    path.write_text(render_junit(journal), encoding="utf-8")
    return path


# --- terminal --------------------------------------------------------------------------------


def summary_table(journal: Journal) -> Table:
    table = Table(title=f"{journal.drill_id} · {journal.run_id} · {journal.result or 'undecided'}")
    for col in ("system", "RTO s", "objective", "RPO s", "objective", "writes lost"):
        table.add_column(col, justify="left" if col == "system" else "right")
    table.add_column("result")
    for name in sorted(journal.systems):
        r = journal.systems[name]
        table.add_row(
            name,
            _num(r.rto_seconds),
            f"{r.objective_rto_seconds:g}",
            _num(r.rpo_seconds),
            f"{r.objective_rpo_seconds:g}",
            str(r.writes_lost),
            "[green]met[/]" if r.met else "[red]missed[/]",
        )
    return table
