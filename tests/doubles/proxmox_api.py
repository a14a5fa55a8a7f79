"""A TEST DOUBLE of the Proxmox VE API: only the few endpoints drctl.production.proxmox uses.

It is not Proxmox. It is a threaded stdlib HTTP server bound to 127.0.0.1 on an ephemeral port,
with in-memory VMs per node, and it never contacts any other address. What it mimics of the
real API (PVE 8, /api2/json):

- token authentication, `Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET`, else 401;
- replies shaped `{"data": ...}`; errors as HTTP status with the reason PVE gives, and
  `{"data": null, "errors": {...}}` when a parameter is invalid;
- actions answer at once with a UPID (`UPID:node:pid:pstart:starttime:type:vmid:user:`) and take
  effect when their task finishes, `task_delay` seconds later; tasks are read at
  /nodes/{node}/tasks/{upid}/status (`status` "running" or "stopped", then `exitstatus`).

Endpoints: GET  /nodes/{node}/qemu/{vmid}/status/current
           POST /nodes/{node}/qemu/{vmid}/status/{start,stop}
           GET  /nodes/{node}/qemu/{vmid}/snapshot
           POST /nodes/{node}/qemu/{vmid}/snapshot                     (snapname, description)
           POST /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback
           GET  /nodes/{node}/tasks/{upid}/status

A test makes a task fail with `fail_next` or never finish with `hang_next`; `requests` records
every call; `tls=True` serves HTTPS with a self-signed certificate (`ca_path` trusts it).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PREFIX = "/api2/json"
SNAPNAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]+")
ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p), h)
    for m, p, h in [
        ("GET", r"/nodes/([^/]+)/qemu/(\d+)/status/current", "status"),
        ("POST", r"/nodes/([^/]+)/qemu/(\d+)/status/(start|stop)", "power"),
        ("GET", r"/nodes/([^/]+)/qemu/(\d+)/snapshot", "list_snapshots"),
        ("POST", r"/nodes/([^/]+)/qemu/(\d+)/snapshot", "snapshot"),
        ("POST", r"/nodes/([^/]+)/qemu/(\d+)/snapshot/([^/]+)/rollback", "rollback"),
        ("GET", r"/nodes/([^/]+)/tasks/([^/]+)/status", "task_status"),
    ]
]


class ApiError(Exception):
    def __init__(self, code: int, reason: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.code, self.reason, self.errors = code, reason, errors


@dataclass
class FakeSnapshot:
    name: str
    description: str
    snaptime: int
    disk: str
    parent: str | None


@dataclass
class FakeVM:
    node: str
    vmid: int
    status: str = "running"
    # stands for the VM's disks: a test writes here, a snapshot keeps it, a rollback restores it
    disk: str = ""
    snapshots: dict[str, FakeSnapshot] = field(default_factory=dict)


@dataclass
class FakeTask:
    upid: str
    node: str
    kind: str
    vmid: int
    user: str
    starttime: int
    done_at: float | None  # None: hangs
    exitstatus: str
    effect: Callable[[], None]
    finished: bool = False


class ProxmoxApiDouble:
    """The double: `with ProxmoxApiDouble() as pve: pve.add_vm("pve-1", 101)`; `pve.url`."""

    def __init__(
        self,
        token_id: str = "drctl@pve!drills",
        secret: str = "double-secret",
        task_delay: float = 0.05,
        tls: bool = False,
    ) -> None:
        self.token_id = token_id
        self.task_delay = task_delay
        self._auth = f"PVEAPIToken={token_id}={secret}"
        self._lock = threading.Lock()
        self._vms: dict[tuple[str, int], FakeVM] = {}
        self._tasks: dict[str, FakeTask] = {}
        self._outcomes: dict[tuple[str, int], str | None] = {}
        self._pid = 0x1000
        self.requests: list[tuple[str, str]] = []
        self.ca_path: Path | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.double = self  # type: ignore[attr-defined]
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if tls:
            self._tmp = tempfile.TemporaryDirectory(prefix="pve-double-")
            cert, key = _self_signed(Path(self._tmp.name))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.ca_path = cert
        port = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/"
        # a short poll so that close() returns at once
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def __enter__(self) -> ProxmoxApiDouble:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._tmp is not None:
            self._tmp.cleanup()

    # --- what a test arranges and inspects ---------------------------------------------------

    def add_vm(self, node: str, vmid: int, status: str = "running") -> FakeVM:
        with self._lock:
            vm = self._vms[(node, vmid)] = FakeVM(node, vmid, status)
            return vm

    def vm(self, node: str, vmid: int) -> FakeVM:
        """The VM after every task due by now has taken effect."""
        with self._lock:
            self._advance()
            return self._vms[(node, vmid)]

    def fail_next(self, kind: str, vmid: int, exitstatus: str) -> None:
        """The next task of `kind` (qmstart, qmstop, qmsnapshot, qmrollback) on `vmid` ends
        with this exitstatus and changes nothing."""
        self._outcomes[(kind, vmid)] = exitstatus

    def hang_next(self, kind: str, vmid: int) -> None:
        """The next task of `kind` on `vmid` stays "running" for ever."""
        self._outcomes[(kind, vmid)] = None

    def posts(self) -> list[str]:
        """The paths of every POST so far (the actions), without /api2/json."""
        return [path for method, path in self.requests if method == "POST"]

    # --- the API -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, auth: str | None, form: dict[str, str]) -> Any:
        with self._lock:
            self.requests.append((method, path))
            if auth != self._auth:
                raise ApiError(401, "authentication failure")
            self._advance()
            for route_method, pattern, handler in ROUTES:
                match = pattern.fullmatch(path)
                if match and route_method == method:
                    return getattr(self, f"_{handler}")(*match.groups(), form=form)
            raise ApiError(501, f"Method '{method} {path}' not implemented")

    def _vm(self, node: str, vmid: str) -> FakeVM:
        vm = self._vms.get((node, int(vmid)))
        if vm is None:
            if not any(n == node for n, _ in self._vms):
                raise ApiError(595, f"no such node '{node}'")
            raise ApiError(
                500, f"Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist"
            )
        return vm

    def _status(self, node: str, vmid: str, form: dict[str, str]) -> dict[str, Any]:
        vm = self._vm(node, vmid)
        qmp = "running" if vm.status == "running" else "stopped"
        return {"vmid": vm.vmid, "status": vm.status, "qmpstatus": qmp, "name": f"vm{vm.vmid}"}

    def _power(self, node: str, vmid: str, action: str, form: dict[str, str]) -> str:
        vm = self._vm(node, vmid)
        if action == "start" and vm.status == "running":
            raise ApiError(500, f"VM {vm.vmid} already running")
        after = "running" if action == "start" else "stopped"
        return self._task(vm, f"qm{action}", lambda: setattr(vm, "status", after))

    def _list_snapshots(self, node: str, vmid: str, form: dict[str, str]) -> list[dict[str, Any]]:
        vm = self._vm(node, vmid)
        entries: list[dict[str, Any]] = []
        for snap in vm.snapshots.values():
            entry = {"name": snap.name, "description": snap.description, "snaptime": snap.snaptime}
            if snap.parent:
                entry["parent"] = snap.parent
            entries.append(entry)
        current: dict[str, Any] = {
            "name": "current",
            "description": "You are here!",
            "running": int(vm.status == "running"),
        }
        if vm.snapshots:
            current["parent"] = list(vm.snapshots)[-1]
        return [*entries, current]

    def _snapshot(self, node: str, vmid: str, form: dict[str, str]) -> str:
        vm = self._vm(node, vmid)
        name = form.get("snapname", "")
        if not SNAPNAME.fullmatch(name) or len(name) > 40:
            raise ApiError(400, "Parameter verification failed.", {"snapname": "invalid format"})
        if name in vm.snapshots or name == "current":
            raise ApiError(500, f"snapshot name '{name}' already used")
        parent = list(vm.snapshots)[-1] if vm.snapshots else None

        def take() -> None:
            snap = FakeSnapshot(
                name, form.get("description", ""), int(time.time()), vm.disk, parent
            )
            vm.snapshots[name] = snap

        return self._task(vm, "qmsnapshot", take)

    def _rollback(self, node: str, vmid: str, name: str, form: dict[str, str]) -> str:
        vm = self._vm(node, vmid)
        snap = vm.snapshots.get(name)
        if snap is None:
            raise ApiError(500, f"snapshot '{name}' does not exist")

        def restore() -> None:  # without saved RAM the VM is left stopped, as PVE does
            vm.disk, vm.status = snap.disk, "stopped"

        return self._task(vm, "qmrollback", restore)

    def _task_status(self, node: str, upid: str, form: dict[str, str]) -> dict[str, Any]:
        task = self._tasks.get(upid)
        if task is None or task.node != node:
            raise ApiError(500, f"unable to parse worker upid '{upid}'")
        status: dict[str, Any] = {
            "upid": task.upid,
            "node": task.node,
            "pid": int(task.upid.split(":")[2], 16),
            "starttime": task.starttime,
            "type": task.kind,
            "id": str(task.vmid),
            "user": task.user,
            "status": "stopped" if task.finished else "running",
        }
        if task.finished:
            status["exitstatus"] = task.exitstatus
        return status

    def _task(self, vm: FakeVM, kind: str, effect: Callable[[], None]) -> str:
        self._pid += 1
        start, user = int(time.time()), self.token_id
        ids = f"{self._pid:08X}:{self._pid * 7:08X}:{start:08X}"  # pid, pstart, starttime
        upid = f"UPID:{vm.node}:{ids}:{kind}:{vm.vmid}:{user}:"
        outcome = self._outcomes.pop((kind, vm.vmid), "OK")
        done_at = None if outcome is None else time.monotonic() + self.task_delay
        self._tasks[upid] = FakeTask(
            upid, vm.node, kind, vm.vmid, user, start, done_at, outcome or "", effect
        )
        return upid

    def _advance(self) -> None:
        now = time.monotonic()
        for task in self._tasks.values():
            if not task.finished and task.done_at is not None and task.done_at <= now:
                task.finished = True
                if task.exitstatus == "OK":
                    task.effect()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as pveproxy
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stalls

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        double: ProxmoxApiDouble = self.server.double  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        form = {k: v[-1] for k, v in parse_qs(body).items()}
        path = unquote(urlsplit(self.path).path)
        if not path.startswith(PREFIX + "/"):
            return self._reply(404, "Not Found", {"data": None})
        try:
            data = double.handle(
                method, path.removeprefix(PREFIX), self.headers.get("Authorization"), form
            )
        except ApiError as exc:
            payload: dict[str, Any] = {"data": None}
            if exc.errors:
                payload["errors"] = exc.errors
            return self._reply(exc.code, exc.reason, payload)
        self._reply(200, "OK", {"data": data})

    def _reply(self, code: int, reason: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code, reason)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet under pytest
        pass


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, like a fresh PVE node's."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pve-double.invalid")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "pve-ssl.pem", directory / "pve-ssl.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(key_path, 0o600)
    return cert_path, key_path
