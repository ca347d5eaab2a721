"""Checking request rows against the model's signature before they reach the model.

``enforce`` (from ``steward.models.signature``) handles columns and types;
here come the serving limits on top: no empty input, no more rows than the
row limit, and no NaN in a required column or infinity in any numeric one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from steward.errors import InvalidInput
from steward.serving.errors import PayloadTooLarge

if TYPE_CHECKING:
    from steward.models.signature import Signature


def validate_rows(
    signature: Signature | None, rows: Any, max_rows: int, *, arrays: bool = False
) -> Any:
    """The rows shaped for the model (DataFrame or array), or a 4xx error saying what is wrong.

    Args:
        signature: the model's signature (None: rows go to the model as they are).
        rows: a DataFrame, or a 2-D array whose columns follow the signature's order.
        max_rows: the row limit.
        arrays: the model takes plain arrays (see ``steward.models.signature.enforce``).

    Raises:
        InvalidInput: no rows, wrong columns or types, NaN or infinity where not allowed.
        PayloadTooLarge: more rows than ``max_rows``.
    """
    import numpy as np

    from steward.models.signature import enforce

    count = len(rows)
    if count == 0:
        raise InvalidInput("the request holds no rows; send at least one.")
    if count > max_rows:
        raise PayloadTooLarge(
            f"the request holds {count} rows; this server accepts at most {max_rows} per request."
        )
    if signature is None:
        return rows
    if signature.kind == "columns":
        _refuse_booleans(signature, rows)
    prepared = enforce(signature, rows, arrays=arrays)
    if isinstance(prepared, np.ndarray):
        if signature.kind == "columns":
            _check_columns(signature, prepared.T)
        elif prepared.dtype.kind == "f" and not np.isfinite(prepared).all():
            raise InvalidInput("the input holds NaN or infinite values; the model needs numbers.")
        return prepared
    _check_columns(signature, [prepared[spec.name].to_numpy() for spec in signature.inputs])
    return prepared


def _numeric_columns(signature: Signature) -> list[str]:
    import numpy as np

    names: list[str] = []
    for spec in signature.inputs:
        try:
            if spec.name is not None and np.dtype(spec.dtype).kind in "iuf":
                names.append(spec.name)
        except TypeError:
            continue
    return names


def _refuse_booleans(signature: Signature, rows: Any) -> None:
    """Refuse true/false sent for a number column (a JSON boolean is not a count or a dose)."""
    import numpy as np

    numeric = _numeric_columns(signature)
    if not numeric:
        return
    if isinstance(rows, np.ndarray):
        if rows.dtype.kind == "b":
            _boolean_refused(numeric[0])
        return
    for name in numeric:
        if name not in rows.columns:
            continue
        column = rows[name]
        if column.dtype.kind == "b" or (
            column.dtype == object and any(type(value) is bool for value in column)
        ):
            _boolean_refused(name)


def _boolean_refused(name: str) -> None:
    raise InvalidInput(
        f"column {name!r} takes numbers, not true/false; send 1 or 0 if that is what you mean."
    )


def _check_columns(signature: Signature, columns: Any) -> None:
    """No infinity in any numeric column, no NaN in a required one."""
    import numpy as np

    if isinstance(columns, np.ndarray) and columns.dtype.kind == "f" and np.isfinite(columns).all():
        return  # the common case, in one pass; a column is named only on failure
    for spec, values in zip(signature.inputs, columns, strict=True):
        if values.dtype.kind != "f":
            continue
        if np.isinf(values).any():
            raise InvalidInput(
                f"column {spec.name!r} holds an infinite value; send finite numbers."
            )
        if spec.required and np.isnan(values).any():
            raise InvalidInput(
                f"column {spec.name!r} holds a missing value (null or NaN), but the model "
                "requires it; send a number."
            )
