"""The plan as one self-contained HTML page, written from the same blocks as the Markdown; and
a PDF when a converter (pandoc or LibreOffice) is installed (skipped silently otherwise)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from html import escape
from pathlib import Path

from drctl.plan.doc import Block, Bullets, Cell, Code, Heading, Link, Para, Section, Strong

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #1b1f23; line-height: 1.45; }
h1 { border-bottom: 3px solid #0a5ea8; padding-bottom: .3rem; }
h2 { border-bottom: 1px solid #ccd; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
code { background: #f3f3f6; padding: 0 .2rem; }
nav ol { columns: 2; }
@media print { nav { display: none; } h2 { page-break-before: always; } }
""".strip()


def _inline(cell: Cell) -> str:
    if isinstance(cell, str):
        return escape(cell).replace("\n", "<br>")
    if isinstance(cell, tuple):
        return "".join(_inline(c) for c in cell)
    if isinstance(cell, Link):
        return f'<a href="{escape(cell.href)}">{escape(cell.text)}</a>'
    if isinstance(cell, Code):
        return f"<code>{escape(cell.text)}</code>"
    if isinstance(cell, Strong):
        return f"<strong>{escape(cell.text)}</strong>"
    return escape(cell).replace("\n", "<br>")


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{escape(block.text)}</h{block.level}>"
    if isinstance(block, Para):
        return f"<p>{_inline(block.parts)}</p>"
    if isinstance(block, Bullets):
        tag = "ol" if block.ordered else "ul"
        items = "".join(f"<li>{_inline(i)}</li>" for i in block.items)
        return f"<{tag}>{items}</{tag}>"
    head = "".join(f"<th>{escape(h)}</th>" for h in block.headers)
    rows = "\n".join(
        "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in block.rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"


def html_document(title: str, sections: Sequence[Section]) -> str:
    nav = "".join(f'<li><a href="#{s.anchor}">{escape(s.heading)}</a></li>' for s in sections)
    body = []
    for s in sections:
        body.append(f'<section id="{s.anchor}">\n<h2>{escape(s.heading)}</h2>')
        body += [_block(b) for b in s.blocks]
        body.append("</section>")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
        f"<style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>{escape(title)}</h1>\n"
        f"<nav><ol>{nav}</ol></nav>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )


def write_pdf(html_path: Path, md_path: Path) -> Path | None:
    """plan.pdf next to the HTML when a converter exists; None (silently) otherwise."""
    out = html_path.with_suffix(".pdf")
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office:
        cmd = [
            office,
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out.parent),
            str(html_path),
        ]
    elif shutil.which("pandoc"):
        cmd = ["pandoc", str(md_path), "-o", str(out)]
    else:
        return None
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError):
        return None
    return out if out.is_file() else None
