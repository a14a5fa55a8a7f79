"""Load YAML while remembering the line of every key, so errors can name file, line and field.

Pydantic reports a location such as ("sites", 0, "lab_address"); `Located.line_of` turns it into
the line where that value (or the nearest enclosing one) is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from drctl.errors import ConfigError, Problem

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass
class Located:
    """A parsed YAML document with the line (1-based) of every path in it."""

    path: Path
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        key = tuple(loc)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        return Problem(self.path, self.line_of(loc), dotted(loc), message)


def dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> Any:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            lines[(*loc, key)] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, (*loc, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*loc, i), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def load_yaml(path: Path) -> Located:
    """Parse a YAML file; malformed YAML becomes a ConfigError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError.single(path, "", f"cannot read file: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError.single(path, "", f"malformed YAML: {reason}", line) from None
    lines: dict[Loc, int] = {}
    data = _walk(node, (), lines) if node is not None else None
    return Located(path, data, lines)


def parse_model(doc: Located, model: type[M]) -> M:
    """Validate a document against a pydantic model, translating errors to file:line: field."""
    if not isinstance(doc.data, dict):
        raise ConfigError.single(doc.path, "", "expected a mapping at the top level", 1)
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
            problems.append(doc.problem(loc, _message(err)))
        raise ConfigError(problems) from None


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    return str(err["msg"])
