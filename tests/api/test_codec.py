"""The wire codec: records come back as the same records; hostile input is refused
with the field named."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.api.codec import INT64_MAX, decode, encode, json_schema
from steward.errors import InvalidInput
from steward.store.records import Metric, Run, RunPage, RunStatus

metrics = st.builds(
    Metric,
    st.text(min_size=1, max_size=20).filter(lambda key: "\x00" not in key),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**63), INT64_MAX),
    st.integers(0, 2**62),
)


def _wire(value: Any, hint: Any) -> Any:
    return decode(orjson.loads(orjson.dumps(encode(value, hint))), hint)


def _same(a: Metric, b: Metric) -> bool:
    nan = math.isnan(a.value) and math.isnan(b.value)
    return type(b) is Metric and (a == b or (nan and a[:1] + a[2:] == b[:1] + b[2:]))


@given(st.lists(metrics, max_size=50))
def test_metric_points_survive_the_wire_nan_and_infinities_included(points: list[Metric]) -> None:
    back = _wire(points, list[Metric])
    assert len(back) == len(points)
    assert all(_same(a, b) for a, b in zip(points, back, strict=True))


def test_a_run_page_comes_back_as_records_with_utc_times() -> None:
    start = datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)
    run = Run(
        "id",
        "name",
        "exp",
        "eid",
        RunStatus.FINISHED,
        start,
        start + timedelta(seconds=1),
        "me",
        metrics={"nan": math.nan, "inf": math.inf},
        params={"a": "1"},
    )
    page = _wire(RunPage([run], "token"), RunPage)
    assert isinstance(page, RunPage) and page.next_page_token == "token"
    back = page.runs[0]
    assert back.status is RunStatus.FINISHED and back.start_time == start
    assert back.start_time.tzinfo is UTC
    assert math.isnan(back.metrics["nan"]) and back.metrics["inf"] == math.inf


@pytest.mark.parametrize(
    ("value", "hint", "message"),
    [
        ([["k", 1.0, 2**63, 0]], list[Metric], r"metrics\[0\]: expected a 64-bit integer"),
        ([["k", "1.0", 1, 0]], list[Metric], "expected a number"),
        ([["k\x00", 1.0, 1, 0]], list[Metric], "NUL"),
        ([["k", 1.0, 1]], list[Metric], "array of 4-4 items"),
        ({"a": 1}, dict[str, str], r"metrics\.a: expected a string"),
        ({"a": "x\x00"}, dict[str, str], "NUL"),
        ({"a\x00": "x"}, dict[str, str], "NUL"),
        ({"a": "NaN", "b": "x"}, dict[str, float], r"metrics\.b: expected a number"),
        (True, int, "expected a 64-bit integer"),
        ("2026-01-01T00:00:00", datetime, "needs a UTC offset"),
        ({"runs": [], "extra": 1}, RunPage, r"unknown field\(s\) \['extra'\]"),
        ({"next_page_token": None}, RunPage, r"missing field\(s\) \['runs'\]"),
        ("BOGUS", RunStatus, "one of"),
    ],
)
def test_ill_typed_input_is_refused_naming_the_field(value: Any, hint: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        decode(value, hint, "metrics")


def test_offset_times_become_utc() -> None:
    back = decode("2026-01-01T05:00:00+05:00", datetime)
    assert back == datetime(2026, 1, 1, tzinfo=UTC) and back.tzinfo is UTC
    assert decode(datetime(2026, 1, 1, tzinfo=UTC).isoformat(), datetime).tzinfo is UTC


def test_schemas_reference_records_once() -> None:
    components: dict[str, Any] = {}
    assert json_schema(RunPage, components) == {"$ref": "#/components/schemas/RunPage"}
    assert set(components) == {"RunPage", "Run"}
    assert "NaN" in str(components["Run"]["properties"]["metrics"])
