"""The `service` role applies a changed configuration: a restart, or a reload signal.

The role runs through ansible-runner against this machine with a supervisord of the test's
own (the lab's service manager); the daemon is a small script that records its pid and the
signals it is sent. The one stand-in: `drctl_cgexec` runs the command without moving it into a
cgroup (cgroups are the lab's, tested with it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from drctl import REPO_ROOT

pytestmark = pytest.mark.skipif(
    shutil.which("supervisord") is None, reason="supervisor is not installed (make setup)"
)

DAEMON = """\
import os, signal, sys, time
state = sys.argv[1]
with open(f"{state}/pids", "a") as f:
    f.write(f"{os.getpid()}\\n")
def record(signum, frame):
    with open(f"{state}/signals", "a") as f:
        f.write(f"{os.getpid()} {signal.Signals(signum).name}\\n")
signal.signal(signal.SIGUSR2, record)
signal.signal(signal.SIGHUP, record)
while True:
    time.sleep(1)
"""


class Site:
    """A supervisord in a temporary directory, and the role applied against it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        for d in ("supervisor.d", "log", "state"):
            (root / d).mkdir()
        (root / "daemon.py").write_text(DAEMON)
        passthrough = root / "cgexec"
        passthrough.write_text('#!/bin/sh\nshift 2\nexec "$@"\n')  # CGROUP USER COMMAND...
        passthrough.chmod(0o755)
        (root / "supervisord.conf").write_text(
            textwrap.dedent(f"""\
            [unix_http_server]
            file={root}/supervisor.sock
            [supervisord]
            logfile={root}/log/supervisord.log
            pidfile={root}/supervisord.pid
            [rpcinterface:supervisor]
            supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
            [supervisorctl]
            serverurl=unix://{root}/supervisor.sock
            [include]
            files = {root}/supervisor.d/*.conf
            """)
        )
        subprocess.run(["supervisord", "-c", str(root / "supervisord.conf")], check=True)

    def stop(self) -> None:
        subprocess.run(
            ["supervisorctl", "-c", str(self.root / "supervisord.conf"), "shutdown"],
            capture_output=True,
            timeout=30,
        )

    def apply(self, **service_vars: Any) -> list[str]:
        """Run the role once; the names of the tasks that changed something."""
        import ansible_runner

        playbook = self.root / "play.yml"
        role_vars = {
            "service_name": "daemon",
            "service_command": f"{sys.executable} {self.root}/daemon.py {self.state}",
            **service_vars,
        }
        play = {"hosts": "localhost", "gather_facts": False,
                "roles": [{"role": "service", "vars": role_vars}]}  # fmt: skip
        playbook.write_text(yaml.safe_dump([play]))
        changed: list[str] = []

        def on_event(event: dict[str, Any]) -> bool:
            data = event.get("event_data", {})
            if event.get("event") == "runner_on_ok" and data.get("res", {}).get("changed"):
                changed.append(str(data.get("task")))
            return True

        runner = ansible_runner.run(
            # a fresh one per run: ansible-runner keeps env/ files in it otherwise
            private_data_dir=tempfile.mkdtemp(dir=self.root, prefix="runner-"),
            playbook=str(playbook),
            inventory={"all": {"hosts": {"localhost": {
                "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}},
            extravars={
                "drctl_service_manager": "supervisor",
                "drctl_site": "test",
                "drctl_cgexec": str(self.root / "cgexec"),
                "service_supervisor_dir": str(self.root),
                "service_cgroup": "unused",
            },
            envvars={"ANSIBLE_ROLES_PATH": str(REPO_ROOT / "roles"), "ANSIBLE_NOCOLOR": "1"},
            quiet=True,
            event_handler=on_event,
        )  # fmt: skip
        assert runner.rc == 0, f"the role failed ({runner.status}): see {self.root}/runner-*"
        return changed

    def pids(self) -> list[int]:
        """Every pid the daemon has started with, in order (`_settle` waits for a new one)."""
        path = self.state / "pids"
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def signals(self) -> list[str]:
        path = self.state / "signals"
        return path.read_text().splitlines() if path.exists() else []


def _settle(read: Any, n: int) -> Any:
    """What `read()` gives once it has n entries (a daemon writes after it has started)."""
    deadline = time.monotonic() + 10
    while len(value := read()) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    if os.geteuid() != 0:
        pytest.skip("runs the role as the lab does, as root")
    # ansible-runner finds ansible-playbook on PATH: this environment's
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    s = Site(tmp_path)
    try:
        yield s
    finally:
        s.stop()


def test_a_changed_configuration_restarts_or_reloads_the_running_daemon(site: Site) -> None:
    first = site.apply()
    [pid] = _settle(site.pids, 1)
    assert "Apply the changed declaration of daemon" in first, first

    # nothing changed: left alone
    assert site.apply() == []
    assert site.pids() == [pid] and site.signals() == []

    # reload: the same process, sent the reload signal
    changed = site.apply(
        service_config_changed=True, service_on_change="reload", service_reload_signal="USR2"
    )
    assert changed == ["Reload daemon with its changed configuration"]
    assert _settle(site.signals, 1) == [f"{pid} SIGUSR2"]
    assert site.pids() == [pid]

    # restart (the default): a new process, no signal
    changed = site.apply(service_config_changed=True)
    assert changed == ["Restart daemon with its changed configuration"]
    pids = _settle(site.pids, 2)
    assert len(pids) == 2 and pids[1] != pid
    assert site.signals() == [f"{pid} SIGUSR2"]


def test_a_daemon_declared_or_started_on_this_run_is_not_restarted_again(site: Site) -> None:
    # the first run declares and starts it: it read its configuration then
    changed = site.apply(service_config_changed=True)
    assert "Restart daemon with its changed configuration" not in changed
    assert len(_settle(site.pids, 1)) == 1
    time.sleep(1.5)  # supervisor's startsecs: a second start would have shown by now
    assert len(site.pids()) == 1 and site.signals() == []
