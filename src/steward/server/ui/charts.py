"""Plotly figures as plain data, drawn in the browser by the plotly.js file that
the plotly package ships (served from this server, so pages work offline).

A figure travels in a ``data-figure`` attribute and ``ui.js`` draws it; each
chart also has a table or a text alternative on its page for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_LAYOUT = {
    "margin": {"l": 50, "r": 10, "t": 30, "b": 40},
    "height": 260,
    "font": {"size": 12},
    "legend": {"orientation": "h", "y": -0.25},
}


def figure(traces: list[dict[str, Any]], title: str, x_title: str = "", y_title: str = "") -> dict:
    """A figure with the UI's layout."""
    layout = {
        **_LAYOUT,
        "title": {"text": title, "font": {"size": 14}},
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}},
    }
    return {"data": traces, "layout": layout}


def line(name: str, x: Sequence[Any], y: Sequence[Any], mode: str = "lines+markers") -> dict:
    """A line trace."""
    return {"type": "scatter", "mode": mode, "name": name, "x": list(x), "y": list(y)}


def bars(name: str, x: Sequence[Any], y: Sequence[Any]) -> dict:
    """A bar trace."""
    return {"type": "bar", "name": name, "x": list(x), "y": list(y)}
