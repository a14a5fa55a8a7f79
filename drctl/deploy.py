"""Apply the roles to an inventory with ansible-runner: the same playbook for lab and production."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drctl import REPO_ROOT
from drctl.errors import ConfigError, EstateError
from drctl.lab.secrets import NAMES, write_vars_file
from drctl.yamlfile import load_yaml

PLAYBOOK = REPO_ROOT / "roles" / "site.yml"


@dataclass
class DeployResult:
    changed: int = 0
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    changed_tasks: list[str] = field(default_factory=list)


def _printer(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_playbook(
    inventory: Path,
    *,
    extravars: dict[str, Any],
    private_dir: Path,
    check: bool = False,
    progress: Callable[[str], None] = _printer,
    skip_tags: str | None = None,
    vars_files: tuple[Path, ...] = (),
) -> DeployResult:
    # ansible-runner finds ansible-playbook on this process's PATH: use our environment's.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(":"):
        os.environ["PATH"] = f"{bindir}:{os.environ.get('PATH', '')}"
    import ansible_runner  # slow to import; only deployments need it

    if not inventory.exists():
        raise ConfigError.single(inventory, "", "inventory not found")
    private_dir.mkdir(parents=True, exist_ok=True)
    result = DeployResult()
    seen_tasks: set[str] = set()

    def on_event(event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data", {})
        if kind == "playbook_on_play_start":
            progress(f"==> {data.get('play', '')}")
        elif kind == "runner_on_ok":  # skipped tasks stay silent
            task = data.get("task", "")
            if task not in seen_tasks and not task.startswith("Validating arguments"):
                seen_tasks.add(task)
                progress(f"    {task}")
            if data.get("res", {}).get("changed"):
                result.changed_tasks.append(f"{data.get('host')}: {task}")
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            res = data.get("res", {})
            msg = res.get("msg") or res.get("stderr") or "failed"
            result.failures.append(f"{data.get('host')}: {data.get('task')}: {msg}")
            progress(f"    FAILED {data.get('host')}: {data.get('task')}: {str(msg)[:400]}")
        elif kind == "runner_on_unreachable":
            result.failures.append(f"{data.get('host')}: unreachable")
        return True

    env = {
        "ANSIBLE_ROLES_PATH": str(REPO_ROOT / "roles"),
        "ANSIBLE_FORKS": "16",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_PIPELINING": "True",
    }
    # A fresh private directory each run: ansible-runner persists env/ files there otherwise.
    with tempfile.TemporaryDirectory(prefix="drctl-ansible-") as tmp:
        runner = ansible_runner.run(
            private_data_dir=tmp,
            artifact_dir=str(private_dir / "artifacts"),
            playbook=str(PLAYBOOK),
            inventory=str(inventory.resolve()),
            extravars=extravars,
            envvars=env,
            cmdline=" ".join(
                (["--check", "--diff"] if check else [])
                + ([f"--skip-tags={skip_tags}"] if skip_tags else [])
                # secrets go in files (mode 0600), never on a command line ansible-runner records
                + [f"-e @{f}" for f in vars_files]
            )
            or None,
            quiet=True,
            event_handler=on_event,
            rotate_artifacts=3,
        )
    stats = runner.stats or {}
    result.changed = sum(stats.get("changed", {}).values())
    result.ok = sum(stats.get("ok", {}).values())
    # no_log tasks (secrets) come back censored, their "changed" hidden: count them from the stats
    for host, changed in sorted(stats.get("changed", {}).items()):
        seen = sum(1 for c in result.changed_tasks if c.startswith(f"{host}: "))
        result.changed_tasks += [f"{host}: a task with hidden output (no_log)"] * (changed - seen)
    if runner.rc != 0 and not result.failures:
        result.failures.append(f"ansible-playbook exited {runner.rc} ({runner.status})")
    return result


def apply_roles(inventory: Path, check: bool = False) -> int:
    """`drctl deploy`: apply the roles to a production inventory (secrets from the environment)."""
    secrets_file = os.environ.get("DRCTL_SECRETS_FILE")
    if not secrets_file:
        raise EstateError(
            "set DRCTL_SECRETS_FILE to a YAML or JSON file (root-only) with " + ", ".join(NAMES)
        )
    values = _load_secrets(Path(secrets_file))  # validate before anything runs
    # the roles read drctl_secrets.<name>, as in the lab: hand them the same vars-file shape
    with tempfile.TemporaryDirectory(prefix="drctl-secrets-") as tmp:
        result = run_playbook(
            inventory,
            extravars={},
            vars_files=(write_vars_file(values, Path(tmp) / "secrets.json"),),
            private_dir=Path(os.environ.get("DRCTL_STATE_DIR", "/var/lib/drctl")) / "ansible",
            check=check,
        )
    if result.failures:
        raise EstateError("deployment failed:\n" + "\n".join(result.failures))
    print(f"deployed: {result.changed} change(s)")
    return 0


def _load_secrets(path: Path) -> dict[str, str]:
    doc = load_yaml(path)
    data = doc.data if isinstance(doc.data, dict) else {}
    if isinstance(data.get("drctl_secrets"), dict):  # the lab's vars-file shape is fine too
        data = data["drctl_secrets"]
    missing = [n for n in NAMES if not data.get(n)]
    if missing:
        raise ConfigError.single(path, ", ".join(missing), "required secret(s) missing")
    return {n: str(data[n]) for n in NAMES}
