"""Where the lab keeps its state. Everything is under one directory so `lab down --purge`
removes it all; the location can be moved with DRCTL_STATE_DIR (tests use their own)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _cgroup2_mount() -> Path:
    # Pure cgroup v2 mounts it at /sys/fs/cgroup; the hybrid layout at /sys/fs/cgroup/unified.
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return Path("/sys/fs/cgroup")
    return Path("/sys/fs/cgroup/unified")


@dataclass(frozen=True)
class LabPaths:
    state: Path
    cgroup_mount: Path
    cgroup_name: str = "drctl"

    @classmethod
    def default(cls) -> LabPaths:
        return cls(Path(os.environ.get("DRCTL_STATE_DIR", "/var/lib/drctl")), _cgroup2_mount())

    @property
    def lab(self) -> Path:
        return self.state / "lab"

    @property
    def skipped_tags(self) -> Path:
        """Role groups the last `lab up --skip-tags` left out; status does not expect them."""
        return self.lab / "skipped-tags"

    @property
    def secrets(self) -> Path:
        return self.lab / "secrets.json"

    @property
    def ssh(self) -> Path:
        """The controller's SSH key pair and known_hosts for the lab's sshd (lab-ssh target)."""
        return self.lab / "ssh"

    @property
    def ansible(self) -> Path:
        return self.state / "ansible"

    @property
    def cgroup_root(self) -> Path:
        return self.cgroup_mount / self.cgroup_name

    def site_dir(self, site: str) -> Path:
        return self.lab / site

    def site_cgroup(self, site: str) -> Path:
        return self.cgroup_root / site

    def service_cgroup(self, site: str, service: str) -> Path:
        return self.cgroup_root / site / service

    def cgroup_match_path(self, site: str) -> str:
        """The path iptables' cgroup match expects: relative to the cgroup2 mount."""
        return f"{self.cgroup_name}/{site}"

    def sshd_dir(self, site: str) -> Path:
        """The site's sshd: its configuration, host key and authorized_keys (roles/sshd)."""
        return self.site_dir(site) / "sshd"

    def supervisor_conf(self, site: str) -> Path:
        return self.site_dir(site) / "supervisord.conf"
