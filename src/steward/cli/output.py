"""How the CLI prints: rich tables for people, ``--json`` for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from steward.store.records import json_number

console = Console()
error_console = Console(stderr=True)

JSON_HELP = "Print JSON instead of a table."


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return json_number(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (NaN and infinities as strings)."""
    sys.stdout.write(json.dumps(_jsonable(data), indent=2, default=str) + "\n")


def print_error(message: str) -> None:
    """Print an error for people, without a traceback, on one line (the terminal may
    wrap it; logs of a pipe get it whole), its text never read as markup."""
    error_console.print(
        f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True
    )


def print_note(message: str) -> None:
    """Print something worth knowing about a command that succeeded (one line, as is)."""
    error_console.print(
        f"[bold yellow]note:[/bold yellow] {escape(message)}", highlight=False, soft_wrap=True
    )


def format_value(value: Any) -> str:
    """A cell's text: floats to 4 significant digits, None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%d %H:%M:%S"))
    return str(value)


def print_table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    """Print a rich table."""
    table = Table(title=title, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(format_value(cell) for cell in row))
    console.print(table)
