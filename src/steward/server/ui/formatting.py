"""Template helpers: numbers, times, short ids, and the page of each lineage node."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

UI_PREFIX = "/ui"
MISSING = "\N{EN DASH}"
"""What a table shows for a missing value."""

if TYPE_CHECKING:
    from jinja2 import Environment


def ui_url(path: str, **query: Any) -> str:
    """A UI address with its path segments quoted and the query appended."""
    url = UI_PREFIX + quote(path, safe="/:@")
    pairs = [(k, v) for k, v in query.items() if v not in (None, "", [])]
    flat = [(k, item) for k, v in pairs for item in (v if isinstance(v, list) else [v])]
    return url + ("?" + urlencode(flat) if flat else "")


def number(value: Any, digits: int = 4) -> str:
    """A number for a table: ``digits`` significant figures, integers as they are."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.{digits}g}"
    return str(value)


def when(value: datetime | str | None) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS`` UTC."""
    if value is None:
        return MISSING
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def ms_when(value: int | None) -> str:
    """Milliseconds since 1970 as ``when`` writes times."""
    from steward.store.records import ms_to_datetime

    return when(ms_to_datetime(value))


def short(value: str | None, length: int = 12) -> str:
    """The start of a long id."""
    return MISSING if value is None else value[:length]


def percent(value: float | None) -> str:
    """A share as a percentage."""
    return MISSING if value is None or math.isnan(value) else f"{value:.1%}"


def node_page(node_id: str) -> str | None:
    """The page of a lineage node (``run:…``, ``model:name/3``, ``dataset:name:2``…)."""
    kind, _, rest = node_id.partition(":")
    if kind == "run":
        return ui_url(f"/runs/{rest}")
    if kind == "model":
        name, _, version = rest.rpartition("/")
        return ui_url(f"/models/{name}/{version}") if name else ui_url(f"/models/{rest}")
    if kind == "dataset":
        name, _, version = rest.rpartition(":")
        return ui_url(f"/datasets/{name}/{version}") if name else ui_url(f"/datasets/{rest}")
    if kind == "deployment":
        name = rest.split("/")[0]
        return ui_url(f"/deployments/{name}")
    if kind == "experiment":
        return ui_url(f"/experiments/{rest}")
    if kind == "monitor":
        return ui_url(f"/monitoring/{rest}")
    if kind == "alert":
        return ui_url("/monitoring", alert=rest)
    if kind == "request":
        return ui_url("/predictions", request_id=rest)
    return None


def install(environment: Environment) -> None:
    """Register the helpers as filters and globals."""
    environment.filters.update(
        number=number, when=when, ms_when=ms_when, short=short, percent=percent, node_page=node_page
    )
    environment.globals.update(url=ui_url, node_page=node_page)
