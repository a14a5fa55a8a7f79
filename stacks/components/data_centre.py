"""EnterpriseDataCentre: a data-centre site's VMs on its own Proxmox VE cluster.

Both enterprise data centres and headquarters: etcd, the PostgreSQL members (Patroni), the
applications with their HAProxy database router, and monitoring, as the topology places them.
"""

from __future__ import annotations

from typing import Any

import pulumi
from stack_config import VmKind

from components.proxmox_host import SiteVmArgs, declare_vm, host_output, site_provider

DataCentreArgs = SiteVmArgs


class EnterpriseDataCentre(pulumi.ComponentResource):
    hosts: list[dict[str, Any]]

    def __init__(
        self, name: str, args: DataCentreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("drctl:index:EnterpriseDataCentre", name, None, opts)
        if any(h.kind is VmKind.CACHE for h in args.hosts):
            raise ValueError(f"{args.site}: a data centre has no hub cache VM")
        provider = site_provider(self, name, args)
        self.hosts = [
            host_output(host, args.endpoint, declare_vm(self, name, host, args, provider))
            for host in args.hosts
        ]
        self.register_outputs({"hosts": self.hosts})
