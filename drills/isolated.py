"""Isolated mode (DESIGN §5): prove a restore works without touching the estate.

For each system in scope: copy the secondary's data (pg_basebackup from the streaming standby),
start it as a standalone PostgreSQL in a *bubble* (cgroup `drctl/bubble`, address 127.10.99.1,
cut off from every site by iptables), start the app there, measure the time from the start of
the restore to `/readyz` 200, verify, then destroy the bubble. The estate is only read from:
its leaders, timelines and replication are compared before and after.

In the journal, `rto_seconds` holds the time to ready and `rpo_seconds` the copy's age (the
secondary's replay lag when the copy was taken); the activities say so.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx
import psycopg

from drctl.errors import DrctlError
from drctl.estate.base import Estate
from drctl.estate.lab import LabEstate
from drctl.estate.patroni import Cluster, http_json
from drctl.lab import cgroups
from drctl.lab.firewall import BUBBLE_CHAIN
from drctl.lab.paths import LabPaths
from drctl.lab.supervisor import CGEXEC
from drctl.topology.model import SiteService, System, Topology
from drills.actions import front_door_url, wait_check
from drills.journal import Phase, Status, SystemResult

if TYPE_CHECKING:
    from drills.engine import Engine

BUBBLE_ADDRESS = "127.10.99.1"
BUBBLE_CGROUP = "bubble"  # under the lab's cgroup root: `lab down` kills it with the rest
BUBBLE_TAG = "drctl-bubble"
SCRATCH = "isolated"  # under the lab's state directory
PG_BIN = Path("/usr/lib/postgresql/15/bin")
REPLICATION_USER = "replicator"
APP_USER = "drctl"
READY_POLL_SECONDS = 0.1
# Tables compared between the bubble and the secondary; the bubble itself writes to none.
SAMPLE_TABLES = {
    "ecm": ("users", "documents", "document_versions", "taxonomy_terms", "retention_schedules"),
    "crm": ("users", "tickets", "ticket_events", "assignment_groups", "sla_targets"),
}


class IsolatedError(DrctlError):
    pass


# -- pure helpers (unit-tested) ---------------------------------------------------------------
def bubble_rules(bubble: str, cgroup_path: str, estate: Sequence[str]) -> list[list[str]]:
    """iptables rules (for the bubble chain) that cut `bubble` off from every estate address,
    both ways. Sites' traffic is SNATed to their address after OUTPUT, so connections are
    matched by conntrack original/reply destination, as partitions are (DESIGN §9); the
    bubble's own processes may open no connection to anything but the bubble."""
    drop = ["-m", "comment", "--comment", BUBBLE_TAG, "-j", "DROP"]
    own = ["-m", "cgroup", "--path", cgroup_path]
    rules = [[*own, "-m", "conntrack", "--ctstate", "NEW", "!", "-d", bubble, *drop]]
    for addr in estate:
        rules.append([*own, "-d", addr, *drop])
        for orig_dst, reply_dst in ((bubble, addr), (addr, bubble)):
            conn = ["-m", "conntrack", "--ctorigdst", orig_dst, "--ctrepldst", reply_dst]
            rules.append([*conn, *drop])
    return rules


def standalone_conf(address: str, port: int, socket_dir: Path, name: str) -> str:
    """postgresql.conf for the copy: a standalone primary, no replication, no archiving."""
    return "\n".join(
        [
            "# drctl isolated drill: a throwaway copy in the bubble",
            f"listen_addresses = '{address}'",
            f"port = {port}",
            f"unix_socket_directories = '{socket_dir}'",
            f"cluster_name = '{name}'",
            "max_connections = 100",
            "shared_buffers = 32MB",
            "password_encryption = scram-sha-256",
            "archive_mode = off",
            "logging_collector = off",
            "",
        ]
    )


HBA = "local all all trust\nhost all all 127.0.0.0/8 scram-sha-256\n"
# Patroni's and the standby's files: a copy that keeps them would try to follow the estate.
DROPPED_FILES = (
    "standby.signal",
    "recovery.signal",
    "postgresql.base.conf",
    "postgresql.base.conf.backup",
    "postgresql.conf.backup",
    "pg_hba.conf.backup",
    "pg_ident.conf.backup",
    "patroni.dynamic.json",
)


def app_dsn(system: str, address: str, port: int, password: str) -> str:
    return (
        f"host={address} port={port} dbname={system} user={system} password={password} "
        f"connect_timeout=2 application_name={system}-bubble"
    )


def parse_lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def copy_age(primary_lsn: int, replay_lsn: int, replay_lag: float | None) -> float:
    """Seconds of commits the copy lacks: 0 when the secondary had replayed all the primary
    had written, else the secondary's measured replay lag."""
    return 0.0 if replay_lsn >= primary_lsn else round(replay_lag or 0.0, 3)


def count_verdict(table: str, in_bubble: int, before: int, after: int) -> tuple[bool, str]:
    """The copy's row count must lie between the secondary's counts as the copy began and as
    it ended: what the secondary replayed meanwhile (its lag) is the only allowed difference."""
    lo, hi = min(before, after), max(before, after)
    seen = f"{before}" if before == after else f"{before}..{after} during the copy"
    ok = lo <= in_bubble <= hi
    return ok, f"{table}: {in_bubble} in the bubble, {seen} on the secondary"


# -- the bubble -------------------------------------------------------------------------------
def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["iptables", "-w", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise IsolatedError(f"iptables {' '.join(args)}: {proc.stderr.strip()}")
    return proc


def _chown_postgres(*paths: Path) -> None:
    for p in paths:
        shutil.chown(p, "postgres", "postgres")


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


@dataclass
class Copy:
    source: str  # the secondary's site
    seconds: float
    bytes: int
    end_lsn: str
    counts_before: dict[str, int]  # sample tables on the secondary as the copy began
    counts_after: dict[str, int]  # and as it ended


@dataclass
class Bubble:
    """The bubble of one drill run: its cgroup, firewall chain, data and processes."""

    paths: LabPaths
    topo: Topology
    run_id: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def cgroup(self) -> Path:
        return self.paths.cgroup_root / BUBBLE_CGROUP

    @property
    def scratch(self) -> Path:
        return self.paths.state / SCRATCH / self.run_id

    def isolate(self) -> str:
        self.cgroup.mkdir(parents=True, exist_ok=True)  # iptables resolves the path now
        _remove_chain()
        _iptables("-N", BUBBLE_CHAIN)
        estate = [str(s.lab_address) for s in self.topo.sites]
        match = f"{self.paths.cgroup_name}/{BUBBLE_CGROUP}"
        rules = bubble_rules(BUBBLE_ADDRESS, match, estate)
        for rule in rules:
            _iptables("-A", BUBBLE_CHAIN, *rule)
        _iptables("-I", "OUTPUT", "1", "-j", BUBBLE_CHAIN)
        n = len(estate)
        return f"{len(rules)} rules in {BUBBLE_CHAIN} cut {BUBBLE_ADDRESS} off from {n} sites"

    def prove_isolated(self) -> str:
        """A connect from inside the bubble to each etcd member (which the observer reaches)
        must fail, whether it leaves from the bubble's address or the default one."""
        port = self.topo.ports.etcd_client
        targets = [
            str(s.lab_address)
            for s in self.topo.sites_with(SiteService.ETCD)
            if _reachable(str(s.lab_address), port)
        ]
        if not targets:
            raise IsolatedError("no etcd member answers the observer: isolation not provable")
        args = [BUBBLE_ADDRESS, str(port), *targets]
        script = (
            "import socket,sys\n"
            "for bind in (None, sys.argv[1]):\n"
            "    for host in sys.argv[3:]:\n"
            "        s = socket.socket(); s.settimeout(0.5)\n"
            "        if bind: s.bind((bind, 0))\n"
            "        if s.connect_ex((host, int(sys.argv[2]))) == 0: print(host); sys.exit(1)\n"
        )
        proc = subprocess.run(
            [CGEXEC, str(self.cgroup / "probe"), APP_USER, "/usr/bin/python3", "-c", script, *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if proc.returncode != 0:
            raise IsolatedError(
                f"the bubble reaches the estate: {proc.stdout.strip() or proc.stderr.strip()}"
            )
        return f"etcd at {', '.join(targets)}:{port} unreachable from the bubble"

    def spawn(self, name: str, user: str, argv: list[str], env: dict[str, str]) -> None:
        log: IO[bytes] = (self.scratch / f"{name}.log").open("ab")
        with log:
            proc = subprocess.Popen(
                [CGEXEC, str(self.cgroup / name), user, *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd="/",
                start_new_session=True,
            )
        self.procs.append(proc)
        threading.Thread(target=proc.wait, name=f"reap-{name}", daemon=True).start()

    def data_dir(self, system: str) -> Path:
        return self.scratch / system / "data"

    def restore(self, cluster: Cluster, source: str, password: str, su_password: str) -> Copy:
        """pg_basebackup of the secondary (streaming WAL, fast checkpoint) into scratch."""
        system = cluster.system
        data, run = self.data_dir(system.name), self.scratch / system.name / "run"
        for d in (data, run):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o700)
        _chown_postgres(data, run)
        address = cluster.addresses[source]
        tables = SAMPLE_TABLES.get(system.name, ("users",))
        before = _counts(address, system.database.port, su_password, system.name, tables)
        source_args = ["-h", address, "-p", str(system.database.port), "-U", REPLICATION_USER]
        target_args = ["-D", str(data), "-X", "stream", "--checkpoint=fast", "--no-password", "-v"]
        start = time.monotonic()
        proc = subprocess.run(
            [str(PG_BIN / "pg_basebackup"), *source_args, *target_args],
            user="postgres",
            group="postgres",
            extra_groups=[],
            env={"PGPASSWORD": password, "PGAPPNAME": "drctl-isolated-copy", "PATH": "/usr/bin"},
            cwd=str(data.parent),
            capture_output=True,
            text=True,
            timeout=600,
        )
        seconds = time.monotonic() - start
        if proc.returncode != 0:
            raise IsolatedError(f"pg_basebackup from {source}: {proc.stderr.strip()[-400:]}")
        after = _counts(address, system.database.port, su_password, system.name, tables)
        end = re.search(r"write-ahead log end point: (\S+)", proc.stderr)
        lsn = end.group(1) if end else "?"
        return Copy(source, seconds, _tree_bytes(data), lsn, before, after)

    def start_db(self, system: System, su_password: str, timeout: float) -> str:
        """Make the copy a standalone primary on the bubble address, start it, wait for it."""
        data, run = self.data_dir(system.name), self.scratch / system.name / "run"
        for name in DROPPED_FILES:
            (data / name).unlink(missing_ok=True)
        port = system.database.port
        files = {
            "postgresql.conf": standalone_conf(
                BUBBLE_ADDRESS, port, run, f"{system.database.cluster}-bubble"
            ),
            "postgresql.auto.conf": "",  # ALTER SYSTEM settings of the estate (e.g. recovery)
            "pg_hba.conf": HBA,
        }
        for name, text in files.items():
            (data / name).write_text(text)
            (data / name).chmod(0o600)
            _chown_postgres(data / name)
        self.spawn(
            f"{system.name}-db",
            "postgres",
            [str(PG_BIN / "postgres"), "-D", str(data)],
            {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                with _connect(BUBBLE_ADDRESS, port, su_password, "postgres") as conn:
                    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                    if row is not None and not row[0]:
                        return f"{system.database.cluster} copy is a primary at {BUBBLE_ADDRESS}"
            except psycopg.Error as exc:
                last = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            time.sleep(READY_POLL_SECONDS)
        raise IsolatedError(f"the copy of {system.database.cluster} did not start: {last}")

    def start_app(self, system: System, env: dict[str, str]) -> str:
        assert system.app is not None
        uvicorn = Path(sys.executable).parent / "uvicorn"
        listen = ["--host", BUBBLE_ADDRESS, "--port", str(system.app.port), "--workers", "1"]
        self.spawn(
            f"{system.name}-app",
            APP_USER,
            [str(uvicorn), f"apps.{system.name}.main:app", *listen, "--no-access-log"],
            {"PATH": f"{uvicorn.parent}:/usr/bin:/bin", "LANG": "C.UTF-8", **env},
        )
        return f"uvicorn apps.{system.name}.main:app on {BUBBLE_ADDRESS}:{system.app.port}"

    def destroy(self) -> list[str]:
        done = teardown(self.paths)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        return done


def _remove_chain() -> bool:
    found = False
    while _iptables("-D", "OUTPUT", "-j", BUBBLE_CHAIN, check=False).returncode == 0:
        found = True
    if _iptables("-S", BUBBLE_CHAIN, check=False).returncode == 0:
        _iptables("-F", BUBBLE_CHAIN)
        _iptables("-X", BUBBLE_CHAIN)
        found = True
    return found


def _listening(address: str) -> list[str]:
    out = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True, check=False).stdout
    return [line.split()[3] for line in out.splitlines() if f"{address}:" in line]


def teardown(paths: LabPaths) -> list[str]:
    """Remove every trace of a bubble (any run's): processes, rules, cgroups, data."""
    done = []
    cgroup = paths.cgroup_root / BUBBLE_CGROUP
    killed = cgroups.kill(cgroup, timeout=30)
    if killed:
        done.append(f"killed {killed} bubble process(es)")
    if _remove_chain():
        done.append(f"removed {BUBBLE_CHAIN}")
    if cgroup.is_dir():
        cgroups.remove_tree(cgroup)
        done.append(f"removed cgroup {paths.cgroup_name}/{BUBBLE_CGROUP}")
    scratch = paths.state / SCRATCH
    if scratch.exists():
        shutil.rmtree(scratch)
        done.append(f"removed {scratch}")
    left = _listening(BUBBLE_ADDRESS)
    if left:
        raise IsolatedError(f"still listening in the bubble: {', '.join(left)}")
    return done


def cleanup_bubble(estate: Estate) -> list[str]:
    """A bubble left by an engine that died (run by `recover()`); nothing outside the lab."""
    if not isinstance(estate, LabEstate):
        return []
    return teardown(estate.paths)


# -- the estate, read only --------------------------------------------------------------------
@contextlib.contextmanager
def _connect(host: str, port: int, password: str, dbname: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(
        host=host,
        port=port,
        user="postgres",
        password=password,
        dbname=dbname,
        connect_timeout=2,
        autocommit=True,
        application_name="drctl-isolated",
    ) as conn:
        yield conn


def _counts(
    address: str, port: int, password: str, dbname: str, tables: Sequence[str]
) -> dict[str, int]:
    out = {}
    with _connect(address, port, password, dbname) as conn:
        for table in tables:
            row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            out[table] = int(row[0]) if row else -1
    return out


def _lag_at_copy(cluster: Cluster, leader: str, source: str, password: str) -> dict[str, Any]:
    """The secondary's replay lag, read on the leader as the copy ends."""
    port = cluster.system.database.port
    with _connect(cluster.addresses[leader], port, password, "postgres") as c:
        row = c.execute(
            "SELECT pg_current_wal_lsn()::text, replay_lsn::text,"
            " extract(epoch FROM replay_lag)::float8"
            " FROM pg_stat_replication WHERE application_name = %s",
            (cluster.member_name(source),),
        ).fetchone()
    if row is None or row[1] is None:
        raise IsolatedError(f"{cluster.member_name(source)} is not replicating from {leader}")
    primary, replay = parse_lsn(row[0]), parse_lsn(row[1])
    return {
        "primary_lsn": row[0],
        "replay_lsn": row[1],
        "bytes_behind": max(0, primary - replay),
        "replay_lag_seconds": row[2],
        "copy_age_seconds": copy_age(primary, replay, row[2]),
    }


def estate_state(engine: Engine) -> dict[str, dict[str, Any]]:
    """Per system: leader, its timeline, replication: must be the same after the drill."""
    out = {}
    for s in engine.drill.systems:
        cluster = engine.ctx.clusters[s]
        leader = cluster.leader_site()
        timeline = None
        if leader is not None:
            timeline = http_json(f"{cluster.rest(leader)}/patroni", timeout=2.0).get("timeline")
        out[s] = {
            "leader": leader,
            "timeline": timeline,
            "replication": cluster.wait_replication(timeout=30),
        }
    return out


def _secondary(cluster: Cluster, leader: str) -> str:
    for m in cluster.members():
        if m.site != leader and m.role in ("sync_standby", "replica") and m.state == "streaming":
            return m.site
    raise IsolatedError(f"{cluster.system.database.cluster}: no streaming secondary to copy")


# -- the flow ---------------------------------------------------------------------------------
def run_isolated(engine: Engine) -> None:
    """Restore, start, verify and destroy each system in the bubble; the engine's `_finish`
    judges the figures. Called in the preflight phase, after the engine's own preflight."""
    from drills.engine import _uninterruptible

    if not isinstance(engine.estate, LabEstate):
        raise IsolatedError("isolated mode needs the lab estate (its bubble is a lab cgroup)")
    bubble = Bubble(engine.estate.paths, engine.topo, engine.run_id)
    with engine.activity("check", "estate before the drill (leaders, timelines)") as act:
        before = estate_state(engine)
        act.output = before
    try:
        engine.phase(Phase.RECOVERY)
        with engine.activity("action", f"bubble: cut {BUBBLE_ADDRESS} off from the estate") as act:
            act.output = bubble.isolate()
        with engine.activity("check", "bubble: cannot reach the estate") as act:
            act.output = bubble.prove_isolated()
        for s in engine.drill.systems:
            spec = engine.topo.system(s)
            engine.journal.systems[s] = SystemResult(
                system=s,
                objective_rto_seconds=spec.objectives.rto_seconds,
                objective_rpo_seconds=spec.objectives.rpo_seconds,
                primary_before=before[s]["leader"],
            )
        with ThreadPoolExecutor(max_workers=len(engine.drill.systems)) as pool:
            futures = {s: pool.submit(_restore, engine, bubble, s) for s in engine.drill.systems}
            copies = {s: f.result() for s, f in futures.items()}
        engine.phase(Phase.VERIFY)
        for s, copy in copies.items():
            _verify(engine, s, copy)
    finally:
        with _uninterruptible():
            engine.phase(Phase.STEADY_STATE)
            _destroy_and_compare(engine, bubble, before)


def _restore(engine: Engine, bubble: Bubble, s: str) -> Copy:
    result = engine.journal.systems[s]
    cluster = engine.ctx.clusters[s]
    system = cluster.system
    leader = result.primary_before
    if leader is None:
        raise IsolatedError(f"{system.database.cluster} has no leader")
    su = engine.estate.secret("db_superuser")
    source = _secondary(cluster, leader)
    t0 = time.time()
    result.t0 = t0
    with engine.activity("action", f"{s}: copy the {source} secondary (pg_basebackup)") as act:
        copy = bubble.restore(cluster, source, engine.estate.secret("db_replication"), su)
        lag = _lag_at_copy(cluster, leader, source, su)
        result.rpo_seconds = lag["copy_age_seconds"]
        act.output = {
            "source": f"{cluster.member_name(source)} ({cluster.addresses[source]})",
            "restore_seconds": round(copy.seconds, 3),
            "bytes_copied": copy.bytes,
            "wal_end_lsn": copy.end_lsn,
            **lag,
            "note": "rpo_seconds = copy_age_seconds: the secondary's replay lag as the copy ended",
        }
    timeout = engine.drill.recovery.timeout_seconds
    with engine.activity("action", f"{s}: start the copy at {BUBBLE_ADDRESS}") as act:
        act.output = bubble.start_db(system, su, timeout)
    assert system.app is not None
    env = {
        "DRCTL_DB_DSN": app_dsn(
            s, BUBBLE_ADDRESS, system.database.port, engine.estate.secret("db_app")
        ),
        "DRCTL_ADMIN_TOKEN": engine.estate.secret("admin_token"),
        "DRCTL_PROBER_TOKEN": engine.token,
        "DRCTL_SITE": "bubble",
    }
    with engine.activity("action", f"{s}: start the app in the bubble") as act:
        act.output = bubble.start_app(system, env)
    url = f"http://{BUBBLE_ADDRESS}:{system.app.port}/readyz"
    with engine.activity("check", f"{s}: ready in the bubble (/readyz 200)") as act:
        deadline = t0 + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1.0).status_code == 200:
                    break
            if time.time() > deadline:
                raise IsolatedError(f"{s} not ready in the bubble within {timeout:g} s")
            time.sleep(READY_POLL_SECONDS)
        result.t1 = time.time()
        result.rto_seconds = round(result.t1 - t0, 3)
        result.probe_resolution_seconds = READY_POLL_SECONDS
        act.output = {
            "time_to_ready_seconds": result.rto_seconds,
            "restore_seconds": round(copy.seconds, 3),
            "bytes_copied": copy.bytes,
            "note": "rto_seconds = time to ready: restore start to the first /readyz 200",
        }
    return copy


def _verify(engine: Engine, s: str, copy: Copy) -> None:
    system = engine.topo.system(s)
    assert system.app is not None
    base = f"http://{BUBBLE_ADDRESS}:{system.app.port}"
    auth = {"Authorization": f"Bearer {engine.token}"}
    su = engine.estate.secret("db_superuser")
    with engine.activity("check", f"{s}: the app serves reads in the bubble") as act:
        code = httpx.get(f"{base}/api/probe/read", headers=auth, timeout=5).status_code
        act.output = f"/api/probe/read: HTTP {code}"
        if code != 200:
            raise IsolatedError(f"{s}: /api/probe/read in the bubble: HTTP {code}")
    with engine.activity("check", f"{s}: row counts match the {copy.source} secondary") as act:
        mine = _counts(BUBBLE_ADDRESS, system.database.port, su, s, list(copy.counts_before))
        lines, bad = [], []
        for table, n in mine.items():
            ok, line = count_verdict(table, n, copy.counts_before[table], copy.counts_after[table])
            lines.append(line)
            if not ok:
                bad.append(line)
        act.output = lines
        if bad:
            raise IsolatedError(f"{s}: the copy differs from the secondary: {'; '.join(bad)}")
    drill = f"{engine.run_id}-bubble"
    with engine.activity("check", f"{s}: a write in the bubble stays in the bubble") as act:
        body = {"drill": drill, "seq": 1, "client_ts": time.time()}
        wrote = httpx.post(f"{base}/api/probe/writes", json=body, headers=auth, timeout=5)
        seen = httpx.get(f"{base}/api/probe/writes/{drill}", headers=auth, timeout=5)
        door = f"{front_door_url(engine.ctx, s)}/api/probe/writes/{drill}"
        outside = httpx.get(door, headers=auth, timeout=5)
        act.output = {
            "bubble_write": wrote.status_code,
            "seen_in_bubble": seen.json().get("seqs") if seen.status_code == 200 else None,
            "seen_through_front_door": outside.json().get("seqs")
            if outside.status_code == 200
            else f"HTTP {outside.status_code}",
        }
        if wrote.status_code != 201 or act.output["seen_in_bubble"] != [1]:
            raise IsolatedError(f"{s}: the probe write in the bubble failed: {act.output}")
        if act.output["seen_through_front_door"] != []:
            raise IsolatedError(f"{s}: the bubble's write reached the estate: {act.output}")


def _destroy_and_compare(engine: Engine, bubble: Bubble, before: dict[str, Any]) -> None:
    """Never raises: what fails here is recorded and fails the drill."""

    def failed(what: str, exc: Exception) -> None:
        engine.journal.reasons.append(f"{what}: {exc}")
        engine.journal.status = Status.FAILED

    try:
        with engine.activity("action", "bubble: destroy (processes, rules, cgroup, data)") as act:
            act.output = bubble.destroy()
    except Exception as exc:
        failed("bubble not destroyed", exc)
    try:
        with engine.activity("check", "estate untouched (same leaders and timelines)") as act:
            after = estate_state(engine)
            act.output = after
            for s, was in before.items():
                result = engine.journal.systems.get(s)
                if result is not None:
                    result.primary_after = after[s]["leader"]
                keys = ("leader", "timeline")
                if [after[s][k] for k in keys] != [was[k] for k in keys]:
                    raise IsolatedError(f"{s} changed during the drill: {was} -> {after[s]}")
        for check in engine.drill.verification:
            with engine.activity("check", f"verify: {check.name}") as act:
                ok, detail = wait_check(check.check, check.args, engine.ctx, engine.token, 30)
                act.output = detail
                if not ok:
                    raise IsolatedError(f"verification failed: {check.name}: {detail}")
    except Exception as exc:
        failed("estate check", exc)


__all__ = ["BUBBLE_ADDRESS", "cleanup_bubble", "run_isolated", "teardown"]
