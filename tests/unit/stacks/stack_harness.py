"""Run the Pulumi program under Pulumi's own mocks: offline, no CLI, no cloud.

Each run happens in a fresh worker thread with its own event loop, so Pulumi's context-local
settings, config and root stack never leak into the test process (or into the next run).
"""

from __future__ import annotations

import asyncio
import json
import runpy
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import yaml

from drctl import REPO_ROOT

with warnings.catch_warnings():  # the SDK warns about its own deprecated aliases when loaded
    warnings.simplefilter("ignore", DeprecationWarning)
    for module in (aws.s3, aws.iam, aws.kms, aws.route53):
        getattr(module, "__all__", None)  # modules load lazily: touch one to load it now

STACKS = REPO_ROOT / "stacks"
if str(STACKS) not in sys.path:  # as the Pulumi CLI does when it runs the program directory
    sys.path.insert(0, str(STACKS))

ACCOUNT = "123456789012"
TEST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGRyY3RsLXVuaXQtdGVzdHMtb25seQ test@drctl"


@dataclass(frozen=True)
class Res:
    type: str
    name: str
    inputs: dict[str, Any]
    provider: str

    @property
    def tags(self) -> Any:
        return self.inputs.get("tags")


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every resource; returns the state a real provider would compute (ids, ARNs)."""

    def __init__(self) -> None:
        self.resources: list[Res] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(Res(args.typ, args.name, dict(args.inputs), args.provider or ""))
        state = dict(args.inputs)
        if args.typ == "aws:s3/bucket:Bucket":
            state["arn"] = f"arn:aws:s3:::{args.inputs['bucket']}"
            return args.inputs["bucket"], state
        if args.typ == "aws:kms/key:Key":
            state["arn"] = f"arn:aws:kms:eu-south-1:{ACCOUNT}:key/{args.name}"
        elif args.typ == "aws:iam/accessKey:AccessKey":
            state["secret"] = "test-secret"
        elif args.typ in ("aws:iam/user:User", "aws:iam/role:Role"):
            kind = args.typ.split(":")[-1].lower()
            state.setdefault("name", args.name)
            state["arn"] = f"arn:aws:iam::{ACCOUNT}:{kind}/drctl/{args.name}"
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


@dataclass
class StackRun:
    resources: list[Res]
    outputs: dict[str, Any]
    error: BaseException | None = None

    def of_type(self, type_: str) -> list[Res]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Res:
        (found,) = [r for r in self.resources if r.name == name]
        return found


def stack_config(stack: str = "production") -> dict[str, Any]:
    """The committed stack file's drctl config, with a real-looking SSH key for tests."""
    doc = yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text())
    config = {k.split(":", 1)[1]: v for k, v in doc["config"].items() if k.startswith("drctl:")}
    config["sshPublicKey"] = TEST_KEY
    return config


def run_stack(config: dict[str, Any], stack: str = "production") -> StackRun:
    """Run the program; raise what it raised."""
    run = try_stack(config, stack)
    if run.error is not None:
        raise run.error
    return run


def try_stack(config: dict[str, Any], stack: str = "production") -> StackRun:
    """Run the program; what it raised is in `error`, next to what it declared before."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_run, config, stack).result()


def _run(config: dict[str, Any], stack: str) -> StackRun:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        mocks = RecordingMocks()
        pulumi.runtime.set_mocks(mocks, project="drctl", stack=stack, preview=False)
        pulumi.runtime.set_all_config(
            {f"drctl:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
        )
        outputs: dict[str, Any] = {}

        @pulumi.runtime.test  # type: ignore[untyped-decorator]
        def program() -> pulumi.Output[None]:
            runpy.run_path(str(STACKS / "__main__.py"), run_name="__main__")
            root = pulumi.runtime.get_root_resource()
            assert root is not None
            exported: dict[str, Any] = root.outputs  # type: ignore[attr-defined]
            return pulumi.Output.from_input(exported).apply(outputs.update)

        try:
            program()
        except Exception as exc:
            return StackRun(mocks.resources, outputs, exc)
        return StackRun(mocks.resources, outputs)
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def stack_file(stack: str) -> Path:
    return STACKS / f"Pulumi.{stack}.yaml"


def stack_output_json(stack: str = "production") -> str:
    """What `pulumi stack output --json` would print for the committed stack (secrets hidden)."""
    outputs = run_stack(stack_config(stack), stack).outputs
    outputs["backup"]["secret_access_key"] = "[secret]"
    return json.dumps(outputs, indent=4) + "\n"


if __name__ == "__main__":  # regenerate the inventory tests' fixture after a topology change:
    # .venv/bin/python tests/unit/stacks/stack_harness.py \
    #     > tests/unit/inventory/fixtures/production-stack-output.json
    # .venv/bin/drctl inventory from-stack \
    #     --stack-output tests/unit/inventory/fixtures/production-stack-output.json
    print(stack_output_json(), end="")
