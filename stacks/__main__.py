"""The production estate as a Pulumi program: read config, check it, wire the components.

Everything is derived from inventories/topology.yaml (the source the lab uses too) and the stack
config; nothing is declared until both are valid. See docs/pulumi.md.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
from components import (
    DataCentreArgs,
    EnterpriseDataCentre,
    FrontDoor,
    FrontDoorArgs,
    OffsiteBackup,
    OffsiteBackupArgs,
    RegionalHub,
)
from pulumi.runtime.config import CONFIG, get_config_env
from stack_config import load_stack, read_pulumi_config
from stack_layout import MANAGED_BY, backup_labels, data_centres, plan_front_door, plan_site

from drctl.errors import ConfigError

config = pulumi.Config("drctl")
present = {**get_config_env(), **CONFIG.get()}  # every key set for the stack, to catch typos
try:
    settings, topology = load_stack(read_pulumi_config(config.get, present), pulumi.get_stack())
except ConfigError as exc:  # a clean message, not a traceback, and nothing declared
    raise pulumi.RunError(f"invalid stack configuration:\n{exc}") from None

# Per-site API tokens (pulumi config set --secret --path 'drctl:proxmoxApiTokens.<site>' ...);
# a site without one uses the provider's environment (PROXMOX_VE_API_TOKEN).
tokens: pulumi.Output[Any] | None = config.get_secret_object("proxmoxApiTokens")


def site_token(site: str) -> pulumi.Output[Any] | None:
    return None if tokens is None else tokens.apply(lambda t: (t or {}).get(site))


hosts: list[dict[str, Any]] = []
for site in topology.sites:
    if site.name not in settings.sites:
        continue  # the front door: Route 53 below
    site_cfg = settings.sites[site.name]
    assert site_cfg.endpoint is not None  # load_stack requires it
    args = DataCentreArgs(
        site=site.name,
        endpoint=site_cfg.endpoint,
        hosts=plan_site(topology, settings, site.name),
        proxmox=settings.proxmox,
        ssh_user=settings.ssh_user,
        ssh_public_key=settings.ssh_public_key,
        api_token=site_token(site.name),
    )
    component = EnterpriseDataCentre if site in data_centres(topology) else RegionalHub
    hosts += component(site.name, args).hosts

backup = settings.backup
default_tags = aws.ProviderDefaultTagsArgs(tags={"managed-by": MANAGED_BY})
aws_primary = aws.Provider(
    f"aws-{backup.primary_region}", region=backup.primary_region, default_tags=default_tags
)
aws_replica = aws.Provider(
    f"aws-{backup.replica_region}", region=backup.replica_region, default_tags=default_tags
)
offsite = OffsiteBackup(
    "offsite-backup",
    OffsiteBackupArgs(
        settings=backup,
        labels=backup_labels(topology, backup.primary_region),
        replica_labels=backup_labels(topology, backup.replica_region),
        primary_provider=aws_primary,
        replica_provider=aws_replica,
    ),
)
front_door = FrontDoor(
    topology.front_door.name,
    FrontDoorArgs(settings=settings.front_door, records=plan_front_door(topology, settings)),
    opts=pulumi.ResourceOptions(providers=[aws_primary]),  # Route 53 is global
)

pulumi.export("stack", pulumi.get_stack())
pulumi.export("ssh_user", settings.ssh_user)
pulumi.export("hosts", hosts)
pulumi.export("networks", {name: str(cfg.network) for name, cfg in settings.sites.items()})
pulumi.export("backup", offsite.outputs)
pulumi.export("front_door", front_door.outputs)
