"""Alert rules: ``drift.share > 0.3``, ``performance.f1 < 0.8 for 2 windows``.

A rule is parsed by a tiny tokenizer and grammar (never ``eval``)::

    rule    := metric OP number [ "for" INT ("window" | "windows") ]
    metric  := name ("." name)*        name: letters, digits, _ - or a "quoted name"
    OP      := > | >= | < | <= | == | !=

The metric is looked up in the flat numbers that results give
(``DriftResult.metrics()``, ``QualityResult.metrics()``, ``PerformanceResult.metrics()``).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from steward.errors import InvalidInput

SEVERITIES = ("info", "warning", "critical")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>>=|<=|==|!=|>|<)
      | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?)
      | (?P<quoted>"[^"]*")
      | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
      | (?P<dot>\.)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Rule:
    """A parsed alert rule."""

    expression: str
    metric: str
    op: str
    threshold: float
    windows: int = 1
    severity: str = "warning"
    name: str = ""
    channels: tuple[str, ...] | None = None

    @property
    def key(self) -> str:
        """The rule's name, or its expression when it has none."""
        return self.name or self.expression

    def breached(self, value: float) -> bool:
        """True when ``value`` meets the alert condition (NaN never does)."""
        if value is None or math.isnan(value):
            return False
        return _OPERATORS[self.op](value, self.threshold)

    def worse(self, value: float, than: float | None, margin: float = 0.1) -> bool:
        """True when ``value`` is further past the threshold than ``than`` by ``margin``.

        The margin is a share of the threshold's size (at least 1e-9), so tiny
        wobbles of a persisting condition do not count as worsening.
        """
        if than is None or math.isnan(than):
            return True
        step = max(abs(self.threshold) * margin, 1e-9)
        if self.op in (">", ">="):
            return value >= than + step
        if self.op in ("<", "<="):
            return value <= than - step
        return False


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise InvalidInput(
                f"cannot read alert rule {text!r} at {text[position:]!r}; expected e.g. "
                "'drift.share > 0.3' or 'performance.f1 < 0.8 for 2 windows'."
            )
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def parse_rule(
    expression: str,
    severity: str = "warning",
    name: str = "",
    channels: list[str] | tuple[str, ...] | None = None,
) -> Rule:
    """Parse an alert rule.

    Args:
        expression: e.g. ``"quality.missing.age > 0.05"`` or
            ``"performance.f1 < 0.8 for 2 windows"``.
        severity: ``info``, ``warning`` or ``critical``.
        name: a stable name (the expression if empty); alerts are de-duplicated per name.
        channels: names of the channels to notify (default: every channel).

    Raises:
        InvalidInput: the expression or severity is malformed.
    """
    if severity not in SEVERITIES:
        raise InvalidInput(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}.")
    tokens = _tokens(expression)
    parts: list[str] = []
    index = 0

    def fail(why: str) -> InvalidInput:
        return InvalidInput(
            f"alert rule {expression!r}: {why}; expected '<metric> <op> <number> "
            "[for <n> windows]', e.g. 'performance.f1 < 0.8 for 2 windows'."
        )

    while index < len(tokens):
        kind, text = tokens[index]
        if kind == "name" or kind == "quoted":
            parts.append(text.strip('"') if kind == "quoted" else text)
            index += 1
            if index < len(tokens) and tokens[index][0] == "dot":
                index += 1
                continue
        break
    if not parts:
        raise fail("it must start with a metric name")
    if index >= len(tokens) or tokens[index][0] != "op":
        raise fail("a comparison (>, >=, <, <=, ==, !=) must follow the metric")
    op = tokens[index][1]
    index += 1
    if index >= len(tokens) or tokens[index][0] != "number":
        raise fail("a number must follow the comparison")
    number = tokens[index][1]
    threshold = float(number[:-1]) / 100 if number.endswith("%") else float(number)
    index += 1
    windows = 1
    if index < len(tokens):
        rest = [text for _, text in tokens[index:]]
        if (
            len(rest) != 3
            or rest[0] != "for"
            or not rest[1].isdigit()
            or rest[2] not in ("window", "windows")
        ):
            raise fail(f"unexpected {' '.join(rest)!r}")
        windows = int(rest[1])
        if windows < 1:
            raise fail("'for' needs at least 1 window")
    return Rule(
        expression=expression.strip(),
        metric=".".join(parts),
        op=op,
        threshold=threshold,
        windows=windows,
        severity=severity,
        name=name,
        channels=tuple(channels) if channels is not None else None,
    )
