"""A tiny document model for the plan (headings, paragraphs, lists, tables, links) and its
Markdown writer. Sections build blocks; Markdown and HTML are both written from the blocks, so
the two never drift apart and no Markdown parser sits on the rendering path (1,000 systems render
well under a second)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Link:
    text: str
    href: str


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Strong:
    text: str


Inline = str | Link | Code | Strong
Cell = Inline | tuple[Inline, ...]


@dataclass(frozen=True)
class Heading:
    level: int  # 3 or 4; sections themselves are level 2
    text: str


@dataclass(frozen=True)
class Para:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Bullets:
    items: tuple[Cell, ...]
    ordered: bool = False


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


Block = Heading | Para | Bullets | Table


@dataclass
class Section:
    id: str  # "0" … "15", "A"
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def heading(self) -> str:
        return f"{self.id}. {self.title}" if self.id != "A" else self.title

    @property
    def anchor(self) -> str:
        return f"s{self.id.lower()}"

    def h(self, text: str, level: int = 3) -> None:
        self.blocks.append(Heading(level, text))

    def p(self, *parts: Inline) -> None:
        self.blocks.append(Para(tuple(parts)))

    def ul(self, items: Sequence[Cell], ordered: bool = False) -> None:
        self.blocks.append(Bullets(tuple(items), ordered))

    def table(
        self, headers: Sequence[str], rows: Sequence[Sequence[Cell]], empty: str = ""
    ) -> None:
        if not rows and empty:
            self.p(empty)
            return
        self.blocks.append(Table(tuple(headers), tuple(tuple(r) for r in rows)))

    def markdown(self) -> str:
        out = [f"## {self.heading}", ""]
        for block in self.blocks:
            out += _md_block(block)
            out.append("")
        return "\n".join(out)

    def digest(self, markdown: str | None = None) -> str:
        text = self.markdown() if markdown is None else markdown
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_MD_ESCAPE = str.maketrans({c: "\\" + c for c in "\\`*_[]<"})


def _md_text(text: str, in_table: bool = False) -> str:
    out = text.translate(_MD_ESCAPE)
    if in_table:
        out = out.replace("|", "\\|").replace("\n", " ")
    return out


def md_inline(cell: Cell, in_table: bool = False) -> str:
    if isinstance(cell, str):  # by far the most common: checked first
        return _md_text(cell, in_table)
    if isinstance(cell, tuple):
        return "".join(md_inline(c, in_table) for c in cell)
    if isinstance(cell, Link):
        return f"[{_md_text(cell.text, in_table)}]({cell.href.replace(' ', '%20')})"
    if isinstance(cell, Code):
        return f"`{cell.text.replace('`', '')}`"
    if isinstance(cell, Strong):
        return f"**{_md_text(cell.text, in_table)}**"
    return _md_text(cell, in_table)


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return ["#" * block.level + " " + _md_text(block.text)]
    if isinstance(block, Para):
        return [md_inline(block.parts)]
    if isinstance(block, Bullets):
        marks = [f"{i}." if block.ordered else "-" for i in range(1, len(block.items) + 1)]
        return [
            f"{m} {md_inline(item, in_table=True)}"
            for m, item in zip(marks, block.items, strict=True)
        ]
    lines = [
        "| " + " | ".join(_md_text(h, True) for h in block.headers) + " |",
        "|" + "|".join("---" for _ in block.headers) + "|",
    ]
    lines += ["| " + " | ".join(md_inline(c, True) for c in row) + " |" for row in block.rows]
    return lines


def markdown_document(title: str, sections: Sequence[str | Section]) -> str:
    """The whole document from its sections (or their Markdown, already written)."""
    parts = [f"# {_md_text(title)}", ""]
    parts += [s if isinstance(s, str) else s.markdown() for s in sections]
    return "\n".join(parts)
