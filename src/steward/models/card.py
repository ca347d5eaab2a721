"""Model cards from what the store knows plus what people wrote, as Markdown and HTML."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steward.models.card_section import Section

CARD_FIELDS = {
    "intended_use": "Intended use",
    "limitations": "Limitations",
    "ethical_considerations": "Ethical considerations",
}
_UNFILLED = "_Not filled in yet: set it with `steward models card {reference} --{flag} '…'`._"


@dataclass(frozen=True)
class ModelCard:
    """A model card, renderable as Markdown or HTML."""

    title: str
    sections: tuple[Section, ...]

    def to_markdown(self) -> str:
        """The card as Markdown."""
        lines = [f"# {self.title}", ""]
        for section in self.sections:
            lines += [f"## {section.title}", ""]
            if section.text:
                lines += [section.text, ""]
            if section.header:
                lines.append("| " + " | ".join(section.header) + " |")
                lines.append("|" + "---|" * len(section.header))
                lines += [
                    "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
                    for row in section.rows
                ]
                lines.append("")
        return "\n".join(lines)

    def to_html(self) -> str:
        """The card as a standalone, print-ready HTML page (no script, no network)."""
        parts = [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(self.title)}</title>",
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;"
            "text-align:left}section{break-inside:avoid-page}"
            "@page{size:A4;margin:15mm}@media print{body{margin:0;max-width:none;"
            "font-size:10pt}h2{break-after:avoid-page}tr{break-inside:avoid}}"
            "</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1>",
        ]
        for section in self.sections:
            parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
            if section.text:
                parts.append(f"<p>{html.escape(section.text)}</p>")
            if section.header:
                head = "".join(f"<th>{html.escape(cell)}</th>" for cell in section.header)
                body = "".join(
                    "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                    for row in section.rows
                )
                parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            if section.figure:
                parts.append(f"<figure>{section.figure}</figure>")
            parts.append("</section>")
        parts.append("</body></html>")
        return "\n".join(parts)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def build_card(name: str, version: int | str) -> ModelCard:
    """Assemble the card of a version from the registry, its run and its metadata."""
    from steward.governance.card_sections import governance_sections, training_data_section
    from steward.models.registry import alias_history, get_version, status_history
    from steward.models.stored import materialize
    from steward.workspace import current_workspace

    workspace = current_workspace()
    found = get_version(name, version)
    run = workspace.tracking.get_run(found.run_id) if found.run_id else None
    metadata = None
    if found.run_id:
        _, metadata = materialize(
            workspace, found.run_id, found.artifact_path, found.metadata_digest
        )
    overview = [
        ("model", name),
        ("version", str(found.version)),
        ("status", found.status.value),
        ("aliases", ", ".join(found.aliases) or "-"),
        ("flavor", found.flavor),
        ("registered", f"{found.created_at:%Y-%m-%d %H:%M UTC} by {found.created_by}"),
        ("run", f"{run.name} ({run.id})" if run else "-"),
        ("experiment", run.experiment if run else "-"),
        ("metadata digest", found.metadata_digest),
    ]
    if found.description:
        overview.append(("description", found.description))
    sections = [Section("Overview", header=("field", "value"), rows=tuple(overview))]
    for key, title in CARD_FIELDS.items():
        text = found.card_fields.get(key) or _UNFILLED.format(
            reference=f"{name}/{found.version}", flag=key.replace("_", "-")
        )
        sections.append(Section(title, text=text))
    lineage_data = training_data_section(workspace, run.id) if run is not None else None
    if lineage_data is not None:
        sections.append(lineage_data)
    if run is not None:
        data_rows = tuple(
            (key, value) for key, value in sorted(run.tags.items()) if "data" in key.lower()
        ) + tuple(
            (f"param {key}", value)
            for key, value in sorted(run.params.items())
            if key.lower().startswith("data")
        )
        if data_rows or lineage_data is None:
            sections.append(
                Section(
                    "Training data" if lineage_data is None else "Training data (run tags)",
                    text="" if data_rows else "No dataset versions were recorded with the run.",
                    header=("source", "value") if data_rows else (),
                    rows=data_rows,
                )
            )
        sections.append(
            Section(
                "Parameters",
                header=("name", "value"),
                rows=tuple((key, value) for key, value in sorted(run.params.items())),
            )
        )
    sections.append(
        Section(
            "Metrics",
            header=("metric", "value"),
            rows=tuple((key, _format(value)) for key, value in sorted(found.metrics.items())),
        )
    )
    if metadata is not None:
        if metadata.signature is not None:
            sections.append(
                Section(
                    "Signature",
                    text=f"Input kind: {metadata.signature.kind}.",
                    header=("input", "dtype", "required"),
                    rows=tuple(
                        (
                            spec.name or "(array)",
                            spec.dtype + (f" {list(spec.shape)}" if spec.shape else ""),
                            "yes" if spec.required else "no",
                        )
                        for spec in metadata.signature.inputs
                    ),
                )
            )
        env = metadata.environment
        sections.append(
            Section(
                "Environment",
                text=f"Python {env.python_version} on {env.platform}; "
                f"Steward {env.steward_version}.",
                header=("package", "version"),
                rows=tuple(sorted(env.packages.items())),
            )
        )
        if metadata.onnx:
            sections.append(
                Section(
                    "ONNX export",
                    text=(
                        f"Checked on {metadata.onnx['rows_checked']} rows: max difference "
                        f"{metadata.onnx['max_abs_diff']:.3g} "
                        f"(tolerance {metadata.onnx['tolerance']:g})."
                        + (
                            f" Converted by {metadata.onnx['converter']}."
                            if metadata.onnx.get("converter")
                            else ""
                        )
                    ),
                )
            )
    sections += governance_sections(workspace, name, found.version, found.run_id)
    history = [
        (
            f"{event.at:%Y-%m-%d %H:%M}",
            event.actor,
            f"{event.from_status or '-'} → {event.to_status}",
            event.reason or "",
        )
        for event in status_history(name, found.version)
    ] + [
        (
            f"{event.at:%Y-%m-%d %H:%M}",
            event.actor,
            f"alias {event.alias}: {event.from_version or '-'} → {event.to_version or '-'}",
            event.reason or "",
        )
        for event in alias_history(name)
        if found.version in (event.from_version, event.to_version)
    ]
    sections.append(
        Section(
            "Review history", header=("when", "who", "change", "why"), rows=tuple(sorted(history))
        )
    )
    return ModelCard(f"Model card: {name} v{found.version}", tuple(sections))


def card(name: str, version: int | str, format: str = "markdown") -> str:
    """The model card of a version as ``markdown`` or ``html``."""
    built = build_card(name, version)
    if format == "html":
        return built.to_html()
    if format in ("markdown", "md"):
        return built.to_markdown()
    from steward.errors import InvalidInput

    raise InvalidInput(f"card format must be 'markdown' or 'html', not {format!r}.")


def write_card(name: str, version: int | str, folder: str | Path) -> tuple[Path, Path]:
    """Write ``<name>-v<version>.md`` and ``.html`` into ``folder``; return both paths."""
    built = build_card(name, version)
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-v{int(version)}-card"
    markdown = target / f"{stem}.md"
    page = target / f"{stem}.html"
    markdown.write_text(built.to_markdown())
    page.write_text(built.to_html())
    return markdown, page
