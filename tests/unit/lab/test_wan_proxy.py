"""The WAN delaying proxy on its own: no NAT, the original destination is injected."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from drctl.lab.wan import DelayProxy

pytestmark = pytest.mark.timeout(60)

DELAY_MS = 50
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def _server(handler: Handler) -> AsyncIterator[tuple[str, int]]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[:2]
    finally:
        server.close()


@asynccontextmanager
async def _proxied(
    target: tuple[str, int], delay_ms: float = DELAY_MS
) -> AsyncIterator[tuple[DelayProxy, tuple[str, int]]]:
    proxy = DelayProxy(delay_ms, "127.0.0.1", original_dst=lambda _sock: target)
    server = await proxy.start("127.0.0.1", 0)
    try:
        yield proxy, server.sockets[0].getsockname()[:2]
    finally:
        server.close()
        await proxy.close()


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


def test_round_trip_takes_twice_the_delay() -> None:
    async def scenario() -> list[float]:
        async with _server(_echo) as target, _proxied(target) as (_, addr):
            reader, writer = await asyncio.open_connection(*addr)
            times = []
            for i in range(10):
                message = f"ping {i}\n".encode()
                start = time.perf_counter()
                writer.write(message)
                assert await reader.readexactly(len(message)) == message
                times.append((time.perf_counter() - start) * 1000)
            writer.close()
            return times

    times = asyncio.run(scenario())
    assert min(times) >= 2 * DELAY_MS, times
    assert statistics.median(times) < 2 * DELAY_MS + 50, times


def test_no_per_chunk_serialisation_delay() -> None:
    """Chunks sent 5 ms apart arrive 5 ms apart, each one delay later, not one delay each."""
    arrivals: list[float] = []

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(1):
            arrivals.append(time.perf_counter())
        writer.close()

    async def scenario() -> list[float]:
        async with _server(sink) as target, _proxied(target) as (_, addr):
            _, writer = await asyncio.open_connection(*addr)
            sent = []
            for _ in range(20):
                sent.append(time.perf_counter())
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.005)
            writer.write_eof()
            await asyncio.sleep(2 * DELAY_MS / 1000 + 0.1)
            writer.close()
            return sent

    sent = asyncio.run(scenario())
    assert len(arrivals) == len(sent)
    lags = [(a - s) * 1000 for a, s in zip(arrivals, sent, strict=True)]
    assert min(lags) >= DELAY_MS, lags
    assert statistics.median(lags) < DELAY_MS + 20, lags
    assert max(lags) < DELAY_MS + 100, lags  # one delay each would reach 20 x 50 ms


def test_one_mebibyte_each_way_arrives_intact() -> None:
    payload = os.urandom(1024 * 1024)
    received_by_server = hashlib.sha256()

    async def server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def send() -> None:
            writer.write(payload[::-1])
            await writer.drain()

        sending = asyncio.create_task(send())
        while data := await reader.read(65536):
            received_by_server.update(data)
        await sending
        writer.close()

    async def scenario() -> bytes:
        async with _server(server) as target, _proxied(target, delay_ms=20) as (_, addr):
            reader, writer = await asyncio.open_connection(*addr)
            writer.write(payload)
            await writer.drain()
            writer.write_eof()
            got = await reader.read()  # until the server closes
            writer.close()
            return got

    got = asyncio.run(scenario())
    assert received_by_server.digest() == hashlib.sha256(payload).digest()
    assert got == payload[::-1]


def test_half_close_is_forwarded_and_the_other_way_stays_open() -> None:
    async def counter(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read()  # returns at the client's EOF
        await asyncio.sleep(0.05)  # reply well after the half-close
        writer.write(f"got {len(data)} bytes\n".encode())
        await writer.drain()
        writer.close()

    async def scenario() -> tuple[bytes, bytes]:
        async with _server(counter) as target, _proxied(target) as (_, addr):
            reader, writer = await asyncio.open_connection(*addr)
            writer.write(b"a" * 1000)
            writer.write_eof()
            reply = await reader.readline()
            rest = await reader.read()  # then EOF from the server's close
            writer.close()
            return reply, rest

    assert asyncio.run(scenario()) == (b"got 1000 bytes\n", b"")


def test_server_reset_reaches_client_as_reset() -> None:
    async def rude(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        writer.transport.abort()

    async def scenario() -> BaseException | bytes:
        async with _server(rude) as target, _proxied(target) as (_, addr):
            reader, writer = await asyncio.open_connection(*addr)
            writer.write(b"x")
            try:
                return await asyncio.wait_for(reader.read(), 2)
            except ConnectionResetError as exc:
                return exc
            finally:
                writer.close()

    assert isinstance(asyncio.run(scenario()), ConnectionResetError)


def test_refused_destination_resets_after_a_round_trip() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[:2]  # nothing listens once this socket is closed

    async def scenario() -> tuple[float, BaseException | bytes]:
        async with _proxied(closed) as (_, addr):
            start = time.perf_counter()
            reader, writer = await asyncio.open_connection(*addr)
            try:
                outcome: BaseException | bytes = await asyncio.wait_for(reader.read(), 2)
            except ConnectionResetError as exc:
                outcome = exc
            writer.close()
            return (time.perf_counter() - start) * 1000, outcome

    took, outcome = asyncio.run(scenario())
    assert isinstance(outcome, ConnectionResetError)
    assert 2 * DELAY_MS <= took < 2 * DELAY_MS + 100


def test_source_address_is_the_true_site_address() -> None:
    proxy = DelayProxy(10, "127.10.2.1")
    # towards the slow site: the client's (SNATed) site address
    assert proxy.source_for("127.10.1.1", "127.10.2.1") == "127.10.1.1"
    # from the slow site to another: the site's own address
    assert proxy.source_for("127.0.0.1", "127.10.1.1") == "127.10.2.1"


def test_module_runs_and_refuses_connections_without_original_destination() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "drctl.lab.wan",
            "--listen",
            "127.0.0.1:0",
            "--delay-ms",
            "5",
            "--site-address",
            "127.10.250.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        word, hostport = proc.stdout.readline().decode().split()
        assert word == "listening"
        host, _, port = hostport.rpartition(":")
        try:  # the reset may beat connect() back to the client
            with socket.create_connection((host, int(port)), timeout=5) as conn:
                assert conn.recv(10) == b""
        except ConnectionResetError:
            pass
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
