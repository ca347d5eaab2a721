"""A search's SQL is compiled once per shape and bound per call: the same shape with
other experiments, page sizes and offsets finds what a fresh compile would."""

from __future__ import annotations

from typing import Any

import pytest

import steward
from steward.store import run_query
from steward.store.run_filter import parse_filter, parse_order_by


def _seed(names: list[str]) -> None:
    for experiment in names:
        for index in range(6):
            with steward.start_run(name=f"{experiment}-{index}", experiment=experiment) as run:
                run.log_params({"model": "rf" if index % 2 else "xgb"})
                run.log_metrics({"acc": index / 10})


def _names(any_workspace: Any, experiments: list[str] | None, **search: Any) -> list[str]:
    page = any_workspace.store.tracking.search_runs(experiments, **search)
    return [run.name for run in page]


def test_one_shape_bound_anew_for_each_search(any_workspace: Any) -> None:
    _seed(["a", "b"])
    search = {"filter": "params.model in ('rf', 'lr') and metrics.acc >= 0.1"}
    order = {"order_by": ["metrics.acc DESC"]}
    assert _names(any_workspace, ["a"], **search, **order) == ["a-5", "a-3", "a-1"]
    assert _names(any_workspace, ["b"], **search, **order) == ["b-5", "b-3", "b-1"]
    both = _names(any_workspace, ["a", "b"], **search, **order, max_results=2)
    assert sorted(both) == ["a-5", "b-5"]
    token = any_workspace.store.tracking.search_runs(
        ["a"], **search, **order, max_results=2
    ).next_page_token
    page = any_workspace.store.tracking.search_runs(
        ["a"], **search, **order, max_results=2, page_token=token
    )
    assert [run.name for run in page] == ["a-1"] and page.next_page_token is None
    # The same filter with another value is another shape: its value is not the first's.
    assert _names(any_workspace, ["a"], filter="params.model = 'xgb'", **order) == [
        "a-4",
        "a-2",
        "a-0",
    ]
    assert _names(any_workspace, None, filter="params.model = 'none'") == []


def test_a_shape_is_compiled_once_and_the_kept_shapes_are_bounded(
    any_workspace: Any, monkeypatch: Any
) -> None:
    dialect = any_workspace.store.engine.dialect
    made: list[str] = []

    def shape(text: str) -> run_query.CompiledQuery:
        def parse() -> Any:
            made.append(text)
            return parse_filter(text)

        return run_query.search_query(
            dialect, text, parse, lambda: parse_order_by(None), (), 1, False
        )

    first = shape("metrics.acc > 0.5")
    assert shape("metrics.acc > 0.5") is first and made == ["metrics.acc > 0.5"]
    assert "0.5" not in first.text  # the filter's value is bound, not pasted into SQL
    monkeypatch.setattr(run_query, "_SHAPES", run_query._Shapes(3))
    for value in range(5):
        shape(f"metrics.acc > {value}")
    assert len(run_query._SHAPES._kept) == 3
    assert shape("metrics.acc > 4") is shape("metrics.acc > 4")


def test_a_failing_driver_read_raises_as_sqlalchemy_does(any_workspace: Any) -> None:
    from steward.store.engine import read_transaction
    from steward.store.tracking_sql import driver_rows

    engine = any_workspace.store.engine
    bad = "SELECT no_such_column FROM runs"
    with read_transaction(engine) as connection:
        assert driver_rows(connection, "SELECT count(*) FROM runs", ()) == [(0,)]
    with read_transaction(engine) as connection, pytest.raises(Exception) as through_sqlalchemy:
        connection.exec_driver_sql(bad)
    with read_transaction(engine) as connection, pytest.raises(Exception) as through_driver:
        driver_rows(connection, bad, ())
    # The same class (the store's translation: StorageError on SQLite) and message.
    assert type(through_driver.value) is type(through_sqlalchemy.value)
    assert str(through_driver.value) == str(through_sqlalchemy.value)
    assert "no_such_column" in str(through_driver.value)
