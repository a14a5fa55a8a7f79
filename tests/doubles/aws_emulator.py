"""An EMULATOR of AWS for tests: moto in server mode (ThreadedMotoServer), not AWS.

It binds 127.0.0.1 only, on an ephemeral port, and keeps S3 buckets and Route 53 zones in memory
for the life of the process. Clients reach it through an explicit `endpoint_url`; nothing here
ever talks to AWS. The credentials are fake ("testing") and exist only in the test environment:
`use_emulator` sets them with pytest's monkeypatch, which undoes them after the test.

    with running_emulator() as aws:
        aws.client("s3", "eu-south-1").create_bucket(...)
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

HOST = "127.0.0.1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass(frozen=True)
class AwsEmulator:
    endpoint_url: str
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False, compare=False)

    def client(self, service: str, region: str = "us-east-1") -> Any:
        """A boto3 client of the emulator with the fake credentials, whatever the environment."""
        if (service, region) not in self._clients:  # building one takes 0.1 s: keep them
            self._clients[service, region] = boto3.session.Session().client(
                service,
                region_name=region,
                endpoint_url=self.endpoint_url,
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            )
        return self._clients[service, region]

    def reset(self) -> None:
        """Forget every bucket, zone and health check (moto's reset API)."""
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with no_proxy.open(request, timeout=10):
            pass


@contextmanager
def running_emulator() -> Iterator[AwsEmulator]:
    server = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
    server.start()
    try:
        _, port = server.get_host_and_port()
        yield AwsEmulator(f"http://{HOST}:{port}")
    finally:
        server.stop()


def use_emulator(monkeypatch: pytest.MonkeyPatch, emulator: AwsEmulator) -> None:
    """Point the standard AWS chain (and drctl's endpoint override) at the emulator for one test:
    fake credentials, no profile or config file, no instance metadata, no proxy."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CA_BUNDLE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/drctl-test-credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/drctl-test-config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("DRCTL_AWS_ENDPOINT_URL", emulator.endpoint_url)
    monkeypatch.setenv("NO_PROXY", HOST)
    monkeypatch.setenv("no_proxy", HOST)
