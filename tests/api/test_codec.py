"""The wire codec: records come back as the same records; hostile input is refused
with the field named."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.api.codec import INT64_MAX, decode, encode, json_schema, to_json
from steward.errors import InvalidInput
from steward.store.records import Experiment, Metric, Run, RunPage, RunStatus

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


keys = st.text(max_size=8).filter(lambda key: "\x00" not in key)
times = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
runs = st.builds(
    Run,
    keys,
    keys,
    keys,
    keys,
    st.sampled_from(RunStatus),
    times,
    st.none() | times,
    keys,
    parent_id=st.none() | keys,
    params=st.dictionaries(keys, keys, max_size=3),
    metrics=st.dictionaries(keys, st.floats(), max_size=3),
    tags=st.dictionaries(keys, keys, max_size=3),
    last_heartbeat=st.none() | times,
    heartbeat_lost=st.booleans(),
)


@given(st.lists(runs, max_size=5), st.none() | keys)
def test_to_json_writes_the_bytes_that_encode_would(
    page_runs: list[Run], token: str | None
) -> None:
    page = RunPage(page_runs, token)
    assert to_json(page, RunPage) == orjson.dumps(encode(page, RunPage))
    back = decode(orjson.loads(to_json(page, RunPage)), RunPage)
    assert [run.id for run in back] == [run.id for run in page_runs]


@dataclass(frozen=True)
class _LabelledRun(Run):
    label: str = "a field the wire type does not have"


def test_to_json_falls_back_where_orjson_would_differ() -> None:
    start = datetime(2026, 1, 2, tzinfo=UTC)
    run = Run("i", "n", "e", "x", RunStatus.RUNNING, start, None, "me", metrics={"m": math.inf})
    assert b'"Infinity"' in to_json(run, Run)  # orjson alone would write null
    points = [Metric("k", math.nan, 1, 2)]
    assert to_json(points, list[Metric]) == b'[["k","NaN",1,2]]'  # NamedTuples as arrays
    experiments = [Experiment("i", "n", None, "active", start, "me")]
    assert to_json(experiments, list[Experiment]) == orjson.dumps(
        encode(experiments, list[Experiment])
    )
    assert to_json({"a": "b"}, Any) == b'{"a":"b"}'
    labelled = _LabelledRun("i", "n", "e", "x", RunStatus.RUNNING, start, None, "me")
    assert b"label" not in to_json(labelled, Run)  # as encode writes a Run


def test_a_bad_field_deep_in_a_page_is_named_with_its_path() -> None:
    good = orjson.loads(to_json(RunPage([_run()]), RunPage))
    good["runs"][0]["status"] = "BOGUS"
    with pytest.raises(InvalidInput, match=r"body\.runs\[0\]\.status: expected one of"):
        decode(good, RunPage)
    good["runs"][0]["status"] = "FINISHED"
    good["runs"][0]["name"] = None  # a text field that may not be null
    with pytest.raises(InvalidInput, match=r"body\.runs\[0\]\.name: expected a string"):
        decode(good, RunPage)
    good["runs"][0]["name"] = "n"
    good["runs"][0]["parent_id"] = 7  # one that may
    with pytest.raises(InvalidInput, match=r"body\.runs\[0\]\.parent_id: expected a string"):
        decode(good, RunPage)
    good["runs"][0]["parent_id"] = None
    assert decode(good, RunPage).runs[0].parent_id is None
    good["runs"][0]["params"] = {"a": 1}
    with pytest.raises(InvalidInput, match=r"body\.runs\[0\]\.params\.a: expected a string"):
        decode(good, RunPage)


def test_decoded_records_equal_constructed_ones_and_stay_frozen() -> None:
    run = _run()
    back = decode(orjson.loads(to_json(run, Run)), Run)
    assert back == run and type(back) is Run
    assert decode({"runs": []}, RunPage) == RunPage([], None)  # a default filled in
    with pytest.raises(AttributeError):
        back.name = "changed"  # type: ignore[misc]
    minimal = orjson.loads(to_json(run, Run))
    for name in ("params", "metrics", "tags", "lifecycle", "parent_id"):
        del minimal[name]
    first, second = decode(minimal, Run), decode(minimal, Run)
    assert first.params == {} and first.lifecycle == "active" and first.parent_id is None
    assert first.params is not second.params  # each record its own default dict


def _run() -> Run:
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Run("i", "n", "e", "x", RunStatus.FINISHED, start, start, "me", params={"a": "1"})


class _Text(str):
    pass


def test_text_must_be_exactly_a_string() -> None:
    with pytest.raises(InvalidInput, match="expected a string"):
        decode({_Text("a"): "b"}, dict[str, str], "tags")
    with pytest.raises(InvalidInput, match="expected a string"):
        decode({"a": _Text("b")}, dict[str, str], "tags")
    with pytest.raises(InvalidInput, match="expected a string"):
        decode([[_Text("k"), 1.0, 1, 2]], list[Metric], "metrics")
    assert decode({"a": "b"}, dict[str, str], "tags") == {"a": "b"}
