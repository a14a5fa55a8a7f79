"""SSH into the lab the production way: the controller's key pair, generated at `lab up`, and a
known_hosts file built from each site's sshd host key (roles/sshd).

The private key stays in the lab's state directory (mode 0600, never committed); host keys are
checked strictly against drctl's own known_hosts, never accepted blindly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drctl.lab.paths import LabPaths
from drctl.topology.model import Topology

KEY_NAME = "id_ed25519"
HOST_KEY_NAME = "ssh_host_ed25519_key.pub"


@dataclass(frozen=True)
class SshFiles:
    key: Path  # the controller's private key
    public_key: Path
    known_hosts: Path

    @classmethod
    def of(cls, paths: LabPaths) -> SshFiles:
        return cls(paths.ssh / KEY_NAME, paths.ssh / f"{KEY_NAME}.pub", paths.ssh / "known_hosts")


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def ensure_key_pair(paths: LabPaths, comment: str = "drctl-controller") -> tuple[SshFiles, bool]:
    """The controller's ed25519 key pair, created once; returns (files, created)."""
    files = SshFiles.of(paths)
    paths.ssh.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(paths.ssh, 0o700)
    if files.key.exists() and files.public_key.exists():
        os.chmod(files.key, 0o600)
        return files, False
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    _write_private(files.key, private)
    files.public_key.write_text(f"{public.decode()} {comment}\n")
    return files, True


def public_key(paths: LabPaths) -> str:
    return SshFiles.of(paths).public_key.read_text().strip()


def known_hosts_lines(topo: Topology, paths: LabPaths) -> list[str]:
    """One line per site whose sshd has a host key: `<address> <type> <key>`."""
    lines = []
    for site in topo.sites:
        pub = paths.sshd_dir(site.name) / HOST_KEY_NAME
        if not pub.exists():
            continue  # deployed without the ssh tag
        kind, key = pub.read_text().split()[:2]
        lines.append(f"{site.lab_address} {kind} {key}")
    return lines


def write_known_hosts(topo: Topology, paths: LabPaths) -> bool:
    """Rewrite drctl's known_hosts from the sites' host keys; True when it changed."""
    files = SshFiles.of(paths)
    text = "".join(f"{line}\n" for line in known_hosts_lines(topo, paths))
    if files.known_hosts.exists() and files.known_hosts.read_text() == text:
        return False
    files.known_hosts.write_text(text)
    os.chmod(files.known_hosts, 0o644)
    return True
