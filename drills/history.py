"""Drill history from the journals: per system, RTO and RPO over time against the objectives,
as rows, a rich table, a terminal chart and an SVG; and the corrective actions still open.

Everything is derived from journals passed in (oldest first or not: rows are sorted), so
`drctl drill history` and the tests work from the same data without the estate or a clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from rich.table import Table

from drills.journal import CorrectiveAction, Journal

BARS = " ▏▎▍▌▋▊▉█"  # eighths of a cell
SPARKS = "▁▂▃▄▅▆▇█"
OBJECTIVE = "│"
NONE = "—"


@dataclass(frozen=True)
class HistoryRow:
    """One system in one drill run."""

    started_at: float
    run_id: str
    drill: str
    system: str
    rto_seconds: float | None
    rpo_seconds: float | None
    objective_rto_seconds: float
    objective_rpo_seconds: float
    met: bool
    writes_lost: int
    result: str | None  # the run's: passed | failed | None (interrupted before a verdict)

    @property
    def date(self) -> str:
        return datetime.fromtimestamp(self.started_at, UTC).strftime("%Y-%m-%d")


def summarise(journals: list[Journal]) -> list[HistoryRow]:
    """A row per drill run per system, oldest first (then by run id and system)."""
    rows = [
        HistoryRow(
            started_at=j.started_at,
            run_id=j.run_id,
            drill=j.drill_id,
            system=name,
            rto_seconds=r.rto_seconds,
            rpo_seconds=r.rpo_seconds,
            objective_rto_seconds=r.objective_rto_seconds,
            objective_rpo_seconds=r.objective_rpo_seconds,
            met=r.met,
            writes_lost=r.writes_lost,
            result=j.result,
        )
        for j in journals
        for name, r in j.systems.items()
    ]
    return sorted(rows, key=lambda r: (r.started_at, r.run_id, r.system))


def _s(value: float | None) -> str:
    return NONE if value is None else f"{value:.2f}"


def history_table(rows: list[HistoryRow]) -> Table:
    table = Table(title="Drill history")
    for col in ("date", "drill", "system"):
        table.add_column(col)
    for col in ("RTO s", "objective", "RPO s", "objective", "writes lost"):
        table.add_column(col, justify="right")
    table.add_column("met")
    for r in rows:
        table.add_row(
            r.date,
            r.drill,
            r.system,
            _s(r.rto_seconds),
            f"{r.objective_rto_seconds:g}",
            _s(r.rpo_seconds),
            f"{r.objective_rpo_seconds:g}",
            str(r.writes_lost),
            "[green]met[/]" if r.met else "[red]missed[/]",
        )
    return table


def _bar(value: float, scale: float, width: int) -> str:
    eighths = round(value * scale * 8)
    full, part = divmod(min(eighths, width * 8), 8)
    return ("█" * full + (BARS[part] if part else "")).ljust(width)


def sparkline(values: list[float | None], top: float) -> str:
    """One character per value, scaled to `top`; a missing value (no recovery) is '✗'."""
    out = []
    for v in values:
        if v is None:
            out.append("✗")
        else:
            out.append(SPARKS[min(len(SPARKS) - 1, int(v / top * (len(SPARKS) - 1) + 0.5))])
    return "".join(out)


def history_chart(rows: list[HistoryRow], system: str, width: int = 40) -> str:
    """RTO per run as horizontal bars, the objective as a vertical line, then a sparkline.

    Plain text (no markup), so it prints the same to a terminal, a log or a CI job."""
    mine = [r for r in rows if r.system == system]
    if not mine:
        return f"{system}: no drill on record"
    objective = mine[-1].objective_rto_seconds
    top = max([objective] + [r.rto_seconds for r in mine if r.rto_seconds is not None]) * 1.1
    scale = width / top
    mark = min(width - 1, round(objective * scale))
    label = max(len(f"{r.date} {r.drill}") for r in mine)
    lines = [f"{system}: RTO per drill (s); {OBJECTIVE} objective {objective:g} s"]
    for r in mine:
        if r.rto_seconds is None:
            bar = "✗ no recovery".ljust(width)
        else:
            bar = _bar(r.rto_seconds, scale, width)
        cells = list(bar)
        cells[mark] = OBJECTIVE  # crosses a longer bar too: the line is what the eye compares
        verdict = "met" if r.met else "missed"
        name = f"{r.date} {r.drill}".ljust(label)
        lines.append(f"{name} {''.join(cells)} {_s(r.rto_seconds):>8} {verdict}")
    trend = sparkline([r.rto_seconds for r in mine], top)
    lines.append(f"{'trend'.ljust(label)} {trend}")
    return "\n".join(lines)


# --- SVG ---------------------------------------------------------------------------------

PANEL_W, PANEL_H, PAD_L, PAD_R, PAD_T, PAD_B = 720, 180, 56, 20, 28, 34


def _panel(rows: list[HistoryRow], system: str, y0: int, t_lo: float, t_hi: float) -> list[str]:
    mine = [r for r in rows if r.system == system]
    objective = mine[-1].objective_rto_seconds
    top = max([objective] + [r.rto_seconds for r in mine if r.rto_seconds is not None]) * 1.15
    span = max(t_hi - t_lo, 1.0)
    plot_w, plot_h = PANEL_W - PAD_L - PAD_R, PANEL_H - PAD_T - PAD_B

    def x(t: float) -> float:
        return PAD_L + (t - t_lo) / span * plot_w if t_hi > t_lo else PAD_L + plot_w / 2

    def y(v: float) -> float:
        return y0 + PAD_T + plot_h - min(v, top) / top * plot_h

    base = y0 + PAD_T + plot_h
    out = [
        f'<text x="{PAD_L}" y="{y0 + 16}" font-weight="bold">{escape(system)}: RTO (s)</text>',
        f'<line x1="{PAD_L}" y1="{base}" x2="{PANEL_W - PAD_R}" y2="{base}" stroke="#333"/>',
        f'<line x1="{PAD_L}" y1="{y0 + PAD_T}" x2="{PAD_L}" y2="{base}" stroke="#333"/>',
        f'<text x="{PAD_L - 4}" y="{base}" text-anchor="end">0</text>',
        f'<text x="{PAD_L - 4}" y="{y0 + PAD_T + 8}" text-anchor="end">{top:.0f}</text>',
        f'<line class="objective" x1="{PAD_L}" y1="{y(objective):.1f}" x2="{PANEL_W - PAD_R}" '
        f'y2="{y(objective):.1f}" stroke="#b3261e" stroke-dasharray="6 4"/>',
        f'<text x="{PANEL_W - PAD_R}" y="{y(objective) - 4:.1f}" text-anchor="end" '
        f'fill="#b3261e">objective {objective:g} s</text>',
    ]
    points = [(x(r.started_at), y(r.rto_seconds)) for r in mine if r.rto_seconds is not None]
    if len(points) > 1:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="#0a5ea8"/>')
    for r in mine:
        px = x(r.started_at)
        tip = f"{r.date} {r.drill}: RTO {_s(r.rto_seconds)} s, {r.writes_lost} writes lost"
        if r.rto_seconds is None:
            out.append(
                f'<text class="missing" x="{px:.1f}" y="{base - 4}" text-anchor="middle" '
                f'fill="#b3261e">✗<title>{escape(tip)}</title></text>'
            )
        else:
            fill = "#2e9e4f" if r.met else "#d93025"
            out.append(
                f'<circle class="{"met" if r.met else "missed"}" cx="{px:.1f}" '
                f'cy="{y(r.rto_seconds):.1f}" r="4" fill="{fill}"><title>{escape(tip)}</title>'
                "</circle>"
            )
    ends = ((mine[0], "start"), (mine[-1], "end")) if len(mine) > 1 else ((mine[0], "middle"),)
    for r, anchor in ends:
        out.append(
            f'<text x="{x(r.started_at):.1f}" y="{base + 16}" text-anchor="{anchor}">'
            f"{r.date}</text>"
        )
    return out


def render_history_svg(rows: list[HistoryRow]) -> str:
    systems = sorted({r.system for r in rows})
    height = max(1, len(systems)) * PANEL_H
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {PANEL_W} {height}" '
        f'width="{PANEL_W}" height="{height}" font-family="sans-serif" font-size="11">',
        "<title>Drill history: RTO per system against its objective</title>",
    ]
    if not rows:
        out.append('<text x="20" y="40">No drill on record.</text>')
    else:
        t_lo, t_hi = min(r.started_at for r in rows), max(r.started_at for r in rows)
        for i, system in enumerate(systems):
            out += _panel(rows, system, i * PANEL_H, t_lo, t_hi)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_history_svg(rows: list[HistoryRow], path: Path) -> Path:
    path.write_text(render_history_svg(rows), encoding="utf-8")
    return path


# --- corrective actions -----------------------------------------------------------------------


def open_actions(journals: list[Journal]) -> list[CorrectiveAction]:
    """Corrective actions not done, each in its latest recorded state (a later journal that
    repeats an id updates it), ordered by due date then id."""
    latest: dict[str, CorrectiveAction] = {}
    for journal in sorted(journals, key=lambda j: (j.started_at, j.run_id)):
        for action in journal.corrective_actions:
            latest[action.id] = action
    return sorted((a for a in latest.values() if a.status != "done"), key=lambda a: (a.due, a.id))
