"""Cloud-init user data for a VM: the automation user with the stack's SSH key, nothing else.

The roles do the rest over SSH; cloud-init only makes the VM reachable and identifiable.
"""

from __future__ import annotations

import yaml
from stack_layout import HostPlan


def user_data(host: HostPlan, ssh_user: str, ssh_public_key: str) -> str:
    labels = host.labels
    doc = {
        "hostname": host.name,
        "manage_etc_hosts": True,
        "users": [
            {
                "name": ssh_user,
                "groups": ["sudo"],
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "lock_passwd": True,
                "ssh_authorized_keys": [ssh_public_key.strip()],
            }
        ],
        "disable_root": True,
        "ssh_pwauth": False,
        "package_update": True,
        # Ansible needs Python; Proxmox reads the address through the guest agent.
        "packages": ["python3", "qemu-guest-agent"],
        "write_files": [
            {
                "path": "/etc/drctl/labels",
                "permissions": "0644",
                "content": (
                    f"site={labels.site}\nsystem={labels.system}\ntier={labels.tier}\n"
                    f"managed-by=drctl\nkind={host.kind.value}\n"
                ),
            }
        ],
        "runcmd": [["systemctl", "enable", "--now", "qemu-guest-agent"]],
    }
    return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=False, width=200)
