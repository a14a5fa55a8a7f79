"""Declaring a site's VMs on its Proxmox VE cluster: shared by the data-centre and hub components.

Each VM is a full clone of the stack's cloud-init template, with a static address (the inventory
and the front door need addresses before the VMs exist) and a cloud-init user-data snippet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_proxmoxve as proxmox
from stack_config import ProxmoxSettings
from stack_layout import HostPlan

from components.cloud_init import user_data


@dataclass(frozen=True)
class SiteVmArgs:
    site: str
    endpoint: str
    hosts: list[HostPlan]
    proxmox: ProxmoxSettings
    ssh_user: str
    ssh_public_key: str
    # None: the provider reads PROXMOX_VE_API_TOKEN (or username/password) from the environment
    api_token: pulumi.Input[str] | None = None


def site_provider(parent: pulumi.Resource, name: str, args: SiteVmArgs) -> proxmox.Provider:
    """One provider per site: each data centre and hub runs its own Proxmox VE cluster."""
    return proxmox.Provider(
        f"{name}-proxmox",
        endpoint=args.endpoint,
        insecure=args.proxmox.insecure,
        api_token=args.api_token,
        # snippets (cloud-init user data) are uploaded over SSH to the node
        ssh=proxmox.ProviderSshArgs(agent=True, username=args.proxmox.ssh_username),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def declare_vm(
    parent: pulumi.Resource, name: str, host: HostPlan, args: SiteVmArgs, provider: proxmox.Provider
) -> proxmox.VmLegacy:
    opts = pulumi.ResourceOptions(parent=parent, provider=provider)
    settings = args.proxmox
    snippet = proxmox.FileLegacy(
        f"{name}-{host.kind.value}-user-data",
        content_type="snippets",
        datastore_id=settings.snippets_datastore,
        node_name=host.node,
        source_raw=proxmox.FileLegacySourceRawArgs(
            data=user_data(host, args.ssh_user, args.ssh_public_key),
            file_name=f"drctl-{host.name}-user-data.yaml",
        ),
        opts=opts,
    )
    labels = host.labels
    return proxmox.VmLegacy(
        f"{name}-{host.kind.value}",
        name=host.name,
        node_name=host.node,
        vm_id=host.vm_id,
        description=(
            f"drctl {host.kind.value} VM at {host.site}\n\n"
            f"site={labels.site} system={labels.system} tier={labels.tier} managed-by=drctl"
        ),
        tags=labels.proxmox_tags(),
        clone=proxmox.VmLegacyCloneArgs(
            vm_id=settings.template_vm_id, full=True, node_name=settings.template_node
        ),
        agent=proxmox.VmLegacyAgentArgs(enabled=True),
        cpu=proxmox.VmLegacyCpuArgs(cores=host.size.cores, type="x86-64-v2-AES"),
        memory=proxmox.VmLegacyMemoryArgs(dedicated=host.size.memory_mb),
        disks=[
            proxmox.VmLegacyDiskArgs(
                interface="scsi0",
                datastore_id=settings.datastore,
                size=host.size.disk_gb,
                discard="on",
                iothread=True,
            )
        ],
        network_devices=[
            proxmox.VmLegacyNetworkDeviceArgs(
                bridge=settings.bridge, model="virtio", vlan_id=host.vlan
            )
        ],
        initialization=proxmox.VmLegacyInitializationArgs(
            datastore_id=settings.datastore,
            ip_configs=[
                proxmox.VmLegacyInitializationIpConfigArgs(
                    ipv4=proxmox.VmLegacyInitializationIpConfigIpv4Args(
                        address=host.cidr, gateway=str(host.gateway)
                    )
                )
            ],
            dns=(
                proxmox.VmLegacyInitializationDnsArgs(servers=[str(d) for d in host.dns])
                if host.dns
                else None
            ),
            user_data_file_id=snippet.id,
        ),
        operating_system=proxmox.VmLegacyOperatingSystemArgs(type="l26"),
        on_boot=True,
        started=True,
        protection=host.protect,
        opts=opts,
    )


def host_output(host: HostPlan, endpoint: str, vm: proxmox.VmLegacy) -> dict[str, Any]:
    """The host's stack output entry; the VM id comes from Proxmox when the stack sets none."""
    entry: dict[str, Any] = host.output(endpoint)
    entry["vm_id"] = vm.vm_id
    return entry
