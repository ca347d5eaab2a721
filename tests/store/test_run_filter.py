"""The run filter language parses what it should and points at what it cannot."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steward.errors import InvalidInput
from steward.store.run_filter import (
    And,
    Comparison,
    Or,
    OrderKey,
    parse_filter,
    parse_order_by,
)


def test_and_of_metric_and_param() -> None:
    assert parse_filter("metrics.acc > 0.9 and params.model = 'rf'") == And(
        (Comparison("metrics", "acc", ">", 0.9), Comparison("params", "model", "=", "rf"))
    )


def test_or_binds_looser_than_and_and_parentheses_group() -> None:
    parsed = parse_filter("metrics.a > 1 or metrics.b < 2 and tags.t = 'x'")
    assert isinstance(parsed, Or)
    assert isinstance(parsed.terms[1], And)
    grouped = parse_filter("(metrics.a > 1 or metrics.b < 2) and tags.t = 'x'")
    assert isinstance(grouped, And)
    assert isinstance(grouped.terms[0], Or)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("status = 'FINISHED'", Comparison("attributes", "status", "=", "FINISHED")),
        ("attributes.run_name like 'rf-%'", Comparison("attributes", "name", "like", "rf-%")),
        ("metric.`val loss` <= 1e-3", Comparison("metrics", "val loss", "<=", 0.001)),
        ('tags."my.tag" != "a b"', Comparison("tags", "my.tag", "!=", "a b")),
        ("params.model.depth = '3'", Comparison("params", "model.depth", "=", "3")),
        ("params.m in ('a', 'b')", Comparison("params", "m", "in", ("a", "b"))),
        ("metrics.x not in (1, 2)", Comparison("metrics", "x", "not in", (1.0, 2.0))),
        ("tags.owner is null", Comparison("tags", "owner", "is null", None)),
        ("tags.owner IS NOT NULL", Comparison("tags", "owner", "is not null", None)),
        ("params.name = 'it''s'", Comparison("params", "name", "=", "it's")),
        ("metrics.acc == -1", Comparison("metrics", "acc", "=", -1.0)),
        ("PARAMS.m ILIKE 'RF%'", Comparison("params", "m", "ilike", "RF%")),
    ],
)
def test_supported_forms(source: str, expected: Comparison) -> None:
    assert parse_filter(source) == expected


@pytest.mark.parametrize(
    ("source", "position", "fragment"),
    [
        ("metrics.acc >", 13, "expected a number"),
        ("params.model > 'rf'", 15, "does not apply"),
        ("metrics.acc = 'high'", 14, "compares with numbers"),
        ("params.lr = 0.1", 12, "quote the value"),
        ("bogus.key = 1", 0, "unknown field prefix"),
        ("metrics.a > 1 and", 17, "expected a field"),
        ("metrics.a > 1 metrics.b > 2", 14, "expected 'and', 'or'"),
        ("(metrics.a > 1", 14, "expected ')'"),
        ("metrics.a ~ 1", 10, "unexpected character"),
        ("colour = 'red'", 0, "unknown run attribute"),
        ("params.m in ('a', 2)", 0, "must all be quoted strings"),
    ],
)
def test_errors_show_where_the_filter_is_wrong(source: str, position: int, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_filter(source)
    message = str(caught.value)
    assert fragment in message
    assert f"position {position}" in message
    assert message.splitlines()[-1] == "  " + " " * position + "^"


def test_blank_filter_matches_everything() -> None:
    assert parse_filter(None) is None
    assert parse_filter("   ") is None


def test_order_by() -> None:
    assert parse_order_by(["metrics.acc DESC", "start_time", "params.m asc"]) == [
        OrderKey("metrics", "acc", True),
        OrderKey("attributes", "start_time", False),
        OrderKey("params", "m", False),
    ]
    with pytest.raises(InvalidInput, match="order_by"):
        parse_order_by(["metrics.acc sideways"])


_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True).filter(
    lambda key: key.lower() not in {"and", "or", "in", "not", "like", "ilike", "is", "null"}
)
_numbers = st.floats(allow_nan=False, allow_infinity=False, width=32)
_strings = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


_comparisons = st.one_of(
    st.builds(
        lambda key, op, value: (
            f"metrics.{key} {op} {value!r}",
            Comparison("metrics", key, op, value),
        ),
        _keys,
        st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
        _numbers.map(float),
    ),
    st.builds(
        lambda entity, key, op, value: (
            f"{entity}.{key} {op} {_quote(value)}",
            Comparison(entity, key, op, value),
        ),
        st.sampled_from(["params", "tags"]),
        _keys,
        st.sampled_from(["=", "!=", "like", "ilike"]),
        _strings,
    ),
)


@given(st.lists(_comparisons, min_size=1, max_size=5), st.booleans())
def test_generated_filters_round_trip(items: list[tuple[str, Comparison]], use_or: bool) -> None:
    joiner = " or " if use_or else " and "
    parsed = parse_filter(joiner.join(text for text, _ in items))
    expected = [comparison for _, comparison in items]
    if len(expected) == 1:
        assert parsed == expected[0]
    else:
        assert parsed == (Or(tuple(expected)) if use_or else And(tuple(expected)))


@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_raises_invalid_input(source: str) -> None:
    """Any other exception (IndexError, ValueError…) would be a parser bug."""
    try:
        parsed = parse_filter(source)
    except InvalidInput as error:
        assert "position" in str(error)
    else:
        assert parsed is None or isinstance(parsed, Comparison | And | Or)
