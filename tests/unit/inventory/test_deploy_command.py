"""drctl deploy --inventory: argument handling before anything runs (no deployment here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drctl.cli import build_parser, main


def test_deploy_is_a_command() -> None:
    args = build_parser().parse_args(["deploy", "--inventory", "inventories/production", "--check"])
    assert args.inventory == Path("inventories/production") and args.check is True


def test_inventory_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["deploy"])
    assert exited.value.code == 2
    assert "--inventory" in capsys.readouterr().err


def test_missing_inventory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--inventory", str(tmp_path / "nowhere")]) == 1
    assert "inventory not found" in capsys.readouterr().err


def test_empty_inventory_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--inventory", str(tmp_path)]) == 1
    assert "drctl inventory from-stack" in capsys.readouterr().err


def test_secrets_are_required_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "hosts.yml").write_text("all: {}\n")
    monkeypatch.delenv("DRCTL_SECRETS_FILE", raising=False)
    assert main(["deploy", "--inventory", str(tmp_path)]) == 1
    assert "DRCTL_SECRETS_FILE" in capsys.readouterr().err
