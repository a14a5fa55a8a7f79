"""The drill engine: preflight → probes → fault (t0) → recovery → t1 → verify → failback →
steady state → journal and report (DESIGN §5).

Two promises shape this module:
- failback always runs: every fault's inverse is written to the journal *before* the fault is
  injected, and the `finally` of `run` undoes whatever is pending, whatever failed;
- a killed engine is recoverable: the journal is saved after every activity, so `recover()`
  (run by `drctl drill recover` and before any next drill) finishes the failback from it.
"""

from __future__ import annotations

import fcntl
import functools
import os
import platform
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from drctl import REPO_ROOT, __version__
from drctl.errors import DrctlError
from drctl.estate.base import Estate, HostCheck
from drctl.estate.patroni import Cluster
from drctl.topology.model import Topology
from drills import measure
from drills.actions import Context, front_door_url, hit_by, inverse, run_action, wait_check
from drills.isolated import cleanup_bubble, run_isolated
from drills.journal import (
    Activity,
    Journal,
    Phase,
    Samples,
    Status,
    SystemResult,
    journal_dir,
    list_journals,
)
from drills.load import RUNBOOK_DIR, load_runbook
from drills.model import RESTORE_KINDS, Drill, Mode, OnFailure, Runbook, Scalar, Step, Target
from drills.probes import Prober, ProbeTarget, present_seqs, stored_documents
from drills.splitbrain import SplitBrainWatch

Progress = Callable[[str], None]
Approver = Callable[[str, str], bool]  # (step name, instructions) -> approved
STEADY_SECONDS = 3.0  # replication must hold this long after a drill to count as steady


class DrillError(DrctlError):
    pass


class DrillRefused(DrillError):
    """The drill did not start (another drill runs, a guard refused it); the estate is untouched."""


@dataclass
class Options:
    journal_dir: Path = field(default_factory=journal_dir)
    state_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("DRCTL_STATE_DIR", "/var/lib/drctl"))
    )
    runbook_dir: Path = RUNBOOK_DIR
    approve: Approver | None = None  # None: manual steps are refused (use --yes or a prompt)
    allow_production: bool = False
    progress: Progress = lambda line: None
    settle_seconds: float = 2.0  # probes before the fault, to see the steady state
    steady_seconds: float = 30.0  # then at most this long for the probes to succeed
    # restore drills' objectives (restore_objectives per system)
    backups_file: Path = field(default_factory=lambda: REPO_ROOT / "inventories" / "backups.yaml")


def _now() -> float:
    return time.time()


class _Interrupted(BaseException):
    """SIGTERM, turned into an exception so `finally` blocks run."""


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Interrupted()

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextmanager
def _uninterruptible() -> Iterator[None]:
    """Failback must finish: ignore SIGINT/SIGTERM meanwhile (SIGKILL leaves it to recover())."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    old_term = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


class DrillLock:
    """One drill at a time per state directory (an flock, released if the engine dies)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "drill.lock"
        self._fd: int | None = None

    def acquire(self, holder: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = os.read(fd, 4096).decode(errors="replace").strip() or "another drill"
            os.close(fd)
            raise DrillRefused(
                f"a drill is already running ({who}); wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{holder}, pid {os.getpid()}".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def held_elsewhere(self) -> bool:
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)


class Engine:
    def __init__(
        self, topology: Topology, estate: Estate, drill_id: str, drill: Drill, options: Options
    ) -> None:
        self.topo = topology
        self.estate = estate
        self.drill_id = drill_id
        self.drill = drill
        self.opt = options
        self.ctx = Context.create(topology, estate)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self.run_id = f"{drill_id}-{stamp}"
        self.path = options.journal_dir / f"{self.run_id}.json"
        self.journal = Journal(
            drctl_version=__version__,
            run_id=self.run_id,
            drill_id=drill_id,
            drill=drill.model_dump(mode="json", by_alias=True),
            target=drill.target.value if estate.name != "lab-ssh" else "lab-ssh",
            mode=drill.mode.value,
            platform={"python": platform.python_version(), "machine": platform.machine()},
            topology_sha256=topology_digest(),
            started_at=_now(),
            engine_pid=os.getpid(),
        )
        self.token = ""
        self.prober: Prober | None = None
        self.watch: SplitBrainWatch | None = None
        self._lock = threading.Lock()

    # -- journal ------------------------------------------------------------------------------
    def save(self) -> None:
        with self._lock:
            self.opt.journal_dir.mkdir(parents=True, exist_ok=True)
            self.journal.save(self.path)

    def say(self, line: str) -> None:
        self.opt.progress(line)

    def phase(self, phase: Phase) -> None:
        now = _now()
        prev = self.journal.phase
        if prev.value in self.journal.phases and self.journal.phases[prev.value][1] is None:
            self.journal.phases[prev.value] = (self.journal.phases[prev.value][0], now)
        self.journal.phase = phase
        self.journal.phases[phase.value] = (now, None)
        self.say(f"==> {phase.value}")
        self.save()

    @contextmanager
    def activity(self, kind: str, name: str, remote: str | None = None) -> Iterator[Activity]:
        act = Activity(phase=self.journal.phase, kind=kind, name=name, start=_now(), remote=remote)
        with self._lock:
            self.journal.activities.append(act)
        self.save()
        self.estate.contacted()  # forget what this thread reached before
        try:
            yield act
        except BaseException as exc:
            act.status, act.error, act.end = "failed", f"{type(exc).__name__}: {exc}", _now()
            act.remote = act.remote or self._reached()
            self.say(f"    FAILED {name}: {exc}")
            self.save()
            raise
        act.end = _now()
        act.remote = act.remote or self._reached()
        if act.status == "running":
            act.status = "succeeded"
        self.say(f"    {name} ({act.end - act.start:.1f} s)")
        self.save()

    def _reached(self) -> str | None:
        """Where this thread's activity really ran (ssh://...), None when it ran locally."""
        return " ".join(self.estate.contacted()) or None

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> Journal:
        if self.drill.target is Target.PRODUCTION and not self.opt.allow_production:
            raise DrillRefused(
                f"{self.drill_id} targets production: pass --allow-production and approve it"
            )
        lock = DrillLock(self.opt.state_dir)
        lock.acquire(self.run_id)
        try:
            recover(self.topo, self.estate, self.opt, progress=self.say)  # a previous crash
            self.token = self.estate.secret("prober_token")
            return self._run_locked()
        finally:
            lock.release()

    def _run_locked(self) -> Journal:
        self.save()
        self.say(f"drill {self.drill_id}: {self.drill.title} (journal {self.path})")
        failed: BaseException | None = None
        injected = False
        with _sigterm_raises():
            try:
                self.phase(Phase.PREFLIGHT)
                self._preflight()
                if self.drill.mode is Mode.ISOLATED:
                    run_isolated(self)  # a copy in a bubble: no fault, nothing to fail back
                    return self.journal
                self.phase(Phase.PROBES)
                self._start_probes()
                self.phase(Phase.FAULT)
                injected = True
                self._inject()
                self.phase(Phase.RECOVERY)
                self._recover()
                self.phase(Phase.VERIFY)
                self._verify()
            except (Exception, KeyboardInterrupt, _Interrupted) as exc:
                failed = exc
                interrupted = isinstance(exc, KeyboardInterrupt | _Interrupted)
                self.journal.status = Status.INTERRUPTED if interrupted else Status.FAILED
                self.journal.reasons.append(
                    f"{self.journal.phase.value}: {type(exc).__name__}: {exc}"
                )
            finally:
                with _uninterruptible():
                    if injected:
                        self._failback()
                    self._finish(failed)
        return self.journal

    # -- phases -------------------------------------------------------------------------------
    def _preflight(self) -> None:
        for probe in self.drill.steady_state.probes:
            with self.activity("check", f"steady state: {probe.name}") as act:
                ok, detail = wait_check(probe.check, probe.args, self.ctx, self.token, timeout=10)
                act.output = detail
                if not ok:
                    raise DrillError(f"steady state not met: {probe.name}: {detail}")
        for system in self.drill.systems:
            with self.activity("check", f"{system}: replication healthy") as act:
                # bounded wait: a standby reconnecting is a moment, not a reason to give up
                act.output = self.ctx.clusters[system].wait_replication(timeout=30)

    def _start_probes(self) -> None:
        targets = [
            ProbeTarget(
                system=s,
                base_url=front_door_url(self.ctx, s),
                token=self.token,
                documents=self.drill.load.documents and s == "ecm",
            )
            for s in self.drill.systems
        ]
        restoring = self.drill.kind in RESTORE_KINDS
        for s in self.drill.systems:
            rto, rpo = (
                restore_objectives(self.opt.backups_file, s)
                if restoring
                else (
                    self.topo.system(s).objectives.rto_seconds,
                    self.topo.system(s).objectives.rpo_seconds,
                )
            )
            self.journal.systems[s] = SystemResult(
                system=s,
                objective_rto_seconds=rto,
                objective_rpo_seconds=rpo,
                primary_before=self.ctx.clusters[s].leader_site(),
            )
        self.prober = Prober(self.run_id, targets, self.drill.load.frequency_hz)
        self.prober.start()
        self.watch = SplitBrainWatch(
            self.ctx, self.drill.systems, self.estate.secret("db_superuser")
        )
        self.watch.start()
        with self.activity("check", "probes see the steady state") as act:
            # the last probes of every system must have succeeded; a busy estate (just brought
            # up, catching up) gets up to steady_seconds to settle before the drill gives up
            time.sleep(self.opt.settle_seconds)
            deadline = time.monotonic() + self.opt.steady_seconds
            while True:
                bad = []
                for s in self.drill.systems:
                    snap = self.prober.snapshot(s)
                    series = measure.merged(snap.read, snap.write)
                    if not series or not measure.first_failure_free_since(series[-5:]):
                        bad.append(s)
                if not bad or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            act.output = f"{self.drill.load.frequency_hz:g} Hz per system"
            if bad:
                raise DrillError(f"probes fail before any fault: {', '.join(bad)}")

    def _inject(self) -> None:
        """Run the method. Each system's t0 is the start of the first step that disrupts it:
        in a switchover of ECM then CRM, CRM's outage starts with its own switchover, not
        ECM's."""
        systems = list(self.journal.systems)
        for extra in reversed(self.drill.rollbacks):  # the drill's own undo list, run last
            self.journal.pending_rollbacks.append({"action": extra.action, "args": extra.args})
        for action in self.drill.method:
            undo = inverse(action.action, action.args, self.ctx)
            if undo is not None:
                self.journal.pending_rollbacks.insert(0, undo)
                self.save()  # before the fault: a crash right after it still knows the undo
            with self.activity("action", _describe(action.action, action.args)) as act:
                now = _now()
                if self.ctx.t0 is None:
                    self.ctx.t0 = now
                for system in hit_by(action.action, action.args, systems):
                    self.ctx.faults.setdefault(system, now)
                act.output = run_action(
                    action.action, action.args, self.ctx, action.timeout_seconds
                )
        self.ctx.t0 = self.ctx.t0 or _now()
        for name, result in self.journal.systems.items():
            result.t0 = self.ctx.fault_at(name)
        self.save()

    def _recover(self) -> None:
        t0 = self.ctx.t0 or _now()
        deadline = t0 + self.drill.recovery.timeout_seconds
        book = None
        if self.drill.recovery.runbook != "automatic":
            book = load_runbook(self.drill.recovery.runbook, self.topo, self.opt.runbook_dir)
            # A coordinator acts on an alarm: wait until the probes see the outage (bounded).
            # Damaged data does not fail a probe: a restore drill's alarm is the data check.
            if self.drill.kind not in RESTORE_KINDS:
                self._wait_detection(t0, limit=3.0)
            declared = self._run_runbook(book, deadline)
            for s in self.journal.systems.values():
                s.declaration = declared
        threads = ThreadPoolExecutor(max_workers=max(1, len(self.journal.systems)))
        try:
            futures = [
                threads.submit(self._await_t1, s, deadline) for s in self.journal.systems.values()
            ]
            for f in futures:
                f.result()
        finally:
            threads.shutdown(wait=True)
        missing = [s.system for s in self.journal.systems.values() if s.t1 is None]
        if missing:
            raise DrillError(
                f"service not restored within {self.drill.recovery.timeout_seconds:g} s: "
                + ", ".join(missing)
            )

    def _wait_detection(self, t0: float, limit: float) -> None:
        assert self.prober is not None
        end = time.monotonic() + limit
        while time.monotonic() < end:
            for s in self.journal.systems.values():
                snap = self.prober.snapshot(s.system)
                if measure.detection(measure.merged(snap.read, snap.write), t0) is not None:
                    return
            time.sleep(0.05)

    def _await_t1(self, result: SystemResult, deadline: float) -> None:
        assert self.prober is not None
        t0 = result.t0 or _now()
        cluster = self.ctx.clusters[result.system]
        stable = self.drill.load.stable_seconds
        while _now() < deadline + stable:
            snap = self.prober.snapshot(result.system)
            series = measure.merged(snap.read, snap.write)
            if result.declaration is None and cluster.leader_site() not in (
                None,
                result.primary_before,
            ):
                result.declaration = _now()  # automatic promotion seen
            # after a restore, service counts from the restored database: until then it
            # answered with damaged data (DESIGN §6, restore drills)
            restored = self.ctx.restores.get(result.system)
            since = restored.finished if restored is not None else t0
            t1 = measure.recovery_time(series, since, stable, until=_now())
            if t1 is not None and t1 <= deadline:
                result.t1 = t1
                result.detection = measure.detection(series, t0)
                down = result.detection is not None or restored is not None
                result.rto_seconds = round(t1 - t0, 3) if down else 0.0
                if restored is not None:
                    result.restore_target = restored.target
                    result.last_recovered_transaction = restored.last_transaction
                    result.restore_seconds = round(restored.finished - restored.started, 3)
                result.probe_resolution_seconds = measure.resolution(series)
                result.primary_after = cluster.leader_site()
                self.save()
                return
            time.sleep(0.1)

    def _verify(self) -> None:
        for check in self.drill.verification:
            with self.activity("check", f"verify: {check.name}") as act:
                ok, detail = wait_check(check.check, check.args, self.ctx, self.token, timeout=30)
                act.output = detail
                if not ok:
                    raise DrillError(f"verification failed: {check.name}: {detail}")
        self._verify_hosts()
        self._count_losses("after recovery")

    def _verify_hosts(self) -> None:
        """On an estate reached over SSH, every host not fenced passes its own checks
        (testinfra: services listening, Patroni role, disk, keys): one activity per host."""
        started = _now()
        try:
            checks = self.estate.verify(skip_fenced=True)  # hosts in parallel
        except NotImplementedError:
            return  # the lab: its health checks already probe every endpoint
        by_host: dict[str, list[HostCheck]] = {}
        for c in checks:
            by_host.setdefault(c.host, []).append(c)
        failed = []
        for host, results in by_host.items():
            site = results[0].site
            remote = self.estate.remote(site) if site else None
            with self.activity("check", f"verify: {host} (testinfra)", remote=remote) as act:
                act.start = started
                bad = [f"{c.check}: {c.detail}" for c in results if not c.passed]
                act.output = f"{len(results) - len(bad)}/{len(results)} checks passed"
                if bad:
                    act.status, act.error = "failed", "; ".join(bad)
                    failed += [f"{host} {b}" for b in bad]
        if failed:
            raise DrillError("host verification failed: " + "; ".join(failed))

    def _count_losses(self, when: str) -> None:
        """Every acknowledged write and document must be on the current primary."""
        assert self.prober is not None
        for result in self.journal.systems.values():
            target = next(t for t in self.prober.targets if t.system == result.system)
            with self.activity(
                "check", f"{result.system}: acknowledged writes present ({when})"
            ) as act:
                snap = self.prober.snapshot(result.system)
                present: set[int] = _retry(functools.partial(present_seqs, target, self.run_id))
                restored = self.ctx.restores.get(result.system)
                if restored is not None:
                    cut = self._restore_losses(result, restored, snap, present)
                    act.output = (
                        f"{len(snap.acked)} acknowledged, {result.writes_lost} lost before the "
                        f"restore target, {result.writes_discarded} after it (rolled back)"
                    )
                    if target.documents:
                        kept = {
                            s: h for s, h in snap.documents.items() if snap.documents_at[s] < cut
                        }
                        held: dict[int, str] = _retry(
                            functools.partial(stored_documents, target, self.run_id)
                        )
                        # from the archive alone (target "latest"), a document acknowledged
                        # after the last recovered transaction may be missing (the RPO), but
                        # never different; one acknowledged before it must be there
                        point = restored.last_transaction
                        if restored.target is not None or point is None:
                            point = cut
                        bad = [
                            seq
                            for seq, sha in kept.items()
                            if held.get(seq) != sha
                            and (seq in held or snap.documents_at[seq] < point)
                        ]
                        gone = sum(1 for seq in kept if seq not in held) - sum(
                            1 for seq in bad if seq not in held
                        )
                        result.documents_checked = len(kept)
                        result.documents_mismatched = max(result.documents_mismatched, len(bad))
                        act.output += (
                            f"; {len(kept)} documents before it, {len(bad)} mismatched, "
                            f"{gone} not archived (within the RPO)"
                        )
                    continue
                rpo = measure.rpo(snap.acked, present, result.t0 or _now())
                result.writes_acknowledged = len(snap.acked)
                result.writes_lost = max(result.writes_lost, len(rpo.lost))
                result.lost_seqs = sorted(set(result.lost_seqs) | set(rpo.lost))
                result.rpo_seconds = max(result.rpo_seconds or 0.0, rpo.seconds)
                act.output = f"{len(snap.acked)} acknowledged, {len(rpo.lost)} lost"
                if target.documents:
                    stored: dict[int, str] = _retry(
                        functools.partial(stored_documents, target, self.run_id)
                    )
                    bad = [seq for seq, sha in snap.documents.items() if stored.get(seq) != sha]
                    result.documents_checked = len(snap.documents)
                    result.documents_mismatched = max(result.documents_mismatched, len(bad))
                    act.output += f"; {len(snap.documents)} documents, {len(bad)} mismatched"

    def _restore_losses(
        self, result: SystemResult, restored: Any, snap: Any, present: set[int]
    ) -> float:
        """A restore to t0 must keep every write acknowledged before t0; later ones are rolled
        back by design (counted, not lost). RPO = t0 - the last recovered transaction."""
        t0 = result.t0 or _now()
        cut = restored.target if restored.target is not None else t0
        found = measure.restore_losses(
            snap.acked, snap.acked_at, present, t0, cut, restored.last_transaction
        )
        result.writes_acknowledged = len(snap.acked)
        result.writes_lost = max(result.writes_lost, len(found.lost))
        result.lost_seqs = sorted(set(result.lost_seqs) | set(found.lost))
        result.writes_discarded = max(result.writes_discarded, len(found.discarded))
        if found.rpo_seconds is not None:
            result.rpo_seconds = found.rpo_seconds
        return float(cut)

    def _failback(self) -> None:
        self.phase(Phase.FAILBACK)
        try:
            # undo the fault first (power on, heal, restart what was killed), then fail back
            undo_faults(self.journal, self.ctx, self.save, self.say)
            if self.drill.failback.runbook:
                book = load_runbook(self.drill.failback.runbook, self.topo, self.opt.runbook_dir)
                self._run_runbook(book, _now() + self.drill.failback.timeout_seconds)
        except Exception as exc:
            self.journal.reasons.append(f"failback runbook: {exc}")
        self.phase(Phase.STEADY_STATE)
        try:
            steady_state(self.topo, self.estate, self.journal, self.save, self.say, self.ctx)
            if (
                self.prober is not None
                and self.journal.systems
                and all(s.t0 is not None for s in self.journal.systems.values())
            ):
                time.sleep(1.0)  # writes acknowledged during failback
                self._count_losses("after failback")
        except Exception as exc:
            self.journal.reasons.append(f"steady state not restored: {exc}")
            self.journal.status = Status.FAILED

    def _finish(self, failed: BaseException | None) -> None:
        if self.prober is not None:
            self.prober.stop()
            for s in self.journal.systems:
                snap = self.prober.snapshot(s)
                self.journal.samples[s] = Samples(read=snap.read, write=snap.write)
        if self.watch is not None:
            self.watch.stop()
            for s, result in self.journal.systems.items():
                result.split_brain_observations = self.watch.observations.get(s, 0)
        reasons = self.journal.reasons
        for r in self.journal.systems.values():
            if r.rto_seconds is not None and not r.rto_met:
                reasons.append(
                    f"{r.system}: RTO {r.rto_seconds:.1f} s "
                    f"over objective {r.objective_rto_seconds:g} s"
                )
            # a restore from the archive alone (target "latest") loses what was not archived
            # yet: bounded by the RPO objective below, not zero
            from_archive = self.drill.kind in RESTORE_KINDS and r.restore_target is None
            if r.writes_lost and not (from_archive and r.objective_rpo_seconds > 0):
                reasons.append(f"{r.system}: {r.writes_lost} acknowledged write(s) lost")
            if r.rpo_seconds is not None and r.rpo_seconds > r.objective_rpo_seconds:
                reasons.append(f"{r.system}: RPO {r.rpo_seconds:.1f} s over objective")
            if r.documents_mismatched:
                reasons.append(f"{r.system}: {r.documents_mismatched} document(s) changed or lost")
            if r.split_brain_observations:
                reasons.append(
                    f"{r.system}: split brain observed {r.split_brain_observations} time(s)"
                )
        if failed is None and self.journal.status is Status.RUNNING:
            self.journal.status = Status.SUCCEEDED
        self.journal.result = (
            "passed" if self.journal.status is Status.SUCCEEDED and not reasons else "failed"
        )
        self.phase(Phase.DONE)
        self.journal.ended_at = _now()
        self.journal.phases[Phase.DONE.value] = (self.journal.ended_at, self.journal.ended_at)
        self.journal.report_html = str(self.path.with_suffix(".html").name)
        self.save()
        write_evidence(self.journal, self.path)

    # -- runbooks -----------------------------------------------------------------------------
    def _run_runbook(self, book: Runbook, deadline: float) -> float | None:
        """Run a runbook's steps in order; per-system steps by recovery waves, in parallel
        within a wave. Returns the time of the declaration (the last manual approval)."""
        values: dict[str, Any] = dict(self.drill.parameters)
        declared: float | None = None
        for step in book.steps:
            if _now() > deadline:
                raise DrillError(f"runbook {book.title!r} ran out of time at {step.name!r}")
            if not step.per_system:
                ok = self._run_step(step, values)
            else:
                ok = True
                in_scope = set(self.drill.systems)
                for wave in self.topo.recovery_waves():
                    systems = [s.name for s in wave if s.name in in_scope]
                    if not systems:
                        continue
                    with ThreadPoolExecutor(max_workers=len(systems)) as pool:
                        results = list(
                            pool.map(
                                lambda s, st=step: self._run_step(st, {**values, "system": s}),
                                systems,
                            )
                        )
                    ok = ok and all(results)
            if step.manual and ok:
                declared = _now()
            if not ok and step.on_failure is OnFailure.ABORT:
                raise DrillError(f"runbook step failed: {step.name.format(**values, system='*')}")
        return declared

    def _run_step(self, step: Step, values: dict[str, Any]) -> bool:
        name = step.name.format(**values)
        with self.activity("step", name) as act:
            if step.manual:
                text = step.instructions.format(**values)
                if self.opt.approve is None or not self.opt.approve(name, text):
                    raise DrillError(f"manual step not approved: {name} (use --yes to confirm)")
                act.output = "approved"
                return True
            assert step.action is not None
            args: dict[str, Scalar] = {
                k: (v.format(**values) if isinstance(v, str) else v) for k, v in step.args.items()
            }
            try:
                act.output = run_action(step.action, args, self.ctx, step.timeout_seconds)
            except Exception as exc:
                if step.on_failure is OnFailure.CONTINUE:
                    act.status, act.error = "failed", str(exc)
                    return False
                raise
            return True


def _describe(action: str, args: dict[str, Scalar]) -> str:
    return f"{action} " + " ".join(f"{k}={v}" for k, v in args.items())


def _retry(fn: Callable[[], Any], attempts: int = 10) -> Any:
    for i in range(attempts):
        try:
            return fn()
        except Exception:
            if i == attempts - 1:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")


def topology_digest() -> str:
    import hashlib

    from drctl.topology import DEFAULT_PATH

    return hashlib.sha256(DEFAULT_PATH.read_bytes()).hexdigest()


def undo_faults(
    journal: Journal,
    ctx: Context,
    save: Callable[[], None],
    say: Progress,
    timeout: float = 180,
) -> None:
    """Run the journal's pending rollbacks in order; each leaves the list once it succeeded,
    so a failed one stays for `drctl drill recover` to retry."""
    for undo in list(journal.pending_rollbacks):
        act = Activity(
            phase=journal.phase,
            kind="rollback",
            name=_describe(undo["action"], undo["args"]),
            start=_now(),
        )
        journal.activities.append(act)
        try:
            act.output = run_action(undo["action"], undo["args"], ctx, timeout)
            act.status = "succeeded"
            journal.pending_rollbacks.remove(undo)
            say(f"    rollback: {act.name}")
        except Exception as exc:
            act.status, act.error = "failed", str(exc)
            say(f"    rollback {act.name} failed: {exc}")
        act.end = _now()
        save()


def steady_state(
    topo: Topology,
    estate: Estate,
    journal: Journal,
    save: Callable[[], None],
    say: Progress,
    ctx: Context | None = None,
    timeout: float = 180,
) -> None:
    """Undo every pending fault, then bring each cluster back to its preferred primary."""
    ctx = ctx or Context.create(topo, estate)
    undo_faults(journal, ctx, save, say, timeout)
    if journal.pending_rollbacks:
        raise DrillError(f"could not undo: {journal.pending_rollbacks}")
    for system in topo.systems:
        cluster = ctx.clusters[system.name]
        cluster.wait_leader(None, timeout)
        cluster.wait_replication(timeout)
        preferred = system.placement[0]
        if cluster.leader_site() != preferred:
            act = Activity(
                phase=journal.phase,
                kind="rollback",
                name=f"switch {system.name} back to {preferred}",
                start=_now(),
            )
            journal.activities.append(act)
            act.output = cluster.switchover(preferred, timeout)
            cluster.wait_replication(timeout)
            act.status, act.end = "succeeded", _now()
            save()
            say(f"    {act.output}")
    deadline = time.monotonic() + timeout
    while True:
        bad = [f"{c.site}/{c.service}" for c in estate.health() if not c.healthy]
        if not bad:
            break
        if time.monotonic() > deadline:
            raise DrillError("estate not healthy: " + ", ".join(bad))
        time.sleep(0.5)
    _replication_steady(list(ctx.clusters.values()), STEADY_SECONDS, timeout)


def _replication_steady(clusters: list[Cluster], seconds: float, timeout: float) -> None:
    """Every cluster's replication healthy for `seconds` without a break. Once is not enough:
    a replication connection the undo cut (the latency proxy, a partition) shows in Patroni's
    view up to a loop later, and the replica streams again only after PostgreSQL's retry
    interval (5 s)."""
    deadline = time.monotonic() + timeout
    since: float | None = None
    while True:
        bad = []
        for cluster in clusters:
            ok, detail = cluster.replication_healthy()
            if not ok:
                bad.append(f"{cluster.system.name}: {detail}")
        now = time.monotonic()
        if bad:
            since = None
        elif since is None:
            since = now
        elif now - since >= seconds:
            return
        if now > deadline:
            raise DrillError("replication not steady: " + "; ".join(bad))
        time.sleep(0.25)


def recover(topo: Topology, estate: Estate, options: Options, progress: Progress) -> list[Path]:
    """Finish the failback of every drill whose engine died; returns their journals."""
    for line in cleanup_bubble(estate):  # an isolated drill's bubble whose engine died
        progress(f"==> bubble left by an isolated drill: {line}")
    done = []
    for path, journal in list_journals(options.journal_dir):
        if journal.status is not Status.RUNNING:
            continue
        if journal.engine_pid == os.getpid():
            continue
        progress(f"==> recovering {journal.run_id} (stopped in phase {journal.phase.value})")
        journal.phase = Phase.FAILBACK
        journal.phases[Phase.FAILBACK.value] = (_now(), None)

        def save(j: Journal = journal, p: Path = path) -> None:
            j.save(p)

        try:
            steady_state(topo, estate, journal, save, progress)
            journal.status = Status.RECOVERED
            journal.reasons.append(
                "engine stopped before failback; recovered by drctl drill recover"
            )
        except Exception as exc:
            journal.reasons.append(f"recovery failed: {exc}")
            save()
            raise DrillError(f"could not recover {journal.run_id}: {exc}") from exc
        journal.result = "failed"
        journal.ended_at = _now()
        journal.phase = Phase.DONE
        save()
        done.append(path)
    return done


def restore_objectives(backups_file: Path, system: str) -> tuple[float, float]:
    """(RTO, RPO) of a restore of `system` from backup, from backups.yaml."""
    from drctl.plan.data import Backups
    from drctl.yamlfile import load_yaml, parse_model

    backups = parse_model(load_yaml(backups_file), Backups)
    for entry in backups.systems:
        if entry.system == system and entry.restore_objectives is not None:
            return entry.restore_objectives.rto_seconds, entry.restore_objectives.rpo_seconds
    raise DrillError(f"{backups_file}: systems[{system}].restore_objectives is missing")


def write_evidence(journal: Journal, path: Path) -> None:
    """HTML report and JUnit XML next to the journal (when the report module is present)."""
    try:
        from drills import report
    except ImportError:
        return
    report.write_html(journal, path.with_suffix(".html"))
    report.write_junit(journal, path.with_suffix(".junit.xml"))


def approve_all(name: str, instructions: str) -> bool:
    return True


def mode_supported(drill: Drill) -> None:
    if drill.mode is Mode.ISOLATED and drill.target is not Target.LAB:
        raise DrillRefused("isolated mode runs on the lab only (its bubble is a lab cgroup)")


__all__ = ["DrillError", "DrillRefused", "Engine", "Options", "approve_all", "recover"]
