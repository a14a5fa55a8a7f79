"""Fixtures shared by the production drivers' tests: the AWS EMULATOR (moto server mode on
127.0.0.1, never AWS), one server for the session, reset before each test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# tests/doubles is not an installed package: make the repository root importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.doubles.aws_emulator import AwsEmulator, running_emulator, use_emulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[AwsEmulator]:
    with running_emulator() as aws:
        yield aws


@pytest.fixture
def aws(emulator: AwsEmulator, monkeypatch: pytest.MonkeyPatch) -> AwsEmulator:
    """The emulator, emptied, with this test's environment pointing every AWS client at it."""
    emulator.reset()
    use_emulator(monkeypatch, emulator)
    return emulator
