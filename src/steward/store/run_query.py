"""The SQL that reads runs: a query's shape is built and compiled once, then run as text.

A run search is a filter (``steward.store.run_filter``) and an ordering over
the runs of some experiments. Building that as a SQLAlchemy statement and
compiling it costs several times what SQLite takes to answer it, and it is
the same statement every time a dashboard or a script repeats its search.
So a search's statement is compiled once per *shape* — the database
dialect, the filter text, the ordering, how many experiments, whether
deleted runs count — and kept (``SHAPES_KEPT`` of them); each search binds
its experiments, page size and offset and runs the text at the driver level.
The filter's values stay bound parameters: nothing a caller wrote is pasted
into SQL.

A page of runs is then filled with its params, latest metrics and tags (one
statement each, for the whole page) and returned as ``Run`` records.
"""

from __future__ import annotations

import math
import operator
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    exists,
    false,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Dialect

from steward.store import schema as t
from steward.store import tracking_sql as sql
from steward.store.records import Run, RunStatus, ms_to_datetime, record_builder
from steward.store.run_filter import And, Comparison, Expression, Or, OrderKey

SHAPES_KEPT = 256
"""Compiled search statements kept per process (least recently made are dropped first)."""

_PARENT_RUNS = t.runs.alias("parent")
"""The runs table as a run's parent (made once: an alias builds its columns anew)."""
_LIMIT = bindparam("page_limit", 0, type_=Integer)
_OFFSET = bindparam("page_offset", 0, type_=Integer)
_RUN_ID = bindparam("run_id", "", type_=String)
_STATUSES = {status.value: status for status in RunStatus}
_build_run = record_builder(Run)


@dataclass(frozen=True)
class CompiledQuery:
    """A statement compiled for one dialect: its text and how to bind its parameters.

    Attributes:
        text: the SQL in the driver's own parameter style.
        order: the parameters' names in the order a positional driver takes them;
            None for a driver that takes them by name.
        fixed: the values compiled into the shape (the filter's), by name.
    """

    text: str
    order: tuple[str, ...] | None
    fixed: dict[str, Any]

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters: ``fixed`` with ``values`` (this call's) over it."""
        merged = {**self.fixed, **values}
        if self.order is None:
            return merged
        return tuple(merged[name] for name in self.order)


def compile_query(statement: Any, dialect: Dialect) -> CompiledQuery:
    """Compile ``statement`` for ``dialect``, lists in ``IN`` spelled out one value each."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    order = tuple(compiled.positiontup or ()) if dialect.positional else None
    return CompiledQuery(compiled.string, order, dict(compiled.params))


class _Shapes:
    """The compiled statements of recent query shapes (thread-safe, bounded)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: dict[tuple[Any, ...], CompiledQuery] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], CompiledQuery]) -> CompiledQuery:
        found = self._kept.get(key)
        if found is not None:
            return found
        made = make()
        with self._lock:
            if len(self._kept) >= self.size:
                del self._kept[next(iter(self._kept))]
            self._kept[key] = made
        return made


_SHAPES = _Shapes(SHAPES_KEPT)


def search_query(
    dialect: Dialect,
    filter_text: str | None,
    expression: Callable[[], Expression | None],
    order_keys: Callable[[], list[OrderKey]],
    order_text: tuple[str, ...],
    experiments: int | None,
    include_deleted: bool,
) -> CompiledQuery:
    """The compiled search of one shape; binds ``experiment_<i>``, ``page_limit`` and
    ``page_offset``.

    Args:
        filter_text, order_text: the search as the caller wrote it (the shape's key).
        expression, order_keys: parse it (called only when the shape is new).
        experiments: how many experiment pks are bound; None for all experiments.
    """
    key = (dialect.name, dialect.paramstyle, filter_text, order_text, experiments, include_deleted)

    def make() -> CompiledQuery:
        where: list[ColumnElement[bool]] = []
        if not include_deleted:
            where.append(t.runs.c.lifecycle == "active")
        if experiments is not None:
            pks = [
                bindparam(f"experiment_{index}", 0, type_=Integer) for index in range(experiments)
            ]
            where.append(t.runs.c.experiment_pk.in_(pks))
        parsed = expression()
        if parsed is not None:
            where.append(_compile(parsed))
        joins, order = _ordering(order_keys(), _required_keys(parsed), dialect.name)
        statement = _runs_select(where, joins).order_by(*order).limit(_LIMIT).offset(_OFFSET)
        return compile_query(statement, dialect)

    return _SHAPES.get(key, make)


def run_by_id_query(dialect: Dialect) -> CompiledQuery:
    """The compiled read of one run by id; binds ``run_id``."""
    key = (dialect.name, dialect.paramstyle, "run by id")
    return _SHAPES.get(key, lambda: compile_query(_runs_select([t.runs.c.id == _RUN_ID]), dialect))


def load_runs(connection: Connection, query: CompiledQuery, values: dict[str, Any]) -> list[Run]:
    """Run a compiled runs query and return its runs with params, metrics and tags."""
    rows = sql.driver_rows(connection, query.text, query.parameters(values))
    if not rows:
        return []
    pks = [row[0] for row in rows]
    params: dict[int, dict[str, str]] = {pk: {} for pk in pks}
    metrics: dict[int, dict[str, float]] = {pk: {} for pk in pks}
    tags: dict[int, dict[str, str]] = {pk: {} for pk in pks}
    for start in range(0, len(pks), 10_000):
        chunk = pks[start : start + 10_000]
        for run_pk, key, value in sql.keyed_values(connection, "params", chunk):
            params[run_pk][key] = value
        for run_pk, key, value in sql.keyed_values(connection, "latest_metrics", chunk):
            metrics[run_pk][key] = math.nan if value is None else value
        for run_pk, key, value in sql.keyed_values(connection, "tags", chunk):
            tags[run_pk][key] = value
    return [
        _build_run(
            {
                "id": row[1],
                "name": row[2],
                "experiment": row[12],
                "experiment_id": row[11],
                "status": _STATUSES[row[3]],
                "start_time": ms_to_datetime(row[5]),
                "end_time": ms_to_datetime(row[6]),
                "created_by": row[7],
                "lifecycle": row[4],
                "parent_id": row[13],
                "system_info_digest": row[8],
                "params": params[row[0]],
                "metrics": metrics[row[0]],
                "tags": tags[row[0]],
                "last_heartbeat": ms_to_datetime(row[9]),
                "heartbeat_lost": bool(row[10]),
            }
        )
        for row in rows
    ]


def _runs_select(
    where: list[ColumnElement[bool]], joins: Sequence[tuple[Any, ColumnElement[bool], bool]] = ()
) -> Any:
    """The runs matching ``where``, with the columns ``load_runs`` reads (in its order)."""
    source: Any = t.runs
    for table, on, outer in joins:
        source = source.join(table, on, isouter=outer)
    return (
        select(
            t.runs.c.pk,
            t.runs.c.id,
            t.runs.c.name,
            t.runs.c.status,
            t.runs.c.lifecycle,
            t.runs.c.start_time,
            t.runs.c.end_time,
            t.runs.c.created_by,
            t.runs.c.system_info_digest,
            t.runs.c.heartbeat_at,
            t.runs.c.heartbeat_lost,
            t.experiments.c.id.label("experiment_id"),
            t.experiments.c.name.label("experiment"),
            _PARENT_RUNS.c.id.label("parent_id"),
        )
        .select_from(source)
        .join(t.experiments, t.experiments.c.pk == t.runs.c.experiment_pk)
        .outerjoin(_PARENT_RUNS, _PARENT_RUNS.c.pk == t.runs.c.parent_pk)
        .where(*where)
    )


# -- the filter as SQL ----------------------------------------------------------------

_ATTRIBUTE_COLUMNS = {
    "name": t.runs.c.name,
    "status": t.runs.c.status,
    "id": t.runs.c.id,
    "created_by": t.runs.c.created_by,
    "start_time": t.runs.c.start_time,
    "end_time": t.runs.c.end_time,
}

_OPERATORS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "like": lambda column, value: column.like(value),
    "not like": lambda column, value: not_(column.like(value)),
    "ilike": lambda column, value: column.ilike(value),
    "in": lambda column, value: column.in_(list(value)),
    "not in": lambda column, value: column.not_in(list(value)),
    "is null": lambda column, _: column.is_(None),
    "is not null": lambda column, _: column.is_not(None),
}

_KEYED_TABLES = {"metrics": t.latest_metrics, "params": t.params, "tags": t.tags}


def _apply(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    return _OPERATORS[op](column, value)


def _compile(expression: Expression) -> ColumnElement[bool]:
    if isinstance(expression, Comparison):
        return _compile_comparison(expression)
    parts = [_compile(term) for term in expression.terms]
    if isinstance(expression, And):
        return and_(true(), *parts)
    return or_(false(), *parts)


def _compile_comparison(comparison: Comparison) -> ColumnElement[bool]:
    if comparison.entity == "attributes":
        return _apply(_ATTRIBUTE_COLUMNS[comparison.key], comparison.op, comparison.value)
    table = _KEYED_TABLES[comparison.entity]
    present = exists().where(table.c.run_pk == t.runs.c.pk, table.c.key == comparison.key)
    if comparison.op == "is null":
        return not_(present)
    if comparison.op == "is not null":
        return present
    # NaN metrics are stored as NULL, so no comparison matches them, as with NaN itself.
    return exists().where(
        table.c.run_pk == t.runs.c.pk,
        table.c.key == comparison.key,
        _apply(table.c.value, comparison.op, comparison.value),
    )


def _required_keys(expression: Expression | None) -> set[tuple[str, str]]:
    """The (entity, key) pairs that every run matching ``expression`` must have."""
    if isinstance(expression, Comparison):
        if expression.entity != "attributes" and expression.op != "is null":
            return {(expression.entity, expression.key)}
        return set()
    if isinstance(expression, And):
        return set().union(*(_required_keys(term) for term in expression.terms))
    if isinstance(expression, Or):
        return set.intersection(*(_required_keys(term) for term in expression.terms))
    return set()


def _nulls_last(column: Any, descending: bool, dialect: str) -> Any:
    """Order ``column`` with NULLs (and so NaN metrics) last on every database, adding
    ``NULLS LAST`` only where it is not the default: the default keeps the
    index usable for an ordered scan."""
    ordered = column.desc() if descending else column.asc()
    nulls_come_first = (dialect == "sqlite") != descending
    return ordered.nulls_last() if nulls_come_first else ordered


def _ordering(
    keys: list[OrderKey], required: set[tuple[str, str]], dialect: str
) -> tuple[list[tuple[Any, ColumnElement[bool], bool]], list[Any]]:
    """Joins and ORDER BY terms for ``keys``, newest first as the final tie-break.

    A metric, param or tag to order by is joined (not a per-row subquery); the
    join is inner when the filter already requires the key, which lets the
    database walk the (key, value) index in order and stop at the page size.
    """
    joins: list[tuple[Any, ColumnElement[bool], bool]] = []
    order: list[Any] = []
    for index, key in enumerate(keys):
        column: Any
        if key.entity == "attributes":
            column = _ATTRIBUTE_COLUMNS[key.key]
        else:
            alias = _order_alias(key.entity, index)
            on = and_(alias.c.run_pk == t.runs.c.pk, alias.c.key == key.key)
            joins.append((alias, on, (key.entity, key.key) not in required))
            column = alias.c.value
        order.append(_nulls_last(column, key.descending, dialect))
    order += [t.runs.c.start_time.desc(), t.runs.c.pk.desc()]
    return joins, order


@cache
def _order_alias(entity: str, index: int) -> Any:
    """The keyed table of ``entity`` joined for the ``index``-th order key (made once)."""
    return _KEYED_TABLES[entity].alias(f"order_{index}")
