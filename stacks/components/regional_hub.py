"""RegionalHub: a regional hub's document cache VM on the hub's Proxmox VE cluster.

The cache serves ECM documents (stale while the origin fails over); its origin is the front door.
"""

from __future__ import annotations

from typing import Any

import pulumi
from stack_config import VmKind

from components.proxmox_host import SiteVmArgs, declare_vm, host_output, site_provider

RegionalHubArgs = SiteVmArgs


class RegionalHub(pulumi.ComponentResource):
    hosts: list[dict[str, Any]]

    def __init__(
        self, name: str, args: RegionalHubArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("drctl:index:RegionalHub", name, None, opts)
        if [h.kind for h in args.hosts] != [VmKind.CACHE]:
            raise ValueError(f"{args.site}: a regional hub has exactly one cache VM")
        provider = site_provider(self, name, args)
        self.hosts = [
            host_output(host, args.endpoint, declare_vm(self, name, host, args, provider))
            for host in args.hosts
        ]
        self.register_outputs({"hosts": self.hosts})
