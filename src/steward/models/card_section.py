"""One section of a model card: the piece other modules (governance) contribute."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """One card section: a title, text, a table (header + rows), and for the HTML card
    an optional drawing (inline SVG markup that Steward made, never user text)."""

    title: str
    text: str = ""
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    figure: str = ""
