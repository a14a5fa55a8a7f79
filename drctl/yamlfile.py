"""Load YAML while remembering the line of every key, so errors can name file, line and field.

Pydantic reports a location such as ("sites", 0, "lab_address"); `Located.line_of` turns it into
the line where that value (or the nearest enclosing one) is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from drctl.errors import ConfigError, Problem

Loc = tuple[str | int, ...]
PLAIN_KEY = re.compile(r"[\w-]+")
M = TypeVar("M", bound=BaseModel)

# Aliases can make a small file expand enormously ("billion laughs"); no real input comes close.
MAX_NODES = 100_000
PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
# libyaml's parser when PyYAML was built with it: ten times faster, and it caps nesting depth
SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    """("sites", 2, "lab_address") -> "sites[2].lab_address"; odd keys quoted, on one line."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:  # YAML allows any scalar as a key: "", "a\nb", 1.5, null, true
            out += f"[{part!r}]"
    return out


class _Walker:
    """Turns a composed node tree into plain data, recording lines and rejecting what YAML
    allows but a configuration file should not have (duplicate or complex keys, tags)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: dict[Loc, int] = {}
        self.active: set[int] = set()  # nodes on the current path: a recursive alias
        self.count = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, node: yaml.Node, loc: Loc, message: str) -> ConfigError:
        return ConfigError.single(self.path, dotted(loc), message, node.start_mark.line + 1)

    def scalar(self, node: yaml.Node, loc: Loc) -> Any:
        if node.tag == "tag:yaml.org,2002:merge":
            raise self.fail(node, loc, "malformed YAML: merge keys (<<) are not supported")
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            reason = getattr(exc, "problem", None) or "cannot be read"
            raise self.fail(node, loc, f"malformed YAML: {reason}") from None

    def walk(self, node: yaml.Node, loc: Loc) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, loc, f"malformed YAML: more than {MAX_NODES} nodes")
        if id(node) in self.active:
            raise self.fail(node, loc, "malformed YAML: an alias refers to itself")
        self.lines.setdefault(loc, node.start_mark.line + 1)
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return self.scalar(node, loc)
        if node.tag not in PLAIN_TAGS:  # e.g. !!python/object/apply on a list: never ignore it
            raise self.fail(node, loc, f"malformed YAML: unsupported tag {node.tag!r}")
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.walk(item, (*loc, i)) for i, item in enumerate(node.value)]
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    message = "malformed YAML: a key must be a plain value, not a list or mapping"
                    raise self.fail(key_node, loc, message)
                key = self.scalar(key_node, loc)
                if key in out:
                    raise self.fail(key_node, (*loc, key), "duplicate key")
                self.lines[(*loc, key)] = key_node.start_mark.line + 1
                out[key] = self.walk(value_node, (*loc, key))
            return out
        finally:
            self.active.discard(id(node))


def load_yaml(path: Path) -> Located:
    """Parse a YAML file; malformed YAML becomes a ConfigError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError.single(path, "", f"cannot read file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError.single(path, "", f"not UTF-8 text (byte {exc.start})") from None
    try:
        node = yaml.compose(text, Loader=SafeLoader)
    except yaml.reader.ReaderError as exc:  # a character YAML forbids, e.g. a control code
        at = text.count("\n", 0, exc.position) + 1
        reason = f"unacceptable character #x{exc.character:04x}: {exc.reason}"
        raise ConfigError.single(path, "", f"malformed YAML: {reason}", at) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError.single(path, "", f"malformed YAML: {reason}", line) from None
    except RecursionError:
        raise ConfigError.single(path, "", "malformed YAML: nested too deeply") from None
    walker = _Walker(path)
    try:
        data = walker.walk(node, ()) if node is not None else None
    except RecursionError:
        raise ConfigError.single(path, "", "malformed YAML: nested too deeply") from None
    return Located(path, data, walker.lines)


def parse_model(doc: Located, model: type[M]) -> M:
    """Validate a document against a pydantic model, translating errors to file:line: field."""
    if not isinstance(doc.data, dict):
        raise ConfigError.single(doc.path, "", "expected a mapping at the top level", 1)
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        messages: dict[Loc, list[str]] = {}
        for err in exc.errors():
            loc = document_loc(doc.data, err["loc"])
            text = _message(err)
            if text not in messages.setdefault(loc, []):
                messages[loc].append(text)
        problems = [doc.problem(loc, _either(texts)) for loc, texts in messages.items()]
        raise ConfigError(problems) from None


def document_loc(data: Any, loc: Sequence[str | int]) -> Loc:
    """Pydantic's location cut to a path in the document: union members' tags ("str",
    "literal['x']") name no key, so they go; a missing or unknown key stays as the last part."""
    out: list[str | int] = []
    for part in loc:
        found = isinstance(data, dict) and part in data
        found |= isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not found:
            if isinstance(data, dict) and isinstance(part, str) and "[" not in part:
                out.append(part)  # a missing field
            break
        data = data[part]
        out.append(part)
    return tuple(out)


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "invalid_key":
        return "a key must be a string"
    return str(err["msg"]).removeprefix("Value error, ")


def _either(texts: list[str]) -> str:
    """Union members' complaints as one: 'Input should be a valid string or a valid integer'."""
    prefix = "Input should be "
    if len(texts) > 1 and all(t.startswith(prefix) for t in texts):
        alternatives = [t.removeprefix(prefix) for t in texts]
        return prefix + ", ".join(alternatives[:-1]) + " or " + alternatives[-1]
    return "; ".join(texts)
