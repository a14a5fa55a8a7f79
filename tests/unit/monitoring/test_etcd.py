"""monitoring.etcd: the protobuf it writes and reads, and one Range against a real etcd."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from monitoring_fakes import FIXTURES

from drctl.topology import DEFAULT_PATH, load_topology
from monitoring import etcd
from monitoring.patroni import MemberLag, _json, clusters_from_dcs

Parse = Callable[[bytes], list[tuple[bytes, bytes]]]
ETCD = shutil.which("etcd", path="/usr/bin:/usr/sbin:/usr/local/bin")
HOST = "127.0.0.1"
# what Patroni 4.1.5 wrote in the lab for ecm's cluster (sync replica caught up)
LAB_KEYS: dict[str, str] = json.loads((FIXTURES / "patroni-etcd-ecm.json").read_text())


# --- protobuf ---------------------------------------------------------------------------------


def varint(n: int) -> bytes:
    return etcd._varint(n)


def field(number: int, value: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(value)) + value


def key_value(key: bytes, value: bytes, lease: int = 0) -> bytes:
    """An mvccpb.KeyValue as etcd writes it: revisions and version between key and value."""
    out = field(1, key) + b"\x10" + varint(300) + b"\x18" + varint(2**40) + b"\x20\x01"
    out += field(5, value)
    return out + (b"\x30" + varint(lease) if lease else b"")


def range_response(kvs: list[tuple[bytes, bytes]], *, more: bool = False) -> bytes:
    header = field(1, b"\x08" + varint(14841639068965178418) + b"\x18" + varint(12))
    body = header + b"".join(field(2, key_value(k, v, lease=i)) for i, (k, v) in enumerate(kvs))
    return body + (b"\x18\x01" if more else b"") + b"\x20" + varint(len(kvs))


def test_a_range_request_is_key_and_range_end() -> None:
    assert etcd.range_request(b"/drctl/", b"/drctl0") == b"\x0a\x07/drctl/\x12\x07/drctl0"


# protobuf's C parser when installed, and the Python reader used without it: the same answers
PARSERS = [
    pytest.param(etcd.parse_range_response, id="default"),
    pytest.param(etcd.parse_range_response_py, id="python"),
]


def test_protobufs_c_parser_is_used_here() -> None:
    assert etcd._UPB_RANGE_RESPONSE is not None, "protobuf's upb parser is a dependency"


@pytest.mark.parametrize("parse", PARSERS)
def test_a_range_response_gives_every_key_and_value_in_order(parse: Parse) -> None:
    kvs = [
        (b"/drctl/a", b""),  # an empty value
        (b"/drctl/b", b"x" * 200),  # a two-byte length
        (b"/drctl/c", b"y" * 20000),  # a three-byte length: the slow path
        (b"/drctl/d" * 30, b'{"optime": 1}'),
    ]
    assert parse(range_response(kvs, more=True)) == kvs
    assert parse(range_response([])) == []


@pytest.mark.parametrize("parse", PARSERS)
def test_unknown_fields_of_any_wire_type_are_skipped(parse: Parse) -> None:
    kv = key_value(b"k", b"v") + b"\x39" + bytes(8) + b"\x45" + bytes(4)  # fixed64, fixed32
    body = b"\x2d" + bytes(4) + field(2, kv) + b"\x31" + bytes(8)
    assert parse(body) == [(b"k", b"v")]


@given(
    st.lists(st.tuples(st.binary(max_size=300), st.binary(max_size=20000)), max_size=20),
    st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_both_readers_agree(kvs: list[tuple[bytes, bytes]], more: bool) -> None:
    body = range_response(kvs, more=more)
    assert etcd.parse_range_response(body) == etcd.parse_range_response_py(body) == kvs


@pytest.mark.parametrize("parse", PARSERS)
def test_a_repeated_field_keeps_its_last_value(parse: Parse) -> None:
    kv = field(1, b"old") + field(1, b"k") + field(5, b"v1") + field(5, b"v")
    assert parse(field(2, kv)) == [(b"k", b"v")]


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("cut", [1, 5, 20])
def test_a_cut_short_answer_is_not_a_range_response(parse: Parse, cut: int) -> None:
    body = range_response([(b"/drctl/a", b"value")])
    with pytest.raises(ValueError, match="not an etcd RangeResponse"):
        parse(body[:-cut])


@pytest.mark.parametrize(
    ("prefix", "end"),
    [
        (b"/drctl/", b"/drctl0"),
        (b"a", b"b"),
        (b"a\xff", b"b"),  # a last byte of 0xff carries into the byte before
        (b"a\xff\xff", b"b"),
        (b"\xff", b"\x00"),  # nothing above it: every key from the prefix on
        (b"", b"\x00"),  # every key
    ],
)
def test_prefix_end(prefix: bytes, end: bytes) -> None:
    assert etcd.prefix_end(prefix) == end


# --- a real etcd ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _post(url: str, doc: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, json.dumps(doc).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def real_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A one-member etcd on free loopback ports, holding the lab's keys of ecm's cluster and
    keys on either side of the /drctl/ prefix."""
    if ETCD is None:
        pytest.skip("etcd is not installed (Debian: etcd-server)")
    data: Path = tmp_path_factory.mktemp("etcd")
    client, peer = _free_port(), _free_port()
    url, peer_url = f"http://{HOST}:{client}", f"http://{HOST}:{peer}"
    proc = subprocess.Popen(
        [ETCD, "--name", "test", "--data-dir", str(data / "data"),
         "--listen-client-urls", url, "--advertise-client-urls", url,
         "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
         "--initial-cluster", f"test={peer_url}", "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(300):  # etcd starts in about a second
            if proc.poll() is not None:
                raise RuntimeError(f"etcd exited: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                _post(f"{url}/v3/kv/range", {"key": _b64(b"/")})
                break
            except OSError:
                time.sleep(0.05)
        keys = {k.encode(): v.encode() for k, v in LAB_KEYS.items()}
        keys |= {b"/drctl": b"not under the prefix", b"/drctl0": b"past it", b"/other/x": b"1"}
        for key, value in keys.items():
            _post(f"{url}/v3/kv/put", {"key": _b64(key), "value": _b64(value)})
        yield HOST, client
    finally:
        proc.terminate()
        proc.wait(10)


def _refused() -> tuple[str, int]:
    return HOST, _free_port()  # nothing listens there


def test_a_prefix_range_returns_exactly_its_keys_in_key_order(real_etcd: tuple[str, int]) -> None:
    got = etcd.range_prefix([real_etcd], b"/drctl/", 5)
    assert got == sorted((k.encode(), v.encode()) for k, v in LAB_KEYS.items())


def test_a_prefix_with_no_keys_is_an_empty_range(real_etcd: tuple[str, int]) -> None:
    assert etcd.range_prefix([real_etcd], b"/nothing-here/", 5) == []


def test_a_refused_member_is_passed_over_for_the_next(real_etcd: tuple[str, int]) -> None:
    got = etcd.range_prefix([_refused(), real_etcd], b"/drctl/ecm-db/leader", 5)
    assert got == [(b"/drctl/ecm-db/leader", b"ecm-db-brindisi")]


def test_with_every_member_refusing_the_error_names_them_all() -> None:
    first, second = _refused(), _refused()
    with pytest.raises(ConnectionError) as caught:
        etcd.range_prefix([first, second], b"/drctl/", 2)
    for host, port in (first, second):
        assert f"etcd {host}:{port}" in str(caught.value)


def test_no_member_at_all_is_an_error() -> None:
    with pytest.raises(ConnectionError, match="no etcd endpoint"):
        etcd.range_prefix([], b"/drctl/", 1)


# --- Patroni's keys ---------------------------------------------------------------------------


def lab_kvs(**changes: str) -> list[tuple[bytes, bytes]]:
    keys = {**LAB_KEYS, **changes}
    return sorted((k.encode(), v.encode()) for k, v in keys.items())


def member(name: str, **changes: Any) -> str:
    doc = json.loads(LAB_KEYS[f"/drctl/ecm-db/members/{name}"])
    return json.dumps({**doc, **changes}, separators=(",", ":"))


SYSTEMS = load_topology(DEFAULT_PATH).systems


def test_the_lab_keys_say_the_sync_replica_is_caught_up() -> None:
    # Patroni's /cluster for the same state (fixtures/patroni-cluster-ecm.json): lag 0
    found = clusters_from_dcs(lab_kvs(), b"/drctl/", SYSTEMS)
    assert found == {"ecm": [(MemberLag("ecm-db-valencia", 0.0, 0.0), None)]}  # crm: no keys


def test_a_replica_behind_lags_by_the_leaders_optime_minus_its_position() -> None:
    behind = member("ecm-db-valencia", xlog_location=150994944 - 4096)
    found = clusters_from_dcs(lab_kvs(**{"/drctl/ecm-db/members/ecm-db-valencia": behind}),
                              b"/drctl/", SYSTEMS)  # fmt: skip
    # the lag in seconds is asked of the replica's own /patroni, at its api_url
    assert found["ecm"] == [(MemberLag("ecm-db-valencia", 4096.0, None),
                             "http://127.10.2.1:8008/patroni")]  # fmt: skip


def test_after_a_failover_the_leader_keys_holder_is_not_a_replica() -> None:
    found = clusters_from_dcs(lab_kvs(**{"/drctl/ecm-db/leader": "ecm-db-valencia"}),
                              b"/drctl/", SYSTEMS)  # fmt: skip
    assert [lag.member for lag, _ in found["ecm"]] == ["ecm-db-brindisi"]


def test_without_the_leaders_position_the_lag_is_unknown() -> None:
    kvs = [kv for kv in lab_kvs() if not kv[0].endswith(b"/status")]
    found = clusters_from_dcs(kvs, b"/drctl/", SYSTEMS)
    assert found["ecm"] == [(MemberLag("ecm-db-valencia", None, None), None)]


@pytest.mark.parametrize(
    "value",
    [b'{"xlog_location":1}', b' {"a": 1} ', b"12", b"NaN", b'"text"', b"[1, 2]\n", b"{}"],
)
def test_patronis_values_are_read_as_json_loads_reads_them(value: bytes) -> None:
    expected = json.loads(value)
    got = _json(value)
    assert got == expected or (got != got and expected != expected)  # NaN is itself


@pytest.mark.parametrize("value", [b"", b"{", b'{"a":1} trailing', b"1 2", b"\xff", b"nope"])
def test_what_json_loads_refuses_is_refused(value: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(value)
    with pytest.raises(ValueError):
        _json(value)
