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
    import pandas as pd

    from steward.models.signature import Signature


def validate_rows(signature: Signature | None, frame: pd.DataFrame, max_rows: int) -> Any:
    """The rows shaped for the model (DataFrame or array), or a 4xx error saying what is wrong.

    Raises:
        InvalidInput: no rows, wrong columns or types, NaN or infinity where not allowed.
        PayloadTooLarge: more rows than ``max_rows``.
    """
    import numpy as np

    from steward.models.signature import enforce

    rows = len(frame)
    if rows == 0:
        raise InvalidInput("the request holds no rows; send at least one.")
    if rows > max_rows:
        raise PayloadTooLarge(
            f"the request holds {rows} rows; this server accepts at most {max_rows} per request."
        )
    if signature is None:
        return frame
    prepared = enforce(signature, frame)
    if isinstance(prepared, np.ndarray):
        if prepared.dtype.kind == "f" and not np.isfinite(prepared).all():
            raise InvalidInput("the input holds NaN or infinite values; the model needs numbers.")
        return prepared
    for spec in signature.inputs:
        column = prepared[spec.name]
        if column.dtype.kind != "f":
            continue
        values = column.to_numpy()
        if np.isinf(values).any():
            raise InvalidInput(
                f"column {spec.name!r} holds an infinite value; send finite numbers."
            )
        if spec.required and np.isnan(values).any():
            raise InvalidInput(
                f"column {spec.name!r} holds a missing value (null or NaN), but the model "
                "requires it; send a number."
            )
    return prepared
