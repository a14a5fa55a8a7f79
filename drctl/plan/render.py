"""Render the plan: every section from data, then version it against the previous plan.

A render whose inputs and section contents equal the previous plan's keeps its version and its
bytes. Otherwise the version is bumped and the change log gains an entry naming the inputs and
sections that changed and what the update triggers comparing with the previous plan found.
Three files: plan.md, plan.html and manifest.json (the inputs' digests and the change log).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drctl.plan.context import PlanContext, iso
from drctl.plan.doc import Section, markdown_document
from drctl.plan.html import html_document, write_pdf
from drctl.plan.load import PlanPaths, load_inputs
from drctl.plan.manifest import (
    MANIFEST_NAME,
    Change,
    Manifest,
    SystemState,
    dump_manifest,
    platform_snapshot,
    read_manifest,
    team_snapshot,
)
from drctl.plan.sections import estate, evidence, governance, procedures
from drctl.plan.sections.control import document_control
from drctl.plan.sections.maintenance import appendices, maintenance
from drctl.plan.triggers import TRIGGERS, evaluate

BUILDERS: list[Callable[[PlanContext], Section]] = [
    governance.policy,
    governance.organisation,
    estate.facilities,
    governance.risks,
    estate.bia,
    estate.priorities,
    estate.strategies,
    governance.activation,
    procedures.recovery,
    procedures.failback,
    evidence.performance,
    evidence.testing,
    maintenance,
    governance.security,
    governance.outsourced,
    appendices,
]
MD_NAME, HTML_NAME = "plan.md", "plan.html"


@dataclass
class Rendered:
    markdown: str
    html: str
    manifest: Manifest
    manifest_json: str
    change: Change | None  # the change-log entry this render added; None: nothing changed
    context: PlanContext


def context_for(paths: PlanPaths) -> PlanContext:
    return PlanContext.build(load_inputs(paths), read_manifest(paths.plan))


def _change(ctx: PlanContext, new: Manifest, version: int) -> Change:
    prev = ctx.previous
    titles = {s.split(" ", 1)[0]: s for s in _section_names()}
    if prev is None:
        return Change(
            version=version,
            date=iso(ctx.as_of),
            inputs_added=sorted(new.inputs),
            sections=[titles.get(k, k) for k in sorted(new.sections, key=_order)],
            reasons=["first version"],
        )
    # what the triggers comparing with the previous plan found, minus their state part (e.g. a
    # member without an alternate), which section 13 shows and which no render resolves
    full = evaluate(ctx, ctx.as_of).fired
    state = evaluate(ctx, ctx.as_of, since_plan=False).fired
    reasons = [
        f"{name}: {reason}"
        for name, found in full.items()
        if TRIGGERS[name].since_plan
        for reason in found
        if reason not in state[name]
    ]
    return Change(
        version=version,
        date=iso(ctx.as_of),
        inputs_added=sorted(k for k in new.inputs if k not in prev.inputs),
        inputs_changed=sorted(
            k for k, v in new.inputs.items() if k in prev.inputs and prev.inputs[k] != v
        ),
        inputs_removed=sorted(k for k in prev.inputs if k not in new.inputs),
        sections=[
            titles.get(k, k)
            for k in sorted(new.sections, key=_order)
            if prev.sections.get(k) != new.sections[k]
        ],
        reasons=reasons,
    )


def _order(section_id: str) -> tuple[int, str]:
    return (int(section_id), "") if section_id.isdigit() else (99, section_id)


def _section_names() -> list[str]:
    return [f"{sid} {title}" for sid, title in SECTION_TITLES]


SECTION_TITLES = [
    ("0", "Document control"),
    ("1", "Policy"),
    ("2", "Organisation and people"),
    ("3", "Facilities and infrastructure"),
    ("4", "Risk assessment"),
    ("5", "Business impact analysis"),
    ("6", "Recovery priorities"),
    ("7", "Recovery strategies"),
    ("8", "Activation and notification"),
    ("9", "Recovery procedures"),
    ("10", "Failback and reconstitution"),
    ("11", "Performance measurement"),
    ("12", "Testing and exercise programme"),
    ("13", "Maintenance and review"),
    ("14", "Security controls"),
    ("15", "Outsourced services"),
    ("A", "Appendices"),
]


def render_context(ctx: PlanContext) -> Rendered:
    inputs, prev = ctx.inputs, ctx.previous
    body = [build(ctx) for build in BUILDERS]
    texts = [s.markdown() for s in body]  # written once: digested, then assembled
    manifest = Manifest(
        version=prev.version if prev else 1,
        as_of=iso(ctx.as_of),
        topology_sha256=inputs.hashes["topology.yaml"],
        inputs=dict(sorted(inputs.hashes.items())),
        sections={s.id: s.digest(text) for s, text in zip(body, texts, strict=True)},
        systems={
            name: SystemState(fingerprint=fp, drill=ctx.drill_refs.get(name))
            for name, fp in sorted(ctx.fingerprints.items())
        },
        mission_critical=ctx.mission_critical(),
        platform=platform_snapshot(inputs.topology),
        teams=team_snapshot(inputs.governance),
        changelog=prev.changelog if prev else [],
    )
    change = None
    same = {"version", "changelog"}
    if prev is None or manifest.model_dump(exclude=same) != prev.model_dump(exclude=same):
        version = prev.version + 1 if prev else 1
        change = _change(ctx, manifest, version)
        manifest = manifest.model_copy(
            update={"version": version, "changelog": [*manifest.changelog, change]}
        )
    control = document_control(ctx, manifest)
    sections = [control, *body]
    title = inputs.governance.document.title
    markdown = markdown_document(title, [control.markdown(), *texts])
    html = html_document(title, sections)
    return Rendered(markdown, html, manifest, dump_manifest(manifest), change, ctx)


def render_plan(paths: PlanPaths) -> Rendered:
    """Render from the inputs, against the plan already in paths.plan (if any)."""
    return render_context(context_for(paths))


def plan_files(rendered: Rendered, plan_dir: Path) -> list[tuple[Path, str]]:
    """The files a render consists of, with their exact contents (the PDF is extra)."""
    return [
        (plan_dir / MD_NAME, rendered.markdown),
        (plan_dir / HTML_NAME, rendered.html),
        (plan_dir / MANIFEST_NAME, rendered.manifest_json),
    ]


def write_plan(rendered: Rendered, plan_dir: Path, pdf: bool = True) -> list[Path]:
    plan_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path, text in plan_files(rendered, plan_dir):
        if not path.is_file() or path.read_bytes() != text.encode():
            path.write_bytes(text.encode())  # bytes: no newline translation, identical everywhere
        written.append(path)
    md, html = plan_dir / MD_NAME, plan_dir / HTML_NAME
    if pdf and (out := write_pdf(html, md)) is not None:
        written.append(out)
    return written
