"""Many TCP probes and HTTP GETs at once, on one non-blocking selector loop.

A scrape of a large estate makes one request per database cluster. Threads or asyncio spend
~100 µs of Python on each request; a plain selector about half of that, which is what keeps a
scrape of 1,000 systems near 100 ms (benchmarks/exporter_bench.py).

Requests are HTTP/1.0: the server closes the connection after its answer (Patroni's REST API
does so whatever we ask), the body is everything up to EOF, and no connection outlives a call.
Plain HTTP only; a TLS estate needs another `FetchFirst` (monitoring.sources).

A target may also bring its own `Framing` (monitoring.etcd: gRPC over HTTP/2, where the server
keeps the connection open): it says when the answer is complete, and what it was.
"""

from __future__ import annotations

import errno
import heapq
import os
import select
import selectors
import socket
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

HostPort = tuple[str, int]
MAX_BODY_BYTES = 32 * 1024 * 1024
_IN_PROGRESS = {0, errno.EINPROGRESS, errno.EAGAIN, errno.EALREADY}


class HttpError(ConnectionError):
    """A server answered, but not with 2xx, or not with HTTP."""


class Framing(Protocol):
    """Reads one answer on a connection the server keeps open."""

    def feed(self, data: bytes) -> bytes | Exception | None:
        """None while the answer is incomplete; then the answer, or why it is not one (the
        job then tries its next alternative)."""


@dataclass(frozen=True)
class Target:
    """Where to connect, and what to send (None: a probe, connecting is all it asks)."""

    host: str
    port: int
    request: bytes | None = None
    label: str = ""  # for error messages: the URL, or host:port
    # None: the answer is everything up to EOF; else a new Framing per attempt reads it
    framing: Callable[[], Framing] | None = None


def http_target(url: str) -> Target:
    host, port, path = _split_url(url)
    header_host = f"[{host}]" if ":" in host else host
    request = (
        f"GET {path} HTTP/1.0\r\nHost: {header_host}:{port}\r\nUser-Agent: drctl-exporter\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")
    return Target(host, port, request, url)


def _split_url(url: str) -> tuple[str, int, str]:
    if url.startswith("http://"):  # the common case, a tenth of urlsplit's time
        hostport, slash, rest = url[7:].partition("/")
        host, _, port = hostport.rpartition(":")
        if host and port.isdigit() and "[" not in host and "@" not in host:
            return host, int(port), slash + rest if slash else "/"
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"{url}: only http://host[:port]/path URLs are supported")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, parts.port or 80, path


def probe(endpoints: Collection[HostPort], timeout: float) -> set[HostPort]:
    """The endpoints that accepted a TCP connection within `timeout` seconds.

    Probes are most of a scrape's connections (hundreds at 1,000 systems), so they get a loop
    of their own, leaner than `run`'s: a bare epoll, no bookkeeping object per connection,
    and closing a socket is what takes it out of the epoll set."""
    answered: set[HostPort] = set()
    pending: dict[int, tuple[socket.socket, HostPort]] = {}
    poller = select.epoll()
    try:
        for hp in endpoints:
            try:
                family, addr = _resolve(*hp)
                sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
            except OSError:
                continue  # an unresolvable name, or out of descriptors: not answering
            rc = sock.connect_ex(addr)
            if rc == 0:
                answered.add(hp)
            elif rc in _IN_PROGRESS:
                poller.register(sock.fileno(), select.EPOLLOUT)
                pending[sock.fileno()] = (sock, hp)
                continue
            sock.close()
        deadline = time.monotonic() + timeout
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for fd, _ in poller.poll(left):
                sock, hp = pending.pop(fd)
                if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    answered.add(hp)
                sock.close()
    finally:
        for sock, _ in pending.values():
            sock.close()
        poller.close()
    return answered


def get_first(
    groups: Sequence[Sequence[str]], timeout: float, stagger: float = 0.25
) -> list[str | Exception]:
    """GET every group at once. A group's URLs are alternatives in order of preference: the
    next one starts when the previous one failed, or after `stagger` seconds without an answer.
    For each group: the body of the first URL that answered 2xx, or the reason none did."""
    out: list[str | Exception] = []
    jobs: list[list[Target]] = []
    index: list[int] = []  # job -> group
    for g, urls in enumerate(groups):
        try:
            jobs.append([http_target(u) for u in urls])
        except ValueError as exc:
            out.append(exc)
            continue
        out.append(ConnectionError("no URL"))
        index.append(g)
    for g, result in zip(index, run(jobs, timeout, stagger), strict=True):
        out[g] = _http_body(result) if isinstance(result, bytes) else result
    return out


def get(url: str, timeout: float) -> str:
    """One GET (the body of a 2xx answer); raises on any failure."""
    result = get_first([[url]], timeout)[0]
    if isinstance(result, Exception):
        raise result
    return result


# --- the loop -------------------------------------------------------------------------------


@dataclass(eq=False)
class _Attempt:
    job: int
    target: Target
    sock: socket.socket
    sent: int = 0
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    framing: Framing | None = None


@dataclass(eq=False)
class _Job:
    targets: Sequence[Target]
    started: int = 0  # how many alternatives were started
    attempts: list[_Attempt] = field(default_factory=list)  # those still running
    result: bytes | Exception | None = None
    errors: list[str] = field(default_factory=list)


def run(
    jobs: Sequence[Sequence[Target]], timeout: float, stagger: float
) -> list[bytes | Exception]:
    """Connect (and exchange, when a target has a request) for every job at once.

    A job succeeds with the raw answer (b"" for a probe) of the first alternative that
    completes; otherwise it fails with a ConnectionError naming every alternative's reason."""
    return _Loop(jobs, stagger).run(timeout)


class _Loop:
    def __init__(self, jobs: Sequence[Sequence[Target]], stagger: float) -> None:
        self.jobs = [_Job(targets) for targets in jobs]
        self.stagger = stagger
        self.sel = selectors.DefaultSelector()
        self.live: dict[int, _Attempt] = {}  # fd -> attempt
        # (when, job, alternatives started when it was set): start the job's next alternative
        self.timers: list[tuple[float, int, int]] = []
        self.expired = False

    def run(self, timeout: float) -> list[bytes | Exception]:
        deadline = time.monotonic() + timeout
        try:
            for j, job in enumerate(self.jobs):
                if job.targets:
                    self.start(j)
                else:
                    job.result = ConnectionError("no target")
            while self.live:
                now = time.monotonic()
                while self.timers and self.timers[0][0] <= now:
                    _, j, started = heapq.heappop(self.timers)
                    job = self.jobs[j]
                    if job.result is None and job.started == started < len(job.targets):
                        self.start(j)
                if now >= deadline:
                    break
                wake = min(deadline, self.timers[0][0]) if self.timers else deadline
                for key, events in self.sel.select(max(0.0, wake - now)):
                    a: _Attempt = key.data
                    if a.sock.fileno() < 0:
                        continue  # closed earlier in this batch of events
                    if events & selectors.EVENT_WRITE:
                        self.on_writable(a)
                    else:
                        self.on_readable(a)
            self.expired = True
            for a in list(self.live.values()):
                self.finish(a, TimeoutError(f"no answer within {timeout:g} s"))
        finally:
            for a in list(self.live.values()):
                self.close(a)
            self.sel.close()
        return [
            job.result if job.result is not None else ConnectionError("; ".join(job.errors))
            for job in self.jobs
        ]

    def start(self, j: int) -> None:
        job = self.jobs[j]
        while job.started < len(job.targets):
            target = job.targets[job.started]
            job.started += 1
            try:
                family, addr = _resolve(target.host, target.port)
                sock = socket.socket(family, socket.SOCK_STREAM)
            except OSError as exc:
                job.errors.append(f"{target.label}: {_reason(exc)}")
                continue
            sock.setblocking(False)
            rc = sock.connect_ex(addr)
            if rc not in _IN_PROGRESS:
                sock.close()
                job.errors.append(f"{target.label}: {_reason(OSError(rc, os.strerror(rc)))}")
                continue
            a = _Attempt(j, target, sock, framing=target.framing() if target.framing else None)
            self.live[sock.fileno()] = a
            job.attempts.append(a)
            if job.started < len(job.targets):
                heapq.heappush(self.timers, (time.monotonic() + self.stagger, j, job.started))
            # On loopback and nearby hosts the handshake is often done when connect returns:
            # then the request goes out at once, saving a round through the selector.
            if not self.try_connected(a):
                self.sel.register(sock, selectors.EVENT_WRITE, a)
            return
        if not job.attempts:
            job.result = ConnectionError("; ".join(job.errors))

    def finish(self, a: _Attempt, result: bytes | Exception, registered: bool = True) -> None:
        self.close(a, registered)
        job = self.jobs[a.job]
        job.attempts.remove(a)
        if job.result is not None:
            return
        if not isinstance(result, Exception):
            job.result = result
            for other in job.attempts:
                self.close(other)
            job.attempts.clear()
            return
        job.errors.append(f"{a.target.label}: {_reason(result)}")
        if not self.expired and job.started < len(job.targets):
            self.start(j=a.job)
        elif not job.attempts:
            job.result = ConnectionError("; ".join(job.errors))

    def try_connected(self, a: _Attempt) -> bool:
        """Finish a probe, or send a request, if the connection is already established."""
        try:
            a.sock.getpeername()
        except OSError:
            return False  # still connecting (or refused: the selector will say)
        if a.target.request is None:
            self.finish(a, b"", registered=False)
            return True
        try:
            a.sent = a.sock.send(a.target.request)
        except BlockingIOError:
            return False
        except OSError as exc:
            self.finish(a, exc, registered=False)
            return True
        mask = selectors.EVENT_READ if a.sent >= len(a.target.request) else selectors.EVENT_WRITE
        self.sel.register(a.sock, mask, a)
        return True

    def on_writable(self, a: _Attempt) -> None:
        if a.sent == 0:
            err = a.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.finish(a, OSError(err, os.strerror(err)))
                return
            if a.target.request is None:
                self.finish(a, b"")  # a probe: the connection was accepted
                return
        request = a.target.request or b""
        try:
            a.sent += a.sock.send(request[a.sent :])
        except OSError as exc:
            self.finish(a, exc)
            return
        if a.sent >= len(request):
            self.sel.modify(a.sock, selectors.EVENT_READ, a)

    def on_readable(self, a: _Attempt) -> None:
        try:
            data = a.sock.recv(262144)
        except OSError as exc:
            self.finish(a, exc)
            return
        a.size += len(data)
        if a.size > MAX_BODY_BYTES:
            self.finish(a, HttpError(f"answer larger than {MAX_BODY_BYTES} bytes"))
        elif a.framing is not None:
            answer = a.framing.feed(data) if data else ConnectionError("closed mid-answer")
            if answer is not None:
                self.finish(a, answer)
        elif not data:
            self.finish(a, b"".join(a.chunks))
        else:
            a.chunks.append(data)

    def close(self, a: _Attempt, registered: bool = True) -> None:
        fd = a.sock.fileno()
        if fd < 0:
            return
        self.live.pop(fd, None)
        if registered:
            self.sel.unregister(a.sock)
        a.sock.close()


def _resolve(host: str, port: int) -> tuple[socket.AddressFamily, tuple[str, int]]:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return family, (host, port)
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    return info[0], (str(info[4][0]), port)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, TimeoutError):
        return exc.strerror
    return str(exc) or type(exc).__name__


# --- HTTP answers ---------------------------------------------------------------------------


def _http_body(raw: bytes) -> str | Exception:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    lines = head.decode("latin-1").splitlines()
    status = lines[0].split(None, 2) if lines else []
    if not sep or len(status) < 2 or not status[0].startswith("HTTP/"):
        return HttpError("not an HTTP answer")
    if not status[1].isdigit() or not 200 <= int(status[1]) < 300:
        return HttpError(f"HTTP {' '.join(status[1:])}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        try:
            body = _dechunk(body)
        except ValueError as exc:
            return HttpError(f"bad chunked body: {exc}")
    elif headers.get("content-length", "").isdigit():
        length = int(headers["content-length"])
        if len(body) < length:
            return HttpError(f"answer cut short ({len(body)} of {length} bytes)")
        body = body[:length]
    charset = "utf-8"
    for param in headers.get("content-type", "").split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip('"')
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _dechunk(body: bytes) -> bytes:
    out: list[bytes] = []
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            raise ValueError("missing chunk size")
        size = int(body[pos:eol].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        start = eol + 2
        if start + size > len(body):
            raise ValueError("chunk cut short")
        out.append(body[start : start + size])
        pos = start + size + 2
