"""FrontDoor: the global entry users reach, as Route 53 failover records with health checks.

In the lab the front door is HAProxy; in production DNS does the same job: each application's
name answers with its preferred site while that site's health check passes, else the next one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
from stack_config import FrontDoorSettings
from stack_layout import FrontDoorRecordPlan


@dataclass(frozen=True)
class FrontDoorArgs:
    settings: FrontDoorSettings
    records: list[FrontDoorRecordPlan]


class FrontDoor(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: FrontDoorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("drctl:index:FrontDoor", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        self.outputs: dict[str, Any] = {"zone_id": s.zone_id, "domain": s.domain, "records": {}}
        for plan in args.records:
            for target in plan.targets:
                suffix = f"{plan.system}-{target.site}"
                check = aws.route53.HealthCheck(
                    f"{name}-{suffix}-health",
                    type="HTTP",
                    ip_address=str(target.address),
                    port=plan.port,
                    resource_path=s.health_check_path,
                    failure_threshold=s.failure_threshold,
                    request_interval=s.request_interval,
                    tags={
                        **plan.labels.aws_tags(),
                        "site": target.site,
                        "Name": f"{plan.name} at {target.site}",
                    },
                    opts=child,
                )
                failover = len(plan.targets) > 1
                aws.route53.Record(
                    f"{name}-{suffix}",
                    zone_id=s.zone_id,
                    name=plan.name,
                    type="A",
                    ttl=s.ttl,
                    records=[str(target.address)],
                    set_identifier=f"{plan.system}-{target.site}" if failover else None,
                    failover_routing_policies=(
                        [aws.route53.RecordFailoverRoutingPolicyArgs(type=target.failover)]
                        if failover
                        else None
                    ),
                    health_check_id=check.id,
                    opts=child,
                )
            self.outputs["records"][plan.system] = {
                "name": plan.name,
                "port": plan.port,
                "targets": [
                    {"site": t.site, "address": str(t.address), "failover": t.failover}
                    for t in plan.targets
                ],
            }
        self.register_outputs(self.outputs)
