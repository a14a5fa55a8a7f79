"""Control a lab site's supervisord (one per site, inside the site's cgroup)."""

from __future__ import annotations

import subprocess

from drctl.errors import EstateError
from drctl.lab.paths import LabPaths

CGEXEC = "/usr/local/lib/drctl/cgexec"


def ctl(paths: LabPaths, site: str, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["supervisorctl", "-c", str(paths.supervisor_conf(site)), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and proc.returncode != 0 and "already started" not in proc.stdout:
        raise EstateError(f"supervisorctl {' '.join(args)} at {site}: {proc.stdout.strip()}")
    return proc.stdout


def running(paths: LabPaths, site: str) -> bool:
    return ctl(paths, site, "pid", check=False).strip().isdigit()


def start(paths: LabPaths, site: str) -> None:
    """Start the site's supervisord inside its cgroup; it starts every declared service."""
    if running(paths, site):
        return
    conf = paths.supervisor_conf(site)
    if not conf.exists():
        raise EstateError(f"site {site} was never deployed (no {conf}); run `drctl lab up`")
    subprocess.run(
        [CGEXEC, str(paths.site_cgroup(site)), "root", "supervisord", "-c", str(conf)],
        check=True,
        capture_output=True,
        timeout=30,
    )


def start_all(paths: LabPaths, site: str) -> list[str]:
    """Start every declared service that is not running; returns the names started."""
    stopped = [
        line.split()[0]
        for line in ctl(paths, site, "status", check=False).splitlines()
        if line.strip() and "RUNNING" not in line
    ]
    for name in stopped:
        ctl(paths, site, "start", name)
    return stopped
