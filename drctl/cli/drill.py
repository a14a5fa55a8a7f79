"""drctl drill list | due | history | run | report | recover"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from drctl.errors import DrctlError
from drctl.estate.base import Estate
from drctl.topology import DEFAULT_PATH, load_topology
from drctl.topology.model import Topology
from drills.journal import journal_dir, list_journals, load_journal
from drills.load import catalogue, load_drill, resolve
from drills.model import Mode, Target
from drills.schedule import DueItem


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("drill", help="run scripted failovers and measure RTO/RPO")
    parser.add_argument("--topology", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--journals", type=Path, default=None, help="journal directory")
    dsub = parser.add_subparsers(dest="action", required=True)
    dsub.add_parser("list", help="the drill catalogue").set_defaults(func=_list)
    dsub.add_parser("due", help="drills due or overdue per tier").set_defaults(func=_due)
    history = dsub.add_parser("history", help="RTO/RPO of past drills against objectives")
    history.add_argument("--system", help="chart one system")
    history.set_defaults(func=_history)
    run = dsub.add_parser("run", help="run a drill (a catalogue name or a file)")
    run.add_argument("drill", nargs="?")
    run.add_argument("--due", action="store_true", help="run every drill that is due")
    run.add_argument("--target", choices=[t.value for t in Target], default=None)
    run.add_argument("--mode", choices=[m.value for m in Mode], default=None)
    run.add_argument("--yes", action="store_true", help="confirm every manual step")
    run.add_argument(
        "--allow-production", action="store_true", help="required for --target production"
    )
    run.set_defaults(func=_run)
    report = dsub.add_parser("report", help="re-render a drill's report from its journal")
    report.add_argument("journal", type=Path)
    report.set_defaults(func=_report)
    dsub.add_parser("recover", help="finish the failback of an interrupted drill").set_defaults(
        func=_recover
    )
    soak = dsub.add_parser("soak", help="many failover/failback cycles, rotating the faults")
    soak.add_argument("--cycles", type=int, default=50)
    soak.add_argument("--json", type=Path, default=Path("soak.json"), help="where to write results")
    soak.set_defaults(func=_soak)


def _jdir(args: argparse.Namespace) -> Path:
    return Path(args.journals) if args.journals else journal_dir()


def _estate(topo: Topology, target: str) -> Estate:
    if target == "lab":
        from drctl.estate.lab import LabEstate

        return LabEstate(topo)
    try:
        from drctl.estate.production import ProductionEstate
    except ImportError:
        raise DrctlError(f"target {target!r}: the production driver is not installed") from None
    estate: Estate = ProductionEstate(topo, target)
    return estate


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _list(args: argparse.Namespace) -> int:
    topo = load_topology(args.topology)
    table = Table(title="drill catalogue")
    for col in ("drill", "kind", "systems", "recovery", "title"):
        table.add_column(col)
    for name, path in catalogue().items():
        d = load_drill(path, topo)
        table.add_row(name, d.kind, ", ".join(d.systems), d.recovery.runbook, d.title)
    Console().print(table)
    return 0


def _due_items(args: argparse.Namespace, topo: Topology) -> list[DueItem]:
    from drills.schedule import due

    drills = {name: load_drill(path, topo) for name, path in catalogue().items()}
    journals = [j for _, j in list_journals(_jdir(args))]
    return list(due(topo, drills, journals, time.time()))


def _due(args: argparse.Namespace) -> int:
    topo = load_topology(args.topology)
    items = _due_items(args, topo)
    table = Table(title="drills due")
    for col in ("drill", "systems", "last successful run", "overdue days"):
        table.add_column(col)
    for item in items:
        table.add_row(
            item.drill_id or "(no drill in the catalogue covers these systems)",
            ", ".join(item.systems),
            time.strftime("%Y-%m-%d", time.gmtime(item.last_run)) if item.last_run else "never",
            str(item.overdue_days),
        )
    Console().print(table if items else "no drill is due")
    return 0


def _history(args: argparse.Namespace) -> int:
    from drills import history

    journals = [j for _, j in list_journals(_jdir(args))]
    rows = history.summarise(journals)
    console = Console()
    console.print(history.history_table(rows))
    systems = [args.system] if args.system else sorted({r.system for r in rows})
    for system in systems:
        console.print(history.history_chart(rows, system))
    actions = history.open_actions(journals)
    if actions:
        console.print("open corrective actions:")
        for a in actions:
            console.print(f"  {a.id} {a.description} (owner {a.owner}, due {a.due})")
    if rows:
        svg = history.write_history_svg(rows, _jdir(args) / "history.svg")
        console.print(f"chart: {svg}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from drills.engine import Engine, Options, approve_all, mode_supported

    topo = load_topology(args.topology)
    if args.due:
        names = [i.drill_id for i in _due_items(args, topo) if i.drill_id is not None]
        if not names:
            print("no drill is due")
            return 0
    elif args.drill:
        names = [args.drill]
    else:
        raise DrctlError("name a drill (see `drctl drill list`) or pass --due")
    worst = 0
    for name in names:
        path = resolve(name)
        drill = load_drill(path, topo)  # validated before anything runs
        updates: dict[str, object] = {}
        if args.target:
            updates["target"] = Target(args.target)
        if args.mode:
            updates["mode"] = Mode(args.mode)
        drill = drill.model_copy(update=updates)
        mode_supported(drill)
        if drill.target is Target.PRODUCTION and not args.allow_production:
            raise DrctlError(
                f"{path}: target: production drills need --allow-production "
                "(and a coordinator's approval of each manual step)"
            )
        approve = approve_all if args.yes else _prompt if sys.stdin.isatty() else None
        options = Options(
            journal_dir=_jdir(args),
            approve=approve,
            allow_production=args.allow_production,
            progress=_say,
        )
        estate = _estate(topo, drill.target.value)
        journal = Engine(topo, estate, path.stem, drill, options).run()
        _print_result(journal, options.journal_dir)
        worst = max(worst, 0 if journal.result == "passed" else 1)
    return worst


def _prompt(name: str, instructions: str) -> bool:
    print(f"\nMANUAL STEP: {name}\n  {instructions}", file=sys.stderr)
    return input("  confirm done? [y/N] ").strip().lower() in ("y", "yes")


def _print_result(journal: object, jdir: Path) -> None:
    from drills import report
    from drills.journal import Journal

    assert isinstance(journal, Journal)
    console = Console()
    console.print(report.summary_table(journal))
    console.print(f"result: {journal.result}")
    for reason in journal.reasons:
        console.print(f"  - {reason}")
    console.print(f"journal: {jdir / (journal.run_id + '.json')}")
    if journal.report_html:
        console.print(f"report:  {jdir / journal.report_html}")


def _report(args: argparse.Namespace) -> int:
    from drills import report

    try:
        journal = load_journal(args.journal)
    except (OSError, ValueError) as exc:
        raise DrctlError(f"{args.journal}: not a drill journal: {exc}") from None
    html = report.write_html(journal, args.journal.with_suffix(".html"))
    junit = report.write_junit(journal, args.journal.with_suffix(".junit.xml"))
    Console().print(report.summary_table(journal))
    print(f"report: {html}\njunit:  {junit}")
    return 0 if journal.result == "passed" else 1


def _recover(args: argparse.Namespace) -> int:
    from drills.engine import DrillLock, Options, recover

    topo = load_topology(args.topology)
    options = Options(journal_dir=_jdir(args), progress=_say)
    lock = DrillLock(options.state_dir)
    lock.acquire("drctl drill recover")
    try:
        estate = _estate(topo, "lab")
        done = recover(topo, estate, options, progress=_say)
        if not args.journals:  # a killed soak leaves its journal with the soak's
            soak_options = Options(journal_dir=_jdir_soak(args), progress=_say)
            done += recover(topo, estate, soak_options, progress=_say)
        if not done and estate.name == "lab":
            # no journal left work undone; still make sure the lab is in steady state
            from drctl.lab import lifecycle

            for line in lifecycle.restore(topo, progress=_say):
                print(line)
    finally:
        lock.release()
    print(f"recovered {len(done)} drill(s)" if done else "nothing to recover; estate healthy")
    return 0


def _soak(args: argparse.Namespace) -> int:
    from drills import soak

    if args.cycles < 1:
        raise DrctlError("--cycles: must be at least 1")
    topo = load_topology(args.topology)
    cycles = soak.run(topo, _estate(topo, "lab"), args.cycles, _jdir_soak(args), progress=_say)
    table = Table(title=f"soak: {len(cycles)} cycles")
    cols = (
        "fault kind",
        "cycles",
        "failed",
        "RTO median",
        "p95",
        "max",
        "writes lost",
        "split brain",
    )
    for col in cols:
        table.add_column(col)

    def sec(v: float | None) -> str:
        return f"{v:.2f} s" if v is not None else "-"

    for k in soak.summarise(cycles):
        table.add_row(
            k.kind, str(k.cycles), str(k.failed), sec(k.rto_median), sec(k.rto_p95),
            sec(k.rto_max), str(k.writes_lost), str(k.split_brain),
        )  # fmt: skip
    Console().print(table)
    print(f"results: {soak.write_json(cycles, args.json)}")
    return 0 if all(c.result == "passed" for c in cycles) else 1


def _jdir_soak(args: argparse.Namespace) -> Path:
    # soak journals are test evidence, not plan evidence: keep them out of drills/journals
    if args.journals:
        return Path(args.journals)
    from drills.engine import Options

    return Options().state_dir / "soak-journals"
