"""WAN latency for the lab: a userspace delaying TCP proxy, and the nat rules that send a
site's inter-site connections through it (DESIGN §4, §9: this kernel has no netem qdisc).

The proxy accepts connections that iptables REDIRECTed to it, reads their original destination
(SO_ORIGINAL_DST), connects onward from the client's true site address and forwards each
direction through a delay line: every chunk is stamped when it arrives and released at
arrival + delay, in order, with no per-chunk serialisation cost. One-way latency is the delay,
so a request/response round trip grows by twice the delay.

Rules for a site S with latency, in nat chain DRCTL-WAN (jumped from nat OUTPUT), each tagged
`drctl-wan:S`:
- from S's cgroup to every other site's address, and
- from any other cgroup under the lab root to S's address
go to S's proxy. The proxy runs in its own cgroup `drctl/wan-S`, which S's rules exclude, so it
is never redirected to itself; it binds its outgoing source explicitly (its cgroup has no SNAT
rule). When both ends of a connection have latency the connection passes both proxies (the
sending site's, then the receiving site's) and the delays add up, as on two slow WAN links;
every hop leaves one more site's rules behind, so there is no loop.

NAT only acts on new connections, so adding latency resets the established TCP connections
between S and the other sites (`ss -K`, which needs the kernel's INET_DIAG_DESTROY); clients
reconnect through the proxy. Where the kernel cannot destroy sockets, those connections keep
their old path (no latency) until they reconnect on their own; `add` reports how many remain.
Partitions still apply: both legs of a proxied connection carry the original site addresses in
conntrack, which is what DRCTL-FENCE matches.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import selectors
import shlex
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path

from drctl.errors import EstateError
from drctl.lab import cgroups, firewall
from drctl.lab.paths import LabPaths
from drctl.lab.supervisor import CGEXEC

log = logging.getLogger(__name__)

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h
IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: pick the source port at connect(), not bind()
CHUNK = 64 * 1024
BUFFER_LIMIT = 8 * 1024 * 1024  # bytes held per direction before reading pauses
CONNECT_TIMEOUT = 10.0
LISTEN_HOST = "127.0.0.1"  # REDIRECT of locally generated packets goes to 127.0.0.1

OriginalDst = Callable[[socket.socket], tuple[str, int]]
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


# --------------------------------------------------------------------------------------------
# the proxy


def original_dst(sock: socket.socket) -> tuple[str, int]:
    """Where a REDIRECTed connection was going (struct sockaddr_in from conntrack)."""
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    (port,) = struct.unpack_from("!H", raw, 2)
    return socket.inet_ntoa(raw[4:8]), port


class _DelayLine:
    """One direction's queue: (arrival time, chunk); b"" is EOF and None a reset."""

    def __init__(self, limit: int) -> None:
        self._items: deque[tuple[float, bytes | None]] = deque()
        self._bytes = 0
        self._limit = limit
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def put(self, stamp: float, data: bytes | None) -> None:
        self._items.append((stamp, data))
        if data:
            self._bytes += len(data)
            if self._bytes >= self._limit:
                self._room.clear()
        self._ready.set()

    async def get(self) -> tuple[float, bytes | None]:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def sent(self, n: int) -> None:
        self._bytes -= n
        if self._bytes < self._limit:
            self._room.set()

    async def room(self) -> None:
        await self._room.wait()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST, as a peer's reset would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class DelayProxy:
    """Forward redirected TCP connections to their original destination, `delay_ms` later in
    each direction. `original_dst` is injectable so the proxy can be tested without NAT."""

    def __init__(
        self,
        delay_ms: float,
        site_address: str,
        original_dst: OriginalDst = original_dst,
        connect_timeout: float = CONNECT_TIMEOUT,
        buffer_limit: int = BUFFER_LIMIT,
    ) -> None:
        if delay_ms < 0:
            raise ValueError("delay must not be negative")
        self.delay = delay_ms / 1000
        self.site_address = site_address
        self._original_dst = original_dst
        self._connect_timeout = connect_timeout
        self._buffer_limit = buffer_limit
        self._handlers: set[asyncio.Task[None]] = set()
        self.connections = 0

    def source_for(self, peer: str, dst: str) -> str:
        """The address the onward connection leaves from: towards the site, the client's own
        (SNATed) site address; from the site to elsewhere, the site's address."""
        return peer if dst == self.site_address else self.site_address

    async def start(self, host: str = LISTEN_HOST, port: int = 0) -> asyncio.Server:
        return await asyncio.start_server(
            self._handle, host, port, reuse_address=True, backlog=1024, limit=CHUNK
        )

    async def close(self) -> None:
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except Exception:
            log.exception("wan proxy: connection failed")
            writer.transport.abort()
        finally:
            self._handlers.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        self.connections += 1
        peer = writer.get_extra_info("peername")
        try:
            dst = self._original_dst(writer.get_extra_info("socket"))
        except OSError as exc:
            log.warning("wan proxy: %s has no original destination (%s)", peer, exc)
            _reset(writer)
            return
        if dst == tuple(writer.get_extra_info("sockname")[:2]):
            log.warning("wan proxy: %s connected to the proxy itself", peer)
            _reset(writer)
            return
        try:
            upstream = await asyncio.wait_for(
                self._connect(self.source_for(peer[0], dst[0]), dst), self._connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            # the refusal (or silence) reaches the client one round trip after it asked
            log.info("wan proxy: %s -> %s:%d failed: %s", peer, *dst, exc)
            await asyncio.sleep(max(0.0, accepted + 2 * self.delay - loop.time()))
            _reset(writer)
            return
        await self._splice((reader, writer), upstream)

    async def _connect(self, source: str, dst: tuple[str, int]) -> Stream:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
            sock.setblocking(False)
            await loop.sock_connect(sock, dst)
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock, limit=CHUNK)

    async def _splice(self, a: Stream, b: Stream) -> None:
        try:
            await asyncio.gather(self._direction(a[0], b[1]), self._direction(b[0], a[1]))
        finally:
            for _, writer in (a, b):
                writer.close()
                with contextlib.suppress(OSError, asyncio.CancelledError):
                    await writer.wait_closed()

    async def _direction(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        line = _DelayLine(self._buffer_limit)
        pump = asyncio.create_task(self._pump_in(src, line))
        try:
            await self._pump_out(line, dst)
        finally:
            # the destination is gone (or everything was delivered): stop reading
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _pump_in(self, src: asyncio.StreamReader, line: _DelayLine) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await line.room()
            try:
                data = await src.read(CHUNK)
            except OSError:
                line.put(loop.time(), None)
                return
            line.put(loop.time(), data)
            if not data:
                return

    async def _pump_out(self, line: _DelayLine, dst: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while True:
            stamp, data = await line.get()
            wait = stamp + self.delay - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                _reset(dst)
                return
            try:
                if not data:
                    if dst.can_write_eof() and not dst.transport.is_closing():
                        dst.write_eof()
                    return
                dst.write(data)
                await dst.drain()
            except OSError:
                return
            line.sent(len(data))


async def _serve_forever(proxy: DelayProxy, host: str, port: int) -> None:
    server = await proxy.start(host, port)
    bound = server.sockets[0].getsockname()
    # the one line on stdout tells the starter the port; nothing else is ever written there
    print(f"listening {bound[0]}:{bound[1]}", flush=True)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), sys.stdout.fileno())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
        server.close()
        await proxy.close()


def _hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drctl.lab.wan", description="delaying TCP proxy for lab WAN latency"
    )
    parser.add_argument("--listen", type=_hostport, required=True, help="HOST:PORT (port 0: any)")
    parser.add_argument("--delay-ms", type=float, required=True, help="one-way delay")
    parser.add_argument("--site-address", required=True, help="the address of the slow site")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    proxy = DelayProxy(args.delay_ms, args.site_address)
    asyncio.run(_serve_forever(proxy, *args.listen))
    return 0


# --------------------------------------------------------------------------------------------
# the lab: rules, the proxy's process, the record


@dataclass(frozen=True)
class Latency:
    site: str
    ms: float
    address: str
    port: int
    pid: int


def tag(site: str) -> str:
    return f"drctl-wan:{site}"


def _proxy_cgroup(paths: LabPaths, site: str) -> Path:
    return paths.site_cgroup(f"wan-{site}")


def _record(paths: LabPaths, site: str) -> Path:
    return paths.lab / "wan" / f"{site}.json"


def _tagged(site: str) -> list[str]:
    out = []
    for rule in firewall._rules("nat", firewall.WAN_CHAIN):
        words = shlex.split(rule)
        if any(a == "--comment" and b == tag(site) for a, b in pairwise(words)):
            out.append(rule)
    return out


def active(paths: LabPaths | None = None) -> dict[str, Latency]:
    """Sites with latency now: a record whose rules or proxy are still there (`lab down`
    removes both but may leave the record, which then no longer counts)."""
    paths = paths or LabPaths.default()
    out = {}
    for path in sorted((paths.lab / "wan").glob("*.json")):
        try:
            latency = Latency(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue
        if _tagged(latency.site) or cgroups.pids(_proxy_cgroup(paths, latency.site)):
            out[latency.site] = latency
    return out


def _rule_specs(
    paths: LabPaths, site: str, address: str, peers: Sequence[str], port: int
) -> list[list[str]]:
    """The site's rules as `iptables -t nat` arguments. Outgoing rules (from the site's
    cgroup) go first in the chain and incoming ones (to its address) last, whatever the order
    sites were slowed in: a connection between two slow sites then always meets the sender's
    proxy first and the receiver's proxy on the proxy's onward connection, so both delays add
    up in either direction."""
    chain = firewall.WAN_CHAIN
    tail = ["-m", "comment", "--comment", tag(site), "-j", "REDIRECT", "--to-ports", str(port)]
    own = ["-m", "cgroup", "--path", paths.cgroup_match_path(site)]
    specs = [["-I", chain, "1", "-d", peer, "-p", "tcp", *own, *tail] for peer in peers]
    others = [
        *("-m", "cgroup", "--path", paths.cgroup_name),
        *("-m", "cgroup", "!", "--path", paths.cgroup_match_path(site)),
        *("-m", "cgroup", "!", "--path", paths.cgroup_match_path(f"wan-{site}")),
    ]
    specs.append(["-A", chain, "-d", address, "-p", "tcp", *others, *tail])
    return specs


def _ensure_chain() -> None:
    chain = firewall.WAN_CHAIN
    if firewall._ipt("-t", "nat", "-S", chain, check=False).returncode != 0:
        firewall._ipt("-t", "nat", "-N", chain)
    if firewall._ipt("-t", "nat", "-C", "OUTPUT", "-j", chain, check=False).returncode != 0:
        firewall._ipt("-t", "nat", "-I", "OUTPUT", "1", "-j", chain)


def _drop_chain_if_empty() -> None:
    chain = firewall.WAN_CHAIN
    if firewall._ipt("-t", "nat", "-S", chain, check=False).returncode != 0:
        return
    if not firewall._rules("nat", chain):
        while firewall._ipt("-t", "nat", "-D", "OUTPUT", "-j", chain, check=False).returncode == 0:
            pass
        firewall._ipt("-t", "nat", "-X", chain, check=False)


def _start_proxy(paths: LabPaths, site: str, address: str, ms: float) -> tuple[int, int]:
    """Start the proxy in its own cgroup; returns (port, pid) once it listens."""
    cgroup = _proxy_cgroup(paths, site)
    cgroup.mkdir(parents=True, exist_ok=True)
    logfile = _record(paths, site).with_suffix(".log")
    cmd = [
        CGEXEC,
        str(cgroup),
        "root",
        sys.executable,
        "-m",
        "drctl.lab.wan",
        "--listen",
        f"{LISTEN_HOST}:0",
        "--delay-ms",
        f"{ms:g}",
        "--site-address",
        address,
    ]
    with logfile.open("ab") as err:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
    assert proc.stdout is not None
    line = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 15
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(proc.stdout.fileno(), 256)
            if not chunk:
                break
            line += chunk
    proc.stdout.close()
    words = line.decode(errors="replace").split()
    if len(words) != 2 or words[0] != "listening":
        proc.kill()
        proc.wait()
        raise EstateError(f"wan proxy for {site} did not start; see {logfile}")
    return int(words[1].rpartition(":")[2]), proc.pid


def _established(address: str, peers: Sequence[str]) -> list[str]:
    return ["state", "established", _ss_filter(address, peers)]


def _ss_filter(address: str, peers: Sequence[str]) -> str:
    # Both ends must be site addresses: the server-side socket shows the client's SNATed
    # address, while a client's own socket shows 127.0.0.1 (SNAT happens after it), so
    # connections inside the site or from the observer are left alone.
    to = " or ".join(f"dst {p}" for p in peers)
    back = " or ".join(f"src {p}" for p in peers)
    return f"( src {address} and ( {to} ) ) or ( dst {address} and ( {back} ) )"


def _sockets(*ss_args: str) -> set[tuple[str, str]]:
    proc = subprocess.run(["ss", *ss_args], capture_output=True, text=True, timeout=30)
    # -H, one state: Recv-Q Send-Q Local:Port Peer:Port
    return {(f[2], f[3]) for f in map(str.split, proc.stdout.splitlines()) if len(f) >= 4}


def reset_established(address: str, peers: Sequence[str]) -> tuple[int, int]:
    """Destroy established TCP connections between `address` and `peers` (ss -K); returns
    (sockets destroyed, sockets that survived). Connections made meanwhile (through the proxy,
    with new ports) are not counted as survivors."""
    if not peers:
        return 0, 0
    before = _sockets("-tnH", *_established(address, peers))
    killed = _sockets("-K", "-tnH", *_established(address, peers))
    after = _sockets("-tnH", *_established(address, peers))
    return len(killed), len(before & after)


def add(paths: LabPaths, site: str, address: str, peers: Sequence[str], ms: float) -> Latency:
    """Give `site` `ms` of one-way latency to and from `peers` (idempotent; a new value
    replaces the old one)."""
    if ms <= 0:
        raise EstateError(f"latency must be positive, got {ms} ms")
    current = active(paths).get(site)
    if current and current.ms == ms and _tagged(site) and cgroups.pids(_proxy_cgroup(paths, site)):
        return current
    remove(paths, site)
    _record(paths, site).parent.mkdir(parents=True, exist_ok=True)
    port, pid = _start_proxy(paths, site, address, ms)
    try:
        _ensure_chain()
        for spec in _rule_specs(paths, site, address, peers, port):
            firewall._ipt("-t", "nat", *spec)
        latency = Latency(site, ms, address, port, pid)
        _record(paths, site).write_text(json.dumps(asdict(latency)) + "\n")
        killed, left = reset_established(address, peers)
    except BaseException:
        remove(paths, site)
        raise
    if left:
        log.warning(
            "%s: %d established connection(s) could not be reset (ss -K) and keep no latency "
            "until they reconnect",
            site,
            left,
        )
    log.info("%s: +%g ms via port %d; %d connection(s) reset", site, ms, port, killed)
    return latency


def remove(paths: LabPaths, site: str) -> None:
    """Undo `add`: rules, proxy (its connections close, clients reconnect directly), record."""
    for rule in _tagged(site):
        firewall._ipt("-t", "nat", *firewall._delete(rule))
    _drop_chain_if_empty()
    cgroup = _proxy_cgroup(paths, site)
    cgroups.kill(cgroup)
    cgroups.remove_tree(cgroup)
    _record(paths, site).unlink(missing_ok=True)
    _record(paths, site).with_suffix(".log").unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # only when no other site has latency
        _record(paths, site).parent.rmdir()


if __name__ == "__main__":
    sys.exit(main())
