"""Every key under a prefix, in one etcd v3 Range call: gRPC over plain HTTP/2 (h2c).

Why not etcd's JSON gateway (`POST /v3/kv/range`, as drctl.estate.patroni uses for single keys):
for a whole Patroni namespace of 1,000 clusters (6,000 keys, 1.3 MB) etcd 3.4 spends 75 to 90 ms
re-encoding its gRPC answer as JSON with base64 values, against 10 to 15 ms for the gRPC answer
itself (benchmarks/exporter_bench.py). The client is small because one unary call is all it
makes: a connection per call, the request sent in one write (preface, SETTINGS with a window
large enough for any answer, HEADERS in HPACK literals, DATA), then the frames read until the
stream ends. grpcio is not needed; protobuf's C parser reads the answer when it is installed
(parse_range_response).

The read is linearizable (etcd's default): a member cut off from its quorum cannot serve it, so
a partitioned member never answers with a stale view; the next member is tried instead
(monitoring.netio: each alternative starts when the previous failed or is slow). Plain HTTP
only, without etcd authentication, as the lab runs etcd.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from monitoring import netio

HostPort = tuple[str, int]
RANGE_METHOD = "/etcdserverpb.KV/Range"
MAX_ANSWER_BYTES = netio.MAX_BODY_BYTES

_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_DATA, _HEADERS, _RST_STREAM, _SETTINGS, _WINDOW_UPDATE, _GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x8, 0x7
_END_STREAM, _END_HEADERS, _PADDED = 0x1, 0x4, 0x8
_STREAM = 1  # the one stream this client opens
_MAX_WINDOW = 2**31 - 1
_DEFAULT_WINDOW = 65535


class EtcdError(ConnectionError):
    """An etcd member answered, but not with a Range result."""


def range_prefix(
    endpoints: Sequence[HostPort], prefix: bytes, timeout: float, stagger: float = 0.15
) -> list[tuple[bytes, bytes]]:
    """(key, value) of every key starting with `prefix`, in key order, from the first etcd
    member (in order) that answers; ConnectionError naming every member's failure if none."""
    if not endpoints:
        raise ConnectionError("no etcd endpoint")
    message = range_request(prefix, prefix_end(prefix))
    targets = [
        netio.Target(host, port, grpc_request(f"{host}:{port}", RANGE_METHOD, message),
                     f"etcd {host}:{port}", framing=GrpcAnswer)
        for host, port in endpoints
    ]  # fmt: skip
    answer = netio.run([targets], timeout, stagger)[0]
    if isinstance(answer, Exception):
        raise answer
    return parse_range_response(answer)


def prefix_end(prefix: bytes) -> bytes:
    """etcd's range_end for "every key starting with prefix": the prefix, last byte + 1."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\x00"  # an empty (or all-0xff) prefix: every key


# --- protobuf ---------------------------------------------------------------------------------


def range_request(key: bytes, range_end: bytes) -> bytes:
    """etcdserverpb.RangeRequest{key, range_end}: linearizable, every revision's latest."""
    return _field(1, key) + _field(2, range_end)


def _field(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _skip(buf: bytes, pos: int, wire_type: int) -> int:
    if wire_type == 0:
        return _read_varint(buf, pos)[1]
    if wire_type == 2:
        n, pos = _read_varint(buf, pos)
        return pos + n
    if wire_type == 1:
        return pos + 8
    if wire_type == 5:
        return pos + 4
    raise ValueError(f"protobuf wire type {wire_type} is not supported")


def parse_range_response(buf: bytes) -> list[tuple[bytes, bytes]]:
    """The (key, value) of every kvs[] entry of an etcdserverpb.RangeResponse (field 2; the
    header, more and count are skipped, and in each mvccpb.KeyValue all but key (1) and value
    (5)); ValueError when the bytes are not one.

    With protobuf's C parser (upb, protobuf >= 4.21) a namespace of 1,000 clusters (6,100
    entries, 1.3 MB) is read in ~6 ms, against ~13 ms for the Python reader below, which is
    used where protobuf runs in pure Python or is absent; both give the same answer
    (tests/unit/monitoring/test_etcd.py)."""
    if _UPB_RANGE_RESPONSE is None:
        return parse_range_response_py(buf)
    try:
        kvs = _UPB_RANGE_RESPONSE.FromString(buf).kvs
    except Exception:  # google.protobuf.message.DecodeError, or upb's own
        raise ValueError("not an etcd RangeResponse (cut short)") from None
    return [(kv.key, kv.value) for kv in kvs]


def _upb_range_response() -> Any:
    """A RangeResponse message class holding only kvs[].key and .value (every other field is
    skipped as unknown), or None without protobuf's C parser."""
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        from google.protobuf.internal import api_implementation
    except ImportError:
        return None
    if api_implementation.Type() != "upb":  # protobuf's Python parser is slower than ours
        return None
    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="drctl/etcd_range.proto", package="drctl.etcd", syntax="proto3"
    )
    kv = proto.message_type.add(name="KeyValue")
    kv.field.add(name="key", number=1, type=field.TYPE_BYTES, label=field.LABEL_OPTIONAL)
    kv.field.add(name="value", number=5, type=field.TYPE_BYTES, label=field.LABEL_OPTIONAL)
    response = proto.message_type.add(name="RangeResponse")
    response.field.add(
        name="kvs", number=2, type=field.TYPE_MESSAGE, label=field.LABEL_REPEATED,
        type_name=".drctl.etcd.KeyValue",
    )  # fmt: skip
    pool = descriptor_pool.DescriptorPool()  # its own pool: no clash with etcd's real .proto
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("drctl.etcd.RangeResponse"))


_UPB_RANGE_RESPONSE = _upb_range_response()


def parse_range_response_py(buf: bytes) -> list[tuple[bytes, bytes]]:
    """parse_range_response in Python, written for speed: one-byte tags and short lengths
    are read inline."""
    out: list[tuple[bytes, bytes]] = []
    append = out.append
    pos, end = 0, len(buf)
    try:
        while pos < end:
            if buf[pos] != 0x12:  # not kvs: skip the field
                tag, pos = _read_varint(buf, pos)
                pos = _skip(buf, pos, tag & 7)
                continue
            n = buf[pos + 1]
            if n < 0x80:
                pos += 2
            elif buf[pos + 2] < 0x80:
                n = (n & 0x7F) | buf[pos + 2] << 7
                pos += 3
            else:
                n, pos = _read_varint(buf, pos + 1)
            kv_end = pos + n
            if kv_end > end:
                raise IndexError
            key = value = b""
            while pos < kv_end:
                tag = buf[pos]
                if tag == 0x0A or tag == 0x2A:  # key, value
                    n = buf[pos + 1]
                    if n < 0x80:
                        pos += 2
                    elif buf[pos + 2] < 0x80:
                        n = (n & 0x7F) | buf[pos + 2] << 7
                        pos += 3
                    else:
                        n, pos = _read_varint(buf, pos + 1)
                    if tag == 0x0A:
                        key = buf[pos : pos + n]
                    else:
                        value = buf[pos : pos + n]
                    pos += n
                elif tag < 0x80 and tag & 7 == 0:  # revisions, version, lease: varints
                    pos += 1
                    while buf[pos] > 0x7F:
                        pos += 1
                    pos += 1
                else:
                    tag, pos = _read_varint(buf, pos)
                    pos = _skip(buf, pos, tag & 7)
            if pos != kv_end:
                raise IndexError
            append((key, value))
    except IndexError:
        raise ValueError("not an etcd RangeResponse (cut short)") from None
    if pos != end:
        raise ValueError("not an etcd RangeResponse (cut short)")
    return out


# --- gRPC over HTTP/2 -------------------------------------------------------------------------


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    head = len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream.to_bytes(4, "big")
    return head + payload


def _hpack_string(value: str) -> bytes:
    data = value.encode("ascii")
    if len(data) > 126:
        raise ValueError("header value too long for this client")
    return bytes((len(data),)) + data


def grpc_request(authority: str, method: str, message: bytes) -> bytes:
    """Everything a unary call sends, in one write: the connection preface, SETTINGS (no push,
    the largest stream window) and a WINDOW_UPDATE for the connection's window, so that the
    server never waits for us, then the call's HEADERS and its one DATA frame."""
    settings = struct.pack(">HIHI", 0x2, 0, 0x4, _MAX_WINDOW)
    # HPACK without the dynamic table or Huffman: static-table entries (":method: POST" 3,
    # ":scheme: http" 6), literals with static names (":path" 4, ":authority" 1, content-type
    # 31) and one literal name (te).
    headers = (
        b"\x83\x86"
        + b"\x04" + _hpack_string(method)
        + b"\x01" + _hpack_string(authority)
        + b"\x0f\x10" + _hpack_string("application/grpc")
        + b"\x00" + _hpack_string("te") + _hpack_string("trailers")
    )  # fmt: skip
    data = b"\x00" + len(message).to_bytes(4, "big") + message  # not compressed
    return (
        _PREFACE
        + _frame(_SETTINGS, 0, 0, settings)
        + _frame(_WINDOW_UPDATE, 0, 0, (_MAX_WINDOW - _DEFAULT_WINDOW).to_bytes(4, "big"))
        + _frame(_HEADERS, _END_HEADERS, _STREAM, headers)
        + _frame(_DATA, _END_STREAM, _STREAM, data)
    )


class GrpcAnswer:
    """Reads the server's frames until our stream ends (a netio.Framing); the answer is the one
    gRPC message of a unary call. A call that failed ends with trailers only (grpc-status in
    HPACK, not decoded here): that is an EtcdError, and the next member is tried."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.data: list[bytes] = []
        self.size = 0

    def feed(self, data: bytes) -> bytes | Exception | None:
        buf = self.buf
        buf += data
        pos = 0
        try:
            while len(buf) - pos >= 9:
                length = int.from_bytes(buf[pos : pos + 3], "big")
                if len(buf) - pos < 9 + length:
                    break
                kind, flags = buf[pos + 3], buf[pos + 4]
                stream = int.from_bytes(buf[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
                payload = bytes(buf[pos + 9 : pos + 9 + length])
                pos += 9 + length
                answer = self._on_frame(kind, flags, stream, payload)
                if answer is not None:
                    return answer
        finally:
            del buf[:pos]
        return None

    def _on_frame(
        self, kind: int, flags: int, stream: int, payload: bytes
    ) -> bytes | Exception | None:
        if kind == _GOAWAY:
            code = int.from_bytes(payload[4:8], "big")
            debug = payload[8:].decode("utf-8", "replace")
            return EtcdError(f"HTTP/2 GOAWAY {code}{': ' + debug if debug else ''}")
        if stream != _STREAM:
            return None  # SETTINGS, PING, WINDOW_UPDATE: nothing this one call needs to answer
        if kind == _RST_STREAM:
            return EtcdError(f"HTTP/2 stream reset ({int.from_bytes(payload[:4], 'big')})")
        if kind == _DATA:
            if flags & _PADDED:
                payload = payload[1 : len(payload) - payload[0]]
            self.data.append(payload)
            self.size += len(payload)
            if self.size > MAX_ANSWER_BYTES:
                return EtcdError(f"answer larger than {MAX_ANSWER_BYTES} bytes")
        if flags & _END_STREAM and kind in (_DATA, _HEADERS):
            return self._message()
        return None

    def _message(self) -> bytes | Exception:
        body = b"".join(self.data)
        if len(body) < 5:
            return EtcdError("the call ended without an answer (a gRPC error)")
        if body[0]:
            return EtcdError("compressed gRPC answers are not supported")
        length = int.from_bytes(body[1:5], "big")
        if len(body) != 5 + length:
            return EtcdError(f"gRPC answer of {len(body) - 5} bytes, announced {length}")
        return body[5:]
