"""`pulumi stack output --json`, typed: what stacks/__main__.py exports and the inventory needs.

Only the outputs the inventory uses are modelled; others (and secrets, which the CLI prints
as "[secret]") are ignored, so the stack can grow outputs without breaking this.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from drctl.errors import ConfigError, Problem
from drctl.yamlfile import dotted

HostName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=63)]


class Output(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class StackHost(Output):
    name: HostName
    site: str
    address: IPv4Address
    groups: list[str] = Field(min_length=1)
    kind: str | None = None
    node: str | None = None
    vm_id: int | None = None
    proxmox_endpoint: str | None = None


class FrontDoorRecord(Output):
    name: str = Field(min_length=1)
    port: int | None = None


class FrontDoorOutput(Output):
    domain: str
    records: dict[str, FrontDoorRecord]


class BackupOutput(Output):
    bucket: str
    region: str
    replica_bucket: str | None = None
    replica_region: str | None = None
    iam_user: str | None = None


class StackOutput(Output):
    stack: str | None = None
    ssh_user: str = "drctl"
    hosts: list[StackHost] = Field(min_length=1)
    networks: dict[str, IPv4Network] = {}
    front_door: FrontDoorOutput
    backup: BackupOutput | None = None


def load_stack_output(path: Path) -> StackOutput:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError.single(path, "", f"cannot read file: {exc.strerror}") from None
    return parse_stack_output(text, path)


def parse_stack_output(text: str, source: Path) -> StackOutput:
    """Parse the JSON the Pulumi CLI prints; every problem names the output and field."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError.single(
            source, "", f"not JSON ({exc.msg}): expected `pulumi stack output --json`", exc.lineno
        ) from None
    if not isinstance(data, dict):
        raise ConfigError.single(source, "", "expected a JSON object of stack outputs", 1)
    if not data:
        raise ConfigError.single(
            source, "", "the stack has no outputs: has `pulumi up` run on this stack?"
        )
    try:
        return StackOutput.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
            message = "required output is missing" if err["type"] == "missing" else err["msg"]
            problems.append(Problem(source, None, dotted(loc), str(message)))
        raise ConfigError(problems) from None
