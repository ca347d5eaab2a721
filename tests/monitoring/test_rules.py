"""The alert-rule parser reads the documented forms and refuses everything else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.errors import InvalidInput
from steward.monitoring.alerts.rules import parse_rule


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold", "windows"),
    [
        ("drift.share > 0.3", "drift.share", ">", 0.3, 1),
        ("performance.f1 < 0.8 for 2 windows", "performance.f1", "<", 0.8, 2),
        ("quality.missing.age>0.05", "quality.missing.age", ">", 0.05, 1),
        ('quality.missing."blood pressure" >= 5%', "quality.missing.blood pressure", ">=", 0.05, 1),
        ("drift.num-1 != -1e-3 for 1 window", "drift.num-1", "!=", -0.001, 1),
    ],
)
def test_parses_rules(text: str, metric: str, op: str, threshold: float, windows: int) -> None:
    rule = parse_rule(text, severity="critical")
    assert (rule.metric, rule.op, rule.threshold, rule.windows) == (metric, op, threshold, windows)
    assert rule.severity == "critical" and rule.key == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "> 0.3",
        "drift.share 0.3",
        "drift.share > ",
        "drift.share > abc",
        "drift.share > 0.3 for two windows",
        "drift.share > 0.3 for 0 windows",
        "__import__('os').system('id') > 1",
        "drift.share > 0.3; rm -rf /",
    ],
)
def test_refuses_malformed_rules(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_rule(text)


def test_refuses_unknown_severity() -> None:
    with pytest.raises(InvalidInput, match="severity"):
        parse_rule("drift.share > 0.3", severity="urgent")


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_invalid_input(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        parse_rule(text)


def test_breach_and_worsening() -> None:
    rule = parse_rule("performance.f1 < 0.8")
    assert rule.breached(0.7) and not rule.breached(0.8) and not rule.breached(float("nan"))
    assert rule.worse(0.6, than=0.7) and not rule.worse(0.69, than=0.7)
