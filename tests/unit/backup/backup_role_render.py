"""Render roles/pgbackrest's template with plain jinja2, as Ansible would for one host.

The role's defaults are Jinja expressions over each other and the inventory's variables; they
are resolved to a fixpoint with native types (a list stays a list), the way Ansible's lazy
templating ends up. Only the filters and tests the role uses are provided.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nativetypes
import yaml

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "pgbackrest"
LAB_ROOT = "/var/lib/drctl/lab"


def _comment(text: str) -> str:
    return "\n".join(f"# {line}" for line in text.splitlines())


def _contains(seq: Any, item: Any) -> bool:
    return item in seq


def _env(cls: type[jinja2.Environment]) -> jinja2.Environment:
    env = cls(undefined=jinja2.StrictUndefined, trim_blocks=True, keep_trailing_newline=True)
    env.filters["comment"] = _comment
    env.tests["contains"] = _contains
    return env


def host_vars(site: str = "brindisi", lab: bool = True, **overrides: Any) -> dict[str, Any]:
    """The lab inventory's variables for `site` (production: without drctl_lab_root)."""
    inv = yaml.safe_load((REPO / "inventories" / "lab" / "hosts.yml").read_text())["all"]
    ctx: dict[str, Any] = dict(inv["vars"])
    ctx.update(inv["hosts"][site])
    ctx["ansible_managed"] = "Ansible managed"
    ctx["drctl_secrets"] = {}
    if lab:
        ctx["drctl_lab_root"] = LAB_ROOT
    else:
        ctx["drctl_data_root"] = "/srv/drctl"
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    ctx.update({k: v for k, v in defaults.items() if k not in ctx})
    ctx.update(overrides)
    return resolve(ctx)


def resolve(ctx: dict[str, Any]) -> dict[str, Any]:
    env = _env(jinja2.nativetypes.NativeEnvironment)
    for _ in range(20):
        changed = False
        for key, value in ctx.items():
            if isinstance(value, str) and "{{" in value:
                try:
                    ctx[key] = env.from_string(value).render(ctx)
                except jinja2.UndefinedError:
                    continue  # depends on a value not resolved yet
                changed = True
        if not changed:
            return ctx
    raise AssertionError("role defaults do not resolve")


def render(name: str, ctx: dict[str, Any]) -> str:
    source = (ROLE / "templates" / name).read_text()
    return _env(jinja2.Environment).from_string(source).render(ctx)


def render_config(**kwargs: Any) -> configparser.ConfigParser:
    text = render("pgbackrest.conf.j2", host_vars(**kwargs))
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.read_string(text)
    return parser
