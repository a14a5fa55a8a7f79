"""Stack config errors: each mistake stops the program with a message naming the key,
before any resource is declared."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from stack_config import load_settings, parse_settings
from stack_harness import STACKS, run_stack, stack_config, try_stack

from drctl.errors import ConfigError
from drctl.topology import Topology

SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270"  # Pulumi's marker for a secret value
CASES = yaml.safe_load((Path(__file__).parent / "fixtures" / "config_errors.yaml").read_text())


def edit(config: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    config = copy.deepcopy(config)
    for path in case.get("unset", []):
        *parents, last = path.split(".")
        node = config
        for part in parents:
            node = node[part]
        del node[last]
    for path, value in case.get("set", {}).items():
        *parents, last = path.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return config


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_config_error_names_the_key(case: dict[str, Any], topology: Topology) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(edit(stack_config(), case), "production", topology)
    problems = {p.field: p.message for p in raised.value.problems}
    assert case["field"] in problems, str(raised.value)
    assert case["message"] in problems[case["field"]]
    assert f"Pulumi.production.yaml: {case['field']}: " in str(raised.value)


def test_every_problem_is_reported_at_once(topology: Topology) -> None:
    config = edit(
        stack_config(),
        {"unset": ["sites.brindisi.endpoint"], "set": {"sizes.db.cores": 0, "sites.oslo": {}}},
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(config, "production", topology)
    fields = [p.field for p in raised.value.problems]
    assert "drctl:sites.oslo.nodes" in fields  # shape errors first: nothing checked half-parsed
    config["sites"].pop("oslo")
    with pytest.raises(ConfigError) as raised:
        load_settings(config, "production", topology)
    fields = [p.field for p in raised.value.problems]
    assert {"drctl:sites.brindisi.endpoint", "drctl:sizes.db.cores"} <= set(fields)


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_committed_stack_files_are_valid(stack: str, topology: Topology) -> None:
    settings = load_settings(stack_config(stack), stack, topology)
    assert set(settings.sites) == {s.name for s in topology.sites} - {topology.front_door.name}


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_committed_ssh_key_is_a_placeholder_until_set(stack: str, topology: Topology) -> None:
    config = stack_config(stack)
    raw = yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())
    config["sshPublicKey"] = raw["config"]["drctl:sshPublicKey"]
    with pytest.raises(ConfigError, match="still the placeholder"):
        load_settings(config, stack, topology)


def test_defaults_fill_unset_sizes() -> None:
    config = stack_config()
    config["sizes"] = {"db": {"cores": 16}}
    settings = parse_settings(config, "production")
    db = settings.sizes[next(k for k in settings.sizes if k.value == "db")]
    assert (db.cores, db.memory_mb) == (16, 32768)
    assert len(settings.sizes) == 5


def test_program_stops_before_declaring_anything() -> None:
    config = edit(stack_config(), {"unset": ["sites.brindisi.endpoint"]})
    with pytest.raises(pulumi.RunError) as raised:
        run_stack(config)
    assert "invalid stack configuration" in str(raised.value)
    assert "drctl:sites.brindisi.endpoint: missing Proxmox endpoint" in str(raised.value)


def test_program_declares_nothing_on_error() -> None:
    run = try_stack(edit(stack_config(), {"set": {"sizes.db.cores": 999}}))
    assert isinstance(run.error, pulumi.RunError)
    assert "drctl:sizes.db.cores: 999 is out of range (1 to 64)" in str(run.error)
    assert run.resources == []


def test_misspelt_key_is_reported_not_ignored() -> None:
    config = stack_config()
    config["site"] = config["sites"]
    run = try_stack(config)
    assert isinstance(run.error, pulumi.RunError)
    assert "Pulumi.production.yaml: drctl:site: unknown key" in str(run.error)
    assert run.resources == []


def test_proxmox_tokens_are_secret_config(topology: Topology) -> None:
    config = stack_config()
    config["proxmoxApiTokens"] = {"brindisi": "drctl@pve!pulumi=secret"}
    run = run_stack(config)
    (brindisi,) = [
        p for p in run.of_type("pulumi:providers:proxmoxve") if p.name == "brindisi-proxmox"
    ]
    token = brindisi.inputs["apiToken"]  # still wrapped as a secret when it reaches the provider
    assert token["value"] == "drctl@pve!pulumi=secret"
    assert SECRET_SIGNATURE in token.values()
    (vienna,) = [p for p in run.of_type("pulumi:providers:proxmoxve") if p.name == "vienna-proxmox"]
    # unset (null) for a site without one: the provider reads PROXMOX_VE_API_TOKEN instead
    assert vienna.inputs["apiToken"]["value"] is None


def test_project_file_uses_the_repository_environment() -> None:
    project = yaml.safe_load((STACKS / "Pulumi.yaml").read_text())
    assert project["name"] == "drctl"
    assert project["runtime"]["name"] == "python"
    venv = STACKS / project["runtime"]["options"]["virtualenv"]
    assert venv.resolve() == (STACKS.parent / ".venv").resolve()
