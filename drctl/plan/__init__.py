"""The ISO/IEC 24762-aligned recovery plan: rendered from the topology, the BIA and governance
data, the runbooks and the drill journals (`render`), and kept in sync (`check`, `staleness`)."""

from drctl.plan.check import assess, check_plan, staleness
from drctl.plan.load import PlanPaths, load_inputs
from drctl.plan.render import render_plan, write_plan
from drctl.plan.triggers import TRIGGERS

__all__ = [
    "TRIGGERS",
    "PlanPaths",
    "assess",
    "check_plan",
    "load_inputs",
    "render_plan",
    "staleness",
    "write_plan",
]
