"""drctl deploy --inventory: arguments and secrets, checked before anything runs (ansible-runner
is replaced by a stub here: no deployment happens)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drctl.cli import build_parser, main
from drctl.deploy import DeployResult
from drctl.lab.secrets import NAMES


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


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "lab-shape"])
def test_roles_get_the_secrets_as_drctl_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nested: bool
) -> None:
    values = {name: f"{name}-value" for name in NAMES}
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"drctl_secrets": values} if nested else values))
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "hosts.yml").write_text("all: {}\n")
    monkeypatch.setenv("DRCTL_SECRETS_FILE", str(secrets))
    monkeypatch.setenv("DRCTL_STATE_DIR", str(tmp_path / "state"))
    seen: dict[str, Any] = {}

    def fake_run_playbook(inventory: Path, **kwargs: Any) -> DeployResult:
        (vars_file,) = kwargs["vars_files"]
        seen["inventory"] = inventory
        seen["vars"] = json.loads(Path(vars_file).read_text())
        seen["mode"] = Path(vars_file).stat().st_mode & 0o777
        seen["check"] = kwargs["check"]
        return DeployResult(changed=3)

    monkeypatch.setattr("drctl.deploy.run_playbook", fake_run_playbook)
    assert main(["deploy", "--inventory", str(tmp_path / "inv"), "--check"]) == 0
    assert seen["vars"] == {"drctl_secrets": values}
    assert seen["mode"] == 0o600
    assert seen["check"] is True
    assert seen["inventory"] == tmp_path / "inv"


def test_missing_secret_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("db_superuser: x\n")
    (tmp_path / "hosts.yml").write_text("all: {}\n")
    monkeypatch.setenv("DRCTL_SECRETS_FILE", str(secrets))
    assert main(["deploy", "--inventory", str(tmp_path)]) == 1
    assert "db_replication" in capsys.readouterr().err
