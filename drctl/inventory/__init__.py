"""Ansible inventories for production, built from the Pulumi stack's outputs and the topology."""

from drctl.inventory.production import DEFAULT_OUT, production_inventory, render, write
from drctl.inventory.stack_output import StackOutput, load_stack_output, parse_stack_output

__all__ = [
    "DEFAULT_OUT",
    "StackOutput",
    "load_stack_output",
    "parse_stack_output",
    "production_inventory",
    "render",
    "write",
]
